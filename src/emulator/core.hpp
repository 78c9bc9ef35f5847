// The emulator's request handling and state, independent of sockets: one HTTP request in, one reply out.
#pragma once

#include "core/splitmix.hpp"

#include <nubefact/emulator.hpp>

#include "protocol.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace nubefact::emulator::detail {

inline constexpr int op_count = 14;
inline constexpr int op_none = 14;   // operation unknown or unreadable
inline constexpr int op_admin = 15;  // /__emulator endpoints
inline constexpr int op_files = 16;  // GET <enlace>.pdf / .xml / .cdr
inline constexpr int op_slots = 17;

// Outcome slots of the request counters.
enum outcome : int {
    out_ok = 0,
    out_c10,
    out_c11,
    out_c12,
    out_c20,
    out_c21,
    out_c22,
    out_c23,
    out_c24,
    out_c40,
    out_c50,
    out_c51,
    out_h404,
    out_h405,
    out_h413,
    out_h431,
    out_h400,
    out_fault0,  // + fault_kind
    out_slots = out_fault0 + fault_kind_count,
};
std::string outcome_name(int o);

// Seeded generator for faults, latency and uuids: splitmix64 (8 bytes of state, unlike the 2.5 KB of
// mt19937_64 that every connection used to carry). A UniformRandomBitGenerator.
class rng_t {
  public:
    using result_type = std::uint64_t;
    explicit rng_t(std::uint64_t seed = 1) noexcept : s_(seed) {}
    static constexpr result_type min() noexcept { return 0; }
    static constexpr result_type max() noexcept { return ~result_type{0}; }
    result_type operator()() noexcept { return nubefact::detail::splitmix64(s_); }

  private:
    std::uint64_t s_;
};

// One HTTP request as the core sees it.
struct request_view {
    std::string_view method;  // "POST", "GET", …
    std::string_view target;
    std::optional<std::string_view> authorization;
    std::optional<std::string_view> content_type;
    std::string_view body;
};

// What to send back, or which fault to apply instead.
struct reply {
    unsigned status = 200;
    std::string body;
    std::optional<fault_kind> fault;  // applied by the session; pre faults carry their own body
    std::chrono::microseconds delay{0};
    unsigned retry_after = 0;                                           // seconds, for 429/503
    bool allow_post = false;                                            // wrong method: add "Allow: POST"
    std::string_view content_type = "application/json; charset=utf-8";  // a static literal
    bool close = false;                                                 // close after answering
    int op = op_none;
    int outcome = out_ok;
};

// Short text stored inline (uuids, hashes): no heap allocation per document.
template <std::size_t N>
class fixed_str {
  public:
    fixed_str() = default;
    fixed_str(std::string_view s) noexcept { *this = s; }  // NOLINT: implicit on purpose
    fixed_str& operator=(std::string_view s) noexcept {
        n_ = static_cast<std::uint8_t>(std::min(s.size(), N));
        std::copy_n(s.data(), n_, d_.data());
        return *this;
    }
    operator std::string_view() const noexcept { return {d_.data(), n_}; }  // NOLINT
    std::string_view view() const noexcept { return {d_.data(), n_}; }
    bool empty() const noexcept { return n_ == 0; }

  private:
    std::array<char, N> d_{};
    std::uint8_t n_ = 0;
};
using uuid_str = fixed_str<36>;
using hash_str = fixed_str<28>;  // base64 of SHA-1

// A document key packed into 62 bits (tipo, 4-byte serie, numero < 2^27); nullopt when the key
// cannot exist (the emulator refuses such keys before storing anything).
std::optional<std::uint64_t> pack_key(const document_key& k) noexcept;

// What a document rarely needs (anulación, reversión, a QR text replayed from the state file):
// kept out of line so that the common record stays small.
struct record_ext {
    std::int64_t anulacion_ms = 0;
    std::string ticket;
    uuid_str anulacion_uuid;
    std::int64_t reversed_ms = 0;
    uuid_str reversion_uuid;
    std::string qr;    // replayed cadena_para_codigo_qr (else built from the record's fields)
    std::string note;  // sunat_note: SUNAT's observations (options::sunat_tolerance), "; "-separated
};

// A stored document.
struct record {
    std::string_view kind;  // static literal: comprobante, guia, retencion, percepcion
    document_key key;
    std::string codigo_unico;
    std::int64_t created_ms = 0;
    uuid_str uuid;
    hash_str hash;
    bool pending = false;  // boleta left pending (options::boletas_pending)
    bool anulacion = false;
    bool reversed = false;
    bool has_qr = false;  // comprobantes: cadena_para_codigo_qr from the fields below
    std::uint8_t moneda = 1;
    std::uint32_t creations = 0;
    std::uint32_t duplicates = 0;
    std::int64_t igv_cents = 0, total_cents = 0;
    std::optional<date> fecha;
    std::string cliente;      // "tipo | numero" of the client (QR text)
    std::string reject_code;  // "" accepted
    std::unique_ptr<record_ext> ext;

    record_ext& x() {
        if (!ext) ext = std::make_unique<record_ext>();
        return *ext;
    }
    const record_ext& x() const {
        static const record_ext none;
        return ext ? *ext : none;
    }
};

// Documents by pack_key(), in 64 shards. One table of a million documents rehashed in one go and stalled the
// io thread for tens of milliseconds (every answer due meanwhile went late); a shard rehashes 1/64 of that.
class doc_table {
  public:
    record* find(std::uint64_t k) {
        auto& m = shard(k);
        auto it = m.find(k);
        return it == m.end() ? nullptr : &it->second;
    }
    const record* find(std::uint64_t k) const { return const_cast<doc_table*>(this)->find(k); }
    record& operator[](std::uint64_t k) { return shard(k)[k]; }
    std::size_t size() const {
        std::size_t n = 0;
        for (auto& m : shards_) n += m.size();
        return n;
    }
    void clear() {
        for (auto& m : shards_) m.clear();
    }
    void reserve(std::size_t n) {
        for (auto& m : shards_) m.reserve(n >> shard_bits);
    }
    template <class F>
    void for_each(F&& f) const {
        for (auto& m : shards_)
            for (auto& kv : m) f(kv.second);
    }

  private:
    static constexpr int shard_bits = 6;
    std::unordered_map<std::uint64_t, record>& shard(std::uint64_t k) {
        return shards_[(k * 0x9E3779B97F4A7C15ull) >> (64 - shard_bits)];
    }
    std::array<std::unordered_map<std::uint64_t, record>, std::size_t{1} << shard_bits> shards_;
};

struct account_slot {
    account acct;
    std::atomic<int> state{0};
    mutable std::mutex mu;
    doc_table docs;
    std::unordered_map<std::string, std::uint64_t> by_unico;  // codigo_unico -> pack_key
    // Highest numero per (tipo, serie) (pack_key with numero 0); kept only with options::assign_numero.
    std::unordered_map<std::uint64_t, std::int64_t> last_numero;
};

// Settings that may change while the server runs (swapped as a whole).
struct dyn_config {
    latency_model latency;
    std::map<operation, latency_model> latency_by_op;
    fault_rates faults;
    std::vector<reject_rule> reject;
};

class core {
  public:
    explicit core(options opts);
    ~core();

    // Replays the state file and opens it for appending.
    bool open_state(std::string& error);
    void set_link_host(std::string h) { link_host_ = std::move(h); }

    // The whole request: routing, auth, validation, state, and the fault / latency decision.
    reply handle(const request_view& req, rng_t& rng);
    // Reply for a failure found while reading the request (413, 431, 400).
    reply http_error(unsigned status, std::string_view message) const;

    void record_outcome(int op, int outcome) noexcept;
    void count_fault(fault_kind k) noexcept;

    const options& opts() const noexcept { return opts_; }

    // Library API.
    void add_account(account a);
    bool set_account_state(std::string_view ruta, account_state s);
    const account& first_account() const;
    void push_fault(scripted_fault f);
    void clear_faults();
    void set_fault_rates(const fault_rates& r);
    void set_latency(const latency_model& m, std::optional<operation> only);
    void set_sunat_reject(std::vector<reject_rule> rules);
    stats snapshot() const;
    std::string stats_json(bool with_documents) const;
    std::optional<document_info> find(std::string_view ruta, const document_key& k) const;
    std::vector<document_info> documents(std::string_view ruta) const;
    void reset();

    std::atomic<std::uint64_t> in_flight{0};
    std::atomic<std::uint64_t> open_connections{0};
    std::atomic<std::uint64_t> connections_accepted{0};

    // Held answers (tests drive races with them, not with sleeps): after hold_answers(n), the next
    // n document answers go out, then each is held (the document is processed, the answer not
    // written) until release_answers() or max_stall. take_hold() says whether this answer waits;
    // a held answer waits while release_generation() is the one it saw.
    void hold_answers(std::uint64_t after);
    void release_answers();
    bool take_hold();
    std::uint64_t release_generation() const noexcept { return release_gen_.load(); }
    std::atomic<std::uint64_t> held{0};  // answers waiting now

  private:
    std::atomic<std::int64_t> hold_budget_{-1};  // -1: not holding
    std::atomic<std::uint64_t> release_gen_{0};

    struct parsed;
    std::shared_ptr<account_slot> find_account(std::string_view ruta) const;
    std::optional<fault_kind> pick_fault(int op, rng_t& rng, const dyn_config& cfg);
    std::chrono::microseconds sample_latency(int op, rng_t& rng, const dyn_config& cfg) const;
    reply error(unsigned status, api_errc codigo, std::string_view message, int op) const;
    reply admin(const request_view& req);
    reply download(const request_view& req);
    reply process(account_slot& a, const parsed& p, rng_t& rng, const dyn_config& cfg);
    std::int64_t now_ms() const;
    std::int64_t today_days() const;
    // Unique per document: the key, scrambled, in the first half (so a download finds its record
    // without an index), random bits and the start nonce in the second.
    uuid_str make_uuid(rng_t& rng, std::uint64_t packed_key) const;
    document_info info(const record& r) const;

    // Response bodies.
    std::string comprobante_body(const account_slot& a, const record& r, bool consult) const;
    std::string anulacion_body(const record& r, bool just_created) const;
    std::string guia_body(const record& r, bool generar) const;
    std::string retper_body(const record& r, bool reversion) const;
    std::string link(std::string_view kind, std::string_view uuid) const;
    void qr_text(std::string& q, const account_slot& a, const record& r) const;

    // State file.
    void persist(const account_slot& a, const record& r, char type);
    bool replay(std::FILE* f, std::string& error);

    options opts_;
    std::string link_host_;
    std::string_view scheme_ = "http://";
    std::uint64_t uuid_nonce_ = 0;  // per start with a state file: links never repeat across restarts
    mutable std::shared_mutex accounts_mu_;
    std::unordered_map<std::string, std::shared_ptr<account_slot>> accounts_;
    std::vector<std::shared_ptr<account_slot>> account_order_;

    std::shared_ptr<const dyn_config> cfg_;
    mutable std::mutex cfg_mu_;

    std::mutex faults_mu_;
    std::deque<scripted_fault> scripted_;
    std::atomic<int> scripted_count_{0};

    std::mutex file_mu_;
    std::FILE* state_ = nullptr;

    // Counters.
    std::array<std::array<std::atomic<std::uint64_t>, out_slots>, op_slots> requests_{};
    std::array<std::atomic<std::uint64_t>, fault_kind_count> faults_{};
    std::atomic<std::uint64_t> created_{0}, duplicates_{0}, created_twice_{0}, rejected_{0};
};

}  // namespace nubefact::emulator::detail

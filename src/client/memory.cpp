// In-memory intent journal and audit sink; also the doc_state names shared with the store.
#include <nubefact/client_memory.hpp>

#include <unordered_map>

#include <algorithm>
#include <array>
#include <cstring>

namespace nubefact {

namespace {
constexpr std::array<std::string_view, 9> state_names = {
    "queued", "sending", "pending_sunat", "accepted", "rejected", "refused", "unknown", "conflict", "failed"};
static_assert(std::size(all_doc_states) == state_names.size());
}  // namespace

std::string_view to_string(doc_state s) noexcept {
    auto i = static_cast<std::size_t>(s);
    return i < state_names.size() ? state_names[i] : std::string_view{};
}

std::optional<doc_state> doc_state_from_string(std::string_view s) noexcept {
    for (std::size_t i = 0; i < state_names.size(); ++i)
        if (state_names[i] == s) return static_cast<doc_state>(i);
    return std::nullopt;
}

std::string_view advice(doc_state s) noexcept {
    switch (s) {
        case doc_state::queued:
            return "not sent yet: run again to send it";
        case doc_state::sending:
            return "may be at Nubefact: run again, it is consulted before any resend";
        case doc_state::pending_sunat:
            return "Nubefact has it, SUNAT has not answered yet: run again or `nubefact query` later";
        case doc_state::accepted:
            return "done";
        case doc_state::rejected:
            return "SUNAT rejected it and the number is used: issue it again under the next number";
        case doc_state::refused:
            return "Nubefact did not create it: fix what its error says and send the same number again";
        case doc_state::unknown:
            return "Nubefact may have it: run again, it is consulted before any resend (do not renumber)";
        case doc_state::conflict:
            return "Nubefact holds another document under this number: investigate before anything else";
        case doc_state::failed:
            return "never reached Nubefact: run again";
    }
    return "";
}

bool is_final(doc_state s) noexcept {
    return s == doc_state::accepted || s == doc_state::rejected || s == doc_state::conflict;
}

bool may_resend_corrected(doc_state s) noexcept {
    return s == doc_state::refused || s == doc_state::failed;
}

// ---- memory_journal --------------------------------------------------------------------------

struct memory_journal::table {
    table(std::shared_ptr<const clock_source> clock, std::size_t max_rows, std::size_t details_kept)
        : clock_(clock ? std::move(clock) : real_clock()),
          max_rows_(max_rows == 0 ? 1 : max_rows),
          details_kept_(details_kept) {}
    void record(const intent& what, std::function<void(result<record_result>)> done);
    void update(const std::string& account, const document_key& key, const state_update& u,
                std::function<void(result<void>)> done);
    std::optional<intent_record> get(const std::string& account, const document_key& key, operation op) const;
    std::vector<intent_record> all() const;
    std::size_t size() const;
    void fail_writes(bool on);

    struct row_key {
        std::size_t hash = 0;  // of the fields below, computed once (make_key): the table's walks
                               // compare it before the strings and never rehash a key
        std::string account;
        bool void_family = false;
        document_key key;
        bool operator==(const row_key&) const = default;
    };
    struct row_key_hash {
        std::size_t operator()(const row_key& k) const noexcept { return k.hash; }
    };
    static row_key make_key(const std::string& account, bool void_family, const document_key& key);
    // What a settled row drops when it gets old: the answer's texts and the error in one allocation
    // (their end offsets, then the characters), instead of ten strings.
    struct answer_text {
        static constexpr std::size_t fields = answer_text_count + 1;
        std::unique_ptr<char[]> data;
        std::string_view get(std::size_t i) const noexcept;
    };
    struct row {
        operation op = operation::generar_comprobante;
        doc_state state = doc_state::queued;
        int attempts = 0;
        std::optional<int> codigo;
        std::optional<bool> aceptada_por_sunat;
        std::string payload_hash;
        std::chrono::system_clock::time_point created_at, updated_at;
        answer_text text;
        std::uint64_t settle = 0;      // the number of its latest entry in settled_ (0: never settled)
        std::int64_t lease_token = 0;  // the latest claim's fencing token
        bool held = false;             // claimed by a call in flight (released by its settle)
    };
    using node = std::pair<const row_key, row>;  // the map's nodes never move (rehash included)
    struct settled_entry {
        node* at;
        std::uint64_t settle;  // acted on only while it is the row's latest
    };
    static intent_record to_record(const row_key& k, const row& r);
    void settled_locked(node& n);
    std::shared_ptr<const clock_source> clock_;
    mutable std::mutex mu_;
    std::unordered_map<row_key, row, row_key_hash> rows_;
    std::deque<settled_entry> settled_;  // rows that reached accepted/rejected, oldest first
    std::uint64_t settles_ = 0;
    std::size_t max_rows_, details_kept_;
    bool fail_ = false;
};

memory_journal::memory_journal(std::size_t max_rows, std::size_t details_kept)
    : memory_journal(nullptr, max_rows, details_kept) {}

memory_journal::memory_journal(std::shared_ptr<const clock_source> clock, std::size_t max_rows,
                               std::size_t details_kept)
    : t_(std::make_unique<table>(std::move(clock), max_rows, details_kept)) {}

memory_journal::~memory_journal() = default;

void memory_journal::record(const intent& what, std::function<void(result<record_result>)> done) {
    t_->record(what, std::move(done));
}

void memory_journal::update(const std::string& account, const document_key& key, const state_update& u,
                            std::function<void(result<void>)> done) {
    t_->update(account, key, u, std::move(done));
}

void memory_journal::find(const std::string& account, const document_key& key,
                          std::function<void(result<std::optional<intent_record>>)> done) {
    find(account, operation::generar_comprobante, key, std::move(done));
}

void memory_journal::find(const std::string& account, operation op, const document_key& key,
                          std::function<void(result<std::optional<intent_record>>)> done) {
    done(t_->get(account, key, op));
}

std::optional<intent_record> memory_journal::get(const std::string& account, const document_key& key,
                                                 operation op) const {
    return t_->get(account, key, op);
}

std::vector<intent_record> memory_journal::all() const {
    return t_->all();
}

std::size_t memory_journal::size() const {
    return t_->size();
}

void memory_journal::fail_writes(bool on) {
    t_->fail_writes(on);
}

memory_journal::table::row_key memory_journal::table::make_key(const std::string& account, bool void_family,
                                                               const document_key& key) {
    row_key k{0, account, void_family, key};
    std::size_t h = std::hash<std::string>{}(k.account);
    auto mix = [&h](std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
    mix(std::hash<std::string>{}(k.key.serie));
    mix(static_cast<std::size_t>(k.key.numero));
    mix(static_cast<std::size_t>(k.key.tipo) * 2 + (k.void_family ? 1 : 0));
    k.hash = h;
    return k;
}

namespace {
using offset = std::size_t;
constexpr std::size_t header = (answer_text_count + 1) * sizeof(offset);  // answer_text::fields
}  // namespace

std::string_view memory_journal::table::answer_text::get(std::size_t i) const noexcept {
    static_assert(fields * sizeof(offset) == header);
    if (!data) return {};
    offset ends[fields];
    std::memcpy(ends, data.get(), sizeof ends);
    offset begin = i == 0 ? 0 : ends[i - 1];
    return {data.get() + header + begin, ends[i] - begin};
}

intent_record memory_journal::table::to_record(const row_key& k, const row& r) {
    intent_record out;
    out.what.account = k.account;
    out.what.op = r.op;
    out.what.key = k.key;
    out.what.payload_hash = r.payload_hash;
    out.state = r.state;
    out.attempts = r.attempts;
    out.codigo = r.codigo;
    out.aceptada_por_sunat = r.aceptada_por_sunat;
    if (r.text.data) {
        std::size_t i = 0;
        for_each_answer_text([&](std::string_view, auto get) { get(out) = r.text.get(i++); });
        out.error = r.text.get(i);
    }
    out.created_at = r.created_at;
    out.updated_at = r.updated_at;
    if (r.held) out.owner = "this process";
    out.lease_token = r.lease_token;
    return out;
}

// Remembers that `n` settled: the row settled details_kept settles ago drops its texts, and the
// oldest settled rows are forgotten while over the bound. An entry counts only while it is its row's
// latest settle (a row settled again lives on at its newer entry). Entries point at the map's nodes:
// a row is erased only here, when its latest entry leaves the front, so no entry outlives its node.
void memory_journal::table::settled_locked(node& n) {
    n.second.settle = ++settles_;
    settled_.push_back({&n, n.second.settle});
    auto latest = [](const settled_entry& e) -> row* {
        row& r = e.at->second;
        if (r.settle != e.settle) return nullptr;
        if (r.state != doc_state::accepted && r.state != doc_state::rejected) return nullptr;
        return &r;
    };
    if (settled_.size() > details_kept_)
        if (row* old = latest(settled_[settled_.size() - 1 - details_kept_])) old->text.data.reset();
    while (rows_.size() > max_rows_ && !settled_.empty()) {
        if (latest(settled_.front())) {
            row_key k = settled_.front().at->first;
            rows_.erase(k);
        }
        settled_.pop_front();
    }
    // Entries of rows settled again or gone: keep the list from outgrowing the map.
    if (settled_.size() > 2 * max_rows_) {
        std::deque<settled_entry> keep;
        for (auto& e : settled_)
            if (latest(e)) keep.push_back(e);
        settled_.swap(keep);
    }
}

void memory_journal::table::record(const intent& what, std::function<void(result<record_result>)> done) {
    result<record_result> out = record_result{};
    {
        std::lock_guard lock(mu_);
        if (fail_) {
            out = make_error_code(client_errc::journal);
        } else {
            row_key k = make_key(what.account, is_void_operation(what.op), what.key);
            // Past a thousand rows the map will likely grow to its bound: one rehash now, not ten on
            // the way (each walks every node).
            if (rows_.size() == 1024) rows_.reserve(std::min(max_rows_, std::size_t{1} << 20) + 1);
            auto [it, created] = rows_.try_emplace(std::move(k));
            auto& r = it->second;
            const bool same = r.payload_hash == what.payload_hash;
            // In one process a claim ends only by its settle: a row held by a call in flight is
            // never taken over.
            if (!created && (r.held || is_final(r.state) || (!same && !may_resend_corrected(r.state)))) {
                out = record_result{to_record(it->first, r), false, false, false, 0};
            } else if (!created && same) {
                r.held = true;
                ++r.lease_token;
                out = record_result{to_record(it->first, r), false, false, true, r.lease_token};
            } else {
                // A new row, or a corrected payload for a document Nubefact does not hold: a new
                // intent under the same number (its earlier attempts stay counted).
                r.op = what.op;
                r.payload_hash = what.payload_hash;  // the payload itself is not kept
                r.state = what.sending ? doc_state::sending : doc_state::queued;
                r.updated_at = clock_->system_now();
                if (created) {
                    r.attempts = what.sending ? 1 : 0;
                    r.created_at = r.updated_at;
                } else {
                    r.attempts += what.sending ? 1 : 0;
                    r.codigo.reset();
                    r.text = answer_text{};
                }
                r.held = true;
                ++r.lease_token;
                out = record_result{to_record(it->first, r), true, !created, true, r.lease_token};
            }
        }
    }
    done(std::move(out));
}

void memory_journal::table::update(const std::string& account, const document_key& key, const state_update& u,
                                   std::function<void(result<void>)> done) {
    result<void> out;
    {
        std::lock_guard lock(mu_);
        row_key k = make_key(account, u.op ? is_void_operation(*u.op) : false, key);
        auto it = rows_.find(k);
        if (fail_) {
            out = make_error_code(client_errc::journal);
        } else if (it == rows_.end() || (is_final(it->second.state) && it->second.state != u.state) ||
                   (u.lease && *u.lease != it->second.lease_token)) {
            out = make_error_code(store_errc::not_found);  // missing, final (forward only) or fenced out
        } else {
            auto& r = it->second;
            r.state = u.state;
            if (u.state != doc_state::sending) r.held = false;  // a settle releases the claim
            if (u.count_attempt) ++r.attempts;
            if (u.codigo) r.codigo = u.codigo;
            if (u.aceptada_por_sunat) r.aceptada_por_sunat = u.aceptada_por_sunat;
            const std::optional<std::string>* given[answer_text::fields];
            std::size_t n = 0;
            for_each_answer_text([&](std::string_view, auto get) { given[n++] = &get(u); });
            given[n] = &u.error;
            bool any = false;
            for (auto* g : given) any = any || g->has_value();
            if (any) {  // the given texts replace theirs, the others are kept: one new allocation
                std::string_view now[answer_text::fields];
                std::size_t chars = 0;
                for (std::size_t i = 0; i < answer_text::fields; ++i) {
                    now[i] = *given[i] ? std::string_view(**given[i]) : r.text.get(i);
                    chars += now[i].size();
                }
                auto data = std::make_unique_for_overwrite<char[]>(header + chars);
                offset ends[answer_text::fields];
                std::size_t at = 0;
                for (std::size_t i = 0; i < answer_text::fields; ++i) {
                    if (!now[i].empty()) std::memcpy(data.get() + header + at, now[i].data(), now[i].size());
                    at += now[i].size();
                    ends[i] = static_cast<offset>(at);
                }
                std::memcpy(data.get(), ends, sizeof ends);
                r.text.data = std::move(data);
            }
            r.updated_at = clock_->system_now();
            if (r.state == doc_state::accepted || r.state == doc_state::rejected) settled_locked(*it);
        }
    }
    done(std::move(out));
}

std::optional<intent_record> memory_journal::table::get(const std::string& account, const document_key& key,
                                                        operation op) const {
    std::lock_guard lock(mu_);
    auto it = rows_.find(make_key(account, is_void_operation(op), key));
    if (it == rows_.end()) return std::nullopt;
    return to_record(it->first, it->second);
}

std::vector<intent_record> memory_journal::table::all() const {
    std::lock_guard lock(mu_);
    std::vector<intent_record> out;
    out.reserve(rows_.size());
    for (const auto& [k, v] : rows_) out.push_back(to_record(k, v));
    return out;
}

std::size_t memory_journal::table::size() const {
    std::lock_guard lock(mu_);
    return rows_.size();
}

void memory_journal::table::fail_writes(bool on) {
    std::lock_guard lock(mu_);
    fail_ = on;
}

// ---- memory_audit_sink -------------------------------------------------------------------------

memory_audit_sink::memory_audit_sink(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

bool memory_audit_sink::try_write(audit_record&& r) {
    {
        std::lock_guard lock(mu_);
        if (q_.size() >= capacity_) return false;
        q_.push_back(std::move(r));
    }
    cv_.notify_all();
    return true;
}

void memory_audit_sink::wait_for_space(std::function<void()> ready) {
    {
        std::lock_guard lock(mu_);
        if (q_.size() >= capacity_) {
            waiters_.push_back(std::move(ready));
            return;
        }
    }
    ready();
}

std::vector<audit_record> memory_audit_sink::drain() {
    std::vector<audit_record> out;
    std::vector<std::function<void()>> wake;
    {
        std::lock_guard lock(mu_);
        out.assign(std::make_move_iterator(q_.begin()), std::make_move_iterator(q_.end()));
        q_.clear();
        wake.swap(waiters_);
    }
    for (auto& w : wake) w();
    return out;
}

std::size_t memory_audit_sink::size() const {
    std::lock_guard lock(mu_);
    return q_.size();
}

std::size_t memory_audit_sink::waiting_writers() const {
    std::lock_guard lock(mu_);
    return waiters_.size();
}

bool memory_audit_sink::wait_size(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return q_.size() >= n; });
}

}  // namespace nubefact

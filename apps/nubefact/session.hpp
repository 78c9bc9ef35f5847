// What every sending subcommand shares: the account (store, TOML, environment or the embedded
// emulator), the store, an io thread and one client.
#pragma once

#include <nubefact/client.hpp>
#include <nubefact/config.hpp>
#include <nubefact/emulator.hpp>
#include <nubefact/store.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <optional>
#include <string>

namespace nubefact::cli {

// Options common to send / query / void / guide.
struct session_options {
    std::string account;      // --account: a name in the store's accounts table or the TOML file
    std::string config_file;  // --config: TOML accounts file (see docs/client.md)
    std::string store_url;    // --store: default env NUBEFACT_STORE, else sqlite:./nubefact.db
    bool no_store = false;    // --no-store: journal and audit in memory only (no resume)
    bool emulator = false;    // --emulator: start the embedded emulator and send to it
    std::string emulator_latency = "none";
    std::string emulator_faults;
    int concurrency = 0;  // 0: the account's max_concurrency
    double rate = -1;     // < 0: the account's rate
    int burst = -1;
    bool audit_bodies = false;
    int ahead = 0;  // --ahead of send/bench, as given (-1: default; see resolve_ahead); 0 elsewhere
    double lease_seconds = 0;  // --lease; 0: NUBEFACT_LEASE, else the store's default (30 s)

    // The claim lease the store is opened with (--lease, NUBEFACT_LEASE, the default).
    std::chrono::milliseconds lease() const;

    // Adds the options above to `app`.
    void add_to(CLI::App& app);
};

// Calls f(name, value) for each text field of a Nubefact answer a user wants to see (SUNAT's
// verdict and the links), in display order; query prints them, send writes them to its results.
template <class F>
void for_each_answer_field(const response& b, F&& f) {
    f("sunat_description", b.sunat_description);
    f("sunat_responsecode", b.sunat_responsecode);
    f("sunat_note", b.sunat_note);
    f("sunat_ticket_numero", b.sunat_ticket_numero);
    f("enlace", b.enlace);
    f("enlace_del_pdf", b.enlace_del_pdf);
    f("enlace_del_xml", b.enlace_del_xml);
    f("enlace_del_cdr", b.enlace_del_cdr);
    f("nota_importante", b.nota_importante);
}

// Look-ahead: besides the `concurrency` documents in flight, up to `ahead` more have their intent
// journaled (state `sending`) while they wait for a free slot, so one journal commit carries many
// intents and a slot never waits for a commit. The price: after a crash up to `ahead` documents that
// were never sent are consulted before they are sent (as any `sending` one). requested < 0 picks
// the default min(8 × concurrency, 256); 0 turns it off.
int resolve_ahead(int requested, int concurrency);
inline constexpr const char* ahead_help =
    "Documents journaled ahead of the free slots, so one commit carries many intents (default: "
    "8 × concurrency, at most 256, fewer when the account's rate is low; 0: journal each one just "
    "before it is sent). After a crash these are consulted before they are sent";
// At most as many as the account's rate lets through within a quarter of its total_timeout (a
// document journaled ahead waits ~(concurrency + ahead) ÷ rate for its slot, and that wait counts
// against total_timeout): `ahead` as is when there is no rate limit.
int fit_ahead_to_rate(int ahead, int concurrency, const account_config& account);
// The store options for `ahead` (as requested: -1 or N) documents journaled ahead: with look-ahead a journal
// commit waits up to 1 ms for the intents right behind its first one (nobody sending waits on it while others
// are queued).
store::store_options store_options_for(int ahead, std::chrono::milliseconds lease);

// A commit's journal completions come back to `ioc`'s thread in one hand-over (one wake-up per commit,
// not one per document). finish_completions() ends that: it flushes the store and runs what was handed
// over after `ioc` stopped, so a late failure is still logged. Call it before `ioc` goes away.
void hand_completions_to(store::store& db, boost::asio::io_context& ioc);
void finish_completions(store::store& db, boost::asio::io_context& ioc);

// An open session. Construction never throws; open() says what went wrong in plain words.
class session {
  public:
    ~session();
    // Resolves the account in this order: --emulator; else the account named by --account (or
    // NUBEFACT_ACCOUNT) in the store, then in the TOML file (--config, or ./nubefact.toml when
    // present) with NUBEFACT_* on top; else NUBEFACT_RUTA's account; else the only account there is.
    // Refused, saying why: an unknown name (the known ones listed), several accounts and no name, a
    // disabled account, a token encrypted with a key that is not in NUBEFACT_SECRET_KEY.
    // Flags (--concurrency, --rate, --burst) override whatever was found.
    static std::unique_ptr<session> open(const session_options& o, std::string& error);

    boost::asio::io_context& io() { return ioc_; }
    client& api() { return *client_; }
    const account_config& account() const { return cfg_; }
    store::store* db() { return store_.get(); }  // null with --no-store
    emulator::server* embedded() { return emulator_.get(); }
    std::string store_url() const { return store_url_; }  // redacted
    int concurrency() const;
    // How long to wait for a document another sender holds: two leases (it may have died just after
    // renewing) and a total_timeout (its last exchange).
    std::chrono::milliseconds hold_patience() const;

    // Flushes the store (every state and audit row committed) and stops the emulator.
    void close();

  private:
    session() = default;
    boost::asio::io_context ioc_{1};  // one thread runs it: the client then needs no strand
    account_config cfg_;
    std::shared_ptr<store::store> store_;
    std::unique_ptr<emulator::server> emulator_;
    std::unique_ptr<client> client_;
    std::string store_url_;
    int concurrency_override_ = 0;
    std::chrono::milliseconds lease_ = store::store_options{}.lease;
};

}  // namespace nubefact::cli

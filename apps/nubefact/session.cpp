// Session: account resolution, store, embedded emulator and the client shared by the sending commands.
#include "session.hpp"

#include <boost/asio/post.hpp>

#include <cstdlib>
#include <filesystem>

namespace nubefact::cli {

void session_options::add_to(CLI::App& app) {
    app.add_option("--account", account,
                   "Account name: looked up in the store's accounts table (`nubefact accounts add`), then in "
                   "the TOML file. Default: NUBEFACT_ACCOUNT or the only account");
    app.add_option("--config", config_file,
                   "TOML accounts file (default ./nubefact.toml when present). NUBEFACT_RUTA, NUBEFACT_TOKEN "
                   "and the other NUBEFACT_* variables override it");
    app.add_option("--store", store_url,
                   "Where states and the audit log go: sqlite:PATH or postgresql://… "
                   "(default: NUBEFACT_STORE, else sqlite:./nubefact.db)");
    app.add_flag("--no-store", no_store, "Keep the journal and audit log in memory only (no resume, no log)");
    app.add_flag("--emulator", emulator,
                 "Start the built-in emulator and send to it: no Nubefact account needed (it accepts any "
                 "past issue date, since example files carry fixed dates)");
    app.add_option("--emulator-latency", emulator_latency,
                   "With --emulator: none, fixed:MS, uniform:A-B or lognormal:MEDIAN,P99 (milliseconds)")
        ->default_str("none");
    app.add_option("--emulator-faults", emulator_faults,
                   "With --emulator: seeded fault rates, e.g. 500:0.05,reset:0.02,commit_drop:0.02");
    app.add_option("--concurrency,-c", concurrency, "Documents in flight at once (default: the account's)")
        ->check(CLI::Range(1, 100000));
    app.add_option("--rate", rate,
                   "Requests per second for this account (default: the account's; 0 = unlimited)")
        ->check(CLI::Range(0.0, 1e9));
    app.add_option("--burst", burst, "Token-bucket burst (default: the account's)")
        ->check(CLI::Range(1, 1000000));
    app.add_flag("--audit-bodies", audit_bodies, "Keep request and response bodies in the audit log");
    app.add_option("--lease", lease_seconds,
                   "Seconds a claim on a document lasts unless renewed (several senders sharing one store: "
                   "another sender takes over a dead one's documents after this; default NUBEFACT_LEASE, "
                   "else 30)")
        ->check(CLI::Range(1.0, 86400.0));
}

std::chrono::milliseconds session_options::lease() const {
    double secs = lease_seconds;
    if (secs <= 0) {
        if (const char* e = std::getenv("NUBEFACT_LEASE"); e && *e) {
            char* end = nullptr;
            const double v = std::strtod(e, &end);
            if (end && *end == '\0' && v >= 1 && v <= 86400) secs = v;
        }
    }
    if (secs <= 0) return store::store_options{}.lease;
    return std::chrono::milliseconds(static_cast<std::int64_t>(secs * 1000));
}

namespace {

// A wrong or ambiguous account choice: the message says what to do, so no generic hint follows it.
class account_choice_error : public config_error {
  public:
    using config_error::config_error;
};

// "in the store sqlite:x.db: a, b (disabled); in nubefact.toml: c", or empty when there are none.
std::string known_accounts(const std::vector<store::account>& stored, const std::string& store_url,
                           const std::vector<account_config>& in_file, const std::string& path) {
    std::string out;
    if (!stored.empty()) {
        out += "in the store " + store_url + ":";
        for (std::size_t i = 0; i < stored.size(); ++i)
            out += (i ? ", " : " ") + stored[i].config.name + (stored[i].enabled ? "" : " (disabled)");
    }
    if (!in_file.empty()) {
        out += std::string(out.empty() ? "" : "; ") + "in " + path + ":";
        for (std::size_t i = 0; i < in_file.size(); ++i) out += (i ? ", " : " ") + in_file[i].name;
    }
    return out;
}

// The store's account `name` as the client's configuration, refused when it cannot be used.
std::optional<account_config> usable_store_account(store::store& db, const std::string& name) {
    auto a = db.find_account(name);
    if (!a && a.error() == store_errc::crypto)
        throw account_choice_error("account '" + name + "': its token is encrypted in the store and " +
                                   (std::getenv("NUBEFACT_SECRET_KEY")
                                        ? "NUBEFACT_SECRET_KEY is not the key it was stored with"
                                        : "NUBEFACT_SECRET_KEY is not set: set it to the key the "
                                          "token was stored with"));
    if (!a) throw config_error("cannot read account '" + name + "' from the store: " + a.error().message());
    if (!*a) return std::nullopt;
    if (!(*a)->enabled)
        throw account_choice_error("account '" + name + "' is disabled (`nubefact accounts set --name " +
                                   name + " --enable` to use it again)");
    return (*a)->config;
}

// The account session::open() uses, in the order its contract gives. Throws config_error.
account_config resolve_account(const session_options& o, store::store* db, const std::string& store_url) {
    std::string path = o.config_file;
    if (path.empty() && std::filesystem::exists("nubefact.toml")) path = "nubefact.toml";
    const auto env = process_env();
    std::string wanted = o.account;
    if (wanted.empty())
        if (auto v = env("NUBEFACT_ACCOUNT")) wanted = *v;

    std::vector<store::account> stored;
    if (db) {
        auto all = db->list_accounts();
        if (!all) throw config_error("cannot read the store's accounts: " + all.error().message());
        stored = std::move(*all);
    }
    const auto in_file = path.empty() ? std::vector<account_config>{} : load_accounts_file(path);
    const auto known = known_accounts(stored, store_url, in_file, path);

    if (!wanted.empty()) {
        if (db)
            if (auto c = usable_store_account(*db, wanted)) return *c;
        for (const auto& c : in_file)
            if (c.name == wanted) return load_account(path, wanted, env);
        // No file: NUBEFACT_RUTA and NUBEFACT_TOKEN describe the account the name stands for.
        if (path.empty() && env("NUBEFACT_RUTA")) return load_account({}, wanted, env);
        throw account_choice_error(
            "no account named '" + wanted + "'" +
            (known.empty() ? std::string(": there are no accounts (`nubefact accounts add --help`)")
                           : ". Known accounts: " + known) +
            (db ? "" : " (with --no-store the store's accounts are not read)"));
    }
    // The environment describes the account (on top of the file's first one, if any).
    if (env("NUBEFACT_RUTA")) return load_account(path, {}, env);
    if (stored.size() + in_file.size() > 1)
        throw account_choice_error("several accounts and no --account: " + known +
                                   ". Pick one with --account NAME (or NUBEFACT_ACCOUNT=NAME)");
    if (stored.size() == 1)
        if (auto c = usable_store_account(*db, stored.front().config.name)) return *c;
    // The file's only account, or nothing: validate_config() then says what is missing.
    return load_account(path, {}, env);
}

}  // namespace

int resolve_ahead(int requested, int concurrency) {
    if (requested >= 0) return requested;
    return static_cast<int>(std::min<long>(8L * std::max(1, concurrency), 256L));
}

int fit_ahead_to_rate(int ahead, int concurrency, const account_config& account) {
    const double rate = account.rate.requests_per_second;
    if (ahead <= 0 || rate <= 0) return ahead;
    const double secs = std::chrono::duration<double>(account.total_timeout).count();
    const double fit = rate * secs / 4 - concurrency;
    return fit <= 0 ? 0 : static_cast<int>(std::min<double>(fit, ahead));
}

store::store_options store_options_for(int ahead, std::chrono::milliseconds lease) {
    store::store_options o;
    o.lease = lease;
    if (ahead != 0) o.control_linger = std::chrono::milliseconds(1);
    return o;
}

session::~session() {
    close();
}

std::chrono::milliseconds session::hold_patience() const {
    return 2 * lease_ + std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.total_timeout);
}

int session::concurrency() const {
    return concurrency_override_ > 0 ? concurrency_override_ : cfg_.max_concurrency;
}

void hand_completions_to(store::store& db, boost::asio::io_context& ioc) {
    db.set_completion_dispatch(
        [ex = ioc.get_executor()](std::function<void()> f) { boost::asio::post(ex, std::move(f)); });
}

void finish_completions(store::store& db, boost::asio::io_context& ioc) {
    // From here on completions run on the store's writer; the ones already handed over run below.
    db.set_completion_dispatch(nullptr);
    db.flush();
    ioc.restart();
    ioc.poll();
}

void session::close() {
    if (store_) finish_completions(*store_, ioc_);
    if (emulator_) emulator_->stop();
}

std::unique_ptr<session> session::open(const session_options& o, std::string& error) {
    std::unique_ptr<session> s(new session());
    try {
        // The store first: it may hold the account, and it journals every intent.
        if (!o.no_store) {
            std::string url = o.store_url.empty() ? store::default_store_url() : o.store_url;
            std::string diag;
            auto st = store::open_store(url, store_options_for(o.ahead, o.lease()), &diag);
            if (!st) {
                error = "cannot open the store " + store::redact_url(url) + ": " + st.error().message() +
                        (diag.empty() ? "" : " (" + diag + ")");
                return nullptr;
            }
            s->store_ = std::shared_ptr<store::store>(std::move(*st));
            s->store_url_ = store::redact_url(url);
            s->lease_ = o.lease();
            hand_completions_to(*s->store_, s->ioc_);
        }

        if (o.emulator) {
            emulator::options eo;
            eo.max_age_days = eo.guia_max_age_days = 1000000;  // example files carry fixed dates
            std::string why;
            auto lat = emulator::latency_model::parse(o.emulator_latency, &why);
            if (!lat) {
                error = "--emulator-latency: " + why;
                return nullptr;
            }
            eo.latency = *lat;
            if (!o.emulator_faults.empty()) {
                auto f = emulator::fault_rates::parse(o.emulator_faults, &why);
                if (!f) {
                    error = "--emulator-faults: " + why;
                    return nullptr;
                }
                eo.faults = *f;
            }
            s->emulator_ = std::make_unique<emulator::server>(std::move(eo));
            if (auto r = s->emulator_->start(&why); !r) {
                error = "cannot start the embedded emulator: " + why;
                return nullptr;
            }
            const auto& acc = s->emulator_->first_account();
            s->cfg_.name = "emulator";
            s->cfg_.ruta = s->emulator_->ruta_url();
            s->cfg_.token = acc.tokens.front();
            s->cfg_.rate.requests_per_second = 0;  // the local emulator has no limit
            s->cfg_.max_concurrency = 16;
            s->cfg_.request_timeout = std::chrono::seconds(10);
            s->cfg_.retry.base = std::chrono::milliseconds(20);
            s->cfg_.retry.cap = std::chrono::milliseconds(500);
        } else {
            s->cfg_ = resolve_account(o, s->store_.get(), s->store_url_);
        }
        if (o.rate >= 0) s->cfg_.rate.requests_per_second = o.rate;
        if (o.burst > 0) s->cfg_.rate.burst = o.burst;
        if (o.concurrency > 0) {
            s->concurrency_override_ = o.concurrency;
            s->cfg_.max_concurrency = o.concurrency;
        }
        if (o.audit_bodies) s->cfg_.audit_bodies = true;
        s->cfg_.validate = false;  // the commands validate before handing documents over
        validate_config(s->cfg_);

        client_options co;
        if (s->store_) {
            co.journal = std::shared_ptr<intent_journal>(s->store_, &s->store_->journal());
            co.audit = std::shared_ptr<audit_sink>(s->store_, &s->store_->audit());
        }
        s->client_ = std::make_unique<client>(s->ioc_.get_executor(), s->cfg_, std::move(co));
    } catch (const account_choice_error& e) {
        error = e.what();
        return nullptr;
    } catch (const config_error& e) {
        error = std::string("configuration: ") + e.what() +
                "\n  (give --account NAME from `nubefact accounts list`, --config FILE, NUBEFACT_RUTA and "
                "NUBEFACT_TOKEN, or --emulator to try without an account)";
        return nullptr;
    }
    return s;
}

}  // namespace nubefact::cli

// Session: account resolution, store, embedded emulator and the client shared by the sending commands.
#include "session.hpp"

#include <boost/asio/post.hpp>

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
}

account_config to_account_config(const store::account& a) {
    account_config c;
    c.name = a.name;
    c.ruta = a.ruta;
    c.token = a.token;
    c.rate.requests_per_second = a.rate;
    c.rate.burst = a.burst;
    c.rate.min_interval = a.min_interval;
    c.max_concurrency = a.max_concurrency;
    c.connect_timeout = a.connect_timeout;
    c.request_timeout = a.request_timeout;
    c.total_timeout = a.total_timeout;
    return c;
}

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

store::store_options store_options_for(int ahead) {
    store::store_options o;
    if (ahead != 0) o.control_linger = std::chrono::milliseconds(1);
    return o;
}

session::~session() {
    close();
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
            auto st = store::open_store(url, store_options_for(o.ahead), &diag);
            if (!st) {
                error = "cannot open the store " + store::redact_url(url) + ": " + st.error().message() +
                        (diag.empty() ? "" : " (" + diag + ")");
                return nullptr;
            }
            s->store_ = std::shared_ptr<store::store>(std::move(*st));
            s->store_url_ = store::redact_url(url);
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
            bool found = false;
            if (s->store_ && !o.account.empty()) {
                auto a = s->store_->find_account(o.account);
                if (a && *a) {
                    s->cfg_ = to_account_config(**a);
                    found = true;
                }
            }
            if (!found) {
                std::string path = o.config_file;
                if (path.empty() && std::filesystem::exists("nubefact.toml")) path = "nubefact.toml";
                s->cfg_ = load_account(path, o.account);
            }
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
    } catch (const config_error& e) {
        error = std::string("configuration: ") + e.what() +
                "\n  (give --account NAME from `nubefact accounts list`, --config FILE, NUBEFACT_RUTA and "
                "NUBEFACT_TOKEN, or --emulator to try without an account)";
        return nullptr;
    }
    return s;
}

}  // namespace nubefact::cli

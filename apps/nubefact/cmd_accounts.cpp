// `nubefact accounts add|list|set|remove`: the Nubefact accounts kept in the store (tokens masked).
#include "command.hpp"
#include "json_out.hpp"
#include "store_cli.hpp"

#include <nubefact/config.hpp>
#include <nubefact/fiscal.hpp>

#include <boost/json.hpp>

#include <cstdlib>
#include <iostream>

namespace nubefact::cli {
namespace {

struct account_args {
    std::string store_url;
    std::string name, ruc, ruta, token, token_env, auth;
    bool token_stdin = false;
    double rate = 10.0;
    int burst = 10, concurrency = 8;
    std::string min_interval = "0ms", connect_timeout = "10s", request_timeout = "60s",
                total_timeout = "180s";
    bool disable = false, enable = false, json_out = false;
};

constexpr const char* accounts_help =
    R"(Accounts are the RUTA + token pairs of your Nubefact accounts (Nubefact's web panel, "API -
Integración"), with the limits the client uses for each: requests per second, burst, minimum interval
between requests, concurrency and timeouts. `nubefact send --account NAME` uses them.

The token never appears in `accounts list` (only its last 4 characters), in the audit log or in error
messages. With NUBEFACT_SECRET_KEY set, it is encrypted in the store (AES-256-GCM); keep that key
to read the tokens back. Pass the token without leaving it in your shell history:

  read -rs NUBEFACT_TOKEN && export NUBEFACT_TOKEN
  nubefact accounts add --name acme --ruc 20600695771 \
      --ruta https://api.nubefact.com/api/v1/48239908-7ae7-4353-824d-071765d4 --token-env NUBEFACT_TOKEN
  nubefact accounts add --name demo --ruta https://... --token-stdin < token.txt
  nubefact accounts list
  nubefact accounts set --name acme --rate 5 --burst 5 --concurrency 4
  nubefact accounts set --name acme --token-env NEW_TOKEN       # rotate the token
  nubefact accounts remove --name demo

Durations: 250ms, 10s, 2m (a bare number is milliseconds).
Exit status: 0 done, 1 the account does not exist / already exists, 2 usage or store error.)";

bool looks_like_url(const std::string& s) {
    return s.starts_with("https://") || s.starts_with("http://");
}

// The token from exactly one of --token, --token-env, --token-stdin; nullopt (message printed) if none.
std::optional<std::string> read_token(const account_args& a, CLI::App& cmd, bool required) {
    int sources =
        (cmd.count("--token") ? 1 : 0) + (cmd.count("--token-env") ? 1 : 0) + (a.token_stdin ? 1 : 0);
    if (sources > 1) {
        std::cerr << "nubefact accounts: give the token one way: --token, --token-env or --token-stdin\n";
        return std::nullopt;
    }
    if (sources == 0) {
        if (required)
            std::cerr
                << "nubefact accounts: a token is required (--token-env VAR, --token-stdin or --token)\n";
        return required ? std::nullopt : std::optional<std::string>{""};
    }
    std::string t;
    if (cmd.count("--token")) {
        t = a.token;
    } else if (cmd.count("--token-env")) {
        const char* v = std::getenv(a.token_env.c_str());
        if (!v || !*v) {
            std::cerr << "nubefact accounts: environment variable " << a.token_env << " is not set\n";
            return std::nullopt;
        }
        t = v;
    } else {
        std::getline(std::cin, t);
    }
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (t.empty()) {
        std::cerr << "nubefact accounts: the token is empty\n";
        return std::nullopt;
    }
    return t;
}

// Applies the options the user gave (all of them for add) to `acc`; false (message printed) if invalid.
bool apply(const account_args& a, CLI::App& cmd, store::account& acc, bool all) {
    auto given = [&](const char* opt) { return all || cmd.count(opt) > 0; };
    try {
        if (given("--ruc")) {
            // The check `nubefact validate` applies to a document's RUC, check digit included.
            if (!a.ruc.empty() && !fiscal::valid_ruc(a.ruc)) {
                std::cerr << "nubefact accounts: --ruc " << a.ruc
                          << " is not a valid RUC (11 digits, prefix 10, 15, 16, 17 or 20, and the last one "
                             "the check digit of the first ten)\n";
                return false;
            }
            acc.ruc = a.ruc;
        }
        if (given("--ruta")) {
            if (!looks_like_url(a.ruta)) {
                std::cerr << "nubefact accounts: --ruta must be the account's URL (https://…/api/v1/<id>)\n";
                return false;
            }
            acc.config.ruta = a.ruta;
        }
        if (given("--auth")) {
            if (a.auth == "bare" || a.auth.empty())
                acc.config.auth = auth_scheme::bare;
            else if (a.auth == "token")
                acc.config.auth = auth_scheme::token_token;
            else {
                std::cerr << "nubefact accounts: --auth is bare or token\n";
                return false;
            }
        }
        auto& c = acc.config;
        if (given("--rate")) c.rate.requests_per_second = a.rate;
        if (given("--burst")) c.rate.burst = a.burst;
        if (given("--concurrency")) c.max_concurrency = a.concurrency;
        if (given("--min-interval")) c.rate.min_interval = parse_duration(a.min_interval);
        if (given("--connect-timeout")) c.connect_timeout = parse_duration(a.connect_timeout);
        if (given("--request-timeout")) c.request_timeout = parse_duration(a.request_timeout);
        if (given("--total-timeout")) c.total_timeout = parse_duration(a.total_timeout);
    } catch (const config_error& e) {
        std::cerr << "nubefact accounts: " << e.what() << "\n";
        return false;
    }
    if (a.disable) acc.enabled = false;
    if (a.enable) acc.enabled = true;
    return true;
}

std::string shown_token(const std::string& t) {
    if (t.starts_with("enc:v1:")) return "(encrypted; NUBEFACT_SECRET_KEY needed)";
    return store::mask_token(t);
}

int report(const result<void>& r, store::store& s, const std::string& what) {
    if (r) return exit_ok;
    if (r.error() == store_errc::constraint) {
        std::cerr << "nubefact accounts: an account named '" << what
                  << "' already exists (use `accounts set`)\n";
        return exit_failed;
    }
    if (r.error() == store_errc::not_found) {
        std::cerr << "nubefact accounts: no account named '" << what << "' (see `nubefact accounts list`)\n";
        return exit_failed;
    }
    std::cerr << "nubefact accounts: " << r.error().message();
    if (auto e = s.last_error(); !e.empty()) std::cerr << ": " << e;
    std::cerr << "\n";
    return exit_usage;
}

int run_add(const account_args& a, CLI::App& cmd) {
    store::account acc;
    acc.config.name = a.name;
    if (!apply(a, cmd, acc, true)) return exit_usage;
    auto tok = read_token(a, cmd, true);
    if (!tok) return exit_usage;
    acc.config.token = *tok;
    if (cmd.count("--token"))
        std::cerr << "nubefact accounts: note: --token leaves the token in your shell history; prefer "
                     "--token-env or --token-stdin\n";
    auto s = store_cli::open(a.store_url, "accounts", store_cli::opening::may_create);
    if (!s) return exit_usage;
    int rc = report(s->add_account(acc), *s, a.name);
    if (rc == exit_ok)
        std::cout << "added account " << acc.config.name << " (token " << store::mask_token(acc.config.token)
                  << (acc.enabled ? "" : ", disabled") << ")\n";
    return rc;
}

int run_set(const account_args& a, CLI::App& cmd) {
    auto s = store_cli::open(a.store_url, "accounts");
    if (!s) return exit_usage;
    auto all = s->list_accounts();
    if (!all) return report(all.error(), *s, a.name);
    auto it = std::find_if(all->begin(), all->end(), [&](auto& x) { return x.config.name == a.name; });
    if (it == all->end()) return report(store_errc::not_found, *s, a.name);
    store::account acc = *it;
    if (!apply(a, cmd, acc, false)) return exit_usage;
    auto tok = read_token(a, cmd, false);
    if (!tok) return exit_usage;
    if (!tok->empty()) acc.config.token = *tok;
    if (acc.config.token.starts_with("enc:v1:")) {
        std::cerr
            << "nubefact accounts: the stored token is encrypted; set NUBEFACT_SECRET_KEY (or give a new "
               "token) to change this account\n";
        return exit_usage;
    }
    int rc = report(s->update_account(acc), *s, a.name);
    if (rc == exit_ok) std::cout << "updated account " << acc.config.name << "\n";
    return rc;
}

int run_remove(const account_args& a) {
    auto s = store_cli::open(a.store_url, "accounts");
    if (!s) return exit_usage;
    int rc = report(s->remove_account(a.name), *s, a.name);
    if (rc == exit_ok) std::cout << "removed account " << a.name << "\n";
    return rc;
}

int run_list(const account_args& a) {
    auto s = store_cli::open(a.store_url, "accounts");
    if (!s) return exit_usage;
    auto all = s->list_accounts();
    if (!all) return report(all.error(), *s, "");
    if (a.json_out) {
        for (const auto& x : *all) {
            const auto& c = x.config;
            boost::json::object o;
            o["name"] = c.name;
            o["ruc"] = x.ruc;
            o["ruta"] = c.ruta;
            o["token"] = shown_token(c.token);
            o["auth"] = c.auth == auth_scheme::token_token ? "token" : "bare";
            o["rate"] = c.rate.requests_per_second;
            o["burst"] = c.rate.burst;
            o["min_interval_ms"] = c.rate.min_interval.count();
            o["max_concurrency"] = c.max_concurrency;
            o["connect_timeout_ms"] = c.connect_timeout.count();
            o["request_timeout_ms"] = c.request_timeout.count();
            o["total_timeout_ms"] = c.total_timeout.count();
            o["enabled"] = x.enabled;
            o["created_at"] = store_cli::iso_utc(x.created_at);
            o["updated_at"] = store_cli::iso_utc(x.updated_at);
            std::cout << to_json(o) << "\n";
        }
        return exit_ok;
    }
    if (all->empty()) {
        std::cout << "no accounts (add one with `nubefact accounts add --help`)\n";
        return exit_ok;
    }
    std::printf("%-16s %-11s %-16s %-5s %-8s %-6s %-5s %-7s %s\n", "NAME", "RUC", "TOKEN", "AUTH", "RATE/S",
                "BURST", "CONC", "ENABLED", "RUTA");
    for (const auto& x : *all) {
        char rate[32];
        const auto& c = x.config;
        std::snprintf(rate, sizeof rate, "%g", c.rate.requests_per_second);
        std::string tok = c.token.starts_with("enc:v1:") ? "(locked)" : store::mask_token(c.token);
        std::printf("%-16s %-11s %-16s %-5s %-8s %-6d %-5d %-7s %s\n", c.name.c_str(),
                    x.ruc.empty() ? "-" : x.ruc.c_str(), tok.c_str(),
                    c.auth == auth_scheme::token_token ? "token" : "bare", rate, c.rate.burst,
                    c.max_concurrency, x.enabled ? "yes" : "no", c.ruta.c_str());
    }
    return exit_ok;
}

void add_common(CLI::App& c, account_args& a) {
    c.add_option("--store", a.store_url, store_cli::store_option_help);
}

void add_settings(CLI::App& c, account_args& a) {
    c.add_option("--ruc", a.ruc, "The account's RUC (11 digits)");
    c.add_option("--token", a.token,
                 "The API token (visible in shell history: prefer --token-env/--token-stdin)");
    c.add_option("--token-env", a.token_env, "Read the token from this environment variable");
    c.add_flag("--token-stdin", a.token_stdin, "Read the token from the first line of standard input");
    c.add_option("--auth", a.auth,
                 "Authorization header form: bare (default, as in the manual) or token (Token token=\"…\")");
    c.add_option("--rate", a.rate, "Requests per second (default 10; 0 = unlimited)")
        ->check(CLI::Range(0.0, 1e6));
    c.add_option("--burst", a.burst, "Token-bucket burst (default 10)")->check(CLI::Range(1, 1000000));
    c.add_option("--min-interval", a.min_interval, "Minimum time between two requests (default 0ms)");
    c.add_option("--concurrency", a.concurrency, "Requests in flight at most (default 8)")
        ->check(CLI::Range(1, 10000));
    c.add_option("--connect-timeout", a.connect_timeout, "Connect + TLS handshake deadline (default 10s)");
    c.add_option("--request-timeout", a.request_timeout, "One attempt's deadline (default 60s)");
    c.add_option("--total-timeout", a.total_timeout, "One call's deadline, retries included (default 180s)");
}

const registrar reg{command{
    "accounts", "Manage the Nubefact accounts (RUTA, token, limits) kept in the store",
    [](CLI::App& sub) -> std::function<int()> {
        auto a = std::make_shared<account_args>();
        auto which = std::make_shared<std::string>();
        sub.footer(accounts_help);
        sub.require_subcommand(1);

        auto* add = sub.add_subcommand("add", "Add an account");
        add_common(*add, *a);
        add->add_option("--name", a->name, "Account name (unique)")->required();
        add_settings(*add, *a);
        add->add_flag("--disabled", a->disable, "Add it disabled");
        add->callback([which] { *which = "add"; });

        auto* list = sub.add_subcommand("list", "List accounts (tokens masked)");
        add_common(*list, *a);
        list->add_flag("--json", a->json_out, "One JSON object per account");
        list->callback([which] { *which = "list"; });

        auto* set = sub.add_subcommand("set", "Change an account: only the options given change");
        add_common(*set, *a);
        set->add_option("--name", a->name, "Account to change")->required();
        add_settings(*set, *a);
        set->add_flag("--disable", a->disable, "Stop using this account");
        set->add_flag("--enable", a->enable, "Use this account again");
        set->callback([which] { *which = "set"; });

        auto* rm = sub.add_subcommand("remove", "Remove an account (its documents and audit rows stay)");
        add_common(*rm, *a);
        rm->add_option("--name", a->name, "Account to remove")->required();
        rm->callback([which] { *which = "remove"; });

        for (auto* c : {add, set}) c->add_option("--ruta", a->ruta, "The account's API URL (RUTA)");
        add->get_option("--ruta")->required();

        return [a, which, add, set] {
            if (*which == "add") return run_add(*a, *add);
            if (*which == "set") return run_set(*a, *set);
            if (*which == "remove") return run_remove(*a);
            return run_list(*a);
        };
    },
    80}};

}  // namespace
}  // namespace nubefact::cli

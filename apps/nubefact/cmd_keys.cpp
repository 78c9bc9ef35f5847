// `nubefact keys create|list|revoke`: the gateway's API keys (ruta + token for `nubefact serve`).
#include "command.hpp"
#include "json_out.hpp"
#include "store_cli.hpp"

#include <nubefact/gateway.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <iostream>

namespace nubefact::cli {
namespace {

struct keys_args {
    std::string store_url, account, ruta;
    bool json_out = false;
};

constexpr const char* keys_help =
    R"(A key is what one integration (an ERP, a POS, a web shop) uses instead of its Nubefact RUTA and
TOKEN: `nubefact serve` takes POST /api/v1/RUTA with the key's token and sends the documents through
the key's account (one of `nubefact accounts list`). Give each integration its own key; revoke it
when it leaves.

  nubefact keys create --account acme     # prints ruta and token: the token is shown only now
  nubefact keys list                      # rutas, accounts, dates; never a token
  nubefact keys revoke 3f0c…              # that integration now gets codigo 10 (token deleted)

The store keeps only the token's SHA-256: a lost token cannot be shown again; create another key.
Exit status: 0 done, 1 no such account / key, 2 usage or store error.)";

int run_create(const keys_args& a) {
    auto s = store_cli::open(a.store_url, "keys", store_cli::opening::may_create);
    if (!s) return exit_usage;
    auto all = s->list_accounts();
    if (!all) {
        std::cerr << "nubefact keys: cannot read the accounts: " << all.error().message() << "\n";
        return exit_usage;
    }
    std::string names;
    bool found = false;
    for (const auto& x : *all) {
        found = found || x.config.name == a.account;
        names += (names.empty() ? "" : ", ") + x.config.name;
    }
    if (!found) {
        std::cerr << "nubefact keys: no account named '" << a.account << "' in the store "
                  << store::redact_url(a.store_url.empty() ? store::default_store_url() : a.store_url)
                  << (names.empty() ? std::string(": there are none (`nubefact accounts add --help`)")
                                    : ". Known accounts: " + names)
                  << "\n";
        return exit_failed;
    }
    auto k = gateway::make_api_key(a.account);
    if (auto r = s->add_api_key(k.key); !r) {
        std::cerr << "nubefact keys: cannot store the key: " << r.error().message() << "\n";
        return exit_usage;
    }
    if (a.json_out) {
        boost::json::object o{{"ruta", k.key.ruta}, {"token", k.token}, {"account", a.account}};
        std::cout << to_json(o) << "\n";
        return exit_ok;
    }
    std::cout << "created a key for account " << a.account << "\n"
              << "  ruta:  " << k.key.ruta << "\n"
              << "  token: " << k.token << "\n"
              << "The token is shown only now (the store keeps its hash). In the integration: RUTA = the URL "
                 "`nubefact serve` prints + /api/v1/"
              << k.key.ruta << ", TOKEN = the token above.\n";
    return exit_ok;
}

int run_list(const keys_args& a) {
    auto s = store_cli::open(a.store_url, "keys");
    if (!s) return exit_usage;
    auto all = s->list_api_keys();
    if (!all) {
        std::cerr << "nubefact keys: cannot read the keys: " << all.error().message() << "\n";
        return exit_usage;
    }
    if (a.json_out) {
        for (const auto& k : *all) {
            boost::json::object o{{"ruta", k.ruta},
                                  {"account", k.account},
                                  {"created_at", store_cli::iso_utc(k.created_at)},
                                  {"revoked", k.revoked_at.has_value()}};
            if (k.revoked_at) o["revoked_at"] = store_cli::iso_utc(*k.revoked_at);
            std::cout << to_json(o) << "\n";
        }
        return exit_ok;
    }
    if (all->empty()) {
        std::cout << "no keys (make one with `nubefact keys create --account NAME`)\n";
        return exit_ok;
    }
    std::printf("%-32s %-16s %-24s %s\n", "RUTA", "ACCOUNT", "CREATED", "REVOKED");
    for (const auto& k : *all)
        std::printf("%-32s %-16s %-24s %s\n", k.ruta.c_str(), k.account.c_str(),
                    store_cli::iso_utc(k.created_at).c_str(),
                    k.revoked_at ? store_cli::iso_utc(*k.revoked_at).c_str() : "-");
    return exit_ok;
}

int run_revoke(const keys_args& a) {
    auto s = store_cli::open(a.store_url, "keys");
    if (!s) return exit_usage;
    auto r = s->revoke_api_key(a.ruta);
    if (!r && r.error() == store_errc::not_found) {
        std::cerr << "nubefact keys: no key with ruta '" << a.ruta << "' (see `nubefact keys list`)\n";
        return exit_failed;
    }
    if (!r) {
        std::cerr << "nubefact keys: " << r.error().message() << "\n";
        return exit_usage;
    }
    std::cout << "revoked key " << a.ruta << ": its requests now get codigo 10\n";
    return exit_ok;
}

const registrar reg{command{
    "keys", "Manage the gateway's API keys (ruta + token per integration, for `nubefact serve`)",
    [](CLI::App& sub) -> std::function<int()> {
        auto a = std::make_shared<keys_args>();
        auto which = std::make_shared<std::string>();
        sub.footer(keys_help);
        sub.require_subcommand(1);

        auto* create =
            sub.add_subcommand("create", "Make a key for an account; prints its ruta and token once");
        create->add_option("--account", a->account, "The store's account it sends through")->required();
        create->add_flag("--json", a->json_out, "Print {\"ruta\",\"token\",\"account\"} as one JSON object");
        create->callback([which] { *which = "create"; });

        auto* list = sub.add_subcommand("list", "List the keys: ruta, account, dates (never a token)");
        list->add_flag("--json", a->json_out, "One JSON object per key");
        list->callback([which] { *which = "list"; });

        auto* revoke = sub.add_subcommand("revoke", "Revoke a key: its requests get codigo 10 from then on");
        revoke->add_option("ruta", a->ruta, "The key's ruta (from `keys list`)")->required();
        revoke->callback([which] { *which = "revoke"; });

        for (auto* c : {create, list, revoke})
            c->add_option("--store", a->store_url, store_cli::store_option_help);

        return [a, which] {
            if (*which == "create") return run_create(*a);
            if (*which == "revoke") return run_revoke(*a);
            return run_list(*a);
        };
    },
    76}};

}  // namespace
}  // namespace nubefact::cli

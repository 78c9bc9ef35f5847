// Configuration loading (TOML, environment, documented order), in-memory journal/audit sink, metrics.
#include <nubefact/client_memory.hpp>
#include <nubefact/config.hpp>
#include <nubefact/metrics.hpp>

#include <gtest/gtest.h>

#include <map>
#include <thread>

using namespace nubefact;
using namespace std::chrono_literals;

namespace {
env_lookup fake_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* n) -> std::optional<std::string> {
        auto it = vars.find(n);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}
}  // namespace

TEST(Config, DefaultsAreSafe) {
    account_config c;
    EXPECT_FALSE(c.danger_disable_tls_verification);
    EXPECT_TRUE(c.validate);
    EXPECT_FALSE(c.audit_bodies);
    EXPECT_GT(c.max_concurrency, 0);
    EXPECT_GT(c.retry.max_attempts, 1);
}

TEST(Config, Durations) {
    EXPECT_EQ(parse_duration("250ms"), 250ms);
    EXPECT_EQ(parse_duration("10s"), 10s);
    EXPECT_EQ(parse_duration("2m"), 120s);
    EXPECT_EQ(parse_duration("1.5s"), 1500ms);
    EXPECT_EQ(parse_duration("300"), 300ms);
    EXPECT_THROW(parse_duration("fast"), config_error);
    EXPECT_THROW(parse_duration("10 parsecs"), config_error);
}

TEST(Config, TomlAccountsWithDefaults) {
    auto all = load_accounts_toml(R"(
[defaults]
rate = 20.0
request_timeout = "30s"

[accounts.main]
ruta = "https://api.nubefact.com/api/v1/abc"
token = "t1"
burst = 5
min_interval = "100ms"
max_concurrency = 4
retry_attempts = 3
retry_base = "50ms"
retry_cap = "2s"
retry_deadline = "1m"
auth = "token"
audit_bodies = true

[accounts.other]
ruta = "http://127.0.0.1:8000/api/v1/x"
token = "t2"
rate = 5
)");
    ASSERT_EQ(all.size(), 2u);
    const auto& m = all[0].name == "main" ? all[0] : all[1];
    const auto& o = all[0].name == "main" ? all[1] : all[0];
    EXPECT_EQ(m.ruta, "https://api.nubefact.com/api/v1/abc");
    EXPECT_EQ(m.rate.requests_per_second, 20.0);
    EXPECT_EQ(m.rate.burst, 5);
    EXPECT_EQ(m.rate.min_interval, 100ms);
    EXPECT_EQ(m.request_timeout, 30s);
    EXPECT_EQ(m.max_concurrency, 4);
    EXPECT_EQ(m.retry.max_attempts, 3);
    EXPECT_EQ(m.retry.base, 50ms);
    EXPECT_EQ(m.retry.cap, 2s);
    EXPECT_EQ(m.retry.total_deadline, 60s);
    EXPECT_EQ(m.auth, auth_scheme::token_token);
    EXPECT_TRUE(m.audit_bodies);
    EXPECT_EQ(o.rate.requests_per_second, 5.0);
    EXPECT_EQ(o.request_timeout, 30s);
}

TEST(Config, TomlErrorsNameTheKey) {
    try {
        load_accounts_toml("[accounts.main]\nrate = \"fast\"\n", "f.toml");
        FAIL();
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("accounts.main.rate"), std::string::npos) << e.what();
    }
    try {
        load_accounts_toml("[accounts.main]\nratee = 5\n", "f.toml");
        FAIL();
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown key"), std::string::npos) << e.what();
    }
    EXPECT_THROW(load_accounts_toml("[accounts.main\n", "f.toml"), config_error);
}

TEST(Config, SingleTopLevelAccount) {
    auto all = load_accounts_toml("ruta = \"http://h/api/v1/a\"\ntoken = \"t\"\n");
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].name, "default");
}

TEST(Config, EnvironmentOverridesFile) {
    account_config c;
    c.ruta = "https://file/api/v1/a";
    c.token = "file-token";
    apply_env(c, fake_env({{"NUBEFACT_RUTA", "http://env/api/v1/b"},
                           {"NUBEFACT_TOKEN", "env-token"},
                           {"NUBEFACT_RATE", "50"},
                           {"NUBEFACT_BURST", "7"},
                           {"NUBEFACT_CONCURRENCY", "64"},
                           {"NUBEFACT_REQUEST_TIMEOUT", "5s"},
                           {"NUBEFACT_RETRY_ATTEMPTS", "2"},
                           {"NUBEFACT_VALIDATE", "false"},
                           {"NUBEFACT_DANGER_DISABLE_TLS_VERIFY", "1"}}));
    EXPECT_EQ(c.ruta, "http://env/api/v1/b");
    EXPECT_EQ(c.token, "env-token");
    EXPECT_EQ(c.rate.requests_per_second, 50.0);
    EXPECT_EQ(c.rate.burst, 7);
    EXPECT_EQ(c.max_concurrency, 64);
    EXPECT_EQ(c.request_timeout, 5s);
    EXPECT_EQ(c.retry.max_attempts, 2);
    EXPECT_FALSE(c.validate);
    EXPECT_TRUE(c.danger_disable_tls_verification);
    EXPECT_THROW(apply_env(c, fake_env({{"NUBEFACT_CONCURRENCY", "many"}})), config_error);
}

TEST(Config, ValidateRejectsUnusable) {
    account_config c;
    EXPECT_THROW(validate_config(c), config_error);
    c.ruta = "ftp://x";
    c.token = "t";
    EXPECT_THROW(validate_config(c), config_error);
    c.ruta = "https://api.nubefact.com/api/v1/x";
    EXPECT_NO_THROW(validate_config(c));
    c.token.clear();
    try {
        validate_config(c);
        FAIL();
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("NUBEFACT_TOKEN"), std::string::npos);
    }
}

// The token goes verbatim into the Authorization header: CR/LF would inject header lines.
TEST(Config, ValidateRejectsControlCharactersInTheToken) {
    account_config c;
    c.ruta = "https://api.nubefact.com/api/v1/x";
    for (std::string bad :
         {std::string("abc\r\nX-Evil: 1"), std::string("ab\0c", 4), std::string("tab\there")}) {
        c.token = bad;
        try {
            validate_config(c);
            FAIL() << "accepted a token with a control character";
        } catch (const config_error& e) {
            EXPECT_EQ(std::string(e.what()).find("Evil"), std::string::npos);  // never echoed
        }
    }
    c.token = "8d19d8c7c1f6402687720eab85cd57a54f5a7a3fa163476bbcf381ee2b5e0c69";
    EXPECT_NO_THROW(validate_config(c));
}

// ---- memory journal / audit sink -------------------------------------------------------------------

TEST(MemoryJournal, RecordIsIdempotentPerKeyAndFamily) {
    memory_journal j;
    intent in{"acc", operation::generar_comprobante, {1, "FFF1", 7}, "hash-a", "{}"};
    j.record(in, [](result<intent_journal::record_result> r) {
        ASSERT_TRUE(r);
        EXPECT_TRUE(r->created);
    });
    auto other = in;
    other.payload_hash = "hash-b";
    j.record(other, [](result<intent_journal::record_result> r) {
        ASSERT_TRUE(r);
        EXPECT_FALSE(r->created);
        EXPECT_EQ(r->record.what.payload_hash, "hash-a");
    });
    // The anulación of the same document is another row.
    intent anul{"acc", operation::generar_anulacion, {1, "FFF1", 7}, "hash-c", "{}"};
    j.record(anul, [](result<intent_journal::record_result> r) { EXPECT_TRUE(r->created); });
    EXPECT_EQ(j.size(), 2u);
    state_update u;
    u.state = doc_state::accepted;
    u.count_attempt = true;
    u.enlace = "https://x/cpe/1";
    j.update("acc", {1, "FFF1", 7}, u, [](result<void> r) { EXPECT_TRUE(r); });
    auto rec = j.get("acc", {1, "FFF1", 7});
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->state, doc_state::accepted);
    EXPECT_EQ(rec->attempts, 1);
    EXPECT_EQ(rec->enlace, "https://x/cpe/1");
    EXPECT_EQ(j.get("acc", {1, "FFF1", 7}, operation::generar_anulacion)->state, doc_state::queued);
    j.fail_writes(true);
    j.record(intent{"acc", operation::generar_comprobante, {1, "FFF1", 8}, "h", "{}"},
             [](result<intent_journal::record_result> r) { EXPECT_EQ(r.error(), client_errc::journal); });
}

TEST(DocState, Names) {
    for (auto s : all_doc_states) {
        EXPECT_EQ(doc_state_from_string(to_string(s)), s);
        EXPECT_FALSE(advice(s).empty());
    }
    EXPECT_EQ(to_string(doc_state::pending_sunat), "pending_sunat");
    EXPECT_FALSE(doc_state_from_string("nope"));
    EXPECT_FALSE(doc_state_from_string("pending"));  // schema 4's name, migrated to queued
}

TEST(MemoryJournal, CorrectedPayloadOnlyWhereNubefactHasNothing) {
    for (auto st : all_doc_states) {
        memory_journal j;
        intent in{"acc", operation::generar_comprobante, {1, "FFF1", 7}, "old", "{}", true};
        j.record(in, [](result<intent_journal::record_result> r) { EXPECT_TRUE(r->created); });
        state_update u;
        u.state = st;
        u.codigo = 22;
        j.update("acc", in.key, u, [](result<void>) {});
        auto fixed = in;
        fixed.payload_hash = "new";
        const bool allowed = st == doc_state::refused || st == doc_state::failed;
        j.record(fixed, [&](result<intent_journal::record_result> r) {
            ASSERT_TRUE(r);
            EXPECT_EQ(r->created, allowed) << to_string(st);
            EXPECT_EQ(r->record.what.payload_hash, allowed ? "new" : "old") << to_string(st);
            if (allowed) {
                EXPECT_EQ(r->record.state, doc_state::sending);
                EXPECT_EQ(r->record.attempts, 2);
                EXPECT_FALSE(r->record.codigo);
            }
        });
    }
}

TEST(MemoryAuditSink, BackPressureNeverDrops) {
    memory_audit_sink sink(2);
    EXPECT_TRUE(sink.try_write(audit_record{}));
    EXPECT_TRUE(sink.try_write(audit_record{}));
    EXPECT_FALSE(sink.try_write(audit_record{}));
    bool woken = false;
    sink.wait_for_space([&] { woken = true; });
    EXPECT_FALSE(woken);
    EXPECT_EQ(sink.waiting_writers(), 1u);
    EXPECT_EQ(sink.drain().size(), 2u);
    EXPECT_TRUE(woken);
    EXPECT_TRUE(sink.try_write(audit_record{}));
    // With room, wait_for_space answers at once.
    bool at_once = false;
    sink.wait_for_space([&] { at_once = true; });
    EXPECT_TRUE(at_once);
}

// ---- metrics ------------------------------------------------------------------------------------------

TEST(Metrics, PrometheusText) {
    client_metrics m;
    m.observe_exchange("main", "generar_comprobante", "ok", 3ms);
    m.observe_exchange("main", "generar_comprobante", "ok", 40ms);
    m.observe_exchange("main", "generar_comprobante", "timeout", 2s);
    m.observe_call("main", "generar_comprobante", "sent", 45ms);
    m.add("main", "retries", 2);
    EXPECT_EQ(m.exchanges("main", "generar_comprobante", "ok"), 2u);
    EXPECT_EQ(m.calls("main", "generar_comprobante", "sent"), 1u);
    EXPECT_EQ(m.counter("main", "retries"), 2u);
    auto text = m.prometheus();
    EXPECT_NE(text.find("# TYPE nubefact_client_exchanges_total counter"), std::string::npos);
    EXPECT_NE(text.find("nubefact_client_exchanges_total{account=\"main\",operation=\"generar_comprobante\","
                        "outcome=\"ok\"} 2"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("nubefact_client_exchange_duration_seconds_bucket{account=\"main\",operation="
                        "\"generar_comprobante\",le=\"0.005\"} 1"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("le=\"+Inf\"} 3"), std::string::npos);
    EXPECT_NE(text.find("nubefact_client_events_total{account=\"main\",event=\"retries\"} 2"),
              std::string::npos);
}

// Every numeric key has a range, the same in TOML, the environment and validate_config; the error
// names the key and the range, never a token.
TEST(Config, ValuesOutsideTheirRangeAreRefusedByName) {
    auto refused = [](const std::map<std::string, std::string>& vars) -> std::string {
        account_config c;
        try {
            apply_env(c, fake_env(vars));
        } catch (const config_error& e) {
            return e.what();
        }
        return "";
    };
    EXPECT_EQ(refused({{"NUBEFACT_RATE", "-1"}}), "NUBEFACT_RATE: must be between 0 and 1e+06, got -1");
    EXPECT_NE(refused({{"NUBEFACT_RATE", "nan"}}), "");
    EXPECT_NE(
        refused({{"NUBEFACT_CONCURRENCY", "0"}}).find("NUBEFACT_CONCURRENCY: must be between 1 and 100000"),
        std::string::npos);
    EXPECT_NE(refused({{"NUBEFACT_RETRY_ATTEMPTS", "0"}}), "");
    EXPECT_NE(refused({{"NUBEFACT_CONNECT_TIMEOUT", "0"}}).find("ms"), std::string::npos);
    EXPECT_NE(refused({{"NUBEFACT_TOTAL_TIMEOUT", "99999999999999999999h"}}).find("too long"),
              std::string::npos);
    EXPECT_NE(refused({{"NUBEFACT_MAX_RESPONSE_BYTES", "10"}}), "");
    const auto with_token = refused({{"NUBEFACT_TOKEN", "s3cr3t-t0ken"}, {"NUBEFACT_BURST", "-4"}});
    EXPECT_NE(with_token, "");
    EXPECT_EQ(with_token.find("s3cr3t"), std::string::npos);

    EXPECT_THROW(load_accounts_toml("[accounts.a]\nburst = -1\n"), config_error);
    EXPECT_THROW(load_accounts_toml("[accounts.a]\nretry_attempts = 0\n"), config_error);
    EXPECT_THROW(load_accounts_toml("[accounts.a]\nrequest_timeout = -5\n"), config_error);
    EXPECT_THROW(load_accounts_toml("[defaults]\nrate = inf\n"), config_error);

    account_config c;
    c.ruta = "https://api.nubefact.com/api/v1/x";
    c.token = "t";
    c.max_response_bytes = 100;
    try {
        validate_config(c);
        ADD_FAILURE() << "validate_config accepted max_response_bytes = 100";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("max_response_bytes: must be between 1024"), std::string::npos)
            << e.what();
    }
}

// Each key has one variable, derived from its TOML name where it can be; the older spelling of
// the TLS switch is still read.
TEST(Config, EveryKeyHasItsVariable) {
    account_config c;
    apply_env(c, fake_env({{"NUBEFACT_MAX_RESPONSE_BYTES", "65536"},
                           {"NUBEFACT_DANGER_DISABLE_TLS_VERIFICATION", "true"},
                           {"NUBEFACT_IDLE_TIMEOUT", "2s"}}));
    EXPECT_EQ(c.max_response_bytes, 65536u);
    EXPECT_TRUE(c.danger_disable_tls_verification);
    EXPECT_EQ(c.idle_timeout, 2s);
    account_config old;
    apply_env(old, fake_env({{"NUBEFACT_DANGER_DISABLE_TLS_VERIFY", "1"}}));
    EXPECT_TRUE(old.danger_disable_tls_verification);
}

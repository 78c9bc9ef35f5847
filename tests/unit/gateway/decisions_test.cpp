// The gateway's sans-io decisions: keys, routes, read limits, admission in Nubefact's order, the
// outcome -> Nubefact answer table, metrics text.
#include <nubefact/gateway.hpp>
#include <nubefact/json.hpp>

#include <gtest/gtest.h>
#include <boost/beast/http/error.hpp>
#include <boost/json.hpp>

#include <set>

namespace {

using namespace nubefact;
using namespace nubefact::gateway;
namespace bj = boost::json;

bj::object body_of(const answer& a) {
    return bj::parse(a.body).as_object();
}
int codigo_of(const answer& a) {
    return static_cast<int>(body_of(a).at("codigo").as_int64());
}
std::string errors_of(const answer& a) {
    return std::string(body_of(a).at("errors").as_string());
}

// ---- keys ----

TEST(gateway_keys, fresh_keys_have_the_documented_shape_and_differ) {
    std::set<std::string> rutas, tokens;
    for (int i = 0; i < 50; ++i) {
        auto k = make_api_key("acme");
        EXPECT_EQ(k.key.account, "acme");
        ASSERT_EQ(k.key.ruta.size(), 32u);
        for (char c : k.key.ruta) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << k.key.ruta;
        ASSERT_EQ(k.token.size(), 9u + 43u);
        EXPECT_TRUE(k.token.starts_with("nfk_live_"));
        for (char c : k.token.substr(9)) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << k.token;
        EXPECT_EQ(k.key.token_hash, payload_hash(k.token));
        EXPECT_EQ(k.key.token_hash.find(k.token), std::string::npos);
        rutas.insert(k.key.ruta);
        tokens.insert(k.token);
    }
    EXPECT_EQ(rutas.size(), 50u);
    EXPECT_EQ(tokens.size(), 50u);
}

TEST(gateway_keys, token_matches_only_its_own_token) {
    auto k = make_api_key("acme");
    EXPECT_TRUE(token_matches(k.key, k.token));
    EXPECT_FALSE(token_matches(k.key, k.token + "x"));
    EXPECT_FALSE(token_matches(k.key, ""));
    EXPECT_FALSE(token_matches(k.key, k.key.token_hash));  // the hash is not a token
    EXPECT_FALSE(token_matches(make_api_key("acme").key, k.token));
}

// ---- routes ----

TEST(gateway_routes, table) {
    auto r = match_route("POST", "/api/v1/abc123");
    EXPECT_EQ(r.kind, route_kind::dropin);
    EXPECT_EQ(r.ruta, "abc123");
    EXPECT_TRUE(r.method_allowed);
    EXPECT_EQ(r.label, "/api/v1/{ruta}");
    EXPECT_EQ(match_route("POST", "/api/v1/abc123/").ruta, "abc123");
    EXPECT_EQ(match_route("POST", "/api/v1/abc123?x=1").ruta, "abc123");
    EXPECT_FALSE(match_route("GET", "/api/v1/abc123").method_allowed);
    EXPECT_EQ(match_route("GET", "/api/v1/abc123").kind, route_kind::dropin);  // answered codigo 20 by admit
    EXPECT_EQ(match_route("POST", "/api/v1/").kind, route_kind::unknown);
    EXPECT_EQ(match_route("POST", "/api/v1/a/b").kind, route_kind::unknown);
    EXPECT_EQ(match_route("GET", "/livez").kind, route_kind::livez);
    EXPECT_EQ(match_route("HEAD", "/readyz").kind, route_kind::readyz);
    EXPECT_TRUE(match_route("HEAD", "/readyz").method_allowed);
    EXPECT_EQ(match_route("GET", "/metrics").label, "/metrics");
    EXPECT_FALSE(match_route("POST", "/metrics").method_allowed);
    EXPECT_EQ(match_route("GET", "/").kind, route_kind::unknown);
    EXPECT_EQ(match_route("GET", "/").label, "other");
    EXPECT_EQ(match_route("GET", "/livez/x").kind, route_kind::unknown);
}

TEST(gateway_routes, native_api) {
    auto r = match_route("POST", "/v1/accounts/acme/documents");
    EXPECT_EQ(r.kind, route_kind::documents);
    EXPECT_EQ(r.account, "acme");
    EXPECT_TRUE(r.method_allowed);
    EXPECT_EQ(r.label, "/v1/accounts/{account}/documents");
    EXPECT_TRUE(match_route("GET", "/v1/accounts/acme/documents?state=accepted").method_allowed);
    EXPECT_FALSE(match_route("PUT", "/v1/accounts/acme/documents").method_allowed);
    auto d = match_route("GET", "/v1/accounts/acme/documents/1-F001-7/");
    EXPECT_EQ(d.kind, route_kind::document);
    EXPECT_EQ(d.id, "1-F001-7");
    EXPECT_EQ(d.account, "acme");
    EXPECT_FALSE(match_route("POST", "/v1/accounts/acme/documents/1-F001-7").method_allowed);
    EXPECT_EQ(match_route("GET", "/v1/accounts//documents").kind, route_kind::unknown);
    EXPECT_EQ(match_route("GET", "/v1/accounts/acme").kind, route_kind::unknown);
    EXPECT_EQ(match_route("GET", "/v1/accounts/acme/documents/1-F001-7/timeline/x").kind,
              route_kind::unknown);
    EXPECT_EQ(match_route("GET", "/v1/accounts/acme/documentsX").kind, route_kind::unknown);
    auto t = match_route("GET", "/v1/accounts/acme/documents/1-F001-7/timeline");
    EXPECT_EQ(t.kind, route_kind::timeline);
    EXPECT_EQ(t.id, "1-F001-7");
    EXPECT_EQ(t.label, "/v1/accounts/{account}/documents/{id}/timeline");
    EXPECT_EQ(match_route("GET", "/v1/accounts/acme/documents//timeline").kind, route_kind::unknown);
    EXPECT_EQ(match_route("GET", "/v1/accounts/acme/summary").kind, route_kind::summary);
    EXPECT_EQ(match_route("GET", "/v1/accounts/acme/summary").account, "acme");
    auto e = match_route("GET", "/v1/accounts/acme/events");
    EXPECT_EQ(e.kind, route_kind::events);
    EXPECT_TRUE(e.method_allowed);
    EXPECT_FALSE(match_route("HEAD", "/v1/accounts/acme/events").method_allowed);
    EXPECT_EQ(match_route("GET", "/dashboard").kind, route_kind::dashboard);
    EXPECT_EQ(match_route("GET", "/dashboard/").id, "");
    EXPECT_EQ(match_route("GET", "/dashboard/app.js?v=1").id, "app.js");
    EXPECT_EQ(match_route("GET", "/dashboard/x/y").kind, route_kind::unknown);
    EXPECT_FALSE(match_route("POST", "/dashboard/").method_allowed);
}

TEST(gateway_native, document_ids_round_trip_and_refuse_the_rest) {
    document_key k{1, "F001", 123};
    EXPECT_EQ(document_id(k), "1-F001-123");
    EXPECT_EQ(parse_document_id("1-F001-123"), std::optional<document_key>(k));
    EXPECT_EQ(document_path("acme", k), "/v1/accounts/acme/documents/1-F001-123");
    for (const char* bad : {"", "F001-1", "1-F001-", "0-F001-1", "1--1", "1-F0011-1", "1-F0 1-1", "1-F001-01",
                            "1-F001-1-2", "x-F001-1", "1-F001-99999999999999999999"})
        EXPECT_FALSE(parse_document_id(bad)) << bad;
}

TEST(gateway_native, problem_details_carry_the_findings) {
    finding f;
    f.level = severity::error;
    f.path = "items[0].igv";
    f.code = "mismatch";
    f.message = "igv does not match";
    f.expected = "18.00";
    f.actual = "19.00";
    finding w = f;
    w.level = severity::warning;
    auto a = problem(422, "Unprocessable Content", "see errors", {f, w});
    EXPECT_EQ(a.status, 422);
    EXPECT_EQ(a.content_type, "application/problem+json");
    auto o = body_of(a);
    EXPECT_EQ(o.at("type"), "about:blank");
    EXPECT_EQ(o.at("status").to_number<int>(), 422);
    ASSERT_EQ(o.at("errors").as_array().size(), 1u);  // errors only, not warnings
    EXPECT_EQ(o.at("errors").as_array()[0].at("expected"), "18.00");
    EXPECT_FALSE(body_of(problem(404, "Not Found")).contains("errors"));
}

TEST(gateway_native, bearer_prefer_and_idempotency_headers) {
    EXPECT_EQ(bearer_token("Bearer abc"), std::optional<std::string_view>("abc"));
    EXPECT_EQ(bearer_token("  bearer   abc  "), std::optional<std::string_view>("abc"));
    EXPECT_FALSE(bearer_token("Token token=\"abc\""));
    EXPECT_FALSE(bearer_token("Bearer"));
    EXPECT_FALSE(bearer_token("Bearer a b"));
    EXPECT_FALSE(bearer_token("abc"));
    using std::chrono::seconds;
    EXPECT_EQ(prefer_wait("wait=5", seconds(25)), seconds(5));
    EXPECT_EQ(prefer_wait("respond-async, wait=100", seconds(25)), seconds(25));
    EXPECT_EQ(prefer_wait("return=minimal; x=y, Wait = \"3\"", seconds(25)), seconds(3));
    EXPECT_FALSE(prefer_wait("", seconds(25)));
    EXPECT_FALSE(prefer_wait("respond-async", seconds(25)));
    EXPECT_FALSE(prefer_wait("wait=-1", seconds(25)));
    EXPECT_FALSE(prefer_wait("wait=soon", seconds(25)));
    EXPECT_TRUE(valid_idempotency_key("3f1c-order-1001"));
    EXPECT_FALSE(valid_idempotency_key(""));
    EXPECT_FALSE(valid_idempotency_key("has space"));
    EXPECT_FALSE(valid_idempotency_key(std::string(256, 'k')));
    EXPECT_TRUE(valid_idempotency_key(std::string(255, 'k')));
    EXPECT_EQ(request_fingerprint("POST", "/v1/x", "{}"), request_fingerprint("POST", "/v1/x", "{}"));
    EXPECT_NE(request_fingerprint("POST", "/v1/x", "{}"), request_fingerprint("POST", "/v1/y", "{}"));
    EXPECT_NE(request_fingerprint("POST", "/v1/x", "{}"), request_fingerprint("POST", "/v1/x", "{ }"));
}

// ---- limits ----

TEST(gateway_limits, parser_errors_map_to_413_431_400) {
    namespace http = boost::beast::http;
    EXPECT_EQ(status_for_read_error(http::error::body_limit), 413);
    EXPECT_EQ(status_for_read_error(http::error::header_limit), 431);
    EXPECT_EQ(status_for_read_error(http::error::bad_method), 400);
    EXPECT_EQ(status_for_read_error(http::error::bad_content_length), 400);
}

// ---- admission ----

struct admission : ::testing::Test {
    new_key k = make_api_key("acme");
    std::string auth = "Token token=\"" + k.token + "\"";
    request_head ok() const {
        request_head h;
        h.method = "POST";
        h.authorization = std::string_view(auth);
        h.content_type = "application/json";
        h.body_size = 10;
        return h;
    }
};

TEST_F(admission, a_good_request_is_admitted_with_every_authorization_form) {
    EXPECT_FALSE(admit(ok(), k.key));
    for (std::string form : {k.token, "Token token=\"" + k.token + "\"", "Token token=" + k.token,
                             "Token " + k.token, "Bearer " + k.token}) {
        auto h = ok();
        h.authorization = std::string_view(form);
        EXPECT_FALSE(admit(h, k.key)) << form;
    }
}

TEST_F(admission, refusals_in_nubefacts_order) {
    // Unknown ruta first, whatever else is wrong.
    auto h = ok();
    h.authorization.reset();
    h.method = "GET";
    auto a = admit(h, std::nullopt);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, 401);
    EXPECT_EQ(codigo_of(*a), 11);
    // Then the method.
    a = admit(h, k.key);
    ASSERT_TRUE(a);
    EXPECT_EQ(codigo_of(*a), 20);
    EXPECT_EQ(a->status, 400);
    // Then the token: missing, wrong, another scheme.
    h = ok();
    h.authorization.reset();
    a = admit(h, k.key);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, 401);
    EXPECT_EQ(codigo_of(*a), 10);
    EXPECT_EQ(errors_of(*a), api_message(api_errc::token_invalid));
    for (std::string bad : {std::string("wrong"), "Basic " + k.token, k.token.substr(1), std::string()}) {
        h.authorization = std::string_view(bad);
        a = admit(h, k.key);
        ASSERT_TRUE(a) << bad;
        EXPECT_EQ(codigo_of(*a), 10) << bad;
    }
    // A revoked key: the right token is a deleted one.
    auto revoked = k.key;
    revoked.revoked_at = std::chrono::system_clock::now();
    a = admit(ok(), revoked);
    ASSERT_TRUE(a);
    EXPECT_EQ(codigo_of(*a), 10);
    // Then the content type, then the body.
    h = ok();
    h.content_type = "text/plain";
    a = admit(h, k.key);
    ASSERT_TRUE(a);
    EXPECT_EQ(codigo_of(*a), 12);
    h.content_type.reset();
    EXPECT_EQ(codigo_of(*admit(h, k.key)), 12);
    h = ok();
    h.body_size = 0;
    a = admit(h, k.key);
    ASSERT_TRUE(a);
    EXPECT_EQ(codigo_of(*a), 20);
}

TEST_F(admission, no_answer_carries_the_token) {
    auto h = ok();
    h.content_type = "text/plain";
    auto a = admit(h, k.key);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->body.find(k.token), std::string::npos);
    EXPECT_EQ(a->body.find(k.key.ruta), std::string::npos);
}

// ---- answers ----

TEST(gateway_answers, error_answer_uses_nubefacts_text_and_status) {
    auto a = error_answer(api_errc::already_exists);
    EXPECT_EQ(a.status, 400);
    EXPECT_EQ(codigo_of(a), 23);
    EXPECT_EQ(errors_of(a), api_message(api_errc::already_exists));
    a = error_answer(api_errc::bad_format, "items: falta el campo");
    EXPECT_EQ(errors_of(a), std::string(api_message(api_errc::bad_format)) + ": items: falta el campo");
    a = transient_answer("espere");
    EXPECT_EQ(a.status, 500);
    EXPECT_EQ(codigo_of(a), 40);
    EXPECT_TRUE(a.retry_later);
}

TEST(gateway_answers, invalid_names_paths_and_expected_values) {
    std::vector<finding> fs;
    fs.push_back({"items[0].igv", "mismatch", severity::error, "igv is wrong", "18.00", "17.00"});
    fs.push_back({"serie", "required", severity::error, "missing", "", ""});
    fs.push_back({"x", "unknown_field", severity::warning, "ignored", "", ""});
    auto a = invalid_answer(fs);
    EXPECT_EQ(a.status, 400);
    EXPECT_EQ(codigo_of(a), 20);
    EXPECT_EQ(errors_of(a),
              std::string(api_message(api_errc::bad_format)) +
                  ": items[0].igv: igv is wrong (se esperaba 18.00, llegó 17.00); serie: missing");
    for (int i = 0; i < 6; ++i)
        fs.push_back({"p" + std::to_string(i), "required", severity::error, "m", "", ""});
    EXPECT_NE(errors_of(invalid_answer(fs)).find("(+3 más)"), std::string::npos);
}

engine::outcome with_state(doc_state s) {
    engine::outcome o;
    o.state = s;
    return o;
}

TEST(gateway_answers, outcome_table) {
    // Nubefact's body, whatever SUNAT said: 200 with that body.
    for (auto s : {doc_state::accepted, doc_state::rejected, doc_state::pending_sunat}) {
        auto o = with_state(s);
        o.body = response{};
        o.body->serie = "F001";
        o.body->numero = 7;
        o.body->aceptada_por_sunat = s == doc_state::accepted;
        auto a = answer_for(o);
        EXPECT_EQ(a.status, 200);
        EXPECT_EQ(a.body, json::write(*o.body));
    }
    // Local findings.
    engine::outcome inv;
    inv.state = engine::line_outcome::invalid;
    inv.findings.push_back({"total", "mismatch", severity::error, "bad total", "118.00", "100.00"});
    EXPECT_EQ(codigo_of(answer_for(inv)), 20);
    // The number holds other content.
    engine::outcome changed;
    changed.state = engine::line_outcome::not_sent;
    changed.code = make_error_code(client_errc::payload_changed);
    EXPECT_EQ(codigo_of(answer_for(changed)), 23);
    EXPECT_EQ(errors_of(answer_for(changed)), api_message(api_errc::already_exists));
    auto conflict = with_state(doc_state::conflict);
    conflict.code = make_error_code(client_errc::conflict);
    conflict.codigo = 23;
    EXPECT_EQ(codigo_of(answer_for(conflict)), 23);
    // Nubefact refused it: its codigo, its text, its status.
    for (int c : {20, 21, 22, 24}) {
        auto o = with_state(doc_state::refused);
        o.codigo = c;
        o.code = make_error_code(static_cast<api_errc>(c));
        o.nubefact_errors = "texto de Nubefact " + std::to_string(c);
        auto a = answer_for(o);
        EXPECT_EQ(a.status, 400) << c;
        EXPECT_EQ(codigo_of(a), c);
        EXPECT_EQ(errors_of(a), o.nubefact_errors);
    }
    // The account suspended: passed on. The gateway's own RUTA/token refused: transient, with a hint.
    auto susp = with_state(doc_state::refused);
    susp.codigo = 50;
    susp.code = make_error_code(api_errc::account_suspended);
    EXPECT_EQ(answer_for(susp).status, 403);
    EXPECT_EQ(codigo_of(answer_for(susp)), 50);
    EXPECT_EQ(errors_of(answer_for(susp)), api_message(api_errc::account_suspended));
    for (int c : {10, 11}) {
        auto o = with_state(doc_state::refused);
        o.codigo = c;
        o.code = make_error_code(static_cast<api_errc>(c));
        auto a = answer_for(o);
        EXPECT_EQ(a.status, 500) << c;
        EXPECT_EQ(codigo_of(a), 40);
    }
    // Anything uncertain: transient (the client retries; the repeat is reconciled first).
    for (auto s : {doc_state::unknown, doc_state::failed, doc_state::sending}) {
        auto o = with_state(s);
        o.code = make_error_code(client_errc::timeout);
        auto a = answer_for(o);
        EXPECT_EQ(a.status, 500);
        EXPECT_EQ(codigo_of(a), 40);
        EXPECT_TRUE(a.retry_later);
    }
    auto unknown23 = with_state(doc_state::unknown);
    unknown23.codigo = 23;
    unknown23.code = make_error_code(client_errc::retries_exhausted);
    EXPECT_EQ(codigo_of(answer_for(unknown23)), 40);
    for (auto c : {client_errc::held_elsewhere, client_errc::account_stopped, client_errc::cancelled}) {
        engine::outcome o;
        o.state = engine::line_outcome::not_sent;
        o.code = make_error_code(c);
        EXPECT_EQ(codigo_of(answer_for(o)), 40);
    }
}

// ---- metrics ----

TEST(gateway_metrics, prometheus_text) {
    metrics m;
    m.observe("/api/v1/{ruta}", 200, std::chrono::microseconds(1500));
    m.observe("/api/v1/{ruta}", 200, std::chrono::microseconds(20'000'000));
    m.observe("/livez", 200, std::chrono::microseconds(10));
    EXPECT_EQ(m.requests("/api/v1/{ruta}", 200), 2u);
    EXPECT_EQ(m.requests("/api/v1/{ruta}", 500), 0u);
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
    std::vector<store::store::state_count> docs{
        {"acme \"x\"", doc_state::accepted, 3, now - std::chrono::seconds(90)}};
    auto t = m.prometheus(docs, 1, 2, true, now);
    EXPECT_NE(
        t.find("nubefact_gateway_documents_oldest_age_seconds{account=\"acme \\\"x\\\"\",state=\"accepted\"} "
               "90.000\n"),
        std::string::npos)
        << t;
    EXPECT_NE(t.find("# TYPE nubefact_gateway_http_requests_total counter\n"), std::string::npos);
    EXPECT_NE(t.find("nubefact_gateway_http_requests_total{route=\"/api/v1/{ruta}\",code=\"200\"} 2\n"),
              std::string::npos);
    EXPECT_NE(t.find("nubefact_gateway_http_request_duration_seconds_bucket{route=\"/api/v1/"
                     "{ruta}\",le=\"0.0025\"} 1\n"),
              std::string::npos);
    EXPECT_NE(
        t.find(
            "nubefact_gateway_http_request_duration_seconds_bucket{route=\"/api/v1/{ruta}\",le=\"10\"} 1\n"),
        std::string::npos);
    EXPECT_NE(t.find("nubefact_gateway_http_request_duration_seconds_bucket{route=\"/api/v1/"
                     "{ruta}\",le=\"+Inf\"} 2\n"),
              std::string::npos);
    EXPECT_NE(t.find("nubefact_gateway_http_request_duration_seconds_count{route=\"/api/v1/{ruta}\"} 2\n"),
              std::string::npos);
    EXPECT_NE(t.find("nubefact_gateway_requests_in_progress 1\n"), std::string::npos);
    EXPECT_NE(t.find("nubefact_gateway_deliveries_in_progress 2\n"), std::string::npos);
    EXPECT_NE(t.find("nubefact_gateway_draining 1\n"), std::string::npos);
    EXPECT_NE(t.find("nubefact_gateway_documents{account=\"acme \\\"x\\\"\",state=\"accepted\"} 3\n"),
              std::string::npos);
    // Every line is a comment or `name{labels} value`.
    std::size_t start = 0;
    while (start < t.size()) {
        auto end = t.find('\n', start);
        ASSERT_NE(end, std::string::npos);
        auto line = t.substr(start, end - start);
        EXPECT_TRUE(line.starts_with("# ") || line.starts_with("nubefact_gateway_")) << line;
        start = end + 1;
    }
}

}  // namespace

// The gateway's sans-io decisions (include/nubefact/gateway.hpp): keys, routes, limits, admission,
// answers and metrics. No I/O here.
#include <nubefact/client.hpp>
#include <nubefact/gateway.hpp>
#include <nubefact/json.hpp>
#include <nubefact/wire.hpp>

#include <fmt/format.h>
#include <openssl/rand.h>
#include <boost/beast/http/error.hpp>

#include <stdexcept>

namespace nubefact::gateway {

// ---- API keys ------------------------------------------------------------------------------------

namespace {

void random_bytes(unsigned char* p, std::size_t n) {
    if (RAND_bytes(p, static_cast<int>(n)) != 1)
        throw std::runtime_error("no random bytes (RAND_bytes failed)");
}

}  // namespace

new_key make_api_key(std::string account) {
    static constexpr char hex[] = "0123456789abcdef";
    static constexpr char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    new_key k;
    unsigned char r[16];
    random_bytes(r, sizeof r);
    for (unsigned char b : r) {
        k.key.ruta.push_back(hex[b >> 4]);
        k.key.ruta.push_back(hex[b & 15]);
    }
    // 43 base62 characters (> 256 bits); bytes >= 248 are drawn again so every character is uniform.
    k.token = "nfk_live_";
    while (k.token.size() < 9 + 43) {
        unsigned char buf[64];
        random_bytes(buf, sizeof buf);
        for (unsigned char b : buf)
            if (b < 248 && k.token.size() < 9 + 43) k.token.push_back(base62[b % 62]);
    }
    k.key.account = std::move(account);
    k.key.token_hash = payload_hash(k.token);
    return k;
}

bool token_matches(const store::api_key& key, std::string_view token) {
    return wire::equal_ct(payload_hash(token), key.token_hash);
}

// ---- routes ----------------------------------------------------------------------------------------

route match_route(std::string_view method, std::string_view target) noexcept {
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    const bool get = method == "GET" || method == "HEAD";
    route r;
    constexpr std::string_view prefix = "/api/v1/";
    if (target.starts_with(prefix)) {
        auto ruta = target.substr(prefix.size());
        if (!ruta.empty() && ruta.back() == '/') ruta.remove_suffix(1);
        if (!ruta.empty() && ruta.find('/') == std::string_view::npos) {
            r.kind = route_kind::dropin;
            r.ruta = ruta;
            r.method_allowed = method == "POST";
            r.label = "/api/v1/{ruta}";
            return r;
        }
    }
    constexpr std::string_view accounts = "/v1/accounts/";
    if (target.starts_with(accounts)) {
        auto rest = target.substr(accounts.size());
        if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
        const auto slash = rest.find('/');
        auto account = rest.substr(0, slash);
        auto tail = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
        constexpr std::string_view docs = "/documents", timeline = "/timeline";
        if (!account.empty() && tail.starts_with(docs)) {
            auto id = tail.substr(docs.size());
            if (id.empty()) {
                r.kind = route_kind::documents;
                r.method_allowed = method == "POST" || get;
                r.label = "/v1/accounts/{account}/documents";
            } else if (id.size() > 1) {
                id.remove_prefix(1);
                const auto more = id.find('/');
                if (more == std::string_view::npos) {
                    r.kind = route_kind::document;
                    r.label = "/v1/accounts/{account}/documents/{id}";
                } else if (id.substr(more) == timeline && more > 0) {
                    r.kind = route_kind::timeline;
                    r.label = "/v1/accounts/{account}/documents/{id}/timeline";
                } else if (id.substr(more) == "/refresh" && more > 0) {
                    r.kind = route_kind::refresh;
                    r.label = "/v1/accounts/{account}/documents/{id}/refresh";
                }
                r.id = id.substr(0, more);
                r.method_allowed = r.kind == route_kind::refresh ? method == "POST" : get;
            }
        } else if (!account.empty() && tail == "/summary") {
            r = {route_kind::summary, {}, {}, {}, get, "/v1/accounts/{account}/summary"};
        } else if (!account.empty() && tail == "/events") {
            r = {route_kind::events, {}, {}, {}, method == "GET", "/v1/accounts/{account}/events"};
        }
        if (r.kind != route_kind::unknown) {
            r.account = account;
            return r;
        }
        r = route{};
    }
    if (target == "/dashboard") target = "/dashboard/";
    constexpr std::string_view dashboard = "/dashboard/";
    if (target.starts_with(dashboard) && target.find('/', dashboard.size()) == std::string_view::npos) {
        r = {route_kind::dashboard, {}, {}, target.substr(dashboard.size()), get, "/dashboard/"};
        return r;
    }
    if (target == "/livez") r = {route_kind::livez, {}, {}, {}, get, "/livez"};
    if (target == "/readyz") r = {route_kind::readyz, {}, {}, {}, get, "/readyz"};
    if (target == "/metrics") r = {route_kind::metrics, {}, {}, {}, get, "/metrics"};
    if (r.kind == route_kind::unknown) r.label = "other";
    return r;
}

// ---- limits ----------------------------------------------------------------------------------------

int status_for_read_error(const error_code& ec) noexcept {
    namespace http = boost::beast::http;
    if (ec == http::error::body_limit) return 413;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) return 431;
    return 400;
}

// ---- answers -----------------------------------------------------------------------------------------

answer error_answer(api_errc codigo, std::string_view detail) {
    error_body e;
    e.codigo = static_cast<int>(codigo);
    e.errors = std::string(api_message(codigo));
    if (!detail.empty()) e.errors += (e.errors.empty() ? "" : ": ") + std::string(detail);
    return {api_http_status(codigo), json::write(e), false};
}

answer transient_answer(std::string_view detail) {
    auto a = error_answer(api_errc::internal, detail);
    a.retry_later = true;
    return a;
}

answer invalid_answer(const std::vector<finding>& findings) {
    std::string text;
    std::size_t shown = 0, errors = 0;
    for (const auto& f : findings) {
        if (f.level != severity::error) continue;
        ++errors;
        if (shown == 5) continue;
        ++shown;
        if (!text.empty()) text += "; ";
        if (!f.path.empty()) text += f.path + ": ";
        text += f.message.empty() ? f.code : f.message;
        if (!f.expected.empty())
            text += " (se esperaba " + f.expected + (f.actual.empty() ? "" : ", llegó " + f.actual) + ")";
    }
    if (errors > shown) text += fmt::format(" (+{} más)", errors - shown);
    return error_answer(api_errc::bad_format, text);
}

answer answer_for(const engine::outcome& o) {
    if (o.is(engine::line_outcome::invalid)) return invalid_answer(o.findings);
    if (o.code == client_errc::payload_changed || o.code == client_errc::conflict ||
        o.is(doc_state::conflict))
        return error_answer(api_errc::already_exists);
    if (o.body && !o.code) return {200, json::write(*o.body), false};
    if (o.codigo && !o.is(doc_state::unknown)) {
        const int c = *o.codigo;
        if (c == static_cast<int>(api_errc::token_invalid) || c == static_cast<int>(api_errc::ruta_invalid))
            return transient_answer(
                "Nubefact rechazó la cuenta del gateway (RUTA o token); el administrador debe revisarla");
        if (c == static_cast<int>(api_errc::internal))
            return transient_answer("Nubefact no respondió; reintente la misma solicitud");
        error_body e;
        e.codigo = c;
        e.errors = o.nubefact_errors.empty() && is_known_api_codigo(c)
                       ? std::string(api_message(static_cast<api_errc>(c)))
                       : o.nubefact_errors;
        const int status = is_known_api_codigo(c) ? api_http_status(static_cast<api_errc>(c)) : 400;
        return {status, json::write(e), false};
    }
    if (o.code == client_errc::account_stopped)
        return transient_answer(
            "Nubefact rechazó la cuenta del gateway (RUTA o token); el administrador debe revisarla");
    return transient_answer(
        "el documento quedó en cola y la respuesta de Nubefact aún no llega; reintente la misma solicitud");
}

// ---- admission -----------------------------------------------------------------------------------------

std::optional<answer> admit(const request_head& req, const std::optional<store::api_key>& key) {
    if (!key) return error_answer(api_errc::ruta_invalid);
    if (req.method != "POST") return error_answer(api_errc::bad_format, "use el método POST");
    auto auth = req.authorization ? wire::parse_authorization(*req.authorization) : std::nullopt;
    // A revoked key is a deleted token to its client (codigo 10); the hash is compared either way.
    const bool matches = auth && token_matches(*key, auth->token);
    if (!matches || key->revoked_at) return error_answer(api_errc::token_invalid);
    if (!req.content_type || !wire::json_content_type(*req.content_type))
        return error_answer(api_errc::content_type);
    if (req.body_size == 0) return error_answer(api_errc::bad_format, "el cuerpo está vacío");
    return std::nullopt;
}

// ---- metrics ----------------------------------------------------------------------------------------------

void metrics::observe(std::string_view label, int status, std::chrono::microseconds latency) {
    std::lock_guard lk(mu_);
    auto it = requests_.find(std::make_pair(std::string(label), status));
    if (it == requests_.end()) it = requests_.emplace(std::make_pair(std::string(label), status), 0).first;
    ++it->second;
    auto h = latency_.find(label);
    if (h == latency_.end()) h = latency_.emplace(std::string(label), histogram{}).first;
    const double secs = static_cast<double>(latency.count()) / 1e6;
    std::size_t i = 0;
    while (i < bucket_bounds.size() && secs > bucket_bounds[i]) ++i;
    ++h->second.buckets[i];
    ++h->second.count;
    h->second.sum += secs;
}

std::uint64_t metrics::requests(std::string_view label, int status) const {
    std::lock_guard lk(mu_);
    auto it = requests_.find(std::make_pair(std::string(label), status));
    return it == requests_.end() ? 0 : it->second;
}

namespace {
std::string label_value(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out;
}
}  // namespace

std::string metrics::prometheus(const std::vector<store::store::state_count>& documents,
                                std::int64_t in_progress, std::int64_t deliveries, bool draining,
                                std::chrono::system_clock::time_point now) const {
    if (now == std::chrono::system_clock::time_point{}) now = std::chrono::system_clock::now();
    std::string o;
    std::lock_guard lk(mu_);
    o += "# HELP nubefact_gateway_http_requests_total HTTP requests answered, by route and status.\n";
    o += "# TYPE nubefact_gateway_http_requests_total counter\n";
    for (const auto& [k, n] : requests_)
        o += fmt::format("nubefact_gateway_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n",
                         label_value(k.first), k.second, n);
    o += "# HELP nubefact_gateway_http_request_duration_seconds Time from a request's last byte to its "
         "answer.\n";
    o += "# TYPE nubefact_gateway_http_request_duration_seconds histogram\n";
    for (const auto& [label, h] : latency_) {
        std::uint64_t cum = 0;
        const auto l = label_value(label);
        for (std::size_t i = 0; i < bucket_bounds.size(); ++i) {
            cum += h.buckets[i];
            o += fmt::format(
                "nubefact_gateway_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", l,
                bucket_bounds[i], cum);
        }
        cum += h.buckets.back();
        o += fmt::format(
            "nubefact_gateway_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", l, cum);
        o += fmt::format("nubefact_gateway_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", l, h.sum);
        o += fmt::format("nubefact_gateway_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", l,
                         h.count);
    }
    o += "# HELP nubefact_gateway_requests_in_progress Requests read and not yet answered.\n";
    o += "# TYPE nubefact_gateway_requests_in_progress gauge\n";
    o += fmt::format("nubefact_gateway_requests_in_progress {}\n", in_progress);
    o += "# HELP nubefact_gateway_deliveries_in_progress Documents the engine is delivering now.\n";
    o += "# TYPE nubefact_gateway_deliveries_in_progress gauge\n";
    o += fmt::format("nubefact_gateway_deliveries_in_progress {}\n", deliveries);
    o += "# HELP nubefact_gateway_draining 1 while the gateway drains (SIGTERM): /readyz answers 503.\n";
    o += "# TYPE nubefact_gateway_draining gauge\n";
    o += fmt::format("nubefact_gateway_draining {}\n", draining ? 1 : 0);
    o += "# HELP nubefact_gateway_documents Documents in the store, by account and state.\n";
    o += "# TYPE nubefact_gateway_documents gauge\n";
    for (const auto& d : documents)
        o += fmt::format("nubefact_gateway_documents{{account=\"{}\",state=\"{}\"}} {}\n",
                         label_value(d.account), to_string(d.state), d.documents);
    o += "# HELP nubefact_gateway_documents_oldest_age_seconds Seconds since the least recently changed "
         "document in the state changed, by account and state.\n";
    o += "# TYPE nubefact_gateway_documents_oldest_age_seconds gauge\n";
    for (const auto& d : documents) {
        const auto age = std::chrono::duration<double>(now - d.oldest).count();
        o += fmt::format(
            "nubefact_gateway_documents_oldest_age_seconds{{account=\"{}\",state=\"{}\"}} {:.3f}\n",
            label_value(d.account), to_string(d.state), age > 0 ? age : 0.0);
    }
    return o;
}

}  // namespace nubefact::gateway

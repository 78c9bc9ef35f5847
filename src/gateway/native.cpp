// The native API's sans-io decisions (include/nubefact/gateway.hpp, "native API"): ids, the
// document resource, problem details, Bearer tokens, Prefer: wait, idempotency keys. No I/O here.
#include <nubefact/client.hpp>
#include <nubefact/clock.hpp>
#include <nubefact/gateway.hpp>
#include <nubefact/wire.hpp>

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <charconv>

namespace nubefact::gateway {

namespace {

bool serie_ok(std::string_view s) noexcept {
    if (s.empty() || s.size() > 4) return false;
    for (char c : s)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    return true;
}

template <class Int>
std::optional<Int> positive(std::string_view s) noexcept {
    Int v = 0;
    if (s.empty() || s[0] == '0') return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
    return v;
}

std::string to_text(const boost::json::value& v) {
    return boost::json::serialize(v);
}

using wire::iequals;
using wire::trim;

}  // namespace

std::string document_id(const document_key& k) {
    return fmt::format("{}-{}-{}", k.tipo, k.serie, k.numero);
}

std::optional<document_key> parse_document_id(std::string_view id) {
    const auto a = id.find('-');
    if (a == std::string_view::npos) return std::nullopt;
    const auto b = id.find('-', a + 1);
    if (b == std::string_view::npos) return std::nullopt;
    auto tipo = positive<int>(id.substr(0, a));
    auto serie = id.substr(a + 1, b - a - 1);
    auto numero = positive<std::int64_t>(id.substr(b + 1));
    if (!tipo || !numero || !serie_ok(serie)) return std::nullopt;
    document_key k;
    k.tipo = *tipo;
    k.serie = std::string(serie);
    k.numero = *numero;
    return k;
}

std::string document_path(std::string_view account, const document_key& k) {
    return fmt::format("/v1/accounts/{}/documents/{}", account, document_id(k));
}

std::string document_resource(const intent_record& d) {
    namespace js = boost::json;
    js::object o;
    const auto& k = d.what.key;
    o["id"] = document_id(k);
    o["account"] = d.what.account;
    o["operation"] = to_string(d.what.op);
    o["tipo_de_comprobante"] = k.tipo;
    o["serie"] = k.serie;
    o["numero"] = k.numero;
    o["state"] = to_string(d.state);
    o["final"] = is_final(d.state);
    o["advice"] = advice(d.state);
    o["attempts"] = d.attempts;
    o["codigo"] = d.codigo ? js::value(*d.codigo) : js::value(nullptr);
    o["aceptada_por_sunat"] = d.aceptada_por_sunat ? js::value(*d.aceptada_por_sunat) : js::value(nullptr);
    for_each_answer_text([&](std::string_view name, auto get) { o[name] = get(d); });
    o["error"] = d.error;
    o["created_at"] = utc_timestamp(d.created_at);
    o["updated_at"] = utc_timestamp(d.updated_at);
    const auto self = document_path(d.what.account, k);
    o["links"] = js::object{{"self", self}};
    return to_text(o);
}

intent_record settled_record(intent_record stored, const engine::outcome& o) {
    if (o.op) stored.what.op = *o.op;
    if (o.key) stored.what.key = *o.key;
    if (const auto* s = std::get_if<doc_state>(&o.state)) stored.state = *s;
    if (o.attempts > stored.attempts) stored.attempts = o.attempts;
    if (o.codigo) stored.codigo = o.codigo;
    if (o.body) {
        if (o.body->aceptada_por_sunat) stored.aceptada_por_sunat = o.body->aceptada_por_sunat;
        for_each_answer_text([&](std::string_view, auto get) {
            if (get(*o.body)) get(stored) = *get(*o.body);
        });
    }
    if (!o.error.empty()) stored.error = o.error;
    const auto now = std::chrono::system_clock::now();
    if (stored.created_at == std::chrono::system_clock::time_point{}) stored.created_at = now;
    if (stored.updated_at < now) stored.updated_at = now;
    return stored;
}

answer problem(int status, std::string_view title, std::string_view detail,
               const std::vector<finding>& findings) {
    namespace js = boost::json;
    js::object o;
    o["type"] = "about:blank";
    o["title"] = title;
    o["status"] = status;
    if (!detail.empty()) o["detail"] = detail;
    js::array errors;
    for (const auto& f : findings) {
        if (f.level != severity::error) continue;
        errors.push_back(js::object{{"path", f.path},
                                    {"code", f.code},
                                    {"message", f.message},
                                    {"expected", f.expected},
                                    {"actual", f.actual}});
    }
    if (!errors.empty()) o["errors"] = std::move(errors);
    answer a;
    a.status = status;
    a.body = to_text(o);
    a.content_type = "application/problem+json";
    return a;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) noexcept {
    auto a = wire::parse_authorization(authorization);
    // RFC 6750's b64token holds no spaces or commas (wire reads any remainder as the token).
    if (!a || a->form != wire::auth_form::bearer || a->token.find_first_of(" \t,") != std::string_view::npos)
        return std::nullopt;
    return a->token;
}

std::optional<std::chrono::seconds> prefer_wait(std::string_view prefer, std::chrono::seconds cap) noexcept {
    while (!prefer.empty()) {
        const auto comma = prefer.find(',');
        auto item = trim(prefer.substr(0, comma));
        prefer = comma == std::string_view::npos ? std::string_view{} : prefer.substr(comma + 1);
        if (auto semi = item.find(';'); semi != std::string_view::npos) item = trim(item.substr(0, semi));
        const auto eq = item.find('=');
        if (eq == std::string_view::npos || !iequals(trim(item.substr(0, eq)), "wait")) continue;
        auto v = trim(item.substr(eq + 1));
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        long long n = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || p != v.data() + v.size() || n < 0) return std::nullopt;
        return std::min(std::chrono::seconds(n), cap);
    }
    return std::nullopt;
}

bool valid_idempotency_key(std::string_view key) noexcept {
    if (key.empty() || key.size() > 255) return false;
    for (char c : key)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
}

std::string request_fingerprint(std::string_view method, std::string_view target, std::string_view body) {
    std::string all;
    all.reserve(method.size() + target.size() + body.size() + 2);
    all.append(method).push_back('\n');
    all.append(target).push_back('\n');
    all.append(body);
    return payload_hash(all);
}

}  // namespace nubefact::gateway

// Sans-io classification of one HTTP exchange: verdict, codigo, message, audit outcome.
#include <nubefact/client_policy.hpp>
#include <nubefact/json.hpp>

#include <fmt/format.h>

namespace nubefact::sansio {

namespace {

classified transport_failure(const exchange_view& x) {
    classified o;
    auto& v = o.view;
    o.status = x.status;
    if (x.ec == client_errc::tls_verify) {
        v.what = verdict::permanent;
        v.error = x.ec;
        o.outcome = "tls_verify";
    } else {
        v.error = make_error_code(x.timed_out ? client_errc::timeout : client_errc::transport);
        v.what = x.written ? verdict::ambiguous : verdict::not_delivered;
        o.outcome = x.timed_out ? "timeout" : "transport";
    }
    if (x.timed_out)
        o.message = x.written ? "no answer in time" : "could not connect in time";
    else
        o.message = x.detail.empty() ? x.ec.message() : std::string(x.detail);
    return o;
}

}  // namespace

classified classify(const exchange_view& x) {
    if (x.ec) return transport_failure(x);
    classified o;
    auto& v = o.view;
    o.status = x.status;
    v.retry_after = x.retry_after;
    std::optional<json::response_result> parsed;
    if (!x.body.empty()) parsed = json::read_response(x.body);
    response* resp = nullptr;
    error_body* eb = nullptr;
    if (parsed && !has_errors(parsed->findings)) {
        resp = std::get_if<response>(&parsed->body);
        eb = std::get_if<error_body>(&parsed->body);
    }
    if (eb) {
        o.message = std::move(eb->errors);
        v.codigo = eb->codigo;
        v.error = error_code(eb->codigo, api_category());
    }
    if (x.status == 429) {
        v.what = verdict::throttled;
        v.error = make_error_code(client_errc::rate_limited);
        o.outcome = "rate_limited";
        if (o.message.empty()) o.message = "HTTP 429 Too Many Requests";
        return o;
    }
    if (x.status >= 500) {
        v.what = verdict::ambiguous;
        if (!eb) {
            v.error = make_error_code(client_errc::http_status);
            o.message = fmt::format("HTTP {} without a Nubefact error body", x.status);
        }
        o.outcome = eb ? "api_error" : "http_status";
        return o;
    }
    if (eb) {
        v.what = verdict::api_error;
        o.outcome = "api_error";
        return o;
    }
    if (x.status == 200) {
        if (resp) {
            v.what = verdict::success;
            o.resp = std::move(*resp);
            o.outcome = "ok";
        } else {
            v.what = verdict::ambiguous;
            v.error = make_error_code(client_errc::bad_response);
            o.outcome = "bad_response";
            o.message = parsed && !parsed->findings.empty()
                            ? "malformed 200 body: " + parsed->findings.front().message
                            : "empty 200 body";
        }
        return o;
    }
    // A 4xx whose body looks like JSON but is not a Nubefact body was damaged on the way (the error
    // may have been decided after processing): treat it like a malformed answer. Other bodies (an
    // HTML page from a proxy) mean a configuration problem: permanent.
    auto first = x.body.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && x.body[first] == '{') {
        v.what = verdict::ambiguous;
        v.error = make_error_code(client_errc::bad_response);
        o.outcome = "bad_response";
        o.message = fmt::format("malformed HTTP {} body", x.status);
        return o;
    }
    v.what = verdict::permanent;
    v.error = make_error_code(client_errc::http_status);
    o.outcome = "http_status";
    o.message = fmt::format("HTTP {} without a Nubefact error body", x.status);
    return o;
}

}  // namespace nubefact::sansio

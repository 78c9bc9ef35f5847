// sansio::classify: one row per branch (transport failures, 429, 5xx, Nubefact error bodies, 200s,
// damaged and foreign 4xx bodies) with the verdict, error, codigo, audit outcome and message text.
#include <nubefact/client_policy.hpp>

#include <gtest/gtest.h>
#include <boost/asio/error.hpp>

#include <ostream>
#include <string>
#include <string_view>

using namespace nubefact;
using namespace nubefact::sansio;
using namespace std::chrono_literals;

namespace {

// generar-cpe-factura-response.json, from Nubefact's manual.
constexpr std::string_view factura_response = R"({
  "tipo_de_comprobante": 1,
  "serie": "FFF1",
  "numero": 1,
  "enlace": "https://www.nubefact.com/cpe/d268f882-4554-a403c6712e6",
  "enlace_del_pdf": "",
  "enlace_del_xml": "",
  "enlace_del_cdr": "",
  "aceptada_por_sunat": true,
  "sunat_description": "La Factura numero FFF1-1, ha sido aceptada",
  "sunat_note": null,
  "sunat_responsecode": "0",
  "sunat_soap_error": "",
  "cadena_para_codigo_qr": "20600695771 | 01 | FFF1 | 000001 | ...",
  "codigo_hash": "xMLFMnbgp1/bHEy572RKRTE9hPY="
})";

// generar-cpe-error-response.json, from Nubefact's manual.
constexpr std::string_view error_20 = R"({
  "errors": "El archivo enviado no cumple con el formato establecido",
  "codigo": 20
})";
constexpr std::string_view error_10 =
    R"({"errors":"No se pudo autenticar, token incorrecto o eliminado","codigo":10})";
constexpr std::string_view error_23 = R"({"errors":"Este documento ya existe en NubeFacT","codigo":23})";
constexpr std::string_view error_24 =
    R"({"errors":"El documento no existe o no fue enviado a NubeFacT","codigo":24})";
constexpr std::string_view error_40 = R"({"errors":"Error interno desconocido","codigo":40})";
constexpr std::string_view error_50 = R"({"errors":"La cuenta ha sido suspendida","codigo":50})";
constexpr std::string_view html_page =
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>400 Bad Request</h1></center>"
    "<hr><center>nginx</center></body></html>";

struct row {
    const char* name;
    exchange_view in;
    verdict what;
    error_code error;
    std::optional<int> codigo;
    const char* outcome;
    const char* message;  // exact, or a prefix when it ends with '*'
    std::optional<duration> retry_after = std::nullopt;
    bool has_response = false;
};

exchange_view failed(error_code ec, bool written, bool timed_out, std::string_view detail = {}) {
    exchange_view x;
    x.ec = ec;
    x.written = written;
    x.timed_out = timed_out;
    x.detail = detail;
    return x;
}

exchange_view answered(int status, std::string_view body,
                       std::optional<duration> retry_after = std::nullopt) {
    exchange_view x;
    x.status = status;
    x.body = body;
    x.retry_after = retry_after;
    return x;
}

error_code api(int codigo) {
    return error_code(codigo, api_category());
}

const error_code timeout = make_error_code(client_errc::timeout);
const error_code transport_err = make_error_code(client_errc::transport);
const error_code http_status = make_error_code(client_errc::http_status);
const error_code bad_response = make_error_code(client_errc::bad_response);
const error_code rate_limited = make_error_code(client_errc::rate_limited);
const error_code reset = make_error_code(boost::asio::error::connection_reset);
const error_code refused = make_error_code(boost::asio::error::connection_refused);

const row rows[] = {
    // Transport failures: the verdict turns on whether a byte of the request left.
    {"TlsVerifyIsPermanent",
     failed(make_error_code(client_errc::tls_verify), false, false, "certificate has expired"),
     verdict::permanent, make_error_code(client_errc::tls_verify), std::nullopt, "tls_verify",
     "certificate has expired"},
    {"TimeoutBeforeWritingIsNotDelivered", failed(timeout, false, true), verdict::not_delivered, timeout,
     std::nullopt, "timeout", "could not connect in time"},
    {"TimeoutAfterWritingIsAmbiguous", failed(timeout, true, true), verdict::ambiguous, timeout, std::nullopt,
     "timeout", "no answer in time"},
    {"RefusedBeforeWritingIsNotDelivered", failed(refused, false, false), verdict::not_delivered,
     transport_err, std::nullopt, "transport", "Connection refused"},
    {"ResetAfterWritingIsAmbiguous", failed(reset, true, false, "connection reset while reading"),
     verdict::ambiguous, transport_err, std::nullopt, "transport", "connection reset while reading"},
    // 429: throttled whatever the body; Retry-After kept.
    {"TooManyRequestsWithoutBody", answered(429, ""), verdict::throttled, rate_limited, std::nullopt,
     "rate_limited", "HTTP 429 Too Many Requests"},
    {"TooManyRequestsWithRetryAfter", answered(429, "", 120s), verdict::throttled, rate_limited, std::nullopt,
     "rate_limited", "HTTP 429 Too Many Requests", 120s},
    {"TooManyRequestsWithNubefactBody",
     answered(429, R"({"errors":"Demasiadas solicitudes","codigo":21})", 2s), verdict::throttled,
     rate_limited, 21, "rate_limited", "Demasiadas solicitudes", 2s},
    // 5xx: may have been processed.
    {"ServerErrorWithoutBody", answered(502, html_page), verdict::ambiguous, http_status, std::nullopt,
     "http_status", "HTTP 502 without a Nubefact error body"},
    {"ServiceUnavailableWithRetryAfter", answered(503, "", 30s), verdict::ambiguous, http_status,
     std::nullopt, "http_status", "HTTP 503 without a Nubefact error body", 30s},
    {"InternalErrorCodigo40", answered(500, error_40), verdict::ambiguous, api(40), 40, "api_error",
     "Error interno desconocido"},
    // Nubefact error bodies below 500.
    {"TokenInvalidCodigo10", answered(401, error_10), verdict::api_error, api(10), 10, "api_error",
     "No se pudo autenticar, token incorrecto o eliminado"},
    {"BadFormatCodigo20", answered(400, error_20), verdict::api_error, api(20), 20, "api_error",
     "El archivo enviado no cumple con el formato establecido"},
    {"AlreadyExistsCodigo23", answered(400, error_23), verdict::api_error, api(23), 23, "api_error",
     "Este documento ya existe en NubeFacT"},
    {"NotFoundCodigo24", answered(400, error_24), verdict::api_error, api(24), 24, "api_error",
     "El documento no existe o no fue enviado a NubeFacT"},
    {"SuspendedCodigo50", answered(403, error_50), verdict::api_error, api(50), 50, "api_error",
     "La cuenta ha sido suspendida"},
    {"InternalErrorCodigo40Below500", answered(400, error_40), verdict::api_error, api(40), 40, "api_error",
     "Error interno desconocido"},
    {"ErrorBodyWithStatus200", answered(200, error_20), verdict::api_error, api(20), 20, "api_error",
     "El archivo enviado no cumple con el formato establecido"},
    {"ErrorsAsArrayJoined", answered(400, R"({"errors":["serie vacia","numero vacio"],"codigo":20})"),
     verdict::api_error, api(20), 20, "api_error", "serie vacia; numero vacio"},
    // 200s.
    {"OkWithDocumentedResponse",
     answered(200, factura_response),
     verdict::success,
     {},
     std::nullopt,
     "ok",
     "",
     std::nullopt,
     true},
    {"OkWithEmptyBody", answered(200, ""), verdict::ambiguous, bad_response, std::nullopt, "bad_response",
     "empty 200 body"},
    {"OkWithMalformedBody", answered(200, factura_response.substr(0, 60)), verdict::ambiguous, bad_response,
     std::nullopt, "bad_response", "malformed 200 body: *"},
    {"OkWithHtmlBody", answered(200, html_page), verdict::ambiguous, bad_response, std::nullopt,
     "bad_response", "malformed 200 body: *"},
    // Other 4xx: damaged JSON may hide a processed request; a foreign page is a configuration problem.
    {"ClientErrorWithDamagedJson", answered(400, R"(  {"errors":"Este documento ya ex)"), verdict::ambiguous,
     bad_response, std::nullopt, "bad_response", "malformed HTTP 400 body"},
    {"ClientErrorWithJsonNotNubefact", answered(404, R"({"message":"Not Found"})"), verdict::ambiguous,
     bad_response, std::nullopt, "bad_response", "malformed HTTP 404 body"},
    {"ClientErrorWithHtmlPage", answered(404, html_page), verdict::permanent, http_status, std::nullopt,
     "http_status", "HTTP 404 without a Nubefact error body"},
    {"ClientErrorWithoutBody", answered(401, ""), verdict::permanent, http_status, std::nullopt,
     "http_status", "HTTP 401 without a Nubefact error body"},
};

// gtest prints the row by its name (the test name) instead of its bytes.
void PrintTo(const row& r, std::ostream* os) {
    *os << r.name;
}

class Classify : public ::testing::TestWithParam<row> {};

}  // namespace

TEST_P(Classify, Row) {
    const row& r = GetParam();
    const auto c = classify(r.in);
    EXPECT_EQ(c.view.what, r.what);
    EXPECT_EQ(c.view.error, r.error) << c.view.error.message();
    EXPECT_EQ(c.view.codigo, r.codigo);
    EXPECT_EQ(c.view.retry_after, r.retry_after);
    EXPECT_EQ(c.outcome, r.outcome);
    EXPECT_EQ(c.status, r.in.status);
    EXPECT_EQ(c.resp.has_value(), r.has_response);
    std::string_view want = r.message;
    if (!want.empty() && want.back() == '*') {
        want.remove_suffix(1);
        EXPECT_EQ(c.message.substr(0, want.size()), want) << c.message;
        EXPECT_GT(c.message.size(), want.size()) << c.message;
    } else {
        EXPECT_EQ(c.message, want);
    }
    // The decisions that follow: only these verdicts are retried at all.
    const bool retryable = r.what == verdict::ambiguous || r.what == verdict::not_delivered ||
                           r.what == verdict::throttled || (r.what == verdict::api_error && r.codigo == 40);
    EXPECT_EQ(retry_policy::retryable(c.view), retryable);
}

INSTANTIATE_TEST_SUITE_P(Table, Classify, ::testing::ValuesIn(rows),
                         [](const ::testing::TestParamInfo<row>& i) { return std::string(i.param.name); });

TEST(Classify, OkResponseFieldsAreParsed) {
    const auto c = classify(answered(200, factura_response));
    ASSERT_TRUE(c.resp);
    EXPECT_EQ(c.resp->serie, "FFF1");
    EXPECT_EQ(c.resp->numero, 1);
    EXPECT_EQ(c.resp->enlace, "https://www.nubefact.com/cpe/d268f882-4554-a403c6712e6");
    EXPECT_EQ(c.resp->aceptada_por_sunat, true);
    EXPECT_EQ(c.resp->sunat_responsecode, "0");
    EXPECT_EQ(c.resp->codigo_hash, "xMLFMnbgp1/bHEy572RKRTE9hPY=");
    EXPECT_EQ(settled_state(*c.resp), doc_state::accepted);
}

TEST(Classify, TransportFailureWithoutDetailUsesTheErrorText) {
    const auto c = classify(failed(reset, true, false));
    EXPECT_EQ(c.message, reset.message());
    EXPECT_EQ(c.status, 0);
    EXPECT_FALSE(c.resp);
}

TEST(Classify, TimeoutIgnoresTheTransportDetail) {
    const auto c = classify(failed(timeout, true, true, "operation aborted"));
    EXPECT_EQ(c.message, "no answer in time");
}

TEST(Classify, TransportFailureIgnoresAnyPartialResponse) {
    auto x = failed(reset, true, false, "truncated");
    x.status = 200;
    x.body = factura_response;
    const auto c = classify(x);
    EXPECT_EQ(c.view.what, verdict::ambiguous);
    EXPECT_FALSE(c.resp);
    EXPECT_FALSE(c.view.retry_after);
}

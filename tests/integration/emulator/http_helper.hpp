// Tiny blocking HTTP/1.1 client for the emulator tests (Beast, loopback only, bounded by socket timeouts).
#pragma once

#include <nubefact/emulator.hpp>

#include <sys/socket.h>
#include <sys/time.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace emutest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct http_result {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;
    boost::system::error_code ec;  // transport error (reset, eof, timeout)
    boost::json::value json() const {
        boost::system::error_code e;
        auto v = boost::json::parse(body, e);
        return e ? boost::json::value() : v;
    }
    int codigo() const {
        auto v = json();
        if (!v.is_object()) return -1;
        auto* c = v.as_object().if_contains("codigo");
        return c && c->is_int64() ? static_cast<int>(c->as_int64()) : -1;
    }
};

// One keep-alive connection. Every read is bounded by SO_RCVTIMEO.
class connection {
  public:
    explicit connection(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10))
        : sock_(io_) {
        sock_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        set_timeout(timeout);
    }
    void set_timeout(std::chrono::milliseconds t) {
        timeval tv{static_cast<time_t>(t.count() / 1000),
                   static_cast<suseconds_t>((t.count() % 1000) * 1000)};
        setsockopt(sock_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(sock_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    http_result request(http::verb method, const std::string& target, const std::string& body,
                        const std::map<std::string, std::string>& headers) {
        http_result r;
        http::request<http::string_body> req{method, target, 11};
        req.set(http::field::host, "127.0.0.1");
        for (auto& [k, v] : headers) req.set(k, v);
        req.body() = body;
        if (method != http::verb::get || !body.empty()) req.prepare_payload();
        http::write(sock_, req, r.ec);
        if (r.ec) return r;
        http::response_parser<http::string_body> p;
        p.body_limit(64 << 20);
        http::read(sock_, buf_, p, r.ec);
        if (r.ec) return r;
        auto& res = p.get();
        r.status = static_cast<int>(res.result_int());
        r.body = res.body();
        for (auto& f : res) r.headers[std::string(f.name_string())] = std::string(f.value());
        return r;
    }
    // Reads one response (after write_raw), keeping any bytes of the next one buffered.
    http_result read_response(boost::system::error_code& ec) {
        http_result r;
        http::response_parser<http::string_body> p;
        p.body_limit(64 << 20);
        http::read(sock_, buf_, p, ec);
        r.ec = ec;
        if (ec) return r;
        r.status = static_cast<int>(p.get().result_int());
        r.body = p.get().body();
        return r;
    }
    void write_raw(std::string_view data, boost::system::error_code& ec) {
        asio::write(sock_, asio::buffer(data.data(), data.size()), ec);
    }
    // Reads until EOF/error or `max` bytes; returns what arrived.
    std::string read_all(boost::system::error_code& ec, std::size_t max = 1 << 20) {
        std::string out;
        char b[4096];
        while (out.size() < max) {
            auto n = sock_.read_some(asio::buffer(b), ec);
            if (ec) break;
            out.append(b, n);
        }
        return out;
    }
    tcp::socket& socket() { return sock_; }

  private:
    asio::io_context io_;
    tcp::socket sock_;
    beast::flat_buffer buf_;
};

inline std::map<std::string, std::string> auth_headers(const std::string& token,
                                                       const std::string& ct = "application/json") {
    std::map<std::string, std::string> h{{"Authorization", "Token token=\"" + token + "\""}};
    if (!ct.empty()) h["Content-Type"] = ct;
    return h;
}

// POST on a fresh connection.
inline http_result post(std::uint16_t port, const std::string& target, const std::string& body,
                        const std::map<std::string, std::string>& headers) {
    try {
        connection c(port);
        return c.request(http::verb::post, target, body, headers);
    } catch (const boost::system::system_error& e) {
        http_result r;
        r.ec = e.code();
        return r;
    }
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::string examples_dir() {
    const char* d = std::getenv("NUBEFACT_EXAMPLES_DIR");
    return d ? d : "tests/data/official";
}

// A valid factura (1 line, 100 + 18 IGV) for `fecha` (DD-MM-YYYY).
inline std::string factura(int numero, const std::string& fecha, const std::string& serie = "FFF1",
                           int tipo = 1, const std::string& extra = "") {
    std::string cliente =
        tipo == 2 ? R"("cliente_tipo_de_documento":1,"cliente_numero_de_documento":"41920371",)"
                  : R"("cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771",)";
    return R"({"operacion":"generar_comprobante","tipo_de_comprobante":)" + std::to_string(tipo) +
           R"(,"serie":")" + serie + R"(","numero":)" + std::to_string(numero) +
           R"(,"sunat_transaction":1,)" + cliente +
           R"("cliente_denominacion":"CLIENTE EJEMPLO SAC","cliente_direccion":"AV. LIMA 123",)" +
           R"("fecha_de_emision":")" + fecha +
           R"(","moneda":1,"porcentaje_de_igv":18.00,"total_gravada":100.00,"total_igv":18.00,"total":118.00,)" +
           extra +
           R"("items":[{"unidad_de_medida":"NIU","descripcion":"PRODUCTO","cantidad":1,"valor_unitario":100,)"
           R"("precio_unitario":118,"subtotal":100.00,"tipo_de_igv":1,"igv":18.00,"total":118.00}]})";
}

inline std::string consulta(const std::string& op, int tipo, const std::string& serie, int numero,
                            const std::string& extra = "") {
    return R"({"operacion":")" + op + R"(","tipo_de_comprobante":)" + std::to_string(tipo) + R"(,"serie":")" +
           serie + R"(","numero":)" + std::to_string(numero) + extra + "}";
}

// 2026-01-15 12:00 Lima (17:00 UTC): "today" of the tests.
inline std::chrono::system_clock::time_point test_now() {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1768496400));
}
inline const char* test_today = "15-01-2026";

}  // namespace emutest

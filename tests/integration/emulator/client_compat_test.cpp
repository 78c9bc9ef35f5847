// The emulator as existing Nubefact clients see it (issue 19): what ERP integrations really send, the
// enlace downloads, the statuses, the asynchronous flows, the arithmetic modes and the state log.
#include "http_helper.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

using namespace emutest;
namespace emu = nubefact::emulator;
namespace fs = std::filesystem;

namespace {

class compat_test : public ::testing::Test {
  protected:
    emu::manual_clock clock{test_now()};
    std::unique_ptr<emu::server> srv;
    fs::path dir;

    void SetUp() override {
        dir = fs::temp_directory_path() / ("nubefact-compat-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    void start(emu::options o = {}) {
        if (!o.clock) o.clock = clock.fn();
        srv = std::make_unique<emu::server>(o);
        std::string err;
        ASSERT_TRUE(srv->start(&err)) << err;
    }
    void TearDown() override {
        if (srv) srv->stop();
        fs::remove_all(dir);
    }
    http_result send(const std::string& body,
                     const std::map<std::string, std::string>& h = auth_headers("demo-token")) {
        return post(srv->port(), "/api/v1/demo", body, h);
    }
    // GET of a link the emulator gave (its path on this server).
    http_result get(const std::string& link) {
        auto p = link.find('/', link.find("//") + 2);
        connection c(srv->port());
        return c.request(http::verb::get, link.substr(p), "", {});
    }
    std::string save(const std::string& name, const std::string& data) {
        auto p = (dir / name).string();
        std::ofstream(p, std::ios::binary) << data;
        return p;
    }
};

// A factura as an ERP writes it: every value a string, unset amounts "0.0", null for unset fields,
// "guias": [], an ISO date, fields Nubefact does not know.
std::string erp_factura(int numero, const std::string& extra = "") {
    return R"({"operacion":"generar_comprobante","tipo_de_comprobante":"1","serie":"FFF1","numero":")" +
           std::to_string(numero) +
           R"(","sunat_transaction":"1","cliente_tipo_de_documento":"6",
      "cliente_numero_de_documento":"20600695771","cliente_denominacion":"CLIENTE EJEMPLO SAC",
      "cliente_direccion":"AV. LIMA 123","cliente_email":null,"fecha_de_emision":"2026-01-15",
      "fecha_de_vencimiento":null,"moneda":"1","tipo_de_cambio":"","porcentaje_de_igv":"18.0",
      "descuento_global":"0.0","total_descuento":"0.0","total_anticipo":"0.0","total_gravada":"100.0",
      "total_inafecta":"0.0","total_exonerada":"0.0","total_igv":"0.18e2","total_gratuita":"0.0",
      "total_otros_cargos":"0.0","total_isc":"0.0","total_impuestos_bolsas":"0.0","total":"118.0",
      "percepcion_tipo":"","percepcion_base_imponible":"0.0","total_percepcion":"0.0",
      "total_incluido_percepcion":"0.0","retencion_tipo":null,"retencion_base_imponible":"0.0",
      "total_retencion":"0.0","detraccion":"false","detraccion_tipo":0,"detraccion_total":"0.0",
      "detraccion_porcentaje":"0.0","medio_de_pago_detraccion":0,"observaciones":null,
      "documento_que_se_modifica_tipo":"","documento_que_se_modifica_serie":null,
      "enviar_automaticamente_a_la_sunat":"true","enviar_automaticamente_al_cliente":false,
      "codigo_unico":null,"guias":[],"venta_al_credito":null,"erp_id":"V-0001","erp_meta":{"user":7},)" +
           extra +
           R"("items":[{"unidad_de_medida":"NIU","codigo":"P01","descripcion":"PRODUCTO","cantidad":"1.0",
      "valor_unitario":"100.0","precio_unitario":"118.0","descuento":"0.0","subtotal":"100.0",
      "tipo_de_igv":"1","igv":"18.0","impuesto_bolsas":"0.0","isc":"0.0","total":"118.0",
      "anticipo_regularizacion":"false","anticipo_documento_serie":"","anticipo_documento_numero":null,
      "erp_line":1}]})";
}

// One line plus the header that sums it (DD-MM-YYYY date of the tests).
std::string one_line(int numero, const std::string& item, const std::string& header, int tipo = 1) {
    return R"({"operacion":"generar_comprobante","tipo_de_comprobante":)" + std::to_string(tipo) +
           R"(,"serie":"FFF1","numero":)" + std::to_string(numero) +
           R"(,"sunat_transaction":1,"cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771",
      "cliente_denominacion":"CLIENTE EJEMPLO SAC","cliente_direccion":"AV. LIMA 123","fecha_de_emision":")" +
           test_today + R"(","moneda":1,"porcentaje_de_igv":18.00,)" + header + R"(,"items":[)" + item + "]}";
}

bool has_tool(const char* name) {
    return std::system(("command -v " + std::string(name) + " >/dev/null 2>&1").c_str()) == 0;
}

TEST_F(compat_test, zero_valued_optional_amounts_and_nulls_are_absent) {
    start();
    auto r = send(erp_factura(1));
    ASSERT_EQ(r.status, 200) << r.body;  // was codigo 20: "percepcion_tipo is required …"
    EXPECT_EQ(r.json().at("aceptada_por_sunat").as_bool(), true);
    // Every Authorization form clients use.
    int n = 2;
    for (std::string a :
         {"demo-token", "Token token=\"demo-token\"", "Token token=demo-token", "Token demo-token"}) {
        auto x = send(erp_factura(n++),
                      {{"Authorization", a}, {"Content-Type", "application/json; charset=utf-8"}});
        EXPECT_EQ(x.status, 200) << a << ": " << x.body;
    }
    // A real percepción amount without its tipo is still refused, naming the field.
    auto body = erp_factura(9);
    const std::string zero = R"("percepcion_base_imponible":"0.0")";
    body.replace(body.find(zero), zero.size(), R"("percepcion_base_imponible":"118.0")");
    auto p = send(body);
    EXPECT_EQ(p.codigo(), 20) << p.body;
    EXPECT_NE(p.body.find("percepcion_tipo"), std::string::npos) << p.body;
}

TEST_F(compat_test, integer_ubigeo_as_the_manual_types_it) {
    start();
    auto load = [&](const std::string& name, int d, int m, int y) {
        std::tm tm{};
        tm.tm_year = y - 1900;
        tm.tm_mon = m - 1;
        tm.tm_mday = d;
        tm.tm_hour = 17;
        clock.set(std::chrono::system_clock::from_time_t(timegm(&tm)));
        return read_file(examples_dir() + "/" + name);
    };
    // Factura detracción transporte de carga: "ubigeo_destino": "040110" sent as the Integer 40110.
    auto f = load("generar-cpe-factura-23-detraccion-servicios-de-transporte-de-carga.json", 17, 12, 2025);
    auto at = f.find("\"040110\"");
    ASSERT_NE(at, std::string::npos);
    f.replace(at, 8, "40110");
    at = f.find("\"150122\"");
    ASSERT_NE(at, std::string::npos);
    f.replace(at, 8, "150122");
    auto r = send(f);
    EXPECT_EQ(r.status, 200) << r.body;
    // GRE: punto_de_partida_ubigeo / punto_de_llegada_ubigeo as integers.
    auto g = load("gre-generar-guia-remitente-ttt1-1-venta-transporte-publico.json", 17, 12, 2025);
    for (std::string u : {"\"151021\"", "\"211101\""}) {
        auto i = g.find(u);
        ASSERT_NE(i, std::string::npos);
        g.replace(i, u.size(), u.substr(1, 6));
    }
    auto gr = send(g);
    EXPECT_EQ(gr.status, 200) << gr.body;
}

TEST_F(compat_test, enlace_files_download_and_parse) {
    start();
    auto r = send(erp_factura(1));
    ASSERT_EQ(r.status, 200) << r.body;
    auto o = r.json().as_object();
    std::string enlace(o.at("enlace").as_string());
    EXPECT_TRUE(enlace.starts_with("http://127.0.0.1:" + std::to_string(srv->port()) + "/cpe/")) << enlace;

    auto pdf = get(std::string(o.at("enlace_del_pdf").as_string()));
    ASSERT_EQ(pdf.status, 200) << pdf.body;
    EXPECT_EQ(pdf.headers["Content-Type"], "application/pdf");
    EXPECT_TRUE(pdf.body.starts_with("%PDF-1.")) << pdf.body.substr(0, 16);
    EXPECT_NE(pdf.body.find("%%EOF"), std::string::npos);
    EXPECT_NE(pdf.body.find("(FFF1-1)"), std::string::npos);
    EXPECT_NE(pdf.body.find("118.00"), std::string::npos);
    auto pdf_file = save("f.pdf", pdf.body);
    if (has_tool("pdfinfo")) {
        EXPECT_EQ(std::system(("pdfinfo " + pdf_file + " >/dev/null").c_str()), 0);
    }
    // The xref offsets point at the objects.
    auto xref = pdf.body.find("xref\n0 7\n");
    ASSERT_NE(xref, std::string::npos);
    auto entry1 = pdf.body.substr(xref + 9 + 20, 10);
    EXPECT_EQ(pdf.body.substr(std::stoul(entry1), 7), "1 0 obj");
    EXPECT_NE(pdf.body.find("startxref\n" + std::to_string(xref) + "\n"), std::string::npos);

    auto xml = get(std::string(o.at("enlace_del_xml").as_string()));
    ASSERT_EQ(xml.status, 200);
    EXPECT_EQ(xml.headers["Content-Type"], "application/xml; charset=utf-8");
    auto xml_file = save("f.xml", xml.body);
    std::string py =
        "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
        "ns = {'cbc': 'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2'}; "
        "assert r.tag.endswith('}Invoice'), r.tag; assert r.find('cbc:ID', ns).text == 'FFF1-1'; "
        "assert r.find('cbc:UBLVersionID', ns).text == '2.1'\" ";
    EXPECT_EQ(std::system((py + xml_file).c_str()), 0) << xml.body;

    auto cdr = get(std::string(o.at("enlace_del_cdr").as_string()));
    ASSERT_EQ(cdr.status, 200);
    EXPECT_EQ(cdr.headers["Content-Type"], "application/zip");
    auto cdr_file = save("f.cdr", cdr.body);
    if (has_tool("unzip")) {
        EXPECT_EQ(std::system(("unzip -tq " + cdr_file + " >/dev/null").c_str()), 0);
    }
    std::string pz =
        "/usr/bin/python3 -c \"import sys, zipfile, xml.etree.ElementTree as E; z = "
        "zipfile.ZipFile(sys.argv[1]); "
        "assert z.testzip() is None; n = z.namelist(); assert n == ['R-20600695771-01-FFF1-1.xml'], n; "
        "r = E.fromstring(z.read(n[0])); assert r.tag.endswith('}ApplicationResponse'); "
        "c = "
        "r.find('.//{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}ResponseCode'); "
        "assert c.text == '0', c.text\" ";
    EXPECT_EQ(std::system((pz + cdr_file).c_str()), 0);

    // Unknown uuid, unknown kind, no extension: 404 (a file server's answer).
    EXPECT_EQ(get(enlace.substr(0, enlace.size() - 4) + "ffff.pdf").status, 404);
    EXPECT_EQ(get("http://x/cpe/nothing.pdf").status, 404);
    EXPECT_EQ(get(enlace).status, 404);
    EXPECT_EQ(get(enlace + ".doc").status, 404);
    // A nota de crédito is a CreditNote.
    auto nc =
        send(one_line(1, R"({"unidad_de_medida":"NIU","descripcion":"X","cantidad":1,"valor_unitario":100,
        "precio_unitario":118,"subtotal":100,"tipo_de_igv":1,"igv":18,"total":118})",
                      R"("total_gravada":100,"total_igv":18,"total":118,
        "documento_que_se_modifica_tipo":1,"documento_que_se_modifica_serie":"FFF1",
        "documento_que_se_modifica_numero":1,"tipo_de_nota_de_credito":1)",
                      3));
    ASSERT_EQ(nc.status, 200) << nc.body;
    auto ncx = get(std::string(nc.json().at("enlace_del_xml").as_string()));
    EXPECT_NE(
        ncx.body.find("<CreditNote xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2\""),
        std::string::npos);
    EXPECT_EQ(
        std::system(("/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])\" " +
                     save("nc.xml", ncx.body))
                        .c_str()),
        0);
}

TEST_F(compat_test, links_use_the_link_host) {
    emu::options o;
    o.link_host = "facturas.example.pe";
    start(o);
    auto r = send(erp_factura(1));
    ASSERT_EQ(r.status, 200);
    std::string enlace(r.json().at("enlace").as_string());
    EXPECT_TRUE(enlace.starts_with("http://facturas.example.pe/cpe/")) << enlace;
    EXPECT_EQ(get(enlace + ".pdf").status, 200);  // served here whatever host the link names
}

// The official generar_anulacion response: a ticket, aceptada_por_sunat false, the three links.
TEST_F(compat_test, anulacion_answers_pending_first_by_default) {
    start();  // anulacion_delay 0: the default
    ASSERT_EQ(send(erp_factura(1)).status, 200);
    auto g = send(consulta("generar_anulacion", 1, "FFF1", 1, R"(,"motivo":"ERROR DEL SISTEMA")"));
    ASSERT_EQ(g.status, 200) << g.body;
    auto official = boost::json::parse(read_file(examples_dir() + "/generar-anulacion-response.json"));
    for (auto& kv : official.as_object()) EXPECT_TRUE(g.json().as_object().contains(kv.key())) << kv.key();
    auto o = g.json().as_object();
    EXPECT_EQ(o.at("aceptada_por_sunat").as_bool(), false);
    EXPECT_TRUE(o.at("sunat_responsecode").is_null());
    EXPECT_FALSE(o.at("sunat_ticket_numero").as_string().empty());
    std::string enlace(o.at("enlace").as_string());
    EXPECT_NE(enlace.find("/anulacion/"), std::string::npos);
    EXPECT_EQ(o.at("enlace_del_cdr").as_string(), enlace + ".cdr");
    // Polling the ticket: accepted once SUNAT answered (here at once).
    auto c = send(consulta("consultar_anulacion", 1, "FFF1", 1));
    EXPECT_EQ(c.json().at("aceptada_por_sunat").as_bool(), true) << c.body;
    EXPECT_EQ(c.json().at("sunat_responsecode").as_string(), "0");
    EXPECT_EQ(send(consulta("consultar_comprobante", 1, "FFF1", 1)).json().at("anulado").as_bool(), true);
    auto cdr = get(enlace + ".cdr");
    EXPECT_EQ(cdr.status, 200);
    EXPECT_EQ(
        std::system(("/usr/bin/python3 -c \"import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); "
                     "assert z.testzip() is None; assert z.namelist()[0].startswith('R-20600695771-RA-')\" " +
                     save("a.cdr", cdr.body))
                        .c_str()),
        0);
    auto x = get(enlace + ".xml");
    EXPECT_NE(x.body.find("<VoidedDocuments"), std::string::npos);
    srv->stop();

    // The old behaviour, for a sender that does not poll: accepted at once when the delay is 0.
    emu::options old;
    old.anulacion_pending_first = false;
    start(old);
    ASSERT_EQ(send(erp_factura(1)).status, 200);
    auto at_once = send(consulta("generar_anulacion", 1, "FFF1", 1, R"(,"motivo":"ERROR DEL SISTEMA")"));
    EXPECT_EQ(at_once.json().at("aceptada_por_sunat").as_bool(), true) << at_once.body;
}

TEST_F(compat_test, anulacion_and_guia_files_wait_for_sunat) {
    emu::options o;
    o.anulacion_delay = std::chrono::seconds(30);
    o.guia_delay = std::chrono::seconds(30);
    start(o);
    ASSERT_EQ(send(erp_factura(1)).status, 200);
    auto g = send(consulta("generar_anulacion", 1, "FFF1", 1, R"(,"motivo":"ERROR")"));
    std::string enlace(g.json().at("enlace").as_string());
    EXPECT_EQ(get(enlace + ".pdf").status, 200);
    EXPECT_EQ(get(enlace + ".cdr").status, 404);  // SUNAT has not answered the ticket yet
    clock.advance(std::chrono::seconds(31));
    EXPECT_EQ(get(enlace + ".cdr").status, 200);

    std::tm tm{};
    tm.tm_year = 2025 - 1900;
    tm.tm_mon = 11;
    tm.tm_mday = 17;
    tm.tm_hour = 17;
    clock.set(std::chrono::system_clock::from_time_t(timegm(&tm)));
    auto gg =
        send(read_file(examples_dir() + "/gre-generar-guia-remitente-ttt1-1-venta-transporte-publico.json"));
    ASSERT_EQ(gg.status, 200) << gg.body;
    auto q = read_file(examples_dir() + "/gre-consultar-guia-remitente-ttt1-1.json");
    EXPECT_EQ(send(q).json().at("aceptada_por_sunat").as_bool(), false);
    clock.advance(std::chrono::seconds(31));
    auto c = send(q);
    ASSERT_EQ(c.json().at("aceptada_por_sunat").as_bool(), true) << c.body;
    auto gx = get(std::string(c.json().at("enlace_del_xml").as_string()));
    ASSERT_EQ(gx.status, 200);
    EXPECT_NE(gx.body.find("<DespatchAdvice"), std::string::npos);
    EXPECT_EQ(get(std::string(c.json().at("enlace_del_pdf").as_string())).status, 200);
    EXPECT_EQ(get(std::string(c.json().at("enlace_del_cdr").as_string())).status, 200);
}

TEST_F(compat_test, float_noise_refused_with_a_field_message_or_rounded) {
    const std::string noisy = one_line(1, R"({"unidad_de_medida":"NIU","descripcion":"X","cantidad":3,
        "valor_unitario":0.6666666666666666,"precio_unitario":0.7866666666666666,"subtotal":2.0000000000000004,
        "tipo_de_igv":1,"igv":0.36000000000000004,"total":2.3600000000000003})",
                                       R"("total_gravada":2.0000000000000004,"total_igv":0.36000000000000004,
        "total":2.3600000000000003)");
    start();
    auto r = send(noisy);
    EXPECT_EQ(r.codigo(), 20);
    EXPECT_NE(r.body.find("floating-point noise"), std::string::npos) << r.body;
    srv->stop();
    for (bool lenient : {false, true}) {
        emu::options o;
        o.round_float_noise = !lenient;
        o.lenient = lenient;
        start(o);
        auto k = send(noisy);
        EXPECT_EQ(k.status, 200) << (lenient ? "lenient: " : "round: ") << k.body;
        // 0.6666666666666666 is read as 0.6666666667: 3 × it = 2.00 (rounded), igv 0.36, total 2.36.
        srv->stop();
    }
}

// The fact sheet's §6.6 / §6.7: Nubefact's "sums must match" (strict), SUNAT's ±1 tolerance with 4xxx
// observations (sunat), the demo's loose checks (lenient), for the arithmetic ERPs really do.
TEST_F(compat_test, arithmetic_modes_answer_what_the_fact_sheet_predicts) {
    const std::string line =
        R"("unidad_de_medida":"NIU","descripcion":"LAPICERO","cantidad":7,"precio_unitario":2.50,)";
    struct scenario {
        const char* name;
        std::string body;
        bool sunat_accepts;
        std::vector<std::string> observations;
    };
    std::vector<scenario> cases = {
        // IGV rounded per unit: 7 × round(2.1186440678 × 0.18) = 2.66, the line gives 2.67.
        {"igv per unit",
         one_line(
             1,
             "{" + line +
                 R"("valor_unitario":2.1186440678,"subtotal":14.83,"tipo_de_igv":1,"igv":2.66,"total":17.49})",
             R"("total_gravada":14.83,"total_igv":2.66,"total":17.49)"),
         true,
         {"4318", "4287", "4290", "4312"}},
        // valor_unitario rounded to 2 decimals: 7 × 2.12 = 14.84, the ERP kept 14.83.
        {"valor_unitario 2 decimals",
         one_line(2,
                  "{" + line +
                      R"("valor_unitario":2.12,"subtotal":14.83,"tipo_de_igv":1,"igv":2.67,"total":17.50})",
                  R"("total_gravada":14.83,"total_igv":2.67,"total":17.50)"),
         true,
         {"4288", "4299", "4312"}},
        // IGV computed before the line discount: 90 instead of 54.
        {"igv before discount",
         one_line(3, R"({"unidad_de_medida":"NIU","descripcion":"MUEBLE","cantidad":1,"valor_unitario":500,
            "precio_unitario":590,"descuento":200,"subtotal":300,"tipo_de_igv":1,"igv":90,"total":390})",
                  R"("total_gravada":300,"total_igv":90,"total_descuento":200,"total":390)"),
         false,
         {}},
        // IGV on a free line (bonificación): SUNAT's 3110, whatever the amount.
        {"igv on a free line",
         one_line(4, R"({"unidad_de_medida":"NIU","descripcion":"PRODUCTO","cantidad":1,"valor_unitario":100,
            "precio_unitario":118,"subtotal":100,"tipo_de_igv":1,"igv":18,"total":118},
            {"unidad_de_medida":"NIU","descripcion":"LLAVERO","cantidad":1,"valor_unitario":1,
            "precio_unitario":1,"subtotal":1,"tipo_de_igv":6,"igv":0.18,"total":1})",
                  R"("total_gravada":100,"total_igv":18,"total_gratuita":1,"total":118)"),
         false,
         {}},
        // A total off by 100: refused by SUNAT (2519 / 4312 beyond the tolerance).
        {"total off by 100",
         one_line(5, R"({"unidad_de_medida":"NIU","descripcion":"X","cantidad":1,"valor_unitario":100,
            "precio_unitario":118,"subtotal":100,"tipo_de_igv":1,"igv":18,"total":118})",
                  R"("total_gravada":100,"total_igv":18,"total":218)"),
         false,
         {}},
    };
    for (int mode = 0; mode < 3; ++mode) {
        emu::options o;
        o.sunat_tolerance = mode == 1;
        o.lenient = mode == 2;
        start(o);
        for (const auto& c : cases) {
            auto r = send(c.body);
            const char* m = mode == 0 ? "strict" : mode == 1 ? "sunat" : "lenient";
            if (mode == 0 || (mode == 1 && !c.sunat_accepts)) {
                EXPECT_EQ(r.codigo(), 20) << m << " / " << c.name << ": " << r.body;
                EXPECT_EQ(r.status, 400);
                continue;
            }
            ASSERT_EQ(r.status, 200) << m << " / " << c.name << ": " << r.body;
            auto note = r.json().at("sunat_note");
            EXPECT_EQ(r.json().at("aceptada_por_sunat").as_bool(), true);
            if (mode == 2) {
                EXPECT_TRUE(note.is_null()) << c.name;
                continue;
            }
            ASSERT_TRUE(note.is_string()) << c.name << ": " << r.body;
            std::string text(note.as_string());
            for (const auto& code : c.observations)
                EXPECT_NE(text.find(code + " - "), std::string::npos) << c.name << ": " << text;
            // The consultation and the CDR carry the same observations.
            auto q = send(consulta("consultar_comprobante", 1, "FFF1",
                                   static_cast<int>(r.json().at("numero").as_int64())));
            EXPECT_EQ(q.json().at("sunat_note"), note);
            auto cdr = get(std::string(r.json().at("enlace_del_cdr").as_string()));
            EXPECT_EQ(
                std::system(("/usr/bin/python3 -c \"import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); "
                             "t = z.read(z.namelist()[0]).decode(); assert '<cbc:Note>" +
                             c.observations.front() + " - ' in t, t\" " + save("o.cdr", cdr.body))
                                .c_str()),
                0)
                << c.name;
        }
        srv->stop();
    }
}

TEST_F(compat_test, omitted_numero_refused_or_assigned_per_serie) {
    auto without = [](const std::string& serie, int tipo = 1) {
        auto b = factura(1, test_today, serie, tipo);
        auto at = b.find(R"("numero":1,)");
        b.erase(at, 11);
        return b;
    };
    start();
    auto r = send(without("FFF1"));
    EXPECT_EQ(r.codigo(), 20);
    EXPECT_NE(r.body.find("numero"), std::string::npos) << r.body;
    srv->stop();

    emu::options o;
    o.assign_numero = true;
    o.state_file = (dir / "state.jsonl").string();
    start(o);
    EXPECT_EQ(send(without("FFF1")).json().at("numero").as_int64(), 1);
    EXPECT_EQ(send(without("FFF1")).json().at("numero").as_int64(), 2);
    EXPECT_EQ(send(factura(7, test_today)).status, 200);  // an explicit numero moves the correlativo on
    auto n8 = send(without("FFF1"));
    EXPECT_EQ(n8.json().at("numero").as_int64(), 8);
    EXPECT_EQ(send(without("FFF2")).json().at("numero").as_int64(), 1);
    EXPECT_EQ(send(without("BBB1", 2)).json().at("numero").as_int64(), 1);
    // The assigned document is consulted by its number.
    auto c = send(consulta("consultar_comprobante", 1, "FFF1", 8));
    EXPECT_EQ(c.json().at("enlace"), n8.json().at("enlace"));
    srv->stop();
    start(o);  // the correlativo survives a restart (replayed from the state file)
    EXPECT_EQ(send(without("FFF1")).json().at("numero").as_int64(), 9);
}

// A power loss tears the last record: every cut of it must still start, hold the earlier documents,
// and accept new ones across another restart (it used to append onto the fragment, then refuse).
TEST_F(compat_test, state_log_torn_at_every_byte_of_its_last_record) {
    const auto file = (dir / "state.jsonl").string();
    emu::options o;
    o.state_file = file;
    start(o);
    for (int n = 1; n <= 3; ++n) ASSERT_EQ(send(factura(n, test_today)).status, 200);
    srv->stop();
    srv.reset();
    const std::string full = read_file(file);
    ASSERT_EQ(full.back(), '\n');
    const auto last = full.rfind('\n', full.size() - 2) + 1;  // start of the last record
    for (std::size_t cut = last; cut < full.size(); ++cut) {
        SCOPED_TRACE("cut at byte " + std::to_string(cut) + " of " + std::to_string(full.size()));
        std::ofstream(file, std::ios::binary | std::ios::trunc) << full.substr(0, cut);
        start(o);
        EXPECT_EQ(send(consulta("consultar_comprobante", 1, "FFF1", 2)).status, 200);
        EXPECT_EQ(send(consulta("consultar_comprobante", 1, "FFF1", 3)).codigo(), 24);  // torn: not kept
        ASSERT_EQ(send(factura(3, test_today)).status, 200);
        srv->stop();
        start(o);
        EXPECT_EQ(send(consulta("consultar_comprobante", 1, "FFF1", 3)).status, 200);
        srv->stop();
        srv.reset();
    }
    // Damage before the end is not a torn write: refused with its line.
    std::ofstream(file, std::ios::binary | std::ios::trunc) << full.substr(0, last - 5) << "\n"
                                                            << full.substr(last);
    emu::server bad(o);
    std::string err;
    EXPECT_FALSE(bad.start(&err));
    EXPECT_NE(err.find("state.jsonl:2: not a JSON object"), std::string::npos) << err;
}

TEST_F(compat_test, enlace_uuids_never_repeat_across_restarts) {
    emu::options o;
    o.state_file = (dir / "state.jsonl").string();
    std::set<std::string> seen;
    for (int round = 0; round < 3; ++round) {
        start(o);  // same seed every time: the generator restarts identically
        auto r = send(factura(round + 1, test_today));
        ASSERT_EQ(r.status, 200) << r.body;
        std::string e(r.json().at("enlace").as_string());
        EXPECT_TRUE(seen.insert(e.substr(e.find("/cpe/") + 5)).second) << e;
        auto a = send(consulta("generar_anulacion", 1, "FFF1", round + 1, R"(,"motivo":"X")"));
        std::string ae(a.json().at("enlace").as_string());
        EXPECT_TRUE(seen.insert(ae.substr(ae.find("/anulacion/") + 11)).second) << ae;
        srv->stop();
    }
}

}  // namespace

// The files behind the enlace links: a one-page PDF, the UBL XML, and SUNAT's answer (CDR) in a zip.
#include "files.hpp"

#include "protocol.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

namespace nubefact::emulator::detail {
namespace {

std::string_view title(const file_data& d) {
    if (d.kind == "anulacion") return "COMUNICACION DE BAJA";
    if (d.kind == "reversion") return "RESUMEN DE REVERSIONES";
    switch (d.tipo) {
        case 1:
            return "FACTURA ELECTRONICA";
        case 2:
            return "BOLETA DE VENTA ELECTRONICA";
        case 3:
            return "NOTA DE CREDITO ELECTRONICA";
        case 4:
            return "NOTA DE DEBITO ELECTRONICA";
        case 7:
            return "GUIA DE REMISION ELECTRONICA REMITENTE";
        case 8:
            return "GUIA DE REMISION ELECTRONICA TRANSPORTISTA";
        case 20:
            return "COMPROBANTE DE RETENCION ELECTRONICO";
        case 40:
            return "COMPROBANTE DE PERCEPCION ELECTRONICO";
    }
    return "DOCUMENTO ELECTRONICO";
}

std::string serie_numero(const file_data& d) {
    return d.serie + "-" + std::to_string(d.numero);
}

// Lima civil date and time of a UTC instant: "YYYY-MM-DD", "HH:MM:SS".
void lima(std::int64_t utc_ms, std::string& day, std::string& time, int* dos = nullptr) {
    std::int64_t s = utc_ms / 1000 + std::chrono::seconds(lima_utc_offset).count();
    std::int64_t days = s / 86400, sec = s % 86400;
    if (sec < 0) {
        sec += 86400;
        --days;
    }
    const date c = date::from_days(days);
    day = c.to_iso();
    char b[32];
    int h = static_cast<int>(sec / 3600), m = static_cast<int>(sec / 60 % 60), x = static_cast<int>(sec % 60);
    std::snprintf(b, sizeof b, "%02d:%02d:%02d", h, m, x);
    time = b;
    if (dos) {
        // MS-DOS date and time of a zip entry: the low half the time, the high half the date.
        const int y = c.year < 1980 ? 0 : c.year - 1980;
        dos[0] = (h << 11) | (m << 5) | (x / 2);
        dos[1] = (y << 9) | (c.month << 5) | c.day;
    }
}

// The fecha as YYYY-MM-DD; `otherwise` when it is not a date ("" or unknown).
std::string iso_or(std::string_view fecha, const std::string& otherwise) {
    auto d = date::parse(fecha);
    return d ? d->to_iso() : otherwise;
}

void xml_text(std::string& o, std::string_view s) {
    for (char c : s) {
        switch (c) {
            case '&':
                o += "&amp;";
                break;
            case '<':
                o += "&lt;";
                break;
            case '>':
                o += "&gt;";
                break;
            case '"':
                o += "&quot;";
                break;
            default:
                // Control characters are not allowed in XML 1.0 text.
                if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n')
                    o.push_back(' ');
                else
                    o.push_back(c);
        }
    }
}

void element(std::string& o, std::string_view name, std::string_view value, std::string_view attrs = {}) {
    o += '<';
    o += name;
    if (!attrs.empty()) {
        o += ' ';
        o += attrs;
    }
    o += '>';
    xml_text(o, value);
    o += "</";
    o += name;
    o += ">\n";
}

void party(std::string& o, std::string_view wrapper, std::string_view scheme, std::string_view id) {
    o += "<cac:";
    o += wrapper;
    o += "><cac:Party><cac:PartyIdentification>";
    std::string attrs = "schemeID=\"";
    xml_text(attrs, scheme);
    attrs += '"';
    std::string e;
    element(e, "cbc:ID", id, attrs);
    e.pop_back();
    o += e;
    o += "</cac:PartyIdentification></cac:Party></cac:";
    o += wrapper;
    o += ">\n";
}

constexpr std::string_view ns_cac =
    "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
constexpr std::string_view ns_cbc = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";
constexpr std::string_view ns_sac =
    "urn:sunat:names:specification:ubl:peru:schema:xsd:SunatAggregateComponents-1";

void open_root(std::string& o, std::string_view root, std::string_view ns) {
    o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<";
    o += root;
    o += " xmlns=\"";
    o += ns;
    o += "\" xmlns:cac=\"";
    o += ns_cac;
    o += "\" xmlns:cbc=\"";
    o += ns_cbc;
    o += "\" xmlns:sac=\"";
    o += ns_sac;
    o += "\">\n";
}

// PDF string literal text: WinAnsi bytes (UTF-8 Latin-1 letters mapped, others '?'), escaped.
std::string pdf_text(std::string_view s) {
    std::string o;
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        unsigned cp = c;
        if (c >= 0x80) {
            cp = '?';
            if ((c & 0xE0) == 0xC0 && i + 1 < s.size()) {
                unsigned v = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
                if (v >= 0xA0 && v <= 0xFF) cp = v;
                ++i;
            } else {
                while (i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) ++i;
            }
        }
        if (cp == '(' || cp == ')' || cp == '\\') {
            o.push_back('\\');
            o.push_back(static_cast<char>(cp));
        } else if (cp < 0x20 || cp >= 0x80) {
            char b[8];
            std::snprintf(b, sizeof b, "\\%03o", cp < 0x20 ? 0x20u : cp);
            o += b;
        } else {
            o.push_back(static_cast<char>(cp));
        }
    }
    return o;
}

void put16(std::string& o, unsigned v) {
    o.push_back(static_cast<char>(v & 0xFF));
    o.push_back(static_cast<char>((v >> 8) & 0xFF));
}
void put32(std::string& o, std::uint32_t v) {
    put16(o, v & 0xFFFF);
    put16(o, v >> 16);
}

}  // namespace

std::uint32_t crc32(std::string_view data) noexcept {
    static const auto table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFu;
    for (char ch : data) c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

std::string make_zip(std::string_view name, std::string_view data, std::int64_t utc_ms) {
    std::string day, time;
    int dos[2] = {0, 0};
    lima(utc_ms, day, time, dos);
    const std::uint32_t crc = crc32(data);
    const auto size = static_cast<std::uint32_t>(data.size());
    std::string z;
    z.reserve(data.size() + 2 * name.size() + 128);
    // Local file header, the entry stored (method 0) with its sizes and CRC known up front.
    put32(z, 0x04034b50);
    put16(z, 20);      // version needed: 2.0
    put16(z, 0x0800);  // flags: the name is UTF-8
    put16(z, 0);       // stored
    put16(z, static_cast<unsigned>(dos[0]));
    put16(z, static_cast<unsigned>(dos[1]));
    put32(z, crc);
    put32(z, size);
    put32(z, size);
    put16(z, static_cast<unsigned>(name.size()));
    put16(z, 0);
    z += name;
    z += data;
    const auto cd_offset = static_cast<std::uint32_t>(z.size());
    // Central directory.
    put32(z, 0x02014b50);
    put16(z, 20);  // made by: 2.0, MS-DOS attributes
    put16(z, 20);
    put16(z, 0x0800);
    put16(z, 0);
    put16(z, static_cast<unsigned>(dos[0]));
    put16(z, static_cast<unsigned>(dos[1]));
    put32(z, crc);
    put32(z, size);
    put32(z, size);
    put16(z, static_cast<unsigned>(name.size()));
    put16(z, 0);  // extra
    put16(z, 0);  // comment
    put16(z, 0);  // disk
    put16(z, 0);  // internal attributes
    put32(z, 0);  // external attributes
    put32(z, 0);  // offset of the local header
    z += name;
    const auto cd_size = static_cast<std::uint32_t>(z.size()) - cd_offset;
    // End of central directory.
    put32(z, 0x06054b50);
    put16(z, 0);
    put16(z, 0);
    put16(z, 1);
    put16(z, 1);
    put32(z, cd_size);
    put32(z, cd_offset);
    put16(z, 0);
    return z;
}

std::string make_pdf(const file_data& d) {
    std::vector<std::string> lines;
    lines.push_back("RUC " + d.ruc);
    lines.push_back(std::string(d.kind == "anulacion" || d.kind == "reversion" ? "Documento " : "") +
                    serie_numero(d));
    if (!d.fecha.empty()) lines.push_back("Fecha de emision: " + d.fecha);
    if (!d.cliente_numero.empty()) lines.push_back("Cliente: " + d.cliente_tipo + " " + d.cliente_numero);
    if (!d.igv.empty()) lines.push_back("IGV: " + d.currency + " " + d.igv);
    if (!d.total.empty()) lines.push_back("Total: " + d.currency + " " + d.total);
    if (!d.ticket.empty()) lines.push_back("Ticket SUNAT: " + d.ticket);
    if (!d.hash.empty()) lines.push_back("Codigo hash: " + d.hash);
    if (!d.description.empty()) lines.push_back("SUNAT: " + d.description);
    bool first = true;
    for (std::string_view note = d.note; !note.empty(); first = false) {
        auto n = std::min<std::size_t>(note.size(), 90);
        lines.push_back((first ? "Observaciones: " : "  ") + std::string(note.substr(0, n)));
        note.remove_prefix(n);
    }
    lines.push_back("Representacion impresa generada por el emulador de nubefact (no es un comprobante).");

    std::string content = "BT\n/F1 14 Tf\n50 790 Td\n18 TL\n(" + pdf_text(title(d)) + ") Tj\n/F1 11 Tf\n";
    for (const auto& l : lines) content += "T* (" + pdf_text(l) + ") Tj\n";
    content += "ET\n";

    std::string pdf = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
    std::vector<std::size_t> offsets;
    auto obj = [&](const std::string& body) {
        offsets.push_back(pdf.size());
        pdf += std::to_string(offsets.size()) + " 0 obj\n" + body + "\nendobj\n";
    };
    obj("<< /Type /Catalog /Pages 2 0 R >>");
    obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        "/Contents 5 0 R >>");
    obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
    obj("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "endstream");
    obj("<< /Title (" + pdf_text(std::string(title(d)) + " " + serie_numero(d)) +
        ") /Producer (nubefact emulator) >>");
    const std::size_t xref = pdf.size();
    pdf += "xref\n0 " + std::to_string(offsets.size() + 1) + "\n0000000000 65535 f \n";
    for (auto off : offsets) {
        char b[24];
        std::snprintf(b, sizeof b, "%010zu 00000 n \n", off);
        pdf += b;
    }
    pdf += "trailer\n<< /Size " + std::to_string(offsets.size() + 1) +
           " /Root 1 0 R /Info 6 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
    return pdf;
}

std::string make_xml(const file_data& d) {
    std::string o;
    o.reserve(2048);
    std::string day, time;
    lima(d.ms, day, time);
    const std::string cur = "currencyID=\"" + d.currency + "\"";
    if (d.kind == "anulacion" || d.kind == "reversion") {
        open_root(o, "VoidedDocuments",
                  "urn:sunat:names:specification:ubl:peru:schema:xsd:VoidedDocuments-1");
        element(o, "cbc:UBLVersionID", "2.0");
        element(o, "cbc:CustomizationID", "1.0");
        std::string compact = day.substr(0, 4) + day.substr(5, 2) + day.substr(8, 2);
        element(o, "cbc:ID", (d.kind == "anulacion" ? "RA-" : "RR-") + compact + "-1");
        element(o, "cbc:ReferenceDate", iso_or(d.fecha, day));
        element(o, "cbc:IssueDate", day);
        party(o, "AccountingSupplierParty", "6", d.ruc);
        o += "<sac:VoidedDocumentsLine>\n";
        element(o, "cbc:LineID", "1");
        element(o, "cbc:DocumentTypeCode", sunat_document_code(d.tipo));
        element(o, "sac:DocumentSerialID", d.serie);
        element(o, "sac:DocumentNumberID", std::to_string(d.numero));
        o += "</sac:VoidedDocumentsLine>\n</VoidedDocuments>\n";
        return o;
    }
    std::string_view root = "Invoice", ns = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2";
    if (d.kind == "guia") {
        root = "DespatchAdvice";
        ns = "urn:oasis:names:specification:ubl:schema:xsd:DespatchAdvice-2";
    } else if (d.kind == "retencion") {
        root = "Retention";
        ns = "urn:sunat:names:specification:ubl:peru:schema:xsd:Retention-1";
    } else if (d.kind == "percepcion") {
        root = "Perception";
        ns = "urn:sunat:names:specification:ubl:peru:schema:xsd:Perception-1";
    } else if (d.tipo == 3) {
        root = "CreditNote";
        ns = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2";
    } else if (d.tipo == 4) {
        root = "DebitNote";
        ns = "urn:oasis:names:specification:ubl:schema:xsd:DebitNote-2";
    }
    open_root(o, root, ns);
    element(o, "cbc:UBLVersionID", d.kind == "comprobante" || d.kind == "guia" ? "2.1" : "2.0");
    element(o, "cbc:CustomizationID", d.kind == "comprobante" || d.kind == "guia" ? "2.0" : "1.0");
    element(o, "cbc:ID", serie_numero(d));
    element(o, "cbc:IssueDate", iso_or(d.fecha, day));
    if (root == "Invoice") element(o, "cbc:InvoiceTypeCode", sunat_document_code(d.tipo), "listID=\"0101\"");
    if (root == "DespatchAdvice") element(o, "cbc:DespatchAdviceTypeCode", sunat_document_code(d.tipo));
    if (d.kind == "comprobante") element(o, "cbc:DocumentCurrencyCode", d.currency);
    if (!d.hash.empty()) element(o, "cbc:Note", "Codigo hash " + d.hash);
    const bool despatch = root == "DespatchAdvice";
    party(o,
          despatch                  ? "DespatchSupplierParty"
          : d.kind == "comprobante" ? "AccountingSupplierParty"
                                    : "AgentParty",
          "6", d.ruc);
    if (!d.cliente_numero.empty())
        party(o,
              despatch                  ? "DeliveryCustomerParty"
              : d.kind == "comprobante" ? "AccountingCustomerParty"
                                        : "ReceiverParty",
              d.cliente_tipo, d.cliente_numero);
    if (d.kind == "comprobante") {
        o += "<cac:TaxTotal>\n";
        element(o, "cbc:TaxAmount", d.igv.empty() ? "0.00" : d.igv, cur);
        o += "</cac:TaxTotal>\n";
        const char* total_tag = d.tipo == 4 ? "cac:RequestedMonetaryTotal" : "cac:LegalMonetaryTotal";
        o += std::string("<") + total_tag + ">\n";
        element(o, "cbc:PayableAmount", d.total.empty() ? "0.00" : d.total, cur);
        o += std::string("</") + total_tag + ">\n";
    } else if (!d.total.empty()) {
        element(o, d.kind == "retencion" ? "sac:SUNATTotalPaid" : "sac:SUNATTotalCashed", d.total, cur);
    }
    o += "</";
    o += root;
    o += ">\n";
    return o;
}

std::string make_cdr_zip(const file_data& d) {
    std::string day, time;
    lima(d.ms, day, time);
    std::string o;
    o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ar:ApplicationResponse "
         "xmlns:ar=\"urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2\" xmlns:cac=\"";
    o += ns_cac;
    o += "\" xmlns:cbc=\"";
    o += ns_cbc;
    o += "\">\n";
    element(o, "cbc:UBLVersionID", "2.0");
    element(o, "cbc:CustomizationID", "1.0");
    element(o, "cbc:ID", std::to_string(d.ms));
    element(o, "cbc:IssueDate", day);
    element(o, "cbc:IssueTime", time);
    element(o, "cbc:ResponseDate", day);
    element(o, "cbc:ResponseTime", time);
    for (std::string_view note = d.note; !note.empty();) {
        auto sep = note.find("; ");
        element(o, "cbc:Note", note.substr(0, sep));
        note = sep == std::string_view::npos ? std::string_view{} : note.substr(sep + 2);
    }
    o += "<cac:SenderParty><cac:PartyIdentification><cbc:ID>20131312955</cbc:ID></cac:PartyIdentification>"
         "</cac:SenderParty>\n<cac:ReceiverParty><cac:PartyIdentification><cbc:ID>";
    xml_text(o, d.ruc);
    o += "</cbc:ID></cac:PartyIdentification></cac:ReceiverParty>\n<cac:DocumentResponse>\n<cac:Response>\n";
    const std::string ref = d.kind == "anulacion" ? d.ticket : serie_numero(d);
    element(o, "cbc:ReferenceID", ref);
    element(o, "cbc:ResponseCode", d.response_code);
    element(o, "cbc:Description", d.description);
    o += "</cac:Response>\n<cac:DocumentReference>\n";
    element(o, "cbc:ID", ref);
    o += "</cac:DocumentReference>\n</cac:DocumentResponse>\n</ar:ApplicationResponse>\n";
    std::string name = "R-" + d.ruc + "-";
    if (d.kind == "anulacion" || d.kind == "reversion")
        name += (d.kind == "anulacion" ? "RA-" : "RR-") + day.substr(0, 4) + day.substr(5, 2) +
                day.substr(8, 2) + "-1";
    else
        name += std::string(sunat_document_code(d.tipo)) + "-" + serie_numero(d);
    name += ".xml";
    return make_zip(name, o, d.ms);
}

}  // namespace nubefact::emulator::detail

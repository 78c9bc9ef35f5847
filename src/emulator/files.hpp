// The files behind a document's enlace links (.pdf, .xml, .cdr), built from what the emulator keeps.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nubefact::emulator::detail {

// What a document's files show. Text as answered (amounts "18.00", fecha DD-MM-YYYY, "" when unknown).
struct file_data {
    std::string_view kind;  // comprobante, guia, retencion, percepcion, anulacion, reversion
    int tipo = 0;           // Nubefact's tipo_de_comprobante (1-4, 7, 8; 20 retención, 40 percepción)
    std::string serie;
    std::int64_t numero = 0;
    std::string ruc;  // the issuer (the account's RUC)
    std::string fecha;
    std::string cliente_tipo, cliente_numero;
    std::string igv, total;
    std::string currency = "PEN";
    std::string hash;           // codigo_hash
    std::string response_code;  // SUNAT's: "0" accepted, else the rejection code
    std::string description;    // sunat_description
    std::string note;           // sunat_note (observations), may be empty
    std::string ticket;         // anulación: SUNAT's ticket
    std::int64_t ms = 0;        // when SUNAT answered (UTC ms): the CDR's dates and the zip entry's time
};

// A one-page PDF 1.4 with the document's key data (Helvetica, WinAnsi text, exact xref offsets).
std::string make_pdf(const file_data& d);
// The UBL 2.1 document (Invoice, CreditNote, DebitNote, DespatchAdvice; SUNAT's VoidedDocuments,
// Retention, Perception, Reversion for the others), unsigned, header data only, UTF-8.
std::string make_xml(const file_data& d);
// SUNAT's answer (a UBL ApplicationResponse, R-<ruc>-<tipo>-<serie>-<numero>.xml) inside a zip.
std::string make_cdr_zip(const file_data& d);

// A zip archive holding one stored (uncompressed) entry.
std::string make_zip(std::string_view name, std::string_view data, std::int64_t utc_ms);
// CRC-32 (IEEE 802.3, the zip / PNG one).
std::uint32_t crc32(std::string_view data) noexcept;

}  // namespace nubefact::emulator::detail

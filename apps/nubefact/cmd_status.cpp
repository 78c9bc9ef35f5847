// `nubefact status SERIE-NUMERO`: what the store's journal knows about a document.
#include "command.hpp"
#include "json_out.hpp"
#include "store_cli.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <iostream>

namespace nubefact::cli {
namespace {

struct status_args {
    std::string store_url, document, account;
    int tipo = 0;
    bool json_out = false;
};

constexpr const char* status_help =
    R"(Looks a document up in the store's journal, the record `nubefact send` keeps of every document
before it is sent: its state (queued, sending, pending_sunat, accepted, rejected, refused, unknown,
conflict, failed; docs/send.md says what each means and what to do), attempts, Nubefact's codigo,
SUNAT's answer and the PDF/XML/CDR links.

The same SERIE-NUMERO may exist for several accounts or document types: every match is shown;
narrow with --tipo / --account. An anulación of the document is listed too (generar_anulacion).

  nubefact status F001-123
  nubefact status B001-9 --tipo 2 --account acme --json

Exit status: 0 found and accepted, 1 not found or not (yet) accepted, 2 usage or store error.)";

std::optional<std::pair<std::string, std::int64_t>> split_document(const std::string& s) {
    auto dash = s.rfind('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 == s.size()) return std::nullopt;
    std::int64_t n = 0;
    const char* b = s.data() + dash + 1;
    const char* e = s.data() + s.size();
    auto [p, ec] = std::from_chars(b, e, n);
    if (ec != std::errc{} || p != e || n < 0) return std::nullopt;
    return std::make_pair(s.substr(0, dash), n);
}

std::string_view state_text(doc_state s) {
    return to_string(s);
}

int run_status(const status_args& a) {
    auto key = split_document(a.document);
    if (!key) {
        std::cerr << "nubefact status: expected SERIE-NUMERO, e.g. F001-123\n";
        return exit_usage;
    }
    store::document_query q;
    q.serie = key->first;
    q.numero = key->second;
    if (a.tipo > 0) q.tipo = a.tipo;
    q.account = a.account;
    auto s = store_cli::open(a.store_url, "status");
    if (!s) return exit_usage;
    auto docs = s->find_documents(q);
    if (!docs) {
        std::cerr << "nubefact status: " << docs.error().message() << ": " << s->last_error() << "\n";
        return exit_usage;
    }
    bool all_accepted = !docs->empty();
    for (const auto& d : *docs) {
        if (d.state != doc_state::accepted) all_accepted = false;
        if (a.json_out) {
            boost::json::object o;
            o["account"] = d.what.account;
            o["operation"] = to_string(d.what.op);
            o["tipo"] = d.what.key.tipo;
            o["serie"] = d.what.key.serie;
            o["numero"] = d.what.key.numero;
            o["state"] = state_text(d.state);
            o["attempts"] = d.attempts;
            if (d.codigo)
                o["codigo"] = *d.codigo;
            else
                o["codigo"] = nullptr;
            if (d.aceptada_por_sunat)
                o["aceptada_por_sunat"] = *d.aceptada_por_sunat;
            else
                o["aceptada_por_sunat"] = nullptr;
            o["sunat_responsecode"] = d.sunat_responsecode;
            o["sunat_description"] = d.sunat_description;
            o["sunat_note"] = d.sunat_note;
            o["enlace"] = d.enlace;
            o["enlace_del_pdf"] = d.enlace_del_pdf;
            o["enlace_del_xml"] = d.enlace_del_xml;
            o["enlace_del_cdr"] = d.enlace_del_cdr;
            o["error"] = d.error;
            o["payload_hash"] = d.what.payload_hash;
            o["created_at"] = store_cli::iso_utc(d.created_at);
            o["updated_at"] = store_cli::iso_utc(d.updated_at);
            std::cout << to_json(o) << "\n";
            continue;
        }
        std::cout << d.what.key.to_string() << "  tipo " << d.what.key.tipo << "  account " << d.what.account
                  << "  (" << to_string(d.what.op) << ")\n";
        std::cout << "  state:     " << state_text(d.state) << " after " << d.attempts << " attempt"
                  << (d.attempts == 1 ? "" : "s") << "\n";
        if (d.codigo) std::cout << "  codigo:    " << *d.codigo << "\n";
        if (d.aceptada_por_sunat)
            std::cout << "  SUNAT:     " << (*d.aceptada_por_sunat ? "aceptada" : "no aceptada")
                      << (d.sunat_responsecode.empty() ? "" : " (" + d.sunat_responsecode + ")") << "\n";
        if (!d.sunat_description.empty()) std::cout << "  detail:    " << d.sunat_description << "\n";
        if (!d.sunat_note.empty()) std::cout << "  note:      " << d.sunat_note << "\n";
        if (!d.enlace.empty()) std::cout << "  enlace:    " << d.enlace << "\n";
        if (!d.enlace_del_pdf.empty()) std::cout << "  pdf:       " << d.enlace_del_pdf << "\n";
        if (!d.enlace_del_xml.empty()) std::cout << "  xml:       " << d.enlace_del_xml << "\n";
        if (!d.enlace_del_cdr.empty()) std::cout << "  cdr:       " << d.enlace_del_cdr << "\n";
        if (!d.error.empty()) std::cout << "  error:     " << d.error << "\n";
        std::cout << "  journaled: " << store_cli::iso_utc(d.created_at)
                  << ", updated: " << store_cli::iso_utc(d.updated_at) << "\n";
    }
    if (docs->empty()) std::cerr << "nubefact status: " << a.document << " is not in the store\n";
    return all_accepted ? exit_ok : exit_failed;
}

const registrar reg{
    command{"status", "Show what the store knows about a document (state, SUNAT answer, links)",
            [](CLI::App& sub) -> std::function<int()> {
                auto a = std::make_shared<status_args>();
                sub.footer(status_help);
                sub.add_option("document", a->document, "SERIE-NUMERO, e.g. F001-123")->required();
                sub.add_option("--store", a->store_url, store_cli::store_option_help);
                sub.add_option("--tipo", a->tipo,
                               "tipo_de_comprobante (1 factura, 2 boleta, 3 NC, 4 ND, 7 guía, ...)")
                    ->check(CLI::Range(1, 99));
                sub.add_option("--account", a->account, "Only this account");
                sub.add_flag("--json", a->json_out, "One JSON object per matching record");
                return [a] { return run_status(*a); };
            },
            85}};

}  // namespace
}  // namespace nubefact::cli

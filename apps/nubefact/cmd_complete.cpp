// `nubefact complete FILE…`: fills the computed fields (subtotal, igv, totals…) from the minimal inputs.
#include "command.hpp"
#include "output.hpp"
#include "validate_input.hpp"

#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>

#include <iostream>
#include <memory>

namespace nubefact::cli {
namespace {

struct complete_args {
    std::vector<std::string> files;
    std::string output;
    bool pretty = false;
    bool keep = false;
    int year = 0;
    bool check = false;
    bool force_jsonl = false;
    bool force_array = false;
    bool local_fields = false;
};

constexpr const char* complete_help =
    R"(Fills every computed field of generar_comprobante documents from what a person knows, with the
same exact arithmetic `validate` checks (half-up to 2 decimals per line, header = sum of the lines):

  per item   cantidad, valor_unitario (without IGV) or precio_unitario (with IGV), tipo_de_igv or
             tipo_de_ivap, optional descuento, isc (or tipo_de_isc 1 + nubefact_porcentaje_isc),
             otros_cargos, anticipo_regularizacion, and nubefact_bolsas (number of plastic bags:
             impuesto_bolsas = bags x the ICBPER rate of the issue year, 0.10 in 2019 ... 0.50 from 2023)
  -> valor_unitario (from precio, 10 decimals), precio_unitario, subtotal, isc, igv, impuesto_bolsas, total
  header     porcentaje_de_igv (default 18; 4 for IVAP-only documents), descuento_global,
             percepcion_tipo, retencion_tipo, detraccion_porcentaje
  -> total_descuento, total_anticipo, total_gravada / exonerada / inafecta / gratuita, total_igv,
     total_isc, total_impuestos_bolsas, total_otros_cargos, total, percepción / retención /
     detracción amounts

Minimal input, e.g. borrador.json:
  {"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"FFF1","numero":101,
   "sunat_transaction":1,"cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771",
   "cliente_denominacion":"CLIENTE SAC","cliente_direccion":"LIMA","fecha_de_emision":"15-01-2026",
   "moneda":1,"items":[{"unidad_de_medida":"NIU","descripcion":"LAPICERO","cantidad":7,
   "precio_unitario":2.50,"tipo_de_igv":1}]}
  nubefact complete --pretty borrador.json
gives valor_unitario 2.1186440678, subtotal 14.83, igv 2.67, total 17.50 and the header totals.

FILE may be a JSON object, a JSON array, JSONL, CSV (*.csv), a directory or '-', read exactly as
`send` reads them. The output has the shape of the input: one object, an array, or JSONL (several
input files, or CSV with several documents, give JSONL unless --array). Other operations
(anulación, guía, consultas) are written back unchanged. A document that cannot be parsed is
written back as it was and reported on stderr; a framing problem (docs/send.md, Inputs) is reported
with its line, and what was read of the document is written back too, except into an array.

-o FILE is written to a temporary file and renamed over FILE at the end, so FILE is never left
half-written; an output that is also an input is refused before anything is touched, and when an
input cannot be read FILE keeps its old content.

Exit status: 0 all completed, 1 some document could not be read as JSON or a framing problem (or
--check found errors), 2 usage error, an input that cannot be read or holds no document, or an
output that cannot be written.)";

enum class out_shape { object, array, jsonl };

int run_complete(const complete_args& a) {
    using namespace fiscal_io;
    if (a.force_array && a.force_jsonl) {
        std::cerr << "nubefact complete: --array and --jsonl exclude each other\n";
        return exit_usage;
    }
    fiscal::complete_options copts;
    copts.overwrite = !a.keep;
    if (a.year) copts.default_year = a.year;
    json::write_options wopts;
    wopts.pretty = a.pretty;
    wopts.local_fields = a.local_fields;

    // Checked before anything is opened for writing, so a refused run leaves every file as it was.
    const bool to_file = !a.output.empty() && a.output != "-";
    if (to_file) {
        if (auto input = output_is_input(a.output, a.files)) {
            std::cerr << "nubefact complete: refusing to write " << a.output << ": it is also an input ("
                      << *input << "); write to another file, then rename it\n";
            return exit_usage;
        }
    }
    std::optional<atomic_file> file;
    if (to_file) {
        file.emplace(a.output);
        if (!file->ok()) {
            std::cerr << "nubefact complete: cannot write " << file->error() << "\n";
            return exit_usage;
        }
    }
    auto put = [&](std::string_view text) {
        if (file)
            file->write(text);
        else
            std::fwrite(text.data(), 1, text.size(), stdout);
    };

    // The reader `send` uses. One entry of look-ahead gives the output the shape of the input: an
    // array stays an array, a second document from the same file means JSONL, else one object.
    input_stream in(a.files);
    std::optional<source_document> ahead[2];
    ahead[0] = in.next();
    if (ahead[0]) ahead[1] = in.next();
    out_shape shape = out_shape::object;
    if (a.force_array)
        shape = out_shape::array;
    else if (a.force_jsonl || a.files.size() > 1 || (ahead[1] && ahead[1]->source != ahead[0]->source))
        shape = out_shape::jsonl;
    else if (ahead[0] && ahead[0]->shape == json::input_shape::array)
        shape = out_shape::array;
    else if (ahead[1])
        shape = out_shape::jsonl;

    bool unreadable = false, failed = false;
    std::size_t written = 0;
    auto emit = [&](const std::string& text) {
        if (shape == out_shape::array)
            put(written == 0 ? (a.pretty ? "[\n" : "[") : (a.pretty ? ",\n" : ","));
        else if (shape == out_shape::object && written > 0)
            put("\n");
        put(text);
        if (shape == out_shape::jsonl) put("\n");
        ++written;
    };
    // Written back as it was (one line in JSONL), so nothing of the input is lost.
    auto echo = [&](std::string original) {
        if (shape == out_shape::jsonl) std::replace(original.begin(), original.end(), '\n', ' ');
        emit(original);
    };
    auto handle = [&](const source_document& d) {
        const std::string name = display_name(d.source);
        if (d.input_error()) {
            std::cerr << "nubefact complete: " << name << ": " << d.error->message << "\n";
            unreadable = true;
            return;
        }
        if (d.error) {
            failed = true;
            std::cerr << human(name, d.line, *d.error, d.document ? "(document)" : "(input)") << "\n";
            // Copied back unless it would break the output's framing: an array's text must stay
            // one JSON value, a document without its closing brace would swallow what follows.
            if (d.document && !d.text.empty() && shape != out_shape::array) echo(d.text);
            return;
        }
        auto r = json::read_request(d.text);
        // A hand-written draft may omit `operacion`: read it as a generar_comprobante.
        const bool no_op = std::any_of(r.findings.begin(), r.findings.end(), [](const finding& f) {
            return f.path == "operacion" && f.code == "required";
        });
        if (no_op) r = json::read_comprobante(d.text);
        if (has_errors(r.findings)) {
            failed = true;
            for (const auto& f : r.findings)
                if (f.level == severity::error)
                    std::cerr << human(name, line_of(d.text, d.line, f.path), f) << "\n";
            echo(d.text);
            return;
        }
        json::write_options w = wopts;
        if (shape == out_shape::jsonl) w.pretty = false;
        if (auto* c = std::get_if<comprobante>(&r.doc)) {
            fiscal::complete(*c, copts);
            if (a.check) {
                for (const auto& f : fiscal::check(*c)) {
                    if (f.level == severity::error) failed = true;
                    std::cerr << human(name, line_of(d.text, d.line, f.path), f) << "\n";
                }
            }
            emit(json::write(*c, w));
        } else {
            emit(json::write(r.doc, w));
        }
    };
    for (auto& d : ahead)
        if (d) handle(*d);
    while (auto d = in.next()) handle(*d);

    if (shape == out_shape::array) {
        if (written == 0) put("[");
        put(a.pretty && written ? "\n]\n" : "]\n");
    } else if (shape == out_shape::object && written > 0) {
        put("\n");
    }
    if (file) {
        if (unreadable) {
            // Half of a batch would pass for all of it: the target keeps its old content.
            file->discard();
            std::cerr << "nubefact complete: " << a.output << " not written: an input could not be read\n";
            return exit_usage;
        }
        if (!file->commit()) {
            std::cerr << "nubefact complete: cannot write " << file->error() << "\n";
            return exit_usage;
        }
    } else if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
        std::cerr << "nubefact complete: cannot write to standard output: " << std::strerror(errno) << "\n";
        return exit_usage;
    }
    if (unreadable) return exit_usage;
    return failed ? exit_failed : exit_ok;
}

const registrar reg{command{
    "complete", "Fill the computed fields (subtotal, igv, totals) from the minimal inputs",
    [](CLI::App& sub) -> std::function<int()> {
        auto a = std::make_shared<complete_args>();
        sub.footer(complete_help);
        sub.add_option("files", a->files,
                       "JSON / JSON array / JSONL / CSV files, directories, or - for stdin")
            ->required();
        sub.add_option("-o,--output", a->output, "Write to this file instead of standard output");
        sub.add_flag("--pretty", a->pretty,
                     "Indent the output for people (objects and arrays; JSONL stays one line)");
        sub.add_flag("--keep", a->keep, "Only fill missing fields; keep computed fields already present");
        sub.add_option("--year", a->year,
                       "Year for the ICBPER bag rate when a document has no fecha_de_emision")
            ->check(CLI::Range(2019, 2100));
        sub.add_flag("--check", a->check, "Also run the validate rules and report findings on stderr");
        sub.add_flag("--jsonl", a->force_jsonl, "Write JSONL whatever the input shape");
        sub.add_flag("--array", a->force_array, "Write one JSON array whatever the input shape");
        sub.add_flag("--local-fields", a->local_fields,
                     "Keep the local inputs nubefact_bolsas / nubefact_porcentaje_isc in the output (not for "
                     "sending)");
        return [a] { return run_complete(*a); };
    },
    21}};

}  // namespace
}  // namespace nubefact::cli

// `nubefact validate FILE…`: offline check of documents (codec + fiscal rules), one line per finding.
#include "command.hpp"
#include "validate_input.hpp"

#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>

#include <iostream>

namespace nubefact::cli {
namespace {

struct validate_args {
    std::vector<std::string> files;
    bool json_out = false;
    bool lenient = false;
    std::string tolerance;
    std::string today;
    bool check_date = false;
    int max_age_days = 7;
    bool quiet = false;
    bool no_warnings = false;
};

constexpr const char* validate_help =
    R"(Checks documents offline, without sending anything: the JSON shape and types (as Nubefact reads
them), the catalogues (tipo_de_comprobante, sunat_transaction, tipo_de_igv, ...), series and numbers,
RUC check digits, dates, notes and their modified documents, cuotas, detracción / percepción /
retención, and every computed amount recomputed exactly (half-up to 2 decimals per line, header =
sum of the rounded lines). Each problem names its field:

  ventas.jsonl:37 items[1].igv: items[1].igv does not match the arithmetic of the document. (expected 2.67, got 2.68)

FILE may be a JSON object, a JSON array of objects, JSONL (one object per line), CSV (*.csv, one row
per item, as `send` reads it), a directory (its *.json, *.jsonl and *.csv files) or '-' for standard
input, read exactly as `send` reads them. Every operation is understood (generar_comprobante,
generar_anulacion, generar_guia, consultas, retención, percepción). A file that cannot be split into
documents (a ',' between objects, a missing ']' or quote, a document over 1 MiB) gets one finding
per problem with its line, and the documents around it are still checked (docs/send.md, Inputs).

Dates: fecha_de_emision is only compared with "today" when you ask for it, with --today DD-MM-YYYY
or --check-date (today in Lima). A document older than --max-age-days (default 7) is reported as
out_of_period (Nubefact answers codigo 22), a future one as future_date.

Arithmetic: exact by default; --tolerance 0.01 accepts differences up to one cent per amount;
--lenient reports mismatches as warnings (like Nubefact's demo environment) instead of errors.
The rules and every finding code are listed in docs/validation.md.

Exit status: 0 every document valid (warnings allowed), 1 some document invalid or a framing problem,
2 usage error, or an input that cannot be read or holds no document.

Examples:
  nubefact validate factura.json
  nubefact validate --today 15-01-2026 ventas.jsonl
  cat lote.json | nubefact validate --json - > findings.jsonl
  nubefact complete borrador.json | nubefact validate -)";

int run_validate(const validate_args& a) {
    using namespace fiscal_io;
    fiscal::check_options opts;
    opts.lenient = a.lenient;
    opts.max_age_days = a.max_age_days;
    if (!a.tolerance.empty()) {
        auto t = decimal::parse(a.tolerance);
        if (!t || t->is_negative()) {
            std::cerr << "nubefact validate: --tolerance must be a non-negative number (e.g. 0.01)\n";
            return exit_usage;
        }
        opts.tolerance = *t;
    }
    if (!a.today.empty()) {
        auto d = date::parse(a.today);
        if (!d) {
            std::cerr << "nubefact validate: --today must be a date DD-MM-YYYY\n";
            return exit_usage;
        }
        opts.today = *d;
    } else if (a.check_date) {
        opts.today = lima_today();
    }

    bool unreadable = false;
    std::size_t docs = 0, invalid = 0, n_errors = 0, n_warnings = 0, framing = 0;
    std::string out;
    auto flush = [&] {
        std::cout << out;
        out.clear();
    };
    // The reader `send` uses: the same documents, lines and framing problems.
    input_stream in(a.files);
    while (auto d = in.next()) {
        const std::string name = display_name(d->source);
        if (d->input_error()) {
            std::cerr << "nubefact validate: " << name << ": " << d->error->message << "\n";
            unreadable = true;
            continue;
        }
        std::vector<finding> fs;
        if (d->error) {
            fs.push_back(*d->error);  // a framing problem: nothing to parse
        } else {
            auto r = json::read_request(d->text);
            fs = std::move(r.findings);
            if (!has_errors(fs)) {
                auto more = fiscal::check(r.doc, opts);
                fs.insert(fs.end(), std::make_move_iterator(more.begin()),
                          std::make_move_iterator(more.end()));
                std::stable_partition(fs.begin(), fs.end(),
                                      [](const finding& f) { return f.level == severity::error; });
            }
        }
        std::size_t e = 0, w = 0;
        for (const auto& f : fs) (f.level == severity::error ? e : w)++;
        n_errors += e;
        n_warnings += w;
        if (!d->document) {
            ++framing;
        } else {
            ++docs;
            if (e) ++invalid;
        }
        if (a.json_out) {
            out += "{\"file\":";
            json_string(out, name);
            out += ",\"line\":" + std::to_string(d->line) +
                   ",\"index\":" + (d->document ? std::to_string(d->index) : std::string("null")) +
                   ",\"valid\":" + (e ? "false" : "true") + ",\"errors\":" + std::to_string(e) +
                   ",\"warnings\":" + std::to_string(w) + ",\"findings\":[";
            bool first = true;
            for (const auto& f : fs) {
                if (a.no_warnings && f.level == severity::warning) continue;
                if (!first) out += ",";
                first = false;
                out += finding_json(f, line_of(d->text, d->line, f.path));
            }
            out += "]}\n";
        } else {
            for (const auto& f : fs) {
                if (a.no_warnings && f.level == severity::warning) continue;
                out +=
                    human(name, line_of(d->text, d->line, f.path), f, d->document ? "(document)" : "(input)");
                out += '\n';
            }
        }
        if (out.size() > (1 << 16)) flush();
    }
    flush();
    std::cout.flush();
    if (!a.quiet) {
        std::cerr << docs << (docs == 1 ? " document: " : " documents: ") << (docs - invalid) << " valid, "
                  << invalid << " invalid (" << n_errors << (n_errors == 1 ? " error, " : " errors, ")
                  << n_warnings << (n_warnings == 1 ? " warning)" : " warnings)");
        if (framing)
            std::cerr << "; " << framing << (framing == 1 ? " framing problem" : " framing problems")
                      << " between documents";
        std::cerr << "\n";
    }
    if (unreadable) return exit_usage;
    return invalid || framing ? exit_failed : exit_ok;
}

const registrar reg{command{
    "validate", "Check documents offline: fields, catalogues and every total (no network)",
    [](CLI::App& sub) -> std::function<int()> {
        auto a = std::make_shared<validate_args>();
        sub.footer(validate_help);
        sub.add_option("files", a->files,
                       "JSON / JSON array / JSONL / CSV files, directories, or - for stdin")
            ->required();
        sub.add_flag(
            "--json", a->json_out,
            "One JSON line per document: {file,line,index,valid,errors,warnings,findings:[{path,line,"
            "code,severity,message,expected,actual}]}");
        sub.add_flag("--lenient", a->lenient,
                     "Report arithmetic mismatches as warnings (Nubefact demo behaviour)");
        sub.add_option("--tolerance", a->tolerance,
                       "Accept |expected - actual| up to this amount (default exact)");
        sub.add_option("--today", a->today, "Check fecha_de_emision against this date (DD-MM-YYYY)");
        sub.add_flag("--check-date", a->check_date, "Check fecha_de_emision against today's date in Lima");
        sub.add_option("--max-age-days", a->max_age_days,
                       "Oldest accepted fecha_de_emision, in days (default 7)")
            ->check(CLI::Range(0, 3650));
        sub.add_flag("--no-warnings", a->no_warnings, "Print errors only");
        sub.add_flag("-q,--quiet", a->quiet, "No summary line on stderr");
        return [a] { return run_validate(*a); };
    },
    20}};

}  // namespace
}  // namespace nubefact::cli

// The emulator's request handling and state: routing, auth, validation, documents, faults, stats.
#include "core.hpp"

#include "files.hpp"

#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>
#include <nubefact/wire.hpp>

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <random>

namespace nubefact::emulator::detail {
namespace {

// Nubefact's texts (one place: nubefact::api_message).
const std::string_view msg_10 = api_message(api_errc::token_invalid);
const std::string_view msg_11 = api_message(api_errc::ruta_invalid);
const std::string_view msg_12 = api_message(api_errc::content_type);
const std::string_view msg_20 = api_message(api_errc::bad_format);
const std::string_view msg_23 = api_message(api_errc::already_exists);
const std::string_view msg_24 = api_message(api_errc::not_found);
const std::string_view msg_40 = api_message(api_errc::internal);
const std::string_view msg_50 = api_message(api_errc::account_suspended);
const std::string_view msg_51 = api_message(api_errc::suspended_nonpayment);

int outcome_for_codigo(api_errc c) {
    switch (c) {
        case api_errc::token_invalid:
            return out_c10;
        case api_errc::ruta_invalid:
            return out_c11;
        case api_errc::content_type:
            return out_c12;
        case api_errc::bad_format:
            return out_c20;
        case api_errc::operation_failed:
            return out_c21;
        case api_errc::out_of_period:
            return out_c22;
        case api_errc::already_exists:
            return out_c23;
        case api_errc::not_found:
            return out_c24;
        case api_errc::internal:
            return out_c40;
        case api_errc::account_suspended:
            return out_c50;
        case api_errc::suspended_nonpayment:
            return out_c51;
    }
    return out_c40;
}

std::string key_text(const document_key& k) {
    return k.serie + "-" + std::to_string(k.numero);
}

std::string_view tipo_name(int tipo) {
    switch (tipo) {
        case 1:
            return "La Factura";
        case 2:
            return "La Boleta";
        case 3:
            return "La Nota de Crédito";
        case 4:
            return "La Nota de Débito";
        case 20:
            return "El Comprobante de Retención";
        case 40:
            return "El Comprobante de Percepción";
    }
    return "El documento";
}

bool is_comprobante_op(operation op) {
    return traits(op).family == document_family::comprobante;
}
bool is_guia_op(operation op) {
    return traits(op).family == document_family::guia;
}
bool is_retencion_op(operation op) {
    return traits(op).family == document_family::retencion;
}
bool is_percepcion_op(operation op) {
    return traits(op).family == document_family::percepcion;
}

// Field names are literals that need no escaping: written as they are.
void field(std::string& o, std::string_view name) {
    if (o.size() > 1) o.push_back(',');
    o.push_back('"');
    o.append(name);
    o += "\":";
}
void str_field(std::string& o, std::string_view name, std::string_view v) {
    field(o, name);
    append_json_string(o, v);
}
void null_field(std::string& o, std::string_view name) {
    field(o, name);
    o += "null";
}
void append_int(std::string& o, std::int64_t v) {
    char num[24];
    auto r = std::to_chars(num, num + sizeof num, v);
    o.append(num, r.ptr);
}
void int_field(std::string& o, std::string_view name, std::int64_t v) {
    field(o, name);
    append_int(o, v);
}
void bool_field(std::string& o, std::string_view name, bool v) {
    field(o, name);
    o += v ? "true" : "false";
}
hash_str sha1_base64_fixed(std::string_view data) {
    char out[28];
    sha1_base64_to(data, out);
    return hash_str(std::string_view(out, 28));
}

// Message text for codigo 20 built from a finding.
std::string format_message(const finding& f) {
    std::string m{msg_20};
    m += ": ";
    if (!f.path.empty()) {
        m += f.path;
        m += ": ";
    }
    m += f.message.empty() ? f.code : f.message;
    if (m.size() > 400) m.resize(400);
    return m;
}

// The first half of a document's uuid: its key times an odd constant (a bijection on 64 bits).
constexpr std::uint64_t uuid_mul = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t inverse(std::uint64_t k) {
    std::uint64_t x = k;  // Newton's iteration doubles the correct low bits each step
    for (int i = 0; i < 6; ++i) x *= 2 - k * x;
    return x;
}
static_assert(uuid_mul * inverse(uuid_mul) == 1);

// The packed key a uuid made by make_uuid() carries; nullopt when it is not hex of that shape.
std::optional<std::uint64_t> uuid_key(std::string_view u) {
    if (u.size() != 36) return std::nullopt;
    std::uint64_t a = 0;
    int i = 0;
    for (std::size_t pos = 0; pos < 18; ++pos) {
        if (pos == 8 || pos == 13) {
            if (u[pos] != '-') return std::nullopt;
            continue;
        }
        const char c = u[pos];
        std::uint64_t v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 99;
        if (v > 15) return std::nullopt;
        a |= v << (i++ * 4);
    }
    return a * inverse(uuid_mul);
}

// SUNAT's observation (4xxx: accepted, reported in sunat_note) for a mismatch at `path`, when SUNAT has
// one; fact sheet §6.7 and SUNAT's error catalogue.
const char* observation_for(std::string_view path) {
    const bool item = path.starts_with("items[");
    if (item)
        path.remove_prefix(path.find("].") == std::string_view::npos ? path.size() : path.find("].") + 2);
    struct entry {
        std::string_view field;
        bool item;
        const char* text;
    };
    static constexpr entry table[] = {
        {"igv", true,
         "4318 - El dato ingresado en el campo cac:TaxSubtotal/cbc:TaxAmount del ítem no coincide con "
         "el valor calculado"},
        {"subtotal", true, "4288 - El valor de venta por ítem difiere de los importes consignados"},
        {"precio_unitario", true,
         "4287 - El precio unitario de la operación que está informando difiere de los cálculos realizados "
         "en "
         "base a la información remitida"},
        {"total", true,
         "4287 - El precio unitario de la operación que está informando difiere de los cálculos realizados "
         "en "
         "base a la información remitida"},
        {"isc", true, "4359 - El monto de ISC de la línea no coincide con el valor calculado"},
        {"total_gravada", false,
         "4299 - La sumatoria del total valor de venta - operaciones gravadas de línea no corresponden al "
         "total"},
        {"total_exonerada", false,
         "4297 - La sumatoria del total valor de venta - operaciones exoneradas de línea no corresponden al "
         "total"},
        {"total_inafecta", false,
         "4296 - La sumatoria del total valor de venta - operaciones inafectas de línea no corresponden al "
         "total"},
        {"total_gratuita", false,
         "4298 - La sumatoria del total valor de venta - operaciones gratuitas de línea no corresponden al "
         "total"},
        {"total_igv", false, "4290 - El cálculo del IGV es Incorrecto"},
        {"total_isc", false,
         "4305 - La sumatoria del total del importe del tributo ISC de línea no corresponden al total"},
        {"total_impuestos_bolsas", false,
         "4321 - La sumatoria del total del importe del tributo ICBPER de línea no corresponden al total"},
        {"total_descuento", false,
         "4307 - La sumatoria consignados en descuentos globales no corresponden al total"},
        {"total_otros_cargos", false,
         "4308 - La sumatoria consignados en cargos globales no corresponden al total"},
        {"total", false, "4312 - El importe total del comprobante no coincide con el valor calculado"},
    };
    for (const auto& e : table)
        if (e.item == item && e.field == path) return e.text;
    return nullptr;
}

// SUNAT tolerates arithmetic differences up to 1.00 (fact sheet §6.7).
std::optional<std::string> sunat_observation(const finding& f) {
    const char* text = observation_for(f.path);
    if (!text) return std::nullopt;
    auto expected = decimal::parse(f.expected);
    if (!expected) return std::nullopt;
    auto actual = f.actual.empty() ? result<decimal>(decimal{}) : decimal::parse(f.actual);
    if (!actual) return std::nullopt;
    // IGV on a line that has none (free, exonerado, inafecto, export): SUNAT's 3110, a rejection.
    if (f.path.ends_with("].igv") && expected->is_zero() && !actual->is_zero()) return std::nullopt;
    if ((*expected - *actual).abs() > decimal::from_int(1)) return std::nullopt;
    return std::string(text) + " (" + f.path + ": " + (f.actual.empty() ? "ausente" : f.actual) +
           ", calculado " + f.expected + ")";
}

std::string_view currency_of(int moneda) {
    switch (moneda) {
        case 2:
            return "USD";
        case 3:
            return "EUR";
        case 4:
            return "GBP";
    }
    return "PEN";
}

std::optional<std::int64_t> cents(const opt_dec& d) {
    if (!d) return std::nullopt;
    return static_cast<std::int64_t>(d->round(2).raw() / 100'000'000);
}

// The fields the emulator needs, from the codec's typed document.
void fill_view(const json::read_result& rr, doc_view& v) {
    if (rr.op) v.operacion = std::string(to_string(*rr.op));
    std::visit(
        [&](const auto& d) {
            using T = std::decay_t<decltype(d)>;
            v.serie = d.serie;
            v.numero = d.numero;
            if constexpr (!std::is_same_v<T, retencion_percepcion>) v.tipo = d.tipo_de_comprobante;
            if constexpr (std::is_same_v<T, comprobante> || std::is_same_v<T, guia> ||
                          std::is_same_v<T, retencion_percepcion>) {
                v.fecha = d.fecha_de_emision;
                if (d.fecha_de_emision) v.fecha_text = d.fecha_de_emision->to_wire();
                v.cliente_tipo = d.cliente_tipo_de_documento.value_or("");
                v.cliente_numero = d.cliente_numero_de_documento.value_or("");
            }
            if constexpr (std::is_same_v<T, comprobante>) {
                v.total_cents = cents(d.total);
                v.igv_cents = cents(d.total_igv);
                v.moneda = d.moneda.value_or(1);
            }
            if constexpr (std::is_same_v<T, retencion_percepcion>) v.total_cents = cents(d.total_pagado);
            if constexpr (std::is_same_v<T, comprobante> || std::is_same_v<T, retencion_percepcion>)
                v.codigo_unico = d.codigo_unico.value_or("");
            if constexpr (std::is_same_v<T, anulacion> || std::is_same_v<T, consulta>)
                v.motivo = d.motivo.value_or("");
        },
        rr.doc);
}

}  // namespace

std::optional<std::uint64_t> pack_key(const document_key& k) noexcept {
    std::uint64_t t = 0;
    switch (k.tipo) {
        case 1:
        case 2:
        case 3:
        case 4:
            t = static_cast<std::uint64_t>(k.tipo - 1);
            break;
        case 7:
            t = 4;
            break;
        case 8:
            t = 5;
            break;
        case 20:
            t = 6;
            break;
        case 40:
            t = 7;
            break;
        default:
            return std::nullopt;
    }
    if (k.serie.size() != 4 || k.numero < 0 || k.numero >= (std::int64_t{1} << 27)) return std::nullopt;
    std::uint32_t s = 0;
    std::memcpy(&s, k.serie.data(), 4);
    return (t << 59) | (std::uint64_t{s} << 27) | static_cast<std::uint64_t>(k.numero);
}

std::string outcome_name(int o) {
    static constexpr int codigos[] = {0, 10, 11, 12, 20, 21, 22, 23, 24, 40, 50, 51};
    if (o == out_ok) return "ok";
    if (o < out_h404) return "codigo_" + std::to_string(codigos[o]);
    switch (o) {
        case out_h404:
            return "http_404";
        case out_h405:
            return "http_405";
        case out_h413:
            return "http_413";
        case out_h431:
            return "http_431";
        case out_h400:
            return "http_400";
    }
    return "fault_" + std::string(to_string(static_cast<fault_kind>(o - out_fault0)));
}

// What the body says, once read (and validated when options::validate).
struct core::parsed {
    std::optional<operation> op;
    doc_view v;
    std::string canonical_owned;  // json::write of the document (validation on)
    std::string_view canonical;   // text hashed into codigo_hash: canonical_owned or the body
    std::optional<reply> fail;
    bool assign = false;  // generar_* without numero, options::assign_numero: process() assigns one
    std::string note;     // SUNAT's observations (options::sunat_tolerance)
};

core::core(options opts) : opts_(std::move(opts)) {
    if (opts_.accounts.empty()) opts_.accounts.push_back(demo_account());
    for (auto& a : opts_.accounts) add_account(a);
    auto cfg = std::make_shared<dyn_config>();
    cfg->latency = opts_.latency;
    cfg->latency_by_op = opts_.latency_by_op;
    cfg->faults = opts_.faults;
    cfg->reject = opts_.sunat_reject;
    cfg_ = std::move(cfg);
    if (!opts_.clock) opts_.clock = [] { return std::chrono::system_clock::now(); };
    if (opts_.stall_for > opts_.max_stall) opts_.stall_for = opts_.max_stall;
    scheme_ = opts_.tls ? "https://" : "http://";
    if (!opts_.state_file.empty()) {
        // Documents replayed from the state file keep their uuids; new ones must never repeat them,
        // while a run without a state file stays reproducible from --seed.
        std::random_device rd;
        uuid_nonce_ = (std::uint64_t{rd()} << 32) ^ rd() ^
                      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
}

core::~core() {
    if (state_) std::fclose(state_);
}

std::int64_t core::now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(opts_.clock().time_since_epoch()).count();
}

std::int64_t core::today_days() const {
    auto ms = now_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(opts_.utc_offset).count();
    auto d = ms / 86'400'000;
    if (ms < 0 && ms % 86'400'000) --d;
    return d;
}

uuid_str core::make_uuid(rng_t& rng, std::uint64_t packed_key) const {
    static constexpr char hex[] = "0123456789abcdef";
    std::uint64_t a = packed_key * uuid_mul, b = rng() ^ uuid_nonce_;
    std::array<char, 36> s{};
    std::size_t n = 0;
    for (int i = 0; i < 32; ++i) {
        if (i == 8 || i == 12 || i == 16 || i == 20) s[n++] = '-';
        std::uint64_t w = i < 16 ? a : b;
        s[n++] = hex[(w >> ((i % 16) * 4)) & 15];
    }
    return uuid_str(std::string_view(s.data(), n));
}

std::string core::link(std::string_view kind, std::string_view uuid) const {
    std::string s(scheme_);
    s += link_host_;
    s.push_back('/');
    s += kind;
    s.push_back('/');
    s += uuid;
    return s;
}

// ---- accounts -------------------------------------------------------------------------------------

void core::add_account(account a) {
    auto slot = std::make_shared<account_slot>();
    slot->state.store(static_cast<int>(a.state));
    slot->acct = std::move(a);
    slot->docs.reserve(1 << 16);  // fewer rehashes of a large table under load
    std::unique_lock lk(accounts_mu_);
    auto& cur = accounts_[slot->acct.ruta_id];
    if (cur) {
        // Same ruta again: replace tokens/state, keep documents.
        std::lock_guard dl(cur->mu);
        cur->acct.tokens = slot->acct.tokens;
        cur->acct.ruc = slot->acct.ruc;
        cur->state.store(slot->state.load());
        return;
    }
    cur = slot;
    account_order_.push_back(slot);
}

bool core::set_account_state(std::string_view ruta, account_state s) {
    auto a = find_account(ruta);
    if (!a) return false;
    a->state.store(static_cast<int>(s));
    return true;
}

const account& core::first_account() const {
    std::shared_lock lk(accounts_mu_);
    return account_order_.front()->acct;
}

std::shared_ptr<account_slot> core::find_account(std::string_view ruta) const {
    std::shared_lock lk(accounts_mu_);
    auto it = accounts_.find(std::string(ruta));
    return it == accounts_.end() ? nullptr : it->second;
}

// ---- configuration --------------------------------------------------------------------------------

void core::push_fault(scripted_fault f) {
    if (f.count <= 0) return;
    std::lock_guard lk(faults_mu_);
    scripted_.push_back(f);
    scripted_count_.store(static_cast<int>(scripted_.size()));
}

void core::clear_faults() {
    std::lock_guard lk(faults_mu_);
    scripted_.clear();
    scripted_count_.store(0);
}

void core::set_fault_rates(const fault_rates& r) {
    std::lock_guard lk(cfg_mu_);
    auto c = std::make_shared<dyn_config>(*cfg_);
    c->faults = r;
    cfg_ = std::move(c);
}

void core::set_latency(const latency_model& m, std::optional<operation> only) {
    std::lock_guard lk(cfg_mu_);
    auto c = std::make_shared<dyn_config>(*cfg_);
    if (only)
        c->latency_by_op[*only] = m;
    else {
        c->latency = m;
        c->latency_by_op.clear();
    }
    cfg_ = std::move(c);
}

void core::set_sunat_reject(std::vector<reject_rule> rules) {
    std::lock_guard lk(cfg_mu_);
    auto c = std::make_shared<dyn_config>(*cfg_);
    c->reject = std::move(rules);
    cfg_ = std::move(c);
}

std::optional<fault_kind> core::pick_fault(int op, rng_t& rng, const dyn_config& cfg) {
    if (scripted_count_.load(std::memory_order_relaxed) > 0) {
        std::lock_guard lk(faults_mu_);
        for (auto it = scripted_.begin(); it != scripted_.end(); ++it) {
            if (it->only && (op >= op_count || static_cast<int>(*it->only) != op)) continue;
            auto k = it->kind;
            if (--it->count <= 0) scripted_.erase(it);
            scripted_count_.store(static_cast<int>(scripted_.size()));
            return k;
        }
    }
    if (!cfg.faults.any()) return std::nullopt;
    double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    double acc = 0;
    for (int i = 0; i < fault_kind_count; ++i) {
        acc += cfg.faults.p[i];
        if (u < acc) return static_cast<fault_kind>(i);
    }
    return std::nullopt;
}

std::chrono::microseconds core::sample_latency(int op, rng_t& rng, const dyn_config& cfg) const {
    const latency_model* m = &cfg.latency;
    if (op < op_count && !cfg.latency_by_op.empty()) {
        auto it = cfg.latency_by_op.find(static_cast<operation>(op));
        if (it != cfg.latency_by_op.end()) m = &it->second;
    }
    switch (m->k) {
        case latency_model::kind::none:
            return std::chrono::microseconds(0);
        case latency_model::kind::fixed:
            return m->a;
        case latency_model::kind::uniform:
            return std::chrono::microseconds(
                std::uniform_int_distribution<std::int64_t>(m->a.count(), m->b.count())(rng));
        case latency_model::kind::lognormal: {
            // median = e^mu, p99 = e^(mu + 2.3263 sigma)
            double mu = std::log(static_cast<double>(m->a.count()));
            double sigma =
                std::log(static_cast<double>(m->b.count()) / static_cast<double>(m->a.count())) / 2.3263;
            double v = std::lognormal_distribution<double>(mu, sigma)(rng);
            return std::chrono::microseconds(static_cast<std::int64_t>(std::min(v, 3.6e9)));
        }
    }
    return std::chrono::microseconds(0);
}

// ---- replies --------------------------------------------------------------------------------------

reply core::error(unsigned status, api_errc codigo, std::string_view message, int op) const {
    reply r;
    r.status = status;
    r.body.reserve(64 + message.size());
    r.body = "{\"errors\":";
    append_json_string(r.body, message);
    r.body += ",\"codigo\":";
    r.body += std::to_string(static_cast<int>(codigo));
    r.body.push_back('}');
    r.op = op;
    r.outcome = outcome_for_codigo(codigo);
    return r;
}

reply core::http_error(unsigned status, std::string_view message) const {
    reply r = error(status, api_errc::bad_format, message, op_none);
    r.close = true;
    r.outcome = status == 413 ? out_h413 : status == 431 ? out_h431 : out_h400;
    return r;
}

void core::record_outcome(int op, int outcome) noexcept {
    if (op < 0 || op >= op_slots || outcome < 0 || outcome >= out_slots) return;
    requests_[op][outcome].fetch_add(1, std::memory_order_relaxed);
}

void core::count_fault(fault_kind k) noexcept {
    faults_[static_cast<int>(k)].fetch_add(1, std::memory_order_relaxed);
}

std::string core::comprobante_body(const account_slot& a, const record& r, bool consult) const {
    std::string o;
    o.reserve(1024);
    o.push_back('{');
    int_field(o, "tipo_de_comprobante", r.key.tipo);
    str_field(o, "serie", r.key.serie);
    int_field(o, "numero", r.key.numero);
    bool pending = r.pending && !(consult && now_ms() >= r.created_ms + opts_.boleta_delay.count());
    // Links: enlace, then enlace + .pdf/.xml/.cdr, written without temporaries.
    auto enlace_field = [&](std::string_view name, std::string_view ext) {
        field(o, name);
        o.push_back('"');
        o += scheme_;
        o += link_host_;
        o += "/cpe/";
        o += r.uuid;
        o += ext;
        o.push_back('"');
    };
    enlace_field("enlace", "");
    enlace_field("enlace_del_pdf", ".pdf");
    enlace_field("enlace_del_xml", ".xml");
    if (pending)
        str_field(o, "enlace_del_cdr", "");
    else
        enlace_field("enlace_del_cdr", ".cdr");
    if (pending) {
        bool_field(o, "aceptada_por_sunat", false);
        null_field(o, "sunat_description");
        null_field(o, "sunat_note");
        null_field(o, "sunat_responsecode");
        str_field(o, "sunat_soap_error", "");
    } else if (!r.reject_code.empty()) {
        bool_field(o, "aceptada_por_sunat", false);
        str_field(o, "sunat_description",
                  std::string(tipo_name(r.key.tipo)) + " numero " + key_text(r.key) +
                      ", ha sido rechazada (código " + r.reject_code + ")");
        null_field(o, "sunat_note");
        str_field(o, "sunat_responsecode", r.reject_code);
        str_field(o, "sunat_soap_error", "");
    } else {
        bool_field(o, "aceptada_por_sunat", true);
        if (std::all_of(r.key.serie.begin(), r.key.serie.end(),
                        [](char c) { return std::isalnum(static_cast<unsigned char>(c)); })) {
            field(o, "sunat_description");
            o.push_back('"');
            o += tipo_name(r.key.tipo);
            o += " numero ";
            o += r.key.serie;
            o.push_back('-');
            o += std::to_string(r.key.numero);
            o += ", ha sido aceptada\"";
        } else {
            str_field(
                o, "sunat_description",
                std::string(tipo_name(r.key.tipo)) + " numero " + key_text(r.key) + ", ha sido aceptada");
        }
        if (r.ext && !r.ext->note.empty())
            str_field(o, "sunat_note", r.ext->note);
        else
            null_field(o, "sunat_note");
        str_field(o, "sunat_responsecode", "0");
        str_field(o, "sunat_soap_error", "");
    }
    if (consult)
        bool_field(o, "anulado",
                   r.anulacion && now_ms() >= r.x().anulacion_ms + opts_.anulacion_delay.count());
    thread_local std::string q;
    qr_text(q, a, r);
    str_field(o, "cadena_para_codigo_qr", q);
    str_field(o, "codigo_hash", r.hash);
    o.push_back('}');
    return o;
}

void core::qr_text(std::string& q, const account_slot& a, const record& r) const {
    q.clear();
    if (r.ext && !r.ext->qr.empty()) {
        q = r.ext->qr;
        return;
    }
    if (!r.has_qr) return;
    q.reserve(160);
    q += a.acct.ruc;
    q += " | ";
    q += sunat_document_code(r.key.tipo);
    q += " | ";
    q += r.key.serie;
    q += " | ";
    char num[24];
    auto res = std::to_chars(num, num + sizeof num, r.key.numero);
    for (auto len = res.ptr - num; len < 6; ++len) q.push_back('0');
    q.append(num, res.ptr);
    q += " | ";
    append_cents(q, r.igv_cents);
    q += " | ";
    append_cents(q, r.total_cents);
    q += " | ";
    if (r.fecha) q += r.fecha->to_wire();
    q += " | ";
    q += r.cliente;
    q += " | ";
    q += r.hash.view();
    q += " |";
}

std::string core::anulacion_body(const record& r, bool just_created) const {
    // The answer to the generar_anulacion that created it is always the official example's: a ticket,
    // not yet processed by SUNAT (clients poll consultar_anulacion).
    bool accepted = !(just_created && opts_.anulacion_pending_first) &&
                    now_ms() >= r.x().anulacion_ms + opts_.anulacion_delay.count();
    std::string o;
    o.reserve(600);
    o.push_back('{');
    int_field(o, "numero", r.key.numero);
    auto enlace = link("anulacion", r.x().anulacion_uuid);
    str_field(o, "enlace", enlace);
    str_field(o, "sunat_ticket_numero", r.x().ticket);
    bool_field(o, "aceptada_por_sunat", accepted);
    if (accepted) {
        str_field(o, "sunat_description",
                  "La Comunicacion de baja de " + key_text(r.key) + ", ha sido aceptada");
        null_field(o, "sunat_note");
        str_field(o, "sunat_responsecode", "0");
    } else {
        null_field(o, "sunat_description");
        null_field(o, "sunat_note");
        null_field(o, "sunat_responsecode");
    }
    str_field(o, "sunat_soap_error", "");
    str_field(o, "enlace_del_pdf", enlace + ".pdf");
    str_field(o, "enlace_del_xml", enlace + ".xml");
    str_field(o, "enlace_del_cdr", enlace + ".cdr");  // as in the official example, also while pending
    o.push_back('}');
    return o;
}

std::string core::guia_body(const record& r, bool generar) const {
    bool accepted = !generar && now_ms() >= r.created_ms + opts_.guia_delay.count();
    std::string o;
    o.reserve(800);
    o.push_back('{');
    if (generar)
        str_field(
            o, "nota_importante",
            "Para generar el PDF en las Guías de Remisión se requiere que la Sunat la acepte primero. Usa "
            "la operación 'consultar_guia' para obtener el PDF o CDR. La Sunat puede tomar un tiempo en "
            "aceptarla.");
    int_field(o, "tipo_de_comprobante", r.key.tipo);
    str_field(o, "serie", r.key.serie);
    int_field(o, "numero", r.key.numero);
    if (!accepted) {
        str_field(o, "enlace", "");
        bool_field(o, "aceptada_por_sunat", false);
        null_field(o, "sunat_description");
        null_field(o, "sunat_note");
        null_field(o, "sunat_responsecode");
        null_field(o, "sunat_soap_error");
        for (auto f : {"pdf_zip_base64", "xml_zip_base64", "cdr_zip_base64", "cadena_para_codigo_qr",
                       "enlace_del_pdf", "enlace_del_xml", "enlace_del_cdr"})
            str_field(o, f, "");
    } else {
        auto enlace = link("guia", r.uuid);
        str_field(o, "enlace", enlace);
        bool rejected = !r.reject_code.empty();
        bool_field(o, "aceptada_por_sunat", !rejected);
        if (rejected) {
            str_field(
                o, "sunat_description",
                "La Guía numero " + key_text(r.key) + ", ha sido rechazada (código " + r.reject_code + ")");
            null_field(o, "sunat_note");
            str_field(o, "sunat_responsecode", r.reject_code);
        } else {
            null_field(o, "sunat_description");
            null_field(o, "sunat_note");
            null_field(o, "sunat_responsecode");
        }
        null_field(o, "sunat_soap_error");
        null_field(o, "pdf_zip_base64");
        null_field(o, "xml_zip_base64");
        null_field(o, "cdr_zip_base64");
        str_field(o, "cadena_para_codigo_qr",
                  "https://e-factura.sunat.gob.pe/v1/contribuyente/gre/comprobantes/descargaqr?hashqr=" +
                      std::string(r.hash.view()));
        str_field(o, "enlace_del_pdf", enlace + ".pdf");
        str_field(o, "enlace_del_xml", enlace + ".xml");
        str_field(o, "enlace_del_cdr", enlace + ".cdr");
    }
    o.push_back('}');
    return o;
}

std::string core::retper_body(const record& r, bool reversion) const {
    std::string o;
    o.reserve(600);
    o.push_back('{');
    str_field(o, "serie", r.key.serie);
    int_field(o, "numero", r.key.numero);
    auto enlace = link(reversion ? "reversion" : (r.key.tipo == 20 ? "retencion" : "percepcion"),
                       reversion ? r.x().reversion_uuid.view() : r.uuid.view());
    str_field(o, "enlace", enlace);
    str_field(o, "enlace_del_pdf", enlace + ".pdf");
    str_field(o, "enlace_del_xml", enlace + ".xml");
    str_field(o, "enlace_del_cdr", enlace + ".cdr");
    bool rejected = !reversion && !r.reject_code.empty();
    bool_field(o, "aceptada_por_sunat", !rejected);
    std::string what = reversion ? "La Reversión de " + key_text(r.key)
                                 : std::string(tipo_name(r.key.tipo)) + " numero " + key_text(r.key);
    str_field(
        o, "sunat_description",
        rejected ? what + ", ha sido rechazado (código " + r.reject_code + ")" : what + ", ha sido aceptado");
    null_field(o, "sunat_note");
    str_field(o, "sunat_responsecode", rejected ? r.reject_code : "0");
    str_field(o, "sunat_soap_error", "");
    o.push_back('}');
    return o;
}

// ---- request handling -----------------------------------------------------------------------------

reply core::handle(const request_view& req, rng_t& rng) {
    auto target = req.target;
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    if (target.starts_with("/__emulator/")) {
        if (opts_.admin) return admin(req);
        auto r = error(404, api_errc::ruta_invalid, msg_11, op_admin);
        r.outcome = out_c11;
        return r;
    }
    constexpr std::string_view prefix = "/api/v1/";
    // The enlace links (<enlace>.pdf / .xml / .cdr) are public, like Nubefact's: no token.
    if (req.method == "GET" && !target.starts_with(prefix)) return download(req);
    std::string_view ruta;
    if (target.starts_with(prefix)) ruta = target.substr(prefix.size());
    if (!ruta.empty() && ruta.back() == '/') ruta.remove_suffix(1);
    std::shared_ptr<account_slot> acct;
    if (!ruta.empty() && ruta.find('/') == std::string_view::npos) acct = find_account(ruta);
    // The manual lists only 200, 400, 401 and 500, and clients read codigo 11 from a 401 ("token or URL
    // wrong"): a wrong ruta is 401 (docs/emulator.md), a wrong method on a ruta 400 with codigo 20.
    if (!acct) return error(401, api_errc::ruta_invalid, msg_11, op_none);
    if (req.method != "POST") {
        auto r = error(400, api_errc::bad_format, std::string(msg_20) + ": use el método POST", op_none);
        r.allow_post = true;
        return r;
    }
    // Token.
    auto auth = req.authorization ? wire::parse_authorization(*req.authorization) : std::nullopt;
    bool ok = false;
    if (auth)
        for (const auto& t : acct->acct.tokens) ok |= wire::equal_ct(auth->token, t);
    if (!ok) return error(401, api_errc::token_invalid, msg_10, op_none);
    auto st = static_cast<account_state>(acct->state.load(std::memory_order_relaxed));
    if (st == account_state::suspended) return error(403, api_errc::account_suspended, msg_50, op_none);
    if (st == account_state::suspended_nonpayment)
        return error(403, api_errc::suspended_nonpayment, msg_51, op_none);
    if (!req.content_type || !wire::json_content_type(*req.content_type))
        return error(400, api_errc::content_type, msg_12, op_none);

    // Body.
    parsed p;
    if (req.body.empty())
        return error(400, api_errc::bad_format, std::string(msg_20) + ": el cuerpo está vacío", op_none);
    std::optional<json::read_result> typed;
    if (opts_.validate) {
        // The codec reads the body once; its findings name the field.
        json::read_options ro;
        ro.max_bytes = opts_.max_body;
        ro.round_excess_decimals = opts_.round_float_noise || opts_.lenient;
        typed = json::read_request(req.body, ro);
        p.op = typed->op;
        if (!p.op || has_errors(typed->findings)) {
            const finding* first = nullptr;
            for (const auto& f : typed->findings)
                if (f.level == severity::error) {
                    first = &f;
                    break;
                }
            if (!p.op || first) {
                finding generic{"operacion", "required", severity::error,
                                "falta el campo o su valor es desconocido"};
                return error(400, api_errc::bad_format, format_message(first ? *first : generic),
                             p.op ? static_cast<int>(*p.op) : op_none);
            }
        }
        fill_view(*typed, p.v);
    } else {
        std::string scan_error;
        if (!scan_body(req.body, p.v, scan_error))
            return error(400, api_errc::bad_format, std::string(msg_20) + ": " + scan_error, op_none);
        p.op = operation_from_string(p.v.operacion);
        p.canonical = req.body;
    }
    int op = p.op ? static_cast<int>(*p.op) : op_none;
    auto cfg = [&] {
        std::lock_guard lk(cfg_mu_);
        return cfg_;
    }();

    // Faults are decided once the operation is known (for scripted faults filtered by operation).
    auto fault = pick_fault(op, rng, *cfg);
    if (fault &&
        (*fault == fault_kind::http_500 || *fault == fault_kind::http_429 || *fault == fault_kind::http_503 ||
         *fault == fault_kind::reset || *fault == fault_kind::stall)) {
        reply r;
        if (*fault == fault_kind::http_500) r = error(500, api_errc::internal, msg_40, op);
        if (*fault == fault_kind::http_429)
            r = error(429, api_errc::internal, "Demasiadas solicitudes: reintente después de unos segundos",
                      op);
        if (*fault == fault_kind::http_503)
            r = error(503, api_errc::internal, "Servicio no disponible temporalmente", op);
        if (r.status == 429 || r.status == 503)
            r.retry_after = static_cast<unsigned>(std::max<std::int64_t>(0, opts_.retry_after.count()));
        r.op = op;
        r.fault = fault;
        r.delay = sample_latency(op, rng, *cfg);
        return r;
    }

    const bool generar_op =
        p.op && (*p.op == operation::generar_comprobante || *p.op == operation::generar_guia ||
                 *p.op == operation::generar_retencion || *p.op == operation::generar_percepcion);
    if (opts_.assign_numero && generar_op && !p.v.numero) {
        p.assign = true;
        if (typed)
            std::visit(
                [](auto& d) {
                    // A placeholder for the checks; process() assigns the real one under the lock.
                    if constexpr (requires { d.numero; })
                        if (!d.numero) d.numero = 1;
                },
                typed->doc);
    }
    if (typed && p.op) {
        // The fiscal rules, with the emulator's clock as "today".
        fiscal::check_options co;
        co.today = date::from_days(today_days());
        co.max_age_days = opts_.max_age_days;
        co.guia_max_age_days = opts_.guia_max_age_days;
        const bool sunat = opts_.sunat_tolerance && !opts_.lenient;
        co.lenient = opts_.lenient || sunat;  // sunat: mismatches come back as warnings, sorted below
        auto fs = fiscal::check(typed->doc, co);
        const finding* first = nullptr;
        const finding* period = nullptr;
        for (const auto& f : fs) {
            if (f.level != severity::error) continue;
            if (f.code == "out_of_period") {
                if (!period) period = &f;
            } else if (!first) {
                first = &f;
            }
        }
        if (sunat && !first) {
            for (const auto& f : fs) {
                if (f.code != "mismatch") continue;
                auto obs = sunat_observation(f);
                if (!obs) {
                    first = &f;  // beyond SUNAT's tolerance, or no observation for it: refused
                    break;
                }
                if (!p.note.empty()) p.note += "; ";
                p.note += *obs;
            }
        }
        reply r;
        if (first)
            r = error(400, api_errc::bad_format, format_message(*first), op);
        else if (period)
            r = error(400, api_errc::out_of_period,
                      "El documento fue enviado fuera del plazo permitido: " + period->path + " " +
                          period->actual + " (se acepta " + period->expected + ")",
                      op);
        if (first || period) {
            r.fault = fault;
            r.delay = sample_latency(op, rng, *cfg);
            return r;
        }
        p.canonical_owned = json::write(typed->doc);
        p.canonical = p.canonical_owned;
    }

    reply r;
    if (!p.op) {
        r = error(400, api_errc::bad_format,
                  p.v.operacion.empty() ? std::string(msg_20) + ": operacion: falta el campo"
                                        : std::string(msg_20) + ": operacion: valor desconocido '" +
                                              p.v.operacion.substr(0, 40) + "'",
                  op_none);
    } else {
        r = process(*acct, p, rng, *cfg);
    }
    r.op = op;
    r.fault = fault;
    r.delay = sample_latency(op, rng, *cfg);
    return r;
}

reply core::process(account_slot& a, const parsed& pin, rng_t& rng, const dyn_config& cfg) {
    const operation op = *pin.op;
    const int opi = static_cast<int>(op);
    const doc_view& v = pin.v;

    if (!v.bad_field.empty())
        return error(400, api_errc::bad_format,
                     std::string(msg_20) + ": " + v.bad_field + ": tipo o formato inválido", opi);

    // The key of the document the operation is about.
    document_key key;
    if (is_retencion_op(op))
        key.tipo = 20;
    else if (is_percepcion_op(op))
        key.tipo = 40;
    else if (!v.tipo)
        return error(400, api_errc::bad_format, std::string(msg_20) + ": tipo_de_comprobante: falta el campo",
                     opi);
    else
        key.tipo = static_cast<int>(*v.tipo);
    if (is_comprobante_op(op) && (key.tipo < 1 || key.tipo > 4))
        return error(400, api_errc::bad_format,
                     std::string(msg_20) + ": tipo_de_comprobante: debe ser 1, 2, 3 o 4", opi);
    if (is_guia_op(op) && key.tipo != 7 && key.tipo != 8)
        return error(400, api_errc::bad_format, std::string(msg_20) + ": tipo_de_comprobante: debe ser 7 u 8",
                     opi);
    if (!v.serie)
        return error(400, api_errc::bad_format, std::string(msg_20) + ": serie: falta el campo", opi);
    if (v.serie->size() != 4)
        return error(400, api_errc::bad_format,
                     std::string(msg_20) + ": serie: debe tener exactamente 4 caracteres", opi);
    if (!v.numero && !pin.assign)
        return error(400, api_errc::bad_format, std::string(msg_20) + ": numero: falta el campo", opi);
    if (v.numero && (*v.numero < 1 || *v.numero > 99'999'999))
        return error(400, api_errc::bad_format,
                     std::string(msg_20) + ": numero: debe estar entre 1 y 99999999", opi);
    key.serie = *v.serie;
    key.numero = v.numero.value_or(0);
    const bool generar = op == operation::generar_comprobante || op == operation::generar_guia ||
                         op == operation::generar_retencion || op == operation::generar_percepcion;
    if (generar) {
        if (!v.fecha)
            return error(400, api_errc::bad_format,
                         std::string(msg_20) + ": fecha_de_emision: falta el campo", opi);
        auto days = v.fecha->days_since_epoch();
        if (!opts_.validate && today_days() - days > opts_.max_age_days)
            return error(400, api_errc::out_of_period,
                         "El documento fue enviado fuera del plazo permitido: fecha_de_emision " +
                             v.fecha_text + " tiene más de " + std::to_string(opts_.max_age_days) + " días",
                         opi);
    }
    if ((op == operation::generar_anulacion) && v.motivo.empty())
        return error(400, api_errc::bad_format, std::string(msg_20) + ": motivo: falta el campo", opi);

    auto packed = pack_key(key);
    if (!packed)
        return error(400, api_errc::bad_format,
                     std::string(msg_20) + ": tipo_de_comprobante: valor desconocido", opi);
    reply r;
    r.op = opi;
    std::unique_lock lk(a.mu);
    if (pin.assign) {
        // The next correlativo of this tipo and serie (packed with numero 0).
        auto& last = a.last_numero[*packed];
        if (last >= 99'999'999)
            return error(400, api_errc::bad_format, std::string(msg_20) + ": numero: la serie está agotada",
                         opi);
        key.numero = last + 1;
        packed = pack_key(key);
        if (!packed)
            return error(400, api_errc::bad_format, std::string(msg_20) + ": numero: fuera de rango", opi);
    }
    const std::uint64_t ks = *packed;
    record* it = a.docs.find(ks);
    if (generar) {
        if (!v.codigo_unico.empty()) {
            auto u = a.by_unico.find(v.codigo_unico);
            if (u != a.by_unico.end() && (u->second != ks || !opts_.allow_duplicates)) {
                if (it) ++it->duplicates;
                duplicates_.fetch_add(1, std::memory_order_relaxed);
                return error(400, api_errc::already_exists, msg_23, opi);
            }
        }
        if (it && !opts_.allow_duplicates) {
            ++it->duplicates;
            duplicates_.fetch_add(1, std::memory_order_relaxed);
            return error(400, api_errc::already_exists, msg_23, opi);
        }
        bool fresh = !it;
        record& rec = fresh ? a.docs[ks] : *it;
        if (fresh) {
            rec.key = key;
            rec.kind = op == operation::generar_comprobante ? "comprobante"
                       : op == operation::generar_guia      ? "guia"
                       : key.tipo == 20                     ? "retencion"
                                                            : "percepcion";
        }
        rec.codigo_unico = v.codigo_unico;
        rec.created_ms = now_ms();
        rec.uuid = make_uuid(rng, ks);
        if (pin.assign)  // the canonical text holds the placeholder numero
            rec.hash = sha1_base64_fixed(std::string(pin.canonical) + "#" + std::to_string(key.numero));
        else
            rec.hash = sha1_base64_fixed(pin.canonical);
        rec.moneda = static_cast<std::uint8_t>(std::clamp<std::int64_t>(v.moneda, 0, 255));
        if (!pin.note.empty())
            rec.x().note = pin.note;
        else if (rec.ext)
            rec.ext->note.clear();
        if (opts_.assign_numero) {
            auto& last = a.last_numero[ks - static_cast<std::uint64_t>(key.numero)];
            last = std::max(last, key.numero);
        }
        rec.reject_code.clear();
        for (const auto& rule : cfg.reject) {
            bool m = false;
            auto total = v.total_cents.value_or(0);
            switch (rule.k) {
                case reject_rule::kind::all:
                    m = true;
                    break;
                case reject_rule::kind::serie:
                    m = key.serie == rule.text;
                    break;
                case reject_rule::kind::tipo:
                    m = key.tipo == rule.value;
                    break;
                case reject_rule::kind::total_gt:
                    m = total > rule.value;
                    break;
                case reject_rule::kind::total_ge:
                    m = total >= rule.value;
                    break;
                case reject_rule::kind::total_lt:
                    m = total < rule.value;
                    break;
                case reject_rule::kind::total_le:
                    m = total <= rule.value;
                    break;
                case reject_rule::kind::numero_mod:
                    m = key.numero % rule.value == 0;
                    break;
            }
            if (m) {
                rec.reject_code = rule.code;
                break;
            }
        }
        rec.pending = op == operation::generar_comprobante && key.tipo == 2 && opts_.boletas_pending &&
                      rec.reject_code.empty();
        rec.has_qr = op == operation::generar_comprobante;
        if (rec.has_qr) {
            rec.igv_cents = v.igv_cents.value_or(0);
            rec.total_cents = v.total_cents.value_or(0);
            rec.fecha = v.fecha;
            rec.cliente.clear();
            rec.cliente += v.cliente_tipo;
            rec.cliente += " | ";
            rec.cliente += v.cliente_numero;
            if (rec.ext) rec.ext->qr.clear();
        }
        if (!v.codigo_unico.empty()) a.by_unico[v.codigo_unico] = ks;
        if (++rec.creations == 2) created_twice_.fetch_add(1, std::memory_order_relaxed);
        created_.fetch_add(1, std::memory_order_relaxed);
        if (!rec.reject_code.empty()) rejected_.fetch_add(1, std::memory_order_relaxed);
        persist(a, rec, 'c');
        if (op == operation::generar_comprobante)
            r.body = comprobante_body(a, rec, false);
        else if (op == operation::generar_guia)
            r.body = guia_body(rec, true);
        else
            r.body = retper_body(rec, false);
        return r;
    }
    if (!it) return error(400, api_errc::not_found, msg_24, opi);
    record& rec = *it;
    switch (op) {
        case operation::consultar_comprobante:
            if (rec.kind != "comprobante") return error(400, api_errc::not_found, msg_24, opi);
            r.body = comprobante_body(a, rec, true);
            return r;
        case operation::generar_anulacion:
            if (!rec.reject_code.empty())
                return error(400, api_errc::operation_failed,
                             "No se pudo completar la operación: el documento " + key_text(key) +
                                 " fue rechazado por la SUNAT y no puede anularse",
                             opi);
            {
                bool created = false;
                if (!rec.anulacion) {
                    // A repeated generar_anulacion answers the same ticket (idempotent, see
                    // docs/emulator.md).
                    rec.anulacion = true;
                    auto& x = rec.x();
                    x.anulacion_ms = now_ms();
                    x.ticket = std::to_string(x.anulacion_ms) + std::to_string(rng() % 10);
                    x.anulacion_uuid = make_uuid(rng, ks);
                    persist(a, rec, 'a');
                    created = true;
                }
                r.body = anulacion_body(rec, created);
            }
            return r;
        case operation::consultar_anulacion:
            if (!rec.anulacion) return error(400, api_errc::not_found, msg_24, opi);
            r.body = anulacion_body(rec, false);
            return r;
        case operation::consultar_guia:
            r.body = guia_body(rec, false);
            return r;
        case operation::consultar_retencion:
        case operation::consultar_percepcion:
            r.body = retper_body(rec, false);
            return r;
        case operation::generar_reversion_retencion:
        case operation::generar_reversion_percepcion:
            if (!rec.reversed) {
                rec.reversed = true;
                rec.x().reversed_ms = now_ms();
                rec.x().reversion_uuid = make_uuid(rng, ks);
                persist(a, rec, 'v');
            }
            r.body = retper_body(rec, true);
            return r;
        case operation::consultar_reversion_retencion:
        case operation::consultar_reversion_percepcion:
            if (!rec.reversed) return error(400, api_errc::not_found, msg_24, opi);
            r.body = retper_body(rec, true);
            return r;
        default:
            break;
    }
    return error(400, api_errc::bad_format, msg_20, opi);
}

// ---- admin ------------------------------------------------------------------------------------------

void core::hold_answers(std::uint64_t after) {
    hold_budget_.store(static_cast<std::int64_t>(std::min<std::uint64_t>(after, INT64_MAX)));
}

void core::release_answers() {
    hold_budget_.store(-1);
    release_gen_.fetch_add(1);
}

bool core::take_hold() {
    auto b = hold_budget_.load();
    while (b > 0)
        if (hold_budget_.compare_exchange_weak(b, b - 1)) return false;
    return b == 0;
}

reply core::admin(const request_view& req) {
    auto target = req.target;
    auto q = target.find('?');
    auto query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    if (q != std::string_view::npos) target = target.substr(0, q);
    reply r;
    r.op = op_admin;
    if (target == "/__emulator/stats") {
        if (req.method != "GET") {
            r = error(405, api_errc::bad_format, "Método no permitido: use GET", op_admin);
            r.outcome = out_h405;
            return r;
        }
        r.body = stats_json(query.find("documents=1") != std::string_view::npos);
        return r;
    }
    if (target == "/__emulator/reset") {
        if (req.method != "POST") {
            r = error(405, api_errc::bad_format, "Método no permitido: use POST", op_admin);
            r.allow_post = true;
            r.outcome = out_h405;
            return r;
        }
        reset();
        r.body = "{\"reset\":true}";
        return r;
    }
    if (target == "/__emulator/hold" || target == "/__emulator/release") {
        if (req.method != "POST") {
            r = error(405, api_errc::bad_format, "Método no permitido: use POST", op_admin);
            r.allow_post = true;
            r.outcome = out_h405;
            return r;
        }
        if (target == "/__emulator/release") {
            release_answers();
            r.body = "{\"released\":true}";
            return r;
        }
        std::uint64_t after = 0;
        if (auto at = query.find("after="); at != std::string_view::npos) {
            auto v = query.substr(at + 6);
            v = v.substr(0, v.find('&'));
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), after);
            if (ec != std::errc() || end != v.data() + v.size()) {
                r = error(400, api_errc::bad_format, "after: se espera un número entero no negativo",
                          op_admin);
                r.outcome = out_h400;
                return r;
            }
        }
        hold_answers(after);
        r.body = "{\"holding_after\":" + std::to_string(after) + "}";
        return r;
    }
    r = error(404, api_errc::ruta_invalid, msg_11, op_admin);
    r.outcome = out_h404;
    return r;
}

// ---- document files ---------------------------------------------------------------------------------------

reply core::download(const request_view& req) {
    auto target = req.target;
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    reply nf = error(404, api_errc::not_found, "El archivo no existe", op_files);
    nf.outcome = out_h404;
    // /<kind>/<uuid>.<ext>
    if (target.size() < 2 || target[0] != '/') return nf;
    const auto slash = target.find('/', 1);
    if (slash == std::string_view::npos) return nf;
    const auto kind = target.substr(1, slash - 1);
    const auto file = target.substr(slash + 1);
    const auto dot = file.rfind('.');
    if (dot == std::string_view::npos) return nf;
    const auto uuid = file.substr(0, dot);
    const auto ext = file.substr(dot + 1);
    if (uuid.size() != 36 || (ext != "pdf" && ext != "xml" && ext != "cdr")) return nf;
    std::string_view data_kind;  // file_data::kind: a static literal
    if (kind == "cpe")
        data_kind = "comprobante";
    else if (kind == "guia")
        data_kind = "guia";
    else if (kind == "retencion")
        data_kind = "retencion";
    else if (kind == "percepcion")
        data_kind = "percepcion";
    else if (kind == "anulacion")
        data_kind = "anulacion";
    else if (kind == "reversion")
        data_kind = "reversion";
    else
        return nf;
    auto match = [&](const record& r) {
        if (data_kind == "anulacion") return r.anulacion && r.x().anulacion_uuid.view() == uuid;
        if (data_kind == "reversion") return r.reversed && r.x().reversion_uuid.view() == uuid;
        return r.kind == data_kind && r.uuid.view() == uuid;
    };
    const auto packed = uuid_key(uuid);
    const auto now = now_ms();
    file_data d;
    d.kind = data_kind;
    bool found = false, available = true;
    {
        std::shared_lock lk(accounts_mu_);
        for (const auto& a : account_order_) {
            std::lock_guard dl(a->mu);
            const record* r = nullptr;
            if (packed)
                if (const record* x = a->docs.find(*packed); x && match(*x)) r = x;
            if (!r && !packed)  // a uuid written by an older emulator into the state file: search
                a->docs.for_each([&](const record& x) {
                    if (!r && match(x)) r = &x;
                });
            if (!r) continue;
            found = true;
            d.tipo = r->key.tipo;
            d.serie = r->key.serie;
            d.numero = r->key.numero;
            d.ruc = a->acct.ruc;
            d.hash = std::string(r->hash.view());
            d.currency = std::string(currency_of(r->moneda));
            d.ms = r->created_ms;
            std::string q;
            qr_text(q, *a, *r);
            if (r->kind == "comprobante" && !q.empty()) {
                // RUC | tipo | serie | numero | IGV | TOTAL | fecha | tipo doc | num doc | hash |
                std::vector<std::string_view> parts;
                for (std::string_view rest = q; !rest.empty();) {
                    auto i = rest.find(" | ");
                    parts.push_back(rest.substr(0, i));
                    rest = i == std::string_view::npos ? std::string_view{} : rest.substr(i + 3);
                }
                if (parts.size() >= 9) {
                    d.igv = std::string(parts[4]);
                    d.total = std::string(parts[5]);
                    d.fecha = std::string(parts[6]);
                    d.cliente_tipo = std::string(parts[7]);
                    d.cliente_numero = std::string(parts[8]);
                }
            }
            const std::string what = std::string(tipo_name(r->key.tipo)) + " numero " + key_text(r->key);
            d.response_code = r->reject_code.empty() ? "0" : r->reject_code;
            d.description =
                what + (r->reject_code.empty() ? ", ha sido aceptada"
                                               : ", ha sido rechazada (código " + r->reject_code + ")");
            if (r->ext) d.note = r->ext->note;
            if (data_kind == "comprobante") {
                // A pending boleta has no CDR yet (its enlace_del_cdr is "").
                if (ext == "cdr" && r->pending && now < r->created_ms + opts_.boleta_delay.count())
                    available = false;
            } else if (data_kind == "guia") {
                // No file before SUNAT accepts a guía (generar_guia's nota_importante says so).
                if (now < r->created_ms + opts_.guia_delay.count()) available = false;
                d.description =
                    "La Guía numero " + key_text(r->key) +
                    (r->reject_code.empty() ? ", ha sido aceptada"
                                            : ", ha sido rechazada (código " + r->reject_code + ")");
            } else if (data_kind == "anulacion") {
                const auto& x = r->x();
                d.ms = x.anulacion_ms;
                d.ticket = x.ticket;
                d.response_code = "0";
                d.description = "La Comunicacion de baja de " + key_text(r->key) + ", ha sido aceptada";
                d.note.clear();
                // The CDR link is shown while pending (official example); the file exists once SUNAT
                // answered.
                if (ext == "cdr" && now < x.anulacion_ms + opts_.anulacion_delay.count()) available = false;
            } else if (data_kind == "reversion") {
                d.ms = r->x().reversed_ms;
                d.response_code = "0";
                d.description = "La Reversión de " + key_text(r->key) + ", ha sido aceptada";
                d.note.clear();
            }
            break;
        }
    }
    if (!found || !available) return nf;
    reply r;
    r.op = op_files;
    if (ext == "pdf") {
        r.body = make_pdf(d);
        r.content_type = "application/pdf";
    } else if (ext == "xml") {
        r.body = make_xml(d);
        r.content_type = "application/xml; charset=utf-8";
    } else {
        r.body = make_cdr_zip(d);
        r.content_type = "application/zip";
    }
    return r;
}

// ---- observation --------------------------------------------------------------------------------------

document_info core::info(const record& r) const {
    document_info d;
    d.key = r.key;
    d.kind = std::string(r.kind);
    d.creations = r.creations;
    d.duplicates_refused = r.duplicates;
    d.sunat_rejected = !r.reject_code.empty();
    d.anulacion_requested = r.anulacion;
    d.reversed = r.reversed;
    d.codigo_unico = r.codigo_unico;
    d.enlace = link(r.kind == "comprobante" ? "cpe" : r.kind == "guia" ? "guia" : r.kind, r.uuid);
    return d;
}

std::optional<document_info> core::find(std::string_view ruta, const document_key& k) const {
    auto a = find_account(ruta);
    if (!a) return std::nullopt;
    std::lock_guard lk(a->mu);
    auto packed = pack_key(k);
    if (!packed) return std::nullopt;
    const record* r = a->docs.find(*packed);
    if (!r) return std::nullopt;
    return info(*r);
}

std::vector<document_info> core::documents(std::string_view ruta) const {
    std::vector<document_info> out;
    auto a = find_account(ruta);
    if (!a) return out;
    std::lock_guard lk(a->mu);
    out.reserve(a->docs.size());
    a->docs.for_each([&](const record& r) { out.push_back(info(r)); });
    std::sort(out.begin(), out.end(), [](auto& x, auto& y) { return x.key < y.key; });
    return out;
}

stats core::snapshot() const {
    stats s;
    for (int op = 0; op < op_slots; ++op) {
        std::string name = op < op_count    ? std::string(to_string(static_cast<operation>(op)))
                           : op == op_none  ? "none"
                           : op == op_files ? "files"
                                            : "admin";
        for (int o = 0; o < out_slots; ++o) {
            auto n = requests_[op][o].load(std::memory_order_relaxed);
            if (n) {
                s.requests[name][outcome_name(o)] = n;
                s.requests_total += n;
            }
        }
    }
    s.documents_created = created_.load();
    s.duplicates_refused = duplicates_.load();
    s.created_twice = created_twice_.load();
    s.sunat_rejected = rejected_.load();
    for (int k = 0; k < fault_kind_count; ++k)
        if (auto n = faults_[k].load()) s.faults[std::string(to_string(static_cast<fault_kind>(k)))] = n;
    s.in_flight = in_flight.load();
    s.open_connections = open_connections.load();
    s.connections_accepted = connections_accepted.load();
    return s;
}

std::string core::stats_json(bool with_documents) const {
    auto s = snapshot();
    boost::json::object o;
    boost::json::object req;
    for (auto& [op, m] : s.requests) {
        boost::json::object x;
        for (auto& [k, n] : m) x[k] = n;
        req[op] = std::move(x);
    }
    o["requests"] = std::move(req);
    o["requests_total"] = s.requests_total;
    o["documents_created"] = s.documents_created;
    o["duplicates_refused"] = s.duplicates_refused;
    o["created_twice"] = s.created_twice;
    o["sunat_rejected"] = s.sunat_rejected;
    boost::json::object f;
    for (int k = 0; k < fault_kind_count; ++k) {
        auto name = std::string(to_string(static_cast<fault_kind>(k)));
        auto it = s.faults.find(name);
        f[name] = it == s.faults.end() ? 0 : it->second;
    }
    o["faults"] = std::move(f);
    o["in_flight"] = s.in_flight;
    o["open_connections"] = s.open_connections;
    o["connections_accepted"] = s.connections_accepted;
    o["held"] = held.load();
    if (with_documents) {
        boost::json::object docs;
        std::shared_lock lk(accounts_mu_);
        for (auto& a : account_order_) {
            std::lock_guard dl(a->mu);
            a->docs.for_each([&](const record& r) {
                boost::json::object d;
                d["created"] = r.creations;
                d["duplicates_refused"] = r.duplicates;
                docs[a->acct.ruta_id + "/" + std::to_string(r.key.tipo) + "-" + key_text(r.key)] =
                    std::move(d);
            });
        }
        o["documents"] = std::move(docs);
    }
    return boost::json::serialize(o);
}

void core::reset() {
    {
        std::shared_lock lk(accounts_mu_);
        for (auto& a : account_order_) {
            std::lock_guard dl(a->mu);
            a->docs.clear();
            a->by_unico.clear();
        }
    }
    clear_faults();
    release_answers();
    for (auto& row : requests_)
        for (auto& c : row) c.store(0);
    for (auto& c : faults_) c.store(0);
    created_ = 0;
    duplicates_ = 0;
    created_twice_ = 0;
    rejected_ = 0;
    std::lock_guard fl(file_mu_);
    if (state_) {
        std::fflush(state_);
        if (ftruncate(fileno(state_), 0) != 0) {
            // Keep going: the log then replays documents that were reset; reported nowhere else.
        }
        std::rewind(state_);
    }
}

// ---- state file -----------------------------------------------------------------------------------------

void core::persist(const account_slot& a, const record& r, char type) {
    if (!state_) return;
    const std::string& ruta = a.acct.ruta_id;
    boost::json::object o;
    o["t"] = std::string(1, type);
    o["ruta"] = ruta;
    o["tipo"] = r.key.tipo;
    o["serie"] = r.key.serie;
    o["numero"] = r.key.numero;
    if (type == 'c') {
        o["kind"] = boost::json::string_view(r.kind.data(), r.kind.size());
        o["codigo_unico"] = r.codigo_unico;
        o["ms"] = r.created_ms;
        o["uuid"] = r.uuid.view();
        o["hash"] = r.hash.view();
        std::string q;
        qr_text(q, a, r);
        o["qr"] = q;
        o["reject"] = r.reject_code;
        o["pending"] = r.pending;
        if (r.moneda != 1) o["moneda"] = r.moneda;
        if (r.ext && !r.ext->note.empty()) o["note"] = r.ext->note;
    } else if (type == 'a') {
        o["ms"] = r.x().anulacion_ms;
        o["ticket"] = r.x().ticket;
        o["uuid"] = r.x().anulacion_uuid.view();
    } else {
        o["ms"] = r.x().reversed_ms;
        o["uuid"] = r.x().reversion_uuid.view();
    }
    auto line = boost::json::serialize(o);
    line.push_back('\n');
    std::lock_guard lk(file_mu_);
    std::fwrite(line.data(), 1, line.size(), state_);
    std::fflush(state_);
    if (opts_.state_fsync) fsync(fileno(state_));
}

bool core::replay(std::FILE* f, std::string& error) {
    std::string line;
    char buf[8192];
    std::size_t lineno = 0;
    // False when the line is not a JSON object (nothing applied).
    auto apply = [&](std::string_view text) -> bool {
        boost::system::error_code ec;
        auto v = boost::json::parse(text, ec);
        if (ec || !v.is_object()) return false;
        auto& o = v.as_object();
        auto str = [&](const char* k) -> std::string {
            auto* x = o.if_contains(k);
            return x && x->is_string() ? std::string(x->as_string()) : std::string();
        };
        auto num = [&](const char* k) -> std::int64_t {
            auto* x = o.if_contains(k);
            return x && x->is_int64() ? x->as_int64() : 0;
        };
        auto a = find_account(str("ruta"));
        if (!a) return true;  // account no longer configured
        document_key k{static_cast<int>(num("tipo")), str("serie"), num("numero")};
        auto packed = pack_key(k);
        if (!packed) return true;  // a key the emulator never stores
        auto ks = *packed;
        std::lock_guard lk(a->mu);
        auto t = str("t");
        if (t == "c") {
            auto& r = a->docs[ks];
            r.key = k;
            auto kind = str("kind");
            r.kind = kind == "guia"         ? "guia"
                     : kind == "retencion"  ? "retencion"
                     : kind == "percepcion" ? "percepcion"
                                            : "comprobante";
            r.codigo_unico = str("codigo_unico");
            r.created_ms = num("ms");
            r.uuid = str("uuid");
            r.hash = str("hash");
            r.has_qr = false;
            if (auto q = str("qr"); !q.empty()) r.x().qr = std::move(q);
            r.reject_code = str("reject");
            auto* p = o.if_contains("pending");
            r.pending = p && p->is_bool() && p->as_bool();
            r.moneda = o.contains("moneda") ? static_cast<std::uint8_t>(num("moneda")) : 1;
            if (auto note = str("note"); !note.empty()) r.x().note = std::move(note);
            if (opts_.assign_numero) {
                auto& last = a->last_numero[ks - static_cast<std::uint64_t>(k.numero)];
                last = std::max(last, k.numero);
            }
            if (++r.creations == 2) created_twice_.fetch_add(1);
            if (!r.codigo_unico.empty()) a->by_unico[r.codigo_unico] = ks;
        } else if (record* it = a->docs.find(ks)) {
            if (t == "a") {
                it->anulacion = true;
                auto& x = it->x();
                x.anulacion_ms = num("ms");
                x.ticket = str("ticket");
                x.anulacion_uuid = str("uuid");
            } else if (t == "v") {
                it->reversed = true;
                it->x().reversed_ms = num("ms");
                it->x().reversion_uuid = str("uuid");
            }
        }
        return true;
    };
    // A crash or a power loss mid-write leaves a torn tail: a last line without its '\n', or unreadable
    // lines (a fragment, zeros) with nothing readable after them. They are cut off, so the next record
    // starts on a line of its own. An unreadable line followed by readable ones is damage: refused.
    std::int64_t offset = 0;    // bytes of the complete lines read so far
    std::int64_t good_end = 0;  // end of the last readable line
    std::size_t bad_line = 0;   // first unreadable line (1-based), 0 = none
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        line.append(buf, n);
        std::size_t pos, start = 0;
        while ((pos = line.find('\n', start)) != std::string::npos) {
            ++lineno;
            const auto text = std::string_view(line).substr(start, pos - start);
            offset += static_cast<std::int64_t>(pos - start + 1);
            start = pos + 1;
            if (text.empty()) continue;
            if (!apply(text)) {
                if (!bad_line) bad_line = lineno;
                continue;
            }
            if (bad_line) {
                error = opts_.state_file + ":" + std::to_string(bad_line) + ": not a JSON object";
                return false;
            }
            good_end = offset;
        }
        line.erase(0, start);
    }
    const std::int64_t size = offset + static_cast<std::int64_t>(line.size());
    if (size > good_end) {
        std::fflush(f);
        if (ftruncate(fileno(f), good_end) != 0) {
            error = "cannot cut the torn tail of " + opts_.state_file + ": " + std::strerror(errno);
            return false;
        }
        spdlog::warn("state file {}: cut a torn last record ({} bytes after byte {})", opts_.state_file,
                     size - good_end, good_end);
    }
    return true;
}

bool core::open_state(std::string& error) {
    if (opts_.state_file.empty()) return true;
    std::FILE* f = std::fopen(opts_.state_file.c_str(), "a+");
    if (!f) {
        error = "cannot open state file " + opts_.state_file;
        return false;
    }
    std::rewind(f);
    if (!replay(f, error)) {
        std::fclose(f);
        return false;
    }
    std::fseek(f, 0, SEEK_END);
    state_ = f;
    return true;
}

}  // namespace nubefact::emulator::detail

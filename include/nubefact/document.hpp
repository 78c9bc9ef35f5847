// Typed model of every Nubefact request and response (fact sheet §3-§5, §8-§10).
#pragma once

#include <nubefact/decimal.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nubefact {

// A calendar date. The wire form is DD-MM-YYYY; YYYY-MM-DD is read too.
struct date {
    int year = 0, month = 0, day = 0;
    friend constexpr auto operator<=>(const date&, const date&) = default;
    bool valid() const noexcept;                     // a real calendar day
    std::int64_t days_since_epoch() const noexcept;  // for date arithmetic (1970-01-01 = 0)
    static date from_days(std::int64_t days) noexcept;
    std::string to_wire() const;  // "15-01-2026"
    std::string to_iso() const;   // "2026-01-15" (XML, logs)
    // DD-MM-YYYY (the wire form) or YYYY-MM-DD; nullopt for any other text or a day not in the calendar.
    static std::optional<date> parse(std::string_view text) noexcept;
    // The same layouts, digits only, the day not checked against the calendar (31-02-2026 is
    // {2026, 2, 31}): for a reader that tells "not a date" from "no such day". The one date parser.
    static std::optional<date> parse_layout(std::string_view text) noexcept;
};

// Lima's offset from UTC, all year: Peru has no daylight saving time.
inline constexpr std::chrono::hours lima_utc_offset{-5};

// The calendar day in Lima at `now`.
date lima_today(std::chrono::system_clock::time_point now) noexcept;
date lima_today() noexcept;  // at system_clock::now()

// Every optional field: absent when missing from the JSON or sent as "".
using opt_dec = std::optional<decimal>;
using opt_int = std::optional<std::int64_t>;
using opt_str = std::optional<std::string>;
using opt_bool = std::optional<bool>;
using opt_date = std::optional<date>;

// Fields the codec does not know, kept for round-trip: name and raw JSON text of the value.
using extra_fields = std::vector<std::pair<std::string, std::string>>;

// Operation names of §2 (the `operacion` field).
enum class operation {
    generar_comprobante,
    consultar_comprobante,
    generar_anulacion,
    consultar_anulacion,
    generar_guia,
    consultar_guia,
    generar_retencion,
    consultar_retencion,
    generar_reversion_retencion,
    consultar_reversion_retencion,
    generar_percepcion,
    consultar_percepcion,
    generar_reversion_percepcion,
    consultar_reversion_percepcion,
};

// What kind of document an operation is about: a comprobante (its anulación included), a guía, a
// retención or a percepción (their reversiones included).
enum class document_family { comprobante, guia, retencion, percepcion };

// Every property of an operation, one row each (the one table, src/core/document.cpp): client,
// engine, store, emulator and CLI ask it instead of listing operations themselves.
struct operation_traits {
    operation op;
    std::string_view name;   // the `operacion` field
    bool generar;            // creates something (generar_*), or reads it (consultar_*)
    operation pair;          // generar_x <-> consultar_x
    document_family family;  // which document, and so which key convention (document_key)
    bool voids;              // anulación or reversión: acts on an existing document, its own journal row
};
const operation_traits& traits(operation op) noexcept;

std::string_view to_string(operation op) noexcept;  // traits(op).name
std::optional<operation> operation_from_string(std::string_view s) noexcept;
bool is_generar(operation op) noexcept;              // traits(op).generar
operation consult_for(operation generar) noexcept;   // generar_x -> consultar_x; consultas as they are
operation generar_for(operation consulta) noexcept;  // consultar_x -> generar_x; others as they are
// The tipo a document_key carries for a retención (20) or percepción (40), which have no
// tipo_de_comprobante on the wire; nullopt for the families that send theirs.
std::optional<int> fixed_key_tipo(document_family f) noexcept;
// SUNAT's catálogo 01 code of a tipo_de_comprobante (1 -> "01" factura, 2 -> "03" boleta, 3 -> "07",
// 4 -> "08", 7 -> "09" guía remitente, 8 -> "31" guía transportista; 20 / 40 retención / percepción);
// "00" for any other.
std::string_view sunat_document_code(int tipo) noexcept;  // the operations that create a document

// The identity of a document at Nubefact: unique per (tipo, serie, numero) within an account.
// For retención/percepción (no tipo on the wire) tipo is 20 / 40 (SUNAT codes) by convention.
struct document_key {
    int tipo = 0;
    std::string serie;
    std::int64_t numero = 0;
    friend auto operator<=>(const document_key&, const document_key&) = default;
    std::string to_string() const;  // "FFF1-1"
};

// ---- generar_comprobante (§3, §4, §5) ------------------------------------------------------

struct item {
    opt_str unidad_de_medida;
    opt_str codigo;
    opt_str codigo_producto_sunat;
    opt_str descripcion;
    opt_dec cantidad;
    opt_dec valor_unitario;
    opt_dec precio_unitario;
    opt_dec descuento;
    opt_dec subtotal;
    opt_int tipo_de_igv;
    opt_str tipo_de_ivap;  // "17" IVAP gravado, "101" IVAP gratuito
    opt_dec igv;
    opt_dec impuesto_bolsas;
    opt_int tipo_de_isc;
    opt_dec isc;
    opt_dec otros_cargos;
    opt_dec total;
    opt_bool anticipo_regularizacion;
    opt_str anticipo_documento_serie;
    opt_int anticipo_documento_numero;
    opt_str codigo_dam;  // GRE items / import-export
    // Local input for fiscal::complete, never sent: number of plastic bags on this line (ICBPER),
    // and the ISC rate in percent for tipo_de_isc 1 (sistema al valor). Written as
    // "nubefact_bolsas" / "nubefact_porcentaje_isc" only by the local (non-wire) writer.
    opt_int bolsas;
    opt_dec porcentaje_isc;
    extra_fields extra;
};

struct guia_ref {
    opt_int guia_tipo;  // 1 remitente, 2 transportista
    opt_str guia_serie_numero;
    extra_fields extra;
};

struct cuota {
    opt_int cuota;
    opt_date fecha_de_pago;
    opt_dec importe;
    extra_fields extra;
};

struct comprobante {
    opt_int tipo_de_comprobante;  // 1 factura, 2 boleta, 3 NC, 4 ND
    opt_str serie;
    opt_int numero;
    opt_int sunat_transaction;
    opt_str cliente_tipo_de_documento;
    opt_str cliente_numero_de_documento;
    opt_str cliente_denominacion;
    opt_str cliente_direccion;
    opt_str cliente_email, cliente_email_1, cliente_email_2;
    opt_date fecha_de_emision;
    opt_date fecha_de_vencimiento;
    opt_int moneda;
    opt_dec tipo_de_cambio;
    opt_dec porcentaje_de_igv;
    opt_dec descuento_global;
    opt_dec total_descuento;
    opt_dec total_anticipo;
    opt_dec total_gravada;
    opt_dec total_inafecta;
    opt_dec total_exonerada;
    opt_dec total_igv;
    opt_dec total_gratuita;
    opt_dec total_otros_cargos;
    opt_dec total_isc;
    opt_dec total_impuestos_bolsas;
    opt_dec total;
    // percepción / retención / detracción
    opt_int percepcion_tipo;
    opt_dec percepcion_base_imponible;
    opt_dec total_percepcion;
    opt_dec total_incluido_percepcion;
    opt_int retencion_tipo;
    opt_dec retencion_base_imponible;
    opt_dec total_retencion;
    opt_bool detraccion;
    opt_int detraccion_tipo;
    opt_dec detraccion_total;
    opt_dec detraccion_porcentaje;
    opt_int medio_de_pago_detraccion;
    // detracción transporte de carga (33) / pasajeros (32) / hidrobiológicos (31)
    opt_str ubigeo_origen, direccion_origen, ubigeo_destino, direccion_destino, detalle_viaje;
    opt_dec val_ref_serv_trans, val_ref_carga_efec, val_ref_carga_util;
    opt_str punto_origen_viaje, punto_destino_viaje, descripcion_tramo;
    opt_dec val_ref_carga_efec_tramo_virtual;
    opt_str configuracion_vehicular;
    opt_dec carga_util_tonel_metricas, carga_efec_tonel_metricas, val_pre_ref_carga_util_nominal;
    opt_dec val_ref_tonel_metrica;
    opt_bool indicador_aplicacion_retorno_vacio;
    opt_str matricula_emb_pesquera, nombre_emb_pesquera, descripcion_tipo_especie_vendida, lugar_de_descarga;
    opt_dec cantidad_especie_vendida;
    opt_date fecha_de_descarga;
    // notes
    opt_int documento_que_se_modifica_tipo;
    opt_str documento_que_se_modifica_serie;
    opt_int documento_que_se_modifica_numero;
    opt_int tipo_de_nota_de_credito;
    opt_int tipo_de_nota_de_debito;
    // sending and presentation
    opt_str observaciones;
    opt_bool enviar_automaticamente_a_la_sunat;
    opt_bool enviar_automaticamente_al_cliente;
    opt_str codigo_unico;
    opt_str condiciones_de_pago;
    opt_str medio_de_pago;
    opt_str placa_vehiculo;
    opt_str orden_compra_servicio;
    opt_str formato_de_pdf;
    opt_bool generado_por_contingencia;
    opt_bool bienes_region_selva, servicios_region_selva;
    opt_str nubecont_tipo_de_venta_codigo;
    opt_str tabla_personalizada_codigo;
    std::vector<item> items;
    std::vector<guia_ref> guias;
    std::vector<cuota> venta_al_credito;
    extra_fields extra;

    document_key key() const;  // missing parts are 0 / ""
};

// ---- anulación, consultas (§9) ---------------------------------------------------------------

struct anulacion {  // generar_anulacion
    opt_int tipo_de_comprobante;
    opt_str serie;
    opt_int numero;
    opt_str motivo;
    opt_str codigo_unico;
    extra_fields extra;
};

// consultar_comprobante / consultar_anulacion / consultar_guia / consultar_retencion / …
struct consulta {
    operation op = operation::consultar_comprobante;
    opt_int tipo_de_comprobante;  // absent for retención/percepción
    opt_str serie;
    opt_int numero;
    opt_str motivo;  // reversión requests only
    extra_fields extra;
};

// ---- generar_guia (§9) -------------------------------------------------------------------------

struct guia_item {
    opt_str unidad_de_medida;
    opt_str codigo;
    opt_str descripcion;
    opt_dec cantidad;
    opt_str codigo_dam;
    extra_fields extra;
};

struct guia_documento_relacionado {
    opt_str tipo;  // "01", "03", "09", "31"
    opt_str serie;
    opt_int numero;
    extra_fields extra;
};

struct vehiculo_secundario {
    opt_str placa_numero;
    opt_str tuc;
    extra_fields extra;
};

struct conductor_secundario {
    opt_str documento_tipo, documento_numero, nombre, apellidos, numero_licencia;
    extra_fields extra;
};

struct guia {
    opt_int tipo_de_comprobante;  // 7 remitente, 8 transportista
    opt_str serie;
    opt_int numero;
    opt_str cliente_tipo_de_documento, cliente_numero_de_documento, cliente_denominacion, cliente_direccion;
    opt_str cliente_email, cliente_email_1, cliente_email_2;
    opt_date fecha_de_emision;
    opt_str observaciones;
    opt_str motivo_de_traslado;
    opt_str motivo_de_traslado_otros_descripcion;
    opt_str documento_relacionado_codigo;
    opt_dec peso_bruto_total;
    opt_str peso_bruto_unidad_de_medida;
    opt_int numero_de_bultos;
    opt_str tipo_de_transporte;
    opt_date fecha_de_inicio_de_traslado;
    opt_str transportista_documento_tipo, transportista_documento_numero, transportista_denominacion;
    opt_str transportista_placa_numero;
    opt_str tuc_vehiculo_principal;
    opt_str conductor_documento_tipo, conductor_documento_numero, conductor_denominacion, conductor_nombre,
        conductor_apellidos, conductor_numero_licencia;
    opt_str destinatario_documento_tipo, destinatario_documento_numero, destinatario_denominacion;
    opt_str mtc, sunat_envio_indicador;
    opt_str subcontratador_documento_tipo, subcontratador_documento_numero, subcontratador_denominacion;
    opt_str pagador_servicio_documento_tipo_identidad, pagador_servicio_documento_numero_identidad,
        pagador_servicio_denominacion;
    opt_str punto_de_partida_ubigeo, punto_de_partida_direccion,
        punto_de_partida_codigo_establecimiento_sunat;
    opt_str punto_de_llegada_ubigeo, punto_de_llegada_direccion,
        punto_de_llegada_codigo_establecimiento_sunat;
    opt_bool enviar_automaticamente_al_cliente;
    opt_str formato_de_pdf;
    std::vector<guia_item> items;
    std::vector<guia_documento_relacionado> documento_relacionado;
    std::vector<vehiculo_secundario> vehiculos_secundarios;
    std::vector<conductor_secundario> conductores_secundarios;
    extra_fields extra;

    document_key key() const;
};

// ---- retención / percepción (§9) ---------------------------------------------------------------

// One item of a retención (R…) or percepción (P…) document. Field names follow the kind:
// pago_* / importe_retenido* for retención, cobro_* / importe_percibido* for percepción.
struct retper_item {
    opt_str documento_relacionado_tipo;  // "01","03","07","08"
    opt_str documento_relacionado_serie;
    opt_int documento_relacionado_numero;
    opt_date documento_relacionado_fecha_de_emision;
    opt_int documento_relacionado_moneda;
    opt_dec documento_relacionado_total;
    opt_date pago_fecha;               // cobro_fecha
    opt_str pago_numero;               // cobro_numero
    opt_dec pago_total_sin_retencion;  // cobro_total_sin_percepcion
    opt_dec tipo_de_cambio;
    opt_date tipo_de_cambio_fecha;
    opt_dec importe_retenido;              // importe_percibido
    opt_date importe_retenido_fecha;       // importe_percibido_fecha
    opt_dec importe_pagado_con_retencion;  // importe_cobrado_con_percepcion
    extra_fields extra;
};

struct retencion_percepcion {
    bool percepcion = false;  // false: generar_retencion (R…); true: generar_percepcion (P…)
    opt_str serie;
    opt_int numero;
    opt_str cliente_tipo_de_documento, cliente_numero_de_documento, cliente_denominacion, cliente_direccion;
    opt_str cliente_email, cliente_email_1, cliente_email_2;
    opt_date fecha_de_emision;
    opt_int moneda;
    opt_int tipo_de_tasa;    // tipo_de_tasa_de_retencion / tipo_de_tasa_de_percepcion
    opt_dec total_retenido;  // total_percibido
    opt_dec total_pagado;    // total_cobrado
    opt_str observaciones;
    opt_bool enviar_automaticamente_a_la_sunat, enviar_automaticamente_al_cliente;
    opt_str codigo_unico;
    opt_str formato_de_pdf;
    std::vector<retper_item> items;
    extra_fields extra;

    document_key key() const;
};

// ---- responses (§8, §10) -------------------------------------------------------------------------

// generar/consultar comprobante, anulación, guía, retención, percepción: one shape, fields that an
// operation does not return stay absent.
struct response {
    opt_int tipo_de_comprobante;
    opt_str serie;
    opt_int numero;
    opt_str enlace;
    opt_str enlace_del_pdf, enlace_del_xml, enlace_del_cdr;
    opt_bool aceptada_por_sunat;
    opt_str sunat_description, sunat_note, sunat_responsecode, sunat_soap_error;
    opt_str pdf_zip_base64, xml_zip_base64, cdr_zip_base64;
    opt_str cadena_para_codigo_qr;
    opt_str codigo_hash;
    opt_str codigo_de_barras;
    opt_bool anulado;             // consultar_comprobante only
    opt_str sunat_ticket_numero;  // anulación
    opt_str nota_importante;      // generar_guia
    extra_fields extra;
};

// Nubefact's error body {"errors": "...", "codigo": N}. `errors` may arrive as an array; it is
// then joined with "; ".
struct error_body {
    std::string errors;
    int codigo = 0;
};

}  // namespace nubefact

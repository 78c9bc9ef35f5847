// Field tables of every request and response object (fact sheet §3-§5, §8, §9), in wire order.
#include "schema.hpp"

#include <cstring>

namespace nubefact::json::detail {

namespace {

template <class>
struct member_traits;
template <class T, class F>
struct member_traits<F T::*> {
    using owner = T;
    using type = F;
};

template <class>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

// Offset of a member, measured on a real object (no offsetof on non-standard-layout types).
template <class T>
const T& probe() {
    static const T p{};
    return p;
}

template <auto M>
std::size_t offset_of() {
    using T = typename member_traits<decltype(M)>::owner;
    const T& obj = probe<T>();
    return static_cast<std::size_t>(reinterpret_cast<const char*>(&(obj.*M)) -
                                    reinterpret_cast<const char*>(&obj));
}

template <auto M>
constexpr kind kind_of() {
    using F = typename member_traits<decltype(M)>::type;
    if constexpr (std::is_same_v<F, opt_str>)
        return kind::str;
    else if constexpr (std::is_same_v<F, opt_int>)
        return kind::integer;
    else if constexpr (std::is_same_v<F, opt_dec>)
        return kind::dec;
    else if constexpr (std::is_same_v<F, opt_bool>)
        return kind::boolean;
    else if constexpr (std::is_same_v<F, opt_date>)
        return kind::date;
    else {
        static_assert(is_vector<F>::value, "unsupported member type");
        return kind::array;
    }
}

template <auto M>
field f(std::string_view name, num_fmt fmt = num_fmt::none, const schema* child = nullptr) {
    constexpr kind k = kind_of<M>();
    if (k == kind::dec && fmt == num_fmt::none) fmt = num_fmt::money;
    return field{name, k, fmt, false, quirk::none, offset_of<M>(), child, {}, 0, 0};
}

// A field whose zero means "not sent" (see quirk::zero_absent).
template <auto M>
field zero_absent(std::string_view name, num_fmt fmt = num_fmt::none) {
    field x = f<M>(name, fmt);
    x.q = quirk::zero_absent;
    return x;
}

// A ubigeo code (see quirk::ubigeo).
template <auto M>
field ubigeo(std::string_view name) {
    field x = f<M>(name);
    x.q = quirk::ubigeo;
    return x;
}

template <auto M>
field local(std::string_view name, num_fmt fmt = num_fmt::none) {
    field x = f<M>(name, fmt);
    x.local = true;
    return x;
}

constexpr num_fmt money = num_fmt::money;
constexpr num_fmt shortest = num_fmt::shortest;

template <class T>
void element_ops(schema& s) {
    s.extra = [](void* o) -> extra_fields& { return static_cast<T*>(o)->extra; };
    s.append = [](void* v) -> void* {
        auto& vec = *static_cast<std::vector<T>*>(v);
        if (vec.capacity() == 0) vec.reserve(8);  // fewer moves of these large structs while reading
        return &vec.emplace_back();
    };
    s.size = [](const void* v) -> std::size_t { return static_cast<const std::vector<T>*>(v)->size(); };
    s.clear = [](void* v) { static_cast<std::vector<T>*>(v)->clear(); };
    s.element = [](const void* v, std::size_t i) -> const void* {
        return &(*static_cast<const std::vector<T>*>(v))[i];
    };
}

template <class T>
void object_ops(schema& s) {
    s.extra = [](void* o) -> extra_fields& { return static_cast<T*>(o)->extra; };
}

schema make_item() {
    using T = item;
    schema s;
    s.fields = {
        f<&T::unidad_de_medida>("unidad_de_medida"),
        f<&T::codigo>("codigo"),
        f<&T::codigo_producto_sunat>("codigo_producto_sunat"),
        f<&T::descripcion>("descripcion"),
        f<&T::cantidad>("cantidad", shortest),
        f<&T::valor_unitario>("valor_unitario", shortest),
        f<&T::precio_unitario>("precio_unitario", shortest),
        f<&T::descuento>("descuento", money),
        f<&T::subtotal>("subtotal", money),
        f<&T::tipo_de_igv>("tipo_de_igv"),
        f<&T::tipo_de_ivap>("tipo_de_ivap"),
        f<&T::igv>("igv", money),
        f<&T::impuesto_bolsas>("impuesto_bolsas", money),
        f<&T::tipo_de_isc>("tipo_de_isc"),
        f<&T::isc>("isc", money),
        f<&T::otros_cargos>("otros_cargos", money),
        f<&T::total>("total", money),
        f<&T::anticipo_regularizacion>("anticipo_regularizacion"),
        f<&T::anticipo_documento_serie>("anticipo_documento_serie"),
        f<&T::anticipo_documento_numero>("anticipo_documento_numero"),
        f<&T::codigo_dam>("codigo_dam"),
        local<&T::bolsas>("nubefact_bolsas"),
        local<&T::porcentaje_isc>("nubefact_porcentaje_isc", shortest),
    };
    element_ops<T>(s);
    s.index();
    return s;
}

schema make_guia_ref() {
    using T = guia_ref;
    schema s;
    s.fields = {f<&T::guia_tipo>("guia_tipo"), f<&T::guia_serie_numero>("guia_serie_numero")};
    element_ops<T>(s);
    s.index();
    return s;
}

schema make_cuota() {
    using T = cuota;
    schema s;
    s.fields = {f<&T::cuota>("cuota"), f<&T::fecha_de_pago>("fecha_de_pago"),
                f<&T::importe>("importe", money)};
    element_ops<T>(s);
    s.index();
    return s;
}

schema make_comprobante() {
    using T = comprobante;
    static const schema items = make_item();
    static const schema guias = make_guia_ref();
    static const schema cuotas = make_cuota();
    schema s;
    s.fields = {
        f<&T::tipo_de_comprobante>("tipo_de_comprobante"),
        f<&T::serie>("serie"),
        f<&T::numero>("numero"),
        f<&T::sunat_transaction>("sunat_transaction"),
        f<&T::cliente_tipo_de_documento>("cliente_tipo_de_documento"),
        f<&T::cliente_numero_de_documento>("cliente_numero_de_documento"),
        f<&T::cliente_denominacion>("cliente_denominacion"),
        f<&T::cliente_direccion>("cliente_direccion"),
        f<&T::cliente_email>("cliente_email"),
        f<&T::cliente_email_1>("cliente_email_1"),
        f<&T::cliente_email_2>("cliente_email_2"),
        f<&T::fecha_de_emision>("fecha_de_emision"),
        f<&T::fecha_de_vencimiento>("fecha_de_vencimiento"),
        f<&T::moneda>("moneda"),
        f<&T::tipo_de_cambio>("tipo_de_cambio", shortest),
        f<&T::porcentaje_de_igv>("porcentaje_de_igv", shortest),
        f<&T::descuento_global>("descuento_global", money),
        f<&T::total_descuento>("total_descuento", money),
        f<&T::total_anticipo>("total_anticipo", money),
        f<&T::total_gravada>("total_gravada", money),
        f<&T::total_inafecta>("total_inafecta", money),
        f<&T::total_exonerada>("total_exonerada", money),
        f<&T::total_igv>("total_igv", money),
        f<&T::total_gratuita>("total_gratuita", money),
        f<&T::total_otros_cargos>("total_otros_cargos", money),
        f<&T::total_isc>("total_isc", money),
        f<&T::total_impuestos_bolsas>("total_impuestos_bolsas", money),
        f<&T::total>("total", money),
        zero_absent<&T::percepcion_tipo>("percepcion_tipo"),
        zero_absent<&T::percepcion_base_imponible>("percepcion_base_imponible", money),
        zero_absent<&T::total_percepcion>("total_percepcion", money),
        zero_absent<&T::total_incluido_percepcion>("total_incluido_percepcion", money),
        zero_absent<&T::retencion_tipo>("retencion_tipo"),
        zero_absent<&T::retencion_base_imponible>("retencion_base_imponible", money),
        zero_absent<&T::total_retencion>("total_retencion", money),
        f<&T::detraccion>("detraccion"),
        zero_absent<&T::detraccion_tipo>("detraccion_tipo"),
        zero_absent<&T::detraccion_total>("detraccion_total", shortest),
        zero_absent<&T::detraccion_porcentaje>("detraccion_porcentaje", shortest),
        zero_absent<&T::medio_de_pago_detraccion>("medio_de_pago_detraccion"),
        ubigeo<&T::ubigeo_origen>("ubigeo_origen"),
        f<&T::direccion_origen>("direccion_origen"),
        ubigeo<&T::ubigeo_destino>("ubigeo_destino"),
        f<&T::direccion_destino>("direccion_destino"),
        f<&T::detalle_viaje>("detalle_viaje"),
        f<&T::val_ref_serv_trans>("val_ref_serv_trans", money),
        f<&T::val_ref_carga_efec>("val_ref_carga_efec", money),
        f<&T::val_ref_carga_util>("val_ref_carga_util", money),
        ubigeo<&T::punto_origen_viaje>("punto_origen_viaje"),
        ubigeo<&T::punto_destino_viaje>("punto_destino_viaje"),
        f<&T::descripcion_tramo>("descripcion_tramo"),
        f<&T::val_ref_carga_efec_tramo_virtual>("val_ref_carga_efec_tramo_virtual", money),
        f<&T::configuracion_vehicular>("configuracion_vehicular"),
        f<&T::carga_util_tonel_metricas>("carga_util_tonel_metricas", shortest),
        f<&T::carga_efec_tonel_metricas>("carga_efec_tonel_metricas", shortest),
        f<&T::val_ref_tonel_metrica>("val_ref_tonel_metrica", money),
        f<&T::val_pre_ref_carga_util_nominal>("val_pre_ref_carga_util_nominal", money),
        f<&T::indicador_aplicacion_retorno_vacio>("indicador_aplicacion_retorno_vacio"),
        f<&T::matricula_emb_pesquera>("matricula_emb_pesquera"),
        f<&T::nombre_emb_pesquera>("nombre_emb_pesquera"),
        f<&T::descripcion_tipo_especie_vendida>("descripcion_tipo_especie_vendida"),
        f<&T::lugar_de_descarga>("lugar_de_descarga"),
        f<&T::cantidad_especie_vendida>("cantidad_especie_vendida", shortest),
        f<&T::fecha_de_descarga>("fecha_de_descarga"),
        f<&T::observaciones>("observaciones"),
        f<&T::documento_que_se_modifica_tipo>("documento_que_se_modifica_tipo"),
        f<&T::documento_que_se_modifica_serie>("documento_que_se_modifica_serie"),
        f<&T::documento_que_se_modifica_numero>("documento_que_se_modifica_numero"),
        f<&T::tipo_de_nota_de_credito>("tipo_de_nota_de_credito"),
        f<&T::tipo_de_nota_de_debito>("tipo_de_nota_de_debito"),
        f<&T::enviar_automaticamente_a_la_sunat>("enviar_automaticamente_a_la_sunat"),
        f<&T::enviar_automaticamente_al_cliente>("enviar_automaticamente_al_cliente"),
        f<&T::codigo_unico>("codigo_unico"),
        f<&T::condiciones_de_pago>("condiciones_de_pago"),
        f<&T::medio_de_pago>("medio_de_pago"),
        f<&T::placa_vehiculo>("placa_vehiculo"),
        f<&T::orden_compra_servicio>("orden_compra_servicio"),
        f<&T::tabla_personalizada_codigo>("tabla_personalizada_codigo"),
        f<&T::formato_de_pdf>("formato_de_pdf"),
        f<&T::generado_por_contingencia>("generado_por_contingencia"),
        f<&T::bienes_region_selva>("bienes_region_selva"),
        f<&T::servicios_region_selva>("servicios_region_selva"),
        f<&T::nubecont_tipo_de_venta_codigo>("nubecont_tipo_de_venta_codigo"),
        f<&T::items>("items", num_fmt::none, &items),
        f<&T::guias>("guias", num_fmt::none, &guias),
        f<&T::venta_al_credito>("venta_al_credito", num_fmt::none, &cuotas),
    };
    object_ops<T>(s);
    s.index();
    return s;
}

schema make_anulacion() {
    using T = anulacion;
    schema s;
    s.fields = {f<&T::tipo_de_comprobante>("tipo_de_comprobante"), f<&T::serie>("serie"),
                f<&T::numero>("numero"), f<&T::motivo>("motivo"), f<&T::codigo_unico>("codigo_unico")};
    object_ops<T>(s);
    s.index();
    return s;
}

schema make_consulta() {
    using T = consulta;
    schema s;
    s.fields = {f<&T::tipo_de_comprobante>("tipo_de_comprobante"), f<&T::serie>("serie"),
                f<&T::numero>("numero"), f<&T::motivo>("motivo")};
    object_ops<T>(s);
    s.index();
    return s;
}

schema make_guia() {
    using T = guia;
    static const schema items = [] {
        using I = guia_item;
        schema s;
        s.fields = {f<&I::unidad_de_medida>("unidad_de_medida"), f<&I::codigo>("codigo"),
                    f<&I::descripcion>("descripcion"), f<&I::cantidad>("cantidad", shortest),
                    f<&I::codigo_dam>("codigo_dam")};
        element_ops<I>(s);
        s.index();
        return s;
    }();
    static const schema docs = [] {
        using I = guia_documento_relacionado;
        schema s;
        s.fields = {f<&I::tipo>("tipo"), f<&I::serie>("serie"), f<&I::numero>("numero")};
        element_ops<I>(s);
        s.index();
        return s;
    }();
    static const schema vehiculos = [] {
        using I = vehiculo_secundario;
        schema s;
        s.fields = {f<&I::placa_numero>("placa_numero"), f<&I::tuc>("tuc")};
        element_ops<I>(s);
        s.index();
        return s;
    }();
    static const schema conductores = [] {
        using I = conductor_secundario;
        schema s;
        s.fields = {f<&I::documento_tipo>("documento_tipo"), f<&I::documento_numero>("documento_numero"),
                    f<&I::nombre>("nombre"), f<&I::apellidos>("apellidos"),
                    f<&I::numero_licencia>("numero_licencia")};
        element_ops<I>(s);
        s.index();
        return s;
    }();
    schema s;
    s.fields = {
        f<&T::tipo_de_comprobante>("tipo_de_comprobante"),
        f<&T::serie>("serie"),
        f<&T::numero>("numero"),
        f<&T::cliente_tipo_de_documento>("cliente_tipo_de_documento"),
        f<&T::cliente_numero_de_documento>("cliente_numero_de_documento"),
        f<&T::cliente_denominacion>("cliente_denominacion"),
        f<&T::cliente_direccion>("cliente_direccion"),
        f<&T::cliente_email>("cliente_email"),
        f<&T::cliente_email_1>("cliente_email_1"),
        f<&T::cliente_email_2>("cliente_email_2"),
        f<&T::fecha_de_emision>("fecha_de_emision"),
        f<&T::observaciones>("observaciones"),
        f<&T::motivo_de_traslado>("motivo_de_traslado"),
        f<&T::motivo_de_traslado_otros_descripcion>("motivo_de_traslado_otros_descripcion"),
        f<&T::documento_relacionado_codigo>("documento_relacionado_codigo"),
        f<&T::peso_bruto_total>("peso_bruto_total", shortest),
        f<&T::peso_bruto_unidad_de_medida>("peso_bruto_unidad_de_medida"),
        f<&T::numero_de_bultos>("numero_de_bultos"),
        f<&T::tipo_de_transporte>("tipo_de_transporte"),
        f<&T::fecha_de_inicio_de_traslado>("fecha_de_inicio_de_traslado"),
        f<&T::transportista_documento_tipo>("transportista_documento_tipo"),
        f<&T::transportista_documento_numero>("transportista_documento_numero"),
        f<&T::transportista_denominacion>("transportista_denominacion"),
        f<&T::transportista_placa_numero>("transportista_placa_numero"),
        f<&T::tuc_vehiculo_principal>("tuc_vehiculo_principal"),
        f<&T::conductor_documento_tipo>("conductor_documento_tipo"),
        f<&T::conductor_documento_numero>("conductor_documento_numero"),
        f<&T::conductor_denominacion>("conductor_denominacion"),
        f<&T::conductor_nombre>("conductor_nombre"),
        f<&T::conductor_apellidos>("conductor_apellidos"),
        f<&T::conductor_numero_licencia>("conductor_numero_licencia"),
        f<&T::destinatario_documento_tipo>("destinatario_documento_tipo"),
        f<&T::destinatario_documento_numero>("destinatario_documento_numero"),
        f<&T::destinatario_denominacion>("destinatario_denominacion"),
        f<&T::mtc>("mtc"),
        f<&T::sunat_envio_indicador>("sunat_envio_indicador"),
        f<&T::subcontratador_documento_tipo>("subcontratador_documento_tipo"),
        f<&T::subcontratador_documento_numero>("subcontratador_documento_numero"),
        f<&T::subcontratador_denominacion>("subcontratador_denominacion"),
        f<&T::pagador_servicio_documento_tipo_identidad>("pagador_servicio_documento_tipo_identidad"),
        f<&T::pagador_servicio_documento_numero_identidad>("pagador_servicio_documento_numero_identidad"),
        f<&T::pagador_servicio_denominacion>("pagador_servicio_denominacion"),
        ubigeo<&T::punto_de_partida_ubigeo>("punto_de_partida_ubigeo"),
        f<&T::punto_de_partida_direccion>("punto_de_partida_direccion"),
        f<&T::punto_de_partida_codigo_establecimiento_sunat>("punto_de_partida_codigo_establecimiento_sunat"),
        ubigeo<&T::punto_de_llegada_ubigeo>("punto_de_llegada_ubigeo"),
        f<&T::punto_de_llegada_direccion>("punto_de_llegada_direccion"),
        f<&T::punto_de_llegada_codigo_establecimiento_sunat>("punto_de_llegada_codigo_establecimiento_sunat"),
        f<&T::enviar_automaticamente_al_cliente>("enviar_automaticamente_al_cliente"),
        f<&T::formato_de_pdf>("formato_de_pdf"),
        f<&T::items>("items", num_fmt::none, &items),
        f<&T::documento_relacionado>("documento_relacionado", num_fmt::none, &docs),
        f<&T::vehiculos_secundarios>("vehiculos_secundarios", num_fmt::none, &vehiculos),
        f<&T::conductores_secundarios>("conductores_secundarios", num_fmt::none, &conductores),
    };
    object_ops<T>(s);
    s.index();
    return s;
}

// Retención and percepción share one struct; only the wire names differ.
schema make_retper(bool percepcion) {
    using T = retencion_percepcion;
    using I = retper_item;
    const bool p = percepcion;
    static const schema items_ret = [] {
        schema s;
        s.fields = {
            f<&I::documento_relacionado_tipo>("documento_relacionado_tipo"),
            f<&I::documento_relacionado_serie>("documento_relacionado_serie"),
            f<&I::documento_relacionado_numero>("documento_relacionado_numero"),
            f<&I::documento_relacionado_fecha_de_emision>("documento_relacionado_fecha_de_emision"),
            f<&I::documento_relacionado_moneda>("documento_relacionado_moneda"),
            f<&I::documento_relacionado_total>("documento_relacionado_total", money),
            f<&I::pago_fecha>("pago_fecha"),
            f<&I::pago_numero>("pago_numero"),
            f<&I::pago_total_sin_retencion>("pago_total_sin_retencion", money),
            f<&I::tipo_de_cambio>("tipo_de_cambio", shortest),
            f<&I::tipo_de_cambio_fecha>("tipo_de_cambio_fecha"),
            f<&I::importe_retenido>("importe_retenido", money),
            f<&I::importe_retenido_fecha>("importe_retenido_fecha"),
            f<&I::importe_pagado_con_retencion>("importe_pagado_con_retencion", money),
        };
        element_ops<I>(s);
        s.index();
        return s;
    }();
    static const schema items_per = [] {
        schema s;
        s.fields = {
            f<&I::documento_relacionado_tipo>("documento_relacionado_tipo"),
            f<&I::documento_relacionado_serie>("documento_relacionado_serie"),
            f<&I::documento_relacionado_numero>("documento_relacionado_numero"),
            f<&I::documento_relacionado_fecha_de_emision>("documento_relacionado_fecha_de_emision"),
            f<&I::documento_relacionado_moneda>("documento_relacionado_moneda"),
            f<&I::documento_relacionado_total>("documento_relacionado_total", money),
            f<&I::pago_fecha>("cobro_fecha"),
            f<&I::pago_numero>("cobro_numero"),
            f<&I::pago_total_sin_retencion>("cobro_total_sin_percepcion", money),
            f<&I::tipo_de_cambio>("tipo_de_cambio", shortest),
            f<&I::tipo_de_cambio_fecha>("tipo_de_cambio_fecha"),
            f<&I::importe_retenido>("importe_percibido", money),
            f<&I::importe_retenido_fecha>("importe_percibido_fecha"),
            f<&I::importe_pagado_con_retencion>("importe_cobrado_con_percepcion", money),
        };
        element_ops<I>(s);
        s.index();
        return s;
    }();
    schema s;
    s.fields = {
        f<&T::serie>("serie"),
        f<&T::numero>("numero"),
        f<&T::cliente_tipo_de_documento>("cliente_tipo_de_documento"),
        f<&T::cliente_numero_de_documento>("cliente_numero_de_documento"),
        f<&T::cliente_denominacion>("cliente_denominacion"),
        f<&T::cliente_direccion>("cliente_direccion"),
        f<&T::cliente_email>("cliente_email"),
        f<&T::cliente_email_1>("cliente_email_1"),
        f<&T::cliente_email_2>("cliente_email_2"),
        f<&T::fecha_de_emision>("fecha_de_emision"),
        f<&T::moneda>("moneda"),
        f<&T::tipo_de_tasa>(p ? "tipo_de_tasa_de_percepcion" : "tipo_de_tasa_de_retencion"),
        f<&T::total_retenido>(p ? "total_percibido" : "total_retenido", money),
        f<&T::total_pagado>(p ? "total_cobrado" : "total_pagado", money),
        f<&T::observaciones>("observaciones"),
        f<&T::enviar_automaticamente_a_la_sunat>("enviar_automaticamente_a_la_sunat"),
        f<&T::enviar_automaticamente_al_cliente>("enviar_automaticamente_al_cliente"),
        f<&T::codigo_unico>("codigo_unico"),
        f<&T::formato_de_pdf>("formato_de_pdf"),
        f<&T::items>("items", num_fmt::none, p ? &items_per : &items_ret),
    };
    object_ops<T>(s);
    s.index();
    return s;
}

schema make_response() {
    using T = response;
    schema s;
    s.fields = {
        f<&T::tipo_de_comprobante>("tipo_de_comprobante"),
        f<&T::serie>("serie"),
        f<&T::numero>("numero"),
        f<&T::enlace>("enlace"),
        f<&T::enlace_del_pdf>("enlace_del_pdf"),
        f<&T::enlace_del_xml>("enlace_del_xml"),
        f<&T::enlace_del_cdr>("enlace_del_cdr"),
        f<&T::aceptada_por_sunat>("aceptada_por_sunat"),
        f<&T::sunat_description>("sunat_description"),
        f<&T::sunat_note>("sunat_note"),
        f<&T::sunat_responsecode>("sunat_responsecode"),
        f<&T::sunat_soap_error>("sunat_soap_error"),
        f<&T::pdf_zip_base64>("pdf_zip_base64"),
        f<&T::xml_zip_base64>("xml_zip_base64"),
        f<&T::cdr_zip_base64>("cdr_zip_base64"),
        f<&T::cadena_para_codigo_qr>("cadena_para_codigo_qr"),
        f<&T::codigo_hash>("codigo_hash"),
        f<&T::codigo_de_barras>("codigo_de_barras"),
        f<&T::anulado>("anulado"),
        f<&T::sunat_ticket_numero>("sunat_ticket_numero"),
        f<&T::nota_importante>("nota_importante"),
    };
    object_ops<T>(s);
    s.index();
    return s;
}

// Hash of a key from its length and its first and last 8 bytes: field names differ there.
struct key_words {
    std::uint64_t a = 0, b = 0;  // first and last 8 bytes (a only, zero-padded, when shorter)
};

key_words load(std::string_view k) noexcept {
    key_words w;
    if (k.size() >= 8) {
        std::memcpy(&w.a, k.data(), 8);
        std::memcpy(&w.b, k.data() + k.size() - 8, 8);
    } else {
        // Byte by byte: a variable-length memcpy into a word stalls store-to-load forwarding.
        for (std::size_t i = k.size(); i-- > 0;) w.a = (w.a << 8) | static_cast<unsigned char>(k[i]);
    }
    return w;
}

bool same(const field& c, const key_words& w, std::string_view key) noexcept {
    return c.w0 == w.a && c.w1 == w.b && c.name.size() == key.size() &&
           (key.size() <= 16 || std::memcmp(c.name.data() + 8, key.data() + 8, key.size() - 16) == 0);
}

std::size_t key_hash(const key_words& w, std::size_t n) noexcept {
    const std::uint64_t h =
        (w.a * 0x9E3779B97F4A7C15ULL) ^ (w.b * 0xC2B2AE3D27D4EB4FULL) ^ (n * 0x165667B19E3779F9ULL);
    return static_cast<std::size_t>((h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ULL >> 56);  // 8 bits: 256 slots
}

}  // namespace

void schema::index() {
    for (field& f : fields) {
        f.key_json.clear();
        f.key_json.push_back('"');
        f.key_json.append(f.name);  // table names are plain ASCII identifiers
        f.key_json.append("\":");
    }
    successor = std::make_unique<std::atomic<std::uint16_t>[]>(fields.size() + 1);
    for (std::size_t i = 0; i <= fields.size(); ++i) successor[i].store(0xFFFF, std::memory_order_relaxed);
    by_hash.assign(slots, 0);
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const key_words w = load(fields[i].name);
        fields[i].w0 = w.a;
        fields[i].w1 = w.b;
        std::size_t h = key_hash(w, fields[i].name.size());
        while (by_hash[h] != 0) h = (h + 1) % slots;
        by_hash[h] = static_cast<std::uint16_t>(i + 1);
    }
}

namespace {

// Equal first/last 8 bytes and length settle keys up to 16 bytes; longer ones compare the middle.
const field* probe_table(const schema& s, const key_words& w, std::string_view key) noexcept {
    for (std::size_t h = key_hash(w, key.size());; h = (h + 1) % schema::slots) {
        const std::uint16_t v = s.by_hash[h];
        if (v == 0) return nullptr;
        const field& c = s.fields[v - 1];
        if (same(c, w, key)) return &c;
    }
}

}  // namespace

const field* schema::find(std::string_view key) const noexcept {
    return probe_table(*this, load(key), key);
}

const field* schema::find_after(std::size_t prev, std::string_view key) const noexcept {
    const key_words w = load(key);
    std::atomic<std::uint16_t>& hint = successor[prev];
    const std::uint16_t guess = hint.load(std::memory_order_relaxed);
    if (guess < fields.size() && same(fields[guess], w, key)) return &fields[guess];
    const field* f = probe_table(*this, w, key);
    if (f != nullptr) hint.store(static_cast<std::uint16_t>(f - fields.data()), std::memory_order_relaxed);
    return f;
}

const schema& comprobante_schema() {
    static const schema s = make_comprobante();
    return s;
}
const schema& anulacion_schema() {
    static const schema s = make_anulacion();
    return s;
}
const schema& consulta_schema() {
    static const schema s = make_consulta();
    return s;
}
const schema& guia_schema() {
    static const schema s = make_guia();
    return s;
}
const schema& retencion_schema() {
    static const schema s = make_retper(false);
    return s;
}
const schema& percepcion_schema() {
    static const schema s = make_retper(true);
    return s;
}
const schema& response_schema() {
    static const schema s = make_response();
    return s;
}

}  // namespace nubefact::json::detail

-- wrk script: POSTs a 1.5 KB official-style factura (validation on) with a unique (serie, numero) per
-- request: each wrk thread has its own serie (F001, F002, ...) and counts numero up from 1.
-- Env: RUTA_PATH (default /api/v1/demo), TOKEN (default demo-token), FECHA (DD-MM-YYYY, required:
-- the emulator's "today"), SERIE_BASE (default 0: threads use F001..; change it between runs).
local threads = {}
local counter = 0
local serie = "F001"
local fecha = os.getenv("FECHA")
local path = os.getenv("RUTA_PATH") or "/api/v1/demo"
local token = os.getenv("TOKEN") or "demo-token"
local base = tonumber(os.getenv("SERIE_BASE") or "0")
local template = [[{"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"%s","numero":%d,"sunat_transaction":1,"cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771","cliente_denominacion":"NUBEFACT SA","cliente_direccion":"CALLE LIBERTAD 116 MIRAFLORES - LIMA - PERU","fecha_de_emision":"%s","moneda":"1","porcentaje_de_igv":"18.00","total_gravada":"600","total_igv":"108","total":"708","total_percepcion":"","total_incluido_percepcion":"","detraccion":"false","observaciones":"EJEMPLO JSON GENERAR CPE FACTURA 1 GRAVADA","documento_que_se_modifica_tipo":"","documento_que_se_modifica_serie":"","documento_que_se_modifica_numero":"","tipo_de_nota_de_credito":"","tipo_de_nota_de_debito":"","enviar_automaticamente_a_la_sunat":"true","enviar_automaticamente_al_cliente":"false","codigo_unico":"","condiciones_de_pago":"","medio_de_pago":"","placa_vehiculo":"","orden_compra_servicio":"","tabla_personalizada_codigo":"","formato_de_pdf":"","items":[{"unidad_de_medida":"NIU","codigo":"001","descripcion":"DETALLE DEL PRODUCTO","cantidad":"1","valor_unitario":"500","precio_unitario":"590","descuento":"","subtotal":"500","tipo_de_igv":"1","igv":"90","total":"590","anticipo_regularizacion":"false","codigo_producto_sunat":"10000000"},{"unidad_de_medida":"ZZ","codigo":"001","descripcion":"DETALLE DEL SERVICIO","cantidad":"5","valor_unitario":"20","precio_unitario":"23.60","descuento":"","subtotal":"100","tipo_de_igv":"1","igv":"18","total":"118","anticipo_regularizacion":"false","codigo_producto_sunat":"20000000"}]}]]
local headers = {["Content-Type"] = "application/json", ["Authorization"] = 'Token token="' .. token .. '"'}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   serie = string.format("F%03d", base + id)
end

function request()
   counter = counter + 1
   return wrk.format("POST", path, headers, string.format(template, serie, counter, fecha))
end

#!/usr/bin/env python3
"""Writes N valid facturas as JSONL (unique numbers, fixed date) for `nubefact send` measurements.

usage: gen_facturas.py N [SERIE] > facturas.jsonl
Each document has 1-3 items with every computed field filled; send with an emulator started with
--max-age-days large (the date is fixed so the file is reproducible).
"""
import sys

n = int(sys.argv[1])
serie = sys.argv[2] if len(sys.argv) > 2 else "F001"
out = sys.stdout
for i in range(1, n + 1):
    k = 1 + i % 3
    items = []
    gravada = 0  # cents
    igv = 0
    for j in range(k):
        cantidad = 1 + (i + j) % 7
        vu = 1000 + 137 * j  # cents, exact
        sub = cantidad * vu
        ig = (sub * 18 + 50) // 100
        gravada += sub
        igv += ig
        items.append(
            '{"unidad_de_medida":"NIU","codigo":"P%03d","descripcion":"PRODUCTO %d","cantidad":"%d",'
            '"valor_unitario":"%d.%02d","precio_unitario":"%d.%04d","subtotal":"%d.%02d","tipo_de_igv":1,"igv":"%d.%02d","total":"%d.%02d"}'
            % (j, j, cantidad, vu // 100, vu % 100, vu * 118 // 10000, vu * 118 % 10000, sub // 100, sub % 100, ig // 100, ig % 100,
               (sub + ig) // 100, (sub + ig) % 100))
    total = gravada + igv
    out.write(
        '{"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"%s","numero":%d,'
        '"sunat_transaction":1,"cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771",'
        '"cliente_denominacion":"CLIENTE %d SAC","cliente_direccion":"AV. LIMA %d","fecha_de_emision":"15-01-2026",'
        '"moneda":1,"porcentaje_de_igv":"18.00","total_gravada":"%d.%02d","total_igv":"%d.%02d","total":"%d.%02d",'
        '"items":[%s]}\n'
        % (serie, i, i, i, gravada // 100, gravada % 100, igv // 100, igv % 100, total // 100, total % 100,
           ",".join(items)))

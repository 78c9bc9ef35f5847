#!/usr/bin/env python3
"""Writes examples/: a realistic day of an ERP's documents for the demo and the docs.

`scripts/make-examples.py` rewrites examples/ (committed, dated 27-11-2026 for the docs);
`scripts/make-examples.py --out DIR` writes the same documents dated today in Lima (what
scripts/demo.sh sends, so the demo never goes stale); `--today DD-MM-YYYY` picks the date. Amounts
are computed with Python's Decimal, half-up, by the rules of docs/validation.md, independently of
the C++ code.
"""
import argparse
import datetime
import json
import random
from decimal import Decimal, ROUND_HALF_UP
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "examples"
D2 = Decimal("0.01")
D10 = Decimal("0.0000000001")
RATE = Decimal("18")
TODAY = "27-11-2026"


def r2(x):
    return x.quantize(D2, rounding=ROUND_HALF_UP)


def money(x):
    return f"{r2(x):.2f}"


def plain(x):
    s = format(x.normalize(), "f")
    return s


def item_gravado(desc, unidad, cantidad, valor, code):
    cantidad, valor = Decimal(cantidad), Decimal(valor)
    subtotal = r2(cantidad * valor)
    igv = r2(subtotal * RATE / 100)
    precio = r2(valor * (1 + RATE / 100))
    return {
        "unidad_de_medida": unidad, "codigo": code, "descripcion": desc, "cantidad": plain(cantidad),
        "valor_unitario": plain(valor), "precio_unitario": plain(precio), "subtotal": money(subtotal),
        "tipo_de_igv": 1, "igv": money(igv), "total": money(subtotal + igv),
        "anticipo_regularizacion": False,
    }


def comprobante(tipo, serie, numero, cliente, items, **extra):
    gravada = sum(Decimal(i["subtotal"]) for i in items)
    igv = sum(Decimal(i["igv"]) for i in items)
    doc = {
        "operacion": "generar_comprobante", "tipo_de_comprobante": tipo, "serie": serie, "numero": numero,
        "sunat_transaction": 1, **cliente, "fecha_de_emision": TODAY, "moneda": 1,
        "porcentaje_de_igv": "18.00", "total_gravada": money(gravada), "total_igv": money(igv),
        "total": money(gravada + igv), "enviar_automaticamente_a_la_sunat": True,
        "enviar_automaticamente_al_cliente": False, "items": items,
    }
    doc.update(extra)
    return doc


EMPRESAS = [
    ("20600695771", "NUBEFACT SA", "CALLE LIBERTAD 116 MIRAFLORES - LIMA"),
    ("20100070970", "SUPERMERCADOS PERUANOS SOCIEDAD ANONIMA", "CAL. MORELLI NRO. 181 SAN BORJA - LIMA"),
    ("20131312955", "SUPERINTENDENCIA NACIONAL DE ADUANAS Y DE ADMINISTRACION TRIBUTARIA", "AV. GARCILASO DE LA VEGA 1472 LIMA"),
    ("20100047218", "BANCO DE CREDITO DEL PERU", "CAL. CENTENARIO NRO. 156 LA MOLINA - LIMA"),
]
PERSONAS = [("41920371", "JORGE LOPEZ"), ("10203040", "MARIA QUISPE"), ("45678912", "ROSA HUAMAN")]
PRODUCTOS = [
    ("CUADERNO A4 CUADRICULADO", "NIU", "10.00"), ("LAPICERO AZUL", "NIU", "2.1186440678"),
    ("RESMA PAPEL BOND A4", "NIU", "16.10"), ("MANTENIMIENTO DE IMPRESORA", "ZZ", "120.00"),
    ("TONER HP 85A", "NIU", "185.50"), ("SERVICIO DE SOPORTE MENSUAL", "ZZ", "850.00"),
    ("ARCHIVADOR PALANCA", "NIU", "7.45"), ("CABLE HDMI 2M", "NIU", "21.19"),
]


def cliente_ruc(i):
    ruc, name, addr = EMPRESAS[i % len(EMPRESAS)]
    return {"cliente_tipo_de_documento": 6, "cliente_numero_de_documento": ruc,
            "cliente_denominacion": name, "cliente_direccion": addr}


def cliente_dni(i):
    dni, name = PERSONAS[i % len(PERSONAS)]
    return {"cliente_tipo_de_documento": 1, "cliente_numero_de_documento": dni,
            "cliente_denominacion": name, "cliente_direccion": ""}


def write(name, doc):
    (OUT / name).write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main():
    OUT.mkdir(exist_ok=True)
    rnd = random.Random(2026)
    # 1. The day's batch from the ERP: 240 facturas and boletas, JSONL, one document per line.
    lines = []
    nf = nb = 0
    for i in range(240):
        items = []
        for k in range(rnd.randint(1, 6)):
            desc, unidad, valor = PRODUCTOS[rnd.randrange(len(PRODUCTOS))]
            items.append(item_gravado(desc, unidad, rnd.randint(1, 12), valor, f"P{k + 1:03d}"))
        if i % 3 == 2:
            nb += 1
            doc = comprobante(2, "B001", nb, cliente_dni(i), items)
            if Decimal(doc["total"]) >= 700:  # boletas from S/ 700 need an identified customer: they have one
                pass
        else:
            nf += 1
            doc = comprobante(1, "F001", nf, cliente_ruc(i), items)
        lines.append(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
    # Two mistakes an ERP really makes: an IGV typed by hand, and a RUC with a wrong check digit.
    bad = json.loads(lines[10])
    bad["items"][0]["igv"] = money(Decimal(bad["items"][0]["igv"]) + Decimal("0.01"))
    lines[10] = json.dumps(bad, ensure_ascii=False, separators=(",", ":"))
    bad = json.loads(lines[19])
    bad["cliente_numero_de_documento"] = "20600695772"
    lines[19] = json.dumps(bad, ensure_ascii=False, separators=(",", ":"))
    (OUT / "ventas-del-dia.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    # 2. Notes, a voiding, a guía and a boleta over S/ 700 without a customer (rejected locally).
    nc = comprobante(3, "F001", 1, cliente_ruc(0), [item_gravado("DEVOLUCION CUADERNO A4", "NIU", 1, "10.00", "P001")],
                     documento_que_se_modifica_tipo=1, documento_que_se_modifica_serie="F001",
                     documento_que_se_modifica_numero=1, tipo_de_nota_de_credito=7)
    write("nota-de-credito-F001-1.json", nc)
    nd = comprobante(4, "F001", 1, cliente_ruc(1), [item_gravado("INTERESES POR MORA", "ZZ", 1, "25.00", "INT")],
                     documento_que_se_modifica_tipo=1, documento_que_se_modifica_serie="F001",
                     documento_que_se_modifica_numero=2, tipo_de_nota_de_debito=1)
    write("nota-de-debito-F001-1.json", nd)
    write("anulacion-F001-3.json", {"operacion": "generar_anulacion", "tipo_de_comprobante": 1, "serie": "F001",
                                   "numero": 3, "motivo": "ERROR EN EL RUC DEL CLIENTE"})
    write("guia-remitente-T001-1.json", {
        "operacion": "generar_guia", "tipo_de_comprobante": 7, "serie": "T001", "numero": 1,
        "cliente_tipo_de_documento": 6, "cliente_numero_de_documento": "20600695771",
        "cliente_denominacion": "NUBEFACT SA", "cliente_direccion": "MIRAFLORES LIMA",
        "fecha_de_emision": TODAY, "motivo_de_traslado": "01", "peso_bruto_total": "12.5",
        "peso_bruto_unidad_de_medida": "KGM", "numero_de_bultos": 3, "tipo_de_transporte": "02",
        "fecha_de_inicio_de_traslado": TODAY, "transportista_placa_numero": "ABC444",
        "conductor_documento_tipo": "1", "conductor_documento_numero": "41920371",
        "conductor_nombre": "JORGE", "conductor_apellidos": "LOPEZ", "conductor_numero_licencia": "Q41920371",
        "punto_de_partida_ubigeo": "150122", "punto_de_partida_direccion": "CALLE LIBERTAD 116 MIRAFLORES",
        "punto_de_llegada_ubigeo": "150130", "punto_de_llegada_direccion": "AV. AVIACION 2405 SAN BORJA",
        "enviar_automaticamente_al_cliente": False,
        "items": [{"unidad_de_medida": "NIU", "codigo": "P003", "descripcion": "RESMA PAPEL BOND A4", "cantidad": 25}],
    })
    big = comprobante(2, "B001", 900, {"cliente_tipo_de_documento": "-", "cliente_numero_de_documento": "-",
                                       "cliente_denominacion": "VARIOS", "cliente_direccion": ""},
                      [item_gravado("TONER HP 85A", "NIU", 4, "185.50", "P005")])
    write("boleta-sin-cliente-B001-900.json", big)


def lima_today():
    """Today in Lima: UTC-5 all year (Peru has no daylight saving time)."""
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=5)
    return now.strftime("%d-%m-%Y")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="directory to write (default: the repository's examples/)")
    ap.add_argument("--print-today", action="store_true", help="print today in Lima (DD-MM-YYYY) and exit")
    ap.add_argument("--today", help="fecha_de_emision DD-MM-YYYY (default: 27-11-2026 for examples/, "
                    "else today in Lima)")
    args = ap.parse_args()
    if args.print_today:
        print(lima_today())
        raise SystemExit(0)
    if args.out:
        OUT = Path(args.out)
        TODAY = args.today or lima_today()
    elif args.today:
        TODAY = args.today
    main()

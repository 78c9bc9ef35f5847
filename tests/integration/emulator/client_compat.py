#!/usr/bin/env python3
"""Posts to a running `nubefact emulator` what existing Nubefact integrations send (issue 19) and checks
the answers, with the standard library only (urllib, json, xml.etree, zipfile).
Usage: client_compat.py BASE_URL TOKEN EXAMPLES_DIR   (the emulator's "today" must be 17-12-2025)"""
import io
import json
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zipfile

base, token, examples = sys.argv[1], sys.argv[2], sys.argv[3]
ruta = base + "/api/v1/demo"
failures = []


def call(url, body=None, method="POST", auth=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    if auth is not False:
        req.add_header("Authorization", auth or 'Token token="%s"' % token)
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def check(name, cond, detail=""):
    if not cond:
        failures.append("%s: %s" % (name, detail))


def example(name):
    with open("%s/%s" % (examples, name), encoding="utf-8") as f:
        return json.load(f)


# An ERP's factura: strings everywhere, unset amounts "0.0", null, guias [], ISO date, extra fields.
doc = example("generar-cpe-factura-1-gravada.json")
doc.update({"numero": "101", "fecha_de_emision": "2025-12-17", "percepcion_tipo": "",
            "percepcion_base_imponible": "0.0", "total_percepcion": "0.0", "total_incluido_percepcion": "0.0",
            "retencion_tipo": None, "retencion_base_imponible": "0.0", "total_retencion": "0.0",
            "detraccion_tipo": 0, "detraccion_total": "0.0", "guias": [], "venta_al_credito": None,
            "erp_id": "V-101"})
status, ctype, body = call(ruta, doc)
check("zero-filled factura", status == 200, body[:300])
answer = json.loads(body) if status == 200 else {}

# The enlace links: the scheme it listens on, and the three files download and parse.
enlace = answer.get("enlace", "")
check("enlace scheme", enlace.startswith(base + "/cpe/"), enlace)
for ext, want in (("pdf", "application/pdf"), ("xml", "application/xml"), ("cdr", "application/zip")):
    if not enlace:
        break
    status, ctype, data = call(answer.get("enlace_del_" + ext) or enlace + "." + ext, method="GET", auth=False)
    check("GET ." + ext, status == 200 and ctype.startswith(want), "%s %s" % (status, ctype))
    if status != 200:
        continue
    try:
        if ext == "pdf":
            check("pdf header", data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF"))
        elif ext == "xml":
            root = ET.fromstring(data)
            check("xml root", root.tag.endswith("}Invoice"), root.tag)
        else:
            z = zipfile.ZipFile(io.BytesIO(data))
            check("zip crc", z.testzip() is None)
            ET.fromstring(z.read(z.namelist()[0]))
    except Exception as e:  # noqa: BLE001 - any parse failure is the finding
        failures.append("parse .%s: %r" % (ext, e))

# A wrong ruta is 401 codigo 11 (the statuses of the manual); a GET on the ruta 400 codigo 20.
status, _, body = call(base + "/api/v1/no-such-ruta", doc)
check("wrong ruta", status == 401 and json.loads(body).get("codigo") == 11, "%s %s" % (status, body[:200]))
status, _, body = call(ruta, method="GET")
check("GET on the ruta", status == 400 and json.loads(body).get("codigo") == 20, "%s %s" % (status, body[:200]))

# Integer ubigeo, as the manual types it.
det = example("generar-cpe-factura-23-detraccion-servicios-de-transporte-de-carga.json")
det["ubigeo_destino"] = 40110
det["numero"] = 2301
status, _, body = call(ruta, det)
check("integer ubigeo", status == 200, body[:300])

# The anulación answers the official example's pending ticket, then consultar_anulacion accepts.
status, _, body = call(ruta, {"operacion": "generar_anulacion", "tipo_de_comprobante": 1, "serie": doc["serie"],
                              "numero": 101, "motivo": "ERROR DEL SISTEMA"})
a = json.loads(body)
check("anulación pending first", status == 200 and a.get("aceptada_por_sunat") is False and
      a.get("sunat_ticket_numero") and a.get("enlace_del_cdr") == a.get("enlace", "") + ".cdr", body[:300])
status, _, body = call(ruta, {"operacion": "consultar_anulacion", "tipo_de_comprobante": 1, "serie": doc["serie"],
                              "numero": 101})
check("anulación accepted", status == 200 and json.loads(body).get("aceptada_por_sunat") is True, body[:300])

# A double's noise: refused with a message that names the field and says why.
noisy = dict(doc, numero=102)
noisy["items"] = [dict(doc["items"][0], igv=0.1 + 0.2)] + doc["items"][1:]
status, _, body = call(ruta, json.dumps(noisy).encode())
check("float noise", status == 400 and b"items[0].igv" in body and b"floating-point noise" in body, body[:300])

for f in failures:
    print("FAIL " + f)
print("client_compat: %d checks failed" % len(failures))
sys.exit(1 if failures else 0)

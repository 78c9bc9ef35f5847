#!/usr/bin/python3
"""Posts every official request in tests/data/official to a running emulator (with curl or with httpx)
and checks each answer has exactly the keys of the matching official response. Exit 0 when all match."""
import json
import os
import subprocess
import sys

BASE, TOKEN, CLIENT, EXAMPLES = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
RUTA = BASE + "/api/v1/demo"
HEADERS = {"Authorization": 'Token token="%s"' % TOKEN, "Content-Type": "application/json"}


def load(name):
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as f:
        return f.read()


if CLIENT == "httpx":
    import httpx

    session = httpx.Client(timeout=10.0)

    def post(url, body):
        r = session.post(url, content=body.encode("utf-8"), headers=HEADERS)
        return r.status_code, r.text

    def reset():
        session.post(BASE + "/__emulator/reset")
else:

    def post(url, body):
        out = subprocess.run(
            ["curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}", "-X", "POST", url,
             "-H", "Authorization: " + HEADERS["Authorization"], "-H", "Content-Type: application/json",
             "--data-binary", "@-"],
            input=body.encode("utf-8"), capture_output=True, check=True)
        text, _, code = out.stdout.decode("utf-8").rpartition("\n")
        return int(code), text

    def reset():
        subprocess.run(["curl", "-sS", "--max-time", "10", "-X", "POST", BASE + "/__emulator/reset"],
                       capture_output=True, check=True)


def shape_for(name):
    if name.startswith("generar-cpe-"):
        return "generar-cpe-factura-response.json"
    if name.startswith("consultar-cpe-"):
        return "consultar-cpe-factura-response.json"
    if name.startswith("generar-anulacion-"):
        return "generar-anulacion-response.json"
    if name.startswith("consultar-anulacion-"):
        return "consultar-anulacion-factura-response.json"
    if name.startswith("gre-generar-guia-remitente"):
        return "gre-generar-guia-remitente-response.json"
    if name.startswith("gre-generar-guia-transportista"):
        return "gre-generar-guia-transportista-response.json"
    if name.startswith("gre-consultar-guia"):
        return "gre-consultar-guia-response.json"
    return None


# Requests that need an earlier document: post it first (state is reset before every request).
def prerequisites(name):
    body = json.loads(load(name))
    tipo = str(body.get("tipo_de_comprobante"))
    if name.startswith("consultar-") or name.startswith("generar-anulacion"):
        pre = ["generar-cpe-factura-1-gravada.json" if tipo == "1" else "generar-cpe-boleta-1-gravada.json"]
        if name.startswith("consultar-anulacion"):
            pre.append(name.replace("consultar-anulacion", "generar-anulacion"))
        return pre
    if name.startswith("gre-consultar"):
        return ["gre-generar-guia-remitente-ttt1-1-venta-transporte-publico.json"]
    return []


failures = 0
count = 0
for name in sorted(os.listdir(EXAMPLES)):
    if not name.endswith(".json") or "response" in name:
        continue
    shape = shape_for(name)
    if not shape:
        continue
    reset()
    for pre in prerequisites(name):
        code, text = post(RUTA, load(pre))
        if code != 200:
            print("FAIL %s: prerequisite %s -> %d %s" % (name, pre, code, text[:200]))
            failures += 1
    code, text = post(RUTA, load(name))
    count += 1
    want = set(json.loads(load(shape)).keys())
    try:
        got = set(json.loads(text).keys())
    except ValueError:
        got = set()
    if code != 200 or got != want:
        failures += 1
        print("FAIL %s: HTTP %d, missing %s, extra %s, body %s" % (name, code, sorted(want - got),
                                                                    sorted(got - want), text[:300]))
# Error shape: a bad body answers like generar-cpe-error-response.json.
code, text = post(RUTA, "{")
want = set(json.loads(load("generar-cpe-error-response.json")).keys())
if code != 400 or set(json.loads(text).keys()) != want or json.loads(text)["codigo"] != 20:
    failures += 1
    print("FAIL error shape: %d %s" % (code, text))
print("%s: %d official requests, %d failures" % (CLIENT, count, failures))
sys.exit(1 if failures else 0)

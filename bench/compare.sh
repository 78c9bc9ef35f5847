#!/usr/bin/env bash
# Side-by-side load test: ONE `nubefact emulator` per scenario, and against it, in the same run with the
# same payload: `nubefact bench --url`, the Python clients users would pick (bench/baselines), and wrk
# (the loopback ceiling). Prints a Markdown table with absolute figures and ratios to httpx+Semaphore.
#
# Usage: bench/compare.sh [--quick] [--only a,b,c,d,a0]
#   --quick        small N everywhere (a smoke test of the script, not a measurement)
#   --only LIST    scenarios to run (default a,a0,b,c,d)
# Env: NUBEFACT_BIN (default build/bench-rel/nubefact), PY (default /usr/bin/python3),
#      OUT (results directory, default a new /tmp/nubefact-compare.XXXX)
# Scenarios:
#   a   zero latency, concurrency 10, emulator validating; nubefact with --complete --check and the audit
#       log (--audit --journal memory), with the durable intent journal too (--audit: as `send` runs,
#       look-ahead on), the same with --ahead 0, and alone
#   a0  the same against an emulator with --no-validate (the client measured without the emulator's checks)
#   b   50 ms latency, concurrency 1000: bound 20,000 docs/s
#   c   the seed's shape: 50 documents, concurrency 10, zero latency
#   d   1,000,000 documents, streaming generation, zero latency, --complete --check: nubefact's peak RSS
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${NUBEFACT_BIN:-$ROOT/build/bench-rel/nubefact}
PY=${PY:-/usr/bin/python3}
BASE=$ROOT/bench/baselines/python_clients.py
LUA=$ROOT/bench/emulator/factura.lua
QUICK=0
ONLY=a,a0,b,c,d
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1 ;;
        --only) ONLY=$2; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[ -x "$BIN" ] || { echo "compare.sh: $BIN not built (cmake --preset release or build/bench-rel)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "compare.sh: wrk not installed (apt-get install wrk)" >&2; exit 2; }
OUT=${OUT:-$(mktemp -d /tmp/nubefact-compare.XXXX)}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: > "$RESULTS"
want() { [[ ",$ONLY," == *",$1,"* ]]; }

# Sizes: nubefact's N gives >= 5 s runs at zero latency and 15 s at 50 ms (the 1,000 connects at the start
# and the last, partial wave weigh less); the Python clients get smaller N.
if [ $QUICK = 1 ]; then
    A_N=2000; A_PY=300; A_SEQ=200; A_PER=50; B_N=5000; B_PY=2000; D_N=20000; WRK_S=2
else
    A_N=40000; A_PY=2000; A_SEQ=1000; A_PER=300; B_N=300000; B_PY=5000; D_N=1000000; WRK_S=6
fi

FECHA=$(TZ=America/Lima date +%d-%m-%Y)
SERIE_BASE=$(( (RANDOM % 600) + 100 ))  # + 10 per client: stays a 3-digit serie
# The payload every client sends: the same official-style factura the wrk script posts.
TEMPLATE=$OUT/factura.json
sed -n 's/^local template = \[\[\(.*\)\]\]$/\1/p' "$LUA" | sed "s/\"serie\":\"%s\"/\"serie\":\"F001\"/; s/\"numero\":%d/\"numero\":1/; s/\"fecha_de_emision\":\"%s\"/\"fecha_de_emision\":\"$FECHA\"/" > "$TEMPLATE"
[ -s "$TEMPLATE" ] || { echo "compare.sh: could not extract the payload from $LUA" >&2; exit 2; }

EMU_PID=
stop_emulator() {
    if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null || true; wait "$EMU_PID" 2>/dev/null || true; EMU_PID=; fi
}
trap stop_emulator EXIT

# start_emulator LATENCY [extra flags]: sets EMU_PID, PORT, RUTA.
start_emulator() {
    local lat=$1; shift
    stop_emulator
    "$BIN" emulator --listen 127.0.0.1:0 --admin --latency "$lat" "$@" > "$OUT/emulator.log" 2>&1 &
    EMU_PID=$!
    for _ in $(seq 100); do
        PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$OUT/emulator.log")
        [ -n "$PORT" ] && break
        sleep 0.1
    done
    [ -n "$PORT" ] || { echo "compare.sh: the emulator did not start:" >&2; cat "$OUT/emulator.log" >&2; exit 1; }
    RUTA=http://127.0.0.1:$PORT/api/v1/demo
}

emu_cpu() {  # utime+stime of the emulator in clock ticks
    awk '{ print $14 + $15 }' "/proc/$EMU_PID/stat"
}
emu_conns() {  # connections the emulator accepted so far (admin stats)
    curl -s "http://127.0.0.1:$PORT/__emulator/stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["connections_accepted"])'
}
TICK=$(getconf CLK_TCK)

# record SCENARIO CLIENT JSONFILE EMU_TICKS VALIDATED: appends one normalized line to results.jsonl.
record() {
    "$PY" - "$1" "$2" "$3" "$4" "$TICK" "$5" "$6" >> "$RESULTS" <<'EOF'
import json, sys
scenario, client, path, ticks, tick, validated, conns = sys.argv[1:8]
d = json.load(open(path))
if d.get("tool") == "nubefact bench":
    r = d["runs"][0]
    row = {"docs": r["documents"], "ok": r["ok"], "c": r["concurrency"], "seconds": r["seconds"],
           "dps": r["docs_per_s"], "p50": r["latency_ms"]["p50"], "p99": r["latency_ms"]["p99"],
           "cpu_us": r["client_cpu_us_per_doc"], "rss": r["peak_rss_mb"], "conns": r["connections_opened"],
           "errors": r["errors"], "settings": d["settings"]}
elif d.get("tool") == "wrk":
    row = d
else:
    row = {"docs": d["documents"], "ok": d["ok"], "c": d["concurrency"], "seconds": d["seconds"],
           "dps": d["docs_per_s"], "p50": d["p50_ms"], "p99": d["p99_ms"], "cpu_us": d["cpu_us_per_doc"],
           "rss": d["peak_rss_mb"], "conns": d.get("connections"), "errors": d["errors"]}
row["scenario"], row["client"] = scenario, client
secs = float(row["seconds"]) or 1.0
row["emu_core_pct"] = round(100.0 * int(ticks) / int(tick) / secs, 1)
row["validated"] = validated == "1"
row["emu_conns"] = int(conns)
print(json.dumps(row))
EOF
}

# run_nubefact SCENARIO LABEL VALIDATED ARGS...
run_nubefact() {
    local sc=$1 label=$2 val=$3; shift 3
    local f=$OUT/$sc-$label.json e0 e1
    e0=$(emu_cpu); c0=$(emu_conns)
    "$BIN" bench --url "$RUTA" --token demo-token --auth token_token --emulator-pid "$EMU_PID" \
        --template "$TEMPLATE" --out "$f" "$@" 2> "$OUT/$sc-$label.err" || true
    e1=$(emu_cpu); c1=$(emu_conns)
    [ -s "$f" ] || { echo "compare.sh: nubefact bench failed:" >&2; cat "$OUT/$sc-$label.err" >&2; exit 1; }
    record "$sc" "$label" "$f" $((e1 - e0)) "$val" $((c1 - c0))
}

# run_python SCENARIO MODE N C VALIDATED
run_python() {
    local sc=$1 mode=$2 n=$3 c=$4 val=$5
    local f=$OUT/$sc-$mode.json e0 e1
    e0=$(emu_cpu); c0=$(emu_conns)
    "$PY" "$BASE" --mode "$mode" --url "$RUTA" --token demo-token --template "$TEMPLATE" \
        --serie "F$SERIE_BASE" --count "$n" --concurrency "$c" > "$f" 2> "$OUT/$sc-$mode.err" || true
    e1=$(emu_cpu); c1=$(emu_conns)
    SERIE_BASE=$((SERIE_BASE + 10))  # wrk threads take F(base+1)...: keep every client's series apart
    [ -s "$f" ] || { echo "compare.sh: python $mode failed:" >&2; tail -5 "$OUT/$sc-$mode.err" >&2; return 0; }
    record "$sc" "python-$mode" "$f" $((e1 - e0)) "$val" $((c1 - c0))
}

# run_wrk SCENARIO C SECONDS VALIDATED
run_wrk() {
    local sc=$1 c=$2 s=$3 val=$4
    local f=$OUT/$sc-wrk.txt e0 e1
    e0=$(emu_cpu); c0=$(emu_conns)
    FECHA=$FECHA TOKEN=demo-token RUTA_PATH=/api/v1/demo SERIE_BASE=$SERIE_BASE \
        wrk -t1 -c"$c" -d"${s}s" --latency -s "$LUA" "http://127.0.0.1:$PORT" > "$f" 2>&1 || true
    e1=$(emu_cpu); c1=$(emu_conns)
    SERIE_BASE=$((SERIE_BASE + 10))
    "$PY" - "$f" "$c" > "$OUT/$sc-wrk.json" <<'EOF'
import json, re, sys
t = open(sys.argv[1]).read()
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
n = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", t).group(1))
secs_m = re.search(r"requests in ([\d.]+)(ms|s|m)", t)
secs = float(secs_m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[secs_m.group(2)]
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
p = {k: ms(v, u) for k, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", t, re.M)}
errs = {}
if non2xx: errs["non_2xx"] = int(non2xx.group(1))
sock = re.search(r"Socket errors: (.*)", t)
if sock: errs["socket"] = sock.group(1)
print(json.dumps({"tool": "wrk", "docs": n, "ok": n - errs.get("non_2xx", 0), "c": int(sys.argv[2]),
                  "seconds": secs, "dps": round(rps, 1), "p50": p.get("50"), "p99": p.get("99"),
                  "cpu_us": None, "rss": None, "conns": int(sys.argv[2]), "errors": errs}))
EOF
    record "$sc" "wrk (ceiling)" "$OUT/$sc-wrk.json" $((e1 - e0)) "$val" $((c1 - c0))
}

FULL=(--complete --check --audit)                      # audit log + durable intent journal (as send)
AUDIT_LOG=(--complete --check --audit --journal memory)  # audit log in the store, journal in memory

if want a; then
    echo "== (a) zero latency, concurrency 10, emulator validating" >&2
    start_emulator none
    run_wrk a 10 "$WRK_S" 1
    run_nubefact a "nubefact+complete+check+audit-log" 1 -n "$A_N" -c 10 "${AUDIT_LOG[@]}"
    run_nubefact a "nubefact+complete+check+audit-log+journal" 1 -n "$A_N" -c 10 "${FULL[@]}"
    run_nubefact a "nubefact+complete+check+audit-log+journal-no-ahead" 1 -n "$A_N" -c 10 "${FULL[@]}" --ahead 0
    run_nubefact a "nubefact" 1 -n "$A_N" -c 10
    run_python a httpx-semaphore "$A_PY" 10 1
    run_python a aiohttp "$A_PY" 10 1
    run_python a httpx-per-request "$A_PER" 10 1
    run_python a requests-seq "$A_SEQ" 1 1
fi
if want a0; then
    echo "== (a0) zero latency, concurrency 10, emulator --no-validate" >&2
    start_emulator none --no-validate
    run_wrk a0 10 "$WRK_S" 0
    run_nubefact a0 "nubefact+complete+check+audit-log" 0 -n "$A_N" -c 10 "${AUDIT_LOG[@]}"
    run_nubefact a0 "nubefact+complete+check+audit-log+journal" 0 -n "$A_N" -c 10 "${FULL[@]}"
    run_nubefact a0 "nubefact" 0 -n "$A_N" -c 10
    run_python a0 httpx-semaphore "$A_PY" 10 0
    run_python a0 aiohttp "$A_PY" 10 0
fi
if want b; then
    echo "== (b) 50 ms latency, concurrency 1000 (bound 20,000 docs/s)" >&2
    start_emulator fixed:50
    # nubefact right after wrk: the emulator keeps every document it created, and each run finds it
    # fuller (at 50 ms it is near its core's limit here: ~45 µs of CPU per request)
    run_wrk b 1000 "$WRK_S" 1
    run_nubefact b "nubefact" 1 -n "$B_N" -c 1000
    run_nubefact b "nubefact+complete+check+audit-log+journal" 1 -n "$B_N" -c 1000 "${FULL[@]}"
    run_python b httpx-semaphore "$B_PY" 1000 1
    run_python b aiohttp "$B_PY" 1000 1
fi
if want c; then
    echo "== (c) the seed's shape: 50 documents, concurrency 10, zero latency" >&2
    start_emulator none
    run_nubefact c "nubefact+complete+check+audit-log+journal" 1 -n 50 -c 10 "${FULL[@]}"
    run_python c httpx-semaphore 50 10 1
fi
if want d; then
    echo "== (d) $D_N documents, streaming, zero latency: peak RSS" >&2
    start_emulator none --no-validate
    # Without --audit: 1M documents through the durable journal take ~1 minute more here; the store
    # itself keeps nothing per document in memory (docs/performance/send.md).
    run_nubefact d "nubefact+complete+check" 0 -n "$D_N" -c 64 --complete --check
fi
stop_emulator

"$PY" - "$RESULTS" <<'EOF' | tee "$OUT/table.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def fmt(v, nd=1):
    if v is None: return "–"
    if isinstance(v, float): return f"{v:,.{nd}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)
print("| scen. | client | emulator validates | docs | conc. | docs/s | × httpx+Sem | p50 ms | p99 ms "
      "| client CPU µs/doc | peak RSS MB | conns own / emulator | errors | emulator core % |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
for sc in dict.fromkeys(r["scenario"] for r in rows):
    group = [r for r in rows if r["scenario"] == sc]
    base = next((r["dps"] for r in group if r["client"] == "python-httpx-semaphore"), None)
    for r in group:
        ratio = f"{r['dps'] / base:,.1f}×" if base else "–"
        errs = ", ".join(f"{k} {v}" for k, v in (r.get("errors") or {}).items()) or "0"
        print(f"| {sc} | {r['client']} | {'yes' if r['validated'] else 'no'} | {fmt(r['docs'])} | {r['c']} "
              f"| {fmt(r['dps'])} | {ratio} | {fmt(r['p50'], 2)} | {fmt(r['p99'], 2)} | {fmt(r['cpu_us'])} "
              f"| {fmt(r['rss'])} | {fmt(r.get('conns'))} / {fmt(r['emu_conns'])} | {errs} "
              f"| {fmt(r['emu_core_pct'])} |")
EOF
echo "results: $OUT (results.jsonl, table.md, raw outputs)" >&2

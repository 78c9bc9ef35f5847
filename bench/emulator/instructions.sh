#!/usr/bin/env bash
# User-space instructions per request of the emulator, counted by valgrind's callgrind: independent of
# the machine's load (unlike times). One emulator thread, the factura.lua load from wrk (10 connections),
# instrumentation on only while the measured requests run. Slow (valgrind): a few thousand requests.
# Usage: bench/emulator/instructions.sh path/to/nubefact [port=18300] [serie_base=500] (< 998: series stay 4 characters)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$1"; port="${2:-18300}"; sb="${3:-500}"
export FECHA="$(date -u -d '-5 hours' +%d-%m-%Y)"
out="/tmp/nubefact-callgrind-$port"
rm -f "$out".*
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out.%p" \
  "$bin" emulator --listen "127.0.0.1:$port" --threads 1 --admin >"$out.log" 2>&1 &
vp=$!
trap 'kill -TERM $vp 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/__emulator/stats" && break; sleep 0.2; done
total() { curl -s "http://127.0.0.1:$port/__emulator/stats" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_total"])'; }
SERIE_BASE=$sb wrk -t1 -c10 -d3s -s "$root/bench/emulator/factura.lua" "http://127.0.0.1:$port/api/v1/demo" >/dev/null
n0=$(total)
callgrind_control -i on $vp >/dev/null 2>&1
SERIE_BASE=$((sb + 1)) wrk -t1 -c10 -d8s -s "$root/bench/emulator/factura.lua" "http://127.0.0.1:$port/api/v1/demo" >/dev/null
callgrind_control -i off $vp >/dev/null 2>&1
n1=$(total)
kill -TERM $vp; wait $vp 2>/dev/null || true
trap - EXIT
f=$(ls -t "$out".[0-9]* | head -1)
ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
n=$((n1 - n0 - 1))
echo "$bin: $n requests, $ir instructions, $((ir / n)) user-space instructions/request ($f)"

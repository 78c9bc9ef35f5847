#!/usr/bin/env bash
# Emulator load figures (docs/performance/emulator.md): wrk at zero latency, wrk at 50 ms with 1,000
# connections, and RSS with 10,000 idle keep-alive connections. Also reports the emulator's own CPU
# time per request (from /proc), which stays meaningful when wrk and other work share the cores.
# Usage: bench/emulator/run.sh [path/to/nubefact] [seconds=15]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:-$root/build/release/nubefact}"
secs="${2:-15}"
lua="$root/bench/emulator/factura.lua"
export FECHA="$(date -u -d '-5 hours' +%d-%m-%Y)"
ulimit -n "$(ulimit -Hn)"
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done' EXIT

start() {  # start PORT ARGS...
  local port=$1; shift
  "$bin" emulator --listen "127.0.0.1:$port" --threads 1 --admin "$@" >"/tmp/nubefact-emu-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 50); do grep -q listening "/tmp/nubefact-emu-$port.log" && break; sleep 0.1; done
  echo $! >"/tmp/nubefact-emu-$port.pid"
}
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
total() { curl -s "http://127.0.0.1:$1/__emulator/stats" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_total"])'; }

echo "== machine: $(nproc) cores, $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== 1) one emulator thread, zero latency, 1.5 KB factura, validation on, unique numero per request"
start 18181
pid=$(cat /tmp/nubefact-emu-18181.pid)
SERIE_BASE=100 wrk -t1 -c10 -d3s -s "$lua" http://127.0.0.1:18181/api/v1/demo >/dev/null  # warm-up
c0=$(cpu_ticks "$pid"); n0=$(total 18181)
SERIE_BASE=200 wrk -t1 -c50 -d"${secs}s" --latency -s "$lua" http://127.0.0.1:18181/api/v1/demo
c1=$(cpu_ticks "$pid"); n1=$(total 18181)
/usr/bin/python3 -c "
n=$n1-$n0-1; t=($c1-$c0)/100.0
print('emulator CPU: %.2f s for %d requests = %.1f us/request -> %.0f requests/s per fully used core' % (t, n, t*1e6/n, n/t))"
curl -s http://127.0.0.1:18181/__emulator/stats | head -c 300; echo

echo "== 2) one emulator thread, fixed 50 ms latency, 1,000 connections (bound: 1000/0.05 s = 20,000 req/s)"
start 18182 --latency fixed:50
SERIE_BASE=300 wrk -t1 -c1000 -d"${secs}s" --timeout 5s -s "$lua" http://127.0.0.1:18182/api/v1/demo

echo "== 3) RSS with 10,000 idle keep-alive connections"
start 18183
/usr/bin/python3 "$root/bench/emulator/idle_connections.py" "$(cat /tmp/nubefact-emu-18183.pid)" 18183 10000

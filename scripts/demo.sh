#!/usr/bin/env bash
# The main job: installs what is needed, builds nubefact (release), writes the example batch dated
# today in Lima into out/batch (scripts/make-examples.py) and sends it through the embedded emulator
# with the SQLite store. Extra arguments go to `nubefact send`.
# NUBEFACT_BIN=PATH uses that binary instead of building (tests); OUT=DIR writes there instead of out/.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${NUBEFACT_BIN:-}
if [[ -z "$bin" ]]; then
  bash scripts/bootstrap.sh
  bin=build/release/nubefact
  if [[ ! -x "$bin" ]] || [[ -n "$(find src apps include CMakeLists.txt -newer "$bin" -print -quit 2>/dev/null)" ]]; then
    cmake --preset release >/dev/null
    cmake --build --preset release --target nubefact_cli -j "$(nproc)"
  fi
fi

out=${OUT:-out}
mkdir -p "$out"
# The batch is dated today; on another day it is written anew with a new store (the documents of
# an earlier day are other documents: their numbers would carry other content).
today=$(python3 scripts/make-examples.py --print-today)
if [[ "$(cat "$out/batch/DATE" 2>/dev/null || true)" != "$today" ]]; then
  rm -rf "$out/batch" "$out/demo.db" "$out/demo.db-wal" "$out/demo.db-shm" "$out/results.jsonl"
  python3 scripts/make-examples.py --out "$out/batch" --today "$today"
  echo "$today" > "$out/batch/DATE"
fi
exec "$bin" send "$out/batch" --emulator --emulator-latency lognormal:30,200 \
  --store "sqlite:$out/demo.db" --results "$out/results.jsonl" "$@"

#!/usr/bin/env bash
# The main job: installs what is needed, builds nubefact (release), and sends the example batch in
# examples/ through the embedded emulator with the SQLite store. Extra arguments go to `nubefact send`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
if [[ ! -x build/release/nubefact ]] || [[ -n "$(find src apps include CMakeLists.txt -newer build/release/nubefact -print -quit 2>/dev/null)" ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target nubefact_cli -j "$(nproc)"
fi

mkdir -p out
exec build/release/nubefact send examples/ --emulator --emulator-latency lognormal:30,200 \
  --store sqlite:out/demo.db --results out/results.jsonl "$@"

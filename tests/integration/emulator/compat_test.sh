#!/usr/bin/env bash
# Starts `nubefact emulator` and posts every official example request with curl and with Debian's
# python3-httpx, checking each answer has the keys of the matching official response; then, on a
# default-mode emulator, what existing integrations send (client_compat.py).
# Usage: compat_test.sh [path/to/nubefact]   (default: $NUBEFACT_BINARY or build/dev/nubefact)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="${1:-${NUBEFACT_BINARY:-$root/build/dev/nubefact}}"
examples="${NUBEFACT_EXAMPLES_DIR:-$root/tests/data/official}"
out="$(mktemp)"
trap 'kill -TERM "$pid" 2>/dev/null || true; rm -f "$out"' EXIT

# The examples are dated 17-12-2025; --lenient: two of them carry known arithmetic slips (README there).
"$bin" emulator --listen 127.0.0.1:0 --admin --today 17-12-2025 --lenient >"$out" 2>&1 &
pid=$!
base=""
for _ in $(seq 1 100); do
  base="$(grep -o 'listening on http://[0-9.:]*' "$out" | head -1 | sed 's/listening on //')" || true
  [[ -n "$base" ]] && break
  sleep 0.1
done
[[ -n "$base" ]] || { echo "emulator did not start:"; cat "$out"; exit 1; }

rc=0
/usr/bin/python3 "$here/compat_check.py" "$base" demo-token curl "$examples" || rc=1
/usr/bin/python3 "$here/compat_check.py" "$base" demo-token httpx "$examples" || rc=1

kill -TERM "$pid"
wait "$pid" || { echo "emulator exited with $? on SIGTERM"; rc=1; }
grep -q "served" "$out" || { echo "no clean shutdown message"; rc=1; }

# The default mode (not lenient), as existing integrations meet it: client_compat.py (issue 19).
"$bin" emulator --listen 127.0.0.1:0 --today 17-12-2025 >"$out" 2>&1 &
pid=$!
base=""
for _ in $(seq 1 100); do
  base="$(grep -o 'listening on http://[0-9.:]*' "$out" | head -1 | sed 's/listening on //')" || true
  [[ -n "$base" ]] && break
  sleep 0.1
done
[[ -n "$base" ]] || { echo "emulator did not start:"; cat "$out"; exit 1; }
/usr/bin/python3 "$here/client_compat.py" "$base" demo-token "$examples" || rc=1
kill -TERM "$pid"
wait "$pid" || { echo "emulator exited with $? on SIGTERM"; rc=1; }
exit $rc

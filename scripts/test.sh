#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds (dev preset), checks formatting, starts a
# throw-away PostgreSQL cluster, runs every ctest label, and stops the cluster again.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh --with-postgres
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$(nproc)"
bash scripts/check-format.sh

if [[ -f scripts/pg.sh ]]; then
  pg_env=$(bash scripts/pg.sh start)
  eval "$pg_env"
  trap 'bash scripts/pg.sh stop >/dev/null 2>&1 || true' EXIT
  echo "test.sh: PostgreSQL test cluster at ${NUBEFACT_TEST_PG_URL%%\?*}"
fi

ctest --preset dev -j "$(nproc)" --timeout 600 "$@"

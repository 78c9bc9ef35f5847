#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds (dev preset), checks formatting, starts a
# throw-away PostgreSQL cluster, runs every ctest label, the package tests on the dev build
# (scripts/package-test.sh, scripts/deb-test.sh), then the cli and integration labels again under
# ASan + UBSan (asan preset, no benchmarks), a short run of every libFuzzer target (scripts/fuzz.sh
# short: NUBEFACT_FUZZ_SECONDS each, default 60, two at a time), and stops the cluster again.
# Arguments go to the dev ctest run; NUBEFACT_NO_ASAN=1 skips the sanitizer pass, NUBEFACT_NO_FUZZ=1
# the fuzz stage.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh --with-postgres
t0=$SECONDS
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$(nproc)"
t_build=$((SECONDS - t0))
bash scripts/check-format.sh

if [[ -f scripts/pg.sh ]]; then
  pg_env=$(bash scripts/pg.sh start)
  eval "$pg_env"
  trap 'bash scripts/pg.sh stop >/dev/null 2>&1 || true' EXIT
  echo "test.sh: PostgreSQL test cluster at ${NUBEFACT_TEST_PG_URL%%\?*}"
fi

t0=$SECONDS
ctest --preset dev -j "$(nproc)" --timeout 600 "$@"
summary="dev build ${t_build} s, dev tests $((SECONDS - t0)) s"

# The installed package and the .deb, from the same dev build (nothing is compiled again but the
# consumers of tests/package); the .deb is installed and removed again (root or sudo, as apt-get).
t0=$SECONDS
bash scripts/package-test.sh --preset dev
bash scripts/deb-test.sh --preset dev
summary+=", package tests $((SECONDS - t0)) s"

if [[ "${NUBEFACT_NO_ASAN:-0}" != 1 ]]; then
  # Only what the two labels run: the CLI and the cli / integration test executables.
  t0=$SECONDS
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$(nproc)" --target tests_cli tests_integration
  summary+=", asan build $((SECONDS - t0)) s"
  t0=$SECONDS
  env -u NUBEFACT_BINARY ctest --preset asan -L 'cli|integration' -j "$(nproc)" --timeout 900
  summary+=", asan tests $((SECONDS - t0)) s"
fi
if [[ "${NUBEFACT_NO_FUZZ:-0}" != 1 ]]; then
  # clang-14 with libFuzzer, ASan and UBSan (preset fuzz); fails on any crash or broken invariant.
  t0=$SECONDS
  bash scripts/fuzz.sh short "${NUBEFACT_FUZZ_SECONDS:-60}"
  summary+=", fuzz build and short run $((SECONDS - t0)) s"
fi
echo "test.sh: ${summary}"

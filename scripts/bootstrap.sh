#!/usr/bin/env bash
# Installs the Debian 12 packages nubefact needs to build, test and benchmark; idempotent.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build ccache pkg-config git clang-format
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libssl-dev libsqlite3-dev sqlite3 libpq-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  curl openssl python3 python3-httpx python3-requests python3-aiohttp wrk
)
# Test-only packages: bootstrap.sh --with-postgres (what scripts/test.sh runs) adds a PostgreSQL 15
# server for the pg tests, faketime for the demo-on-any-day test, man-db for scripts/deb-test.sh
# (`man nubefact` on the installed .deb; cpack's dpkg-shlibdeps comes with build-essential),
# clang-14 with its runtime for the fuzz stage (scripts/fuzz.sh: libFuzzer, ASan, UBSan) and
# prometheus (with promtool) for the test that scrapes /metrics (tests/cli/test_prometheus.cpp),
# chromium (the headless browser the browser tests drive) and chromium-driver (its `chromedriver`,
# the W3C WebDriver server that tests/browser/webdriver.hpp starts and talks to).
if [[ "${1:-}" == "--with-postgres" ]]; then
  PKGS+=(postgresql-15 postgresql-client-15 faketime man-db clang-14 libclang-rt-14-dev prometheus
    chromium chromium-driver)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

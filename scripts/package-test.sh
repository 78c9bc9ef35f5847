#!/usr/bin/env bash
# libnubefact as a user meets it: builds what `cmake --install` copies (--preset NAME, default
# release), installs it into a temporary prefix, builds tests/package's two consumers against that
# prefix (find_package and pkg-config), starts the installed `nubefact emulator` on 127.0.0.1, sends
# one factura with each consumer, checks the answers and that neither binary carries emulator code,
# checks that docs/package.md quotes the consumers verbatim, and removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

preset=release
if [[ "${1:-}" == --preset ]]; then preset=$2; fi
build=build/$preset

fail() {
  echo "package-test: FAILED: $*" >&2
  exit 1
}

tmp=$(mktemp -d /tmp/nubefact-package-test.XXXXXX)
emu_pid=
cleanup() {
  if [[ -n "$emu_pid" ]]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# The docs show these files; they must be the ones tested.
for f in tests/package/send_one.cpp tests/package/cmake/CMakeLists.txt tests/package/pkg-config/Makefile; do
  python3 - "$f" docs/package.md <<'PY' || fail "docs/package.md does not quote $f verbatim"
import sys
src, doc = (open(p, encoding="utf-8").read() for p in sys.argv[1:3])
sys.exit(0 if src.strip("\n") in doc else 1)
PY
done

cmake --preset "$preset" >"$tmp/configure.log" 2>&1 || { tail -30 "$tmp/configure.log"; fail "cmake --preset $preset"; }
cmake --build --preset "$preset" -j "$(nproc)" --target nubefact_install_files
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
echo "package-test: installed $(wc -l <"$tmp/install.log") files into $prefix"
for f in share/man/man1/nubefact.1.gz share/man/man1/nubefact-send.1.gz share/bash-completion/completions/nubefact; do
  [[ -s "$prefix/$f" ]] || fail "$f not installed"
done

# The consumers, each in its own build directory, seeing only the prefix.
cmake -S tests/package/cmake -B "$tmp/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/cmake.log" 2>&1 || { tail -30 "$tmp/cmake.log"; fail "find_package consumer: configure"; }
cmake --build "$tmp/cmake" >"$tmp/cmake-build.log" 2>&1 || { tail -30 "$tmp/cmake-build.log"; fail "find_package consumer: build"; }
mkdir -p "$tmp/pc"
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" make -s -C "$tmp/pc" -f "$root/tests/package/pkg-config/Makefile" \
  >"$tmp/pc.log" 2>&1 || { tail -30 "$tmp/pc.log"; fail "pkg-config consumer: build"; }
echo "package-test: built the find_package and the pkg-config consumer"

for bin in "$tmp/cmake/send_one" "$tmp/pc/send_one"; do
  n=$(nm -C "$bin" | grep -c 'nubefact::emulator' || true)
  ((n == 0)) || fail "$bin carries $n emulator symbols"
done

# The installed binary's emulator, a separate process on any free port.
"$prefix/bin/nubefact" emulator --listen 127.0.0.1:0 --admin >"$tmp/emulator.out" 2>&1 &
emu_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's|^nubefact emulator listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$tmp/emulator.out")
  [[ -n "$port" ]] && break
  sleep 0.1
done
[[ -n "$port" ]] || { cat "$tmp/emulator.out"; fail "the emulator did not start"; }
export NUBEFACT_RUTA="http://127.0.0.1:$port/api/v1/demo" NUBEFACT_TOKEN=demo-token

version=$("$prefix/bin/nubefact" --version | awk '{print $2}')
n=0
for bin in "$tmp/cmake/send_one" "$tmp/pc/send_one"; do
  n=$((n + 1))
  echo "$ send_one F001 $n   (${bin#"$tmp"/})"
  out=$("$bin" F001 "$n") || fail "$bin exited with $?: $out"
  echo "$out"
  [[ "$out" == "libnubefact $version: F001-$n accepted http://127.0.0.1:$port/cpe/"* ]] || fail "unexpected answer: $out"
done
stats=$(curl -s "http://127.0.0.1:$port/__emulator/stats")
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if s["documents_created"] == 2 else 1)' "$stats" \
  || fail "the emulator did not create exactly 2 documents: $stats"
echo "package-test: ok (cmake --install, find_package + pkg-config consumers, 2 documents accepted, no emulator code)"

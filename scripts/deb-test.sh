#!/usr/bin/env bash
# The Debian package as an administrator meets it: builds it with CPack (--preset NAME, default
# release), installs it with apt-get, checks `nubefact --version`, `man nubefact`, the bash
# completion, pkg-config, find_package from /usr (tests/package/cmake built), the systemd unit and
# the gateway's system user, then removes it with apt-get and checks that every file it installed
# is gone (and purges it, leaving no dpkg entry; the user nubefact stays, as Debian does).
# Needs root or sudo. Refuses to run when a nubefact package is installed already.
set -euo pipefail
cd "$(dirname "$0")/.."

preset=release
if [[ "${1:-}" == --preset ]]; then preset=$2; fi
build=build/$preset
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

fail() {
  echo "deb-test: FAILED: $*" >&2
  exit 1
}
installed() { dpkg-query -W -f='${Status}' nubefact 2>/dev/null | grep -q "install ok installed"; }

installed && fail "a nubefact package is installed already; remove it first (apt-get remove nubefact)"

tmp=$(mktemp -d /tmp/nubefact-deb-test.XXXXXX)
we_installed=0
cleanup() {
  if ((we_installed)) && installed; then $SUDO apt-get remove -y -qq nubefact >/dev/null 2>&1 || true; fi
  if ((we_installed)); then $SUDO dpkg --purge nubefact >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

cmake --preset "$preset" >"$tmp/configure.log" 2>&1 || { tail -30 "$tmp/configure.log"; fail "cmake --preset $preset"; }
cmake --build --preset "$preset" -j "$(nproc)" --target nubefact_install_files
(cd "$build" && cpack -G DEB -B "$tmp" >"$tmp/cpack.log" 2>&1) || { tail -30 "$tmp/cpack.log"; fail "cpack"; }
deb=$(echo "$tmp"/nubefact_*.deb)
[[ -f "$deb" ]] || fail "cpack made no nubefact_*.deb"
echo "deb-test: built $(basename "$deb") ($(du -h "$deb" | cut -f1)), $(dpkg-deb --contents "$deb" | grep -vc '/$') files"
dpkg-deb --field "$deb" Depends

we_installed=1
$SUDO apt-get install -y -qq "$deb" >"$tmp/install.log" 2>&1 || { tail -30 "$tmp/install.log"; fail "apt-get install"; }
installed || fail "dpkg does not list nubefact as installed"
mapfile -t files < <(dpkg -L nubefact | while read -r f; do [[ -f "$f" || -L "$f" ]] && echo "$f"; done)
echo "deb-test: installed, ${#files[@]} files"

want=$(sed -n 's/^#define NUBEFACT_VERSION "\(.*\)"$/\1/p' "$build/include/nubefact/version.hpp")
echo "$ nubefact --version"
out=$(/usr/bin/nubefact --version)
echo "$out"
[[ "$out" == "nubefact $want" ]] || fail "nubefact --version said '$out', expected 'nubefact $want'"

echo "$ man -P cat nubefact | head -8"
page=$(MANWIDTH=100 man -P cat nubefact 2>&1) || fail "man nubefact: $page"
head -8 <<<"$page"
grep -Eq "nubefact +- +validate, complete and send" <<<"$page" || fail "man nubefact shows another page"
MANWIDTH=100 man -P cat nubefact-send 2>/dev/null | grep -q -- "--results" || fail "man nubefact-send lacks --results"
man -w nubefact-accounts >/dev/null || fail "no man page nubefact-accounts"

comp=/usr/share/bash-completion/completions/nubefact
[[ -s "$comp" ]] || fail "$comp missing"
got=$(bash -c 'source "$1"; COMP_WORDS=(nubefact se); COMP_CWORD=1; _nubefact; echo "${COMPREPLY[*]}"' _ "$comp")
[[ "$got" == "send serve" ]] || fail "bash completion of 'nubefact se' gave '$got'"
echo "deb-test: man pages and bash completion ok"

[[ "$(pkg-config --modversion nubefact)" == "$want" ]] || fail "pkg-config --modversion nubefact"
[[ -f /usr/lib/cmake/nubefact/nubefactConfig.cmake ]] || fail "no CMake package config"
[[ -f /usr/lib/systemd/system/nubefact.service ]] || fail "no systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  v=$(systemd-analyze verify /usr/lib/systemd/system/nubefact.service 2>&1 | grep -v "bus\|not been booted" || true)
  [[ -z "$v" ]] || fail "systemd-analyze verify nubefact.service: $v"
fi
# The unit's ExecStart, as written, with only the address (any free port) and the store (a
# scratch file) changed: it starts, answers /livez, and SIGTERM stops it with status 0.
exec_line=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/nubefact.service)
read -r -a argv <<<"$exec_line"
for i in "${!argv[@]}"; do
  case ${argv[$i]} in
    --listen) argv[$((i + 1))]=127.0.0.1:0 ;;
    --store) argv[$((i + 1))]=sqlite:$tmp/unit.db ;;
  esac
done
"${argv[@]}" >"$tmp/serve.out" 2>"$tmp/serve.err" &
serve_pid=$!
url=
for _ in $(seq 100); do
  url=$(head -1 "$tmp/serve.out" 2>/dev/null || true)
  [[ -n "$url" ]] && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$url" ]] || { cat "$tmp/serve.err"; fail "the unit's ExecStart did not start: ${argv[*]}"; }
[[ "$(curl -s --max-time 5 "$url/livez")" == *ok* ]] || { kill "$serve_pid"; fail "$url/livez"; }
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "the unit's ExecStart did not exit 0 on SIGTERM"
getent passwd nubefact >/dev/null || fail "the postinst did not create the nubefact user"
# The find_package consumer against /usr, with no prefix given: the packaged CMake files work.
cmake -S tests/package/cmake -B "$tmp/consumer" -G Ninja >"$tmp/consumer.log" 2>&1 \
  && cmake --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 || { tail -30 "$tmp/consumer.log"; fail "consumer against /usr"; }
echo "deb-test: pkg-config, find_package from /usr (consumer built), systemd unit (its ExecStart runs) and user nubefact ok"

$SUDO apt-get remove -y -qq nubefact >"$tmp/remove.log" 2>&1 || { tail -30 "$tmp/remove.log"; fail "apt-get remove"; }
installed && fail "still installed after apt-get remove"
left=()
for f in "${files[@]}"; do [[ -e "$f" || -L "$f" ]] && left+=("$f"); done
((${#left[@]} == 0)) || fail "left after apt-get remove: ${left[*]}"
$SUDO dpkg --purge nubefact >/dev/null
we_installed=0
echo "deb-test: ok (built, installed, --version, man, completion, removed: 0 of ${#files[@]} files left)"

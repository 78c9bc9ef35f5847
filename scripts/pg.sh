#!/usr/bin/env bash
# Throw-away PostgreSQL 15 cluster for the store tests: `start` prints `export NUBEFACT_TEST_PG_URL=…`,
# `stop` removes it, `status` says whether it runs, `url` reprints the export line. Idempotent.
# Installs nothing (scripts/bootstrap.sh --with-postgres does). As root the cluster runs as user
# postgres; otherwise as the current user. Listens on 127.0.0.1 only, on a free port.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
STATE=${NUBEFACT_PG_STATE:-${TMPDIR:-/tmp}/nubefact-pg-$(id -u).state}
DB=nubefact_test

log() { echo "pg.sh: $*" >&2; }

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

running() {
  [[ -f "$STATE" ]] || return 1
  # shellcheck disable=SC1090
  source "$STATE"
  [[ -n "${PGDIR:-}" && -d "$PGDIR/data" ]] || return 1
  as_owner "$PG_BIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1
}

print_url() {
  # shellcheck disable=SC1090
  source "$STATE"
  echo "export NUBEFACT_TEST_PG_URL=postgresql://${PGUSER_NAME}@127.0.0.1:${PGPORT_NUM}/${DB}"
}

start() {
  if running; then
    print_url
    return
  fi
  [[ -x "$PG_BIN/initdb" ]] || { log "no $PG_BIN/initdb: run scripts/bootstrap.sh --with-postgres"; exit 1; }
  # A stale state file (cluster died, machine rebooted): clean up first.
  [[ -f "$STATE" ]] && stop >/dev/null 2>&1 || true
  local dir port user
  dir=$(mktemp -d "${TMPDIR:-/tmp}/nubefact-pg.XXXXXX")
  chmod 755 "$dir"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || { log "no postgres user: run scripts/bootstrap.sh --with-postgres"; exit 1; }
    chown postgres:postgres "$dir"
    user=postgres
  else
    user=$(id -un)
  fi
  printf 'PGDIR=%q\nPGPORT_NUM=%q\nPGUSER_NAME=%q\n' "$dir" "" "$user" >"$STATE"
  as_owner "$PG_BIN/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { log "initdb failed:"; cat "$dir/initdb.log" >&2; exit 1; }
  local tries=0
  while :; do
    port=$(free_port)
    if as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null 2>&1; then
      break
    fi
    tries=$((tries + 1))
    if ((tries >= 5)); then
      log "could not start PostgreSQL:"
      tail -20 "$dir/server.log" >&2 || true
      exit 1
    fi
  done
  printf 'PGDIR=%q\nPGPORT_NUM=%q\nPGUSER_NAME=%q\n' "$dir" "$port" "$user" >"$STATE"
  as_owner "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U "$user" "$DB" 2>/dev/null ||
    as_owner createdb -h 127.0.0.1 -p "$port" -U "$user" "$DB"
  log "PostgreSQL 15 on 127.0.0.1:$port (data in $dir)"
  print_url
}

stop() {
  if [[ ! -f "$STATE" ]]; then
    log "not running"
    return 0
  fi
  # shellcheck disable=SC1090
  source "$STATE"
  if [[ -n "${PGDIR:-}" && -d "$PGDIR/data" ]]; then
    as_owner "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  [[ -n "${PGDIR:-}" && "$PGDIR" == */nubefact-pg.* ]] && rm -rf "$PGDIR"
  rm -f "$STATE"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then log "running"; print_url; else log "not running"; exit 1; fi ;;
  url) if running; then print_url; else log "not running"; exit 1; fi ;;
  *) echo "usage: scripts/pg.sh start|stop|status|url" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A real PostgreSQL for the PostgreSQL backend's tests: the machine's own
# server on 127.0.0.1:5432 when it answers (database test, trust), else a
# private cluster from Debian's packages under .peers/postgres on a free
# port, trust authentication on 127.0.0.1 only.
#
#   scripts/peers/postgres.sh start   print postgres://postgres@127.0.0.1:PORT/test
#   scripts/peers/postgres.sh stop    stop the private cluster, if started here
#   scripts/peers/postgres.sh status  exit 0 if a server answers
#
# PG_PRIVATE=1 skips the machine's server (to test this script's own path).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="${CRIER_PEERS_DIR:-$ROOT/.peers}/postgres"

answers() { pg_isready -q -h 127.0.0.1 -p "$1" 2>/dev/null; }
machine() { [[ -z ${PG_PRIVATE:-} ]] && command -v pg_isready >/dev/null && answers 5432 &&
  psql -qAt "postgres://postgres@127.0.0.1:5432/test" -c 'SELECT 1' >/dev/null 2>&1; }
private_port() { [[ -f $RUN/port ]] && cat "$RUN/port"; }
private_up() { [[ -f $RUN/port ]] && answers "$(private_port)"; }
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [[ -z $d ]]; then
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
      echo "postgres: not installed (apt-get install postgresql, as root)" >&2; exit 1
    fi
    apt-cache policy postgresql | grep -q 'Candidate: [0-9]' || apt-get update -q >/dev/null
    # Debian's policy-rc.d keeps the system cluster from starting.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null
    d=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  echo "$d"
}

start() {
  if machine; then echo "postgres://postgres@127.0.0.1:5432/test"; return 0; fi
  if private_up; then echo "postgres://postgres@127.0.0.1:$(private_port)/test"; return 0; fi
  local b port
  b=$(bin)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$RUN"; mkdir -p "$RUN"
  [[ $(id -u) == 0 ]] && chown postgres "$RUN"
  as_pg "$b/initdb" -D "$RUN/data" -U postgres --auth=trust >/dev/null
  as_pg "$b/pg_ctl" -D "$RUN/data" -l "$RUN/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $RUN -c fsync=on" start >/dev/null
  echo "$port" >"$RUN/port"
  psql -q "postgres://postgres@127.0.0.1:$port/postgres" -c 'CREATE DATABASE test' >/dev/null
  echo "postgres://postgres@127.0.0.1:$port/test"
}

stop() {
  [[ -f $RUN/port ]] || return 0
  as_pg "$(bin)/pg_ctl" -D "$RUN/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -f "$RUN/port"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) machine || private_up ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

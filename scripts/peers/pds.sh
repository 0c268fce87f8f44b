#!/usr/bin/env bash
# A real Bluesky PDS for the Bluesky tests: the reference @atproto/pds 0.4.217
# (the last release that runs on Node 20) with an in-memory PLC directory
# (@did-plc/server), both on 127.0.0.1 only.
#
#   scripts/peers/pds.sh start   install if needed (npm ci from the lock file
#                                here), start, wait until healthy, print URL
#   scripts/peers/pds.sh stop    stop the process started by `start` (pid file)
#   scripts/peers/pds.sh status  exit 0 if it is running and healthy
#   scripts/peers/pds.sh url     print the XRPC base URL (of the running one)
# `start` prints only the URL on stdout; progress goes to stderr.
#
# Everything lives under .peers/ in the repository (gitignored): node_modules,
# the npm cache, data, secrets, log and pid file. Nothing is fetched at run
# time and nothing leaves the machine: no crawlers, no AppView, no email, the
# PLC directory is local, rate limits are off and invites are not required.
# Ports: 2583 (PDS) and 2582 (PLC) when free, otherwise free ones picked at
# start; PDS_PORT / PLC_PORT choose them (and then must be free). The ports
# of the run are recorded in .peers/pds.ports, so status, url and stop talk
# to the instance this folder started. Handles must end in `.test`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="$ROOT/scripts/peers/pds"
PEERS="${CRIER_PEERS_DIR:-$ROOT/.peers}"
APP="$PEERS/pds"          # installed package (node_modules)
RUN="$PEERS/pds-run"      # state of one run; wiped at every fresh start
PIDF="$PEERS/pds.pid"; LOG="$PEERS/pds.log"
PORTS="$PEERS/pds.ports"  # "<pds port> <plc port>" of the run started here
NODE="${PDS_NODE:-node}"

# The recorded ports of this folder's run; before any (or from a run started
# by an older copy of this script, which had no record), the defaults.
if [[ -f "$PORTS" ]]; then
  read -r PDS_PORT_RUN PLC_PORT_RUN <"$PORTS"
else
  PDS_PORT_RUN=2583 PLC_PORT_RUN=2582
fi
URL="http://127.0.0.1:$PDS_PORT_RUN"

healthy() { curl -fsS "$URL/xrpc/_health" >/dev/null 2>&1; }
running() { [[ -f "$PIDF" ]] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }
busy() { ss -Htln "sport = :$1" | grep -q .; }

# A port to listen on: $1 if it is free, else the first free one from 20000
# up that is not $2 (the port already picked for the other server).
pick_port() {
  local want=$1 other=${2:-0} p
  if ! busy "$want"; then echo "$want"; return 0; fi
  for ((p = 20000; p < 30000; p++)); do
    if ((p != other)) && ! busy "$p"; then echo "$p"; return 0; fi
  done
  echo "pds: no free port found" >&2; exit 1
}

install() {
  mkdir -p "$APP"
  # Reinstall only when the lock file changed: the copy beside node_modules
  # records what was installed.
  if cmp -s "$SRC/package-lock.json" "$APP/package-lock.json" \
     && (cd "$APP" && "$NODE" -e 'require("better-sqlite3")' 2>/dev/null); then
    return 0
  fi
  cp "$SRC/package.json" "$SRC/package-lock.json" "$APP/"
  local t0=$SECONDS
  echo "pds: installing @atproto/pds into $APP (first time takes a minute or two)" >&2
  (cd "$APP" && npm ci --no-audit --no-fund --loglevel=error \
      --cache "$PEERS/npm-cache" >"$PEERS/npm-install.log" 2>&1) \
    || { echo "pds: npm ci failed; see $PEERS/npm-install.log" >&2; tail -30 "$PEERS/npm-install.log" >&2; exit 1; }
  # npm may skip better-sqlite3's build script in future releases; build it then.
  (cd "$APP" && "$NODE" -e 'require("better-sqlite3")' 2>/dev/null) \
    || (cd "$APP" && npm rebuild better-sqlite3 --loglevel=error >>"$PEERS/npm-install.log" 2>&1)
  echo "pds: installed in $((SECONDS - t0))s" >&2
}

start() {
  if running && healthy; then echo "$URL"; return 0; fi
  # A chosen port must be free; otherwise the default, or any free one.
  local p
  for p in ${PDS_PORT:-} ${PLC_PORT:-}; do
    if busy "$p"; then echo "pds: port $p (set in PDS_PORT/PLC_PORT) is busy" >&2; exit 1; fi
  done
  PDS_PORT="${PDS_PORT:-$(pick_port 2583)}"
  PLC_PORT="${PLC_PORT:-$(pick_port 2582 "$PDS_PORT")}"
  if [[ $PDS_PORT != 2583 || $PLC_PORT != 2582 ]]; then
    echo "pds: using ports $PDS_PORT (PDS) and $PLC_PORT (PLC)" >&2
  fi
  URL="http://127.0.0.1:$PDS_PORT"
  mkdir -p "$PEERS"
  echo "$PDS_PORT $PLC_PORT" >"$PORTS"
  "$NODE" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a<18||(a==18&&b<7)?1:0)' \
    || { echo "pds: need Node >= 18.7, have $("$NODE" --version)" >&2; exit 1; }
  install

  # The PLC directory is in memory, so accounts from an earlier run could not
  # be resolved: every start begins from empty data.
  rm -rf "$RUN"; mkdir -p "$RUN/data" "$RUN/blobs"
  (
    umask 077
    export PDS_ADMIN_PASSWORD="$(openssl rand -hex 16)"
    export PDS_JWT_SECRET="$(openssl rand -hex 32)"
    export PDS_DPOP_SECRET="$(openssl rand -hex 32)"
    export PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX="$(openssl rand -hex 32)"
    echo "PDS_ADMIN_PASSWORD=$PDS_ADMIN_PASSWORD" >"$RUN/admin.env"
    export PDS_HOSTNAME=localhost PDS_PORT PLC_PORT
    export PDS_DEV_MODE=true    # allows the http:// public URL
    export PDS_DATA_DIRECTORY="$RUN/data" PDS_BLOBSTORE_DISK_LOCATION="$RUN/blobs"
    export PDS_DID_PLC_URL="http://127.0.0.1:$PLC_PORT"
    export PDS_CRAWLERS="" PDS_INVITE_REQUIRED=false PDS_RATE_LIMITS_ENABLED=false
    unset PDS_BSKY_APP_VIEW_URL PDS_BSKY_APP_VIEW_DID PDS_MOD_SERVICE_URL \
      PDS_REPORT_SERVICE_URL PDS_EMAIL_SMTP_URL PDS_EMAIL_FROM_ADDRESS PDS_ENTRYWAY_URL
    export LOG_ENABLED=true LOG_LEVEL="${LOG_LEVEL:-info}"
    export NODE_PATH="$APP/node_modules"
    cd "$APP"
    nohup "$NODE" "$SRC/run-pds.js" >"$LOG" 2>&1 &
    echo $! >"$PIDF"
  )
  # The PDS needs a few seconds to open its databases; wait for its health
  # endpoint (or for the process to die) with a deadline.
  local deadline=$((SECONDS + 60))
  until healthy; do
    running || { echo "pds: exited; see $LOG" >&2; tail -40 "$LOG" >&2; rm -f "$PIDF"; exit 1; }
    ((SECONDS < deadline)) || { echo "pds: not healthy after 60s; see $LOG" >&2; exit 1; }
    sleep 0.2
  done
  echo "$URL"
}

stop() {
  [[ -f "$PIDF" ]] || return 0
  local pid; pid="$(cat "$PIDF")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$PIDF" "$PORTS"
}

case "${1:-}" in
  start) t0=$SECONDS; start; echo "pds: up in $((SECONDS - t0))s" >&2 ;;
  status) running && healthy ;;
  stop) stop ;;
  url) echo "$URL" ;;
  install) install ;;
  *) echo "usage: $0 start|stop|status|url|install" >&2; exit 2 ;;
esac

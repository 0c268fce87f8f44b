#!/usr/bin/env bash
# Incremental planning benchmark (issue #12 item 2), run by hand (see
# docs/performance.md, "Incremental planning"):
#
#   bench/incremental.sh           # 100,000 news items x 10 channels: 1,000,000 deliveries
#   bench/incremental.sh --quick   # 10,000 items: 100,000 deliveries
#   CRIER_BEFORE=/path/to/older/crier bench/incremental.sh   # that build too, same content
#
# Content that names every row: generated news items (examples/bench_console.rs
# `named`) on ten channels of the shipped channels.toml and templates, all due
# 2 to 365 days ahead, so nothing is sent while measuring. For each build, on
# its own empty store: `crier check` (wall time), the first start, restarts
# with unchanged content (time to "crier is running" by the daemon's clock,
# VmHWM, VmRSS), and a one-item edit picked up by the file watcher (time from
# the write to the "content reloaded" line, less the watcher's 300 ms wait
# for the burst to end; builds that log them also say checked_ms/synced_ms).
# BENCH_TMPDIR (default /tmp), BENCH_KEEP=1 keeps the folder.
set -euo pipefail

ITEMS=100000
STARTS=${BENCH_STARTS:-2}
for arg in "$@"; do
    case "$arg" in
        --quick) ITEMS=10000 ;;
        -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
    echo "== building (release)" >&2
    cargo build --release --quiet --bin crier --example bench_console
fi
AFTER=${CRIER_BIN:-$ROOT/target/release/crier}
GEN=$ROOT/target/release/examples/bench_console

WORK=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/crier-incremental.XXXXXX")
PID=
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

cp -r "$ROOT/templates" "$WORK/templates"
"$GEN" named "$WORK/campaigns" --items "$ITEMS" >&2
EDITED=$WORK/campaigns/named-0000.toml

kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
now_ms() { date +%s%3N; }
# The daemon's timestamp (ms) of the first line with message $2 after line $3.
log_ms() {
    python3 - "$1" "$2" "${3:-0}" <<'EOF'
import json, sys
from datetime import datetime
for n, line in enumerate(open(sys.argv[1])):
    if n < int(sys.argv[3]):
        continue
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    if rec.get("fields", {}).get("message") == sys.argv[2]:
        t = datetime.fromisoformat(rec["timestamp"].replace("Z", "+00:00")).timestamp()
        f = rec["fields"]
        print(round(t * 1000), f.get("rendered", "-"), f.get("checked_ms", "-"), f.get("synced_ms", "-"))
        break
EOF
}

# Config for one build: its own port and data folder.
config_for() {
    local name=$1 port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    sed -e "s|^listen = .*|listen = \"127.0.0.1:$port\"|" \
        -e "s|^public_url = .*|public_url = \"http://127.0.0.1:$port\"|" \
        -e "s|^data_dir = .*|data_dir = \"data-$name\"|" \
        "$ROOT/channels.toml" >"$WORK/channels-$name.toml"
    echo "$WORK/channels-$name.toml"
}

# Starts $1 on config $2, waits for "crier is running"; sets PID, LOG, T0, READY_MS.
start() {
    LOG=$WORK/serve-$3.log
    : >"$LOG"
    T0=$(now_ms)
    "$1" --config "$2" serve --log-format json 2>"$LOG" >/dev/null &
    PID=$!
    until grep -q '"crier is running"' "$LOG"; do
        if ! kill -0 "$PID" 2>/dev/null; then echo "daemon exited; log:" >&2; tail -20 "$LOG" >&2; exit 1; fi
        sleep 0.2
    done
    read -r ready _ < <(log_ms "$LOG" "crier is running") || true
    READY_MS=$((ready - T0))
}

stop() {
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
}

measure() {
    local name=$1 bin=$2 config t
    config=$(config_for "$name")
    echo "== $name: $bin" >&2
    t=$(now_ms)
    "$bin" --config "$config" check >/dev/null 2>&1 || true
    echo "$name check_ms $(($(now_ms) - t))"
    start "$bin" "$config" "$name-first"
    echo "$name first_start_ms $READY_MS vmhwm_mib $(mib "$(kib "$PID" VmHWM)") vmrss_mib $(mib "$(kib "$PID" VmRSS)")"
    stop
    for n in $(seq 1 "$STARTS"); do
        start "$bin" "$config" "$name-restart-$n"
        read -r checked rendered _ < <(log_ms "$LOG" "content checked") || true
        read -r synced _ < <(log_ms "$LOG" "queue matches content") || true
        echo "$name restart_ms $READY_MS checked_at_ms $((${checked:-$T0} - T0)) synced_at_ms $((synced - T0)) rendered ${rendered:--} vmhwm_mib $(mib "$(kib "$PID" VmHWM)") vmrss_mib $(mib "$(kib "$PID" VmRSS)")"
        if [[ $n -lt $STARTS ]]; then stop; fi
    done
    # One item edited while it runs, EDITS times: the watcher's reloads.
    sleep 1
    local lines at rendered checked_ms synced_ms
    cp "$EDITED" "$WORK/edited.orig"
    for n in $(seq 1 "${BENCH_EDITS:-3}"); do
        lines=$(wc -l <"$LOG")
        t=$(now_ms)
        python3 -c 'import re, sys; p = sys.argv[1]; t = open(p).read(); open(p, "w").write(re.sub(r"title = \"[^\"]*\"", "title = \"Edit %s of the first item\"" % sys.argv[2], t, count=1))' "$EDITED" "$n"
        until [[ -n $(log_ms "$LOG" "content reloaded" "$lines") ]]; do sleep 0.05; done
        read -r at rendered checked_ms synced_ms < <(log_ms "$LOG" "content reloaded" "$lines") || true
        echo "$name edit_reload_ms $((at - t - 300)) rendered $rendered checked_ms $checked_ms synced_ms $synced_ms vmrss_mib $(mib "$(kib "$PID" VmRSS)") vmhwm_mib $(mib "$(kib "$PID" VmHWM)")"
        sleep 1
    done
    stop
    cp "$WORK/edited.orig" "$EDITED"
}

echo "items $ITEMS (x10 channels), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n ${CRIER_BEFORE:-} ]]; then measure before "$CRIER_BEFORE"; fi
measure after "$AFTER"
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"

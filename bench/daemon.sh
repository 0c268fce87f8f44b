#!/usr/bin/env bash
# Daemon benchmark, run by hand (see docs/performance.md):
#
#   bench/daemon.sh           # 1,000,000 planned rows, 60 s idle window (~6 min)
#   bench/daemon.sh --quick   # 100,000 rows, 10 s idle window (~1 min)
#   bench/daemon.sh --starts  # only the start figures (with --quick: 100,000 rows)
#   bench/daemon.sh --running # only the running figures (no start figures)
#
# Measures `crier serve` with an empty store (the baseline) and with N
# planned deliveries: time to start, resident memory, idle CPU, the
# dispatch lateness of 1,000 deliveries that fall due in the same second to
# a `discard` channel, and the sustained rate of 50,000 due at once.
# Everything runs in a temporary folder (BENCH_TMPDIR, default /tmp;
# BENCH_KEEP=1 keeps it) on a free port of 127.0.0.1. BENCH_BIN=path runs
# another build of crier (e.g. main's, for a before/after in one session).
set -euo pipefail

ROWS=1000000
IDLE=60
BURST=1000
SUSTAINED=${BENCH_SUSTAINED:-50000}
STARTS=3
MODE=full
STARTS_ONLY=0
RUNNING_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --quick) ROWS=100000 IDLE=10 MODE=quick ;;
        --starts) STARTS_ONLY=1 ;;
        --running) RUNNING_ONLY=1 ;;
        -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
echo "== building (release)" >&2
cargo build --release --quiet --bin crier --example bench_fill
BIN=${BENCH_BIN:-$ROOT/target/release/crier}
FILL=$ROOT/target/release/examples/bench_fill

WORK=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/crier-bench.XXXXXX")
PID=
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
mkdir -p "$WORK/campaigns" "$WORK/templates/document" "$WORK/data"
cat >"$WORK/channels.toml" <<EOF
[organisation]
name = "crier benchmark"
website = "https://example.org"

[daemon]
listen = "127.0.0.1:$PORT"
data_dir = "data"
public_url = "$URL"
concurrency = ${BENCH_CONCURRENCY:-8}

[channels.bench-null]
kind = "discard"
EOF
printf '{{item.title}}\n' >"$WORK/templates/document/default.txt.hbs"
DB=$WORK/data/crier.db
TICKS=$(getconf CLK_TCK)

now_ms() { date +%s%3N; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime; comm has no spaces
log_ms() {
    # The daemon's own timestamp of the first log line whose message is $2.
    python3 - "$1" "$2" <<'EOF'
import json, sys
from datetime import datetime
for line in open(sys.argv[1]):
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    if rec.get("fields", {}).get("message") == sys.argv[2]:
        print(round(datetime.fromisoformat(rec["timestamp"].replace("Z", "+00:00")).timestamp() * 1000))
        break
EOF
}
log_field() {
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    if rec.get("fields", {}).get("message") == sys.argv[2]:
        print(rec["fields"].get(sys.argv[3], ""))
        break
EOF
}

# Starts the daemon; sets PID, LOG, T0 (exec, ms), READY (ms after T0 to the
# "crier is running" line, by the daemon's clock) and SYNCED (ms to "queue
# matches content", the end of plan sync).
start_daemon() {
    LOG=$WORK/serve-$1.log
    : >"$LOG"
    T0=$(now_ms)
    "$BIN" --config "$WORK/channels.toml" serve --log-format json 2>"$LOG" >/dev/null &
    PID=$!
    local deadline=$((T0 + 600000))
    until grep -q '"crier is running"' "$LOG"; do
        if ! kill -0 "$PID" 2>/dev/null; then
            echo "the daemon exited during start; its log:" >&2
            cat "$LOG" >&2
            exit 1
        fi
        if (($(now_ms) > deadline)); then
            echo "the daemon took over 600 s to start" >&2
            exit 1
        fi
        sleep 0.01
    done
    READY=$(($(log_ms "$LOG" "crier is running") - T0))
    SYNCED=$(($(log_ms "$LOG" "queue matches content") - T0))
    curl -fsS "$URL/healthz" >/dev/null
}

stop_daemon() {
    kill -TERM "$PID"
    wait "$PID" || true
    PID=
}

# Idle CPU: CPU seconds used over $IDLE s of wall time, as % of one core.
idle_cpu() {
    local c0 c1 w0 w1
    c0=$(cpu_ticks "$PID")
    w0=$(now_ms)
    sleep "$IDLE"
    c1=$(cpu_ticks "$PID")
    w1=$(now_ms)
    IDLE_CPU_S=$(awk -v d=$((c1 - c0)) -v t="$TICKS" 'BEGIN { printf "%.2f", d / t }')
    IDLE_CPU_PCT=$(awk -v d=$((c1 - c0)) -v t="$TICKS" -v w=$((w1 - w0)) \
        'BEGIN { printf "%.3f", 100 * (d / t) / (w / 1000) }')
}

# Inserts $2 deliveries due at one whole second $3 s ahead into the
# running daemon's store, wakes it, waits for all to be sent, and sets
# LATENESS (p50 p90 p99 max min, in ms) from the store's own times, and
# RATE: deliveries sent per second, from the due time to the last sent_at.
burst() {
    local prefix=$1 count=$2 lead=$3 due due_ms out
    due_ms=$((($(now_ms) / 1000 + lead) * 1000))
    due=$(date -u -d "@$((due_ms / 1000))" +%Y-%m-%dT%H:%M:%SZ)
    "$FILL" "$DB" "$count" --due-at "$due" --prefix "$prefix" >/dev/null
    curl -fsS -X POST "$URL/wake" >/dev/null
    if (($(now_ms) >= due_ms)); then
        echo "the burst was inserted after it fell due; lateness would be wrong" >&2
        exit 1
    fi
    out=$(python3 - "$DB" "$prefix" "$count" <<'EOF'
import sqlite3, sys, time
db, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
q = "SELECT due_at, sent_at FROM deliveries WHERE item LIKE ? || '-%' AND state = 'sent'"
deadline = time.time() + 600
while True:
    rows = con.execute(q, (prefix,)).fetchall()
    if len(rows) == n:
        break
    if time.time() > deadline:
        sys.exit(f"only {len(rows)} of {n} burst deliveries sent after 600 s")
    time.sleep(0.2)
late = sorted(s - d for d, s in rows)
pct = lambda p: late[min(len(late) - 1, max(0, -(-p * len(late) // 100) - 1))]  # nearest rank
rate = round(n / max(late[-1], 1) * 1000)
print(pct(50), pct(90), pct(99), late[-1], late[0], rate)
EOF
)
    LATENESS=${out% *}
    RATE=${out##* }
}

# One store, measured: starts, memory, idle CPU. $1 label; $2 a template
# database copied in before each start, or "" to start on the empty store.
declare -A R
measure_starts() {
    local label=$1 template=$2 i total=0 hwm_max=0
    for ((i = 1; i <= STARTS; i++)); do
        rm -f "$DB" "$DB-wal" "$DB-shm"
        if [[ -n $template ]]; then
            cp "$template" "$DB"
        else
            "$FILL" "$DB" 0 >/dev/null
        fi
        sync
        start_daemon "$label-$i"
        local rss hwm
        rss=$(kib "$PID" VmRSS)
        hwm=$(kib "$PID" VmHWM)
        echo "   start $i: ${READY} ms to running (sync done at ${SYNCED} ms; cancelled $(log_field "$LOG" "queue matches content" cancelled)), VmRSS $(mib "$rss") MiB, VmHWM $(mib "$hwm") MiB" >&2
        total=$((total + READY))
        ((hwm > hwm_max)) && hwm_max=$hwm
        R[$label.rss_start]=$rss
        R[$label.sync_ms.$i]=$SYNCED
        stop_daemon
    done
    R[$label.start_ms]=$((total / STARTS))
    R[$label.hwm_start]=$hwm_max
    R[$label.cancelled]=$(log_field "$LOG" "queue matches content" cancelled)
}

# The running phase: start on the empty store, load $2 rows while it runs
# (see docs/performance.md: rows the content does not name are cancelled at
# start, so a steady queue of N planned rows can only be had this way), then
# memory after 10 s, idle CPU, and the burst.
measure_running() {
    local label=$1 rows=$2
    rm -f "$DB" "$DB-wal" "$DB-shm"
    "$FILL" "$DB" 0 >/dev/null
    start_daemon "$label-run"
    if ((rows > 0)); then
        echo "   loading $rows planned rows into the running daemon's store" >&2
        "$FILL" "$DB" "$rows" --prefix bench >&2
        curl -fsS -X POST "$URL/wake" >/dev/null
    fi
    R[$label.planned]=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM deliveries WHERE state = 'planned'\").fetchone()[0])" "$DB")
    sleep 10
    R[$label.rss_10s]=$(kib "$PID" VmRSS)
    echo "   idle CPU over $IDLE s" >&2
    idle_cpu
    R[$label.idle_cpu_s]=$IDLE_CPU_S
    R[$label.idle_cpu_pct]=$IDLE_CPU_PCT
    R[$label.rss_idle]=$(kib "$PID" VmRSS)
    echo "   burst of $BURST due in the same second" >&2
    burst "burst" "$BURST" 6
    R[$label.lateness]=$LATENESS
    echo "   sustained: $SUSTAINED due in the same second" >&2
    burst "sustained" "$SUSTAINED" 12
    R[$label.sustained]=$RATE
    R[$label.sustained_late]=$LATENESS
    R[$label.rss_burst]=$(kib "$PID" VmRSS)
    R[$label.hwm_run]=$(kib "$PID" VmHWM)
    stop_daemon
}

echo "== workspace $WORK, port $PORT, $ROWS rows, idle window $IDLE s" >&2
echo "== (a) empty store" >&2
((RUNNING_ONLY)) || measure_starts empty ""
((STARTS_ONLY)) || measure_running empty 0

echo "== (b) $ROWS planned rows" >&2
mkdir -p "$WORK/template"
FILL_OUT=$("$FILL" "$WORK/template/crier.db" "$ROWS" --prefix bench)
echo "   $FILL_OUT" >&2
FILL_S=$(sed -n 's/.* in \([0-9.]*\) s .*/\1/p' <<<"$FILL_OUT")
DB_MB=$(du -m "$WORK/template/crier.db" | cut -f1)
((RUNNING_ONLY)) || measure_starts full "$WORK/template/crier.db"
((STARTS_ONLY)) || measure_running full "$ROWS"

# ---- the table -----------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f×", a / b }'; }
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -qv '^??' && echo " (+ uncommitted changes)" || true)
cat <<EOF

crier daemon benchmark ($MODE)  $(date -u +%Y-%m-%dT%H:%MZ)
commit     $COMMIT$DIRTY; binary ${BENCH_BIN:-built from it}
load       $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min, at the end)
machine    $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)
store      $(df -T "$WORK" | awk 'NR == 2 { print $2 }') at $WORK; SQLite WAL, synchronous=FULL
rows       $ROWS planned on channel bench-null (discard), due over the next year; filled in ${FILL_S} s; db ${DB_MB} MB
burst      $BURST deliveries due at one whole second; concurrency ${BENCH_CONCURRENCY:-8}

| figure                                   | empty store (baseline) | $ROWS planned | ratio / target |
|------------------------------------------|-----------------------:|--------------:|---------------:|
EOF
((RUNNING_ONLY)) || cat <<EOF
| time to start, mean of $STARTS (ms)               | ${R[empty.start_ms]} | ${R[full.start_ms]} | $(ratio "${R[full.start_ms]}" "${R[empty.start_ms]}") |
|   … of which plan sync done at (ms, last start)  | ${R[empty.sync_ms.$STARTS]} | ${R[full.sync_ms.$STARTS]} | |
|   planned rows the start cancelled               | ${R[empty.cancelled]} | ${R[full.cancelled]} | |
| VmRSS just after start (MiB)             | $(mib "${R[empty.rss_start]}") | $(mib "${R[full.rss_start]}") | $(ratio "${R[full.rss_start]}" "${R[empty.rss_start]}") |
| VmHWM at start, max of $STARTS (MiB)              | $(mib "${R[empty.hwm_start]}") | $(mib "${R[full.hwm_start]}") | $(ratio "${R[full.hwm_start]}" "${R[empty.hwm_start]}") |
EOF
((STARTS_ONLY)) && exit 0
read -r e50 e90 e99 emax emin <<<"${R[empty.lateness]}"
read -r f50 f90 f99 fmax fmin <<<"${R[full.lateness]}"
cat <<EOF
| planned rows while running               | ${R[empty.planned]} | ${R[full.planned]} | |
| VmRSS running, 10 s idle (MiB)           | $(mib "${R[empty.rss_10s]}") | $(mib "${R[full.rss_10s]}") | $(ratio "${R[full.rss_10s]}" "${R[empty.rss_10s]}") |
| VmRSS after the idle window (MiB)        | $(mib "${R[empty.rss_idle]}") | $(mib "${R[full.rss_idle]}") | $(ratio "${R[full.rss_idle]}" "${R[empty.rss_idle]}") |
| idle CPU over $IDLE s (CPU s)                 | ${R[empty.idle_cpu_s]} | ${R[full.idle_cpu_s]} | target ≈ 0 |
| idle CPU (% of one core)                 | ${R[empty.idle_cpu_pct]} | ${R[full.idle_cpu_pct]} | target ≈ 0 |
| lateness p50 (ms)                        | $e50 | $f50 | |
| lateness p90 (ms)                        | $e90 | $f90 | |
| lateness p99 (ms)                        | $e99 | $f99 | $(ratio "$f99" 50) of 50 ms ($(ratio "$e99" 50) empty) |
| lateness max (ms)                        | $emax | $fmax | |
| lateness min (ms)                        | $emin | $fmin | |
| VmRSS after the burst (MiB)              | $(mib "${R[empty.rss_burst]}") | $(mib "${R[full.rss_burst]}") | $(ratio "${R[full.rss_burst]}" "${R[empty.rss_burst]}") |
| VmHWM of the running daemon (MiB)        | $(mib "${R[empty.hwm_run]}") | $(mib "${R[full.hwm_run]}") | $(ratio "${R[full.hwm_run]}" "${R[empty.hwm_run]}") |
EOF
read -r _ _ s99 smax _ <<<"${R[full.sustained_late]}"
read -r _ _ es99 esmax _ <<<"${R[empty.sustained_late]}"
cat <<EOF
| sustained: $SUSTAINED due at once (deliveries/s) | ${R[empty.sustained]} | ${R[full.sustained]} | $(ratio "${R[full.sustained]}" 5000) of 5,000/s |
|   … its lateness p99 / max (ms)          | $es99 / $esmax | $s99 / $smax | |
EOF

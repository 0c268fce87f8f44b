#!/usr/bin/env bash
# PostgreSQL benchmark, run by hand (see docs/performance.md):
#
#   bench/postgres.sh           # 1,000,000 planned rows, 30 s idle window
#   bench/postgres.sh --quick   # 100,000 rows, 10 s idle window
#
# Measures `crier serve` on a PostgreSQL store shared by 1, 2 and 3
# instances: the dispatch lateness of 1,000 deliveries due in the same
# second with two instances (target p99 <= 100 ms), the sustained rate of
# SUSTAINED (default 50,000) due at once with 1, 2 and 3 instances, and the
# idle CPU of two instances. Everything runs in a schema of its own on the
# server BENCH_POSTGRES names (default: CRIER_TEST_POSTGRES, else
# postgres://postgres@127.0.0.1:5432/test), dropped at the end, and a
# temporary folder (BENCH_KEEP=1 keeps it); instances listen on free ports
# of 127.0.0.1. Rows are inserted with SQL, as another process's plan would
# be: the instances hear of them through NOTIFY. BENCH_BIN runs another build.
set -euo pipefail

ROWS=1000000
IDLE=30
BURST=1000
SUSTAINED=${BENCH_SUSTAINED:-50000}
MODE=full
for arg in "$@"; do
    case "$arg" in
        --quick) ROWS=100000 IDLE=10 MODE=quick ;;
        -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
echo "== building (release)" >&2
cargo build --release --quiet --bin crier
BIN=${BENCH_BIN:-$ROOT/target/release/crier}
SERVER=${BENCH_POSTGRES:-${CRIER_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}}
SCHEMA=crier_bench_$(date +%s)
STORE="$SERVER?options=-c%20search_path%3D$SCHEMA"
WORK=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/crier-pgbench.XXXXXX")
PIDS=()
sql() { psql -qAtX "$STORE" -c "$1"; }
stop_all() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}
cleanup() {
    stop_all
    psql -qAtX "$SERVER" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
psql -qAtX "$SERVER" -c "CREATE SCHEMA $SCHEMA"

now_ms() { date +%s%3N; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

mkdir -p "$WORK/campaigns" "$WORK/templates/document"
printf '{{item.title}}\n' >"$WORK/templates/document/default.txt.hbs"
# Instance i: its own port and data folder, the same content and store.
config() {
    local i=$1 port=$2
    cat >"$WORK/crier-$i.toml" <<EOF
[organisation]
name = "crier benchmark"
website = "https://example.org"

[daemon]
listen = "127.0.0.1:$port"
data_dir = "data-$i"
public_url = "http://127.0.0.1:$port"
concurrency = ${BENCH_CONCURRENCY:-8}

[store]
url = "$STORE"

[channels.bench-null]
kind = "discard"
EOF
}

# Starts instances 1..$1, each returning once it answers /healthz.
start_instances() {
    local n=$1 i port
    for ((i = 1; i <= n; i++)); do
        port=$(free_port)
        config "$i" "$port"
        "$BIN" --config "$WORK/crier-$i.toml" serve --log-format json \
            2>"$WORK/serve-$n-$i.log" >/dev/null &
        PIDS+=($!)
        until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
            kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$WORK/serve-$n-$i.log" >&2; exit 1; }
            sleep 0.05
        done
    done
}

VARIANT='{"channel":"bench-null","item":"bench","kind":"discard","length":67,"parts":[{"length":67,"text":"Benchmark delivery: multi-agency safeguarding training, book now."}],"text":"Benchmark delivery: multi-agency safeguarding training, book now.","unit":"characters"}'
# Inserts $2 planned rows named $1-N, due at $3 (unix ms) or, with $3
# empty, spread over the next year.
insert() {
    local prefix=$1 n=$2 due=$3 now
    now=$(now_ms)
    local due_expr="$now + 86400000 + (g::bigint * 31536000000 / $n)"
    [[ -n $due ]] && due_expr=$due
    sql "INSERT INTO deliveries (item, channel, occasion, state, due_at, variant, fingerprint, created_at, updated_at)
         SELECT '$prefix-' || g, 'bench-null', 'at', 'planned', $due_expr, '$VARIANT', md5(g::text), $now, $now
         FROM generate_series(1, $n) g"
}

# $2 rows named $1-N due at one whole second $3 s ahead; waits until all
# are sent; sets LATENESS (p50 p90 p99 max) and RATE (sent per second from
# the due time to the last sent_at), from the store's own times.
burst() {
    local prefix=$1 n=$2 lead=$3 due sent deadline out
    due=$((($(now_ms) / 1000 + lead) * 1000))
    insert "$prefix" "$n" "$due"
    (($(now_ms) < due)) || { echo "the burst was inserted after it fell due" >&2; exit 1; }
    deadline=$(($(now_ms) + 900000))
    while :; do
        sent=$(sql "SELECT count(*) FROM deliveries WHERE item LIKE '$prefix-%' AND state = 'sent'")
        ((sent == n)) && break
        (($(now_ms) < deadline)) || { echo "only $sent of $n sent after 900 s" >&2; exit 1; }
        sleep 0.2
    done
    out=$(sql "
        WITH l AS (SELECT sent_at - due_at AS ms FROM deliveries WHERE item LIKE '$prefix-%')
        SELECT concat_ws(' ',
                 percentile_disc(0.5) WITHIN GROUP (ORDER BY ms),
                 percentile_disc(0.9) WITHIN GROUP (ORDER BY ms),
                 percentile_disc(0.99) WITHIN GROUP (ORDER BY ms),
                 max(ms)) || ' ' ||
               round($n * 1000.0 / greatest(max(ms), 1))
        FROM l")
    LATENESS=${out% *}
    RATE=${out##* }
}

echo "== schema $SCHEMA on $(sed 's|//[^@]*@|//|' <<<"$SERVER"), $ROWS background rows" >&2
declare -A R
for n in 1 2 3; do
    echo "== $n instance(s)" >&2
    start_instances "$n"
    # Loaded while they run: the leader's start-up sync cancels planned
    # rows the content does not name (as in bench/daemon.sh).
    echo "   background: $ROWS planned rows over the next year" >&2
    t=$(now_ms); insert "bench$n" "$ROWS" ""; FILL_MS=$(($(now_ms) - t))
    sql "ANALYZE deliveries"
    R[planned$n]=$(sql "SELECT count(*) FROM deliveries WHERE state = 'planned'")
    if ((n == 2)); then
        echo "   idle CPU over $IDLE s" >&2
        c0=0; for p in "${PIDS[@]}"; do c0=$((c0 + $(cpu_ticks "$p"))); done
        w0=$(now_ms); sleep "$IDLE"; w1=$(now_ms)
        c1=0; for p in "${PIDS[@]}"; do c1=$((c1 + $(cpu_ticks "$p"))); done
        R[idle]=$(awk -v d=$((c1 - c0)) -v t="$TICKS" -v w=$((w1 - w0)) 'BEGIN { printf "%.2f CPU s (%.3f%% of one core)", d / t, 100 * (d / t) / (w / 1000) }')
        echo "   burst of $BURST due in the same second" >&2
        burst "burst$n" "$BURST" 5
        R[burst]=$LATENESS
    fi
    echo "   sustained: $SUSTAINED due in the same second" >&2
    burst "sustained$n" "$SUSTAINED" 8
    R[rate$n]=$RATE
    R[late$n]=$LATENESS
    stop_all
done

read -r b50 b90 b99 bmax <<<"${R[burst]}"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
cat <<EOF

crier PostgreSQL benchmark ($MODE)  $(date -u +%Y-%m-%dT%H:%MZ)
commit     $COMMIT; binary ${BENCH_BIN:-built from it}
load       $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min, at the end)
machine    $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; PostgreSQL $(psql -qAtX "$SERVER" -c 'SHOW server_version') on the same machine
rows       $ROWS planned in the background while running (${R[planned1]} / ${R[planned2]} / ${R[planned3]} planned with 1 / 2 / 3 instances; the last insert took $FILL_MS ms); concurrency ${BENCH_CONCURRENCY:-8} per instance

| figure | value | target |
|---|---:|---|
| 2 instances: $BURST due in one second, lateness p50 / p90 / p99 / max (ms) | $b50 / $b90 / $b99 / $bmax | p99 <= 100 ms |
| 2 instances: idle | ${R[idle]} | ≈ 0 |
| sustained, 1 instance ($SUSTAINED due at once, deliveries/s) | ${R[rate1]} | |
| sustained, 2 instances | ${R[rate2]} | rises with the second |
| sustained, 3 instances | ${R[rate3]} | |
| sustained lateness p99 / max (ms), 1 / 2 / 3 instances | $(cut -d' ' -f3,4 <<<"${R[late1]}" | tr ' ' /) · $(cut -d' ' -f3,4 <<<"${R[late2]}" | tr ' ' /) · $(cut -d' ' -f3,4 <<<"${R[late3]}" | tr ' ' /) | |
EOF

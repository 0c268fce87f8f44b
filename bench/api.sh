#!/usr/bin/env bash
# API latency benchmark, run by hand (figures in docs/performance.md):
#
#   bench/api.sh           # 1,000,000 deliveries in the store
#   bench/api.sh --quick   # 100,000
#
# Runs the release daemon on the shipped example (channels.toml, templates/,
# campaigns/ copied to a temporary folder, on a free port), fills the store
# with N more deliveries, and times sequential requests with an API token:
# `GET /healthz` (the floor: no authentication, no work), the preview of the
# shipped news update, the first page of the queue and a page deep in it.
set -euo pipefail

ROWS=1000000
REQUESTS=${BENCH_REQUESTS:-300}
for arg in "$@"; do
    case "$arg" in
        --quick) ROWS=100000 ;;
        -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [[ -z ${BENCH_NO_BUILD:-} ]]; then
    echo "== building (release)" >&2
    cargo build --release --quiet --bin crier --example bench_fill
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/crier
FILL=$TARGET/release/examples/bench_fill

WORK=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/crier-api-bench.XXXXXX")
PID=
cleanup() {
    [[ -n $PID ]] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
cp -r channels.toml templates campaigns "$WORK/"
sed -i "s|^listen = .*|listen = \"127.0.0.1:$PORT\"|; s|^public_url = .*|public_url = \"$URL\"|; s|^data_dir = .*|data_dir = \"data\"|" \
    "$WORK/channels.toml"
cd "$WORK"
"$BIN" serve >daemon.log 2>&1 &
PID=$!
for _ in $(seq 300); do curl -fsS "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
echo "== filling $ROWS deliveries" >&2
"$FILL" data/crier.db "$ROWS" --due-in-days 365 >/dev/null
TOKEN=$("$BIN" tokens create bench --role admin --kind test | grep -o 'crier_test_[A-Za-z0-9_-]*')

python3 - "$URL" "$TOKEN" "$REQUESTS" "$ROWS" <<'PY'
import json, sys, time, urllib.request
url, token, n, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
auth = {"Authorization": f"Bearer {token}"}

def get(path, headers={}):
    req = urllib.request.Request(url + path, headers=headers)
    with urllib.request.urlopen(req) as r:
        return r.read()

def timed(path, headers):
    get(path, headers)  # warm
    ms = []
    for _ in range(n):
        t = time.perf_counter()
        get(path, headers)
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    rank = lambda p: ms[min(len(ms) - 1, max(0, round(p / 100 * len(ms)) - 1))]
    return rank(50), rank(99)

# A cursor about half way through the queue, found by walking pages of 500.
after, walked = None, 0
while walked < rows // 2:
    q = "/api/v1/deliveries?limit=500" + (f"&after={after}" if after else "")
    page = json.loads(get(q, auth))
    after, walked = page["next"], walked + len(page["deliveries"])
    if not after:
        break

cases = [
    ("GET /healthz (floor)", "/healthz", {}),
    ("preview of the news update", "/api/v1/items/news-update-2026-12/preview", auth),
    ("queue, first page of 100", "/api/v1/deliveries?limit=100", auth),
    (f"queue, page of 100 after {walked:,} rows", f"/api/v1/deliveries?limit=100&after={after}", auth),
]
print(f"{rows:,} deliveries in the store, {n} sequential requests each")
print(f"{'request':<44} {'p50 ms':>8} {'p99 ms':>8}")
for name, path, headers in cases:
    p50, p99 = timed(path, headers)
    print(f"{name:<44} {p50:8.2f} {p99:8.2f}")
PY

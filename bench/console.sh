#!/usr/bin/env bash
# Console speed benchmark, run by hand (figures in docs/performance.md):
#
#   bash bench/console.sh            # 10,000 items, 1,000,000 deliveries
#   bash bench/console.sh --quick    # 2,000 items, 100,000 deliveries
#
# Builds --release, generates a workspace in a temporary folder (the shipped
# channels.toml and templates, campaigns/ written by
# examples/bench_console.rs), records the content's past and older history
# as sent (same example, through the store's own bulk load), starts
# `crier serve`, signs in as an admin (`crier users add`, the set-password
# link's form, the sign-in form: a real session cookie), then times
# sequential GETs of the console pages (BENCH_REQUESTS each, default 200):
# the month view of the busiest month, the same with a channel filter and
# with a kind filter, the page of the item with the most deliveries, and
# the approvals list. Then BENCH_SAVES saves of one item through the API
# (PUT /api/v1/items/{id}), each after the last one's file-watch reload.
# Times are client wall time on loopback (python3's http.client, one
# keep-alive connection): server time plus a fraction of a millisecond.
#
# Environment: BENCH_TMPDIR (default /tmp), BENCH_KEEP=1 keeps the folder,
# BENCH_NO_BUILD=1 uses the binaries already built, CRIER_BIN another crier
# binary to measure (e.g. an older build; the example is built from here).
set -euo pipefail

ITEMS=10000
TOTAL=1000000
REQUESTS=${BENCH_REQUESTS:-200}
SAVES=${BENCH_SAVES:-10}
MODE=full
for arg in "$@"; do
    case "$arg" in
        --quick) ITEMS=2000 TOTAL=100000 MODE=quick ;;
        -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [[ -z ${BENCH_NO_BUILD:-} ]]; then
    echo "== building (release)" >&2
    cargo build --release --quiet --bin crier --example bench_console
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${CRIER_BIN:-$TARGET/release/crier}
GEN=$TARGET/release/examples/bench_console

if [[ -n ${BENCH_REUSE:-} ]]; then
    WORK=$BENCH_REUSE # a folder BENCH_KEEP=1 kept: no generation, no fill
else
    WORK=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/crier-console-bench.XXXXXX")
fi
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
[[ -z ${BENCH_REUSE:-} ]] && cp -r channels.toml templates "$WORK/"
sed -i "s|^listen = .*|listen = \"127.0.0.1:$PORT\"|; s|^public_url = .*|public_url = \"$URL\"|; s|^data_dir = .*|data_dir = \"data\"|" \
    "$WORK/channels.toml"
cd "$WORK"
if [[ -z ${BENCH_REUSE:-} ]]; then
    echo "== workspace $WORK: $ITEMS items" >&2
    "$GEN" content campaigns --items "$ITEMS" >&2
    echo "== filling the store to $TOTAL deliveries" >&2
    "$GEN" fill channels.toml --total "$TOTAL" >fill.json
fi
echo "   $(cat fill.json)" >&2

echo "== starting crier serve" >&2
T0=$(date +%s%3N)
"$BIN" serve --log-format json >daemon.log 2>&1 &
PID=$!
until curl -fsS "$URL/healthz" >/dev/null 2>&1; do
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "the daemon exited; its log:" >&2
        tail -20 daemon.log >&2
        exit 1
    fi
    sleep 0.1
done
START_MS=$(($(date +%s%3N) - T0))
EMAIL=bench-$(date +%s%N)@example.org
LINK=$("$BIN" users add "$EMAIL" --role admin 2>/dev/null)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" status --porcelain 2>/dev/null | grep -qv '^??' && COMMIT="$COMMIT (+ uncommitted changes)"

python3 - "$URL" "$LINK" "$EMAIL" "$REQUESTS" "$SAVES" "$START_MS" "$MODE" "$BIN" "$COMMIT" "$PID" <<'PY'
import http.client, json, os, re, sys, time, urllib.parse

url, link, email, n, saves, start_ms, mode, binary, commit, pid = sys.argv[1:11]
n, saves, fill = int(n), int(saves), json.load(open("fill.json"))
host = urllib.parse.urlsplit(url).netloc
conn = http.client.HTTPConnection(host, timeout=120)
password = "bench-password-" + os.urandom(8).hex()


def request(method, path, body=None, headers=None):
    h = {"Origin": url, **(headers or {})}
    if isinstance(body, dict):
        body = urllib.parse.urlencode(body)
        h["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    return r, r.read()


# A real session: the set-password link's form, then the sign-in form.
secret_path = urllib.parse.urlsplit(link.strip()).path
r, _ = request("POST", secret_path, {"password": password, "confirm": password})
assert r.status == 200, f"set password: {r.status}"
r, _ = request("POST", "/signin", {"email": email, "password": password, "next": "/console/"})
cookie = re.search(r"crier_session=[^;]+", r.getheader("Set-Cookie") or "")
assert r.status == 303 and cookie, f"sign in: {r.status}"
session = {"Cookie": cookie.group(0)}


def timed(path, expect):
    r, body = request("GET", path, headers=session)  # warm
    title = re.search(rb"<title>([^<]*)</title>", body)
    assert r.status == 200, f"{path}: {r.status} {body[:300]!r}"
    assert expect.encode() in body, f"{path}: {expect!r} not on the page"
    ms = []
    for _ in range(n):
        t = time.perf_counter()
        r, body = request("GET", path, headers=session)
        ms.append((time.perf_counter() - t) * 1000)
        assert r.status == 200, f"{path}: {r.status}"
    ms.sort()
    rank = lambda p: ms[min(len(ms) - 1, max(0, -(-p * len(ms) // 100) - 1))]  # nearest rank
    return rank(50), rank(99), len(body), title.group(1).decode() if title else ""


month = fill["busiest_month"]
busy = fill["busy_item"]
cases = [
    (f"month view, {month} (busiest)", f"/console/?view=month&date={month}-01", "crier-calendar"),
    ("  … filtered by channel (mastodon)", f"/console/?view=month&date={month}-01&channel=mastodon", "crier-calendar"),
    ("  … filtered by kind (event)", f"/console/?view=month&date={month}-01&kind=event", "crier-calendar"),
    (f"item page, {busy}", f"/console/items/{busy}", "History"),
    ("approvals", "/console/approvals", "<h1"),
]
results = []
for name, path, expect in cases:
    results.append((name, path) + timed(path, expect))
    print(f"   {name.strip()}: p50 {results[-1][2]:.1f} ms, p99 {results[-1][3]:.1f} ms", file=sys.stderr, flush=True)


# Saves: one item's title changed through the API, each after the file
# watcher's reload of the last one has finished (its log line).
def reloads():
    with open("daemon.log") as f:
        return sum('"content reloaded"' in line for line in f)


def wait_reloads(k, timeout=600):
    deadline = time.time() + timeout
    while reloads() < k:
        assert time.time() < deadline, "no reload after a save"
        time.sleep(0.05)


item = "bench-00042"
save_ms = []
for i in range(saves):
    r, body = request("GET", f"/api/v1/items/{item}", headers=session)
    assert r.status == 200, body
    fields = json.loads(body)["fields"]
    fields["title"] = f"Notice 42, saved {i}"
    before = reloads()
    t = time.perf_counter()
    r, body = request("PUT", f"/api/v1/items/{item}", json.dumps({"fields": fields}),
                      {**session, "Content-Type": "application/json", "If-Match": r.getheader("ETag")})
    save_ms.append((time.perf_counter() - t) * 1000)
    assert r.status == 200, body[:500]
    wait_reloads(before + 1)
save_ms.sort()

cpu = next((l.split(": ", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")) / 1048576
print()
print(f"crier console benchmark ({mode})  {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}")
print(f"commit     {commit}; binary {binary}")
print(f"machine    {os.cpu_count()} CPUs, {cpu}, {mem:.0f} GiB RAM, load {os.getloadavg()[0]:.2f}")
print(f"store      {fill['items']:,} items ({fill['planned']:,} deliveries planned from them), "
      f"{fill['sent']:,} sent rows filled; busiest month {month} ({fill['busiest_month_deliveries']:,}), "
      f"{busy} {fill['busy_item_deliveries']} deliveries")
print(f"start      {int(start_ms):,} ms to /healthz")
print(f"timing     {n} sequential requests each, client wall time on loopback, one keep-alive connection")
print()
print(f"| {'page':<42} | {'p50 ms':>8} | {'p99 ms':>8} | {'bytes':>9} |")
print(f"|{'-' * 44}|{'-' * 9}:|{'-' * 9}:|{'-' * 10}:|")
for name, path, p50, p99, size, title in results:
    print(f"| {name:<42} | {p50:8.1f} | {p99:8.1f} | {size:9,} |")
status = {l.split(":")[0]: l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("Vm")}
print(f"\ndaemon memory at the end: VmRSS {int(status['VmRSS']) / 1024:.0f} MiB, VmHWM {int(status['VmHWM']) / 1024:.0f} MiB")
if save_ms:
    mid = save_ms[len(save_ms) // 2]
    print(f"\nsave of {item} (PUT /api/v1/items/{{id}}), {saves} times: "
          f"median {mid:.0f} ms, max {save_ms[-1]:.0f} ms")
PY

#!/usr/bin/env bash
# Weekly digest for COUNT subscribers: the release `crier` builds the digest
# of a week of items (seven, one a day, sent first to nobody: everyone takes
# the topic weekly) and sends it through a real SMTP server on loopback
# (aiosmtpd from the test venv, discarding). The week ended an hour ago, so
# the digest is due at start. Prints the time to build the message, the
# send's wall time and messages/s, and the daemon's peak memory (VmHWM).
# HISTORY=N first puts N older sends on the channel (435 to 800 days ago), as
# a list running for years has; CRIER_BIN runs another build (a baseline).
#   COUNT=20000 CONCURRENCY=8 ./bench/digest.sh
#   HISTORY=200000 COUNT=2000 ./bench/digest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${COUNT:-20000}"; CONCURRENCY="${CONCURRENCY:-8}"; HISTORY="${HISTORY:-0}"
PY="${CRIER_PYTHON:-$PWD/.venv/bin/python}"
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "run ./scripts/test.sh once first (it makes .venv)" >&2; exit 1; }
cargo build --release --quiet --bin crier --example bench_fill
BIN="${CRIER_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/crier}"
FILL="${CARGO_TARGET_DIR:-$PWD/target}/release/examples/bench_fill"
D="${CARGO_TARGET_DIR:-$PWD/target}/bench-digest"; rm -rf "$D"; mkdir -p "$D/campaigns"
port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SMTP=$(port); HTTP=$(port)
"$PY" scripts/smtp_sink.py --port "$SMTP" --discard >"$D/sink.log" 2>&1 &
SINK=$!
until grep -q ready "$D/sink.log"; do sleep 0.1; done
# The week ends at this weekday and time, an hour ago, in London.
WEEKLY=$(TZ=Europe/London date -d '-1 hour' '+%a %H:%M')
cat >"$D/channels.toml" <<TOML
[organisation]
name = "Bench Partnership"
website = "https://example.org"
timezone = "Europe/London"
[daemon]
listen = "127.0.0.1:$HTTP"
data_dir = "data"
public_url = "http://127.0.0.1:$HTTP"
grace_minutes = 20000
[content]
templates = "$PWD/templates"
[channels.news]
kind = "email"
from = "Bench <news@example.org>"
list_id = "news.example.org"
smtp_host = "127.0.0.1"
smtp_port = $SMTP
tls = "none"
concurrency = $CONCURRENCY
[channels.news.digests]
weekly = "$WEEKLY"
[[channels.news.topics]]
id = "news"
name = "News"
TOML
for day in 1 2 3 4 5 6 7; do
  AT=$(date -u -d "-$day days +$(( day == 7 ? 2 : 0 )) hours -2 hours" +%Y-%m-%dT%H:%M:%SZ)
  printf '[[item]]\nid = "day-%s"\nkind = "notice"\ntitle = "Item of day %s"\nsummary = "What happened on day %s, in a sentence or two for the digest."\nlink = "https://example.org/news/%s"\nbody = "Body."\nat = "%s"\nchannels = ["news"]\ntopics = ["news"]\n\n' \
    "$day" "$day" "$day" "$day" "$AT" >>"$D/campaigns/week.toml"
done
{ echo "email,name,consent_at"; for i in $(seq 1 "$COUNT"); do echo "p$i@example.org,Person $i,2026-01-01"; done; } >"$D/people.csv"
"$BIN" --config "$D/channels.toml" subscribers import "$D/people.csv" --topics news --digest weekly >/dev/null
if [ "$HISTORY" -gt 0 ]; then
  "$FILL" "$D/data/crier.db" "$HISTORY" --channel news --prefix old >/dev/null
  "$PY" - "$D/data/crier.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE deliveries SET state = 'sent', due_at = due_at - 800 * 86400000,"
           " sent_at = due_at - 800 * 86400000 WHERE item LIKE 'old-%'")
db.commit()
PY
fi
"$BIN" --config "$D/channels.toml" serve --log-format json >"$D/daemon.out" 2>"$D/daemon.log" &
CRIER=$!
until grep -q 'digest built' "$D/daemon.log"; do sleep 0.05; done
t0=$(date +%s.%N); peak=0
until grep 'email send finished' "$D/daemon.log" | grep -q "$COUNT sent"; do
  kb=$(awk '/VmHWM/{print $2}' "/proc/$CRIER/status"); peak=$(( kb > peak ? kb : peak )); sleep 0.05
done
t1=$(date +%s.%N)
kill "$CRIER" "$SINK"; wait "$CRIER" "$SINK" 2>/dev/null || true
build_ms=$(grep 'digest built' "$D/daemon.log" | tail -1 | grep -o '"build_ms":[0-9.]*' | cut -d: -f2)
items=$(grep 'digest built' "$D/daemon.log" | tail -1 | grep -o '"items":[0-9]*' | cut -d: -f2)
wall=$(echo "$t1 - $t0" | bc -l)
printf '%7s %7s %5s %5s %9s %8s %7s %9s\n' count history conc items build_ms wall_s msg/s peak_MB
printf '%7d %7d %5d %5s %9s %8.2f %7.0f %9.1f\n' "$COUNT" "$HISTORY" "$CONCURRENCY" "$items" "$build_ms" "$wall" \
  "$(echo "$COUNT / $wall" | bc -l)" "$(echo "$peak / 1024" | bc -l)"

#!/usr/bin/env bash
# Email send speed: the release `crier` sends one item to COUNT confirmed
# subscribers (personalised ~5 KB messages) through a real SMTP server on
# loopback (aiosmtpd from the test venv, discarding), once with
# TCP_NODELAY and once without, in the same run. Prints messages/s and the
# daemon's peak memory (VmHWM).
#   COUNT=5000 CONCURRENCY=8 ./bench/email.sh
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${COUNT:-5000}"; CONCURRENCY="${CONCURRENCY:-8}"
PY="${CRIER_PYTHON:-$PWD/.venv/bin/python}"
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "run ./scripts/test.sh once first (it makes .venv)" >&2; exit 1; }
cargo build --release --quiet
BIN="$PWD/target/release/crier"
WORK="$PWD/target/bench-email"; rm -rf "$WORK"; mkdir -p "$WORK"
port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BODY=$(printf 'A paragraph of the news update, long enough to make a realistic message. %.0s' $(seq 1 40))

printf '%-10s %7s %5s %8s %7s %9s\n' nodelay count conc wall_s msg/s peak_MB
for nodelay in true false; do
  D="$WORK/$nodelay"; mkdir -p "$D/campaigns" "$D/templates/email"
  SMTP=$(port); HTTP=$(port)
  "$PY" scripts/smtp_sink.py --port "$SMTP" --discard >"$D/sink.log" 2>&1 &
  SINK=$!
  until grep -q ready "$D/sink.log"; do sleep 0.1; done
  cat >"$D/channels.toml" <<TOML
[organisation]
name = "Bench Partnership"
website = "https://example.org"
[daemon]
listen = "127.0.0.1:$HTTP"
data_dir = "data"
public_url = "http://127.0.0.1:$HTTP"
[channels.news]
kind = "email"
from = "Bench <news@example.org>"
list_id = "news.example.org"
smtp_host = "127.0.0.1"
smtp_port = $SMTP
tls = "none"
concurrency = $CONCURRENCY
tcp_nodelay = $nodelay
[[channels.news.topics]]
id = "news"
name = "News"
TOML
  echo '{{item.title}}' >"$D/templates/email/default.subject.hbs"
  echo '{{item.body_text}}' >"$D/templates/email/default.txt.hbs"
  echo '{{{item.body_html}}}' >"$D/templates/email/default.html.hbs"
  { echo "email,name,consent_at"; for i in $(seq 1 "$COUNT"); do echo "p$i@example.org,Person $i,2026-01-01"; done; } >"$D/people.csv"
  "$BIN" --config "$D/channels.toml" subscribers import "$D/people.csv" --topics news >/dev/null
  AT=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
  printf '[[item]]\nid = "bench"\nkind = "notice"\ntitle = "Bench"\nbody = "%s"\nat = "%s"\nchannels = ["news"]\ntopics = ["news"]\n' "$BODY" "$AT" >"$D/campaigns/a.toml"
  "$BIN" --config "$D/channels.toml" serve --log-format json 2>"$D/daemon.log" &
  CRIER=$!
  until grep -q 'email send starting' "$D/daemon.log"; do sleep 0.05; done
  t0=$(date +%s.%N); peak=0
  until grep -q 'email send finished' "$D/daemon.log"; do
    kb=$(awk '/VmHWM/{print $2}' "/proc/$CRIER/status"); peak=$(( kb > peak ? kb : peak )); sleep 0.05
  done
  t1=$(date +%s.%N)
  kill "$CRIER" "$SINK"; wait "$CRIER" "$SINK" 2>/dev/null || true
  sent=$(grep -o '[0-9]* sent, [0-9]* refused' "$D/daemon.log" | tail -1)
  wall=$(echo "$t1 - $t0" | bc -l)
  printf '%-10s %7d %5d %8.2f %7.0f %9.1f   (%s)\n' "$nodelay" "$COUNT" "$CONCURRENCY" "$wall" \
    "$(echo "$COUNT / $wall" | bc -l)" "$(echo "$peak / 1024" | bc -l)" "$sent"
done

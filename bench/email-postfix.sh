#!/usr/bin/env bash
# Email send speed against postfix's smtp-sink on loopback, with postfix's
# smtp-source as the yardstick measured in the same run (just before and
# just after crier, so the ratio is not an accident of the machine's load).
#
#   bench/email-postfix.sh            # 20,000 subscribers, ~5 KB each
#   bench/email-postfix.sh --quick    # 2,000: a smoke test
#   COUNT=20000 CONCURRENCY=20 SESSIONS=20 SIZE=5120 BENCH_KEEP=1 bench/email-postfix.sh
#   BENCH_PERF=/path/perf.data bench/email-postfix.sh   # perf record of the daemon
#
# CONCURRENCY is crier's SMTP connections (default 20, like smtp-source's
# 20 sessions); SIZE is smtp-source's body length (-l); crier's body text is
# sized so its personalised messages come out at about the same size, and
# the average actually sent is printed. Installs postfix (for smtp-sink and
# smtp-source only; the MTA is never started) if missing; needs root for
# that, python3 and /proc. Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0; [[ "${1:-}" == --quick ]] && QUICK=1
COUNT="${COUNT:-$([[ $QUICK == 1 ]] && echo 2000 || echo 20000)}"
CONCURRENCY="${CONCURRENCY:-20}"; SESSIONS="${SESSIONS:-20}"; SIZE="${SIZE:-5120}"

if ! command -v smtp-sink >/dev/null || ! command -v smtp-source >/dev/null; then
  [[ $(id -u) == 0 ]] || { echo "postfix's smtp-sink/smtp-source are missing; run as root once to install them" >&2; exit 1; }
  # Debian's postfix with debconf "No configuration"; a temporary
  # policy-rc.d (only if there is none) so the MTA is never started.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  TMP_POLICY=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; TMP_POLICY=1
  fi
  apt-cache policy postfix | grep -q 'Candidate: [0-9]' || apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix >/dev/null
  [[ $TMP_POLICY == 1 ]] && rm -f /usr/sbin/policy-rc.d
fi

cargo build --release --quiet
BIN="$PWD/target/release/crier"
# Under the work tree, not /tmp: file creation there is much slower on
# some machines, and the store's fsyncs are part of what is measured.
WORK="${BENCH_TMPDIR:-$PWD/target}/bench-email-postfix"; rm -rf "$WORK"; mkdir -p "$WORK/campaigns" "$WORK/templates/email"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SMTP=$(port); HTTP=$(port)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ "${BENCH_KEEP:-0}" == 1 ]] || rm -rf "$WORK"
}
trap cleanup EXIT

# smtp-sink refuses to run as root without -u.
SINK_USER=(); [[ $(id -u) == 0 ]] && SINK_USER=(-u nobody)
smtp-sink "${SINK_USER[@]}" -m 512 -h sink.localhost "127.0.0.1:$SMTP" 1024 >"$WORK/sink.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do ss -ltn "sport = :$SMTP" | grep -q LISTEN && break; sleep 0.1; done

# The list and the item, made before anything is timed.
cat >"$WORK/channels.toml" <<TOML
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
recycle_after = 100000
[[channels.news.topics]]
id = "news"
name = "News"
TOML
echo '{{item.title}}' >"$WORK/templates/email/default.subject.hbs"
echo '{{item.body_text}}' >"$WORK/templates/email/default.txt.hbs"
echo '{{{item.body_html}}}' >"$WORK/templates/email/default.html.hbs"
python3 - "$COUNT" >"$WORK/people.csv" <<'PY'
import sys
print("email,name,consent_at")
for i in range(1, int(sys.argv[1]) + 1):
    print(f"p{i}@example.org,Person {i},2026-01-01")
PY
"$BIN" --config "$WORK/channels.toml" subscribers import "$WORK/people.csv" --topics news >/dev/null
# The body goes out twice (plain text and HTML) plus ~1.3 KB of headers and
# personal links: 21 sentences of ~76 bytes make messages of about SIZE.
SENTENCES=$(( (SIZE - 1300) / 2 / 76 )); (( SENTENCES < 1 )) && SENTENCES=1
BODY=$(printf 'A paragraph of the news update, long enough to make a realistic message. %.0s' $(seq 1 "$SENTENCES"))

TCK=$(getconf CLK_TCK)
source_run() { # label
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$WORK/source.time" smtp-source -d -s "$SESSIONS" -m "$COUNT" -l "$SIZE" \
    -f sender@bench.test -t rcpt@bench.test -M bench.test -S bench "127.0.0.1:$SMTP" 2>"$WORK/source.err"
  t1=$(date +%s.%N)
  [[ -s "$WORK/source.err" ]] && { echo "smtp-source reported:" >&2; head -5 "$WORK/source.err" >&2; }
  python3 - "$1" "$t0" "$t1" "$COUNT" "$SESSIONS" "$SIZE" $(tail -1 "$WORK/source.time") <<'PY'
import sys
label, t0, t1, n, s, size, u, sy = sys.argv[1:9]
wall = float(t1) - float(t0); n = int(n)
cpu = (float(u) + float(sy)) * 1e6 / n
print(f"{label:<22} {n:>7} {s:>5} {wall:>8.2f} {n / wall:>8.0f} {'-':>9} {'~' + size:>8} {cpu:>9.0f}")
PY
  echo "$(echo "$COUNT / ($t1 - $t0)" | bc -l)" >>"$WORK/source.rates"
}

printf '%s\n' "machine: $(nproc) CPUs, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %7s %5s %8s %8s %9s %8s %9s\n' run messages conns wall_s msg/s peak_MiB bytes/msg cpu_us/m
source_run "smtp-source (before)"

# crier: the daemon sends one item to every confirmed subscriber.
AT=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
printf '[[item]]\nid = "bench"\nkind = "notice"\ntitle = "Bench"\nbody = "%s"\nat = "%s"\nchannels = ["news"]\ntopics = ["news"]\n' \
  "$BODY" "$AT" >"$WORK/campaigns/a.toml"
"$BIN" --config "$WORK/channels.toml" serve --log-format json 2>"$WORK/daemon.log" &
CRIER=$!; PIDS+=("$CRIER")
if [[ -n "${BENCH_PERF:-}" ]]; then # a profile of the daemon during the send
  perf record -F 1999 -g -p "$CRIER" -o "$BENCH_PERF" >/dev/null 2>&1 & PERF=$!
fi
until grep -q 'email send finished' "$WORK/daemon.log"; do
  kill -0 "$CRIER" 2>/dev/null || { echo "crier exited; see $WORK/daemon.log" >&2; BENCH_KEEP=1; exit 1; }
  sleep 0.2
done
# VmHWM is the kernel's own peak, so reading it once at the end is exact.
HWM=$(awk '/VmHWM/{print $2}' "/proc/$CRIER/status")
CPU=$(awk -v t="$TCK" '{print ($14+$15)/t}' "/proc/$CRIER/stat")
kill "$CRIER"; wait "$CRIER" 2>/dev/null || true
[[ -n "${BENCH_PERF:-}" ]] && { kill -INT "$PERF"; wait "$PERF" || true; }
# Wall time as the send itself measured it: from before the recipients are
# read to the last outcome committed (`elapsed_s` on its final log line).
python3 - "$WORK/daemon.log" "$CONCURRENCY" "$HWM" "$CPU" >"$WORK/crier.row" <<'PY'
import json, sys
log, conc, hwm, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
fields = {}
for line in open(log):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("fields", {}).get("message", "").startswith("email send finished"):
        fields = e["fields"]
wall = float(fields["elapsed_s"]); sent = int(fields["sent"])
size = int(fields["bytes"]) // max(sent, 1)
print(f"{'crier':<22} {sent:>7} {conc:>5} {wall:>8.2f} {sent / wall:>8.0f} {hwm / 1024:>9.1f} {size:>8} {cpu * 1e6 / max(sent, 1):>9.0f}")
print(sent / wall, sent, file=open(log + ".rate", "w"))
PY
cat "$WORK/crier.row"
source_run "smtp-source (after)"

read -r RATE SENT <"$WORK/daemon.log.rate"
[[ "$SENT" == "$COUNT" ]] || echo "warning: crier sent $SENT of $COUNT" >&2
python3 - "$RATE" $(cat "$WORK/source.rates") <<'PY'
import sys
crier, *src = map(float, sys.argv[1:])
mean = sum(src) / len(src)
print(f"ratio crier / smtp-source: {crier / mean:.2f} of the mean ({mean:.0f} msg/s); "
      + ", ".join(f"{crier / s:.2f} of {s:.0f}" for s in src))
PY

#!/usr/bin/env bash
# Bounce mailbox speed: the release `crier` reads COUNT real bounce messages
# (the Postfix DSN of tests/fixtures/bounces/, one per subscriber, each with
# a genuine VERP token) from a real IMAP server (Dovecot, started by
# scripts/peers/dovecot.sh), records each hard bounce (suppressing the
# address) and moves the message to the processed folder. Prints messages/s
# from the daemon's start until the last message is moved (start-up
# included, so a slight underestimate).
#   COUNT=10000 ./bench/bounces.sh
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${COUNT:-10000}"
PY="${CRIER_PYTHON:-$PWD/.venv/bin/python}"
URL="${CRIER_IMAP_URL:-$(scripts/peers/dovecot.sh start)}"
cargo build --release --quiet
BIN="$PWD/target/release/crier"
D="$PWD/target/bench-bounces"; rm -rf "$D"; mkdir -p "$D/campaigns" "$D/templates/email" "$D/data/credentials"
HTTP=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
FOLDER="bench$$"
HOSTPORT=$("$PY" -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(f"{p.hostname}:{p.port}")' "$URL")
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
smtp_port = 9
tls = "none"
[channels.news.bounces]
imap = "imap://$HOSTPORT/$FOLDER"
user_env = "BENCH_IMAP_USER"
password_env = "BENCH_IMAP_PASSWORD"
processed_folder = "$FOLDER-done"
poll_seconds = 1
[[channels.news.topics]]
id = "news"
name = "News"
TOML
echo '{{item.title}}' >"$D/templates/email/default.subject.hbs"
echo '{{item.body_text}}' >"$D/templates/email/default.txt.hbs"
echo '{{{item.body_html}}}' >"$D/templates/email/default.html.hbs"
{ echo "email,consent_at"; for i in $(seq 1 "$COUNT"); do echo "p$i@school.example,2026-01-01"; done; } >"$D/people.csv"
"$BIN" --config "$D/channels.toml" subscribers import "$D/people.csv" --topics news >/dev/null
# A known link key, so the tokens can be made here (verp.rs's format).
KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
chmod 700 "$D/data/credentials"; (umask 077; printf '%s' "$KEY" >"$D/data/credentials/news.link_key")
"$BIN" --config "$D/channels.toml" subscribers list --format json >"$D/subscribers.json"
"$PY" - "$URL" "$FOLDER" "$KEY" "$D/subscribers.json" tests/fixtures/bounces/postfix-hard.eml <<'PY'
import base64, hashlib, hmac, imaplib, json, sys, urllib.parse
url, folder, key, subs, fixture = sys.argv[1:]
def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7f, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n: return bytes(out)
def token(d, s):
    mac = hmac.new(key.encode(), f"verp\nnews\n{d}\n{s}".encode(), hashlib.sha256).digest()[:10]
    return base64.b32encode(varint(d) + varint(s) + mac).decode().rstrip("=").lower()
p = urllib.parse.urlsplit(url)
imap = imaplib.IMAP4(p.hostname, p.port); imap.login(p.username, p.password)
imap.create(folder)
text = open(fixture).read()
for i, sub in enumerate(json.load(open(subs))):
    t = token(1, sub["id"])
    msg = (text.replace("{{VERP}}", f"bounces+{t}@example.org").replace("{{REF}}", t)
           .replace("{{RCPT}}", sub["email"]).replace("{{MSGID}}", f"bench{i}"))
    imap.append(folder, None, None, msg.replace("\n", "\r\n").encode())
imap.logout()
PY
export BENCH_IMAP_USER BENCH_IMAP_PASSWORD
BENCH_IMAP_USER=$("$PY" -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).username)' "$URL")
BENCH_IMAP_PASSWORD=$("$PY" -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).password)' "$URL")
count_done() {
  "$PY" - "$URL" "$FOLDER-done" <<'PY'
import imaplib, sys, urllib.parse
p = urllib.parse.urlsplit(sys.argv[1])
i = imaplib.IMAP4(p.hostname, p.port); i.login(p.username, p.password)
typ, data = i.status(sys.argv[2], "(MESSAGES)")
print(data[0].decode().split("MESSAGES ")[1].rstrip(")") if typ == "OK" else 0); i.logout()
PY
}
t0=$(date +%s.%N)
"$BIN" --config "$D/channels.toml" serve --log-format json 2>"$D/daemon.log" &
CRIER=$!
trap 'kill $CRIER 2>/dev/null || true' EXIT
until [[ $(count_done) -ge $COUNT ]]; do sleep 0.2; done
t1=$(date +%s.%N)
suppressed=$("$BIN" --config "$D/channels.toml" subscribers list --format json | "$PY" -c 'import json,sys; print(sum(s["status"]=="unsubscribed" for s in json.load(sys.stdin)))')
"$PY" -c "import sys; c,a,b,s=map(float,sys.argv[1:]); print(f'{int(c)} bounces in {b-a:.1f} s: {c/(b-a):.0f} messages/s; {int(s)} addresses suppressed')" "$COUNT" "$t0" "$t1" "$suppressed"

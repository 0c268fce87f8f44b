#!/usr/bin/env bash
# A real IMAP server for the bounce-mailbox tests: Debian's Dovecot
# (dovecot-imapd), run as a non-system instance with its own config on
# 127.0.0.1, plain IMAP (loopback only). One user, `bounces`, password
# `secret`, Maildir under .peers/dovecot/.
#
#   scripts/peers/dovecot.sh start   install if missing (apt, as root), start,
#                                    print imap://bounces:secret@127.0.0.1:PORT
#   scripts/peers/dovecot.sh stop    stop the instance started here
#   scripts/peers/dovecot.sh status  exit 0 if it is running
#
# Dovecot will not run its login and mail processes as root, so the mail
# folder belongs to the `dovecot` user and first_valid_uid admits it.
# IMAP_PORT chooses the port; otherwise 14143 if free, else a free one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="${CRIER_PEERS_DIR:-$ROOT/.peers}/dovecot"
CONF="$RUN/dovecot.conf"

busy() { ss -Htln "sport = :$1" | grep -q .; }
port_of() { sed -n 's/^ *port = \([0-9][0-9]*\)$/\1/p' "$CONF" | head -1; }
listening() { [[ -f $CONF ]] && (exec 3<>"/dev/tcp/127.0.0.1/$(port_of)") 2>/dev/null; }

install() {
  command -v dovecot >/dev/null && return 0
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "dovecot: not installed (apt-get install dovecot-imapd, as root)" >&2; exit 1
  fi
  apt-cache policy dovecot-imapd | grep -q 'Candidate: [0-9]' || apt-get update -q >/dev/null
  # Debian's policy-rc.d keeps the system service from starting; only the
  # instance below runs.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dovecot-imapd >/dev/null
}

start() {
  if listening; then echo "imap://bounces:secret@127.0.0.1:$(port_of)"; return 0; fi
  install
  local port=${IMAP_PORT:-14143} p
  if busy "$port"; then
    [[ -n ${IMAP_PORT:-} ]] && { echo "dovecot: port $port is busy" >&2; exit 1; }
    for ((p = 30000; p < 40000; p++)); do busy "$p" || { port=$p; break; }; done
  fi
  # A fresh mailbox each start: tests own what is in it.
  rm -rf "$RUN"
  mkdir -p "$RUN"/{base,state,mail/bounces}
  local uid gid
  uid=$(id -u dovecot); gid=$(id -g dovecot)
  chown -R dovecot:dovecot "$RUN/mail"
  echo "bounces:{PLAIN}secret:$uid:$gid::$RUN/mail/bounces" >"$RUN/passwd"
  cat >"$CONF" <<CONF
base_dir = $RUN/base
state_dir = $RUN/state
log_path = $RUN/dovecot.log
protocols = imap
listen = 127.0.0.1
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 100
disable_plaintext_auth = no
ssl = no
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = $RUN/passwd
}
userdb {
  driver = passwd-file
  args = $RUN/passwd
}
service imap-login {
  chroot =
  inet_listener imap {
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
CONF
  dovecot -c "$CONF"
  for _ in $(seq 100); do
    listening && { echo "imap://bounces:secret@127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  echo "dovecot did not listen on $port; see $RUN/dovecot.log" >&2; exit 1
}

case "${1:-}" in
  start) start ;;
  stop) [[ -f $CONF ]] && doveadm -c "$CONF" stop 2>/dev/null || true ;;
  status) listening ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Runs crier's whole test suite on a fresh machine: sets up what the tests
# need (a Python venv with the real feed parser) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# The published twitter-text conformance data, when this machine has it.
if [[ -z "${CRIER_CONFORMANCE_DIR:-}" ]]; then
  for d in ../shared/conformance/twitter-text /work/shared/conformance/twitter-text; do
    if [[ -f "$d/validate.yml" ]]; then
      CRIER_CONFORMANCE_DIR="$(cd "$d" && pwd)"
      export CRIER_CONFORMANCE_DIR
      break
    fi
  done
fi

# The feed tests read crier's feeds back with the real feedparser and
# icalendar; the email tests send to a real SMTP server (aiosmtpd), make
# their TLS certificates and DKIM keys with cryptography and verify DKIM
# with dkimpy (pynacl for Ed25519); all from a venv made here once (pinned,
# so results do not drift).
if ! .venv/bin/python -c 'import feedparser, icalendar, aiosmtpd, cryptography, dkim, dns, nacl' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet feedparser==6.0.14 icalendar==7.3.0 aiosmtpd==1.4.6 \
    cryptography==50.0.2 dkimpy==1.1.8 dnspython==2.9.2 pynacl==1.6.2
fi
CRIER_PYTHON="$PWD/.venv/bin/python"
export CRIER_PYTHON

# The Bluesky tests post to the real reference PDS on 127.0.0.1 (installed
# into .peers/ on first use, then cached there). Stopped at exit only if
# started here. CRIER_SKIP_PDS=1 runs without it: those tests say skipped.
# Peers started here are stopped at exit.
stops=()
trap 'for s in "${stops[@]}"; do $s; done' EXIT
if [[ -z "${CRIER_PDS_URL:-}" && -z "${CRIER_SKIP_PDS:-}" ]]; then
  if ! scripts/peers/pds.sh status; then
    stops+=("scripts/peers/pds.sh stop")
  fi
  CRIER_PDS_URL="$(scripts/peers/pds.sh start)"
  export CRIER_PDS_URL
fi

# Sign-in tests use a real OpenID provider on 127.0.0.1 (panva's
# oidc-provider from npm, pinned by scripts/peers/oidc/package-lock.json;
# state in .peers/oidc); each test registers its own client. CRIER_SKIP_OIDC=1
# runs without it: those tests say skipped.
if [[ -z "${CRIER_OIDC_URL:-}" && -z "${CRIER_SKIP_OIDC:-}" ]]; then
  CRIER_OIDC_URL="$(scripts/peers/oidc/start-oidc.sh)"
  stops+=("scripts/peers/oidc/stop-oidc.sh")
  export CRIER_OIDC_URL
fi

# The bounce-mailbox tests read a real IMAP server: Debian's Dovecot
# (dovecot-imapd, installed by the script when missing and this runs as
# root), a non-system instance on 127.0.0.1 with its state in .peers/.
# Stopped at exit only if started here. CRIER_SKIP_IMAP=1 runs without it:
# those tests say skipped.
if [[ -z "${CRIER_IMAP_URL:-}" && -z "${CRIER_SKIP_IMAP:-}" ]]; then
  if ! scripts/peers/dovecot.sh status; then
    stops+=("scripts/peers/dovecot.sh stop")
  fi
  CRIER_IMAP_URL="$(scripts/peers/dovecot.sh start)"
  export CRIER_IMAP_URL
fi

# The subscription pages are tested in headless Chromium (Debian's chromium
# and chromium-driver). Installed here when missing and this runs as root
# with apt (as CI does); otherwise those tests say they are skipped.
if [[ ! -x /usr/bin/chromedriver && -z "${CRIER_CHROMEDRIVER:-}" ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    apt-cache policy chromium | grep -q 'Candidate: [0-9]' || apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      chromium chromium-driver >/dev/null
  else
    echo "note: no Chromium (apt install chromium chromium-driver); the page tests will skip" >&2
  fi
fi

# axe-core, which audits every subscription page in Chromium (WCAG 2.2 A
# and AA): from the npm registry, pinned by the lock file here.
AXE=.peers/axe
if ! cmp -s scripts/peers/axe/package-lock.json "$AXE/package-lock.json" \
   || [[ ! -f "$AXE/node_modules/axe-core/axe.min.js" ]]; then
  mkdir -p "$AXE"
  cp scripts/peers/axe/package.json scripts/peers/axe/package-lock.json "$AXE/"
  (cd "$AXE" && npm ci --no-audit --no-fund --loglevel=error)
fi

# schemathesis fuzzes the HTTP API from its own OpenAPI document
# (tests/api.rs): in a venv of its own, pinned.
ST=.peers/schemathesis
if ! "$ST/bin/schemathesis" --version 2>/dev/null | grep -q '4.32.5'; then
  python3 -m venv "$ST"
  "$ST/bin/python" -m pip install --quiet 'schemathesis==4.32.5'
fi
CRIER_SCHEMATHESIS="$PWD/$ST/bin/schemathesis"
export CRIER_SCHEMATHESIS

cargo test --workspace --locked "$@"

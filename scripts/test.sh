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

# Everything the tests need installed (scripts/setup.sh: the venv, the
# PDS, the OpenID provider, Dovecot, Chromium, axe-core, schemathesis);
# nothing is fetched again once it is there.
scripts/setup.sh tests

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

# The PostgreSQL backend's tests (contract suite, migrations, several
# instances) run against a real server, each test in a schema of its own:
# the one CRIER_TEST_POSTGRES names, else a running one on 127.0.0.1:5432
# (database test), else a private one scripts/peers/postgres.sh starts from
# Debian's packages. CRIER_SKIP_POSTGRES=1 runs without: those tests say
# skipped.
if [[ -z "${CRIER_TEST_POSTGRES:-}" && -z "${CRIER_SKIP_POSTGRES:-}" ]]; then
  if ! scripts/peers/postgres.sh status; then
    stops+=("scripts/peers/postgres.sh stop")
  fi
  CRIER_TEST_POSTGRES="$(scripts/peers/postgres.sh start)"
  export CRIER_TEST_POSTGRES
fi

# schemathesis fuzzes the HTTP API from its own OpenAPI document
# (tests/api.rs): in a venv of its own, pinned.
CRIER_SCHEMATHESIS="$PWD/.peers/schemathesis/bin/schemathesis"
export CRIER_SCHEMATHESIS

cargo test --workspace --locked "$@"

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

cargo test --workspace --locked "$@"

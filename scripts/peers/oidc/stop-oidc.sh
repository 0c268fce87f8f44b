#!/usr/bin/env bash
# Stops the provider start-oidc.sh started and waits until it has exited.
here=$(cd "$(dirname "$0")" && pwd)
run=${CRIER_PEERS_DIR:-$(cd "$here/../../.." && pwd)/.peers}/oidc
[[ -f $run/pid ]] || exit 0
pid=$(cat "$run/pid"); kill "$pid" 2>/dev/null
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
rm -f "$run/pid"

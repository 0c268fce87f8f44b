#!/usr/bin/env bash
# Starts the loopback OpenID provider (oidc-provider from npm, pinned by
# package-lock.json here) and prints its issuer URL. State lives under
# .peers/oidc (gitignored): node_modules, log, pid, port. Port 4455 when
# free, else OIDC_PORT, else a free one. `start-oidc.sh install` installs
# and starts nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
run=${CRIER_PEERS_DIR:-$root/.peers}/oidc
mkdir -p "$run"
if ! cmp -s "$here/package-lock.json" "$run/package-lock.json" || [[ ! -d $run/node_modules/oidc-provider ]]; then
  cp "$here/package.json" "$here/package-lock.json" "$run/"
  (cd "$run" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
[[ ${1:-} == install ]] && exit 0
cp "$here/run-oidc.mjs" "$run/"
free() { ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }
port=${OIDC_PORT:-4455}
if ! free "$port"; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
(cd "$run"; OIDC_PORT=$port nohup node run-oidc.mjs >"$run/oidc.log" 2>&1 & echo $! >"$run/pid")
echo "$port" >"$run/port"
for _ in $(seq 200); do
  curl -fsS "http://127.0.0.1:$port/.well-known/openid-configuration" >/dev/null 2>&1 && { echo "http://127.0.0.1:$port"; exit 0; }
  sleep 0.1
done
echo "the OpenID provider did not start; see $run/oidc.log" >&2; exit 1

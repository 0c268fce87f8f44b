#!/usr/bin/env bash
# The packaged unit under a real systemd: boots this machine's own system
# in a container (systemd-nspawn over a throwaway overlay of /, private
# network), installs the package there and checks that the sandboxed
# service becomes ready (Type=notify), serves, reloads, stops cleanly, and
# that a frozen process is restarted by the watchdog. Nothing of it stays on
# the machine. For machines where systemd is not PID 1 (CI, containers);
# needs root and systemd-nspawn (apt: systemd-container).
#
#   scripts/unit-check.sh [PACKAGE.deb]    # default: builds one (scripts/package.sh --fast)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

fail() {
	echo "unit-check: FAIL: $*" >&2
	exit 1
}
step() { echo "unit-check: $* ($(($(date +%s) - start))s)"; }

[ "$(id -u)" = 0 ] || fail "run as root"
command -v systemd-nspawn >/dev/null || { apt-get install -y --no-install-recommends systemd-container || { apt-get update -qq && apt-get install -y --no-install-recommends systemd-container; }; }

deb=${1:-}
if [ -z "$deb" ]; then
	step "building the package"
	deb=$PWD/target/unit-check.deb
	CRIER_PACKAGE_PROFILE=${CRIER_PACKAGE_PROFILE:-dev} scripts/package.sh --fast --output "$deb" >/dev/null
fi

scratch=$(mktemp -d /run/crier-unit-check.XXXXXX)
root=$scratch/root
nspawn_pid=
cleanup() {
	if [ -n "$nspawn_pid" ]; then
		kill "$nspawn_pid" 2>/dev/null || true
		wait "$nspawn_pid" 2>/dev/null || true
	fi
	umount "$root" 2>/dev/null || true
	umount "$scratch/rw" 2>/dev/null || true
	rm -rf "$scratch"
}
trap cleanup EXIT

step "an overlay of / with the package installed"
mkdir -p "$scratch/rw" "$root"
mount -t tmpfs -o size=2G tmpfs "$scratch/rw"
mkdir -p "$scratch/rw/upper" "$scratch/rw/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$scratch/rw/upper,workdir=$scratch/rw/work" "$root"
cp "$deb" "$root/root/crier.deb"
chroot "$root" dpkg -i /root/crier.deb >/dev/null
rm "$root/etc/crier/unconfigured" # configured: the shipped skeleton passes check

step "booting systemd in the container"
# basic.target: the system's own services (databases, mail) stay off.
systemd-nspawn -q -D "$root" --register=no --keep-unit --private-network \
	-b -- --unit=basic.target >"$scratch/console.log" 2>&1 &
nspawn_pid=$!
init=
for _ in $(seq 600); do
	init=$(pgrep -P "$nspawn_pid" -x systemd || true)
	if [ -n "$init" ]; then
		state=$(nsenter -t "$init" -a systemctl is-system-running 2>/dev/null || true)
		case "$state" in running | degraded) break ;; esac
	fi
	sleep 0.1
done
[ -n "$init" ] || fail "systemd did not start in the container: $(cat "$scratch/console.log")"
in_ct() { nsenter -t "$init" -a "$@"; }
show() { in_ct systemctl show crier -p "$1" --value; }

step "start: returns once crier says READY=1"
in_ct systemctl start crier || { in_ct journalctl -u crier --no-pager -o cat >&2; fail "crier did not start"; }
[ "$(show ActiveState)" = active ] || fail "crier is $(show ActiveState)"
in_ct curl -fsS http://127.0.0.1:8080/healthz >/dev/null || fail "/healthz does not answer"
in_ct curl -fsS http://127.0.0.1:8080/metrics | grep -q '^crier_deliveries{channel="feed",state="planned"}' ||
	fail "no planned deliveries in /metrics"

step "reload"
in_ct systemctl reload crier
# reload returns once the signal is sent; crier logs the reload when done.
reloaded() { in_ct journalctl -u crier --no-pager -o cat | grep -q '"reason":"SIGHUP"'; }
for _ in $(seq 100); do reloaded && break; sleep 0.1; done
reloaded || fail "the reload did not reach crier"

step "watchdog: pings, and a frozen crier is restarted (about 45 s)"
pid=$(show MainPID)
for _ in $(seq 200); do
	[ "$(show WatchdogTimestampMonotonic)" != 0 ] && break
	sleep 0.1
done
[ "$(show WatchdogTimestampMonotonic)" != 0 ] || fail "no WATCHDOG=1 received"
in_ct kill -STOP "$pid"
for _ in $(seq 600); do
	[ "$(show NRestarts)" = 1 ] && [ "$(show ActiveState)" = active ] && break
	sleep 0.1
done
[ "$(show NRestarts)" = 1 ] && [ "$(show MainPID)" != "$pid" ] || fail "the watchdog did not restart crier"

step "stop"
in_ct systemctl stop crier
[ "$(show Result)" = success ] || fail "stop result: $(show Result)"
in_ct journalctl -u crier --no-pager -o cat | grep -q '"message":"stopped"' || fail "crier did not stop cleanly"
if in_ct journalctl -u crier --no-pager -o cat | grep -Eiq 'permission denied|operation not permitted|read-only file system'; then
	in_ct journalctl -u crier --no-pager -o cat >&2
	fail "the sandbox refused crier something"
fi

in_ct systemctl poweroff >/dev/null 2>&1 || true
for _ in $(seq 300); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
step "unit-check passed"

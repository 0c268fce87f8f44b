#!/usr/bin/env bash
# Builds crier's Debian package into target/debian/ (docs/deploy.md):
# the binary, /etc/crier as `crier init` writes it (data_dir pointed at
# /var/lib/crier), the hardened unit (deploy/crier.service) and the
# maintainer scripts (deploy/debian/). Needs cargo-deb
# (`cargo install cargo-deb --locked`).
#
#   scripts/package.sh                          # release build, version from Cargo.toml
#   scripts/package.sh --deb-version 0.1.0-2    # any further cargo-deb options
#
# CRIER_PACKAGE_PROFILE picks the cargo profile (default release);
# scripts/package-check.sh uses dev to reuse the test build's binary.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${CRIER_PACKAGE_PROFILE:-release}
case "$profile" in
dev) built=target/debug/crier ;;
*) built=target/$profile/crier ;;
esac
stage=target/deb-staging

if [ "$profile" = dev ]; then
	# The test build's own binary: `cargo build` would compile everything
	# again with the features tests do not add (tokio's test-util and
	# others), so build it as `cargo test` does (nothing to do after it).
	cargo test --workspace --locked --no-run --quiet
else
	cargo build --locked --profile "$profile" --bin crier
fi

rm -rf "$stage"
mkdir -p "$stage/etc"
install -m 0755 "$built" "$stage/crier"
strip --strip-unneeded --remove-section=.comment "$stage/crier"

# The skeleton a new organisation starts from, written by the binary being
# packaged so the two never disagree.
"$stage/crier" init "$stage/etc/crier" --name "Your organisation" </dev/null >/dev/null
rm "$stage/etc/crier/.gitignore" # for a git checkout's data folder; /etc has none
config="$stage/etc/crier/channels.toml"
sed -i 's|^data_dir = "data"$|data_dir = "/var/lib/crier"|' "$config"
grep -qx 'data_dir = "/var/lib/crier"' "$config" || {
	echo "error: $config has no data_dir = \"data\" line to point at /var/lib/crier" >&2
	exit 1
}
# What is shipped must pass its own check (no data folder is created).
"$stage/crier" --config "$config" check >/dev/null

cargo deb --no-build --no-strip "$@"

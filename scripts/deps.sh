#!/usr/bin/env bash
# Installs the Debian packages the tests need, when they are missing.
# Idempotent and quiet: prints one line when it installs something, nothing
# otherwise. Not root or not Debian: fails naming what to install.
set -euo pipefail

# command -> Debian package
declare -A want=(
	[ip]=iproute2
	[tshark]=tshark
	[tcpdump]=tcpdump
	[iptables]=iptables
	[curl]=curl
	[ping]=iputils-ping
)

missing=()
for cmd in "${!want[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${want[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing packages: ${missing[*]}; install them (Debian: apt-get install ${missing[*]}) and run again" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 ||
	{ apt-get update -qq >>"$log" 2>&1 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1; }; }; then
	cat "$log" >&2
	echo "deps: could not install ${missing[*]}" >&2
	exit 1
fi

#!/usr/bin/env bash
# Installs the Debian packages a make target needs, when they are missing.
#
#   scripts/deps.sh [test|lab]
#     test  (default) what the tests need: iproute2, tshark, tcpdump, iptables,
#           curl, iputils-ping, debootstrap (the Debian image)
#     lab   what the README's quickstart runs inside nodes: tcpdump, curl
#
# Idempotent and quiet: prints one line when it installs something, nothing
# otherwise. Not root or not Debian: fails naming what to install.
#
# On a fresh VM another apt run (unattended-upgrades, cloud-init) often holds
# the package lock for a few minutes. Failing then would make `make test`
# flaky for no reason of ours, so the script waits for the lock, up to
# DEPS_LOCK_TIMEOUT seconds (default 600), and says so while it waits.
# apt 2.6 (Debian 12) honours -o DPkg::Lock::Timeout for install, but not for
# the lists lock that `apt-get update` takes: that one is retried here.
#
# DEPS_ALWAYS_APT=1 runs `apt-get install --no-upgrade` even when every
# command is present (a no-op that still takes the lock); the tests use it to
# check the waiting.
set -euo pipefail

set_name=${1:-test}
timeout=${DEPS_LOCK_TIMEOUT:-600}

# command -> Debian package
declare -A want
case "$set_name" in
test)
	want=(
		[ip]=iproute2
		[tshark]=tshark
		[tcpdump]=tcpdump
		[iptables]=iptables
		[curl]=curl
		[ping]=iputils-ping
		[debootstrap]=debootstrap
	)
	;;
lab)
	want=(
		[tcpdump]=tcpdump
		[curl]=curl
	)
	;;
*)
	echo "deps: unknown set \"$set_name\"; use test or lab" >&2
	exit 2
	;;
esac

missing=()
for cmd in "${!want[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${want[$cmd]}")
done
pkgs=("${missing[@]}")
if [ ${#missing[@]} -eq 0 ]; then
	[ "${DEPS_ALWAYS_APT:-}" = 1 ] || exit 0
	pkgs=("${want[@]}")
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing packages: ${missing[*]}; install them (Debian: apt-get install ${missing[*]}) and run again" >&2
	exit 1
fi

[ ${#missing[@]} -eq 0 ] || echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# say_waiting prints, once, which process holds a package lock, if one does.
said=
say_waiting() {
	[ -z "$said" ] || return 0
	command -v lslocks >/dev/null 2>&1 || return 0
	local holder
	holder=$(lslocks --noheadings --raw -o PID,COMMAND,PATH 2>/dev/null |
		awk '$3 == "/var/lib/dpkg/lock-frontend" || $3 == "/var/lib/dpkg/lock" || $3 == "/var/lib/apt/lists/lock" { print $2 " (pid " $1 ")"; exit }')
	[ -n "$holder" ] || return 0
	echo "deps: waiting up to ${timeout}s for the Debian package lock, held by $holder"
	said=1
}

locked() { grep -qE 'Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock' "$log"; }

install() {
	say_waiting
	apt-get install -y -qq --no-install-recommends --no-upgrade \
		-o DPkg::Lock::Timeout="$timeout" "${pkgs[@]}" >>"$log" 2>&1
}

update() {
	local deadline=$((SECONDS + timeout))
	while :; do
		: >"$log"
		apt-get update -qq -o DPkg::Lock::Timeout="$timeout" >>"$log" 2>&1 && return 0
		locked && [ $SECONDS -lt $deadline ] || return 1
		say_waiting
		sleep 1
	done
}

fail() {
	cat "$log" >&2
	if locked; then
		echo "deps: the Debian package lock was still held after ${timeout}s; run again when the other apt run has finished" >&2
	else
		echo "deps: could not install ${pkgs[*]}" >&2
	fi
	exit 1
}

# Install from the lists there are; update them only when that fails for
# another reason than the lock (a package unknown to stale lists).
if ! install; then
	locked && fail
	update || fail
	: >"$log"
	install || fail
fi

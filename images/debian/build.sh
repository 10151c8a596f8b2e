#!/usr/bin/env bash
# Makes the Debian base root filesystem described by recipe (next to this
# file) in DIR, with debootstrap, then empties apt's caches so the image holds
# only what runs. Called by scripts/images.sh; needs root and debootstrap.
#
#   images/debian/build.sh DIR
set -euo pipefail
dir=${1:?usage: build.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/recipe"

# debootstrap prints a line per package retrieved, validated, extracted,
# unpacked and configured: show the stages and a count instead.
n=0
if ! debootstrap --variant="$VARIANT" --include="${PACKAGES// /,}" "$SUITE" "$dir" "$MIRROR" 2>&1 |
	while IFS= read -r line; do
		case "$line" in
		"I: Retrieving "* | "I: Validating "* | "I: Extracting "* | "I: Unpacking "* | "I: Configuring "*)
			n=$((n + 1))
			if [ $((n % 50)) -eq 0 ]; then echo "images: debootstrap: $n steps done"; fi
			;;
		*) echo "images: debootstrap: $line" ;;
		esac
	done; then
	echo "images: debootstrap failed (is $MIRROR reachable?)" >&2
	exit 1
fi
[ -x "$dir/bin/sh" ] || { echo "images: debootstrap left no /bin/sh in $dir" >&2; exit 1; }

# The image starts with the apt sources of the archive it came from, and
# without the package lists and downloaded packages debootstrap kept.
printf 'deb %s %s main\n' "$MIRROR" "$SUITE" >"$dir/etc/apt/sources.list"
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/* "$dir"/tmp/* "$dir"/run/*

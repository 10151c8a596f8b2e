#!/usr/bin/env bash
# Builds gwlb-lab's container images. Nothing is pulled from a registry.
#
#   scripts/images.sh BINARY VERSION [IMAGE...]   build (default: gwlb-lab)
#   scripts/images.sh tag IMAGE                   print IMAGE's content tag
#
# IMAGE is one of:
#   gwlb-lab   FROM scratch with the static binary (reference appliance, echo
#              server, emulator, the holder of a container node's namespace)
#   debian     a Debian bookworm root filesystem made by debootstrap and
#              turned into an image by `docker import` (images/debian)
#   suricata   Suricata from bookworm-backports on the Debian image, as an
#              IDS behind the iptables hairpin (images/suricata)
#   box        the lab in a box: the Debian image with the gwlb-lab binary,
#              whose container runs a whole lab (docker-compose.yml; images/box)
#   all        all four
#
# Idempotent: each image is tagged with a content tag, IMAGE:bin-<sha16> for
# gwlb-lab (the binary's SHA-256) and IMAGE:r-<sha16> for the others (the
# SHA-256 of their recipe: the files of their directory under images/, the
# base image's recipe and, for box, the binary's SHA-256). When the content tag exists, nothing is built:
# the Debian image (a few minutes the first time) is made again only when
# its recipe changes. Besides the content tag each image gets :VERSION and
# :latest (gwlb-lab-debian gets :bookworm), unless IMAGES_CONTENT_ONLY=1 (the
# tests set it, so that they never move :latest under a user).
# The classic builder is used (DOCKER_BUILDKIT=0): it is there on every
# Docker Engine, BuildKit is not. Build contexts are temporary directories
# holding only what the image needs, never the repository.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

sha() { sha256sum | cut -d' ' -f1; }

# recipe_sum DIR: the SHA-256 of every file in DIR, by name and content.
recipe_sum() {
	(cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha
}
debian_sum() { recipe_sum "$here/images/debian"; }
suricata_sum() { { debian_sum; recipe_sum "$here/images/suricata"; } | sha; }
box_sum() { { debian_sum; sha256sum "${bin:?}" | cut -d' ' -f1; recipe_sum "$here/images/box"; } | sha; }

content_tag() {
	case "$1" in
	debian) echo "gwlb-lab-debian:r-$(debian_sum | cut -c1-16)" ;;
	suricata) echo "gwlb-lab-suricata:r-$(suricata_sum | cut -c1-16)" ;;
	gwlb-lab) echo "gwlb-lab:bin-$(sha256sum "${bin:?}" | cut -c1-16)" ;;
	box) echo "gwlb-lab-box:r-$(box_sum | cut -c1-16)" ;;
	*) echo "images: unknown image \"$1\" (gwlb-lab, debian, suricata, box, all)" >&2; return 2 ;;
	esac
}

if [ "${1:-}" = tag ]; then
	case "${2:-}" in gwlb-lab | box) echo "images: the $2 tag depends on a binary: build it" >&2; exit 2 ;; esac
	content_tag "${2:?usage: scripts/images.sh tag debian|suricata}"
	exit
fi

bin=${1:?usage: scripts/images.sh BINARY VERSION [gwlb-lab|debian|suricata|box|all...]}
version=${2:-dev}
shift 2 || shift $#
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(gwlb-lab)
[ "${want[*]}" != all ] || want=(gwlb-lab debian suricata box)

command -v docker >/dev/null || { echo "images: docker is not installed" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "images: no Docker engine answers (is dockerd running, are you root or in group docker?)" >&2; exit 1; }

# A tag may not hold '+' and other characters git describe can give.
vtag=$(printf '%s' "$version" | tr -c 'A-Za-z0-9_.-' '-' | cut -c1-128)

# extra_tags REPO: the moving tags an image gets besides its content tag.
extra_tags() {
	[ "${IMAGES_CONTENT_ONLY:-0}" = 1 ] && return
	case "$1" in
	gwlb-lab-debian) echo "$1:bookworm" ;;
	*) echo "$1:$vtag" "$1:latest" ;;
	esac
}

# up_to_date TAG: true (and the moving tags pointed at it) when TAG exists.
up_to_date() {
	docker image inspect "$1" >/dev/null 2>&1 || return 1
	local t
	for t in $(extra_tags "${1%%:*}"); do docker tag "$1" "$t"; done
	echo "images: $1 is up to date"
}

# build TAG CONTEXT [docker build arguments...]: the classic builder, quiet
# about its own deprecation, every step shown.
build() {
	local tag=$1 ctx=$2 t
	shift 2
	local args=(-t "$tag")
	for t in $(extra_tags "${tag%%:*}"); do args+=(-t "$t"); done
	DOCKER_BUILDKIT=0 docker build "${args[@]}" "$@" "$ctx" 2>&1 |
		grep --line-buffered -v -e 'legacy builder is deprecated' -e 'BuildKit is currently disabled' -e 'environment-variable\.$' -e '^ *$' \
			-e '^Selecting previously unselected' -e '^Preparing to unpack' -e '^Unpacking ' -e '^(Reading database' |
		sed -u 's/^/images: /' || true
	docker image inspect "$tag" >/dev/null 2>&1 || { echo "images: building $tag failed" >&2; exit 1; }
	echo "images: built $tag"
}

tmp=$(mktemp -d)
root=
trap 'rm -rf "$tmp" ${root:+"$root"}' EXIT

build_gwlb_lab() {
	[ -x "$bin" ] || { echo "images: $bin is not an executable (make build makes it)" >&2; exit 1; }
	local tag sum
	tag=$(content_tag gwlb-lab)
	up_to_date "$tag" && return
	sum=$(sha256sum "$bin" | cut -d' ' -f1)
	mkdir "$tmp/gwlb-lab"
	cp "$here/images/gwlb-lab/Dockerfile" "$bin" "$tmp/gwlb-lab/"
	[ "$(basename "$bin")" = gwlb-lab ] || mv "$tmp/gwlb-lab/$(basename "$bin")" "$tmp/gwlb-lab/gwlb-lab"
	echo "images: building $tag (FROM scratch, the static binary only)"
	build "$tag" "$tmp/gwlb-lab" --build-arg "BINARY_SHA256=$sum" --build-arg "VERSION=$version"
}

build_debian() {
	local tag
	tag=$(content_tag debian)
	up_to_date "$tag" && return
	[ "$(id -u)" = 0 ] || { echo "images: debootstrap needs root" >&2; exit 1; }
	command -v debootstrap >/dev/null || { echo "images: debootstrap is not installed (apt-get install debootstrap, or make deps)" >&2; exit 1; }
	echo "images: building $tag with debootstrap (the first time takes a few minutes; later runs reuse it)"
	# Not under /tmp: some hosts mount it noexec or nodev, which debootstrap
	# cannot work in.
	root=$(mktemp -d /var/tmp/gwlb-lab-debian.XXXXXX)
	bash "$here/images/debian/build.sh" "$root/rootfs"
	local args=(--change 'CMD ["/bin/bash"]' --change "LABEL org.gwlb-lab.recipe=$(debian_sum)"
		--change 'LABEL org.opencontainers.image.title=gwlb-lab-debian')
	tar -C "$root/rootfs" --numeric-owner -c . | docker import "${args[@]}" - "$tag" >/dev/null
	for t in $(extra_tags gwlb-lab-debian); do docker tag "$tag" "$t"; done
	rm -rf "$root"
	root=
	echo "images: built $tag"
}

build_suricata() {
	local tag base
	tag=$(content_tag suricata)
	up_to_date "$tag" && return
	build_debian
	base=$(content_tag debian)
	mkdir "$tmp/suricata"
	cp -r "$here/images/suricata/." "$tmp/suricata/"
	echo "images: building $tag on $base (apt-get from Debian's archive)"
	build "$tag" "$tmp/suricata" --network host --build-arg "BASE=$base" --build-arg "RECIPE=$(suricata_sum)"
}

build_box() {
	[ -x "$bin" ] || { echo "images: $bin is not an executable (make build makes it)" >&2; exit 1; }
	local tag base
	tag=$(content_tag box)
	up_to_date "$tag" && return
	build_debian
	base=$(content_tag debian)
	mkdir "$tmp/box"
	cp -r "$here/images/box/." "$tmp/box/"
	cp "$bin" "$tmp/box/gwlb-lab"
	echo "images: building $tag on $base (the binary copied in)"
	build "$tag" "$tmp/box" --build-arg "BASE=$base" --build-arg "RECIPE=$(box_sum)" --build-arg "VERSION=$version"
}

for w in "${want[@]}"; do
	case "$w" in
	gwlb-lab) build_gwlb_lab ;;
	debian) build_debian ;;
	suricata) build_suricata ;;
	box) build_box ;;
	*) content_tag "$w" >/dev/null ;;
	esac
done

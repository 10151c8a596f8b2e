#!/usr/bin/env bash
# Builds the gwlb-lab image, FROM scratch with the static binary, tagged
# gwlb-lab:<version> and gwlb-lab:latest. Nothing is pulled.
#
#   scripts/images.sh BINARY [VERSION]
#
# Idempotent: the image is also tagged gwlb-lab:bin-<first 16 hex digits of
# the binary's SHA-256> (and labelled with all of it); when that tag exists,
# nothing is built, the other tags are only pointed at it.
# IMAGES_CONTENT_ONLY=1 adds only the content tag (the tests do this, so that
# they never move :latest under a user). The classic builder is used (DOCKER_BUILDKIT=0): it is
# there on every Docker Engine, BuildKit is not. The build context is a
# temporary directory holding only the Dockerfile and the binary, so the
# repository is never sent to the engine.
set -euo pipefail

bin=${1:?usage: scripts/images.sh BINARY [VERSION]}
version=${2:-dev}
here=$(cd "$(dirname "$0")/.." && pwd)
image=gwlb-lab

command -v docker >/dev/null || { echo "images: docker is not installed" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "images: no Docker engine answers (is dockerd running, are you root or in group docker?)" >&2; exit 1; }
[ -x "$bin" ] || { echo "images: $bin is not an executable (make build makes it)" >&2; exit 1; }

sum=$(sha256sum "$bin" | cut -d' ' -f1)
# A tag may not hold '+' and other characters git describe can give.
tag=$(printf '%s' "$version" | tr -c 'A-Za-z0-9_.-' '-' | cut -c1-128)
# The content tag names this binary's image for good: tests use it, so a
# later build of another binary never changes what they run.
content=bin-${sum:0:16}
tags=("$image:$content")
[ "${IMAGES_CONTENT_ONLY:-0}" = 1 ] || tags+=("$image:$tag" "$image:latest")

if docker image inspect "$image:$content" >/dev/null 2>&1; then
	for t in "${tags[@]:1}"; do docker tag "$image:$content" "$t"; done
	echo "images: $image:$content is up to date (tags: ${tags[*]})"
	exit 0
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$here/images/gwlb-lab/Dockerfile" "$ctx/Dockerfile"
cp "$bin" "$ctx/gwlb-lab"
echo "images: building ${tags[*]} (FROM scratch, the static binary only)"
args=()
for t in "${tags[@]}"; do args+=(-t "$t"); done
DOCKER_BUILDKIT=0 docker build "${args[@]}" \
	--build-arg "BINARY_SHA256=$sum" --build-arg "VERSION=$version" "$ctx" 2>&1 |
	grep -v -e 'legacy builder is deprecated' -e 'BuildKit is currently disabled' -e 'environment-variable\.$' -e '^ *$' || true
docker image inspect "$image:$content" >/dev/null 2>&1 || { echo "images: the build failed" >&2; exit 1; }
echo "images: built ${tags[*]}"

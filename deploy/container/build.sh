#!/usr/bin/env bash
# Builds the Portcullis image where no registry is reachable, from the top-level Dockerfile:
# its runtime stage's base image is made here (debootstrap of Debian bookworm, minimal, with
# ca-certificates, imported under the name the Dockerfile pins), and the binary is the one
# `cargo build --release` made. Prints the image's name, localhost/portcullis:<version>.
#
#   deploy/container/build.sh              # builds the release binary first if there is none
#   BIN=path/to/portcullis deploy/container/build.sh
#   DEBIAN_MIRROR=http://mirror.example/debian deploy/container/build.sh
#
# Needs podman (with a runtime that works here: .ci/run writes containers.conf) and
# debootstrap, as root. Where a registry is reachable, `podman build .` needs neither.
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { echo "build.sh: $*" >&2; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
image="localhost/portcullis:${version}"
base=$(sed -n 's/^FROM \(docker\.io\/library\/debian:[^ ]*\) AS runtime$/\1/p' Dockerfile)
[ -n "$base" ] || { say "no 'FROM docker.io/library/debian:… AS runtime' line in the Dockerfile"; exit 1; }
bin=${BIN:-target/release/portcullis}
if [ ! -x "$bin" ]; then
  say "building the release binary"
  cargo build --release --locked --bin portcullis >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! podman image exists "$base"; then
  say "making $base with debootstrap"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs" \
    "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >&2
  # What a container never uses: package indexes and caches, documentation, locales.
  rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/* \
    "$work"/rootfs/var/cache/debconf/*-old "$work"/rootfs/var/log/* \
    "$work"/rootfs/usr/share/doc/* "$work"/rootfs/usr/share/man/* \
    "$work"/rootfs/usr/share/info/* "$work"/rootfs/usr/share/locale/* \
    "$work"/rootfs/root/.bash_history
  tar -C "$work/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$base" >&2
  rm -rf "$work/rootfs"
fi

# The build context: the binary and the image's config, nothing else.
mkdir -p "$work/context/target/release" "$work/context/deploy/container"
cp "$bin" "$work/context/target/release/portcullis"
cp deploy/container/portcullis.yaml "$work/context/deploy/container/"
# Docker's format keeps the HEALTHCHECK (OCI images have none).
podman build --format docker --pull=never --build-arg BINARY=prebuilt \
  -f Dockerfile -t "$image" "$work/context" >&2
echo "$image"

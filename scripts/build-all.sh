#!/usr/bin/env bash
# Install what is missing (as root), fetch the pinned sources and build
# everything: QEMU, firmware, the four guest kernels (the 6.12 pair and the
# mainline pair), the initramfs and the project's own C. Safe to re-run:
# each part rebuilds only what changed.
set -euo pipefail
. "$(dirname "$0")/lib/lib.sh"

if [ "$(id -u)" = 0 ]; then
	"$ITE_TOP/scripts/install-deps.sh"
else
	log "not root: skipping dependency installation"
fi
"$ITE_TOP/scripts/fetch-sources.sh"
need meson meson
if [ ! -f "$ITE_BUILD/build.ninja" ]; then
	meson setup "$ITE_BUILD" "$ITE_TOP" >/dev/null ||
		die "meson setup $ITE_BUILD failed"
fi
start=$(date +%s)
ninja -C "$ITE_BUILD" || die "the build failed (see the messages above)"
log "build: done in $(($(date +%s) - start))s"

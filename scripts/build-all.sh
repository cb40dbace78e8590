#!/usr/bin/env bash
# Install what is missing (as root), fetch the pinned sources and build
# everything: QEMU, firmware, both guest kernels, the initramfs and the
# project's own C. Safe to re-run: each part rebuilds only what changed.
#
# Then the informational sid kernel (ninja -C build kernel-sid), unless
# ITE_SID=0: it needs sid's linux source, which the network may not have,
# so a failure there is reported but does not fail the build; the matrix
# then runs without the sid column.
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

if [ "${ITE_SID:-1}" = 0 ]; then
	log "build: the sid kernel is skipped (ITE_SID=0); the matrix runs without its column"
	exit 0
fi
start=$(date +%s)
if ninja -C "$ITE_BUILD" kernel-sid; then
	log "build: the sid kernel done in $(($(date +%s) - start))s"
else
	# No stale sid kernel may stand in for the one that failed.
	rm -f "$ITE_BUILD/linux/sid/src/arch/x86/boot/bzImage" "$ITE_BUILD/initramfs-sid.cpio"
	log "warning: the informational sid kernel did not build (see above);" \
		"the patched and unpatched kernels are built, the matrix runs without the sid column"
fi

#!/usr/bin/env bash
# Usage: pack-run-build.sh OUT.tar.gz
# The part of the build directory that run-tests.sh runs, as one archive:
# QEMU, its QMP library and firmware, each built guest kernel (bzImage,
# .config, release) with its initramfs, the host-TSC helper and the
# versions. For CI where one job builds and the shards run on other
# machines (ci-templates/): a few tens of MB instead of the build tree's
# gigabytes. Unpack it into the build directory there:
#   mkdir -p build && tar -xzf OUT.tar.gz -C build
# An archive also keeps the executables' modes, which GitHub's artifacts
# do not.
set -euo pipefail
. "$(dirname "$0")/lib/lib.sh"

[ $# -eq 1 ] || { echo "usage: pack-run-build.sh OUT.tar.gz" >&2; exit 2; }
out=$(realpath -m -- "$1")
cd "$ITE_BUILD"
files=(qemu/build/qemu-system-x86_64 qemu/src/python firmware)
for f in versions.env host-tsc-khz; do
	[ -e "$f" ] && files+=("$f")
done
for k in patched unpatched mainline mainline-base patched-debug mainline-debug; do
	[ -f "linux/$k/src/arch/x86/boot/bzImage" ] || continue
	files+=("linux/$k/src/arch/x86/boot/bzImage" "linux/$k/src/.config" "initramfs-$k.cpio")
	[ -e "linux/$k/kernelrelease" ] && files+=("linux/$k/kernelrelease")
done
tar -czf "$out" --exclude=__pycache__ "${files[@]}"
log "pack-run-build: $out ($(du -h "$out" | cut -f1)): ${files[*]}"

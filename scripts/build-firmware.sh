#!/usr/bin/env bash
# Gather the firmware the guest boots with into $ITE_BUILD/firmware:
#   bios-256k.bin      from Debian's seabios package
#   linuxboot_dma.bin  built from QEMU's own pc-bios/optionrom (-kernel boot)
# Debian's +ds QEMU source ships no prebuilt blobs, hence this step.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ITE_TOP/scripts/sources.sh"
load_versions

fw=$ITE_BUILD/firmware
optrom=$ITE_BUILD/qemu/build/pc-bios/optionrom
mkdir -p "$fw"

if [ ! -f "$fw/bios-256k.bin" ] || ! stamp_ok "$fw/seabios.version" "$SEABIOS_DEB"; then
	tmp=$(mktemp -d)
	dpkg-deb -x "$ITE_CACHE/downloads/$SEABIOS_DEB" "$tmp"
	cp "$tmp/usr/share/seabios/bios-256k.bin" "$fw/" ||
		die "bios-256k.bin not found in $SEABIOS_DEB"
	rm -rf "$tmp"
	echo "$SEABIOS_DEB" >"$fw/seabios.version"
fi

[ -f "$optrom/Makefile" ] ||
	die "QEMU was configured without option ROMs; gcc-multilib is needed (scripts/install-deps.sh)"
make -s -C "$optrom" linuxboot_dma.bin >"$fw/optionrom.log" 2>&1 ||
	die "building linuxboot_dma.bin failed (needs gcc-multilib); see $fw/optionrom.log"
cmp -s "$optrom/linuxboot_dma.bin" "$fw/linuxboot_dma.bin" ||
	cp "$optrom/linuxboot_dma.bin" "$fw/"

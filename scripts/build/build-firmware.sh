#!/usr/bin/env bash
# Gather the firmware the guest boots with into $ITE_BUILD/firmware:
#   bios-256k.bin      from Debian's seabios package
#   linuxboot_dma.bin  built from QEMU's own pc-bios/optionrom (-kernel boot)
# and, for qtests (tests/qtests.list) that start machines with their
# default devices (VGA, vapic, NIC) and firmware:
#   vgabios-stdvga.bin, vgabios-cirrus.bin (isapc), bios.bin (isapc),
#   bios-microvm.bin (microvm) from seabios, kvmvapic.bin from
#   pc-bios/optionrom, efi-e1000e.rom (q35's NIC) and efi-e1000.rom (pc's)
#   from Debian's ipxe-qemu
# Debian's +ds QEMU source ships no prebuilt blobs, hence this step.
set -euo pipefail
. "$(dirname "$0")/../lib/lib.sh"
. "$ITE_TOP/scripts/lib/sources.sh"
load_versions

fw=$ITE_BUILD/firmware
optrom=$ITE_BUILD/qemu/build/pc-bios/optionrom
mkdir -p "$fw"

seabios=(bios-256k.bin vgabios-stdvga.bin bios.bin bios-microvm.bin vgabios-cirrus.bin)
ipxe=(efi-e1000e.rom efi-e1000.rom)
deb_files "$SEABIOS_DEB" "$fw" "${seabios[@]/#/*/}"
deb_files "$IPXE_DEB" "$fw" "${ipxe[@]/#/*/}"

[ -f "$optrom/Makefile" ] ||
	die "QEMU was configured without option ROMs; gcc-multilib is needed (scripts/install-deps.sh)"
for rom in linuxboot_dma.bin kvmvapic.bin; do
	make -s -C "$optrom" "$rom" >"$fw/optionrom.log" 2>&1 ||
		die "building $rom failed (needs gcc-multilib); see $fw/optionrom.log"
	cmp -s "$optrom/$rom" "$fw/$rom" || cp "$optrom/$rom" "$fw/"
done

# QEMU run from its build tree (qtests) finds its data in qemu-bundle/.
bundle=$ITE_BUILD/qemu/build/qemu-bundle/usr/local/share/qemu
mkdir -p "$bundle"
for f in "${seabios[@]}" "${ipxe[@]}" linuxboot_dma.bin kvmvapic.bin; do
	ln -sf "$fw/$f" "$bundle/$f"
done

#!/usr/bin/env bash
# Download the pinned sources from Debian's archive into $ITE_CACHE and
# verify every file against the hashes in the archive's signed indexes.
#
#   qemu               source package (sid) at exactly ITE_QEMU_VERSION
#                      (scripts/lib/lib.sh), for dpkg-source -x
#   linux-source-6.12  binary package that ships the kernel tarball
#   seabios            bios-256k.bin (and for qtests, bios.bin, bios-microvm.bin
#                      and two VGA BIOSes: scripts/build/build-firmware.sh)
#   busybox-static     the guest's userland, amd64 and arm64 (the arm64
#                      guest's: downloaded only, scripts/lib/apt-private.sh)
#   ipxe-qemu          efi-e1000e.rom, efi-e1000.rom, for qtests that run
#                      q35's or pc's default NIC
#   linux              source package (sid) at exactly ITE_MAINLINE_VERSION
#                      (scripts/lib/lib.sh): the mainline base
#
# "Pinned" means, for the trixie packages: the current version in the suite
# when the indexes were last refreshed; for the QEMU and mainline bases, the
# version lib.sh names (sid's newest moves daily, and its pool serves only
# some of the versions its index lists: scripts/check-mainline-moves.sh).
# The chosen versions are written to
# $ITE_CACHE/versions.env; build-*.sh copy them into the build tree.
# A second run downloads nothing unless the archive moved on.
set -euo pipefail
. "$(dirname "$0")/lib/lib.sh"
. "$ITE_TOP/scripts/lib/apt-private.sh"

need apt-get apt
need dpkg-source dpkg-dev
need sha256sum coreutils

# fetch_list KIND PKG...: download from the pinned suites (apt_fetch).
fetch_list() { apt_fetch source "$@"; }

# fetch_pinned_dsc PKG VERSION: download source package PKG at exactly
# VERSION from sid's pool, checked against sid's signed index, and print
# its .dsc's name. When the pool no longer has it (sid drops old versions),
# files fetched before stay usable: they were checked when downloaded, and
# the .dsc's own SHA256 sums are checked again here.
fetch_pinned_dsc() {
	local pkg=$1 version=$2 dsc files
	dsc=${pkg}_${version#*:}.dsc
	if (apt_private_update sid) && files=$(apt_fetch sid source "$pkg=$version"); then
		grep -qxF "$dsc" <<<"$files" || die "no $dsc among the files of $pkg $version"
	elif dsc_cached "$dsc"; then
		log "warning: $pkg $version could not be fetched from sid now;" \
			"using the copy in the cache (its files match $dsc)"
	else
		die "$pkg $version cannot be fetched from sid (see above). If sid's pool dropped it," \
			"move its pin in scripts/lib/lib.sh (for linux, to a version" \
			"scripts/check-mainline-moves.sh says the series applies to)"
	fi
	echo "$dsc"
}
# dsc_cached DSC: DSC and the files it names, intact, in the cache.
dsc_cached() {
	local d=$ITE_CACHE/downloads
	[ -f "$d/$1" ] &&
		awk '/^Checksums-Sha256:/ { f = 1; next } /^[^ ]/ { f = 0 } f && NF == 3 { print $1 "  " $3 }' \
			"$d/$1" | (cd "$d" && sha256sum -c --status)
}

apt_private_update source

dsc=$(fetch_pinned_dsc qemu "$ITE_QEMU_VERSION")
linux_deb=$(fetch_list download "$ITE_LINUX_PKG")
seabios_deb=$(fetch_list download seabios)
busybox_deb=$(fetch_list download busybox-static)
busybox_arm64_deb=$(fetch_list download busybox-static:arm64)
ipxe_deb=$(fetch_list download ipxe-qemu)

deb_version() { dpkg-deb -f "$ITE_CACHE/downloads/$1" Version; }

cat >"$ITE_CACHE/versions.env.new" <<EOT
# Written by scripts/fetch-sources.sh; the exact inputs of this build.
QEMU_DEB_VERSION=$ITE_QEMU_VERSION
QEMU_DSC=$dsc
LINUX_PKG=$ITE_LINUX_PKG
LINUX_DEB=$linux_deb
LINUX_DEB_VERSION=$(deb_version "$linux_deb")
SEABIOS_DEB=$seabios_deb
SEABIOS_DEB_VERSION=$(deb_version "$seabios_deb")
BUSYBOX_DEB=$busybox_deb
BUSYBOX_DEB_VERSION=$(deb_version "$busybox_deb")
BUSYBOX_ARM64_DEB=$busybox_arm64_deb
BUSYBOX_ARM64_DEB_VERSION=$(deb_version "$busybox_arm64_deb")
IPXE_DEB=$ipxe_deb
IPXE_DEB_VERSION=$(deb_version "$ipxe_deb")
EOT
# The mainline base: sid's linux at the pinned version.
mainline_dsc=$(fetch_pinned_dsc "$ITE_MAINLINE_PKG" "$ITE_MAINLINE_VERSION")
cat >>"$ITE_CACHE/versions.env.new" <<EOT
LINUX_MAINLINE_PKG=$ITE_MAINLINE_PKG
LINUX_MAINLINE_SUITE=$ITE_MAINLINE_SUITE
LINUX_MAINLINE_DSC=$mainline_dsc
LINUX_MAINLINE_VERSION=$ITE_MAINLINE_VERSION
EOT
mv "$ITE_CACHE/versions.env.new" "$ITE_CACHE/versions.env"
log "sources: qemu $ITE_QEMU_VERSION, $ITE_LINUX_PKG $(deb_version "$linux_deb"), $ITE_MAINLINE_PKG $ITE_MAINLINE_VERSION ($ITE_MAINLINE_SUITE)"

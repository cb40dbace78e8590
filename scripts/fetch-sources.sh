#!/usr/bin/env bash
# Download the pinned sources from Debian's archive into $ITE_CACHE and
# verify every file against the hashes in the archive's signed indexes.
#
#   qemu               source package (trixie), for dpkg-source -x
#   linux-source-6.12  binary package that ships the kernel tarball
#   seabios            bios-256k.bin
#   busybox-static     the guest's userland
#   ipxe-qemu          efi-e1000e.rom, for qtests that run q35's default NIC
#   linux              source package (sid) at exactly ITE_MAINLINE_VERSION
#                      (scripts/lib/lib.sh): the mainline base
#
# "Pinned" means, for the trixie packages: the current version in the suite
# when the indexes were last refreshed; for the mainline base, the version
# lib.sh names (sid's newest moves daily, and its pool serves only some of
# the versions its index lists: scripts/check-mainline-moves.sh). The chosen versions are written to
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

apt_private_update source

qemu_files=$(fetch_list source qemu)
dsc=$(grep '\.dsc$' <<<"$qemu_files")
linux_deb=$(fetch_list download "$ITE_LINUX_PKG")
seabios_deb=$(fetch_list download seabios)
busybox_deb=$(fetch_list download busybox-static)
ipxe_deb=$(fetch_list download ipxe-qemu)

# Versions as the archive names them (the .dsc carries the source version).
qemu_version=$(sed -n 's/^Version: //p' "$ITE_CACHE/downloads/$dsc" | head -n1)
deb_version() { dpkg-deb -f "$ITE_CACHE/downloads/$1" Version; }

cat >"$ITE_CACHE/versions.env.new" <<EOT
# Written by scripts/fetch-sources.sh; the exact inputs of this build.
QEMU_DEB_VERSION=$qemu_version
QEMU_DSC=$dsc
LINUX_PKG=$ITE_LINUX_PKG
LINUX_DEB=$linux_deb
LINUX_DEB_VERSION=$(deb_version "$linux_deb")
SEABIOS_DEB=$seabios_deb
SEABIOS_DEB_VERSION=$(deb_version "$seabios_deb")
BUSYBOX_DEB=$busybox_deb
BUSYBOX_DEB_VERSION=$(deb_version "$busybox_deb")
IPXE_DEB=$ipxe_deb
IPXE_DEB_VERSION=$(deb_version "$ipxe_deb")
EOT
# The mainline base: sid's linux at the pinned version, checked against
# sid's signed index like the others. When the pool no longer has it (sid
# drops old versions), files fetched before stay usable: they were checked
# when downloaded, and the .dsc's own SHA256 sums are checked again here.
mainline_dsc=${ITE_MAINLINE_PKG}_${ITE_MAINLINE_VERSION#*:}.dsc
# mainline_cached: the pinned .dsc and the files it names, intact, in the cache.
mainline_cached() {
	local d=$ITE_CACHE/downloads
	[ -f "$d/$mainline_dsc" ] &&
		awk '/^Checksums-Sha256:/ { f = 1; next } /^[^ ]/ { f = 0 } f && NF == 3 { print $1 "  " $3 }' \
			"$d/$mainline_dsc" | (cd "$d" && sha256sum -c --status)
}
if (apt_private_update sid) && mainline_files=$(apt_fetch sid source "$ITE_MAINLINE_PKG=$ITE_MAINLINE_VERSION"); then
	grep -qxF "$mainline_dsc" <<<"$mainline_files" || die "no $mainline_dsc among the files of $ITE_MAINLINE_PKG $ITE_MAINLINE_VERSION"
elif mainline_cached; then
	log "warning: $ITE_MAINLINE_PKG $ITE_MAINLINE_VERSION could not be fetched from $ITE_MAINLINE_SUITE now;" \
		"using the copy in the cache (its files match $mainline_dsc)"
else
	die "the mainline base, $ITE_MAINLINE_PKG $ITE_MAINLINE_VERSION from $ITE_MAINLINE_SUITE, cannot be fetched" \
		"(see above). If sid's pool dropped it, move the pin (ITE_MAINLINE_VERSION in scripts/lib/lib.sh)" \
		"to a version scripts/check-mainline-moves.sh says the series applies to"
fi
cat >>"$ITE_CACHE/versions.env.new" <<EOT
LINUX_MAINLINE_PKG=$ITE_MAINLINE_PKG
LINUX_MAINLINE_SUITE=$ITE_MAINLINE_SUITE
LINUX_MAINLINE_DSC=$mainline_dsc
LINUX_MAINLINE_VERSION=$ITE_MAINLINE_VERSION
EOT
mv "$ITE_CACHE/versions.env.new" "$ITE_CACHE/versions.env"
log "sources: qemu $qemu_version, $ITE_LINUX_PKG $(deb_version "$linux_deb"), $ITE_MAINLINE_PKG $ITE_MAINLINE_VERSION ($ITE_MAINLINE_SUITE)"

#!/usr/bin/env bash
# Download the pinned sources from Debian's archive into $ITE_CACHE and
# verify every file against the hashes in the archive's signed indexes.
#
#   qemu               source package (trixie), for dpkg-source -x
#   linux-source-6.12  binary package that ships the kernel tarball
#   seabios            bios-256k.bin
#   busybox-static     the guest's userland
#   ipxe-qemu          efi-e1000e.rom, for qtests that run q35's default NIC
#   linux              source package (sid), for the informational "sid"
#                      kernel: scripts/build/fetch-sid.sh; a failure there only
#                      warns (the sid kernel's build then says so)
#
# "Pinned" means: the current version in the suite when the indexes were
# last refreshed. The chosen versions are written to
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
# Keep what fetch-sid.sh recorded last, for when sid is unreachable now.
if [ -f "$ITE_CACHE/versions.env" ]; then
	grep '^LINUX_SID_' "$ITE_CACHE/versions.env" >>"$ITE_CACHE/versions.env.new" || true
fi
mv "$ITE_CACHE/versions.env.new" "$ITE_CACHE/versions.env"
log "sources: qemu $qemu_version, $ITE_LINUX_PKG $(deb_version "$linux_deb")"

if ! "$ITE_TOP/scripts/build/fetch-sid.sh"; then
	sid=$(sed -n 's/^LINUX_SID_VERSION=//p' "$ITE_CACHE/versions.env")
	log "warning: sid's linux source was not fetched (see above); the pinned sources are complete;" \
		"the sid kernel ${sid:+stays at $sid}${sid:-cannot be built until it is}"
fi

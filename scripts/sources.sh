# shellcheck shell=bash
# Unpack the pinned sources from the download cache. Source lib.sh first.

# load_versions: the versions fetch-sources.sh pinned (fetching if needed).
load_versions() {
	[ -f "$ITE_CACHE/versions.env" ] || "$ITE_TOP/scripts/fetch-sources.sh"
	# shellcheck source=/dev/null
	. "$ITE_CACHE/versions.env"
}

# extract_qemu DEST: Debian's qemu source with Debian's patches applied.
extract_qemu() {
	local dest=$1 tmp
	need dpkg-source dpkg-dev
	tmp=$(mktemp -d "$(dirname "$dest")/.extract.XXXXXX")
	dpkg-source --no-check -x "$ITE_CACHE/downloads/$QEMU_DSC" "$tmp/qemu" >/dev/null ||
		die "dpkg-source -x failed for $QEMU_DSC"
	mv "$tmp/qemu" "$dest"
	rm -rf "$tmp"
}

# extract_linux DEST: the tarball shipped in Debian's linux-source package.
extract_linux() {
	local dest=$1 tmp
	tmp=$(mktemp -d "$(dirname "$dest")/.extract.XXXXXX")
	dpkg-deb --fsys-tarfile "$ITE_CACHE/downloads/$LINUX_DEB" |
		tar -xO "./usr/src/$LINUX_PKG.tar.xz" | tar -xJ -C "$tmp" ||
		die "cannot unpack $LINUX_DEB"
	mv "$tmp/$LINUX_PKG" "$dest"
	rm -rf "$tmp"
}

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

# extract_linux_sid DEST: sid's linux source package, with Debian's patches
# applied (dpkg-source -x; the files were checked against the archive's
# SHA256 when fetched). Debian's debian/ directory comes along, unused.
extract_linux_sid() {
	local dest=$1 tmp
	need dpkg-source dpkg-dev
	tmp=$(mktemp -d "$(dirname "$dest")/.extract.XXXXXX")
	dpkg-source --no-check -x "$ITE_CACHE/downloads/$LINUX_SID_DSC" "$tmp/linux" >/dev/null ||
		{ rm -rf "$tmp"; die "dpkg-source -x failed for $LINUX_SID_DSC"; }
	mv "$tmp/linux" "$dest"
	rm -rf "$tmp"
}

# deb_files DEB DEST PATTERN...: copy the files of package DEB (in the
# download cache) that match each find -path PATTERN (e.g. '*/bin/busybox')
# into DEST, under their own names. Done once per package version: a stamp
# in DEST remembers which .deb the files came from.
deb_files() {
	local deb=$1 dest=$2 stamp tmp pattern file missing=0
	shift 2
	stamp=$dest/.${deb%%_*}.deb
	for pattern in "$@"; do
		[ -f "$dest/${pattern##*/}" ] || missing=1
	done
	[ "$missing" = 0 ] && stamp_ok "$stamp" "$deb" && return 0
	mkdir -p "$dest"
	tmp=$(mktemp -d)
	dpkg-deb -x "$ITE_CACHE/downloads/$deb" "$tmp" || die "cannot unpack $deb"
	for pattern in "$@"; do
		file=$(find "$tmp" -type f -path "$pattern" | head -n1)
		[ -n "$file" ] || { rm -rf "$tmp"; die "no file matching '$pattern' in $deb"; }
		cp "$file" "$dest/"
	done
	rm -rf "$tmp"
	echo "$deb" >"$stamp"
}

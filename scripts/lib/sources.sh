# shellcheck shell=bash
# Unpack the pinned sources from the download cache. Source lib.sh first.

# load_versions: the versions fetch-sources.sh pinned (fetching if needed,
# again when lib.sh's pins moved since, and when the file predates an
# input: the arm64 busybox).
load_versions() {
	local f=$ITE_CACHE/versions.env
	if ! grep -qxF "QEMU_DEB_VERSION=$ITE_QEMU_VERSION" "$f" 2>/dev/null ||
		! grep -qxF "LINUX_MAINLINE_VERSION=$ITE_MAINLINE_VERSION" "$f" ||
		! grep -q '^BUSYBOX_ARM64_DEB=' "$f"; then
		"$ITE_TOP/scripts/fetch-sources.sh"
	fi
	# shellcheck source=/dev/null
	. "$f"
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

# QEMU's configuration, the same wherever the lab builds QEMU
# (build-qemu.sh, bisect-build.sh, and the commands of docs/layout.md):
# the targets of QEMU_TARGETS (x86_64 for intel-iommu, aarch64 for SMMUv3
# on virt), no optional libraries, no docs, the log trace backend, KVM
# built in. Trees configured alike, each as TOP/src built in
# TOP/build with CCACHE_BASEDIR=TOP, share ccache's entries.
# shellcheck disable=SC2034 # used by the scripts that source this file
QEMU_TARGETS=(x86_64 aarch64)
# shellcheck disable=SC2034
QEMU_CONFIGURE_ARGS=(--python="$ITE_PYTHON"
	--target-list="$(printf '%s-softmmu,' "${QEMU_TARGETS[@]}" | sed 's/,$//')"
	--without-default-features --enable-tcg --enable-kvm --enable-fdt=system
	--disable-download --enable-trace-backends=log --disable-docs
	--disable-install-blobs --disable-werror)

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

# extract_linux_mainline DEST: the pinned mainline base, sid's linux source
# package, with Debian's patches applied (dpkg-source -x; the files were
# checked against the archive's SHA256 when fetched). Debian's debian/
# directory comes along, unused.
extract_linux_mainline() {
	extract_linux_dsc "$LINUX_MAINLINE_DSC" "$1"
}

# extract_linux_dsc DSC DEST: a linux source package of the download cache.
extract_linux_dsc() {
	local dsc=$1 dest=$2 tmp
	need dpkg-source dpkg-dev
	tmp=$(mktemp -d "$(dirname "$dest")/.extract.XXXXXX")
	dpkg-source --no-check -x "$ITE_CACHE/downloads/$dsc" "$tmp/linux" >/dev/null ||
		{ rm -rf "$tmp"; die "dpkg-source -x failed for $dsc"; }
	mv "$tmp/linux" "$dest"
	rm -rf "$tmp"
}

# The patch series and their pinned bases, by component (worktree.sh,
# export-series.sh, bisect-build.sh, checkpatch.sh, build-kernel.sh):
#   qemu            qemu-patches/            sid's qemu at ITE_QEMU_VERSION
#   linux           kernel-patches/6.12/     linux-source-6.12 (trixie): the backport
#   linux-mainline  kernel-patches/mainline/ sid's linux at ITE_MAINLINE_VERSION: the primary series
# shellcheck disable=SC2034 # for the scripts that source this file
COMPONENTS="qemu linux linux-mainline"

# series_dir COMPONENT: the directory of its series (fails for an unknown one).
series_dir() {
	case $1 in
	qemu) echo "$ITE_TOP/qemu-patches" ;;
	linux) echo "$ITE_TOP/kernel-patches/6.12" ;;
	linux-mainline) echo "$ITE_TOP/kernel-patches/mainline" ;;
	*) return 1 ;;
	esac
}

# base_name COMPONENT: the pinned source it applies to, as the download
# cache names it (load_versions first).
base_name() {
	case $1 in
	qemu) echo "$QEMU_DSC" ;;
	linux) echo "$LINUX_DEB" ;;
	linux-mainline) echo "$LINUX_MAINLINE_DSC" ;;
	esac
}

# extract_base COMPONENT DEST: unpack its pinned source (load_versions first).
extract_base() {
	case $1 in
	qemu) extract_qemu "$2" ;;
	linux) extract_linux "$2" ;;
	linux-mainline) extract_linux_mainline "$2" ;;
	esac
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

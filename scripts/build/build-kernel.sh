#!/usr/bin/env bash
# Build a guest kernel.
#
#   scripts/build/build-kernel.sh FLAVOUR
#
# The 6.12 pair, on the pinned linux-source-6.12 (trixie):
#   unpatched      the base as Debian ships it
#   patched        the same with kernel-patches/6.12/series applied
#   patched-debug  patched, configured with guest-image/debug.config too
#                  (lockdep, atomic-sleep checks, KFENCE; docs/kernel-patches.md,
#                  "The debug kernel"), and guest-image/debug-patches/ applied
#                  after the series: lockdep annotations that keep lockdep on
#                  past known false positives in code the series does not touch.
# The mainline pair, on sid's linux source at the pinned
# ITE_MAINLINE_VERSION (dpkg-source -x: Debian's patches applied):
#   mainline-base  the base
#   mainline       the same with kernel-patches/mainline/series applied
#   mainline-debug mainline as patched-debug is patched
#   mainline-arm64 the base, cross-built for arm64 (the virt guest, with
#                  arm-smmuv3; no series: the series is intel-iommu only)
# All use tinyconfig + guest-image/kernel.config + the arch's fragment,
# kernel-x86.config or kernel-arm64.config (scripts/lib/kconfig.sh) and build in their own
# tree with the same relative layout, so ccache serves the second build of
# a base from the first and only the patched files really compile.
#
# Output: $ITE_BUILD/linux/FLAVOUR/src/arch/x86/boot/bzImage
# (arch/arm64/boot/Image for mainline-arm64) and
# $ITE_BUILD/linux/FLAVOUR/kernelrelease
set -euo pipefail
. "$(dirname "$0")/../lib/lib.sh"
. "$ITE_TOP/scripts/lib/tree.sh"
. "$ITE_TOP/scripts/lib/sources.sh"
. "$ITE_TOP/scripts/lib/kconfig.sh"

flavour=${1:-}
flavours="unpatched patched patched-debug mainline-base mainline mainline-debug mainline-arm64"
case " $flavours " in
*" $flavour "*) ;;
*) die "usage: build-kernel.sh ${flavours// /|}" ;;
esac
# The component (scripts/lib/sources.sh: its base and its series), and
# whether the flavour carries the series, or the series and the debug
# kernel's own.
case $flavour in
mainline*) component=linux-mainline ;;
*) component=linux ;;
esac
debug=() with_series=0
case $flavour in
*-debug) debug=(--debug) with_series=1 ;;
patched | mainline) with_series=1 ;;
esac

need make build-essential
need patch patch
need bc bc
need flex flex
need bison bison
need lz4 lz4
need ccache ccache
arch=$(kernel_arch "$flavour")
cross=$(kernel_cross "$arch")
read -r image_target image <<<"$(kernel_image "$arch")"
mapfile -t march < <(kernel_make_args "$arch")
[ -z "$cross" ] || need "${cross}gcc" "gcc-${cross%-}"
[ -f /usr/include/libelf.h ] || die "libelf.h missing; install the Debian package 'libelf-dev'"
[ -f /usr/include/openssl/ssl.h ] || die "openssl headers missing; install the Debian package 'libssl-dev'"

load_versions
base=$(base_name "$component")
base_version=$LINUX_DEB_VERSION
[ "$component" = linux ] || base_version=$LINUX_MAINLINE_VERSION
[ -f "$ITE_CACHE/downloads/${base:-/}" ] ||
	die "linux ($flavour): its base ${base:-(not recorded in $ITE_CACHE/versions.env)} is not in the" \
		"download cache; run scripts/fetch-sources.sh"

top=$ITE_BUILD/linux/$flavour
src=$top/src
mkdir -p "$top"

if ! stamp_ok "$src/.ite-lab/base" "$base"; then
	log "linux ($flavour): extracting $base"
	rm -rf "$src"
	extract_base "$component" "$src"
	mkdir -p "$src/.ite-lab"
	echo "$base" >"$src/.ite-lab/base"
fi

# The series a flavour carries: its component's; a debug flavour, that and
# then guest-image/debug-patches/, as one series of links in $top/series/
# (tree_apply_series keeps one series per tree). The cover letter
# (0000-cover-letter.patch) is not in a series file: never applied.
series=''
if [ "$with_series" = 1 ]; then
	series=$(series_dir "$component")
fi
if [ ${#debug[@]} -gt 0 ]; then
	own=$series
	series=$top/series
	rm -rf "$series"
	mkdir -p "$series"
	{ series_files "$own" && series_files "$ITE_TOP/guest-image/debug-patches"; } \
		>"$series/patches" || die "linux ($flavour): a series names a patch that does not exist"
	n=0
	while read -r p; do
		n=$((n + 1))
		name=$(printf %02d "$n")-$(basename "$p")
		ln -s "$p" "$series/$name"
		echo "$name" >>"$series/series"
	done <"$series/patches"
fi
if [ -n "$series" ]; then
	tree_apply_series "$src" "$series" || {
		log "linux ($flavour): re-extracting the tree"
		rm -rf "$src"
		exec "$0" "$@"
	}
fi

# Fixed build identity: the flavours differ only in their sources and
# their release string, and a rebuild does not recompile for a new date.
export KBUILD_BUILD_USER=ite-lab KBUILD_BUILD_HOST=ite-lab
export KBUILD_BUILD_TIMESTAMP="$base_version"
export CCACHE_BASEDIR=$ITE_BUILD/linux CCACHE_NOHASHDIR=1
kmake() {
	make -C "$src" "${march[@]}" CC="ccache ${cross}gcc" HOSTCC="ccache gcc" \
		LOCALVERSION="-$flavour" -j "$ITE_JOBS" "$@"
}

# Configure when a fragment changed (or never configured).
fragments=(--arch "$arch" "${debug[@]}")
config_id=$(kconfig_fragments "${fragments[@]}" | xargs cat | sha256sum | cut -d' ' -f1)
if ! stamp_ok "$src/.ite-lab/config" "$config_id" || [ ! -f "$src/.config" ]; then
	log "linux ($flavour): configuring (tinyconfig + $(kconfig_fragments "${fragments[@]}" |
		sed "s|^$ITE_TOP/||" | paste -sd+))"
	kconfig_lab "$src" "$src" "$top/config.log" "${fragments[@]}" CC="ccache ${cross}gcc" \
		HOSTCC="ccache gcc" LOCALVERSION="-$flavour" -j "$ITE_JOBS" ||
		die "linux ($flavour): configuration failed"
	echo "$config_id" >"$src/.ite-lab/config"
fi

log "linux ($flavour): building $image_target and modules (-j$ITE_JOBS)"
kmake "$image_target" modules >"$top/build.log" 2>&1 || {
	grep -E 'error:|Error [0-9]' "$top/build.log" | head -n 30 >&2
	die "kernel build failed ($flavour); full log: $top/build.log"
}
kmake -s kernelrelease >"$top/kernelrelease"
log "linux ($flavour): $(cat "$top/kernelrelease"), $src/$image"

#!/usr/bin/env bash
# Build a guest kernel from Debian's linux-source-6.12.
#
#   scripts/build-kernel.sh patched|unpatched
#
# unpatched: the pinned base as Debian ships it.
# patched:   the same with kernel-patches/series applied.
# Both use tinyconfig + guest-image/kernel.config and build in their own
# tree with the same relative layout, so ccache serves the second build from
# the first and only the patched files really compile.
#
# Output: $ITE_BUILD/linux/FLAVOUR/src/arch/x86/boot/bzImage
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ITE_TOP/scripts/tree.sh"
. "$ITE_TOP/scripts/sources.sh"

flavour=${1:-}
case $flavour in
patched | unpatched) ;;
*) die "usage: build-kernel.sh patched|unpatched" ;;
esac

need make build-essential
need patch patch
need bc bc
need flex flex
need bison bison
need ccache ccache
[ -f /usr/include/libelf.h ] || die "libelf.h missing; install the Debian package 'libelf-dev'"
[ -f /usr/include/openssl/ssl.h ] || die "openssl headers missing; install the Debian package 'libssl-dev'"

load_versions

top=$ITE_BUILD/linux/$flavour
src=$top/src
fragment=$ITE_TOP/guest-image/kernel.config
mkdir -p "$top"

if ! stamp_ok "$src/.ite-lab/base" "$LINUX_DEB"; then
	log "linux ($flavour): extracting $LINUX_DEB"
	rm -rf "$src"
	extract_linux "$src"
	mkdir -p "$src/.ite-lab"
	echo "$LINUX_DEB" >"$src/.ite-lab/base"
fi

if [ "$flavour" = patched ]; then
	tree_apply_series "$src" "$ITE_TOP/kernel-patches" || {
		log "linux ($flavour): re-extracting the tree"
		rm -rf "$src"
		exec "$0" "$@"
	}
fi

# Fixed build identity: the two flavours differ only in their sources and
# their release string, and a rebuild does not recompile for a new date.
export KBUILD_BUILD_USER=ite-lab KBUILD_BUILD_HOST=ite-lab
export KBUILD_BUILD_TIMESTAMP="${LINUX_DEB_VERSION}"
export CCACHE_BASEDIR=$ITE_BUILD/linux CCACHE_NOHASHDIR=1
kmake() {
	make -C "$src" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc" \
		LOCALVERSION="-$flavour" -j "$ITE_JOBS" "$@"
}

# Configure when the fragment changed (or never configured).
config_id=$(sha256sum "$fragment" | cut -d' ' -f1)
if ! stamp_ok "$src/.ite-lab/config" "$config_id" || [ ! -f "$src/.config" ]; then
	log "linux ($flavour): configuring (tinyconfig + guest-image/kernel.config)"
	kmake tinyconfig >"$top/config.log" 2>&1 || die "make tinyconfig failed; see $top/config.log"
	(cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m .config "$fragment") \
		>>"$top/config.log" 2>&1 || die "merge_config.sh failed; see $top/config.log"
	kmake olddefconfig >>"$top/config.log" 2>&1 || die "make olddefconfig failed; see $top/config.log"
	"$ITE_TOP/scripts/validate-kconfig.sh" "$fragment" "$src/.config"
	echo "$config_id" >"$src/.ite-lab/config"
fi

log "linux ($flavour): building bzImage and modules (-j$ITE_JOBS)"
kmake bzImage modules >"$top/build.log" 2>&1 || {
	grep -E 'error:|Error [0-9]' "$top/build.log" | head -n 30 >&2
	die "kernel build failed ($flavour); full log: $top/build.log"
}
kmake -s kernelrelease >"$top/kernelrelease"
log "linux ($flavour): $(cat "$top/kernelrelease"), $src/arch/x86/boot/bzImage"

#!/usr/bin/env bash
# Build a guest kernel.
#
#   scripts/build/build-kernel.sh patched|unpatched|sid|patched-debug
#
# unpatched: the pinned base as Debian ships it (linux-source-6.12).
# patched:   the same with kernel-patches/series applied.
# patched-debug: patched, configured with guest-image/debug.config too
#            (lockdep, atomic-sleep checks, KFENCE; docs/kernel-patches.md,
#            "The debug kernel"), and guest-image/debug-patches/ applied
#            after the series: lockdep annotations that keep lockdep on
#            past known false positives in code the series does not touch.
# sid:       informational: the newest Linux Debian ships, sid's "linux"
#            source package as scripts/build/fetch-sid.sh last fetched it,
#            dpkg-source -x (Debian's patches), no kernel-patches/.
# All use tinyconfig + guest-image/kernel.config (scripts/lib/kconfig.sh) and build in their own
# tree with the same relative layout, so ccache serves the second 6.12
# build from the first and only the patched files really compile.
#
# Output: $ITE_BUILD/linux/FLAVOUR/src/arch/x86/boot/bzImage and
# $ITE_BUILD/linux/FLAVOUR/kernelrelease
set -euo pipefail
. "$(dirname "$0")/../lib/lib.sh"
. "$ITE_TOP/scripts/lib/tree.sh"
. "$ITE_TOP/scripts/lib/sources.sh"
. "$ITE_TOP/scripts/lib/kconfig.sh"

flavour=${1:-}
case $flavour in
patched | unpatched | sid | patched-debug) ;;
*) die "usage: build-kernel.sh patched|unpatched|sid|patched-debug" ;;
esac
debug=()
[ "$flavour" != patched-debug ] || debug=(--debug)

need make build-essential
need patch patch
need bc bc
need flex flex
need bison bison
need lz4 lz4
need ccache ccache
[ -f /usr/include/libelf.h ] || die "libelf.h missing; install the Debian package 'libelf-dev'"
[ -f /usr/include/openssl/ssl.h ] || die "openssl headers missing; install the Debian package 'libssl-dev'"

load_versions

# sid_fetched: sid's linux source is recorded and in the download cache.
sid_fetched() {
	[ -n "${LINUX_SID_DSC:-}" ] && [ -f "$ITE_CACHE/downloads/$LINUX_SID_DSC" ]
}
if [ "$flavour" = sid ]; then
	if ! sid_fetched; then
		log "linux (sid): sid's linux source is not fetched yet; fetching it"
		"$ITE_TOP/scripts/build/fetch-sid.sh" || true
		load_versions
	fi
	sid_fetched || die "the sid kernel cannot be built: sid's linux source package was not fetched" \
		"(scripts/build/fetch-sid.sh failed; see above). The patched and unpatched kernels do not need it."
	base=$LINUX_SID_DSC base_version=$LINUX_SID_VERSION
else
	base=$LINUX_DEB base_version=$LINUX_DEB_VERSION
fi

top=$ITE_BUILD/linux/$flavour
src=$top/src
mkdir -p "$top"

if ! stamp_ok "$src/.ite-lab/base" "$base"; then
	log "linux ($flavour): extracting $base"
	rm -rf "$src"
	if [ "$flavour" = sid ]; then extract_linux_sid "$src"; else extract_linux "$src"; fi
	mkdir -p "$src/.ite-lab"
	echo "$base" >"$src/.ite-lab/base"
fi

# The series a flavour carries: patched, kernel-patches/; patched-debug,
# that and then guest-image/debug-patches/, as one series of links in
# $top/series/ (tree_apply_series keeps one series per tree).
series=''
case $flavour in
patched) series=$ITE_TOP/kernel-patches ;;
patched-debug)
	series=$top/series
	rm -rf "$series"
	mkdir -p "$series"
	{ series_files "$ITE_TOP/kernel-patches" && series_files "$ITE_TOP/guest-image/debug-patches"; } \
		>"$series/patches" || die "linux ($flavour): a series names a patch that does not exist"
	n=0
	while read -r p; do
		n=$((n + 1))
		name=$(printf %02d "$n")-$(basename "$p")
		ln -s "$p" "$series/$name"
		echo "$name" >>"$series/series"
	done <"$series/patches"
	;;
esac
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
	make -C "$src" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc" \
		LOCALVERSION="-$flavour" -j "$ITE_JOBS" "$@"
}

# Configure when a fragment changed (or never configured).
config_id=$(kconfig_fragments "${debug[@]}" | xargs cat | sha256sum | cut -d' ' -f1)
if ! stamp_ok "$src/.ite-lab/config" "$config_id" || [ ! -f "$src/.config" ]; then
	log "linux ($flavour): configuring (tinyconfig + $(kconfig_fragments "${debug[@]}" |
		sed "s|^$ITE_TOP/||" | paste -sd+))"
	kconfig_lab "$src" "$src" "$top/config.log" "${debug[@]}" CC="ccache gcc" HOSTCC="ccache gcc" \
		LOCALVERSION="-$flavour" -j "$ITE_JOBS" || die "linux ($flavour): configuration failed"
	echo "$config_id" >"$src/.ite-lab/config"
fi

log "linux ($flavour): building bzImage and modules (-j$ITE_JOBS)"
kmake bzImage modules >"$top/build.log" 2>&1 || {
	grep -E 'error:|Error [0-9]' "$top/build.log" | head -n 30 >&2
	die "kernel build failed ($flavour); full log: $top/build.log"
}
kmake -s kernelrelease >"$top/kernelrelease"
if [ "$flavour" = sid ] && [ -f "$ITE_BUILD/versions.env" ]; then
	# The report's versions: the sid kernel's are the ones just built.
	{
		grep -v '^LINUX_SID_' "$ITE_BUILD/versions.env"
		grep '^LINUX_SID_' "$ITE_CACHE/versions.env"
	} >"$ITE_BUILD/versions.env.new"
	mv "$ITE_BUILD/versions.env.new" "$ITE_BUILD/versions.env"
fi
log "linux ($flavour): $(cat "$top/kernelrelease"), $src/arch/x86/boot/bzImage"

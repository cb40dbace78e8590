# shellcheck shell=bash
# The lab's guest kernel configuration, written into any kernel tree: the
# one place its steps live (scripts/build/build-kernel.sh,
# scripts/kernel-config.sh, scripts/bisect-build.sh and
# scripts/bisect-kernel.sh use it). Source lib.sh before this file.
#
#   make tinyconfig
#   merge guest-image/kernel.config (and, for --debug, guest-image/debug.config)
#   make olddefconfig
#   check that every line of the fragments made it (validate-kconfig.sh)

# kconfig_fragments [--debug]: the fragments, in merge order, one a line.
kconfig_fragments() {
	echo "$ITE_TOP/guest-image/kernel.config"
	[ "${1:-}" != --debug ] || echo "$ITE_TOP/guest-image/debug.config"
}

# kconfig_lab SRC OBJ LOG [--debug] [MAKE_ARG...]: write the lab's config
# to OBJ/.config, OBJ being SRC for an in-tree build or an O= directory
# (created if missing). Each make gets ARCH=x86_64 and the MAKE_ARGs
# (CC=..., LOCALVERSION=..., -j N); its output goes to LOG. Returns 1,
# saying which step failed, when one does; a fragment line that
# olddefconfig dropped (an unmet dependency) is a failure, named.
kconfig_lab() {
	local src=$1 obj=$2 log=$3 debug='' f
	shift 3
	if [ "${1:-}" = --debug ]; then
		debug=--debug
		shift
	fi
	local -a fragments make_o=()
	mapfile -t fragments < <(kconfig_fragments $debug)
	if [ ! -f "$src/Makefile" ] || [ ! -x "$src/scripts/kconfig/merge_config.sh" ]; then
		log "$src is not a kernel source tree (no Makefile or scripts/kconfig/merge_config.sh)"
		return 1
	fi
	mkdir -p "$obj" || return 1
	src=$(cd "$src" && pwd) obj=$(cd "$obj" && pwd)
	[ "$obj" = "$src" ] || make_o=(O="$obj")
	make -C "$src" "${make_o[@]}" ARCH=x86_64 "$@" tinyconfig >"$log" 2>&1 || {
		log "make tinyconfig failed; see $log"
		return 1
	}
	(cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -O "$obj" -m "$obj/.config" \
		"${fragments[@]}") >>"$log" 2>&1 || {
		log "merge_config.sh failed; see $log"
		return 1
	}
	make -C "$src" "${make_o[@]}" ARCH=x86_64 "$@" olddefconfig >>"$log" 2>&1 || {
		log "make olddefconfig failed; see $log"
		return 1
	}
	for f in "${fragments[@]}"; do
		"$ITE_TOP/scripts/build/validate-kconfig.sh" "$f" "$obj/.config" || return 1
	done
}

# kbuild_obj TREE OBJ LOG [TARGET...]: build TARGETs (default: bzImage) of
# the commit checked out in TREE out of tree in OBJ, with the lab's config
# (written once per OBJ: kconfig_lab, OBJ/.config) and ccache, with paths
# relative to the common parent of TREE and OBJ so that OBJ directories
# side by side share the cache. Make's output goes to LOG; returns make's
# status. scripts/bisect-build.sh and scripts/series-prefix-safety.sh use it.
kbuild_obj() {
	local tree=$1 obj=$2 log=$3
	shift 3
	[ $# -gt 0 ] || set -- bzImage
	mkdir -p "$obj" || return 1
	if [ ! -f "$obj/.config" ]; then
		kconfig_lab "$tree" "$obj" "$obj/config.log" CC="ccache gcc" HOSTCC="ccache gcc" || return 1
	fi
	CCACHE_BASEDIR=$(cd "$tree/.." && pwd) CCACHE_NOHASHDIR=1 \
		make -C "$tree" O="$obj" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc" \
		-j "$ITE_JOBS" "$@" >"$log" 2>&1
}

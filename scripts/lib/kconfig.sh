# shellcheck shell=bash
# The lab's guest kernel configuration, written into any kernel tree: the
# one place its steps live (scripts/build/build-kernel.sh,
# scripts/kernel-config.sh, scripts/bisect-build.sh and
# scripts/bisect-kernel.sh use it). Source lib.sh before this file.
#
#   make tinyconfig
#   merge guest-image/kernel.config (every guest), the guest arch's own
#     fragment guest-image/kernel-ARCH.config and, for --debug,
#     guest-image/debug.config
#   make olddefconfig
#   check that every line of the fragments made it (validate-kconfig.sh)
#
# The guest archs (ARCH, the kernel's arch/ARCH; default x86):
#   x86    make ARCH=x86_64, the host's gcc, arch/x86/boot/bzImage (q35)
#   arm64  make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- (Debian's
#          cross toolchain), arch/arm64/boot/Image (virt)

# kernel_arch FLAVOUR: the guest arch of a kernel flavour of
# build-kernel.sh: arm64 for *-arm64, x86 for the others.
kernel_arch() {
	case $1 in
	*-arm64) echo arm64 ;;
	*) echo x86 ;;
	esac
}

# kernel_cross ARCH: the prefix of ARCH's compiler and binutils ("" for
# the host's own).
kernel_cross() {
	case $1 in
	x86) echo "" ;;
	arm64) echo aarch64-linux-gnu- ;;
	*) return 1 ;;
	esac
}

# kernel_make_args ARCH: make's ARCH= (and CROSS_COMPILE=) for ARCH, one a
# line.
kernel_make_args() {
	case $1 in
	x86) echo ARCH=x86_64 ;;
	arm64) echo ARCH=arm64 && echo "CROSS_COMPILE=$(kernel_cross arm64)" ;;
	*) return 1 ;;
	esac
}

# kernel_image ARCH: the boot image's make target and path in the tree.
kernel_image() {
	case $1 in
	x86) echo bzImage arch/x86/boot/bzImage ;;
	arm64) echo Image arch/arm64/boot/Image ;;
	*) return 1 ;;
	esac
}

# kconfig_fragments [--arch ARCH] [--debug]: the fragments, in merge
# order, one a line.
kconfig_fragments() {
	local arch=x86
	if [ "${1:-}" = --arch ]; then
		arch=$2
		shift 2
	fi
	echo "$ITE_TOP/guest-image/kernel.config"
	echo "$ITE_TOP/guest-image/kernel-$arch.config"
	[ "${1:-}" != --debug ] || echo "$ITE_TOP/guest-image/debug.config"
}

# kconfig_lab SRC OBJ LOG [--arch ARCH] [--debug] [MAKE_ARG...]: write the
# lab's config to OBJ/.config, OBJ being SRC for an in-tree build or an O=
# directory (created if missing). Each make gets ARCH's ARCH= and
# CROSS_COMPILE= (kernel_make_args: Kconfig asks the compiler what it can
# do) and the MAKE_ARGs (CC=..., LOCALVERSION=..., -j N); its output goes
# to LOG. Returns 1, saying which step failed, when one does; a fragment
# line that olddefconfig dropped (an unmet dependency) is a failure,
# named.
kconfig_lab() {
	local src=$1 obj=$2 log=$3 f
	local -a fragments make_o=() opts=() march
	shift 3
	if [ "${1:-}" = --arch ]; then
		opts=(--arch "$2")
		shift 2
	fi
	if [ "${1:-}" = --debug ]; then
		opts+=(--debug)
		shift
	fi
	mapfile -t march < <(kernel_make_args "${opts[1]:-x86}")
	[ ${#march[@]} -gt 0 ] || {
		log "unknown guest arch '${opts[1]}'"
		return 1
	}
	mapfile -t fragments < <(kconfig_fragments "${opts[@]}")
	if [ ! -f "$src/Makefile" ] || [ ! -x "$src/scripts/kconfig/merge_config.sh" ]; then
		log "$src is not a kernel source tree (no Makefile or scripts/kconfig/merge_config.sh)"
		return 1
	fi
	mkdir -p "$obj" || return 1
	src=$(cd "$src" && pwd) obj=$(cd "$obj" && pwd)
	[ "$obj" = "$src" ] || make_o=(O="$obj")
	make -C "$src" "${make_o[@]}" "${march[@]}" "$@" tinyconfig >"$log" 2>&1 || {
		log "make tinyconfig failed; see $log"
		return 1
	}
	(cd "$src" && env "${march[@]}" scripts/kconfig/merge_config.sh -O "$obj" -m "$obj/.config" \
		"${fragments[@]}") >>"$log" 2>&1 || {
		log "merge_config.sh failed; see $log"
		return 1
	}
	make -C "$src" "${make_o[@]}" "${march[@]}" "$@" olddefconfig >>"$log" 2>&1 || {
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

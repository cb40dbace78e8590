#!/usr/bin/env bash
# The initramfs one guest kernel boots with: the common BASE (busybox,
# init, agent) followed by a second cpio archive with the modules for that
# kernel (/lib/modules/*.ko). The kernel unpacks concatenated archives in
# order.
#
#   build-guest-initramfs.sh FLAVOUR BASE OUTPUT
#       a kernel the lab builds (build-kernel.sh FLAVOUR): the guest driver
#       is built against build/linux/FLAVOUR/src (for FLAVOUR's arch,
#       scripts/lib/kconfig.sh kernel_arch: arm64 cross-built)
#   build-guest-initramfs.sh --kdir KDIR WORK BASE OUTPUT
#       a kernel someone else built (run-tests.sh --kernel=PATH): the guest
#       driver is built against the tree or O= directory KDIR, in WORK
#       (for arm64 when its .config says CONFIG_ARM64=y)
#   build-guest-initramfs.sh --modules DIR WORK BASE OUTPUT
#       a bare bzImage: the modules are DIR/*.ko, as given
set -euo pipefail
. "$(dirname "$0")/../lib/lib.sh"
. "$ITE_TOP/scripts/lib/kconfig.sh"

usage="usage: build-guest-initramfs.sh FLAVOUR BASE OUTPUT | --kdir KDIR WORK BASE OUTPUT | --modules DIR WORK BASE OUTPUT"
case ${1:-} in
--kdir | --modules)
	how=$1 from=${2:?$usage} drv=${3:?$usage} base=${4:?$usage} out=${5:?$usage}
	;;
*)
	how=--flavour flavour=${1:?$usage} base=${2:?$usage} out=${3:?$usage}
	from=$ITE_BUILD/linux/$flavour/src drv=$ITE_BUILD/linux/$flavour/driver
	[ -f "$from/Module.symvers" ] || die "kernel '$flavour' is not built (ninja -C build kernel-$flavour)"
	;;
esac

# build_driver ARCH KDIR [MAKE ARGS]: guest-image/driver built for ARCH
# against KDIR in $drv. Kbuild writes its output next to the sources: build
# from a copy, updated only where the sources changed so that make stays
# incremental.
build_driver() {
	local arch=$1 kdir=$2 march
	shift 2
	mapfile -t march < <(kernel_make_args "$arch")
	mkdir -p "$drv"
	for f in "$ITE_TOP"/guest-image/driver/*; do
		cmp -s "$f" "$drv/$(basename "$f")" || cp "$f" "$drv/"
	done
	make -s -C "$kdir" "${march[@]}" "$@" M="$drv" modules >"$drv/build.log" 2>&1 || {
		cat "$drv/build.log" >&2
		die "the guest driver does not build against the kernel in $kdir"
	}
}

case $how in
--flavour)
	export CCACHE_BASEDIR=$ITE_BUILD/linux CCACHE_NOHASHDIR=1
	arch=$(kernel_arch "$flavour")
	build_driver "$arch" "$from" CC="ccache $(kernel_cross "$arch")gcc" LOCALVERSION="-$flavour"
	kos=("$drv"/*.ko)
	;;
--kdir)
	# The arch and compiler the kernel was built with: modules must match.
	arch=x86
	! grep -qx 'CONFIG_ARM64=y' "$from/.config" || arch=arm64
	if grep -qx 'CONFIG_CC_IS_CLANG=y' "$from/.config"; then
		build_driver "$arch" "$from" LLVM=1
	else
		build_driver "$arch" "$from"
	fi
	kos=("$drv"/*.ko)
	;;
--modules)
	mkdir -p "$drv"
	kos=("$from"/*.ko)
	[ -e "${kos[0]}" ] || die "no modules (*.ko) in $from"
	;;
esac

{
	echo "dir /lib 0755"
	echo "dir /lib/modules 0755"
	for ko in "${kos[@]}"; do
		echo "file /lib/modules/$(basename "$ko") $ko 0644"
	done
} >"$drv/modules.list"
"$ITE_PYTHON" "$ITE_TOP/scripts/build/mkcpio.py" "$drv/modules.list" "$drv/modules.cpio"
cat "$base" "$drv/modules.cpio" >"$out.tmp"
mv "$out.tmp" "$out"

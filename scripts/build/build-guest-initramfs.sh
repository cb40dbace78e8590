#!/usr/bin/env bash
# build-guest-initramfs.sh FLAVOUR BASE OUTPUT: the initramfs one guest
# kernel boots with: the common BASE (busybox, init, agent) followed by a
# second cpio archive with the modules built against that kernel
# (/lib/modules/*.ko). The kernel unpacks concatenated archives in order.
set -euo pipefail
. "$(dirname "$0")/../lib/lib.sh"

flavour=${1:?usage: build-guest-initramfs.sh FLAVOUR BASE OUTPUT}
base=${2:?usage: build-guest-initramfs.sh FLAVOUR BASE OUTPUT}
out=${3:?usage: build-guest-initramfs.sh FLAVOUR BASE OUTPUT}
src=$ITE_BUILD/linux/$flavour/src
drv=$ITE_BUILD/linux/$flavour/driver
[ -f "$src/Module.symvers" ] || die "kernel '$flavour' is not built (ninja -C build kernel-$flavour)"

# Kbuild writes its output next to the sources: build from a copy, updated
# only where the sources changed so that make stays incremental.
mkdir -p "$drv"
for f in "$ITE_TOP"/guest-image/driver/*; do
	cmp -s "$f" "$drv/$(basename "$f")" || cp "$f" "$drv/"
done
export CCACHE_BASEDIR=$ITE_BUILD/linux CCACHE_NOHASHDIR=1
make -s -C "$src" ARCH=x86_64 CC="ccache gcc" LOCALVERSION="-$flavour" \
	M="$drv" modules >"$drv/build.log" 2>&1 || {
	cat "$drv/build.log" >&2
	die "the guest driver does not build against the $flavour kernel"
}

{
	echo "dir /lib 0755"
	echo "dir /lib/modules 0755"
	for ko in "$drv"/*.ko; do
		echo "file /lib/modules/$(basename "$ko") $ko 0644"
	done
} >"$drv/modules.list"
"$ITE_PYTHON" "$ITE_TOP/scripts/build/mkcpio.py" "$drv/modules.list" "$drv/modules.cpio"
cat "$base" "$drv/modules.cpio" >"$out.tmp"
mv "$out.tmp" "$out"

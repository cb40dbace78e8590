#!/usr/bin/env bash
# build-initramfs.sh [--arch arm64] AGENT OUTPUT: the guest's initramfs,
# from Debian's busybox-static, guest-image/init and the test agent built
# by meson; for the x86 guests, or with --arch arm64 for the arm64 one
# (busybox-static:arm64, the agent cross-built).
set -euo pipefail
. "$(dirname "$0")/../lib/lib.sh"

usage="usage: build-initramfs.sh [--arch arm64] AGENT OUTPUT"
arch=x86
if [ "${1:-}" = --arch ]; then
	arch=${2:?$usage}
	shift 2
fi
agent=${1:?$usage}
out=${2:?$usage}
. "$ITE_TOP/scripts/lib/sources.sh"
load_versions

case $arch in
x86) work=$ITE_BUILD/guest bb_deb=$BUSYBOX_DEB ;;
arm64) work=$ITE_BUILD/guest-arm64 bb_deb=$BUSYBOX_ARM64_DEB ;;
*) die "$usage" ;;
esac
mkdir -p "$work"
# /usr/bin on merged-/usr releases, /bin before them
deb_files "$bb_deb" "$work" '*/bin/busybox'

cat >"$work/initramfs.list" <<EOT
dir /dev 0755
nod /dev/console 0600 c 5 1
dir /proc 0755
dir /sys 0755
dir /tmp 01777
dir /bin 0755
dir /lib 0755
dir /lib/modules 0755
file /bin/busybox $work/busybox 0755
slink /bin/sh busybox 0777
file /bin/ite-agent $agent 0755
file /init $ITE_TOP/guest-image/init 0755
EOT
"$ITE_PYTHON" "$ITE_TOP/scripts/build/mkcpio.py" "$work/initramfs.list" "$out"

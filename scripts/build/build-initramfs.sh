#!/usr/bin/env bash
# build-initramfs.sh AGENT OUTPUT: the guest's initramfs, from Debian's
# busybox-static, guest-image/init and the test agent built by meson.
set -euo pipefail
. "$(dirname "$0")/../lib/lib.sh"

agent=${1:?usage: build-initramfs.sh AGENT OUTPUT}
out=${2:?usage: build-initramfs.sh AGENT OUTPUT}
. "$ITE_TOP/scripts/lib/sources.sh"
load_versions

work=$ITE_BUILD/guest
mkdir -p "$work"
# /usr/bin on merged-/usr releases, /bin before them
deb_files "$BUSYBOX_DEB" "$work" '*/bin/busybox'

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

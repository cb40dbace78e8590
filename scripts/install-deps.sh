#!/usr/bin/env bash
# Install ite-lab's build and test dependencies from Debian (run as root).
# On bookworm, meson >= 1.5 and python3-pycotap come from bookworm-backports,
# reached through a private apt configuration (scripts/lib/apt-private.sh); the
# system's sources are not edited.
set -euo pipefail
. "$(dirname "$0")/lib/lib.sh"
. "$ITE_TOP/scripts/lib/apt-private.sh"

[ "$(id -u)" = 0 ] || die "install-deps.sh installs Debian packages: run it as root"

packages=(
	# fetching and unpacking sources
	apt dpkg-dev xz-utils git ca-certificates
	# QEMU (the x86 option ROMs need gcc's 32-bit libgcc: below)
	build-essential pkg-config ccache ninja-build meson python3-venv
	python3-pycotap libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev
	# Linux
	bc bison flex libelf-dev libssl-dev cpio kmod lz4
	# the arm64 guest: its kernel, agent (static, glibc) and driver
	gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross
	# harness and checks
	python3 shellcheck
)

codename=$(host_codename)
apt_private_update host

# QEMU's option ROMs (linuxboot_dma.bin, kvmvapic.bin) are built with the
# host gcc in 16/32-bit mode, freestanding: configure's probe links -m32
# code against the 32-bit libgcc, lib32gcc-N-dev for the release's gcc-N.
# Not gcc-multilib: it adds only the /usr/include/asm link (for -m32
# programs using the kernel's headers, which the ROMs are not) and
# conflicts with every Debian cross compiler, gcc-aarch64-linux-gnu too.
gcc_pkg=$(apt_private --cache host depends gcc | awk '$1 == "Depends:" && $2 ~ /^gcc-[0-9]+$/ { print $2; exit }')
[ -n "$gcc_pkg" ] || die "cannot tell which gcc-N the release's gcc is"
packages+=("lib32${gcc_pkg}-dev")

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
# Installed but too old for QEMU 10.0.
meson_ok() {
	command -v meson >/dev/null &&
		dpkg --compare-versions "$(meson --version)" ge 1.5
}
meson_ok || missing+=(meson)

# Installed (an older install-deps.sh listed it) and in the cross
# compiler's way: removed ("PKG-" to apt-get install).
remove=()
dpkg-query -W -f='${Status}' gcc-multilib 2>/dev/null | grep -q 'install ok installed' &&
	remove+=(gcc-multilib-)

if [ ${#missing[@]} -eq 0 ]; then
	log "dependencies: all installed"
	exit 0
fi
# Only these two come from backports; everything else from the release.
if [ "$codename" = bookworm ]; then
	for i in "${!missing[@]}"; do
		case ${missing[$i]} in
		meson | python3-pycotap) missing[i]=${missing[$i]}/bookworm-backports ;;
		esac
	done
fi
log "dependencies: installing ${missing[*]}${remove:+, removing gcc-multilib}"
DEBIAN_FRONTEND=noninteractive apt_private host install -y --no-install-recommends \
	"${missing[@]}" "${remove[@]}" >&2 ||
	die "apt-get install failed for: ${missing[*]}"
meson_ok || die "meson >= 1.5 is required; found $(meson --version 2>/dev/null || echo none)"

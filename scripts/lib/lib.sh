# shellcheck shell=bash
# Common settings and helpers for ite-lab's scripts. Source it, do not run it.
#
# Everything the scripts write goes to one of two places:
#   ITE_CACHE  downloads, verified once and reused by every build tree
#   ITE_BUILD  extracted sources, build outputs, test results (the meson build dir)

ITE_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ITE_CACHE=${ITE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ite-lab}
ITE_BUILD=${ITE_BUILD:-$ITE_TOP/build}
ITE_JOBS=${ITE_JOBS:-$(nproc)}
# The system python, not pyenv's: QEMU's configure and the harness need
# Debian's python3 modules (meson, pycotap).
ITE_PYTHON=${ITE_PYTHON:-/usr/bin/python3}

# Debian suites the pinned sources come from.
ITE_LINUX_SUITE=${ITE_LINUX_SUITE:-trixie}
ITE_LINUX_PKG=${ITE_LINUX_PKG:-linux-source-6.12}
# The mainline base: this suite's "linux" source package (Debian's newest
# Linux) at exactly this version, pinned: the base of kernel-patches/mainline/
# and of the mainline and mainline-base kernels. sid's pool drops a version
# some time after the next one arrives, and its newest is not always
# downloadable (7.2.9 to 7.2.13 were listed but 404 when this was pinned):
# scripts/check-mainline-moves.sh fetches the newest one that downloads and
# says whether the series still applies to it, before the pin is moved.
ITE_MAINLINE_SUITE=${ITE_MAINLINE_SUITE:-unstable}
ITE_MAINLINE_PKG=${ITE_MAINLINE_PKG:-linux}
ITE_MAINLINE_VERSION=${ITE_MAINLINE_VERSION:-7.2.8-1}

# The QEMU base: this suite's qemu source package at exactly this version,
# pinned like the mainline base. It is the newest QEMU whose files Debian's
# pool serves: sid's index also lists 11.1.2 and 11.1.3 (and
# trixie-backports 11.1.3~bpo13), whose files return 404 (docs/layout.md,
# "Why these versions").
ITE_QEMU_SUITE=${ITE_QEMU_SUITE:-unstable}
ITE_QEMU_VERSION=${ITE_QEMU_VERSION:-1:10.2.2+ds-1}

export ITE_TOP ITE_CACHE ITE_BUILD ITE_JOBS ITE_PYTHON

# Progress goes to stderr so that stdout stays clean for TAP.
log() { printf '[ite-lab] %s\n' "$*" >&2; }
die() { printf '[ite-lab] error: %s\n' "$*" >&2; exit 1; }

# need CMD PACKAGE: fail early, naming the package that provides CMD.
need() {
	command -v "$1" >/dev/null 2>&1 ||
		die "'$1' not found; install the Debian package '$2' (scripts/install-deps.sh does)"
}

# Host release codename (bookworm, trixie, ...).
host_codename() {
	# shellcheck disable=SC1091
	(. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

# stamp_ok FILE CONTENT: true when FILE exists and holds exactly CONTENT.
# Build steps write a stamp with their inputs' identity so re-runs skip them.
stamp_ok() {
	[ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}

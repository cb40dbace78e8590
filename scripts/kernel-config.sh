#!/usr/bin/env bash
# kernel-config.sh [--debug] SRC [OBJ]: write ite-lab's guest kernel config
# into any kernel tree, as "vng --kconfig" does for virtme-ng: make
# tinyconfig, merge guest-image/kernel.config and kernel-x86.config (and with --debug
# guest-image/debug.config: lockdep, atomic-sleep checks, KFENCE), make
# olddefconfig, then check that every line of the fragments made it
# (scripts/build/validate-kconfig.sh names those an unmet dependency
# dropped). The steps are scripts/lib/kconfig.sh's, the same the lab's own
# kernels are built with.
#
# SRC is a kernel source tree; OBJ, if given, an O= build directory
# (created if missing) where .config goes instead of SRC. Then build with
#   make -C SRC O=OBJ -j"$(nproc)" bzImage modules
# and run the scenarios on it:
#   ./run-tests.sh --kernel=OBJ --expect=pass NAME
# Make's output goes to OBJ/.ite-lab-kconfig.log. Exit status: 0 written,
# 1 a step failed (it says which), 2 bad usage.
set -euo pipefail
. "$(dirname "$0")/lib/lib.sh"
. "$ITE_TOP/scripts/lib/kconfig.sh"

usage() {
	echo "usage: kernel-config.sh [--debug] SRC [OBJ]" >&2
	exit 2
}

debug=()
case ${1:-} in
--debug) debug=(--debug) && shift ;;
-h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' && exit 0 ;;
-*) usage ;;
esac
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
src=$1 obj=${2:-$1}
need make build-essential
need flex flex
need bison bison
if [ ! -f "$src/Makefile" ] || [ ! -f "$src/scripts/kconfig/merge_config.sh" ]; then
	log "error: $src is not a kernel source tree"
	exit 2
fi
if [ "$(cd "$src" && pwd)" != "$(mkdir -p "$obj" && cd "$obj" && pwd)" ] &&
	{ [ -f "$src/.config" ] || [ -d "$src/include/config" ]; }; then
	log "error: $src has an in-tree configuration; an O= build needs a clean source tree (make -C $src mrproper)"
	exit 2
fi

log "kernel config: tinyconfig + $(kconfig_fragments "${debug[@]}" | sed "s|^$ITE_TOP/||" | paste -sd+) in $obj"
kconfig_lab "$src" "$obj" "$obj/.ite-lab-kconfig.log" "${debug[@]}" -j "$ITE_JOBS" ||
	die "the configuration failed; make's output: $obj/.ite-lab-kconfig.log"
log "kernel config: $(cd "$obj" && pwd)/.config"

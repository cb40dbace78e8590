#!/usr/bin/env bash
# bisect-build.sh COMPONENT [DIR]: check that every patch of a series
# builds on its own; COMPONENT is qemu, linux (kernel-patches/6.12/) or
# linux-mainline (kernel-patches/mainline/): scripts/lib/sources.sh. Makes a
# work tree with scripts/worktree.sh (in DIR, or a temporary directory),
# builds the first commit fully, then each later commit incrementally, and
# prints TAP, a test per commit. For qemu, the hw/ overlay is present at
# every commit (as it is in the build), QEMU is configured as
# build-qemu.sh configures it (QEMU_CONFIGURE_ARGS, scripts/lib/sources.sh)
# and a commit whose build prints a compiler warning fails, as under
# QEMU's -Werror (which is off here, so that ccache shares the lab's
# builds: a DIR named .../src is built in .../build, as build-qemu.sh
# lays its trees out, and the default is a temporary .../src); for linux,
# the guest kernel config is used (scripts/lib/kconfig.sh, kbuild_obj).
set -uo pipefail
. "$(dirname "$0")/lib/lib.sh"
. "$ITE_TOP/scripts/lib/kconfig.sh"
. "$ITE_TOP/scripts/lib/sources.sh"

component=${1:-}
series_dir "$component" >/dev/null || die "usage: bisect-build.sh ${COMPONENTS// /|} [DIR]"
default=$component
[ "$component" = qemu ] && default=src
dir=${2:-$(mktemp -d)/$default}
"$ITE_TOP/scripts/worktree.sh" "$component" "$dir" || exit 1
dir=$(cd "$dir" && pwd)
mapfile -t commits < <(git -C "$dir" rev-list --reverse ite-lab-base..HEAD)
[ ${#commits[@]} -gt 0 ] || die "the $component series is empty"

bld=$dir.build
[ "$component" = qemu ] && [ "$(basename "$dir")" = src ] && bld=$(dirname "$dir")/build
mkdir -p "$bld"
export PATH=/usr/lib/ccache:$PATH
if [ "$component" = qemu ]; then
	export CCACHE_BASEDIR CCACHE_NOHASHDIR=1
	CCACHE_BASEDIR=$(dirname "$dir")
	(cd "$bld" && "$dir/configure" "${QEMU_CONFIGURE_ARGS[@]}" >"$bld/configure.log" 2>&1) ||
		die "configure failed; see $bld/configure.log"
	targets=()
	for t in "${QEMU_TARGETS[@]}"; do targets+=("qemu-system-$t"); done
	build() { ninja -C "$bld" -j "$ITE_JOBS" "${targets[@]}"; }
else
	kconfig_lab "$dir" "$bld" "$bld/config.log" CC="ccache gcc" HOSTCC="ccache gcc" ||
		die "kernel configuration failed"
	build() { kbuild_obj "$dir" "$bld" /dev/stdout bzImage; }
fi

echo "TAP version 13"
echo "1..${#commits[@]}"
n=0 failed=0
for c in "${commits[@]}"; do
	n=$((n + 1))
	git -C "$dir" checkout -q "$c"
	subject=$(git -C "$dir" log -1 --format=%s "$c")
	if build >"$bld/build-$c.log" 2>&1; then
		if [ "$component" = qemu ] && grep -q 'warning:' "$bld/build-$c.log"; then
			echo "not ok $n - builds with warnings: $subject (log: $bld/build-$c.log)"
			grep -m 10 -A 3 'warning:' "$bld/build-$c.log" | sed 's/^/# /' >&2
			failed=$((failed + 1))
		else
			echo "ok $n - builds: $subject"
		fi
	else
		echo "not ok $n - does not build: $subject (log: $bld/build-$c.log)"
		failed=$((failed + 1))
	fi
done
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Test of run-tests.sh --kernel=PATH on the built QEMU and kernels: the
# lab's own kernel trees, given by path as a kernel developer gives theirs,
# must get the verdicts of the built-in columns they are (the patched
# tree passes like the patched kernel, the base tree fails like the base
# where the base fails), a bare bzImage must run the scenarios without the
# guest driver and skip the others with the reason, and input that names
# no usable kernel must be refused with exit status 2. Prints TAP.
# ITE_OWN_KERNEL_TEST_DIR: where the runs go (default: a temporary
# directory, removed when every test passed).
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/lib.sh"

. "$ITE_TOP/tests/shell/tap.sh"

work=${ITE_OWN_KERNEL_TEST_DIR:-$(mktemp -d)}
mkdir -p "$work"
rm -rf "${work:?}"/{run,bad-*}
linux=$ITE_BUILD/linux
bz=arch/x86/boot/bzImage
# An expected failure of the base (hung-device-dma), a scenario both
# kernels pass (slow-device-below-timeout), and one without the guest
# driver (virtio-ring-across-pages); the lab's columns beside the same
# kernels given by path.
run=("$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --mode=legacy -j 4
	--kernel=patched --kernel=unpatched --kernel="mine=$linux/patched/src"
	--kernel="base=$linux/unpatched/src" --kernel="bare=$linux/patched/src/$bz"
	hung-device-dma slow-device-below-timeout virtio-ring-across-pages)

echo "TAP version 13"
echo "1..9"

start=$(date +%s)
"${run[@]}" --results "$work/run" >"$work/run.out" 2>"$work/run.err"
rc=$?
log "own-kernel test: exit $rc in $(($(date +%s) - start))s"
t "the run passes (exit 0)" test "$rc" = 0

# matches CELL: the cell's "matches", or its outcome when it has none
matches() {
	"$ITE_PYTHON" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(r["matches"] or r["outcome"])' "$work/run/$1/result.json" 2>/dev/null
}
t "the patched tree, given by path, passes like the patched kernel" \
	test "$(matches hung-device-dma.legacy.mine)" = patched
t "the base tree, given by path, fails like the base" \
	test "$(matches hung-device-dma.legacy.base)" = base
t "where both kernels pass, the base tree passes like them" \
	test "$(matches slow-device-below-timeout.legacy.base)" = patched
t "a bare bzImage skips a scenario that loads the guest driver, and says why" \
	grep -q '^ok [0-9]* - hung-device-dma \[legacy, bare\] # SKIP needs the guest driver' \
	"$work/run.out"
t "a bare bzImage runs a scenario without the guest driver" \
	test "$(matches virtio-ring-across-pages.legacy.bare)" = patched
t "the guest driver was built against the given tree" \
	grep -q 'ats-testdev bound' "$work/run/hung-device-dma.legacy.mine/serial.log"

# refused COMMAND...: exit status 2, an error, and no results directory
refused() {
	local out=$work/bad-$n
	"$@" --results "$out" hung-device-dma >"$out.out" 2>"$out.err"
	[ $? = 2 ] && grep -q 'run-tests.sh: ' "$out.err" && [ ! -e "$out" ]
}
t "a path that is no kernel is refused (exit 2)" \
	refused "$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --kernel="$ITE_TOP/docs"
mkdir -p "$work/unconfigured/arch/x86/boot"
cp "$linux/patched/src/$bz" "$work/unconfigured/$bz"
t "a tree without a .config is refused (exit 2)" \
	refused "$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --kernel="$work/unconfigured"

[ "$failed" -eq 0 ] && [ -z "${ITE_OWN_KERNEL_TEST_DIR:-}" ] && rm -rf "$work"
[ "$failed" -eq 0 ]

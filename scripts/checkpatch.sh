#!/usr/bin/env bash
# Style checks with each tree's own checkpatch.pl: QEMU's on every patch of
# qemu-patches/ and on every C file of the hw/ overlay, the kernel's with
# --strict on every patch of kernel-patches/. Prints one line per file and
# a closing "N passed, N failed" line.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$ITE_TOP/scripts/tree.sh"

qemu_src=$ITE_BUILD/qemu/src
linux_src=$ITE_BUILD/linux/unpatched/src
passed=0 failed=0
check() { # check NAME COMMAND...
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "ok - checkpatch $name"
		passed=$((passed + 1))
	else
		echo "not ok - checkpatch $name"
		grep -E '^(ERROR|WARNING|CHECK)' -A4 <<<"$out" | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
}

# From inside the tree: checkpatch's rules depend on the path (tests/).
qemu_checkpatch_file() {
	(cd "$qemu_src" && perl scripts/checkpatch.pl --no-tree -f "$1")
}

[ -f "$qemu_src/scripts/checkpatch.pl" ] || die "QEMU source not unpacked (ninja -C build qemu)"
while read -r p; do
	check "${p#"$ITE_TOP"/}" perl "$qemu_src/scripts/checkpatch.pl" --no-tree "$p"
done < <(series_files "$ITE_TOP/qemu-patches")
while read -r f; do
	check "hw/$f" qemu_checkpatch_file "$f"
done < <(cd "$ITE_TOP/hw" && find . -name '*.[ch]' | sed 's|^\./||' | sort)

if [ -n "$(series_files "$ITE_TOP/kernel-patches")" ]; then
	[ -f "$linux_src/scripts/checkpatch.pl" ] || die "kernel source not unpacked (ninja -C build kernel-unpatched)"
	# The pinned source is a release tarball without upstream history, so
	# checkpatch cannot look the ids of Fixes: tags up; they are checked
	# by hand against the upstream commits (docs/kernel-patches.md).
	while read -r p; do
		check "${p#"$ITE_TOP"/}" perl "$linux_src/scripts/checkpatch.pl" --strict --no-tree \
			--ignore UNKNOWN_COMMIT_ID "$p"
	done < <(series_files "$ITE_TOP/kernel-patches")
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

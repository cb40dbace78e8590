#!/usr/bin/env bash
# Style checks with each tree's own checkpatch.pl: QEMU's on every patch of
# qemu-patches/ and on every C file of the hw/ overlay, the kernel's with
# --strict on every patch of each kernel series: kernel-patches/6.12/ with
# 6.12's, kernel-patches/mainline/ with the mainline base's. Only what a
# series file lists is checked: the cover letter (0000-cover-letter.patch)
# is prose, not a patch. Prints TAP, a test per file;
# checkpatch's findings go to stderr (as comments), which is what meson
# shows of a failed test. Part of meson's suite 'lint'.
set -uo pipefail
. "$(dirname "$0")/lib/lib.sh"
. "$ITE_TOP/scripts/lib/tree.sh"
. "$ITE_TOP/scripts/lib/sources.sh"

qemu_src=$ITE_BUILD/qemu/src
# Each kernel series and the unpatched tree whose checkpatch.pl checks it.
kernel_series=(linux:unpatched linux-mainline:mainline-base)

# bail REASON: TAP's way to say that nothing could be checked.
bail() {
	echo "Bail out! $*"
	exit 1
}

# The overlay's own file (not the build tree's copy of it, which is as old
# as the last build), by its path in QEMU's tree, relative to hw/:
# checkpatch's rules depend on the path (tests/).
qemu_checkpatch_file() {
	(cd "$ITE_TOP/hw" && perl "$qemu_src/scripts/checkpatch.pl" --no-tree -f "$1")
}

mapfile -t qemu_patches < <(series_files "$ITE_TOP/qemu-patches")
mapfile -t hw_files < <(cd "$ITE_TOP/hw" && find . -name '*.[ch]' | sed 's|^\./||' | sort)
# kernel_patches[i] is checked with kernel_trees[i]'s checkpatch.pl.
kernel_patches=() kernel_trees=()
for cs in "${kernel_series[@]}"; do
	tree=$ITE_BUILD/linux/${cs#*:}/src
	mapfile -t ps < <(series_files "$(series_dir "${cs%%:*}")")
	[ ${#ps[@]} -eq 0 ] || [ -f "$tree/scripts/checkpatch.pl" ] ||
		bail "kernel source not unpacked (ninja -C build kernel-${cs#*:})"
	for p in "${ps[@]}"; do
		kernel_patches+=("$p")
		kernel_trees+=("$tree")
	done
done
[ -f "$qemu_src/scripts/checkpatch.pl" ] || bail "QEMU source not unpacked (ninja -C build qemu)"

echo "TAP version 13"
echo "1..$((${#qemu_patches[@]} + ${#hw_files[@]} + ${#kernel_patches[@]}))"
n=0 failed=0
check() { # check NAME COMMAND...
	local name=$1 out
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		{
			echo "# checkpatch $name:"
			grep -E '^(ERROR|WARNING|CHECK)' -A4 <<<"$out" | sed 's/^/#   /'
		} >&2
		failed=$((failed + 1))
	fi
}

for p in "${qemu_patches[@]}"; do
	check "${p#"$ITE_TOP"/}" perl "$qemu_src/scripts/checkpatch.pl" --no-tree "$p"
done
for f in "${hw_files[@]}"; do
	check "hw/$f" qemu_checkpatch_file "$f"
done
# The pinned source is a release tarball without upstream history, so
# checkpatch cannot look the ids of Fixes: tags up; they are checked by
# hand against the upstream commits (docs/kernel-patches.md).
for i in "${!kernel_patches[@]}"; do
	p=${kernel_patches[i]}
	check "${p#"$ITE_TOP"/}" perl "${kernel_trees[i]}/scripts/checkpatch.pl" --strict --no-tree \
		--ignore UNKNOWN_COMMIT_ID "$p"
done
[ "$failed" -eq 0 ]

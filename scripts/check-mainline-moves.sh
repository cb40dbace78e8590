#!/usr/bin/env bash
# check-mainline-moves.sh [--keep]: does the mainline series still apply to
# the newest Linux Debian serves? The lab builds kernel-patches/mainline/
# on a pinned base (ITE_MAINLINE_VERSION, scripts/lib/lib.sh); sid moves on.
# This fetches sid's newest linux that actually downloads
# (scripts/build/fetch-sid.sh: sid's index often lists versions its pool
# does not serve yet; they are named and skipped), unpacks it with Debian's
# patches (dpkg-source -x) into $ITE_BUILD/linux/sid-check/src, and applies
# the series to it in order. Prints TAP, a test per patch, and at the end
# either that the whole series applies (the pin can move: set
# ITE_MAINLINE_VERSION and rebuild) or the first patch that does not,
# with patch's complaint. Exit 0 when it all applies, 1 when a patch does
# not, 2 when nothing could be checked. ITE_SID_VERSION=V checks version V
# of sid's index instead. --keep leaves the unpacked tree (otherwise removed).
set -uo pipefail
. "$(dirname "$0")/lib/lib.sh"
. "$ITE_TOP/scripts/lib/sources.sh"
. "$ITE_TOP/scripts/lib/tree.sh"

keep=0
case ${1:-} in
--keep) keep=1 ;;
'') ;;
*) echo "usage: check-mainline-moves.sh [--keep]" >&2 && exit 2 ;;
esac
need patch patch

bail() {
	echo "Bail out! $*"
	exit 2
}

"$ITE_TOP/scripts/build/fetch-sid.sh" || bail "sid's newest linux could not be fetched (see above)"
# shellcheck source=/dev/null
. "$ITE_CACHE/sid-newest.env"
series=$(series_dir linux-mainline)
mapfile -t patches < <(series_files "$series")

echo "TAP version 13"
echo "# pinned base: $ITE_MAINLINE_PKG $ITE_MAINLINE_VERSION; sid's newest that downloads: $SID_NEWEST_VERSION${SID_INDEX_NEWEST_VERSION:+ (its index lists up to $SID_INDEX_NEWEST_VERSION, not served)}"
echo "1..${#patches[@]}"
[ ${#patches[@]} -gt 0 ] || { echo "# kernel-patches/mainline/series lists no patch: nothing to apply"; exit 0; }

top=$ITE_BUILD/linux/sid-check
src=$top/src
mkdir -p "$top"
if ! stamp_ok "$src/.ite-lab/base" "$SID_NEWEST_DSC"; then
	rm -rf "$src"
	log "unpacking $SID_NEWEST_DSC into $src"
	(extract_linux_dsc "$SID_NEWEST_DSC" "$src") || bail "cannot unpack $SID_NEWEST_DSC"
	mkdir -p "$src/.ite-lab"
	echo "$SID_NEWEST_DSC" >"$src/.ite-lab/base"
	rm -f "$src/.ite-lab/applied.patch"
fi
# A kept tree carries what was applied last: revert it first.
if [ -s "$src/.ite-lab/applied.patch" ]; then
	patch -d "$src" -p1 -R -s --batch --no-backup-if-mismatch <"$src/.ite-lab/applied.patch" >/dev/null ||
		{ rm -rf "$src"; bail "cannot revert the series applied before; run again (the tree was removed)"; }
fi
: >"$src/.ite-lab/applied.patch"

n=0 first=''
for p in "${patches[@]}"; do
	n=$((n + 1))
	name=$(basename "$p")
	if [ -n "$first" ]; then
		echo "ok $n - $name # SKIP after $first, which does not apply"
		continue
	fi
	if out=$(patch -d "$src" -p1 --batch --forward --dry-run <"$p" 2>&1); then
		patch -d "$src" -p1 -s --batch --forward --no-backup-if-mismatch <"$p" >/dev/null
		cat "$p" >>"$src/.ite-lab/applied.patch"
		fuzz=$(grep -E 'with fuzz|offset' <<<"$out" | sed 's/^/#   /')
		echo "ok $n - $name applies to $SID_NEWEST_VERSION"
		[ -z "$fuzz" ] || echo "$fuzz"
	else
		first=$name
		echo "not ok $n - $name does not apply to $SID_NEWEST_VERSION"
		while IFS= read -r l; do echo "#   $l"; done <<<"$out"
	fi
done
[ "$keep" = 1 ] || rm -rf "$top"
if [ -n "$first" ]; then
	echo "# the first patch that does not apply to $ITE_MAINLINE_PKG $SID_NEWEST_VERSION: $first"
	exit 1
fi
if [ "$SID_NEWEST_VERSION" = "$ITE_MAINLINE_VERSION" ]; then
	echo "# the series applies; sid's newest that downloads is the pinned base"
else
	echo "# the whole series applies to $SID_NEWEST_VERSION: the pin can move (ITE_MAINLINE_VERSION=$SID_NEWEST_VERSION in scripts/lib/lib.sh; then ninja -C build and run the matrix)"
fi

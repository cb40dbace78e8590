#!/usr/bin/env bash
# Unit test of scripts/lib/tree.sh and lib.sh's need(), on a tiny tree: a
# series applies, re-applies as a no-op, is replaced by an edited series
# touching only the patched file, and a broken patch fails early, names
# itself and leaves the tree as it was. Prints TAP.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/lib.sh"
. "$ITE_TOP/scripts/lib/tree.sh"

. "$ITE_TOP/tests/shell/tap.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/tree series=$work/series
mkdir -p "$tree" "$series"
printf 'one\ntwo\nthree\n' >"$tree/a.txt"
printf 'keep\n' >"$tree/b.txt"
mkpatch() { # mkpatch NAME OLD NEW: a patch of a.txt's second line
	cat >"$series/$1" <<EOP
--- a/a.txt
+++ b/a.txt
@@ -1,3 +1,3 @@
 one
-$2
+$3
 three
EOP
}

echo "TAP version 13"
echo "1..9"

mkpatch 0001-two.patch two TWO
echo 0001-two.patch >"$series/series"
t "series applies" tree_apply_series "$tree" "$series"
t "patched content" grep -qx TWO "$tree/a.txt"
touch -d '2000-01-01' "$tree/b.txt"
t "re-applying an unchanged series is a no-op" tree_apply_series "$tree" "$series"

mkpatch 0001-two.patch two deux
tree_apply_series "$tree" "$series"
t "an edited series replaces the old one" grep -qx deux "$tree/a.txt"
t "files the series does not touch keep their mtime" \
	test "$(stat -c %Y "$tree/b.txt")" = "$(date -d 2000-01-01 +%s)"

mkpatch 0002-broken.patch nine NEUF
echo 0002-broken.patch >>"$series/series"
out=$( (tree_apply_series "$tree" "$series") 2>&1)
t "a broken patch fails" test $? -ne 0
t "the failure names the patch" grep -q "0002-broken.patch does not apply" <<<"$out"
t "after the failure the tree carries exactly the patches before it" \
	grep -qx deux "$tree/a.txt"

out=$( (PATH=/nonexistent need frobnicate frob-utils) 2>&1)
t "a missing command names its Debian package" grep -q "install the Debian package 'frob-utils'" <<<"$out"

[ "$failed" -eq 0 ]

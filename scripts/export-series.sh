#!/usr/bin/env bash
# export-series.sh DIR: write the commits of a work tree made by
# worktree.sh (everything after the ite-lab-base tag) back into the series
# directory of its component (DIR/.git/ite-lab-component: qemu-patches/,
# kernel-patches/6.12/ or kernel-patches/mainline/; scripts/lib/sources.sh)
# as a git format-patch series, and rewrite that directory's series file.
# Patches that are no longer in the work tree are removed; the cover letter
# (0000-cover-letter.patch), written by hand beside the series, is kept.
set -euo pipefail
. "$(dirname "$0")/lib/lib.sh"
. "$ITE_TOP/scripts/lib/sources.sh"

dir=${1:?usage: export-series.sh DIR}
cover=0000-cover-letter.patch
need git git
[ -f "$dir/.git/ite-lab-component" ] || die "$dir is not a work tree made by scripts/worktree.sh"
component=$(cat "$dir/.git/ite-lab-component")
out=$(series_dir "$component") ||
	die "$dir/.git/ite-lab-component names an unknown component '$component' (known: $COMPONENTS)"
[ -z "$(git -C "$dir" status --porcelain --untracked-files=no)" ] ||
	die "$dir has uncommitted changes; commit them first"

mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Stable output: no commit ids or version trailers that change on rebase,
# and blob ids abbreviated to a fixed length (git's default grows with the
# tree's object count, so a fresh work tree would rewrite every index line).
git -C "$dir" -c core.abbrev=8 format-patch -q --zero-commit --no-signature --no-numbered \
	-o "$tmp" ite-lab-base..HEAD
find "$out" -maxdepth 1 -name '*.patch' ! -name "$cover" -delete
# Keep the series file's leading comment block.
sed -n '/^#/!q;p' "$out/series" >"$tmp/header" 2>/dev/null || : >"$tmp/header"
cp "$tmp/header" "$out/series"
for p in "$tmp"/*.patch; do
	[ -e "$p" ] || continue
	cp "$p" "$out/"
	basename "$p" >>"$out/series"
done
log "exported $(grep -vc '^#' "$out/series") patch(es) to ${out#"$ITE_TOP"/}/"

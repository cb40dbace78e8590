#!/usr/bin/env bash
# export-series.sh DIR: write the commits of a work tree made by
# worktree.sh (everything after the ite-lab-base tag) back into
# qemu-patches/ or kernel-patches/ as a git format-patch series, and
# rewrite that directory's series file. Patches that are no longer in the
# work tree are removed.
set -euo pipefail
. "$(dirname "$0")/lib/lib.sh"

dir=${1:?usage: export-series.sh DIR}
need git git
[ -f "$dir/.git/ite-lab-component" ] || die "$dir is not a work tree made by scripts/worktree.sh"
case $(cat "$dir/.git/ite-lab-component") in
qemu) out=$ITE_TOP/qemu-patches ;;
linux) out=$ITE_TOP/kernel-patches ;;
*) die "$dir/.git/ite-lab-component names an unknown component" ;;
esac
[ -z "$(git -C "$dir" status --porcelain --untracked-files=no)" ] ||
	die "$dir has uncommitted changes; commit them first"

mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Stable output: no commit ids or version trailers that change on rebase.
git -C "$dir" format-patch -q --zero-commit --no-signature --no-numbered \
	-o "$tmp" ite-lab-base..HEAD
rm -f "$out"/*.patch
# Keep the series file's leading comment block.
sed -n '/^#/!q;p' "$out/series" >"$tmp/header" 2>/dev/null || : >"$tmp/header"
cp "$tmp/header" "$out/series"
for p in "$tmp"/*.patch; do
	[ -e "$p" ] || continue
	cp "$p" "$out/"
	basename "$p" >>"$out/series"
done
log "exported $(grep -vc '^#' "$out/series") patch(es) to ${out#"$ITE_TOP"/}/"

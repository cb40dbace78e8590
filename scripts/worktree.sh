#!/usr/bin/env bash
# worktree.sh qemu|linux DIR: turn the pinned source into a git work tree
# with the series applied as commits, for editing code rather than diffs.
#
#   commit "ite-lab base: ..."   the pinned source, tagged ite-lab-base
#   one commit per patch         from qemu-patches/ or kernel-patches/
#
# For qemu, the files of ite-lab's hw/ overlay are symlinked into the tree
# (and git-excluded there), so edits to them land in ite-lab's hw/ directly.
# Export the commits back with scripts/export-series.sh DIR.
set -euo pipefail
. "$(dirname "$0")/lib/lib.sh"
. "$ITE_TOP/scripts/lib/sources.sh"
. "$ITE_TOP/scripts/lib/tree.sh"

component=${1:-}
dir=${2:-}
case $component in
qemu) series_dir=$ITE_TOP/qemu-patches ;;
linux) series_dir=$ITE_TOP/kernel-patches ;;
*) die "usage: worktree.sh qemu|linux DIR" ;;
esac
[ -n "$dir" ] || die "usage: worktree.sh qemu|linux DIR"
[ -e "$dir" ] && die "$dir already exists; remove it or choose another directory"
need git git
load_versions

mkdir -p "$(dirname "$dir")"
dir=$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")
log "$component: unpacking the pinned source into $dir"
if [ "$component" = qemu ]; then
	extract_qemu "$dir"
	base="$QEMU_DSC"
else
	extract_linux "$dir"
	base="$LINUX_DEB"
fi

g() { git -C "$dir" "$@"; }
g init -q
g config user.name >/dev/null || g config user.name "ite-lab"
g config user.email >/dev/null || g config user.email "ite-lab@localhost"
echo "$component" >"$dir/.git/ite-lab-component"
log "$component: committing the base (this takes a minute for linux)"
g add -A -f .
g commit -q -m "ite-lab base: $base" -m "Unpacked by scripts/worktree.sh from Debian's archive."
g tag ite-lab-base

if [ "$component" = qemu ]; then
	(cd "$ITE_TOP/hw" && find . -type f ! -name '*.md' ! -name '.*' | sed 's|^\./||') |
		while read -r f; do
			mkdir -p "$(dirname "$dir/$f")"
			ln -s "$ITE_TOP/hw/$f" "$dir/$f"
			echo "/$f" >>"$dir/.git/info/exclude"
		done
fi

while read -r p; do
	g am -q --keep-cr "$p" || {
		g am --abort || true
		die "${p#"$ITE_TOP"/} does not apply to $base; the work tree stops before it"
	}
done < <(series_files "$series_dir")
log "$component: $(g rev-list --count ite-lab-base..HEAD) patch(es) applied in $dir"

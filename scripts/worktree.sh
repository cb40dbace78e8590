#!/usr/bin/env bash
# worktree.sh COMPONENT DIR: turn a pinned source into a git work tree with
# its series applied as commits, for editing code rather than diffs.
# COMPONENT (scripts/lib/sources.sh):
#   qemu            qemu-patches/ on Debian's qemu
#   linux           kernel-patches/6.12/ on linux-source-6.12 (the backport)
#   linux-mainline  kernel-patches/mainline/ on sid's linux at
#                   ITE_MAINLINE_VERSION (the primary series)
#
#   commit "ite-lab base: ..."   the pinned source, tagged ite-lab-base
#   one commit per patch         of the series file (not the cover letter)
#
# For qemu, the files of ite-lab's hw/ overlay are symlinked into the tree
# (and git-excluded there), so edits to them land in ite-lab's hw/ directly.
# The component is recorded in DIR/.git/ite-lab-component; export the
# commits back with scripts/export-series.sh DIR.
set -euo pipefail
. "$(dirname "$0")/lib/lib.sh"
. "$ITE_TOP/scripts/lib/sources.sh"
. "$ITE_TOP/scripts/lib/tree.sh"

component=${1:-}
dir=${2:-}
usage="usage: worktree.sh ${COMPONENTS// /|} DIR"
series_dir=$(series_dir "$component") || die "$usage"
[ -n "$dir" ] || die "$usage"
[ -e "$dir" ] && die "$dir already exists; remove it or choose another directory"
need git git
load_versions

mkdir -p "$(dirname "$dir")"
dir=$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")
log "$component: unpacking the pinned source into $dir"
base=$(base_name "$component")
extract_base "$component" "$dir"

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

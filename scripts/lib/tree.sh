# shellcheck shell=bash
# Keep an extracted source tree equal to "pristine + overlay + series",
# touching only the files that change, so that make/ninja rebuild only what
# a patch edit affects. Source lib.sh before this file.
#
# State kept inside the tree:
#   .ite-lab/applied.patch   the series as last applied (for patch -R)
#   .ite-lab/overlay.list    overlay files last copied in
#   .ite-lab/base            identity of the pristine source

# series_files DIR [LIST]: the patch files that DIR/LIST (default: series)
# names, in order, one per line. Blank lines and '#' comments are ignored;
# a missing file is an error.
series_files() {
	local dir=$1 list=${2:-series} p
	[ -f "$dir/$list" ] || return 0
	while read -r p; do
		p=${p%%#*}
		p=${p//[[:space:]]/}
		[ -n "$p" ] || continue
		[ -f "$dir/$p" ] || die "$dir/$list names '$p', which does not exist"
		echo "$dir/$p"
	done <"$dir/$list"
}

# tree_apply_series TREE SERIES_DIR [LIST]: make TREE carry exactly the
# patches SERIES_DIR/LIST (default: series) names. Returns 2 when the
# previous series cannot be reverted (the caller then re-extracts the tree).
tree_apply_series() {
	local tree=$1 dir=$2 state=$1/.ite-lab new p
	mkdir -p "$state"
	new=$(mktemp)
	series_files "$dir" "${3:-series}" >"$new.list" || { rm -f "$new" "$new.list"; return 1; }
	while read -r p; do cat "$p"; done <"$new.list" >"$new"
	if [ -f "$state/applied.patch" ] && cmp -s "$new" "$state/applied.patch"; then
		rm -f "$new" "$new.list"
		return 0
	fi
	if [ -s "$state/applied.patch" ]; then
		if ! patch -d "$tree" -p1 -R -s --batch --no-backup-if-mismatch \
			<"$state/applied.patch" >/dev/null; then
			log "cannot revert the previously applied series in $tree"
			rm -f "$new" "$new.list"
			return 2
		fi
	fi
	: >"$state/applied.patch"
	while read -r p; do
		# Dry run first, so a patch that does not apply leaves the tree as it was.
		if ! patch -d "$tree" -p1 -s --batch --forward --dry-run <"$p" >"$new.err" 2>&1; then
			log "patch ${p#"$ITE_TOP"/} does not apply to $(cat "$state/base" 2>/dev/null):"
			sed 's/^/    /' "$new.err" >&2
			die "refresh the series against the pinned source (docs/workflow.md)"
		fi
		patch -d "$tree" -p1 -s --batch --forward --no-backup-if-mismatch <"$p" >/dev/null
		cat "$p" >>"$state/applied.patch"
	done <"$new.list"
	[ -s "$new.list" ] && log "applied $(wc -l <"$new.list") patch(es) from ${dir#"$ITE_TOP"/}"
	rm -f "$new" "$new.list" "$new.err"
}

# tree_overlay TREE OVERLAY_DIR: copy OVERLAY_DIR's files into TREE at the
# same relative paths, only where the content differs; remove files that a
# previous overlay added and OVERLAY_DIR no longer has.
tree_overlay() {
	local tree=$1 dir=$2 state=$1/.ite-lab f
	mkdir -p "$state"
	touch "$state/overlay.list"
	[ -d "$dir" ] || die "overlay directory $dir is missing"
	(cd "$dir" && find . -type f ! -name '*.md' ! -name '.*' | sed 's|^\./||' | sort) >"$state/overlay.new"
	comm -23 "$state/overlay.list" "$state/overlay.new" | while read -r f; do
		rm -f "${tree:?}/$f"
	done
	while read -r f; do
		cmp -s "$dir/$f" "$tree/$f" && continue
		mkdir -p "$(dirname "$tree/$f")"
		cp "$dir/$f" "$tree/$f"
	done <"$state/overlay.new"
	mv "$state/overlay.new" "$state/overlay.list"
}

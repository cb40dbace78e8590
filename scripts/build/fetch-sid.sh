#!/usr/bin/env bash
# Download the newest Linux Debian's archive serves: the "linux" source
# package of sid ($ITE_MAINLINE_SUITE) at the newest version whose files the
# mirror actually has, through the private apt configuration
# $ITE_CACHE/apt/sid. Every file is checked against the SHA256 in sid's
# signed indexes, as for the pinned sources. For
# scripts/check-mainline-moves.sh: the lab builds the pinned mainline base
# (ITE_MAINLINE_VERSION, fetched by scripts/fetch-sources.sh), never this.
#
# The version taken is written to $ITE_CACHE/sid-newest.env
# (SID_NEWEST_DSC, SID_NEWEST_VERSION, and SID_INDEX_NEWEST_VERSION when the
# index lists newer ones the mirror does not serve). The files of the
# version it took last time are removed from the cache, except the pinned
# base's. ITE_SID_VERSION=V takes exactly version V of the index.
set -euo pipefail
. "$(dirname "$0")/../lib/lib.sh"
. "$ITE_TOP/scripts/lib/apt-private.sh"

need apt-get apt
need sha256sum coreutils

out_file=$ITE_CACHE/sid-newest.env
pkg=$ITE_MAINLINE_PKG suite=$ITE_MAINLINE_SUITE
pinned_dsc=${pkg}_${ITE_MAINLINE_VERSION#*:}.dsc

# dsc_files DSC: the files a .dsc in the download cache names, and itself.
dsc_files() {
	echo "$1"
	awk '/^Checksums-Sha256:/ { f = 1; next } /^[^ ]/ { f = 0 } f && NF == 3 { print $3 }' \
		"$ITE_CACHE/downloads/$1"
}

# list WORD...: the words, comma-separated.
list() {
	local IFS=,
	local l="$*"
	echo "${l//,/, }"
}

# sid_versions: the versions of $pkg in sid's index, newest first (the
# index lists several while the pool still keeps them).
sid_versions() {
	apt_private --cache sid showsrc "$pkg" 2>/dev/null |
		awk -v p="$pkg" '/^Package: / { ok = $2 == p } ok && /^Version: / { print $2 }' |
		sort -urV
}

apt_private_update sid
start=$(date +%s)
mapfile -t versions < <(sid_versions)
[ ${#versions[@]} -gt 0 ] || die "no source package '$pkg' in $suite's index"
if [ -n "${ITE_SID_VERSION:-}" ]; then
	# A chosen version (it must be in the index): no fallback.
	printf '%s\n' "${versions[@]}" | grep -qxF "$ITE_SID_VERSION" ||
		die "ITE_SID_VERSION=$ITE_SID_VERSION is not in $suite's index (it has: ${versions[*]})"
	versions=("$ITE_SID_VERSION")
fi

# Take the newest version the mirror can serve. When the mirror lags behind
# its own index (files of the newest versions missing), say so in one line
# and take the next one. apt's messages of every attempt go to the fetch
# log; of the one that worked, only which files were downloaded is shown.
failed=() files='' version=''
fetch_log=$ITE_CACHE/apt/sid/fetch.log
: >"$fetch_log"
for v in "${versions[@]}"; do
	ok=0
	files=$(apt_fetch sid source "$pkg=$v" 2>"$fetch_log.try") && ok=1
	{ echo "# $pkg $v"; cat "$fetch_log.try"; } >>"$fetch_log"
	if [ "$ok" = 1 ]; then
		grep '^\[ite-lab\] downloading ' "$fetch_log.try" >&2 || true
		version=$v
		break
	fi
	failed+=("$v")
done
rm -f "$fetch_log.try"
[ -n "$version" ] ||
	die "no version of $pkg in $suite's index could be downloaded (tried $(list "${failed[@]}")); apt's messages: $fetch_log"
[ ${#failed[@]} -eq 0 ] ||
	log "warning: $suite's index lists $pkg $(list "${failed[@]}"), whose files the mirror" \
		"does not serve (404; apt's messages: $fetch_log); took $version, the newest it serves"
dsc=$(grep '\.dsc$' <<<"$files") || die "no .dsc among the files of $pkg $version"

# keep FILE: a file of the pinned base, or of the version just taken.
keep() {
	grep -qxF "$1" <<<"$files" && return 0
	[ -f "$ITE_CACHE/downloads/$pinned_dsc" ] && dsc_files "$pinned_dsc" | grep -qxF "$1"
}
# A failed attempt may have left some of its files; keep only those in use.
for v in "${failed[@]}"; do
	apt_private sid source --print-uris "$pkg=$v" 2>/dev/null | grep "^'" |
		while read -r _ f _; do
			keep "$f" || rm -f "$ITE_CACHE/downloads/$f"
		done
done

old_dsc=$(sed -n 's/^SID_NEWEST_DSC=//p' "$out_file" 2>/dev/null || true)
{
	echo "# Written by scripts/build/fetch-sid.sh: the newest $pkg $suite serves."
	echo "SID_NEWEST_DSC=$dsc"
	echo "SID_NEWEST_VERSION=$version"
	[ "$version" = "${versions[0]}" ] || echo "SID_INDEX_NEWEST_VERSION=${versions[0]}"
} >"$out_file.new"
mv "$out_file.new" "$out_file"

# sid moved on: drop the previous version's files (not those still in use).
if [ -n "$old_dsc" ] && [ "$old_dsc" != "$dsc" ] && [ -f "$ITE_CACHE/downloads/$old_dsc" ]; then
	dsc_files "$old_dsc" | while read -r f; do
		keep "$f" || rm -f "$ITE_CACHE/downloads/$f"
	done
	log "sources: sid moved on from $old_dsc; removed its files from the cache"
fi

downloaded=0
while read -r f; do
	[ "$(stat -c %Z "$ITE_CACHE/downloads/$f")" -lt "$start" ] ||
		downloaded=$((downloaded + $(stat -c %s "$ITE_CACHE/downloads/$f")))
done <<<"$files"
log "sources: $pkg $version from $suite ($dsc;" \
	"downloaded $((downloaded / 1048576)) MiB in $(($(date +%s) - start))s)"

#!/usr/bin/env bash
# Download the source of the informational "sid" kernel: the newest Linux
# Debian's archive ships, i.e. the "linux" source package of sid
# (unstable), through the private apt configuration $ITE_CACHE/apt/sid.
# Every file (.dsc, .orig.tar.xz, .debian.tar.xz) is checked against the
# SHA256 in sid's signed indexes, as for the pinned sources.
#
# It moves with sid: whenever the indexes are refreshed (at most every 12
# hours, ITE_APT_REFRESH=1 forces it) the current version is taken. The
# version is recorded as LINUX_SID_DSC / LINUX_SID_VERSION in
# $ITE_CACHE/versions.env; the files of the version it replaces are removed
# from the cache.
#
# scripts/fetch-sources.sh runs this after the pinned sources and only warns
# when it fails, so an unreachable sid never stops the main build.
set -euo pipefail
. "$(dirname "$0")/../lib/lib.sh"
. "$ITE_TOP/scripts/lib/apt-private.sh"

need apt-get apt
need sha256sum coreutils

env_file=$ITE_CACHE/versions.env
[ -f "$env_file" ] || die "$env_file does not exist; run scripts/fetch-sources.sh (it fetches sid's linux too)"

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

# sid_versions: the versions of $ITE_SID_PKG in sid's index, newest first
# (sid normally lists one; a mirror may list several).
sid_versions() {
	apt_private --cache sid showsrc "$ITE_SID_PKG" 2>/dev/null |
		awk -v p="$ITE_SID_PKG" '/^Package: / { ok = $2 == p } ok && /^Version: / { print $2 }' |
		sort -urV
}

apt_private_update sid
start=$(date +%s)
mapfile -t versions < <(sid_versions)
[ ${#versions[@]} -gt 0 ] || die "no source package '$ITE_SID_PKG' in $ITE_SID_SUITE's index"
if [ -n "${ITE_SID_VERSION:-}" ]; then
	# A chosen version (it must be in the index): no fallback.
	printf '%s\n' "${versions[@]}" | grep -qxF "$ITE_SID_VERSION" ||
		die "ITE_SID_VERSION=$ITE_SID_VERSION is not in $ITE_SID_SUITE's index (it has: ${versions[*]})"
	versions=("$ITE_SID_VERSION")
fi

# Take the newest version the mirror can serve. When the mirror lags behind
# its own index (files of the newest versions missing), say so in one line
# and take the next one: recorded as LINUX_SID_VERSION, the index's newest
# as LINUX_SID_NEWEST_VERSION. apt's messages of every attempt go to the
# fetch log; of the one that worked, only which files were downloaded is
# shown.
failed=() files='' version=''
fetch_log=$ITE_CACHE/apt/sid/fetch.log
: >"$fetch_log"
for v in "${versions[@]}"; do
	ok=0
	files=$(apt_fetch sid source "$ITE_SID_PKG=$v" 2>"$fetch_log.try") && ok=1
	{ echo "# $ITE_SID_PKG $v"; cat "$fetch_log.try"; } >>"$fetch_log"
	if [ "$ok" = 1 ]; then
		grep '^\[ite-lab\] downloading ' "$fetch_log.try" >&2 || true
		version=$v
		break
	fi
	failed+=("$v")
done
rm -f "$fetch_log.try"
[ -n "$version" ] ||
	die "no version of $ITE_SID_PKG in $ITE_SID_SUITE's index could be downloaded (tried $(list "${failed[@]}")); apt's messages: $fetch_log"
[ ${#failed[@]} -eq 0 ] ||
	log "warning: $ITE_SID_SUITE's index lists $ITE_SID_PKG $(list "${failed[@]}"), whose files the mirror" \
		"does not serve; took $version, the newest it serves (apt's messages: $fetch_log)"
dsc=$(grep '\.dsc$' <<<"$files") || die "no .dsc among the files of $ITE_SID_PKG $version"

# A failed attempt may have left some of its files; keep only those in use.
for v in "${failed[@]}"; do
	apt_private sid source --print-uris "$ITE_SID_PKG=$v" 2>/dev/null | grep "^'" |
		while read -r _ f _; do
			grep -qxF "$f" <<<"$files" || rm -f "$ITE_CACHE/downloads/$f"
		done
done

old_dsc=$(sed -n 's/^LINUX_SID_DSC=//p' "$env_file")
{
	grep -v '^LINUX_SID_' "$env_file"
	echo "LINUX_SID_PKG=$ITE_SID_PKG"
	echo "LINUX_SID_SUITE=$ITE_SID_SUITE"
	echo "LINUX_SID_DSC=$dsc"
	echo "LINUX_SID_VERSION=$version"
	[ "$version" = "${versions[0]}" ] || echo "LINUX_SID_NEWEST_VERSION=${versions[0]}"
} >"$env_file.new"
mv "$env_file.new" "$env_file"

# sid moved on: drop the previous version's files (not those still in use).
if [ -n "$old_dsc" ] && [ "$old_dsc" != "$dsc" ] && [ -f "$ITE_CACHE/downloads/$old_dsc" ]; then
	dsc_files "$old_dsc" | while read -r f; do
		grep -qxF "$f" <<<"$files" || rm -f "$ITE_CACHE/downloads/$f"
	done
	log "sources: sid moved on from $old_dsc; removed its files from the cache"
fi

downloaded=0
while read -r f; do
	[ "$(stat -c %Z "$ITE_CACHE/downloads/$f")" -lt "$start" ] ||
		downloaded=$((downloaded + $(stat -c %s "$ITE_CACHE/downloads/$f")))
done <<<"$files"
log "sources: $ITE_SID_PKG $version from $ITE_SID_SUITE ($dsc;" \
	"downloaded $((downloaded / 1048576)) MiB in $(($(date +%s) - start))s)"

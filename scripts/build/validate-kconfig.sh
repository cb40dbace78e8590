#!/usr/bin/env bash
# validate-kconfig.sh FRAGMENT DOTCONFIG: every CONFIG_X=v line of FRAGMENT
# must appear in DOTCONFIG after olddefconfig. A missing one means an unmet
# dependency that Kconfig silently dropped (as kunit's validate_config says).
set -euo pipefail
. "$(dirname "$0")/../lib/lib.sh"

fragment=$1 config=$2
missing=()
while read -r line; do
	case $line in
	CONFIG_*=n) want="# ${line%=n} is not set" ;;
	CONFIG_*) want=$line ;;
	*) continue ;;
	esac
	if [ "${line#*=}" = n ]; then
		# "=n" is satisfied by absence too.
		grep -q "^${line%=n}=" "$config" && missing+=("$line")
	else
		grep -qxF "$want" "$config" || missing+=("$line")
	fi
done <"$fragment"

if [ ${#missing[@]} -gt 0 ]; then
	die "kernel config is missing ${#missing[*]} option(s) from ${fragment#"$ITE_TOP"/}, probably due to unsatisfied dependencies: ${missing[*]}"
fi

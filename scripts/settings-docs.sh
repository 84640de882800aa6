#!/usr/bin/env bash
# Writes every document that lists the daemons' settings from the one place
# they are defined, each program's settings table (printed by --env-example):
#   .env.example                      reflexo-sync's settings, and make run's
#   deploy/reflexo-api.env.example    reflexo-api's settings
#   docs/reflexo-sync.8, docs/reflexo-api.8   their ENVIRONMENT sections
# and the version in the man pages' headers.
#
#   scripts/settings-docs.sh           rewrite them (make settings-docs)
#   scripts/settings-docs.sh --check   exit 1, showing the difference, if any is stale
#
# The programs are daemon/build/reflexo-{sync,api}, or $REFLEXO_SYNC and
# $REFLEXO_API.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sync=${REFLEXO_SYNC:-$root/daemon/build/reflexo-sync}
api=${REFLEXO_API:-$root/daemon/build/reflexo-api}
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$root/reflexo.control")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# .env.example: reflexo-sync's settings, then the ports make run takes
{
	"$sync" --env-example
	cat <<'EOF'

# ---- make run only (scripts/run.sh): it reads .env, and talks to GHL instead
# of ghl-sim when GHL_ACCESS_TOKEN or GHL_CLIENT_ID is set here.  reflexo-api's
# settings are in deploy/reflexo-api.env.example; make run sets them itself.
# REFLEXO_PG_PORT=54329
# REFLEXO_HTTP_PORT=8000
# REFLEXO_SYNC_PORT=8001
# GHL_SIM_PORT=8090
# REFLEXO_STATE_DIR=.reflexo
EOF
} >"$out/.env.example"
"$api" --env-example >"$out/reflexo-api.env.example"

# An env file (comment lines, then NAME=value) as man page paragraphs.
man_environment() {
	awk '
		function roff(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); return s }
		!started { started = ($0 == ""); next }    # the file header, up to its blank line
		/^# / { help = (help ? help " " : "") substr($0, 3); next }
		/^[A-Z_]+=/ {
			name = substr($0, 1, index($0, "=") - 1); value = substr($0, index($0, "=") + 1)
			print ".TP"; print ".B " name
			print roff(help) (value != "" ? " (default \\fB" roff(value) "\\fR)" : "")
			help = ""
		}'
}
# Each man page keeps its text; what lies between its settings markers is replaced.
for program in reflexo-sync reflexo-api; do
	binary=$sync
	[[ $program == reflexo-api ]] && binary=$api
	"$binary" --env-example | man_environment >"$out/$program.environment"
	awk -v version="$version" -v section="$out/$program.environment" '
		/^\.TH / { sub(/"reflexo [^"]*"/, "\"reflexo " version "\"") }
		/^\.\\" settings: end/ { skipping = 0 }
		!skipping { print }
		/^\.\\" settings: begin/ { while ((getline line < section) > 0) print line; skipping = 1 }' \
		"$root/docs/$program.8" >"$out/$program.8"
	rm "$out/$program.environment"
done

declare -A target=(
	[.env.example]=$root/.env.example
	[reflexo-api.env.example]=$root/deploy/reflexo-api.env.example
	[reflexo-sync.8]=$root/docs/reflexo-sync.8
	[reflexo-api.8]=$root/docs/reflexo-api.8
)
stale=0
for name in "${!target[@]}"; do
	if [[ ${1:-} == --check ]]; then
		diff -u "${target[$name]}" "$out/$name" || stale=1
	else
		cp "$out/$name" "${target[$name]}"
	fi
done
if ((stale)); then
	echo "settings-docs.sh: the files above are stale: run make settings-docs" >&2
	exit 1
fi

#!/usr/bin/env bash
# make check: install what is missing, build, install into a private copy of
# PostgreSQL, start a throwaway cluster and run every suite (pgTAP,
# isolation, Perl TAP end-to-end, C unit tests, a fuzzing smoke run).
# Exits non-zero when anything fails; ends with one summary line per suite.
#
# PostgreSQL refuses to run as root, so as root this installs the packages,
# then runs the rest as the unprivileged user reflexo-check on a copy of the
# tree.  REFLEXO_CHECK_KEEP=1 keeps the logs and clusters of a passing run.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

scripts/deps.sh check || exit 1

if [[ $(id -u) -eq 0 ]]; then
	user=reflexo-check
	id -u "$user" >/dev/null 2>&1 ||
		useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
	work=$(mktemp -d /tmp/reflexo-check.XXXXXX)
	tar -C "$here" --exclude=./.git --exclude=./.reflexo --exclude=./tmp_install \
		--exclude=./tmp_check --exclude=./output_iso --exclude='*.o' --exclude='*.so' \
		--exclude='*.test' -cf - . | tar -C "$work" -xf -
	chown -R "$user:$user" "$work"
	runuser -u "$user" -- env HOME="$work" PATH="$PATH" "$work/tests/check.sh"
	status=$?
	if [[ $status -eq 0 && -z ${REFLEXO_CHECK_KEEP:-} ]]; then
		rm -rf "$work"
	else
		echo "reflexo: logs and clusters are in $work"
	fi
	exit $status
fi

pg_config=${PG_CONFIG:-pg_config}
jobs=$(nproc 2>/dev/null || echo 2)
results=()
failed=0

suite() {
	local name=$1
	shift
	if "$@"; then
		results+=("$name: PASS")
	else
		results+=("$name: FAIL")
		failed=1
	fi
}

echo "+++ build +++"
make -s -j"$jobs" PG_CONFIG="$pg_config" || exit 1

# A private copy of the server with this build installed in it: tests never
# touch the system installation, and need no root.
tmp_install=$here/tmp_install
bindir=$("$pg_config" --bindir)
sharedir=$("$pg_config" --sharedir)
rm -rf "$tmp_install"
mkdir -p "$tmp_install$(dirname "$(dirname "$bindir")")" "$tmp_install$(dirname "$sharedir")"
cp -a "$(dirname "$bindir")" "$tmp_install$(dirname "$(dirname "$bindir")")/"
cp -a "$sharedir" "$tmp_install$(dirname "$sharedir")/"
make -s install DESTDIR="$tmp_install" PG_CONFIG="$pg_config" >/dev/null || exit 1
tmp_pg_config=$tmp_install$bindir/pg_config
export PATH="$tmp_install$bindir:$PATH"

# The throwaway cluster for pgTAP and isolation: Unix socket only.
check_dir=$here/tmp_check_cluster
rm -rf "$check_dir"
mkdir -p "$check_dir"
initdb -D "$check_dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 \
	>"$check_dir/initdb.log" 2>&1 || { cat "$check_dir/initdb.log"; exit 1; }
cat >>"$check_dir/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$check_dir'
fsync = off
max_connections = 50
EOF
pg_ctl -D "$check_dir/data" -l "$check_dir/server.log" -w start >/dev/null ||
	{ cat "$check_dir/server.log"; exit 1; }
trap 'pg_ctl -D "$check_dir/data" -m immediate stop >/dev/null 2>&1' EXIT
export PGHOST=$check_dir PGPORT=5432 PGUSER=postgres PGDATABASE=postgres

suite pgtap make -s installcheck-pgtap PG_CONFIG="$tmp_pg_config"
suite isolation make -s installcheck-isolation PG_CONFIG="$tmp_pg_config"
suite unit make -s installcheck-unit PG_CONFIG="$tmp_pg_config"
suite fuzz-smoke env FUZZ_SECONDS="${FUZZ_SECONDS:-10}" tests/fuzz/run.sh
suite tap make -s installcheck-tap PG_CONFIG="$tmp_pg_config"

echo
echo "+++ summary +++"
printf '%s\n' "${results[@]}"
if ((failed)); then
	echo "reflexo: make check FAILED"
	exit 1
fi
echo "reflexo: make check PASSED"

#!/usr/bin/env bash
# make check: install what is missing, build, install into a private copy of
# PostgreSQL, start a throwaway cluster and run every suite (pgTAP,
# isolation, C unit tests, a fuzzing smoke run, Perl TAP end-to-end).
# Exits non-zero when anything fails; ends with one summary line per suite.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
source scripts/lib.sh

scripts/deps.sh check || exit 1
run_unprivileged "$here" tests/check.sh

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
make -s -j"$(nproc)" || exit 1
make_temp_install "$here/tmp_install" || exit 1
start_cluster "$here/tmp_check_cluster" <<EOF2 || exit 1
fsync = off
max_connections = 50
shared_preload_libraries = 'reflexo'
EOF2
trap 'stop_cluster "$here/tmp_check_cluster"' EXIT

suite pgtap make -s installcheck-pgtap PG_CONFIG="$TMP_PG_CONFIG"
suite isolation make -s installcheck-isolation PG_CONFIG="$TMP_PG_CONFIG"
suite unit make -s installcheck-unit PG_CONFIG="$TMP_PG_CONFIG"
suite fuzz-smoke env FUZZ_SECONDS="${FUZZ_SECONDS:-10}" tests/fuzz/run.sh
suite tap make -s installcheck-tap PG_CONFIG="$TMP_PG_CONFIG"

echo
echo "+++ summary +++"
printf '%s\n' "${results[@]}"
if ((failed)); then
	echo "reflexo: make check FAILED"
	exit 1
fi
echo "reflexo: make check PASSED"

#!/usr/bin/env bash
# make check: install what is missing, build, install into a private copy of
# PostgreSQL, start a throwaway cluster and run every suite (pgTAP,
# isolation, C unit tests, a fuzzing smoke run, Perl TAP end-to-end).
# Exits non-zero when anything fails or when a suite ran no test; ends with
# one summary line per suite saying how much of it ran.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
source scripts/lib.sh

scripts/deps.sh check || exit 1
run_unprivileged "$here" tests/check.sh

# From here on the suites can call only what scripts/deps.sh lists.
scripts/deps.sh check --path "$here/tmp_check_bin" || exit 1
export PATH=$here/tmp_check_bin

results=()
failed=0
# suite NAME COMMAND...: runs a suite, keeps its output, and counts what ran
# from the summary its runner prints; a suite that ran nothing fails.
suite() {
	local name=$1 log=$here/tmp_check_logs/$1.log ran
	shift
	mkdir -p "$here/tmp_check_logs"
	"$@" 2>&1 | tee "$log"
	local status=${PIPESTATUS[0]}
	ran=$(tests_ran "$log")
	if [[ -z $ran ]]; then
		results+=("$name: FAIL (it ran no test)")
		failed=1
	elif ((status == 0)); then
		results+=("$name: PASS ($ran)")
	else
		results+=("$name: FAIL ($ran)")
		failed=1
	fi
}

# what a runner's own summary says it ran: prove's "Files=, Tests=",
# pg_regress's "All N tests passed" / "N of M tests failed", the fuzz runner's lines
tests_ran() {
	local log=$1 line
	line=$(grep -E '^Files=[0-9]+, Tests=[0-9]+' "$log" | tail -1)
	if [[ $line =~ ^Files=([0-9]+),\ Tests=([1-9][0-9]*) ]]; then
		echo "${BASH_REMATCH[1]} files, ${BASH_REMATCH[2]} tests"
		return
	fi
	line=$(grep -oE 'All [1-9][0-9]* tests passed|[0-9]+ of [1-9][0-9]* tests failed' "$log" | tail -1)
	if [[ $line =~ ([1-9][0-9]*)\ tests ]]; then
		echo "${BASH_REMATCH[1]} specs"
		return
	fi
	line=$(grep -cE '^fuzz [a-z_]+: (ok|FAILED)' "$log")
	((line > 0)) && echo "$line targets"
}

echo "+++ build +++"
make -s -j"$(nproc)" all daemons || exit 1
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

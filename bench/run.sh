#!/usr/bin/env bash
# make bench: build, install into a private copy of PostgreSQL, start a
# cluster tuned for measuring CPU cost (no fsync wait), and run every
# benchmark in bench/*/run.sh.  Each prints its baseline ratios.
# BENCH_ONLY=<name> runs one of them.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
source scripts/lib.sh

scripts/deps.sh bench
run_unprivileged "$here" bench/run.sh

# as in make check: only the commands scripts/deps.sh lists
scripts/deps.sh bench --path "$here/tmp_bench_bin"
export PATH=$here/tmp_bench_bin

make -s -j"$(nproc)" all daemons
make_temp_install "$here/tmp_install"
start_cluster "$here/tmp_bench_cluster" <<EOF2
shared_preload_libraries = 'reflexo'
shared_buffers = '1GB'
synchronous_commit = off
max_wal_size = '8GB'
checkpoint_timeout = '30min'
max_connections = 100
EOF2
trap 'stop_cluster "$here/tmp_bench_cluster"' EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(postgres --version)"
for bench in bench/*/run.sh; do
	name=$(basename "$(dirname "$bench")")
	[[ -n ${BENCH_ONLY:-} && $BENCH_ONLY != "$name" ]] && continue
	echo
	echo "+++ bench: $name +++"
	"$bench"
done

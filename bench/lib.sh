# bench/lib.sh — helpers shared by the benchmarks (bench/*/run.sh).  Source it.

# The median of the numbers given.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Background processes a benchmark starts go into pids; they are stopped
# when the script exits, however it exits.
pids=()
stop_background() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap stop_background EXIT

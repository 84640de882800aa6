#!/usr/bin/env bash
# Push benchmark: reflexo-sync carrying appointments to ghl-sim, in one run:
#  1. throughput: BENCH_PUSH_ROWS (5000) appointments committed at once, until
#     GHL has acknowledged every one and its id is written back; against
#     graphile-worker (npm) doing the same job with the same request;
#  2. commit-to-push latency at a light load (20 appointments/s, one each),
#     p50 and p99, for both, each running alone;
#  3. 50 locations with GHL's real limits (100 requests per 10 s each) and
#     100 ms of latency on every call: sustained pushes per second as a
#     fraction of the ceiling (500/s), 429s received, and the daemon's RSS.
# Expects PGHOST/PGPORT of a running cluster with reflexo installed, and the
# daemon built (make).
set -euo pipefail
[[ -n ${BENCH_TRACE:-} ]] && set -x
source "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"

rows=${BENCH_PUSH_ROWS:-5000}
rounds=${BENCH_ROUNDS:-3}
inflight=${BENCH_PUSH_INFLIGHT:-64}
light_seconds=${BENCH_PUSH_LIGHT_SECONDS:-10}
locations=${BENCH_PUSH_LOCATIONS:-50}
many_inflight=${BENCH_PUSH_MANY_INFLIGHT:-256}
ceiling_seconds=${BENCH_PUSH_CEILING_SECONDS:-40}
work=${BENCH_PUSH_WORK:-$root/tmp_bench_push}
sim_bin=$root/daemon/build/ghl-sim
sync_bin=$root/daemon/build/reflexo-sync
key=$(openssl rand -base64 32)
rm -rf "$work"
mkdir -p "$work"


# graphile-worker, as pinned by package-lock.json
if [[ ! -d graphile/node_modules/graphile-worker ]]; then
	(cd graphile && npm ci --no-audit --no-fund --loglevel=error)
fi

# ghl-sim on a random port; on a busy machine another process may take it
# between the choice and the bind, so a sim that cannot listen is started
# again on another port
start_sim() {
	local port
	for _ in $(seq 10); do
		port=$((20000 + RANDOM % 20000))
		"$sim_bin" --listen "127.0.0.1:$port" --keys-dir "$work/keys" --no-api-webhooks --log-level warn "$@" \
			2>>"$work/ghl-sim.log" &
		pids+=($!)
		sim="http://127.0.0.1:$port"
		for _ in $(seq 400); do
			curl -sf "$sim/_sim/state" >/dev/null && return
			kill -0 "${pids[-1]}" 2>/dev/null || break
			sleep 0.05
		done
		stop_last
	done
	echo "ghl-sim did not start:" >&2
	cat "$work/ghl-sim.log" >&2
	return 1
}

stop_last() {
	kill "${pids[-1]}" 2>/dev/null || true
	wait "${pids[-1]}" 2>/dev/null || true
	unset 'pids[-1]'
}

control() { curl -sf -X "$1" -H 'Content-Type: application/json' "$sim/_sim/$2" ${3:+-d "$3"}; }

new_db() {
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
	psql -X -q -d "$1" -c "CREATE EXTENSION reflexo"
}

url_of() { echo "postgresql:///$1?host=$PGHOST&port=$PGPORT&user=${PGUSER:-postgres}"; }

# reflexo-sync for database $1, with extra KEY=VALUE settings
start_sync() {
	local db=$1
	shift
	env DATABASE_URL="$(url_of "$db")" GHL_API_BASE="$sim" REFLEXO_TOKEN_KEY="$key" \
		REFLEXO_HTTP_ADDR="127.0.0.1:0" REFLEXO_LOG_LEVEL=warn REFLEXO_MAX_INFLIGHT="$inflight" \
		"$@" "$sync_bin" 2>>"$work/reflexo-sync.log" &
	pids+=($!)
}

store_token() {
	env DATABASE_URL="$(url_of "$1")" REFLEXO_TOKEN_KEY="$key" GHL_LOCATION_ID="$2" GHL_ACCESS_TOKEN="$3" \
		REFLEXO_LOG_LEVEL=warn "$sync_bin" --store-token
}

start_graphile() {
	(cd graphile && DATABASE_URL="$(url_of "$1")" GHL_API_BASE="$sim" GHL_TOKEN="$2" CONCURRENCY="$inflight" \
		exec node worker.mjs >>"$work/graphile.log" 2>&1) &
	pids+=($!)
}

wait_for() {
	local db=$1 query=$2 want=$3 seconds=${4:-300}
	local deadline=$((SECONDS + seconds))
	until [[ $(psql -X -Atq -d "$db" -c "$query") == "$want" ]]; do
		((SECONDS < deadline)) || { echo "timed out waiting for $query = $want" >&2; return 1; }
		sleep 0.05
	done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# ------------------------------------------------------- 1 and 2: one location
start_sim --rate-limit 1000000 --rate-interval-ms 1000 --daily-limit 100000000
location=SimLocation000000001
token=$(control POST tokens '{"kind": "pit"}' | jq -r .access_token)
calendars=$(curl -sf -H "Authorization: Bearer $token" -H 'Version: 2021-04-15' \
	"$sim/calendars/?locationId=$location")

new_db bench_push_reflexo
psql -X -q -d bench_push_reflexo -v ON_ERROR_STOP=1 -v calendars="$calendars" -f setup_reflexo.sql >/dev/null
store_token bench_push_reflexo "$location" "$token"
new_db bench_push_graphile
psql -X -q -d bench_push_graphile -v ON_ERROR_STOP=1 -f graphile/schema.sql

start_sync bench_push_reflexo
start_graphile bench_push_graphile "$token"
wait_for bench_push_graphile "SELECT to_regclass('graphile_worker._private_jobs') IS NOT NULL" t 60
sleep 1

# throughput: commit N, then wait until every one is acknowledged and written
# back; rounds interleave the two pushers, the median is reported
drain() {
	local db=$1 first=$2 done_query=$3 last_query=$4 t0
	t0=$(psql -X -Atq -d "$db" -c "SELECT bench_book($rows, $first)" \
		-c "SELECT extract(epoch FROM clock_timestamp())" | tail -1)
	wait_for "$db" "$done_query" "$rows" 600
	psql -X -Atq -d "$db" -c "SELECT round($rows / (extract(epoch FROM ($last_query)) - $t0))"
}
reflexo_rates=()
graphile_rates=()
for ((round = 0; round < rounds; round++)); do
	psql -X -q -d bench_push_reflexo -c "TRUNCATE reflexo.appointments, reflexo.outbox, reflexo.appointment_history"
	psql -X -q -d bench_push_graphile -c "TRUNCATE bench_appointments"
	reflexo_rates+=("$(drain bench_push_reflexo $((round * rows)) \
		"SELECT count(*) FROM reflexo.outbox WHERE state = 'done'" "SELECT max(completed_at) FROM reflexo.outbox")")
	graphile_rates+=("$(drain bench_push_graphile $((round * rows)) \
		"SELECT count(ghl_appointment_id) FROM bench_appointments" "SELECT max(pushed_at) FROM bench_appointments")")
done
reflexo_rate=$(median "${reflexo_rates[@]}")
graphile_rate=$(median "${graphile_rates[@]}")
sim_count=$(control GET state | jq '.appointment_count')

echo "throughput: $rows appointments committed at once, $inflight requests in flight at most, ghl-sim without latency;"
echo "median of $rounds interleaved rounds (reflexo-sync: ${reflexo_rates[*]}; graphile-worker: ${graphile_rates[*]})"
printf '| pusher | appointments/s (commit → GHL → written back) | vs graphile-worker |\n|---|---|---|\n'
printf '| graphile-worker %s, concurrency %s | %.0f | 1.00 |\n' \
	"$(jq -r .version graphile/node_modules/graphile-worker/package.json)" "$inflight" "$graphile_rate"
printf '| reflexo-sync | %.0f | **%s** |\n' "$reflexo_rate" "$(ratio "$reflexo_rate" "$graphile_rate")"
echo "(ghl-sim holds $sim_count appointments: $((2 * rows * rounds)) expected)"

# latency: one appointment per transaction, 20 per second
light() {
	local db=$1 script=$2
	pgbench -n -c 1 -R 20 -T "$light_seconds" -f "$script" "$db" >/dev/null 2>>"$work/pgbench.log" || { cat "$work/pgbench.log" >&2; return 1; }
}
psql -X -q -d bench_push_reflexo -c "TRUNCATE reflexo.appointments, reflexo.outbox, reflexo.appointment_history"
psql -X -q -d bench_push_graphile -c "TRUNCATE bench_appointments"
# each pusher alone: an idle graphile-worker closes its pool's idle connections
# ten seconds after its last job, and dozens of backends exiting together stall
# a two-core machine for a few hundred milliseconds, which would land in the
# other pusher's p99
stop_last
light bench_push_reflexo light.sql
wait_for bench_push_reflexo "SELECT count(*) FROM reflexo.outbox WHERE state <> 'done'" 0 60
stop_last
start_graphile bench_push_graphile "$token"
# ready when it listens for new jobs (else the first ones wait for its 2 s poll)
wait_for bench_push_graphile "SELECT count(*) > 0 FROM pg_stat_activity
  WHERE datname = 'bench_push_graphile' AND query LIKE 'LISTEN%'" t 60
light bench_push_graphile light.sql
sleep 2
latency() {
	psql -X -Atq -d "$1" -F ' ' -c "SELECT count(*),
	  round((1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM $2)))::numeric, 1),
	  round((1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM $2)))::numeric, 1) FROM $3"
}
read -r rn rp50 rp99 <<<"$(latency bench_push_reflexo "completed_at - created_at" "reflexo.outbox WHERE state = 'done'")"
read -r gn gp50 gp99 <<<"$(latency bench_push_graphile "pushed_at - created_at" "bench_appointments WHERE pushed_at IS NOT NULL")"
rc=$(psql -X -Atq -d bench_push_reflexo -c "SELECT count(*) FROM reflexo.outbox")
gc=$(psql -X -Atq -d bench_push_graphile -c "SELECT count(*) FROM bench_appointments")
echo
echo "latency: one appointment per transaction, 20/s for ${light_seconds}s (commit → GHL acknowledged → written back)"
printf '| pusher | pushed of committed | p50 (ms) | p99 (ms) |\n|---|---|---|---|\n'
printf '| graphile-worker | %s of %s | %s | %s |\n' "$gn" "$gc" "$gp50" "$gp99"
printf '| reflexo-sync | %s of %s | %s | %s |\n' "$rn" "$rc" "$rp50" "$rp99"
stop_last
stop_last

# ------------------------------------------ 3: many locations at GHL's limits
# the seed: $locations locations, each with two calendars and a private token
seed=$(psql -X -Atq -d postgres -v n="$locations" -f seed_locations.sql)
echo "$seed" >"$work/seed.json"
start_sim --seed "$work/seed.json" --rate-limit 100 --rate-interval-ms 10000 \
	--faults '{"latency_ms": 100}'
new_db bench_push_many
psql -X -q -d bench_push_many -v ON_ERROR_STOP=1 -v calendars='[]' -f setup_reflexo.sql >/dev/null
psql -X -q -d bench_push_many -v ON_ERROR_STOP=1 -v seed="$seed" >/dev/null <<'SQL'
SELECT reflexo.ensure_location(l ->> 'id'), reflexo.upsert_ghl_calendars(l ->> 'id', l -> 'calendars')
  FROM jsonb_array_elements((:'seed')::jsonb -> 'locations') l;
SQL
for l in $(jq -r '.locations[].id' "$work/seed.json"); do
	store_token bench_push_many "$l" "token-$l"
done
run_seconds=$((ceiling_seconds + 10))
per_location=$((run_seconds * 10 + 300))
psql -X -q -d bench_push_many -c "SELECT bench_book_everywhere($per_location)" >/dev/null
# 50 locations × 10/s × 100 ms is 50 requests in flight at the ceiling; the
# opening bursts (100 per location) want more
start_sync bench_push_many REFLEXO_MAX_INFLIGHT="$many_inflight"
sync_pid=${pids[-1]}
done_rows() { psql -X -Atq -d bench_push_many -c "SELECT count(*) FROM reflexo.outbox WHERE state = 'done'"; }
# GHL allows each location 100 at once (its bucket starts full) plus 10 per second
rss=0
for ((second = 1; second <= run_seconds; second++)); do
	sleep 1
	((second == 10)) && first=$(done_rows)
	now_rss=$(awk '/VmRSS/ { print $2 }' "/proc/$sync_pid/status")
	((now_rss > rss)) && rss=$now_rss
done
last=$(done_rows)
limited=$(control GET state | jq '[.rate_limited[]] | add')
allowed=$((locations * (100 + 10 * run_seconds)))
rate=$(awk -v a="$first" -v b="$last" -v s="$ceiling_seconds" 'BEGIN { printf "%.1f", (b - a) / s }')
echo
echo "$locations locations, 100 requests per 10 s each, 100 ms latency on every call, a backlog of $per_location each,"
echo "REFLEXO_MAX_INFLIGHT=$many_inflight"
printf '| measure | value |\n|---|---|\n'
printf '| pushed in %ss (GHL allows %s: 100 at once + 10/s per location) | %s |\n' "$run_seconds" "$allowed" "$last"
printf '| fraction of what GHL allows | **%s** |\n' "$(ratio "$last" "$allowed")"
printf '| pushes/s from 10 s to %ss (ceiling %s/s; bursts left over can add) | %s |\n' "$run_seconds" \
	"$((locations * 10))" "$rate"
printf '| 429 answers from GHL | **%s** |\n' "$limited"
printf '| reflexo-sync peak RSS | **%.1f MB** |\n' "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"

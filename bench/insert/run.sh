#!/usr/bin/env bash
# Insert benchmark for the booking guard, all variants in one run on one
# cluster (see setup.sql).  Prints:
#  1. insert throughput, median of BENCH_ROUNDS interleaved rounds of
#     BENCH_SECONDS with BENCH_CLIENTS clients, and the guard's ratio to each;
#  2. guarded insert latency with 10k and with 1M existing appointments.
# Expects PGHOST/PGPORT of a running cluster with reflexo installed.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"
cd "$(dirname "$0")"

db=reflexo_bench_insert
seconds=${BENCH_SECONDS:-10}
rounds=${BENCH_ROUNDS:-3}
clients=${BENCH_CLIENTS:-2}
latency_inserts=${BENCH_LATENCY_INSERTS:-4000}
variants=(full guard plain plpgsql exclusion)
declare -A table=([full]=reflexo.appointments [guard]=reflexo.appointments [plain]=bench.plain
                  [plpgsql]=bench.plpgsql [exclusion]=bench.exclusion)
# "guard" is the rules alone; "full" adds the outbox and history triggers, as in production
declare -A sync_triggers=([full]=ENABLE [guard]=DISABLE [plain]=DISABLE [plpgsql]=DISABLE [exclusion]=DISABLE)

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 -f setup.sql >/dev/null

scripts=$(mktemp -d)
trap 'rm -rf "$scripts"; stop_background' EXIT
for v in "${variants[@]}"; do
	sed "s/TABLE_NAME/${table[$v]}/" insert.sql >"$scripts/$v.sql"
	sed "s/TABLE_NAME/${table[$v]}/" insert_between.sql >"$scripts/${v}_between.sql"
done

# Empties a variant's table and bulk-loads <rows> valid appointments of the
# past year (even hours of each calendar), so plans and indexes are those of
# a clinic with history; new bookings then go after them or between them.
load() {
	local v=$1 rows=$2 first=$3
	psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<SQL
ALTER TABLE reflexo.appointments ${sync_triggers[$v]} TRIGGER appointments_outbox,
                                 ${sync_triggers[$v]} TRIGGER appointments_history;
TRUNCATE ${table[$v]}, reflexo.outbox, reflexo.appointment_history;
SET session_replication_role = replica; -- valid by construction: skip triggers
INSERT INTO ${table[$v]} (location_id, calendar_id, assigned_user_id, title, starts_at, ends_at)
SELECT 1, 1 + g % 200, 'therapist-' || (g % 200), 'existing', t, t + interval '45 minutes'
FROM (SELECT g, timestamptz '$first' + (g / 200) * interval '2 hours' AS t
      FROM generate_series(0, $rows - 1) g) s;
RESET session_replication_role;
ALTER SEQUENCE bench.slot RESTART;
VACUUM ANALYZE ${table[$v]};
CHECKPOINT;
SQL
}


echo "insert throughput: $clients clients, ${seconds}s x $rounds interleaved rounds, pgbench -M prepared, 100k existing rows"
declare -A samples
for ((r = 1; r <= rounds; r++)); do
	for v in "${variants[@]}"; do
		load "$v" 100000 '2026-01-05 00:00-05'
		tps=$(pgbench -n -M prepared -c "$clients" -j "$clients" -T "$seconds" -f "$scripts/$v.sql" "$db" |
			awk '/^tps/ { print $3 }')
		samples[$v]+="$tps "
	done
done

# Rounds are interleaved, so a round's variants ran minutes apart at most:
# the median of the per-round ratios resists the machine's drift (its speed
# moves by tens of percent over a run) better than the ratio of medians.
declare -A best
printf '| variant | inserts/s (median) | samples | guard ÷ variant (medians) | guard ÷ variant (median of rounds) |\n'
printf '|---|---|---|---|---|\n'
for v in "${variants[@]}"; do
	# shellcheck disable=SC2086
	best[$v]=$(median ${samples[$v]})
done
for v in "${variants[@]}"; do
	ratio=$(awk -v g="${best[guard]}" -v x="${best[$v]}" 'BEGIN { printf "%.2f", g / x }')
	# shellcheck disable=SC2086
	paired=$(median $(paste -d' ' <(printf '%s\n' ${samples[guard]}) <(printf '%s\n' ${samples[$v]}) |
		awk '{ printf "%.3f\n", $1 / $2 }'))
	printf '| %s | %.0f | %s| %s | %.2f |\n' "$v" "${best[$v]}" "${samples[$v]}" "$ratio" "$paired"
done

echo
echo "insert latency by table size: 1 client, $latency_inserts inserts between existing appointments"
printf '| variant | existing rows | latency avg (ms) |\n|---|---|---|\n'
declare -A latency
for size in 10000 1000000; do
	for v in full guard plain; do
		load "$v" "$size" '2027-01-04 00:00-05'
		ms=$(pgbench -n -M prepared -c 1 -t "$latency_inserts" -D slots=$((size / 200)) \
			-f "$scripts/${v}_between.sql" "$db" | awk '/^latency average/ { print $4 }')
		latency[$v$size]=$ms
		printf '| %s | %d | %s |\n' "$v" "$size" "$ms"
	done
done
awk -v a="${latency[guard10000]}" -v b="${latency[guard1000000]}" \
	'BEGIN { printf "\nguard latency at 1M / at 10k: %.2f\n", b / a }'

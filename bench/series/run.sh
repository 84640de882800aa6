#!/usr/bin/env bash
# Treatment series and free slots per therapist (see setup.sql).  Prints:
#  1. a 10-session series (reflexo.book_series: the rule expanded, ten
#     guarded inserts, outbox and history) against the same ten bookings as
#     single INSERTs in one transaction: median of BENCH_ROUNDS interleaved
#     rounds of BENCH_SECONDS, 1 client (target: series ÷ singles <= 1.5 in time);
#  2. a month of one therapist's free slots on one calendar, reflexo.free_slots
#     in C against the same question in SQL (target: >= 10x).
# Expects PGHOST/PGPORT of a running cluster with reflexo installed.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"
cd "$(dirname "$0")"

db=reflexo_bench_series
seconds=${BENCH_SECONDS:-10}
rounds=${BENCH_ROUNDS:-3}

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 -f setup.sql >/dev/null

# the series books what the singles book: ten weekday sessions at 10:00
check=$(psql -X -qAt -d "$db" -v ON_ERROR_STOP=1 <<'SQL'
SELECT reflexo.book_series(1 + n % 200, bench.series_start(n), 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10',
                           '45 minutes', 'therapist-' || (1 + n % 200)) ->> 'occurrences'
  FROM nextval('bench.slot') n;
SELECT string_agg(to_char(starts_at AT TIME ZONE 'America/Lima', 'Dy DD HH24:MI'), ' ' ORDER BY starts_at)
  FROM reflexo.appointments, currval('bench.slot') n
 WHERE calendar_id = 1 + n % 200 AND starts_at >= bench.series_start(n);
SQL
)
echo "one series, as booked: $(echo "$check" | tr '\n' ' ')"
diff=$(psql -X -qAt -d "$db" -c "SELECT count(*) FROM (
    (SELECT * FROM reflexo.free_slots(3, '2026-03-02 00:00-05', '2026-04-02 00:00-05', NULL, 'therapist-3')
     EXCEPT SELECT * FROM bench.free_slots_sql(3, '2026-03-02 00:00-05', '2026-04-02 00:00-05', 'therapist-3'))
    UNION ALL
    (SELECT * FROM bench.free_slots_sql(3, '2026-03-02 00:00-05', '2026-04-02 00:00-05', 'therapist-3')
     EXCEPT SELECT * FROM reflexo.free_slots(3, '2026-03-02 00:00-05', '2026-04-02 00:00-05', NULL, 'therapist-3'))) d")
[[ $diff == 0 ]] || { echo "free slots per therapist: C and SQL disagree on $diff slots" >&2; exit 1; }
echo "free slots per therapist: C and SQL agree ($(psql -X -qAt -d "$db" -c "SELECT count(*) FROM reflexo.free_slots(3,
  '2026-03-02 00:00-05', '2026-04-02 00:00-05', NULL, 'therapist-3')") slots of therapist-3 on calendar 3 in March)"

declare -A samples
variants=(singles series slots_sql slots_c)
for ((r = 1; r <= rounds; r++)); do
	for v in "${variants[@]}"; do
		tps=$(pgbench -n -M prepared -c 1 -j 1 -T "$seconds" -f "$v.sql" "$db" | awk '/^tps/ { print $3 }')
		samples[$v]+="$tps "
	done
done
declare -A best
for v in "${variants[@]}"; do
	# shellcheck disable=SC2086
	best[$v]=$(median ${samples[$v]})
done
echo
echo "1 client, pgbench -M prepared, ${seconds}s x $rounds interleaved rounds"
printf '| what | per second (median) | samples |\n|---|---|---|\n'
for v in "${variants[@]}"; do
	printf '| %s | %.1f | %s|\n' "$v" "${best[$v]}" "${samples[$v]}"
done
awk -v a="${best[singles]}" -v b="${best[series]}" -v c="${best[slots_sql]}" -v d="${best[slots_c]}" 'BEGIN {
	printf "\nseries ÷ 10 single inserts in one transaction, in time: %.2f (target <= 1.5)\n", a / b
	printf "free slots per therapist, C ÷ SQL: %.1fx (target >= 10)\n", d / c }'

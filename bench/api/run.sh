#!/usr/bin/env bash
# API benchmark: what going through schema api (PostgREST's transaction:
# BEGIN, one statement setting the role and the claims, the query, COMMIT;
# row-level security, the citas view and its
# INSTEAD OF trigger; each also pipelined in one round trip, as reflexo-api
# sends a request) costs against doing the same directly on the core
# tables as a superuser; and free_slots in C against the same question
# asked in SQL.  Median of BENCH_ROUNDS interleaved rounds of
# BENCH_SECONDS with BENCH_CLIENTS clients.  Expects PGHOST/PGPORT of a
# running cluster with reflexo installed.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"
cd "$(dirname "$0")"

db=reflexo_bench_api
seconds=${BENCH_SECONDS:-10}
rounds=${BENCH_ROUNDS:-3}
clients=${BENCH_CLIENTS:-2}
groups=("insert_direct insert_api insert_api_pipelined" "list_direct list_api list_api_pipelined list_api_location"
        "slots_sql slots_c")
declare -A label=(
	[insert_direct]="INSERT into reflexo.appointments (superuser)"
	[insert_api]="INSERT into api.citas as staff (PostgREST's transaction)"
	[insert_api_pipelined]="the same in one round trip (pipelined, as reflexo-api sends it)"
	[list_direct]="a week of a location's citas, first 20, joined directly (superuser)"
	[list_api]="the same from api.citas as staff (row-level security)"
	[list_api_pipelined]="the same in one round trip (pipelined, as reflexo-api sends it)"
	[list_api_location]="the same from api.citas with location_id=eq.1"
	[slots_sql]="a week of free slots in SQL (generate_series + checks)"
	[slots_c]="a week of free slots, reflexo.free_slots (C)")

# each *_pipelined workload is its script with the transaction in one pipeline
scripts=$(mktemp -d)
trap 'rm -rf "$scripts"; stop_background' EXIT
for w in insert_api list_api; do
	sed -e 's/^BEGIN;/\\startpipeline\nBEGIN;/' -e 's/^COMMIT;/COMMIT;\n\\endpipeline/' "$w.sql" >"$scripts/${w}_pipelined.sql"
done
script_of() { [[ -f $1.sql ]] && echo "$1.sql" || echo "$scripts/$1.sql"; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 -f setup.sql >/dev/null
psql -X -q -d "$db" -c "SELECT reflexo.set_jwt_secret('bench-secret-longer-than-32-characters-000')"

# the two free-slot implementations must agree before they are compared
diff=$(psql -X -At -d "$db" -c "
  SELECT count(*) FROM (
    (SELECT * FROM reflexo.free_slots(3, '2026-03-02 00:00-05', '2026-03-09 00:00-05')
     EXCEPT SELECT * FROM bench.free_slots_sql(3, '2026-03-02 00:00-05', '2026-03-09 00:00-05'))
    UNION ALL
    (SELECT * FROM bench.free_slots_sql(3, '2026-03-02 00:00-05', '2026-03-09 00:00-05')
     EXCEPT SELECT * FROM reflexo.free_slots(3, '2026-03-02 00:00-05', '2026-03-09 00:00-05'))) d")
[[ $diff == 0 ]] || { echo "free slots: C and SQL disagree on $diff slots" >&2; exit 1; }


declare -A samples latency
for ((r = 1; r <= rounds; r++)); do
	for group in "${groups[@]}"; do
		for w in $group; do
			# the inserts of the previous runs add rows: plan with current statistics
			psql -X -q -d "$db" -c "VACUUM ANALYZE reflexo.appointments"
			out=$(pgbench -n -M prepared -c "$clients" -j "$clients" -T "$seconds" -f "$(script_of "$w")" "$db")
			samples[$w]+="$(awk '/^tps/ { print $3 }' <<<"$out") "
			latency[$w]+="$(awk '/^latency average/ { print $4 }' <<<"$out") "
		done
	done
done

echo "API: $clients clients, ${seconds}s x $rounds interleaved rounds, 100k appointments in 20 locations"
printf '| workload | per second (median) | latency ms | samples | vs baseline |\n|---|---|---|---|---|\n'
for group in "${groups[@]}"; do
	read -r base _ <<<"$group"
	# shellcheck disable=SC2086
	b=$(median ${samples[$base]})
	for w in $group; do
		# shellcheck disable=SC2086
		m=$(median ${samples[$w]}) l=$(median ${latency[$w]})
		printf '| %s | %.0f | %s | %s| %s |\n' "${label[$w]}" "$m" "$l" "${samples[$w]}" \
			"$(awk -v m="$m" -v b="$b" 'BEGIN { printf "%.2f", m / b }')"
	done
done

# a login's cost is PBKDF2's, by design
psql -X -q -d "$db" -c "SELECT api.create_user('bench', 'bench-password-1', 'staff', '{1}')" >/dev/null
login=$scripts/login.sql
echo "SELECT api.login('bench', 'bench-password-1');" >"$login"
out=$(pgbench -n -c 1 -T "$seconds" -f "$login" "$db")
echo "api.login (PBKDF2-SHA256, 600,000 iterations): $(awk '/^latency average/ { print $4 }' <<<"$out") ms per login, one core"

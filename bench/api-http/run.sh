#!/usr/bin/env bash
# HTTP API benchmark, wrk over loopback: a page of citas, one cita, and a
# new booking, through reflexo-api, against
#   - the ceiling: the same statements reflexo-api sends (taken from the
#     server's log), pipelined the same way, straight over libpq (pgbench);
#   - the Django service's stack rebuilt idiomatically from Debian's packages
#     (Django 3.2, DRF with simplejwt, gunicorn with 2 x cores + 1 workers,
#     psycopg2 with persistent connections, a ModelViewSet with
#     PageNumberPagination, the overlap check in the serializer).
# Then the same double-booking storm through both, and reflexo-api's peak
# memory.  Both hold 10,000 citas over a year.  "list" is the guide's own
# query (a month of scheduled citas, a page of 10); "list all" pages through
# every cita unfiltered; "create" books one calendar per wrk thread (the hot
# calendar, serialized by the guard), "create_spread" all sixteen in turn.  Expects PGHOST/PGPORT of a running
# cluster with reflexo installed, the daemons built (make daemons), and its
# server log at $PGHOST/server.log (bench/run.sh's cluster).
set -euo pipefail
[[ -n ${BENCH_TRACE:-} ]] && set -x
source "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"

seconds=${BENCH_SECONDS:-10}
rounds=${BENCH_ROUNDS:-3}
connections=${BENCH_HTTP_CONNECTIONS:-16}
storm=${BENCH_HTTP_STORM:-40}
work=${BENCH_HTTP_WORK:-$root/tmp_bench_http}
db=bench_http
django_db=bench_http_django
secret=bench-http-secret-that-is-longer-than-32-chars
api_port=${BENCH_API_PORT:-18100}
django_port=${BENCH_DJANGO_PORT:-18101}
workers=$((2 * $(nproc) + 1))
rm -rf "$work"
mkdir -p "$work"

# ---------------------------------------------------------------- data
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS $django_db" \
	-c "CREATE DATABASE $db" -c "CREATE DATABASE $django_db"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE EXTENSION reflexo;
SELECT reflexo.set_jwt_secret('$secret');
SET reflexo.password_iterations = 1000;
INSERT INTO reflexo.locations (ghl_location_id, name, timezone, open_hours)
VALUES ('BenchLocation', 'Reflexo Lima', 'America/Lima', '00:00-24:00');
INSERT INTO reflexo.calendars (location_id, ghl_calendar_id, name)
SELECT l.id, 'cal-' || n, 'Calendario ' || n FROM reflexo.locations l, generate_series(0, 15) n
UNION ALL SELECT l.id, 'cal-ceiling', 'Techo' FROM reflexo.locations l
UNION ALL SELECT l.id, 'cal-storm', 'Tormenta' FROM reflexo.locations l;
SET session_replication_role = replica;   -- history, as stored: no outbox
INSERT INTO reflexo.appointments (location_id, calendar_id, title, contact_id, status, starts_at, ends_at, sync_state)
SELECT c.location_id, c.id, 'Cita ' || g, 'contact-' || g % 500, 'scheduled', t, t + interval '45 minutes', 'synced'
  FROM generate_series(1, 10000) g
  JOIN reflexo.calendars c ON c.ghl_calendar_id = 'cal-' || g % 16
 CROSS JOIN LATERAL (SELECT timestamptz '2026-01-05 08:00-05' + (g / 16) * interval '14 hours' AS t) s;
RESET session_replication_role;
SELECT api.create_user('bench', 'bench-password-1', 'staff', ARRAY(SELECT id FROM reflexo.locations));
CREATE SEQUENCE bench_slot;
GRANT USAGE ON SEQUENCE bench_slot TO reflexo_staff;
-- the ceiling's login: it prepares the statements up front (pgbench -M
-- prepared), so it must see schema api itself; then it switches roles as
-- reflexo-api's login does
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_ceiling') THEN
    CREATE ROLE bench_ceiling LOGIN IN ROLE reflexo_staff, reflexo_admin, reflexo_anon;
  END IF;
END \$\$;
VACUUM ANALYZE;
SQL
detail_id=$(psql -X -At -d "$db" -c "SELECT id FROM reflexo.appointments ORDER BY id LIMIT 1 OFFSET 5000")

export DJANGO_DB=$django_db
/usr/bin/python3 django/manage.py migrate -v 0
psql -X -q -d "$django_db" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
INSERT INTO citas_cita (title, contact_id, ghl_calendar_id, start_time, end_time, status, sync_status, created_at, updated_at)
SELECT 'Cita ' || g, 'contact-' || g % 500, 'cal-' || g % 16, t, t + interval '45 minutes', 'scheduled', 'synced', now(), now()
  FROM generate_series(1, 10000) g
 CROSS JOIN LATERAL (SELECT timestamptz '2026-01-05 08:00-05' + (g / 16) * interval '14 hours' AS t) s;
VACUUM ANALYZE;
SQL
/usr/bin/python3 django/manage.py shell -c \
	"from django.contrib.auth.models import User; User.objects.create_user('bench', password='bench-password-1')"
django_detail=$(psql -X -At -d "$django_db" -c "SELECT id FROM citas_cita ORDER BY id LIMIT 1 OFFSET 5000")

# ---------------------------------------------------------------- servers
start_api() {    # sets api_pid
	DATABASE_URL="host=$PGHOST port=$PGPORT dbname=$db user=reflexo_authenticator" \
		JWT_SECRET=$secret REFLEXO_API_ADDR=127.0.0.1:$api_port REFLEXO_LOG_LEVEL=warn \
		REFLEXO_API_DB_CONNECTIONS=$workers "$root/daemon/build/reflexo-api" >/dev/null 2>>"$work/reflexo-api.log" &
	api_pid=$!
	pids+=("$api_pid")
	for _ in $(seq 100); do curl -fs "http://127.0.0.1:$api_port/readyz" >/dev/null && return; sleep 0.1; done
}
login() {
	curl -fs -X POST "$1/api/architect/login/" -H 'Content-Type: application/json' \
		-d '{"username": "bench", "password": "bench-password-1"}' | jq -r .access
}
api=http://127.0.0.1:$api_port
django=http://127.0.0.1:$django_port

# the ceiling's statements: one request of each kind, logged by the server,
# becomes a pgbench script (a reflexo-api of its own, every statement logged)
psql -X -q -d "$db" -c "ALTER ROLE reflexo_authenticator IN DATABASE $db SET log_statement = 'all'"
start_api
api_token=$(login "$api")
capture() {
	local name=$1 method=$2 path=$3 body=${4:-}
	local before
	before=$(wc -l <"$PGHOST/server.log")
	curl -s -o /dev/null -X "$method" "$api$path" -H "Authorization: Bearer $api_token" \
		${body:+-H 'Content-Type: application/json' -d "$body"}
	sleep 0.3
	tail -n +"$((before + 1))" "$PGHOST/server.log" >"$work/$name.log"
	./pipeline.pl "$work/$name.log" $([[ $name == create ]] && echo slot) >"$work/$name.sql"
}
month='/api/ghl/citas/?page=2&page_size=10&status=scheduled&desde=2026-03-01&hasta=2026-03-31'
capture list GET "$month"
capture list_all GET '/api/ghl/citas/?page=3&page_size=10'
capture detail GET "/api/ghl/citas/$detail_id/"
capture create POST /api/ghl/citas/ \
	'{"title": "Captura", "contact_id": "bench", "ghl_calendar_id": "cal-0", "start_time": "2040-01-02T15:00:00Z", "end_time": "2040-01-02T16:00:00Z"}'
./pipeline.pl "$work/create.log" spread >"$work/create_spread.sql"
kill "$api_pid"
wait "$api_pid" 2>/dev/null || true
psql -X -q -d "$db" -c "ALTER ROLE reflexo_authenticator IN DATABASE $db RESET log_statement"

start_api
(cd django && exec /usr/bin/gunicorn --workers "$workers" --bind "127.0.0.1:$django_port" --log-level warning \
	benchsite.wsgi) 2>>"$work/gunicorn.log" &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "$django/" && break; sleep 0.2; done
api_token=$(login "$api")
django_token=$(login "$django")
[[ $api_token != null && $django_token != null ]] || { echo "login failed" >&2; exit 1; }

# ---------------------------------------------------------------- runs
run_wrk() {    # url script token [script argument] -> "requests/s p99_ms non2xx"
	wrk -t 2 -c "$connections" -d "${seconds}s" --latency -s "$2" "$1" -- "$3" ${4:+"$4"} >"$work/wrk.out" 2>&1
	grep '^refused' "$work/wrk.out" >>"$work/refused.log" || true
	awk '/^Requests\/sec/ { rps = $2 }
		/^ +99%/ { v = $2; if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 }
		           else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }; p99 = v }
		/Non-2xx/ { bad = $NF }
		END { printf "%.0f %.1f %d\n", rps, p99, bad + 0 }' "$work/wrk.out"
}
run_pgbench() {    # script -> transactions/s
	pgbench -n -M prepared -U bench_ceiling -c "$workers" -j 2 -T "$seconds" -f "$1" "$db" 2>&1 |
		awk '/^tps/ { printf "%.0f\n", $3 }'
}

declare -A rps p99 bad
for ((r = 1; r <= rounds; r++)); do
	# a fresh token each round: simplejwt's access tokens last 5 minutes
	api_token=$(login "$api") django_token=$(login "$django")
	for what in list list_all detail create create_spread; do
		spread=
		case $what in
			list) path=$month django_path=$path lua=get.lua ;;
			list_all) path='/api/ghl/citas/?page=3&page_size=10' django_path=$path lua=get.lua ;;
			detail) path=/api/ghl/citas/$detail_id/ django_path=/api/ghl/citas/$django_detail/ lua=get.lua ;;
			create) path=/api/ghl/citas/ django_path=$path lua=create.lua ;;
			create_spread) path=/api/ghl/citas/ django_path=$path lua=create.lua spread=spread ;;
		esac
		read -r a b c < <(run_wrk "$api$path" "$lua" "$api_token" $spread)
		rps[api_$what]+="$a " p99[api_$what]+="$b " bad[api_$what]=$((${bad[api_$what]:-0} + c))
		read -r a b c < <(run_wrk "$django$django_path" "$lua" "$django_token" $spread)
		rps[django_$what]+="$a " p99[django_$what]+="$b " bad[django_$what]=$((${bad[django_$what]:-0} + c))
		rps[ceiling_$what]+="$(run_pgbench "$work/$what.sql") "
		# bookings made by one round must not collide with the next round's
		if [[ $what == create* ]]; then
			psql -X -q -d "$db" -c "DELETE FROM reflexo.appointments WHERE title LIKE 'Bench%'" \
				-c "DELETE FROM reflexo.outbox" -c "VACUUM ANALYZE reflexo.appointments"
			psql -X -q -d "$django_db" -c "DELETE FROM citas_cita WHERE title LIKE 'Bench %'" -c "VACUUM ANALYZE citas_cita"
		fi
	done
done

# ---------------------------------------------------------------- the storm
# $storm clients book the same slot of one calendar at the same moment
storm() {    # base token -> rows stored in that slot
	seq "$storm" | xargs -P "$storm" -I{} curl -s -o /dev/null -X POST "$1/api/ghl/citas/" \
		-H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
		-d '{"title": "Tormenta {}", "ghl_calendar_id": "cal-storm", "start_time": "2031-06-02T15:00:00Z", "end_time": "2031-06-02T16:00:00Z"}'
}
api_token=$(login "$api") django_token=$(login "$django")
storm "$api" "$api_token"
storm "$django" "$django_token"
api_storm=$(psql -X -At -d "$db" -c "SELECT count(*) FROM reflexo.appointments WHERE title LIKE 'Tormenta %'")
django_storm=$(psql -X -At -d "$django_db" -c "SELECT count(*) FROM citas_cita WHERE title LIKE 'Tormenta %'")
rss_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$api_pid/status")

# ---------------------------------------------------------------- report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo "HTTP API: $connections connections (wrk -t 2), ${seconds}s x $rounds interleaved rounds, 10,000 citas;"
echo "Django: $workers gunicorn workers; reflexo-api and the ceiling (pgbench clients): $workers database connections"
printf '| request | reflexo-api req/s | p99 ms | ceiling (pgbench, same statements) tx/s | vs ceiling | Django req/s | p99 ms | reflexo ÷ Django req/s | p99 reflexo ÷ Django |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for what in list list_all detail create create_spread; do
	# shellcheck disable=SC2086
	a=$(median ${rps[api_$what]}) ap=$(median ${p99[api_$what]}) c=$(median ${rps[ceiling_$what]})
	# shellcheck disable=SC2086
	d=$(median ${rps[django_$what]}) dp=$(median ${p99[django_$what]})
	printf '| %s | %s | %s | %s | **%s** | %s | %s | **%s** | **%s** |\n' "$what" "$a" "$ap" "$c" "$(ratio "$a" "$c")" \
		"$d" "$dp" "$(ratio "$a" "$d")" "$(ratio "$ap" "$dp")"
done
echo
echo "samples (req/s): $(for k in "${!rps[@]}"; do printf '%s=[%s] ' "$k" "${rps[$k]% }"; done)"
[[ -s $work/refused.log ]] && echo "first refusals: $(sort "$work/refused.log" | uniq -c | head -5)"
echo "non-2xx answers: $(for k in "${!bad[@]}"; do printf '%s=%s ' "$k" "${bad[$k]}"; done)"
echo "double-booking storm, $storm clients on one slot: reflexo stored $api_storm, Django stored $django_storm"
echo "reflexo-api peak RSS: $((rss_kb / 1024)) MB ($rss_kb kB)"

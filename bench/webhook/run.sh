#!/usr/bin/env bash
# Webhook benchmark: GHL webhooks verified (Ed25519) and applied by
# reflexo-sync, driven by wrk over loopback, against the ceiling: the same
# bodies applied by calling reflexo.apply_ghl_webhook directly over SQL
# (pgbench), with the same number of clients.  Every webhook is a new
# appointment, into a table that already holds 50,000 (a year of a clinic).
# Expects PGHOST/PGPORT of a running cluster with reflexo installed, and the
# daemon built (make).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"

seconds=${BENCH_SECONDS:-10}
clients=${BENCH_WEBHOOK_CLIENTS:-16}
connections=${BENCH_WEBHOOK_DB_CONNECTIONS:-16}
requests=${BENCH_WEBHOOK_REQUESTS:-100000}
work=${BENCH_WEBHOOK_WORK:-$root/tmp_bench_webhook}
db=bench_webhook
rm -rf "$work"
mkdir -p "$work"


# a signing key of our own (the daemon is told its public half), and the requests
openssl genpkey -algorithm ed25519 -out "$work/key.pem" 2>/dev/null
openssl pkey -in "$work/key.pem" -pubout -out "$work/key.pub.pem"
cc -O2 -D_GNU_SOURCE -I"$root/daemon" -o "$work/sign" sign.c "$root/daemon/build/libcommon.a" \
	$(pkg-config --cflags --libs libcrypto libsodium jansson)
"$work/sign" "$work/key.pem" "$requests" BenchLocation01 BenchCalendarA BenchCalendarB >"$work/requests.tsv"
cut -f2 "$work/requests.tsv" | awk '{ print NR "\t" $0 }' >"$work/bodies.tsv"

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION reflexo;
SELECT reflexo.ensure_location('BenchLocation01');
SELECT reflexo.upsert_ghl_calendars('BenchLocation01', '[
  {"id": "BenchCalendarA", "name": "A", "isActive": true, "slotDuration": 30, "slotDurationUnit": "mins"},
  {"id": "BenchCalendarB", "name": "B", "isActive": true, "slotDuration": 30, "slotDurationUnit": "mins"}]');
CREATE TABLE bench_bodies (n bigint PRIMARY KEY, body jsonb NOT NULL);
CREATE SEQUENCE bench_next;
-- a year of history already there (2026, before the benchmark's slots), as a clinic has
SET session_replication_role = replica;
INSERT INTO reflexo.appointments (location_id, calendar_id, ghl_appointment_id, contact_id, title, status,
                                  starts_at, ends_at, sync_state, origin)
SELECT c.location_id, c.id, 'History' || g, 'contact-' || g % 5000, 'Cita', 'showed', t, t + interval '30 minutes',
       'synced', 'ghl'
  FROM generate_series(1, 50000) g
  JOIN reflexo.calendars c ON c.ghl_calendar_id = CASE WHEN g % 2 = 0 THEN 'BenchCalendarA' ELSE 'BenchCalendarB' END
 CROSS JOIN LATERAL (SELECT timestamptz '2026-01-05 08:00-05' + (g / 2) * interval '30 minutes' AS t) s;
RESET session_replication_role;
VACUUM ANALYZE;
SQL
psql -X -q -d "$db" -c "\\copy bench_bodies FROM '$work/bodies.tsv'"

# back to the history alone before each run.  No VACUUM ANALYZE here: right
# after one, connections opened before it (the daemon's pool) run
# apply_ghl_webhook markedly slower for a while, which fresh pgbench
# connections do not (see bench/RESULTS.md); the statistics from setup stand.
reset() {
	psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<'SQL'
DELETE FROM reflexo.appointments WHERE ghl_appointment_id LIKE 'BenchEvent%';
TRUNCATE reflexo.webhook_inbox, reflexo.webhook_stats, reflexo.appointment_history, reflexo.outbox;
ALTER SEQUENCE bench_next RESTART;
CHECKPOINT;
SQL
}

port=$((20000 + RANDOM % 20000))
env DATABASE_URL="postgresql:///$db?host=$PGHOST&port=$PGPORT&user=${PGUSER:-postgres}" \
	GHL_API_BASE=http://127.0.0.1:9 GHL_WEBHOOK_PUBLIC_KEY="$work/key.pub.pem" \
	REFLEXO_TOKEN_KEY="$(openssl rand -base64 32)" REFLEXO_HTTP_ADDR="127.0.0.1:$port" \
	REFLEXO_HTTP_DB_CONNECTIONS="$connections" REFLEXO_LOG_LEVEL=warn REFLEXO_CALENDAR_SYNC_SECONDS=0 REFLEXO_RECONCILE_SECONDS=0 \
	"$root/daemon/build/reflexo-sync" 2>>"$work/reflexo-sync.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
rounds=${BENCH_ROUNDS:-3}
ceilings=() ceiling_p99s=() rates=() p99s=() cpus=() busy_sql=() busy_http=()
for ((round = 0; round < rounds; round++)); do
	# the ceiling: the same bodies, straight into apply_ghl_webhook
	reset
	rm -f "$work"/pgbench.*
	b0=$(busy)
	pgbench -n -M prepared -c "$clients" -j 2 -T "$seconds" -f ceiling.sql -l --log-prefix="$work/pgbench" "$db" \
		>"$work/pgbench.out" 2>&1
	busy_sql+=($(( ($(busy) - b0) / seconds )))
	ceilings+=("$(awk '/^tps/ { printf "%.0f", $3 }' "$work/pgbench.out")")
	ceiling_p99s+=("$(cat "$work"/pgbench.* | awk '{ print $3 / 1000 }' | sort -g |
		awk '{ v[NR] = $1 } END { printf "%.1f", v[int(NR * 0.99)] }')")
	applied_sql=$(psql -X -Atq -d "$db" -c "SELECT count(*) FROM reflexo.appointments WHERE ghl_appointment_id LIKE 'BenchEvent%'")

	# through the daemon: signed, verified, applied, answered
	reset
	cpu_before=$(awk '{ print $14 + $15 }' "/proc/${pids[-1]}/stat")
	b0=$(busy)
	wrk -t 2 -c "$clients" -d "${seconds}s" --latency -s post.lua "http://127.0.0.1:$port" -- 2 "$work/requests.tsv" \
		>"$work/wrk.out" 2>&1
	busy_http+=($(( ($(busy) - b0) / seconds )))
	cpu_after=$(awk '{ print $14 + $15 }' "/proc/${pids[-1]}/stat")
	rates+=("$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$work/wrk.out")")
	p99s+=("$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) }
		else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 } printf "%.1f", v }' "$work/wrk.out")")
	non2xx=$(awk '/Non-2xx/ { print $NF }' "$work/wrk.out")
	applied_http=$(psql -X -Atq -d "$db" -c "SELECT count(*) FROM reflexo.appointments WHERE ghl_appointment_id LIKE 'BenchEvent%'")
	cpus+=("$(awk -v c=$((cpu_after - cpu_before)) -v n="$applied_http" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.0f", c / hz / n * 1e6 }')")
	[[ -z $non2xx ]] || { echo "non-2xx answers: $non2xx" >&2; exit 1; }
done
ceiling=$(median "${ceilings[@]}")
rate=$(median "${rates[@]}")

echo "webhooks: $clients clients, ${seconds}s each, every webhook a new appointment; daemon with $connections HTTP"
echo "database connections; median of $rounds interleaved rounds (SQL: ${ceilings[*]}; HTTP: ${rates[*]})"
printf '| path | webhooks/s | p99 (ms) | machine busy | vs ceiling |\n|---|---|---|---|---|\n'
printf '| apply_ghl_webhook over SQL (ceiling, pgbench -M prepared) | %s | %s | %s%% | 1.00 |\n' \
	"$ceiling" "$(median "${ceiling_p99s[@]}")" "$(median "${busy_sql[@]}")"
printf '| POST /webhooks/ghl: Ed25519 verified, applied, answered (wrk) | %s | %s | %s%% | **%s** |\n' \
	"$rate" "$(median "${p99s[@]}")" "$(median "${busy_http[@]}")" \
	"$(awk -v a="$rate" -v b="$ceiling" 'BEGIN { printf "%.2f", a / b }')"
echo "(reflexo-sync's own CPU per webhook: $(median "${cpus[@]}") µs; of $(nproc)00% machine; no non-2xx answers)"

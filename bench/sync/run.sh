#!/usr/bin/env bash
# Sync-core benchmark (see setup.sql), in one run on one cluster:
#  1. apply_ghl_webhook: new appointments per second, and redeliveries
#     (duplicates) per second, against inserting the same rows directly;
#  2. outbox claim + complete cycles per second from BENCH_SYNC_CLIENTS (4)
#     sessions, claiming one or ten rows at a time, against a textbook
#     FOR UPDATE SKIP LOCKED queue doing the same two transactions.
# Expects PGHOST/PGPORT of a running cluster with reflexo installed.
set -euo pipefail
export PGOPTIONS="-c client_min_messages=warning"
cd "$(dirname "$0")"

db=reflexo_bench_sync
seconds=${BENCH_SECONDS:-10}
clients=${BENCH_SYNC_CLIENTS:-4}
queue_rows=${BENCH_QUEUE_ROWS:-200000}

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 -f setup.sql >/dev/null

reset() {
	psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<SQL
TRUNCATE reflexo.appointments, reflexo.outbox, reflexo.webhook_inbox, reflexo.appointment_history,
         reflexo.webhook_stats, bench.queue;
ALTER SEQUENCE bench.n RESTART;
VACUUM ANALYZE;
CHECKPOINT;
SQL
}

tps() {
	local clients=$1 file=$2
	shift 2
	pgbench -n -M prepared -c "$clients" -j "$clients" -T "$seconds" "$@" -f "$file" "$db" |
		awk '/^tps/ { printf "%.0f", $3 }'
}

echo "webhooks: 2 clients, ${seconds}s each, pgbench -M prepared"
reset
baseline=$(tps 2 webhook_baseline.sql)
reset
applied=$(tps 2 webhook.sql)
duplicates=$(tps 2 webhook_duplicate.sql -D n=1)
printf '| workload | per second | vs direct insert |\n|---|---|---|\n'
printf '| direct INSERT of the appointment (ceiling) | %s | 1.00 |\n' "$baseline"
printf '| apply_ghl_webhook, new appointment | %s | %s |\n' "$applied" \
	"$(awk -v a="$applied" -v b="$baseline" 'BEGIN { printf "%.2f", a / b }')"
printf '| apply_ghl_webhook, redelivered (duplicate) | %s | %s |\n' "$duplicates" \
	"$(awk -v a="$duplicates" -v b="$baseline" 'BEGIN { printf "%.2f", a / b }')"

echo
echo "outbox: $clients clients, ${seconds}s each, $queue_rows rows queued, claim and complete in separate transactions"
fill() {
	reset
	psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<SQL
SET session_replication_role = replica; -- bulk load
INSERT INTO reflexo.appointments (location_id, calendar_id, title, starts_at, ends_at)
SELECT 1, 1 + g % 200, 'Cita', t, t + interval '45 minutes'
FROM (SELECT g, timestamptz '2027-01-04 00:00-05' + (g / 200) * interval '1 hour' AS t
      FROM generate_series(1, $queue_rows) g) s;
INSERT INTO reflexo.outbox (appointment_id, location_id, operation)  -- a create carries no copy
SELECT id, 1, 'create' FROM reflexo.appointments a;
INSERT INTO bench.queue (payload) SELECT to_jsonb(a) FROM reflexo.appointments a;
RESET session_replication_role;
VACUUM ANALYZE;
CHECKPOINT;
SQL
}
fill
queue=$(tps "$clients" queue_baseline.sql)
fill
single=$(tps "$clients" claim_complete.sql)
fill
batch=$(tps "$clients" claim_complete_batch.sql)
batch_rows=$((batch * 10))
printf '| workload | rows per second | vs textbook queue |\n|---|---|---|\n'
printf '| textbook SKIP LOCKED queue, take + delete | %s | 1.00 |\n' "$queue"
printf '| claim_outbox(1) + complete_outbox | %s | %s |\n' "$single" \
	"$(awk -v a="$single" -v b="$queue" 'BEGIN { printf "%.2f", a / b }')"
printf '| claim_outbox(10) + 10 complete_outbox | %s | %s |\n' "$batch_rows" \
	"$(awk -v a="$batch_rows" -v b="$queue" 'BEGIN { printf "%.2f", a / b }')"

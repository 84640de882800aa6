#!/usr/bin/env bash
# Runs the pgTAP suites (tests/pgtap/*.sql) with pg_prove against the server
# in PGHOST/PGPORT, in a freshly created database.  Each suite runs in one
# transaction that it rolls back, so suites never see each other's rows.
set -euo pipefail
cd "$(dirname "$0")"

db=${REFLEXO_PGTAP_DB:-reflexo_pgtap}
psql -X -q -v ON_ERROR_STOP=1 -d postgres \
  -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" \
  -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION reflexo"

echo "+++ pgTAP suites +++"
pg_prove -d "$db" --ext .sql "$@" ./*.sql

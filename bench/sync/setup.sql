-- Sync-core benchmark: one location, 200 calendars open around the clock.
CREATE EXTENSION IF NOT EXISTS reflexo;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
TRUNCATE reflexo.appointments, reflexo.outbox, reflexo.webhook_inbox, reflexo.appointment_history,
         reflexo.webhook_stats, reflexo.closures;
DELETE FROM reflexo.calendars;
DELETE FROM reflexo.locations;
INSERT INTO reflexo.locations (id, ghl_location_id, name, timezone, open_hours)
VALUES (1, 'bench', 'Bench clinic', 'America/Lima', '00:00-24:00');
INSERT INTO reflexo.calendars (id, location_id, ghl_calendar_id, name)
SELECT g, 1, 'cal-' || g, 'Calendar ' || g FROM generate_series(1, 200) g;
CREATE SEQUENCE bench.n;

-- the textbook queue: one table, SKIP LOCKED, delete when done
CREATE TABLE bench.queue (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload jsonb NOT NULL,
                          run_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON bench.queue (run_at, id);

-- pgbench reads ":word" in a script as a variable, so times are built here;
-- STABLE like to_char, so that it is inlined instead of run as a function
CREATE FUNCTION bench.lima(t timestamp) RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS') || '-05:00' $$;

-- Giving leases back, recording a turn's results in one call, and the
-- credentials functions reflexo-sync uses.
BEGIN;
\ir fixtures.psql
SELECT plan(19);

SELECT pg_temp.book(201, '09:00', '10:00', 'Uno') AS one \gset
SELECT pg_temp.book(202, '09:00', '10:00', 'Dos') AS two \gset
SELECT pg_temp.book(201, '11:00', '12:00', 'Tres') AS three \gset
CREATE TEMP TABLE jobs AS SELECT * FROM reflexo.claim_outbox(10, '30 seconds', 'daemon-a');
SELECT is((SELECT count(DISTINCT location_id)::int FROM jobs), 1, 'a job names its location');

-- release
SELECT ok(NOT reflexo.release_outbox((SELECT outbox_id FROM jobs WHERE appointment_id = :one), 9),
          'releasing with a stale attempt does nothing');
SELECT ok(reflexo.release_outbox((SELECT outbox_id FROM jobs WHERE appointment_id = :one), 1, '5 minutes'),
          'a row can be given back untried');
SELECT is((SELECT state::text || ' ' || attempts || ' ' || (next_attempt_at > now() + '4 minutes')
             FROM reflexo.outbox WHERE appointment_id = :one),
          'pending 0 true', 'pending again, no attempt spent, not before the pause');

-- finish: every outcome in one call
SELECT is(reflexo.finish_outbox(jsonb_build_array(
            jsonb_build_object('outbox_id', (SELECT outbox_id FROM jobs WHERE appointment_id = :two), 'attempt', 1,
                               'outcome', 'done', 'ghl_appointment_id', 'ghl-2'),
            jsonb_build_object('outbox_id', (SELECT outbox_id FROM jobs WHERE appointment_id = :three), 'attempt', 1,
                               'outcome', 'retryable', 'error', 'GHL 503', 'retry_after_ms', 60000),
            jsonb_build_object('outbox_id', (SELECT outbox_id FROM jobs WHERE appointment_id = :one), 'attempt', 1,
                               'outcome', 'done', 'ghl_appointment_id', 'ghl-late'))),
          '{}'::int8[], 'finish records every result: no appointment is locked by another transaction');
SELECT is((SELECT ghl_appointment_id || ' ' || sync_state FROM reflexo.appointments WHERE id = :two), 'ghl-2 synced',
          'done writes the GHL id back');
SELECT is((SELECT state::text || ' ' || last_error || ' ' || (next_attempt_at >= now() + '59 seconds')
             FROM reflexo.outbox WHERE appointment_id = :three),
          'pending GHL 503 true', 'retryable waits at least as long as asked');
SELECT is((SELECT ghl_appointment_id FROM reflexo.appointments WHERE id = :one), NULL,
          'a result for a lost lease changes nothing');
SELECT throws_ok($$SELECT reflexo.finish_outbox('[{"outbox_id": 1, "attempt": 1, "outcome": "maybe"}]')$$,
                 '22023', 'unknown outcome maybe', 'an unknown outcome is refused');

-- wake: rows of a location waiting out a pause are due now
SELECT is(reflexo.wake_outbox(101), 2, 'wake calls back the waiting rows of the location (released and in backoff)');
SELECT is((SELECT count(*)::int FROM reflexo.outbox WHERE state = 'pending' AND next_attempt_at > now()), 0,
          'nothing of it waits any more');

-- quotas: what each location's rate limit lets the daemon send now
UPDATE reflexo.outbox SET state = 'done';
SELECT pg_temp.book(201, '14:00', '15:00', 'Lima 1'), pg_temp.book(202, '14:00', '15:00', 'Lima 2'),
       pg_temp.book(204, '10:00', '11:00', 'Madrid 1'), pg_temp.book(204, '11:00', '12:00', 'Madrid 2');
SELECT is((SELECT array_agg(location_id ORDER BY location_id)
             FROM reflexo.claim_outbox(10, '1 minute', 'q', 0, '{"101": 1}')),
          ARRAY[101]::bigint[], 'only listed locations with a quota, at most their quota');
SELECT is((SELECT array_agg(location_id ORDER BY location_id)
             FROM reflexo.claim_outbox(10, '1 minute', 'q', 1, '{"101": 0}')),
          ARRAY[102]::bigint[], 'others get per_location; a quota of 0 skips the location');
SELECT is((SELECT count(*)::int FROM reflexo.claim_outbox(10, '1 minute', 'q')), 2,
          'without quotas, only max_rows limits');

-- credentials
SELECT is((SELECT access_token FROM reflexo.ghl_credentials('loc-lima')), NULL, 'no credentials stored yet');
SELECT is((SELECT count(*)::int FROM reflexo.ghl_credentials('loc-nowhere')), 0, 'an unknown location has no row');
SELECT reflexo.save_ghl_credentials('loc-lima', 'oauth', '\x01', '\x02', now() + '1 day', 'calendars.write');
SELECT reflexo.save_ghl_credentials('loc-lima', 'oauth', '\x03', '\x04', now() + '1 day', NULL, true);
SELECT is((SELECT access_token || refresh_token FROM reflexo.ghl_credentials('loc-lima')), '\x0304'::bytea,
          'saving replaces the tokens');
SELECT is((SELECT scope || ' ' || (refreshed_at IS NOT NULL) FROM reflexo.ghl_tokens), 'calendars.write true',
          'keeps the scope and stamps the refresh');
SELECT throws_ok($$SELECT reflexo.save_ghl_credentials('loc-nowhere', 'oauth', '\x01', NULL, NULL)$$,
                 '22023', 'unknown GHL location loc-nowhere', 'credentials of an unknown location are refused');

SELECT * FROM finish();
ROLLBACK;

-- Claiming, completing, failing and requeuing outbox rows.
BEGIN;
\ir fixtures.psql
SELECT plan(30);

SELECT pg_temp.book(201, '09:00', '10:00', 'Uno') AS one \gset
SELECT pg_temp.book(202, '09:00', '10:00', 'Dos') AS two \gset
UPDATE reflexo.appointments SET contact_id = 'contact-1' WHERE id = :one;
-- a second change of the same appointment, as if from a later transaction
UPDATE reflexo.outbox SET created_txid = '1';
UPDATE reflexo.appointments SET title = 'Uno movido', starts_at = starts_at + '1 hour', ends_at = ends_at + '1 hour'
 WHERE id = :one;

CREATE TEMP TABLE jobs AS SELECT * FROM reflexo.claim_outbox(10, '30 seconds', 'daemon-a');
SELECT is((SELECT count(*)::int FROM jobs), 2, 'claim returns the due rows');
SELECT is((SELECT array_agg(appointment_id ORDER BY outbox_id) FROM jobs), ARRAY[:one, :two]::bigint[],
          'but only the oldest unfinished row of each appointment');
SELECT is((SELECT attempt FROM jobs WHERE appointment_id = :one), 1, 'the attempt is the fencing token');
SELECT is((SELECT state::text || ' ' || lease_owner FROM reflexo.outbox WHERE id = (SELECT outbox_id FROM jobs WHERE appointment_id = :one)),
          'leased daemon-a', 'claimed rows are leased');
SELECT is((SELECT count(*)::int FROM reflexo.claim_outbox(10)), 0, 'leased rows and their successors are not claimable');

SELECT is((SELECT action FROM jobs WHERE appointment_id = :one), 'create', 'a row without GHL id is a create');
SELECT is((SELECT body FROM jobs WHERE appointment_id = :one),
  '{"calendarId": "cal-fisio", "locationId": "loc-lima", "contactId": "contact-1",
    "startTime": "2026-03-10T10:00:00-05:00", "endTime": "2026-03-10T11:00:00-05:00",
    "title": "Uno movido", "appointmentStatus": "new"}'::jsonb,
  'the body is GHL''s create request, with local times and offsets, from the current state');

-- completion
SELECT ok(NOT reflexo.complete_outbox((SELECT outbox_id FROM jobs WHERE appointment_id = :one), 7, 'ghl-1'),
          'completing with a stale attempt does nothing');
SELECT ok(reflexo.complete_outbox((SELECT outbox_id FROM jobs WHERE appointment_id = :one), 1, 'ghl-1',
                                  '2026-03-01 10:00Z'), 'completing with the lease works');
SELECT is((SELECT ghl_appointment_id || ' ' || sync_state FROM reflexo.appointments WHERE id = :one), 'ghl-1 pending',
          'the GHL id is written back; a later change is still pending');
SELECT is((SELECT ghl_appointment_id FROM reflexo.outbox WHERE appointment_id = :one AND state = 'pending'), 'ghl-1',
          'and handed to the later change');

CREATE TEMP TABLE jobs2 AS SELECT * FROM reflexo.claim_outbox(10);
SELECT is((SELECT action || ' ' || operation FROM jobs2), 'update update', 'the next change of the appointment is now due');
SELECT is((SELECT body FROM jobs2),
  '{"calendarId": "cal-fisio", "startTime": "2026-03-10T10:00:00-05:00", "endTime": "2026-03-10T11:00:00-05:00",
    "title": "Uno movido", "appointmentStatus": "new"}'::jsonb, 'an update body has no location or contact');
SELECT ok(reflexo.complete_outbox((SELECT outbox_id FROM jobs2), 1), 'it completes');
SELECT is((SELECT sync_state::text FROM reflexo.appointments WHERE id = :one), 'synced', 'and then the appointment is synced');

-- failures
SELECT is(reflexo.fail_outbox((SELECT outbox_id FROM jobs WHERE appointment_id = :two), 1, 'retryable', 'HTTP 503')::text,
          'pending', 'a retryable failure is pending again');
SELECT ok((SELECT next_attempt_at > now() + '1 second' AND next_attempt_at < now() + '3 seconds'
             FROM reflexo.outbox WHERE appointment_id = :two), 'after 2 s +/- 25% for the first attempt');
UPDATE reflexo.outbox SET attempts = 10 WHERE appointment_id = :two;
SELECT ok((SELECT reflexo.outbox_backoff(10) BETWEEN '768 seconds' AND '1280 seconds'), 'the backoff doubles each attempt');
SELECT ok((SELECT reflexo.outbox_backoff(30) <= '4500 seconds'), 'up to the cap');
UPDATE reflexo.outbox SET state = 'leased', attempts = 25 WHERE appointment_id = :two;
SELECT is(reflexo.fail_outbox((SELECT id FROM reflexo.outbox WHERE appointment_id = :two), 25, 'retryable', 'timeout')::text,
          'dead', 'at reflexo.outbox_max_attempts the row is dead');
SELECT is((SELECT sync_state::text FROM reflexo.appointments WHERE id = :two), 'failed', 'and the appointment failed');
UPDATE reflexo.outbox SET created_txid = '1';
UPDATE reflexo.appointments SET title = 'Dos bis' WHERE id = :two;
SELECT is((SELECT count(*)::int FROM reflexo.claim_outbox(10)), 0, 'a dead row holds back later changes of its appointment');
SELECT is(reflexo.requeue_outbox(), 1, 'requeue revives dead rows');
SELECT is((SELECT state::text || ' ' || attempts FROM reflexo.outbox WHERE appointment_id = :two ORDER BY id LIMIT 1),
          'pending 0', 'with fresh attempts');
SELECT is((SELECT fail FROM reflexo.claim_outbox(1) j, reflexo.fail_outbox(j.outbox_id, j.attempt, 'permanent', '422: bad') fail),
          'dead'::reflexo.outbox_state, 'a permanent failure is dead at once');
SELECT throws_ok($$SELECT reflexo.fail_outbox(1, 1, 'maybe', 'x')$$, '22023', NULL, 'an unknown error class is refused');

-- leases expire
UPDATE reflexo.outbox SET state = 'leased', attempts = 3, leased_until = now() - interval '1 second'
 WHERE id = (SELECT id FROM reflexo.outbox WHERE appointment_id = :two ORDER BY id LIMIT 1);
SELECT is((SELECT attempt FROM reflexo.claim_outbox(10)), 4, 'an expired lease is reclaimed, with a new token');

-- a claim's plan is made once per session, maybe while the outbox is small; it must
-- stay index scans as the outbox grows
ANALYZE reflexo.outbox, reflexo.appointments;  -- statistics of small tables, where a scan is cheaper
SELECT pg_temp.book(203, '09:00', '10:00', 'Tres') AS three \gset
CREATE TEMP TABLE scans_before AS
  SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE schemaname = 'reflexo';
SELECT is((SELECT string_agg(j.action || ' ' || (j.body ->> 'title'), ', ')
             FROM reflexo.claim_outbox(10) j WHERE j.appointment_id = :three),
          'create Tres', 'a new booking is claimed');
SELECT is((SELECT string_agg(relname || ' ' || (x.seq_scan - b.seq_scan), ', ' ORDER BY relname)
             FROM pg_stat_xact_user_tables x JOIN scans_before b USING (relname)
            WHERE x.schemaname = 'reflexo' AND x.seq_scan > b.seq_scan AND relname IN ('appointments', 'outbox')),
          NULL, 'with no sequential scan of the outbox or the appointments');

-- a change whose appointment is gone since (deleted here, its delete row after
-- it; or deleted from GHL) is skipped, not built from nothing
SELECT pg_temp.book(203, '11:00', '12:00', 'Cuatro') AS four \gset
SELECT pg_temp.from_ghl(format('DELETE FROM reflexo.appointments WHERE id = %s', :four));
SELECT is((SELECT string_agg(j.action || ' ' || j.operation, ', ')
             FROM reflexo.claim_outbox(10) j WHERE j.appointment_id = :four),
          'skip create', 'a change of an appointment gone since is skipped');

SELECT * FROM finish();
ROLLBACK;

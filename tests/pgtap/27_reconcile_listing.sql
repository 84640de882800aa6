-- Reconciliation must not double a booking in GHL: a push recorded after the
-- listing was asked for may be missing from it, so it is not pushed again;
-- what is pushed again starts at attempt 1, so that reflexo-sync looks for
-- the event in GHL before it creates it (issue 13, item 6).
BEGIN;
\ir fixtures.psql
SELECT plan(6);

-- two synced bookings GHL's listing does not show: one pushed long before the
-- listing, one whose push was recorded just after it was asked for
SELECT pg_temp.book(201, '09:00', '10:00', 'Antigua') AS old \gset
SELECT pg_temp.book(201, '11:00', '12:00', 'Reciente') AS new \gset
UPDATE reflexo.appointments SET ghl_appointment_id = 'ghl-' || title, sync_state = 'synced' WHERE id IN (:old, :new);
UPDATE reflexo.outbox SET state = 'done', completed_at = now() - interval '1 hour' WHERE appointment_id = :old;
UPDATE reflexo.outbox SET state = 'done', completed_at = now() WHERE appointment_id = :new;

SELECT is(reflexo.reconcile_ghl_events('cal-fisio', '2026-03-01', '2026-04-01', '[]', now() - interval '2 minutes') ->> 'pushed_again',
          '1', 'one booking is pushed again');
SELECT is((SELECT ghl_appointment_id FROM reflexo.appointments WHERE id = :old), NULL,
          'the one pushed long before the listing');
SELECT is((SELECT ghl_appointment_id FROM reflexo.appointments WHERE id = :new), 'ghl-Reciente',
          'not the one whose push was recorded after the listing was asked for: GHL may have it already');
SELECT is((SELECT attempts FROM reflexo.outbox WHERE appointment_id = :old AND state = 'pending'), 1,
          'the push again starts at attempt 1');
SELECT is((SELECT attempt FROM reflexo.claim_outbox(10, '60 seconds', 'test') WHERE appointment_id = :old), 2,
          'so it is claimed as a retry, which reflexo-sync looks up in GHL before creating');
SELECT is(reflexo.reconcile_ghl_events('cal-fisio', '2026-03-01', '2026-04-01', '[]') ->> 'pushed_again', '0',
          'and a pass without listed_at also leaves a push recorded minutes ago alone');

SELECT * FROM finish();
ROLLBACK;

-- reflexo.apply_ghl_webhook: exactly once, last writer wins, tombstones,
-- echo suppression, unknown calendars kept for later, malformed bodies.
BEGIN;
\ir fixtures.psql
SELECT plan(40);

-- create, in both shapes
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'w-1', 'ghl-1')), 'applied',
          'an AppointmentCreate is applied');
SELECT is((SELECT title || ' ' || status || ' ' || origin || ' ' || sync_state || ' ' || to_char(starts_at AT TIME ZONE 'America/Lima', 'HH24:MI')
             FROM reflexo.appointments WHERE ghl_appointment_id = 'ghl-1'),
          'Desde GHL confirmed ghl synced 10:00', 'as an appointment from GHL, in sync, at the local time sent');
SELECT is((SELECT count(*)::int FROM reflexo.outbox o JOIN reflexo.appointments a ON a.id = o.appointment_id
            WHERE a.ghl_appointment_id = 'ghl-1'), 0, 'which is not pushed back to GHL');
SELECT is((SELECT h.actor || ' ' || h.origin FROM reflexo.appointment_history h
             JOIN reflexo.appointments a ON a.id = h.appointment_id WHERE a.ghl_appointment_id = 'ghl-1'),
          'ghl:webhook w-1 ghl', 'and is in the history as delivered by that webhook');
SELECT is(reflexo.apply_ghl_webhook(
            '{"type": "AppointmentCreate", "locationId": "loc-lima", "webhookId": "w-guide",
              "data": {"id": "ghl-guide", "calendarId": "cal-fisio", "contactId": "contact_789",
                       "title": "Cita desde GHL", "startTime": "2026-03-12T19:00:00.000Z",
                       "endTime": "2026-03-12T20:00:00.000Z", "appointmentStatus": "scheduled"}}'),
          'applied', 'the Django guide''s "data" shape is applied too');
SELECT is((SELECT status::text FROM reflexo.appointments WHERE ghl_appointment_id = 'ghl-guide'), 'scheduled',
          'with its status');

-- exactly once
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'w-1', 'ghl-1')), 'duplicate',
          'the same webhookId again is a duplicate');
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'w-1', 'ghl-1', 'cal-fisio', '15:00', '16:00',
                                                 '2026-03-02T00:00:00Z')), 'duplicate',
          'whatever its body: webhookId is the idempotency key');
SELECT is((SELECT to_char(starts_at AT TIME ZONE 'America/Lima', 'HH24:MI') FROM reflexo.appointments
            WHERE ghl_appointment_id = 'ghl-1'), '10:00', 'and a duplicate changes nothing');

-- last writer wins on dateUpdated
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'w-2', 'ghl-1', 'cal-fisio', '15:00', '16:00',
                                                 '2026-03-03T00:00:00Z')), 'applied', 'a newer update is applied');
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'w-3', 'ghl-1', 'cal-fisio', '17:00', '18:00',
                                                 '2026-03-02T00:00:00Z')), 'stale', 'an older update delivered late is stale');
SELECT is((SELECT to_char(starts_at AT TIME ZONE 'America/Lima', 'HH24:MI') FROM reflexo.appointments
            WHERE ghl_appointment_id = 'ghl-1'), '15:00', 'and changes nothing');
SELECT is((SELECT result || ': ' || reason FROM reflexo.webhook_inbox WHERE webhook_id = 'w-3'),
          'stale: a newer change of this appointment is already here', 'the inbox says why');

-- delete is a tombstone
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentDelete', 'w-4', 'ghl-1', 'cal-fisio', '15:00', '16:00',
                                                 '2026-03-04T00:00:00Z')), 'applied', 'a delete is applied');
SELECT is((SELECT status::text FROM reflexo.appointments WHERE ghl_appointment_id = 'ghl-1'), 'cancelled',
          'by cancelling, never deleting');
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'w-5', 'ghl-1', 'cal-fisio', '15:00', '16:00',
                                                 '2026-03-03T12:00:00Z')), 'stale', 'an update older than the delete is stale');
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentDelete', 'w-6', 'ghl-9', 'cal-fisio', '12:00', '13:00',
                                                 '2026-03-05T00:00:00Z')), 'applied', 'a delete before its create');
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'w-7', 'ghl-9', 'cal-fisio', '12:00', '13:00',
                                                 '2026-03-04T00:00:00Z')), 'stale', 'leaves a tombstone the late create cannot undo');
SELECT is((SELECT status::text FROM reflexo.appointments WHERE ghl_appointment_id = 'ghl-9'), 'cancelled',
          'the tombstone is a cancelled appointment');

-- GHL is never rejected: conflicts are flagged
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'w-8', 'ghl-8', 'cal-fisio', '19:30', '21:00')),
          'applied', 'a GHL booking outside working hours is applied');
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE ghl_appointment_id = 'ghl-8'), '{outside_hours}',
          'and flagged');

-- unknown calendar or location: kept, then applied once the calendar is synced
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'w-10', 'ghl-10', 'cal-nuevo')), 'ignored',
          'an unknown calendar is ignored');
SELECT is((SELECT reason FROM reflexo.webhook_inbox WHERE webhook_id = 'w-10'),
          'unknown calendar cal-nuevo in location loc-lima', 'with the reason recorded');
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'w-11', 'ghl-11', 'cal-fisio', '10:00', '11:00',
                                                 '2026-03-01T12:00:00Z', '{}', 'loc-otra')), 'ignored',
          'an unknown location is ignored');
SELECT is(reflexo.apply_ghl_webhook('{"type": "ContactCreate", "locationId": "loc-lima", "webhookId": "w-12"}'),
          'ignored', 'an event type that is not an appointment is ignored');
SELECT results_eq($$SELECT action FROM reflexo.upsert_ghl_calendars('loc-lima',
                      '[{"id": "cal-nuevo", "name": "Nuevo"}]', complete => false)$$,
                  ARRAY['created'], 'syncing brings the calendar');
SELECT is((SELECT result FROM reflexo.webhook_inbox WHERE webhook_id = 'w-10'), 'applied',
          'and the waiting webhook is applied');

-- echo suppression
SELECT pg_temp.book(202, '09:00', '10:00', 'Local') AS mine \gset
UPDATE reflexo.appointments SET contact_id = 'contact-1' WHERE id = :mine;
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'w-20', 'ghl-20', 'cal-sala2', '09:00', '10:00')
                                    || '{"appointment": {"id": "ghl-20", "calendarId": "cal-sala2", "contactId": "contact-1",
                                        "title": "Local", "appointmentStatus": "new",
                                        "startTime": "2026-03-10T09:00:00-05:00", "endTime": "2026-03-10T10:00:00-05:00"}}'),
          'duplicate', 'the echo of our own booking, before its GHL id came back, is a duplicate');
SELECT is((SELECT ghl_appointment_id || ' ' || count(*) OVER () FROM reflexo.appointments WHERE title = 'Local'),
          'ghl-20 1', 'that adopts the GHL id instead of booking twice');
SELECT is((SELECT count(*)::int FROM reflexo.appointment_history WHERE appointment_id = :mine AND origin = 'ghl'), 0,
          'and changes nothing worth a history line');
UPDATE reflexo.appointments SET local_changed_at = '2026-03-01T00:00:00Z' WHERE id = :mine;
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'w-21', 'ghl-20', 'cal-sala2', '09:00', '10:00',
                                                 '2026-03-06T00:00:00Z', '{"title": "Local", "appointmentStatus": "new", "assignedUserId": null}')),
          'duplicate', 'an update that only reflects what is here is a duplicate');

-- a newer change in GHL beats an unsent local one; an older one does not
UPDATE reflexo.appointments SET title = 'Cambio local' WHERE id = :mine;
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'w-22', 'ghl-20', 'cal-sala2', '09:00', '10:00',
                                                 '2026-03-07T00:00:00Z')), 'stale',
          'a GHL change older than a local change is stale');
UPDATE reflexo.appointments SET local_changed_at = '2026-03-01T00:00:00Z' WHERE id = :mine;
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'w-23', 'ghl-20', 'cal-sala2', '09:30', '10:30',
                                                 '2026-03-08T00:00:00Z')), 'applied', 'a newer GHL change wins');
SELECT is((SELECT count(*)::int FROM reflexo.outbox WHERE appointment_id = :mine AND state = 'pending'), 0,
          'and the unsent local changes it overrides are dropped');

-- malformed bodies
SELECT throws_ok($$SELECT reflexo.apply_ghl_webhook('{"type": "AppointmentCreate", "locationId": "loc-lima"}')$$,
                 '22023', 'GHL webhook has no "webhookId"', 'no webhookId is malformed');
SELECT throws_ok($$SELECT reflexo.apply_ghl_webhook('{"type": "AppointmentCreate", "webhookId": "w-30", "locationId": "loc-lima",
                                                       "appointment": {"calendarId": "cal-fisio"}}')$$,
                 '22023', 'GHL webhook has no "appointment.id"', 'no appointment id is malformed');
SELECT throws_ok($$SELECT reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'w-31', 'ghl-31') #- '{appointment,startTime}')$$,
                 '22023', 'GHL webhook field "startTime" is not an ISO 8601 time: missing', 'no start time is malformed');
SELECT is((SELECT count(*)::int FROM reflexo.webhook_inbox WHERE webhook_id IN ('w-30', 'w-31')), 0,
          'and a malformed webhook leaves nothing behind, so a corrected retry can apply');

-- The plans of a session are made while its tables are small (a new clinic, the
-- daemon's first webhooks) and kept as they grow: they must be index scans.
ANALYZE reflexo.appointments, reflexo.appointment_history, reflexo.outbox, reflexo.webhook_inbox,
        reflexo.webhook_stats;  -- statistics of small tables, which make a scan the cheaper plan
CREATE TEMP TABLE scans_before AS
  SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE schemaname = 'reflexo';
SELECT is((SELECT count(*)::int FROM generate_series(1, 8) g
            WHERE reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'w-plan-' || g, 'ghl-plan-' || g)) = 'applied'
              AND reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'w-plan-u' || g, 'ghl-plan-' || g,
                                                         'cal-fisio', '12:00', '13:00', '2026-03-09T00:00:00Z')) = 'applied'
              AND reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'w-plan-' || g, 'ghl-plan-' || g)) = 'duplicate'
              AND reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentDelete', 'w-plan-d' || g, 'ghl-plan-' || g,
                                                         'cal-fisio', '12:00', '13:00', '2026-03-09T01:00:00Z')) = 'applied'),
          8, 'eight appointments created, moved, redelivered and deleted from GHL');
SELECT is((SELECT string_agg(relname || ' ' || (x.seq_scan - b.seq_scan), ', ' ORDER BY relname)
             FROM pg_stat_xact_user_tables x JOIN scans_before b USING (relname)
            WHERE x.schemaname = 'reflexo' AND x.seq_scan > b.seq_scan
              AND relname IN ('appointments', 'appointment_history', 'outbox', 'webhook_inbox', 'webhook_stats')),
          NULL, 'with no sequential scan of a table that grows, whatever its size when the plan was made');

SELECT * FROM finish();
ROLLBACK;

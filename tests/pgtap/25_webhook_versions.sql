-- Which GHL change wins, and what never comes back:
--   * only GHL's clock versions GHL's changes: an event without dateUpdated
--     or timestamp (the Django guide's shape) never outranks a dated one, and
--     a dated one is not lost behind an undated one;
--   * against local changes GHL's clock may lag by reflexo.ghl_clock_skew;
--   * GHL's news of an appointment deleted here (the echo of our own delete)
--     never resurrects it;
--   * events about locations that are not ours keep no body;
--   * an UNINSTALL voids credentials only if dated after their grant.
BEGIN;
\ir fixtures.psql
SELECT plan(22);

-- an undated event, as the Django guide shows them
CREATE FUNCTION pg_temp.undated(event text, webhook_id text, ghl_id text, local_from text, local_to text) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_build_object('type', event, 'locationId', 'loc-lima', 'webhookId', webhook_id,
                            'data', jsonb_build_object('id', ghl_id, 'calendarId', 'cal-fisio', 'contactId', 'contact-1',
                                                       'title', 'Sin fecha', 'appointmentStatus', 'scheduled',
                                                       'startTime', '2026-03-10T' || local_from || ':00-05:00',
                                                       'endTime', '2026-03-10T' || local_to || ':00-05:00'))
$$;
CREATE FUNCTION pg_temp.starts(ghl_id text) RETURNS text LANGUAGE sql AS $$
  SELECT to_char(starts_at AT TIME ZONE 'America/Lima', 'HH24:MI') || ' ' || status
    FROM reflexo.appointments WHERE ghl_appointment_id = ghl_id
$$;

-- undated, then dated: the dated change is not lost (it used to be judged stale against the receipt time)
SELECT is(reflexo.apply_ghl_webhook(pg_temp.undated('AppointmentCreate', 'v-1', 'ghl-v1', '09:00', '10:00')), 'applied',
          'an undated create is applied');
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'v-2', 'ghl-v1', 'cal-fisio', '11:00', '12:00',
                                                 '2026-03-01T12:00:00Z')), 'applied',
          'a dated update after it is applied, whatever its date');
SELECT is(pg_temp.starts('ghl-v1'), '11:00 confirmed', 'and is what is here');
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentDelete', 'v-3', 'ghl-v1', 'cal-fisio', '11:00', '12:00',
                                                 '2026-03-01T12:05:00Z')), 'applied', 'so is the delete after it');
SELECT is(pg_temp.starts('ghl-v1'), '11:00 cancelled', 'which cancels it');

-- dated, then undated: the undated one cannot outrank it
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'v-4', 'ghl-v2', 'cal-fisio', '14:00', '15:00',
                                                 '2026-03-01T12:00:00Z')), 'applied', 'a dated create');
SELECT is(reflexo.apply_ghl_webhook(pg_temp.undated('AppointmentUpdate', 'v-5', 'ghl-v2', '16:00', '17:00')), 'stale',
          'an undated update after it is stale');
SELECT is((SELECT reason FROM reflexo.webhook_inbox WHERE webhook_id = 'v-5'),
          'an undated change cannot outrank the dated GHL state here', 'saying why');
SELECT is(pg_temp.starts('ghl-v2'), '14:00 confirmed', 'and changes nothing');

-- GHL's clock lagging ours: a GHL change dated a little before a local change still wins
SELECT id AS mine FROM reflexo.appointments WHERE ghl_appointment_id = 'ghl-v2' \gset
UPDATE reflexo.appointments SET title = 'Cambio local' WHERE id = :mine;   -- local_changed_at = now()
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'v-6', 'ghl-v2', 'cal-fisio', '16:00', '17:00',
                                                 to_char((now() - interval '60 seconds') AT TIME ZONE 'UTC',
                                                         'YYYY-MM-DD"T"HH24:MI:SS"Z"'))), 'stale',
          'a GHL change dated a minute before a local change loses to it (reflexo.ghl_clock_skew = 30 s)');
SET LOCAL reflexo.ghl_clock_skew = 120;
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'v-7', 'ghl-v2', 'cal-fisio', '16:00', '17:00',
                                                 to_char((now() - interval '60 seconds') AT TIME ZONE 'UTC',
                                                         'YYYY-MM-DD"T"HH24:MI:SS"Z"'))), 'applied',
          'but wins when the bound allows two minutes');
RESET reflexo.ghl_clock_skew;
UPDATE reflexo.appointments SET title = 'Otro cambio local' WHERE id = :mine;
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'v-8', 'ghl-v2', 'cal-fisio', '15:00', '16:00',
                                                 to_char((now() - interval '10 seconds') AT TIME ZONE 'UTC',
                                                         'YYYY-MM-DD"T"HH24:MI:SS"Z"'))), 'applied',
          'and one dated 10 s before a local change wins over it by default');

-- our own delete, echoed: no resurrection
SELECT pg_temp.book(202, '09:00', '10:00', 'Borrada aquí') AS gone \gset
UPDATE reflexo.appointments SET ghl_appointment_id = 'ghl-v3', sync_state = 'synced' WHERE id = :gone;
UPDATE reflexo.outbox SET state = 'done' WHERE appointment_id = :gone;
DELETE FROM reflexo.appointments WHERE id = :gone;
SELECT is((SELECT operation || ' ' || ghl_appointment_id FROM reflexo.outbox WHERE appointment_id = :gone AND state = 'pending'),
          'delete ghl-v3', 'a local delete of a synced appointment is queued for GHL');
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentDelete', 'v-9', 'ghl-v3', 'cal-sala2', '09:00', '10:00',
                                                 to_char((now() + interval '1 minute') AT TIME ZONE 'UTC',
                                                         'YYYY-MM-DD"T"HH24:MI:SS"Z"'))), 'duplicate',
          'GHL''s AppointmentDelete for it is an echo');
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentUpdate', 'v-10', 'ghl-v3', 'cal-sala2', '09:00', '10:00',
                                                 to_char((now() + interval '2 minutes') AT TIME ZONE 'UTC',
                                                         'YYYY-MM-DD"T"HH24:MI:SS"Z"'))), 'duplicate',
          'and so is any late news of it');
SELECT is((SELECT count(*)::int FROM reflexo.appointments WHERE ghl_appointment_id = 'ghl-v3'), 0,
          'nothing brings it back');

-- what GHL sends about locations that are not ours costs one small row each
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'v-11', 'ghl-v11', location => 'loc-not-ours')),
          'ignored', 'an event of a location that is not ours is ignored');
SELECT is((SELECT body IS NULL FROM reflexo.webhook_inbox WHERE webhook_id = 'v-11'), true, 'and its body is not kept');
SELECT is(reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'v-12', 'ghl-v12', 'cal-not-yet-synced')),
          'ignored', 'an event of one of our locations, on a calendar not synced yet, is ignored for now');
SELECT is((SELECT body IS NOT NULL FROM reflexo.webhook_inbox WHERE webhook_id = 'v-12'), true,
          'and kept, to apply after the next calendar sync');

-- an UNINSTALL voids the location's credentials only if GHL dates it after their grant
INSERT INTO reflexo.ghl_tokens (location_id, kind, access_token) VALUES (101, 'oauth', '\x00');
SELECT is(reflexo.apply_ghl_webhook('{"type": "UNINSTALL", "locationId": "loc-lima", "webhookId": "v-13"}'), 'stale',
          'an undated UNINSTALL cannot void the credentials');
SELECT is(reflexo.apply_ghl_webhook(jsonb_build_object('type', 'UNINSTALL', 'locationId', 'loc-lima', 'webhookId', 'v-14',
            'timestamp', to_char((now() + interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))), 'applied',
          'a dated one after the grant does');

SELECT * FROM finish();
ROLLBACK;

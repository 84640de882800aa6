-- What an operator sees and does without psql: a cita says why its push
-- failed (sync_error) and when GHL last agreed (synced_at); admins retry one
-- cita or a location's failed ones; staff read a cita's history and their
-- locations' closures; admins add and remove closures.
BEGIN;
\ir fixtures.psql
SELECT plan(33);

CREATE FUNCTION pg_temp.cita(id bigint) RETURNS reflexo.appointments LANGUAGE sql
  AS $$ SELECT * FROM reflexo.appointments WHERE appointments.id = cita.id $$;
-- leases the cita's outbox row and reports a result for it
CREATE FUNCTION pg_temp.push(cita bigint, outcome text, error text DEFAULT NULL) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  job record;
BEGIN
  -- only this cita's row is due
  UPDATE reflexo.outbox SET next_attempt_at = CASE WHEN appointment_id = cita THEN now() ELSE now() + interval '1 hour' END
   WHERE state = 'pending';
  SELECT * INTO STRICT job FROM reflexo.claim_outbox(100, '1 minute', 'test') j;
  PERFORM reflexo.finish_outbox(jsonb_build_array(jsonb_build_object(
    'outbox_id', job.outbox_id, 'attempt', job.attempt, 'outcome', outcome, 'error', error,
    'ghl_appointment_id', CASE WHEN outcome = 'done' THEN 'ghl-' || cita END)));
END $$;

-- ---------------------------------------------------------------- sync_error and synced_at
SELECT pg_temp.book(201, '09:00', '10:00', 'Ana') AS ana \gset
SELECT is((pg_temp.cita(:ana)).sync_error, NULL, 'a new booking has no sync error');
SELECT is((pg_temp.cita(:ana)).synced_at, NULL, 'and has never been in sync with GHL');

SELECT pg_temp.push(:ana, 'retryable', 'GHL 503: Service Unavailable');
SELECT is((pg_temp.cita(:ana)).sync_state, 'pending', 'a retryable failure keeps it pending');
SELECT is((pg_temp.cita(:ana)).sync_error, 'GHL 503: Service Unavailable', 'and says why meanwhile');

SELECT pg_temp.push(:ana, 'permanent', 'GHL 422: The slot you have selected is no longer available');
SELECT is((pg_temp.cita(:ana)).sync_state, 'failed', 'a permanent failure fails the cita');
SELECT is((pg_temp.cita(:ana)).sync_error, 'GHL 422: The slot you have selected is no longer available',
          'with GHL''s own words');
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), format('SELECT sync_error FROM api.citas WHERE id = %s', :ana))
          -> 0 ->> 'sync_error', 'GHL 422: The slot you have selected is no longer available',
          'api.citas shows it to staff of the location');

-- ---------------------------------------------------------------- retry one cita
SELECT is(pg_temp.error_of(format($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(), 'SELECT * FROM api.retry_sync(%s)')$$, :ana))
          - 'detail' - 'constraint',
          '{"sqlstate": "42501", "message": "only admins may retry a sync", "hint": "Ask an admin of the clinic."}',
          'staff may not retry a sync: 42501 saying who may');
SELECT is(pg_temp.api('reflexo_admin', pg_temp.admin(), format('SELECT id, sync_state FROM api.retry_sync(%s)', :ana)),
          jsonb_build_array(jsonb_build_object('id', :ana, 'sync_state', 'pending')),
          'an admin retries it: the cita answers pending');
SELECT is((SELECT state::text || '/' || attempts FROM reflexo.outbox WHERE appointment_id = :ana), 'pending/0',
          'with a fresh set of attempts');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_admin', pg_temp.admin(), 'SELECT * FROM api.retry_sync(987654)')$$)
          ->> 'sqlstate', 'PT404', 'an unknown cita is not found');
SELECT is(pg_temp.api('reflexo_admin', pg_temp.admin(), format('SELECT id, sync_state FROM api.retry_sync(%s)', :ana)),
          jsonb_build_array(jsonb_build_object('id', :ana, 'sync_state', 'pending')),
          'retrying a cita with nothing failed changes nothing');

SELECT pg_temp.push(:ana, 'done');
SELECT is((pg_temp.cita(:ana)).sync_state, 'synced', 'GHL takes it');
SELECT is((pg_temp.cita(:ana)).sync_error, NULL, 'the error is gone');
SELECT ok((pg_temp.cita(:ana)).synced_at IS NOT NULL, 'and synced_at says when');

SELECT pg_temp.from_ghl($$INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
                           VALUES (202, 'Desde GHL', '2026-03-10 11:00-05', '2026-03-10 12:00-05')$$);
SELECT ok((SELECT synced_at IS NOT NULL AND sync_error IS NULL FROM reflexo.appointments WHERE title = 'Desde GHL'),
          'a change from GHL is in sync as it arrives');

-- ---------------------------------------------------------------- retry a location's failed citas
SELECT pg_temp.book(201, '11:00', '12:00', 'Beto') AS beto \gset
SELECT pg_temp.book(204, '11:00', '12:00', 'Carmen', day => '2026-03-10', zone => 'Europe/Madrid') AS carmen \gset
SELECT pg_temp.push(:beto, 'permanent', 'GHL 400: contactId is invalid');
SELECT pg_temp.push(:carmen, 'permanent', 'GHL 400: contactId is invalid');
SELECT is(pg_temp.api('reflexo_admin', pg_temp.admin(), 'SELECT api.retry_failed_syncs(101) AS r') -> 0 -> 'r',
          '{"retried": 1, "ghl_location_id": "loc-lima", "success": true}', 'an admin retries the failed citas of Lima');
SELECT is((pg_temp.cita(:carmen)).sync_state, 'failed', 'and only of Lima');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.madrid(), 'SELECT api.retry_failed_syncs(102)')$$)
          ->> 'sqlstate', '42501', 'staff may not');

-- ---------------------------------------------------------------- history
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(),
                      format('SELECT operation, actor FROM api.cita_history WHERE cita_id = %s ORDER BY id', :ana)) -> 0,
          jsonb_build_object('operation', 'insert', 'actor', current_user::text),
          'staff of the location read a cita''s history: who made it');
SELECT is(pg_temp.api('reflexo_staff', pg_temp.madrid(), format('SELECT * FROM api.cita_history WHERE cita_id = %s', :ana)),
          '[]', 'staff of another location see none of it');

-- ---------------------------------------------------------------- closures
SELECT pg_temp.book(201, '15:00', '16:00', 'Navidad', day => '2026-12-25') AS navidad \gset
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(),
                             'SELECT api.add_closure(101, ''2026-12-25'', ''Navidad'')')$$) ->> 'message',
          'only admins may manage closures', 'staff may not close a location');
SELECT is((pg_temp.api('reflexo_admin', pg_temp.admin(),
                       'SELECT api.add_closure(101, ''2026-12-24'', ''Navidad'', ''2026-12-25'') AS c') -> 0 -> 'c')
          - '{id,created_at,updated_at}'::text[],
          '{"location_id": 101, "ghl_calendar_id": null, "ghl_user_id": null, "closed_from": "2026-12-24T00:00:00",
            "closed_until": "2026-12-26T00:00:00", "reason": "Navidad", "citas_inside": 1}',
          'an admin closes Lima for two days: the answer counts the cita already booked in them');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(202, '09:00', '10:00', day => '2026-12-24')$$) ->> 'sqlstate', '23514',
          'the guard refuses a booking in it');
SELECT is(pg_temp.api('reflexo_admin', pg_temp.admin(),
                      'SELECT api.add_closure(101, ''2026-12-31'', ''Inventario'', ghl_calendar_id => ''cal-sala2'') AS c')
          -> 0 -> 'c' ->> 'ghl_calendar_id', 'cal-sala2', 'or one calendar of it');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_admin', pg_temp.admin(),
                             'SELECT api.add_closure(101, ''2026-12-31'', ''x'', ghl_calendar_id => ''cal-madrid'')')$$)
          ->> 'message', 'calendar cal-madrid does not exist or is not available',
          'a calendar of another location is refused, named as GHL names it');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_admin', pg_temp.admin(),
                             'SELECT api.add_closure(101, ''2026-12-31'', ''x'', ''2026-12-30'')')$$) ->> 'sqlstate',
          '22023', 'a last day before the first is refused');
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), 'SELECT reason FROM api.closures ORDER BY closed_from'),
          '[{"reason": "Navidad"}, {"reason": "Inventario"}]', 'staff of Lima read its closures');
SELECT is(pg_temp.api('reflexo_staff', pg_temp.madrid(), 'SELECT * FROM api.closures'), '[]', 'staff of Madrid do not');
SELECT id AS navidad_closure FROM reflexo.closures WHERE reason = 'Navidad' \gset
SELECT is(pg_temp.api('reflexo_admin', pg_temp.admin(), format('SELECT api.remove_closure(101, %s) AS r', :navidad_closure)),
          jsonb_build_array(jsonb_build_object('r', jsonb_build_object('id', :navidad_closure))), 'an admin removes a closure');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(202, '09:00', '10:00', day => '2026-12-24')$$), NULL,
          'and the days are bookable again');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_admin', pg_temp.admin(), 'SELECT api.remove_closure(101, 987654)')$$)
          ->> 'sqlstate', 'PT404', 'an unknown closure is not found');

-- ---------------------------------------------------------------- the calendar as the clinic names it
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(205, '09:00', '10:00')$$) ->> 'message',
          'calendar cal-draft does not exist or is not available', 'the guard names a calendar by its GHL id');

SELECT * FROM finish();
ROLLBACK;

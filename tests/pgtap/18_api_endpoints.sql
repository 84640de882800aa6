-- The Django service's endpoints through the api schema, called as PostgREST calls them.
BEGIN;
\ir fixtures.psql
SELECT plan(22);

-- POST /citas with the Django service's body
SELECT pg_temp.api('reflexo_staff', pg_temp.lima(), $$
  INSERT INTO api.citas (title, contact_id, ghl_calendar_id, start_time, end_time, notes, assigned_user_id)
  VALUES ('Consulta Fisioterapia', 'ghl_contact_123', 'cal-fisio', '2037-03-10T14:00:00-05:00',
          '2037-03-10T15:00:00-05:00', 'Notas de la cita', 'user_789') RETURNING *$$) -> 0 AS cita \gset
SELECT is((:'cita'::jsonb) - '{id,created_at,updated_at}'::text[],
          '{"title": "Consulta Fisioterapia", "contact_id": "ghl_contact_123", "ghl_calendar_id": "cal-fisio",
            "start_time": "2037-03-10T19:00:00+00:00", "end_time": "2037-03-10T20:00:00+00:00",
            "notes": "Notas de la cita", "assigned_user_id": "user_789", "status": "scheduled", "fecha": "2037-03-10",
            "location_id": 101, "ghl_location_id": "loc-lima", "calendar_id": 201, "ghl_appointment_id": null,
            "sync_state": "pending", "sync_error": null, "synced_at": null, "origin": "local", "validation_flags": [], "series_id": null}'::jsonb,
          'POST /citas stores the Django service''s fields and returns the cita with its sync state');
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(),
                      format($$SELECT * FROM api.citas WHERE id = %s$$, :'cita'::jsonb ->> 'id')) -> 0,
          :'cita'::jsonb, 'exactly as api.citas shows it');
SELECT is((SELECT operation::text FROM reflexo.outbox WHERE appointment_id = (:'cita'::jsonb ->> 'id')::bigint),
          'create', 'and queues it for GHL');
SELECT is((SELECT actor FROM reflexo.appointment_history WHERE appointment_id = (:'cita'::jsonb ->> 'id')::bigint),
          'lima', 'the history names the JWT subject');

-- the guard speaks through the API
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(), 'INSERT INTO api.citas (title, ghl_calendar_id, start_time, end_time) VALUES (''Choque'', ''cal-fisio'', ''2037-03-10T14:30:00-05:00'', ''2037-03-10T15:30:00-05:00'') RETURNING id')$$)
          - 'detail' - 'hint',
          '{"sqlstate": "23P01", "message": "schedule conflict with: Consulta Fisioterapia (14:00 - 15:00)", "constraint": "appointments_no_overlap"}',
          'an overlapping booking gets the guard''s 23P01 and message');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(), 'INSERT INTO api.citas (title, ghl_calendar_id, start_time, end_time) VALUES (''x'', ''no-such'', ''2037-03-10T16:00:00-05:00'', ''2037-03-10T17:00:00-05:00'') RETURNING id')$$) ->> 'sqlstate',
          '23503', 'an unknown calendar is 23503');

-- no calendar: the location's default one
UPDATE reflexo.locations SET default_calendar_id = 202 WHERE id = 101;
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), $$
  INSERT INTO api.citas (title, start_time, end_time) VALUES ('Sin calendario', '2037-03-10T16:00:00-05:00',
  '2037-03-10T17:00:00-05:00') RETURNING ghl_calendar_id$$) -> 0 ->> 'ghl_calendar_id',
          'cal-sala2', 'a cita without a calendar goes to the default calendar of the caller''s only location');

SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_admin', pg_temp.admin(), 'INSERT INTO api.citas (title, start_time, end_time) VALUES (''Sin sede'', ''2037-03-10T16:00:00-05:00'', ''2037-03-10T17:00:00-05:00'') RETURNING id')$$)
            - 'constraint',
          '{"sqlstate": "23502", "message": "cita needs a calendar",
            "detail": "Neither ghl_calendar_id nor a location with a default calendar was given.",
            "hint": "Give ghl_calendar_id, or ghl_location_id of a location with a default calendar."}',
          'without a calendar or a single location to go to, a cita is refused saying what to give');
SET LOCAL lc_messages = 'es_PE.UTF-8';
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(), 'INSERT INTO api.citas (title, ghl_calendar_id, start_time, end_time) VALUES (''x'', ''cal-madrid'', ''2037-03-10T16:00:00-05:00'', ''2037-03-10T17:00:00-05:00'') RETURNING id')$$) ->> 'message',
          'El calendario cal-madrid no existe o no está disponible', 'in Spanish when the request asks for it');
RESET lc_messages;

-- PUT /citas/{id} → PATCH /citas?id=eq.N
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), format($$
  UPDATE api.citas SET start_time = '2037-03-10T17:00:00-05:00', end_time = '2037-03-10T18:00:00-05:00'
   WHERE id = %s RETURNING to_char(start_time AT TIME ZONE 'America/Lima', 'HH24:MI') AS hora$$, :'cita'::jsonb ->> 'id')) -> 0 ->> 'hora',
          '17:00', 'PATCH moves a cita');
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(),
                      format($$UPDATE api.citas SET title = 'Consulta Fisioterapia' WHERE id = %s RETURNING *$$, :'cita'::jsonb ->> 'id')),
          pg_temp.api('reflexo_staff', pg_temp.lima(),
                      format($$SELECT * FROM api.citas WHERE id = %s$$, :'cita'::jsonb ->> 'id')),
          'an update returns the cita exactly as api.citas shows it');
SELECT is(pg_temp.error_of(format($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(), 'UPDATE api.citas SET location_id = 102 WHERE id = %s RETURNING id')$$,
          :'cita'::jsonb ->> 'id')) ->> 'sqlstate', '428C9', 'a cita''s location cannot change');

-- filters: status, fecha (desde/hasta), paging
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), $$
  SELECT count(*) AS n FROM api.citas WHERE status = 'scheduled' AND fecha BETWEEN '2037-03-01' AND '2037-03-31'$$) -> 0 -> 'n',
          '2', 'citas filter by status and by the local date range');
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), $$
  SELECT title FROM api.citas ORDER BY start_time LIMIT 1 OFFSET 1$$) -> 0 ->> 'title',
          'Consulta Fisioterapia', 'and page with limit/offset');

-- POST /citas/{id}/cancel → /rpc/cancel_cita
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), format('SELECT status FROM api.cancel_cita(%s)', :'cita'::jsonb ->> 'id')) -> 0 ->> 'status',
          'cancelled', 'cancel_cita cancels');
SELECT is((SELECT operation::text FROM reflexo.outbox WHERE appointment_id = (:'cita'::jsonb ->> 'id')::bigint),
          'create', 'a cita cancelled before GHL saw it stays one create row (sent as nothing)');

-- upcoming: future, active, soonest first
INSERT INTO reflexo.calendars (id, location_id, ghl_calendar_id, name, open_hours)
VALUES (208, 101, 'cal-24h', 'Guardia', '00:00-24:00');
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
VALUES (208, 'Mañana', date_trunc('hour', now()) + interval '1 day', date_trunc('hour', now()) + interval '1 day 1 hour');
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), 'SELECT title FROM api.upcoming_citas()'),
          '[{"title": "Mañana"}]', 'upcoming_citas lists the active citas of the next days');

-- calendars and settings
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), $$
  SELECT ghl_calendar_id, open_hours, is_default FROM api.calendars WHERE ghl_calendar_id IN ('cal-sala2', 'cal-pilates') ORDER BY 1$$),
          '[{"ghl_calendar_id": "cal-pilates", "open_hours": "mon-sat 07:00-21:00", "is_default": false},
            {"ghl_calendar_id": "cal-sala2", "open_hours": "mon-fri 08:00-13:00,14:00-20:00; sat 09:00-13:00", "is_default": true}]',
          'calendars show effective hours and the default');
SELECT is(pg_temp.api('reflexo_admin', pg_temp.admin(), $$SELECT default_calendar_id FROM api.set_default_calendar(101, 'cal-pilates')$$) -> 0 -> 'default_calendar_id',
          '203', 'set_default_calendar takes the GHL calendar id');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_admin', pg_temp.admin(), 'SELECT * FROM api.set_default_calendar(101, ''cal-madrid'')')$$) ->> 'sqlstate',
          '23503', 'but not a calendar of another location');
SELECT is(pg_temp.api('reflexo_admin', pg_temp.admin(), $$
  INSERT INTO api.location_settings (ghl_location_id, name, timezone, is_active)
  VALUES ('CRlTCqv7ASS9xOpPQ59O', 'Reflexo Peru - Principal', 'America/Lima', true) RETURNING name, open_hours$$),
          '[{"name": "Reflexo Peru - Principal", "open_hours": "08:00-20:00"}]', 'admins create locations with the Django service''s body');
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), 'SELECT api.sync_calendars(101) AS r') -> 0 -> 'r',
          '{"queued": true, "ghl_location_id": "loc-lima"}', 'sync_calendars notifies the daemon for a visible location');

SELECT * FROM finish();
ROLLBACK;

-- GHL's calendar booking settings (buffers, notice, horizon, per day), the
-- past for staff, therapists' hours and time off, and free slots that honour them.
BEGIN;
\ir fixtures.psql
SELECT plan(38);

-- ---------------------------------------------------------------- settings from GHL
SELECT reflexo.upsert_ghl_calendars('loc-lima', '{"calendars": [
  {"id": "cal-fisio", "name": "Fisioterapia", "preBuffer": 15, "preBufferUnit": "mins",
   "slotBuffer": 1, "slotBufferUnit": "hours", "allowBookingAfter": 2, "allowBookingAfterUnit": "days",
   "allowBookingFor": 3, "allowBookingForUnit": "months", "appoinmentPerDay": 4,
   "teamMembers": [{"userId": "usr-ana", "priority": 0.5, "isPrimary": true}, {"userId": "usr-beto"}]}]}', false);
SELECT is((SELECT (buffer_before, buffer_after, min_notice, booking_horizon, max_per_day)::text
             FROM reflexo.calendars WHERE ghl_calendar_id = 'cal-fisio'),
          '(00:15:00,01:00:00,"2 days","3 mons",4)',
          'preBuffer, slotBuffer, allowBookingAfter, allowBookingFor and appoinmentPerDay are synced with their units');
SELECT results_eq($$SELECT ghl_user_id FROM reflexo.therapists WHERE location_id = 101 ORDER BY 1$$,
                  $$VALUES ('usr-ana'), ('usr-beto')$$, 'the calendar''s team members seed the therapists');
SELECT is((SELECT action FROM reflexo.upsert_ghl_calendars('loc-lima', '{"calendars": [{"id": "cal-fisio",
            "name": "Fisioterapia"}]}', false)), 'updated', 'settings gone from GHL are a change');
SELECT is((SELECT (buffer_before, buffer_after, min_notice, booking_horizon, max_per_day)::text
             FROM reflexo.calendars WHERE ghl_calendar_id = 'cal-fisio'),
          '(00:00:00,00:00:00,00:00:00,,)', 'and mean no buffer, notice, horizon or daily limit');
SELECT is(reflexo.ghl_span('"5"', 'hours', 'mins'), '0'::interval, 'an amount that is not a JSON number counts as none');

-- ---------------------------------------------------------------- buffers (fixed dates far ahead)
UPDATE reflexo.calendars SET buffer_before = '15 minutes', buffer_after = '30 minutes' WHERE id = 202;
SELECT pg_temp.book(202, '10:00', '11:00', 'Primera', day => '2037-03-10');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(202, '11:15', '12:00', day => '2037-03-10')$$) ->> 'constraint',
          'appointments_no_overlap', 'a booking inside the buffer after another is refused');
SELECT alike(pg_temp.error_of($$SELECT pg_temp.book(202, '11:15', '12:00', day => '2037-03-10')$$) ->> 'detail',
            'Calendar "Sala 2" keeps 15 minutes free before and 30 minutes after each appointment;%',
            'saying which buffers');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(202, '09:00', '09:50', day => '2037-03-10')$$) ->> 'sqlstate',
          '23P01', 'and inside the buffer before (its own buffer after reaches the next)');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(202, '11:45', '12:30', day => '2037-03-10')$$), NULL,
          'once both buffers fit, it is booked');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '11:00', '12:00', day => '2037-03-10')$$), NULL,
          'another calendar''s buffers do not apply');

-- ---------------------------------------------------------------- appointments per day
UPDATE reflexo.calendars SET max_per_day = 2 WHERE id = 203;
SELECT pg_temp.book(203, '09:00', '10:00', 'Uno', day => '2037-03-11');
SELECT pg_temp.book(203, '11:00', '12:00', 'Dos', day => '2037-03-11') AS dos \gset
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(203, '15:00', '16:00', day => '2037-03-11')$$) - '{detail,hint}'::text[],
          '{"sqlstate": "23P01", "constraint": "appointments_max_per_day",
            "message": "calendar \"Pilates grupal\" is full on 2037-03-11"}',
          'a third booking on a day that takes two is refused');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(203, '15:00', '16:00', day => '2037-03-12')$$), NULL,
          'the next day has room');
UPDATE reflexo.appointments SET status = 'cancelled' WHERE id = :dos;
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(203, '15:00', '16:00', day => '2037-03-11')$$), NULL,
          'a cancelled booking frees its place in the day');
SET LOCAL reflexo.strict_validation = off;
SELECT pg_temp.book(203, '17:00', '18:00', day => '2037-03-11') AS flexible \gset
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE id = :flexible), '{day_full}',
          'in flexible mode a full day is stored flagged');
SET LOCAL reflexo.strict_validation = location;

-- ---------------------------------------------------------------- notice, horizon, the past (relative to now)
UPDATE reflexo.calendars SET min_notice = '2 days', booking_horizon = '30 days', open_hours = '00:00-24:00'
 WHERE id = 207;
CREATE FUNCTION pg_temp.book_in(ahead interval) RETURNS bigint LANGUAGE sql AS $$
  INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
  VALUES (207, 'Relativa', date_trunc('hour', now() + ahead), date_trunc('hour', now() + ahead) + interval '30 minutes')
  RETURNING id $$;
SELECT is(pg_temp.error_of($$SELECT pg_temp.book_in('1 day')$$) ->> 'constraint', 'appointments_min_notice',
          'inside the minimum notice: refused');
SELECT alike(pg_temp.error_of($$SELECT pg_temp.book_in('1 day')$$) ->> 'message', 'calendar "Madrid noche" needs 2 days notice',
            'saying how much notice');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book_in('40 days')$$) ->> 'constraint', 'appointments_booking_horizon',
          'beyond the horizon: refused');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book_in('10 days')$$), NULL, 'between the two: booked');
SELECT is((SELECT min(starts_at) FROM reflexo.free_slots(207, now(), now() + interval '5 days')) >= now() + interval '2 days',
          true, 'free slots start after the minimum notice');
SELECT pg_temp.from_ghl('SELECT pg_temp.book_in(''40 days'')');
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE calendar_id = 207 ORDER BY id DESC LIMIT 1),
          '{too_far}', 'GHL''s booking beyond the horizon is only flagged');
SELECT is(pg_temp.error_of($$SELECT pg_temp.from_ghl('SELECT pg_temp.book_in(''1 day'')')$$), NULL,
          'GHL''s own bookings are never refused');
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE calendar_id = 207 ORDER BY id DESC LIMIT 1),
          '{too_soon}', 'only flagged');
UPDATE reflexo.calendars SET min_notice = '0' WHERE id = 207;
SELECT is(pg_temp.error_of($$SELECT pg_temp.book_in('-3 days')$$), NULL, 'an admin (or SQL) may record the past');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.madrid(),
            format('INSERT INTO api.citas (title, ghl_calendar_id, start_time, end_time) VALUES (''x'', ''cal-madrid-night'', %L, %L) RETURNING id',
                   date_trunc('hour', now() - interval '3 days'), date_trunc('hour', now() - interval '3 days') + interval '1 hour'))$$)
            - '{detail,hint}'::text[],
          '{"sqlstate": "23514", "constraint": "appointments_not_in_past", "message": "the appointment starts in the past"}',
          'staff may not book the past');

-- ---------------------------------------------------------------- therapists' hours and time off
UPDATE reflexo.therapists SET name = 'Ana', open_hours = 'mon-fri 09:00-13:00' WHERE ghl_user_id = 'usr-ana';
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '15:00', '16:00', therapist => 'usr-ana', day => '2037-03-10')$$)
            - '{detail,hint}'::text[],
          '{"sqlstate": "23514", "constraint": "appointments_within_therapist_hours",
            "message": "outside the therapist''s working hours: Tuesday 09:00-13:00"}',
          'outside the therapist''s hours: refused, though the calendar is open');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '15:00', '16:00', therapist => 'usr-beto', day => '2037-03-10')$$),
          NULL, 'a therapist without hours of their own works whenever the calendar is open');
INSERT INTO reflexo.closures (location_id, ghl_user_id, closed_from, closed_until, reason)
VALUES (101, 'usr-ana', '2037-03-16', '2037-03-21', 'Vacaciones');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '09:00', '10:00', therapist => 'usr-ana', day => '2037-03-17')$$)
            ->> 'message', 'the therapist is away: Vacaciones', 'time off refuses the therapist''s bookings');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '09:00', '10:00', therapist => 'usr-beto', day => '2037-03-17')$$),
          NULL, 'but not anyone else''s');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.closures (location_id, calendar_id, ghl_user_id, closed_from, closed_until, reason)
            VALUES (101, 201, 'usr-ana', '2037-04-01', '2037-04-02', 'x')$$) ->> 'constraint', 'closures_one_subject',
          'a closure is of a calendar or of a therapist, not both');

-- ---------------------------------------------------------------- free slots honour all of it
SELECT results_eq($$SELECT to_char(starts_at AT TIME ZONE 'America/Lima', 'HH24:MI')
                      FROM reflexo.free_slots(202, '2037-03-10 08:00-05', '2037-03-10 13:00-05', '30 minutes')$$,
                  $$VALUES ('08:00'), ('08:30')$$,
                  'free slots keep Sala 2''s buffers around its bookings');
SELECT pg_temp.book(203, '08:00', '08:30', 'Otra', day => '2037-03-12');
SELECT is((SELECT count(*)::int FROM reflexo.free_slots(203, '2037-03-12 00:00-05', '2037-03-13 00:00-05')), 0,
          'a day at its limit offers nothing');
SELECT results_eq($$SELECT to_char(starts_at AT TIME ZONE 'America/Lima', 'HH24:MI')
                      FROM reflexo.free_slots(201, '2037-03-10 08:00-05', '2037-03-10 20:00-05', '60 minutes', 'usr-ana')$$,
                  $$VALUES ('09:00'), ('09:30'), ('10:00'), ('12:00')$$,
                  'per therapist: inside Ana''s hours, around the calendar''s bookings');
SELECT is((SELECT count(*)::int FROM reflexo.free_slots(201, '2037-03-17 00:00-05', '2037-03-18 00:00-05', NULL, 'usr-ana')),
          0, 'and none during her time off');
SELECT is((SELECT count(*)::int FROM reflexo.free_slots(207, now(), now() + interval '60 days')) > 0
          AND (SELECT max(starts_at) FROM reflexo.free_slots(207, now(), now() + interval '60 days'))
              <= now() + interval '30 days', true, 'nothing beyond the booking horizon');

-- a long appointment that the buffered search and the long search both find counts once
UPDATE reflexo.locations SET max_duration = '3 days' WHERE id = 102;
INSERT INTO reflexo.calendars (id, location_id, ghl_calendar_id, name, capacity, open_hours, buffer_after)
VALUES (208, 102, 'cal-congreso', 'Congreso', 2, '00:00-24:00', '2 hours');
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
VALUES (208, 'Dos días', '2037-04-01 00:00+02', '2037-04-02 23:00+02');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
                              VALUES (208, 'Dentro', '2037-04-02 00:30+02', '2037-04-02 01:00+02')$$), NULL,
          'a long appointment within reach of the buffers counts once against the capacity');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
                              VALUES (208, 'Tercera', '2037-04-02 00:45+02', '2037-04-02 01:15+02')$$) ->> 'sqlstate',
          '23P01', 'and a third one at once is over it');

-- in Spanish
SET LOCAL lc_messages = 'es_PE.UTF-8';
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '09:00', '10:00', therapist => 'usr-ana', day => '2037-03-17')$$)
            ->> 'message', 'El terapeuta está ausente: Vacaciones', 'time off reads in Spanish');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(203, '19:00', '20:00', day => '2037-03-11')$$) ->> 'message',
          'El calendario "Pilates grupal" está completo el 2037-03-11', 'and a full day');
SET LOCAL lc_messages = 'C';

SELECT * FROM finish();
ROLLBACK;

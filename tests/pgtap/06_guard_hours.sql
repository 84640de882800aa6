-- Rule: inside the calendar's (else location's) open hours, in the location's
-- time zone, DST-correct, and outside closures (23514).
BEGIN;
\ir fixtures.psql
SELECT plan(16);

SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '19:30', '20:30')$$),
  '{"sqlstate": "23514", "message": "outside working hours: Tuesday 08:00-13:00, 14:00-20:00",
    "detail": "The appointment runs 2026-03-10 19:30-20:30 (America/Lima). Calendar \"Fisioterapia\" is open on Tuesday 08:00-13:00, 14:00-20:00.",
    "hint": "Choose a time inside working hours, or set reflexo.strict_validation = off to store it flagged.",
    "constraint": "appointments_within_open_hours"}'::jsonb,
  'a booking past closing time names the allowed hours of that day');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '12:30', '13:30')$$)->>'sqlstate', '23514',
          'the lunch break is closed');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '10:00', '11:00', 'x', NULL, '2026-03-08')$$)->>'message',
          'outside working hours: closed on Sunday', 'a closed day says so');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '09:00', '10:00', 'x', NULL, '2026-03-14')$$), NULL,
          'Saturday morning is open');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '08:00', '13:00')$$), NULL, 'a whole opening is bookable');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(203, '20:00', '21:00')$$), NULL,
          'a calendar''s own hours override the location''s');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(203, '10:00', '11:00', 'x', NULL, '2026-03-08')$$)->>'detail',
          'The appointment runs 2026-03-08 10:00-11:00 (America/Lima). Calendar "Pilates grupal" is closed on Sunday.',
          'and are reported as the calendar''s');

-- Europe/Madrid, 08:00-20:00 local, across DST
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (204, '2026-03-29 06:00Z', '2026-03-29 07:00Z')$$), NULL,
          'Madrid after spring-forward: 06:00Z is 08:00 CEST, open');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (204, '2026-03-28 06:00Z', '2026-03-28 07:00Z')$$)->>'message',
          'outside working hours: Saturday 08:00-20:00', 'Madrid the day before: 06:00Z is 07:00 CET, closed');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (204, '2026-10-25 18:30Z', '2026-10-25 19:30Z')$$)->>'detail',
          'The appointment runs 2026-10-25 19:30-20:30 (Europe/Madrid). Calendar "Madrid" is open on Sunday 08:00-20:00.',
          'Madrid after fall-back: 18:30Z is 19:30 CET, reported in local time');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (204, '2026-10-25 19:00Z', '2026-10-25 19:30Z')$$)->>'sqlstate', '23514',
          'Madrid after fall-back: 19:00Z is 20:00 CET, closed');

-- closures
SELECT reflexo.add_closure(101, '2026-03-11', 'Feriado');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '09:00', '10:00', 'x', NULL, '2026-03-11')$$),
  '{"sqlstate": "23514", "message": "the location is closed: Feriado",
    "detail": "Closed from 2026-03-11 00:00:00 until 2026-03-12 00:00:00 (America/Lima).",
    "hint": "Choose another day, or set reflexo.strict_validation = off to store it flagged.",
    "constraint": "appointments_not_in_closure"}'::jsonb,
  'a holiday closes the whole location');
INSERT INTO reflexo.closures (location_id, calendar_id, closed_from, closed_until, reason)
VALUES (101, 202, '2026-03-12 15:00', '2026-03-12 17:00', 'Mantenimiento');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(202, '16:30', '17:30', 'x', NULL, '2026-03-12')$$)->>'message',
          'the calendar is closed: Mantenimiento', 'a calendar closure closes that calendar');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '16:30', '17:30', 'x', NULL, '2026-03-12')$$), NULL,
          'but not the others');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(202, '17:00', '18:00', 'x', NULL, '2026-03-12')$$), NULL,
          'a closure ends where it says');

SELECT pg_temp.from_ghl($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                           VALUES (201, '2026-03-11 21:00-05', '2026-03-11 22:00-05')$$);
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE origin = 'ghl'), '{outside_hours,closure}',
          'a GHL booking outside hours and on a holiday is stored and flagged');

SELECT * FROM finish();
ROLLBACK;

-- Rule: an appointment ends after it starts and lasts at least min_duration (23514).
BEGIN;
\ir fixtures.psql
SELECT plan(9);

SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '10:00', '10:10')$$),
  '{"sqlstate": "23514", "message": "the minimum duration is 15 minutes",
    "detail": "The appointment lasts 10 minutes; location 101 requires at least 15 minutes.",
    "hint": "Make the appointment longer.", "constraint": "appointments_min_duration"}'::jsonb,
  'a 10-minute booking is refused with the minimum');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '10:00', '10:15')$$), NULL, 'exactly the minimum is accepted');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '11:00', '11:00')$$)->>'message',
          'appointment must end after it starts', 'a zero-length booking is refused');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '12:00', '11:00')$$)->>'constraint',
          'appointments_positive_duration', 'a booking ending before it starts is refused');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '12:00', '11:00')$$)->>'detail',
          'It starts at 2026-03-10 17:00:00+00 and ends at 2026-03-10 16:00:00+00.', 'naming both times');
UPDATE reflexo.locations SET min_duration = '45 minutes' WHERE id = 101;
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '15:00', '15:30')$$)->>'message',
          'the minimum duration is 45 minutes', 'the location''s minimum applies');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '15:00', '15:30', 'x', NULL, '2026-03-10')$$)->>'detail',
          'The appointment lasts 30 minutes; location 101 requires at least 45 minutes.', 'the detail says both');

-- real elapsed time counts, not the wall clock: 02:50 CEST to 02:05 CET is 15 minutes
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (207, '2026-10-25 00:50Z', '2026-10-25 01:05Z')$$), NULL,
          'a 15-minute booking across the fall-back hour is long enough');

SELECT pg_temp.from_ghl($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                           VALUES (202, '2026-03-10 10:00-05', '2026-03-10 10:05-05')$$);
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE calendar_id = 202), '{too_short}',
          'a short GHL booking is stored and flagged');

SELECT * FROM finish();
ROLLBACK;

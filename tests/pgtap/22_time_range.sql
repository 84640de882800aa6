-- Rule: appointment times are finite and lie in 2000-2099, on every path and
-- for every row, and a booking lasts at most its location's max_duration.
-- An outbox row whose GHL request cannot be built never stops the others.
BEGIN;
\ir fixtures.psql
SELECT plan(28);

-- what a staff user tried: a cancelled cita from -infinity to infinity
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(),
  'INSERT INTO api.citas (title, ghl_calendar_id, start_time, end_time, status)
   VALUES (''x'', ''cal-fisio'', ''-infinity'', ''infinity'', ''cancelled'') RETURNING id')$$),
  '{"sqlstate": "23514", "message": "appointment time out of range",
    "detail": "It starts at -infinity and ends at infinity; appointments start and end between 2000-01-01 and 2100-01-01 (UTC).",
    "hint": "Check the dates: infinity and far-off years are not appointment times.",
    "constraint": "appointments_time_range"}'::jsonb,
  'staff cannot store a cancelled cita with infinite times through api.citas');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, status, starts_at, ends_at)
                               VALUES (201, 'cancelled', '-infinity', '2026-03-10 10:00-05')$$) ->> 'constraint',
          'appointments_time_range', 'nor can anyone directly, cancelled or not');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (203, '2026-03-10 10:00-05', '200000-03-10 10:00-05')$$) ->> 'constraint',
          'appointments_time_range', 'an active booking ending in year 200000 is refused at once');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (203, '1999-12-31 10:00-05', '1999-12-31 11:00-05')$$) ->> 'constraint',
          'appointments_time_range', 'so is one in 1999');
SELECT pg_temp.book(201, '09:00', '10:00', 'Movible') AS movable \gset
SELECT is(pg_temp.error_of(format($$UPDATE reflexo.appointments SET status = 'cancelled', ends_at = 'infinity'
                                     WHERE id = %s$$, :movable)) ->> 'constraint',
          'appointments_time_range', 'an update cannot make a time infinite either');
SELECT is(pg_temp.error_of($$SELECT pg_temp.from_ghl($q$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (201, '2026-03-10 10:00-05', 'infinity')$q$)$$) ->> 'constraint',
          'appointments_time_range', 'nor a change from GHL');
SET LOCAL session_replication_role = replica;   -- triggers off, as in a restore
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (location_id, calendar_id, starts_at, ends_at)
                               VALUES (101, 201, '-infinity', '2026-03-10 10:00-05')$$) ->> 'constraint',
          'appointments_time_range', 'the table''s CHECK constraint holds with triggers off');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (location_id, calendar_id, starts_at, ends_at)
                               VALUES (101, 201, '2026-03-10 10:00-05', '2100-01-01 00:00:01+00')$$) ->> 'constraint',
          'appointments_time_range', 'so does it for the end alone, a second past 2100');
-- the stored flags name rules a stored appointment can break, and nothing else
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (location_id, calendar_id, starts_at, ends_at, validation_flags)
                               VALUES (101, 201, '2031-03-10 10:00-05', '2031-03-10 11:00-05', '{overlap,day_full}')$$),
          NULL, 'flags of known rules are kept with triggers off');
SELECT is(pg_temp.error_of(format($$INSERT INTO reflexo.appointments (location_id, calendar_id, starts_at, ends_at, validation_flags)
                                     VALUES (101, 201, '2031-03-10 12:00-05', '2031-03-10 13:00-05', %L)$$, flags))
          ->> 'constraint', 'appointments_known_flags', format('flags %s are refused', flags))
  FROM unnest(ARRAY['{bogus}', '{overlap,Overlap}', '{in_past}', '{overlap,NULL}']) flags;
SET LOCAL session_replication_role = origin;
SELECT is(pg_temp.error_of($$SELECT pg_temp.from_ghl($q$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (203, '2099-12-31 10:00-05', '2099-12-31 11:00-05')$q$)$$), NULL,
          'the last day of 2099 is bookable');

-- a webhook with such times is malformed (22023: answered 400, not retried)
SELECT is(pg_temp.error_of($$SELECT reflexo.apply_ghl_webhook(pg_temp.hook('AppointmentCreate', 'far-hook', 'ghl-far',
                               day => '3026-03-10'))$$) ->> 'sqlstate',
          '22023', 'a webhook with times after 2099 is refused as malformed');
SELECT is((SELECT count(*)::int FROM reflexo.webhook_inbox WHERE webhook_id = 'far-hook'), 0,
          'and leaves nothing behind');

-- max_duration: a location setting, one day unless set
SELECT is((SELECT max_duration FROM reflexo.locations WHERE id = 101), '1 day'::interval, 'max_duration defaults to one day');
SELECT is(pg_temp.error_of($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                               VALUES (203, '2026-03-10 09:00-05', '2026-03-11 10:00-05')$$),
  '{"sqlstate": "23514", "message": "the maximum duration is 24 hours",
    "detail": "The appointment lasts 25 hours; location 101 allows at most 24 hours.",
    "hint": "Shorten the appointment, or raise the location''s max_duration.",
    "constraint": "appointments_max_duration"}'::jsonb,
  'a 25-hour booking is refused with its own constraint name');
UPDATE reflexo.locations SET max_duration = '3 hours', open_hours = '00:00-24:00' WHERE id = 101;
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(203, '09:00', '12:30')$$) ->> 'message',
          'the maximum duration is 3 hours', 'the location''s own maximum applies');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(203, '09:00', '12:00')$$), NULL, 'exactly the maximum is accepted');
SELECT is(pg_temp.error_of($$SET LOCAL reflexo.strict_validation = off; SELECT pg_temp.book(203, '13:00', '16:30')$$) ->> 'constraint',
          'appointments_max_duration', 'flexible mode does not relax it');
SELECT pg_temp.from_ghl($$INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at)
                           VALUES (202, 'larga', '2026-03-12 08:00-05', '2026-03-20 08:00-05')$$);
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE title = 'larga'), '{too_long}',
          'a longer booking from GHL is stored and flagged too_long');
SELECT is(pg_temp.error_of($$UPDATE reflexo.locations SET max_duration = '10 minutes' WHERE id = 101$$) ->> 'constraint',
          'locations_max_duration_range', 'max_duration must exceed min_duration');
SELECT is(pg_temp.error_of($$UPDATE reflexo.locations SET max_duration = '8 days' WHERE id = 101$$) ->> 'constraint',
          'locations_max_duration_range', 'and be at most 7 days');

-- claiming: a row GHL cannot be told about is dead at once, the rest go out
-- (no appointment with such times can be stored: the constraint is lifted to make one)
DELETE FROM reflexo.outbox;
SELECT pg_temp.book(201, '10:00', '11:00', 'Buena') AS good \gset
ALTER TABLE reflexo.appointments DROP CONSTRAINT appointments_time_range;
SET LOCAL session_replication_role = replica;
INSERT INTO reflexo.appointments (id, location_id, calendar_id, starts_at, ends_at)
VALUES (-1, 101, 201, '10000-03-10 10:00-05', '10000-03-10 11:00-05');
SET LOCAL session_replication_role = origin;
INSERT INTO reflexo.outbox (appointment_id, location_id, operation) VALUES (-1, 101, 'create');
CREATE TEMP TABLE jobs AS SELECT * FROM reflexo.claim_outbox(10);
SELECT is((SELECT array_agg(appointment_id) FROM jobs), ARRAY[:good]::bigint[],
          'claiming returns the good row and not the one in year 10000');
SELECT is((SELECT state::text FROM reflexo.outbox WHERE appointment_id = -1), 'dead', 'which is dead');
SELECT matches((SELECT last_error FROM reflexo.outbox WHERE appointment_id = -1),
               '^cannot be sent to GHL: its times \(10000-03-10 \S+ to 10000-03-10 \S+\) are not finite or out of range',
               'saying why');
SELECT is((SELECT count(*)::int FROM reflexo.claim_outbox(10)), 0, 'and the next claim does not trip on it');

SELECT * FROM finish();
ROLLBACK;

-- Bad input gets the right SQLSTATE and leaves nothing half-written.
BEGIN;
\ir fixtures.psql
SELECT plan(11);

SELECT throws_ok($$INSERT INTO reflexo.locations (ghl_location_id, name, timezone) VALUES ('x', 'x', 'Mars/Base')$$,
                 '23514', NULL, 'an unknown time zone violates the time_zone domain');
SELECT throws_ok($$INSERT INTO reflexo.locations (ghl_location_id, name, open_hours) VALUES ('x', 'x', '8-20')$$,
                 '22P02', NULL, 'malformed open hours are invalid text');
SELECT throws_ok($$INSERT INTO reflexo.locations (ghl_location_id, name, min_duration) VALUES ('x', 'x', '-5 min')$$,
                 '23514', NULL, 'a negative minimum duration is refused');
SELECT throws_ok($$INSERT INTO reflexo.calendars (location_id, name, capacity) VALUES (101, 'x', 0)$$,
                 '23514', NULL, 'a capacity of zero is refused');
SELECT throws_ok($$INSERT INTO reflexo.closures (location_id, closed_from, closed_until, reason)
                   VALUES (101, '2026-01-02', '2026-01-01', 'x')$$, '23514', NULL, 'a closure ending before it starts is refused');
SELECT throws_ok($$INSERT INTO reflexo.closures (location_id, closed_from, closed_until, reason)
                   VALUES (101, '2026-01-01', '2026-01-02', '')$$, '23514', NULL, 'a closure needs a reason');
SELECT throws_ok($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at) VALUES (201, NULL, now())$$,
                 '23502', NULL, 'an appointment needs a start');
INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at, validation_flags)
VALUES (202, 'flags', '2026-03-10 15:00-05', '2026-03-10 16:00-05', '{made_up}');
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE title = 'flags'), '{}',
          'validation_flags are the guard''s findings, not the client''s');

-- a failing row in a multi-row insert writes nothing
SELECT throws_ok($$INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at) VALUES
  (201, 'ok', '2026-03-10 09:00-05', '2026-03-10 10:00-05'),
  (201, 'bad', '2026-03-10 21:00-05', '2026-03-10 22:00-05')$$, '23514', NULL, 'one bad row fails the statement');
SELECT is_empty($$SELECT 1 FROM reflexo.appointments WHERE title = 'ok'$$, 'and no row of it is stored');

SELECT pg_temp.book(201, '09:00', '10:00');
SELECT throws_ok($$DELETE FROM reflexo.calendars WHERE id = 201$$,
                 '23503', NULL, 'a calendar with appointments cannot be deleted');

SELECT * FROM finish();
ROLLBACK;

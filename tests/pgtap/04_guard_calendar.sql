-- Rule: the calendar must exist, be active and belong to the location (23503).
BEGIN;
\ir fixtures.psql
SELECT plan(12);

SELECT is(pg_temp.error_of($$SELECT pg_temp.book(999, '09:00', '10:00')$$),
  '{"sqlstate": "23503", "message": "calendar 999 does not exist or is not available",
    "detail": "No calendar has id 999.", "constraint": "appointments_calendar_available",
    "hint": "Book an active calendar of the appointment''s location; reflexo.calendars lists them, and syncing calendars from GHL refreshes them."}'::jsonb,
  'an unknown calendar is a foreign key violation naming it, with detail, hint and constraint');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(205, '09:00', '10:00')$$)->>'detail',
          'Calendar 205 ("Borrador") is inactive.', 'an inactive calendar is refused');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(206, '09:00', '10:00')$$)->>'detail',
          'Location 103 is inactive.', 'a calendar of an inactive location is refused');
SELECT is(pg_temp.error_of($$
  INSERT INTO reflexo.appointments (location_id, calendar_id, starts_at, ends_at)
  VALUES (102, 201, '2026-03-10 14:00Z', '2026-03-10 15:00Z')$$)->>'detail',
  'Calendar 201 belongs to location 101, not to location 102.', 'a calendar of another location is refused');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '09:00', '10:00')$$), NULL, 'an active calendar is accepted');
SELECT is((SELECT location_id FROM reflexo.appointments WHERE calendar_id = 201), 101::bigint,
          'the location is filled from the calendar');

UPDATE reflexo.locations SET default_calendar_id = 202 WHERE id = 101;
INSERT INTO reflexo.appointments (location_id, starts_at, ends_at)
VALUES (101, '2026-03-10 10:00-05', '2026-03-10 11:00-05');
SELECT is((SELECT calendar_id FROM reflexo.appointments WHERE location_id = 101 AND starts_at = '2026-03-10 10:00-05'),
          202::bigint, 'the location''s default calendar is used when none is given');
SELECT is(pg_temp.error_of($$
  INSERT INTO reflexo.appointments (location_id, starts_at, ends_at) VALUES (102, '2026-03-10 10:00Z', '2026-03-10 11:00Z')$$)->>'sqlstate',
  '23502', 'without a calendar or a default one the booking is refused as not null');

-- changes from GHL are stored, flagged
SELECT pg_temp.from_ghl($$INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at)
                           VALUES (205, '2026-03-10 16:00-05', '2026-03-10 17:00-05')$$);
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE calendar_id = 205), '{calendar_unavailable}',
          'a GHL booking on an inactive calendar is stored and flagged');
SELECT is(pg_temp.error_of($$SELECT pg_temp.from_ghl('
  INSERT INTO reflexo.appointments (calendar_id, starts_at, ends_at) VALUES (999, now(), now() + ''1h'')')$$)->>'sqlstate',
  '23503', 'a GHL booking on an unknown calendar cannot be stored');

-- deactivating later does not break existing bookings; moving them is checked
UPDATE reflexo.calendars SET is_active = false WHERE id = 201;
SELECT is(pg_temp.error_of($$UPDATE reflexo.appointments SET notes = 'ok' WHERE calendar_id = 201$$), NULL,
          'editing notes of a booking on a now-inactive calendar is allowed');
SELECT is(pg_temp.error_of($$UPDATE reflexo.appointments SET starts_at = starts_at + '30 min', ends_at = ends_at + '30 min'
                               WHERE calendar_id = 201$$)->>'sqlstate', '23503',
          'moving a booking on an inactive calendar is refused');

SELECT * FROM finish();
ROLLBACK;

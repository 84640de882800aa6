-- Strict and flexible validation, and changes from GHL that are never rejected.
BEGIN;
\ir fixtures.psql
SELECT plan(16);

SELECT pg_temp.book(201, '14:00', '15:00', 'Base', 'ana');

-- the location decides by default
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '14:30', '15:30', 'Estricta')$$)->>'sqlstate', '23P01',
          'a strict location rejects an overlap');
UPDATE reflexo.locations SET strict_validation = false WHERE id = 101;
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '14:30', '15:30', 'Flexible')$$), NULL,
          'a flexible location stores it');
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE title = 'Flexible'), '{overlap}',
          'and flags it');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '20:00', '21:00', 'Tarde')$$), NULL,
          'a flexible location stores a booking outside hours');
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE title = 'Tarde'), '{outside_hours}',
          'and flags it');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '10:00', '10:05')$$)->>'sqlstate', '23514',
          'flexible mode still refuses a too-short booking');
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(205, '10:00', '11:00')$$)->>'sqlstate', '23503',
          'and an unavailable calendar');

-- the setting overrides the location either way
SET LOCAL reflexo.strict_validation = on;
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '14:30', '15:30', 'Forzada')$$)->>'sqlstate', '23P01',
          'reflexo.strict_validation = on rejects even at a flexible location');
UPDATE reflexo.locations SET strict_validation = true WHERE id = 101;
SET LOCAL reflexo.strict_validation = off;
SELECT is(pg_temp.error_of($$SELECT pg_temp.book(201, '12:30', '13:30', 'Almuerzo', 'ana')$$), NULL,
          'reflexo.strict_validation = off stores it at a strict location');
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE title = 'Almuerzo'), '{outside_hours}',
          'flagged for the hours it breaks');
SET LOCAL reflexo.strict_validation = location;

-- GHL is the source of truth for its own changes
SELECT is(pg_temp.error_of($$SELECT pg_temp.from_ghl('
  INSERT INTO reflexo.appointments (calendar_id, title, assigned_user_id, starts_at, ends_at)
  VALUES (202, ''Desde GHL'', ''ana'', ''2026-03-10 14:30-05'', ''2026-03-10 20:30-05'')')$$), NULL,
          'a GHL booking breaking several rules at a strict location is stored');
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE title = 'Desde GHL'), '{overlap,outside_hours}',
          'with every rule it breaks flagged');
UPDATE reflexo.appointments SET status = 'cancelled' WHERE title = 'Desde GHL';
SELECT is((SELECT validation_flags FROM reflexo.appointments WHERE title = 'Desde GHL'), '{}',
          'cancelling clears the flags: it no longer holds a slot');

-- flexible validation asked for by one booking (the Django serializer's
-- strict_validation=False): admins always, staff where the location allows it
CREATE FUNCTION pg_temp.book_as(role text, claims jsonb, title text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT pg_temp.api(role, claims, format(
    'INSERT INTO api.citas (ghl_calendar_id, title, start_time, end_time)
     VALUES (''cal-fisio'', %L, ''2037-03-12 21:00-05'', ''2037-03-12 21:30-05'') RETURNING validation_flags', title))
$$;
SET LOCAL reflexo.strict_validation = off;
SELECT is(pg_temp.error_of($$SELECT pg_temp.book_as('reflexo_staff', pg_temp.lima(), 'Tarde staff')$$) - 'detail' - 'constraint',
          '{"sqlstate": "42501", "message": "only admins may book with flexible validation at location 101",
            "hint": "An admin may allow it to staff (staff_flexible on the location), or book within the rules."}',
          'staff may not book flexibly at a strict location by default');
SELECT is(pg_temp.book_as('reflexo_admin', pg_temp.admin(), 'Tarde admin') -> 0 -> 'validation_flags', '["outside_hours"]',
          'an admin may: stored, flagged');
UPDATE reflexo.locations SET staff_flexible = true WHERE id = 101;
SELECT is(pg_temp.book_as('reflexo_staff', pg_temp.lima(), 'Tarde staff') -> 0 -> 'validation_flags', '["overlap", "outside_hours"]',
          'staff may where the location allows it');
SET LOCAL reflexo.strict_validation = location;

SELECT * FROM finish();
ROLLBACK;

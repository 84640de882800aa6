-- reflexo.free_slots: bookable slots from working hours, closures, capacity
-- and bookings, on the location's wall clock, across DST changes.
BEGIN;
\ir fixtures.psql
SELECT plan(12);

CREATE FUNCTION pg_temp.slots(calendar bigint, day date, zone text, duration interval DEFAULT NULL)
RETURNS text[] LANGUAGE sql AS $$
  SELECT coalesce(array_agg(to_char(starts_at AT TIME ZONE zone, 'HH24:MI') ORDER BY starts_at), '{}')
    FROM reflexo.free_slots(calendar, day::timestamp AT TIME ZONE zone, (day + 1)::timestamp AT TIME ZONE zone, duration)
$$;

-- Lima, Tuesday 2026-03-10: 08:00-13:00 and 14:00-20:00, 30-minute slots
SELECT is(cardinality(pg_temp.slots(201, '2026-03-10', 'America/Lima')), 22,
          'a free day offers every 30-minute slot of both working-hour intervals');
SELECT is(cardinality(pg_temp.slots(201, '2026-03-10', 'America/Lima', '1 hour')), 20,
          'an hour-long slot must fit before each interval closes');
SELECT pg_temp.book(201, '10:00', '11:00');
SELECT ok(NOT pg_temp.slots(201, '2026-03-10', 'America/Lima', '1 hour') && '{09:30,10:00,10:30}'
          AND pg_temp.slots(201, '2026-03-10', 'America/Lima', '1 hour') @> '{09:00,11:00}',
          'a booking removes exactly the slots that overlap it');
SELECT is(cardinality(pg_temp.slots(201, '2026-03-15', 'America/Lima')), 0, 'Sunday is closed');

-- capacity: Pilates takes 3 at a time
SELECT pg_temp.book(203, '10:00', '11:00', day => '2026-03-10');
SELECT pg_temp.book(203, '10:00', '11:00', day => '2026-03-10');
SELECT ok(pg_temp.slots(203, '2026-03-10', 'America/Lima', '1 hour') @> '{10:00}', 'two of three places taken: still free');
SELECT pg_temp.book(203, '10:30', '11:30', day => '2026-03-10');
SELECT ok(NOT pg_temp.slots(203, '2026-03-10', 'America/Lima', '1 hour') && '{10:00,10:30}',
          'three overlapping at once: full');
SELECT ok(pg_temp.slots(203, '2026-03-10', 'America/Lima', '30 minutes') @> '{11:00}', 'free again when one has ended');

-- closures
SELECT reflexo.add_closure(101, '2026-03-11', 'Feriado');
SELECT is(cardinality(pg_temp.slots(201, '2026-03-11', 'America/Lima')), 0, 'a closed day has no slots');

-- DST in Madrid (calendar 207 is open all day): 2026-03-29 has no 02:00-03:00
SELECT is(cardinality(pg_temp.slots(207, '2026-03-29', 'Europe/Madrid')), 46,
          'the day DST starts has 23 hours: 46 half-hour slots');
SELECT ok(NOT pg_temp.slots(207, '2026-03-29', 'Europe/Madrid') && '{02:00,02:30}' AND
          pg_temp.slots(207, '2026-03-29', 'Europe/Madrid') @> '{01:30,03:00}',
          'wall times skipped by DST are never offered; slots stay on the wall clock');
SELECT is(cardinality(pg_temp.slots(204, '2026-10-25', 'Europe/Madrid')), 24,
          'the day DST ends: 08:00-20:00 still has 24 slots at the usual wall times');

-- errors
SELECT is(pg_temp.error_of($$SELECT * FROM reflexo.free_slots(201, now(), now() + interval '400 days')$$) ->> 'sqlstate',
          '22023', 'a range over 366 days is refused');

SELECT * FROM finish();
ROLLBACK;

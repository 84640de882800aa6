-- How citas are read through row-level security.  The location merge scan: citas listed by time
-- ("location_id = ANY (the caller's locations)") come off the (location_id,
-- starts_at) index one location at a time, merged, instead of every match
-- being read and sorted.  It must return exactly what the plain plan returns,
-- for every shape of the array, bound and rescan, and be chosen only where it
-- applies.  And a count through api.citas reads the appointments alone.
BEGIN;
\ir fixtures.psql
SELECT plan(20);

-- 3,000 citas, 1,000 per location, interleaved in time: every 20 minutes one of them, valid by construction
SET LOCAL session_replication_role = replica;
INSERT INTO reflexo.appointments (location_id, calendar_id, title, starts_at, ends_at)
SELECT l, CASE l WHEN 101 THEN 201 WHEN 102 THEN 204 ELSE 206 END, 'Cita ' || g,
       timestamptz '2026-05-04 08:00-05' + g * interval '20 minutes',
       timestamptz '2026-05-04 08:00-05' + g * interval '20 minutes' + interval '45 minutes'
  FROM generate_series(0, 2999) g, LATERAL (SELECT 101 + g % 3 AS l) x;
SET LOCAL session_replication_role = origin;
ANALYZE reflexo.appointments;

-- a statement as a role with claims: its rows as JSON, with the merge scan on or off
CREATE FUNCTION pg_temp.listed(claims jsonb, statement text, merge bool DEFAULT true) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  result jsonb;
BEGIN
  PERFORM set_config('reflexo.location_merge_scan', merge::text, true);
  result := pg_temp.api(claims ->> 'role', claims, statement);
  PERFORM set_config('reflexo.location_merge_scan', 'on', true);
  RETURN result;
END $$;
-- the plan of a statement as that role (NULL: as the superuser running the tests)
CREATE FUNCTION pg_temp.plan_of(claims jsonb, statement text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  line text;
  plan text := '';
BEGIN
  IF claims IS NOT NULL THEN
    EXECUTE format('SET LOCAL ROLE %I', claims ->> 'role');
    PERFORM set_config('request.jwt.claims', claims::text, true);
  END IF;
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || statement LOOP
    plan := plan || line || E'\n';
  END LOOP;
  RESET ROLE;
  RETURN plan;
END $$;
CREATE FUNCTION pg_temp.staff(locations jsonb) RETURNS jsonb LANGUAGE sql
  AS $$ SELECT jsonb_build_object('role', 'reflexo_staff', 'sub', 'merge', 'uid', 0, 'location_ids', locations) $$;

\set week 'SELECT * FROM api.citas WHERE start_time >= ''2026-05-10 00:00-05'' AND start_time < ''2026-05-17 00:00-05'''
\set first_page :week ' ORDER BY start_time LIMIT 20'

-- chosen where it applies
SELECT matches(pg_temp.plan_of(pg_temp.staff('[101]'), :'first_page'), 'Custom Scan \(Reflexo Location Merge\)',
               'a staff member''s first page of a week is read by the merge scan');
SELECT doesnt_match(pg_temp.plan_of(pg_temp.staff('[101]'), :'first_page'), 'Sort',
                    'and nothing is sorted');
SELECT doesnt_match(pg_temp.plan_of(pg_temp.staff('[101]'), :'week' || ' ORDER BY start_time DESC LIMIT 20'),
                    'Location Merge', 'not for a descending order, which it does not keep');
SELECT doesnt_match(pg_temp.plan_of(pg_temp.staff('[101]'), :'week'), 'Location Merge',
                    'not without an order');
SELECT doesnt_match(pg_temp.plan_of(NULL, 'SELECT * FROM reflexo.appointments ORDER BY starts_at LIMIT 5'),
                    'Location Merge', 'not without an array of locations (a superuser reads the table)');

-- the same rows as the plain plan, whatever the array holds
SELECT is(pg_temp.listed(pg_temp.staff('[101]'), :'first_page'),
          pg_temp.listed(pg_temp.staff('[101]'), :'first_page', false), 'one location: the same page');
SELECT is(jsonb_array_length(pg_temp.listed(pg_temp.staff('[101]'), :'first_page')), 20, '... a full one');
SELECT is(pg_temp.listed(pg_temp.staff('[101, 103]'), :'week' || ' ORDER BY start_time, id'),
          pg_temp.listed(pg_temp.staff('[101, 103]'), :'week' || ' ORDER BY start_time, id', false),
          'two locations, every row of the week: the same rows in the same order');
SELECT is(pg_temp.listed(pg_temp.staff('[103, 101, 103, 101]'), :'first_page'),
          pg_temp.listed(pg_temp.staff('[101, 103]'), :'first_page', false),
          'a location named twice is read once');
SELECT is(pg_temp.listed(pg_temp.staff('[]'), :'first_page'), '[]', 'no location: no rows');
SELECT is(pg_temp.listed(pg_temp.admin(), :'first_page'), pg_temp.listed(pg_temp.admin(), :'first_page', false),
          'an admin (every location): the same page');
SELECT is(pg_temp.listed(pg_temp.staff('[101]'), :'first_page' || ' OFFSET 30'),
          pg_temp.listed(pg_temp.staff('[101]'), :'first_page' || ' OFFSET 30', false), 'a later page: the same');
SELECT is(pg_temp.listed(pg_temp.staff('[101]'), :'week' || ' AND status = ''cancelled'' ORDER BY start_time LIMIT 20'),
          '[]', 'the other filters still apply');
SELECT is(pg_temp.listed(pg_temp.staff('[101]'),
            'SELECT id FROM api.citas WHERE start_time >= NULL::timestamptz ORDER BY start_time LIMIT 5'),
          '[]', 'a bound compared with NULL: no rows');

-- started again for each outer row (a correlated subquery), with new bounds each time
\set per_day 'SELECT d, (SELECT array_agg(c.id) FROM (SELECT id FROM api.citas c WHERE c.start_time >= d ORDER BY c.start_time LIMIT 3) c) AS ids FROM generate_series(timestamptz ''2026-05-04 00:00-05'', ''2026-05-09 00:00-05'', ''1 day'') d'
SELECT is(pg_temp.listed(pg_temp.staff('[101, 102]'), :'per_day'),
          pg_temp.listed(pg_temp.staff('[101, 102]'), :'per_day', false), 'rescanned with new bounds: the same rows');

-- an array of another type than the column is left to PostgreSQL (its repeated elements could not be told apart)
SELECT matches(pg_temp.plan_of(NULL, 'SELECT id FROM reflexo.appointments WHERE location_id = ANY (''{101,102}''::int8[]) ORDER BY starts_at LIMIT 5'),
               'Location Merge', 'an int8[] of locations is merged');
SELECT doesnt_match(pg_temp.plan_of(NULL, 'SELECT id FROM reflexo.appointments WHERE location_id = ANY (''{101,102}''::int4[]) ORDER BY starts_at LIMIT 5'),
                    'Location Merge', 'an int4[] is not');

-- only the extension's tables
CREATE TEMP TABLE elsewhere (location_id int8, starts_at timestamptz);
CREATE INDEX ON elsewhere (location_id, starts_at);
SELECT doesnt_match(pg_temp.plan_of(NULL,
                      'SELECT * FROM elsewhere WHERE location_id = ANY (''{1,2}'') ORDER BY starts_at LIMIT 5'),
                    'Location Merge', 'a table outside schema reflexo is never read by it');

-- counting citas joins nothing: the view's calendar and location are left joins nobody reads then
SELECT doesnt_match(pg_temp.plan_of(pg_temp.staff('[101]'), 'SELECT count(*) FROM api.citas WHERE status = ''scheduled'''),
                    'calendars|locations', 'a count through api.citas reads the appointments alone');

-- the setting withdraws it
SET LOCAL reflexo.location_merge_scan = off;
SELECT doesnt_match(pg_temp.plan_of(pg_temp.staff('[101]'), :'first_page'), 'Location Merge',
                    'reflexo.location_merge_scan = off withdraws it');

SELECT * FROM finish();
ROLLBACK;

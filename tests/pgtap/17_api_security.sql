-- The api schema's roles and row-level security: each role sees and does
-- exactly what it should, and staff never cross into another location.
BEGIN;
\ir fixtures.psql
SELECT plan(25);

SELECT pg_temp.book(201, '09:00', '10:00', 'Cita Lima') AS lima_cita \gset
SELECT pg_temp.book(204, '09:00', '10:00', 'Cita Madrid', day => '2026-03-10', zone => 'Europe/Madrid') AS madrid_cita \gset

-- roles exist with the right shape
SELECT ok((SELECT rolcanlogin AND NOT rolinherit FROM pg_roles WHERE rolname = 'reflexo_authenticator'),
          'reflexo_authenticator logs in and inherits nothing (it must SET ROLE)');
SELECT ok(NOT (SELECT bool_or(rolcanlogin OR rolsuper OR rolbypassrls) FROM pg_roles
                WHERE rolname IN ('reflexo_anon', 'reflexo_staff', 'reflexo_admin', 'reflexo_sync', 'reflexo_api')),
          'the API roles cannot log in, are not superusers and do not bypass row-level security');

-- no API role touches a core table
SELECT is((SELECT count(*)::int FROM information_schema.role_table_grants
            WHERE table_schema = 'reflexo' AND grantee IN ('reflexo_anon', 'reflexo_staff', 'reflexo_admin')),
          0, 'anon, staff and admin have no privilege on any table of schema reflexo');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(), 'SELECT * FROM reflexo.appointments')$$) ->> 'sqlstate',
          '42501', 'staff reading reflexo.appointments directly: permission denied');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_admin', pg_temp.admin(), 'SELECT * FROM reflexo.users')$$) ->> 'sqlstate',
          '42501', 'not even an admin reads the users table (password hashes) directly');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(),
          'SELECT reflexo.apply_ghl_webhook(''{}'')')$$) ->> 'sqlstate',
          '42501', 'staff cannot pretend to be GHL (apply_ghl_webhook)');

-- anon: login only
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_anon', '{"role": "reflexo_anon"}', 'SELECT * FROM api.citas')$$) ->> 'sqlstate',
          '42501', 'anon cannot list citas');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_anon', '{"role": "reflexo_anon"}', 'SELECT api.metrics()')$$) ->> 'sqlstate',
          '42501', 'anon cannot read metrics');

-- staff: own location only
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), 'SELECT id FROM api.citas') -> 0 ->> 'id',
          :'lima_cita'::text, 'Lima staff see the Lima cita');
SELECT is(jsonb_array_length(pg_temp.api('reflexo_staff', pg_temp.lima(), 'SELECT id FROM api.citas')), 1,
          '... and only it');
SELECT is(jsonb_array_length(pg_temp.api('reflexo_staff', pg_temp.lima(),
          format('SELECT id FROM api.citas WHERE id = %s', :madrid_cita))), 0,
          'a Madrid cita is invisible to Lima staff, even by id');
SELECT is(jsonb_array_length(pg_temp.api('reflexo_staff', pg_temp.lima(),
          format('UPDATE api.citas SET title = %L WHERE id = %s RETURNING id', 'robada', :madrid_cita))), 0,
          'and cannot be changed by them');
SELECT is(pg_temp.error_of(format($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(), 'SELECT * FROM api.cancel_cita(%s)')$$,
          :madrid_cita)) ->> 'sqlstate', 'PT404', 'nor cancelled (not found: PostgREST answers 404)');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(),
          'INSERT INTO api.citas (title, ghl_calendar_id, start_time, end_time) VALUES (''x'', ''cal-madrid'', ''2026-03-11 09:00+01'', ''2026-03-11 10:00+01'') RETURNING id')$$) ->> 'sqlstate',
          '23503', 'Lima staff cannot book a Madrid calendar');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(),
          'INSERT INTO api.citas (title, location_id, start_time, end_time) VALUES (''x'', 102, ''2026-03-11 09:00+01'', ''2026-03-11 10:00+01'') RETURNING id')$$) ->> 'sqlstate',
          '42501', '... nor slip one in by location_id (row-level security)');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(),
          'INSERT INTO api.citas (title, ghl_location_id, start_time, end_time) VALUES (''x'', ''loc-madrid'', ''2026-03-11 09:00+01'', ''2026-03-11 10:00+01'') RETURNING id')$$) ->> 'sqlstate',
          '42501', '... nor by ghl_location_id');
SELECT is((SELECT title FROM reflexo.appointments WHERE id = :madrid_cita), 'Cita Madrid', 'the Madrid cita is untouched');
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), 'SELECT ghl_location_id FROM api.location_settings'),
          '[{"ghl_location_id": "loc-lima"}]', 'staff see their own location settings only');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(),
          'UPDATE api.location_settings SET name = ''x'' RETURNING id')$$) ->> 'sqlstate',
          '42501', 'staff cannot change location settings');
SELECT is(pg_temp.error_of($$SELECT pg_temp.api('reflexo_staff', pg_temp.lima(),
          'SELECT api.create_user(''intruso'', ''contraseña-larga'', ''admin'')')$$) ->> 'sqlstate',
          '42501', 'staff cannot create users');
SELECT is(pg_temp.api('reflexo_staff', '{"role": "reflexo_staff", "sub": "nadie"}', 'SELECT id FROM api.citas'),
          '[]', 'staff with no location_ids see nothing');
SELECT is(pg_temp.api('reflexo_staff', '{"role": "reflexo_admin", "sub": "falso", "location_ids": [101]}',
          'SELECT count(*) AS n FROM api.citas') -> 0 -> 'n', '1',
          'a role claim does not make staff an admin: the database role decides');

-- admin: everything
SELECT is(pg_temp.api('reflexo_admin', pg_temp.admin(), 'SELECT count(*) AS n FROM api.citas') -> 0 -> 'n',
          (SELECT count(*) FROM reflexo.appointments)::text::jsonb, 'admins see every location''s citas');
SELECT is(pg_temp.api('reflexo_admin', pg_temp.admin(),
          'UPDATE api.location_settings SET min_duration = ''20 minutes'' WHERE id = 102 RETURNING min_duration') -> 0 ->> 'min_duration',
          '00:20:00', 'admins change location settings');

-- the daemon's role: its functions, nothing of the API
SELECT is(pg_temp.error_of($$SET LOCAL ROLE reflexo_sync; SELECT * FROM api.citas$$) ->> 'sqlstate',
          '42501', 'reflexo_sync has no access to the api schema');

SELECT * FROM finish();
ROLLBACK;

-- api.health names locations in its token list: staff see their own
-- locations' tokens only, admins every one (issue: operational data must not
-- cross locations).
BEGIN;
\ir fixtures.psql
SELECT plan(7);

INSERT INTO reflexo.ghl_tokens (location_id, kind, access_token, expires_at)
VALUES (101, 'oauth', '\x00', now() + interval '1 hour'), (102, 'oauth', '\x00', now() + interval '2 hours');

SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), 'SELECT api.health() AS h') -> 0 -> 'h' -> 'tokens' -> 0 ->> 'location',
          'loc-lima', 'staff of Lima see Lima''s token');
SELECT is(jsonb_array_length(pg_temp.api('reflexo_staff', pg_temp.lima(), 'SELECT api.health() AS h') -> 0 -> 'h' -> 'tokens'),
          1, 'and no other location''s');
SELECT is(jsonb_array_length(pg_temp.api('reflexo_admin', pg_temp.admin(), 'SELECT api.health() AS h') -> 0 -> 'h' -> 'tokens'),
          2, 'admins see every location''s');


-- an overall status with its components, as the Django service's health check
SELECT is(pg_temp.api('reflexo_admin', pg_temp.admin(), 'SELECT api.health() AS h') -> 0 -> 'h' ->> 'status',
          'healthy', 'all well: healthy');
UPDATE reflexo.ghl_tokens SET expires_at = now() - interval '1 hour' WHERE location_id = 102;
SELECT is(pg_temp.api('reflexo_admin', pg_temp.admin(), 'SELECT api.health() AS h') -> 0 -> 'h' -> 'components' ->> 'tokens',
          'unhealthy', 'a token expired and not refreshed: its component is unhealthy');
SELECT is(pg_temp.api('reflexo_admin', pg_temp.admin(), 'SELECT api.health() AS h') -> 0 -> 'h' ->> 'status',
          'unhealthy', 'and so is the whole');
SELECT is(pg_temp.api('reflexo_staff', pg_temp.lima(), 'SELECT api.health() AS h') -> 0 -> 'h' ->> 'status',
          'healthy', 'but not for staff of another location, whose tokens are fine');

SELECT * FROM finish();
ROLLBACK;

-- reflexo.api_pre_request, as PostgREST's db-pre-request and reflexo-api
-- run it once the role and claims are set: a token whose user changed since
-- it was issued is refused (PT401, which PostgREST answers 401), and under
-- PostgREST the messages follow the request's Accept-Language.
BEGIN;
\ir fixtures.psql
SELECT plan(12);

SET reflexo.password_iterations = 1000;
SELECT api.create_user('pre_lima', 'a-long-password-1', 'staff', '{101}');

-- the claims api.login gives this user now
CREATE FUNCTION pg_temp.claims_of(username text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('role', 'reflexo_' || u.role, 'sub', u.username, 'uid', u.id, 'ver', u.token_version,
                            'typ', 'access', 'location_ids', to_jsonb(u.location_ids))
    FROM reflexo.users u WHERE u.username = claims_of.username
$$;
-- the pre-request as PostgREST runs it: role, claims, headers, then the function
CREATE FUNCTION pg_temp.pre_request(role text, claims jsonb, headers jsonb DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  language text;
BEGIN
  EXECUTE format('SET LOCAL ROLE %I', role);
  PERFORM set_config('request.jwt.claims', claims::text, true);
  PERFORM set_config('request.headers', COALESCE(headers::text, ''), true);
  PERFORM reflexo.api_pre_request();
  language := current_setting('lc_messages');
  RESET ROLE;
  PERFORM set_config('request.headers', '', true);
  RETURN language;
END $$;

CREATE TEMP TABLE issued AS SELECT pg_temp.claims_of('pre_lima') AS claims;
GRANT SELECT ON issued TO PUBLIC;

SELECT is(pg_temp.error_of($$SELECT pg_temp.pre_request('reflexo_staff', (SELECT claims FROM issued))$$), NULL,
          'a token of an unchanged user passes');
SELECT is(pg_temp.error_of($$SELECT pg_temp.pre_request('reflexo_anon', '{"role": "reflexo_anon"}')$$), NULL,
          'so does an anonymous request (login, refresh)');
SELECT is(pg_temp.error_of($$SELECT pg_temp.pre_request('reflexo_staff',
            (SELECT claims || '{"typ": "refresh"}' FROM issued))$$) ->> 'sqlstate', 'PT401',
          'a refresh token is no access token');
SELECT is(pg_temp.error_of($$SELECT pg_temp.pre_request('reflexo_staff',
            (SELECT claims || '{"location_ids": [101, 102]}' FROM issued))$$) ->> 'sqlstate', 'PT401',
          'claims that are not the user''s are refused');

SELECT api.update_user('pre_lima', NULL, NULL, '{101, 102}', NULL);
SELECT is(pg_temp.error_of($$SELECT pg_temp.pre_request('reflexo_staff', (SELECT claims FROM issued))$$) ->> 'sqlstate',
          'PT401', 'once the user''s locations change, the old token is refused');
SELECT is(pg_temp.error_of($$SELECT pg_temp.pre_request('reflexo_staff', (SELECT claims FROM issued))$$) ->> 'message',
          'the token was revoked', 'saying so');
SELECT is(pg_temp.error_of($$SELECT pg_temp.pre_request('reflexo_staff', pg_temp.claims_of('pre_lima'))$$), NULL,
          'a new login''s token passes');
SELECT api.update_user('pre_lima', NULL, NULL, NULL, false);
SELECT is(pg_temp.error_of($$SELECT pg_temp.pre_request('reflexo_staff', pg_temp.claims_of('pre_lima'))$$) ->> 'sqlstate',
          'PT401', 'a deactivated user''s token is refused');

-- PostgREST passes the request's headers as JSON in request.headers
SET LOCAL lc_messages = 'C';
SELECT is(pg_temp.pre_request('reflexo_anon', '{"role": "reflexo_anon"}', '{"accept-language": "es-PE,es;q=0.9,en;q=0.8"}'),
          current_setting('reflexo.spanish_locale'), 'Accept-Language es: Spanish messages');
SELECT is(pg_temp.pre_request('reflexo_anon', '{"role": "reflexo_anon"}', '{"accept-language": "en-US,en;q=0.5"}'),
          'C', 'Accept-Language en: English');
SELECT is(pg_temp.pre_request('reflexo_anon', '{"role": "reflexo_anon"}', '{"accept-language": "fr-FR"}'),
          'C', 'another language leaves the configured one');
SELECT is(pg_temp.pre_request('reflexo_anon', '{"role": "reflexo_anon"}'),
          'C', 'and so does a request without headers (reflexo-api, SQL clients)');

SELECT * FROM finish();
ROLLBACK;

-- The JWT secret can sign an admin token, so no role but its owner may read
-- it: not through its table, a setting, a catalog, statistics, or any
-- function a role may call.
BEGIN;
\ir fixtures.psql
SELECT plan(28);

SELECT reflexo.set_jwt_secret('secret-MARK-0123456789-0123456789-0123456789');
ANALYZE reflexo.jwt_keys;   -- statistics keep column values: they must not show either
CREATE ROLE reflexo_test_outsider LOGIN;   -- a login with nothing granted
GRANT USAGE ON SCHEMA reflexo TO reflexo_test_outsider;

-- Calls, as a role, every function of schemas reflexo and api it may execute
-- that takes no argument, and returns those whose result shows the secret.
CREATE FUNCTION pg_temp.functions_leaking(role text) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
  f regprocedure;
  result text;
  leaking text[] := '{}';
BEGIN
  FOR f IN SELECT p.oid FROM pg_proc p
            WHERE p.pronamespace IN ('reflexo'::regnamespace, 'api'::regnamespace)
              AND p.prokind = 'f' AND p.pronargs = 0 AND p.prorettype <> 'trigger'::regtype
              AND has_function_privilege(role, p.oid, 'EXECUTE')
  LOOP
    BEGIN
      EXECUTE format('SET LOCAL ROLE %I', role);
      EXECUTE format('SELECT (SELECT string_agg(r::text, '','') FROM %s() r)', f::regproc) INTO result;
      RESET ROLE;
      IF result LIKE '%MARK%' THEN
        leaking := leaking || f::text;
      END IF;
    EXCEPTION WHEN OTHERS THEN
      RESET ROLE;   -- refused, or needs a request: shows nothing either way
    END;
  END LOOP;
  RETURN leaking;
END $$;

CREATE FUNCTION pg_temp.as_role(role text, statement text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  EXECUTE format('SET LOCAL ROLE %I', role);
  EXECUTE statement INTO result;
  RESET ROLE;
  RETURN result;
END $$;

SELECT is(pg_temp.error_of(format($$SELECT pg_temp.as_role(%L, 'SELECT secret FROM reflexo.jwt_keys')$$, r)) ->> 'sqlstate',
          '42501', r || ' cannot read reflexo.jwt_keys')
  FROM unnest('{reflexo_anon,reflexo_staff,reflexo_admin,reflexo_sync,reflexo_api,reflexo_authenticator,reflexo_test_outsider}'::text[]) r;

SELECT is(pg_temp.error_of(format($$SELECT pg_temp.as_role(%L, 'SELECT reflexo.jwt_sign(''{"role": "reflexo_admin"}'')')$$, r))
          ->> 'sqlstate', '42501', r || ' cannot sign a token')
  FROM unnest('{reflexo_anon,reflexo_staff,reflexo_admin,reflexo_sync,reflexo_api,reflexo_test_outsider}'::text[]) r;
SELECT is(pg_temp.error_of($$SELECT pg_temp.as_role('reflexo_admin', 'SELECT reflexo.set_jwt_secret(''x'')')$$) ->> 'sqlstate',
          '42501', 'nor set the secret, even as an API admin');

SELECT is(pg_temp.as_role(r, $$SELECT count(*) FROM pg_db_role_setting d, unnest(d.setconfig) s WHERE s LIKE '%MARK%'$$),
          '0', r || ' finds it in no database or role setting')
  FROM unnest('{reflexo_sync,reflexo_test_outsider}'::text[]) r;
SELECT is(pg_temp.as_role(r, $$SELECT count(*) FROM pg_settings WHERE setting LIKE '%MARK%'$$), '0',
          r || ' finds it in no setting')
  FROM unnest('{reflexo_sync,reflexo_test_outsider}'::text[]) r;
SELECT is(pg_temp.as_role('reflexo_test_outsider', $$SELECT count(*) FROM pg_stats WHERE tablename = 'jwt_keys'$$), '0',
          'nor in the planner''s statistics');
SELECT is(pg_temp.as_role('reflexo_test_outsider', $$SELECT count(*) FROM pg_proc WHERE prosrc LIKE '%MARK%' AND pronamespace <> pg_my_temp_schema()$$), '0',
          'nor in any function''s source');

SELECT is(pg_temp.functions_leaking(r), '{}', r || ': no function it may call shows it')
  FROM unnest('{reflexo_anon,reflexo_staff,reflexo_admin,reflexo_sync,reflexo_test_outsider}'::text[]) r;

-- the obsolete setting is ignored: setting it does not sign anything
SET LOCAL reflexo.jwt_secret = 'a-setting-is-not-the-secret-0123456789-0123';
SELECT is(reflexo.jwt_verify(reflexo.jwt_sign('{"sub": "x"}')) ->> 'sub', 'x', 'the table''s secret signs and checks');
DELETE FROM reflexo.jwt_keys;
SELECT is(pg_temp.error_of($$SELECT reflexo.jwt_sign('{"sub": "x"}')$$) - 'detail' - 'constraint',
          '{"sqlstate": "55000", "message": "the JWT secret is not set",
            "hint": "As a superuser: SELECT reflexo.set_jwt_secret(''...'') (e.g. the output of openssl rand -base64 48)."}',
          'without it nothing is signed, whatever the old setting says');
SELECT is(pg_temp.error_of($$SELECT reflexo.set_jwt_secret('short')$$) ->> 'sqlstate', '22023', 'a short secret is refused');

SELECT * FROM finish();
ROLLBACK;

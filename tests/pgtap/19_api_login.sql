-- api.login and api.refresh: HS256 tokens PostgREST accepts, PBKDF2
-- passwords, lockout after failures, revocation; user management.
BEGIN;
\ir fixtures.psql
SELECT plan(31);
SELECT reflexo.set_jwt_secret('test-secret-of-at-least-32-characters-0123456789');
SET LOCAL reflexo.password_iterations = 1000;     -- fast tests; the default is 600,000
SET LOCAL reflexo.login_max_failures = 3;

SELECT lives_ok($$SELECT pg_temp.api('reflexo_admin', pg_temp.admin(),
  'SELECT api.create_user(''recepcion'', ''clave-de-prueba-1'', ''staff'', ''{101}'') AS id')$$, 'admins create users');
SELECT matches((SELECT password_hash FROM reflexo.users WHERE username = 'recepcion'),
               '^pbkdf2_sha256\$1000\$[A-Za-z0-9]{22}\$[A-Za-z0-9+/]{43}=$', 'passwords are stored as Django PBKDF2 hashes');
SELECT ok(reflexo.password_verify('clave-de-prueba-1', (SELECT password_hash FROM reflexo.users WHERE username = 'recepcion')),
          'the hash verifies the password');
SELECT ok(reflexo.password_verify('password',
          'pbkdf2_sha256$1$salt$' || encode(decode('120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b', 'hex'), 'base64')),
          'PBKDF2-HMAC-SHA256 matches the published test vector (P="password", S="salt", c=1)');
SELECT ok(NOT reflexo.password_verify('x', 'garbage') AND NOT reflexo.password_verify('x', 'pbkdf2_sha256$0$a$b'),
          'a malformed hash never matches');
SELECT is(pg_temp.error_of($$SELECT api.create_user('corto', 'abc')$$) ->> 'sqlstate', '22023', 'short passwords are refused');
SELECT is(pg_temp.error_of($$SELECT api.create_user('Recepcion', 'otra-clave-larga')$$) ->> 'sqlstate', '23505',
          'usernames are unique regardless of case');

-- login as anon, exactly as PostgREST's /rpc/login
SELECT pg_temp.api('reflexo_anon', '{"role": "reflexo_anon"}', $$SELECT api.login('recepcion', 'clave-de-prueba-1') AS t$$) -> 0 -> 't' AS pair \gset
SELECT ok((:'pair'::jsonb) ?& '{access,refresh}', 'login returns {access, refresh}');
SELECT is(reflexo.jwt_verify(:'pair'::jsonb ->> 'access') - '{iat,exp}'::text[],
          jsonb_build_object('role', 'reflexo_staff', 'sub', 'recepcion', 'uid', (SELECT id FROM reflexo.users WHERE username = 'recepcion'),
                             'typ', 'access', 'location_ids', '[101]'::jsonb, 'ver', 1),
          'the access token carries role, sub and location_ids');
SELECT cmp_ok(((reflexo.jwt_verify(:'pair'::jsonb ->> 'access') ->> 'exp')::numeric - floor(extract(epoch FROM now())))::int,
              '=', 3600, 'and expires in reflexo.jwt_access_seconds');
SELECT split_part(:'pair'::jsonb ->> 'access', '.', 1) AS header \gset
SELECT is(convert_from(decode(rpad(translate(:'header', '-_', '+/'), (length(:'header') + 3) / 4 * 4, '='), 'base64'), 'UTF8'),
          '{"alg":"HS256","typ":"JWT"}', 'the header is HS256');
SELECT is(reflexo.jwt_verify(:'pair'::jsonb ->> 'refresh') ->> 'role', 'reflexo_anon',
          'a refresh token only carries the anonymous role, so PostgREST never takes it for an access token');
SELECT is(reflexo.jwt_verify(replace(:'pair'::jsonb ->> 'access', '.' || split_part(:'pair'::jsonb ->> 'access', '.', 2) || '.',
                                     '.' || translate(split_part(:'pair'::jsonb ->> 'access', '.', 2), 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
                                                      'BCDEFGHIJKLMNOPQRSTUVWXYZAbcdefghijklmnopqrstuvwxyza') || '.')),
          NULL, 'a token whose claims were changed does not verify');
SELECT is(reflexo.jwt_verify(regexp_replace(:'pair'::jsonb ->> 'access', '.$',
            translate(right(:'pair'::jsonb ->> 'access', 1), 'AEIMQUYcgkosw048BFJNRVZdhlptx159', 'BFJNRVZdhlptx159AEIMQUYcgkosw048'))),
          NULL, 'nor one whose signature is spelled another way (the last character''s unused bits)');
SELECT is(reflexo.jwt_verify('eyJhbGciOiJub25lIn0.eyJyb2xlIjoicmVmbGV4b19hZG1pbiJ9.'), NULL, 'alg none is refused');
SELECT is(reflexo.jwt_verify('not a token'), NULL, 'garbage is refused');
SELECT is((SELECT count(v)::int FROM (
             SELECT reflexo.jwt_verify(string_agg(substr('ABCxyz019-_.+/=%' || chr(233), 1 + (random() * 16)::int, 1), ''))
               FROM generate_series(1, 5000) t, generate_series(1, (random() * 60)::int) c GROUP BY t) x(v)),
          0, '5,000 random strings of token characters neither verify nor raise');
SELECT reflexo.set_jwt_secret('another-secret-of-at-least-32-characters-xyz');
SELECT is(reflexo.jwt_verify(:'pair'::jsonb ->> 'access'), NULL, 'a token signed with another secret does not verify');
SELECT reflexo.set_jwt_secret('test-secret-of-at-least-32-characters-0123456789');

-- refresh
SELECT ok(pg_temp.api('reflexo_anon', '{"role": "reflexo_anon"}', format('SELECT api.refresh(%L) AS t', :'pair'::jsonb ->> 'refresh')) -> 0 -> 't' ?& '{access,refresh}',
          'refresh returns a new pair');
SELECT is(pg_temp.api('reflexo_anon', '{"role": "reflexo_anon"}', format('SELECT api.refresh(%L) AS t', :'pair'::jsonb ->> 'access')) -> 0 -> 't' ->> 'error',
          'invalid_token', 'an access token is not a refresh token');
SELECT is(api.refresh(reflexo.jwt_sign(reflexo.jwt_verify(:'pair'::jsonb ->> 'refresh')
                                       || jsonb_build_object('exp', floor(extract(epoch FROM now())) - 1))) ->> 'error',
          'invalid_token', 'an expired refresh token is refused');

-- failures: 401 with a JSON body, counted, then a lockout that answers the same
SELECT is(pg_temp.api('reflexo_anon', '{"role": "reflexo_anon"}', $$SELECT api.login('recepcion', 'mala') AS t, current_setting('response.status') AS s$$) -> 0,
          '{"t": {"error": "invalid_credentials", "message": "Wrong username or password."}, "s": "401"}',
          'a wrong password is 401 invalid_credentials');
SELECT is(pg_temp.api('reflexo_anon', '{"role": "reflexo_anon"}', $$SELECT api.login('nadie', 'mala') AS t$$) -> 0 -> 't' ->> 'error',
          'invalid_credentials', 'an unknown user gets the same answer');
SELECT pg_temp.api('reflexo_anon', '{"role": "reflexo_anon"}', $$SELECT api.login('recepcion', 'mala') AS t$$);
SELECT pg_temp.api('reflexo_anon', '{"role": "reflexo_anon"}', $$SELECT api.login('recepcion', 'mala') AS t$$);
SELECT is(pg_temp.api('reflexo_anon', '{"role": "reflexo_anon"}', $$SELECT api.login('recepcion', 'clave-de-prueba-1') AS t, current_setting('response.status') AS s$$) -> 0,
          '{"t": {"error": "invalid_credentials", "message": "Wrong username or password."}, "s": "401"}',
          'after reflexo.login_max_failures failures even the right password is refused, as a wrong one is: '
          'no answer tells a locked user from an unknown one');
SELECT ok((SELECT locked_until > now() AND failed_logins = 3 FROM reflexo.users WHERE username = 'recepcion'),
          'the failures are counted and the lockout recorded');

-- an admin resets the password: the lockout ends, old refresh tokens die
SELECT lives_ok($$SELECT api.update_user('recepcion', password => 'nueva-clave-larga')$$, 'admins reset a password');
SELECT is(api.refresh(:'pair'::jsonb ->> 'refresh') ->> 'error', 'invalid_token', 'refresh tokens issued before it stop working');
SET LOCAL reflexo.password_iterations = 2000;
SELECT ok(api.login('RECEPCION', 'nueva-clave-larga')::jsonb ? 'access', 'login works again, usernames ignore case');
SELECT matches((SELECT password_hash FROM reflexo.users WHERE username = 'recepcion'), '^pbkdf2_sha256\$2000\$',
               'a login re-hashes a password stored with fewer iterations than today''s');
SELECT lives_ok($$SELECT api.update_user('recepcion', is_active => false)$$, 'admins deactivate users');
SELECT is(api.login('recepcion', 'nueva-clave-larga') ->> 'error', 'invalid_credentials', 'inactive users cannot log in');

SELECT * FROM finish();
ROLLBACK;


-- ================================================================ API: roles, users, tokens
--
-- PostgREST logs in as reflexo_authenticator and, per request, switches to
-- the role named in the JWT (SET LOCAL ROLE) after putting the verified
-- claims in request.jwt.claims.  The api schema is all those roles see:
--
--   reflexo_anon    api.login and api.refresh only
--   reflexo_staff   the appointments, calendars and settings of its own
--                   locations (the JWT's location_ids)
--   reflexo_admin   everything in api, users included
--   reflexo_sync    what reflexo-sync calls in schema reflexo, nothing else
--
-- None of them has any right on the core tables.  The api views belong to
-- reflexo_api, a role that cannot log in; row-level security on the core
-- tables lets reflexo_api see a location's rows only when the requesting
-- role may.  Roles are cluster-wide, so they are created only if missing.

DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY '{reflexo_anon,reflexo_staff,reflexo_admin,reflexo_sync,reflexo_api}'::text[] LOOP
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'reflexo_authenticator') THEN
    CREATE ROLE reflexo_authenticator LOGIN NOINHERIT;
  END IF;
END
$$;
GRANT reflexo_anon, reflexo_staff, reflexo_admin TO reflexo_authenticator;

CREATE SCHEMA api;
COMMENT ON SCHEMA api IS
  'The HTTP surface of Reflexo (PostgREST exposes this schema): the Django service''s endpoints as views and functions.';
GRANT USAGE ON SCHEMA api TO reflexo_anon, reflexo_staff, reflexo_admin, reflexo_api;

-- ---------------------------------------------------------------- who is asking

-- Who an API request is (extension/api_identity.c).  The requesting role is
-- what SET ROLE chose, which SECURITY DEFINER functions do not change, else
-- the login.  In C: each policy evaluates them once per statement.
CREATE FUNCTION reflexo.api_claims() RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT COALESCE(NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb, '{}') $$;
COMMENT ON FUNCTION reflexo.api_claims() IS 'The verified JWT claims of the current PostgREST request, or {}.';

CREATE FUNCTION reflexo.api_is_admin() RETURNS pg_catalog.bool
  LANGUAGE c STABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_api_is_admin';
COMMENT ON FUNCTION reflexo.api_is_admin() IS
  'Whether the requesting role is reflexo_admin (or a superuser): it sees every location.';

CREATE FUNCTION reflexo.api_location_ids() RETURNS pg_catalog.int8[]
  LANGUAGE c STABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_api_location_ids';
COMMENT ON FUNCTION reflexo.api_location_ids() IS
  'Locations (reflexo.locations.id) the requesting staff member works in: the JWT claim location_ids.';

-- Every location the request may see, as one array: the big table's policy
-- is then a plain "location_id = ANY (...)" that an index can serve (an OR
-- with "is admin" could only be a filter over every row).
CREATE FUNCTION reflexo.api_visible_location_ids() RETURNS pg_catalog.int8[]
  LANGUAGE c STABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_api_visible_location_ids';
COMMENT ON FUNCTION reflexo.api_visible_location_ids() IS
  'Locations the requesting role may see: every one for admins, the JWT''s location_ids for staff.';

-- ---------------------------------------------------------------- row-level security
-- The sub-selects make each helper an init plan, evaluated once per query.
-- The small tables keep the admin test as an OR, so that an admin's new
-- location is visible in the same statement (RETURNING).

ALTER TABLE reflexo.locations ENABLE ROW LEVEL SECURITY;
ALTER TABLE reflexo.calendars ENABLE ROW LEVEL SECURITY;
ALTER TABLE reflexo.appointments ENABLE ROW LEVEL SECURITY;

CREATE POLICY api_by_location ON reflexo.locations TO reflexo_api
  USING ((SELECT reflexo.api_is_admin()) OR id = ANY (COALESCE((SELECT reflexo.api_location_ids()), '{}')))
  WITH CHECK ((SELECT reflexo.api_is_admin()));
CREATE POLICY api_by_location ON reflexo.calendars TO reflexo_api
  USING ((SELECT reflexo.api_is_admin()) OR location_id = ANY (COALESCE((SELECT reflexo.api_location_ids()), '{}')))
  WITH CHECK ((SELECT reflexo.api_is_admin()) OR location_id = ANY (COALESCE((SELECT reflexo.api_location_ids()), '{}')));
CREATE POLICY api_by_location ON reflexo.appointments TO reflexo_api
  USING (location_id = ANY (COALESCE((SELECT reflexo.api_visible_location_ids()), '{}')))
  WITH CHECK (location_id = ANY (COALESCE((SELECT reflexo.api_visible_location_ids()), '{}')));
CREATE POLICY sync_reads ON reflexo.locations FOR SELECT TO reflexo_sync USING (true);
CREATE POLICY sync_reads ON reflexo.calendars FOR SELECT TO reflexo_sync USING (true);
COMMENT ON POLICY api_by_location ON reflexo.locations IS
  'API requests see their own locations (admins all); only admins add or change locations.';
COMMENT ON POLICY api_by_location ON reflexo.calendars IS 'API requests see the calendars of their locations.';
COMMENT ON POLICY api_by_location ON reflexo.appointments IS
  'API requests see and book appointments of their locations only.';
COMMENT ON POLICY sync_reads ON reflexo.locations IS 'reflexo-sync lists every location.';
COMMENT ON POLICY sync_reads ON reflexo.calendars IS 'reflexo-sync lists every calendar.';

GRANT USAGE ON SCHEMA reflexo TO reflexo_api, reflexo_sync;
GRANT SELECT, INSERT, UPDATE, DELETE ON reflexo.locations TO reflexo_api;
GRANT SELECT, UPDATE ON reflexo.calendars TO reflexo_api;
GRANT SELECT, INSERT, UPDATE ON reflexo.appointments TO reflexo_api;

-- ---------------------------------------------------------------- users

CREATE TYPE reflexo.user_role AS ENUM ('staff', 'admin');
COMMENT ON TYPE reflexo.user_role IS 'What an API user may do: staff (own locations) or admin (everything).';

CREATE TABLE reflexo.users (
  id             pg_catalog.int8 GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  username       pg_catalog.text NOT NULL,
  password_hash  pg_catalog.text NOT NULL,
  role           reflexo.user_role NOT NULL DEFAULT 'staff',
  location_ids   pg_catalog.int8[] NOT NULL DEFAULT '{}',
  is_active      pg_catalog.bool NOT NULL DEFAULT true,
  token_version  pg_catalog.int4 NOT NULL DEFAULT 1,
  failed_logins  pg_catalog.int4 NOT NULL DEFAULT 0,
  locked_until   pg_catalog.timestamptz,
  last_login_at  pg_catalog.timestamptz,
  created_at     pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_at     pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT users_username_shape CHECK (username ~ '^[A-Za-z0-9_.@+-]{1,150}$')
);
CREATE UNIQUE INDEX users_username_key ON reflexo.users (pg_catalog.lower(username));
COMMENT ON TABLE reflexo.users IS
  'People who log in through api.login. Passwords are PBKDF2-SHA256 hashes in Django''s format.';
COMMENT ON SEQUENCE reflexo.users_id_seq IS 'Identity of users.';
COMMENT ON COLUMN reflexo.users.id IS 'Identity; the JWT claim uid.';
COMMENT ON COLUMN reflexo.users.username IS 'Login name (the JWT claim sub); unique regardless of case.';
COMMENT ON COLUMN reflexo.users.password_hash IS 'pbkdf2_sha256$<iterations>$<salt>$<key>, as Django stores it.';
COMMENT ON COLUMN reflexo.users.role IS 'staff or admin: the JWT role reflexo_staff or reflexo_admin.';
COMMENT ON COLUMN reflexo.users.is_active IS 'Inactive users cannot log in or refresh.';
COMMENT ON COLUMN reflexo.users.last_login_at IS 'Time of the last successful login.';
COMMENT ON COLUMN reflexo.users.created_at IS 'When the user was added.';
COMMENT ON COLUMN reflexo.users.updated_at IS 'When an admin last changed the user.';
COMMENT ON COLUMN reflexo.users.location_ids IS 'Locations a staff user works in (the JWT claim location_ids).';
COMMENT ON COLUMN reflexo.users.token_version IS
  'Bumped when the password, role, locations or activity change: older refresh tokens stop working.';
COMMENT ON COLUMN reflexo.users.failed_logins IS 'Failed logins in a row; reflexo.login_max_failures of them lock the user.';
COMMENT ON COLUMN reflexo.users.locked_until IS 'Logins are refused until then (brute-force protection).';
COMMENT ON INDEX reflexo.users_username_key IS 'Usernames are unique regardless of case.';

CREATE FUNCTION reflexo.password_hash(password pg_catalog.text,
                                      iterations pg_catalog.int4 DEFAULT 600000) RETURNS pg_catalog.text
  LANGUAGE c VOLATILE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_password_hash';
COMMENT ON FUNCTION reflexo.password_hash(pg_catalog.text, pg_catalog.int4) IS
  'A PBKDF2-SHA256 hash of password in Django''s format, with a random salt.';
CREATE FUNCTION reflexo.password_verify(password pg_catalog.text, hash pg_catalog.text) RETURNS pg_catalog.bool
  LANGUAGE c VOLATILE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_password_verify';
COMMENT ON FUNCTION reflexo.password_verify(pg_catalog.text, pg_catalog.text) IS
  'Whether password matches hash (constant-time comparison; a malformed hash never matches).';
-- The JWT secret.  Not a setting: ALTER DATABASE ... SET stores settings in
-- pg_db_role_setting, which every role can read.  Only this table's owner
-- reads it, through jwt_sign and jwt_verify (see extension/jwt.c).
CREATE TABLE reflexo.jwt_keys (
  id     pg_catalog.bool PRIMARY KEY DEFAULT true CONSTRAINT jwt_keys_one_row CHECK (id),
  secret pg_catalog.text NOT NULL CONSTRAINT jwt_keys_secret_length CHECK (pg_catalog.length(secret) >= 32),
  set_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON reflexo.jwt_keys FROM PUBLIC;
ALTER TABLE reflexo.jwt_keys ENABLE ROW LEVEL SECURITY;   -- no policy: nobody but the owner, even if granted
COMMENT ON TABLE reflexo.jwt_keys IS
  'The secret that signs and checks the API''s JWTs (PostgREST''s and reflexo-api''s jwt secret). '
  'Readable by its owner only; set it with reflexo.set_jwt_secret.';
COMMENT ON COLUMN reflexo.jwt_keys.id IS 'Always true: there is one secret.';
COMMENT ON COLUMN reflexo.jwt_keys.secret IS 'The HS256 secret, at least 32 characters.';
COMMENT ON COLUMN reflexo.jwt_keys.set_at IS 'When it was last set.';

CREATE FUNCTION reflexo.set_jwt_secret(secret pg_catalog.text) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF secret IS NULL OR pg_catalog.length(secret) < 32 THEN
      RAISE EXCEPTION 'JWT secret too short' USING ERRCODE = '22023',
        DETAIL = 'The secret needs at least 32 characters.',
        HINT = 'Use e.g. the output of openssl rand -base64 48.';
    END IF;
    INSERT INTO reflexo.jwt_keys (secret) VALUES (set_jwt_secret.secret)
    ON CONFLICT (id) DO UPDATE SET secret = EXCLUDED.secret, set_at = pg_catalog.now();
  END
  $$;
REVOKE ALL ON FUNCTION reflexo.set_jwt_secret(pg_catalog.text) FROM PUBLIC;
COMMENT ON FUNCTION reflexo.set_jwt_secret(pg_catalog.text) IS
  'Superusers: sets the JWT secret (at least 32 characters); tokens signed with the old one stop working.';

CREATE FUNCTION reflexo.jwt_sign(claims pg_catalog.jsonb) RETURNS pg_catalog.text
  LANGUAGE c STABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_jwt_sign';
COMMENT ON FUNCTION reflexo.jwt_sign(pg_catalog.jsonb) IS 'An HS256 JWT of claims, signed with the secret in reflexo.jwt_keys.';
CREATE FUNCTION reflexo.jwt_verify(token pg_catalog.text) RETURNS pg_catalog.jsonb
  LANGUAGE c STABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_jwt_verify';
COMMENT ON FUNCTION reflexo.jwt_verify(pg_catalog.text) IS
  'The claims of an HS256 JWT signed with the secret in reflexo.jwt_keys, or NULL; expiry is the caller''s to check.';

CREATE FUNCTION reflexo.setting_int(name pg_catalog.text, fallback pg_catalog.int4) RETURNS pg_catalog.int4
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT COALESCE(NULLIF(pg_catalog.current_setting(name, true), '')::pg_catalog.int4, fallback) $$;
COMMENT ON FUNCTION reflexo.setting_int(pg_catalog.text, pg_catalog.int4) IS
  'An integer setting, or fallback while the module has not defined it yet in this session.';

-- The token pair of a user.  Refresh tokens carry the anonymous role, so
-- PostgREST never accepts one in place of an access token.
CREATE FUNCTION reflexo.issue_tokens(u reflexo.users) RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    now_s pg_catalog.int8 := pg_catalog.floor(extract(epoch FROM pg_catalog.now()));
    access_ttl pg_catalog.int4 := reflexo.setting_int('reflexo.jwt_access_seconds', 3600);
    refresh_ttl pg_catalog.int4 := reflexo.setting_int('reflexo.jwt_refresh_seconds', 604800);
  BEGIN
    RETURN pg_catalog.json_build_object(
      'access', reflexo.jwt_sign(pg_catalog.jsonb_build_object(
          'role', 'reflexo_' || u.role, 'sub', u.username, 'uid', u.id, 'typ', 'access',
          'location_ids', pg_catalog.to_jsonb(u.location_ids), 'ver', u.token_version,
          'iat', now_s, 'exp', now_s + access_ttl)),
      'refresh', reflexo.jwt_sign(pg_catalog.jsonb_build_object(
          'role', 'reflexo_anon', 'sub', u.username, 'uid', u.id, 'typ', 'refresh', 'ver', u.token_version,
          'iat', now_s, 'exp', now_s + refresh_ttl)),
      'token_type', 'Bearer',
      'expires_in', access_ttl);
  END
  $$;
COMMENT ON FUNCTION reflexo.issue_tokens(reflexo.users) IS
  'A user''s {access, refresh} JWT pair: access carries role, sub, location_ids and exp.';

-- Failures are answered, not raised, so that counting them commits; PostgREST
-- turns response.status into the HTTP status.
CREATE FUNCTION reflexo.api_refusal(status pg_catalog.int4, code pg_catalog.text, message pg_catalog.text,
                                    retry_after pg_catalog.int4 DEFAULT NULL) RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    PERFORM pg_catalog.set_config('response.status', status::text, true);
    IF retry_after IS NOT NULL THEN
      PERFORM pg_catalog.set_config('response.headers',
        pg_catalog.json_build_array(pg_catalog.json_build_object('Retry-After', retry_after::text))::text, true);
    END IF;
    RETURN pg_catalog.json_build_object('error', code, 'message', message);
  END
  $$;
COMMENT ON FUNCTION reflexo.api_refusal(pg_catalog.int4, pg_catalog.text, pg_catalog.text, pg_catalog.int4) IS
  'An error answer of api.login/api.refresh: HTTP status through PostgREST''s response.status, and a JSON body.';

CREATE FUNCTION api.login(username pg_catalog.text, password pg_catalog.text) RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    u reflexo.users;
    iterations pg_catalog.int4 := reflexo.setting_int('reflexo.password_iterations', 600000);
    -- the same work for an unknown user, so timing does not tell who exists
    dummy CONSTANT pg_catalog.text := 'pbkdf2_sha256$' || iterations || '$none$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
    ok pg_catalog.bool;
  BEGIN
    SELECT * INTO u FROM reflexo.users WHERE pg_catalog.lower(users.username) = pg_catalog.lower(login.username)
      FOR UPDATE;
    ok := reflexo.password_verify(COALESCE(password, ''), COALESCE(u.password_hash, dummy))
          AND u.id IS NOT NULL AND u.is_active;
    IF u.locked_until > pg_catalog.now() THEN
      -- locked out: answered as a wrong password, after the same work, so that no answer
      -- tells whether a username exists
      RETURN reflexo.api_refusal(401, 'invalid_credentials', 'Wrong username or password.');
    END IF;
    IF NOT ok THEN
      IF u.id IS NOT NULL THEN
        UPDATE reflexo.users
           SET failed_logins = failed_logins + 1,
               locked_until = CASE WHEN failed_logins + 1 >= reflexo.setting_int('reflexo.login_max_failures', 5)
                                   THEN pg_catalog.now() + pg_catalog.make_interval(
                                          secs => reflexo.setting_int('reflexo.login_lockout_seconds', 900))
                              END
         WHERE id = u.id;
      END IF;
      RETURN reflexo.api_refusal(401, 'invalid_credentials', 'Wrong username or password.');
    END IF;
    UPDATE reflexo.users
       SET failed_logins = 0, locked_until = NULL, last_login_at = pg_catalog.now(),
           -- hashes made with fewer iterations than today's are made again
           password_hash = CASE WHEN pg_catalog.split_part(password_hash, '$', 2)::pg_catalog.int4 < iterations
                                THEN reflexo.password_hash(password, iterations) ELSE password_hash END
     WHERE id = u.id;
    RETURN reflexo.issue_tokens(u);
  END
  $$;
COMMENT ON FUNCTION api.login(pg_catalog.text, pg_catalog.text) IS
  'POST /rpc/login {username, password} → {access, refresh}; 401 on a wrong password, an unknown user or while '
  'locked out (one answer for all three).';

CREATE FUNCTION api.refresh(refresh pg_catalog.text) RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    claims pg_catalog.jsonb := reflexo.jwt_verify(COALESCE(refresh, ''));
    u reflexo.users;
  BEGIN
    IF claims IS NULL OR claims ->> 'typ' IS DISTINCT FROM 'refresh'
       OR pg_catalog.jsonb_typeof(claims -> 'exp') IS DISTINCT FROM 'number'
       OR (claims ->> 'exp')::pg_catalog.numeric <= extract(epoch FROM pg_catalog.now()) THEN
      RETURN reflexo.api_refusal(401, 'invalid_token', 'The refresh token is invalid or has expired.');
    END IF;
    SELECT * INTO u FROM reflexo.users WHERE id = (claims ->> 'uid')::pg_catalog.int8;
    IF u.id IS NULL OR NOT u.is_active OR u.token_version IS DISTINCT FROM (claims ->> 'ver')::pg_catalog.int4 THEN
      RETURN reflexo.api_refusal(401, 'invalid_token', 'The refresh token is no longer valid; log in again.');
    END IF;
    RETURN reflexo.issue_tokens(u);
  END
  $$;
COMMENT ON FUNCTION api.refresh(pg_catalog.text) IS
  'POST /rpc/refresh {refresh} → a new {access, refresh}; 401 if the token is invalid, expired or revoked.';

-- ---------------------------------------------------------------- user management (admins)

CREATE FUNCTION reflexo.new_password_hash(password pg_catalog.text) RETURNS pg_catalog.text
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF password IS NULL OR pg_catalog.length(password) < 10 THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = reflexo.translate('password too short'),
        DETAIL = reflexo.translate('A password needs at least 10 characters.'),
        HINT = reflexo.translate('Choose a longer password, e.g. a few words.');
    END IF;
    RETURN reflexo.password_hash(password, reflexo.setting_int('reflexo.password_iterations', 600000));
  END
  $$;
COMMENT ON FUNCTION reflexo.new_password_hash(pg_catalog.text) IS
  'The hash to store for a new password (reflexo.password_iterations); refuses passwords shorter than 10 characters.';

CREATE FUNCTION api.create_user(username pg_catalog.text, password pg_catalog.text,
                                role reflexo.user_role DEFAULT 'staff',
                                location_ids pg_catalog.int8[] DEFAULT '{}') RETURNS pg_catalog.int8
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    new_id pg_catalog.int8;
  BEGIN
    INSERT INTO reflexo.users (username, password_hash, role, location_ids)
    VALUES (username, reflexo.new_password_hash(password), role, COALESCE(location_ids, '{}'))
    RETURNING id INTO new_id;
    RETURN new_id;
  END
  $$;
COMMENT ON FUNCTION api.create_user(pg_catalog.text, pg_catalog.text, reflexo.user_role, pg_catalog.int8[]) IS
  'Admins: add a user who can log in (role staff or admin; staff see location_ids only).';

CREATE FUNCTION api.update_user(username pg_catalog.text, password pg_catalog.text DEFAULT NULL,
                                role reflexo.user_role DEFAULT NULL, location_ids pg_catalog.int8[] DEFAULT NULL,
                                is_active pg_catalog.bool DEFAULT NULL) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    UPDATE reflexo.users u
       SET password_hash = CASE WHEN password IS NULL THEN u.password_hash ELSE reflexo.new_password_hash(password) END,
           role = COALESCE(update_user.role, u.role),
           location_ids = COALESCE(update_user.location_ids, u.location_ids),
           is_active = COALESCE(update_user.is_active, u.is_active),
           failed_logins = CASE WHEN password IS NULL THEN u.failed_logins ELSE 0 END,
           locked_until = CASE WHEN password IS NULL THEN u.locked_until END,
           token_version = u.token_version + 1,
           updated_at = pg_catalog.now()
     WHERE pg_catalog.lower(u.username) = pg_catalog.lower(update_user.username);
    IF NOT FOUND THEN
      RAISE EXCEPTION 'user "%" does not exist', username USING ERRCODE = 'PT404',
        HINT = 'api.users lists the users.';
    END IF;
  END
  $$;
COMMENT ON FUNCTION api.update_user(pg_catalog.text, pg_catalog.text, reflexo.user_role, pg_catalog.int8[], pg_catalog.bool) IS
  'Admins: change a user''s password, role, locations or activity (NULL keeps it); their refresh tokens stop working.';

CREATE FUNCTION api.change_password(old_password pg_catalog.text, new_password pg_catalog.text) RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    u reflexo.users;
  BEGIN
    SELECT * INTO u FROM reflexo.users WHERE id = (reflexo.api_claims() ->> 'uid')::pg_catalog.int8 FOR UPDATE;
    IF u.id IS NULL OR NOT reflexo.password_verify(COALESCE(old_password, ''), u.password_hash) THEN
      RETURN reflexo.api_refusal(403, 'invalid_credentials', 'The current password is wrong.');
    END IF;
    UPDATE reflexo.users
       SET password_hash = reflexo.new_password_hash(new_password),
           token_version = token_version + 1, updated_at = pg_catalog.now()
     WHERE id = u.id
     RETURNING * INTO u;
    RETURN reflexo.issue_tokens(u);
  END
  $$;
COMMENT ON FUNCTION api.change_password(pg_catalog.text, pg_catalog.text) IS
  'The logged-in user changes their own password; returns a fresh token pair (older refresh tokens stop working).';

CREATE VIEW api.users AS
  SELECT id, username, role, location_ids, is_active, failed_logins, locked_until, last_login_at, created_at, updated_at
    FROM reflexo.users;
COMMENT ON VIEW api.users IS 'Admins: the users (never their password hashes).';

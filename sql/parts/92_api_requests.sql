
-- ================================================================ API: each request
-- What reflexo-api (and PostgREST, through db-pre-request) runs around every
-- request: the language of its messages, and whether its token still holds.

CREATE FUNCTION reflexo.api_set_language(language pg_catalog.text) RETURNS pg_catalog.text
  LANGUAGE c VOLATILE STRICT
  AS 'MODULE_PATHNAME', 'reflexo_api_set_language';
COMMENT ON FUNCTION reflexo.api_set_language(pg_catalog.text) IS
  'Messages of the rest of the transaction in English (''en'') or Spanish (anything else; the locale in '
  'reflexo.spanish_locale, English if the server lacks it). Returns the lc_messages now in effect.';

CREATE FUNCTION reflexo.translate(message pg_catalog.text) RETURNS pg_catalog.text
  LANGUAGE c STABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_translate';
COMMENT ON FUNCTION reflexo.translate(pg_catalog.text) IS
  'A message of the extension''s catalogue in the current lc_messages: how PL/pgSQL raises translated errors.';

CREATE FUNCTION reflexo.translatable_messages() RETURNS SETOF pg_catalog.text
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_translatable_messages';
COMMENT ON FUNCTION reflexo.translatable_messages() IS
  'The messages SQL may pass to reflexo.translate (they are in the catalogue).';

-- An access token names its user, its role, its locations and the user's
-- token_version at login.  Deactivating a user, or changing their password,
-- role or locations, bumps token_version: the token stops working at the
-- next request instead of at its expiry.
CREATE FUNCTION reflexo.api_pre_request() RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    claims pg_catalog.jsonb := reflexo.api_claims();
    headers pg_catalog.text := pg_catalog.current_setting('request.headers', true);
    language pg_catalog.text;
    holds pg_catalog.bool;
  BEGIN
    -- under PostgREST, the messages' language from Accept-Language (reflexo-api sets it itself)
    IF headers IS NOT NULL AND headers OPERATOR(pg_catalog.<>) '' THEN
      language := pg_catalog.lower(pg_catalog.left(pg_catalog.btrim(
                    pg_catalog.split_part(headers::pg_catalog.jsonb ->> 'accept-language', ',', 1)), 2));
      IF language = ANY ('{en,es}') THEN
        PERFORM reflexo.api_set_language(language);
      END IF;
    END IF;
    IF claims ->> 'role' IS DISTINCT FROM 'reflexo_staff' AND claims ->> 'role' IS DISTINCT FROM 'reflexo_admin' THEN
      RETURN;
    END IF;
    SELECT u.is_active AND u.token_version = (claims ->> 'ver')::pg_catalog.int4
           AND 'reflexo_' || u.role = claims ->> 'role'
           AND u.location_ids = ARRAY(SELECT pg_catalog.jsonb_array_elements_text(
                                        COALESCE(claims -> 'location_ids', '[]')))::pg_catalog.int8[]
      INTO holds
      FROM reflexo.users u
     WHERE u.id = (claims ->> 'uid')::pg_catalog.int8;
    IF holds IS NOT TRUE OR claims ->> 'typ' IS DISTINCT FROM 'access' THEN
      RAISE EXCEPTION USING ERRCODE = 'PT401',
        MESSAGE = reflexo.translate('the token was revoked'),
        DETAIL = reflexo.translate('The user was deactivated, or their password, role or locations changed since the token was issued.'),
        HINT = reflexo.translate('Log in again.');
    END IF;
  END
  $$;
COMMENT ON FUNCTION reflexo.api_pre_request() IS
  'Run after the role and claims are set (PostgREST: db-pre-request): refuses (PT401) an access token whose user '
  'was deactivated or changed since it was issued; under PostgREST, sets the messages'' language from Accept-Language.';
REVOKE ALL ON FUNCTION reflexo.api_pre_request() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reflexo.api_pre_request() TO reflexo_anon, reflexo_staff, reflexo_admin;
-- a request calls both as its own role, logins (reflexo_anon) included
GRANT USAGE ON SCHEMA reflexo TO reflexo_anon;

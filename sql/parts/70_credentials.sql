
-- --------------------------------------------------------- GHL credentials
-- reflexo-sync keeps each location's tokens here, encrypted before they
-- reach the database; these functions are all it needs to read and write them.

CREATE FUNCTION reflexo.ghl_credentials(ghl_location_id pg_catalog.text,
                                        OUT location_id pg_catalog.int8, OUT kind pg_catalog.text,
                                        OUT access_token pg_catalog.bytea, OUT refresh_token pg_catalog.bytea,
                                        OUT expires_at pg_catalog.timestamptz)
  RETURNS SETOF record
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT l.id, t.kind, t.access_token, t.refresh_token, t.expires_at
      FROM reflexo.locations l LEFT JOIN reflexo.ghl_tokens t ON t.location_id = l.id
     WHERE l.ghl_location_id = ghl_credentials.ghl_location_id
  $$;
COMMENT ON FUNCTION reflexo.ghl_credentials(pg_catalog.text) IS
  'The location''s id and its stored (encrypted) GHL credentials; no row if the location is unknown.';

CREATE FUNCTION reflexo.connected_locations(OUT ghl_location_id pg_catalog.text, OUT kind pg_catalog.text,
                                            OUT access_token pg_catalog.bytea)
  RETURNS SETOF record
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT l.ghl_location_id, t.kind, t.access_token
      FROM reflexo.locations l JOIN reflexo.ghl_tokens t ON t.location_id = l.id
     WHERE l.is_active
     ORDER BY 1
  $$;
COMMENT ON FUNCTION reflexo.connected_locations() IS
  'Active locations with stored GHL credentials (their kind and encrypted access token): those reflexo-sync serves.';

CREATE FUNCTION reflexo.connected_calendars(OUT ghl_location_id pg_catalog.text, OUT ghl_calendar_id pg_catalog.text)
  RETURNS SETOF record
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT l.ghl_location_id, c.ghl_calendar_id
      FROM reflexo.calendars c
      JOIN reflexo.locations l ON l.id = c.location_id
      JOIN reflexo.ghl_tokens t ON t.location_id = l.id
     WHERE c.is_active AND l.is_active AND c.ghl_calendar_id IS NOT NULL
     ORDER BY 1, 2
  $$;
COMMENT ON FUNCTION reflexo.connected_calendars() IS
  'Active GHL calendars of the connected locations: what reflexo-sync reconciles.';

CREATE FUNCTION reflexo.save_ghl_credentials(ghl_location_id pg_catalog.text, kind pg_catalog.text,
                                             access_token pg_catalog.bytea, refresh_token pg_catalog.bytea,
                                             expires_at pg_catalog.timestamptz, scope pg_catalog.text DEFAULT NULL,
                                             refreshed pg_catalog.bool DEFAULT false)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    loc int8;
  BEGIN
    SELECT id INTO loc FROM reflexo.locations l WHERE l.ghl_location_id = save_ghl_credentials.ghl_location_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'unknown GHL location %', save_ghl_credentials.ghl_location_id
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Add the location to reflexo.locations first.';
    END IF;
    INSERT INTO reflexo.ghl_tokens AS t (location_id, kind, access_token, refresh_token, expires_at, scope,
                                         refreshed_at, updated_at)
    VALUES (loc, kind, access_token, refresh_token, expires_at, scope,
            CASE WHEN refreshed THEN now() END, now())
    ON CONFLICT (location_id) DO UPDATE
      SET kind = EXCLUDED.kind, access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token,
          expires_at = EXCLUDED.expires_at, scope = coalesce(EXCLUDED.scope, t.scope),
          refreshed_at = coalesce(EXCLUDED.refreshed_at, t.refreshed_at), updated_at = now();
    -- running daemons read them at once: a rotated token ends an outage without a restart
    PERFORM reflexo.ring('reflexo_credentials', save_ghl_credentials.ghl_location_id);
  END
  $$;
COMMENT ON FUNCTION reflexo.save_ghl_credentials(pg_catalog.text, pg_catalog.text, pg_catalog.bytea, pg_catalog.bytea, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.bool) IS
  'Stores a location''s (encrypted) GHL credentials, replacing what was there, and tells running daemons '
  '(NOTIFY reflexo_credentials, payload: the GHL location id).';

CREATE FUNCTION reflexo.ensure_location(ghl_location_id pg_catalog.text, name pg_catalog.text DEFAULT NULL,
                                        timezone pg_catalog.text DEFAULT 'America/Lima')
  RETURNS pg_catalog.int8
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    loc int8;
  BEGIN
    INSERT INTO reflexo.locations (ghl_location_id, name, timezone)
    VALUES (ensure_location.ghl_location_id, coalesce(ensure_location.name, ensure_location.ghl_location_id),
            ensure_location.timezone)
    ON CONFLICT ON CONSTRAINT locations_ghl_location_id_key DO NOTHING;
    SELECT id INTO loc FROM reflexo.locations l WHERE l.ghl_location_id = ensure_location.ghl_location_id;
    RETURN loc;
  END
  $$;
COMMENT ON FUNCTION reflexo.ensure_location(pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
  'The location''s id, adding it (named after its GHL id, in the given zone) if it is not there yet.';

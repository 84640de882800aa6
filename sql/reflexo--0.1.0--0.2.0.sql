-- reflexo 0.1.0 → 0.2.0: every SQL change made since 0.1.0, for databases
-- that have it installed (ALTER EXTENSION reflexo UPDATE).  A fresh install
-- of 0.2.0 (sql/parts/) and 0.1.0 updated with this script must have the same
-- catalog; tests/t/040_extension_upgrade.pl compares them.

\echo Use "ALTER EXTENSION reflexo UPDATE" to load this file. \quit

-- ---------------------------------------------------------------- doorbells
-- The NOTIFY channels are named once, by the type reflexo.doorbell, and rung
-- by reflexo.ring (see sql/parts/30_sync_tables.sql).  requeue_outbox rings
-- through revive_outbox, which also revives one appointment's or location's
-- dead rows (the API's retry_sync).
CREATE TYPE reflexo.doorbell AS ENUM ('reflexo_outbox', 'reflexo_calendars', 'reflexo_credentials', 'reflexo_reconcile');
COMMENT ON TYPE reflexo.doorbell IS
  'NOTIFY channels reflexo-sync listens on: reflexo_outbox (a change is due), reflexo_calendars (sync the '
  'calendars of the GHL location in the payload now), reflexo_credentials (the payload location''s tokens changed), '
  'reflexo_reconcile (reconcile now; rung by operators).';
CREATE FUNCTION reflexo.ring(doorbell reflexo.doorbell, payload pg_catalog.text DEFAULT '') RETURNS void
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT pg_catalog.pg_notify(doorbell::pg_catalog.text, COALESCE(payload, '')) $$;
COMMENT ON FUNCTION reflexo.ring(reflexo.doorbell, pg_catalog.text) IS
  'NOTIFY on a doorbell, delivered at commit (once per transaction for equal payloads).';

CREATE FUNCTION reflexo.revive_outbox(outbox_id pg_catalog.int8 DEFAULT NULL,
                                      appointment_id pg_catalog.int8 DEFAULT NULL,
                                      location_id pg_catalog.int8 DEFAULT NULL) RETURNS pg_catalog.int4
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n int;
  BEGIN
    WITH revived AS (
      UPDATE reflexo.outbox o
         SET state = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
       WHERE o.state = 'dead'
         AND (revive_outbox.outbox_id IS NULL OR o.id = revive_outbox.outbox_id)
         AND (revive_outbox.appointment_id IS NULL OR o.appointment_id = revive_outbox.appointment_id)
         AND (revive_outbox.location_id IS NULL OR o.location_id = revive_outbox.location_id)
      RETURNING o.appointment_id AS revived_id
    ), marked AS (
      UPDATE reflexo.appointments a SET sync_state = 'pending'
       WHERE a.id IN (SELECT r.revived_id FROM revived r)
    )
    SELECT count(*) INTO n FROM revived;
    IF n > 0 THEN
      PERFORM reflexo.ring('reflexo_outbox');
    END IF;
    RETURN n;
  END
  $$;
COMMENT ON FUNCTION reflexo.revive_outbox(pg_catalog.int8, pg_catalog.int8, pg_catalog.int8) IS
  'Gives dead outbox rows a fresh set of attempts: one row, one appointment''s, one location''s, or all '
  '(the arguments left NULL match any); returns how many.';

CREATE OR REPLACE FUNCTION reflexo.requeue_outbox(outbox_id pg_catalog.int8 DEFAULT NULL) RETURNS pg_catalog.int4
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT reflexo.revive_outbox(requeue_outbox.outbox_id) $$;
COMMENT ON FUNCTION reflexo.requeue_outbox(pg_catalog.int8) IS
  'Gives dead outbox rows (one, or all when NULL) a fresh set of attempts; returns how many.';

REVOKE ALL ON FUNCTION reflexo.revive_outbox(pg_catalog.int8, pg_catalog.int8, pg_catalog.int8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reflexo.revive_outbox(pg_catalog.int8, pg_catalog.int8, pg_catalog.int8) TO reflexo_sync;

CREATE OR REPLACE FUNCTION reflexo.wake_outbox(location_id pg_catalog.int8) RETURNS pg_catalog.int4
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n int;
  BEGIN
    UPDATE reflexo.outbox o SET next_attempt_at = now(), updated_at = now()
     WHERE o.location_id = wake_outbox.location_id AND o.state = 'pending' AND o.next_attempt_at > now();
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
      PERFORM reflexo.ring('reflexo_outbox');
    END IF;
    RETURN n;
  END
  $$;
COMMENT ON FUNCTION reflexo.wake_outbox(pg_catalog.int8) IS
  'Makes the location''s waiting rows due now (e.g. its credentials work again); returns how many.';

CREATE OR REPLACE FUNCTION reflexo.save_ghl_credentials(ghl_location_id pg_catalog.text, kind pg_catalog.text,
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

CREATE OR REPLACE FUNCTION api.sync_calendars(location_id pg_catalog.int8) RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    loc api.location_settings := reflexo.api_visible_location(location_id);
  BEGIN
    PERFORM reflexo.ring('reflexo_calendars', loc.ghl_location_id);
    RETURN pg_catalog.json_build_object('queued', true, 'ghl_location_id', loc.ghl_location_id);
  END
  $$;
COMMENT ON FUNCTION api.sync_calendars(pg_catalog.int8) IS
  'POST /rpc/sync_calendars {location_id}: asks reflexo-sync to fetch the location''s calendars from GHL now.';

-- ---------------------------------------------------------------- reflexo-sync reads only through functions
-- 0.1.0's daemon read reflexo.locations, calendars and ghl_tokens directly;
-- its contract is now functions only, and reflexo_sync loses the tables.
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
REVOKE ALL ON FUNCTION reflexo.connected_locations(), reflexo.connected_calendars() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reflexo.connected_locations(), reflexo.connected_calendars() TO reflexo_sync;
REVOKE SELECT ON reflexo.ghl_tokens, reflexo.locations, reflexo.calendars FROM reflexo_sync;

-- ---------------------------------------------------------------- naming
-- The old system is "the Django service" in every comment.
COMMENT ON FUNCTION reflexo.apply_ghl_webhook(pg_catalog.jsonb) IS
  'Applies one GHL webhook body exactly once (keyed by webhookId) and returns applied, duplicate (seen before, '
  'or an echo of our own change), stale (older than what is here: last writer wins on dateUpdated) or ignored '
  '(unknown calendar or location: kept and applied after the next calendar sync). AppointmentDelete cancels. '
  'Accepts GHL''s "appointment" shape and the Django guide''s "data" shape. A malformed body raises 22023.';
COMMENT ON FUNCTION reflexo.metrics(pg_catalog.interval) IS
  'The Django guide''s metrics document: ghl_operations, webhooks and system_health (success percentages; '
  'overall_health is their mean; 100 when there was nothing to count), over the period (default 24 hours).';
COMMENT ON SCHEMA api IS
  'The HTTP surface of Reflexo (PostgREST exposes this schema): the Django service''s endpoints as views and functions.';
COMMENT ON VIEW api.citas IS
  'Appointments (GET/POST /citas, PATCH /citas?id=eq.N), with the Django service''s field names. fecha is the local date.';
COMMENT ON FUNCTION api.metrics() IS 'GET /rpc/metrics: the Django service''s metrics document (last 24 h).';

-- ---------------------------------------------------------------- webhook versions and deletes
-- GHL's clock alone versions GHL's changes (an undated event never outranks a
-- dated one; reflexo.ghl_clock_skew bounds the skew against local changes),
-- and GHL's news of an event deleted here never brings it back.
CREATE INDEX outbox_deleted_idx ON reflexo.outbox (ghl_appointment_id)
  WHERE operation OPERATOR(pg_catalog.=) 'delete';
COMMENT ON INDEX reflexo.outbox_deleted_idx IS 'GHL events deleted from here, so that their echoes do not bring them back.';

CREATE FUNCTION reflexo.ghl_change_is_stale(current reflexo.appointments, changed_at pg_catalog.timestamptz)
  RETURNS pg_catalog.bool
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT current.id IS NOT NULL
       AND ((changed_at IS NULL AND current.ghl_updated_at IS NOT NULL)
            OR changed_at <= current.ghl_updated_at
            OR coalesce(changed_at, now()) + make_interval(secs => reflexo.setting_int('reflexo.ghl_clock_skew', 30))
               <= current.local_changed_at)
  $$;
COMMENT ON FUNCTION reflexo.ghl_change_is_stale(reflexo.appointments, pg_catalog.timestamptz) IS
  'Whether a GHL change dated changed_at (NULL: undated) is older than what the appointment holds: an undated one '
  'never outranks a dated GHL state; against local changes GHL''s clock may lag by reflexo.ghl_clock_skew seconds.';

-- ---------------------------------------------------------------- recording push results
-- One lock order (the appointment, then its outbox rows), a booking's echo
-- stored as a copy before its push recorded the GHL id is merged, and each
-- result of a batch is recorded on its own.
CREATE FUNCTION reflexo.merge_ghl_echo(appointment_id pg_catalog.int8, ghl_appointment_id pg_catalog.text)
  RETURNS pg_catalog.bool
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp SET reflexo.change_origin = 'ghl'
  AS $$
  BEGIN
    DELETE FROM reflexo.appointments a
     WHERE a.ghl_appointment_id = merge_ghl_echo.ghl_appointment_id AND a.id <> merge_ghl_echo.appointment_id
       AND a.origin = 'ghl' AND a.local_changed_at IS NULL
       AND NOT EXISTS (SELECT FROM reflexo.outbox o WHERE o.appointment_id = a.id);
    RETURN FOUND;
  END
  $$;
COMMENT ON FUNCTION reflexo.merge_ghl_echo(pg_catalog.int8, pg_catalog.text) IS
  'Removes the copy a GHL echo made of a booking made here (same GHL id, from GHL, unchanged here since), '
  'before that booking takes the id; true if there was one.';
REVOKE ALL ON FUNCTION reflexo.merge_ghl_echo(pg_catalog.int8, pg_catalog.text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reflexo.merge_ghl_echo(pg_catalog.int8, pg_catalog.text) TO reflexo_sync;

CREATE OR REPLACE FUNCTION reflexo.complete_outbox(outbox_id pg_catalog.int8, attempt pg_catalog.int4,
                                        ghl_appointment_id pg_catalog.text DEFAULT NULL,
                                        remote_updated_at pg_catalog.timestamptz DEFAULT NULL)
  RETURNS pg_catalog.bool
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    done reflexo.outbox;
  BEGIN
    -- one lock order everywhere: the appointment, then its outbox rows (apply_ghl_event does the same)
    PERFORM FROM reflexo.appointments a
     WHERE a.id = (SELECT o.appointment_id FROM reflexo.outbox o WHERE o.id = complete_outbox.outbox_id)
       FOR UPDATE;
    UPDATE reflexo.outbox o
       SET state = 'done', completed_at = now(), leased_until = NULL, last_error = NULL, updated_at = now(),
           ghl_appointment_id = coalesce(complete_outbox.ghl_appointment_id, o.ghl_appointment_id)
     WHERE o.id = complete_outbox.outbox_id AND o.state = 'leased' AND o.attempts = complete_outbox.attempt
    RETURNING * INTO done;
    IF NOT FOUND THEN
      RETURN false;   -- the lease was lost: another daemon reclaimed the row
    END IF;

    IF complete_outbox.ghl_appointment_id IS NOT NULL THEN
      UPDATE reflexo.outbox o SET ghl_appointment_id = complete_outbox.ghl_appointment_id
       WHERE o.appointment_id = done.appointment_id AND o.state <> 'done' AND o.ghl_appointment_id IS NULL;
      -- GHL's echo of this booking may have come first, showing an older state than ours (it
      -- was changed here meanwhile), and been stored as a booking of its own: it is this one
      PERFORM reflexo.merge_ghl_echo(done.appointment_id, complete_outbox.ghl_appointment_id);
    END IF;
    UPDATE reflexo.appointments a
       SET ghl_appointment_id = coalesce(complete_outbox.ghl_appointment_id, a.ghl_appointment_id),
           sync_state = CASE WHEN EXISTS (SELECT 1 FROM reflexo.outbox o
                                           WHERE o.appointment_id = a.id AND o.state <> 'done')
                             THEN 'pending' ELSE 'synced' END::reflexo.sync_state,
           -- GHL's v2 answers carry no dateUpdated: then the acknowledgement is GHL's latest
           -- version as far as we know, so reconciliation does not take our own push for news
           ghl_updated_at = greatest(a.ghl_updated_at, coalesce(complete_outbox.remote_updated_at, now())),
           synced_at = now(), sync_error = NULL
     WHERE a.id = done.appointment_id;
    RETURN true;
  END
  $$;
COMMENT ON FUNCTION reflexo.complete_outbox(pg_catalog.int8, pg_catalog.int4, pg_catalog.text, pg_catalog.timestamptz) IS
  'Marks a leased row done after GHL acknowledged it, writing back the GHL id and GHL''s dateUpdated (or now, '
  'when GHL''s answer has none). '
  'Returns false, changing nothing, if attempt is not the current lease (the row was reclaimed).';

CREATE OR REPLACE FUNCTION reflexo.fail_outbox(outbox_id pg_catalog.int8, attempt pg_catalog.int4,
                                    error_class pg_catalog.text, error pg_catalog.text,
                                    retry_after pg_catalog.interval DEFAULT NULL)
  RETURNS reflexo.outbox_state
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    failed reflexo.outbox;
  BEGIN
    IF error_class IS NULL OR error_class NOT IN ('retryable', 'permanent') THEN
      RAISE EXCEPTION 'unknown error class: %', coalesce(error_class, 'NULL')
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ''retryable'' or ''permanent''.';
    END IF;
    PERFORM FROM reflexo.appointments a   -- the appointment first, as everywhere
     WHERE a.id = (SELECT o.appointment_id FROM reflexo.outbox o WHERE o.id = fail_outbox.outbox_id)
       FOR UPDATE;
    UPDATE reflexo.outbox o
       SET state = CASE WHEN error_class = 'permanent'
                          OR o.attempts >= current_setting('reflexo.outbox_max_attempts')::int
                        THEN 'dead' ELSE 'pending' END::reflexo.outbox_state,
           next_attempt_at = now() + greatest(coalesce(retry_after, '0'), reflexo.outbox_backoff(o.attempts)),
           leased_until = NULL, last_error = left(error, 2000), updated_at = now()
     WHERE o.id = fail_outbox.outbox_id AND o.state = 'leased' AND o.attempts = fail_outbox.attempt
    RETURNING * INTO failed;
    IF NOT FOUND THEN
      RETURN NULL;   -- the lease was lost
    END IF;
    -- the cita says why, while it is retried and once it stops (API: sync_error)
    UPDATE reflexo.appointments
       SET sync_error = failed.last_error,
           sync_state = CASE WHEN failed.state = 'dead' THEN 'failed' ELSE sync_state END::reflexo.sync_state
     WHERE id = failed.appointment_id;
    RETURN failed.state;
  END
  $$;
COMMENT ON FUNCTION reflexo.fail_outbox(pg_catalog.int8, pg_catalog.int4, pg_catalog.text, pg_catalog.text, pg_catalog.interval) IS
  'Records a failed push. retryable: pending again after reflexo.outbox_backoff (or retry_after, if longer) '
  'until reflexo.outbox_max_attempts; permanent: dead at once. Dead rows hold back later changes of the same '
  'appointment until requeued. Returns the new state, or NULL if the lease was lost.';

CREATE OR REPLACE FUNCTION reflexo.finish_outbox(results pg_catalog.jsonb) RETURNS pg_catalog.int4
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r jsonb;
    kept int := 0;
    ok bool;
    problem text;
  BEGIN
    FOR r IN SELECT value FROM jsonb_array_elements(results) LOOP
      IF r ->> 'outcome' IS NULL OR r ->> 'outcome' NOT IN ('done', 'retryable', 'permanent', 'release') THEN
        RAISE EXCEPTION 'unknown outcome %', r ->> 'outcome' USING ERRCODE = 'invalid_parameter_value';
      END IF;
     -- each result on its own: one that cannot be recorded does not hold back the others
     BEGIN
      CASE r ->> 'outcome'
        WHEN 'done' THEN
          ok := reflexo.complete_outbox((r ->> 'outbox_id')::int8, (r ->> 'attempt')::int,
                                        r ->> 'ghl_appointment_id', (r ->> 'remote_updated_at')::timestamptz);
        WHEN 'retryable', 'permanent' THEN
          ok := reflexo.fail_outbox((r ->> 'outbox_id')::int8, (r ->> 'attempt')::int, r ->> 'outcome',
                                    coalesce(r ->> 'error', 'unknown error'),
                                    make_interval(secs => coalesce((r ->> 'retry_after_ms')::float8, 0) / 1000))
                IS NOT NULL;
        WHEN 'release' THEN
          ok := reflexo.release_outbox((r ->> 'outbox_id')::int8, (r ->> 'attempt')::int,
                                       make_interval(secs => coalesce((r ->> 'retry_after_ms')::float8, 0) / 1000));
      END CASE;
     EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS problem = MESSAGE_TEXT;
      RAISE WARNING 'outbox row %: its result (%) could not be recorded: %', r ->> 'outbox_id', r ->> 'outcome', problem;
      -- a push GHL took is not sent again on a guess: it stops for a person (last_error says why);
      -- any other outcome is tried again later
      ok := false;
      PERFORM reflexo.fail_outbox((r ->> 'outbox_id')::int8, (r ->> 'attempt')::int,
                                  CASE WHEN r ->> 'outcome' = 'done' THEN 'permanent' ELSE 'retryable' END,
                                  left(format('GHL answered %s, but recording it failed: %s', r ->> 'outcome', problem), 2000));
     END;
      kept := kept + ok::int;
    END LOOP;
    RETURN kept;
  END
  $$;
COMMENT ON FUNCTION reflexo.finish_outbox(pg_catalog.jsonb) IS
  'Records many push results in one call: [{"outbox_id", "attempt", "outcome": done|retryable|permanent|release, '
  '"ghl_appointment_id", "remote_updated_at", "error", "retry_after_ms"}]. Returns how many leases were still held.';

-- ---------------------------------------------------------------- logins
-- A locked-out user is answered as a wrong password is, after the same work:
-- no answer tells whether a username exists.
CREATE OR REPLACE FUNCTION api.login(username pg_catalog.text, password pg_catalog.text) RETURNS pg_catalog.json
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

-- ---------------------------------------------------------------- health by location
-- api.health's token list names locations: staff see their own only; and it
-- answers an overall status with its components.
CREATE OR REPLACE FUNCTION api.health() RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    -- the token list names locations: staff see their own only
    WITH h AS (
      SELECT r OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('tokens', COALESCE(
               (SELECT pg_catalog.jsonb_agg(t ORDER BY t ->> 'location')
                  FROM pg_catalog.jsonb_array_elements(r -> 'tokens') t
                 WHERE t ->> 'location' IN (SELECT l.ghl_location_id FROM reflexo.locations l
                                             WHERE l.id = ANY (reflexo.api_visible_location_ids()))),
               '[]')) AS h
        FROM reflexo.health() r),
    -- each part: healthy, degraded (a person should look) or unhealthy (changes are not flowing)
    parts AS (
      SELECT h, pg_catalog.jsonb_build_object(
               'outbox', CASE WHEN COALESCE((h #>> '{outbox,oldest_pending_age_seconds}')::pg_catalog.numeric, 0) > 300
                              THEN 'unhealthy'
                              WHEN (h #>> '{outbox,dead}')::pg_catalog.int8 > 0 THEN 'degraded' ELSE 'healthy' END,
               'webhooks', CASE WHEN (h #>> '{webhooks,waiting}')::pg_catalog.int8 > 0 THEN 'degraded' ELSE 'healthy' END,
               'tokens', CASE WHEN EXISTS (SELECT FROM pg_catalog.jsonb_array_elements(h -> 'tokens') t
                                            WHERE (t ->> 'expires_in_seconds')::pg_catalog.numeric < 0) THEN 'unhealthy'
                              ELSE 'healthy' END) AS components
        FROM h)
    SELECT h OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
             'status', CASE WHEN components @> '{"outbox": "unhealthy"}' OR components @> '{"tokens": "unhealthy"}'
                            THEN 'unhealthy'
                            WHEN components::pg_catalog.text LIKE '%degraded%' THEN 'degraded' ELSE 'healthy' END,
             'components', components)
      FROM parts
  $$;
COMMENT ON FUNCTION api.health() IS
  'GET /rpc/health: an overall status (healthy, degraded: a person should look, unhealthy: changes are not '
  'flowing) with its components, and the outbox, webhooks, tokens (of the caller''s locations) and rule breaks.';

-- ---------------------------------------------------------------- webhooks about other locations
-- Kept with their body (to apply after a calendar sync) only for a location of ours.
CREATE OR REPLACE FUNCTION reflexo.apply_ghl_webhook(body pg_catalog.jsonb) RETURNS pg_catalog.text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    event text;
    hook_id text;
    outcome record;
  BEGIN
    IF body IS NULL OR jsonb_typeof(body) <> 'object' THEN
      RAISE EXCEPTION 'GHL webhook body must be a JSON object'
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass the request body exactly as GHL sent it.';
    END IF;
    event := nullif(body ->> 'type', '');
    hook_id := nullif(body ->> 'webhookId', '');
    IF event IS NULL THEN
      PERFORM reflexo.malformed_webhook('type');
    END IF;
    IF hook_id IS NULL THEN
      PERFORM reflexo.malformed_webhook('webhookId');
    END IF;

    -- exactly once: the inbox row commits with the change, or neither does
    INSERT INTO reflexo.webhook_inbox (webhook_id, event_type, ghl_location_id, ghl_appointment_id)
    VALUES (hook_id, event, coalesce(body ->> 'locationId', body #>> '{appointment,locationId}'),
            coalesce(body #>> '{appointment,id}', body #>> '{data,id}'))
    ON CONFLICT (webhook_id) DO NOTHING;
    IF NOT FOUND THEN
      PERFORM reflexo.count_webhook(event, 'duplicate');
      RETURN 'duplicate';
    END IF;

    PERFORM set_config('reflexo.change_source', 'webhook ' || hook_id, true);
    outcome := reflexo.apply_ghl_event(body);
    UPDATE reflexo.webhook_inbox
       SET result = outcome.result, reason = outcome.reason, applied_at = now(),
           -- kept to apply after the next calendar sync: only for a location of ours, so
           -- that what GHL sends about other locations costs one small row each
           body = CASE WHEN outcome.result = 'ignored' AND event LIKE 'Appointment%'
                        AND EXISTS (SELECT FROM reflexo.locations l
                                     WHERE l.ghl_location_id = coalesce(apply_ghl_webhook.body ->> 'locationId',
                                                                        apply_ghl_webhook.body #>> '{appointment,locationId}'))
                       THEN apply_ghl_webhook.body END
     WHERE webhook_id = hook_id;
    PERFORM reflexo.count_webhook(event, outcome.result);
    RETURN outcome.result;
  END
  $$;
COMMENT ON FUNCTION reflexo.apply_ghl_webhook(pg_catalog.jsonb) IS
  'Applies one GHL webhook body exactly once (keyed by webhookId) and returns applied, duplicate (seen before, '
  'or an echo of our own change), stale (older than what is here: last writer wins on dateUpdated) or ignored '
  '(unknown calendar or location: kept and applied after the next calendar sync). AppointmentDelete cancels. '
  'Accepts GHL''s "appointment" shape and the Django guide''s "data" shape. A malformed body raises 22023.';

-- ---------------------------------------------------------------- reconciliation
-- A push recorded after GHL's listing was asked for is never taken for
-- missing (listed_at, a new argument), and what is pushed again is looked
-- for in GHL before it is created.
DROP FUNCTION reflexo.reconcile_ghl_events(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.jsonb);
CREATE FUNCTION reflexo.reconcile_ghl_events(ghl_calendar_id pg_catalog.text, window_start pg_catalog.timestamptz,
                                             window_end pg_catalog.timestamptz, events pg_catalog.jsonb,
                                             listed_at pg_catalog.timestamptz DEFAULT NULL)
  RETURNS pg_catalog.jsonb
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    cal reflexo.calendars;
    loc reflexo.locations;
    e jsonb;
    applied int := 0;
    pushed int := 0;
    duplicates jsonb;
  BEGIN
    SELECT * INTO cal FROM reflexo.calendars c WHERE c.ghl_calendar_id = reconcile_ghl_events.ghl_calendar_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'unknown GHL calendar %', reconcile_ghl_events.ghl_calendar_id
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Sync the location''s calendars first.';
    END IF;
    IF events IS NULL OR jsonb_typeof(events) <> 'array' THEN
      RAISE EXCEPTION 'GHL events must be a JSON array'
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass the "events" of GET /calendars/events.';
    END IF;
    SELECT * INTO loc FROM reflexo.locations l WHERE l.id = cal.location_id;

    -- 1. GHL changes we never heard of (a webhook lost on the way): unknown
    --    here, or newer than the last GHL state we applied; applied like a
    --    webhook, so every rule (last writer wins, echoes, guard) holds
    FOR e IN
      SELECT g.value FROM jsonb_array_elements(events) g
       WHERE g.value ->> 'calendarId' = reconcile_ghl_events.ghl_calendar_id
         AND NOT EXISTS (SELECT 1 FROM reflexo.appointments a
                          WHERE a.ghl_appointment_id = g.value ->> 'id'
                            AND a.ghl_updated_at IS NOT NULL
                            AND a.ghl_updated_at >= reflexo.ghl_timestamp_or_null(g.value ->> 'dateUpdated', loc.timezone))
    LOOP
      IF reflexo.apply_ghl_webhook(jsonb_build_object(
           'type', 'AppointmentUpdate', 'locationId', loc.ghl_location_id,
           'webhookId', 'reconcile:' || (e ->> 'id') || ':' || coalesce(e ->> 'dateUpdated', ''),
           'appointment', e)) = 'applied' THEN
        applied := applied + 1;
      END IF;
    END LOOP;

    -- 2. ours that GHL does not have (a push lost after it was acknowledged,
    --    or an event removed in GHL without a webhook): pushed again as new.
    --    Not one with a push pending, nor one whose push was recorded after
    --    the listing was asked for (listed_at, less 10 s for the daemon's
    --    clock; five minutes ago if not given): GHL may have it and the list
    --    not show it yet.  The new row starts at attempt 1, so reflexo-sync
    --    looks for the event in GHL before it creates it again.
    WITH missing AS (
      UPDATE reflexo.appointments a SET ghl_appointment_id = NULL, sync_state = 'pending'
       WHERE a.calendar_id = cal.id AND a.ghl_appointment_id IS NOT NULL
         AND a.starts_at >= window_start AND a.starts_at < window_end
         AND a.status NOT IN ('cancelled', 'invalid') AND a.sync_state = 'synced'
         AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(events) g WHERE g.value ->> 'id' = a.ghl_appointment_id)
         AND NOT EXISTS (SELECT 1 FROM reflexo.outbox o
                          WHERE o.appointment_id = a.id
                            AND (o.state <> 'done'
                                 OR o.completed_at >= coalesce(listed_at, now() - interval '5 minutes') - interval '10 seconds'))
      RETURNING a.*
    )
    INSERT INTO reflexo.outbox (appointment_id, location_id, operation, payload, attempts)
    SELECT m.id, m.location_id, 'create', to_jsonb(m), 1 FROM missing m;
    GET DIAGNOSTICS pushed = ROW_COUNT;
    IF pushed > 0 THEN
      PERFORM reflexo.ring('reflexo_outbox');
    END IF;

    -- 3. the same booking twice in GHL: reported, never removed on a guess
    SELECT coalesce(jsonb_agg(jsonb_build_object('contactId', contact, 'startTime', start, 'ids', ids)), '[]')
      INTO duplicates
      FROM (SELECT g.value ->> 'contactId' AS contact, g.value ->> 'startTime' AS start,
                   jsonb_agg(g.value ->> 'id' ORDER BY g.value ->> 'id') AS ids
              FROM jsonb_array_elements(events) g
             WHERE coalesce(g.value ->> 'appointmentStatus', '') NOT IN ('cancelled', 'invalid')
             GROUP BY 1, 2 HAVING count(*) > 1) d;

    RETURN jsonb_build_object('calendar', reconcile_ghl_events.ghl_calendar_id, 'events', jsonb_array_length(events),
                              'applied', applied, 'pushed_again', pushed, 'duplicates', duplicates);
  END
  $$;
COMMENT ON FUNCTION reflexo.reconcile_ghl_events(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.jsonb, pg_catalog.timestamptz) IS
  'Repairs drift between a GHL calendar''s complete event list over a window, asked for at listed_at, and this '
  'database: applies GHL changes never received (as webhooks), pushes again local appointments GHL does not have '
  '(looking for them first; never one pushed since the listing), and reports duplicate bookings in GHL. Returns '
  '{calendar, events, applied, pushed_again, duplicates}.';
REVOKE ALL ON FUNCTION reflexo.reconcile_ghl_events(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz,
                                                    pg_catalog.jsonb, pg_catalog.timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reflexo.reconcile_ghl_events(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz,
                                                       pg_catalog.jsonb, pg_catalog.timestamptz) TO reflexo_sync;

-- ---------------------------------------------------------------- booking times
-- Appointment times are finite and between 2000 and 2100, and no longer than
-- the location's max_duration (new, default 1 day).  A 0.1.0 database may
-- hold a row that breaks the first rule (it could stop every push): the
-- update refuses to run until it is corrected, and says which.
DO $$
DECLARE
  offenders pg_catalog.text;
BEGIN
  SELECT pg_catalog.string_agg(a.id::pg_catalog.text, ', ' ORDER BY a.id) INTO offenders
    FROM reflexo.appointments a
   WHERE NOT (a.starts_at BETWEEN '2000-01-01 00:00+00' AND '2100-01-01 00:00+00'
              AND a.ends_at BETWEEN '2000-01-01 00:00+00' AND '2100-01-01 00:00+00');
  IF offenders IS NOT NULL THEN
    RAISE EXCEPTION 'appointments with times outside 2000-2099 cannot be kept: %', offenders
      USING ERRCODE = 'check_violation',
            DETAIL = 'reflexo 0.2.0 refuses infinite and far-off appointment times; GHL cannot be sent them.',
            HINT = 'Correct or delete those appointments (reflexo.appointments), then run ALTER EXTENSION reflexo UPDATE again.';
  END IF;
END
$$;

ALTER TABLE reflexo.locations
  ADD COLUMN max_duration pg_catalog.interval NOT NULL DEFAULT '1 day',
  ADD CONSTRAINT locations_max_duration_range
    CHECK (max_duration > min_duration AND max_duration <= '7 days'::pg_catalog.interval);
COMMENT ON COLUMN reflexo.locations.max_duration IS 'Longest bookable appointment (at most 7 days).';

ALTER TABLE reflexo.appointments
  DROP CONSTRAINT appointments_known_flags,
  ADD CONSTRAINT appointments_known_flags CHECK (validation_flags OPERATOR(pg_catalog.<@)
    '{overlap,outside_hours,closure,too_short,too_long,calendar_unavailable}'::pg_catalog.text[]),
  ADD CONSTRAINT appointments_time_range CHECK (
    starts_at >= '2000-01-01 00:00+00'::pg_catalog.timestamptz
    AND starts_at <= '2100-01-01 00:00+00'::pg_catalog.timestamptz
    AND ends_at >= '2000-01-01 00:00+00'::pg_catalog.timestamptz
    AND ends_at <= '2100-01-01 00:00+00'::pg_catalog.timestamptz);
COMMENT ON COLUMN reflexo.appointments.validation_flags IS
  'Rules this row breaks, stored instead of rejected (flexible mode, or changes from GHL): '
  'overlap, outside_hours, closure, too_short, too_long, calendar_unavailable.';

CREATE OR REPLACE FUNCTION reflexo.claim_outbox(max_rows pg_catalog.int4 DEFAULT 10,
                                     lease pg_catalog.interval DEFAULT '60 seconds',
                                     owner pg_catalog.text DEFAULT NULL,
                                     per_location pg_catalog.int4 DEFAULT NULL,
                                     quotas pg_catalog.jsonb DEFAULT '{}')
  RETURNS SETOF reflexo.outbox_job
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    -- PL/pgSQL, not SQL, so that this plan is prepared once per session
    RETURN QUERY
    WITH expired AS (
      -- leases whose daemon died; a leased row is always the head of its appointment
      SELECT o.id FROM reflexo.outbox o
      WHERE o.state = 'leased' AND o.leased_until < now()
      ORDER BY o.leased_until
      LIMIT claim_outbox.max_rows
      FOR UPDATE OF o SKIP LOCKED
    ), waiting AS (
      -- location by location, in a random order so that none starves, as
      -- many rows as its quota allows (what its GHL rate limit lets the
      -- daemon send now); only the oldest unfinished row of each appointment
      -- is eligible, so changes of one appointment go out one at a time and
      -- in order
      SELECT w.id
      FROM (SELECT l.id, coalesce((claim_outbox.quotas ->> l.id::text)::int, claim_outbox.per_location,
                                  claim_outbox.max_rows) AS quota
              FROM reflexo.locations l ORDER BY random()) l
      CROSS JOIN LATERAL (
        SELECT o.id FROM reflexo.outbox o
        WHERE o.location_id = l.id AND o.state = 'pending' AND o.next_attempt_at <= now()
          AND NOT EXISTS (SELECT 1 FROM reflexo.outbox e
                           WHERE e.appointment_id = o.appointment_id AND e.id < o.id AND e.state <> 'done')
        ORDER BY o.next_attempt_at, o.id
        LIMIT l.quota
        FOR UPDATE OF o SKIP LOCKED) w
      WHERE l.quota > 0
      LIMIT claim_outbox.max_rows
    ), due AS (
      SELECT expired.id FROM expired
      UNION ALL
      SELECT waiting.id FROM waiting
      LIMIT claim_outbox.max_rows
    ), jobs AS (
      -- each due row as the job it becomes, its GHL request built before the
      -- lease is taken
      SELECT o.id, o.location_id, o.appointment_id, o.operation,
             CASE
               WHEN o.operation = 'delete' THEN CASE WHEN g.ghl_id IS NULL THEN 'skip' ELSE 'delete' END
               WHEN g.ghl_id IS NOT NULL THEN 'update'
               WHEN (r.row ->> 'status') IN ('cancelled', 'invalid') THEN 'skip'
               ELSE 'create'
             END AS action,
             l.ghl_location_id, cal.ghl_calendar_id, g.ghl_id,
             r.row ->> 'contact_id' AS contact_id, t.starts_at, t.ends_at,
             CASE WHEN o.operation = 'delete' THEN '{}'::jsonb
                  ELSE jsonb_strip_nulls(jsonb_build_object(
                    -- the body of POST /calendars/events/appointments, or of PUT .../{eventId}
                    -- (no locationId or contactId); notes stay in the clinic
                    'calendarId', cal.ghl_calendar_id,
                    'locationId', CASE WHEN g.ghl_id IS NULL THEN l.ghl_location_id END,
                    'contactId', CASE WHEN g.ghl_id IS NULL THEN r.row ->> 'contact_id' END,
                    'startTime', t.start_text,
                    'endTime', t.end_text,
                    'title', nullif(r.row ->> 'title', ''),
                    'appointmentStatus', reflexo.status_to_ghl((r.row ->> 'status')::reflexo.appointment_status),
                    'assignedUserId', r.row ->> 'assigned_user_id'))
             END AS body,
             t.start_text IS NOT NULL AND t.end_text IS NOT NULL AS times_sendable
      FROM due
      JOIN reflexo.outbox o ON o.id = due.id
      LEFT JOIN reflexo.appointments a ON a.id = o.appointment_id
      CROSS JOIN LATERAL (SELECT CASE WHEN o.operation = 'delete' OR a.id IS NULL THEN o.payload
                                      ELSE to_jsonb(a) END AS row) r
      CROSS JOIN LATERAL (SELECT coalesce(a.ghl_appointment_id, o.ghl_appointment_id,
                                          o.payload ->> 'ghl_appointment_id') AS ghl_id) g
      JOIN reflexo.locations l ON l.id = o.location_id
      LEFT JOIN reflexo.calendars cal ON cal.id = (r.row ->> 'calendar_id')::int8
      CROSS JOIN LATERAL (SELECT (r.row ->> 'starts_at')::timestamptz AS starts_at,
                                 (r.row ->> 'ends_at')::timestamptz AS ends_at,
                                 reflexo.ghl_time((r.row ->> 'starts_at')::timestamptz, l.timezone) AS start_text,
                                 reflexo.ghl_time((r.row ->> 'ends_at')::timestamptz, l.timezone) AS end_text) t
    ), verdicts AS (
      -- a request that cannot be built is never sent: its row is dead at
      -- once, saying why, and every other row still goes out
      SELECT j.*,
             CASE WHEN j.action IN ('create', 'update') AND NOT j.times_sendable
                  THEN format('cannot be sent to GHL: its times (%s to %s) are not finite or out of range; '
                              'correct the appointment, then requeue_outbox', j.starts_at, j.ends_at)
             END AS unsendable
        FROM jobs j
    ), claimed AS (
      UPDATE reflexo.outbox o
         SET state = CASE WHEN v.unsendable IS NULL THEN 'leased' ELSE 'dead' END::reflexo.outbox_state,
             attempts = o.attempts + 1,
             leased_until = CASE WHEN v.unsendable IS NULL THEN now() + claim_outbox.lease END,
             lease_owner = claim_outbox.owner, last_error = coalesce(v.unsendable, o.last_error),
             updated_at = now()
        FROM verdicts v
       WHERE o.id = v.id
      RETURNING o.id, o.state, o.attempts
    ), failed AS (
      UPDATE reflexo.appointments a SET sync_state = 'failed', sync_error = v.unsendable
        FROM claimed c JOIN verdicts v ON v.id = c.id
       WHERE c.state = 'dead' AND a.id = v.appointment_id
    )
    SELECT c.id, v.location_id, c.attempts, v.appointment_id, v.operation, v.action, v.ghl_location_id,
           v.ghl_calendar_id, v.ghl_id, v.contact_id, v.starts_at, v.ends_at, v.body
    FROM claimed c
    JOIN verdicts v ON v.id = c.id
    WHERE c.state = 'leased'
    ORDER BY c.id;
  END
  $$;
COMMENT ON FUNCTION reflexo.claim_outbox(pg_catalog.int4, pg_catalog.interval, pg_catalog.text, pg_catalog.int4, pg_catalog.jsonb) IS
  'Leases up to max_rows due outbox rows (FOR UPDATE SKIP LOCKED; expired leases are reclaimed) and returns them '
  'as jobs: per location at most its quota ({"<location id>": n}), else per_location, else max_rows. Never '
  'returns a row while an earlier row of the same appointment is unfinished. A row whose GHL request cannot be '
  'built (times not finite or out of range) becomes dead with the reason in last_error instead. Call it in its '
  'own short transaction; push; then complete_outbox or fail_outbox.';

CREATE OR REPLACE FUNCTION reflexo.apply_ghl_event(body pg_catalog.jsonb, OUT result pg_catalog.text, OUT reason pg_catalog.text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp SET reflexo.change_origin = 'ghl'
  AS $$
  DECLARE
    event text := body ->> 'type';
    appt jsonb := coalesce(body -> 'appointment', body -> 'data');
    ghl_id text;
    loc reflexo.locations;
    cal reflexo.calendars;
    current reflexo.appointments;
    changed_at timestamptz;
    new_status reflexo.appointment_status;
    starts timestamptz;
    ends timestamptz;
  BEGIN
    IF event = 'UNINSTALL' THEN
      -- The app was removed from the location: its tokens are void, unless they were
      -- granted after this event (a replay, or an uninstall followed by a new install).
      -- GHL dates it; an undated one cannot be shown to be newer.
      changed_at := CASE WHEN body ? 'timestamp'
                         THEN reflexo.ghl_timestamp(body ->> 'timestamp', 'UTC', 'timestamp') END;
      DELETE FROM reflexo.ghl_tokens t USING reflexo.locations l
       WHERE t.location_id = l.id AND l.ghl_location_id = body ->> 'locationId' AND t.updated_at < changed_at;
      IF FOUND THEN
        result := 'applied';
        reason := 'credentials forgotten';
        PERFORM reflexo.ring('reflexo_credentials', body ->> 'locationId');
      ELSIF EXISTS (SELECT FROM reflexo.ghl_tokens t JOIN reflexo.locations l ON l.id = t.location_id
                     WHERE l.ghl_location_id = body ->> 'locationId') THEN
        result := 'stale';
        reason := CASE WHEN changed_at IS NULL THEN 'an undated UNINSTALL cannot void credentials'
                       ELSE 'the credentials were granted after this UNINSTALL' END;
      ELSE
        result := 'ignored';
        reason := 'no credentials for the location';
      END IF;
      RETURN;
    END IF;
    IF event NOT IN ('AppointmentCreate', 'AppointmentUpdate', 'AppointmentDelete') THEN
      result := 'ignored';
      reason := format('event type %s is not handled', event);
      RETURN;
    END IF;
    IF appt IS NULL OR jsonb_typeof(appt) <> 'object' THEN
      PERFORM reflexo.malformed_webhook('appointment');
    END IF;
    ghl_id := nullif(appt ->> 'id', '');
    IF ghl_id IS NULL THEN
      PERFORM reflexo.malformed_webhook('appointment.id');
    END IF;
    IF nullif(coalesce(body ->> 'locationId', appt ->> 'locationId'), '') IS NULL THEN
      PERFORM reflexo.malformed_webhook('locationId');
    END IF;

    SELECT * INTO loc FROM reflexo.locations l
     WHERE l.ghl_location_id = coalesce(body ->> 'locationId', appt ->> 'locationId');
    IF NOT FOUND THEN
      result := 'ignored';
      reason := format('unknown location %s', coalesce(body ->> 'locationId', appt ->> 'locationId'));
      RETURN;
    END IF;

    -- Only GHL's clock versions GHL's changes: the appointment's dateUpdated, else the
    -- delivery's timestamp.  An event with neither (the Django guide's shape) is
    -- versionless: it never outranks a dated GHL state, and counts as now against
    -- local changes.  Against local changes, GHL's clock may lag ours by
    -- reflexo.ghl_clock_skew seconds.
    changed_at := coalesce(
      CASE WHEN appt ? 'dateUpdated' THEN reflexo.ghl_timestamp(appt ->> 'dateUpdated', loc.timezone, 'dateUpdated') END,
      CASE WHEN body ? 'timestamp' THEN reflexo.ghl_timestamp(body ->> 'timestamp', loc.timezone, 'timestamp') END);

    SELECT * INTO current FROM reflexo.appointments a WHERE a.ghl_appointment_id = ghl_id FOR UPDATE;
    IF reflexo.ghl_change_is_stale(current, changed_at) THEN
      result := 'stale';
      reason := CASE WHEN changed_at IS NULL THEN 'an undated change cannot outrank the dated GHL state here'
                     ELSE 'a newer change of this appointment is already here' END;
      RETURN;
    END IF;
    -- GHL telling us about an event this database deleted (its echo, or news older than the delete)
    IF current.id IS NULL
       AND EXISTS (SELECT FROM reflexo.outbox o WHERE o.ghl_appointment_id = ghl_id AND o.operation = 'delete') THEN
      result := 'duplicate';
      reason := 'the appointment was deleted here';
      RETURN;
    END IF;

    IF event = 'AppointmentDelete' AND current.id IS NOT NULL THEN
      IF current.status = 'cancelled' THEN
        UPDATE reflexo.appointments SET ghl_updated_at = changed_at WHERE id = current.id;
        result := 'duplicate';
        reason := 'already cancelled here';
        RETURN;
      END IF;
      UPDATE reflexo.appointments SET status = 'cancelled', ghl_updated_at = changed_at WHERE id = current.id;
      PERFORM reflexo.supersede_local_changes(current.id);
      result := 'applied';
      RETURN;
    END IF;

    IF nullif(appt ->> 'calendarId', '') IS NULL THEN
      PERFORM reflexo.malformed_webhook('appointment.calendarId');
    END IF;
    SELECT * INTO cal FROM reflexo.calendars c WHERE c.ghl_calendar_id = appt ->> 'calendarId';
    IF NOT FOUND OR cal.location_id <> loc.id THEN
      result := 'ignored';
      reason := format('unknown calendar %s in location %s', appt ->> 'calendarId', loc.ghl_location_id);
      RETURN;
    END IF;
    starts := reflexo.ghl_timestamp(appt ->> 'startTime', loc.timezone, 'startTime');
    ends := reflexo.ghl_timestamp(appt ->> 'endTime', loc.timezone, 'endTime');
    IF NOT (starts BETWEEN '2000-01-01 00:00+00' AND '2100-01-01 00:00+00'
            AND ends BETWEEN '2000-01-01 00:00+00' AND '2100-01-01 00:00+00') THEN
      -- appointments_time_range: said here as a malformed body, so GHL is not asked to retry
      RAISE EXCEPTION 'GHL webhook times are out of range'
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = format('startTime %s and endTime %s must lie between 2000-01-01 and 2100-01-01.',
                              appt ->> 'startTime', appt ->> 'endTime'),
              HINT = 'Check what sent this webhook.';
    END IF;
    new_status := CASE WHEN event = 'AppointmentDelete' THEN 'cancelled'
                       ELSE reflexo.status_from_ghl(coalesce(appt ->> 'appointmentStatus', 'new')) END;
    IF new_status IS NULL THEN
      result := 'ignored';
      reason := format('unknown appointmentStatus %s', appt ->> 'appointmentStatus');
      RETURN;
    END IF;

    IF current.id IS NULL THEN
      -- Our own booking, echoed before its push wrote the GHL id back?
      SELECT * INTO current FROM reflexo.appointments a
       WHERE a.ghl_appointment_id IS NULL AND a.calendar_id = cal.id
         AND a.status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])  -- appointments_calendar_active_idx
         AND a.starts_at = starts AND a.ends_at = ends
         AND a.contact_id IS NOT DISTINCT FROM (appt ->> 'contactId')
         AND a.origin = 'local'
       ORDER BY a.id LIMIT 1
       FOR UPDATE;
      IF FOUND THEN
        UPDATE reflexo.appointments SET ghl_appointment_id = ghl_id, ghl_updated_at = changed_at
         WHERE id = current.id;
        UPDATE reflexo.outbox o SET ghl_appointment_id = ghl_id
         WHERE o.appointment_id = current.id AND o.state <> 'done' AND o.ghl_appointment_id IS NULL;
        result := 'duplicate';
        reason := 'echo of a booking made here';
        RETURN;
      END IF;
      -- While that lookup waited for a booking's lock, its push may have recorded this very
      -- GHL id (the lookup then no longer matches it): look again before adding a copy.
      SELECT * INTO current FROM reflexo.appointments a WHERE a.ghl_appointment_id = ghl_id FOR UPDATE;
      IF current.id IS NOT NULL AND reflexo.ghl_change_is_stale(current, changed_at) THEN
        result := 'stale';
        reason := 'a newer change of this appointment is already here';
        RETURN;
      END IF;
    END IF;

    IF current.id IS NULL THEN

      -- New here; a delete of an unknown appointment leaves a cancelled tombstone so that
      -- a create delivered late cannot bring it back.
      INSERT INTO reflexo.appointments (location_id, calendar_id, ghl_appointment_id, contact_id,
                                        assigned_user_id, title, notes, status, starts_at, ends_at,
                                        ghl_updated_at)
      VALUES (loc.id, cal.id, ghl_id, appt ->> 'contactId', nullif(appt ->> 'assignedUserId', ''),
              coalesce(appt ->> 'title', ''), nullif(appt ->> 'notes', ''), new_status, starts, ends,
              changed_at);
      result := 'applied';
      RETURN;
    END IF;

    IF current.calendar_id = cal.id AND current.starts_at = starts AND current.ends_at = ends
       AND current.status = new_status
       AND current.contact_id IS NOT DISTINCT FROM coalesce(appt ->> 'contactId', current.contact_id)
       AND current.assigned_user_id IS NOT DISTINCT FROM coalesce(nullif(appt ->> 'assignedUserId', ''),
                                                                  current.assigned_user_id)
       AND current.title = coalesce(appt ->> 'title', current.title) THEN
      UPDATE reflexo.appointments SET ghl_updated_at = changed_at WHERE id = current.id;
      result := 'duplicate';
      reason := 'no change: an echo of what is here';
      RETURN;
    END IF;

    UPDATE reflexo.appointments a
       SET calendar_id = cal.id, starts_at = starts, ends_at = ends, status = new_status,
           contact_id = coalesce(appt ->> 'contactId', a.contact_id),
           assigned_user_id = coalesce(nullif(appt ->> 'assignedUserId', ''), a.assigned_user_id),
           title = coalesce(appt ->> 'title', a.title),
           ghl_updated_at = changed_at
     WHERE a.id = current.id;
    PERFORM reflexo.supersede_local_changes(current.id);
    result := 'applied';
  END
  $$;
COMMENT ON FUNCTION reflexo.apply_ghl_event(pg_catalog.jsonb) IS
  'Applies one GHL appointment event (no idempotency: see apply_ghl_webhook). Returns applied, stale, duplicate '
  '(an echo) or ignored, with a reason.';

-- ---------------------------------------------------------------- the JWT secret
-- 0.1.0 kept it in a setting (ALTER DATABASE ... SET reflexo.jwt_secret),
-- which pg_db_role_setting shows to every role.  It moves to reflexo.jwt_keys,
-- readable by its owner only, and this database's setting is removed.
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

DO $$
DECLARE
  old_secret pg_catalog.text;
BEGIN
  SELECT pg_catalog.substr(s, pg_catalog.length('reflexo.jwt_secret=') + 1) INTO old_secret
    FROM pg_catalog.pg_db_role_setting d, pg_catalog.unnest(d.setconfig) s
   WHERE d.setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
     AND d.setrole = 0 AND s LIKE 'reflexo.jwt\_secret=%';
  IF old_secret IS NOT NULL THEN
    IF pg_catalog.length(old_secret) >= 32 THEN
      PERFORM reflexo.set_jwt_secret(old_secret);
    END IF;
    EXECUTE pg_catalog.format('ALTER DATABASE %I RESET reflexo.jwt_secret', pg_catalog.current_database());
    RAISE NOTICE 'the JWT secret moved from this database''s settings to reflexo.jwt_keys';
  END IF;
END
$$;
COMMENT ON FUNCTION reflexo.jwt_sign(pg_catalog.jsonb) IS 'An HS256 JWT of claims, signed with the secret in reflexo.jwt_keys.';
COMMENT ON FUNCTION reflexo.jwt_verify(pg_catalog.text) IS
  'The claims of an HS256 JWT signed with the secret in reflexo.jwt_keys, or NULL; expiry is the caller''s to check.';

-- ---------------------------------------------------------------- backups
-- 0.1.0 left every table out of pg_dump (see sql/parts/95_backups.sql).
SELECT pg_catalog.pg_extension_config_dump('reflexo.locations', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.locations_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.calendars', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.calendars_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.closures', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.closures_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.appointments', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.appointments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.appointment_history', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.appointment_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.outbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.webhook_inbox', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.ghl_operation_stats', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.webhook_stats', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.ghl_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.users', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.users_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.jwt_keys', '');

-- ---------------------------------------------------------------- API requests
-- reflexo-api runs every request as PostgREST would (see sql/parts/92_api_requests.sql);
-- citas_write raises its errors translated.
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

CREATE OR REPLACE FUNCTION api.citas_write() RETURNS trigger
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    cal reflexo.calendars;
    location_id pg_catalog.int8 := NEW.location_id;
    written pg_catalog.int8;
  BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.id IS DISTINCT FROM OLD.id OR NEW.location_id IS DISTINCT FROM OLD.location_id
                             OR NEW.ghl_appointment_id IS DISTINCT FROM OLD.ghl_appointment_id) THEN
      RAISE EXCEPTION USING ERRCODE = '428C9',
        MESSAGE = reflexo.translate('id, location_id and ghl_appointment_id of a cita cannot change'),
        HINT = reflexo.translate('Book a new cita in the other location and cancel this one.');
    END IF;
    IF NEW.ghl_calendar_id IS NOT NULL THEN
      SELECT * INTO cal FROM reflexo.calendars WHERE ghl_calendar_id = NEW.ghl_calendar_id;
      IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '23503',
          MESSAGE = format(reflexo.translate('calendar %s does not exist or is not available'), NEW.ghl_calendar_id),
          DETAIL = format(reflexo.translate('No calendar of your locations has ghl_calendar_id %s.'), NEW.ghl_calendar_id),
          HINT = reflexo.translate('GET /api/ghl/calendars/ lists the calendars you can book.');
      END IF;
      location_id := cal.location_id;
    ELSIF location_id IS NOT NULL THEN
      IF NOT EXISTS (SELECT FROM reflexo.locations l WHERE l.id = location_id) THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
          MESSAGE = format(reflexo.translate('location %s is not one of yours'), location_id),
          HINT = reflexo.translate('GET /api/locations/settings/ lists the locations you work in.');
      END IF;
    ELSIF TG_OP = 'INSERT' THEN
      -- no calendar: the location's default calendar, if the location is clear
      SELECT l.id INTO location_id FROM reflexo.locations l
       WHERE l.ghl_location_id = NEW.ghl_location_id
          OR (NEW.ghl_location_id IS NULL AND pg_catalog.cardinality(reflexo.api_location_ids()) = 1
              AND l.id = (reflexo.api_location_ids())[1]);
      IF location_id IS NULL AND NEW.ghl_location_id IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
          MESSAGE = format(reflexo.translate('location %s is not one of yours'), NEW.ghl_location_id),
          HINT = reflexo.translate('GET /api/locations/settings/ lists the locations you work in.');
      ELSIF location_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '23502',
          MESSAGE = reflexo.translate('cita needs a calendar'),
          DETAIL = reflexo.translate('Neither ghl_calendar_id nor a location with a default calendar was given.'),
          HINT = reflexo.translate('Give ghl_calendar_id, or ghl_location_id of a location with a default calendar.');
      END IF;
    END IF;

    IF TG_OP = 'INSERT' THEN
      INSERT INTO reflexo.appointments (location_id, calendar_id, title, contact_id, assigned_user_id, notes,
                                        status, starts_at, ends_at)
      VALUES (location_id, cal.id, COALESCE(NEW.title, ''), NEW.contact_id, NEW.assigned_user_id, NEW.notes,
              COALESCE(NEW.status, 'scheduled'), NEW.start_time, NEW.end_time)
      RETURNING id INTO written;
    ELSE
      UPDATE reflexo.appointments a
         SET calendar_id = COALESCE(cal.id, a.calendar_id), title = COALESCE(NEW.title, ''),
             contact_id = NEW.contact_id, assigned_user_id = NEW.assigned_user_id, notes = NEW.notes,
             status = NEW.status, starts_at = NEW.start_time, ends_at = NEW.end_time
       WHERE a.id = OLD.id
      RETURNING a.id INTO written;
    END IF;
    SELECT * INTO NEW FROM api.citas WHERE id = written;
    RETURN NEW;
  END
  $$;
ALTER FUNCTION api.citas_write() OWNER TO reflexo_api;

-- ---------------------------------------------------------------- sync failures, history, closures
-- A cita says why its push failed (sync_error) and when GHL last agreed
-- (synced_at); admins retry one cita or a location's failed ones; staff read
-- a cita's history and their locations' closures, admins manage closures.
-- (claim_outbox, complete_outbox and fail_outbox above write the two columns.)
ALTER TABLE reflexo.appointments
  ADD COLUMN sync_error pg_catalog.text,
  ADD COLUMN synced_at pg_catalog.timestamptz;
COMMENT ON COLUMN reflexo.appointments.sync_error IS
  'Why the latest push to GHL failed (GHL''s own message), while it still has to reach GHL; NULL once it did.';
COMMENT ON COLUMN reflexo.appointments.synced_at IS
  'When GHL and this row last agreed: GHL acknowledged a push, or a change came from GHL.';
-- What is known of the past: a synced row agreed with GHL when it last
-- changed; a failing push's reason is its outbox row's.  Bookkeeping, written
-- without the triggers (which would stamp updated_at).
SET LOCAL session_replication_role = replica;
UPDATE reflexo.appointments a
   SET synced_at = CASE WHEN a.sync_state = 'synced' THEN a.updated_at END,
       sync_error = (SELECT o.last_error FROM reflexo.outbox o
                      WHERE o.appointment_id = a.id AND o.state <> 'done' AND o.last_error IS NOT NULL
                      ORDER BY o.id LIMIT 1)
 WHERE a.sync_state = 'synced'
    OR EXISTS (SELECT FROM reflexo.outbox o
                WHERE o.appointment_id = a.id AND o.state <> 'done' AND o.last_error IS NOT NULL);
RESET session_replication_role;

CREATE OR REPLACE VIEW api.citas AS
  SELECT a.id, a.title, a.contact_id, c.ghl_calendar_id,
         a.starts_at AS start_time, a.ends_at AS end_time,
         a.notes, a.assigned_user_id, a.status,
         (a.starts_at AT TIME ZONE l.timezone)::pg_catalog.date AS fecha,
         a.location_id, l.ghl_location_id, a.calendar_id,
         a.ghl_appointment_id, a.sync_state, a.origin, a.validation_flags,
         a.created_at, a.updated_at, a.sync_error, a.synced_at
    FROM reflexo.appointments a
    JOIN reflexo.calendars c ON c.id = a.calendar_id
    JOIN reflexo.locations l ON l.id = a.location_id;
ALTER VIEW api.citas OWNER TO reflexo_api;
COMMENT ON VIEW api.citas IS
  'Appointments (GET/POST /citas, PATCH /citas?id=eq.N), with the Django service''s field names. fecha is the local '
  'date; sync_error says why GHL has not taken the latest change yet, synced_at when GHL last agreed.';

CREATE FUNCTION reflexo.api_require_admin(action pg_catalog.text) RETURNS void
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF NOT reflexo.api_is_admin() THEN
      RAISE EXCEPTION USING ERRCODE = '42501',
        MESSAGE = format(reflexo.translate('only admins may %s'), reflexo.translate(action)),
        HINT = reflexo.translate('Ask an admin of the clinic.');
    END IF;
  END
  $$;
COMMENT ON FUNCTION reflexo.api_require_admin(pg_catalog.text) IS
  'Refuses (42501) a request that is not an admin''s, naming what it wanted to do.';

CREATE FUNCTION api.retry_sync(id pg_catalog.int8) RETURNS SETOF api.citas
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    PERFORM reflexo.api_require_admin('retry a sync');
    IF NOT EXISTS (SELECT FROM api.citas c WHERE c.id = retry_sync.id) THEN
      RAISE EXCEPTION 'cita % not found', id USING ERRCODE = 'PT404';
    END IF;
    PERFORM reflexo.revive_outbox(NULL, retry_sync.id, NULL);
    RETURN QUERY SELECT * FROM api.citas c WHERE c.id = retry_sync.id;
  END
  $$;
COMMENT ON FUNCTION api.retry_sync(pg_catalog.int8) IS
  'POST /rpc/retry_sync {id}: gives a cita whose push to GHL failed a fresh set of attempts. Admins.';

CREATE FUNCTION api.retry_failed_syncs(location_id pg_catalog.int8) RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    loc api.location_settings;
  BEGIN
    PERFORM reflexo.api_require_admin('retry a sync');
    loc := reflexo.api_visible_location(location_id);
    RETURN pg_catalog.json_build_object('retried', reflexo.revive_outbox(NULL, NULL, loc.id),
                                        'ghl_location_id', loc.ghl_location_id, 'success', true);
  END
  $$;
COMMENT ON FUNCTION api.retry_failed_syncs(pg_catalog.int8) IS
  'POST /rpc/retry_failed_syncs {location_id}: retries every failed push of a location; answers how many. Admins.';

CREATE VIEW api.cita_history WITH (security_barrier) AS
  SELECT h.id, h.appointment_id AS cita_id, h.location_id, h.operation, h.origin, h.actor, h.changed_at,
         h.old_values, h.new_values
    FROM reflexo.appointment_history h
   WHERE h.location_id = ANY (COALESCE((SELECT reflexo.api_visible_location_ids()), '{}'));
ALTER VIEW api.cita_history OWNER TO reflexo_api;
COMMENT ON VIEW api.cita_history IS
  'GET /cita_history?cita_id=eq.N: every change of the citas of your locations, who made it (the user, or '
  'what delivered it from GHL) and from where (origin), with the columns before and after.';

CREATE VIEW api.closures WITH (security_barrier) AS
  SELECT cl.id, cl.location_id, c.ghl_calendar_id, cl.closed_from, cl.closed_until, cl.reason,
         cl.created_at, cl.updated_at
    FROM reflexo.closures cl
    LEFT JOIN reflexo.calendars c ON c.id = cl.calendar_id
   WHERE cl.location_id = ANY (COALESCE((SELECT reflexo.api_visible_location_ids()), '{}'));
ALTER VIEW api.closures OWNER TO reflexo_api;
COMMENT ON VIEW api.closures IS
  'GET /closures?location_id=eq.N: holidays and closures of your locations (ghl_calendar_id NULL: the whole '
  'location), in local wall-clock time.';

CREATE FUNCTION api.add_closure(location_id pg_catalog.int8, first_day pg_catalog.date, reason pg_catalog.text,
                                last_day pg_catalog.date DEFAULT NULL, ghl_calendar_id pg_catalog.text DEFAULT NULL)
  RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    loc api.location_settings;
    cal api.calendars;
    added reflexo.closures;
  BEGIN
    PERFORM reflexo.api_require_admin('manage closures');
    loc := reflexo.api_visible_location(location_id);
    IF ghl_calendar_id IS NOT NULL THEN
      SELECT * INTO cal FROM api.calendars c WHERE c.ghl_calendar_id = add_closure.ghl_calendar_id;
      IF NOT FOUND OR cal.location_id <> loc.id THEN
        RAISE EXCEPTION USING ERRCODE = '23503', CONSTRAINT = 'closures_calendar_fkey',
          MESSAGE = format(reflexo.translate('calendar %s does not exist or is not available'), ghl_calendar_id),
          HINT = reflexo.translate('GET /api/ghl/calendars/ lists the calendars you can book.');
      END IF;
    END IF;
    IF last_day < first_day THEN
      RAISE EXCEPTION USING ERRCODE = '22023', CONSTRAINT = 'closures_period_order',
        MESSAGE = reflexo.translate('last_day comes before first_day');
    END IF;
    added := reflexo.add_closure(loc.id, first_day, reason, last_day, cal.id);
    -- bookings already in it stay (they were valid when made); the answer counts them
    RETURN (SELECT pg_catalog.to_jsonb(cl) || pg_catalog.jsonb_build_object('citas_inside',
                     (SELECT pg_catalog.count(*) FROM reflexo.appointments a
                       WHERE a.location_id = added.location_id
                         AND (added.calendar_id IS NULL OR a.calendar_id = added.calendar_id)
                         AND a.status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])
                         AND a.starts_at < added.closed_until AT TIME ZONE loc.timezone
                         AND a.ends_at > added.closed_from AT TIME ZONE loc.timezone))
              FROM api.closures cl WHERE cl.id = added.id)::pg_catalog.json;
  END
  $$;
ALTER FUNCTION api.add_closure(pg_catalog.int8, pg_catalog.date, pg_catalog.text, pg_catalog.date, pg_catalog.text)
  OWNER TO reflexo_api;
COMMENT ON FUNCTION api.add_closure(pg_catalog.int8, pg_catalog.date, pg_catalog.text, pg_catalog.date, pg_catalog.text) IS
  'POST /rpc/add_closure {location_id, first_day, reason[, last_day, ghl_calendar_id]}: closes a location (or one '
  'calendar) for whole local days; answers the closure and how many active citas fall in it. Admins.';

CREATE FUNCTION api.remove_closure(location_id pg_catalog.int8, closure_id pg_catalog.int8) RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    loc api.location_settings;
  BEGIN
    PERFORM reflexo.api_require_admin('manage closures');
    loc := reflexo.api_visible_location(location_id);
    DELETE FROM reflexo.closures cl WHERE cl.id = closure_id AND cl.location_id = loc.id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'closure % of location % not found', closure_id, location_id USING ERRCODE = 'PT404';
    END IF;
    RETURN pg_catalog.json_build_object('id', closure_id);
  END
  $$;
ALTER FUNCTION api.remove_closure(pg_catalog.int8, pg_catalog.int8) OWNER TO reflexo_api;
COMMENT ON FUNCTION api.remove_closure(pg_catalog.int8, pg_catalog.int8) IS
  'POST /rpc/remove_closure {location_id, closure_id}: reopens what a closure closed. Admins.';

GRANT SELECT ON api.cita_history, api.closures TO reflexo_staff, reflexo_admin;
GRANT SELECT ON reflexo.appointment_history TO reflexo_api;
GRANT SELECT, INSERT, DELETE ON reflexo.closures TO reflexo_api;
REVOKE ALL ON FUNCTION api.retry_sync(pg_catalog.int8), api.retry_failed_syncs(pg_catalog.int8),
    api.add_closure(pg_catalog.int8, pg_catalog.date, pg_catalog.text, pg_catalog.date, pg_catalog.text),
    api.remove_closure(pg_catalog.int8, pg_catalog.int8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.retry_sync(pg_catalog.int8), api.retry_failed_syncs(pg_catalog.int8),
    api.add_closure(pg_catalog.int8, pg_catalog.date, pg_catalog.text, pg_catalog.date, pg_catalog.text),
    api.remove_closure(pg_catalog.int8, pg_catalog.int8)
  TO reflexo_staff, reflexo_admin;

-- ---------------------------------------------------------------- rate limits in metrics_ghl
-- 429s were not counted anywhere, and the lowest X-RateLimit-Remaining was
-- kept but not shown: metrics_ghl now has both, beside the Django service's keys.
ALTER TABLE reflexo.ghl_operation_stats ADD COLUMN rate_limited pg_catalog.int8 NOT NULL DEFAULT 0;
COMMENT ON COLUMN reflexo.ghl_operation_stats.rate_limited IS 'Calls GHL refused with 429 (also counted as failed).';
DROP FUNCTION reflexo.record_ghl_operation(pg_catalog.text, pg_catalog.bool, pg_catalog.float8, pg_catalog.int4,
                                           pg_catalog.int4);
CREATE FUNCTION reflexo.record_ghl_operation(operation pg_catalog.text, success pg_catalog.bool,
                                             duration_ms pg_catalog.float8, attempt pg_catalog.int4 DEFAULT 1,
                                             rate_limit_remaining pg_catalog.int4 DEFAULT NULL,
                                             rate_limited pg_catalog.bool DEFAULT false)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    INSERT INTO reflexo.ghl_operation_stats AS s
      (bucket, operation, success_count, failed_count, total_duration_ms, retries, min_rate_limit_remaining,
       rate_limited)
    VALUES (date_trunc('minute', now()), record_ghl_operation.operation, success::int, (NOT success)::int,
            greatest(duration_ms, 0), (attempt > 1)::int, rate_limit_remaining, record_ghl_operation.rate_limited::int)
    ON CONFLICT ON CONSTRAINT ghl_operation_stats_pkey DO UPDATE
      SET success_count = s.success_count + EXCLUDED.success_count,
          failed_count = s.failed_count + EXCLUDED.failed_count,
          total_duration_ms = s.total_duration_ms + EXCLUDED.total_duration_ms,
          retries = s.retries + EXCLUDED.retries,
          min_rate_limit_remaining = least(s.min_rate_limit_remaining, EXCLUDED.min_rate_limit_remaining),
          rate_limited = s.rate_limited + EXCLUDED.rate_limited;
  END
  $$;
COMMENT ON FUNCTION reflexo.record_ghl_operation(pg_catalog.text, pg_catalog.bool, pg_catalog.float8, pg_catalog.int4,
                                                 pg_catalog.int4, pg_catalog.bool) IS
  'Counts one GHL API call in the per-minute statistics: operation, outcome, duration, attempt number, the '
  'X-RateLimit-Remaining it reported, and whether GHL refused it with 429 (a failure too).';
REVOKE ALL ON FUNCTION reflexo.record_ghl_operation(pg_catalog.text, pg_catalog.bool, pg_catalog.float8, pg_catalog.int4,
    pg_catalog.int4, pg_catalog.bool) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reflexo.record_ghl_operation(pg_catalog.text, pg_catalog.bool, pg_catalog.float8, pg_catalog.int4,
    pg_catalog.int4, pg_catalog.bool) TO reflexo_sync;

CREATE OR REPLACE FUNCTION reflexo.record_ghl_operations(operations pg_catalog.jsonb) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    o jsonb;
  BEGIN
    FOR o IN SELECT value FROM jsonb_array_elements(operations) LOOP
      PERFORM reflexo.record_ghl_operation(o ->> 'operation', (o ->> 'success')::bool,
                                           (o ->> 'duration_ms')::float8, coalesce((o ->> 'attempt')::int, 1),
                                           (o ->> 'rate_limit_remaining')::int,
                                           coalesce((o ->> 'rate_limited')::bool, false));
    END LOOP;
  END
  $$;
COMMENT ON FUNCTION reflexo.record_ghl_operations(pg_catalog.jsonb) IS
  'record_ghl_operation for a batch: [{"operation", "success", "duration_ms", "attempt", "rate_limit_remaining", '
  '"rate_limited"}].';

CREATE OR REPLACE FUNCTION reflexo.metrics_ghl(since pg_catalog.interval DEFAULT '24 hours') RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT coalesce(jsonb_object_agg(operation, jsonb_build_object(
             'success_count', ok, 'failed_count', bad, 'total_count', ok + bad,
             'success_rate', round(100.0 * ok / nullif(ok + bad, 0), 2),
             'avg_duration_ms', round((ms / nullif(ok + bad, 0))::numeric, 2),
             'rate_limited_count', limited, 'min_rate_limit_remaining', lowest)), '{}')
    FROM (SELECT operation, sum(success_count) AS ok, sum(failed_count) AS bad, sum(total_duration_ms) AS ms,
                 sum(rate_limited) AS limited, min(min_rate_limit_remaining) AS lowest
            FROM reflexo.ghl_operation_stats
           WHERE bucket >= date_trunc('minute', now() - since)
           GROUP BY operation) per_operation
  $$;
COMMENT ON FUNCTION reflexo.metrics_ghl(pg_catalog.interval) IS
  'GHL API calls over the period, per operation: success_count, failed_count, total_count, success_rate (%), '
  'avg_duration_ms (the Django service''s keys), and rate_limited_count (429s, counted as failures too) and '
  'min_rate_limit_remaining (the lowest X-RateLimit-Remaining GHL reported; null if none).';


-- ---------------------------------------------------------------- flexible validation per booking
-- The Django serializer took strict_validation per request; admins may ask for
-- it on any booking, staff where the location allows it (staff_flexible).
-- api.location_settings shows it, with max_duration (booking times, above).
ALTER TABLE reflexo.locations ADD COLUMN staff_flexible pg_catalog.bool NOT NULL DEFAULT false;
COMMENT ON COLUMN reflexo.locations.staff_flexible IS
  'Whether staff may ask for flexible validation of one booking (reflexo.strict_validation = off in its '
  'transaction) at this strict location; admins always may.';

CREATE OR REPLACE VIEW api.location_settings AS
  SELECT id, ghl_location_id, name, timezone, is_active, default_calendar_id, open_hours,
         min_duration, strict_validation, created_at, updated_at, max_duration, staff_flexible
    FROM reflexo.locations;
ALTER VIEW api.location_settings OWNER TO reflexo_api;

CREATE OR REPLACE VIEW api.active_locations AS
  SELECT * FROM api.location_settings WHERE is_active;
ALTER VIEW api.active_locations OWNER TO reflexo_api;

-- ---------------------------------------------------------------- the API's own errors, translated
-- set_default_calendar names the calendar as the Django service did; a short
-- password is refused in the request's language.
CREATE OR REPLACE FUNCTION api.set_default_calendar(location_id pg_catalog.int8, calendar_id pg_catalog.text)
  RETURNS api.location_settings
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    loc api.location_settings := reflexo.api_visible_location(location_id);
    cal api.calendars;
  BEGIN
    SELECT * INTO cal FROM api.calendars c
     WHERE c.ghl_calendar_id = calendar_id OR c.id::pg_catalog.text = calendar_id;
    IF NOT FOUND OR cal.location_id <> loc.id OR NOT cal.is_active THEN
      RAISE EXCEPTION USING ERRCODE = '23503',
        MESSAGE = format(reflexo.translate('calendar %s does not exist or is not available'), calendar_id),
        DETAIL = format(reflexo.translate('It is not an active calendar of location %s.'), location_id),
        HINT = reflexo.translate('GET /api/locations/settings/{id}/calendars/ lists them.');
    END IF;
    UPDATE api.location_settings s SET default_calendar_id = cal.id WHERE s.id = loc.id RETURNING * INTO loc;
    RETURN loc;
  END
  $$;
COMMENT ON FUNCTION api.set_default_calendar(pg_catalog.int8, pg_catalog.text) IS
  'POST /rpc/set_default_calendar {location_id, calendar_id}: calendar_id is the GHL calendar id (or ours). Admins.';

CREATE OR REPLACE FUNCTION reflexo.new_password_hash(password pg_catalog.text) RETURNS pg_catalog.text
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


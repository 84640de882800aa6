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
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    -- PL/pgSQL, not SQL: with its SET clause an SQL function is parsed and planned on every call
    RETURN current.id IS NOT NULL
       AND ((changed_at IS NULL AND current.ghl_updated_at IS NOT NULL)
            OR changed_at <= current.ghl_updated_at
            OR coalesce(changed_at, now()) + make_interval(secs => reflexo.setting_int('reflexo.ghl_clock_skew', 30))
               <= current.local_changed_at);
  END
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

-- The outbox's settings are read with their defaults where the module is not loaded yet.
CREATE OR REPLACE FUNCTION reflexo.outbox_backoff(attempts pg_catalog.int4) RETURNS pg_catalog.interval
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
    -- the settings exist once the module is loaded in the session, which a connection
    -- that has only called SQL functions so far has not done: the defaults then
    SELECT make_interval(secs => least(extract(epoch FROM coalesce(nullif(current_setting('reflexo.outbox_backoff_cap', true), ''),
                                                                   '1h')::interval)::float8,
                                       power(2, least(attempts, 30)))
                                 * (0.75 + random() * 0.5))
  $$;
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
                          OR o.attempts >= reflexo.setting_int('reflexo.outbox_max_attempts', 25)
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

-- Its result changes from a count no caller read to the results left for later: a new function.
DROP FUNCTION reflexo.finish_outbox(pg_catalog.jsonb);
-- A result is recorded under its appointment's row lock.  Waiting for that lock would let one
-- open transaction (a person editing the cita, a long batch update) stop every push of every
-- location behind it, so a result whose appointment is locked is not recorded: its outbox id
-- comes back, and the daemon sends it again later.
CREATE FUNCTION reflexo.finish_outbox(results pg_catalog.jsonb) RETURNS pg_catalog.int8[]
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r jsonb;
    row_id int8;
    appointment int8;
    locked int8[] := '{}';
    problem text;
  BEGIN
    FOR r IN SELECT value FROM jsonb_array_elements(results) LOOP
      IF r ->> 'outcome' IS NULL OR r ->> 'outcome' NOT IN ('done', 'retryable', 'permanent', 'release') THEN
        RAISE EXCEPTION 'unknown outcome %', r ->> 'outcome' USING ERRCODE = 'invalid_parameter_value';
      END IF;
      row_id := (r ->> 'outbox_id')::int8;
      IF r ->> 'outcome' <> 'release' THEN
        -- the appointment first, as everywhere, unless another transaction holds it
        SELECT o.appointment_id INTO appointment FROM reflexo.outbox o WHERE o.id = row_id;
        PERFORM FROM reflexo.appointments a WHERE a.id = appointment FOR UPDATE SKIP LOCKED;
        IF NOT FOUND AND EXISTS (SELECT FROM reflexo.appointments a WHERE a.id = appointment) THEN
          locked := locked || row_id;
          CONTINUE;
        END IF;
      END IF;
     -- each result on its own: one that cannot be recorded does not hold back the others
     BEGIN
      CASE r ->> 'outcome'
        WHEN 'done' THEN
          PERFORM reflexo.complete_outbox(row_id, (r ->> 'attempt')::int,
                                          r ->> 'ghl_appointment_id', (r ->> 'remote_updated_at')::timestamptz);
        WHEN 'retryable', 'permanent' THEN
          PERFORM reflexo.fail_outbox(row_id, (r ->> 'attempt')::int, r ->> 'outcome',
                                      coalesce(r ->> 'error', 'unknown error'),
                                      make_interval(secs => coalesce((r ->> 'retry_after_ms')::float8, 0) / 1000));
        WHEN 'release' THEN
          PERFORM reflexo.release_outbox(row_id, (r ->> 'attempt')::int,
                                         make_interval(secs => coalesce((r ->> 'retry_after_ms')::float8, 0) / 1000));
      END CASE;
     EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS problem = MESSAGE_TEXT;
      RAISE WARNING 'outbox row %: its result (%) could not be recorded: %', row_id, r ->> 'outcome', problem;
      -- a push GHL took is not sent again on a guess: it stops for a person (last_error says why);
      -- any other outcome is tried again later
      PERFORM reflexo.fail_outbox(row_id, (r ->> 'attempt')::int,
                                  CASE WHEN r ->> 'outcome' = 'done' THEN 'permanent' ELSE 'retryable' END,
                                  left(format('GHL answered %s, but recording it failed: %s', r ->> 'outcome', problem), 2000));
     END;
    END LOOP;
    RETURN locked;
  END
  $$;
COMMENT ON FUNCTION reflexo.finish_outbox(pg_catalog.jsonb) IS
  'Records many push results in one call: [{"outbox_id", "attempt", "outcome": done|retryable|permanent|release, '
  '"ghl_appointment_id", "remote_updated_at", "error", "retry_after_ms"}]. A result for a lost lease changes nothing. '
  'Never waits for another transaction''s lock on an appointment: returns the outbox ids whose results were not '
  'recorded for that reason, to be sent again.';
REVOKE ALL ON FUNCTION reflexo.finish_outbox(pg_catalog.jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reflexo.finish_outbox(pg_catalog.jsonb) TO reflexo_sync;

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
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET enable_seqscan = off
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

-- The table's CHECK constraints, in C: written in SQL, PostgreSQL read their
-- literals back from text on every statement that wrote the table.
CREATE FUNCTION reflexo.appointment_times_in_range(starts_at pg_catalog.timestamptz,
                                                   ends_at pg_catalog.timestamptz)
  RETURNS pg_catalog.bool
  AS 'MODULE_PATHNAME', 'appointment_times_in_range' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION reflexo.appointment_times_in_range(pg_catalog.timestamptz, pg_catalog.timestamptz) IS
  'Both times between 2000-01-01 00:00 and 2100-01-01 00:00 UTC (NULL counts as in range: NOT NULL refuses it).';
CREATE FUNCTION reflexo.known_validation_flags(flags pg_catalog.text[])
  RETURNS pg_catalog.bool
  AS 'MODULE_PATHNAME', 'known_validation_flags' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION reflexo.known_validation_flags(pg_catalog.text[]) IS
  'Every flag names a rule a stored appointment can break: overlap, outside_hours, closure, too_short, '
  'too_long, calendar_unavailable, too_soon, too_far, day_full (no NULLs).';

ALTER TABLE reflexo.appointments
  DROP CONSTRAINT appointments_known_flags,
  ADD CONSTRAINT appointments_known_flags CHECK (reflexo.known_validation_flags(validation_flags)),
  ADD CONSTRAINT appointments_time_range CHECK (reflexo.appointment_times_in_range(starts_at, ends_at));
COMMENT ON COLUMN reflexo.appointments.validation_flags IS
  'Rules this row breaks, stored instead of rejected (flexible mode, or changes from GHL): '
  'overlap, outside_hours, closure, too_short, too_long, calendar_unavailable, too_soon, too_far, day_full.';

-- Only a delete carries the appointment in its outbox row: the push reads the
-- others as they are then.  Rows written before keep their payload, unused.
ALTER TABLE reflexo.outbox ALTER COLUMN payload DROP NOT NULL;
COMMENT ON COLUMN reflexo.outbox.payload IS
  'For a delete, the appointment as it was; NULL for other changes, which push the appointment as it is then.';

CREATE OR REPLACE FUNCTION reflexo.claim_outbox(max_rows pg_catalog.int4 DEFAULT 10,
                                     lease pg_catalog.interval DEFAULT '60 seconds',
                                     owner pg_catalog.text DEFAULT NULL,
                                     per_location pg_catalog.int4 DEFAULT NULL,
                                     quotas pg_catalog.jsonb DEFAULT '{}')
  RETURNS SETOF reflexo.outbox_job
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
  AS $$
  BEGIN
    -- PL/pgSQL, not SQL, so that this plan is prepared once per session.  Forced generic:
    -- otherwise PostgreSQL, costing its parameterized LIMITs high, plans it afresh on every
    -- call.  Index scans only, so that a plan made while the outbox was small stays right
    -- as it grows.
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
               -- gone since: deleted here (its delete row follows this one) or from GHL
               WHEN a.id IS NULL THEN 'skip'
               WHEN g.ghl_id IS NOT NULL THEN 'update'
               WHEN (r.row).status IN ('cancelled', 'invalid') THEN 'skip'
               ELSE 'create'
             END AS action,
             l.ghl_location_id, cal.ghl_calendar_id, g.ghl_id,
             (r.row).contact_id, (r.row).starts_at, (r.row).ends_at,
             CASE WHEN o.operation = 'delete' THEN '{}'::jsonb
                  ELSE jsonb_strip_nulls(jsonb_build_object(
                    -- the body of POST /calendars/events/appointments, or of PUT .../{eventId}
                    -- (no locationId or contactId); notes stay in the clinic
                    'calendarId', cal.ghl_calendar_id,
                    'locationId', CASE WHEN g.ghl_id IS NULL THEN l.ghl_location_id END,
                    'contactId', CASE WHEN g.ghl_id IS NULL THEN (r.row).contact_id END,
                    'startTime', t.start_text,
                    'endTime', t.end_text,
                    'title', nullif((r.row).title, ''),
                    'appointmentStatus', reflexo.status_to_ghl((r.row).status),
                    'assignedUserId', (r.row).assigned_user_id))
             END AS body,
             t.start_text IS NOT NULL AND t.end_text IS NOT NULL AS times_sendable
      FROM due
      JOIN reflexo.outbox o ON o.id = due.id
      LEFT JOIN reflexo.appointments a ON a.id = o.appointment_id
      -- the appointment as it is, or as it was for a delete; OFFSET 0 builds it once per row
      CROSS JOIN LATERAL (SELECT CASE WHEN o.operation = 'delete'
                                      THEN jsonb_populate_record(NULL::reflexo.appointments, o.payload)
                                      ELSE a END AS row OFFSET 0) r
      CROSS JOIN LATERAL (SELECT coalesce(a.ghl_appointment_id, o.ghl_appointment_id,
                                          o.payload ->> 'ghl_appointment_id') AS ghl_id) g
      JOIN reflexo.locations l ON l.id = o.location_id
      LEFT JOIN reflexo.calendars cal ON cal.id = (r.row).calendar_id
      CROSS JOIN LATERAL (SELECT reflexo.ghl_time((r.row).starts_at, l.timezone) AS start_text,
                                 reflexo.ghl_time((r.row).ends_at, l.timezone) AS end_text) t
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
  SET search_path = pg_catalog, pg_temp SET reflexo.change_origin = 'ghl' SET enable_seqscan = off
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
    loc reflexo.locations;
    location_id pg_catalog.int8 := NEW.location_id;
    written reflexo.appointments;
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
      RETURNING * INTO written;
    ELSE
      UPDATE reflexo.appointments a
         SET calendar_id = COALESCE(cal.id, a.calendar_id), title = COALESCE(NEW.title, ''),
             contact_id = NEW.contact_id, assigned_user_id = NEW.assigned_user_id, notes = NEW.notes,
             status = NEW.status, starts_at = NEW.start_time, ends_at = NEW.end_time
       WHERE a.id = OLD.id
      RETURNING a.* INTO written;
    END IF;

    -- the cita as api.citas shows it, built from the written row rather than read back
    -- through the view (pgTAP 18 compares the two)
    IF cal.id IS DISTINCT FROM written.calendar_id THEN
      SELECT * INTO cal FROM reflexo.calendars c WHERE c.id = written.calendar_id;
    END IF;
    SELECT * INTO loc FROM reflexo.locations l WHERE l.id = written.location_id;
    NEW := ROW(written.id, written.title, written.contact_id, cal.ghl_calendar_id,
               written.starts_at, written.ends_at, written.notes, written.assigned_user_id, written.status,
               (written.starts_at AT TIME ZONE loc.timezone)::pg_catalog.date, written.location_id,
               loc.ghl_location_id, written.calendar_id, written.ghl_appointment_id, written.sync_state,
               written.origin, written.validation_flags, written.created_at, written.updated_at,
               written.sync_error, written.synced_at, written.series_id);
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

GRANT SELECT ON api.cita_history TO reflexo_staff, reflexo_admin;
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

-- ---------------------------------------------------------------- clinic scheduling
-- GHL's calendar booking settings (buffers, notice, horizon, per day), enforced
-- by the guard and honoured by free slots; therapists with their own hours and
-- time off (closures of one therapist); treatment series.
ALTER TABLE reflexo.calendars
  ADD COLUMN buffer_before pg_catalog.interval NOT NULL DEFAULT '0',
  ADD COLUMN buffer_after pg_catalog.interval NOT NULL DEFAULT '0',
  ADD COLUMN min_notice pg_catalog.interval NOT NULL DEFAULT '0',
  ADD COLUMN booking_horizon pg_catalog.interval,
  ADD COLUMN max_per_day pg_catalog.int4,
  ADD CONSTRAINT calendars_buffers_range
    CHECK (buffer_before >= '0'::pg_catalog.interval AND buffer_before <= '1 day'::pg_catalog.interval
           AND buffer_after >= '0'::pg_catalog.interval AND buffer_after <= '1 day'::pg_catalog.interval),
  ADD CONSTRAINT calendars_min_notice_range
    CHECK (min_notice >= '0'::pg_catalog.interval AND min_notice <= '1 year'::pg_catalog.interval),
  ADD CONSTRAINT calendars_booking_horizon_range
    CHECK (booking_horizon > '0'::pg_catalog.interval AND booking_horizon <= '10 years'::pg_catalog.interval),
  ADD CONSTRAINT calendars_max_per_day_range CHECK (max_per_day BETWEEN 1 AND 10000);
COMMENT ON COLUMN reflexo.calendars.buffer_before IS
  'Free time kept before each appointment (GHL preBuffer); widens the overlap rule.';
COMMENT ON COLUMN reflexo.calendars.buffer_after IS
  'Free time kept after each appointment (GHL slotBuffer); widens the overlap rule.';
COMMENT ON COLUMN reflexo.calendars.min_notice IS
  'Local bookings start at least this long after they are made (GHL allowBookingAfter).';
COMMENT ON COLUMN reflexo.calendars.booking_horizon IS
  'Local bookings start at most this far ahead (GHL allowBookingFor); NULL: no limit.';
COMMENT ON COLUMN reflexo.calendars.max_per_day IS
  'Most appointments starting on one local day (GHL appoinmentPerDay); NULL: no limit.';

CREATE TABLE reflexo.therapists (
  location_id pg_catalog.int8 NOT NULL REFERENCES reflexo.locations ON DELETE CASCADE,
  ghl_user_id pg_catalog.text NOT NULL,
  name        pg_catalog.text NOT NULL DEFAULT '',
  open_hours  reflexo.open_hours,
  created_at  pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_at  pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (location_id, ghl_user_id),
  CONSTRAINT therapists_user_given CHECK (ghl_user_id OPERATOR(pg_catalog.<>) '')
);
COMMENT ON TABLE reflexo.therapists IS
  'The GHL users (therapists) who take appointments at a location, and their own working hours. '
  'Seeded from the team members of the location''s GHL calendars.';
COMMENT ON COLUMN reflexo.therapists.location_id IS 'The location they work at.';
COMMENT ON COLUMN reflexo.therapists.ghl_user_id IS 'GHL user id, as in reflexo.appointments.assigned_user_id.';
COMMENT ON COLUMN reflexo.therapists.name IS 'Display name.';
COMMENT ON COLUMN reflexo.therapists.open_hours IS
  'Their working hours at this location; NULL: whenever the calendar booked is open.';
COMMENT ON COLUMN reflexo.therapists.created_at IS 'When the row was created.';
COMMENT ON COLUMN reflexo.therapists.updated_at IS 'When the row last changed.';

CREATE TABLE reflexo.series (
  id               pg_catalog.int8 GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  location_id      pg_catalog.int8 NOT NULL REFERENCES reflexo.locations ON DELETE RESTRICT,
  calendar_id      pg_catalog.int8 NOT NULL,
  assigned_user_id pg_catalog.text,
  contact_id       pg_catalog.text,
  title            pg_catalog.text NOT NULL DEFAULT '',
  first_start      pg_catalog.timestamptz NOT NULL,
  duration         pg_catalog.interval NOT NULL,
  rrule            pg_catalog.text NOT NULL,
  all_or_nothing   pg_catalog.bool NOT NULL,
  created_at       pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT series_calendar_fkey FOREIGN KEY (calendar_id, location_id)
    REFERENCES reflexo.calendars (id, location_id) ON DELETE RESTRICT
);
COMMENT ON TABLE reflexo.series IS
  'Treatment series: appointments booked together from one recurrence rule (see reflexo.book_series()).';
COMMENT ON COLUMN reflexo.series.id IS 'Local identifier, in each appointment''s series_id.';
COMMENT ON COLUMN reflexo.series.location_id IS 'The location.';
COMMENT ON COLUMN reflexo.series.calendar_id IS 'The calendar booked.';
COMMENT ON COLUMN reflexo.series.assigned_user_id IS 'The therapist (GHL user id), or NULL.';
COMMENT ON COLUMN reflexo.series.contact_id IS 'The patient (GHL contact id).';
COMMENT ON COLUMN reflexo.series.title IS 'Title of each appointment.';
COMMENT ON COLUMN reflexo.series.first_start IS 'Start of the first occurrence asked for (DTSTART).';
COMMENT ON COLUMN reflexo.series.duration IS 'Length of each appointment.';
COMMENT ON COLUMN reflexo.series.rrule IS
  'RFC 5545 recurrence rule (FREQ=DAILY|WEEKLY, INTERVAL, BYDAY, COUNT or UNTIL), on the location''s wall clock.';
COMMENT ON COLUMN reflexo.series.all_or_nothing IS
  'Booked all-or-nothing (true) or book-what-fits (false).';
COMMENT ON COLUMN reflexo.series.created_at IS 'When it was booked.';

ALTER TABLE reflexo.appointments ADD COLUMN series_id pg_catalog.int8 REFERENCES reflexo.series ON DELETE SET NULL;
COMMENT ON COLUMN reflexo.appointments.series_id IS 'The treatment series it was booked in, if any.';
CREATE INDEX appointments_series_idx ON reflexo.appointments (series_id, starts_at) WHERE series_id IS NOT NULL;
COMMENT ON INDEX reflexo.appointments_series_idx IS 'The appointments of each treatment series, in order.';
COMMENT ON SEQUENCE reflexo.series_id_seq IS 'Identity of treatment series.';

ALTER TABLE reflexo.closures
  ADD COLUMN ghl_user_id pg_catalog.text,
  ADD CONSTRAINT closures_therapist_fkey FOREIGN KEY (location_id, ghl_user_id)
    REFERENCES reflexo.therapists (location_id, ghl_user_id) ON DELETE CASCADE,
  ADD CONSTRAINT closures_one_subject CHECK (calendar_id IS NULL OR ghl_user_id IS NULL);
COMMENT ON TABLE reflexo.closures IS
  'Holidays and other closures of a whole location or of one calendar, and therapists'' time off, '
  'in local wall-clock time.';
COMMENT ON COLUMN reflexo.closures.calendar_id IS
  'The one calendar closed; NULL (with ghl_user_id NULL) closes the whole location.';
COMMENT ON COLUMN reflexo.closures.ghl_user_id IS 'The one therapist away (time off), or NULL.';
-- api.closures (new in 0.2.0) lists therapists' time off too
CREATE VIEW api.closures WITH (security_barrier) AS
  SELECT cl.id, cl.location_id, c.ghl_calendar_id, cl.closed_from, cl.closed_until, cl.reason,
         cl.created_at, cl.updated_at, cl.ghl_user_id
    FROM reflexo.closures cl
    LEFT JOIN reflexo.calendars c ON c.id = cl.calendar_id
   WHERE cl.location_id = ANY (COALESCE((SELECT reflexo.api_visible_location_ids()), '{}'));
ALTER VIEW api.closures OWNER TO reflexo_api;
COMMENT ON VIEW api.closures IS
  'GET /closures?location_id=eq.N: holidays and closures of your locations (ghl_calendar_id and ghl_user_id NULL: '
  'the whole location; ghl_user_id: a therapist''s time off), in local wall-clock time.';
GRANT SELECT ON api.closures TO reflexo_staff, reflexo_admin;

-- its RETURNING * was expanded when it was created: again, with the new column
CREATE OR REPLACE FUNCTION reflexo.add_closure(location_id pg_catalog.int8, first_day pg_catalog.date,
                                    reason pg_catalog.text,
                                    last_day pg_catalog.date DEFAULT NULL,
                                    calendar_id pg_catalog.int8 DEFAULT NULL)
  RETURNS reflexo.closures
  LANGUAGE sql VOLATILE
  SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  INSERT INTO reflexo.closures (location_id, calendar_id, closed_from, closed_until, reason)
  VALUES (add_closure.location_id, add_closure.calendar_id,
          add_closure.first_day::timestamp,
          (COALESCE(add_closure.last_day, add_closure.first_day) + 1)::timestamp,
          add_closure.reason)
  RETURNING *;
END;
COMMENT ON FUNCTION reflexo.appointment_guard() IS
  'Enforces the booking rules on appointments: calendar available (23503), duration, notice, horizon, the past for '
  'staff, working hours of calendar and therapist, closures and time off (23514), capacity with buffers, appointments '
  'per day and therapist overlap (23P01, or 40001 when the rival committed after the snapshot). '
  'Race-free at every isolation level.';


CREATE TRIGGER therapists_touch BEFORE UPDATE ON reflexo.therapists
  FOR EACH ROW EXECUTE FUNCTION reflexo.touch_updated_at();
COMMENT ON TRIGGER therapists_touch ON reflexo.therapists IS 'Maintains updated_at.';

CREATE FUNCTION reflexo.ghl_span(amount pg_catalog.jsonb, unit pg_catalog.text, default_unit pg_catalog.text)
  RETURNS pg_catalog.interval
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT CASE WHEN jsonb_typeof(amount) IS DISTINCT FROM 'number' OR (amount #>> '{}')::numeric <= 0
                THEN interval '0'
                ELSE least((amount #>> '{}')::numeric, 100000)
                     * CASE coalesce(unit, default_unit)
                         WHEN 'mins' THEN interval '1 minute' WHEN 'hours' THEN interval '1 hour'
                         WHEN 'days' THEN interval '1 day' WHEN 'weeks' THEN interval '7 days'
                         WHEN 'months' THEN interval '1 month' ELSE interval '0' END END
  $$;
COMMENT ON FUNCTION reflexo.ghl_span(pg_catalog.jsonb, pg_catalog.text, pg_catalog.text) IS
  'A GHL calendar setting as an interval: an amount (a JSON number) in mins, hours, days, weeks or months; '
  '0 when absent, not positive or in an unknown unit.';

CREATE OR REPLACE FUNCTION reflexo.upsert_ghl_calendars(ghl_location_id pg_catalog.text, calendars pg_catalog.jsonb,
                                             complete pg_catalog.bool DEFAULT true)
  RETURNS TABLE (calendar_id pg_catalog.int8, ghl_calendar_id pg_catalog.text, action pg_catalog.text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    loc reflexo.locations;
    list jsonb := CASE WHEN jsonb_typeof(calendars) = 'object' THEN calendars -> 'calendars' ELSE calendars END;
    item jsonb;
    seen text[] := '{}';
    before reflexo.calendars;
    after reflexo.calendars;
  BEGIN
    SELECT * INTO loc FROM reflexo.locations l WHERE l.ghl_location_id = upsert_ghl_calendars.ghl_location_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'unknown GHL location %', upsert_ghl_calendars.ghl_location_id
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Add the location to reflexo.locations (or api.location_settings) first.';
    END IF;
    IF list IS NULL OR jsonb_typeof(list) <> 'array' THEN
      RAISE EXCEPTION 'GHL calendars must be a JSON array'
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Pass GET /calendars/''s response, {"calendars": [...]}, or its array.';
    END IF;

    FOR item IN SELECT value FROM jsonb_array_elements(list) LOOP
      IF nullif(item ->> 'id', '') IS NULL OR nullif(item ->> 'name', '') IS NULL THEN
        RAISE EXCEPTION 'GHL calendar has no "%"', CASE WHEN nullif(item ->> 'id', '') IS NULL THEN 'id' ELSE 'name' END
          USING ERRCODE = 'invalid_parameter_value', DETAIL = left(item::text, 200);
      END IF;
      seen := seen || (item ->> 'id');
      SELECT * INTO before FROM reflexo.calendars c WHERE c.ghl_calendar_id = item ->> 'id';
      IF FOUND AND before.location_id <> loc.id THEN
        RAISE EXCEPTION 'GHL calendar % belongs to another location', item ->> 'id'
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      INSERT INTO reflexo.calendars AS c (location_id, ghl_calendar_id, name, description, is_active, capacity,
                                          open_hours, slot_duration, buffer_before, buffer_after, min_notice,
                                          booking_horizon, max_per_day)
      VALUES (loc.id, item ->> 'id', item ->> 'name', coalesce(item ->> 'description', ''),
              coalesce((item ->> 'isActive')::bool, true),
              greatest(1, least(1000, coalesce((item ->> 'appoinmentPerSlot')::numeric::int, 1))),
              CASE WHEN jsonb_typeof(item -> 'openHours') = 'array' AND jsonb_array_length(item -> 'openHours') > 0
                   THEN (item -> 'openHours')::reflexo.open_hours END,
              make_interval(mins => greatest(1, least(1440,
                coalesce((item ->> 'slotDuration')::numeric, 30)
                * CASE item ->> 'slotDurationUnit' WHEN 'hours' THEN 60 ELSE 1 END))::int),
              least(reflexo.ghl_span(item -> 'preBuffer', item ->> 'preBufferUnit', 'mins'), '1 day'),
              least(reflexo.ghl_span(item -> 'slotBuffer', item ->> 'slotBufferUnit', 'mins'), '1 day'),
              least(reflexo.ghl_span(item -> 'allowBookingAfter', item ->> 'allowBookingAfterUnit', 'hours'),
                    '1 year'),
              nullif(least(reflexo.ghl_span(item -> 'allowBookingFor', item ->> 'allowBookingForUnit', 'days'),
                           '10 years'), '0'),
              CASE WHEN jsonb_typeof(item -> 'appoinmentPerDay') = 'number'
                    AND (item ->> 'appoinmentPerDay')::numeric >= 1
                   THEN least((item ->> 'appoinmentPerDay')::numeric, 10000)::int END)
      ON CONFLICT ON CONSTRAINT calendars_ghl_calendar_id_key DO UPDATE
        SET name = EXCLUDED.name, description = EXCLUDED.description, is_active = EXCLUDED.is_active,
            capacity = EXCLUDED.capacity, open_hours = EXCLUDED.open_hours, slot_duration = EXCLUDED.slot_duration,
            buffer_before = EXCLUDED.buffer_before, buffer_after = EXCLUDED.buffer_after,
            min_notice = EXCLUDED.min_notice, booking_horizon = EXCLUDED.booking_horizon,
            max_per_day = EXCLUDED.max_per_day
      RETURNING * INTO after;
      -- the calendar's team members are the location's therapists
      INSERT INTO reflexo.therapists (location_id, ghl_user_id)
        SELECT DISTINCT loc.id, m ->> 'userId'
          FROM jsonb_array_elements(CASE WHEN jsonb_typeof(item -> 'teamMembers') = 'array'
                                         THEN item -> 'teamMembers' ELSE '[]' END) m
         WHERE nullif(m ->> 'userId', '') IS NOT NULL
        ON CONFLICT DO NOTHING;
      calendar_id := after.id;
      ghl_calendar_id := after.ghl_calendar_id;
      action := CASE WHEN before.id IS NULL THEN 'created'
                     WHEN (before.name, before.description, before.is_active, before.capacity, before.slot_duration,
                           before.buffer_before, before.buffer_after, before.min_notice, before.booking_horizon,
                           before.max_per_day)
                          IS DISTINCT FROM (after.name, after.description, after.is_active, after.capacity,
                                            after.slot_duration, after.buffer_before, after.buffer_after,
                                            after.min_notice, after.booking_horizon, after.max_per_day)
                          OR before.open_hours::text IS DISTINCT FROM after.open_hours::text
                     THEN 'updated' ELSE 'unchanged' END;
      before := NULL;
      RETURN NEXT;
    END LOOP;

    IF complete THEN
      RETURN QUERY
        UPDATE reflexo.calendars c SET is_active = false
         WHERE c.location_id = loc.id AND c.ghl_calendar_id IS NOT NULL AND c.is_active
           AND NOT (c.ghl_calendar_id = ANY (seen))
        RETURNING c.id, c.ghl_calendar_id, 'deactivated'::text;
    END IF;

    PERFORM reflexo.retry_ignored_webhooks(loc.ghl_location_id);
  END
  $$;
COMMENT ON FUNCTION reflexo.upsert_ghl_calendars(pg_catalog.text, pg_catalog.jsonb, pg_catalog.bool) IS
  'Creates or updates a location''s calendars from GHL''s calendar list (openHours -> open_hours, '
  'appoinmentPerSlot -> capacity, slotDuration -> slot_duration, preBuffer/slotBuffer -> buffer_before/after, '
  'allowBookingAfter -> min_notice, allowBookingFor -> booking_horizon, appoinmentPerDay -> max_per_day) and '
  'lists their team members as the location''s therapists. With complete, calendars missing from the list '
  'are deactivated, never deleted. Then applies webhooks that were waiting for these calendars.';

-- free slots gain a therapist
DROP FUNCTION api.free_slots(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.int4);
DROP FUNCTION reflexo.free_slots(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval);
DROP FUNCTION reflexo.free_slots_between(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.timestamptz,
                                         pg_catalog.interval, pg_catalog.interval);
CREATE FUNCTION reflexo.free_slots_between(calendar_id pg_catalog.int8, from_time pg_catalog.timestamptz,
                                           to_time pg_catalog.timestamptz, duration pg_catalog.interval,
                                           step pg_catalog.interval, therapist pg_catalog.text DEFAULT NULL)
  RETURNS TABLE (starts_at pg_catalog.timestamptz, ends_at pg_catalog.timestamptz)
  LANGUAGE c STABLE
  AS 'MODULE_PATHNAME', 'reflexo_free_slots_between';
COMMENT ON FUNCTION reflexo.free_slots_between(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.timestamptz,
                                               pg_catalog.interval, pg_catalog.interval, pg_catalog.text) IS
  'Bookable slots of duration, starting at working-hours openings and every step after, on the location''s wall '
  'clock; with therapist (a GHL user id), only those the therapist can also take.';

CREATE FUNCTION reflexo.free_slots(calendar_id pg_catalog.int8, from_time pg_catalog.timestamptz,
                                   to_time pg_catalog.timestamptz, duration pg_catalog.interval DEFAULT NULL,
                                   therapist pg_catalog.text DEFAULT NULL)
  RETURNS TABLE (starts_at pg_catalog.timestamptz, ends_at pg_catalog.timestamptz)
  LANGUAGE sql STABLE
  AS $$
    SELECT s.starts_at, s.ends_at
      FROM reflexo.calendars c,
           reflexo.free_slots_between(c.id, from_time, to_time, COALESCE(duration, c.slot_duration), c.slot_duration,
                                      therapist) s
     WHERE c.id = calendar_id
  $$;
COMMENT ON FUNCTION reflexo.free_slots(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval,
                                       pg_catalog.text) IS
  'Bookable slots of a calendar between two instants (duration: the calendar''s slot length unless given), '
  'for one therapist if given.';

CREATE FUNCTION api.free_slots(calendar_id pg_catalog.text, desde pg_catalog.timestamptz, hasta pg_catalog.timestamptz,
                               duration_minutes pg_catalog.int4 DEFAULT NULL,
                               assigned_user_id pg_catalog.text DEFAULT NULL)
  RETURNS TABLE (start_time pg_catalog.timestamptz, end_time pg_catalog.timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    cal reflexo.calendars;
  BEGIN
    SELECT * INTO cal FROM reflexo.calendars c
     WHERE c.ghl_calendar_id = free_slots.calendar_id OR c.id::pg_catalog.text = free_slots.calendar_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'calendar % not found', calendar_id USING ERRCODE = 'PT404',
        HINT = 'GET /calendars lists the calendars you can book.';
    END IF;
    RETURN QUERY
      SELECT s.starts_at, s.ends_at
        FROM reflexo.free_slots_between(cal.id, GREATEST(desde, pg_catalog.now()), hasta,
               COALESCE(pg_catalog.make_interval(mins => duration_minutes), cal.slot_duration), cal.slot_duration,
               assigned_user_id) s;
  END
  $$;
ALTER FUNCTION api.free_slots(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.int4,
                              pg_catalog.text)
  OWNER TO reflexo_api;
COMMENT ON FUNCTION api.free_slots(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.int4,
                                   pg_catalog.text) IS
  'GET /rpc/free_slots?calendar_id=X&desde=…&hasta=…[&duration_minutes=N][&assigned_user_id=U]: bookable slots '
  'from now on, for one therapist if given.';

REVOKE ALL ON FUNCTION api.free_slots(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.int4,
                                      pg_catalog.text) FROM PUBLIC;
REVOKE ALL ON FUNCTION reflexo.free_slots_between(pg_catalog.int8, pg_catalog.timestamptz,
    pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.interval, pg_catalog.text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    api.free_slots(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.int4, pg_catalog.text)
  TO reflexo_staff, reflexo_admin;
GRANT EXECUTE ON FUNCTION reflexo.free_slots_between(pg_catalog.int8, pg_catalog.timestamptz,
    pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.interval, pg_catalog.text) TO reflexo_api;

-- the settings readable, and each cita's series (the views gain columns at their end)
CREATE OR REPLACE VIEW api.calendars AS
  SELECT c.id, c.ghl_calendar_id, c.name, c.description, l.timezone, c.is_active,
         c.location_id, l.ghl_location_id, c.capacity, c.slot_duration,
         COALESCE(c.open_hours, l.open_hours)::pg_catalog.text AS open_hours,
         c.id IS NOT DISTINCT FROM l.default_calendar_id AS is_default,
         c.buffer_before, c.buffer_after, c.min_notice, c.booking_horizon, c.max_per_day
    FROM reflexo.calendars c
    JOIN reflexo.locations l ON l.id = c.location_id;
ALTER VIEW api.calendars OWNER TO reflexo_api;
COMMENT ON VIEW api.calendars IS
  'Calendars synced from GHL (GET /calendars?ghl_location_id=eq.X); open_hours are the effective working hours; '
  'buffers, minimum notice, booking horizon and appointments per day are GHL''s booking settings.';

CREATE OR REPLACE VIEW api.citas AS
  SELECT a.id, a.title, a.contact_id, c.ghl_calendar_id,
         a.starts_at AS start_time, a.ends_at AS end_time,
         a.notes, a.assigned_user_id, a.status,
         (a.starts_at AT TIME ZONE l.timezone)::pg_catalog.date AS fecha,
         a.location_id, l.ghl_location_id, a.calendar_id,
         a.ghl_appointment_id, a.sync_state, a.origin, a.validation_flags,
         a.created_at, a.updated_at, a.sync_error, a.synced_at, a.series_id
    FROM reflexo.appointments a
    -- every cita has both (foreign keys; the same locations' rows are visible): left joins
    -- give the same rows and let a query that reads neither skip them, e.g. a count
    LEFT JOIN reflexo.calendars c ON c.id = a.calendar_id
    LEFT JOIN reflexo.locations l ON l.id = a.location_id;
ALTER VIEW api.citas OWNER TO reflexo_api;

-- ================================================================ treatment series
-- "10 sessions, Monday, Wednesday and Friday at 10:00": one call books every
-- occurrence of an RFC 5545 recurrence rule as ordinary appointments (the
-- guard checks each; each is pushed to GHL as its own event), tagged with a
-- series id.  All-or-nothing refuses the whole series when one occurrence
-- cannot be booked; book-what-fits keeps the others.  Either way the answer
-- names each occurrence refused, why, and the nearest free alternatives.

CREATE FUNCTION reflexo.series_occurrences(first_start pg_catalog.timestamptz, rrule pg_catalog.text,
                                           time_zone pg_catalog.text)
  RETURNS SETOF pg_catalog.timestamptz
  LANGUAGE plpgsql STABLE STRICT
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    max_occurrences CONSTANT int := 200;
    max_span CONSTANT interval := '2 years';
    local_start timestamp := first_start AT TIME ZONE time_zone;
    first_day date := local_start::date;
    at_time time := local_start::time;
    freq text;
    step int := 1;
    how_many int;
    until_local timestamp;
    days int[];
    part text;
    key text;
    value text;
    day date;
    found_count int := 0;
    week int := 0;
    d int;
    bad text;
  BEGIN
    FOREACH part IN ARRAY string_to_array(regexp_replace(upper(btrim(rrule)), '^RRULE:', ''), ';') LOOP
      CONTINUE WHEN part = '';
      key := split_part(part, '=', 1);
      value := substr(part, length(key) + 2);
      IF position('=' IN part) = 0 OR value = '' THEN
        bad := format(reflexo.translate('"%s" is not KEY=VALUE'), part);
      ELSIF key = 'FREQ' THEN
        freq := value;
        IF freq NOT IN ('DAILY', 'WEEKLY') THEN bad := format(reflexo.translate('FREQ=%s is not supported'), value); END IF;
      ELSIF key = 'INTERVAL' THEN
        IF value !~ '^[0-9]{1,3}$' OR value::int NOT BETWEEN 1 AND 365 THEN
          bad := reflexo.translate('INTERVAL must be a whole number from 1 to 365');
        ELSE step := value::int; END IF;
      ELSIF key = 'COUNT' THEN
        IF value !~ '^[0-9]{1,4}$' OR value::int NOT BETWEEN 1 AND max_occurrences THEN
          bad := format(reflexo.translate('COUNT must be a whole number from 1 to %s'), max_occurrences);
        ELSE how_many := value::int; END IF;
      ELSIF key = 'UNTIL' THEN
        IF value ~ '^[0-9]{8}$' THEN
          until_local := to_date(value, 'YYYYMMDD') + time '23:59:59.999999';
        ELSIF value ~ '^[0-9]{8}T[0-9]{6}$' THEN
          until_local := to_timestamp(value, 'YYYYMMDD"T"HH24MISS')::timestamp;
        ELSIF value ~ '^[0-9]{8}T[0-9]{6}Z$' THEN
          until_local := to_timestamp(value, 'YYYYMMDD"T"HH24MISS"Z"')::timestamp AT TIME ZONE 'UTC' AT TIME ZONE time_zone;
        ELSE
          bad := reflexo.translate('UNTIL must be a date (20261231) or a date-time (20261231T235959Z)');
        END IF;
      ELSIF key = 'BYDAY' THEN
        days := '{}';
        FOREACH value IN ARRAY string_to_array(value, ',') LOOP
          d := array_position('{MO,TU,WE,TH,FR,SA,SU}'::text[], value);
          IF d IS NULL THEN
            bad := format(reflexo.translate('BYDAY takes MO, TU, WE, TH, FR, SA, SU, not "%s"'), value);
          ELSIF NOT d = ANY (days) THEN
            days := days || d;
          END IF;
        END LOOP;
      ELSIF key = 'WKST' THEN
        IF value <> 'MO' THEN bad := reflexo.translate('only WKST=MO is supported'); END IF;
      ELSE
        bad := format(reflexo.translate('%s is not supported'), key);
      END IF;
      EXIT WHEN bad IS NOT NULL;
    END LOOP;
    IF bad IS NULL AND freq IS NULL THEN bad := reflexo.translate('FREQ is missing'); END IF;
    IF bad IS NULL AND (how_many IS NULL) = (until_local IS NULL) THEN bad := reflexo.translate('give either COUNT or UNTIL'); END IF;
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = format(reflexo.translate('invalid recurrence rule: %s'), bad),
        DETAIL = format(reflexo.translate('The rule was "%s".'), left(rrule, 200)),
        HINT = reflexo.translate('Supported: FREQ=DAILY or WEEKLY, INTERVAL, BYDAY, and COUNT or UNTIL, e.g. '
                                 'FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10.');
    END IF;
    SELECT array_agg(x ORDER BY x) INTO days FROM unnest(days) x;

    -- walk the local calendar: day by day (DAILY) or week by week from the Monday of the first one
    LOOP
      FOR d IN SELECT x FROM unnest(CASE WHEN freq = 'DAILY' THEN ARRAY[1] ELSE coalesce(days, ARRAY[extract(isodow FROM first_day)::int]) END) x LOOP
        day := CASE WHEN freq = 'DAILY' THEN first_day + week * step
                    ELSE first_day - (extract(isodow FROM first_day)::int - 1) + week * step * 7 + (d - 1) END;
        CONTINUE WHEN day < first_day;
        CONTINUE WHEN freq = 'DAILY' AND days IS NOT NULL AND NOT extract(isodow FROM day)::int = ANY (days);
        IF (until_local IS NOT NULL AND day + at_time > until_local) OR day + at_time > local_start + max_span THEN
          RETURN;
        END IF;
        found_count := found_count + 1;
        IF found_count > max_occurrences THEN
          RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format(reflexo.translate('invalid recurrence rule: %s'),
                             format(reflexo.translate('more than %s occurrences'), max_occurrences)),
            HINT = reflexo.translate('Book a shorter series, e.g. with COUNT.');
        END IF;
        RETURN NEXT (day + at_time) AT TIME ZONE time_zone;
        IF found_count = how_many THEN RETURN; END IF;
      END LOOP;
      week := week + 1;
    END LOOP;
  END
  $$;
COMMENT ON FUNCTION reflexo.series_occurrences(pg_catalog.timestamptz, pg_catalog.text, pg_catalog.text) IS
  'The starts of a recurrence rule (RFC 5545 subset: FREQ=DAILY|WEEKLY, INTERVAL, BYDAY, COUNT or UNTIL, WKST=MO) '
  'from first_start, on the wall clock of time_zone: 10:00 stays 10:00 across DST. At most 200, within 2 years.';

CREATE FUNCTION reflexo.nearest_free_slots(calendar_id pg_catalog.int8, wanted pg_catalog.timestamptz,
                                           duration pg_catalog.interval, therapist pg_catalog.text DEFAULT NULL,
                                           how_many pg_catalog.int4 DEFAULT 3)
  RETURNS TABLE (starts_at pg_catalog.timestamptz, ends_at pg_catalog.timestamptz)
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT s.starts_at, s.ends_at
      FROM reflexo.calendars c,
           reflexo.free_slots_between(c.id, greatest(wanted - interval '3 days', now()),
                                      greatest(wanted - interval '3 days', now()) + interval '7 days',
                                      duration, c.slot_duration, therapist) s
     WHERE c.id = calendar_id
     ORDER BY abs(extract(epoch FROM s.starts_at - wanted)), s.starts_at
     LIMIT how_many
  $$;
COMMENT ON FUNCTION reflexo.nearest_free_slots(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.interval,
                                               pg_catalog.text, pg_catalog.int4) IS
  'The free slots closest to a wanted start, within three days either side: alternatives to offer.';

CREATE FUNCTION reflexo.try_series(calendar_id pg_catalog.int8, first_start pg_catalog.timestamptz,
                                   rrule pg_catalog.text, duration pg_catalog.interval DEFAULT NULL,
                                   assigned_user_id pg_catalog.text DEFAULT NULL,
                                   contact_id pg_catalog.text DEFAULT NULL, title pg_catalog.text DEFAULT '',
                                   notes pg_catalog.text DEFAULT NULL,
                                   all_or_nothing pg_catalog.bool DEFAULT true)
  RETURNS pg_catalog.jsonb
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    cal reflexo.calendars;
    zone text;
    added reflexo.series;
    starts timestamptz;
    length interval;
    booked int8[] := '{}';
    refused jsonb := '[]';
    occurrences int := 0;
    appointment_id int8;
    message text;
    state text;
    rule text;
  BEGIN
    SELECT * INTO cal FROM reflexo.calendars c WHERE c.id = try_series.calendar_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
        MESSAGE = format(reflexo.translate('calendar %s does not exist or is not available'), calendar_id),
        HINT = reflexo.translate('Book an active calendar of the appointment''s location; reflexo.calendars lists them.');
    END IF;
    SELECT l.timezone INTO zone FROM reflexo.locations l WHERE l.id = cal.location_id;
    length := coalesce(duration, cal.slot_duration);

    BEGIN   -- undone whole when all-or-nothing refuses
      INSERT INTO reflexo.series (location_id, calendar_id, assigned_user_id, contact_id, title, first_start,
                                  duration, rrule, all_or_nothing)
      VALUES (cal.location_id, cal.id, try_series.assigned_user_id, try_series.contact_id,
              coalesce(try_series.title, ''), try_series.first_start, length, try_series.rrule,
              try_series.all_or_nothing)
      RETURNING * INTO added;
      FOR starts IN SELECT * FROM reflexo.series_occurrences(first_start, rrule, zone) LOOP
        occurrences := occurrences + 1;
        BEGIN
          INSERT INTO reflexo.appointments (location_id, calendar_id, contact_id, assigned_user_id, title, notes,
                                            starts_at, ends_at, series_id)
          VALUES (cal.location_id, cal.id, try_series.contact_id, try_series.assigned_user_id,
                  coalesce(try_series.title, ''), try_series.notes, starts, starts + length, added.id)
          RETURNING id INTO appointment_id;
          booked := booked || appointment_id;
        EXCEPTION WHEN check_violation OR exclusion_violation OR foreign_key_violation
                    OR serialization_failure OR insufficient_privilege THEN
          GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, state = RETURNED_SQLSTATE, rule = CONSTRAINT_NAME;
          IF state = '40001' THEN
            RAISE;   -- a rival committed after our snapshot: the whole transaction retries
          END IF;
          refused := refused || jsonb_build_object(
            'starts_at', starts, 'ends_at', starts + length, 'error', message, 'sqlstate', state,
            'constraint', rule,
            'alternatives', (SELECT coalesce(jsonb_agg(jsonb_build_object('starts_at', f.starts_at,
                                                                            'ends_at', f.ends_at)), '[]')
                               FROM reflexo.nearest_free_slots(cal.id, starts, length, try_series.assigned_user_id) f));
        END;
      END LOOP;
      IF occurrences = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
          MESSAGE = format(reflexo.translate('invalid recurrence rule: %s'), reflexo.translate('it yields no session')),
          HINT = reflexo.translate('Check the first start, BYDAY and UNTIL.');
      END IF;
      IF refused <> '[]' AND (all_or_nothing OR cardinality(booked) = 0) THEN
        RAISE EXCEPTION USING ERRCODE = 'RXS01';   -- caught below: undoes the series
      END IF;
    EXCEPTION WHEN SQLSTATE 'RXS01' THEN
      RETURN jsonb_build_object('series_id', NULL, 'booked', false, 'occurrences', occurrences,
                                'appointment_ids', '[]'::jsonb, 'refused', refused);
    END;
    RETURN jsonb_build_object('series_id', added.id, 'booked', true, 'occurrences', occurrences,
                              'appointment_ids', to_jsonb(booked), 'refused', refused);
  END
  $$;
COMMENT ON FUNCTION reflexo.try_series(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.interval,
                                       pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text,
                                       pg_catalog.bool) IS
  'Books a treatment series and says how it went, without raising for occurrences the rules refuse: '
  '{series_id, booked, occurrences, appointment_ids, refused: [{starts_at, ends_at, error, sqlstate, constraint, '
  'alternatives}]}. All-or-nothing (or nothing bookable) writes nothing and answers booked = false.';

CREATE FUNCTION reflexo.book_series(calendar_id pg_catalog.int8, first_start pg_catalog.timestamptz,
                                    rrule pg_catalog.text, duration pg_catalog.interval DEFAULT NULL,
                                    assigned_user_id pg_catalog.text DEFAULT NULL,
                                    contact_id pg_catalog.text DEFAULT NULL, title pg_catalog.text DEFAULT '',
                                    notes pg_catalog.text DEFAULT NULL,
                                    all_or_nothing pg_catalog.bool DEFAULT true)
  RETURNS pg_catalog.jsonb
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    outcome jsonb := reflexo.try_series(calendar_id, first_start, rrule, duration, assigned_user_id, contact_id,
                                        title, notes, all_or_nothing);
    zone text;
  BEGIN
    IF (outcome ->> 'booked')::bool THEN
      RETURN outcome;
    END IF;
    SELECT l.timezone INTO zone FROM reflexo.calendars c JOIN reflexo.locations l ON l.id = c.location_id
     WHERE c.id = book_series.calendar_id;
    RAISE EXCEPTION USING ERRCODE = 'exclusion_violation',
      MESSAGE = format(reflexo.translate('%s of the %s sessions of the series cannot be booked'),
                       jsonb_array_length(outcome -> 'refused'), outcome ->> 'occurrences'),
      DETAIL = (SELECT string_agg(format('%s: %s%s', to_char((r ->> 'starts_at')::timestamptz AT TIME ZONE zone,
                                                             'YYYY-MM-DD HH24:MI'),
                                         r ->> 'error',
                                         CASE WHEN jsonb_array_length(r -> 'alternatives') > 0
                                              THEN format(reflexo.translate(' (free: %s)'),
                                                          (SELECT string_agg(to_char((a ->> 'starts_at')::timestamptz
                                                                                     AT TIME ZONE zone,
                                                                                     'YYYY-MM-DD HH24:MI'), ', ')
                                                             FROM jsonb_array_elements(r -> 'alternatives') a))
                                              ELSE '' END), E'\n')
                  FROM jsonb_array_elements(outcome -> 'refused') r),
      HINT = reflexo.translate('Move those sessions, or book what fits (all_or_nothing = false).');
  END
  $$;
COMMENT ON FUNCTION reflexo.book_series(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.interval,
                                        pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text,
                                        pg_catalog.bool) IS
  'Books a treatment series: every start of the rule (reflexo.series_occurrences) on the calendar, lasting duration '
  '(the calendar''s slot length unless given). All-or-nothing raises 23P01 naming each session refused and the free '
  'times nearest to it; book-what-fits books the others and lists the refused in its answer (see reflexo.try_series).';

CREATE FUNCTION reflexo.cancel_series(series_id pg_catalog.int8, from_start pg_catalog.timestamptz DEFAULT NULL)
  RETURNS pg_catalog.int4
  LANGUAGE sql VOLATILE
  SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  WITH cancelled AS (
    UPDATE reflexo.appointments a SET status = 'cancelled'
     WHERE a.series_id = cancel_series.series_id
       AND a.starts_at >= COALESCE(cancel_series.from_start, '-infinity'::pg_catalog.timestamptz)
       AND a.status OPERATOR(pg_catalog.<>) ALL ('{cancelled,invalid}'::reflexo.appointment_status[])
    RETURNING 1)
  SELECT pg_catalog.count(*)::pg_catalog.int4 FROM cancelled;
END;
COMMENT ON FUNCTION reflexo.cancel_series(pg_catalog.int8, pg_catalog.timestamptz) IS
  'Cancels the active sessions of a series starting at or after from_start ("this and all following"), or all; '
  'returns how many.';

CREATE FUNCTION reflexo.move_series(series_id pg_catalog.int8, from_start pg_catalog.timestamptz,
                                    new_start pg_catalog.timestamptz)
  RETURNS pg_catalog.int4
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    zone text;
    shift interval;
    session reflexo.appointments;
    moved int := 0;
  BEGIN
    SELECT l.timezone INTO zone FROM reflexo.series s JOIN reflexo.locations l ON l.id = s.location_id
     WHERE s.id = move_series.series_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'no_data_found',
        MESSAGE = format(reflexo.translate('series %s not found'), series_id);
    END IF;
    -- the same wall-clock shift for each session: 10:00 stays 10:00 across DST
    shift := (new_start AT TIME ZONE zone) - (from_start AT TIME ZONE zone);
    -- later sessions first when moving later (and earlier first when earlier), so that no session
    -- collides with a sibling that has not moved yet
    FOR session IN
      SELECT * FROM reflexo.appointments a
       WHERE a.series_id = move_series.series_id AND a.starts_at >= from_start
         AND a.status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])
       ORDER BY CASE WHEN shift > interval '0' THEN -extract(epoch FROM a.starts_at)
                     ELSE extract(epoch FROM a.starts_at) END
    LOOP
      UPDATE reflexo.appointments a
         SET starts_at = ((session.starts_at AT TIME ZONE zone) + shift) AT TIME ZONE zone,
             ends_at = ((session.starts_at AT TIME ZONE zone) + shift) AT TIME ZONE zone
                       + (session.ends_at - session.starts_at)
       WHERE a.id = session.id;
      moved := moved + 1;
    END LOOP;
    RETURN moved;
  END
  $$;
COMMENT ON FUNCTION reflexo.move_series(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.timestamptz) IS
  'Moves the session of a series starting at from_start to new_start, and every later active session by the same '
  'wall-clock shift ("this and all following"); every move is checked, and one refusal undoes them all.';

-- ---------------------------------------------------------------- therapists, series and slots in the API

ALTER TABLE reflexo.therapists ENABLE ROW LEVEL SECURITY;
ALTER TABLE reflexo.series ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_by_location ON reflexo.therapists TO reflexo_api
  USING (location_id = ANY (COALESCE((SELECT reflexo.api_visible_location_ids()), '{}')))
  WITH CHECK ((SELECT reflexo.api_is_admin()));
CREATE POLICY api_by_location ON reflexo.series TO reflexo_api
  USING (location_id = ANY (COALESCE((SELECT reflexo.api_visible_location_ids()), '{}')))
  WITH CHECK (location_id = ANY (COALESCE((SELECT reflexo.api_visible_location_ids()), '{}')));
COMMENT ON POLICY api_by_location ON reflexo.therapists IS
  'API requests see the therapists of their locations; only admins change them.';
COMMENT ON POLICY api_by_location ON reflexo.series IS 'API requests see and book series of their locations only.';
GRANT SELECT, INSERT, UPDATE ON reflexo.therapists TO reflexo_api;
GRANT SELECT, INSERT ON reflexo.series TO reflexo_api;

CREATE VIEW api.therapists AS
  SELECT t.location_id, l.ghl_location_id, t.ghl_user_id, t.name, t.open_hours::pg_catalog.text AS open_hours,
         t.created_at, t.updated_at
    FROM reflexo.therapists t
    JOIN reflexo.locations l ON l.id = t.location_id;
ALTER VIEW api.therapists OWNER TO reflexo_api;
COMMENT ON VIEW api.therapists IS
  'Therapists of your locations (GET /therapists?location_id=eq.N), with their own working hours (NULL: the calendar''s).';

CREATE FUNCTION api.set_therapist(location_id pg_catalog.int8, ghl_user_id pg_catalog.text,
                                  name pg_catalog.text DEFAULT NULL, open_hours pg_catalog.text DEFAULT NULL)
  RETURNS api.therapists
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    loc api.location_settings;
    result api.therapists;
  BEGIN
    PERFORM reflexo.api_require_admin('manage therapists');
    loc := reflexo.api_visible_location(location_id);
    INSERT INTO reflexo.therapists AS t (location_id, ghl_user_id, name, open_hours)
    VALUES (loc.id, ghl_user_id, COALESCE(name, ''), open_hours::reflexo.open_hours)
    ON CONFLICT ON CONSTRAINT therapists_pkey DO UPDATE
      SET name = COALESCE(set_therapist.name, t.name), open_hours = EXCLUDED.open_hours;
    SELECT * INTO result FROM api.therapists t
     WHERE t.location_id = loc.id AND t.ghl_user_id = set_therapist.ghl_user_id;
    RETURN result;
  END
  $$;
ALTER FUNCTION api.set_therapist(pg_catalog.int8, pg_catalog.text, pg_catalog.text, pg_catalog.text) OWNER TO reflexo_api;
COMMENT ON FUNCTION api.set_therapist(pg_catalog.int8, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
  'POST /rpc/set_therapist {location_id, ghl_user_id, name, open_hours}: adds a therapist or sets their name and '
  'working hours (open_hours NULL: the calendar''s). Admins.';

CREATE FUNCTION api.add_time_off(location_id pg_catalog.int8, ghl_user_id pg_catalog.text,
                                 closed_from pg_catalog.timestamptz, closed_until pg_catalog.timestamptz,
                                 reason pg_catalog.text)
  RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    loc api.location_settings;
    added reflexo.closures;
  BEGIN
    PERFORM reflexo.api_require_admin('manage therapists');
    loc := reflexo.api_visible_location(location_id);
    IF NOT EXISTS (SELECT FROM api.therapists t WHERE t.location_id = loc.id AND t.ghl_user_id = add_time_off.ghl_user_id)
    THEN
      RAISE EXCEPTION USING ERRCODE = '23503', CONSTRAINT = 'closures_therapist_fkey',
        MESSAGE = format(reflexo.translate('therapist %s does not work at location %s'), ghl_user_id, loc.id),
        HINT = reflexo.translate('GET /api/locations/settings/{id}/therapists/ lists them.');
    END IF;
    IF closed_until <= closed_from THEN
      RAISE EXCEPTION USING ERRCODE = '22023', CONSTRAINT = 'closures_period_order',
        MESSAGE = reflexo.translate('closed_until must come after closed_from');
    END IF;
    INSERT INTO reflexo.closures (location_id, ghl_user_id, closed_from, closed_until, reason)
    VALUES (loc.id, ghl_user_id, closed_from AT TIME ZONE loc.timezone, closed_until AT TIME ZONE loc.timezone, reason)
    RETURNING * INTO added;
    -- the therapist's bookings already in it stay; the answer counts them
    RETURN (SELECT pg_catalog.to_jsonb(cl) || pg_catalog.jsonb_build_object('citas_inside',
                     (SELECT pg_catalog.count(*) FROM reflexo.appointments a
                       WHERE a.location_id = added.location_id AND a.assigned_user_id = added.ghl_user_id
                         AND a.status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])
                         AND a.starts_at < add_time_off.closed_until AND a.ends_at > add_time_off.closed_from))
              FROM api.closures cl WHERE cl.id = added.id)::pg_catalog.json;
  END
  $$;
ALTER FUNCTION api.add_time_off(pg_catalog.int8, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz,
                                pg_catalog.text) OWNER TO reflexo_api;
COMMENT ON FUNCTION api.add_time_off(pg_catalog.int8, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz,
                                     pg_catalog.text) IS
  'POST /rpc/add_time_off {location_id, ghl_user_id, closed_from, closed_until, reason}: a therapist''s time off '
  '(a closure of that therapist; DELETE it with api.remove_closure); answers it and how many of their active citas '
  'fall in it. Admins.';

CREATE VIEW api.series AS
  SELECT s.id, s.location_id, l.ghl_location_id, c.ghl_calendar_id, s.assigned_user_id, s.contact_id, s.title,
         s.first_start, s.duration, s.rrule, s.all_or_nothing, s.created_at, l.timezone
    FROM reflexo.series s
    JOIN reflexo.calendars c ON c.id = s.calendar_id
    JOIN reflexo.locations l ON l.id = s.location_id;
ALTER VIEW api.series OWNER TO reflexo_api;
COMMENT ON VIEW api.series IS 'Treatment series of your locations; their citas carry series_id.';

CREATE FUNCTION reflexo.api_visible_series(series_id pg_catalog.int8) RETURNS api.series
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    visible api.series;
  BEGIN
    SELECT * INTO visible FROM api.series s WHERE s.id = series_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'series % not found', series_id USING ERRCODE = 'PT404';
    END IF;
    RETURN visible;
  END
  $$;
COMMENT ON FUNCTION reflexo.api_visible_series(pg_catalog.int8) IS 'A series the caller may see, or a not-found error.';

CREATE FUNCTION api.book_series(calendar_id pg_catalog.text, start_time pg_catalog.timestamptz, rrule pg_catalog.text,
                                duration_minutes pg_catalog.int4 DEFAULT NULL,
                                assigned_user_id pg_catalog.text DEFAULT NULL,
                                contact_id pg_catalog.text DEFAULT NULL, title pg_catalog.text DEFAULT '',
                                notes pg_catalog.text DEFAULT NULL, all_or_nothing pg_catalog.bool DEFAULT true)
  RETURNS pg_catalog.jsonb
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    cal api.calendars;
    outcome pg_catalog.jsonb;
  BEGIN
    SELECT * INTO cal FROM api.calendars c
     WHERE c.ghl_calendar_id = book_series.calendar_id OR c.id::pg_catalog.text = book_series.calendar_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = '23503',
        MESSAGE = format(reflexo.translate('calendar %s does not exist or is not available'), calendar_id),
        HINT = reflexo.translate('GET /api/ghl/calendars/ lists the calendars you can book.');
    END IF;
    outcome := reflexo.try_series(cal.id, start_time, rrule,
                                  pg_catalog.make_interval(mins => duration_minutes), assigned_user_id,
                                  contact_id, title, notes, all_or_nothing);
    PERFORM pg_catalog.set_config('response.status', CASE WHEN (outcome ->> 'booked')::bool THEN '201' ELSE '409' END,
                                  true);
    RETURN outcome;
  END
  $$;
ALTER FUNCTION api.book_series(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.int4,
                               pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.bool)
  OWNER TO reflexo_api;
COMMENT ON FUNCTION api.book_series(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.int4,
                                    pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.bool) IS
  'POST /rpc/book_series: books a treatment series (see reflexo.try_series); response.status 201, or 409 when '
  'nothing was booked, with each refused session and its nearest free alternatives.';

CREATE FUNCTION api.cancel_series(series_id pg_catalog.int8, from_start pg_catalog.timestamptz DEFAULT NULL)
  RETURNS pg_catalog.int4
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT reflexo.cancel_series((reflexo.api_visible_series(series_id)).id, from_start) $$;
ALTER FUNCTION api.cancel_series(pg_catalog.int8, pg_catalog.timestamptz) OWNER TO reflexo_api;
COMMENT ON FUNCTION api.cancel_series(pg_catalog.int8, pg_catalog.timestamptz) IS
  'POST /rpc/cancel_series {series_id[, from_start]}: cancels this session and all following (or all); how many.';

CREATE FUNCTION api.move_series(series_id pg_catalog.int8, from_start pg_catalog.timestamptz,
                                new_start pg_catalog.timestamptz)
  RETURNS pg_catalog.int4
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT reflexo.move_series((reflexo.api_visible_series(series_id)).id, from_start, new_start) $$;
ALTER FUNCTION api.move_series(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.timestamptz) OWNER TO reflexo_api;
COMMENT ON FUNCTION api.move_series(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.timestamptz) IS
  'POST /rpc/move_series {series_id, from_start, new_start}: moves this session and all following by the same '
  'wall-clock shift; all or none.';

REVOKE ALL ON FUNCTION
    api.set_therapist(pg_catalog.int8, pg_catalog.text, pg_catalog.text, pg_catalog.text),
    api.add_time_off(pg_catalog.int8, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.text),
    api.book_series(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.int4,
                    pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.bool),
    api.cancel_series(pg_catalog.int8, pg_catalog.timestamptz),
    api.move_series(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.timestamptz)
  FROM PUBLIC;
GRANT SELECT ON api.therapists, api.series TO reflexo_staff, reflexo_admin;
GRANT EXECUTE ON FUNCTION
    api.book_series(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.int4,
                    pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.bool),
    api.cancel_series(pg_catalog.int8, pg_catalog.timestamptz),
    api.move_series(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.timestamptz),
    api.set_therapist(pg_catalog.int8, pg_catalog.text, pg_catalog.text, pg_catalog.text),
    api.add_time_off(pg_catalog.int8, pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.text)
  TO reflexo_staff, reflexo_admin;

-- Read afresh (VOLATILE: a new snapshot), so that the statement that booked a
-- series can answer with it.
CREATE FUNCTION api.series_by_id(series_id pg_catalog.int8) RETURNS SETOF api.series
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT * FROM api.series s WHERE s.id = series_by_id.series_id $$;
COMMENT ON FUNCTION api.series_by_id(pg_catalog.int8) IS 'A series of your locations, read afresh.';
CREATE FUNCTION api.series_citas(series_id pg_catalog.int8) RETURNS SETOF api.citas
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT * FROM api.citas c WHERE c.series_id = series_citas.series_id ORDER BY c.start_time $$;
COMMENT ON FUNCTION api.series_citas(pg_catalog.int8) IS 'The citas of a series of your locations, read afresh.';
REVOKE ALL ON FUNCTION api.series_by_id(pg_catalog.int8), api.series_citas(pg_catalog.int8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.series_by_id(pg_catalog.int8), api.series_citas(pg_catalog.int8)
  TO reflexo_staff, reflexo_admin;

-- ---------------------------------------------------------------- the history trigger's work in C
-- An update's changed columns and the actor are computed by the trigger itself.
DROP FUNCTION reflexo.row_changes(pg_catalog.jsonb, pg_catalog.jsonb);
CREATE OR REPLACE FUNCTION reflexo.current_actor() RETURNS pg_catalog.text
  AS 'MODULE_PATHNAME', 'reflexo_current_actor' LANGUAGE C STABLE;

-- ---------------------------------------------------------------- webhook statistics without a hot row
-- Every webhook of a minute updated the same row, so concurrent webhooks waited for
-- each other's commit; each session now counts in rows of its own.
ALTER TABLE reflexo.webhook_stats ADD COLUMN backend_pid pg_catalog.int4 NOT NULL DEFAULT 0;
ALTER TABLE reflexo.webhook_stats DROP CONSTRAINT webhook_stats_pkey,
  ADD CONSTRAINT webhook_stats_pkey PRIMARY KEY (bucket, event_type, result, backend_pid);
COMMENT ON COLUMN reflexo.webhook_stats.backend_pid IS
  'The session that counted them: each session counts in rows of its own, so that concurrent webhooks never '
  'wait for each other''s commit (readers sum the rows).';
CREATE OR REPLACE FUNCTION reflexo.count_webhook(event_type pg_catalog.text, result pg_catalog.text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    INSERT INTO reflexo.webhook_stats AS s (bucket, event_type, result, backend_pid, count)
    VALUES (date_trunc('minute', now()),
            CASE WHEN count_webhook.event_type IN ('AppointmentCreate', 'AppointmentUpdate', 'AppointmentDelete')
                 THEN count_webhook.event_type ELSE 'other' END,
            count_webhook.result, pg_backend_pid(), 1)
    ON CONFLICT ON CONSTRAINT webhook_stats_pkey DO UPDATE SET count = s.count + 1;
  END
  $$;

SELECT pg_catalog.pg_extension_config_dump('reflexo.therapists', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.series', '');
SELECT pg_catalog.pg_extension_config_dump('reflexo.series_id_seq', '');


-- ---------------------------------------------------------- GHL mapping

-- The two status mappings are inlinable SQL: no SET clause (every operator
-- and function is schema-qualified instead), and STABLE like enum I/O.
CREATE FUNCTION reflexo.status_from_ghl(ghl_status pg_catalog.text) RETURNS reflexo.appointment_status
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$
    SELECT CASE pg_catalog.lower(ghl_status)
      WHEN 'new' THEN 'scheduled'
      WHEN 'booked' THEN 'scheduled'
      WHEN 'scheduled' THEN 'scheduled'
      WHEN 'confirmed' THEN 'confirmed'
      WHEN 'active' THEN 'confirmed'
      WHEN 'cancelled' THEN 'cancelled'
      WHEN 'canceled' THEN 'cancelled'
      WHEN 'showed' THEN 'showed'
      WHEN 'completed' THEN 'showed'
      WHEN 'noshow' THEN 'noshow'
      WHEN 'invalid' THEN 'invalid'
    END::reflexo.appointment_status
  $$;
COMMENT ON FUNCTION reflexo.status_from_ghl(pg_catalog.text) IS
  'GHL appointmentStatus to ours: new, booked -> scheduled; active -> confirmed; completed -> showed; '
  'confirmed, cancelled, showed, noshow, invalid as such; NULL for anything else.';

CREATE FUNCTION reflexo.status_to_ghl(status reflexo.appointment_status) RETURNS pg_catalog.text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$
    SELECT CASE WHEN status OPERATOR(pg_catalog.=) 'scheduled'::reflexo.appointment_status THEN 'new'
                ELSE status::pg_catalog.text END
  $$;
COMMENT ON FUNCTION reflexo.status_to_ghl(reflexo.appointment_status) IS
  'Our status as a GHL appointmentStatus: scheduled -> new, the others as such.';

CREATE FUNCTION reflexo.ghl_time(instant pg_catalog.timestamptz, zone pg_catalog.text) RETURNS pg_catalog.text
  AS 'MODULE_PATHNAME', 'reflexo_ghl_time' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION reflexo.ghl_time(pg_catalog.timestamptz, pg_catalog.text) IS
  'An instant as GHL writes times: ISO 8601 local time with its UTC offset, e.g. 2026-03-10T14:00:00-05:00.';

CREATE FUNCTION reflexo.ghl_timestamp(value pg_catalog.text, zone pg_catalog.text, field pg_catalog.text)
  RETURNS pg_catalog.timestamptz
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF value IS NULL OR value !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}(:?\d{2})?)?$' THEN
      RAISE EXCEPTION 'GHL webhook field "%" is not an ISO 8601 time: %', field, coalesce(value, 'missing')
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'Times look like 2026-03-10T14:00:00-05:00.',
              HINT = 'Check what sent this webhook.';
    END IF;
    IF value ~ '(Z|z|[+-]\d{2}(:?\d{2})?)$' THEN
      RETURN value::timestamptz;
    END IF;
    RETURN value::timestamp AT TIME ZONE zone;   -- GHL sometimes sends naive local times
  END
  $$;
COMMENT ON FUNCTION reflexo.ghl_timestamp(pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
  'Parses a GHL time: ISO 8601 with an offset, or naive local time in the given zone; 22023 naming the field otherwise.';

-- ------------------------------------------------------ claim and complete

CREATE TYPE reflexo.outbox_job AS (
  outbox_id          pg_catalog.int8,
  location_id        pg_catalog.int8,
  attempt            pg_catalog.int4,
  appointment_id     pg_catalog.int8,
  operation          reflexo.outbox_operation,
  action             pg_catalog.text,
  ghl_location_id    pg_catalog.text,
  ghl_calendar_id    pg_catalog.text,
  ghl_appointment_id pg_catalog.text,
  contact_id         pg_catalog.text,
  starts_at          pg_catalog.timestamptz,
  ends_at            pg_catalog.timestamptz,
  body               pg_catalog.jsonb
);
COMMENT ON TYPE reflexo.outbox_job IS
  'A claimed outbox row as the daemon needs it. action is what to do in GHL now: create (POST), update (PUT), '
  'delete (DELETE), or skip (nothing to tell GHL, e.g. a booking cancelled before GHL ever saw it). '
  'attempt is the fencing token for complete_outbox and fail_outbox.';

CREATE FUNCTION reflexo.claim_outbox(max_rows pg_catalog.int4 DEFAULT 10,
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

-- An appointment GHL's webhook created from the echo of a booking made here
-- whose push had not yet recorded its GHL id: removed (as a change from GHL,
-- so nothing is sent), once the booking made here takes that id.  Only a
-- copy nobody has changed here since is merged.
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

CREATE FUNCTION reflexo.complete_outbox(outbox_id pg_catalog.int8, attempt pg_catalog.int4,
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

CREATE FUNCTION reflexo.outbox_backoff(attempts pg_catalog.int4) RETURNS pg_catalog.interval
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
    -- the settings exist once the module is loaded in the session, which a connection
    -- that has only called SQL functions so far has not done: the defaults then
    SELECT make_interval(secs => least(extract(epoch FROM coalesce(nullif(current_setting('reflexo.outbox_backoff_cap', true), ''),
                                                                   '1h')::interval)::float8,
                                       power(2, least(attempts, 30)))
                                 * (0.75 + random() * 0.5))
  $$;
COMMENT ON FUNCTION reflexo.outbox_backoff(pg_catalog.int4) IS
  'Wait before the next attempt: 2^attempts seconds, capped by reflexo.outbox_backoff_cap, with +/-25% jitter.';

CREATE FUNCTION reflexo.fail_outbox(outbox_id pg_catalog.int8, attempt pg_catalog.int4,
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

CREATE FUNCTION reflexo.requeue_outbox(outbox_id pg_catalog.int8 DEFAULT NULL) RETURNS pg_catalog.int4
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT reflexo.revive_outbox(requeue_outbox.outbox_id) $$;
COMMENT ON FUNCTION reflexo.requeue_outbox(pg_catalog.int8) IS
  'Gives dead outbox rows (one, or all when NULL) a fresh set of attempts; returns how many.';

CREATE FUNCTION reflexo.release_outbox(outbox_id pg_catalog.int8, attempt pg_catalog.int4,
                                       not_before pg_catalog.interval DEFAULT '0')
  RETURNS pg_catalog.bool
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    UPDATE reflexo.outbox o
       SET state = 'pending', attempts = o.attempts - 1, leased_until = NULL, updated_at = now(),
           next_attempt_at = now() + greatest(release_outbox.not_before, '0')
     WHERE o.id = release_outbox.outbox_id AND o.state = 'leased' AND o.attempts = release_outbox.attempt;
    RETURN FOUND;
  END
  $$;
COMMENT ON FUNCTION reflexo.release_outbox(pg_catalog.int8, pg_catalog.int4, pg_catalog.interval) IS
  'Gives a leased row back untried (e.g. its location is rate limited): pending again after not_before, '
  'without spending an attempt. Returns false if the lease was lost.';

CREATE FUNCTION reflexo.wake_outbox(location_id pg_catalog.int8) RETURNS pg_catalog.int4
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

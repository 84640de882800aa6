
-- ---------------------------------------------------------- GHL webhooks

CREATE FUNCTION reflexo.count_webhook(event_type pg_catalog.text, result pg_catalog.text) RETURNS void
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
COMMENT ON FUNCTION reflexo.count_webhook(pg_catalog.text, pg_catalog.text) IS
  'Counts one webhook in the per-minute statistics; unknown event types count as "other".';

CREATE FUNCTION reflexo.record_webhook_failure(event_type pg_catalog.text) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT reflexo.count_webhook(event_type, 'rejected') $$;
COMMENT ON FUNCTION reflexo.record_webhook_failure(pg_catalog.text) IS
  'Counts a webhook the daemon rejected (bad signature, malformed body), which never reached apply_ghl_webhook.';

CREATE FUNCTION reflexo.malformed_webhook(field pg_catalog.text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    RAISE EXCEPTION 'GHL webhook has no "%"', field
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The field "%s" is required and must be a non-empty value of the right type.', field),
            HINT = 'Appointment webhooks carry type, locationId, webhookId and the appointment under '
                   '"appointment" (or "data") with id, calendarId, startTime and endTime.';
  END
  $$;
COMMENT ON FUNCTION reflexo.malformed_webhook(pg_catalog.text) IS 'Raises 22023 for a webhook body missing the named field.';

-- Last writer wins, by GHL's clock alone: whether a GHL change dated
-- changed_at (NULL: undated) is older than what the appointment holds.
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

-- Applies one appointment event; shared by apply_ghl_webhook and
-- retry_ignored_webhooks.  Runs with reflexo.change_origin = ghl.
-- Every statement of the two is a lookup by an indexed key.  Their plans are
-- cached per session, so one made while a table was nearly empty (a new
-- clinic, the daemon's long-lived connection) would stay a sequential scan as
-- the table grows, until the next ANALYZE: enable_seqscan = off keeps them
-- index scans (the webhook benchmark slowed 2.5x within 10 s without it).
CREATE FUNCTION reflexo.apply_ghl_event(body pg_catalog.jsonb, OUT result pg_catalog.text, OUT reason pg_catalog.text)
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

CREATE FUNCTION reflexo.supersede_local_changes(appointment_id pg_catalog.int8) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    UPDATE reflexo.outbox o
       SET state = 'done', completed_at = now(), updated_at = now(),
           last_error = 'superseded by a newer change from GHL'
     WHERE o.appointment_id = supersede_local_changes.appointment_id AND o.state IN ('pending', 'dead');
  END
  $$;
COMMENT ON FUNCTION reflexo.supersede_local_changes(pg_catalog.int8) IS
  'Drops unsent local changes of an appointment once a newer GHL change has won (last writer wins).';

CREATE FUNCTION reflexo.apply_ghl_webhook(body pg_catalog.jsonb) RETURNS pg_catalog.text
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

CREATE FUNCTION reflexo.retry_ignored_webhooks(ghl_location_id pg_catalog.text DEFAULT NULL)
  RETURNS TABLE (webhook_id pg_catalog.text, result pg_catalog.text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    waiting reflexo.webhook_inbox;
    outcome record;
  BEGIN
    FOR waiting IN
      SELECT * FROM reflexo.webhook_inbox w
       WHERE w.result = 'ignored' AND w.body IS NOT NULL
         AND (retry_ignored_webhooks.ghl_location_id IS NULL
              OR w.ghl_location_id = retry_ignored_webhooks.ghl_location_id)
       ORDER BY w.received_at, w.webhook_id
       FOR UPDATE
    LOOP
      PERFORM set_config('reflexo.change_source', 'webhook ' || waiting.webhook_id, true);
      outcome := reflexo.apply_ghl_event(waiting.body);
      IF outcome.result <> 'ignored' THEN
        UPDATE reflexo.webhook_inbox w
           SET result = outcome.result, reason = outcome.reason, applied_at = now(), body = NULL
         WHERE w.webhook_id = waiting.webhook_id;
        PERFORM reflexo.count_webhook(waiting.event_type, outcome.result);
      END IF;
      webhook_id := waiting.webhook_id;
      result := outcome.result;
      RETURN NEXT;
    END LOOP;
  END
  $$;
COMMENT ON FUNCTION reflexo.retry_ignored_webhooks(pg_catalog.text) IS
  'Applies again, in arrival order, the webhooks ignored for an unknown calendar or location.';

-- ---------------------------------------------------------- calendar sync

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

CREATE FUNCTION reflexo.upsert_ghl_calendars(ghl_location_id pg_catalog.text, calendars pg_catalog.jsonb,
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


-- ---------------------------------------------------------- reconciliation
-- reflexo-sync lists a calendar's events in GHL over a window and hands the
-- complete list here; the comparison and the repairs happen in one
-- transaction.  A list that did not arrive complete is never passed, so a
-- failed fetch can never look like deletions.

CREATE FUNCTION reflexo.ghl_timestamp_or_null(value pg_catalog.text, zone pg_catalog.text)
  RETURNS pg_catalog.timestamptz
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT CASE WHEN value ~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}(:?\d{2})?)?$'
                THEN reflexo.ghl_timestamp(value, zone, 'dateUpdated') END
  $$;
COMMENT ON FUNCTION reflexo.ghl_timestamp_or_null(pg_catalog.text, pg_catalog.text) IS
  'A GHL time, or NULL when it is missing or not a time (reconciliation then lets apply_ghl_webhook judge).';

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

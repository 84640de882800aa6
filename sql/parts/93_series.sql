
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

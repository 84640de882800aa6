
-- ================================================================ API: the Django service's endpoints
--
-- Views and functions of schema api, one per endpoint of the Django service
-- (docs/api.md maps each).  Views belong to reflexo_api, so row-level
-- security on the core tables decides which rows a request sees; functions
-- run as the caller unless they say otherwise.

-- ---------------------------------------------------------------- citas

-- Listing a location's citas by time (GET /citas?start_time=gte.…&order=start_time)
-- is what the front end does most; without it every page scans the table.
CREATE INDEX appointments_location_start_idx ON reflexo.appointments (location_id, starts_at);
COMMENT ON INDEX reflexo.appointments_location_start_idx IS 'Appointments of a location by start: the API''s listings.';

CREATE VIEW api.citas AS
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
COMMENT ON VIEW api.citas IS
  'Appointments (GET/POST /citas, PATCH /citas?id=eq.N), with the Django service''s field names. fecha is the local '
  'date; sync_error says why GHL has not taken the latest change yet, synced_at when GHL last agreed.';

CREATE FUNCTION api.citas_write() RETURNS trigger
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
COMMENT ON FUNCTION api.citas_write() IS
  'Writes through api.citas: resolves ghl_calendar_id within the caller''s locations; the guard checks the rules.';
CREATE TRIGGER citas_write INSTEAD OF INSERT OR UPDATE ON api.citas
  FOR EACH ROW EXECUTE FUNCTION api.citas_write();

CREATE FUNCTION api.cancel_cita(id pg_catalog.int8) RETURNS SETOF api.citas
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    RETURN QUERY UPDATE api.citas c SET status = 'cancelled' WHERE c.id = cancel_cita.id RETURNING c.*;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'cita % not found', id USING ERRCODE = 'PT404',
        HINT = 'It does not exist, or belongs to a location you do not work in.';
    END IF;
  END
  $$;
COMMENT ON FUNCTION api.cancel_cita(pg_catalog.int8) IS
  'POST /rpc/cancel_cita {id}: cancels a cita (GHL is told); 404 if it is not yours.';

CREATE FUNCTION api.upcoming_citas(days pg_catalog.int4 DEFAULT 7) RETURNS SETOF api.citas
  LANGUAGE sql STABLE
  AS $$
    SELECT * FROM api.citas
     WHERE start_time >= pg_catalog.now()
       AND start_time < pg_catalog.now() + pg_catalog.make_interval(days => days)
       AND status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])
     ORDER BY start_time
  $$;
COMMENT ON FUNCTION api.upcoming_citas(pg_catalog.int4) IS
  'GET /rpc/upcoming_citas?days=7: active citas starting in the next days, soonest first.';

-- ---------------------------------------------------------------- calendars and locations

CREATE VIEW api.calendars AS
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

CREATE VIEW api.location_settings AS
  SELECT id, ghl_location_id, name, timezone, is_active, default_calendar_id, open_hours,
         min_duration, strict_validation, created_at, updated_at, max_duration, staff_flexible
    FROM reflexo.locations;
ALTER VIEW api.location_settings OWNER TO reflexo_api;
COMMENT ON VIEW api.location_settings IS
  'Location settings (GET/POST/PATCH/DELETE /location_settings): staff read their own, admins change any.';

CREATE VIEW api.active_locations AS
  SELECT * FROM api.location_settings WHERE is_active;
ALTER VIEW api.active_locations OWNER TO reflexo_api;
COMMENT ON VIEW api.active_locations IS 'GET /active_locations: the active locations you can see.';

CREATE FUNCTION api.location_calendars(location_id pg_catalog.int8) RETURNS SETOF api.calendars
  LANGUAGE sql STABLE
  AS $$ SELECT * FROM api.calendars c WHERE c.location_id = location_calendars.location_id ORDER BY c.name $$;
COMMENT ON FUNCTION api.location_calendars(pg_catalog.int8) IS
  'GET /rpc/location_calendars?location_id=N: the calendars of one of your locations.';

CREATE FUNCTION reflexo.api_visible_location(location_id pg_catalog.int8) RETURNS api.location_settings
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    visible api.location_settings;
  BEGIN
    SELECT * INTO visible FROM api.location_settings s WHERE s.id = location_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'location % not found', location_id USING ERRCODE = 'PT404',
        HINT = 'It does not exist, or you do not work in it; GET /location_settings lists yours.';
    END IF;
    RETURN visible;
  END
  $$;
COMMENT ON FUNCTION reflexo.api_visible_location(pg_catalog.int8) IS
  'A location the caller may see, or a not-found error.';

CREATE FUNCTION api.set_default_calendar(location_id pg_catalog.int8, calendar_id pg_catalog.text)
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

CREATE FUNCTION api.sync_calendars(location_id pg_catalog.int8) RETURNS pg_catalog.json
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

-- ---------------------------------------------------------------- free slots

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

-- ---------------------------------------------------------------- metrics and health

CREATE FUNCTION api.metrics() RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT reflexo.metrics() $$;
COMMENT ON FUNCTION api.metrics() IS 'GET /rpc/metrics: the Django service''s metrics document (last 24 h).';
CREATE FUNCTION api.metrics_ghl() RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT reflexo.metrics_ghl() $$;
COMMENT ON FUNCTION api.metrics_ghl() IS 'GET /rpc/metrics_ghl: GHL operations by kind.';
CREATE FUNCTION api.metrics_webhooks() RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT reflexo.metrics_webhooks() $$;
COMMENT ON FUNCTION api.metrics_webhooks() IS 'GET /rpc/metrics_webhooks: webhooks by type and result.';
CREATE FUNCTION api.health() RETURNS pg_catalog.jsonb
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

-- ---------------------------------------------------------------- sync failures, history, closures

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
         cl.created_at, cl.updated_at, cl.ghl_user_id
    FROM reflexo.closures cl
    LEFT JOIN reflexo.calendars c ON c.id = cl.calendar_id
   WHERE cl.location_id = ANY (COALESCE((SELECT reflexo.api_visible_location_ids()), '{}'));
ALTER VIEW api.closures OWNER TO reflexo_api;
COMMENT ON VIEW api.closures IS
  'GET /closures?location_id=eq.N: holidays and closures of your locations (ghl_calendar_id and ghl_user_id NULL: '
  'the whole location; ghl_user_id: a therapist''s time off), in local wall-clock time.';

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

-- ---------------------------------------------------------------- privileges

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.login(pg_catalog.text, pg_catalog.text), api.refresh(pg_catalog.text)
  TO reflexo_anon, reflexo_staff, reflexo_admin;
GRANT SELECT, INSERT, UPDATE ON api.citas TO reflexo_staff, reflexo_admin;
GRANT SELECT ON api.calendars, api.location_settings, api.active_locations TO reflexo_staff, reflexo_admin;
GRANT INSERT, UPDATE, DELETE ON api.location_settings TO reflexo_admin;
GRANT SELECT ON api.users TO reflexo_admin;
GRANT SELECT ON api.cita_history, api.closures TO reflexo_staff, reflexo_admin;
GRANT SELECT ON reflexo.appointment_history TO reflexo_api;
GRANT SELECT, INSERT, DELETE ON reflexo.closures TO reflexo_api;
GRANT EXECUTE ON FUNCTION
    api.cancel_cita(pg_catalog.int8), api.upcoming_citas(pg_catalog.int4),
    api.location_calendars(pg_catalog.int8), api.sync_calendars(pg_catalog.int8),
    api.free_slots(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.int4, pg_catalog.text),
    api.metrics(), api.metrics_ghl(), api.metrics_webhooks(), api.health(),
    api.change_password(pg_catalog.text, pg_catalog.text),
    api.retry_sync(pg_catalog.int8), api.retry_failed_syncs(pg_catalog.int8),
    api.add_closure(pg_catalog.int8, pg_catalog.date, pg_catalog.text, pg_catalog.date, pg_catalog.text),
    api.remove_closure(pg_catalog.int8, pg_catalog.int8)
  TO reflexo_staff, reflexo_admin;
GRANT EXECUTE ON FUNCTION
    api.set_default_calendar(pg_catalog.int8, pg_catalog.text),
    api.create_user(pg_catalog.text, pg_catalog.text, reflexo.user_role, pg_catalog.int8[]),
    api.update_user(pg_catalog.text, pg_catalog.text, reflexo.user_role, pg_catalog.int8[], pg_catalog.bool)
  TO reflexo_admin;

-- Schema reflexo: the API roles may name its types and harmless functions
-- (their SQL functions are parsed as them) but touch no table; what runs
-- with the owner's rights is for reflexo-sync only.
GRANT USAGE ON SCHEMA reflexo TO reflexo_staff, reflexo_admin;
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
            WHERE p.pronamespace = 'reflexo'::regnamespace
              AND (p.prosecdef OR p.proname IN ('password_hash', 'password_verify', 'jwt_sign', 'jwt_verify',
                                                'issue_tokens', 'api_refusal', 'free_slots_between'))
  LOOP
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    IF f::text !~ '^reflexo\.(password|jwt|issue_tokens|api_refusal|free_slots_between)' THEN
      EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO reflexo_sync', f);
    END IF;
  END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION reflexo.free_slots_between(pg_catalog.int8, pg_catalog.timestamptz,
    pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.interval, pg_catalog.text) TO reflexo_api;

-- API benchmark database: 20 locations of 10 calendars each, open all day,
-- with a year of history (100,000 appointments), and the scripts' helpers.
CREATE EXTENSION reflexo;
CREATE SCHEMA bench;
CREATE SEQUENCE bench.slot;
INSERT INTO reflexo.locations (id, ghl_location_id, name, timezone, open_hours)
SELECT l, 'loc-' || l, 'Sede ' || l, 'America/Lima', '00:00-24:00' FROM generate_series(1, 20) l;
INSERT INTO reflexo.calendars (id, location_id, ghl_calendar_id, name)
SELECT (l - 1) * 10 + k, l, 'cal-' || l || '-' || k, 'Calendario ' || k
  FROM generate_series(1, 20) l, generate_series(1, 10) k;
SET session_replication_role = replica;  -- valid by construction: skip triggers
INSERT INTO reflexo.appointments (location_id, calendar_id, title, starts_at, ends_at, sync_state)
SELECT 1 + (g % 200) / 10, 1 + g % 200, 'Cita ' || g, t, t + interval '45 minutes', 'synced'
  FROM (SELECT g, timestamptz '2026-01-05 08:00-05' + (g / 200) * interval '1 hour' AS t
          FROM generate_series(0, 99999) g) s;
RESET session_replication_role;
VACUUM ANALYZE;

-- The n-th new booking: location 1, one of its 10 calendars, 30 minutes,
-- after the history and never overlapping another new one.  STABLE, as the
-- time arithmetic in it is, so that it is inlined rather than called.
CREATE FUNCTION bench.slot_start(n bigint) RETURNS timestamptz LANGUAGE sql STABLE
  AS $$ SELECT timestamptz '2027-06-01 00:00-05' + (n / 10) * interval '30 minutes' $$;

-- Free slots the usual way, as the baseline for reflexo.free_slots: a
-- series of candidate starts, each checked with SQL (working hours with
-- within_open_hours, a count of overlapping bookings, closures).
CREATE FUNCTION bench.free_slots_sql(calendar bigint, from_time timestamptz, to_time timestamptz)
RETURNS TABLE (starts_at timestamptz, ends_at timestamptz) LANGUAGE sql STABLE AS $$
  SELECT s, s + c.slot_duration
    FROM reflexo.calendars c
    JOIN reflexo.locations l ON l.id = c.location_id,
         generate_series(from_time, to_time - c.slot_duration, c.slot_duration) s
   WHERE c.id = calendar
     AND reflexo.within_open_hours(COALESCE(c.open_hours, l.open_hours), tstzrange(s, s + c.slot_duration), l.timezone)
     AND (SELECT count(*) FROM reflexo.appointments a
           WHERE a.calendar_id = c.id AND a.status <> ALL ('{cancelled,invalid}')
             AND a.starts_at < s + c.slot_duration AND a.ends_at > s) < c.capacity
     AND NOT EXISTS (SELECT FROM reflexo.closures x
                      WHERE x.location_id = l.id AND (x.calendar_id IS NULL OR x.calendar_id = c.id)
                        AND x.closed_from < (s + c.slot_duration) AT TIME ZONE l.timezone
                        AND x.closed_until > s AT TIME ZONE l.timezone)
$$;
GRANT USAGE ON SCHEMA bench TO reflexo_staff;
GRANT EXECUTE ON FUNCTION bench.slot_start(bigint) TO reflexo_staff;

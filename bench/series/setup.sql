-- Series benchmark database: one location open all day, 200 calendars and
-- 200 therapists (therapist-N works mon-fri 08:00-18:00), a year of history
-- (100,000 appointments, each therapist also busy on another calendar), and
-- the helpers of the scripts.
CREATE EXTENSION reflexo;
CREATE SCHEMA bench;
CREATE SEQUENCE bench.slot;
INSERT INTO reflexo.locations (id, ghl_location_id, name, timezone, open_hours, max_duration)
VALUES (1, 'loc-1', 'Sede', 'America/Lima', '00:00-24:00', '1 day');
INSERT INTO reflexo.calendars (id, location_id, ghl_calendar_id, name, slot_duration)
SELECT k, 1, 'cal-' || k, 'Calendario ' || k, '30 minutes' FROM generate_series(1, 200) k;
INSERT INTO reflexo.therapists (location_id, ghl_user_id, name, open_hours)
SELECT 1, 'therapist-' || k, 'Terapeuta ' || k, 'mon-fri 08:00-18:00' FROM generate_series(1, 200) k;
INSERT INTO reflexo.closures (location_id, ghl_user_id, closed_from, closed_until, reason)
SELECT 1, 'therapist-' || k, '2026-03-16', '2026-03-18', 'Vacaciones' FROM generate_series(1, 200, 7) k;
SET session_replication_role = replica;  -- valid by construction: skip triggers
-- calendar c at even hours, by therapist-c; therapist-c also at odd hours 9-17 on calendar c+1 on weekdays
INSERT INTO reflexo.appointments (location_id, calendar_id, assigned_user_id, title, starts_at, ends_at, sync_state)
SELECT 1, 1 + g % 200, 'therapist-' || (1 + g % 200), 'Cita ' || g, t, t + interval '45 minutes', 'synced'
  FROM (SELECT g, timestamptz '2026-01-05 08:00-05' + (g / 200) * interval '2 hours' AS t
          FROM generate_series(0, 79999) g) s;
INSERT INTO reflexo.appointments (location_id, calendar_id, assigned_user_id, title, starts_at, ends_at, sync_state)
SELECT 1, 1 + (g + 1) % 200, 'therapist-' || (1 + g % 200), 'Otra ' || g, t, t + interval '30 minutes', 'synced'
  FROM (SELECT g, timestamptz '2026-01-05 09:00-05' + (g / 200) * interval '1 day' AS t
          FROM generate_series(0, 19999) g) s;
RESET session_replication_role;
VACUUM ANALYZE;

-- The n-th booking of the series benchmark: calendar 1 + n % 200, its own two
-- weeks from a Monday, at 10:00 Lima, after the history.
CREATE FUNCTION bench.series_start(n bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE
  AS $$ SELECT timestamptz '2031-01-06 10:00-05' + (n / 200) * interval '14 days' $$;

-- Free slots of one therapist on one calendar, the usual way, as the baseline
-- for reflexo.free_slots(..., therapist): candidate starts, each checked with
-- SQL (calendar and therapist hours with within_open_hours, the calendar's
-- capacity, the therapist's other bookings, closures and time off).
CREATE FUNCTION bench.free_slots_sql(calendar bigint, from_time timestamptz, to_time timestamptz, therapist text)
RETURNS TABLE (starts_at timestamptz, ends_at timestamptz) LANGUAGE sql STABLE AS $$
  SELECT s, s + c.slot_duration
    FROM reflexo.calendars c
    JOIN reflexo.locations l ON l.id = c.location_id
    LEFT JOIN reflexo.therapists t ON t.location_id = l.id AND t.ghl_user_id = therapist,
         generate_series(from_time, to_time - c.slot_duration, c.slot_duration) s
   WHERE c.id = calendar
     AND reflexo.within_open_hours(COALESCE(c.open_hours, l.open_hours), tstzrange(s, s + c.slot_duration), l.timezone)
     AND (t.open_hours IS NULL OR reflexo.within_open_hours(t.open_hours, tstzrange(s, s + c.slot_duration), l.timezone))
     AND (SELECT count(*) FROM reflexo.appointments a
           WHERE a.calendar_id = c.id AND a.status <> ALL ('{cancelled,invalid}')
             AND a.starts_at < s + c.slot_duration AND a.ends_at > s) < c.capacity
     AND NOT EXISTS (SELECT FROM reflexo.appointments a
                      WHERE a.location_id = l.id AND a.assigned_user_id = therapist
                        AND a.status <> ALL ('{cancelled,invalid}')
                        AND a.starts_at < s + c.slot_duration AND a.ends_at > s)
     AND NOT EXISTS (SELECT FROM reflexo.closures x
                      WHERE x.location_id = l.id
                        AND (x.calendar_id = c.id OR x.ghl_user_id = therapist
                             OR (x.calendar_id IS NULL AND x.ghl_user_id IS NULL))
                        AND x.closed_from < (s + c.slot_duration) AT TIME ZONE l.timezone
                        AND x.closed_until > s AT TIME ZONE l.timezone)
$$;

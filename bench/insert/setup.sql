-- Insert benchmark: one location open around the clock, 200 calendars with
-- one therapist each, and the same appointments table four ways:
--   reflexo.appointments  the C guard (the product)
--   bench.plain           the same table, indexes and foreign keys, no trigger
--   bench.plpgsql         the same rules written as a PL/pgSQL trigger
--   bench.exclusion       btree_gist EXCLUDE constraints instead of a trigger
CREATE EXTENSION IF NOT EXISTS reflexo;
CREATE EXTENSION IF NOT EXISTS btree_gist;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
TRUNCATE reflexo.appointments, reflexo.closures;
DELETE FROM reflexo.calendars;
DELETE FROM reflexo.locations;

INSERT INTO reflexo.locations (id, ghl_location_id, name, timezone, open_hours)
VALUES (1, 'bench', 'Bench clinic', 'America/Lima', '00:00-24:00');
INSERT INTO reflexo.calendars (id, location_id, name)
SELECT g, 1, 'Calendar ' || g FROM generate_series(1, 200) g;
-- a holiday far away, so that the closure search has something to look at
SELECT reflexo.add_closure(1, '2026-12-25', 'Navidad');

CREATE TABLE bench.plain (LIKE reflexo.appointments INCLUDING ALL);
ALTER TABLE bench.plain
  ADD FOREIGN KEY (location_id) REFERENCES reflexo.locations,
  ADD FOREIGN KEY (calendar_id, location_id) REFERENCES reflexo.calendars (id, location_id);

CREATE TABLE bench.plpgsql (LIKE reflexo.appointments INCLUDING ALL);
ALTER TABLE bench.plpgsql
  ADD FOREIGN KEY (location_id) REFERENCES reflexo.locations,
  ADD FOREIGN KEY (calendar_id, location_id) REFERENCES reflexo.calendars (id, location_id);

CREATE TABLE bench.exclusion (LIKE reflexo.appointments INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS);
ALTER TABLE bench.exclusion
  ADD PRIMARY KEY (id),
  ADD UNIQUE (ghl_appointment_id),
  ADD FOREIGN KEY (location_id) REFERENCES reflexo.locations,
  ADD FOREIGN KEY (calendar_id, location_id) REFERENCES reflexo.calendars (id, location_id),
  ADD CONSTRAINT exclusion_duration CHECK (ends_at - starts_at >= interval '15 minutes'),
  ADD CONSTRAINT exclusion_calendar EXCLUDE USING gist
    (calendar_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
    WHERE (status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])),
  ADD CONSTRAINT exclusion_therapist EXCLUDE USING gist
    (location_id WITH =, assigned_user_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
    WHERE (status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[]) AND assigned_user_id IS NOT NULL);

-- The guard's rules as a PL/pgSQL author would write them: the same lookups,
-- the same locks, the same bounded searches, one SQL query each.
CREATE FUNCTION bench.plpgsql_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cal reflexo.calendars;
  loc reflexo.locations;
  busy int;
BEGIN
  IF NEW.status IN ('cancelled', 'invalid') THEN
    RETURN NEW;
  END IF;
  SELECT * INTO cal FROM reflexo.calendars WHERE id = NEW.calendar_id;
  IF NOT FOUND OR NOT cal.is_active THEN
    RAISE EXCEPTION 'calendar % does not exist or is not available', NEW.calendar_id USING ERRCODE = '23503';
  END IF;
  NEW.location_id := coalesce(NEW.location_id, cal.location_id);
  SELECT * INTO loc FROM reflexo.locations WHERE id = NEW.location_id;
  IF NEW.ends_at <= NEW.starts_at OR NEW.ends_at - NEW.starts_at < loc.min_duration THEN
    RAISE EXCEPTION 'the minimum duration is %', loc.min_duration USING ERRCODE = '23514';
  END IF;
  IF NOT reflexo.within_open_hours(coalesce(cal.open_hours, loc.open_hours),
                                   tstzrange(NEW.starts_at, NEW.ends_at), loc.timezone) THEN
    RAISE EXCEPTION 'outside working hours' USING ERRCODE = '23514';
  END IF;
  IF EXISTS (SELECT 1 FROM reflexo.closures c
              WHERE c.location_id = NEW.location_id
                AND (c.calendar_id IS NULL OR c.calendar_id = NEW.calendar_id)
                AND c.closed_until > NEW.starts_at AT TIME ZONE loc.timezone
                AND c.closed_from < NEW.ends_at AT TIME ZONE loc.timezone) THEN
    RAISE EXCEPTION 'closed' USING ERRCODE = '23514';
  END IF;
  PERFORM pg_advisory_xact_lock(NEW.calendar_id);
  IF NEW.assigned_user_id IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(NEW.assigned_user_id, NEW.location_id));
  END IF;
  SELECT count(*) INTO busy FROM bench.plpgsql a
   WHERE a.calendar_id = NEW.calendar_id
     AND a.status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])
     AND a.starts_at > NEW.starts_at - interval '1 day' AND a.starts_at < NEW.ends_at
     AND a.ends_at > NEW.starts_at AND a.id <> NEW.id;
  IF busy >= cal.capacity THEN
    RAISE EXCEPTION 'schedule conflict' USING ERRCODE = '23P01';
  END IF;
  IF NEW.assigned_user_id IS NOT NULL AND EXISTS (
      SELECT 1 FROM bench.plpgsql a
       WHERE a.location_id = NEW.location_id AND a.assigned_user_id = NEW.assigned_user_id
         AND a.status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])
         AND a.starts_at > NEW.starts_at - interval '1 day' AND a.starts_at < NEW.ends_at
         AND a.ends_at > NEW.starts_at AND a.id <> NEW.id) THEN
    RAISE EXCEPTION 'therapist busy' USING ERRCODE = '23P01';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER plpgsql_guard BEFORE INSERT OR UPDATE ON bench.plpgsql
  FOR EACH ROW EXECUTE FUNCTION bench.plpgsql_guard();

CREATE SEQUENCE bench.slot;

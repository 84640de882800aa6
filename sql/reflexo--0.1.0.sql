-- reflexo 0.1.0 — install script, assembled from sql/parts/*.sql in order.
-- Every object is schema-qualified so that no search_path can redirect it.

\echo Use "CREATE EXTENSION reflexo" to load this file. \quit

CREATE SCHEMA reflexo;
COMMENT ON SCHEMA reflexo IS
  'Reflexo core: locations, calendars, appointments, closures and the rules that guard them.';

-- ---------------------------------------------------------------- enums

CREATE TYPE reflexo.appointment_status AS ENUM
  ('scheduled', 'confirmed', 'cancelled', 'showed', 'noshow', 'invalid');
COMMENT ON TYPE reflexo.appointment_status IS
  'Life cycle of an appointment. cancelled and invalid free their slot; GHL''s "new" is scheduled.';

CREATE TYPE reflexo.sync_state AS ENUM ('pending', 'synced', 'failed');
COMMENT ON TYPE reflexo.sync_state IS
  'Whether the latest local change of an appointment has reached GHL.';

CREATE TYPE reflexo.origin AS ENUM ('local', 'ghl');
COMMENT ON TYPE reflexo.origin IS
  'Where the latest change of an appointment came from: this database (local) or a GHL webhook (ghl).';

-- ------------------------------------------------------------ time zones

CREATE FUNCTION reflexo.is_valid_time_zone(name pg_catalog.text)
  RETURNS pg_catalog.bool
  AS 'MODULE_PATHNAME', 'reflexo_is_valid_time_zone'
  LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION reflexo.is_valid_time_zone(pg_catalog.text) IS
  'True when PostgreSQL knows the IANA time zone name, e.g. America/Lima.';

CREATE DOMAIN reflexo.time_zone AS pg_catalog.text
  CONSTRAINT time_zone_known CHECK (reflexo.is_valid_time_zone(VALUE));
COMMENT ON DOMAIN reflexo.time_zone IS 'An IANA time zone name that PostgreSQL knows.';

-- ------------------------------------------------------------ open_hours

CREATE TYPE reflexo.open_hours;

CREATE FUNCTION reflexo.open_hours_in(pg_catalog.cstring) RETURNS reflexo.open_hours
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION reflexo.open_hours_out(reflexo.open_hours) RETURNS pg_catalog.cstring
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION reflexo.open_hours_recv(pg_catalog.internal) RETURNS reflexo.open_hours
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION reflexo.open_hours_send(reflexo.open_hours) RETURNS pg_catalog.bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE reflexo.open_hours (
  INPUT = reflexo.open_hours_in,
  OUTPUT = reflexo.open_hours_out,
  RECEIVE = reflexo.open_hours_recv,
  SEND = reflexo.open_hours_send,
  INTERNALLENGTH = VARIABLE,
  ALIGNMENT = int4,
  STORAGE = plain
);
COMMENT ON TYPE reflexo.open_hours IS
  'Weekly working hours, several intervals a day, e.g. ''mon-fri 08:00-13:00,14:00-20:00; sat 09:00-13:00''. '
  'Intervals end by midnight (24:00); write overnight hours as two intervals.';
COMMENT ON FUNCTION reflexo.open_hours_in(pg_catalog.cstring) IS 'Text input of open_hours.';
COMMENT ON FUNCTION reflexo.open_hours_out(reflexo.open_hours) IS 'Canonical text output of open_hours.';
COMMENT ON FUNCTION reflexo.open_hours_recv(pg_catalog.internal) IS 'Binary input of open_hours.';
COMMENT ON FUNCTION reflexo.open_hours_send(reflexo.open_hours) IS 'Binary output of open_hours.';

CREATE FUNCTION reflexo.open_hours_eq(reflexo.open_hours, reflexo.open_hours) RETURNS pg_catalog.bool
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION reflexo.open_hours_ne(reflexo.open_hours, reflexo.open_hours) RETURNS pg_catalog.bool
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION reflexo.open_hours_eq(reflexo.open_hours, reflexo.open_hours) IS
  'Two schedules are equal when they open at the same times.';
COMMENT ON FUNCTION reflexo.open_hours_ne(reflexo.open_hours, reflexo.open_hours) IS
  'Two schedules differ when they open at different times.';

CREATE OPERATOR reflexo.= (
  LEFTARG = reflexo.open_hours, RIGHTARG = reflexo.open_hours,
  FUNCTION = reflexo.open_hours_eq,
  COMMUTATOR = OPERATOR(reflexo.=), NEGATOR = OPERATOR(reflexo.<>),
  RESTRICT = eqsel, JOIN = eqjoinsel
);
CREATE OPERATOR reflexo.<> (
  LEFTARG = reflexo.open_hours, RIGHTARG = reflexo.open_hours,
  FUNCTION = reflexo.open_hours_ne,
  COMMUTATOR = OPERATOR(reflexo.<>), NEGATOR = OPERATOR(reflexo.=),
  RESTRICT = neqsel, JOIN = neqjoinsel
);
COMMENT ON OPERATOR reflexo.= (reflexo.open_hours, reflexo.open_hours) IS 'same schedule';
COMMENT ON OPERATOR reflexo.<> (reflexo.open_hours, reflexo.open_hours) IS 'different schedules';

CREATE FUNCTION reflexo.open_hours_from_ghl(pg_catalog.jsonb) RETURNS reflexo.open_hours
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION reflexo.open_hours_from_ghl(pg_catalog.jsonb) IS
  'Converts a GHL calendar''s openHours array (days 0 = Sunday .. 6) to open_hours; null or [] is closed.';
CREATE CAST (pg_catalog.jsonb AS reflexo.open_hours)
  WITH FUNCTION reflexo.open_hours_from_ghl(pg_catalog.jsonb);
COMMENT ON CAST (pg_catalog.jsonb AS reflexo.open_hours) IS 'GHL openHours JSON to open_hours.';

CREATE FUNCTION reflexo.within_open_hours(hours reflexo.open_hours, during pg_catalog.tstzrange,
                                          time_zone pg_catalog.text)
  RETURNS pg_catalog.bool
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION reflexo.within_open_hours(reflexo.open_hours, pg_catalog.tstzrange, pg_catalog.text) IS
  'True when every instant of the range falls in open hours on the zone''s wall clock (DST-correct). '
  'A range crossing midnight needs both days open up to and from midnight.';

-- ---------------------------------------------------------------- tables

CREATE TABLE reflexo.locations (
  id                  pg_catalog.int8 GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  ghl_location_id     pg_catalog.text NOT NULL UNIQUE,
  name                pg_catalog.text NOT NULL,
  timezone            reflexo.time_zone NOT NULL DEFAULT 'America/Lima',
  is_active           pg_catalog.bool NOT NULL DEFAULT true,
  default_calendar_id pg_catalog.int8,
  open_hours          reflexo.open_hours NOT NULL DEFAULT '08:00-20:00',
  min_duration        pg_catalog.interval NOT NULL DEFAULT '15 minutes',
  strict_validation   pg_catalog.bool NOT NULL DEFAULT true,
  created_at          pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_at          pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT locations_min_duration_range
    CHECK (min_duration >= '0'::pg_catalog.interval AND min_duration < '1 day'::pg_catalog.interval)
);
COMMENT ON TABLE reflexo.locations IS
  'A clinic site: one GHL sub-account (location), its time zone and its booking rules.';
COMMENT ON COLUMN reflexo.locations.id IS 'Local identifier.';
COMMENT ON COLUMN reflexo.locations.ghl_location_id IS 'GHL location (sub-account) id, e.g. CRlTCqv7ASS9xOpPQ59O.';
COMMENT ON COLUMN reflexo.locations.name IS 'Display name.';
COMMENT ON COLUMN reflexo.locations.timezone IS 'IANA zone in which open hours and closures are read.';
COMMENT ON COLUMN reflexo.locations.is_active IS 'Inactive locations accept no new local bookings.';
COMMENT ON COLUMN reflexo.locations.default_calendar_id IS 'Calendar used when a booking names none.';
COMMENT ON COLUMN reflexo.locations.open_hours IS 'Working hours for calendars that have none of their own.';
COMMENT ON COLUMN reflexo.locations.min_duration IS 'Shortest bookable appointment.';
COMMENT ON COLUMN reflexo.locations.strict_validation IS
  'When false, overlap and working-hours violations are stored flagged with a warning instead of rejected '
  '(unless reflexo.strict_validation = on).';
COMMENT ON COLUMN reflexo.locations.created_at IS 'When the row was created.';
COMMENT ON COLUMN reflexo.locations.updated_at IS 'When the row last changed.';

CREATE TABLE reflexo.calendars (
  id              pg_catalog.int8 GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  location_id     pg_catalog.int8 NOT NULL REFERENCES reflexo.locations ON DELETE RESTRICT,
  ghl_calendar_id pg_catalog.text UNIQUE,
  name            pg_catalog.text NOT NULL,
  description     pg_catalog.text NOT NULL DEFAULT '',
  is_active       pg_catalog.bool NOT NULL DEFAULT true,
  capacity        pg_catalog.int4 NOT NULL DEFAULT 1,
  open_hours      reflexo.open_hours,
  slot_duration   pg_catalog.interval NOT NULL DEFAULT '30 minutes',
  created_at      pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_at      pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT calendars_id_location_key UNIQUE (id, location_id),
  CONSTRAINT calendars_capacity_range CHECK (capacity BETWEEN 1 AND 1000),
  CONSTRAINT calendars_slot_duration_range
    CHECK (slot_duration > '0'::pg_catalog.interval AND slot_duration <= '1 day'::pg_catalog.interval)
);
COMMENT ON TABLE reflexo.calendars IS
  'A bookable GHL calendar (a therapist, room or service) of one location.';
COMMENT ON COLUMN reflexo.calendars.id IS 'Local identifier.';
COMMENT ON COLUMN reflexo.calendars.location_id IS 'The location it belongs to.';
COMMENT ON COLUMN reflexo.calendars.ghl_calendar_id IS 'GHL calendar id; NULL for a calendar not (yet) in GHL.';
COMMENT ON COLUMN reflexo.calendars.name IS 'Display name.';
COMMENT ON COLUMN reflexo.calendars.description IS 'Free text from GHL.';
COMMENT ON COLUMN reflexo.calendars.is_active IS 'Inactive (draft or removed in GHL) calendars accept no new local bookings.';
COMMENT ON COLUMN reflexo.calendars.capacity IS
  'Appointments allowed at the same time (GHL appoinmentPerSlot); 1 means no overlap.';
COMMENT ON COLUMN reflexo.calendars.open_hours IS 'Working hours; NULL means the location''s.';
COMMENT ON COLUMN reflexo.calendars.slot_duration IS 'Default appointment length (GHL slotDuration).';
COMMENT ON COLUMN reflexo.calendars.created_at IS 'When the row was created.';
COMMENT ON COLUMN reflexo.calendars.updated_at IS 'When the row last changed.';

ALTER TABLE reflexo.locations
  ADD CONSTRAINT locations_default_calendar_fkey FOREIGN KEY (default_calendar_id, id)
  REFERENCES reflexo.calendars (id, location_id) ON DELETE RESTRICT;

CREATE TABLE reflexo.appointments (
  id                 pg_catalog.int8 GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  location_id        pg_catalog.int8 NOT NULL REFERENCES reflexo.locations ON DELETE RESTRICT,
  calendar_id        pg_catalog.int8 NOT NULL,
  ghl_appointment_id pg_catalog.text UNIQUE,
  contact_id         pg_catalog.text,
  assigned_user_id   pg_catalog.text,
  title              pg_catalog.text NOT NULL DEFAULT '',
  notes              pg_catalog.text,
  status             reflexo.appointment_status NOT NULL DEFAULT 'scheduled',
  starts_at          pg_catalog.timestamptz NOT NULL,
  ends_at            pg_catalog.timestamptz NOT NULL,
  sync_state         reflexo.sync_state NOT NULL DEFAULT 'pending',
  origin             reflexo.origin NOT NULL DEFAULT 'local',
  validation_flags   pg_catalog.text[] NOT NULL DEFAULT '{}',
  local_changed_at   pg_catalog.timestamptz,
  ghl_updated_at     pg_catalog.timestamptz,
  created_at         pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_at         pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT appointments_calendar_fkey FOREIGN KEY (calendar_id, location_id)
    REFERENCES reflexo.calendars (id, location_id) ON DELETE RESTRICT,
  CONSTRAINT appointments_known_flags CHECK (validation_flags OPERATOR(pg_catalog.<@)
    '{overlap,outside_hours,closure,too_short,calendar_unavailable}'::pg_catalog.text[])
);
COMMENT ON TABLE reflexo.appointments IS
  'Appointments (citas). The guard trigger enforces the booking rules; see reflexo.appointment_guard().';
COMMENT ON COLUMN reflexo.appointments.id IS 'Local identifier.';
COMMENT ON COLUMN reflexo.appointments.location_id IS 'The location; filled from the calendar when omitted.';
COMMENT ON COLUMN reflexo.appointments.calendar_id IS
  'The calendar booked; filled from the location''s default calendar when omitted.';
COMMENT ON COLUMN reflexo.appointments.ghl_appointment_id IS 'GHL event id once known.';
COMMENT ON COLUMN reflexo.appointments.contact_id IS 'GHL contact (patient) id.';
COMMENT ON COLUMN reflexo.appointments.assigned_user_id IS
  'GHL user (therapist) id; one person is never booked twice at the same time in a location.';
COMMENT ON COLUMN reflexo.appointments.title IS 'Title shown in calendars.';
COMMENT ON COLUMN reflexo.appointments.notes IS 'Clinical or booking notes; never logged.';
COMMENT ON COLUMN reflexo.appointments.status IS 'Life cycle status; cancelled and invalid free the slot.';
COMMENT ON COLUMN reflexo.appointments.starts_at IS 'Start instant (inclusive).';
COMMENT ON COLUMN reflexo.appointments.ends_at IS 'End instant (exclusive).';
COMMENT ON COLUMN reflexo.appointments.sync_state IS
  'pending: a local change still has to reach GHL; synced: GHL has it; failed: the push is dead (see reflexo.outbox).';
COMMENT ON COLUMN reflexo.appointments.origin IS
  'Where the latest change came from; set by the guard, not by clients (see reflexo.change_origin).';
COMMENT ON COLUMN reflexo.appointments.validation_flags IS
  'Rules this row breaks, stored instead of rejected (flexible mode, or changes from GHL): '
  'overlap, outside_hours, closure, too_short, calendar_unavailable.';
COMMENT ON COLUMN reflexo.appointments.local_changed_at IS
  'When the appointment last changed here (not from GHL); compared with GHL''s dateUpdated, last writer wins.';
COMMENT ON COLUMN reflexo.appointments.ghl_updated_at IS 'GHL''s dateUpdated of the latest GHL state known here.';
COMMENT ON COLUMN reflexo.appointments.created_at IS 'When the row was created.';
COMMENT ON COLUMN reflexo.appointments.updated_at IS 'When the row last changed, bookkeeping included.';

-- The guard's searches.  Only active appointments hold a slot.  Overlap
-- searches look back one day from the new start; appointments longer than a
-- day are few and live in their own index, so every search stays bounded.
-- ends_at is carried in the indexes so that the many neighbours that end
-- before the new start are skipped without visiting the heap.
-- The guard scans it directly.  "ends_at IS NOT NULL" is always true (the
-- column is NOT NULL) and is there for the planner: a query must mention
-- ends_at to use this index, so listings by start time alone (the API's)
-- use appointments_location_start_idx instead of scanning this one whole,
-- which generic plans otherwise misjudge as cheap.
CREATE INDEX appointments_calendar_active_idx ON reflexo.appointments (calendar_id, starts_at)
  INCLUDE (ends_at)
  WHERE status OPERATOR(pg_catalog.<>) ALL ('{cancelled,invalid}'::reflexo.appointment_status[])
    AND ends_at IS NOT NULL;
CREATE INDEX appointments_user_active_idx ON reflexo.appointments (location_id, assigned_user_id, starts_at)
  INCLUDE (ends_at)
  WHERE status OPERATOR(pg_catalog.<>) ALL ('{cancelled,invalid}'::reflexo.appointment_status[])
    AND assigned_user_id IS NOT NULL;
CREATE INDEX appointments_long_active_idx ON reflexo.appointments (location_id, starts_at)
  INCLUDE (ends_at)
  WHERE status OPERATOR(pg_catalog.<>) ALL ('{cancelled,invalid}'::reflexo.appointment_status[])
    AND ends_at OPERATOR(pg_catalog.-) starts_at OPERATOR(pg_catalog.>) '1 day'::pg_catalog.interval;
COMMENT ON INDEX reflexo.appointments_calendar_active_idx IS 'Active appointments by calendar and start.';
COMMENT ON INDEX reflexo.appointments_user_active_idx IS 'Active appointments by location, therapist and start.';
COMMENT ON INDEX reflexo.appointments_long_active_idx IS 'Active appointments longer than one day.';

CREATE TABLE reflexo.closures (
  id           pg_catalog.int8 GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  location_id  pg_catalog.int8 NOT NULL REFERENCES reflexo.locations ON DELETE CASCADE,
  calendar_id  pg_catalog.int8,
  closed_from  pg_catalog.timestamp NOT NULL,
  closed_until pg_catalog.timestamp NOT NULL,
  reason       pg_catalog.text NOT NULL,
  created_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_at   pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT closures_calendar_fkey FOREIGN KEY (calendar_id, location_id)
    REFERENCES reflexo.calendars (id, location_id) ON DELETE CASCADE,
  CONSTRAINT closures_period_order CHECK (closed_until > closed_from),
  CONSTRAINT closures_reason_given CHECK (reason OPERATOR(pg_catalog.<>) '')
);
CREATE INDEX closures_location_until_idx ON reflexo.closures (location_id, closed_until);
COMMENT ON TABLE reflexo.closures IS
  'Holidays and other closures of a whole location or of one calendar, in local wall-clock time.';
COMMENT ON COLUMN reflexo.closures.id IS 'Local identifier.';
COMMENT ON COLUMN reflexo.closures.location_id IS 'The location closed.';
COMMENT ON COLUMN reflexo.closures.calendar_id IS 'The one calendar closed; NULL closes the whole location.';
COMMENT ON COLUMN reflexo.closures.closed_from IS 'Local time the closure starts (inclusive), in the location''s zone.';
COMMENT ON COLUMN reflexo.closures.closed_until IS 'Local time the closure ends (exclusive).';
COMMENT ON COLUMN reflexo.closures.reason IS 'Why, e.g. "Navidad".';
COMMENT ON COLUMN reflexo.closures.created_at IS 'When the row was created.';
COMMENT ON COLUMN reflexo.closures.updated_at IS 'When the row last changed.';
COMMENT ON INDEX reflexo.closures_location_until_idx IS 'Closures by location and end, for the guard.';

COMMENT ON SEQUENCE reflexo.locations_id_seq IS 'Identity of locations.';
COMMENT ON SEQUENCE reflexo.calendars_id_seq IS 'Identity of calendars.';
COMMENT ON SEQUENCE reflexo.appointments_id_seq IS 'Identity of appointments.';
COMMENT ON SEQUENCE reflexo.closures_id_seq IS 'Identity of closures.';

CREATE FUNCTION reflexo.add_closure(location_id pg_catalog.int8, first_day pg_catalog.date,
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
COMMENT ON FUNCTION reflexo.add_closure(pg_catalog.int8, pg_catalog.date, pg_catalog.text, pg_catalog.date, pg_catalog.int8) IS
  'Closes a location (or one calendar) for whole local days, first_day through last_day, e.g. a holiday.';

-- ------------------------------------------------------------- triggers

CREATE FUNCTION reflexo.appointment_guard() RETURNS trigger
  AS 'MODULE_PATHNAME', 'appointment_guard' LANGUAGE C;
COMMENT ON FUNCTION reflexo.appointment_guard() IS
  'Enforces the booking rules on appointments: calendar available (23503), duration and working hours '
  '(23514), capacity and therapist overlap (23P01, or 40001 when the rival committed after the snapshot). '
  'Race-free at every isolation level.';

CREATE TRIGGER appointments_guard
  BEFORE INSERT OR UPDATE ON reflexo.appointments
  FOR EACH ROW EXECUTE FUNCTION reflexo.appointment_guard();
COMMENT ON TRIGGER appointments_guard ON reflexo.appointments IS
  'Checks every booking before it is written; see reflexo.appointment_guard().';

CREATE FUNCTION reflexo.touch_updated_at() RETURNS trigger
  AS 'MODULE_PATHNAME', 'touch_updated_at' LANGUAGE C;
COMMENT ON FUNCTION reflexo.touch_updated_at() IS 'Sets updated_at to the transaction time on UPDATE.';

CREATE TRIGGER locations_touch BEFORE UPDATE ON reflexo.locations
  FOR EACH ROW EXECUTE FUNCTION reflexo.touch_updated_at();
CREATE TRIGGER calendars_touch BEFORE UPDATE ON reflexo.calendars
  FOR EACH ROW EXECUTE FUNCTION reflexo.touch_updated_at();
CREATE TRIGGER closures_touch BEFORE UPDATE ON reflexo.closures
  FOR EACH ROW EXECUTE FUNCTION reflexo.touch_updated_at();
COMMENT ON TRIGGER locations_touch ON reflexo.locations IS 'Maintains updated_at.';
COMMENT ON TRIGGER calendars_touch ON reflexo.calendars IS 'Maintains updated_at.';
COMMENT ON TRIGGER closures_touch ON reflexo.closures IS 'Maintains updated_at.';

-- ================================================================ sync core
-- Everything the daemon needs from the database happens here, so that no
-- code path can forget to sync and no webhook is applied twice.

CREATE TYPE reflexo.outbox_operation AS ENUM ('create', 'update', 'cancel', 'delete');
COMMENT ON TYPE reflexo.outbox_operation IS 'What a local change asks GHL to do.';
CREATE TYPE reflexo.outbox_state AS ENUM ('pending', 'leased', 'done', 'dead');
COMMENT ON TYPE reflexo.outbox_state IS
  'pending: waiting (maybe for a retry); leased: a daemon is pushing it; done: GHL has it; dead: gave up, see last_error.';
CREATE TYPE reflexo.history_operation AS ENUM ('insert', 'update', 'delete');
COMMENT ON TYPE reflexo.history_operation IS 'Kind of change recorded in the appointment history.';

-- ------------------------------------------------------------------ outbox

CREATE TABLE reflexo.outbox (
  id                 pg_catalog.int8 GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  appointment_id     pg_catalog.int8 NOT NULL,
  location_id        pg_catalog.int8 NOT NULL,
  operation          reflexo.outbox_operation NOT NULL,
  payload            pg_catalog.jsonb NOT NULL,
  ghl_appointment_id pg_catalog.text,
  state              reflexo.outbox_state NOT NULL DEFAULT 'pending',
  attempts           pg_catalog.int4 NOT NULL DEFAULT 0,
  next_attempt_at    pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  leased_until       pg_catalog.timestamptz,
  lease_owner        pg_catalog.text,
  last_error         pg_catalog.text,
  created_txid       pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
  created_at         pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_at         pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  completed_at       pg_catalog.timestamptz
);
CREATE INDEX outbox_due_idx ON reflexo.outbox (location_id, next_attempt_at, id)
  WHERE state OPERATOR(pg_catalog.=) 'pending';
CREATE INDEX outbox_lease_idx ON reflexo.outbox (leased_until)
  WHERE state OPERATOR(pg_catalog.=) 'leased';
CREATE INDEX outbox_open_idx ON reflexo.outbox (appointment_id, id)
  WHERE state OPERATOR(pg_catalog.<>) 'done';
CREATE INDEX outbox_completed_idx ON reflexo.outbox (completed_at)
  WHERE state OPERATOR(pg_catalog.=) 'done';
COMMENT ON TABLE reflexo.outbox IS
  'Transactional outbox: one row per local change to push to GHL, written by the appointments_outbox trigger. '
  'Rows of one appointment are pushed one at a time, in order. The truth; the NOTIFY is only a doorbell.';
COMMENT ON COLUMN reflexo.outbox.id IS 'Order of the changes.';
COMMENT ON COLUMN reflexo.outbox.appointment_id IS 'The appointment changed (it may since have been deleted).';
COMMENT ON COLUMN reflexo.outbox.location_id IS 'Its location (for per-location rate limits and tokens).';
COMMENT ON COLUMN reflexo.outbox.operation IS 'create, update, cancel or delete; collapsed within a transaction.';
COMMENT ON COLUMN reflexo.outbox.payload IS 'The appointment as the change left it (as it was, for a delete).';
COMMENT ON COLUMN reflexo.outbox.ghl_appointment_id IS 'GHL id, once known; filled in when an earlier create completes.';
COMMENT ON COLUMN reflexo.outbox.state IS 'pending, leased, done or dead.';
COMMENT ON COLUMN reflexo.outbox.attempts IS 'Claims so far; also the fencing token a daemon must present to finish.';
COMMENT ON COLUMN reflexo.outbox.next_attempt_at IS 'Not claimed before this time (retry backoff).';
COMMENT ON COLUMN reflexo.outbox.leased_until IS 'While leased: another daemon may reclaim the row after this time.';
COMMENT ON COLUMN reflexo.outbox.lease_owner IS 'Which daemon holds the lease, for operators.';
COMMENT ON COLUMN reflexo.outbox.last_error IS 'Why the latest attempt failed (GHL''s message for 4xx).';
COMMENT ON COLUMN reflexo.outbox.created_txid IS 'Transaction that wrote the row; changes in it collapse into this row.';
COMMENT ON COLUMN reflexo.outbox.created_at IS 'When the change was made.';
COMMENT ON COLUMN reflexo.outbox.updated_at IS 'When the row last changed.';
COMMENT ON COLUMN reflexo.outbox.completed_at IS 'When GHL acknowledged it.';
COMMENT ON INDEX reflexo.outbox_due_idx IS 'Pending rows of each location by due time, for claiming.';
COMMENT ON INDEX reflexo.outbox_lease_idx IS 'Leased rows by lease expiry, for reclaiming.';
COMMENT ON INDEX reflexo.outbox_open_idx IS 'Unfinished rows per appointment, for ordering and collapsing.';
COMMENT ON INDEX reflexo.outbox_completed_idx IS 'Finished rows by completion, for retention.';
COMMENT ON SEQUENCE reflexo.outbox_id_seq IS 'Identity of outbox rows: the order of changes.';

-- ----------------------------------------------------------------- history

CREATE TABLE reflexo.appointment_history (
  id             pg_catalog.int8 GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  appointment_id pg_catalog.int8 NOT NULL,
  location_id    pg_catalog.int8 NOT NULL,
  operation      reflexo.history_operation NOT NULL,
  origin         reflexo.origin NOT NULL,
  actor          pg_catalog.text NOT NULL,
  txid           pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
  changed_at     pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  old_values     pg_catalog.jsonb,
  new_values     pg_catalog.jsonb
);
CREATE INDEX appointment_history_appointment_idx ON reflexo.appointment_history (appointment_id, id);
CREATE INDEX appointment_history_changed_idx ON reflexo.appointment_history (changed_at);
COMMENT ON TABLE reflexo.appointment_history IS
  'Every business change of an appointment, local or from GHL: what changed, who, when, in which transaction.';
COMMENT ON COLUMN reflexo.appointment_history.id IS 'Order of the changes.';
COMMENT ON COLUMN reflexo.appointment_history.appointment_id IS 'The appointment.';
COMMENT ON COLUMN reflexo.appointment_history.location_id IS 'Its location.';
COMMENT ON COLUMN reflexo.appointment_history.operation IS 'insert, update or delete.';
COMMENT ON COLUMN reflexo.appointment_history.origin IS 'local, or ghl for changes applied from GHL.';
COMMENT ON COLUMN reflexo.appointment_history.actor IS
  'Who: the JWT subject through the API, else the database role; for GHL, what delivered the change.';
COMMENT ON COLUMN reflexo.appointment_history.txid IS 'The transaction.';
COMMENT ON COLUMN reflexo.appointment_history.changed_at IS 'When.';
COMMENT ON COLUMN reflexo.appointment_history.old_values IS 'Changed columns before (all columns for a delete; NULL for an insert).';
COMMENT ON COLUMN reflexo.appointment_history.new_values IS 'Changed columns after (all columns for an insert; NULL for a delete).';
COMMENT ON INDEX reflexo.appointment_history_appointment_idx IS 'History of one appointment.';
COMMENT ON INDEX reflexo.appointment_history_changed_idx IS 'History by time, for retention.';
COMMENT ON SEQUENCE reflexo.appointment_history_id_seq IS 'Identity of history rows.';

-- ----------------------------------------------------------- webhook inbox

CREATE TABLE reflexo.webhook_inbox (
  webhook_id         pg_catalog.text PRIMARY KEY,
  event_type         pg_catalog.text NOT NULL,
  ghl_location_id    pg_catalog.text,
  ghl_appointment_id pg_catalog.text,
  result             pg_catalog.text NOT NULL DEFAULT 'received',
  reason             pg_catalog.text,
  body               pg_catalog.jsonb,
  received_at        pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  applied_at         pg_catalog.timestamptz,
  CONSTRAINT webhook_inbox_result_known
    CHECK (result OPERATOR(pg_catalog.=) ANY ('{received,applied,stale,duplicate,ignored}'::pg_catalog.text[]))
);
CREATE INDEX webhook_inbox_ignored_idx ON reflexo.webhook_inbox (ghl_location_id, received_at)
  WHERE result OPERATOR(pg_catalog.=) 'ignored';
CREATE INDEX webhook_inbox_received_idx ON reflexo.webhook_inbox (received_at);
COMMENT ON TABLE reflexo.webhook_inbox IS
  'One row per GHL webhook ever applied, keyed by webhookId, written in the same transaction as its effect: '
  'a webhook is applied exactly once.';
COMMENT ON COLUMN reflexo.webhook_inbox.webhook_id IS 'GHL''s webhookId, the idempotency key.';
COMMENT ON COLUMN reflexo.webhook_inbox.event_type IS 'AppointmentCreate, AppointmentUpdate, AppointmentDelete, ...';
COMMENT ON COLUMN reflexo.webhook_inbox.ghl_location_id IS 'GHL location it was for.';
COMMENT ON COLUMN reflexo.webhook_inbox.ghl_appointment_id IS 'GHL appointment it was about.';
COMMENT ON COLUMN reflexo.webhook_inbox.result IS 'applied, stale, duplicate (an echo of our own change) or ignored.';
COMMENT ON COLUMN reflexo.webhook_inbox.reason IS 'Why it was not applied.';
COMMENT ON COLUMN reflexo.webhook_inbox.body IS
  'The body of an ignored webhook, kept to be applied once its calendar or location is known; NULL otherwise.';
COMMENT ON COLUMN reflexo.webhook_inbox.received_at IS 'When it first arrived.';
COMMENT ON COLUMN reflexo.webhook_inbox.applied_at IS 'When it was last (re)applied.';
COMMENT ON INDEX reflexo.webhook_inbox_ignored_idx IS 'Webhooks waiting for their calendar or location.';
COMMENT ON INDEX reflexo.webhook_inbox_received_idx IS 'Webhooks by arrival, for retention.';

-- ----------------------------------------------------------------- metrics

CREATE TABLE reflexo.ghl_operation_stats (
  bucket                   pg_catalog.timestamptz NOT NULL,
  operation                pg_catalog.text NOT NULL,
  success_count            pg_catalog.int8 NOT NULL DEFAULT 0,
  failed_count             pg_catalog.int8 NOT NULL DEFAULT 0,
  total_duration_ms        pg_catalog.float8 NOT NULL DEFAULT 0,
  retries                  pg_catalog.int8 NOT NULL DEFAULT 0,
  min_rate_limit_remaining pg_catalog.int4,
  PRIMARY KEY (bucket, operation)
);
COMMENT ON TABLE reflexo.ghl_operation_stats IS
  'GHL API calls aggregated per minute and operation: one row updated per call, never a scan of raw events.';
COMMENT ON COLUMN reflexo.ghl_operation_stats.bucket IS 'Start of the minute.';
COMMENT ON COLUMN reflexo.ghl_operation_stats.operation IS 'create_appointment, update_appointment, refresh_token, ...';
COMMENT ON COLUMN reflexo.ghl_operation_stats.success_count IS 'Calls that succeeded.';
COMMENT ON COLUMN reflexo.ghl_operation_stats.failed_count IS 'Calls that failed.';
COMMENT ON COLUMN reflexo.ghl_operation_stats.total_duration_ms IS 'Sum of call durations.';
COMMENT ON COLUMN reflexo.ghl_operation_stats.retries IS 'Calls that were a second or later attempt.';
COMMENT ON COLUMN reflexo.ghl_operation_stats.min_rate_limit_remaining IS 'Lowest X-RateLimit-Remaining seen.';

CREATE TABLE reflexo.webhook_stats (
  bucket     pg_catalog.timestamptz NOT NULL,
  event_type pg_catalog.text NOT NULL,
  result     pg_catalog.text NOT NULL,
  count      pg_catalog.int8 NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, event_type, result)
);
COMMENT ON TABLE reflexo.webhook_stats IS 'Webhooks per minute, event type and result (rejected ones reported by the daemon).';
COMMENT ON COLUMN reflexo.webhook_stats.bucket IS 'Start of the minute.';
COMMENT ON COLUMN reflexo.webhook_stats.event_type IS 'Appointment event type, or "other".';
COMMENT ON COLUMN reflexo.webhook_stats.result IS 'applied, stale, duplicate, ignored or rejected.';
COMMENT ON COLUMN reflexo.webhook_stats.count IS 'How many.';

-- ------------------------------------------------------------------ tokens

CREATE TABLE reflexo.ghl_tokens (
  location_id   pg_catalog.int8 PRIMARY KEY REFERENCES reflexo.locations ON DELETE CASCADE,
  kind          pg_catalog.text NOT NULL,
  access_token  pg_catalog.bytea NOT NULL,
  refresh_token pg_catalog.bytea,
  expires_at    pg_catalog.timestamptz,
  scope         pg_catalog.text,
  refreshed_at  pg_catalog.timestamptz,
  updated_at    pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT ghl_tokens_kind_known CHECK (kind OPERATOR(pg_catalog.=) ANY ('{oauth,private}'::pg_catalog.text[]))
);
COMMENT ON TABLE reflexo.ghl_tokens IS
  'GHL credentials per location, encrypted by reflexo-sync (AES-256-GCM, key from REFLEXO_TOKEN_KEY); '
  'the database never sees a token in clear.';
COMMENT ON COLUMN reflexo.ghl_tokens.location_id IS 'The location.';
COMMENT ON COLUMN reflexo.ghl_tokens.kind IS 'oauth (refreshable) or private (a Private Integration Token).';
COMMENT ON COLUMN reflexo.ghl_tokens.access_token IS 'Encrypted access token.';
COMMENT ON COLUMN reflexo.ghl_tokens.refresh_token IS 'Encrypted single-use refresh token; NULL for private tokens.';
COMMENT ON COLUMN reflexo.ghl_tokens.expires_at IS 'When the access token expires; NULL if it does not.';
COMMENT ON COLUMN reflexo.ghl_tokens.scope IS 'Granted scopes.';
COMMENT ON COLUMN reflexo.ghl_tokens.refreshed_at IS 'Last successful refresh.';
COMMENT ON COLUMN reflexo.ghl_tokens.updated_at IS 'When the row last changed.';

-- ---------------------------------------------------------------- triggers

-- Functions on hot paths are PL/pgSQL rather than SQL: a SQL function with a
-- SET clause is never inlined and is planned again at every call.
CREATE FUNCTION reflexo.current_actor() RETURNS pg_catalog.text
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF current_setting('reflexo.change_origin') = 'ghl' THEN
      RETURN 'ghl:' || coalesce(nullif(current_setting('reflexo.change_source'), ''), 'unknown');
    END IF;
    RETURN coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', session_user::text);
  END
  $$;
COMMENT ON FUNCTION reflexo.current_actor() IS
  'Who is changing data: the JWT subject (PostgREST), else the database role; "ghl:<source>" for changes from GHL.';

CREATE FUNCTION reflexo.row_changes(old_row pg_catalog.jsonb, new_row pg_catalog.jsonb,
                                    OUT old_values pg_catalog.jsonb, OUT new_values pg_catalog.jsonb)
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    bookkeeping CONSTANT text[] := '{updated_at,sync_state,local_changed_at,ghl_updated_at}';
  BEGIN
    IF old_row IS NULL OR new_row IS NULL THEN
      old_values := old_row;
      new_values := new_row;
      RETURN;
    END IF;
    SELECT jsonb_object_agg(o.key, o.value), jsonb_object_agg(o.key, new_row -> o.key)
      INTO old_values, new_values
      FROM jsonb_each(old_row) o
     WHERE (new_row -> o.key) IS DISTINCT FROM o.value AND o.key <> ALL (bookkeeping);
  END
  $$;
COMMENT ON FUNCTION reflexo.row_changes(pg_catalog.jsonb, pg_catalog.jsonb) IS
  'The keys whose values differ between two rows as JSON, before and after, leaving out sync bookkeeping '
  '(updated_at, sync_state, local_changed_at, ghl_updated_at) unless the row is new or gone.';

CREATE FUNCTION reflexo.appointment_outbox() RETURNS trigger
  AS 'MODULE_PATHNAME', 'appointment_outbox' LANGUAGE C;
COMMENT ON FUNCTION reflexo.appointment_outbox() IS
  'Writes each local business change of an appointment to reflexo.outbox (collapsed per transaction) '
  'and rings NOTIFY reflexo_outbox.';
CREATE TRIGGER appointments_outbox
  AFTER INSERT OR UPDATE OR DELETE ON reflexo.appointments
  FOR EACH ROW EXECUTE FUNCTION reflexo.appointment_outbox();
COMMENT ON TRIGGER appointments_outbox ON reflexo.appointments IS 'Queues local changes for GHL.';

CREATE FUNCTION reflexo.appointment_history_trigger() RETURNS trigger
  AS 'MODULE_PATHNAME', 'appointment_history_trigger' LANGUAGE C;
COMMENT ON FUNCTION reflexo.appointment_history_trigger() IS
  'Records each business change of an appointment in reflexo.appointment_history.';
CREATE TRIGGER appointments_history
  AFTER INSERT OR UPDATE OR DELETE ON reflexo.appointments
  FOR EACH ROW EXECUTE FUNCTION reflexo.appointment_history_trigger();
COMMENT ON TRIGGER appointments_history ON reflexo.appointments IS 'Keeps the audit trail.';

CREATE FUNCTION reflexo.validation_error_counts(OUT kind pg_catalog.text, OUT rejected pg_catalog.int8,
                                                OUT flagged pg_catalog.int8)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'validation_error_counts' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION reflexo.validation_error_counts() IS
  'Broken booking rules since the server started, by kind: bookings rejected and bookings stored flagged. '
  'NULL counts unless reflexo is in shared_preload_libraries.';

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
    ), claimed AS (
      UPDATE reflexo.outbox o
         SET state = 'leased', attempts = o.attempts + 1, leased_until = now() + claim_outbox.lease,
             lease_owner = claim_outbox.owner, updated_at = now()
        FROM due
       WHERE o.id = due.id
      RETURNING o.*
    )
    SELECT c.id, c.location_id, c.attempts, c.appointment_id, c.operation,
           CASE
             WHEN c.operation = 'delete' THEN CASE WHEN g.ghl_id IS NULL THEN 'skip' ELSE 'delete' END
             WHEN g.ghl_id IS NOT NULL THEN 'update'
             WHEN (r.row ->> 'status') IN ('cancelled', 'invalid') THEN 'skip'
             ELSE 'create'
           END,
           l.ghl_location_id, cal.ghl_calendar_id, g.ghl_id,
           r.row ->> 'contact_id', (r.row ->> 'starts_at')::timestamptz, (r.row ->> 'ends_at')::timestamptz,
           CASE WHEN c.operation = 'delete' THEN '{}'::jsonb
                ELSE jsonb_strip_nulls(jsonb_build_object(
                  -- the body of POST /calendars/events/appointments, or of PUT .../{eventId}
                  -- (no locationId or contactId); notes stay in the clinic
                  'calendarId', cal.ghl_calendar_id,
                  'locationId', CASE WHEN g.ghl_id IS NULL THEN l.ghl_location_id END,
                  'contactId', CASE WHEN g.ghl_id IS NULL THEN r.row ->> 'contact_id' END,
                  'startTime', reflexo.ghl_time((r.row ->> 'starts_at')::timestamptz, l.timezone),
                  'endTime', reflexo.ghl_time((r.row ->> 'ends_at')::timestamptz, l.timezone),
                  'title', nullif(r.row ->> 'title', ''),
                  'appointmentStatus', reflexo.status_to_ghl((r.row ->> 'status')::reflexo.appointment_status),
                  'assignedUserId', r.row ->> 'assigned_user_id'))
           END
    FROM claimed c
    LEFT JOIN reflexo.appointments a ON a.id = c.appointment_id
    CROSS JOIN LATERAL (SELECT CASE WHEN c.operation = 'delete' OR a.id IS NULL THEN c.payload
                                    ELSE to_jsonb(a) END AS row) r
    CROSS JOIN LATERAL (SELECT coalesce(a.ghl_appointment_id, c.ghl_appointment_id,
                                        c.payload ->> 'ghl_appointment_id') AS ghl_id) g
    JOIN reflexo.locations l ON l.id = c.location_id
    LEFT JOIN reflexo.calendars cal ON cal.id = (r.row ->> 'calendar_id')::int8
    ORDER BY c.id;
  END
  $$;
COMMENT ON FUNCTION reflexo.claim_outbox(pg_catalog.int4, pg_catalog.interval, pg_catalog.text, pg_catalog.int4, pg_catalog.jsonb) IS
  'Leases up to max_rows due outbox rows (FOR UPDATE SKIP LOCKED; expired leases are reclaimed) and returns them '
  'as jobs: per location at most its quota ({"<location id>": n}), else per_location, else max_rows. Never '
  'returns a row while an earlier row of the same appointment is unfinished. Call it in its own short '
  'transaction; push; then complete_outbox or fail_outbox.';

CREATE FUNCTION reflexo.complete_outbox(outbox_id pg_catalog.int8, attempt pg_catalog.int4,
                                        ghl_appointment_id pg_catalog.text DEFAULT NULL,
                                        remote_updated_at pg_catalog.timestamptz DEFAULT NULL)
  RETURNS pg_catalog.bool
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    done reflexo.outbox;
  BEGIN
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
    END IF;
    UPDATE reflexo.appointments a
       SET ghl_appointment_id = coalesce(complete_outbox.ghl_appointment_id, a.ghl_appointment_id),
           sync_state = CASE WHEN EXISTS (SELECT 1 FROM reflexo.outbox o
                                           WHERE o.appointment_id = a.id AND o.state <> 'done')
                             THEN 'pending' ELSE 'synced' END::reflexo.sync_state,
           -- GHL's v2 answers carry no dateUpdated: then the acknowledgement is GHL's latest
           -- version as far as we know, so reconciliation does not take our own push for news
           ghl_updated_at = greatest(a.ghl_updated_at, coalesce(complete_outbox.remote_updated_at, now()))
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
    SELECT make_interval(secs => least(extract(epoch FROM current_setting('reflexo.outbox_backoff_cap')::interval)::float8,
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
    IF failed.state = 'dead' THEN
      UPDATE reflexo.appointments SET sync_state = 'failed' WHERE id = failed.appointment_id;
    END IF;
    RETURN failed.state;
  END
  $$;
COMMENT ON FUNCTION reflexo.fail_outbox(pg_catalog.int8, pg_catalog.int4, pg_catalog.text, pg_catalog.text, pg_catalog.interval) IS
  'Records a failed push. retryable: pending again after reflexo.outbox_backoff (or retry_after, if longer) '
  'until reflexo.outbox_max_attempts; permanent: dead at once. Dead rows hold back later changes of the same '
  'appointment until requeued. Returns the new state, or NULL if the lease was lost.';

CREATE FUNCTION reflexo.requeue_outbox(outbox_id pg_catalog.int8 DEFAULT NULL) RETURNS pg_catalog.int4
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n int;
  BEGIN
    WITH revived AS (
      UPDATE reflexo.outbox o
         SET state = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
       WHERE o.state = 'dead' AND (requeue_outbox.outbox_id IS NULL OR o.id = requeue_outbox.outbox_id)
      RETURNING o.appointment_id
    ), marked AS (
      UPDATE reflexo.appointments a SET sync_state = 'pending'
       WHERE a.id IN (SELECT appointment_id FROM revived)
    )
    SELECT count(*) INTO n FROM revived;
    IF n > 0 THEN
      NOTIFY reflexo_outbox;
    END IF;
    RETURN n;
  END
  $$;
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
      NOTIFY reflexo_outbox;
    END IF;
    RETURN n;
  END
  $$;
COMMENT ON FUNCTION reflexo.wake_outbox(pg_catalog.int8) IS
  'Makes the location''s waiting rows due now (e.g. its credentials work again); returns how many.';

CREATE FUNCTION reflexo.finish_outbox(results pg_catalog.jsonb) RETURNS pg_catalog.int4
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    r jsonb;
    kept int := 0;
    ok bool;
  BEGIN
    FOR r IN SELECT value FROM jsonb_array_elements(results) LOOP
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
        ELSE
          RAISE EXCEPTION 'unknown outcome %', r ->> 'outcome' USING ERRCODE = 'invalid_parameter_value';
      END CASE;
      kept := kept + ok::int;
    END LOOP;
    RETURN kept;
  END
  $$;
COMMENT ON FUNCTION reflexo.finish_outbox(pg_catalog.jsonb) IS
  'Records many push results in one call: [{"outbox_id", "attempt", "outcome": done|retryable|permanent|release, '
  '"ghl_appointment_id", "remote_updated_at", "error", "retry_after_ms"}]. Returns how many leases were still held.';

-- ---------------------------------------------------------- GHL webhooks

CREATE FUNCTION reflexo.count_webhook(event_type pg_catalog.text, result pg_catalog.text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    INSERT INTO reflexo.webhook_stats AS s (bucket, event_type, result, count)
    VALUES (date_trunc('minute', now()),
            CASE WHEN count_webhook.event_type IN ('AppointmentCreate', 'AppointmentUpdate', 'AppointmentDelete')
                 THEN count_webhook.event_type ELSE 'other' END,
            count_webhook.result, 1)
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

-- Applies one appointment event; shared by apply_ghl_webhook and
-- retry_ignored_webhooks.  Runs with reflexo.change_origin = ghl.
CREATE FUNCTION reflexo.apply_ghl_event(body pg_catalog.jsonb, OUT result pg_catalog.text, OUT reason pg_catalog.text)
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
      -- the app was removed from the location: its tokens are void
      DELETE FROM reflexo.ghl_tokens t USING reflexo.locations l
       WHERE t.location_id = l.id AND l.ghl_location_id = body ->> 'locationId';
      result := CASE WHEN FOUND THEN 'applied' ELSE 'ignored' END;
      reason := CASE WHEN FOUND THEN 'credentials forgotten' ELSE 'no credentials for the location' END;
      PERFORM pg_notify('reflexo_credentials', coalesce(body ->> 'locationId', ''));
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

    -- GHL's clock for last-writer-wins: the appointment's dateUpdated, else the delivery time
    changed_at := coalesce(
      CASE WHEN appt ? 'dateUpdated' THEN reflexo.ghl_timestamp(appt ->> 'dateUpdated', loc.timezone, 'dateUpdated') END,
      CASE WHEN body ? 'timestamp' THEN reflexo.ghl_timestamp(body ->> 'timestamp', loc.timezone, 'timestamp') END,
      now());

    SELECT * INTO current FROM reflexo.appointments a WHERE a.ghl_appointment_id = ghl_id FOR UPDATE;
    IF current.id IS NOT NULL AND (changed_at <= current.ghl_updated_at OR changed_at <= current.local_changed_at) THEN
      result := 'stale';
      reason := 'a newer change of this appointment is already here';
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
           body = CASE WHEN outcome.result = 'ignored' AND event LIKE 'Appointment%' THEN apply_ghl_webhook.body END
     WHERE webhook_id = hook_id;
    PERFORM reflexo.count_webhook(event, outcome.result);
    RETURN outcome.result;
  END
  $$;
COMMENT ON FUNCTION reflexo.apply_ghl_webhook(pg_catalog.jsonb) IS
  'Applies one GHL webhook body exactly once (keyed by webhookId) and returns applied, duplicate (seen before, '
  'or an echo of our own change), stale (older than what is here: last writer wins on dateUpdated) or ignored '
  '(unknown calendar or location: kept and applied after the next calendar sync). AppointmentDelete cancels. '
  'Accepts GHL''s "appointment" shape and the seed guide''s "data" shape. A malformed body raises 22023.';

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
                                          open_hours, slot_duration)
      VALUES (loc.id, item ->> 'id', item ->> 'name', coalesce(item ->> 'description', ''),
              coalesce((item ->> 'isActive')::bool, true),
              greatest(1, least(1000, coalesce((item ->> 'appoinmentPerSlot')::numeric::int, 1))),
              CASE WHEN jsonb_typeof(item -> 'openHours') = 'array' AND jsonb_array_length(item -> 'openHours') > 0
                   THEN (item -> 'openHours')::reflexo.open_hours END,
              make_interval(mins => greatest(1, least(1440,
                coalesce((item ->> 'slotDuration')::numeric, 30)
                * CASE item ->> 'slotDurationUnit' WHEN 'hours' THEN 60 ELSE 1 END))::int))
      ON CONFLICT ON CONSTRAINT calendars_ghl_calendar_id_key DO UPDATE
        SET name = EXCLUDED.name, description = EXCLUDED.description, is_active = EXCLUDED.is_active,
            capacity = EXCLUDED.capacity, open_hours = EXCLUDED.open_hours, slot_duration = EXCLUDED.slot_duration
      RETURNING * INTO after;
      calendar_id := after.id;
      ghl_calendar_id := after.ghl_calendar_id;
      action := CASE WHEN before.id IS NULL THEN 'created'
                     WHEN (before.name, before.description, before.is_active, before.capacity, before.slot_duration)
                          IS DISTINCT FROM (after.name, after.description, after.is_active, after.capacity,
                                            after.slot_duration)
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
  'appoinmentPerSlot -> capacity, slotDuration -> slot_duration). With complete, calendars missing from the list '
  'are deactivated, never deleted. Then applies webhooks that were waiting for these calendars.';

-- ------------------------------------------------------ metrics and health

CREATE FUNCTION reflexo.record_ghl_operation(operation pg_catalog.text, success pg_catalog.bool,
                                             duration_ms pg_catalog.float8, attempt pg_catalog.int4 DEFAULT 1,
                                             rate_limit_remaining pg_catalog.int4 DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    INSERT INTO reflexo.ghl_operation_stats AS s
      (bucket, operation, success_count, failed_count, total_duration_ms, retries, min_rate_limit_remaining)
    VALUES (date_trunc('minute', now()), record_ghl_operation.operation, success::int, (NOT success)::int,
            greatest(duration_ms, 0), (attempt > 1)::int, rate_limit_remaining)
    ON CONFLICT ON CONSTRAINT ghl_operation_stats_pkey DO UPDATE
      SET success_count = s.success_count + EXCLUDED.success_count,
          failed_count = s.failed_count + EXCLUDED.failed_count,
          total_duration_ms = s.total_duration_ms + EXCLUDED.total_duration_ms,
          retries = s.retries + EXCLUDED.retries,
          min_rate_limit_remaining = least(s.min_rate_limit_remaining, EXCLUDED.min_rate_limit_remaining);
  END
  $$;
COMMENT ON FUNCTION reflexo.record_ghl_operation(pg_catalog.text, pg_catalog.bool, pg_catalog.float8, pg_catalog.int4, pg_catalog.int4) IS
  'Counts one GHL API call in the per-minute statistics: operation, outcome, duration, attempt number and the '
  'X-RateLimit-Remaining it reported.';

CREATE FUNCTION reflexo.record_ghl_operations(operations pg_catalog.jsonb) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    o jsonb;
  BEGIN
    FOR o IN SELECT value FROM jsonb_array_elements(operations) LOOP
      PERFORM reflexo.record_ghl_operation(o ->> 'operation', (o ->> 'success')::bool,
                                           (o ->> 'duration_ms')::float8, coalesce((o ->> 'attempt')::int, 1),
                                           (o ->> 'rate_limit_remaining')::int);
    END LOOP;
  END
  $$;
COMMENT ON FUNCTION reflexo.record_ghl_operations(pg_catalog.jsonb) IS
  'record_ghl_operation for a batch: [{"operation", "success", "duration_ms", "attempt", "rate_limit_remaining"}].';

CREATE FUNCTION reflexo.metrics_ghl(since pg_catalog.interval DEFAULT '24 hours') RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT coalesce(jsonb_object_agg(operation, jsonb_build_object(
             'success_count', ok, 'failed_count', bad, 'total_count', ok + bad,
             'success_rate', round(100.0 * ok / nullif(ok + bad, 0), 2),
             'avg_duration_ms', round((ms / nullif(ok + bad, 0))::numeric, 2))), '{}')
    FROM (SELECT operation, sum(success_count) AS ok, sum(failed_count) AS bad, sum(total_duration_ms) AS ms
            FROM reflexo.ghl_operation_stats
           WHERE bucket >= date_trunc('minute', now() - since)
           GROUP BY operation) per_operation
  $$;
COMMENT ON FUNCTION reflexo.metrics_ghl(pg_catalog.interval) IS
  'GHL API calls over the period, per operation: success_count, failed_count, total_count, success_rate (%), '
  'avg_duration_ms.';

CREATE FUNCTION reflexo.metrics_webhooks(since pg_catalog.interval DEFAULT '24 hours') RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT coalesce(jsonb_object_agg(event_type, jsonb_build_object(
             'success_count', ok, 'failed_count', bad, 'total_count', ok + bad,
             'success_rate', round(100.0 * ok / nullif(ok + bad, 0), 2))), '{}')
    FROM (SELECT event_type,
                 coalesce(sum(count) FILTER (WHERE result IN ('applied', 'duplicate', 'stale')), 0) AS ok,
                 coalesce(sum(count) FILTER (WHERE result IN ('ignored', 'rejected')), 0) AS bad
            FROM reflexo.webhook_stats
           WHERE bucket >= date_trunc('minute', now() - since)
           GROUP BY event_type) per_event
  $$;
COMMENT ON FUNCTION reflexo.metrics_webhooks(pg_catalog.interval) IS
  'Webhooks over the period, per event type. applied, duplicate and stale count as successes; ignored '
  '(unknown calendar or location) and rejected (bad signature or body) as failures.';

CREATE FUNCTION reflexo.metrics(since pg_catalog.interval DEFAULT '24 hours') RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    WITH ghl AS (SELECT reflexo.metrics_ghl(since) AS m),
         hooks AS (SELECT reflexo.metrics_webhooks(since) AS m),
         rates AS (
           SELECT coalesce(round(100.0 * (SELECT sum((v ->> 'success_count')::numeric) FROM jsonb_each(ghl.m) e(k, v))
                                 / nullif((SELECT sum((v ->> 'total_count')::numeric) FROM jsonb_each(ghl.m) e(k, v)), 0),
                                 2), 100.0) AS ghl_rate,
                  coalesce(round(100.0 * (SELECT sum((v ->> 'success_count')::numeric) FROM jsonb_each(hooks.m) e(k, v))
                                 / nullif((SELECT sum((v ->> 'total_count')::numeric) FROM jsonb_each(hooks.m) e(k, v)), 0),
                                 2), 100.0) AS hook_rate
           FROM ghl, hooks)
    SELECT jsonb_build_object(
      'ghl_operations', ghl.m,
      'webhooks', hooks.m,
      'system_health', jsonb_build_object(
        'ghl_health_percentage', rates.ghl_rate,
        'webhook_health_percentage', rates.hook_rate,
        'overall_health', round((rates.ghl_rate + rates.hook_rate) / 2, 2)))
    FROM ghl, hooks, rates
  $$;
COMMENT ON FUNCTION reflexo.metrics(pg_catalog.interval) IS
  'The seed guide''s metrics document: ghl_operations, webhooks and system_health (success percentages; '
  'overall_health is their mean; 100 when there was nothing to count), over the period (default 24 hours).';

CREATE FUNCTION reflexo.health() RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT jsonb_build_object(
      'outbox', (SELECT jsonb_build_object(
                   'depth', count(*) FILTER (WHERE state IN ('pending', 'leased')),
                   'pending', count(*) FILTER (WHERE state = 'pending'),
                   'leased', count(*) FILTER (WHERE state = 'leased'),
                   'dead', count(*) FILTER (WHERE state = 'dead'),
                   'oldest_pending_age_seconds',
                     round(extract(epoch FROM now() - min(created_at) FILTER (WHERE state IN ('pending', 'leased'))), 3),
                   'last_push_at', (SELECT max(completed_at) FROM reflexo.outbox WHERE state = 'done'))
                 FROM reflexo.outbox WHERE state <> 'done'),
      'webhooks', jsonb_build_object(
                   'last_received_at', (SELECT max(received_at) FROM reflexo.webhook_inbox),
                   'last_applied_at', (SELECT max(applied_at) FROM reflexo.webhook_inbox WHERE result = 'applied'),
                   'waiting', (SELECT count(*) FROM reflexo.webhook_inbox WHERE result = 'ignored' AND body IS NOT NULL)),
      'tokens', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'location', l.ghl_location_id, 'kind', t.kind, 'expires_at', t.expires_at,
                   'expires_in_seconds', round(extract(epoch FROM t.expires_at - now())))
                   ORDER BY l.ghl_location_id), '[]')
                 FROM reflexo.ghl_tokens t JOIN reflexo.locations l ON l.id = t.location_id),
      'validation_errors', (SELECT jsonb_object_agg(kind, jsonb_build_object('rejected', rejected, 'flagged', flagged))
                            FROM reflexo.validation_error_counts()))
  $$;
COMMENT ON FUNCTION reflexo.health() IS
  'Sync health: outbox depth, oldest pending age, dead rows, last push; last webhook; token expiry per location; '
  'broken-rule counts.';

CREATE FUNCTION reflexo.prune(keep pg_catalog.interval DEFAULT '30 days',
                              keep_history pg_catalog.interval DEFAULT '2 years')
  RETURNS pg_catalog.jsonb
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    outbox_rows int; inbox_rows int; op_rows int; hook_rows int; history_rows int;
  BEGIN
    IF keep < '1 day' THEN
      RAISE EXCEPTION 'keep must be at least one day'
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'The webhook inbox must outlive GHL''s retries, or a retried webhook would apply twice.';
    END IF;
    DELETE FROM reflexo.outbox WHERE state = 'done' AND completed_at < now() - keep;
    GET DIAGNOSTICS outbox_rows = ROW_COUNT;
    DELETE FROM reflexo.webhook_inbox WHERE received_at < now() - keep;
    GET DIAGNOSTICS inbox_rows = ROW_COUNT;
    DELETE FROM reflexo.ghl_operation_stats WHERE bucket < now() - keep;
    GET DIAGNOSTICS op_rows = ROW_COUNT;
    DELETE FROM reflexo.webhook_stats WHERE bucket < now() - keep;
    GET DIAGNOSTICS hook_rows = ROW_COUNT;
    DELETE FROM reflexo.appointment_history WHERE changed_at < now() - keep_history;
    GET DIAGNOSTICS history_rows = ROW_COUNT;
    RETURN jsonb_build_object('outbox', outbox_rows, 'webhook_inbox', inbox_rows, 'ghl_operation_stats', op_rows,
                              'webhook_stats', hook_rows, 'appointment_history', history_rows);
  END
  $$;
COMMENT ON FUNCTION reflexo.prune(pg_catalog.interval, pg_catalog.interval) IS
  'Retention: deletes finished outbox rows, inbox rows and statistics older than keep (default 30 days), and '
  'history older than keep_history (default 2 years). reflexo-sync calls it hourly. Returns rows deleted per table.';

CREATE FUNCTION reflexo.sync_status(minutes pg_catalog.int4 DEFAULT 60) RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT jsonb_build_object(
      'health', reflexo.health(),
      'metrics', reflexo.metrics(make_interval(mins => minutes)),
      -- one point per minute, oldest first, zeros included, for the status page's chart
      'series', (SELECT jsonb_agg(jsonb_build_object(
                   'minute', m.minute,
                   'pushed', coalesce(g.ok, 0), 'push_failures', coalesce(g.bad, 0),
                   'webhooks', coalesce(w.n, 0)) ORDER BY m.minute)
                 FROM generate_series(date_trunc('minute', now()) - make_interval(mins => minutes - 1),
                                      date_trunc('minute', now()), '1 minute') m(minute)
                 LEFT JOIN (SELECT bucket, sum(success_count) AS ok, sum(failed_count) AS bad
                              FROM reflexo.ghl_operation_stats GROUP BY bucket) g ON g.bucket = m.minute
                 LEFT JOIN (SELECT bucket, sum(count) AS n FROM reflexo.webhook_stats GROUP BY bucket) w
                        ON w.bucket = m.minute),
      -- what failed lately: ids and GHL's message, never the appointment's content
      'recent_failures', (SELECT coalesce(jsonb_agg(f ORDER BY f.updated_at DESC), '[]')
                          FROM (SELECT o.id AS outbox_id, o.appointment_id, o.operation, o.state, o.attempts,
                                       o.last_error, o.updated_at
                                  FROM reflexo.outbox o
                                 WHERE o.last_error IS NOT NULL AND o.state IN ('pending', 'dead')
                                 ORDER BY o.updated_at DESC LIMIT 20) f))
  $$;
COMMENT ON FUNCTION reflexo.sync_status(pg_catalog.int4) IS
  'What the status page shows: health(), metrics() over the last minutes, a per-minute series of pushes, '
  'failures and webhooks, and the 20 latest failing outbox rows (ids, operation, GHL''s message).';

-- --------------------------------------------------------- GHL credentials
-- reflexo-sync keeps each location's tokens here, encrypted before they
-- reach the database; these functions are all it needs to read and write them.

CREATE FUNCTION reflexo.ghl_credentials(ghl_location_id pg_catalog.text,
                                        OUT location_id pg_catalog.int8, OUT kind pg_catalog.text,
                                        OUT access_token pg_catalog.bytea, OUT refresh_token pg_catalog.bytea,
                                        OUT expires_at pg_catalog.timestamptz)
  RETURNS SETOF record
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT l.id, t.kind, t.access_token, t.refresh_token, t.expires_at
      FROM reflexo.locations l LEFT JOIN reflexo.ghl_tokens t ON t.location_id = l.id
     WHERE l.ghl_location_id = ghl_credentials.ghl_location_id
  $$;
COMMENT ON FUNCTION reflexo.ghl_credentials(pg_catalog.text) IS
  'The location''s id and its stored (encrypted) GHL credentials; no row if the location is unknown.';

CREATE FUNCTION reflexo.save_ghl_credentials(ghl_location_id pg_catalog.text, kind pg_catalog.text,
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
    PERFORM pg_notify('reflexo_credentials', save_ghl_credentials.ghl_location_id);
  END
  $$;
COMMENT ON FUNCTION reflexo.save_ghl_credentials(pg_catalog.text, pg_catalog.text, pg_catalog.bytea, pg_catalog.bytea, pg_catalog.timestamptz, pg_catalog.text, pg_catalog.bool) IS
  'Stores a location''s (encrypted) GHL credentials, replacing what was there, and tells running daemons '
  '(NOTIFY reflexo_credentials, payload: the GHL location id).';

CREATE FUNCTION reflexo.ensure_location(ghl_location_id pg_catalog.text, name pg_catalog.text DEFAULT NULL,
                                        timezone pg_catalog.text DEFAULT 'America/Lima')
  RETURNS pg_catalog.int8
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    loc int8;
  BEGIN
    INSERT INTO reflexo.locations (ghl_location_id, name, timezone)
    VALUES (ensure_location.ghl_location_id, coalesce(ensure_location.name, ensure_location.ghl_location_id),
            ensure_location.timezone)
    ON CONFLICT ON CONSTRAINT locations_ghl_location_id_key DO NOTHING;
    SELECT id INTO loc FROM reflexo.locations l WHERE l.ghl_location_id = ensure_location.ghl_location_id;
    RETURN loc;
  END
  $$;
COMMENT ON FUNCTION reflexo.ensure_location(pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
  'The location''s id, adding it (named after its GHL id, in the given zone) if it is not there yet.';

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
                                             window_end pg_catalog.timestamptz, events pg_catalog.jsonb)
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
    --    or an event removed in GHL without a webhook): pushed again as new
    WITH missing AS (
      UPDATE reflexo.appointments a SET ghl_appointment_id = NULL, sync_state = 'pending'
       WHERE a.calendar_id = cal.id AND a.ghl_appointment_id IS NOT NULL
         AND a.starts_at >= window_start AND a.starts_at < window_end
         AND a.status NOT IN ('cancelled', 'invalid') AND a.sync_state = 'synced'
         AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(events) g WHERE g.value ->> 'id' = a.ghl_appointment_id)
         AND NOT EXISTS (SELECT 1 FROM reflexo.outbox o WHERE o.appointment_id = a.id AND o.state <> 'done')
      RETURNING a.*
    )
    INSERT INTO reflexo.outbox (appointment_id, location_id, operation, payload)
    SELECT m.id, m.location_id, 'create', to_jsonb(m) FROM missing m;
    GET DIAGNOSTICS pushed = ROW_COUNT;
    IF pushed > 0 THEN
      NOTIFY reflexo_outbox;
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
COMMENT ON FUNCTION reflexo.reconcile_ghl_events(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.jsonb) IS
  'Repairs drift between a GHL calendar''s complete event list over a window and this database: applies GHL '
  'changes never received (as webhooks), pushes again local appointments GHL does not have, and reports '
  'duplicate bookings in GHL. Returns {calendar, events, applied, pushed_again, duplicates}.';

-- ================================================================ API: roles, users, tokens
--
-- PostgREST logs in as reflexo_authenticator and, per request, switches to
-- the role named in the JWT (SET LOCAL ROLE) after putting the verified
-- claims in request.jwt.claims.  The api schema is all those roles see:
--
--   reflexo_anon    api.login and api.refresh only
--   reflexo_staff   the appointments, calendars and settings of its own
--                   locations (the JWT's location_ids)
--   reflexo_admin   everything in api, users included
--   reflexo_sync    what reflexo-sync calls in schema reflexo, nothing else
--
-- None of them has any right on the core tables.  The api views belong to
-- reflexo_api, a role that cannot log in; row-level security on the core
-- tables lets reflexo_api see a location's rows only when the requesting
-- role may.  Roles are cluster-wide, so they are created only if missing.

DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY '{reflexo_anon,reflexo_staff,reflexo_admin,reflexo_sync,reflexo_api}'::text[] LOOP
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'reflexo_authenticator') THEN
    CREATE ROLE reflexo_authenticator LOGIN NOINHERIT;
  END IF;
END
$$;
GRANT reflexo_anon, reflexo_staff, reflexo_admin TO reflexo_authenticator;

CREATE SCHEMA api;
COMMENT ON SCHEMA api IS
  'The HTTP surface of Reflexo (PostgREST exposes this schema): the seed service''s endpoints as views and functions.';
GRANT USAGE ON SCHEMA api TO reflexo_anon, reflexo_staff, reflexo_admin, reflexo_api;

-- ---------------------------------------------------------------- who is asking

-- Who an API request is (extension/api_identity.c).  The requesting role is
-- what SET ROLE chose, which SECURITY DEFINER functions do not change, else
-- the login.  In C: each policy evaluates them once per statement.
CREATE FUNCTION reflexo.api_claims() RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT COALESCE(NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb, '{}') $$;
COMMENT ON FUNCTION reflexo.api_claims() IS 'The verified JWT claims of the current PostgREST request, or {}.';

CREATE FUNCTION reflexo.api_is_admin() RETURNS pg_catalog.bool
  LANGUAGE c STABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_api_is_admin';
COMMENT ON FUNCTION reflexo.api_is_admin() IS
  'Whether the requesting role is reflexo_admin (or a superuser): it sees every location.';

CREATE FUNCTION reflexo.api_location_ids() RETURNS pg_catalog.int8[]
  LANGUAGE c STABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_api_location_ids';
COMMENT ON FUNCTION reflexo.api_location_ids() IS
  'Locations (reflexo.locations.id) the requesting staff member works in: the JWT claim location_ids.';

-- Every location the request may see, as one array: the big table's policy
-- is then a plain "location_id = ANY (...)" that an index can serve (an OR
-- with "is admin" could only be a filter over every row).
CREATE FUNCTION reflexo.api_visible_location_ids() RETURNS pg_catalog.int8[]
  LANGUAGE c STABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_api_visible_location_ids';
COMMENT ON FUNCTION reflexo.api_visible_location_ids() IS
  'Locations the requesting role may see: every one for admins, the JWT''s location_ids for staff.';

-- ---------------------------------------------------------------- row-level security
-- The sub-selects make each helper an init plan, evaluated once per query.
-- The small tables keep the admin test as an OR, so that an admin's new
-- location is visible in the same statement (RETURNING).

ALTER TABLE reflexo.locations ENABLE ROW LEVEL SECURITY;
ALTER TABLE reflexo.calendars ENABLE ROW LEVEL SECURITY;
ALTER TABLE reflexo.appointments ENABLE ROW LEVEL SECURITY;

CREATE POLICY api_by_location ON reflexo.locations TO reflexo_api
  USING ((SELECT reflexo.api_is_admin()) OR id = ANY (COALESCE((SELECT reflexo.api_location_ids()), '{}')))
  WITH CHECK ((SELECT reflexo.api_is_admin()));
CREATE POLICY api_by_location ON reflexo.calendars TO reflexo_api
  USING ((SELECT reflexo.api_is_admin()) OR location_id = ANY (COALESCE((SELECT reflexo.api_location_ids()), '{}')))
  WITH CHECK ((SELECT reflexo.api_is_admin()) OR location_id = ANY (COALESCE((SELECT reflexo.api_location_ids()), '{}')));
CREATE POLICY api_by_location ON reflexo.appointments TO reflexo_api
  USING (location_id = ANY (COALESCE((SELECT reflexo.api_visible_location_ids()), '{}')))
  WITH CHECK (location_id = ANY (COALESCE((SELECT reflexo.api_visible_location_ids()), '{}')));
CREATE POLICY sync_reads ON reflexo.locations FOR SELECT TO reflexo_sync USING (true);
CREATE POLICY sync_reads ON reflexo.calendars FOR SELECT TO reflexo_sync USING (true);
COMMENT ON POLICY api_by_location ON reflexo.locations IS
  'API requests see their own locations (admins all); only admins add or change locations.';
COMMENT ON POLICY api_by_location ON reflexo.calendars IS 'API requests see the calendars of their locations.';
COMMENT ON POLICY api_by_location ON reflexo.appointments IS
  'API requests see and book appointments of their locations only.';
COMMENT ON POLICY sync_reads ON reflexo.locations IS 'reflexo-sync lists every location.';
COMMENT ON POLICY sync_reads ON reflexo.calendars IS 'reflexo-sync lists every calendar.';

GRANT USAGE ON SCHEMA reflexo TO reflexo_api, reflexo_sync;
GRANT SELECT, INSERT, UPDATE, DELETE ON reflexo.locations TO reflexo_api;
GRANT SELECT, UPDATE ON reflexo.calendars TO reflexo_api;
GRANT SELECT, INSERT, UPDATE ON reflexo.appointments TO reflexo_api;

-- ---------------------------------------------------------------- users

CREATE TYPE reflexo.user_role AS ENUM ('staff', 'admin');
COMMENT ON TYPE reflexo.user_role IS 'What an API user may do: staff (own locations) or admin (everything).';

CREATE TABLE reflexo.users (
  id             pg_catalog.int8 GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  username       pg_catalog.text NOT NULL,
  password_hash  pg_catalog.text NOT NULL,
  role           reflexo.user_role NOT NULL DEFAULT 'staff',
  location_ids   pg_catalog.int8[] NOT NULL DEFAULT '{}',
  is_active      pg_catalog.bool NOT NULL DEFAULT true,
  token_version  pg_catalog.int4 NOT NULL DEFAULT 1,
  failed_logins  pg_catalog.int4 NOT NULL DEFAULT 0,
  locked_until   pg_catalog.timestamptz,
  last_login_at  pg_catalog.timestamptz,
  created_at     pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_at     pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT users_username_shape CHECK (username ~ '^[A-Za-z0-9_.@+-]{1,150}$')
);
CREATE UNIQUE INDEX users_username_key ON reflexo.users (pg_catalog.lower(username));
COMMENT ON TABLE reflexo.users IS
  'People who log in through api.login. Passwords are PBKDF2-SHA256 hashes in Django''s format.';
COMMENT ON SEQUENCE reflexo.users_id_seq IS 'Identity of users.';
COMMENT ON COLUMN reflexo.users.id IS 'Identity; the JWT claim uid.';
COMMENT ON COLUMN reflexo.users.username IS 'Login name (the JWT claim sub); unique regardless of case.';
COMMENT ON COLUMN reflexo.users.password_hash IS 'pbkdf2_sha256$<iterations>$<salt>$<key>, as Django stores it.';
COMMENT ON COLUMN reflexo.users.role IS 'staff or admin: the JWT role reflexo_staff or reflexo_admin.';
COMMENT ON COLUMN reflexo.users.is_active IS 'Inactive users cannot log in or refresh.';
COMMENT ON COLUMN reflexo.users.last_login_at IS 'Time of the last successful login.';
COMMENT ON COLUMN reflexo.users.created_at IS 'When the user was added.';
COMMENT ON COLUMN reflexo.users.updated_at IS 'When an admin last changed the user.';
COMMENT ON COLUMN reflexo.users.location_ids IS 'Locations a staff user works in (the JWT claim location_ids).';
COMMENT ON COLUMN reflexo.users.token_version IS
  'Bumped when the password, role, locations or activity change: older refresh tokens stop working.';
COMMENT ON COLUMN reflexo.users.failed_logins IS 'Failed logins in a row; reflexo.login_max_failures of them lock the user.';
COMMENT ON COLUMN reflexo.users.locked_until IS 'Logins are refused until then (brute-force protection).';
COMMENT ON INDEX reflexo.users_username_key IS 'Usernames are unique regardless of case.';

CREATE FUNCTION reflexo.password_hash(password pg_catalog.text,
                                      iterations pg_catalog.int4 DEFAULT 600000) RETURNS pg_catalog.text
  LANGUAGE c VOLATILE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_password_hash';
COMMENT ON FUNCTION reflexo.password_hash(pg_catalog.text, pg_catalog.int4) IS
  'A PBKDF2-SHA256 hash of password in Django''s format, with a random salt.';
CREATE FUNCTION reflexo.password_verify(password pg_catalog.text, hash pg_catalog.text) RETURNS pg_catalog.bool
  LANGUAGE c VOLATILE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_password_verify';
COMMENT ON FUNCTION reflexo.password_verify(pg_catalog.text, pg_catalog.text) IS
  'Whether password matches hash (constant-time comparison; a malformed hash never matches).';
CREATE FUNCTION reflexo.jwt_sign(claims pg_catalog.jsonb) RETURNS pg_catalog.text
  LANGUAGE c STABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_jwt_sign';
COMMENT ON FUNCTION reflexo.jwt_sign(pg_catalog.jsonb) IS 'An HS256 JWT of claims, signed with reflexo.jwt_secret.';
CREATE FUNCTION reflexo.jwt_verify(token pg_catalog.text) RETURNS pg_catalog.jsonb
  LANGUAGE c STABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'reflexo_jwt_verify';
COMMENT ON FUNCTION reflexo.jwt_verify(pg_catalog.text) IS
  'The claims of an HS256 JWT signed with reflexo.jwt_secret, or NULL; expiry is the caller''s to check.';

CREATE FUNCTION reflexo.setting_int(name pg_catalog.text, fallback pg_catalog.int4) RETURNS pg_catalog.int4
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT COALESCE(NULLIF(pg_catalog.current_setting(name, true), '')::pg_catalog.int4, fallback) $$;
COMMENT ON FUNCTION reflexo.setting_int(pg_catalog.text, pg_catalog.int4) IS
  'An integer setting, or fallback while the module has not defined it yet in this session.';

-- The token pair of a user.  Refresh tokens carry the anonymous role, so
-- PostgREST never accepts one in place of an access token.
CREATE FUNCTION reflexo.issue_tokens(u reflexo.users) RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    now_s pg_catalog.int8 := pg_catalog.floor(extract(epoch FROM pg_catalog.now()));
    access_ttl pg_catalog.int4 := reflexo.setting_int('reflexo.jwt_access_seconds', 3600);
    refresh_ttl pg_catalog.int4 := reflexo.setting_int('reflexo.jwt_refresh_seconds', 604800);
  BEGIN
    RETURN pg_catalog.json_build_object(
      'access', reflexo.jwt_sign(pg_catalog.jsonb_build_object(
          'role', 'reflexo_' || u.role, 'sub', u.username, 'uid', u.id, 'typ', 'access',
          'location_ids', pg_catalog.to_jsonb(u.location_ids), 'ver', u.token_version,
          'iat', now_s, 'exp', now_s + access_ttl)),
      'refresh', reflexo.jwt_sign(pg_catalog.jsonb_build_object(
          'role', 'reflexo_anon', 'sub', u.username, 'uid', u.id, 'typ', 'refresh', 'ver', u.token_version,
          'iat', now_s, 'exp', now_s + refresh_ttl)),
      'token_type', 'Bearer',
      'expires_in', access_ttl);
  END
  $$;
COMMENT ON FUNCTION reflexo.issue_tokens(reflexo.users) IS
  'A user''s {access, refresh} JWT pair: access carries role, sub, location_ids and exp.';

-- Failures are answered, not raised, so that counting them commits; PostgREST
-- turns response.status into the HTTP status.
CREATE FUNCTION reflexo.api_refusal(status pg_catalog.int4, code pg_catalog.text, message pg_catalog.text,
                                    retry_after pg_catalog.int4 DEFAULT NULL) RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    PERFORM pg_catalog.set_config('response.status', status::text, true);
    IF retry_after IS NOT NULL THEN
      PERFORM pg_catalog.set_config('response.headers',
        pg_catalog.json_build_array(pg_catalog.json_build_object('Retry-After', retry_after::text))::text, true);
    END IF;
    RETURN pg_catalog.json_build_object('error', code, 'message', message);
  END
  $$;
COMMENT ON FUNCTION reflexo.api_refusal(pg_catalog.int4, pg_catalog.text, pg_catalog.text, pg_catalog.int4) IS
  'An error answer of api.login/api.refresh: HTTP status through PostgREST''s response.status, and a JSON body.';

CREATE FUNCTION api.login(username pg_catalog.text, password pg_catalog.text) RETURNS pg_catalog.json
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
    IF u.locked_until > pg_catalog.now() THEN
      RETURN reflexo.api_refusal(429, 'locked', 'Too many failed logins; try again later.',
        pg_catalog.ceil(extract(epoch FROM u.locked_until - pg_catalog.now()))::pg_catalog.int4);
    END IF;
    ok := reflexo.password_verify(COALESCE(password, ''), COALESCE(u.password_hash, dummy))
          AND u.id IS NOT NULL AND u.is_active;
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
  'POST /rpc/login {username, password} → {access, refresh}; 401 on a wrong password, 429 while locked out.';

CREATE FUNCTION api.refresh(refresh pg_catalog.text) RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    claims pg_catalog.jsonb := reflexo.jwt_verify(COALESCE(refresh, ''));
    u reflexo.users;
  BEGIN
    IF claims IS NULL OR claims ->> 'typ' IS DISTINCT FROM 'refresh'
       OR pg_catalog.jsonb_typeof(claims -> 'exp') IS DISTINCT FROM 'number'
       OR (claims ->> 'exp')::pg_catalog.numeric <= extract(epoch FROM pg_catalog.now()) THEN
      RETURN reflexo.api_refusal(401, 'invalid_token', 'The refresh token is invalid or has expired.');
    END IF;
    SELECT * INTO u FROM reflexo.users WHERE id = (claims ->> 'uid')::pg_catalog.int8;
    IF u.id IS NULL OR NOT u.is_active OR u.token_version IS DISTINCT FROM (claims ->> 'ver')::pg_catalog.int4 THEN
      RETURN reflexo.api_refusal(401, 'invalid_token', 'The refresh token is no longer valid; log in again.');
    END IF;
    RETURN reflexo.issue_tokens(u);
  END
  $$;
COMMENT ON FUNCTION api.refresh(pg_catalog.text) IS
  'POST /rpc/refresh {refresh} → a new {access, refresh}; 401 if the token is invalid, expired or revoked.';

-- ---------------------------------------------------------------- user management (admins)

CREATE FUNCTION reflexo.new_password_hash(password pg_catalog.text) RETURNS pg_catalog.text
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF password IS NULL OR pg_catalog.length(password) < 10 THEN
      RAISE EXCEPTION 'password too short' USING ERRCODE = '22023',
        DETAIL = 'A password needs at least 10 characters.', HINT = 'Choose a longer password, e.g. a few words.';
    END IF;
    RETURN reflexo.password_hash(password, reflexo.setting_int('reflexo.password_iterations', 600000));
  END
  $$;
COMMENT ON FUNCTION reflexo.new_password_hash(pg_catalog.text) IS
  'The hash to store for a new password (reflexo.password_iterations); refuses passwords shorter than 10 characters.';

CREATE FUNCTION api.create_user(username pg_catalog.text, password pg_catalog.text,
                                role reflexo.user_role DEFAULT 'staff',
                                location_ids pg_catalog.int8[] DEFAULT '{}') RETURNS pg_catalog.int8
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    new_id pg_catalog.int8;
  BEGIN
    INSERT INTO reflexo.users (username, password_hash, role, location_ids)
    VALUES (username, reflexo.new_password_hash(password), role, COALESCE(location_ids, '{}'))
    RETURNING id INTO new_id;
    RETURN new_id;
  END
  $$;
COMMENT ON FUNCTION api.create_user(pg_catalog.text, pg_catalog.text, reflexo.user_role, pg_catalog.int8[]) IS
  'Admins: add a user who can log in (role staff or admin; staff see location_ids only).';

CREATE FUNCTION api.update_user(username pg_catalog.text, password pg_catalog.text DEFAULT NULL,
                                role reflexo.user_role DEFAULT NULL, location_ids pg_catalog.int8[] DEFAULT NULL,
                                is_active pg_catalog.bool DEFAULT NULL) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    UPDATE reflexo.users u
       SET password_hash = CASE WHEN password IS NULL THEN u.password_hash ELSE reflexo.new_password_hash(password) END,
           role = COALESCE(update_user.role, u.role),
           location_ids = COALESCE(update_user.location_ids, u.location_ids),
           is_active = COALESCE(update_user.is_active, u.is_active),
           failed_logins = CASE WHEN password IS NULL THEN u.failed_logins ELSE 0 END,
           locked_until = CASE WHEN password IS NULL THEN u.locked_until END,
           token_version = u.token_version + 1,
           updated_at = pg_catalog.now()
     WHERE pg_catalog.lower(u.username) = pg_catalog.lower(update_user.username);
    IF NOT FOUND THEN
      RAISE EXCEPTION 'user "%" does not exist', username USING ERRCODE = 'PT404',
        HINT = 'api.users lists the users.';
    END IF;
  END
  $$;
COMMENT ON FUNCTION api.update_user(pg_catalog.text, pg_catalog.text, reflexo.user_role, pg_catalog.int8[], pg_catalog.bool) IS
  'Admins: change a user''s password, role, locations or activity (NULL keeps it); their refresh tokens stop working.';

CREATE FUNCTION api.change_password(old_password pg_catalog.text, new_password pg_catalog.text) RETURNS pg_catalog.json
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    u reflexo.users;
  BEGIN
    SELECT * INTO u FROM reflexo.users WHERE id = (reflexo.api_claims() ->> 'uid')::pg_catalog.int8 FOR UPDATE;
    IF u.id IS NULL OR NOT reflexo.password_verify(COALESCE(old_password, ''), u.password_hash) THEN
      RETURN reflexo.api_refusal(403, 'invalid_credentials', 'The current password is wrong.');
    END IF;
    UPDATE reflexo.users
       SET password_hash = reflexo.new_password_hash(new_password),
           token_version = token_version + 1, updated_at = pg_catalog.now()
     WHERE id = u.id
     RETURNING * INTO u;
    RETURN reflexo.issue_tokens(u);
  END
  $$;
COMMENT ON FUNCTION api.change_password(pg_catalog.text, pg_catalog.text) IS
  'The logged-in user changes their own password; returns a fresh token pair (older refresh tokens stop working).';

CREATE VIEW api.users AS
  SELECT id, username, role, location_ids, is_active, failed_logins, locked_until, last_login_at, created_at, updated_at
    FROM reflexo.users;
COMMENT ON VIEW api.users IS 'Admins: the users (never their password hashes).';

-- ================================================================ API: the seed's endpoints
--
-- Views and functions of schema api, one per endpoint of the seed service
-- (the README maps each).  Views belong to reflexo_api, so row-level
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
         a.created_at, a.updated_at
    FROM reflexo.appointments a
    JOIN reflexo.calendars c ON c.id = a.calendar_id
    JOIN reflexo.locations l ON l.id = a.location_id;
ALTER VIEW api.citas OWNER TO reflexo_api;
COMMENT ON VIEW api.citas IS
  'Appointments (GET/POST /citas, PATCH /citas?id=eq.N), with the seed''s field names. fecha is the local date.';

CREATE FUNCTION api.citas_write() RETURNS trigger
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    cal reflexo.calendars;
    location_id pg_catalog.int8 := NEW.location_id;
    written pg_catalog.int8;
  BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.id IS DISTINCT FROM OLD.id OR NEW.location_id IS DISTINCT FROM OLD.location_id
                             OR NEW.ghl_appointment_id IS DISTINCT FROM OLD.ghl_appointment_id) THEN
      RAISE EXCEPTION 'id, location_id and ghl_appointment_id of a cita cannot change' USING ERRCODE = '428C9',
        HINT = 'Book a new cita in the other location and cancel this one.';
    END IF;
    IF NEW.ghl_calendar_id IS NOT NULL THEN
      SELECT * INTO cal FROM reflexo.calendars WHERE ghl_calendar_id = NEW.ghl_calendar_id;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'calendar % does not exist or is not available', NEW.ghl_calendar_id USING ERRCODE = '23503',
          DETAIL = 'No calendar of your locations has ghl_calendar_id ' || NEW.ghl_calendar_id || '.',
          HINT = 'GET /calendars lists the calendars you can book.';
      END IF;
      location_id := cal.location_id;
    ELSIF location_id IS NOT NULL THEN
      IF NOT EXISTS (SELECT FROM reflexo.locations l WHERE l.id = location_id) THEN
        RAISE EXCEPTION 'location % is not one of yours', location_id USING ERRCODE = '42501',
          HINT = 'GET /location_settings lists the locations you work in.';
      END IF;
    ELSIF TG_OP = 'INSERT' THEN
      -- no calendar: the location's default calendar, if the location is clear
      SELECT l.id INTO location_id FROM reflexo.locations l
       WHERE l.ghl_location_id = NEW.ghl_location_id
          OR (NEW.ghl_location_id IS NULL AND pg_catalog.cardinality(reflexo.api_location_ids()) = 1
              AND l.id = (reflexo.api_location_ids())[1]);
      IF location_id IS NULL AND NEW.ghl_location_id IS NOT NULL THEN
        RAISE EXCEPTION 'location % is not one of yours', NEW.ghl_location_id USING ERRCODE = '42501',
          HINT = 'GET /location_settings lists the locations you work in.';
      ELSIF location_id IS NULL THEN
        RAISE EXCEPTION 'cita needs a calendar' USING ERRCODE = '23502',
          DETAIL = 'Neither ghl_calendar_id nor a location with a default calendar was given.',
          HINT = 'Give ghl_calendar_id (GET /calendars lists them), or location_id of a location with a default calendar.';
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
         c.id IS NOT DISTINCT FROM l.default_calendar_id AS is_default
    FROM reflexo.calendars c
    JOIN reflexo.locations l ON l.id = c.location_id;
ALTER VIEW api.calendars OWNER TO reflexo_api;
COMMENT ON VIEW api.calendars IS
  'Calendars synced from GHL (GET /calendars?ghl_location_id=eq.X); open_hours are the effective working hours.';

CREATE VIEW api.location_settings AS
  SELECT id, ghl_location_id, name, timezone, is_active, default_calendar_id, open_hours,
         min_duration, strict_validation, created_at, updated_at
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
      RAISE EXCEPTION 'calendar % is not an active calendar of location %', calendar_id, location_id
        USING ERRCODE = '23503', HINT = 'GET /rpc/location_calendars?location_id=' || location_id || ' lists them.';
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
    PERFORM pg_catalog.pg_notify('reflexo_calendars', loc.ghl_location_id);
    RETURN pg_catalog.json_build_object('queued', true, 'ghl_location_id', loc.ghl_location_id);
  END
  $$;
COMMENT ON FUNCTION api.sync_calendars(pg_catalog.int8) IS
  'POST /rpc/sync_calendars {location_id}: asks reflexo-sync to fetch the location''s calendars from GHL now.';

-- ---------------------------------------------------------------- free slots

CREATE FUNCTION reflexo.free_slots_between(calendar_id pg_catalog.int8, from_time pg_catalog.timestamptz,
                                           to_time pg_catalog.timestamptz, duration pg_catalog.interval,
                                           step pg_catalog.interval)
  RETURNS TABLE (starts_at pg_catalog.timestamptz, ends_at pg_catalog.timestamptz)
  LANGUAGE c STABLE STRICT
  AS 'MODULE_PATHNAME', 'reflexo_free_slots_between';
COMMENT ON FUNCTION reflexo.free_slots_between(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.timestamptz,
                                               pg_catalog.interval, pg_catalog.interval) IS
  'Bookable slots of duration, starting at working-hours openings and every step after, on the location''s wall clock.';

CREATE FUNCTION reflexo.free_slots(calendar_id pg_catalog.int8, from_time pg_catalog.timestamptz,
                                   to_time pg_catalog.timestamptz, duration pg_catalog.interval DEFAULT NULL)
  RETURNS TABLE (starts_at pg_catalog.timestamptz, ends_at pg_catalog.timestamptz)
  LANGUAGE sql STABLE
  AS $$
    SELECT s.starts_at, s.ends_at
      FROM reflexo.calendars c,
           reflexo.free_slots_between(c.id, from_time, to_time, COALESCE(duration, c.slot_duration), c.slot_duration) s
     WHERE c.id = calendar_id
  $$;
COMMENT ON FUNCTION reflexo.free_slots(pg_catalog.int8, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval) IS
  'Bookable slots of a calendar between two instants (duration: the calendar''s slot length unless given).';

CREATE FUNCTION api.free_slots(calendar_id pg_catalog.text, desde pg_catalog.timestamptz, hasta pg_catalog.timestamptz,
                               duration_minutes pg_catalog.int4 DEFAULT NULL)
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
               COALESCE(pg_catalog.make_interval(mins => duration_minutes), cal.slot_duration), cal.slot_duration) s;
  END
  $$;
ALTER FUNCTION api.free_slots(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.int4)
  OWNER TO reflexo_api;
COMMENT ON FUNCTION api.free_slots(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.int4) IS
  'GET /rpc/free_slots?calendar_id=X&desde=…&hasta=…[&duration_minutes=N]: bookable slots from now on.';

-- ---------------------------------------------------------------- metrics and health

CREATE FUNCTION api.metrics() RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT reflexo.metrics() $$;
COMMENT ON FUNCTION api.metrics() IS 'GET /rpc/metrics: the seed''s metrics document (last 24 h).';
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
  AS $$ SELECT reflexo.health() $$;
COMMENT ON FUNCTION api.health() IS 'GET /rpc/health: outbox, webhooks, tokens and rule breaks at a glance.';

-- ---------------------------------------------------------------- privileges

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.login(pg_catalog.text, pg_catalog.text), api.refresh(pg_catalog.text)
  TO reflexo_anon, reflexo_staff, reflexo_admin;
GRANT SELECT, INSERT, UPDATE ON api.citas TO reflexo_staff, reflexo_admin;
GRANT SELECT ON api.calendars, api.location_settings, api.active_locations TO reflexo_staff, reflexo_admin;
GRANT INSERT, UPDATE, DELETE ON api.location_settings TO reflexo_admin;
GRANT SELECT ON api.users TO reflexo_admin;
GRANT EXECUTE ON FUNCTION
    api.cancel_cita(pg_catalog.int8), api.upcoming_citas(pg_catalog.int4),
    api.location_calendars(pg_catalog.int8), api.sync_calendars(pg_catalog.int8),
    api.free_slots(pg_catalog.text, pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.int4),
    api.metrics(), api.metrics_ghl(), api.metrics_webhooks(), api.health(),
    api.change_password(pg_catalog.text, pg_catalog.text)
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
    pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.interval) TO reflexo_api;
GRANT SELECT ON reflexo.ghl_tokens, reflexo.locations, reflexo.calendars TO reflexo_sync;

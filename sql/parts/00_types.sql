-- reflexo — install script of the version in reflexo.control, assembled from sql/parts/*.sql in order.
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

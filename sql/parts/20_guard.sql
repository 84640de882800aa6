
-- ------------------------------------------------------------- triggers

CREATE FUNCTION reflexo.appointment_guard() RETURNS trigger
  AS 'MODULE_PATHNAME', 'appointment_guard' LANGUAGE C;
COMMENT ON FUNCTION reflexo.appointment_guard() IS
  'Enforces the booking rules on appointments: calendar available (23503), duration, notice, horizon, the past for '
  'staff, working hours of calendar and therapist, closures and time off (23514), capacity with buffers, appointments '
  'per day and therapist overlap (23P01, or 40001 when the rival committed after the snapshot). '
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
CREATE TRIGGER therapists_touch BEFORE UPDATE ON reflexo.therapists
  FOR EACH ROW EXECUTE FUNCTION reflexo.touch_updated_at();
COMMENT ON TRIGGER therapists_touch ON reflexo.therapists IS 'Maintains updated_at.';

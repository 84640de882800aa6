-- The core schema: tables, columns, enums, defaults, comments, updated_at.
BEGIN;
\ir fixtures.psql
SELECT plan(16);

SELECT has_table('reflexo', 'locations', 'locations exist');
SELECT has_table('reflexo', 'calendars', 'calendars exist');
SELECT has_table('reflexo', 'appointments', 'appointments exist');
SELECT has_table('reflexo', 'closures', 'closures exist');
SELECT columns_are('reflexo', 'appointments', ARRAY[
  'id', 'location_id', 'calendar_id', 'ghl_appointment_id', 'contact_id', 'assigned_user_id', 'title',
  'notes', 'status', 'starts_at', 'ends_at', 'sync_state', 'origin', 'validation_flags', 'local_changed_at',
  'ghl_updated_at', 'created_at', 'updated_at', 'sync_error', 'synced_at', 'series_id'], 'appointments have the columns of the design');
SELECT enum_has_labels('reflexo', 'appointment_status',
  ARRAY['scheduled', 'confirmed', 'cancelled', 'showed', 'noshow', 'invalid'], 'appointment statuses');
SELECT enum_has_labels('reflexo', 'sync_state', ARRAY['pending', 'synced', 'failed'], 'sync states');
SELECT enum_has_labels('reflexo', 'origin', ARRAY['local', 'ghl'], 'origins');
SELECT is((SELECT open_hours::text FROM reflexo.locations WHERE id = 103), '08:00-20:00',
          'locations open every day 08:00-20:00 unless told otherwise');
SELECT is((SELECT min_duration FROM reflexo.locations WHERE id = 101), '15 minutes'::interval,
          'the minimum duration defaults to 15 minutes');

SELECT is_empty($$
  SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
  FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'reflexo'
  WHERE d.deptype = 'e'
    AND d.classid <> 'pg_type'::regclass -- array types of tables are implicit
    AND obj_description(d.objid, d.classid::regclass::name) IS NULL
$$, 'every object of the extension has a COMMENT');
SELECT is_empty($$
  SELECT c.relname || '.' || a.attname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'reflexo'
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE c.relkind = 'r' AND col_description(c.oid, a.attnum) IS NULL
$$, 'every column has a COMMENT');

-- updated_at follows the transaction time on every update
UPDATE reflexo.locations SET updated_at = '2000-01-01', created_at = '2000-01-01' WHERE id = 101;
SELECT is((SELECT updated_at FROM reflexo.locations WHERE id = 101), now(), 'updated_at of a location is maintained');
UPDATE reflexo.calendars SET name = 'Fisio' WHERE id = 201;
SELECT is((SELECT updated_at FROM reflexo.calendars WHERE id = 201), now(), 'updated_at of a calendar is maintained');
SELECT pg_temp.book(201, '09:00', '10:00');
UPDATE reflexo.appointments SET notes = 'n', updated_at = '2000-01-01' WHERE calendar_id = 201;
SELECT is((SELECT updated_at FROM reflexo.appointments WHERE calendar_id = 201), now(),
          'updated_at of an appointment is maintained');
SELECT is((SELECT reflexo.add_closure(101, '2026-12-25', 'Navidad')).closed_until,
          '2026-12-26 00:00'::timestamp, 'add_closure closes whole local days');

SELECT * FROM finish();
ROLLBACK;

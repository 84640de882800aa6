-- The core schema: tables, columns, enums, defaults, comments, updated_at.
BEGIN;
\ir fixtures.psql
SELECT plan(22);

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

-- The outbox and history triggers write their rows straight into the table and
-- its indexes (extension/bookkeeping_row.c): nothing else may hang on those
-- tables, and the values the triggers fill in must be the tables' DEFAULTs.
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid IN ('reflexo.outbox'::regclass,
                                                                    'reflexo.appointment_history'::regclass)),
          0, 'no trigger on the outbox or the history');
SELECT is((SELECT string_agg(conrelid::regclass || ' ' || contype::text, ', ' ORDER BY conrelid::regclass::text, contype)
             FROM pg_constraint WHERE conrelid IN ('reflexo.outbox'::regclass, 'reflexo.appointment_history'::regclass)),
          'reflexo.appointment_history p, reflexo.outbox p',
          'the outbox and the history have a primary key and no CHECK or foreign key');
SELECT is((SELECT count(*)::int FROM pg_class WHERE oid IN ('reflexo.outbox'::regclass, 'reflexo.appointment_history'::regclass)
                                               AND (relrowsecurity OR relforcerowsecurity)),
          0, 'no row-level security on them');
SELECT is((SELECT string_agg(attrelid::regclass || '.' || attname || ' = ' ||
                             coalesce(pg_get_expr(adbin, adrelid), 'identity ' || attidentity::text), '; ' ORDER BY attrelid::regclass::text, attnum)
             FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
            WHERE attrelid IN ('reflexo.outbox'::regclass, 'reflexo.appointment_history'::regclass)
              AND attnum > 0 AND NOT attisdropped AND (atthasdef OR attidentity <> '')),
          'reflexo.appointment_history.id = identity d; reflexo.appointment_history.txid = pg_current_xact_id(); '
          'reflexo.appointment_history.changed_at = clock_timestamp(); '
          'reflexo.outbox.id = identity d; reflexo.outbox.state = ''pending''::reflexo.outbox_state; '
          'reflexo.outbox.attempts = 0; reflexo.outbox.next_attempt_at = now(); '
          'reflexo.outbox.created_txid = pg_current_xact_id(); reflexo.outbox.created_at = now(); '
          'reflexo.outbox.updated_at = now()',
          'the defaults the bookkeeping triggers fill in are the tables'' (change both together)');
SELECT pg_temp.book(201, '15:00', '16:00', day => '2026-03-17') AS booked \gset
SELECT is((SELECT (id = currval(pg_get_serial_sequence('reflexo.outbox', 'id')), state, attempts, next_attempt_at = now(),
                   created_txid = pg_current_xact_id(), created_at = now(), updated_at = now(),
                   leased_until, lease_owner, last_error, completed_at)::text
             FROM reflexo.outbox WHERE appointment_id = :booked),
          '(t,pending,0,t,t,t,t,,,,)', 'a booking''s outbox row is filled in as its DEFAULTs would');
SELECT is((SELECT (id = currval(pg_get_serial_sequence('reflexo.appointment_history', 'id')), operation, origin,
                   txid = pg_current_xact_id(), changed_at BETWEEN now() AND clock_timestamp(),
                   old_values IS NULL, new_values ->> 'title')::text
             FROM reflexo.appointment_history WHERE appointment_id = :booked),
          '(t,insert,local,t,t,t,Cita)', 'and its history row too');

SELECT * FROM finish();
ROLLBACK;

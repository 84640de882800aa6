-- The transactional outbox: every local change becomes one row, collapsed
-- per transaction; changes from GHL and bookkeeping write nothing.
BEGIN;
\ir fixtures.psql
SELECT plan(19);

CREATE FUNCTION pg_temp.outbox_of(appointment bigint) RETURNS text[] LANGUAGE sql AS $$
  SELECT coalesce(array_agg(operation::text ORDER BY id), '{}') FROM reflexo.outbox WHERE appointment_id = appointment
$$;

SELECT pg_temp.book(201, '09:00', '10:00', 'Uno') AS one \gset
SELECT is(pg_temp.outbox_of(:one), '{create}', 'an insert writes a create row');
SELECT is((SELECT payload FROM reflexo.outbox WHERE appointment_id = :one), NULL,
          'it carries no copy of the appointment: the push reads it as it is then');
SELECT is((SELECT created_txid FROM reflexo.outbox WHERE appointment_id = :one), pg_current_xact_id(),
          'written in the same transaction');
UPDATE reflexo.appointments SET title = 'Uno bis' WHERE id = :one;
UPDATE reflexo.appointments SET starts_at = starts_at + '15 min' WHERE id = :one;
SELECT is(pg_temp.outbox_of(:one), '{create}', 'later changes in the same transaction collapse into the create');
SELECT is((SELECT payload FROM reflexo.outbox WHERE appointment_id = :one), NULL, 'and still no copy');
SELECT is((SELECT sync_state::text FROM reflexo.appointments WHERE id = :one), 'pending', 'a local change is pending');

SELECT pg_temp.book(201, '11:00', '12:00', 'Dos') AS two \gset
DELETE FROM reflexo.appointments WHERE id = :two;
SELECT is(pg_temp.outbox_of(:two), '{}', 'created and deleted in one transaction: GHL never needs to know');

SAVEPOINT before_delete;
DELETE FROM reflexo.appointments WHERE id = :one;
ROLLBACK TO SAVEPOINT before_delete;
SELECT is(pg_temp.outbox_of(:one), '{create}',
          'a rolled-back savepoint takes its change back (a delete that had removed the create)');

-- as if earlier transactions had committed: rows of another transaction do not collapse
UPDATE reflexo.outbox SET created_txid = '1' WHERE appointment_id = :one;
UPDATE reflexo.appointments SET title = 'Otro día' WHERE id = :one;
UPDATE reflexo.appointments SET status = 'cancelled' WHERE id = :one;
SELECT is(pg_temp.outbox_of(:one), '{create,cancel}', 'update then cancel in a new transaction collapse into cancel');
UPDATE reflexo.outbox SET created_txid = '1' WHERE appointment_id = :one;
UPDATE reflexo.appointments SET status = 'scheduled' WHERE id = :one;
SELECT is(pg_temp.outbox_of(:one), '{create,cancel,update}', 'reactivating is an update');
UPDATE reflexo.outbox SET created_txid = '1' WHERE appointment_id = :one;
UPDATE reflexo.appointments SET ghl_appointment_id = 'ghl-one', sync_state = 'synced' WHERE id = :one;
SELECT is(pg_temp.outbox_of(:one), '{create,cancel,update}', 'bookkeeping (GHL id, sync state) writes nothing');
SELECT is((SELECT count(*)::int FROM reflexo.appointment_history WHERE appointment_id = :one AND operation = 'update'
            AND new_values ? 'ghl_appointment_id'), 0, 'and is not history');
DELETE FROM reflexo.appointments WHERE id = :one;
SELECT is(pg_temp.outbox_of(:one), '{create,cancel,update,delete}', 'a delete is queued');
SELECT is((SELECT ghl_appointment_id FROM reflexo.outbox WHERE appointment_id = :one AND operation = 'delete'),
          'ghl-one', 'with the GHL id of the appointment that is gone');
SELECT is((SELECT payload ->> 'title' FROM reflexo.outbox WHERE appointment_id = :one AND operation = 'delete'),
          'Otro día', 'and the appointment as it was');

-- changes from GHL are not echoed back
SELECT pg_temp.from_ghl($$INSERT INTO reflexo.appointments (calendar_id, title, starts_at, ends_at, ghl_appointment_id)
                           VALUES (202, 'De GHL', '2026-03-10 09:00-05', '2026-03-10 10:00-05', 'ghl-x')$$);
SELECT pg_temp.from_ghl($$UPDATE reflexo.appointments SET title = 'De GHL 2' WHERE ghl_appointment_id = 'ghl-x'$$);
SELECT is((SELECT count(*)::int FROM reflexo.outbox o JOIN reflexo.appointments a ON a.id = o.appointment_id
            WHERE a.ghl_appointment_id = 'ghl-x'), 0, 'changes applied from GHL write no outbox row');
SELECT is((SELECT origin::text || '/' || sync_state FROM reflexo.appointments WHERE ghl_appointment_id = 'ghl-x'),
          'ghl/synced', 'and are marked as from GHL, in sync');
INSERT INTO reflexo.appointments (calendar_id, title, origin, starts_at, ends_at)
VALUES (202, 'Falso', 'ghl', '2026-03-10 11:00-05', '2026-03-10 12:00-05');
SELECT is((SELECT origin::text || '/' || count(o.id) FROM reflexo.appointments a
             LEFT JOIN reflexo.outbox o ON o.appointment_id = a.id WHERE a.title = 'Falso' GROUP BY a.origin),
          'local/1', 'writing origin = ghl does not make a change come from GHL');
CREATE ROLE pgtap_clerk;
SET LOCAL ROLE pgtap_clerk;
SELECT throws_ok($$SET reflexo.change_origin = ghl$$, '42501', NULL,
                 'only superusers (apply_ghl_webhook) may declare a change to come from GHL');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

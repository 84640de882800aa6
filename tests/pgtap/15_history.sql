-- reflexo.appointment_history: every business change, who, when, what.
BEGIN;
\ir fixtures.psql
SELECT plan(11);

SELECT pg_temp.book(201, '09:00', '10:00', 'Historia') AS a \gset
UPDATE reflexo.appointments SET title = 'Historia 2', notes = 'privada' WHERE id = :a;
UPDATE reflexo.appointments SET sync_state = 'synced', ghl_appointment_id = 'ghl-h' WHERE id = :a;
SELECT set_config('request.jwt.claims', '{"sub": "recepcion@reflexo.pe", "role": "reflexo_staff"}', true);
UPDATE reflexo.appointments SET status = 'cancelled' WHERE id = :a;
SELECT set_config('request.jwt.claims', '', true);
DELETE FROM reflexo.appointments WHERE id = :a;

SELECT is((SELECT array_agg(operation::text ORDER BY id) FROM reflexo.appointment_history WHERE appointment_id = :a),
          '{insert,update,update,delete}', 'each business change is one history row; bookkeeping is not');
SELECT is((SELECT new_values ->> 'title' FROM reflexo.appointment_history WHERE appointment_id = :a AND operation = 'insert'),
          'Historia', 'an insert records the new row');
SELECT is((SELECT old_values || new_values FROM reflexo.appointment_history
            WHERE appointment_id = :a AND operation = 'update' ORDER BY id LIMIT 1) - 'updated_at',
          '{"title": "Historia 2", "notes": "privada"}'::jsonb, 'an update records only what changed');
SELECT is((SELECT old_values FROM reflexo.appointment_history
            WHERE appointment_id = :a AND operation = 'update' ORDER BY id LIMIT 1),
          '{"title": "Historia", "notes": null}'::jsonb, 'with the old values');
SELECT is((SELECT actor FROM reflexo.appointment_history WHERE appointment_id = :a AND operation = 'update' ORDER BY id DESC LIMIT 1),
          'recepcion@reflexo.pe', 'through the API the actor is the JWT subject');
SELECT is((SELECT actor FROM reflexo.appointment_history WHERE appointment_id = :a AND operation = 'insert'),
          current_user::text, 'otherwise the database role');
SELECT is((SELECT old_values ->> 'ghl_appointment_id' FROM reflexo.appointment_history WHERE appointment_id = :a AND operation = 'delete'),
          'ghl-h', 'a delete records the row as it was');
SELECT is((SELECT new_values FROM reflexo.appointment_history
            WHERE appointment_id = :a AND operation = 'update' ORDER BY id DESC LIMIT 1),
          '{"status": "cancelled"}'::jsonb, 'and leaves out the sync bookkeeping that changed with it');
SELECT is((SELECT set_config('request.jwt.claims', '{"sub": 42}', true) || reflexo.current_actor()),
          '{"sub": 42}42', 'a subject that is not a string is written as JSON writes it');
SELECT is((SELECT set_config('request.jwt.claims', '{"sub": null}', true) || reflexo.current_actor()),
          '{"sub": null}' || session_user, 'and a null subject is no subject');
SELECT is((SELECT count(DISTINCT txid)::int FROM reflexo.appointment_history WHERE appointment_id = :a AND txid = pg_current_xact_id()),
          1, 'with the transaction id');

SELECT * FROM finish();
ROLLBACK;

\set day random(0, 20)
BEGIN;
SELECT set_config('role', 'reflexo_staff', true),
       set_config('request.jwt.claims', '{"role":"reflexo_staff","sub":"bench","location_ids":[1]}', true);
SELECT id, title, contact_id, ghl_calendar_id, start_time, end_time, status, sync_state
  FROM api.citas WHERE status = 'scheduled'
   AND start_time >= timestamptz '2026-01-05' + :day * interval '1 day'
   AND start_time < timestamptz '2026-01-12' + :day * interval '1 day'
 ORDER BY start_time LIMIT 20;
COMMIT;

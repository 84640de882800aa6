SELECT nextval('bench.slot') AS n \gset
BEGIN;
SELECT set_config('role', 'reflexo_staff', true),
       set_config('request.jwt.claims', '{"role":"reflexo_staff","sub":"bench","location_ids":[1]}', true);
INSERT INTO api.citas (title, contact_id, ghl_calendar_id, start_time, end_time)
VALUES ('Nueva', 'contact', 'cal-1-' || (1 + :n % 10), bench.slot_start(:n), bench.slot_start(:n) + interval '30 minutes');
COMMIT;

-- The baseline's table: the same appointment columns, no reflexo triggers;
-- graphile-worker's documented way to queue a job from a trigger.
CREATE TABLE bench_appointments (
  id                 bigserial PRIMARY KEY,
  location_id        text NOT NULL,
  calendar_id        text NOT NULL,
  contact_id         text NOT NULL,
  title              text NOT NULL,
  starts_at          timestamptz NOT NULL,
  ends_at            timestamptz NOT NULL,
  ghl_appointment_id text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  pushed_at          timestamptz
);

CREATE FUNCTION bench_queue_push() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM graphile_worker.add_job('push_appointment', json_build_object('id', NEW.id));
  RETURN NEW;
END
$$;
CREATE TRIGGER queue_push AFTER INSERT ON bench_appointments FOR EACH ROW EXECUTE FUNCTION bench_queue_push();

-- the same kind of appointments as bench/push/setup_reflexo.sql books, in
-- other slots (both runs share one ghl-sim, which refuses a taken slot)
CREATE FUNCTION bench_slot(k bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT ('2027-01-04'::date + (k / 2 / 50) * interval '7 days' + (k / 2 % 50 / 10) * interval '1 day'
          + (8 + k / 2 % 10 + (k / 2 % 10 >= 5)::int) * interval '1 hour') AT TIME ZONE 'America/Lima'
$$;
CREATE SEQUENCE bench_next START 2000000;
CREATE FUNCTION bench_book(n int, first bigint) RETURNS void LANGUAGE sql AS $$
  INSERT INTO bench_appointments (location_id, calendar_id, contact_id, title, starts_at, ends_at)
  SELECT 'SimLocation000000001', CASE WHEN k % 2 = 0 THEN 'SimCalFisio000000001' ELSE 'SimCalEvaluacion0001' END,
         'graphile-' || k, 'Cita ' || k, bench_slot(k), bench_slot(k) + interval '30 minutes'
    FROM generate_series(500000 + first, 500000 + first + n - 1) k
$$;
CREATE FUNCTION bench_book_one() RETURNS void LANGUAGE sql AS $$
  INSERT INTO bench_appointments (location_id, calendar_id, contact_id, title, starts_at, ends_at)
  SELECT 'SimLocation000000001', CASE WHEN k % 2 = 0 THEN 'SimCalFisio000000001' ELSE 'SimCalEvaluacion0001' END,
         'graphile-' || k, 'Cita ' || k, bench_slot(k), bench_slot(k) + interval '30 minutes'
    FROM (SELECT nextval('bench_next') AS k) s
$$;

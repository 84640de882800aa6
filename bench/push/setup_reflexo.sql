-- The reflexo side: the sim's location and calendars (:calendars is GET
-- /calendars/ of the demo location, or [] when the caller loads its own),
-- and functions that book appointments GHL will accept.
SELECT reflexo.ensure_location('SimLocation000000001');
SELECT reflexo.upsert_ghl_calendars('SimLocation000000001', (:'calendars')::jsonb -> 'calendars')
 WHERE (:'calendars')::jsonb <> '[]';

-- Slot k of a calendar pair: ten 30-minute slots a weekday (08-12 and 14-18,
-- Lima), alternating between the two calendars, from 2027-01-04 on.
CREATE FUNCTION bench_slot(k bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT ('2027-01-04'::date + (k / 2 / 50) * interval '7 days' + (k / 2 % 50 / 10) * interval '1 day'
          + (8 + k / 2 % 10 + (k / 2 % 10 >= 5)::int) * interval '1 hour') AT TIME ZONE 'America/Lima'
$$;

-- (slot 100,000 is in 2046: past every throughput round, inside the years a booking may have)
CREATE SEQUENCE bench_next START 100000;

-- n appointments in the demo location from slot first on, in one transaction
CREATE FUNCTION bench_book(n int, first bigint) RETURNS void LANGUAGE sql AS $$
  INSERT INTO reflexo.appointments (calendar_id, contact_id, title, starts_at, ends_at)
  SELECT c.id, 'contact-' || k, 'Cita ' || k, bench_slot(k), bench_slot(k) + interval '30 minutes'
    FROM generate_series(first, first + n - 1) k
    JOIN reflexo.calendars c
      ON c.ghl_calendar_id = CASE WHEN k % 2 = 0 THEN 'SimCalFisio000000001' ELSE 'SimCalEvaluacion0001' END
$$;

-- one appointment (the light-load script calls this once per transaction)
CREATE FUNCTION bench_book_one() RETURNS void LANGUAGE sql AS $$
  INSERT INTO reflexo.appointments (calendar_id, contact_id, title, starts_at, ends_at)
  SELECT c.id, 'contact-' || k, 'Cita ' || k, bench_slot(k), bench_slot(k) + interval '30 minutes'
    FROM (SELECT nextval('bench_next') AS k) s
    JOIN reflexo.calendars c
      ON c.ghl_calendar_id = CASE WHEN k % 2 = 0 THEN 'SimCalFisio000000001' ELSE 'SimCalEvaluacion0001' END
$$;

-- n appointments in every location, interleaved as a busy network of clinics books them
CREATE FUNCTION bench_book_everywhere(n int) RETURNS void LANGUAGE sql AS $$
  INSERT INTO reflexo.appointments (calendar_id, contact_id, title, starts_at, ends_at)
  SELECT c.id, 'contact-' || l.id || '-' || k, 'Cita ' || k, bench_slot(k), bench_slot(k) + interval '30 minutes'
    FROM generate_series(0, n - 1) k
   CROSS JOIN reflexo.locations l
    JOIN reflexo.calendars c
      ON c.location_id = l.id AND c.ghl_calendar_id = l.ghl_location_id || CASE WHEN k % 2 = 0 THEN 'Fisio' ELSE 'Eval' END
   ORDER BY k, l.id
$$;

-- The ceiling: the same appointment inserted directly, no webhook logic.
INSERT INTO reflexo.appointments (location_id, calendar_id, ghl_appointment_id, contact_id, title, status,
                                  starts_at, ends_at)
SELECT 1, 1 + n % 200, 'ghl-' || n, 'contact-' || n, 'Cita', 'confirmed',
       t AT TIME ZONE 'America/Lima', (t + interval '45 minutes') AT TIME ZONE 'America/Lima'
FROM (SELECT n, timestamp '2027-01-04 00:00' + (n / 200) * interval '1 hour' AS t
      FROM (SELECT nextval('bench.n') AS n) s) x;

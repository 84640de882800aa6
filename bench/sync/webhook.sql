-- A new appointment created in GHL, as its webhook.
SELECT reflexo.apply_ghl_webhook(jsonb_build_object(
  'type', 'AppointmentCreate', 'locationId', 'bench', 'webhookId', 'hook-' || n,
  'appointment', jsonb_build_object(
    'id', 'ghl-' || n, 'calendarId', 'cal-' || (1 + n % 200), 'contactId', 'contact-' || n,
    'title', 'Cita', 'appointmentStatus', 'confirmed',
    'startTime', bench.lima(t), 'endTime', bench.lima(t + interval '45 minutes'),
    'dateUpdated', bench.lima(timestamp '2026-01-01'))))
FROM (SELECT n, timestamp '2027-01-04 00:00' + (n / 200) * interval '1 hour' AS t
      FROM (SELECT nextval('bench.n') AS n) s) x;

-- A redelivery of a webhook already applied.
SELECT reflexo.apply_ghl_webhook(jsonb_build_object(
  'type', 'AppointmentCreate', 'locationId', 'bench', 'webhookId', 'hook-' || (:n % 10000),
  'appointment', jsonb_build_object('id', 'ghl-' || (:n % 10000), 'calendarId', 'cal-1',
    'startTime', bench.lima(timestamp '2027-01-04'), 'endTime', bench.lima(timestamp '2027-01-05'))));

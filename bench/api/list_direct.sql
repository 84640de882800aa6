\set day random(0, 20)
SELECT a.id, a.title, a.contact_id, c.ghl_calendar_id, a.starts_at, a.ends_at, a.status, a.sync_state
  FROM reflexo.appointments a JOIN reflexo.calendars c ON c.id = a.calendar_id JOIN reflexo.locations l ON l.id = a.location_id
 WHERE a.location_id = 1 AND a.status = 'scheduled'
   AND a.starts_at >= timestamptz '2026-01-05' + :day * interval '1 day'
   AND a.starts_at < timestamptz '2026-01-12' + :day * interval '1 day'
 ORDER BY a.starts_at LIMIT 20;

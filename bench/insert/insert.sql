-- One new appointment per transaction, on calendar n % 200 at its next free
-- hour; every insert succeeds, so each variant does the same work.
INSERT INTO TABLE_NAME (location_id, calendar_id, assigned_user_id, title, starts_at, ends_at)
SELECT 1, 1 + n % 200, 'therapist-' || (n % 200), 'bench', t, t + interval '45 minutes'
FROM (SELECT n, timestamptz '2027-01-04 00:00-05' + (n / 200) * interval '1 hour' AS t
      FROM (SELECT nextval('bench.slot') AS n) s) slot;

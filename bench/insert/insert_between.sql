-- For the size test: the existing appointments hold the even hours of each
-- calendar; this books an odd hour between two of them, spread over the
-- whole history by a prime stride, so both neighbours are found and checked.
INSERT INTO TABLE_NAME (location_id, calendar_id, assigned_user_id, title, starts_at, ends_at)
SELECT 1, 1 + n % 200, 'therapist-' || (n % 200), 'bench', t, t + interval '45 minutes'
FROM (SELECT n, timestamptz '2027-01-04 00:00-05'
                + ((((n / 200) * 7919) % :slots) * 2 + 1) * interval '1 hour' AS t
      FROM (SELECT nextval('bench.slot') AS n) s) slot;

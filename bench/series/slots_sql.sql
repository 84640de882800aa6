\set k random(1, 200)
\set day random(0, 300)
SELECT count(*) FROM bench.free_slots_sql(:k, timestamptz '2026-01-05 00:00-05' + :day * interval '1 day',
                                          timestamptz '2026-02-05 00:00-05' + :day * interval '1 day',
                                          'therapist-' || :k);

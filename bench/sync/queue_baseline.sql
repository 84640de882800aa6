-- The textbook SKIP LOCKED queue: take one job and delete it, in two transactions like the daemon.
SELECT id FROM bench.queue WHERE run_at <= now() ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED \gset
DELETE FROM bench.queue WHERE id = :id;

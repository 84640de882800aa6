-- A batch cycle: claim 10 rows, complete them.
CREATE TEMP TABLE IF NOT EXISTS jobs (outbox_id bigint, attempt int);
TRUNCATE jobs;
INSERT INTO jobs SELECT outbox_id, attempt FROM reflexo.claim_outbox(10, '60 seconds', 'bench');
SELECT count(reflexo.complete_outbox(outbox_id, attempt, 'ghl-' || outbox_id)) FROM jobs;

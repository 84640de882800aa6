-- A batch cycle: claim 10 rows in one transaction, complete them in another.  The
-- claimed jobs travel as two arrays, as the daemon keeps them in memory (not in a
-- table the benchmark would create and truncate every cycle).
SELECT array_agg(outbox_id) AS ids, array_agg(attempt) AS attempts FROM reflexo.claim_outbox(10, '60 seconds', 'bench') \gset
SELECT count(reflexo.complete_outbox(j.id, j.attempt, 'ghl-' || j.id))
  FROM unnest(:ids::pg_catalog.int8[], :attempts::pg_catalog.int4[]) AS j(id, attempt);

-- One daemon cycle: claim a row in one transaction, complete it in another.
SELECT outbox_id, attempt FROM reflexo.claim_outbox(1, '60 seconds', 'bench') \gset
SELECT reflexo.complete_outbox(:outbox_id, :attempt, 'ghl-' || :outbox_id);

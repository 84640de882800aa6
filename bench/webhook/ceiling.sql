-- the ceiling: apply_ghl_webhook called directly over SQL with the same bodies
SELECT reflexo.apply_ghl_webhook(body) FROM bench_bodies WHERE n = (SELECT nextval('bench_next'));

-- Metrics and health: the Django service's document shape, cheap aggregation, retention.
BEGIN;
\ir fixtures.psql
SELECT plan(15);

-- The Django guide's example, as calls
SELECT reflexo.record_ghl_operation('create_appointment', g <= 45, 234.5, 1, 100 - g)
  FROM generate_series(1, 47) g;
SELECT reflexo.record_ghl_operation('update_appointment', true, 189.2, CASE WHEN g = 1 THEN 2 ELSE 1 END, 60)
  FROM generate_series(1, 23) g;
SELECT reflexo.count_webhook('AppointmentCreate', CASE WHEN g <= 15 THEN 'applied' ELSE 'ignored' END)
  FROM generate_series(1, 16) g;

SELECT is((SELECT count(*)::int FROM reflexo.ghl_operation_stats), 2,
          'seventy calls are two rows: aggregated per minute and operation, never a scan of events');
SELECT is((SELECT min_rate_limit_remaining || '/' || retries FROM reflexo.ghl_operation_stats
            WHERE operation = 'create_appointment'), '53/0', 'the lowest rate-limit remaining and retries are kept');

CREATE FUNCTION pg_temp.shape(doc jsonb) RETURNS text[] LANGUAGE sql AS $$
  WITH RECURSIVE walk(path, value) AS (
    SELECT '', doc
    UNION ALL
    SELECT walk.path || '/' || CASE WHEN walk.path IN ('', '/ghl_operations', '/webhooks') AND false THEN '*' ELSE e.key END,
           e.value
    FROM walk, jsonb_each(CASE WHEN jsonb_typeof(walk.value) = 'object' THEN walk.value ELSE '{}' END) e)
  SELECT array_agg(path || ':' || jsonb_typeof(value) ORDER BY path) FROM walk WHERE path <> ''
$$;
SELECT is(pg_temp.shape(reflexo.metrics()),
  pg_temp.shape('{
    "ghl_operations": {
      "create_appointment": {"success_count": 45, "failed_count": 2, "total_count": 47, "success_rate": 95.74, "avg_duration_ms": 234.5,
                             "rate_limited_count": 0, "min_rate_limit_remaining": 53},
      "update_appointment": {"success_count": 23, "failed_count": 0, "total_count": 23, "success_rate": 100.0, "avg_duration_ms": 189.2,
                             "rate_limited_count": 0, "min_rate_limit_remaining": 60}},
    "webhooks": {
      "AppointmentCreate": {"success_count": 15, "failed_count": 1, "total_count": 16, "success_rate": 93.75}},
    "system_health": {"ghl_health_percentage": 95.74, "webhook_health_percentage": 93.75, "overall_health": 94.75}}'),
  'metrics() has the Django guide''s shape, and GHL''s rate limits per operation');
SELECT is(reflexo.metrics() -> 'ghl_operations' -> 'create_appointment',
          '{"success_count": 45, "failed_count": 2, "total_count": 47, "success_rate": 95.74, "avg_duration_ms": 234.5,
            "rate_limited_count": 0, "min_rate_limit_remaining": 53}',
          'and the Django guide''s numbers for the same calls');
SELECT is(reflexo.metrics() -> 'webhooks', '{"AppointmentCreate": {"success_count": 15, "failed_count": 1, "total_count": 16, "success_rate": 93.75}}',
          'for webhooks too');
SELECT is(reflexo.metrics() -> 'system_health',
          '{"ghl_health_percentage": 97.14, "webhook_health_percentage": 93.75, "overall_health": 95.45}',
          'system health: success percentage over all GHL calls and all webhooks, and their mean');
-- each session counts webhooks in rows of its own; the metrics add them up
SELECT is((SELECT count(*)::int FROM reflexo.webhook_stats WHERE backend_pid = pg_backend_pid()), 2,
          'sixteen webhooks of one session are two rows: per minute, event type, result and session');
INSERT INTO reflexo.webhook_stats (bucket, event_type, result, backend_pid, count)
VALUES (date_trunc('minute', now()), 'AppointmentCreate', 'applied', pg_backend_pid() + 1, 4);
SELECT is((reflexo.metrics() -> 'webhooks' -> 'AppointmentCreate') - 'success_rate'::text,
          '{"success_count": 19, "failed_count": 1, "total_count": 20}'::jsonb, 'and the metrics sum the sessions'' rows');
SELECT reflexo.record_ghl_operations('[{"operation": "update_appointment", "success": false, "duration_ms": 12,
                                       "rate_limit_remaining": 0, "rate_limited": true}]');
SELECT is((reflexo.metrics_ghl() -> 'update_appointment') - '{avg_duration_ms,success_rate}'::text[],
          '{"success_count": 23, "failed_count": 1, "total_count": 24, "rate_limited_count": 1, "min_rate_limit_remaining": 0}',
          'a 429 counts as a failed call, as a rate-limited one, and with the remaining count GHL reported');
SELECT is(reflexo.metrics('1 minute') -> 'ghl_operations', reflexo.metrics_ghl('1 minute'), 'metrics_ghl is its GHL part');
UPDATE reflexo.ghl_operation_stats SET bucket = bucket - interval '2 days';
SELECT is(reflexo.metrics() -> 'ghl_operations', '{}', 'the default window is the last 24 hours');

-- health
SELECT pg_temp.book(201, '09:00', '10:00');
SELECT is(jsonb_object_keys_sorted, '{outbox,tokens,validation_errors,webhooks}', 'health() reports outbox, webhooks, tokens, rule breaks')
  FROM (SELECT array_agg(k ORDER BY k) AS jsonb_object_keys_sorted FROM jsonb_object_keys(reflexo.health()) k) keys;
SELECT is((reflexo.health() -> 'outbox' ->> 'depth')::int, 1, 'outbox depth counts unfinished rows');

-- validation counters survive the rollback of the rejected booking
SELECT (SELECT rejected FROM reflexo.validation_error_counts() WHERE kind = 'too_short') AS before_count \gset
SELECT pg_temp.error_of($$SELECT pg_temp.book(201, '11:00', '11:05')$$);
SELECT is((SELECT rejected FROM reflexo.validation_error_counts() WHERE kind = 'too_short'), :before_count + 1::bigint,
          'a rejected booking is counted by kind (needs shared_preload_libraries = reflexo)');

-- retention
SELECT throws_ok($$SELECT reflexo.prune('1 hour')$$, '22023', NULL,
                 'prune refuses to forget webhooks GHL may still retry');

SELECT * FROM finish();
ROLLBACK;

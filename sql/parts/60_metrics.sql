
-- ------------------------------------------------------ metrics and health

CREATE FUNCTION reflexo.record_ghl_operation(operation pg_catalog.text, success pg_catalog.bool,
                                             duration_ms pg_catalog.float8, attempt pg_catalog.int4 DEFAULT 1,
                                             rate_limit_remaining pg_catalog.int4 DEFAULT NULL,
                                             rate_limited pg_catalog.bool DEFAULT false)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    INSERT INTO reflexo.ghl_operation_stats AS s
      (bucket, operation, success_count, failed_count, total_duration_ms, retries, min_rate_limit_remaining,
       rate_limited)
    VALUES (date_trunc('minute', now()), record_ghl_operation.operation, success::int, (NOT success)::int,
            greatest(duration_ms, 0), (attempt > 1)::int, rate_limit_remaining, record_ghl_operation.rate_limited::int)
    ON CONFLICT ON CONSTRAINT ghl_operation_stats_pkey DO UPDATE
      SET success_count = s.success_count + EXCLUDED.success_count,
          failed_count = s.failed_count + EXCLUDED.failed_count,
          total_duration_ms = s.total_duration_ms + EXCLUDED.total_duration_ms,
          retries = s.retries + EXCLUDED.retries,
          min_rate_limit_remaining = least(s.min_rate_limit_remaining, EXCLUDED.min_rate_limit_remaining),
          rate_limited = s.rate_limited + EXCLUDED.rate_limited;
  END
  $$;
COMMENT ON FUNCTION reflexo.record_ghl_operation(pg_catalog.text, pg_catalog.bool, pg_catalog.float8, pg_catalog.int4,
                                                 pg_catalog.int4, pg_catalog.bool) IS
  'Counts one GHL API call in the per-minute statistics: operation, outcome, duration, attempt number, the '
  'X-RateLimit-Remaining it reported, and whether GHL refused it with 429 (a failure too).';

CREATE FUNCTION reflexo.record_ghl_operations(operations pg_catalog.jsonb) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    o jsonb;
  BEGIN
    FOR o IN SELECT value FROM jsonb_array_elements(operations) LOOP
      PERFORM reflexo.record_ghl_operation(o ->> 'operation', (o ->> 'success')::bool,
                                           (o ->> 'duration_ms')::float8, coalesce((o ->> 'attempt')::int, 1),
                                           (o ->> 'rate_limit_remaining')::int,
                                           coalesce((o ->> 'rate_limited')::bool, false));
    END LOOP;
  END
  $$;
COMMENT ON FUNCTION reflexo.record_ghl_operations(pg_catalog.jsonb) IS
  'record_ghl_operation for a batch: [{"operation", "success", "duration_ms", "attempt", "rate_limit_remaining", '
  '"rate_limited"}].';

CREATE FUNCTION reflexo.metrics_ghl(since pg_catalog.interval DEFAULT '24 hours') RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT coalesce(jsonb_object_agg(operation, jsonb_build_object(
             'success_count', ok, 'failed_count', bad, 'total_count', ok + bad,
             'success_rate', round(100.0 * ok / nullif(ok + bad, 0), 2),
             'avg_duration_ms', round((ms / nullif(ok + bad, 0))::numeric, 2),
             'rate_limited_count', limited, 'min_rate_limit_remaining', lowest)), '{}')
    FROM (SELECT operation, sum(success_count) AS ok, sum(failed_count) AS bad, sum(total_duration_ms) AS ms,
                 sum(rate_limited) AS limited, min(min_rate_limit_remaining) AS lowest
            FROM reflexo.ghl_operation_stats
           WHERE bucket >= date_trunc('minute', now() - since)
           GROUP BY operation) per_operation
  $$;
COMMENT ON FUNCTION reflexo.metrics_ghl(pg_catalog.interval) IS
  'GHL API calls over the period, per operation: success_count, failed_count, total_count, success_rate (%), '
  'avg_duration_ms (the Django service''s keys), and rate_limited_count (429s, counted as failures too) and '
  'min_rate_limit_remaining (the lowest X-RateLimit-Remaining GHL reported; null if none).';

CREATE FUNCTION reflexo.metrics_webhooks(since pg_catalog.interval DEFAULT '24 hours') RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT coalesce(jsonb_object_agg(event_type, jsonb_build_object(
             'success_count', ok, 'failed_count', bad, 'total_count', ok + bad,
             'success_rate', round(100.0 * ok / nullif(ok + bad, 0), 2))), '{}')
    FROM (SELECT event_type,
                 coalesce(sum(count) FILTER (WHERE result IN ('applied', 'duplicate', 'stale')), 0) AS ok,
                 coalesce(sum(count) FILTER (WHERE result IN ('ignored', 'rejected')), 0) AS bad
            FROM reflexo.webhook_stats
           WHERE bucket >= date_trunc('minute', now() - since)
           GROUP BY event_type) per_event
  $$;
COMMENT ON FUNCTION reflexo.metrics_webhooks(pg_catalog.interval) IS
  'Webhooks over the period, per event type. applied, duplicate and stale count as successes; ignored '
  '(unknown calendar or location) and rejected (bad signature or body) as failures.';

CREATE FUNCTION reflexo.metrics(since pg_catalog.interval DEFAULT '24 hours') RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    WITH ghl AS (SELECT reflexo.metrics_ghl(since) AS m),
         hooks AS (SELECT reflexo.metrics_webhooks(since) AS m),
         rates AS (
           SELECT coalesce(round(100.0 * (SELECT sum((v ->> 'success_count')::numeric) FROM jsonb_each(ghl.m) e(k, v))
                                 / nullif((SELECT sum((v ->> 'total_count')::numeric) FROM jsonb_each(ghl.m) e(k, v)), 0),
                                 2), 100.0) AS ghl_rate,
                  coalesce(round(100.0 * (SELECT sum((v ->> 'success_count')::numeric) FROM jsonb_each(hooks.m) e(k, v))
                                 / nullif((SELECT sum((v ->> 'total_count')::numeric) FROM jsonb_each(hooks.m) e(k, v)), 0),
                                 2), 100.0) AS hook_rate
           FROM ghl, hooks)
    SELECT jsonb_build_object(
      'ghl_operations', ghl.m,
      'webhooks', hooks.m,
      'system_health', jsonb_build_object(
        'ghl_health_percentage', rates.ghl_rate,
        'webhook_health_percentage', rates.hook_rate,
        'overall_health', round((rates.ghl_rate + rates.hook_rate) / 2, 2)))
    FROM ghl, hooks, rates
  $$;
COMMENT ON FUNCTION reflexo.metrics(pg_catalog.interval) IS
  'The Django guide''s metrics document: ghl_operations, webhooks and system_health (success percentages; '
  'overall_health is their mean; 100 when there was nothing to count), over the period (default 24 hours).';

CREATE FUNCTION reflexo.health() RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT jsonb_build_object(
      'outbox', (SELECT jsonb_build_object(
                   'depth', count(*) FILTER (WHERE state IN ('pending', 'leased')),
                   'pending', count(*) FILTER (WHERE state = 'pending'),
                   'leased', count(*) FILTER (WHERE state = 'leased'),
                   'dead', count(*) FILTER (WHERE state = 'dead'),
                   'oldest_pending_age_seconds',
                     round(extract(epoch FROM now() - min(created_at) FILTER (WHERE state IN ('pending', 'leased'))), 3),
                   'last_push_at', (SELECT max(completed_at) FROM reflexo.outbox WHERE state = 'done'))
                 FROM reflexo.outbox WHERE state <> 'done'),
      'webhooks', jsonb_build_object(
                   'last_received_at', (SELECT max(received_at) FROM reflexo.webhook_inbox),
                   'last_applied_at', (SELECT max(applied_at) FROM reflexo.webhook_inbox WHERE result = 'applied'),
                   'waiting', (SELECT count(*) FROM reflexo.webhook_inbox WHERE result = 'ignored' AND body IS NOT NULL)),
      'tokens', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'location', l.ghl_location_id, 'kind', t.kind, 'expires_at', t.expires_at,
                   'expires_in_seconds', round(extract(epoch FROM t.expires_at - now())))
                   ORDER BY l.ghl_location_id), '[]')
                 FROM reflexo.ghl_tokens t JOIN reflexo.locations l ON l.id = t.location_id),
      'validation_errors', (SELECT jsonb_object_agg(kind, jsonb_build_object('rejected', rejected, 'flagged', flagged))
                            FROM reflexo.validation_error_counts()))
  $$;
COMMENT ON FUNCTION reflexo.health() IS
  'Sync health: outbox depth, oldest pending age, dead rows, last push; last webhook; token expiry per location; '
  'broken-rule counts.';

CREATE FUNCTION reflexo.prune(keep pg_catalog.interval DEFAULT '30 days',
                              keep_history pg_catalog.interval DEFAULT '2 years')
  RETURNS pg_catalog.jsonb
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    outbox_rows int; inbox_rows int; op_rows int; hook_rows int; history_rows int;
  BEGIN
    IF keep < '1 day' THEN
      RAISE EXCEPTION 'keep must be at least one day'
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'The webhook inbox must outlive GHL''s retries, or a retried webhook would apply twice.';
    END IF;
    DELETE FROM reflexo.outbox WHERE state = 'done' AND completed_at < now() - keep;
    GET DIAGNOSTICS outbox_rows = ROW_COUNT;
    DELETE FROM reflexo.webhook_inbox WHERE received_at < now() - keep;
    GET DIAGNOSTICS inbox_rows = ROW_COUNT;
    DELETE FROM reflexo.ghl_operation_stats WHERE bucket < now() - keep;
    GET DIAGNOSTICS op_rows = ROW_COUNT;
    DELETE FROM reflexo.webhook_stats WHERE bucket < now() - keep;
    GET DIAGNOSTICS hook_rows = ROW_COUNT;
    DELETE FROM reflexo.appointment_history WHERE changed_at < now() - keep_history;
    GET DIAGNOSTICS history_rows = ROW_COUNT;
    RETURN jsonb_build_object('outbox', outbox_rows, 'webhook_inbox', inbox_rows, 'ghl_operation_stats', op_rows,
                              'webhook_stats', hook_rows, 'appointment_history', history_rows);
  END
  $$;
COMMENT ON FUNCTION reflexo.prune(pg_catalog.interval, pg_catalog.interval) IS
  'Retention: deletes finished outbox rows, inbox rows and statistics older than keep (default 30 days), and '
  'history older than keep_history (default 2 years). reflexo-sync calls it hourly. Returns rows deleted per table.';

CREATE FUNCTION reflexo.sync_status(minutes pg_catalog.int4 DEFAULT 60) RETURNS pg_catalog.jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT jsonb_build_object(
      'health', reflexo.health(),
      'metrics', reflexo.metrics(make_interval(mins => minutes)),
      -- one point per minute, oldest first, zeros included, for the status page's chart
      'series', (SELECT jsonb_agg(jsonb_build_object(
                   'minute', m.minute,
                   'pushed', coalesce(g.ok, 0), 'push_failures', coalesce(g.bad, 0),
                   'webhooks', coalesce(w.n, 0)) ORDER BY m.minute)
                 FROM generate_series(date_trunc('minute', now()) - make_interval(mins => minutes - 1),
                                      date_trunc('minute', now()), '1 minute') m(minute)
                 LEFT JOIN (SELECT bucket, sum(success_count) AS ok, sum(failed_count) AS bad
                              FROM reflexo.ghl_operation_stats GROUP BY bucket) g ON g.bucket = m.minute
                 LEFT JOIN (SELECT bucket, sum(count) AS n FROM reflexo.webhook_stats GROUP BY bucket) w
                        ON w.bucket = m.minute),
      -- what failed lately: ids and GHL's message, never the appointment's content
      'recent_failures', (SELECT coalesce(jsonb_agg(f ORDER BY f.updated_at DESC), '[]')
                          FROM (SELECT o.id AS outbox_id, o.appointment_id, o.operation, o.state, o.attempts,
                                       o.last_error, o.updated_at
                                  FROM reflexo.outbox o
                                 WHERE o.last_error IS NOT NULL AND o.state IN ('pending', 'dead')
                                 ORDER BY o.updated_at DESC LIMIT 20) f))
  $$;
COMMENT ON FUNCTION reflexo.sync_status(pg_catalog.int4) IS
  'What the status page shows: health(), metrics() over the last minutes, a per-minute series of pushes, '
  'failures and webhooks, and the 20 latest failing outbox rows (ids, operation, GHL''s message).';

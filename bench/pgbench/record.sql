-- Recording the claimed batch as successes, as the dispatcher does (store/lists.rs).
WITH done AS (
  UPDATE hookspec_deliveries SET status = 'succeeded', attempts = attempts + 1,
    next_attempt_at = 1764180000000, finished_at = 1764180000000, lease_owner = NULL, lease_until = NULL
  WHERE lease_owner = 'bench' AND status = 'pending'
    AND id = ANY(ARRAY(SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text(:ids::jsonb)))
  RETURNING id, subscription_id),
logged AS (
  INSERT INTO hookspec_attempts (delivery_id, attempted_at, status_code, error, latency_ms, response_excerpt)
  SELECT CAST(value->>0 AS BIGINT), CAST(value->>1 AS BIGINT), CAST(value->>2 AS BIGINT), value->>3,
    CAST(value->>4 AS BIGINT), value->>5
  FROM jsonb_array_elements(:attempts::jsonb) WHERE CAST(value->>0 AS BIGINT) IN (SELECT id FROM done)),
cleared AS (
  UPDATE hookspec_subscriptions SET failing_since = NULL
  WHERE failing_since IS NOT NULL AND id IN (SELECT subscription_id FROM done))
SELECT count(*) FROM done;

-- Recording the claimed batch as successes, as the dispatcher does (store/postgres/bookkeeping.rs): the
-- deliveries are deleted and their attempts logged (migration 3).
WITH done AS (
  DELETE FROM hookspec_deliveries WHERE lease_owner = 'bench'
    AND id = ANY(ARRAY(SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text(:ids::jsonb)))
  RETURNING id, subscription_id),
logged AS (
  INSERT INTO hookspec_attempts (delivery_id, message_id, subscription_id, attempted_at,
    status_code, error, latency_ms, response_excerpt)
  SELECT CAST(value->>0 AS BIGINT), value->>1, value->>2, CAST(value->>3 AS BIGINT),
    CAST(value->>4 AS BIGINT), value->>5, CAST(value->>6 AS BIGINT), value->>7
  FROM jsonb_array_elements(:attempts::jsonb) WHERE CAST(value->>0 AS BIGINT) IN (SELECT id FROM done)),
cleared AS (
  UPDATE hookspec_subscriptions SET failing_since = NULL
  WHERE failing_since IS NOT NULL AND id IN (SELECT subscription_id FROM done))
SELECT count(*) FROM done;

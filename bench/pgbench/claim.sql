-- The dispatcher's claim of 128 deliveries on PostgreSQL (store/postgres/bookkeeping.rs), from the oldest due one
-- on, as its cursor does; then the ids and the attempts to record, for the next statement.
SELECT min(next_attempt_at) - 100 AS due_from FROM hookspec_deliveries WHERE status = 'pending' AND lease_owner IS NULL \gset
WITH claimed AS (
  UPDATE hookspec_deliveries SET lease_owner = 'bench', lease_until = 99999999999999
  WHERE id = ANY(ARRAY(
      SELECT d.id FROM hookspec_deliveries d JOIN hookspec_subscriptions s ON s.id = d.subscription_id
      WHERE d.status = 'pending' AND d.next_attempt_at BETWEEN :due_from AND 9999999999999
        AND (d.lease_until IS NULL OR d.lease_until < 9999999999999) AND s.enabled
        AND (s.expires_at IS NULL OR s.expires_at > 9999999999999)
        AND d.subscription_id NOT IN (SELECT value FROM jsonb_array_elements_text('[]'::jsonb))
      ORDER BY d.next_attempt_at LIMIT 128 FOR UPDATE OF d SKIP LOCKED))
  RETURNING id, attempts, next_attempt_at, message_id, subscription_id),
jobs AS (
  SELECT c.id, c.attempts, c.next_attempt_at, c.message_id, c.subscription_id,
    m.event, m.method, m.payload, sub.owner, sub.url, sub.secrets, sub.rate_limit
  FROM claimed c
  CROSS JOIN LATERAL (SELECT event, method, payload FROM hookspec_messages
    WHERE id = c.message_id OFFSET 0) m
  CROSS JOIN LATERAL (SELECT owner, url, secrets, rate_limit FROM hookspec_subscriptions
    WHERE id = c.subscription_id OFFSET 0) sub)
SELECT json_agg(id) AS ids,
  json_agg(json_build_array(id, message_id, subscription_id, 1764180000000, 204, NULL, 1, NULL)) AS attempts,
  sum(length(payload) + length(url)) AS read
FROM jobs \gset

-- The dispatcher's claim of 128 deliveries on PostgreSQL (store/postgres/bookkeeping.rs), from the oldest due one
-- on, as its cursor does; then the ids and the attempts to record, for the next statement.
SELECT min(next_attempt_at) - 100 AS due_from FROM hookspec_deliveries WHERE status = 'pending' AND lease_owner IS NULL \gset
WITH claimed AS (
  UPDATE hookspec_deliveries SET lease_owner = 'bench', lease_until = 99999999999999
  FROM hookspec_messages m, hookspec_subscriptions sub
  WHERE m.id = hookspec_deliveries.message_id AND sub.id = hookspec_deliveries.subscription_id
    AND hookspec_deliveries.id = ANY(ARRAY(
      SELECT d.id FROM hookspec_deliveries d JOIN hookspec_subscriptions s ON s.id = d.subscription_id
      WHERE d.status = 'pending' AND d.next_attempt_at BETWEEN :due_from AND 9999999999999
        AND (d.lease_until IS NULL OR d.lease_until < 9999999999999) AND s.enabled
        AND (s.expires_at IS NULL OR s.expires_at > 9999999999999)
        AND d.subscription_id NOT IN (SELECT value FROM jsonb_array_elements_text('[]'::jsonb))
      ORDER BY d.next_attempt_at LIMIT 128 FOR UPDATE OF d SKIP LOCKED))
  RETURNING hookspec_deliveries.id, hookspec_deliveries.attempts, hookspec_deliveries.next_attempt_at,
    hookspec_deliveries.message_id, hookspec_deliveries.subscription_id, m.event, m.method, m.payload,
    sub.url, sub.secrets, sub.rate_limit)
SELECT json_agg(id) AS ids,
  json_agg(json_build_array(id, message_id, subscription_id, 1764180000000, 204, NULL, 1, NULL)) AS attempts
FROM claimed \gset

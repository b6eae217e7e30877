-- One publish as `Tenant::publish` stored it before group commit (the baseline of
-- publish_load, `Outbox::without_group_commit`, on SQLite): in a transaction of its own, the
-- message, the tenant's live subscriptions to its event, then one delivery per subscription
-- that wants it. On PostgreSQL a publish is now the subscriber read plus one statement that
-- writes a whole batch (store/postgres/publishing.rs), which this script does not measure.
-- Run with full durability (synchronous_commit on, as the outbox's publishing pool has it).
\set n random(1, 9000000000000000000)
BEGIN;
INSERT INTO hookspec_messages (id, event, method, payload, created_at, tenant)
VALUES ('msg_' || :client_id || '_' || :n, 'tick', 'POST',
        '{"seq":' || :n || ',"note":"a webhook payload of ordinary size"}', 1764180000000, 'bench');
SELECT id, filter FROM hookspec_subscriptions
WHERE enabled AND (expires_at IS NULL OR expires_at > 1764180000000) AND owner = 'bench'
  AND (jsonb_array_length(events::jsonb) = 0 OR events::jsonb @> jsonb_build_array('tick'::text));
INSERT INTO hookspec_deliveries (message_id, subscription_id, status, next_attempt_at, created_at)
SELECT 'msg_' || :client_id || '_' || :n, s.id, 'pending', 1764180000000, 1764180000000
FROM hookspec_subscriptions s
WHERE s.id = ANY(ARRAY(SELECT jsonb_array_elements_text('["sub_1"]'::jsonb))) FOR KEY SHARE OF s;
COMMIT;

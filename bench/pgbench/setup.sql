-- A scratch outbox for the pgbench cycles: one subscription, 130,000 pending deliveries of
-- messages whose ids are time-ordered like the ones the outbox makes. Run after the migrations.
INSERT INTO hookspec_subscriptions (id, url, events, secrets, created_at, updated_at)
VALUES ('sub_1', 'http://127.0.0.1:1/hooks', '[]', '[]', 0, 0);
INSERT INTO hookspec_messages
SELECT 'msg_' || lpad(to_hex(i * 1000), 12, '0') || substr(md5(random()::text), 1, 12), 'tick', 'POST',
       '{"seq":' || i || ',"published_at_us":1764180000000000,"note":"a webhook payload of ordinary size"}', i
FROM generate_series(1, 130000) i;
INSERT INTO hookspec_deliveries (message_id, subscription_id, status, next_attempt_at, created_at)
SELECT id, 'sub_1', 'pending', created_at, created_at FROM hookspec_messages
WHERE created_at > 0 -- not history.sql's delivered messages, created before
ORDER BY created_at;
VACUUM ANALYZE;

-- Delivered history beside the scratch outbox of setup.sql: :history messages, their
-- deliveries deleted, one 204 attempt each, as the curves' harness makes them
-- (bench/src/bin/curves/fixture.rs). Run after the migrations and before setup.sql, with
-- `psql -v history=N`. The history is older than the pending messages, and its message ids and
-- delivery ids sort before theirs, as the outbox's time-ordered ids and its key sequence give
-- them: each new attempt lands at the end of the attempts' indexes, as in production, not in
-- the middle of the history's.
INSERT INTO hookspec_messages (id, event, method, payload, created_at)
SELECT 'msg_0000000000' || lpad(i::text, 12, '0'), 'tick', 'POST', '{"seq":0}', i - :history - 1
FROM generate_series(1, :history) i;
INSERT INTO hookspec_attempts (delivery_id, message_id, subscription_id, attempted_at, status_code, latency_ms)
SELECT i, 'msg_0000000000' || lpad(i::text, 12, '0'), 'sub_1', i - :history + 4, 204, 1
FROM generate_series(1, :history) i;
SELECT setval(pg_get_serial_sequence('hookspec_deliveries', 'id'), :history + 1, false);

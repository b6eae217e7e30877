-- Purging reads old messages oldest first, a batch at a time: by this index, rather than a
-- scan of every message per batch. Replaying queues a subscription's messages in the same
-- order, so the two take their locks on messages in one order.
CREATE INDEX hookspec_messages_created ON hookspec_messages (created_at, id);

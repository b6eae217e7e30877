-- A subscription's rate limit is shared by every dispatcher on the database: its state is
-- one number here, the theoretical arrival time of the generic cell rate algorithm (when the
-- next delivery would be due at exactly the limit, in microseconds since the epoch; NULL:
-- no delivery yet, a full burst is available). Dispatchers take a delivery's token with one
-- conditional update of it, where each used to keep a bucket in memory and a limit of n per
-- second let n through per dispatcher. Existing subscriptions start with a full burst.
ALTER TABLE hookspec_subscriptions ADD COLUMN rate_tat BIGINT;

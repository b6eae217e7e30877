-- Due work is read from an index of pending deliveries only. A finished delivery leaves it, and
-- a claim, which writes only the lease (no indexed column), changes no index at all: on
-- PostgreSQL it is a heap-only update when the new row version fits on its page. A claim
-- updates every row of a page in one statement, so a page keeps room for each of its rows.
DROP INDEX hookspec_deliveries_due;
CREATE INDEX hookspec_deliveries_pending ON hookspec_deliveries (next_attempt_at) WHERE status = 'pending';
ALTER TABLE hookspec_deliveries SET (fillfactor = 50);
-- The attempt log is written only by the statement that records the outcome on its delivery,
-- so its foreign key checks nothing that can fail, and on PostgreSQL it costs a lookup and a
-- row lock per attempt. Whatever deletes deliveries deletes their attempts too. (SQLite
-- cannot drop a constraint, and its check is cheap: it keeps the key.)
ALTER TABLE hookspec_attempts DROP CONSTRAINT hookspec_attempts_delivery_id_fkey;

//! A dispatcher's statements on SQLite. Lists are bound as one JSON array, read with
//! `json_each`, so that a statement has one text whatever the number of values and is
//! prepared once; `NOT INDEXED` makes each id in one be looked up by key (otherwise the
//! planner may prefer the index of pending deliveries, as a statement also asks for
//! `status = 'pending'`, and read every pending row).

use super::SqliteStore;
use crate::delivery::store::{Bookkeeping, Job};
use crate::delivery::OutboxError;

/// The oldest due deliveries with what an attempt needs (`$3` now, `$4` the limit, `$5` the
/// busy subscriptions, `$6` due from). SQLite cannot join in an UPDATE's RETURNING, and a
/// subquery there scans its whole table (every message, for each delivery claimed), so the
/// claim reads what is due and then writes the leases ([`LEASE`]).
const DUE: &str = "SELECT d.id, d.attempts, d.next_attempt_at, d.message_id, d.subscription_id, \
       m.event, m.method, m.payload, s.owner, s.url, s.secrets, s.rate_limit \
     FROM (SELECT d.id FROM hookspec_deliveries d \
       JOIN hookspec_subscriptions s ON s.id = d.subscription_id \
       WHERE d.status = 'pending' AND d.next_attempt_at BETWEEN $6 AND $3 \
         AND (d.lease_until IS NULL OR d.lease_until < $3) AND s.enabled \
         AND (s.expires_at IS NULL OR s.expires_at > $3) \
         AND d.subscription_id NOT IN (SELECT value FROM json_each($5)) \
       ORDER BY d.next_attempt_at LIMIT $4) due \
     JOIN hookspec_deliveries d ON d.id = due.id \
     JOIN hookspec_subscriptions s ON s.id = d.subscription_id \
     JOIN hookspec_messages m ON m.id = d.message_id";

/// Leases the deliveries read by [`DUE`] (`$1` owner, `$2` until, `$3` their ids).
const LEASE: &str = "UPDATE hookspec_deliveries NOT INDEXED \
    SET lease_owner = $1, lease_until = $2 \
    WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_each($3))";

impl Bookkeeping for SqliteStore {
    const RELEASE: &'static str = "UPDATE hookspec_deliveries NOT INDEXED \
        SET lease_owner = NULL, lease_until = NULL, next_attempt_at = $1 \
        WHERE lease_owner = $2 AND id IN (SELECT CAST(value AS BIGINT) FROM json_each($3))";

    const RECORD_SUCCESSES: [&'static str; 3] = [
        "DELETE FROM hookspec_deliveries NOT INDEXED WHERE lease_owner = $1 AND status = 'pending' \
         AND id IN (SELECT CAST(value AS BIGINT) FROM json_each($2)) RETURNING id",
        "INSERT INTO hookspec_attempts (delivery_id, message_id, subscription_id, attempted_at, \
           status_code, error, latency_ms, response_excerpt) \
         SELECT CAST(value->>0 AS BIGINT), value->>1, value->>2, CAST(value->>3 AS BIGINT), \
           CAST(value->>4 AS BIGINT), value->>5, CAST(value->>6 AS BIGINT), value->>7 \
         FROM json_each($1)",
        "UPDATE hookspec_subscriptions SET failing_since = NULL \
         WHERE failing_since IS NOT NULL AND id IN (SELECT value FROM json_each($1))",
    ];

    /// Reads what is due and writes the leases in a transaction that holds the write lock
    /// throughout: nothing can claim the same rows in between.
    async fn claim(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
        busy: &[String],
        from: i64,
    ) -> Result<Vec<Job>, OutboxError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let rows = sqlx::query(DUE)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .bind(serde_json::to_string(busy)?)
            .bind(from)
            .fetch_all(&mut *tx)
            .await?;
        let mut jobs = rows
            .iter()
            .map(Job::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if !jobs.is_empty() {
            let ids: Vec<i64> = jobs.iter().map(|job| job.delivery).collect();
            sqlx::query(LEASE)
                .bind(owner)
                .bind(lease_until)
                .bind(serde_json::to_string(&ids)?)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        // Oldest first, as they were chosen (a join keeps no order).
        jobs.sort_unstable_by_key(|job| (job.due_at, job.delivery));
        Ok(jobs)
    }
}

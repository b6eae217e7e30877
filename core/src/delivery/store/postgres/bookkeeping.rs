//! A dispatcher's statements on PostgreSQL. Lists are bound as one JSON array, read with
//! `jsonb_array_elements_text`, so that a statement has one text whatever the number of
//! values and is prepared once; ids in one are matched with `= ANY(ARRAY(..))`, looked up by
//! key whatever the plan.
//!
//! "Whatever the plan" matters because these connections plan each statement once, when it is
//! prepared, and keep that plan until the next ANALYZE of its tables (autovacuum's, once a
//! table has grown by a tenth, or never where autovacuum is off; see
//! [`PostgresStore::connect`]): one made while the tables were small (a new database) is kept
//! as they grow. So these statements leave the planner nothing worse to choose, and
//! `plans.rs` checks their plans on empty tables.
//!
//! Recording a success deletes the deliveries this dispatcher holds by id and lease alone:
//! asking also for `status = 'pending'` let the planner read them through the index of pending
//! deliveries, every pending row on each batch, which a plan made on a small table went on
//! doing with a backlog. The lease is enough: a delivery stops being pending only by recording
//! a failure, which clears its lease in the same statement.

use std::collections::HashSet;

use super::PostgresStore;
use crate::delivery::store::{Bookkeeping, Finished, Job, Outcome, SuccessBatch};
use crate::delivery::OutboxError;

/// Claims the oldest due deliveries and returns what an attempt needs, in one statement (`$1`
/// owner, `$2` lease until, `$3` now, `$4` the limit, `$5` the busy subscriptions, `$6` due
/// from): the chosen ids taken as an array and looked up by key whatever the plan, then each
/// claimed delivery's message and subscription looked up by key. `FOR UPDATE SKIP LOCKED` lets
/// several dispatchers claim side by side without waiting on, or taking, each other's rows.
///
/// The lookups are `LATERAL` subqueries that the planner may not flatten (`OFFSET 0`), so each
/// is an index scan whatever the statistics (see the module's doc). Joined plainly, the plan
/// made on a new database hashed the whole of `hookspec_messages` on every claim, and went on
/// doing so as it grew. Both rows exist while the delivery is locked: deleting either cascades
/// to its deliveries, which waits for the lock (or, taken first, makes the claim skip them).
pub(super) const CLAIM: &str = "WITH claimed AS ( \
       UPDATE hookspec_deliveries SET lease_owner = $1, lease_until = $2 \
       WHERE id = ANY(ARRAY(SELECT d.id FROM hookspec_deliveries d \
         JOIN hookspec_subscriptions s ON s.id = d.subscription_id \
         WHERE d.status = 'pending' AND d.next_attempt_at BETWEEN $6 AND $3 \
           AND (d.lease_until IS NULL OR d.lease_until < $3) AND s.enabled \
           AND (s.expires_at IS NULL OR s.expires_at > $3) \
           AND d.subscription_id NOT IN (SELECT value FROM jsonb_array_elements_text($5::jsonb)) \
         ORDER BY d.next_attempt_at LIMIT $4 FOR UPDATE OF d SKIP LOCKED)) \
       RETURNING id, attempts, next_attempt_at, message_id, subscription_id) \
     SELECT c.id, c.attempts, c.next_attempt_at, c.message_id, c.subscription_id, \
       m.event, m.method, m.payload, sub.owner, sub.url, sub.secrets, sub.rate_limit \
     FROM claimed c \
     CROSS JOIN LATERAL (SELECT event, method, payload FROM hookspec_messages \
       WHERE id = c.message_id OFFSET 0) m \
     CROSS JOIN LATERAL (SELECT owner, url, secrets, rate_limit FROM hookspec_subscriptions \
       WHERE id = c.subscription_id OFFSET 0) sub";

/// The common case, a batch of successes only, as one statement (`$1` owner, `$2` the
/// deliveries, `$3` the attempts): one round trip, atomic by itself. What it writes is what
/// [`Bookkeeping::RECORD_SUCCESSES`] writes in three.
pub(super) const RECORD_ONLY_SUCCESSES: &str = "WITH done AS ( \
      DELETE FROM hookspec_deliveries WHERE lease_owner = $1 \
        AND id = ANY(ARRAY(SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text($2::jsonb))) \
      RETURNING id, subscription_id), \
    logged AS ( \
      INSERT INTO hookspec_attempts (delivery_id, message_id, subscription_id, attempted_at, \
        status_code, error, latency_ms, response_excerpt) \
      SELECT CAST(value->>0 AS BIGINT), value->>1, value->>2, CAST(value->>3 AS BIGINT), \
        CAST(value->>4 AS BIGINT), value->>5, CAST(value->>6 AS BIGINT), value->>7 \
      FROM jsonb_array_elements($3::jsonb) WHERE CAST(value->>0 AS BIGINT) IN (SELECT id FROM done)), \
    cleared AS ( \
      UPDATE hookspec_subscriptions SET failing_since = NULL \
      WHERE failing_since IS NOT NULL AND id IN (SELECT subscription_id FROM done)) \
    SELECT id FROM done";

impl Bookkeeping for PostgresStore {
    const RELEASE: &'static str = "UPDATE hookspec_deliveries \
        SET lease_owner = NULL, lease_until = NULL, next_attempt_at = $1 \
        WHERE lease_owner = $2 \
          AND id = ANY(ARRAY(SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text($3::jsonb)))";

    const RECORD_SUCCESSES: [&'static str; 3] = [
        "DELETE FROM hookspec_deliveries WHERE lease_owner = $1 \
         AND id = ANY(ARRAY(SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text($2::jsonb))) \
         RETURNING id",
        "INSERT INTO hookspec_attempts (delivery_id, message_id, subscription_id, attempted_at, \
           status_code, error, latency_ms, response_excerpt) \
         SELECT CAST(value->>0 AS BIGINT), value->>1, value->>2, CAST(value->>3 AS BIGINT), \
           CAST(value->>4 AS BIGINT), value->>5, CAST(value->>6 AS BIGINT), value->>7 \
         FROM jsonb_array_elements($1::jsonb)",
        "UPDATE hookspec_subscriptions SET failing_since = NULL \
         WHERE failing_since IS NOT NULL \
           AND id = ANY(ARRAY(SELECT value FROM jsonb_array_elements_text($1::jsonb)))",
    ];

    async fn claim(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
        busy: &[String],
        from: i64,
    ) -> Result<Vec<Job>, OutboxError> {
        let rows = sqlx::query(CLAIM)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .bind(serde_json::to_string(busy)?)
            .bind(from)
            .fetch_all(&self.pool)
            .await?;
        let mut jobs = rows
            .iter()
            .map(Job::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // Oldest first, as they were chosen (RETURNING keeps no order).
        jobs.sort_unstable_by_key(|job| (job.due_at, job.delivery));
        Ok(jobs)
    }

    /// A batch of successes only, the common case, in one statement; any other batch as
    /// every backend records it.
    async fn finish(
        &self,
        owner: &str,
        results: &[(Job, Outcome)],
    ) -> Result<Vec<Finished>, OutboxError> {
        if !results.iter().all(|(_, outcome)| outcome.delivered()) {
            return self.finish_in_transaction(owner, results).await;
        }
        let all: Vec<usize> = (0..results.len()).collect();
        let Some(batch) = SuccessBatch::new(results, &all)? else {
            return Ok(Vec::new());
        };
        let (attempts, _) = SuccessBatch::rows(results, &all)?;
        let updated: HashSet<i64> = sqlx::query_scalar(RECORD_ONLY_SUCCESSES)
            .bind(owner)
            .bind(&batch.deliveries)
            .bind(attempts)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .collect();
        Ok(results
            .iter()
            .map(|(job, _)| Finished {
                recorded: updated.contains(&job.delivery),
                disabled: false,
            })
            .collect())
    }
}

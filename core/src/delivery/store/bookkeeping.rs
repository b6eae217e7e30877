//! What a dispatcher asks of its backend: claiming due deliveries, recording outcomes,
//! giving deliveries back, and rate-limit tokens. The statements both backends run alike are
//! written here once; each backend writes its claim and the statements that take lists.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Type};

use super::outcome::{Finished, Next, Outcome, SuccessBatch};
use super::{rate, Job, RowsAffected, Store};
use crate::delivery::clock::now_ms;
use crate::delivery::OutboxError;

/// One backend's side of dispatching, on the connections it keeps for that.
pub(crate) trait Bookkeeping: Store
where
    for<'c> &'c mut <Self::Db as Database>::Connection: Executor<'c, Database = Self::Db>,
    <Self::Db as Database>::Arguments: IntoArguments<Self::Db>,
    <Self::Db as Database>::QueryResult: RowsAffected,
    i64: for<'q> Encode<'q, Self::Db> + for<'r> Decode<'r, Self::Db> + Type<Self::Db>,
    bool: for<'q> Encode<'q, Self::Db> + for<'r> Decode<'r, Self::Db> + Type<Self::Db>,
    String: for<'q> Encode<'q, Self::Db> + for<'r> Decode<'r, Self::Db> + Type<Self::Db>,
    Option<i64>: for<'q> Encode<'q, Self::Db>,
    for<'q> &'q str: Encode<'q, Self::Db> + Type<Self::Db>,
    for<'q> Option<&'q str>: Encode<'q, Self::Db>,
    for<'r> &'r str: ColumnIndex<<Self::Db as Database>::Row>,
    usize: ColumnIndex<<Self::Db as Database>::Row>,
{
    /// Gives deliveries back (`$1` due again at, `$2` their lease owner, `$3` their ids as a
    /// JSON array), each looked up by key.
    const RELEASE: &'static str;

    /// The three statements that record a batch of successful attempts, in order: delete the
    /// deliveries (`$1` owner, `$2` their ids), insert the attempts (`$1`
    /// [`SuccessBatch::rows`]' first), clear the subscriptions' failure (`$1` its second). A
    /// delivered delivery is deleted (see migration 3).
    const RECORD_SUCCESSES: [&'static str; 3];

    /// Claims up to `limit` due deliveries for `owner` until `lease_until`, skipping the
    /// subscriptions in `busy` and anything due before `from`, and returns what each one
    /// needs, oldest first. Claims write the lease only, no indexed column (see migration
    /// 2): the scan of due work reads past the deliveries in flight, which is far cheaper
    /// than moving each claimed one in every index.
    fn claim(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
        busy: &[String],
        from: i64,
    ) -> impl Future<Output = Result<Vec<Job>, OutboxError>> + Send;

    /// The earliest time a pending delivery of an enabled subscription, not leased, falls
    /// due. Leased ones are in flight, or fall due when a dead dispatcher's lease runs out,
    /// which polling finds.
    fn next_due(&self) -> impl Future<Output = Result<Option<i64>, OutboxError>> + Send {
        async move {
            Ok(sqlx::query_scalar::<_, i64>(NEXT_DUE)
                .bind(now_ms())
                .fetch_optional(self.pool())
                .await?)
        }
    }

    /// Records attempts and their outcomes in one transaction (one commit for a batch),
    /// each fenced by the lease: a dispatcher whose lease expired (and whose delivery another
    /// one took over) changes nothing.
    fn finish(
        &self,
        owner: &str,
        results: &[(Job, Outcome)],
    ) -> impl Future<Output = Result<Vec<Finished>, OutboxError>> + Send {
        self.finish_in_transaction(owner, results)
    }

    /// [`finish`](Self::finish), as written for every backend.
    fn finish_in_transaction(
        &self,
        owner: &str,
        results: &[(Job, Outcome)],
    ) -> impl Future<Output = Result<Vec<Finished>, OutboxError>> + Send {
        async move {
            let mut tx = self.pool().begin().await?;
            let mut finished = vec![Finished::default(); results.len()];
            // Successes, the bulk of the work, take three statements whatever their number.
            let successes: Vec<usize> = (0..results.len())
                .filter(|i| results[*i].1.delivered())
                .collect();
            if let Some(batch) = SuccessBatch::new(results, &successes)? {
                let [delete, log, clear] = Self::RECORD_SUCCESSES;
                let updated: HashSet<i64> = sqlx::query_scalar(delete)
                    .bind(owner)
                    .bind(batch.deliveries)
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
                let recorded: Vec<usize> = successes
                    .into_iter()
                    .filter(|i| updated.contains(&results[*i].0.delivery))
                    .collect();
                if !recorded.is_empty() {
                    let (attempts, subscriptions) = SuccessBatch::rows(results, &recorded)?;
                    sqlx::query(log).bind(attempts).execute(&mut *tx).await?;
                    sqlx::query(clear)
                        .bind(subscriptions)
                        .execute(&mut *tx)
                        .await?;
                }
                for i in recorded {
                    finished[i].recorded = true;
                }
            }
            // Failures are rare, and each may disable its subscription: one at a time.
            for (i, (job, outcome)) in results
                .iter()
                .enumerate()
                .filter(|(_, (_, o))| !o.delivered())
            {
                let now = outcome.attempted_at;
                let (status, next, finished_at) = match outcome.next {
                    Next::RetryAt(at) => ("pending", at, None),
                    // (Never delivered: those were recorded above.)
                    Next::GiveUp | Next::Delivered => ("failed", now, Some(now)),
                };
                let updated = sqlx::query(RECORD_FAILURE)
                    .bind(status)
                    .bind(next)
                    .bind(finished_at)
                    .bind(job.delivery)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    continue;
                }
                sqlx::query(LOG_ATTEMPT)
                    .bind(job.delivery)
                    .bind(job.message_id.as_str())
                    .bind(job.subscription_id.as_str())
                    .bind(now)
                    .bind(outcome.status_code)
                    .bind(outcome.error.as_deref())
                    .bind(outcome.latency_ms)
                    .bind(outcome.excerpt.as_deref())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(MARK_FAILING)
                    .bind(now)
                    .bind(job.subscription_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                let disable = match (&outcome.disable, outcome.failing_cutoff) {
                    (Some(reason), _) => Some(
                        sqlx::query(DISABLE)
                            .bind(reason.as_str())
                            .bind(now)
                            .bind(job.subscription_id.as_str()),
                    ),
                    (None, Some(cutoff)) => Some(
                        sqlx::query(DISABLE_FAILING)
                            .bind(now)
                            .bind(job.subscription_id.as_str())
                            .bind(cutoff),
                    ),
                    (None, None) => None,
                };
                let disabled = match disable {
                    Some(query) => query.execute(&mut *tx).await?.rows_affected() > 0,
                    None => false,
                };
                finished[i] = Finished {
                    recorded: true,
                    disabled,
                };
            }
            tx.commit().await?;
            Ok(finished)
        }
    }

    /// Gives claimed deliveries back without an attempt, due again at `at`.
    fn release(
        &self,
        deliveries: &[i64],
        owner: &str,
        at: i64,
    ) -> impl Future<Output = Result<(), OutboxError>> + Send {
        async move {
            if deliveries.is_empty() {
                return Ok(());
            }
            sqlx::query(Self::RELEASE)
                .bind(at)
                .bind(owner)
                .bind(serde_json::to_string(deliveries)?)
                .execute(self.pool())
                .await?;
            Ok(())
        }
    }

    /// Takes a token of `subscription`, limited to `per_second` deliveries per second, at
    /// `now` (µs since the epoch), or says how long until one is available (see
    /// [`rate`](super::rate)). The clocks of the dispatchers must agree, as they must for
    /// leases: one running δ ahead may send up to δ × n early.
    fn take_token(
        &self,
        subscription: &str,
        per_second: i64,
        now: i64,
    ) -> impl Future<Output = Result<Option<Duration>, OutboxError>> + Send {
        async move {
            let limit = rate::Limit::new(per_second);
            let taken = sqlx::query(rate::TAKE)
                .bind(now)
                .bind(limit.interval)
                .bind(limit.tolerance)
                .bind(subscription)
                .execute(self.pool())
                .await?
                .rows_affected();
            if taken > 0 {
                return Ok(None);
            }
            // Refused: read apart from the update, as a refusal should take no lock; the time
            // only moves later meanwhile, and the delivery will ask again anyway. A
            // subscription deleted meanwhile (no row) has no deliveries left to wait.
            let tat: Option<Option<i64>> = sqlx::query_scalar(rate::READ)
                .bind(subscription)
                .fetch_optional(self.pool())
                .await?;
            Ok(Some(limit.wait(tat.flatten(), now)))
        }
    }
}

/// The first pending delivery of an enabled subscription, in index order, so that it ends
/// the search (an aggregate would read every pending row). `$1` is now.
pub(super) const NEXT_DUE: &str = "SELECT d.next_attempt_at \
    FROM hookspec_deliveries d JOIN hookspec_subscriptions s ON s.id = d.subscription_id \
    WHERE d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until < $1) AND s.enabled \
      AND (s.expires_at IS NULL OR s.expires_at > $1) \
    ORDER BY d.next_attempt_at LIMIT 1";

/// What recording a failed attempt writes: the delivery (`$1` its new status, `$2` when it is
/// due again, `$3` when it finished, `$4` its id, `$5` the lease owner)...
pub(super) const RECORD_FAILURE: &str =
    "UPDATE hookspec_deliveries SET status = $1, attempts = attempts + 1, \
    next_attempt_at = $2, finished_at = $3, lease_owner = NULL, lease_until = NULL \
    WHERE id = $4 AND lease_owner = $5 AND status = 'pending'";
/// ...the attempt...
const LOG_ATTEMPT: &str = "INSERT INTO hookspec_attempts (delivery_id, message_id, \
    subscription_id, attempted_at, status_code, error, latency_ms, response_excerpt) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// ...when its subscription started failing (`$1` now, `$2` the subscription)...
const MARK_FAILING: &str = "UPDATE hookspec_subscriptions \
    SET failing_since = COALESCE(failing_since, $1) WHERE id = $2";
/// ...and, when it says so, that the subscription is disabled (`$1` why, `$2` now, `$3` the
/// subscription)...
const DISABLE: &str = "UPDATE hookspec_subscriptions \
    SET enabled = FALSE, disabled_reason = $1, updated_at = $2 WHERE id = $3 AND enabled";
/// ...or when it has failed since before a cutoff (`$1` now, `$2` the subscription, `$3` the
/// cutoff).
const DISABLE_FAILING: &str = "UPDATE hookspec_subscriptions \
    SET enabled = FALSE, disabled_reason = 'failing', updated_at = $1 \
    WHERE id = $2 AND enabled AND failing_since < $3";

//! A subscription's messages: queued again, listed, and purged when old. The statements
//! both backends run alike are written here once.

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::pace::PurgePace;
use super::rows::attempt;
use super::{is_sql_state, Administration, RowsAffected, FOREIGN_KEY_VIOLATION};
use crate::delivery::model::{Attempt, DeliveryCounts, MessageRecord, StoredPayload};
use crate::delivery::OutboxError;

/// What purging runs on one backend: `$1` is a JSON array of ids in each.
pub(crate) struct PurgeSql {
    /// The attempts of the subscriptions in `$1`.
    pub(crate) attempts_of_subscriptions: &'static str,
    /// Up to `$2` messages older than `$1` with nothing pending, after `($3, $4)` in the
    /// order of (`created_at`, `id`), oldest first: their `id` and `created_at`.
    pub(crate) candidates: &'static str,
    /// The messages in `$1` that still have nothing pending; returns their ids.
    pub(crate) messages: &'static str,
    /// The attempts of the messages in `$1`.
    pub(crate) attempts_of_messages: &'static str,
    /// How long one purge transaction aims to take (see [`PurgePace`]).
    pub(crate) transaction_time: Duration,
}

/// Messages queued again, read, and purged.
pub(crate) trait Messages: Administration
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
    /// The backend's purging statements.
    const PURGE: PurgeSql;

    /// Makes whatever queues subscription `id`'s messages again wait for the others, for the
    /// rest of the transaction on `conn`: without it, two calls at once at READ COMMITTED
    /// would not see each other's uncommitted delivery and would both queue the message.
    fn lock_queue<'c>(
        conn: &'c mut <Self::Db as Database>::Connection,
        id: &'c str,
    ) -> impl Future<Output = Result<(), OutboxError>> + Send + 'c;

    /// Stores message `message` of `tenant` with one pending delivery, to subscription `id`.
    #[allow(clippy::too_many_arguments)]
    fn publish_to(
        &self,
        message: &str,
        event: &str,
        method: &str,
        body: &str,
        tenant: &str,
        id: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), OutboxError>> + Send {
        async move {
            let mut tx = self.pool().begin().await?;
            sqlx::query(
                "INSERT INTO hookspec_messages (id, event, method, payload, created_at, tenant) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(message)
            .bind(event)
            .bind(method)
            .bind(body)
            .bind(now)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO hookspec_deliveries (message_id, subscription_id, status, next_attempt_at, created_at) \
                 VALUES ($1, $2, 'pending', $3, $3)",
            )
            .bind(message)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }
    }

    /// Queues `message` (of `tenant`, or broadcast) again for subscription `id` if it was
    /// queued for it once and is not pending there; how many deliveries were queued (0 or 1).
    /// The message or the subscription deleted meanwhile queues nothing.
    fn resend(
        &self,
        message: &str,
        id: &str,
        tenant: &str,
        now: i64,
    ) -> impl Future<Output = Result<u64, OutboxError>> + Send {
        async move {
            let added = async {
                let mut tx = self.pool().begin().await?;
                Self::lock_queue(&mut tx, id).await?;
                let added = sqlx::query(RESEND)
                    .bind(message)
                    .bind(id)
                    .bind(now)
                    .bind(tenant)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok::<u64, OutboxError>(added)
            }
            .await;
            // The message or the subscription deleted meanwhile fails the foreign key.
            match added {
                Err(e) if is_sql_state(&e, FOREIGN_KEY_VIOLATION) => Ok(0),
                added => added,
            }
        }
    }

    /// Whether a delivery of `message` to subscription `id` is pending.
    fn pending(
        &self,
        id: &str,
        message: &str,
    ) -> impl Future<Output = Result<bool, OutboxError>> + Send {
        async move {
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM hookspec_deliveries \
                 WHERE message_id = $1 AND subscription_id = $2 AND status = 'pending'",
            )
            .bind(message)
            .bind(id)
            .fetch_one(self.pool())
            .await?;
            Ok(count > 0)
        }
    }

    /// Queues again, due at `now`, up to `limit` messages of `tenant` (or broadcast) that
    /// subscription `id` was given since `since`, oldest first, skipping those pending there.
    fn replay(
        &self,
        id: &str,
        tenant: &str,
        since: i64,
        limit: i64,
        now: i64,
    ) -> impl Future<Output = Result<u64, OutboxError>> + Send {
        async move {
            let mut tx = self.pool().begin().await?;
            Self::lock_queue(&mut tx, id).await?;
            let queued = sqlx::query(REPLAY)
                .bind(id)
                .bind(now)
                .bind(since)
                .bind(tenant)
                .bind(limit)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(queued)
        }
    }

    /// Every attempt to deliver `message`, oldest first.
    fn attempts(
        &self,
        message: &str,
    ) -> impl Future<Output = Result<Vec<Attempt>, OutboxError>> + Send {
        async move {
            let rows = sqlx::query(
                "SELECT id, subscription_id, attempted_at, status_code, error, latency_ms, response_excerpt \
                 FROM hookspec_attempts WHERE message_id = $1 ORDER BY id",
            )
            .bind(message)
            .fetch_all(self.pool())
            .await?;
            rows.iter().map(attempt).collect()
        }
    }

    /// The attempts to deliver `message` to `tenant`'s subscriptions after attempt `after`,
    /// oldest first, at most `limit`: one query, however many subscriptions it went to.
    fn tenant_attempts(
        &self,
        message: &str,
        tenant: &str,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Attempt>, OutboxError>> + Send {
        async move {
            let rows = sqlx::query(
                "SELECT a.id, a.subscription_id, a.attempted_at, a.status_code, a.error, \
                   a.latency_ms, a.response_excerpt \
                 FROM hookspec_attempts a JOIN hookspec_subscriptions s ON s.id = a.subscription_id \
                 WHERE a.message_id = $1 AND s.owner = $2 AND a.id > $3 ORDER BY a.id LIMIT $4",
            )
            .bind(message)
            .bind(tenant)
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
            rows.iter().map(attempt).collect()
        }
    }

    /// The newest `limit` messages queued for subscription `id`, newest first, each with its
    /// first `attempts_each` attempts there, oldest first: one round trip for the messages and
    /// one for the attempts of the page.
    fn recent_messages(
        &self,
        id: &str,
        limit: i64,
        attempts_each: usize,
    ) -> impl Future<Output = Result<Vec<MessageRecord>, OutboxError>> + Send {
        async move {
            let rows = sqlx::query(RECENT_MESSAGES)
                .bind(id)
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
            let mut records = rows
                .iter()
                .map(|row| {
                    Ok::<MessageRecord, OutboxError>(MessageRecord {
                        message_id: row.try_get("id")?,
                        event: row.try_get("event")?,
                        created_at: row.try_get("created_at")?,
                        pending: row.try_get("pending")?,
                        attempts: Vec::new(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let rows = sqlx::query(RECENT_ATTEMPTS)
                .bind(id)
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
            for row in &rows {
                let message_id: String = row.try_get("message_id")?;
                let record = records.iter_mut().find(|r| r.message_id == message_id);
                if let Some(record) = record.filter(|r| r.attempts.len() < attempts_each) {
                    record.attempts.push(attempt(row)?);
                }
            }
            Ok(records)
        }
    }

    /// The payloads queued for subscription `id`, from `cursor` on, at most `limit`.
    fn payloads(
        &self,
        id: &str,
        cursor: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<StoredPayload>, OutboxError>> + Send {
        async move {
            let rows = sqlx::query(PAYLOADS)
                .bind(id)
                .bind(cursor)
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
            rows.iter()
                .map(|row| {
                    let payload: String = row.try_get("payload")?;
                    Ok(StoredPayload {
                        cursor: row.try_get("id")?,
                        message_id: row.try_get("message_id")?,
                        event: row.try_get("event")?,
                        payload: serde_json::from_str(&payload)?,
                        created_at: row.try_get("created_at")?,
                    })
                })
                .collect()
        }
    }

    /// How many deliveries are in each state, over every tenant.
    fn delivery_counts(&self) -> impl Future<Output = Result<DeliveryCounts, OutboxError>> + Send {
        async move {
            // A delivery that succeeded is deleted; its 2xx attempt counts it (see migration 3).
            let row = sqlx::query(
                "SELECT \
                   COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending, \
                   (SELECT COUNT(*) FROM hookspec_attempts WHERE status_code BETWEEN 200 AND 299) AS succeeded, \
                   COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS failed \
                 FROM hookspec_deliveries",
            )
            .fetch_one(self.pool())
            .await?;
            Ok(DeliveryCounts {
                pending: row.try_get("pending")?,
                succeeded: row.try_get("succeeded")?,
                failed: row.try_get("failed")?,
            })
        }
    }

    /// Deletes messages older than `before`, with their deliveries and attempts, once none
    /// of their deliveries is pending, and subscriptions expired before `before`. Paced (see
    /// [`PurgePace`]): transactions of about the backend's `transaction_time`, each followed
    /// by a rest as long, so that publishing and delivering beside it wait little.
    fn purge(&self, before: i64) -> impl Future<Output = Result<u64, OutboxError>> + Send {
        async move {
            let sql = &Self::PURGE;
            // Subscriptions expired for longer than the retention go too (Airtable keeps an
            // expired webhook's payloads readable for a while, then deletes it).
            let mut tx = self.pool().begin().await?;
            let gone: Vec<String> = sqlx::query_scalar(
                "DELETE FROM hookspec_subscriptions \
                 WHERE expires_at IS NOT NULL AND expires_at < $1 RETURNING id",
            )
            .bind(before)
            .fetch_all(&mut *tx)
            .await?;
            if !gone.is_empty() {
                sqlx::query(sql.attempts_of_subscriptions)
                    .bind(serde_json::to_string(&gone)?)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            let mut purged = 0;
            let mut pace = PurgePace::new(sql.transaction_time);
            // Where the last transaction's candidates ended, (created_at, id): each search
            // starts there, not at the oldest message. On PostgreSQL the index entries of
            // the messages already deleted stay until a vacuum, and a search from the start
            // read all of them again: 1,128 buffers and 9 ms for a batch after 220,000
            // deleted, against 42 buffers and 0.3 ms from the cursor. A message passed over
            // as pending that finishes meanwhile waits for the next purge.
            let mut after = (i64::MIN, String::new());
            loop {
                let mut tx = self.pool().begin().await?;
                // Timed from when the transaction has the connection, not from when it asked.
                let started = Instant::now();
                let rows = sqlx::query(sql.candidates)
                    .bind(before)
                    .bind(pace.batch() as i64)
                    .bind(after.0)
                    .bind(after.1.as_str())
                    .fetch_all(&mut *tx)
                    .await?;
                let found = rows
                    .iter()
                    .map(|row| row.try_get("id"))
                    .collect::<Result<Vec<String>, _>>()?;
                if let Some(last) = rows.last() {
                    after = (last.try_get("created_at")?, last.try_get("id")?);
                }
                let mut deleted: Vec<String> = Vec::new();
                if !found.is_empty() {
                    deleted = sqlx::query_scalar(sql.messages)
                        .bind(serde_json::to_string(&found)?)
                        .fetch_all(&mut *tx)
                        .await?;
                }
                if !deleted.is_empty() {
                    sqlx::query(sql.attempts_of_messages)
                        .bind(serde_json::to_string(&deleted)?)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                purged += deleted.len() as u64;
                // Candidates queued again meanwhile are not deleted; the cursor has passed
                // them, so the search does not find them again and the purge goes on.
                if found.len() < pace.batch() {
                    return Ok(purged);
                }
                let rest;
                (pace, rest) = pace.after(started.elapsed());
                tokio::time::sleep(rest).await;
            }
        }
    }

    /// Pending deliveries by whether their subscription is enabled: (enabled, how many, when
    /// the oldest was queued). They are read through the index of pending ones.
    #[cfg(feature = "metrics")]
    fn pending_by_state(
        &self,
    ) -> impl Future<Output = Result<Vec<(bool, i64, Option<i64>)>, OutboxError>> + Send {
        async move {
            Ok(sqlx::query_as(
                "SELECT s.enabled AS enabled, COUNT(*) AS pending, MIN(d.created_at) AS oldest \
                 FROM hookspec_deliveries d JOIN hookspec_subscriptions s ON s.id = d.subscription_id \
                 WHERE d.status = 'pending' GROUP BY s.enabled",
            )
            .fetch_all(self.pool())
            .await?)
        }
    }

    /// Disabled subscriptions by stored reason (`""` for none).
    #[cfg(feature = "metrics")]
    fn disabled_by_reason(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, i64)>, OutboxError>> + Send {
        async move {
            Ok(sqlx::query_as(
                "SELECT COALESCE(disabled_reason, '') AS reason, COUNT(*) AS disabled \
                 FROM hookspec_subscriptions WHERE NOT enabled GROUP BY disabled_reason",
            )
            .fetch_all(self.pool())
            .await?)
        }
    }
}

/// Queues message `$1` again for subscription `$2`, due at `$3`, if it is tenant `$4`'s (or
/// broadcast), was queued there once (a delivery of it is left, or an attempt: a delivered
/// delivery is deleted, its attempts are its record), and is not pending there: what is
/// still to be sent is not queued twice.
const RESEND: &str = "INSERT INTO hookspec_deliveries (message_id, subscription_id, status, next_attempt_at, created_at) \
    SELECT m.id, $2, 'pending', $3, $3 FROM hookspec_messages m \
    WHERE m.id = $1 AND (m.tenant IS NULL OR m.tenant = $4) \
      AND (EXISTS (SELECT 1 FROM hookspec_deliveries d WHERE d.message_id = m.id AND d.subscription_id = $2) \
        OR EXISTS (SELECT 1 FROM hookspec_attempts a WHERE a.message_id = m.id AND a.subscription_id = $2)) \
      AND NOT EXISTS (SELECT 1 FROM hookspec_deliveries p WHERE p.message_id = m.id \
        AND p.subscription_id = $2 AND p.status = 'pending')";

/// Queues again for subscription `$1`, due at `$2`, the messages since `$3` of tenant `$4`
/// (or broadcast) that [`RESEND`] would, oldest first, at most `$5`.
const REPLAY: &str = "INSERT INTO hookspec_deliveries (message_id, subscription_id, status, next_attempt_at, created_at) \
    SELECT m.id, $1, 'pending', $2, $2 FROM hookspec_messages m \
    WHERE m.created_at >= $3 AND (m.tenant IS NULL OR m.tenant = $4) \
      AND (EXISTS (SELECT 1 FROM hookspec_deliveries d WHERE d.message_id = m.id AND d.subscription_id = $1) \
        OR EXISTS (SELECT 1 FROM hookspec_attempts a WHERE a.message_id = m.id AND a.subscription_id = $1)) \
      AND NOT EXISTS (SELECT 1 FROM hookspec_deliveries p WHERE p.message_id = m.id \
        AND p.subscription_id = $1 AND p.status = 'pending') \
    ORDER BY m.created_at, m.id LIMIT $5";

/// The newest messages queued for subscription `$1`, at most `$2`, and whether a delivery of
/// each is pending there. A delivered delivery is deleted and recorded by its attempts, so a
/// message was queued here if a delivery or an attempt of it names the subscription.
const RECENT_MESSAGES: &str = "SELECT m.id, m.event, m.created_at, \
      EXISTS (SELECT 1 FROM hookspec_deliveries p WHERE p.message_id = m.id \
        AND p.subscription_id = $1 AND p.status = 'pending') AS pending \
    FROM hookspec_messages m WHERE m.id IN ( \
      SELECT message_id FROM hookspec_deliveries WHERE subscription_id = $1 \
      UNION SELECT message_id FROM hookspec_attempts WHERE subscription_id = $1) \
    ORDER BY m.created_at DESC, m.id DESC LIMIT $2";

/// The attempts to subscription `$1` of the messages [`RECENT_MESSAGES`] lists.
const RECENT_ATTEMPTS: &str =
    "SELECT a.id, a.subscription_id, a.message_id, a.attempted_at, a.status_code, \
      a.error, a.latency_ms, a.response_excerpt \
    FROM hookspec_attempts a WHERE a.subscription_id = $1 \
      AND a.message_id IN (SELECT m.id FROM hookspec_messages m WHERE m.id IN ( \
        SELECT message_id FROM hookspec_deliveries WHERE subscription_id = $1 \
        UNION SELECT message_id FROM hookspec_attempts WHERE subscription_id = $1) \
      ORDER BY m.created_at DESC, m.id DESC LIMIT $2) ORDER BY a.id";

/// The payloads queued for subscription `$1` from cursor `$2`, at most `$3`: deliveries not
/// yet delivered, and those delivered (deleted, each recorded by its one 2xx attempt), two
/// disjoint lists, each cut to a page before they are merged (see migration 3).
const PAYLOADS: &str = "SELECT d.id, m.id AS message_id, m.event, m.payload, m.created_at FROM ( \
      SELECT * FROM (SELECT id, message_id FROM hookspec_deliveries \
        WHERE subscription_id = $1 AND id >= $2 ORDER BY id LIMIT $3) pending \
      UNION ALL \
      SELECT * FROM (SELECT delivery_id, message_id FROM hookspec_attempts \
        WHERE subscription_id = $1 AND delivery_id >= $2 AND status_code BETWEEN 200 AND 299 \
        ORDER BY delivery_id LIMIT $3) delivered \
    ) d JOIN hookspec_messages m ON m.id = d.message_id ORDER BY d.id LIMIT $3";

//! What a tenant can ask of its deliveries: a test event, a message sent again, a replay since
//! a time, and the attempt log. Each is scoped to the tenant's own subscriptions, and the
//! ones that queue work are idempotent for what is already pending.

use serde::Serialize;
use sqlx::Row;

use super::outbox::{new_id, Attempt};
use super::store::{is_sql_state, now_ms, on_pool, Pool, FOREIGN_KEY_VIOLATION};
use super::tenant::Tenant;
use super::OutboxError;

/// The most messages one [`Tenant::replay`] queues: call it again to queue the rest.
pub const REPLAY_LIMIT: u64 = 1000;

/// The most attempts [`Tenant::attempts`] returns at once.
pub const ATTEMPTS_LIMIT: u32 = 100;

/// Taken on PostgreSQL, for its transaction, by whatever queues a subscription's messages
/// again (keyed by the subscription id). `not_pending!` alone does not stop two calls at
/// once: at READ COMMITTED neither sees the other's uncommitted delivery, so both queue the
/// message. The second now waits, and its statement then sees what the first committed.
/// (SQLite has one writer, and the outbox one connection to it.) Seed 1 keeps these keys
/// apart from the tenants' subscribe lock (seed 0).
const QUEUE_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 1))";

/// No pending delivery of message `$message` to subscription `$subscription` exists yet: what
/// is still to be sent is not queued twice.
macro_rules! not_pending {
    ($message:literal, $subscription:literal) => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM hookspec_deliveries p WHERE p.message_id = ",
            $message,
            " AND p.subscription_id = ",
            $subscription,
            " AND p.status = 'pending')"
        )
    };
}

/// Message `$message` was queued for subscription `$subscription` once: a delivery of it is
/// left, or an attempt (a delivered delivery is deleted; its attempts are its record).
macro_rules! was_queued {
    ($message:literal, $subscription:literal) => {
        concat!(
            "(EXISTS (SELECT 1 FROM hookspec_deliveries d WHERE d.message_id = ",
            $message,
            " AND d.subscription_id = ",
            $subscription,
            ") OR EXISTS (SELECT 1 FROM hookspec_attempts a WHERE a.message_id = ",
            $message,
            " AND a.subscription_id = ",
            $subscription,
            "))"
        )
    };
}

/// An [`Attempt`] from a row of either backend.
macro_rules! attempt {
    ($row:expr) => {{
        let row = &$row;
        Ok::<Attempt, OutboxError>(Attempt {
            id: row.try_get("id")?,
            subscription_id: row.try_get("subscription_id")?,
            attempted_at: row.try_get("attempted_at")?,
            status_code: row.try_get("status_code")?,
            error: row.try_get("error")?,
            latency_ms: row.try_get("latency_ms")?,
            response_excerpt: row.try_get("response_excerpt")?,
        })
    }};
}
pub(crate) use attempt;

impl Tenant {
    /// Publishes an event of `W` to this tenant's subscription `id` alone, whatever its
    /// events and filter: the management API's test event. Returns the message id.
    pub async fn publish_to<W: crate::Webhook>(
        &self,
        id: &str,
        payload: &W::Payload,
    ) -> Result<String, OutboxError>
    where
        W::Payload: Serialize,
    {
        self.subscription(id).await?;
        let message = new_id("msg");
        let body = serde_json::to_string(payload)?;
        let method = W::METHODS.first().map_or("POST", |m| m.as_str());
        let now = now_ms();
        on_pool!(&self.outbox.pool, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO hookspec_messages (id, event, method, payload, created_at, tenant) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&message)
            .bind(W::NAME)
            .bind(method)
            .bind(&body)
            .bind(now)
            .bind(&self.name)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO hookspec_deliveries (message_id, subscription_id, status, next_attempt_at, created_at) \
                 VALUES ($1, $2, 'pending', $3, $3)",
            )
            .bind(&message)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<(), OutboxError>(())
        })
        .map_err(|e| subscription_gone(e, id))?;
        self.outbox.published.notify_waiters();
        Ok(message)
    }

    /// Queues `message` again for this tenant's subscription `id`, if it was ever queued for
    /// it. If a delivery of it is still pending, nothing more is queued: calling this twice
    /// sends the message once.
    pub async fn resend(&self, id: &str, message: &str) -> Result<(), OutboxError> {
        self.subscription(id).await?;
        let sql = concat!(
            "INSERT INTO hookspec_deliveries (message_id, subscription_id, status, next_attempt_at, created_at) \
             SELECT m.id, $2, 'pending', $3, $3 FROM hookspec_messages m \
             WHERE m.id = $1 AND (m.tenant IS NULL OR m.tenant = $4) AND ",
            was_queued!("m.id", "$2"),
            " AND ",
            not_pending!("m.id", "$2")
        );
        let postgres = matches!(self.outbox.pool, Pool::Postgres(_));
        let added = on_pool!(&self.outbox.pool, |pool| {
            async {
                let mut tx = pool.begin().await?;
                if postgres {
                    sqlx::query(QUEUE_LOCK).bind(id).execute(&mut *tx).await?;
                }
                let added = sqlx::query(sql)
                    .bind(message)
                    .bind(id)
                    .bind(now_ms())
                    .bind(&self.name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok::<u64, OutboxError>(added)
            }
            .await
        });
        // The message or the subscription deleted meanwhile fails the foreign key.
        let added = match added {
            Ok(added) => added,
            Err(e) if is_sql_state(&e, FOREIGN_KEY_VIOLATION) => 0,
            Err(e) => return Err(e),
        };
        if added == 0 && !self.pending(id, message).await? {
            return Err(OutboxError::MessageNotFound(message.to_owned()));
        }
        self.outbox.published.notify_waiters();
        Ok(())
    }

    /// Whether a delivery of `message` to subscription `id` is pending.
    async fn pending(&self, id: &str, message: &str) -> Result<bool, OutboxError> {
        let sql = "SELECT COUNT(*) FROM hookspec_deliveries \
                   WHERE message_id = $1 AND subscription_id = $2 AND status = 'pending'";
        let count: i64 = on_pool!(&self.outbox.pool, |pool| {
            sqlx::query_scalar(sql)
                .bind(message)
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        Ok(count > 0)
    }

    /// Queues again the messages this tenant's subscription `id` was given since `since` (ms
    /// since the epoch), oldest first, once each, and returns how many. Messages with a
    /// delivery still pending are skipped, so a repeated call queues nothing twice. At most
    /// [`REPLAY_LIMIT`] are queued per call: while a call queues that many, call again.
    pub async fn replay(&self, id: &str, since: i64) -> Result<u64, OutboxError> {
        // A message purged, or the subscription deleted, meanwhile fails the foreign key: the
        // next try leaves the one out, or finds the other gone.
        let mut tries = 0;
        loop {
            self.subscription(id).await?;
            match self.replay_once(id, since).await {
                Err(e) if is_sql_state(&e, FOREIGN_KEY_VIOLATION) && tries < 3 => tries += 1,
                done => {
                    self.outbox.published.notify_waiters();
                    return done;
                }
            }
        }
    }

    async fn replay_once(&self, id: &str, since: i64) -> Result<u64, OutboxError> {
        let sql = concat!(
            "INSERT INTO hookspec_deliveries (message_id, subscription_id, status, next_attempt_at, created_at) \
             SELECT m.id, $1, 'pending', $2, $2 FROM hookspec_messages m \
             WHERE m.created_at >= $3 AND (m.tenant IS NULL OR m.tenant = $4) AND ",
            was_queued!("m.id", "$1"),
            " AND ",
            not_pending!("m.id", "$1"),
            " ORDER BY m.created_at, m.id LIMIT $5"
        );
        let postgres = matches!(self.outbox.pool, Pool::Postgres(_));
        on_pool!(&self.outbox.pool, |pool| {
            let mut tx = pool.begin().await?;
            if postgres {
                sqlx::query(QUEUE_LOCK).bind(id).execute(&mut *tx).await?;
            }
            let queued = sqlx::query(sql)
                .bind(id)
                .bind(now_ms())
                .bind(since)
                .bind(&self.name)
                .bind(REPLAY_LIMIT as i64)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(queued)
        })
    }

    /// The attempts to deliver `message` to this tenant's subscriptions, oldest first: those
    /// after attempt `after` (an [`Attempt::id`]), at most `limit` (at most
    /// [`ATTEMPTS_LIMIT`]). One query, however many subscriptions the message went to; a
    /// message of another tenant has no attempts here.
    pub async fn attempts(
        &self,
        message: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Attempt>, OutboxError> {
        let tenant = self.checked()?;
        let sql = "SELECT a.id, a.subscription_id, a.attempted_at, a.status_code, a.error, \
                     a.latency_ms, a.response_excerpt \
                   FROM hookspec_attempts a JOIN hookspec_subscriptions s ON s.id = a.subscription_id \
                   WHERE a.message_id = $1 AND s.owner = $2 AND a.id > $3 ORDER BY a.id LIMIT $4";
        on_pool!(&self.outbox.pool, |pool| {
            let rows = sqlx::query(sql)
                .bind(message)
                .bind(tenant)
                .bind(after)
                .bind(i64::from(limit.min(ATTEMPTS_LIMIT)))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|row| attempt!(row)).collect()
        })
    }
}

/// A foreign key violation from queueing a delivery for subscription `id`, deleted meanwhile,
/// as the subscription not found.
fn subscription_gone(error: OutboxError, id: &str) -> OutboxError {
    if is_sql_state(&error, FOREIGN_KEY_VIOLATION) {
        OutboxError::NotFound(id.to_owned())
    } else {
        error
    }
}

//! Deleting what is no longer wanted: messages past their retention, expired subscriptions,
//! a subscription on request. Deleting a message or a subscription deletes its deliveries by
//! cascade, but not their attempts, which have no foreign key (see migration 3): each deletes
//! them itself, after the rows they belong to. A dispatcher recording a success meanwhile has
//! then either committed, and its attempt is seen and deleted by the statement that follows,
//! or it waits for the delivery's row, held by the cascade, finds it gone and logs nothing.

use super::{is_sql_state, on_pool, Pool, DEADLOCK};
use crate::delivery::OutboxError;

/// Messages purged per transaction, so that a large backlog is neither held locked nor
/// listed in one parameter at once.
const PURGE_BATCH: usize = 1000;

/// No delivery of the message whose id is `message` is pending.
fn nothing_pending(message: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM hookspec_deliveries d \
         WHERE d.message_id = {message} AND d.status = 'pending')"
    )
}

impl Pool {
    /// Deletes messages older than `before`, with their deliveries and attempts, once none
    /// of their deliveries is pending, and subscriptions expired before `before`.
    pub(crate) async fn purge(&self, before: i64) -> Result<u64, OutboxError> {
        // Subscriptions expired for longer than the retention go too (Airtable keeps an
        // expired webhook's payloads readable for a while, then deletes it).
        let expired = "DELETE FROM hookspec_subscriptions \
                       WHERE expires_at IS NOT NULL AND expires_at < $1 RETURNING id";
        let their_attempts = format!(
            "DELETE FROM hookspec_attempts WHERE subscription_id IN (SELECT value FROM {})",
            self.json_values(1)
        );
        // On PostgreSQL the candidates are locked: a resend or replay of one then waits (its
        // new delivery's foreign key check) and fails once the message is gone, and the
        // delete checks again for one that committed before the lock. Without the lock, such
        // a delivery, accepted just before, would go with its message unsent. (SQLite has
        // one writer: nothing runs in between.)
        let candidates = format!(
            "SELECT m.id FROM hookspec_messages m WHERE m.created_at < $1 AND {} \
             ORDER BY m.created_at, m.id LIMIT $2{}",
            nothing_pending("m.id"),
            match self {
                Pool::Sqlite(_) => "",
                Pool::Postgres(_) => " FOR UPDATE",
            }
        );
        let finished = format!(
            "DELETE FROM hookspec_messages WHERE id IN (SELECT value FROM {}) AND {} RETURNING id",
            self.json_values(1),
            nothing_pending("hookspec_messages.id")
        );
        let finished_attempts = format!(
            "DELETE FROM hookspec_attempts WHERE message_id IN (SELECT value FROM {})",
            self.json_values(1)
        );
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let gone: Vec<String> = sqlx::query_scalar(expired)
                .bind(before)
                .fetch_all(&mut *tx)
                .await?;
            if !gone.is_empty() {
                sqlx::query(sqlx::AssertSqlSafe(&*their_attempts))
                    .bind(serde_json::to_string(&gone)?)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            let mut purged = 0;
            loop {
                let mut tx = pool.begin().await?;
                let found: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(&*candidates))
                    .bind(before)
                    .bind(PURGE_BATCH as i64)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut deleted: Vec<String> = Vec::new();
                if !found.is_empty() {
                    deleted = sqlx::query_scalar(sqlx::AssertSqlSafe(&*finished))
                        .bind(serde_json::to_string(&found)?)
                        .fetch_all(&mut *tx)
                        .await?;
                }
                if !deleted.is_empty() {
                    sqlx::query(sqlx::AssertSqlSafe(&*finished_attempts))
                        .bind(serde_json::to_string(&deleted)?)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                purged += deleted.len() as u64;
                if found.len() < PURGE_BATCH || deleted.is_empty() {
                    return Ok(purged);
                }
            }
        })
    }

    /// Deletes subscription `id` with its deliveries and their attempts. A message being
    /// published meanwhile either committed its delivery, which goes by cascade, or waits for
    /// the subscription's row and then skips it (see `PUBLISH_POSTGRES`).
    pub(crate) async fn delete_subscription(&self, id: &str) -> Result<(), OutboxError> {
        // The deliveries, then the subscription: the order in which a dispatcher recording a
        // failure takes them (the delivery, then its subscription's failure time), and the
        // cascade takes what was published in between. One published, claimed and failed in
        // between can still deadlock with this; PostgreSQL then aborts one side, and if it
        // is this one, it goes again.
        let mut tries = 0;
        loop {
            let deleted = on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                for sql in [
                    "DELETE FROM hookspec_deliveries WHERE subscription_id = $1",
                    "DELETE FROM hookspec_subscriptions WHERE id = $1",
                    "DELETE FROM hookspec_attempts WHERE subscription_id = $1",
                ] {
                    sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok::<(), OutboxError>(())
            });
            match deleted {
                Err(e) if is_sql_state(&e, DEADLOCK) && tries < 3 => tries += 1,
                done => return done,
            }
        }
    }
}

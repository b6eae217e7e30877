//! A subscription's recent messages with their attempts, for people looking at one endpoint
//! (the portal): what was sent, whether it is still pending, and what the receiver answered.

use sqlx::Row;

use super::outbox::Attempt;
use super::redeliver::attempt;
use super::redeliver::ATTEMPTS_LIMIT;
use super::store::on_pool;
use super::tenant::Tenant;
use super::OutboxError;

/// The most messages [`Tenant::recent_messages`] returns.
pub const RECENT_LIMIT: u32 = 50;

/// The newest messages queued for subscription `$1`, at most `$2`. A delivered delivery is
/// deleted and recorded by its attempts, so a message was queued here if a delivery or an
/// attempt of it names the subscription.
const RECENT: &str = "FROM hookspec_messages m WHERE m.id IN ( \
       SELECT message_id FROM hookspec_deliveries WHERE subscription_id = $1 \
       UNION SELECT message_id FROM hookspec_attempts WHERE subscription_id = $1) \
     ORDER BY m.created_at DESC, m.id DESC LIMIT $2";

/// A message queued for one subscription, with the attempts to deliver it there.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageRecord {
    /// The message id (`webhook-id`).
    pub message_id: String,
    /// The webhook name.
    pub event: String,
    /// When it was published (ms since the epoch).
    pub created_at: i64,
    /// Whether a delivery of it to this subscription is still waiting to be sent.
    pub pending: bool,
    /// The attempts to deliver it to this subscription, oldest first (at most
    /// [`ATTEMPTS_LIMIT`]).
    pub attempts: Vec<Attempt>,
}

impl Tenant {
    /// The newest messages queued for this tenant's subscription `id` (delivered, failed or
    /// pending), newest first, at most `limit` (at most [`RECENT_LIMIT`]), each with its
    /// attempts to this subscription.
    pub async fn recent_messages(
        &self,
        id: &str,
        limit: u32,
    ) -> Result<Vec<MessageRecord>, OutboxError> {
        self.subscription(id).await?;
        let limit = i64::from(limit.min(RECENT_LIMIT));
        let messages = format!(
            "SELECT m.id, m.event, m.created_at, \
               EXISTS (SELECT 1 FROM hookspec_deliveries p WHERE p.message_id = m.id \
                 AND p.subscription_id = $1 AND p.status = 'pending') AS pending \
             {RECENT}"
        );
        // Each message's attempts to this subscription, in the same round trip for the page.
        let attempts = format!(
            "SELECT a.id, a.subscription_id, a.message_id, a.attempted_at, a.status_code, \
               a.error, a.latency_ms, a.response_excerpt \
             FROM hookspec_attempts a WHERE a.subscription_id = $1 \
               AND a.message_id IN (SELECT m.id {RECENT}) ORDER BY a.id"
        );
        let (mut records, attempts) = on_pool!(&self.outbox.pool, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(messages))
                .bind(id)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            let records = rows
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
            let rows = sqlx::query(sqlx::AssertSqlSafe(attempts))
                .bind(id)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            let attempts = rows
                .iter()
                .map(|row| {
                    Ok::<_, OutboxError>((row.try_get::<String, _>("message_id")?, attempt!(row)?))
                })
                .collect::<Result<Vec<_>, _>>()?;
            (records, attempts)
        });
        for (message_id, attempt) in attempts {
            let record = records.iter_mut().find(|r| r.message_id == message_id);
            if let Some(record) = record.filter(|r| r.attempts.len() < ATTEMPTS_LIMIT as usize) {
                record.attempts.push(attempt);
            }
        }
        Ok(records)
    }
}

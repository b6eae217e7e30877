//! A subscription's recent messages with their attempts, for people looking at one endpoint
//! (the portal): what was sent, whether it is still pending, and what the receiver answered.

use sqlx::Row;

use super::outbox::Attempt;
use super::redeliver::ATTEMPTS_LIMIT;
use super::store::on_pool;
use super::tenant::Tenant;
use super::OutboxError;

/// The most messages [`Tenant::recent_messages`] returns.
pub const RECENT_LIMIT: u32 = 50;

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
        // A delivered delivery is deleted and recorded by its attempts, so a message was
        // queued here if a delivery or an attempt of it names the subscription.
        let sql = "SELECT m.id, m.event, m.created_at, \
                     EXISTS (SELECT 1 FROM hookspec_deliveries p WHERE p.message_id = m.id \
                       AND p.subscription_id = $1 AND p.status = 'pending') AS pending \
                   FROM hookspec_messages m WHERE m.id IN ( \
                     SELECT message_id FROM hookspec_deliveries WHERE subscription_id = $1 \
                     UNION SELECT message_id FROM hookspec_attempts WHERE subscription_id = $1) \
                   ORDER BY m.created_at DESC, m.id DESC LIMIT $2";
        let mut records: Vec<MessageRecord> = on_pool!(&self.outbox.pool, |pool| {
            let rows = sqlx::query(sql)
                .bind(id)
                .bind(i64::from(limit.min(RECENT_LIMIT)))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok::<MessageRecord, OutboxError>(MessageRecord {
                        message_id: row.try_get("id")?,
                        event: row.try_get("event")?,
                        created_at: row.try_get("created_at")?,
                        pending: row.try_get("pending")?,
                        attempts: Vec::new(),
                    })
                })
                .collect::<Result<_, _>>()?
        });
        // The attempt log the management API reads, kept to this subscription.
        for record in &mut records {
            let mut attempts = self.attempts(&record.message_id, 0, ATTEMPTS_LIMIT).await?;
            attempts.retain(|a| a.subscription_id == id);
            record.attempts = attempts;
        }
        Ok(records)
    }
}

//! A subscription's recent messages with their attempts, for people looking at one endpoint
//! (the portal): what was sent, whether it is still pending, and what the receiver answered.

use super::model::MessageRecord;
use super::redeliver::ATTEMPTS_LIMIT;
use super::tenant::Tenant;
use super::OutboxError;

/// The most messages [`Tenant::recent_messages`] returns.
pub const RECENT_LIMIT: u32 = 50;

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
        (self.outbox.store)
            .recent_messages(id, limit, ATTEMPTS_LIMIT as usize)
            .await
    }
}

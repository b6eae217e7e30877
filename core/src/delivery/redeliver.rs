//! What a tenant can ask of its deliveries: a test event, a message sent again, a replay since
//! a time, and the attempt log. Each is scoped to the tenant's own subscriptions, and the
//! ones that queue work are idempotent for what is already pending.

use serde::Serialize;

use super::clock::now_ms;
use super::model::{new_id, Attempt};
use super::store::{is_sql_state, FOREIGN_KEY_VIOLATION};
use super::tenant::Tenant;
use super::OutboxError;

/// The most messages one [`Tenant::replay`] queues: call it again to queue the rest.
pub const REPLAY_LIMIT: u64 = 1000;

/// The most attempts [`Tenant::attempts`] returns at once.
pub const ATTEMPTS_LIMIT: u32 = 100;

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
        (self.outbox.store)
            .publish_to(&message, W::NAME, method, &body, &self.name, id, now)
            .await
            .map_err(|e| subscription_gone(e, id))?;
        self.outbox.published.notify_waiters();
        Ok(message)
    }

    /// Queues `message` again for this tenant's subscription `id`, if it was ever queued for
    /// it. If a delivery of it is still pending, nothing more is queued: calling this twice
    /// sends the message once.
    pub async fn resend(&self, id: &str, message: &str) -> Result<(), OutboxError> {
        self.subscription(id).await?;
        let added = (self.outbox.store)
            .resend(message, id, &self.name, now_ms())
            .await?;
        if added == 0 && !self.pending(id, message).await? {
            return Err(OutboxError::MessageNotFound(message.to_owned()));
        }
        self.outbox.published.notify_waiters();
        Ok(())
    }

    /// Whether a delivery of `message` to subscription `id` is pending.
    async fn pending(&self, id: &str, message: &str) -> Result<bool, OutboxError> {
        self.outbox.store.pending(id, message).await
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
        (self.outbox.store)
            .replay(id, &self.name, since, REPLAY_LIMIT as i64, now_ms())
            .await
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
        (self.outbox.store)
            .tenant_attempts(message, tenant, after, i64::from(limit.min(ATTEMPTS_LIMIT)))
            .await
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

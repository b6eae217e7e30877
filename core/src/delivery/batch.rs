//! Publishing a slice of events in one transaction.

use serde::Serialize;
use tracing::Instrument;

use super::publish::{new_message, Audience, NewMessage};
use super::store::{Connection, OutboxTransaction};
use super::telemetry::publish_span;
use super::tenant::Tenant;
use super::OutboxError;
use crate::Webhook;

impl Tenant {
    /// Publishes one event of the declared webhook `W` per payload for this tenant, all in
    /// one transaction: each stored with one pending delivery per matching subscription of
    /// this tenant. Returns the message ids in the order of `payloads`. Either every event
    /// is stored or none is (a payload that does not serialize stores none). An empty slice
    /// stores nothing.
    ///
    /// Concurrent [`publish`](Self::publish) calls already share commits; this is for a
    /// caller that has many events at once (an import, a bulk change).
    pub async fn publish_batch<W: Webhook>(
        &self,
        payloads: &[W::Payload],
    ) -> Result<Vec<String>, OutboxError>
    where
        W::Payload: Serialize,
    {
        self.store_batch::<W>(None, payloads).await
    }

    /// [`publish_batch`](Self::publish_batch) in your transaction, so the events are stored
    /// if and only if it commits (see [`publish_in_tx`](Self::publish_in_tx)).
    pub async fn publish_batch_in_tx<W: Webhook>(
        &self,
        tx: &mut impl OutboxTransaction,
        payloads: &[W::Payload],
    ) -> Result<Vec<String>, OutboxError>
    where
        W::Payload: Serialize,
    {
        self.store_batch::<W>(Some(tx.connection()), payloads).await
    }

    /// Stores one message per payload in `tx`, or in a transaction of their own.
    async fn store_batch<W: Webhook>(
        &self,
        tx: Option<Connection<'_>>,
        payloads: &[W::Payload],
    ) -> Result<Vec<String>, OutboxError>
    where
        W::Payload: Serialize,
    {
        let tenant = self.checked()?;
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        let span = publish_span(W::NAME, Audience::Tenant(tenant));
        let values = values(payloads)?;
        let messages = self.messages::<W>(tenant, payloads, &values)?;
        let deliveries = (self.outbox.store)
            .publish_batch(tx, &messages)
            .instrument(span.clone())
            .await?;
        span.record("deliveries", deliveries.iter().sum::<usize>());
        // In the caller's transaction, committed later: dispatchers poll, so they still find it.
        self.outbox.published.notify_waiters();
        Ok(messages.into_iter().map(|m| m.id).collect())
    }

    fn messages<'v, W: Webhook>(
        &self,
        tenant: &'v str,
        payloads: &[W::Payload],
        values: &'v [serde_json::Value],
    ) -> Result<Vec<NewMessage<'v>>, OutboxError>
    where
        W::Payload: Serialize,
    {
        let envelope = self.outbox.envelopes::<W>();
        payloads
            .iter()
            .zip(values)
            .map(|(payload, value)| {
                new_message::<W>(payload, value, envelope, Audience::Tenant(tenant))
            })
            .collect()
    }
}

/// The payloads as JSON values, for filters.
fn values<P: Serialize>(payloads: &[P]) -> Result<Vec<serde_json::Value>, OutboxError> {
    let values = payloads.iter().map(serde_json::to_value);
    Ok(values.collect::<Result<_, _>>()?)
}

//! The outbox: subscriptions, and publishing events durably (in your transaction if you like).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tracing::Instrument;

use super::clock::{duration_ms, now_ms};
use super::group_commit::GroupCommit;
use super::model::{Attempt, DeliveryCounts, SubscriptionInfo};
use super::publish::{new_message, Audience};
use super::ssrf::SsrfPolicy;
use super::store::{Backend, OutboxTransaction};
use super::telemetry::publish_span;
use super::OutboxError;
use crate::signing::SigningKey;
use crate::Webhook;

/// The durable outbox of webhook events: SQLite embedded by default, PostgreSQL when several
/// machines deliver. Cheap to clone. A façade over its store, which holds the SQL.
#[derive(Clone)]
pub struct Outbox {
    pub(crate) store: Backend,
    /// What dispatchers record their work in: on PostgreSQL, connections that commit
    /// asynchronously (see `PostgresStore::connect`); on SQLite, the same connection.
    pub(crate) bookkeeping: Backend,
    pub(crate) ssrf: Arc<SsrfPolicy>,
    pub(crate) published: Arc<Notify>,
    /// Adds a `v1a` (ed25519) signature to every delivery, beside the `v1` ones.
    pub(crate) signing_key: Option<Arc<SigningKey>>,
    /// The most subscriptions one tenant may have.
    pub(crate) max_subscriptions: u32,
    /// Events sent in an envelope because their gateway says so (see
    /// [`Outbox::send_as_documented`]); a declaration's own `envelope` needs no entry.
    pub(crate) enveloped: Arc<BTreeSet<String>>,
    /// Where `publish` and `broadcast` queue to share a commit (see `group_commit`).
    pub(crate) group_commit: GroupCommit,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// Opens (creating it if needed) a SQLite outbox, e.g. `sqlite://hooks.db`, in WAL mode,
    /// and runs the embedded migrations. One process should dispatch from it.
    ///
    /// A task on the current runtime checkpoints the log from a second connection every
    /// 100 ms, so that no publish or claim waits behind a checkpoint; it stops when the last
    /// clone of the outbox is dropped (or with the runtime, after which the outbox's own
    /// connection checkpoints the log past 10,000 pages).
    pub async fn sqlite(url: &str) -> Result<Outbox, OutboxError> {
        let store = Backend::sqlite(url).await?;
        Ok(Self::with_stores(store.clone(), store))
    }

    /// Opens a PostgreSQL outbox and runs the embedded migrations. Several processes may
    /// publish and dispatch from it at once.
    ///
    /// Publishing commits with PostgreSQL's full durability. A dispatcher's own bookkeeping
    /// (claims and recorded outcomes) commits with `synchronous_commit = off`: if the database
    /// server crashes, its last fraction of a second of outcomes may be forgotten, and those
    /// deliveries are sent again. Deliveries are at-least-once either way; none is lost.
    pub async fn postgres(url: &str) -> Result<Outbox, OutboxError> {
        let (store, bookkeeping) = Backend::postgres(url).await?;
        Ok(Self::with_stores(store, bookkeeping))
    }

    fn with_stores(store: Backend, bookkeeping: Backend) -> Outbox {
        let published = Arc::new(Notify::new());
        Outbox {
            group_commit: GroupCommit::start(store.clone(), Arc::clone(&published)),
            store,
            bookkeeping,
            ssrf: Arc::new(SsrfPolicy::default()),
            published,
            signing_key: None,
            max_subscriptions: 1000,
            enveloped: Arc::default(),
        }
    }

    /// Sends the webhooks of `gateway` the way it documents them: wrapped in an
    /// [`Envelope`](crate::Envelope) when the gateway says `.envelope(true)`. A webhook or
    /// group declared with `envelope` is sent wrapped without this; a gateway's option is
    /// only known to the outbox through it.
    pub fn send_as_documented(mut self, gateway: &crate::WebhookGateway) -> Self {
        let mut enveloped = (*self.enveloped).clone();
        enveloped.extend(gateway.enveloped_events());
        self.enveloped = Arc::new(enveloped);
        self
    }

    /// Commits each [`publish`](super::Tenant::publish) and broadcast in a transaction of its
    /// own, as hookspec did before group commit: the baseline that the benchmarks measure
    /// group commit against. Not for production use.
    #[doc(hidden)]
    pub fn without_group_commit(mut self) -> Outbox {
        self.group_commit = GroupCommit::off();
        self
    }

    /// Whether `W`'s events are sent in an envelope.
    pub(crate) fn envelopes<W: Webhook>(&self) -> bool {
        W::ENVELOPE || self.enveloped.contains(W::NAME)
    }

    /// Sets which targets may be subscribed and delivered to (default: public addresses only).
    pub fn ssrf_policy(mut self, policy: SsrfPolicy) -> Self {
        self.ssrf = Arc::new(policy);
        self
    }

    /// Also signs every delivery with this ed25519 key (`v1a`), so receivers can verify with
    /// its public key (`whpk_...`) and hold no shared secret.
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.signing_key = Some(Arc::new(key));
        self
    }

    /// At most this many subscriptions per tenant (default 1,000): one tenant cannot fill
    /// the database, or the dispatcher's memory, with endpoints.
    pub fn max_subscriptions_per_tenant(mut self, limit: u32) -> Self {
        self.max_subscriptions = limit;
        self
    }

    /// A subscription, without its secrets.
    pub async fn subscription(&self, id: &str) -> Result<SubscriptionInfo, OutboxError> {
        (self.store.subscription(id, None).await?)
            .ok_or_else(|| OutboxError::NotFound(id.to_owned()))
    }

    /// Enables a subscription again (after a 410, continuous failures, or a manual disable);
    /// its pending deliveries resume.
    pub async fn enable(&self, id: &str) -> Result<(), OutboxError> {
        self.set_enabled(id, true).await
    }

    /// Stops deliveries to a subscription; pending ones wait until it is enabled.
    pub async fn disable(&self, id: &str) -> Result<(), OutboxError> {
        self.set_enabled(id, false).await
    }

    async fn set_enabled(&self, id: &str, enabled: bool) -> Result<(), OutboxError> {
        if !self.store.set_enabled(id, enabled, now_ms()).await? {
            return Err(OutboxError::NotFound(id.to_owned()));
        }
        self.published.notify_waiters();
        Ok(())
    }

    /// Broadcasts an event of the declared webhook `W` to the subscriptions of every tenant
    /// that want it: for events that really are global (a maintenance notice, say). Events
    /// about one customer's data go through [`tenant`](Self::tenant)`(..).publish`.
    pub async fn broadcast<W: Webhook>(&self, payload: &W::Payload) -> Result<String, OutboxError>
    where
        W::Payload: Serialize,
    {
        self.store::<W>(Audience::Everyone, payload).await
    }

    /// [`broadcast`](Self::broadcast) in your transaction (see
    /// [`Tenant::publish_in_tx`](super::Tenant::publish_in_tx)).
    pub async fn broadcast_in_tx<W: Webhook>(
        &self,
        tx: &mut impl OutboxTransaction,
        payload: &W::Payload,
    ) -> Result<String, OutboxError>
    where
        W::Payload: Serialize,
    {
        self.store_in_tx::<W>(tx, Audience::Everyone, payload).await
    }

    /// Stores a message for `audience` with its deliveries, in a transaction shared with
    /// the publishes queued meanwhile (see `group_commit`).
    pub(crate) async fn store<W: Webhook>(
        &self,
        audience: Audience<'_>,
        payload: &W::Payload,
    ) -> Result<String, OutboxError>
    where
        W::Payload: Serialize,
    {
        let span = publish_span(W::NAME, audience);
        let value = serde_json::to_value(payload)?;
        let message = new_message::<W>(payload, &value, self.envelopes::<W>(), audience)?;
        span.record("message", message.id.as_str());
        let id = message.id.clone();
        let deliveries = self
            .group_commit
            .publish(&self.store, &self.published, message.into(), value)
            .instrument(span.clone())
            .await?;
        span.record("deliveries", deliveries);
        Ok(id)
    }

    /// Stores a message for `audience` with its deliveries, in the caller's transaction.
    pub(crate) async fn store_in_tx<W: Webhook>(
        &self,
        tx: &mut impl OutboxTransaction,
        audience: Audience<'_>,
        payload: &W::Payload,
    ) -> Result<String, OutboxError>
    where
        W::Payload: Serialize,
    {
        let span = publish_span(W::NAME, audience);
        let value = serde_json::to_value(payload)?;
        let message = new_message::<W>(payload, &value, self.envelopes::<W>(), audience)?;
        span.record("message", message.id.as_str());
        let deliveries = (self.store)
            .publish_batch(Some(tx.connection()), std::slice::from_ref(&message))
            .instrument(span.clone())
            .await?;
        span.record("deliveries", deliveries.iter().sum::<usize>());
        // Dispatchers poll, so a delivery committed later is still found.
        self.published.notify_waiters();
        Ok(message.id)
    }

    /// Every attempt to deliver a message, to whichever tenant, oldest first: for the
    /// provider's own use ([`Tenant::attempts`](super::Tenant::attempts) is one tenant's view).
    pub async fn attempts(&self, message_id: &str) -> Result<Vec<Attempt>, OutboxError> {
        self.store.attempts(message_id).await
    }

    /// How many deliveries are in each state, over every tenant.
    pub async fn delivery_counts(&self) -> Result<DeliveryCounts, OutboxError> {
        self.store.delivery_counts().await
    }

    /// Deletes messages (with their deliveries and attempts) older than `retention` whose
    /// deliveries are all finished. The dispatcher does this periodically.
    ///
    /// The purge is paced, called here as in the dispatcher: short transactions (about
    /// 0.2 ms on SQLite, 5 ms on PostgreSQL, their count of messages adapted to how long the
    /// last one took, 10 at least), each followed by a rest as long as it took (a
    /// millisecond at least, tokio's timer), so that publishing and delivering beside it
    /// (on SQLite, through the one connection they share) wait for at most one short
    /// transaction. A large purge so takes longer than it would in back-to-back
    /// transactions of 1,000 messages: on PostgreSQL two to four times; on SQLite it deletes
    /// about 5,000 messages a second (1,000,000 in 190 s on a 2-core machine). It returns
    /// when it is done.
    pub async fn purge(&self, retention: Duration) -> Result<u64, OutboxError> {
        self.store
            .purge(now_ms().saturating_sub(duration_ms(retention)))
            .await
    }
}

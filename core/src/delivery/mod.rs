//! Delivery: typed, signed, retried, durable dispatch of the declared webhooks.
//!
//! ```no_run
//! # use hookspec::delivery::*;
//! # #[derive(serde::Serialize, utoipa::ToSchema)] pub struct Payment { amount: f64 }
//! # #[hookspec::whpost("new-event")] pub async fn new_event(data: Payment) {}
//! # async fn run(payment: Payment) -> Result<(), OutboxError> {
//! let outbox = Outbox::sqlite("sqlite://hooks.db").await?;
//! let acme = outbox.tenant("acme");
//! let created = acme.subscribe(Subscription::new("https://example.com/hooks").events([new_event::NAME])).await?;
//! println!("show this secret once: {}", created.secret.expose());
//! acme.publish::<new_event>(&payment).await?;
//! let dispatcher = outbox.dispatcher(DispatchConfig::default())?.spawn();
//! dispatcher.shutdown().await;
//! # Ok(()) }
//! ```

mod admin;
mod batch;
pub(crate) mod clock;
mod config;
mod cursor;
mod dispatcher;
mod filter;
mod group_commit;
mod history;
mod lanes;
mod model;
mod outbox;
mod publish;
mod redeliver;
mod retry;
mod sanitize;
mod ssrf;
pub(crate) mod store;
pub(crate) mod telemetry;
mod tenant;

pub use admin::SubscriptionUpdate;
pub use config::{DispatchConfig, MAX_CONCURRENCY, RECORDING_MARGIN};
pub use dispatcher::{Dispatcher, DispatcherHandle};
pub use filter::{Filter, FilterError};
pub use history::RECENT_LIMIT;
pub use model::{
    Attempt, CreatedSubscription, DeliveryCounts, MessageRecord, StoredPayload, Subscription,
    SubscriptionInfo,
};
pub use outbox::Outbox;
pub use publish::MAX_DESCRIPTION;
pub use redeliver::{ATTEMPTS_LIMIT, REPLAY_LIMIT};
pub use retry::{EmptyRetrySchedule, RetrySchedule};
pub use ssrf::{InvalidNetwork, IpNet, SsrfPolicy, TargetRefused};
pub use store::OutboxTransaction;
pub use telemetry::Metrics;
#[cfg(feature = "portal")]
pub(crate) use tenant::check_name as check_tenant_name;
pub use tenant::Tenant;

/// What went wrong in the outbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The payload did not serialize.
    #[error("the payload does not serialize to JSON: {0}")]
    Payload(#[from] serde_json::Error),
    /// A subscription was refused (bad URL, refused target, ...).
    #[error("invalid subscription: {0}")]
    InvalidSubscription(String),
    /// A filter expression does not parse.
    #[error("invalid filter: {0}")]
    Filter(#[from] FilterError),
    /// No subscription has this id.
    #[error("no subscription `{0}`")]
    NotFound(String),
    /// A tenant name that cannot name a tenant (empty, too long, control characters).
    #[error("invalid tenant: {0}")]
    InvalidTenant(String),
    /// The tenant has as many subscriptions as it may
    /// ([`Outbox::max_subscriptions_per_tenant`]).
    #[error("tenant `{tenant}` has {limit} subscriptions, the most it may have")]
    TooManySubscriptions {
        /// The tenant.
        tenant: String,
        /// Its limit.
        limit: u32,
    },
    /// The message was never queued for the subscription (or it was purged).
    #[error("no message `{0}` for this subscription")]
    MessageNotFound(String),
    /// A dispatcher's settings cannot work (see [`DispatchConfig::validate`]).
    #[error("invalid dispatch configuration: {0}")]
    InvalidConfig(String),
    /// The database was migrated by a newer version of hookspec than this one.
    #[error(
        "the outbox's schema is at version {found}, newer than this hookspec knows ({known}): \
         upgrade hookspec"
    )]
    SchemaTooNew {
        /// The database's schema version.
        found: i64,
        /// The newest version this hookspec knows.
        known: i64,
    },
}

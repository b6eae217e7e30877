//! The backend an outbox was opened on. Each call is handed, once, to that backend's store:
//! static dispatch, so the dispatcher's claims and recordings cost no allocation.

use std::time::Duration;

use sqlx::{PgConnection, SqliteConnection};

use super::{
    Administration, Bookkeeping, Finished, Job, Messages, NewSubscription, Outcome, PostgresStore,
    Publishing, SqliteStore,
};
use crate::delivery::model::{
    Attempt, DeliveryCounts, MessageRecord, StoredPayload, SubscriptionInfo,
};
use crate::delivery::publish::NewMessage;
use crate::delivery::OutboxError;

/// An outbox's store, on one of the backends.
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Backend {
    /// A SQLite outbox at `url` (see [`SqliteStore::connect`]).
    pub(crate) async fn sqlite(url: &str) -> Result<Backend, OutboxError> {
        Ok(Backend::Sqlite(SqliteStore::connect(url).await?))
    }

    /// A PostgreSQL outbox at `url`: the store for publishing and administration, and the
    /// dispatchers' (see [`PostgresStore::connect`]).
    pub(crate) async fn postgres(url: &str) -> Result<(Backend, Backend), OutboxError> {
        let (store, bookkeeping) = PostgresStore::connect(url).await?;
        Ok((Backend::Postgres(store), Backend::Postgres(bookkeeping)))
    }

    /// Stores `messages`, each with one pending delivery per subscription of its audience
    /// that wants it, in one transaction: the caller's, on `tx` (with the statements of the
    /// backend `tx` is on), or else one of their own. Returns how many deliveries each got.
    pub(crate) async fn publish_batch(
        &self,
        tx: Option<Connection<'_>>,
        messages: &[NewMessage<'_>],
    ) -> Result<Vec<usize>, OutboxError> {
        match (tx, self) {
            (Some(Connection::Sqlite(conn)), _) => SqliteStore::publish_in(conn, messages).await,
            (Some(Connection::Postgres(conn)), _) => {
                PostgresStore::publish_in(conn, messages).await
            }
            (None, Backend::Sqlite(store)) => store.publish_batch(messages).await,
            (None, Backend::Postgres(store)) => store.publish_batch(messages).await,
        }
    }

    /// Subscription `id`, of `tenant` if one is given.
    pub(crate) async fn subscription(
        &self,
        id: &str,
        tenant: Option<&str>,
    ) -> Result<Option<SubscriptionInfo>, OutboxError> {
        match self {
            Backend::Sqlite(store) => Administration::subscription(store, id, tenant).await,
            Backend::Postgres(store) => Administration::subscription(store, id, tenant).await,
        }
    }

    /// `tenant`'s subscriptions after `after`, in id order, at most `limit`.
    pub(crate) async fn subscriptions(
        &self,
        tenant: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<SubscriptionInfo>, OutboxError> {
        match self {
            Backend::Sqlite(store) => {
                Administration::subscriptions(store, tenant, after, limit).await
            }
            Backend::Postgres(store) => {
                Administration::subscriptions(store, tenant, after, limit).await
            }
        }
    }

    /// The URL and events of each of `tenant`'s subscriptions.
    pub(crate) async fn subscription_targets(
        &self,
        tenant: &str,
    ) -> Result<Vec<(String, String)>, OutboxError> {
        match self {
            Backend::Sqlite(store) => Administration::subscription_targets(store, tenant).await,
            Backend::Postgres(store) => Administration::subscription_targets(store, tenant).await,
        }
    }

    /// Inserts `new` unless its tenant has `limit` subscriptions already.
    pub(crate) async fn subscribe(
        &self,
        new: &NewSubscription<'_>,
        limit: u32,
    ) -> Result<(), OutboxError> {
        match self {
            Backend::Sqlite(store) => Administration::subscribe(store, new, limit).await,
            Backend::Postgres(store) => Administration::subscribe(store, new, limit).await,
        }
    }

    /// Enables or disables subscription `id`; whether it exists.
    pub(crate) async fn set_enabled(
        &self,
        id: &str,
        enabled: bool,
        now: i64,
    ) -> Result<bool, OutboxError> {
        match self {
            Backend::Sqlite(store) => Administration::set_enabled(store, id, enabled, now).await,
            Backend::Postgres(store) => Administration::set_enabled(store, id, enabled, now).await,
        }
    }

    /// Changes `tenant`'s subscription `id`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn update_subscription(
        &self,
        id: &str,
        tenant: &str,
        url: &str,
        events: &str,
        filter: Option<&str>,
        description: Option<&str>,
        now: i64,
    ) -> Result<(), OutboxError> {
        match self {
            Backend::Sqlite(store) => {
                Administration::update_subscription(
                    store,
                    id,
                    tenant,
                    url,
                    events,
                    filter,
                    description,
                    now,
                )
                .await
            }
            Backend::Postgres(store) => {
                Administration::update_subscription(
                    store,
                    id,
                    tenant,
                    url,
                    events,
                    filter,
                    description,
                    now,
                )
                .await
            }
        }
    }

    /// Makes subscription `id` expire at `expires_at`.
    pub(crate) async fn refresh(
        &self,
        id: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), OutboxError> {
        match self {
            Backend::Sqlite(store) => Administration::refresh(store, id, expires_at, now).await,
            Backend::Postgres(store) => Administration::refresh(store, id, expires_at, now).await,
        }
    }

    /// Replaces the secrets of `tenant`'s subscription `id` with what `rotate` makes of them.
    pub(crate) async fn rotate_secrets<F>(
        &self,
        id: &str,
        tenant: &str,
        now: i64,
        rotate: F,
    ) -> Result<(), OutboxError>
    where
        F: FnOnce(&str) -> Result<String, OutboxError> + Send,
    {
        match self {
            Backend::Sqlite(store) => {
                Administration::rotate_secrets(store, id, tenant, now, rotate).await
            }
            Backend::Postgres(store) => {
                Administration::rotate_secrets(store, id, tenant, now, rotate).await
            }
        }
    }

    /// Deletes subscription `id` with its deliveries and their attempts.
    pub(crate) async fn delete_subscription(&self, id: &str) -> Result<(), OutboxError> {
        match self {
            Backend::Sqlite(store) => Administration::delete_subscription(store, id).await,
            Backend::Postgres(store) => Administration::delete_subscription(store, id).await,
        }
    }

    /// Stores message `message` with one pending delivery, to subscription `id`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn publish_to(
        &self,
        message: &str,
        event: &str,
        method: &str,
        body: &str,
        tenant: &str,
        id: &str,
        now: i64,
    ) -> Result<(), OutboxError> {
        match self {
            Backend::Sqlite(store) => {
                Messages::publish_to(store, message, event, method, body, tenant, id, now).await
            }
            Backend::Postgres(store) => {
                Messages::publish_to(store, message, event, method, body, tenant, id, now).await
            }
        }
    }

    /// Queues `message` again for subscription `id`; how many deliveries were queued.
    pub(crate) async fn resend(
        &self,
        message: &str,
        id: &str,
        tenant: &str,
        now: i64,
    ) -> Result<u64, OutboxError> {
        match self {
            Backend::Sqlite(store) => Messages::resend(store, message, id, tenant, now).await,
            Backend::Postgres(store) => Messages::resend(store, message, id, tenant, now).await,
        }
    }

    /// Whether a delivery of `message` to subscription `id` is pending.
    pub(crate) async fn pending(&self, id: &str, message: &str) -> Result<bool, OutboxError> {
        match self {
            Backend::Sqlite(store) => Messages::pending(store, id, message).await,
            Backend::Postgres(store) => Messages::pending(store, id, message).await,
        }
    }

    /// Queues again what subscription `id` was given since `since`, at most `limit`.
    pub(crate) async fn replay(
        &self,
        id: &str,
        tenant: &str,
        since: i64,
        limit: i64,
        now: i64,
    ) -> Result<u64, OutboxError> {
        match self {
            Backend::Sqlite(store) => Messages::replay(store, id, tenant, since, limit, now).await,
            Backend::Postgres(store) => {
                Messages::replay(store, id, tenant, since, limit, now).await
            }
        }
    }

    /// Every attempt to deliver `message`, oldest first.
    pub(crate) async fn attempts(&self, message: &str) -> Result<Vec<Attempt>, OutboxError> {
        match self {
            Backend::Sqlite(store) => Messages::attempts(store, message).await,
            Backend::Postgres(store) => Messages::attempts(store, message).await,
        }
    }

    /// The attempts to deliver `message` to `tenant`'s subscriptions.
    pub(crate) async fn tenant_attempts(
        &self,
        message: &str,
        tenant: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Attempt>, OutboxError> {
        match self {
            Backend::Sqlite(store) => {
                Messages::tenant_attempts(store, message, tenant, after, limit).await
            }
            Backend::Postgres(store) => {
                Messages::tenant_attempts(store, message, tenant, after, limit).await
            }
        }
    }

    /// The newest messages queued for subscription `id`, with their attempts there.
    pub(crate) async fn recent_messages(
        &self,
        id: &str,
        limit: i64,
        attempts_each: usize,
    ) -> Result<Vec<MessageRecord>, OutboxError> {
        match self {
            Backend::Sqlite(store) => {
                Messages::recent_messages(store, id, limit, attempts_each).await
            }
            Backend::Postgres(store) => {
                Messages::recent_messages(store, id, limit, attempts_each).await
            }
        }
    }

    /// The payloads queued for subscription `id`, from `cursor` on.
    pub(crate) async fn payloads(
        &self,
        id: &str,
        cursor: i64,
        limit: i64,
    ) -> Result<Vec<StoredPayload>, OutboxError> {
        match self {
            Backend::Sqlite(store) => Messages::payloads(store, id, cursor, limit).await,
            Backend::Postgres(store) => Messages::payloads(store, id, cursor, limit).await,
        }
    }

    /// How many deliveries are in each state, over every tenant.
    pub(crate) async fn delivery_counts(&self) -> Result<DeliveryCounts, OutboxError> {
        match self {
            Backend::Sqlite(store) => Messages::delivery_counts(store).await,
            Backend::Postgres(store) => Messages::delivery_counts(store).await,
        }
    }

    /// Deletes finished messages older than `before`, and subscriptions expired before it.
    pub(crate) async fn purge(&self, before: i64) -> Result<u64, OutboxError> {
        match self {
            Backend::Sqlite(store) => Messages::purge(store, before).await,
            Backend::Postgres(store) => Messages::purge(store, before).await,
        }
    }

    /// Pending deliveries by whether their subscription is enabled.
    #[cfg(feature = "metrics")]
    pub(crate) async fn pending_by_state(
        &self,
    ) -> Result<Vec<(bool, i64, Option<i64>)>, OutboxError> {
        match self {
            Backend::Sqlite(store) => Messages::pending_by_state(store).await,
            Backend::Postgres(store) => Messages::pending_by_state(store).await,
        }
    }

    /// Disabled subscriptions by stored reason.
    #[cfg(feature = "metrics")]
    pub(crate) async fn disabled_by_reason(&self) -> Result<Vec<(String, i64)>, OutboxError> {
        match self {
            Backend::Sqlite(store) => Messages::disabled_by_reason(store).await,
            Backend::Postgres(store) => Messages::disabled_by_reason(store).await,
        }
    }

    /// Claims up to `limit` due deliveries for `owner` (see [`Bookkeeping::claim`]).
    pub(crate) async fn claim(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
        busy: &[String],
        from: i64,
    ) -> Result<Vec<Job>, OutboxError> {
        match self {
            Backend::Sqlite(store) => {
                Bookkeeping::claim(store, owner, now, lease_until, limit, busy, from).await
            }
            Backend::Postgres(store) => {
                Bookkeeping::claim(store, owner, now, lease_until, limit, busy, from).await
            }
        }
    }

    /// When the next pending delivery falls due.
    pub(crate) async fn next_due(&self) -> Result<Option<i64>, OutboxError> {
        match self {
            Backend::Sqlite(store) => Bookkeeping::next_due(store).await,
            Backend::Postgres(store) => Bookkeeping::next_due(store).await,
        }
    }

    /// Records attempts and their outcomes in one transaction.
    pub(crate) async fn finish(
        &self,
        owner: &str,
        results: &[(Job, Outcome)],
    ) -> Result<Vec<Finished>, OutboxError> {
        match self {
            Backend::Sqlite(store) => Bookkeeping::finish(store, owner, results).await,
            Backend::Postgres(store) => Bookkeeping::finish(store, owner, results).await,
        }
    }

    /// Gives claimed deliveries back without an attempt, due again at `at`.
    pub(crate) async fn release(
        &self,
        deliveries: &[i64],
        owner: &str,
        at: i64,
    ) -> Result<(), OutboxError> {
        match self {
            Backend::Sqlite(store) => Bookkeeping::release(store, deliveries, owner, at).await,
            Backend::Postgres(store) => Bookkeeping::release(store, deliveries, owner, at).await,
        }
    }

    /// Takes a rate-limit token of `subscription`, or says how long until one is free.
    pub(crate) async fn take_token(
        &self,
        subscription: &str,
        per_second: i64,
        now: i64,
    ) -> Result<Option<Duration>, OutboxError> {
        match self {
            Backend::Sqlite(store) => {
                Bookkeeping::take_token(store, subscription, per_second, now).await
            }
            Backend::Postgres(store) => {
                Bookkeeping::take_token(store, subscription, per_second, now).await
            }
        }
    }
}

/// A database transaction the outbox can publish in: `sqlx::Transaction` on SQLite or PostgreSQL.
pub trait OutboxTransaction: Send {
    #[doc(hidden)]
    fn connection(&mut self) -> Connection<'_>;
}

#[doc(hidden)]
pub enum Connection<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl OutboxTransaction for sqlx::Transaction<'_, sqlx::Sqlite> {
    fn connection(&mut self) -> Connection<'_> {
        Connection::Sqlite(self)
    }
}

impl OutboxTransaction for sqlx::Transaction<'_, sqlx::Postgres> {
    fn connection(&mut self) -> Connection<'_> {
        Connection::Postgres(self)
    }
}

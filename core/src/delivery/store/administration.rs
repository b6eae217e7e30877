//! Subscriptions and their messages, for the provider and the management API. The
//! statements both backends run alike are written here once; a backend says how it keeps
//! concurrent callers apart (PostgreSQL takes locks; SQLite has one writer, and the outbox
//! one connection to it) and writes the statements that read JSON lists.

use std::future::Future;

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Type};

use super::rows::subscription_info;
use super::{is_sql_state, RowsAffected, Store, DEADLOCK};
use crate::delivery::model::SubscriptionInfo;
use crate::delivery::OutboxError;

/// A subscription to insert, checked.
pub(crate) struct NewSubscription<'a> {
    pub(crate) id: &'a str,
    pub(crate) tenant: &'a str,
    pub(crate) url: &'a str,
    /// JSON arrays.
    pub(crate) events: String,
    pub(crate) secrets: String,
    pub(crate) filter: Option<&'a str>,
    pub(crate) description: Option<&'a str>,
    pub(crate) metadata: Option<String>,
    pub(crate) rate_limit: Option<i64>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) now: i64,
}

/// Subscriptions.
pub(crate) trait Administration: Store
where
    for<'c> &'c mut <Self::Db as Database>::Connection: Executor<'c, Database = Self::Db>,
    <Self::Db as Database>::Arguments: IntoArguments<Self::Db>,
    <Self::Db as Database>::QueryResult: RowsAffected,
    i64: for<'q> Encode<'q, Self::Db> + for<'r> Decode<'r, Self::Db> + Type<Self::Db>,
    bool: for<'q> Encode<'q, Self::Db> + for<'r> Decode<'r, Self::Db> + Type<Self::Db>,
    String: for<'q> Encode<'q, Self::Db> + for<'r> Decode<'r, Self::Db> + Type<Self::Db>,
    Option<i64>: for<'q> Encode<'q, Self::Db>,
    for<'q> &'q str: Encode<'q, Self::Db> + Type<Self::Db>,
    for<'q> Option<&'q str>: Encode<'q, Self::Db>,
    for<'r> &'r str: ColumnIndex<<Self::Db as Database>::Row>,
    usize: ColumnIndex<<Self::Db as Database>::Row>,
{
    /// Reads the secrets of subscription `$1` of tenant `$2` to rotate them, keeping a
    /// concurrent rotation from reading them until this one commits.
    const READ_SECRETS: &'static str;

    /// Makes concurrent subscribes of `tenant` count one after the other, for the rest of
    /// the transaction on `conn`.
    fn lock_tenant<'c>(
        conn: &'c mut <Self::Db as Database>::Connection,
        tenant: &'c str,
    ) -> impl Future<Output = Result<(), OutboxError>> + Send + 'c;

    /// Subscription `id`, of `tenant` if one is given.
    fn subscription(
        &self,
        id: &str,
        tenant: Option<&str>,
    ) -> impl Future<Output = Result<Option<SubscriptionInfo>, OutboxError>> + Send {
        async move {
            let row = match tenant {
                None => {
                    sqlx::query(
                        "SELECT id, owner, url, events, filter, description, enabled, disabled_reason, failing_since, expires_at \
                         FROM hookspec_subscriptions WHERE id = $1",
                    )
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?
                }
                Some(tenant) => {
                    sqlx::query(
                        "SELECT id, owner, url, events, filter, description, enabled, disabled_reason, failing_since, expires_at \
                         FROM hookspec_subscriptions WHERE id = $1 AND owner = $2",
                    )
                    .bind(id)
                    .bind(tenant)
                    .fetch_optional(self.pool())
                    .await?
                }
            };
            row.as_ref().map(subscription_info).transpose()
        }
    }

    /// `tenant`'s subscriptions with ids after `after`, in id order, at most `limit`.
    fn subscriptions(
        &self,
        tenant: &str,
        after: &str,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<SubscriptionInfo>, OutboxError>> + Send {
        async move {
            let rows = sqlx::query(
                "SELECT id, owner, url, events, filter, description, enabled, disabled_reason, failing_since, expires_at \
                 FROM hookspec_subscriptions WHERE owner = $1 AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(tenant)
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
            rows.iter().map(subscription_info).collect()
        }
    }

    /// The URL and events (a JSON array) of each of `tenant`'s subscriptions.
    fn subscription_targets(
        &self,
        tenant: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>, OutboxError>> + Send {
        async move {
            Ok(
                sqlx::query_as("SELECT url, events FROM hookspec_subscriptions WHERE owner = $1")
                    .bind(tenant)
                    .fetch_all(self.pool())
                    .await?,
            )
        }
    }

    /// Inserts `new` unless its tenant has `limit` subscriptions already.
    fn subscribe(
        &self,
        new: &NewSubscription<'_>,
        limit: u32,
    ) -> impl Future<Output = Result<(), OutboxError>> + Send {
        async move {
            let mut tx = self.pool().begin().await?;
            Self::lock_tenant(&mut tx, new.tenant).await?;
            let existing: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM hookspec_subscriptions WHERE owner = $1")
                    .bind(new.tenant)
                    .fetch_one(&mut *tx)
                    .await?;
            if existing >= i64::from(limit) {
                return Err(OutboxError::TooManySubscriptions {
                    tenant: new.tenant.to_owned(),
                    limit,
                });
            }
            sqlx::query(
                "INSERT INTO hookspec_subscriptions (id, owner, url, events, filter, \
                   description, metadata, secrets, rate_limit, expires_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            )
            .bind(new.id)
            .bind(new.tenant)
            .bind(new.url)
            .bind(new.events.as_str())
            .bind(new.filter)
            .bind(new.description)
            .bind(new.metadata.as_deref())
            .bind(new.secrets.as_str())
            .bind(new.rate_limit)
            .bind(new.expires_at)
            .bind(new.now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }
    }

    /// Enables or (manually) disables subscription `id`; whether it exists.
    fn set_enabled(
        &self,
        id: &str,
        enabled: bool,
        now: i64,
    ) -> impl Future<Output = Result<bool, OutboxError>> + Send {
        async move {
            let reason = (!enabled).then_some("manual");
            let done = sqlx::query(
                "UPDATE hookspec_subscriptions SET enabled = $1, disabled_reason = $2, failing_since = NULL, updated_at = $3 WHERE id = $4",
            )
            .bind(enabled)
            .bind(reason)
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
            Ok(done > 0)
        }
    }

    /// Sets `tenant`'s subscription `id`'s target, events (a JSON array), filter and
    /// description.
    #[allow(clippy::too_many_arguments)]
    fn update_subscription(
        &self,
        id: &str,
        tenant: &str,
        url: &str,
        events: &str,
        filter: Option<&str>,
        description: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<(), OutboxError>> + Send {
        async move {
            sqlx::query("UPDATE hookspec_subscriptions SET url = $1, events = $2, filter = $3, description = $7, updated_at = $4 WHERE id = $5 AND owner = $6")
                .bind(url)
                .bind(events)
                .bind(filter)
                .bind(now)
                .bind(id)
                .bind(tenant)
                .bind(description)
                .execute(self.pool())
                .await?;
            Ok(())
        }
    }

    /// Makes subscription `id` expire at `expires_at`.
    fn refresh(
        &self,
        id: &str,
        expires_at: i64,
        now: i64,
    ) -> impl Future<Output = Result<(), OutboxError>> + Send {
        async move {
            sqlx::query(
                "UPDATE hookspec_subscriptions SET expires_at = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(expires_at)
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
            Ok(())
        }
    }

    /// Replaces the secrets (a JSON list) of `tenant`'s subscription `id` with what `rotate`
    /// makes of them, read and written in one transaction with the row locked: two rotations
    /// reading the same list would each write it back with only their own new secret.
    fn rotate_secrets<F>(
        &self,
        id: &str,
        tenant: &str,
        now: i64,
        rotate: F,
    ) -> impl Future<Output = Result<(), OutboxError>> + Send
    where
        F: FnOnce(&str) -> Result<String, OutboxError> + Send,
    {
        async move {
            let mut tx = self.pool().begin().await?;
            let stored: Option<String> = sqlx::query_scalar(Self::READ_SECRETS)
                .bind(id)
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?;
            let stored = stored.ok_or_else(|| OutboxError::NotFound(id.to_owned()))?;
            sqlx::query(
                "UPDATE hookspec_subscriptions SET secrets = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(rotate(&stored)?)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }
    }

    /// Deletes subscription `id` with its deliveries and their attempts. A message being
    /// published meanwhile either committed its delivery, which goes by cascade, or waits
    /// for the subscription's row and then skips it (see [`PublishSql::deliver`](super::PublishSql)).
    fn delete_subscription(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<(), OutboxError>> + Send {
        async move {
            // The deliveries, then the subscription: the order in which a dispatcher
            // recording a failure takes them (the delivery, then its subscription's failure
            // time), and the cascade takes what was published in between. One published,
            // claimed and failed in between can still deadlock with this; PostgreSQL then
            // aborts one side, and if it is this one, it goes again. The attempts (there may
            // be millions) go before the subscription's row is locked: publishing waits for
            // that lock, and should wait for one short statement, not for the attempts.
            // None is logged for this subscription meanwhile: a recording waits for the
            // locks of the deliveries deleted first.
            let mut tries = 0;
            loop {
                let deleted = async {
                    let mut tx = self.pool().begin().await?;
                    for sql in [
                        "DELETE FROM hookspec_deliveries WHERE subscription_id = $1",
                        "DELETE FROM hookspec_attempts WHERE subscription_id = $1",
                        "DELETE FROM hookspec_subscriptions WHERE id = $1",
                    ] {
                        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok::<(), OutboxError>(())
                }
                .await;
                match deleted {
                    Err(e) if is_sql_state(&e, DEADLOCK) && tries < 3 => tries += 1,
                    done => return done,
                }
            }
        }
    }
}

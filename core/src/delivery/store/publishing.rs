//! What publishing asks of a backend: storing messages with their deliveries, in one
//! transaction that the caller hands over or that is opened for them. The statements both
//! backends run alike are written here once; each backend writes the ones that read JSON
//! lists (which subscriptions want an event, which are to get a delivery).

use std::future::Future;

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::{RowsAffected, Store};
use crate::delivery::publish::{wants, Audience, NewMessage};
use crate::delivery::OutboxError;

/// What publishing runs on one backend.
pub(crate) struct PublishSql {
    /// The live subscriptions (`$1` now) of tenant `$3` to event `$2`, or to every event,
    /// with their filters: the event is matched in the database, so that only they are read
    /// and parsed.
    pub(crate) subscribers_of_tenant: &'static str,
    /// The same, of every tenant (a broadcast; no `$3`).
    pub(crate) subscribers_of_all: &'static str,
    /// One pending delivery of message `$1`, due at `$2`, to each subscription in the JSON
    /// array `$3`.
    pub(crate) deliver: &'static str,
}

/// Stores messages, each with one pending delivery per subscription that wants it.
pub(crate) trait Publishing: Store
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
    /// The backend's statements.
    const PUBLISH: PublishSql;

    /// Stores `messages`, each with one pending delivery per subscription of its audience
    /// that wants it, in one transaction of their own; returns how many deliveries each got.
    fn publish_batch(
        &self,
        messages: &[NewMessage<'_>],
    ) -> impl Future<Output = Result<Vec<usize>, OutboxError>> + Send {
        async move {
            let mut tx = self.pool().begin().await?;
            let deliveries = Self::publish_in(&mut tx, messages).await?;
            tx.commit().await?;
            Ok(deliveries)
        }
    }

    /// [`publish_batch`](Self::publish_batch) in the caller's transaction, on `conn`.
    fn publish_in<'c>(
        conn: &'c mut <Self::Db as Database>::Connection,
        messages: &'c [NewMessage<'_>],
    ) -> impl Future<Output = Result<Vec<usize>, OutboxError>> + Send + 'c {
        async move {
            let mut deliveries = Vec::with_capacity(messages.len());
            for message in messages {
                deliveries.push(Self::publish_one(&mut *conn, message).await?);
            }
            Ok(deliveries)
        }
    }

    /// Stores one message and its deliveries on `conn`.
    fn publish_one<'c>(
        conn: &'c mut <Self::Db as Database>::Connection,
        m: &'c NewMessage<'_>,
    ) -> impl Future<Output = Result<usize, OutboxError>> + Send + 'c {
        async move {
            let sql = &Self::PUBLISH;
            let (tenant, subscribers) = match m.audience {
                Audience::Tenant(t) => (Some(t), sql.subscribers_of_tenant),
                Audience::Everyone => (None, sql.subscribers_of_all),
            };
            sqlx::query(
                "INSERT INTO hookspec_messages (id, event, method, payload, created_at, tenant) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(m.id.as_str())
            .bind(m.event)
            .bind(m.method)
            .bind(m.payload.as_str())
            .bind(m.now)
            .bind(tenant)
            .execute(&mut *conn)
            .await?;
            let mut query = sqlx::query(subscribers).bind(m.now).bind(m.event);
            if let Some(tenant) = tenant {
                query = query.bind(tenant);
            }
            let rows = query.fetch_all(&mut *conn).await?;
            let mut subscriptions = Vec::new();
            for row in rows {
                let filter: Option<String> = row.try_get("filter")?;
                if wants(filter.as_deref(), m) {
                    subscriptions.push(row.try_get::<String, _>("id")?);
                }
            }
            // One statement however many subscribers: publishing runs inside the caller's
            // transaction, which should not wait a round trip per subscription.
            if !subscriptions.is_empty() {
                sqlx::query(sql.deliver)
                    .bind(m.id.as_str())
                    .bind(m.now)
                    .bind(serde_json::to_string(&subscriptions)?)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(subscriptions.len())
        }
    }
}

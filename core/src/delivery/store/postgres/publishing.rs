//! Publishing and administration on PostgreSQL: JSON lists read as `jsonb`, and the locks
//! that keep concurrent callers from each other.

use std::collections::hash_map::{Entry, HashMap};
use std::future::Future;
use std::time::Duration;

use sqlx::{PgConnection, Row};

use super::PostgresStore;
use crate::delivery::filter::Filter;
use crate::delivery::publish::{wanted_by, Audience, NewMessage, ParsedFilter};
use crate::delivery::store::{Administration, Messages, PublishSql, Publishing, PurgeSql, Store};
use crate::delivery::OutboxError;

impl Publishing for PostgresStore {
    /// A subscription may be deleted between reading it and writing its delivery: the lock
    /// that the foreign key check would take is taken first, so that a subscription deleted
    /// meanwhile is skipped rather than failing the caller's transaction.
    const PUBLISH: PublishSql = PublishSql {
        subscribers_of_tenant: "SELECT id, filter FROM hookspec_subscriptions \
            WHERE enabled AND (expires_at IS NULL OR expires_at > $1) AND owner = $3 \
              AND (jsonb_array_length(events::jsonb) = 0 OR events::jsonb @> jsonb_build_array($2::text))",
        subscribers_of_all: "SELECT id, filter FROM hookspec_subscriptions \
            WHERE enabled AND (expires_at IS NULL OR expires_at > $1) \
              AND (jsonb_array_length(events::jsonb) = 0 OR events::jsonb @> jsonb_build_array($2::text))",
        deliver: "INSERT INTO hookspec_deliveries \
            (message_id, subscription_id, status, next_attempt_at, created_at) \
            SELECT $1, s.id, 'pending', $2, $2 FROM hookspec_subscriptions s \
            WHERE s.id = ANY(ARRAY(SELECT jsonb_array_elements_text($3::jsonb))) FOR KEY SHARE OF s",
    };

    /// The batch is written by one statement (see [`publish_rows`]), a transaction by itself:
    /// without BEGIN and COMMIT, two round trips fewer per batch.
    async fn publish_batch(&self, messages: &[NewMessage<'_>]) -> Result<Vec<usize>, OutboxError> {
        publish_rows(&mut *self.pool().acquire().await?, messages).await
    }

    fn publish_in<'c>(
        conn: &'c mut PgConnection,
        messages: &'c [NewMessage<'_>],
    ) -> impl Future<Output = Result<Vec<usize>, OutboxError>> + Send + 'c {
        publish_rows(conn, messages)
    }
}

/// A live subscription's id and its filter, parsed once per batch.
type IdAndFilter = (String, ParsedFilter);

/// Stores `messages` on `conn`: each (audience, event)'s live subscriptions are read once,
/// then the messages and all their deliveries are written by one statement, so that a batch
/// costs the same few round trips however many messages it holds (group commit and
/// `publish_batch`), and a single publish one round trip fewer than three statements.
async fn publish_rows(
    conn: &mut PgConnection,
    messages: &[NewMessage<'_>],
) -> Result<Vec<usize>, OutboxError> {
    let sql = &PostgresStore::PUBLISH;
    let mut live: HashMap<(Option<&str>, &str), Vec<IdAndFilter>> = HashMap::new();
    let (mut message_ids, mut subscription_ids, mut due) = (Vec::new(), Vec::new(), Vec::new());
    let mut deliveries = Vec::with_capacity(messages.len());
    for m in messages {
        let key = (m.audience.tenant(), m.event);
        if let Entry::Vacant(slot) = live.entry(key) {
            // Whether a subscription has expired is judged at the first message's time: the
            // others are at most one commit later.
            let query = match m.audience {
                Audience::Tenant(tenant) => sqlx::query(sql.subscribers_of_tenant)
                    .bind(m.now)
                    .bind(m.event)
                    .bind(tenant),
                Audience::Everyone => sqlx::query(sql.subscribers_of_all)
                    .bind(m.now)
                    .bind(m.event),
            };
            let rows = query.fetch_all(&mut *conn).await?;
            let subscriptions = rows
                .iter()
                .map(|row| {
                    let filter: Option<&str> = row.try_get("filter")?;
                    Ok((row.try_get("id")?, filter.map(Filter::parse)))
                })
                .collect::<Result<_, sqlx::Error>>()?;
            slot.insert(subscriptions);
        }
        let before = subscription_ids.len();
        for (id, _) in live[&key].iter().filter(|(_, f)| wanted_by(f, m)) {
            message_ids.push(m.id.as_str());
            subscription_ids.push(id.clone());
            due.push(m.now);
        }
        deliveries.push(subscription_ids.len() - before);
    }
    sqlx::query(PUBLISH_ROWS)
        .bind(messages.iter().map(|m| m.id.as_str()).collect::<Vec<_>>())
        .bind(messages.iter().map(|m| m.event).collect::<Vec<_>>())
        .bind(messages.iter().map(|m| m.method).collect::<Vec<_>>())
        .bind(
            messages
                .iter()
                .map(|m| m.payload.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(messages.iter().map(|m| m.now).collect::<Vec<_>>())
        .bind(
            messages
                .iter()
                .map(|m| m.audience.tenant())
                .collect::<Vec<_>>(),
        )
        .bind(message_ids)
        .bind(subscription_ids)
        .bind(due)
        .execute(&mut *conn)
        .await?;
    Ok(deliveries)
}

/// Messages `$1`..`$6` (id, event, method, payload, time, tenant) and their deliveries
/// `$7`..`$9` (message, subscription, due), in one statement.
///
/// The subscriptions are locked as the deliveries' foreign key check would lock them, so
/// that one deleted meanwhile is skipped rather than failing the statement; deliveries are
/// numbered in message order.
///
/// The subscriptions are joined plainly: this statement gets a plan of its own at every
/// execution (PostgreSQL finds one for the batch's real size cheaper than a generic one),
/// made for the tables as they are then. With the subscriptions looked up in a LATERAL
/// subquery instead, as the claim does, a single publish in its own transaction was about a
/// sixth slower (`publish_load`, 2026-11-30: 3,350 against 4,050 events/s, alternating).
const PUBLISH_ROWS: &str = "WITH messages AS ( \
       INSERT INTO hookspec_messages (id, event, method, payload, created_at, tenant) \
       SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
         $6::text[])) \
     INSERT INTO hookspec_deliveries \
       (message_id, subscription_id, status, next_attempt_at, created_at) \
     SELECT d.message_id, s.id, 'pending', d.due, d.due \
     FROM UNNEST($7::text[], $8::text[], $9::bigint[]) WITH ORDINALITY \
       AS d(message_id, subscription_id, due, n) \
     JOIN hookspec_subscriptions s ON s.id = d.subscription_id \
     ORDER BY d.n FOR KEY SHARE OF s";

impl Administration for PostgresStore {
    const READ_SECRETS: &'static str =
        "SELECT secrets FROM hookspec_subscriptions WHERE id = $1 AND owner = $2 FOR UPDATE";

    async fn lock_tenant(conn: &mut PgConnection, tenant: &str) -> Result<(), OutboxError> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(tenant)
            .execute(conn)
            .await?;
        Ok(())
    }
}

impl Messages for PostgresStore {
    /// The candidates are locked: a resend or replay of one then waits (its new delivery's
    /// foreign key check) and fails once the message is gone, and the delete checks again for
    /// one that committed before the lock. Without the lock, such a delivery, accepted just
    /// before, would go with its message unsent.
    const PURGE: PurgeSql = PurgeSql {
        attempts_of_subscriptions: "DELETE FROM hookspec_attempts \
            WHERE subscription_id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb))",
        candidates: "SELECT m.id, m.created_at FROM hookspec_messages m WHERE m.created_at < $1 \
            AND (m.created_at, m.id) > ($3, $4) \
            AND NOT EXISTS (SELECT 1 FROM hookspec_deliveries d WHERE d.message_id = m.id AND d.status = 'pending') \
            ORDER BY m.created_at, m.id LIMIT $2 FOR UPDATE",
        messages: "DELETE FROM hookspec_messages \
            WHERE id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb)) \
            AND NOT EXISTS (SELECT 1 FROM hookspec_deliveries d \
              WHERE d.message_id = hookspec_messages.id AND d.status = 'pending') RETURNING id",
        attempts_of_messages: "DELETE FROM hookspec_attempts \
            WHERE message_id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb))",
        // A purge transaction blocks no publish or claim here (they have connections of
        // their own and touch other rows), but takes the cores and the disk from them, and
        // a publish's commit flushes the purge's WAL written before it. Transactions aimed
        // at 5 ms gave a delivery p99 of 4.7-5.3 ms during a purge against 7.7-8.0 ms when
        // aimed at 50 ms, for a purge 1.2x as long (curve 5).
        transaction_time: Duration::from_millis(5),
    };

    /// Seed 1 keeps these keys apart from the tenants' subscribe lock (seed 0).
    async fn lock_queue(conn: &mut PgConnection, id: &str) -> Result<(), OutboxError> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))")
            .bind(id)
            .execute(conn)
            .await?;
        Ok(())
    }
}

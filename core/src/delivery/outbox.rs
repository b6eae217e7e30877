//! The outbox: subscriptions, and publishing events durably (in your transaction if you like).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Row, SqliteConnection};
use tokio::sync::Notify;

use super::config::DispatchConfig;
use super::dispatcher::Dispatcher;
use super::filter::Filter;
use super::ssrf::SsrfPolicy;
use super::store::{now_ms, on_pool, Pool};
use super::OutboxError;
use crate::signing::{Secret, SigningKey};
use crate::Webhook;

/// The durable outbox of webhook events: SQLite embedded by default, PostgreSQL when several
/// machines deliver. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    pub(crate) pool: Pool,
    /// What dispatchers record their work in: on PostgreSQL, connections that commit
    /// asynchronously (see `Pool::postgres`); on SQLite, the same connection.
    pub(crate) bookkeeping: Pool,
    pub(crate) ssrf: Arc<SsrfPolicy>,
    pub(crate) published: Arc<Notify>,
    /// Adds a `v1a` (ed25519) signature to every delivery, beside the `v1` ones.
    pub(crate) signing_key: Option<Arc<SigningKey>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

/// The columns `subscription_info!` reads.
pub(crate) const SUBSCRIPTION_COLUMNS: &str =
    "id, owner, url, events, filter, enabled, disabled_reason, failing_since, expires_at";

/// A `SubscriptionInfo` from a row of either backend holding [`SUBSCRIPTION_COLUMNS`].
macro_rules! subscription_info {
    ($row:expr) => {{
        let row = &$row;
        let events: String = row.try_get("events")?;
        Ok::<SubscriptionInfo, OutboxError>(SubscriptionInfo {
            id: row.try_get("id")?,
            owner: row.try_get("owner")?,
            url: row.try_get("url")?,
            events: serde_json::from_str(&events)?,
            filter: row.try_get("filter")?,
            enabled: row.try_get("enabled")?,
            disabled_reason: row.try_get("disabled_reason")?,
            failing_since: row.try_get("failing_since")?,
            expires_at: row.try_get("expires_at")?,
        })
    }};
}
pub(crate) use subscription_info;

/// A subscription to create.
#[derive(Clone, Debug)]
#[must_use]
pub struct Subscription {
    url: String,
    events: Vec<String>,
    filter: Option<String>,
    owner: String,
    description: Option<String>,
    metadata: Option<serde_json::Value>,
    rate_limit: Option<u32>,
    expires_in: Option<Duration>,
    secret: Option<Secret>,
}

impl Subscription {
    /// Deliveries to `url`, for every event unless [`events`](Self::events) narrows them.
    pub fn new(url: impl Into<String>) -> Self {
        Subscription {
            url: url.into(),
            events: Vec::new(),
            filter: None,
            owner: String::new(),
            description: None,
            metadata: None,
            rate_limit: None,
            expires_in: None,
            secret: None,
        }
    }

    /// Only these webhook names, e.g. `[new_event::NAME]`.
    pub fn events<I: IntoIterator<Item = S>, S: Into<String>>(mut self, events: I) -> Self {
        self.events = events.into_iter().map(Into::into).collect();
        self
    }

    /// Only payloads matching this filter expression, e.g. `entity.operation = "create"`.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    /// Who owns it (for the management API).
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// A description for people.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Free-form JSON metadata.
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// At most this many deliveries per second to this subscription: a burst of
    /// `per_second`, then `per_second` a second, however many dispatchers share the
    /// database (the limit is kept there, in the subscription's row). A delivery over the
    /// limit goes back to the database, due when the next one is allowed. Zero is no limit.
    pub fn rate_limit(mut self, per_second: u32) -> Self {
        self.rate_limit = Some(per_second);
        self
    }

    /// Stops receiving after this long unless refreshed.
    pub fn expires_in(mut self, lease: Duration) -> Self {
        self.expires_in = Some(lease);
        self
    }

    /// Signs with this secret instead of a generated one.
    pub fn secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }
}

/// A created subscription: its id, and its secret (shown this once).
#[derive(Debug)]
pub struct CreatedSubscription {
    /// The subscription id.
    pub id: String,
    /// The signing secret. It is not retrievable later.
    pub secret: Secret,
}

/// A subscription as stored (secrets left out).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubscriptionInfo {
    /// Its id.
    pub id: String,
    /// Its owner.
    pub owner: String,
    /// Where deliveries go.
    pub url: String,
    /// The webhook names it receives; empty for all.
    pub events: Vec<String>,
    /// Its filter expression.
    pub filter: Option<String>,
    /// Whether deliveries are sent.
    pub enabled: bool,
    /// Why it was disabled: `gone` (the receiver answered 410), `failing`, or `manual`.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed (ms since the epoch).
    pub failing_since: Option<i64>,
    /// When it stops receiving unless refreshed (ms since the epoch), if it expires.
    pub expires_at: Option<i64>,
}

/// One recorded delivery attempt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attempt {
    /// The subscription it went to.
    pub subscription_id: String,
    /// When (ms since the epoch).
    pub attempted_at: i64,
    /// The receiver's status code, if it answered.
    pub status_code: Option<i64>,
    /// The network error or reason, if it failed.
    pub error: Option<String>,
    /// How long it took.
    pub latency_ms: i64,
    /// The first bytes of the response body.
    pub response_excerpt: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredSecret {
    pub(crate) secret: String,
    pub(crate) expires_at: Option<i64>,
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

/// A message ready to store.
struct NewMessage<'a> {
    id: String,
    event: &'static str,
    method: &'static str,
    payload: String,
    value: &'a serde_json::Value,
    now: i64,
}

/// Stores a message and one pending delivery per matching subscription. `$conn` is a
/// `&mut` connection of either backend, `$sql` the backend's [`PublishSql`].
macro_rules! store_message {
    ($conn:expr, $m:expr, $sql:expr) => {{
        let m: &NewMessage<'_> = $m;
        let sql: &PublishSql = $sql;
        sqlx::query("INSERT INTO hookspec_messages (id, event, method, payload, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&m.id)
            .bind(m.event)
            .bind(m.method)
            .bind(&m.payload)
            .bind(m.now)
            .execute(&mut *$conn)
            .await?;
        let rows = sqlx::query(sql.subscribers)
            .bind(m.now)
            .bind(m.event)
            .fetch_all(&mut *$conn)
            .await?;
        let mut subscriptions = Vec::new();
        for row in rows {
            let filter: Option<String> = row.try_get("filter")?;
            if wants(filter.as_deref(), m.value) {
                subscriptions.push(row.try_get::<String, _>("id")?);
            }
        }
        // One statement however many subscribers: publishing runs inside the caller's
        // transaction, which should not wait a round trip per subscription.
        if !subscriptions.is_empty() {
            sqlx::query(sql.deliver)
                .bind(&m.id)
                .bind(m.now)
                .bind(serde_json::to_string(&subscriptions)?)
                .execute(&mut *$conn)
                .await?;
        }
        Ok::<usize, OutboxError>(subscriptions.len())
    }};
}

/// What publishing runs, per backend.
struct PublishSql {
    /// The live subscriptions (`$1` now) to event `$2`, or to every event, with their
    /// filters: the event is matched in the database, so that only they are read and parsed.
    subscribers: &'static str,
    /// One pending delivery of message `$1`, due at `$2`, to each subscription in the JSON
    /// array `$3`.
    deliver: &'static str,
}

/// A subscription that has not expired or been disabled.
macro_rules! live {
    () => {
        "SELECT id, filter FROM hookspec_subscriptions \
         WHERE enabled AND (expires_at IS NULL OR expires_at > $1) AND "
    };
}

const PUBLISH_SQLITE: PublishSql = PublishSql {
    subscribers: concat!(
        live!(),
        "(json_array_length(events) = 0 OR EXISTS (SELECT 1 FROM json_each(events) WHERE value = $2))"
    ),
    deliver: "INSERT INTO hookspec_deliveries \
        (message_id, subscription_id, status, next_attempt_at, created_at) \
        SELECT $1, value, 'pending', $2, $2 FROM json_each($3)",
};

/// On PostgreSQL a subscription may be deleted between reading it and writing its delivery:
/// the lock that the foreign key check would take is taken first, so that a subscription
/// deleted meanwhile is skipped rather than failing the caller's transaction.
const PUBLISH_POSTGRES: PublishSql = PublishSql {
    subscribers: concat!(
        live!(),
        "(jsonb_array_length(events::jsonb) = 0 OR events::jsonb @> jsonb_build_array($2::text))"
    ),
    deliver: "INSERT INTO hookspec_deliveries \
        (message_id, subscription_id, status, next_attempt_at, created_at) \
        SELECT $1, s.id, 'pending', $2, $2 FROM hookspec_subscriptions s \
        WHERE s.id = ANY(ARRAY(SELECT jsonb_array_elements_text($3::jsonb))) FOR KEY SHARE OF s",
};

/// Refuses event names with control characters: no webhook has one, and PostgreSQL cannot
/// read a NUL out of the stored list, which would fail every publish.
pub(crate) fn check_event_names(events: &[String]) -> Result<(), OutboxError> {
    match events.iter().find(|e| e.chars().any(char::is_control)) {
        Some(bad) => Err(OutboxError::InvalidSubscription(format!(
            "event name {bad:?} contains a control character"
        ))),
        None => Ok(()),
    }
}

/// Whether a subscription to the event with `filter` wants this payload. Filters are checked
/// when stored; one that no longer parses matches nothing.
fn wants(filter: Option<&str>, payload: &serde_json::Value) -> bool {
    filter.is_none_or(|f| Filter::parse(f).is_ok_and(|f| f.matches(payload)))
}

impl Outbox {
    /// Opens (creating it if needed) a SQLite outbox, e.g. `sqlite://hooks.db`, in WAL mode,
    /// and runs the embedded migrations. One process should dispatch from it.
    pub async fn sqlite(url: &str) -> Result<Outbox, OutboxError> {
        let pool = Pool::sqlite(url).await?;
        Ok(Self::with_pools(pool.clone(), pool))
    }

    /// Opens a PostgreSQL outbox and runs the embedded migrations. Several processes may
    /// publish and dispatch from it at once.
    ///
    /// Publishing commits with PostgreSQL's full durability. A dispatcher's own bookkeeping
    /// (claims and recorded outcomes) commits with `synchronous_commit = off`: if the database
    /// server crashes, its last fraction of a second of outcomes may be forgotten, and those
    /// deliveries are sent again. Deliveries are at-least-once either way; none is lost.
    pub async fn postgres(url: &str) -> Result<Outbox, OutboxError> {
        let (pool, bookkeeping) = Pool::postgres(url).await?;
        Ok(Self::with_pools(pool, bookkeeping))
    }

    fn with_pools(pool: Pool, bookkeeping: Pool) -> Outbox {
        Outbox {
            pool,
            bookkeeping,
            ssrf: Arc::new(SsrfPolicy::default()),
            published: Arc::new(Notify::new()),
            signing_key: None,
        }
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

    /// A dispatcher that delivers this outbox's pending work; call `spawn` on it. Settings
    /// that cannot work are an error naming the first (see [`DispatchConfig::validate`]).
    pub fn dispatcher(&self, config: DispatchConfig) -> Result<Dispatcher, OutboxError> {
        Dispatcher::new(self.clone(), config)
    }

    /// Creates a subscription. A bad URL, a target the SSRF policy refuses, a filter that does
    /// not parse (with its position) or an event name with a control character is an error,
    /// and nothing is stored.
    pub async fn subscribe(
        &self,
        subscription: Subscription,
    ) -> Result<CreatedSubscription, OutboxError> {
        let url = self
            .ssrf
            .check_url(&subscription.url)
            .await
            .map_err(OutboxError::InvalidSubscription)?;
        if let Some(filter) = &subscription.filter {
            Filter::parse(filter)?;
        }
        check_event_names(&subscription.events)?;
        let secret = subscription.secret.unwrap_or_else(Secret::generate);
        let now = now_ms();
        let id = new_id("sub");
        let secrets = serde_json::to_string(&[StoredSecret {
            secret: secret.expose(),
            expires_at: None,
        }])?;
        let expires_at = subscription
            .expires_in
            .map(|d| now.saturating_add(duration_ms(d)));
        on_pool!(&self.pool, |pool| {
            sqlx::query(
                "INSERT INTO hookspec_subscriptions (id, owner, url, events, filter, description, metadata, secrets, \
                   rate_limit, expires_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            )
            .bind(&id)
            .bind(&subscription.owner)
            .bind(url.as_str())
            .bind(serde_json::to_string(&subscription.events)?)
            .bind(&subscription.filter)
            .bind(&subscription.description)
            .bind(subscription.metadata.as_ref().map(serde_json::Value::to_string))
            .bind(secrets)
            .bind(subscription.rate_limit.map(i64::from))
            .bind(expires_at)
            .bind(now)
            .execute(pool)
            .await?;
            Ok::<(), OutboxError>(())
        })?;
        Ok(CreatedSubscription { id, secret })
    }

    /// A subscription, without its secrets.
    pub async fn subscription(&self, id: &str) -> Result<SubscriptionInfo, OutboxError> {
        let sql =
            format!("SELECT {SUBSCRIPTION_COLUMNS} FROM hookspec_subscriptions WHERE id = $1");
        on_pool!(&self.pool, |pool| {
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            let row = row.ok_or_else(|| OutboxError::NotFound(id.to_owned()))?;
            subscription_info!(row)
        })
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
        let reason = (!enabled).then_some("manual");
        let done = on_pool!(&self.pool, |pool| {
            sqlx::query(
                "UPDATE hookspec_subscriptions SET enabled = $1, disabled_reason = $2, failing_since = NULL, updated_at = $3 WHERE id = $4",
            )
            .bind(enabled)
            .bind(reason)
            .bind(now_ms())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if done == 0 {
            return Err(OutboxError::NotFound(id.to_owned()));
        }
        self.published.notify_waiters();
        Ok(())
    }

    /// Publishes an event of the declared webhook `W`: stored with one pending delivery per
    /// matching subscription, in one transaction. Returns the message id (the `webhook-id`).
    pub async fn publish<W: Webhook>(&self, payload: &W::Payload) -> Result<String, OutboxError>
    where
        W::Payload: Serialize,
    {
        let value = serde_json::to_value(payload)?;
        let message = new_message::<W>(payload, &value)?;
        let sql = match self.pool {
            Pool::Sqlite(_) => &PUBLISH_SQLITE,
            Pool::Postgres(_) => &PUBLISH_POSTGRES,
        };
        on_pool!(&self.pool, |pool| {
            let mut tx = pool.begin().await?;
            store_message!(&mut *tx, &message, sql)?;
            tx.commit().await?;
            Ok::<(), OutboxError>(())
        })?;
        self.published.notify_waiters();
        Ok(message.id)
    }

    /// Publishes in your transaction, so the event is stored if and only if your business
    /// write commits. The transaction must be on the outbox's database. On PostgreSQL at
    /// READ COMMITTED (the default) a subscription deleted meanwhile is skipped; at stricter
    /// levels PostgreSQL reports it as a serialization failure, and your transaction retries.
    pub async fn publish_in_tx<W: Webhook>(
        &self,
        tx: &mut impl OutboxTransaction,
        payload: &W::Payload,
    ) -> Result<String, OutboxError>
    where
        W::Payload: Serialize,
    {
        let value = serde_json::to_value(payload)?;
        let message = new_message::<W>(payload, &value)?;
        match tx.connection() {
            Connection::Sqlite(conn) => store_message!(conn, &message, &PUBLISH_SQLITE)?,
            Connection::Postgres(conn) => store_message!(conn, &message, &PUBLISH_POSTGRES)?,
        };
        // Dispatchers poll, so a delivery committed later is still found.
        self.published.notify_waiters();
        Ok(message.id)
    }

    /// Every attempt to deliver a message, oldest first.
    pub async fn attempts(&self, message_id: &str) -> Result<Vec<Attempt>, OutboxError> {
        let sql = "SELECT subscription_id, attempted_at, status_code, error, latency_ms, response_excerpt \
                   FROM hookspec_attempts WHERE message_id = $1 ORDER BY id";
        on_pool!(&self.pool, |pool| {
            let rows = sqlx::query(sql).bind(message_id).fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok(Attempt {
                        subscription_id: row.try_get("subscription_id")?,
                        attempted_at: row.try_get("attempted_at")?,
                        status_code: row.try_get("status_code")?,
                        error: row.try_get("error")?,
                        latency_ms: row.try_get("latency_ms")?,
                        response_excerpt: row.try_get("response_excerpt")?,
                    })
                })
                .collect()
        })
    }

    /// How many deliveries are in each state: `(pending, succeeded, failed)`.
    pub async fn delivery_counts(&self) -> Result<(i64, i64, i64), OutboxError> {
        // A delivery that succeeded is deleted; its 2xx attempt counts it (see migration 3).
        let sql = "SELECT \
                     COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending, \
                     (SELECT COUNT(*) FROM hookspec_attempts WHERE status_code BETWEEN 200 AND 299) AS succeeded, \
                     COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS failed \
                   FROM hookspec_deliveries";
        on_pool!(&self.pool, |pool| {
            let row = sqlx::query(sql).fetch_one(pool).await?;
            Ok((
                row.try_get::<i64, _>("pending")?,
                row.try_get::<i64, _>("succeeded")?,
                row.try_get::<i64, _>("failed")?,
            ))
        })
    }

    /// Deletes messages (with their deliveries and attempts) older than `retention` whose
    /// deliveries are all finished. The dispatcher does this periodically.
    pub async fn purge(&self, retention: Duration) -> Result<u64, OutboxError> {
        self.pool
            .purge(now_ms().saturating_sub(duration_ms(retention)))
            .await
    }
}

/// The body is the payload's own serde JSON (field order kept); the value is for filters.
fn new_message<'v, W: Webhook>(
    payload: &W::Payload,
    value: &'v serde_json::Value,
) -> Result<NewMessage<'v>, OutboxError>
where
    W::Payload: Serialize,
{
    Ok(NewMessage {
        id: new_id("msg"),
        event: W::NAME,
        // A webhook declared with several methods is sent with the first.
        method: W::METHODS.first().map_or("POST", |m| m.as_str()),
        payload: serde_json::to_string(payload)?,
        value,
        now: now_ms(),
    })
}

pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `prefix_` + the time in milliseconds (10 base-32 characters) + 16 random ones (80 bits),
/// like a ULID. Ids sort by creation time, so each new message lands at the end of the
/// indexes that hold its id (the messages' key, the deliveries' message index) rather than on
/// a random page of each: with random ids, claiming and recording on PostgreSQL took about a
/// sixth longer.
pub(crate) fn new_id(prefix: &str) -> String {
    time_ordered_id(prefix, now_ms(), &mut rand::thread_rng())
}

fn time_ordered_id(prefix: &str, ms: i64, rng: &mut impl rand::Rng) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let ms = u64::try_from(ms).unwrap_or(0);
    let time = (0..10).rev().map(|i| (ms >> (5 * i)) as usize & 31);
    let random = (0..16).map(|_| rng.gen_range(0..32));
    let tail: String = time
        .chain(random)
        .map(|digit| char::from(ALPHABET[digit]))
        .collect();
    format!("{prefix}_{tail}")
}

#[cfg(test)]
mod tests {
    use super::time_ordered_id;

    #[test]
    fn ids_sort_by_time_and_differ_within_a_millisecond() {
        let mut rng = rand::thread_rng();
        let at = 1_764_180_000_000;
        let first = time_ordered_id("msg", at, &mut rng);
        let same_ms = time_ordered_id("msg", at, &mut rng);
        let next_ms = time_ordered_id("msg", at + 1, &mut rng);
        let next_year = time_ordered_id("msg", at + 365 * 86_400_000, &mut rng);
        assert_eq!(first.len(), "msg_".len() + 26);
        assert_ne!(first, same_ms);
        assert_eq!(first[..14], same_ms[..14], "the same time prefix");
        assert!(first < next_ms && same_ms < next_ms && next_ms < next_year);
        assert!(first[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
    }
}

//! Storing a published event: the message, and one pending delivery per subscription that
//! wants it, among those of its tenant (or of every tenant, for a broadcast).

use serde::Serialize;

use super::filter::Filter;
use super::outbox::new_id;
use super::store::now_ms;
use super::OutboxError;
use crate::{Envelope, Webhook};

/// Whom an event is for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Audience<'a> {
    /// One tenant's subscriptions.
    Tenant(&'a str),
    /// Every tenant's subscriptions: an event that really is global.
    Everyone,
}

/// A message ready to store.
pub(crate) struct NewMessage<'a> {
    pub(crate) id: String,
    pub(crate) event: &'static str,
    pub(crate) method: &'static str,
    pub(crate) payload: String,
    value: &'a serde_json::Value,
    pub(crate) now: i64,
}

/// The body is the payload's own serde JSON (field order kept), or with `envelope` the
/// payload wrapped in an [`Envelope`] stamped now; the value (the payload alone, either way)
/// is for filters.
pub(crate) fn new_message<'v, W: Webhook>(
    payload: &W::Payload,
    value: &'v serde_json::Value,
    envelope: bool,
) -> Result<NewMessage<'v>, OutboxError>
where
    W::Payload: Serialize,
{
    let now = now_ms();
    let body = if envelope {
        serde_json::to_string(&Envelope {
            event_type: W::NAME.to_owned(),
            timestamp: rfc3339(now),
            data: payload,
        })?
    } else {
        serde_json::to_string(payload)?
    };
    Ok(NewMessage {
        id: new_id("msg"),
        event: W::NAME,
        // A webhook declared with several methods is sent with the first.
        method: W::METHODS.first().map_or("POST", |m| m.as_str()),
        payload: body,
        value,
        now,
    })
}

/// Milliseconds since the epoch as RFC 3339 in UTC, to the millisecond.
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Stores a message for `$audience` and one pending delivery per matching subscription.
/// `$conn` is a `&mut` connection of either backend, `$sql` the backend's [`PublishSql`].
macro_rules! store_message {
    ($conn:expr, $m:expr, $audience:expr, $sql:expr) => {{
        let m: &$crate::delivery::publish::NewMessage<'_> = $m;
        let sql: &$crate::delivery::publish::PublishSql = $sql;
        let (tenant, subscribers) = match $audience {
            $crate::delivery::publish::Audience::Tenant(t) => (Some(t), sql.subscribers_of_tenant),
            $crate::delivery::publish::Audience::Everyone => (None, sql.subscribers_of_all),
        };
        sqlx::query(
            "INSERT INTO hookspec_messages (id, event, method, payload, created_at, tenant) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&m.id)
        .bind(m.event)
        .bind(m.method)
        .bind(&m.payload)
        .bind(m.now)
        .bind(tenant)
        .execute(&mut *$conn)
        .await?;
        let mut query = sqlx::query(subscribers).bind(m.now).bind(m.event);
        if let Some(tenant) = tenant {
            query = query.bind(tenant);
        }
        let rows = query.fetch_all(&mut *$conn).await?;
        let mut subscriptions = Vec::new();
        for row in rows {
            let filter: Option<String> = sqlx::Row::try_get(&row, "filter")?;
            if $crate::delivery::publish::wants(filter.as_deref(), m) {
                subscriptions.push(sqlx::Row::try_get::<String, _>(&row, "id")?);
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
        Ok::<usize, $crate::delivery::OutboxError>(subscriptions.len())
    }};
}
pub(crate) use store_message;

/// What publishing runs, per backend.
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

/// A subscription that has not expired or been disabled.
macro_rules! live {
    () => {
        "SELECT id, filter FROM hookspec_subscriptions \
         WHERE enabled AND (expires_at IS NULL OR expires_at > $1) AND "
    };
}

macro_rules! sqlite_event {
    () => {
        "(json_array_length(events) = 0 OR EXISTS (SELECT 1 FROM json_each(events) WHERE value = $2))"
    };
}

macro_rules! postgres_event {
    () => {
        "(jsonb_array_length(events::jsonb) = 0 OR events::jsonb @> jsonb_build_array($2::text))"
    };
}

pub(crate) const PUBLISH_SQLITE: PublishSql = PublishSql {
    subscribers_of_tenant: concat!(live!(), "owner = $3 AND ", sqlite_event!()),
    subscribers_of_all: concat!(live!(), sqlite_event!()),
    deliver: "INSERT INTO hookspec_deliveries \
        (message_id, subscription_id, status, next_attempt_at, created_at) \
        SELECT $1, value, 'pending', $2, $2 FROM json_each($3)",
};

/// On PostgreSQL a subscription may be deleted between reading it and writing its delivery:
/// the lock that the foreign key check would take is taken first, so that a subscription
/// deleted meanwhile is skipped rather than failing the caller's transaction.
pub(crate) const PUBLISH_POSTGRES: PublishSql = PublishSql {
    subscribers_of_tenant: concat!(live!(), "owner = $3 AND ", postgres_event!()),
    subscribers_of_all: concat!(live!(), postgres_event!()),
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

/// The longest a subscription's description may be, in characters: it is shown on every
/// page that lists the tenant's endpoints.
pub const MAX_DESCRIPTION: usize = 500;

pub(crate) fn check_description(description: Option<&str>) -> Result<(), OutboxError> {
    match description {
        Some(text) if text.chars().count() > MAX_DESCRIPTION => {
            Err(OutboxError::InvalidSubscription(format!(
                "a description is at most {MAX_DESCRIPTION} characters"
            )))
        }
        _ => Ok(()),
    }
}

/// Whether a subscription with `filter` wants this message. Filters are checked when stored;
/// one that no longer parses matches nothing.
pub(crate) fn wants(filter: Option<&str>, message: &NewMessage<'_>) -> bool {
    filter.is_none_or(|f| Filter::parse(f).is_ok_and(|f| f.matches(message.value)))
}

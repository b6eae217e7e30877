//! Records read back from a row of either backend.

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::delivery::model::{Attempt, SubscriptionInfo};
use crate::delivery::OutboxError;

/// A subscription from a row holding `id, owner, url, events, filter, description, enabled,
/// disabled_reason, failing_since, expires_at`.
pub(super) fn subscription_info<'r, R: Row>(row: &'r R) -> Result<SubscriptionInfo, OutboxError>
where
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    let events: String = row.try_get("events")?;
    Ok(SubscriptionInfo {
        id: row.try_get("id")?,
        tenant: row.try_get("owner")?,
        url: row.try_get("url")?,
        events: serde_json::from_str(&events)?,
        filter: row.try_get("filter")?,
        description: row.try_get("description")?,
        enabled: row.try_get("enabled")?,
        disabled_reason: row.try_get("disabled_reason")?,
        failing_since: row.try_get("failing_since")?,
        expires_at: row.try_get("expires_at")?,
    })
}

/// An attempt from a row holding `id, subscription_id, attempted_at, status_code, error,
/// latency_ms, response_excerpt`.
pub(super) fn attempt<'r, R: Row>(row: &'r R) -> Result<Attempt, OutboxError>
where
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Attempt {
        id: row.try_get("id")?,
        subscription_id: row.try_get("subscription_id")?,
        attempted_at: row.try_get("attempted_at")?,
        status_code: row.try_get("status_code")?,
        error: row.try_get("error")?,
        latency_ms: row.try_get("latency_ms")?,
        response_excerpt: row.try_get("response_excerpt")?,
    })
}

//! Publishing and administration on SQLite: JSON lists read with `json_each`, a subscription's
//! events from a table of their own that triggers keep (migration 7), and no locks (SQLite has
//! one writer, and the outbox one connection to it: nothing runs in between).

use sqlx::SqliteConnection;

use super::SqliteStore;
use crate::delivery::store::{Administration, Messages, PublishSql, Publishing, PurgeSql};
use crate::delivery::OutboxError;

impl Publishing for SqliteStore {
    const PUBLISH: PublishSql = PublishSql {
        // Two arms that each read only what they return (migration 7): the subscriptions
        // listing the event, by the table of lists' elements, and those to every event, by
        // their partial index. A subscription is in one arm at most (an empty list has no
        // elements), so UNION ALL returns none twice.
        subscribers_of_tenant: "SELECT s.id, s.filter FROM hookspec_subscription_events e \
              JOIN hookspec_subscriptions s ON s.id = e.subscription_id \
            WHERE e.event = $2 AND e.owner = $3 \
              AND s.enabled AND (s.expires_at IS NULL OR s.expires_at > $1) \
            UNION ALL \
            SELECT id, filter FROM hookspec_subscriptions \
            WHERE json_array_length(events) = 0 AND owner = $3 \
              AND enabled AND (expires_at IS NULL OR expires_at > $1)",
        subscribers_of_all: "SELECT s.id, s.filter FROM hookspec_subscription_events e \
              JOIN hookspec_subscriptions s ON s.id = e.subscription_id \
            WHERE e.event = $2 \
              AND s.enabled AND (s.expires_at IS NULL OR s.expires_at > $1) \
            UNION ALL \
            SELECT id, filter FROM hookspec_subscriptions \
            WHERE json_array_length(events) = 0 \
              AND enabled AND (expires_at IS NULL OR expires_at > $1)",
        deliver: "INSERT INTO hookspec_deliveries \
            (message_id, subscription_id, status, next_attempt_at, created_at) \
            SELECT $1, value, 'pending', $2, $2 FROM json_each($3)",
    };
}

impl Administration for SqliteStore {
    const READ_SECRETS: &'static str =
        "SELECT secrets FROM hookspec_subscriptions WHERE id = $1 AND owner = $2";

    async fn lock_tenant(_: &mut SqliteConnection, _: &str) -> Result<(), OutboxError> {
        Ok(())
    }
}

impl Messages for SqliteStore {
    const PURGE: PurgeSql = PurgeSql {
        attempts_of_subscriptions:
            "DELETE FROM hookspec_attempts WHERE subscription_id IN (SELECT value FROM json_each($1))",
        candidates: "SELECT m.id FROM hookspec_messages m WHERE m.created_at < $1 \
            AND NOT EXISTS (SELECT 1 FROM hookspec_deliveries d WHERE d.message_id = m.id AND d.status = 'pending') \
            ORDER BY m.created_at, m.id LIMIT $2",
        messages: "DELETE FROM hookspec_messages WHERE id IN (SELECT value FROM json_each($1)) \
            AND NOT EXISTS (SELECT 1 FROM hookspec_deliveries d \
              WHERE d.message_id = hookspec_messages.id AND d.status = 'pending') RETURNING id",
        attempts_of_messages:
            "DELETE FROM hookspec_attempts WHERE message_id IN (SELECT value FROM json_each($1))",
    };

    async fn lock_queue(_: &mut SqliteConnection, _: &str) -> Result<(), OutboxError> {
        Ok(())
    }
}

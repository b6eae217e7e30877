//! Publishing and administration on PostgreSQL: JSON lists read as `jsonb`, and the locks
//! that keep concurrent callers from each other.

use sqlx::PgConnection;

use super::PostgresStore;
use crate::delivery::store::{Administration, Messages, PublishSql, Publishing, PurgeSql};
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
}

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
        candidates: "SELECT m.id FROM hookspec_messages m WHERE m.created_at < $1 \
            AND NOT EXISTS (SELECT 1 FROM hookspec_deliveries d WHERE d.message_id = m.id AND d.status = 'pending') \
            ORDER BY m.created_at, m.id LIMIT $2 FOR UPDATE",
        messages: "DELETE FROM hookspec_messages \
            WHERE id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb)) \
            AND NOT EXISTS (SELECT 1 FROM hookspec_deliveries d \
              WHERE d.message_id = hookspec_messages.id AND d.status = 'pending') RETURNING id",
        attempts_of_messages: "DELETE FROM hookspec_attempts \
            WHERE message_id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb))",
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

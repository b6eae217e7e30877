//! Publishing and administration on SQLite: JSON lists read with `json_each`, a subscription's
//! events from a table of their own that triggers keep (migration 7), and no locks (SQLite has
//! one writer, and the outbox one connection to it: nothing runs in between).

use std::time::Duration;

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
        candidates: "SELECT m.id, m.created_at FROM hookspec_messages m WHERE m.created_at < $1 \
            AND (m.created_at, m.id) > ($3, $4) \
            AND NOT EXISTS (SELECT 1 FROM hookspec_deliveries d WHERE d.message_id = m.id AND d.status = 'pending') \
            ORDER BY m.created_at, m.id LIMIT $2",
        messages: "DELETE FROM hookspec_messages WHERE id IN (SELECT value FROM json_each($1)) \
            AND NOT EXISTS (SELECT 1 FROM hookspec_deliveries d \
              WHERE d.message_id = hookspec_messages.id AND d.status = 'pending') RETURNING id",
        attempts_of_messages:
            "DELETE FROM hookspec_attempts WHERE message_id IN (SELECT value FROM json_each($1))",
        // Every publish and claim waits for the one connection while a purge transaction
        // holds it, and a delivery waits twice (its publish, its claim): the transactions
        // must be short beside a delivery's own p99, 1.2-1.8 ms alone on a quiet disk.
        // Aimed at 1 ms, the p99 during a purge was 3.3-5.2x that; aimed at 0.4 ms,
        // 1.5-2.1x; at 0.2 ms, 1.05-1.65x, for a purge 4x as long (curve 5, 400,000
        // messages). At 0.2 ms most transactions take the fewest messages (10, about
        // 0.3 ms): their own round trips to SQLite's worker thread and their commit.
        transaction_time: Duration::from_micros(200),
    };

    async fn lock_queue(_: &mut SqliteConnection, _: &str) -> Result<(), OutboxError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use crate::delivery::store::{Publishing, SqliteStore, Store};

    /// The plan SQLite takes for `sql`, one line per step, with a tenant's publish arguments
    /// bound (`$3` only where `sql` has it).
    async fn plan(store: &SqliteStore, sql: &str, tenant: bool) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(explain))
            .bind(0_i64)
            .bind("tick");
        if tenant {
            query = query.bind("bench");
        }
        let rows = query.fetch_all(store.pool()).await.expect("a plan");
        rows.iter()
            .map(|row| row.try_get::<String, _>("detail").expect("a step"))
            .collect()
    }

    /// Publishing reads only the subscriptions it returns: the event's by key, the ones to
    /// every event by their partial index; no step scans the subscriptions. Checked on an
    /// empty database and again after ANALYZE of many subscriptions to another event, whose
    /// statistics could turn the planner to the tenant's index.
    #[tokio::test]
    async fn publishing_looks_subscriptions_up_by_event_and_scans_none() {
        let dir = super::super::scratch_dir("plan");
        let url = format!("sqlite://{}", dir.join("plan.db").display());
        let store = SqliteStore::connect(&url).await.expect("a SQLite outbox");
        let sql = &SqliteStore::PUBLISH;
        for analyzed in [false, true] {
            let of_tenant = plan(&store, sql.subscribers_of_tenant, true).await;
            let of_all = plan(&store, sql.subscribers_of_all, false).await;
            let context = format!("analyzed: {analyzed}; {of_tenant:#?} {of_all:#?}");
            assert!(
                of_tenant.contains(&"SEARCH e USING PRIMARY KEY (event=? AND owner=?)".into()),
                "{context}"
            );
            assert!(
                of_all.contains(&"SEARCH e USING PRIMARY KEY (event=?)".into()),
                "{context}"
            );
            assert!(
                of_tenant.iter().any(|step| step.starts_with(
                    "SEARCH hookspec_subscriptions \
                    USING INDEX hookspec_subscriptions_every_event (owner=?)"
                )),
                "{context}"
            );
            // A broadcast reads every tenant's subscriptions to every event: all of the
            // partial index, and nothing else.
            let scans: Vec<&String> = of_tenant
                .iter()
                .chain(&of_all)
                .filter(|step| step.starts_with("SCAN"))
                .collect();
            assert_eq!(
                scans,
                ["SCAN hookspec_subscriptions USING INDEX hookspec_subscriptions_every_event"],
                "{context}"
            );
            sqlx::raw_sql(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
                 INSERT INTO hookspec_subscriptions (id, owner, url, events, secrets, created_at, updated_at) \
                 SELECT 'sub_' || i, 'bench', 'https://example.com', '[\"other\"]', '[]', 0, 0 FROM n \
                 WHERE NOT EXISTS (SELECT 1 FROM hookspec_subscriptions); \
                 ANALYZE",
            )
            .execute(store.pool())
            .await
            .expect("subscriptions to another event, analyzed");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

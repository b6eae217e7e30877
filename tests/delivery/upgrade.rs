//! An outbox written under the first schema opens under the current one: its migrations run
//! on the data that is there, and the work it held is delivered.

use std::str::FromStr;

use axum::http::StatusCode;
use hookspec::delivery::{Outbox, OutboxError};
use hookspec::signing::Secret;

use super::support::{self, drained, fast_config, loopback, Receiver, TENANT};
use super::{event, WAIT};

/// The first schema as version 1 of the store applied it, on SQLite or PostgreSQL.
const FIRST_SCHEMA: &str = include_str!("../../core/migrations/sqlite/0001_outbox.sql");

/// The first schema and what it holds: one subscription (rate-limited), a message delivered
/// long ago with its attempt, and a message still pending.
fn first_schema(receiver: &str, postgres: bool) -> Vec<String> {
    let schema = if postgres {
        FIRST_SCHEMA.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
    } else {
        FIRST_SCHEMA.to_owned()
    };
    let secrets =
        serde_json::json!([{ "secret": Secret::generate().expose(), "expires_at": null }]);
    let payload = serde_json::to_string(&event("Task", "create", "1", "")).unwrap();
    vec![
        schema,
        "CREATE TABLE hookspec_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)".into(),
        "INSERT INTO hookspec_migrations VALUES (1, 0)".into(),
        format!(
            "INSERT INTO hookspec_subscriptions (id, owner, url, events, secrets, rate_limit, created_at, updated_at) \
             VALUES ('sub_old', '{TENANT}', '{receiver}', '[]', '{secrets}', 100, 0, 0)"
        ),
        format!(
            "INSERT INTO hookspec_messages VALUES ('msg_done', 'entity.changed', 'POST', '{payload}', 0), \
               ('msg_pending', 'entity.changed', 'POST', '{payload}', 0)"
        ),
        "INSERT INTO hookspec_deliveries (message_id, subscription_id, status, attempts, next_attempt_at, created_at, finished_at) \
         VALUES ('msg_done', 'sub_old', 'succeeded', 1, 0, 0, 0), ('msg_pending', 'sub_old', 'pending', 0, 0, 0, NULL)"
            .into(),
        "INSERT INTO hookspec_attempts (delivery_id, attempted_at, status_code, latency_ms) \
         SELECT id, 0, 204, 1 FROM hookspec_deliveries WHERE message_id = 'msg_done'"
            .into(),
    ]
}

/// Opens the outbox at `url` (which runs the migrations) on the backend `name`.
async fn open(name: &str, url: &str) -> Result<Outbox, OutboxError> {
    if name == "sqlite" {
        Outbox::sqlite(url).await
    } else {
        Outbox::postgres(url).await
    }
}

#[tokio::test]
async fn an_outbox_of_the_first_schema_upgrades_and_delivers_what_it_held() {
    let receiver = Receiver::answering(StatusCode::NO_CONTENT).await;
    let mut urls = vec![("sqlite", support::new_sqlite_url())];
    if let Some(url) = support::new_postgres_database().await {
        urls.push(("postgres", url));
    }
    let pending_messages = urls.len(); // one per backend
    for (name, url) in urls {
        write_first_schema(name, &url, &receiver.url, &[]).await;
        let outbox = open(name, &url).await.unwrap().ssrf_policy(loopback());
        let dispatcher = outbox.dispatcher(fast_config()).unwrap().spawn();
        let (pending, succeeded, _) = drained(&outbox, WAIT).await;
        assert_eq!((pending, succeeded), (0, 2), "{name}");
        assert_eq!(
            outbox.attempts("msg_done").await.unwrap().len(),
            1,
            "{name}"
        );
        assert_eq!(
            outbox.attempts("msg_pending").await.unwrap().len(),
            1,
            "{name}"
        );
        let tenant = outbox.tenant(TENANT);
        assert_eq!(tenant.subscription("sub_old").await.unwrap().tenant, TENANT);
        let listed = tenant.payloads("sub_old", 0, 10).await.unwrap();
        let mut messages: Vec<_> = listed.iter().map(|p| p.message_id.as_str()).collect();
        messages.sort_unstable();
        assert_eq!(
            messages,
            ["msg_done", "msg_pending"],
            "{name}: each listed once"
        );
        // The rate limit, set before its state had a column, was kept through it.
        let tat = "SELECT rate_tat FROM hookspec_subscriptions WHERE id = 'sub_old'";
        let tat: Option<i64> = if name == "sqlite" {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query_scalar(tat).fetch_one(&pool).await.unwrap()
        } else {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query_scalar(tat).fetch_one(&pool).await.unwrap()
        };
        assert!(tat.is_some(), "{name}: the delivery took a token");
        dispatcher.shutdown().await;
        // Reopening runs nothing twice.
        drop(outbox);
        let again = open(name, &url).await;
        assert!(again.is_ok(), "{name}: {:?}", again.err());
    }
    assert_eq!(receiver.received().len(), pending_messages);
}

/// Writes the first schema and what it holds (see [`first_schema`]), then `more`, to the new
/// database at `url` on the backend `name`.
async fn write_first_schema(name: &str, url: &str, receiver: &str, more: &[String]) {
    let statements = first_schema(receiver, name == "postgres")
        .into_iter()
        .chain(more.iter().cloned());
    if name == "sqlite" {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .unwrap()
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        execute_each(&pool, statements).await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        execute_each(&pool, statements).await;
    }
}

/// Runs `statements` on `pool` one after another, then closes it.
async fn execute_each<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    statements: impl Iterator<Item = String>,
) where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
{
    for sql in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(&*sql))
            .execute(pool)
            .await
            .unwrap();
    }
    pool.close().await;
}

/// Subscriptions stored before their events were indexed (SQLite's migration 7 lists them in
/// a table of their own, PostgreSQL's indexes the lists) get the events they list after it.
#[tokio::test]
async fn subscriptions_of_the_first_schema_get_the_events_they_list() {
    let receiver = Receiver::answering(StatusCode::NO_CONTENT).await;
    let mut urls = vec![("sqlite", support::new_sqlite_url())];
    if let Some(url) = support::new_postgres_database().await {
        urls.push(("postgres", url));
    }
    let subscriptions: Vec<String> = [
        ("sub_listing", r#"["entity.changed"]"#),
        ("sub_other", r#"["other.event"]"#),
        ("sub_both", r#"["other.event", "entity.changed"]"#),
    ]
    .iter()
    .map(|(id, events)| {
        format!(
            "INSERT INTO hookspec_subscriptions (id, owner, url, events, secrets, created_at, updated_at) \
             VALUES ('{id}', '{TENANT}', '{}', '{events}', '[]', 0, 0)",
            receiver.url
        )
    })
    .collect();
    for (name, url) in urls {
        write_first_schema(name, &url, &receiver.url, &subscriptions).await;
        let outbox = open(name, &url).await.unwrap().ssrf_policy(loopback());
        let tenant = outbox.tenant(TENANT);
        let id = tenant
            .publish::<super::entity_changed>(&event("Task", "create", "2", ""))
            .await
            .unwrap();
        let mut reached = Vec::new();
        for sub in ["sub_old", "sub_listing", "sub_other", "sub_both"] {
            let messages = tenant.recent_messages(sub, 50).await.unwrap();
            if messages.iter().any(|m| m.message_id == id) {
                reached.push(sub);
            }
        }
        assert_eq!(reached, ["sub_old", "sub_listing", "sub_both"], "{name}");
    }
}

#[tokio::test]
async fn an_outbox_migrated_by_a_newer_hookspec_is_refused() {
    let url = support::new_sqlite_url();
    drop(Outbox::sqlite(&url).await.unwrap());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO hookspec_migrations VALUES (99, 0)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let Err(error) = Outbox::sqlite(&url).await else {
        panic!("an outbox of schema version 99 was opened");
    };
    assert!(
        matches!(error, OutboxError::SchemaTooNew { found: 99, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("upgrade hookspec"), "{error}");
}

//! The hot statements look their rows up by index whatever the tables held when they were
//! planned.
//!
//! A prepared statement keeps one generic plan (the dispatcher's connections plan each
//! statement once; others switch to a generic plan after a few executions) until the next
//! ANALYZE of its tables. Planned on a new database, every table looks empty, and reading a
//! whole one looks cheaper than a few lookups by key: a plan that went on reading whole tables
//! as they grew made each claim hash every message. These tests plan each statement on empty
//! tables, as the outbox's own connections would, and read every scan of a table in the plan.
//!
//! Not checked here: publishing's statements. Which subscriptions a tenant's publish reads has
//! a best plan (migration 7's indexes of the event lists) that depends on how many
//! subscriptions the tenant has, so it is left to the statistics; planned on empty tables, it
//! reads the tenant's subscriptions by the tenant's index until the next ANALYZE. The batch
//! write is planned at every execution (see `PUBLISH_ROWS`).

use serde_json::Value;
use sqlx::{PgConnection, Row};

use super::bookkeeping::{CLAIM, RECORD_ONLY_SUCCESSES};
use super::{drop_scratch_database, scratch_database, PostgresStore};
use crate::delivery::store::bookkeeping::{NEXT_DUE, RECORD_FAILURE};
use crate::delivery::store::{Bookkeeping, Store};

/// The generic plan of `sql` on `conn` (with that connection's settings), as EXPLAIN's JSON.
async fn generic_plan(conn: &mut PgConnection, sql: &str) -> Value {
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await
        .unwrap();
    let prepare = format!("PREPARE planned AS {sql}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(prepare))
        .execute(&mut *conn)
        .await
        .unwrap();
    // A generic plan does not depend on the values: NULL for each parameter.
    let parameters = vec!["NULL"; highest_parameter(sql)].join(", ");
    let explain =
        format!("EXPLAIN (FORMAT JSON) EXECUTE planned({parameters}); DEALLOCATE planned");
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(explain))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    // The simple protocol returns text; EXPLAIN's column is `json`, which `String` does not
    // claim to decode.
    let text: String = rows[0].try_get_unchecked(0).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The highest `$n` in `sql`.
fn highest_parameter(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Each scan of a hookspec table in `plan`: (node type, table, index, whether it is given
/// the rows to look up: an index condition, or a bitmap's recheck of one).
fn scans(plan: &Value) -> Vec<(String, String, String, bool)> {
    let mut found = Vec::new();
    let mut todo = vec![plan];
    while let Some(node) = todo.pop() {
        match node {
            Value::Array(items) => todo.extend(items),
            Value::Object(fields) => {
                let kind = fields.get("Node Type").and_then(Value::as_str);
                let table = fields.get("Relation Name").and_then(Value::as_str);
                if let (Some(kind), Some(table)) = (kind, table) {
                    if kind != "ModifyTable" && table.starts_with("hookspec_") {
                        let index = fields.get("Index Name").and_then(Value::as_str);
                        let keyed = fields.contains_key("Index Cond")
                            || fields.contains_key("Recheck Cond")
                            || fields.contains_key("TID Cond");
                        found.push((
                            kind.to_owned(),
                            table.to_owned(),
                            index.unwrap_or_default().to_owned(),
                            keyed,
                        ));
                    }
                }
                todo.extend(fields.values());
            }
            _ => {}
        }
    }
    found
}

/// Fails naming the statement if it reads a table other than by the rows it looks up, but
/// for `whole`: the tables (or indexes) it may read in order, stopping early.
async fn assert_looked_up(conn: &mut PgConnection, name: &str, sql: &str, whole: &[&str]) {
    let plan = generic_plan(conn, sql).await;
    let found = scans(&plan);
    assert!(!found.is_empty(), "{name} reads no table?\n{plan:#}");
    for (kind, table, index, keyed) in found {
        let allowed = whole.contains(&table.as_str()) || whole.contains(&index.as_str());
        assert!(
            keyed || allowed,
            "{name}'s generic plan on empty tables reads {table} whole ({kind} {index}):\n{plan:#}"
        );
    }
}

/// A connection of `store`'s pool, with its settings, taken out of the pool: the tests
/// prepare statements on it, beside sqlx's own.
async fn own_connection(store: &PostgresStore) -> PgConnection {
    store.pool().acquire().await.unwrap().detach()
}

#[tokio::test]
async fn hot_statements_look_rows_up_by_index_when_planned_on_empty_tables() {
    let Some(url) = scratch_database("plans").await else {
        return;
    };
    let (main, bookkeeping) = PostgresStore::connect(&url).await.unwrap();

    // The dispatcher's statements, on one of its own connections (with their settings).
    let mut conn = own_connection(&bookkeeping).await;
    // (The second of the three statements recording successes reads no table.)
    let [delete_delivered, _, clear_failing] = <PostgresStore as Bookkeeping>::RECORD_SUCCESSES;
    // The next due time reads the pending deliveries in order and stops at the first.
    let pending_in_order = ["hookspec_deliveries_pending"];
    for (name, sql, whole) in [
        ("the claim", CLAIM, &[][..]),
        ("the next due time", NEXT_DUE, &pending_in_order[..]),
        ("recording successes", RECORD_ONLY_SUCCESSES, &[]),
        ("deleting delivered deliveries", delete_delivered, &[]),
        ("clearing failing subscriptions", clear_failing, &[]),
        ("recording a failure", RECORD_FAILURE, &[]),
        (
            "giving deliveries back",
            <PostgresStore as Bookkeeping>::RELEASE,
            &[],
        ),
    ] {
        assert_looked_up(&mut conn, name, sql, whole).await;
    }

    // The claim looks each delivery's message and subscription up by key even where reading
    // a whole table is allowed (without the dispatcher's settings): only the deliveries it
    // updates are left to `enable_seqscan = off`.
    let mut conn = own_connection(&main).await;
    assert_looked_up(&mut conn, "the claim", CLAIM, &["hookspec_deliveries"]).await;
    drop(conn);
    main.pool().close().await;
    bookkeeping.pool().close().await;
    drop_scratch_database(&url).await;
}

#[test]
fn the_highest_parameter_is_found() {
    assert_eq!(highest_parameter("SELECT $2, $10::text, $3"), 10);
    assert_eq!(highest_parameter("SELECT '$'"), 0);
}

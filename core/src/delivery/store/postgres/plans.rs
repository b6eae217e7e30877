//! The hot statements keep to their indexes whatever the tables held when they were planned.
//!
//! A prepared statement keeps one generic plan (the dispatcher's connections plan each
//! statement once; others switch to a generic plan after a few executions) until the next
//! ANALYZE of its tables. Planned on a new database, every table looks empty, and reading a
//! whole one looks cheaper than a few lookups by key: a plan that went on reading whole tables
//! as they grew made each claim hash every message. These tests plan each statement on
//! empty tables, as the outbox's own connections would, and read the plan.

use sqlx::{PgConnection, Row};

use super::bookkeeping::{CLAIM, RECORD_ONLY_SUCCESSES};
use super::publishing::PUBLISH_ROWS;
use super::{scratch_database, PostgresStore};
use crate::delivery::store::bookkeeping::NEXT_DUE;
use crate::delivery::store::{Bookkeeping, Publishing, Store};

/// The generic plan of `sql` on `conn`, as EXPLAIN prints it.
async fn generic_plan(conn: &mut PgConnection, sql: &str) -> String {
    sqlx::raw_sql("DEALLOCATE ALL; SET plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await
        .unwrap();
    let prepare = format!("PREPARE statement AS {sql}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(prepare))
        .execute(&mut *conn)
        .await
        .unwrap();
    // A generic plan does not depend on the values: NULL for each parameter.
    let parameters = (1..=highest_parameter(sql))
        .map(|_| "NULL")
        .collect::<Vec<_>>();
    let explain = format!("EXPLAIN EXECUTE statement({})", parameters.join(", "));
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(explain))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.get::<String, _>(0))
        .collect::<Vec<_>>()
        .join("\n")
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

/// Fails naming the statement if its plan contains any of `forbidden`.
fn assert_plan_avoids(name: &str, plan: &str, forbidden: &[&str]) {
    for bad in forbidden {
        assert!(
            !plan.contains(bad),
            "{name}'s generic plan on empty tables has {bad:?}:\n{plan}"
        );
    }
}

#[tokio::test]
async fn hot_statements_look_rows_up_by_index_when_planned_on_empty_tables() {
    let Some(url) = scratch_database("plans").await else {
        return;
    };
    let (main, bookkeeping) = PostgresStore::connect(&url).await.unwrap();

    // The dispatcher's statements, on one of its own connections (with their settings).
    let mut conn = bookkeeping.pool().acquire().await.unwrap();
    let by_key = ["Seq Scan", "hookspec_deliveries_pending"];
    for (name, sql, forbidden) in [
        ("the claim", CLAIM, &by_key[..1]),
        ("the next due time", NEXT_DUE, &by_key[..1]),
        ("recording successes", RECORD_ONLY_SUCCESSES, &by_key[..]),
        (
            "deleting delivered deliveries",
            <PostgresStore as Bookkeeping>::RECORD_SUCCESSES[0],
            &by_key[..],
        ),
        (
            "giving deliveries back",
            <PostgresStore as Bookkeeping>::RELEASE,
            &by_key[..],
        ),
    ] {
        let plan = generic_plan(&mut conn, sql).await;
        assert_plan_avoids(name, &plan, forbidden);
    }

    // Publishing's, on the connections that publish.
    let mut conn = main.pool().acquire().await.unwrap();
    let subscribers = <PostgresStore as Publishing>::PUBLISH.subscribers_of_tenant;
    for (name, sql) in [
        ("writing a batch", PUBLISH_ROWS),
        ("a tenant's subscribers", subscribers),
    ] {
        let plan = generic_plan(&mut conn, sql).await;
        assert_plan_avoids(name, &plan, &["Seq Scan on hookspec_subscriptions"]);
    }
}

#[test]
fn the_highest_parameter_is_found() {
    assert_eq!(highest_parameter("SELECT $2, $10::text, $3"), 10);
    assert_eq!(highest_parameter("SELECT '$'"), 0);
}

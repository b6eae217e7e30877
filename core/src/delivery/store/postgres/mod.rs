//! PostgreSQL: the backend for several machines publishing and dispatching at once.

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::{migrate, RowsAffected, Store};
use crate::delivery::OutboxError;

mod bookkeeping;
#[cfg(test)]
mod plans;
mod publishing;

/// The outbox on PostgreSQL, through one pool of connections: for publishing and
/// administration, or for a dispatcher's bookkeeping (see [`PostgresStore::connect`]).
#[derive(Clone, Debug)]
pub(crate) struct PostgresStore {
    pool: PgPool,
}

/// PostgreSQL's schema, version by version (`core/migrations/postgres/`).
fn migrations() -> Migrator {
    migrate::prepared(sqlx::migrate!("migrations/postgres"))
}

/// Serializes migrations between processes that open the same database at once.
const MIGRATION_LOCK: i64 = 0x686f_6f6b_7370_6563; // "hookspec"

impl PostgresStore {
    /// The store for publishing and administration, and the dispatchers' store for their own
    /// bookkeeping (claims, leases, outcomes), on the database at `url` brought to the newest
    /// schema.
    pub(crate) async fn connect(url: &str) -> Result<(PostgresStore, PostgresStore), OutboxError> {
        let options = PgConnectOptions::from_str(url)?;
        // A connection that broke fails its next statement, which the caller sees or the
        // dispatcher retries; pinging before every use would double the round trips.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let mut tx = pool.begin().await?;
        // Held to the end of the transaction, even one that fails: sqlx's own lock (which
        // `migrate::prepared` turns off) is a session lock, left held on a pooled connection
        // when a migration fails.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        migrate::run::<sqlx::Postgres>(&mut tx, &migrations()).await?;
        tx.commit().await?;
        // Bookkeeping commits without waiting for the WAL flush. A database crash can forget
        // its last moments, which only sends those deliveries again (at-least-once) and never
        // loses one: events are published through the other pool, with full durability.
        // Its claims must read due work in index order and stop at the limit. Before the
        // table has statistics (a new or freshly filled outbox), the planner guesses a few
        // rows and prefers a bitmap scan and a sort, reading every pending row per claim;
        // these connections run only the dispatcher's statements (`bookkeeping.rs` and the
        // rate limit's), so they forbid both. Those statements are written so that one plan suits every parameter (lists
        // are looked up by key, due work in index order), so each is planned once, when
        // prepared, rather than at every execution, where planning took a third of a claim's
        // time. Planned once, on a new database, they are planned for empty tables, where
        // reading a whole table looks cheaper than a few lookups by key: the claim then read
        // every delivery, and hashed every message, on each call as the tables grew (in a
        // 20,000-event run of `publish_load`, 2,700 sequential scans of the messages read
        // 15 million rows, on a server without autovacuum, whose ANALYZE would have replanned
        // them sooner). So sequential scans are forbidden too: every statement here has
        // an index to go by (`plans.rs` checks each looks its rows up by one).
        let bookkeeping = PgPoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_lazy_with(options.options([
                ("synchronous_commit", "off"),
                ("enable_bitmapscan", "off"),
                ("enable_sort", "off"),
                ("enable_seqscan", "off"),
                ("plan_cache_mode", "force_generic_plan"),
            ]));
        Ok((PostgresStore { pool }, PostgresStore { pool: bookkeeping }))
    }
}

impl Store for PostgresStore {
    type Db = sqlx::Postgres;

    fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}

/// A fresh database on the test PostgreSQL server (`HOOKSPEC_TEST_DATABASE_URL`, else its
/// usual local address), as a URL, if the server is reachable; otherwise says on the terminal
/// that `test` ran without it, or fails where `HOOKSPEC_REQUIRE_SERVICES` is set (as in CI).
#[cfg(test)]
pub(crate) async fn scratch_database(test: &str) -> Option<String> {
    let server = std::env::var("HOOKSPEC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    // A refused connection is retried until the pool's timeout: a short one, to skip fast.
    let admin = PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect(&server)
        .await;
    let admin = match admin {
        Ok(admin) => admin,
        Err(e) if std::env::var_os("HOOKSPEC_REQUIRE_SERVICES").is_none() => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\nSKIPPED: PostgreSQL is not reachable at {server} ({e}): the {test} test \
                 ran on SQLite only"
            );
            return None;
        }
        Err(e) => panic!("HOOKSPEC_REQUIRE_SERVICES is set, and PostgreSQL fails: {e}"),
    };
    let name = format!("hookspec_test_{test}_{}", rand::random::<u32>());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let mut url = reqwest::Url::parse(&server).unwrap();
    url.set_path(&name);
    Some(url.into())
}

/// Drops a database [`scratch_database`] made, once the test's pools are closed.
#[cfg(test)]
pub(crate) async fn drop_scratch_database(url: &str) {
    let mut server = reqwest::Url::parse(url).unwrap();
    let name = server.path().trim_start_matches('/').to_owned();
    server.set_path("postgres");
    let admin = PgPoolOptions::new().connect(server.as_str()).await.unwrap();
    let drop = format!("DROP DATABASE {name} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
}

//! PostgreSQL: the backend for several machines publishing and dispatching at once.

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::{migrate, RowsAffected, Store};
use crate::delivery::OutboxError;

mod bookkeeping;
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
        // these connections run only the statements below, so they forbid both. Those
        // statements are written so that one plan suits every parameter (lists are looked
        // up by key, due work in index order), so each is planned once, when prepared,
        // rather than at every execution, where planning took a third of a claim's time.
        let bookkeeping = PgPoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_lazy_with(options.options([
                ("synchronous_commit", "off"),
                ("enable_bitmapscan", "off"),
                ("enable_sort", "off"),
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

//! SQLite: the embedded backend. One connection, as SQLite has one writer.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{migrate, RowsAffected, Store};
use crate::delivery::OutboxError;

mod bookkeeping;
mod checkpoint;
mod publishing;

use checkpoint::Checkpointer;

/// The outbox on SQLite.
#[derive(Clone, Debug)]
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    /// The log's checkpoints, beside the pool's connection; they stop with the last clone.
    _checkpointer: Option<Arc<Checkpointer>>,
}

/// A new directory for a test's database files, under the temporary directory.
#[cfg(test)]
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hookspec-{name}-{}-{}",
        std::process::id(),
        crate::delivery::clock::now_ms()
    ));
    std::fs::create_dir_all(&dir).expect("a directory");
    dir
}

/// SQLite's schema, version by version (`core/migrations/sqlite/`).
fn migrations() -> Migrator {
    migrate::prepared(sqlx::migrate!("migrations/sqlite"))
}

impl SqliteStore {
    /// Opens (creating it if needed) the database at `url` and brings it to the newest schema.
    pub(crate) async fn connect(url: &str) -> Result<SqliteStore, OutboxError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // A claim returns 4 × concurrency rows (256 by default): with room for 1024,
            // SQLite's worker thread runs the statement to the end instead of waking and
            // waiting for the reader every 50 rows (the default), each time on cores the
            // attempts are using.
            .row_buffer_size(1024)
            .pragma("wal_autocheckpoint", checkpoint::FALLBACK_PAGES.to_string());
        // One connection: SQLite has one writer, and a single connection never meets
        // SQLITE_BUSY from a deferred transaction upgrading to a write.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let mut tx = pool.begin().await?;
        migrate::run::<sqlx::Sqlite>(&mut tx, &migrations()).await?;
        tx.commit().await?;
        let checkpointer = Checkpointer::start(&options).await?.map(Arc::new);
        Ok(SqliteStore {
            pool,
            _checkpointer: checkpointer,
        })
    }
}

impl Store for SqliteStore {
    type Db = sqlx::Sqlite;

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

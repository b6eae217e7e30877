//! WAL checkpoints on a connection of their own. By default SQLite checkpoints on the
//! connection that commits, once the log passes 1,000 pages: the outbox has one connection,
//! so every publish, claim and purge transaction queued behind a checkpoint, which copies
//! the pages back into the database and syncs it. During a purge, which writes the log
//! fastest, one purge transaction in a hundred took 7-8 ms instead of 1 ms (curve 5 of
//! issue 18), and what queued behind it waited as long. A passive checkpoint on a second
//! connection runs beside the writer instead of in front of it.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::task::JoinHandle;

use crate::delivery::OutboxError;

/// How often the log is checkpointed: often, so that each finds little to copy. Every
/// 1,000 ms instead, a purge's transactions had a p999 of 16-30 ms (against 7-9 ms).
const INTERVAL: Duration = Duration::from_millis(100);

/// The committing connection's own threshold (pages), far above what the checkpoints let
/// the log reach while the writes pause now and then. The log starts over only at a write
/// that finds all of it copied back, so writes with no pause as long as a checkpoint let it
/// grow to here, where the outbox's connection checkpoints as before (in a test run under
/// load, 20 MB). The same if the checkpoints stop (the runtime that started them ended, or
/// they fail): the log stays bounded.
pub(super) const FALLBACK_PAGES: u32 = 10_000;

/// Checkpoints the database of `options` until dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    task: JoinHandle<()>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Checkpointer {
    /// Starts checkpointing the database of `options`, if it keeps a write-ahead log (an
    /// in-memory database does not, and needs none).
    pub(super) async fn start(
        options: &SqliteConnectOptions,
    ) -> Result<Option<Checkpointer>, OutboxError> {
        let mut connection = options.connect().await?;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut connection)
            .await?;
        if !mode.eq_ignore_ascii_case("wal") {
            connection.close().await?;
            return Ok(None);
        }
        let task = tokio::spawn(checkpoint_every(connection, INTERVAL));
        Ok(Some(Checkpointer { task }))
    }
}

async fn checkpoint_every(mut connection: SqliteConnection, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticks.tick().await;
        // Passive: copies what no reader still needs, waits for no one, and blocks no
        // writer; the writer starts the log over once all of it is copied.
        match sqlx::raw_sql("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut connection)
            .await
        {
            Ok(_) => failing = false,
            // Said once per run of failures; the committing connection's fallback keeps
            // the log bounded meanwhile.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "checkpointing the SQLite outbox's log failed");
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::time::Duration;

    use sqlx::sqlite::SqliteConnectOptions;

    use super::Checkpointer;
    use crate::delivery::store::{SqliteStore, Store};

    /// The log's frames (`mxFrame`) and how many of them are copied back into the database
    /// (`nBackfill`), read from the wal-index (https://www.sqlite.org/walformat.html): the
    /// header at offset 0, `mxFrame` its fifth 32-bit word; the checkpoint information
    /// after the header's two copies, `nBackfill` its first word. Native byte order.
    fn frames_and_backfilled(shm: &std::path::Path) -> (u32, u32) {
        let bytes = std::fs::read(shm).expect("the wal-index");
        let word = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        (word(16), word(96))
    }

    /// Writes about 2 MB, below the committing connection's own threshold, then leaves the
    /// outbox idle: the log is copied back into the database all the same, by the
    /// checkpoints beside it (without them nothing would copy it until 10,000 pages).
    #[tokio::test]
    async fn the_log_is_checkpointed_beside_the_outbox() {
        let dir = super::super::scratch_dir("checkpoint");
        let file = dir.join("outbox.db");
        let store = SqliteStore::connect(&format!("sqlite://{}", file.display()))
            .await
            .expect("a SQLite outbox");
        sqlx::raw_sql("CREATE TABLE filler (bytes BLOB)")
            .execute(store.pool())
            .await
            .expect("a table");
        for _ in 0..32 {
            sqlx::query("INSERT INTO filler VALUES (randomblob(60000))")
                .execute(store.pool())
                .await
                .expect("a row");
        }
        let shm = dir.join("outbox.db-shm");
        let (frames, _) = frames_and_backfilled(&shm);
        assert!(frames >= 400, "{frames} frames written");
        let mut seen = (frames, 0);
        for _ in 0..100 {
            seen = frames_and_backfilled(&shm);
            if seen.1 == seen.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            seen.1, seen.0,
            "frames copied back of those in the log, after 5 s"
        );
    }

    #[tokio::test]
    async fn an_in_memory_database_has_no_log_to_checkpoint() {
        let options = SqliteConnectOptions::from_str("sqlite::memory:").expect("options");
        let checkpointer = Checkpointer::start(&options).await.expect("a connection");
        assert!(checkpointer.is_none());
    }
}

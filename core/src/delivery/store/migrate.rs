//! Running each backend's migrations (`sqlx::migrate!` over `migrations/<backend>/`), for
//! databases new and old alike.
//!
//! Before sqlx ran them, hookspec kept its own ledger, `hookspec_migrations` (version,
//! applied_at), and databases migrated then have only that. So the ledger stays: the versions
//! it lists are adopted into sqlx's ledger (marked applied, with today's checksums: they are
//! the same scripts) before sqlx runs what is left, and every version sqlx applies is written
//! to it too. A hookspec of before this change reads it and refuses a database migrated past
//! what it knows, as this one does.

use std::collections::BTreeSet;

use sqlx::migrate::{Migrate, MigrateError, Migrator};

use crate::delivery::clock::now_ms;
use crate::delivery::OutboxError;

/// sqlx's ledger of applied migrations, with their checksums.
const SQLX_LEDGER: &str = "hookspec_schema_migrations";

/// A backend's embedded migrations, set up to run inside the caller's transaction: the
/// caller holds whatever lock keeps two processes from migrating at once, and its rollback
/// undoes everything when one step fails.
pub(super) fn prepared(mut migrator: Migrator) -> Migrator {
    migrator.set_locking(false);
    migrator.dangerous_set_table_name(SQLX_LEDGER);
    migrator
}

/// Brings the database that `conn` (in a transaction) is on to the newest schema.
pub(super) async fn run<DB>(
    conn: &mut DB::Connection,
    migrator: &Migrator,
) -> Result<(), OutboxError>
where
    DB: sqlx::Database,
    DB::Connection: Migrate,
    for<'c> &'c mut DB::Connection:
        sqlx::Executor<'c, Database = DB> + sqlx::Acquire<'c, Database = DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS hookspec_migrations \
         (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    let listed: BTreeSet<i64> = sqlx::query_scalar("SELECT version FROM hookspec_migrations")
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    // A database migrated by a newer hookspec has tables this one would misuse (its
    // dispatchers would fail every recording and send each delivery again and again).
    if let Some(&found) = listed.last().filter(|found| **found > known) {
        return Err(OutboxError::SchemaTooNew { found, known });
    }
    conn.ensure_migrations_table(SQLX_LEDGER)
        .await
        .map_err(sqlx::Error::from)?;
    let adopted: BTreeSet<i64> = conn
        .list_applied_migrations(SQLX_LEDGER)
        .await
        .map_err(sqlx::Error::from)?
        .into_iter()
        .map(|m| m.version)
        .collect();
    for migration in migrator.iter() {
        if listed.contains(&migration.version) && !adopted.contains(&migration.version) {
            conn.skip(SQLX_LEDGER, migration)
                .await
                .map_err(sqlx::Error::from)?;
        }
    }
    match migrator.run(&mut *conn).await {
        Ok(()) => {}
        // Applied by a newer hookspec that wrote only sqlx's ledger.
        Err(MigrateError::VersionMissing(found)) => {
            return Err(OutboxError::SchemaTooNew { found, known })
        }
        Err(e) => return Err(sqlx::Error::from(e).into()),
    }
    for migration in migrator.iter() {
        if !listed.contains(&migration.version) {
            sqlx::query("INSERT INTO hookspec_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(migration.version)
                .bind(now_ms())
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

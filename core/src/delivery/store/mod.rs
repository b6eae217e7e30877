//! The database side of the outbox. Each backend is one module that owns all of its SQL
//! ([`sqlite`], [`postgres`]) and implements the traits here: [`Publishing`],
//! [`Administration`] and [`Messages`] for the outbox, [`Bookkeeping`] for its dispatchers.
//! The statements both backends run alike (both accept `$1` placeholders) are the traits'
//! default methods, written once; what differs (claiming work, lists bound as JSON, locks)
//! each backend writes out. [`Backend`] is the one an outbox was opened on.
//!
//! A new backend is a module implementing these traits, its migrations in
//! `core/migrations/<backend>/`, and a variant of [`Backend`].

use sqlx::{Database, Pool};

use super::OutboxError;

mod administration;
mod backend;
mod bookkeeping;
mod job;
mod messages;
mod migrate;
mod outcome;
mod pace;
mod postgres;
mod publishing;
mod rate;
mod rows;
mod split;
mod sqlite;

pub(crate) use administration::{Administration, NewSubscription};
pub(crate) use backend::Backend;
pub use backend::{Connection, OutboxTransaction};
pub(crate) use bookkeeping::Bookkeeping;
pub(crate) use job::Job;
pub(crate) use messages::{Messages, PurgeSql};
pub(crate) use outcome::{Finished, Next, Outcome, SuccessBatch};
pub(crate) use postgres::PostgresStore;
pub(crate) use publishing::{PublishSql, Publishing};
pub(crate) use sqlite::SqliteStore;

/// A backend's connections.
pub(crate) trait Store: Send + Sync {
    /// Its database.
    type Db: Database;

    /// The connections.
    fn pool(&self) -> &Pool<Self::Db>;
}

/// How many rows a statement changed: each driver's result says so, sqlx's `Database` does
/// not.
pub(crate) trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

/// PostgreSQL's SQLSTATE for a foreign key violation, and for a deadlock.
pub(crate) const FOREIGN_KEY_VIOLATION: &str = "23503";
pub(crate) const DEADLOCK: &str = "40P01";

/// Whether `error` is the database's error with SQLSTATE `code`.
pub(crate) fn is_sql_state(error: &OutboxError, code: &str) -> bool {
    matches!(error, OutboxError::Database(e)
        if e.as_database_error().and_then(|e| e.code()).is_some_and(|c| c == code))
}

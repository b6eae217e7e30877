//! The database side of the outbox: one SQL dialect shared by SQLite and PostgreSQL (both
//! accept `$1` placeholders), with the few differences (claiming work, lists, recording on
//! PostgreSQL) written out per backend.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::OutboxError;

mod cleanup;
mod job;
mod lists;
mod rate;
mod split;

pub(crate) use job::Job;
use lists::{finish_successes_on_postgres, SuccessBatch};
pub(crate) use rate::now_us;

/// The schema's versions, applied in order. Written for SQLite: on PostgreSQL autoincrement
/// keys become `BIGSERIAL`, and lines that start with `-- postgres: ` are uncommented.
const MIGRATIONS: [(i64, &str); 7] = [
    (1, include_str!("../../migrations/0001_outbox.sql")),
    (2, include_str!("../../migrations/0002_pending_index.sql")),
    (
        3,
        include_str!("../../migrations/0003_delete_delivered.sql"),
    ),
    (4, include_str!("../../migrations/0004_messages_by_age.sql")),
    (
        5,
        include_str!("../../migrations/0005_shared_rate_limit.sql"),
    ),
    (6, include_str!("../../migrations/0006_tenants.sql")),
    (
        7,
        include_str!("../../migrations/0007_subscriptions_by_event.sql"),
    ),
];

/// Serializes migrations between processes that open the same PostgreSQL database at once.
const MIGRATION_LOCK: i64 = 0x686f_6f6b_7370_6563; // "hookspec"

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the concrete pool: the same SQL for both backends.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::delivery::store::Pool::Sqlite($p) => $body,
            $crate::delivery::store::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

impl Pool {
    pub(crate) async fn sqlite(url: &str) -> Result<Pool, OutboxError> {
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
            .row_buffer_size(1024);
        // One connection: SQLite has one writer, and a single connection never meets
        // SQLITE_BUSY from a deferred transaction upgrading to a write.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        let pool = Pool::Sqlite(pool);
        pool.migrate().await?;
        Ok(pool)
    }

    /// The pool for publishing and administration, and the dispatcher's pool for its own
    /// bookkeeping (claims, leases, outcomes).
    pub(crate) async fn postgres(url: &str) -> Result<(Pool, Pool), OutboxError> {
        let options = PgConnectOptions::from_str(url)?;
        // A connection that broke fails its next statement, which the caller sees or the
        // dispatcher retries; pinging before every use would double the round trips.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let pool = Pool::Postgres(pool);
        pool.migrate().await?;
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
        Ok((pool, Pool::Postgres(bookkeeping)))
    }

    async fn migrate(&self) -> Result<(), OutboxError> {
        let create = "CREATE TABLE IF NOT EXISTS hookspec_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            if matches!(self, Pool::Postgres(_)) {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(MIGRATION_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(create).execute(&mut *tx).await?;
            // A database migrated by a newer hookspec has tables this one would misuse (its
            // dispatchers would fail every recording and send each delivery again and again).
            let newest: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM hookspec_migrations")
                    .fetch_one(&mut *tx)
                    .await?;
            let known = MIGRATIONS
                .iter()
                .map(|(version, _)| *version)
                .max()
                .unwrap_or(0);
            if let Some(found) = newest.filter(|found| *found > known) {
                return Err(OutboxError::SchemaTooNew { found, known });
            }
            for (version, script) in MIGRATIONS {
                let applied: Option<i64> = sqlx::query_scalar(
                    "SELECT version FROM hookspec_migrations WHERE version = $1",
                )
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
                if applied.is_some() {
                    continue;
                }
                let script = match self {
                    Pool::Sqlite(_) => script.to_owned(),
                    Pool::Postgres(_) => script
                        .replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
                        .replace("-- postgres: ", ""),
                };
                sqlx::raw_sql(sqlx::AssertSqlSafe(&*script))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO hookspec_migrations (version, applied_at) VALUES ($1, $2)",
                )
                .bind(version)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Claims up to `limit` due deliveries for `owner` until `lease_until`, skipping the
    /// subscriptions in `busy` and anything due before `from`, and returns what each one
    /// needs. On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several dispatchers claim side by
    /// side without waiting on, or taking, each other's rows.
    pub(crate) async fn claim(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
        busy: &[String],
        from: i64,
    ) -> Result<Vec<Job>, OutboxError> {
        const DUE: &str = "d.status = 'pending' AND d.next_attempt_at BETWEEN $6 AND $3 \
            AND (d.lease_until IS NULL OR d.lease_until < $3) AND s.enabled \
            AND (s.expires_at IS NULL OR s.expires_at > $3)";
        // The oldest due deliveries, skipping busy subscriptions.
        let due = format!(
            "FROM hookspec_deliveries d JOIN hookspec_subscriptions s ON s.id = d.subscription_id \
             WHERE {DUE} AND d.subscription_id NOT IN (SELECT value FROM {}) \
             ORDER BY d.next_attempt_at LIMIT $4",
            self.json_values(5)
        );
        let busy = serde_json::to_string(busy)?;
        // Either backend's claim statement, with its parameters.
        macro_rules! claim_query {
            ($sql:expr) => {
                sqlx::query($sql)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now)
                    .bind(limit)
                    .bind(&busy)
                    .bind(from)
            };
        }
        // A claim writes the lease only, no indexed column (see migration 2): the scan of due
        // work reads past the deliveries in flight, which is far cheaper than moving each
        // claimed one in every index. What an attempt needs comes back with the claim.
        let mut jobs = match self {
            // One statement, the chosen ids taken as an array and looked up by key whatever
            // the plan, with the message and the subscription joined in.
            Pool::Postgres(pool) => {
                let sql = format!(
                    "UPDATE hookspec_deliveries SET lease_owner = $1, lease_until = $2 \
                     FROM hookspec_messages m, hookspec_subscriptions sub \
                     WHERE m.id = hookspec_deliveries.message_id \
                       AND sub.id = hookspec_deliveries.subscription_id \
                       AND hookspec_deliveries.id = ANY(ARRAY(SELECT d.id {due} FOR UPDATE OF d SKIP LOCKED)) \
                     RETURNING hookspec_deliveries.id, hookspec_deliveries.attempts, \
                       hookspec_deliveries.next_attempt_at, hookspec_deliveries.message_id, \
                       hookspec_deliveries.subscription_id, m.event, m.method, m.payload, \
                       sub.owner, sub.url, sub.secrets, sub.rate_limit"
                );
                let rows = claim_query!(sqlx::AssertSqlSafe(&*sql))
                    .fetch_all(pool)
                    .await?;
                rows.iter()
                    .map(Job::from_row)
                    .collect::<Result<Vec<_>, _>>()?
            }
            // SQLite cannot join in an UPDATE's RETURNING, and a subquery there scans its
            // whole table (every message, for each delivery claimed), so it reads what is due
            // and then writes the leases, in a transaction that holds the write lock
            // throughout: nothing can claim the same rows in between.
            Pool::Sqlite(pool) => {
                let select = format!(
                    "SELECT d.id, d.attempts, d.next_attempt_at, d.message_id, d.subscription_id, \
                       m.event, m.method, m.payload, s.owner, s.url, s.secrets, s.rate_limit \
                     FROM (SELECT d.id {due}) due \
                     JOIN hookspec_deliveries d ON d.id = due.id \
                     JOIN hookspec_subscriptions s ON s.id = d.subscription_id \
                     JOIN hookspec_messages m ON m.id = d.message_id"
                );
                let lease = format!(
                    "UPDATE hookspec_deliveries{} SET lease_owner = $1, lease_until = $2 WHERE {}",
                    self.by_key(),
                    self.key_in("id", 3)
                );
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let rows = claim_query!(sqlx::AssertSqlSafe(&*select))
                    .fetch_all(&mut *tx)
                    .await?;
                let jobs = rows
                    .iter()
                    .map(Job::from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                if !jobs.is_empty() {
                    let ids: Vec<i64> = jobs.iter().map(|job| job.delivery).collect();
                    sqlx::query(sqlx::AssertSqlSafe(&*lease))
                        .bind(owner)
                        .bind(lease_until)
                        .bind(serde_json::to_string(&ids)?)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                jobs
            }
        };
        // Oldest first, as they were chosen (neither RETURNING nor a join keeps an order).
        jobs.sort_unstable_by_key(|job| (job.due_at, job.delivery));
        Ok(jobs)
    }

    /// The earliest time a pending delivery of an enabled subscription, not leased, falls
    /// due. Leased ones are in flight, or fall due when a dead dispatcher's lease runs out,
    /// which polling finds.
    pub(crate) async fn next_due(&self) -> Result<Option<i64>, OutboxError> {
        // In index order, so that the first pending delivery of an enabled subscription ends
        // the search (an aggregate would read every pending row).
        let sql = "SELECT d.next_attempt_at \
                   FROM hookspec_deliveries d JOIN hookspec_subscriptions s ON s.id = d.subscription_id \
                   WHERE d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until < $1) AND s.enabled \
                     AND (s.expires_at IS NULL OR s.expires_at > $1) \
                   ORDER BY d.next_attempt_at LIMIT 1";
        on_pool!(self, |pool| Ok(sqlx::query_scalar::<_, i64>(sql)
            .bind(now_ms())
            .fetch_optional(pool)
            .await?))
    }

    /// Records attempts and their outcomes in one transaction (one commit for a batch),
    /// each fenced by the lease: a dispatcher whose lease expired (and whose delivery another
    /// one took over) changes nothing.
    pub(crate) async fn finish(
        &self,
        owner: &str,
        results: &[(Job, Outcome)],
    ) -> Result<Vec<Finished>, OutboxError> {
        if let Pool::Postgres(pool) = self {
            if results.iter().all(|(_, outcome)| outcome.delivered()) {
                return finish_successes_on_postgres(pool, owner, results).await;
            }
        }
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut finished = vec![Finished::default(); results.len()];
            // Successes, the bulk of the work, take three statements whatever their number.
            let successes: Vec<usize> = (0..results.len())
                .filter(|i| results[*i].1.delivered())
                .collect();
            if let Some(batch) = SuccessBatch::new(results, &successes)? {
                let sql = SuccessBatch::statements(self);
                let updated: std::collections::HashSet<i64> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(&*sql[0]))
                        .bind(owner)
                        .bind(&batch.deliveries)
                        .fetch_all(&mut *tx)
                        .await?
                        .into_iter()
                        .collect();
                let recorded: Vec<usize> = successes
                    .into_iter()
                    .filter(|i| updated.contains(&results[*i].0.delivery))
                    .collect();
                if !recorded.is_empty() {
                    let (attempts, subscriptions) = SuccessBatch::rows(results, &recorded)?;
                    sqlx::query(sqlx::AssertSqlSafe(&*sql[1]))
                        .bind(attempts)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(sqlx::AssertSqlSafe(&*sql[2]))
                        .bind(subscriptions)
                        .execute(&mut *tx)
                        .await?;
                }
                for i in recorded {
                    finished[i].recorded = true;
                }
            }
            // Failures are rare, and each may disable its subscription: one at a time.
            for (i, (job, outcome)) in results
                .iter()
                .enumerate()
                .filter(|(_, (_, o))| !o.delivered())
            {
                let now = outcome.attempted_at;
                let (status, next, finished_at) = match outcome.next {
                    Next::RetryAt(at) => ("pending", at, None),
                    // (Never delivered: those were recorded above.)
                    Next::GiveUp | Next::Delivered => ("failed", now, Some(now)),
                };
                let updated = sqlx::query(RECORD_FAILURE)
                    .bind(status)
                    .bind(next)
                    .bind(finished_at)
                    .bind(job.delivery)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    continue;
                }
                sqlx::query(LOG_ATTEMPT)
                    .bind(job.delivery)
                    .bind(&job.message_id)
                    .bind(&job.subscription_id)
                    .bind(now)
                    .bind(outcome.status_code)
                    .bind(outcome.error.as_deref())
                    .bind(outcome.latency_ms)
                    .bind(outcome.excerpt.as_deref())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(MARK_FAILING)
                    .bind(now)
                    .bind(&job.subscription_id)
                    .execute(&mut *tx)
                    .await?;
                let disable = match (&outcome.disable, outcome.failing_cutoff) {
                    (Some(reason), _) => Some(
                        sqlx::query(DISABLE)
                            .bind(reason)
                            .bind(now)
                            .bind(&job.subscription_id),
                    ),
                    (None, Some(cutoff)) => Some(
                        sqlx::query(DISABLE_FAILING)
                            .bind(now)
                            .bind(&job.subscription_id)
                            .bind(cutoff),
                    ),
                    (None, None) => None,
                };
                let disabled = match disable {
                    Some(query) => query.execute(&mut *tx).await?.rows_affected() > 0,
                    None => false,
                };
                finished[i] = Finished {
                    recorded: true,
                    disabled,
                };
            }
            tx.commit().await?;
            Ok(finished)
        })
    }

    /// Gives claimed deliveries back without an attempt, due again at `at`.
    pub(crate) async fn release(
        &self,
        deliveries: &[i64],
        owner: &str,
        at: i64,
    ) -> Result<(), OutboxError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE hookspec_deliveries{} SET lease_owner = NULL, lease_until = NULL, next_attempt_at = $1 \
             WHERE lease_owner = $2 AND {}",
            self.by_key(),
            self.key_in("id", 3)
        );
        let ids = serde_json::to_string(deliveries)?;
        on_pool!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(&*sql))
                .bind(at)
                .bind(owner)
                .bind(&ids)
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}

/// What recording a failed attempt writes: the delivery (`$1` its new status, `$2` when it is
/// due again, `$3` when it finished, `$4` its id, `$5` the lease owner)...
const RECORD_FAILURE: &str =
    "UPDATE hookspec_deliveries SET status = $1, attempts = attempts + 1, \
    next_attempt_at = $2, finished_at = $3, lease_owner = NULL, lease_until = NULL \
    WHERE id = $4 AND lease_owner = $5 AND status = 'pending'";
/// ...the attempt...
const LOG_ATTEMPT: &str = "INSERT INTO hookspec_attempts (delivery_id, message_id, \
    subscription_id, attempted_at, status_code, error, latency_ms, response_excerpt) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// ...when its subscription started failing (`$1` now, `$2` the subscription)...
const MARK_FAILING: &str = "UPDATE hookspec_subscriptions \
    SET failing_since = COALESCE(failing_since, $1) WHERE id = $2";
/// ...and, when it says so, that the subscription is disabled (`$1` why, `$2` now, `$3` the
/// subscription)...
const DISABLE: &str = "UPDATE hookspec_subscriptions \
    SET enabled = FALSE, disabled_reason = $1, updated_at = $2 WHERE id = $3 AND enabled";
/// ...or when it has failed since before a cutoff (`$1` now, `$2` the subscription, `$3` the
/// cutoff).
const DISABLE_FAILING: &str = "UPDATE hookspec_subscriptions \
    SET enabled = FALSE, disabled_reason = 'failing', updated_at = $1 \
    WHERE id = $2 AND enabled AND failing_since < $3";

/// Whether an outcome was recorded (the lease was still ours) and disabled the subscription.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Finished {
    pub(crate) recorded: bool,
    pub(crate) disabled: bool,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Next {
    /// It succeeded: the delivery is deleted and its attempts stay as the record of it.
    Delivered,
    GiveUp,
    RetryAt(i64),
}

/// The result of one attempt, as recorded.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) attempted_at: i64,
    pub(crate) status_code: Option<i64>,
    pub(crate) error: Option<String>,
    pub(crate) latency_ms: i64,
    pub(crate) excerpt: Option<String>,
    pub(crate) next: Next,
    /// Disable the subscription now, with this reason (e.g. `gone` after a 410).
    pub(crate) disable: Option<String>,
    /// Disable it as `failing` if it has failed continuously since before this time.
    pub(crate) failing_cutoff: Option<i64>,
}

impl Outcome {
    /// Whether the receiver took it (answered 2xx).
    pub(crate) fn delivered(&self) -> bool {
        self.next == Next::Delivered
    }
}

/// PostgreSQL's SQLSTATE for a foreign key violation, and for a deadlock.
pub(crate) const FOREIGN_KEY_VIOLATION: &str = "23503";
pub(crate) const DEADLOCK: &str = "40P01";

/// Whether `error` is the database's error with SQLSTATE `code`.
pub(crate) fn is_sql_state(error: &OutboxError, code: &str) -> bool {
    matches!(error, OutboxError::Database(e)
        if e.as_database_error().and_then(|e| e.code()).is_some_and(|c| c == code))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

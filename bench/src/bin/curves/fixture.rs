//! Fresh databases for the curves, and the bulk rows that give them production sizes.
//!
//! Rows are made in bulk SQL because the public API makes them one transaction at a time:
//! a million pending deliveries would take minutes to publish, ten million finished ones an
//! hour to deliver. Each bulk statement copies a template row that the public API made in
//! the same database (a subscription, a published message, its delivery or its attempt) and
//! changes only what must differ between rows (ids, times, tenant, events), so a bulk row is
//! what the API would have written; [`Store::assert_like_template`] checks it on every fill.

use std::time::Duration;

use hookspec::delivery::{DispatchConfig, Outbox, SsrfPolicy, Subscription};
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};

use crate::receiver::Receiver;
use crate::{tick, Tick, TENANT};

/// The outbox's message ids (`new_id` in core/src/delivery/model.rs): this prefix, then the
/// creation time in milliseconds as base-32 digits of this alphabet.
const ID_PREFIX: &str = "msg_";
const TIME_DIGITS: usize = 10;
const ALPHABET: &str = "0123456789abcdefghjkmnpqrstvwxyz";

/// The two backends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A second connection to the outbox's database, for the bulk rows.
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the concrete pool.
macro_rules! on_db {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db {
            Db::Sqlite($p) => $body,
            Db::Postgres($p) => $body,
        }
    };
}

/// A fresh outbox, its database and what to delete afterwards.
pub struct Store {
    pub backend: Backend,
    pub outbox: Outbox,
    db: Db,
    sqlite_file: Option<std::path::PathBuf>,
    postgres_database: Option<(String, String)>,
}

/// A fresh database per measurement, as bench/src/bin/delivery_load.rs makes them.
pub async fn open(backend: Backend, postgres: &str) -> Store {
    let (outbox, db, sqlite_file, postgres_database) = match backend {
        Backend::Sqlite => {
            let path =
                std::env::temp_dir().join(format!("hookspec-curves-{}.db", rand::random::<u64>()));
            let url = format!("sqlite://{}", path.display());
            let outbox = Outbox::sqlite(&url).await.unwrap();
            let db = Db::Sqlite(SqlitePool::connect(&url).await.unwrap());
            (outbox, db, Some(path), None)
        }
        Backend::Postgres => {
            let name = format!("hookspec_curves_{}", rand::random::<u32>());
            let admin = PgPool::connect(postgres).await.unwrap();
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
            let mut url = reqwest::Url::parse(postgres).unwrap();
            url.set_path(&name);
            let outbox = Outbox::postgres(url.as_str()).await.unwrap();
            let db = Db::Postgres(PgPool::connect(url.as_str()).await.unwrap());
            (outbox, db, None, Some((postgres.to_owned(), name)))
        }
    };
    let outbox = outbox
        .ssrf_policy(SsrfPolicy::new().allow("127.0.0.1/32").unwrap())
        .max_subscriptions_per_tenant(1_000_000);
    Store {
        backend,
        outbox,
        db,
        sqlite_file,
        postgres_database,
    }
}

impl Store {
    /// Deletes the database: an idle one full of rows still costs the next run.
    pub async fn remove(self) {
        drop(self.outbox);
        on_db!(self.db, |p| p.close().await);
        if let Some(path) = self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        if let Some((server, name)) = self.postgres_database {
            let admin = PgPool::connect(&server).await.unwrap();
            let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
                .execute(&admin)
                .await;
            admin.close().await;
        }
    }

    /// Runs `sql` with the integer parameters `args`; returns the rows it changed.
    async fn exec(&self, sql: &str, args: &[i64]) -> u64 {
        on_db!(&self.db, |p| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for arg in args {
                query = query.bind(*arg);
            }
            query.execute(p).await.unwrap().rows_affected()
        })
    }

    /// The first column of the first row of `sql`, as text.
    async fn text(&self, sql: &str) -> String {
        on_db!(&self.db, |p| sqlx::query_scalar::<_, String>(
            AssertSqlSafe(sql)
        )
        .fetch_one(p)
        .await
        .unwrap())
    }

    /// `insert` of `select`, with the rows `n.i` = 1..=`$1` of a numbers table joined in:
    /// `generate_series` on PostgreSQL, a recursive CTE on SQLite.
    fn numbered(&self, insert: &str, select: &str, from: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
                 {insert} {select} FROM n, {from}"
            ),
            Backend::Postgres => format!(
                "{insert} {select} FROM generate_series(1, CAST($1 AS BIGINT)) AS n(i), {from}"
            ),
        }
    }

    /// The id of the bulk message of row `n.i`, created at `$2 + n.i`: `msg_`, that time in
    /// ten base-32 digits, then `tag` and the row number, 26 characters as the outbox's own ids
    /// (`new_id` in core/src/delivery/model.rs). So bulk ids sort by creation among the API's
    /// as in production: history before the backlog, both before what is published now, and
    /// each new message's id lands at the end of the indexes that hold it. (Tagged ids that
    /// sorted after the API's, with the backlog's before the history's, put every recorded
    /// attempt in the middle of 10,000,000 others: recording cost a sixth more there.)
    fn message_id(&self, tag: &str) -> String {
        let time: Vec<String> = (0..TIME_DIGITS)
            .rev()
            .map(|i| {
                format!(
                    "substr('{ALPHABET}', CAST((($2 + n.i) >> {}) & 31 AS INTEGER) + 1, 1)",
                    5 * i
                )
            })
            .collect();
        let row = match self.backend {
            Backend::Sqlite => "printf('%012d', n.i)",
            Backend::Postgres => "lpad(CAST(n.i AS TEXT), 12, '0')",
        };
        format!("'{ID_PREFIX}' || {} || '{tag}' || {row}", time.join(" || "))
    }

    /// An SQL condition: `column` holds the id of a bulk message tagged `tag` (a tag that the
    /// outbox's alphabet, without i, l, o and u, cannot spell).
    fn tagged(column: &str, tag: &str) -> String {
        let at = ID_PREFIX.len() + TIME_DIGITS + 1;
        format!("substr({column}, {at}, {}) = '{tag}'", tag.len())
    }

    /// A subscription of tenant [`TENANT`] to `receiver` through the public API (to `tick`,
    /// or with `events` to those), the template of the bulk ones.
    pub async fn subscribe(
        &self,
        receiver: &Receiver,
        events: &[&str],
        filter: Option<&str>,
    ) -> String {
        let mut subscription = Subscription::new(&receiver.url).events(events.iter().copied());
        if let Some(filter) = filter {
            subscription = subscription.filter(filter);
        }
        let created = self
            .outbox
            .tenant(TENANT)
            .subscribe(subscription)
            .await
            .unwrap();
        created.id
    }

    /// `count` copies of subscription `template`, with `owner` and `events` SQL expressions
    /// of the row number `n.i` and the template `t`, numbered from `first + 1` on.
    pub async fn copy_subscriptions(
        &self,
        template: &str,
        count: u64,
        owner: &str,
        events: &str,
        first: u64,
    ) {
        if count == 0 {
            return;
        }
        let sql = self.numbered(
            "INSERT INTO hookspec_subscriptions (id, owner, url, events, filter, description, \
               metadata, secrets, enabled, rate_limit, expires_at, created_at, updated_at)",
            &format!(
                "SELECT 'sub_bulk_' || (n.i + {first}), {owner}, t.url, {events}, t.filter, t.description, \
                   t.metadata, t.secrets, t.enabled, t.rate_limit, t.expires_at, t.created_at, \
                   t.updated_at"
            ),
            &format!("hookspec_subscriptions t WHERE t.id = '{template}'"),
        );
        assert_eq!(self.exec(&sql, &[count as i64]).await, count);
        self.assert_like_template(
            "hookspec_subscriptions",
            "url, filter, description, metadata, secrets, enabled, rate_limit, expires_at, \
             disabled_reason, failing_since, rate_tat",
            &format!("id = '{template}'"),
            &format!("id = 'sub_bulk_{}'", first + 1),
        )
        .await;
    }

    /// Publishes the template message through the public API, for tenant [`TENANT`].
    pub async fn publish(&self) -> String {
        self.outbox
            .tenant(TENANT)
            .publish::<tick>(&Tick::now(0, TENANT))
            .await
            .unwrap()
    }

    /// A backlog: `count` messages like `template`, of the tenant that `tenant` (an SQL
    /// expression of `n.i` and the template `t`) names, created one a millisecond up to a
    /// second ago, each with a pending delivery to every subscription of its tenant, as
    /// publishing writes them (all subscriptions here take every `tick`, unfiltered).
    pub async fn backlog(&self, template: &str, count: u64, tenant: &str) -> u64 {
        let first = hookspec_now_ms() - count as i64 - 1000;
        let messages = self.numbered(
            "INSERT INTO hookspec_messages (id, event, method, payload, created_at, tenant)",
            &format!(
                "SELECT {}, t.event, t.method, t.payload, $2 + n.i, {tenant}",
                self.message_id("bulk")
            ),
            &format!("hookspec_messages t WHERE t.id = '{template}'"),
        );
        assert_eq!(self.exec(&messages, &[count as i64, first]).await, count);
        self.assert_ids_before("bulk", template).await;
        let deliveries = format!(
            "INSERT INTO hookspec_deliveries \
               (message_id, subscription_id, status, next_attempt_at, created_at) \
             SELECT m.id, s.id, 'pending', m.created_at, m.created_at \
             FROM hookspec_messages m JOIN hookspec_subscriptions s ON s.owner = m.tenant \
             WHERE {} ORDER BY m.created_at, s.id",
            Self::tagged("m.id", "bulk")
        );
        let made = self.exec(&deliveries, &[]).await;
        self.assert_like_template(
            "hookspec_messages",
            "event, method, payload",
            &format!("id = '{template}'"),
            &Self::tagged("id", "bulk"),
        )
        .await;
        self.assert_like_template(
            "hookspec_deliveries",
            "status, attempts, lease_owner, lease_until, finished_at, \
             CASE WHEN next_attempt_at = created_at THEN 'due at creation' END",
            &format!("message_id = '{template}'"),
            &Self::tagged("message_id", "bulk"),
        )
        .await;
        made
    }

    /// History: `count` messages like `template`, created two days ago, that were delivered:
    /// their deliveries gone and one successful attempt each left, copied from the template's
    /// own attempt (so the template must have been delivered). Their delivery ids come after
    /// every id used so far, and the key sequence moves past them, as if they had been made
    /// and deleted.
    pub async fn history(&self, template: &str, count: u64) {
        let created = hookspec_now_ms() - 2 * 24 * 3600 * 1000;
        let messages = self.numbered(
            "INSERT INTO hookspec_messages (id, event, method, payload, created_at, tenant)",
            &format!(
                "SELECT {}, t.event, t.method, t.payload, $2 + n.i, t.tenant",
                self.message_id("hist")
            ),
            &format!("hookspec_messages t WHERE t.id = '{template}'"),
        );
        assert_eq!(self.exec(&messages, &[count as i64, created]).await, count);
        self.assert_ids_before("hist", template).await;
        let past: i64 = self
            .text("SELECT CAST(COALESCE(MAX(id), 0) + 1000 AS TEXT) FROM hookspec_deliveries")
            .await
            .parse()
            .unwrap();
        let attempts = self.numbered(
            "INSERT INTO hookspec_attempts (delivery_id, message_id, subscription_id, \
               attempted_at, status_code, error, latency_ms, response_excerpt)",
            &format!(
                "SELECT $3 + n.i, {}, t.subscription_id, $2 + n.i + 5, t.status_code, t.error, \
                   t.latency_ms, t.response_excerpt",
                self.message_id("hist")
            ),
            &format!("hookspec_attempts t WHERE t.message_id = '{template}'"),
        );
        assert_eq!(
            self.exec(&attempts, &[count as i64, created, past]).await,
            count
        );
        let sequence = match self.backend {
            Backend::Sqlite => {
                // (The template's delivery made its row.)
                "UPDATE sqlite_sequence SET seq = $1 WHERE name = 'hookspec_deliveries'"
            }
            Backend::Postgres => {
                "SELECT setval(pg_get_serial_sequence('hookspec_deliveries', 'id'), $1)"
            }
        };
        self.exec(sequence, &[past + count as i64]).await;
        self.assert_like_template(
            "hookspec_attempts",
            "subscription_id, status_code, error, latency_ms, response_excerpt",
            &format!("message_id = '{template}'"),
            &Self::tagged("message_id", "hist"),
        )
        .await;
    }

    /// Pending deliveries.
    pub async fn pending(&self) -> u64 {
        let sql = "SELECT CAST(COUNT(*) AS TEXT) FROM hookspec_deliveries WHERE status = 'pending'";
        self.text(sql).await.parse().unwrap()
    }

    /// Delivers what is pending now (the template message) and waits for it.
    pub async fn deliver_pending(&self, receiver: &Receiver, expected: usize) {
        let dispatcher = self
            .outbox
            .dispatcher(DispatchConfig::default())
            .unwrap()
            .spawn();
        receiver.wait_for(expected, Duration::from_secs(30)).await;
        dispatcher.shutdown().await;
    }

    /// Statistics, as a database that has been running has them (PostgreSQL's autovacuum
    /// would have analyzed the tables; SQLite has none unless the application runs ANALYZE,
    /// which the outbox does not), and the bulk rows written out of the log, as a running
    /// database's old rows are: a fill of millions of rows leaves gigabytes of log that a
    /// checkpoint would otherwise write out during the measurement (right after a fill of
    /// 10,000,000, PostgreSQL's p99 alone was 58 ms, against 2-4 ms at 200,000).
    pub async fn settle(&self) {
        match &self.db {
            Db::Postgres(p) => {
                sqlx::raw_sql("VACUUM ANALYZE").execute(p).await.unwrap();
                // A superuser's (or pg_checkpoint's) right: without it, measured as it is.
                if let Err(e) = sqlx::raw_sql("CHECKPOINT").execute(p).await {
                    eprintln!("no CHECKPOINT after the fill ({e}): the WAL is written out later");
                }
            }
            Db::Sqlite(p) => {
                sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(p)
                    .await
                    .unwrap();
            }
        }
    }

    /// Checks that the ids of the bulk messages tagged `tag` sort before `later`, a message
    /// the API published after their creation times, as the outbox's own ids would.
    async fn assert_ids_before(&self, tag: &str, later: &str) {
        let sql = format!(
            "SELECT MAX(id) FROM hookspec_messages WHERE {}",
            Self::tagged("id", tag)
        );
        let last = self.text(&sql).await;
        assert!(
            last.as_str() < later && last.len() == later.len(),
            "bulk id {last} should sort before the later {later}, as the outbox's ids do"
        );
    }

    /// Checks that the bulk rows (`bulk`, a condition) have the template's values
    /// (`template`, a condition) in `columns`: one distinct value over both.
    async fn assert_like_template(&self, table: &str, columns: &str, template: &str, bulk: &str) {
        let signature = columns
            .split(", ")
            .map(|c| format!("COALESCE(CAST({c} AS TEXT), 'NULL')"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let sql = format!(
            "SELECT CAST(COUNT(DISTINCT sig) AS TEXT) FROM (\
               SELECT {signature} AS sig FROM {table} WHERE {template} \
               UNION ALL SELECT * FROM (SELECT {signature} AS sig FROM {table} WHERE {bulk} LIMIT 1000) b) both_"
        );
        assert_eq!(
            self.text(&sql).await,
            "1",
            "bulk rows of {table} differ from the template in {columns}"
        );
    }
}

/// Milliseconds since the epoch, the outbox's clock.
pub fn hookspec_now_ms() -> i64 {
    crate::receiver::now_us() as i64 / 1000
}

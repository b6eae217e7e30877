//! What the delivery harnesses share: a fresh outbox per measurement and the HTTP ceiling
//! they are compared against.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hookspec::delivery::{Outbox, SsrfPolicy};
use hookspec::signing::{Secret, Signer};

/// Microseconds since the epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A fresh outbox for one measurement (allowed to deliver to loopback), and what to delete
/// afterwards.
pub struct Scratch {
    /// The outbox.
    pub outbox: Outbox,
    sqlite_file: Option<std::path::PathBuf>,
    postgres_database: Option<(String, String)>,
}

impl Scratch {
    /// A new SQLite file (`backend` "sqlite"), or a new database on the PostgreSQL server at
    /// `postgres`.
    pub async fn open(backend: &str, postgres: Option<&str>) -> Scratch {
        let mut scratch = if backend == "sqlite" {
            let path =
                std::env::temp_dir().join(format!("hookspec-bench-{}.db", rand::random::<u64>()));
            Scratch {
                outbox: Outbox::sqlite(&format!("sqlite://{}", path.display()))
                    .await
                    .unwrap(),
                sqlite_file: Some(path),
                postgres_database: None,
            }
        } else {
            let server = postgres.expect("--postgres URL");
            let name = format!("hookspec_bench_{}", rand::random::<u32>());
            let admin = sqlx::PgPool::connect(server).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
            let mut url = reqwest::Url::parse(server).unwrap();
            url.set_path(&name);
            Scratch {
                outbox: Outbox::postgres(url.as_str()).await.unwrap(),
                sqlite_file: None,
                postgres_database: Some((server.to_owned(), name)),
            }
        };
        scratch.outbox = scratch
            .outbox
            .ssrf_policy(SsrfPolicy::new().allow("127.0.0.1/32").unwrap());
        scratch
    }

    /// Deletes the database, so that repeated runs leave nothing behind (an idle database
    /// full of dead rows still costs the next run its autovacuum).
    pub async fn remove(self) {
        drop(self.outbox);
        if let Some(path) = self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        if let Some((server, name)) = self.postgres_database {
            let admin = sqlx::PgPool::connect(&server).await.unwrap();
            let drop = format!("DROP DATABASE {name} WITH (FORCE)");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&admin).await;
            admin.close().await;
        }
    }
}

/// The ceiling: the dispatcher's client settings posting `events` signed bodies (`body(seq)`)
/// to `url` with `concurrency` in flight, nothing stored; requests per second.
pub async fn ceiling(
    url: &str,
    events: usize,
    concurrency: usize,
    body: impl Fn(usize) -> String + Send + Sync + 'static,
) -> f64 {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let signer = Signer::new(Secret::generate());
    let (next, body) = (Arc::new(AtomicUsize::new(0)), Arc::new(body));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, signer, next, body, url) = (
                client.clone(),
                signer.clone(),
                Arc::clone(&next),
                Arc::clone(&body),
                url.to_owned(),
            );
            tokio::spawn(async move {
                loop {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    if seq >= events {
                        break;
                    }
                    let payload = body(seq);
                    let id = format!("msg_{seq}");
                    let ts = (now_us() / 1_000_000) as i64;
                    let signature = signer.sign(&id, ts, payload.as_bytes());
                    client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("webhook-id", id)
                        .header("webhook-timestamp", ts.to_string())
                        .header("webhook-signature", signature)
                        .body(payload)
                        .send()
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// The backends to measure: SQLite, and PostgreSQL when a server is given (`--postgres` or
/// `HOOKSPEC_TEST_DATABASE_URL`); `only` keeps one of them. Exits with a message when that
/// leaves none, rather than measuring nothing.
pub fn backends(postgres: Option<&str>, only: Option<&str>) -> Vec<&'static str> {
    let mut backends = vec!["sqlite"];
    if postgres.is_some() {
        backends.push("postgres");
    }
    backends.retain(|b| only.is_none_or(|only| only == *b));
    if backends.is_empty() {
        eprintln!(
            "nothing to measure: --only {} needs {}",
            only.unwrap_or_default(),
            match only {
                Some("postgres") => "a server (--postgres URL or HOOKSPEC_TEST_DATABASE_URL)",
                _ => "one of sqlite, postgres",
            }
        );
        std::process::exit(2);
    }
    backends
}

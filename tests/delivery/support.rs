//! Test receivers (real axum servers on loopback) and outboxes on every available backend.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use hookspec::delivery::{
    CreatedSubscription, DispatchConfig, Outbox, RetrySchedule, SsrfPolicy, Subscription,
};
use tokio::sync::oneshot;

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// How a receiver answers its `n`th request (from 0): status, extra headers, delay.
pub type Behaviour =
    Arc<dyn Fn(usize) -> (StatusCode, Vec<(&'static str, String)>, Duration) + Send + Sync>;

/// A webhook receiver on an ephemeral loopback port, recording what it gets.
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    _stop: oneshot::Sender<()>,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Receiver {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = Arc::clone(&received);
        let handler = move |method: Method, headers: HeaderMap, body: Bytes| {
            let log = Arc::clone(&log);
            let behaviour = Arc::clone(&behaviour);
            async move {
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(Received {
                        method,
                        headers,
                        body,
                        at: Instant::now(),
                    });
                    log.len() - 1
                };
                let (status, headers, delay) = behaviour(n);
                tokio::time::sleep(delay).await;
                let mut map = HeaderMap::new();
                for (k, v) in headers {
                    map.insert(k, v.parse().unwrap());
                }
                (status, map, "receiver says hi").into_response()
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let app = axum::Router::new().fallback(handler);
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Receiver {
            url,
            received,
            _stop: stop,
        }
    }

    /// Answers 500 to its first `failures` requests, then 200.
    pub async fn failing_first(failures: usize) -> Receiver {
        Self::start(Arc::new(move |n| {
            let status = if n < failures {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            };
            (status, Vec::new(), Duration::ZERO)
        }))
        .await
    }

    /// Answers every request with `status`.
    pub async fn answering(status: StatusCode) -> Receiver {
        Self::start(Arc::new(move |_| (status, Vec::new(), Duration::ZERO))).await
    }

    /// What arrived so far; every body is checked against the document's schemas.
    pub fn received(&self) -> Vec<Received> {
        let received = self.received.lock().unwrap().clone();
        for request in &received {
            assert_documented(&request.body);
        }
        received
    }

    /// Waits until at least `n` requests arrived (or panics after `limit`).
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} requests, got {} after {limit:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A fast test configuration: short schedule, short timeout, quick polling.
pub fn fast_config() -> DispatchConfig {
    DispatchConfig {
        schedule: RetrySchedule::new([
            Duration::ZERO,
            Duration::from_millis(50),
            Duration::from_millis(100),
        ])
        .unwrap()
        .jitter(0.0),
        timeout: Duration::from_millis(800),
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(5),
        ..DispatchConfig::default()
    }
}

pub fn loopback() -> SsrfPolicy {
    SsrfPolicy::new().allow("127.0.0.1/32").unwrap()
}

/// The tenant the delivery tests publish for and subscribe as, unless they say otherwise.
pub const TENANT: &str = "acme";

/// An outbox on a backend, named for assertion messages.
pub struct Backend {
    pub name: &'static str,
    pub outbox: Outbox,
    pub url: String,
}

impl Backend {
    /// Subscribes `receiver` to every event.
    pub async fn subscribe(&self, receiver: &Receiver) -> CreatedSubscription {
        self.outbox
            .tenant(TENANT)
            .subscribe(Subscription::new(&receiver.url))
            .await
            .unwrap()
    }

    /// Publishes `n` `entity_changed` events, tasks 0 to n - 1 created, one at a time.
    /// Returns their message ids in order.
    pub async fn publish_tasks(&self, n: usize) -> Vec<String> {
        publish_tasks(&self.outbox, n).await
    }

    /// Publishes one `entity_changed` event: task 1 created. Returns the message id.
    pub async fn publish_task(&self) -> String {
        self.outbox
            .tenant(TENANT)
            .publish::<crate::entity_changed>(&crate::event("Task", "create", "1", ""))
            .await
            .unwrap()
    }
}

/// Publishes `n` `entity_changed` events for [`TENANT`] on `outbox`, tasks 0 to n - 1
/// created, one at a time. Returns their message ids in order.
pub async fn publish_tasks(outbox: &Outbox, n: usize) -> Vec<String> {
    let tenant = outbox.tenant(TENANT);
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let task = crate::event("Task", "create", &i.to_string(), "");
        ids.push(
            tenant
                .publish::<crate::entity_changed>(&task)
                .await
                .unwrap(),
        );
    }
    ids
}

/// A fresh SQLite outbox, and a fresh PostgreSQL one when PostgreSQL is reachable (see
/// `hookspec_tests::services`).
pub async fn backends() -> Vec<Backend> {
    let mut backends = vec![sqlite().await];
    if let Some(pg) = postgres().await {
        backends.push(pg);
    }
    backends
}

pub async fn sqlite() -> Backend {
    let url = new_sqlite_url();
    let outbox = Outbox::sqlite(&url).await.unwrap().ssrf_policy(loopback());
    Backend {
        name: "sqlite",
        outbox,
        url,
    }
}

/// The URL of a new SQLite database file, not created yet.
pub fn new_sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("hookspec-test-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}", dir.join("outbox.db").display())
}

/// A new outbox on the test PostgreSQL server, if one is reachable.
pub async fn postgres() -> Option<Backend> {
    let url = new_postgres_database().await?;
    let outbox = Outbox::postgres(&url)
        .await
        .unwrap()
        .ssrf_policy(loopback());
    Some(Backend {
        name: "postgres",
        outbox,
        url,
    })
}

/// The URL of a new, empty database on the test PostgreSQL server, if one is reachable.
pub async fn new_postgres_database() -> Option<String> {
    let server = hookspec_tests::services::postgres_server()?;
    let name = format!("hookspec_test_{}", rand::random::<u32>());
    let admin = sqlx::PgPool::connect(server)
        .await
        .expect("connect to the test PostgreSQL server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let mut url = reqwest::Url::parse(server).unwrap();
    url.set_path(&name);
    Some(url.to_string())
}

impl Backend {
    /// How many rows `table` holds, read directly from the database.
    pub async fn rows(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        if self.name == "sqlite" {
            let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(&*sql))
                .fetch_one(&pool)
                .await
                .unwrap()
        } else {
            let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(&*sql))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    }
}

/// A dispatcher's counter once it reaches `expected` (or what it holds after a second): the
/// counters move just after the outcomes are committed, so a test that saw the database
/// settle may read them a moment early.
pub async fn counted(counter: &std::sync::atomic::AtomicU64, expected: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let now = counter.load(std::sync::atomic::Ordering::Relaxed);
        if now >= expected || Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until no delivery is pending (or panics after `limit`).
pub async fn drained(outbox: &Outbox, limit: Duration) -> (i64, i64, i64) {
    let deadline = Instant::now() + limit;
    loop {
        let counts = outbox.delivery_counts().await.unwrap();
        if counts.pending == 0 {
            return (counts.pending, counts.succeeded, counts.failed);
        }
        assert!(
            Instant::now() < deadline,
            "deliveries still pending after {limit:?}: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every delivered body must validate against the schema the document gives its webhook.
fn assert_documented(body: &[u8]) {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| {
        hookspec::OpenApiBuilder::new("Delivered", "1")
            .webhook(hookspec::WebhookGateway::new(super::entity_changed))
            .webhook(hookspec::WebhookGateway::new(super::other_event))
            // The management API's test event, which tenants.rs sends.
            .webhook(hookspec::WebhookGateway::new(
                hookspec::management::webhook_test,
            ))
            .build()
            .unwrap()
    });
    let value: serde_json::Value = serde_json::from_slice(body).expect("a JSON body");
    let documented = ["EntityEvent", "Status", "TestEvent"]
        .iter()
        .any(|schema| hookspec_tests::schema_errors(doc, schema, &value).is_empty());
    assert!(
        documented,
        "a delivered body matches no documented payload: {value}"
    );
}

/// A receiver that speaks raw TCP, to answer in ways an HTTP server library never would: for
/// each connection it reads the request (its head, then a body of `Content-Length`) and hands
/// the socket to `answer`, which writes what it likes, stalls or resets.
pub struct RawReceiver {
    pub url: String,
    /// Requests read so far.
    pub requests: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl RawReceiver {
    pub async fn start<F, Fut>(answer: F) -> RawReceiver
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        Self::serve(true, answer).await
    }

    /// Writes `bytes` on every connection as soon as it opens, without reading anything (a
    /// plain HTTP answer to a TLS handshake, say), and closes it. Counts connections.
    pub async fn blurting(bytes: &'static [u8]) -> RawReceiver {
        Self::serve(false, move |mut socket| async move {
            use tokio::io::AsyncWriteExt;
            let _ = socket.write_all(bytes).await;
            let _ = socket.shutdown().await;
        })
        .await
    }

    async fn serve<F, Fut>(read_first: bool, answer: F) -> RawReceiver
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(0));
        let count = Arc::clone(&requests);
        let answer = Arc::new(answer);
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (answer, count) = (Arc::clone(&answer), Arc::clone(&count));
                tokio::spawn(async move {
                    if !read_first || read_request(&mut socket).await {
                        *count.lock().unwrap() += 1;
                        answer(socket).await;
                    }
                });
            }
        });
        RawReceiver {
            url,
            requests,
            task,
        }
    }

    /// Answers every request with `bytes`, then closes the connection.
    pub async fn writing(bytes: Vec<u8>) -> RawReceiver {
        let bytes = Arc::new(bytes);
        Self::start(move |mut socket| {
            let bytes = Arc::clone(&bytes);
            async move {
                use tokio::io::AsyncWriteExt;
                let _ = socket.write_all(&bytes).await;
                let _ = socket.shutdown().await;
            }
        })
        .await
    }

    /// Answers every request with `bytes`, then keeps the connection open without a word more.
    pub async fn stalling_after(bytes: Vec<u8>) -> RawReceiver {
        let bytes = Arc::new(bytes);
        Self::start(move |mut socket| {
            let bytes = Arc::clone(&bytes);
            async move {
                use tokio::io::AsyncWriteExt;
                let _ = socket.write_all(&bytes).await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        })
        .await
    }

    pub fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }
}

impl Drop for RawReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one HTTP/1.1 request off `socket`; false if the client went away first.
async fn read_request(socket: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut read = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => read.extend_from_slice(&buffer[..n]),
        }
    };
    let head = String::from_utf8_lossy(&read[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while read.len() < head_end + length {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => read.extend_from_slice(&buffer[..n]),
        }
    }
    true
}

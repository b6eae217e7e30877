//! The Prometheus metrics: after a known run, scraped over HTTP and parsed, the figures equal
//! what happened (and what the database holds), on SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use hookspec::delivery::Subscription;
use hookspec::metrics::{DeliveryMetrics, CONTENT_TYPE};

use super::support::{backends, fast_config, Backend, Receiver};
use super::{entity_changed, other_event, Status, WAIT};
use crate::support::TENANT;

/// One sample of a scrape: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed scrape of the OpenMetrics text exposition.
#[derive(Debug)]
struct Scrape(Vec<Sample>);

impl Scrape {
    /// Parses `text`: `# ` lines are metadata, the rest `name{k="v",...} value`.
    fn parse(text: &str) -> Scrape {
        assert!(
            text.ends_with("# EOF\n"),
            "an OpenMetrics exposition ends with # EOF"
        );
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect(line);
                let (name, labels) = match series.split_once('{') {
                    Some((name, rest)) => (name, rest.strip_suffix('}').expect(line)),
                    None => (series, ""),
                };
                let labels = labels
                    .split(',')
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (key, value) = pair.split_once('=').expect(line);
                        (key.to_owned(), value.trim_matches('"').to_owned())
                    })
                    .collect();
                Sample {
                    name: name.to_owned(),
                    labels,
                    value: value.parse().expect(line),
                }
            })
            .collect();
        Scrape(samples)
    }

    /// The value of the series `name` with exactly these labels, if it is there.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0
            .iter()
            .find(|s| s.name == name && s.labels == wanted)
            .map(|s| s.value)
    }

    /// [`get`](Self::get), 0 when absent (a family shows only the labels it has seen).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }

    /// Every series of `name` with a non-zero value, as label maps.
    fn nonzero(&self, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        self.0
            .iter()
            .filter(|s| s.name == name && s.value != 0.0)
            .map(|s| (s.labels.clone(), s.value))
            .collect()
    }
}

/// Serves `metrics.router()` on a loopback port; returns its `/metrics` URL.
async fn serve(metrics: &DeliveryMetrics) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let router: axum::Router = metrics.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

/// Scrapes `url` as Prometheus would.
async fn scrape(url: &str) -> Scrape {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], CONTENT_TYPE);
    Scrape::parse(&response.text().await.unwrap())
}

/// Scrapes until `done` holds of a scrape (or panics after [`WAIT`]): counters move just
/// after outcomes are committed.
async fn scrape_until(url: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + WAIT;
    loop {
        let scraped = scrape(url).await;
        if done(&scraped) {
            return scraped;
        }
        assert!(Instant::now() < deadline, "never settled: {scraped:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const ATTEMPTS: &str = "hookspec_delivery_attempts_total";

fn attempts(scraped: &Scrape, event: &str, outcome: &str) -> f64 {
    scraped.value(ATTEMPTS, &[("event", event), ("outcome", outcome)])
}

/// Observations of the attempt duration histogram with this status class.
fn timed(scraped: &Scrape, class: &str) -> f64 {
    let labels = [("status_class", class)];
    scraped.value("hookspec_attempt_duration_seconds_count", &labels)
}

#[tokio::test]
async fn scraped_figures_equal_what_happened() {
    for backend in backends().await {
        known_run(&backend).await;
    }
}

/// Three `entity.changed` events to a healthy subscription, to one whose receiver fails its
/// first two requests, and to one disabled by hand before any attempt; one `other.event` to
/// a subscription whose receiver answers 410 and to one whose receiver always answers 500
/// (three attempts on the test schedule, the last given up).
async fn known_run(backend: &Backend) {
    let name = backend.name;
    let tenant = backend.outbox.tenant(TENANT);
    let subscribe = |url: &str, event: &str| {
        tenant.subscribe(Subscription::new(url).events([event.to_owned()]))
    };
    let healthy = Receiver::answering(StatusCode::OK).await;
    let flaky = Receiver::failing_first(2).await;
    let gone = Receiver::answering(StatusCode::GONE).await;
    let broken = Receiver::answering(StatusCode::INTERNAL_SERVER_ERROR).await;
    let paused = Receiver::answering(StatusCode::OK).await;
    subscribe(&healthy.url, entity_changed::NAME).await.unwrap();
    subscribe(&flaky.url, entity_changed::NAME).await.unwrap();
    subscribe(&gone.url, other_event::NAME).await.unwrap();
    subscribe(&broken.url, other_event::NAME).await.unwrap();
    let manual = subscribe(&paused.url, entity_changed::NAME).await.unwrap();
    backend.publish_tasks(3).await;
    let status = Status {
        status_id: "s".into(),
    };
    tenant.publish::<other_event>(&status).await.unwrap();
    backend.outbox.disable(&manual.id).await.unwrap();

    let metrics = DeliveryMetrics::new(&backend.outbox);
    let url = serve(&metrics).await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    // Before any dispatcher: everything is queued, nothing attempted.
    let before = scrape(&url).await;
    let pending = |scraped: &Scrape, subscription| {
        scraped.value(
            "hookspec_pending_deliveries",
            &[("subscription", subscription)],
        )
    };
    assert_eq!(pending(&before, "enabled"), 8.0, "{name}: 3 + 3 + 1 + 1");
    assert_eq!(pending(&before, "disabled"), 3.0, "{name}");
    let age = before.value("hookspec_oldest_pending_age_seconds", &[]);
    assert!((0.03..5.0).contains(&age), "{name}: {age}");
    assert_eq!(before.nonzero(ATTEMPTS), [], "{name}");
    let disabled = |scraped: &Scrape, reason| {
        let labels = [("reason", reason)];
        scraped.get("hookspec_disabled_subscriptions", &labels)
    };
    assert_eq!(disabled(&before, "manual"), Some(1.0), "{name}");
    assert_eq!(disabled(&before, "gone"), Some(0.0), "{name}: shown at 0");

    let dispatcher = backend
        .outbox
        .dispatcher(fast_config())
        .unwrap()
        .with_metrics(&metrics)
        .spawn();
    let after = scrape_until(&url, |s| {
        pending(s, "enabled") == 0.0
            && s.nonzero(ATTEMPTS).iter().map(|(_, v)| v).sum::<f64>() >= 12.0
    })
    .await;
    let changed = entity_changed::NAME;
    assert_eq!(attempts(&after, changed, "delivered"), 6.0, "{name}");
    assert_eq!(attempts(&after, changed, "retrying"), 2.0, "{name}");
    assert_eq!(
        attempts(&after, other_event::NAME, "retrying"),
        2.0,
        "{name}"
    );
    assert_eq!(
        attempts(&after, other_event::NAME, "dead"),
        2.0,
        "{name}: 410, last try"
    );
    assert_eq!(after.nonzero(ATTEMPTS).len(), 4, "{name}: {after:#?}");
    assert_eq!(timed(&after, "2xx"), 6.0, "{name}");
    assert_eq!(timed(&after, "5xx"), 5.0, "{name}");
    assert_eq!(timed(&after, "4xx"), 1.0, "{name}");
    assert_eq!(timed(&after, "error"), 0.0, "{name}");
    // Every attempt counted is one the database recorded, and the other way round.
    assert_eq!(backend.rows("hookspec_attempts").await, 12, "{name}");
    let received = [&healthy, &flaky, &gone, &broken].map(|r| r.received().len());
    assert_eq!(received, [3, 5, 1, 3], "{name}");
    assert_eq!(paused.received().len(), 0, "{name}");
    // Each observation falls in the `+Inf` bucket, and the sum is their total time.
    let inf = [("status_class", "2xx"), ("le", "+Inf")];
    assert_eq!(
        after.value("hookspec_attempt_duration_seconds_bucket", &inf),
        6.0
    );
    let recorded_ms: i64 = attempt_latencies(backend).await;
    let sum: f64 = ["2xx", "4xx", "5xx"]
        .iter()
        .map(|class| {
            after.value(
                "hookspec_attempt_duration_seconds_sum",
                &[("status_class", class)],
            )
        })
        .sum();
    assert!(
        (sum - recorded_ms as f64 / 1000.0).abs() < 1e-6,
        "{name}: {sum} vs {recorded_ms} ms"
    );
    assert_eq!(
        after.value("hookspec_lease_losses_total", &[]),
        0.0,
        "{name}"
    );
    assert_eq!(
        pending(&after, "disabled"),
        3.0,
        "{name}: waiting for their subscription"
    );
    assert_eq!(
        after.value("hookspec_oldest_pending_age_seconds", &[]),
        0.0,
        "{name}"
    );
    assert_eq!(disabled(&after, "gone"), Some(1.0), "{name}: after the 410");
    assert_eq!(disabled(&after, "manual"), Some(1.0), "{name}");
    assert_eq!(disabled(&after, "failing"), Some(0.0), "{name}");

    // Enabled again, the paused subscription's deliveries go, and the gauges follow.
    backend.outbox.enable(&manual.id).await.unwrap();
    let resumed = scrape_until(&url, |s| {
        attempts(s, changed, "delivered") >= 9.0 && pending(s, "disabled") == 0.0
    })
    .await;
    assert_eq!(attempts(&resumed, changed, "delivered"), 9.0, "{name}");
    assert_eq!(disabled(&resumed, "manual"), Some(0.0), "{name}");
    assert_eq!(paused.received().len(), 3, "{name}");
    dispatcher.shutdown().await;
}

/// The total latency of every recorded attempt, in ms.
async fn attempt_latencies(backend: &Backend) -> i64 {
    let sql = "SELECT CAST(COALESCE(SUM(latency_ms), 0) AS BIGINT) FROM hookspec_attempts";
    if backend.name == "sqlite" {
        let pool = sqlx::SqlitePool::connect(&backend.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&backend.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    }
}

/// An attempt whose lease another claim took before it was recorded counts as a lease
/// loss, not as an attempt (the database did not record it).
#[tokio::test]
async fn a_lost_lease_is_counted_and_its_attempt_is_not() {
    for backend in backends().await {
        let name = backend.name;
        let slow = Receiver::start(Arc::new(|_| {
            (StatusCode::OK, Vec::new(), Duration::from_millis(400))
        }))
        .await;
        backend.subscribe(&slow).await;
        let metrics = DeliveryMetrics::new(&backend.outbox);
        let url = serve(&metrics).await;
        let dispatcher = backend
            .outbox
            .dispatcher(fast_config())
            .unwrap()
            .with_metrics(&metrics)
            .spawn();
        backend.publish_task().await;
        slow.wait_for(1, WAIT).await;
        // What another dispatcher does once this one's lease has run out.
        let steal = "UPDATE hookspec_deliveries SET lease_owner = 'another dispatcher'";
        if name == "sqlite" {
            let pool = sqlx::SqlitePool::connect(&backend.url).await.unwrap();
            sqlx::query(steal).execute(&pool).await.unwrap();
        } else {
            let pool = sqlx::PgPool::connect(&backend.url).await.unwrap();
            sqlx::query(steal).execute(&pool).await.unwrap();
        }
        let scraped =
            scrape_until(&url, |s| s.value("hookspec_lease_losses_total", &[]) >= 1.0).await;
        assert_eq!(
            scraped.value("hookspec_lease_losses_total", &[]),
            1.0,
            "{name}"
        );
        assert_eq!(scraped.nonzero(ATTEMPTS), [], "{name}");
        assert_eq!(backend.rows("hookspec_attempts").await, 0, "{name}");
        assert_eq!(
            scraped.value(
                "hookspec_pending_deliveries",
                &[("subscription", "enabled")]
            ),
            1.0,
            "{name}: still to be delivered"
        );
        dispatcher.shutdown().await;
    }
}

/// A scrape the database cannot answer is a 503 with a JSON error, not a panic or a page of
/// zeros.
#[tokio::test]
async fn a_scrape_without_its_database_is_a_503_with_a_json_error() {
    let backend = super::support::sqlite().await;
    let metrics = DeliveryMetrics::new(&backend.outbox);
    let url = serve(&metrics).await;
    assert_eq!(scrape(&url).await.value(ATTEMPTS, &[]), 0.0);
    // A table gone from under it, as when the database is not the outbox it was.
    let pool = sqlx::SqlitePool::connect(&backend.url).await.unwrap();
    sqlx::query("DROP TABLE hookspec_deliveries")
        .execute(&pool)
        .await
        .unwrap();
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "metrics_unavailable", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

//! A delivery is never attempted twice at once: its lease outlives the longest wait in memory
//! (half the lease) plus the attempt, so neither another dispatcher nor this one claims it
//! again mid-attempt.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use hookspec::delivery::{DispatchConfig, Subscription, RECORDING_MARGIN};

use super::support::{backends, drained, fast_config};
use crate::support::TENANT;

/// Each request's `webhook-id`, start and end.
type Log = Arc<Mutex<Vec<(String, Instant, Instant)>>>;

/// A receiver that answers `200` after `delay`, logging when each request started and ended.
async fn slow_receiver(delay: Duration) -> (String, Log) {
    let log: Log = Arc::default();
    let kept = Arc::clone(&log);
    let handler = move |headers: HeaderMap| {
        let log = Arc::clone(&kept);
        async move {
            let start = Instant::now();
            tokio::time::sleep(delay).await;
            let id = headers
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            log.lock().unwrap().push((id, start, Instant::now()));
            StatusCode::OK
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(handler);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

#[tokio::test]
async fn no_delivery_is_attempted_twice_at_once() {
    const MESSAGES: usize = 12;
    let timeout = Duration::from_millis(600);
    let config = DispatchConfig {
        timeout,
        // The shortest lease allowed; deliveries wait in memory for up to half of it.
        lease: 2 * (timeout + RECORDING_MARGIN),
        per_subscription: 1,
        ..fast_config()
    };
    for backend in backends().await {
        let name = backend.name;
        let outbox = &backend.outbox;
        let (url, log) = slow_receiver(Duration::from_millis(500)).await;
        outbox
            .tenant(TENANT)
            .subscribe(Subscription::new(&url))
            .await
            .unwrap();
        let published: HashSet<String> =
            backend.publish_tasks(MESSAGES).await.into_iter().collect();
        // Two dispatchers on the same outbox, each sending one at a time to the receiver
        // and holding the rest of its claims in memory.
        let first = outbox.dispatcher(config.clone()).unwrap().spawn();
        let second = outbox.dispatcher(config.clone()).unwrap().spawn();
        drained(outbox, Duration::from_secs(60)).await;
        first.shutdown().await;
        second.shutdown().await;
        let log = log.lock().unwrap().clone();
        let mut by_id: HashMap<&str, Vec<(Instant, Instant)>> = HashMap::new();
        for (id, start, end) in &log {
            by_id.entry(id).or_default().push((*start, *end));
        }
        let arrived: HashSet<String> = by_id.keys().map(|id| id.to_string()).collect();
        assert_eq!(arrived, published, "{name}: every message arrives");
        for (id, mut spans) in by_id {
            spans.sort();
            for pair in spans.windows(2) {
                assert!(
                    pair[1].0 >= pair[0].1,
                    "{name}: {id} was attempted twice at once ({} requests)",
                    spans.len()
                );
            }
        }
    }
}

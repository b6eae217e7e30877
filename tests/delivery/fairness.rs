//! One tenant's stalled receivers do not hold up another tenant's deliveries, and events reach
//! the tenants they are meant for.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use hookspec::delivery::{DispatchConfig, RetrySchedule, Subscription};

use super::support::{backends, Backend, Receiver};
use super::{entity_changed, event, WAIT};

/// How long A's receivers may take before an attempt is abandoned. B's deliveries must
/// arrive well within it, or they waited for A's slots.
const TIMEOUT: Duration = Duration::from_millis(1500);
const CONCURRENCY: usize = 16;

/// The dispatcher of the fairness test: A alone could keep 20 × 4 = 80 attempts in flight,
/// five times the dispatcher's 16 slots. `per_tenant` is left at its default (a quarter).
fn config() -> DispatchConfig {
    DispatchConfig {
        concurrency: CONCURRENCY,
        per_subscription: 4,
        timeout: TIMEOUT,
        // The shortest lease `validate` accepts for this timeout, rounded up.
        lease: Duration::from_secs(6),
        // A's timed-out deliveries come back quickly, so A keeps pushing for the whole test.
        schedule: RetrySchedule::new([Duration::ZERO, Duration::from_millis(50)])
            .unwrap()
            .jitter(0.0),
        poll_interval: Duration::from_millis(20),
        ..DispatchConfig::default()
    }
}

/// B's publish-to-receipt latencies, sorted, while tenant A's 20 receivers all stall past
/// the timeout; also checks that A's attempts were recorded as timeouts.
async fn latencies_of_b_beside_a_stalled(
    backend: &Backend,
    config: DispatchConfig,
) -> Vec<Duration> {
    let outbox = &backend.outbox;
    let (a, b) = (outbox.tenant("tenant-a"), outbox.tenant("tenant-b"));
    // One server for all of A's subscriptions: each sleeps far past the timeout.
    let stalled = Receiver::start(Arc::new(|_| {
        (StatusCode::OK, Vec::new(), Duration::from_secs(30))
    }))
    .await;
    for i in 0..20 {
        a.subscribe(Subscription::new(format!("{}/a{i}", stalled.url)))
            .await
            .unwrap();
    }
    let healthy = Receiver::answering(StatusCode::OK).await;
    b.subscribe(Subscription::new(&healthy.url)).await.unwrap();

    let dispatcher = outbox.dispatcher(config).unwrap().spawn();
    // Five events per subscription of A: 100 deliveries, enough to fill every lane of A and
    // to keep A's share busy for longer than B publishes.
    let mut a_messages = Vec::new();
    for i in 0..5 {
        let payload = event("Task", "update", &i.to_string(), "");
        a_messages.push(a.publish::<entity_changed>(&payload).await.unwrap());
    }
    // A holds its slots before B starts.
    stalled.wait_for(4, WAIT).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut published = HashMap::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        // Measured from before the publish, so its own time counts too.
        let at = Instant::now();
        let payload = event("Task", "create", "b", "");
        let id = b.publish::<entity_changed>(&payload).await.unwrap();
        published.insert(id, at);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let received = healthy.wait_for(published.len(), WAIT * 3).await;
    let mut latencies: Vec<Duration> = received
        .iter()
        .map(|r| r.at - published[r.header("webhook-id")])
        .collect();
    latencies.sort();
    dispatcher.shutdown().await;

    // A was really stalled: its attempts ran into the timeout, none got an answer.
    let mut timed_out = 0;
    for message in &a_messages {
        for attempt in outbox.attempts(message).await.unwrap() {
            assert_eq!(attempt.status_code, None, "{attempt:?}");
            let error = attempt.error.unwrap_or_default();
            assert!(error.starts_with("timed out after 1.5s"), "{error}");
            timed_out += 1;
        }
    }
    assert!(
        timed_out >= 4,
        "{}: only {timed_out} attempts of A",
        backend.name
    );
    latencies
}

#[tokio::test]
async fn a_tenant_whose_receivers_stall_does_not_hold_up_another() {
    for backend in backends().await {
        let latencies = latencies_of_b_beside_a_stalled(&backend, config()).await;
        let (median, max) = (
            latencies[latencies.len() / 2],
            latencies[latencies.len() - 1],
        );
        eprintln!(
            "{}: {} deliveries of B arrived in p50 {} ms / max {} ms while A's time out after {TIMEOUT:?}",
            backend.name,
            latencies.len(),
            median.as_millis(),
            max.as_millis()
        );
        assert!(
            max < Duration::from_millis(500),
            "{}: B waited behind A: p50 {median:?}, max {max:?}",
            backend.name
        );
    }
}

#[tokio::test]
async fn a_broadcast_reaches_every_tenant_and_a_tenants_event_only_its_own() {
    for backend in backends().await {
        let outbox = &backend.outbox;
        let mut receivers = Vec::new();
        for name in ["one", "two", "three"] {
            let receiver = Receiver::answering(StatusCode::OK).await;
            outbox
                .tenant(name)
                .subscribe(Subscription::new(&receiver.url))
                .await
                .unwrap();
            receivers.push(receiver);
        }
        let dispatcher = outbox
            .dispatcher(super::support::fast_config())
            .unwrap()
            .spawn();
        let everyone = outbox
            .broadcast::<entity_changed>(&event("Notice", "maintenance", "1", ""))
            .await
            .unwrap();
        let own = outbox
            .tenant("two")
            .publish::<entity_changed>(&event("Task", "create", "2", ""))
            .await
            .unwrap();
        super::support::drained(outbox, WAIT).await;
        dispatcher.shutdown().await;
        let got: Vec<Vec<String>> = receivers
            .iter()
            .map(|r| {
                let mut ids: Vec<String> = r
                    .received()
                    .iter()
                    .map(|q| q.header("webhook-id").to_owned())
                    .collect();
                ids.sort();
                ids
            })
            .collect();
        let mut two = vec![everyone.clone(), own];
        two.sort();
        assert_eq!(
            got,
            [vec![everyone.clone()], two, vec![everyone]],
            "{}",
            backend.name
        );
    }
}

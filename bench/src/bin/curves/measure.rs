//! One point of each curve, on a fresh database.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hookspec::delivery::DispatchConfig;
use hookspec_bench::quantile;

use crate::fixture::{open, Backend};
use crate::receiver::{publish_at_rate, receiver};
use crate::{tick, Tick, TENANT};

const CONCURRENCY: usize = 32;

/// The dispatcher of delivery_load: 32 attempts in flight, all of them to one subscription
/// if need be; `per_tenant` as given (`None`: the default quarter, as a deployment of many
/// tenants runs it).
fn config(per_tenant: Option<usize>) -> DispatchConfig {
    DispatchConfig {
        concurrency: CONCURRENCY,
        per_subscription: CONCURRENCY,
        per_tenant,
        ..DispatchConfig::default()
    }
}

/// Curve 1: deliveries per second over the first `drained` of `pending` pending deliveries
/// to one subscription, with `history` delivered messages retained beside them.
pub async fn backlog(backend: Backend, pg: &str, pending: u64, history: u64, drained: u64) -> f64 {
    let receiver = receiver().await;
    let store = open(backend, pg).await;
    store.subscribe(&receiver, &["tick"], None).await;
    if history > 0 {
        let delivered = store.publish().await;
        store.deliver_pending(&receiver, 1).await;
        store.history(&delivered, history).await;
    }
    let template = store.publish().await;
    store.backlog(&template, pending - 1, "t.tenant").await;
    store.settle().await;
    let before = receiver.count();
    let started = Instant::now();
    let dispatcher = store
        .outbox
        .dispatcher(config(Some(CONCURRENCY)))
        .unwrap()
        .spawn();
    receiver
        .wait_for(before + drained as usize, Duration::from_secs(600))
        .await;
    let rate = drained as f64 / started.elapsed().as_secs_f64();
    dispatcher.shutdown().await;
    store.remove().await;
    rate
}

/// Curves 2 and 3: milliseconds per publish (`publishes` of them, after one to warm up) of
/// tenant [`TENANT`], which has `matching` subscriptions to `tick` (filtered with a filter
/// that matches, if `filtered`), beside `others` subscriptions of other events or, with
/// `other_tenants`, of other tenants.
pub async fn publish_cost(
    backend: Backend,
    pg: &str,
    matching: u64,
    filtered: bool,
    others: u64,
    other_tenants: bool,
    publishes: usize,
) -> Vec<f64> {
    let receiver = receiver().await;
    let store = open(backend, pg).await;
    let filter = filtered.then_some(r#"tenant = "bench""#);
    let template = store.subscribe(&receiver, &["tick"], filter).await;
    store
        .copy_subscriptions(&template, matching - 1, "t.owner", "t.events", 0)
        .await;
    let (owner, events) = match other_tenants {
        true => ("'other_' || n.i", "t.events"),
        false => ("t.owner", r#"'["other"]'"#),
    };
    store
        .copy_subscriptions(&template, others, owner, events, matching)
        .await;
    store.settle().await;
    let tenant = store.outbox.tenant(TENANT);
    let mut times = Vec::with_capacity(publishes);
    for i in 0..=publishes {
        let started = Instant::now();
        tenant.publish::<tick>(&Tick::now(0, TENANT)).await.unwrap();
        if i > 0 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let made = store.pending().await;
    assert_eq!(made, (publishes as u64 + 1) * matching, "deliveries made");
    store.remove().await;
    times
}

/// Curve 4, drain: deliveries per second of a backlog of `events` events, each to the 3
/// subscriptions of its tenant, spread over `tenants` tenants (1: all of one tenant, which
/// may then use every slot).
pub async fn tenants_drain(backend: Backend, pg: &str, tenants: u64, events: u64) -> f64 {
    let receiver = receiver().await;
    let store = open(backend, pg).await;
    let template = store.subscribe(&receiver, &["tick"], None).await;
    let (owner, tenant, per_tenant) = match tenants {
        1 => (
            "t.owner".to_owned(),
            "t.tenant".to_owned(),
            Some(CONCURRENCY),
        ),
        _ => (
            "'tenant_' || ((n.i - 1) / 3)".to_owned(),
            format!("'tenant_' || (n.i % {tenants})"),
            None,
        ),
    };
    let copies = if tenants == 1 { 2 } else { 3 * tenants };
    store
        .copy_subscriptions(&template, copies, &owner, "t.events", 0)
        .await;
    let message = store.publish().await;
    let made = store.backlog(&message, events, &tenant).await;
    assert_eq!(made, 3 * events, "deliveries in the backlog");
    store.settle().await;
    let started = Instant::now();
    let dispatcher = store.outbox.dispatcher(config(per_tenant)).unwrap().spawn();
    receiver
        .wait_for(made as usize, Duration::from_secs(600))
        .await;
    let rate = made as f64 / started.elapsed().as_secs_f64();
    dispatcher.shutdown().await;
    store.remove().await;
    rate
}

/// Tenants whose latencies curve 4's fairness compares: each gets enough events for a p99
/// of its own, where the other tenants get about one event each.
pub const OBSERVED: u64 = 10;

/// Curve 4, fairness, for `tenants` tenants with 3 subscriptions each, all receivers
/// healthy: `rate` events a second for `seconds`, every other one to the [`OBSERVED`]
/// tenants in turn and the rest to the other tenants in turn.
pub struct Fairness {
    /// Each observed tenant's p99 latency (ms) over its own deliveries.
    pub observed_p99: Vec<f64>,
    /// Deliveries of the observed tenant that had the fewest.
    pub observed_deliveries: usize,
    /// The p99 (ms) of the other tenants' deliveries taken together.
    pub others_p99: f64,
    /// Tenants that were sent events.
    pub active: usize,
}

/// Curve 4, fairness: see [`Fairness`].
pub async fn tenants_fairness(
    backend: Backend,
    pg: &str,
    tenants: u64,
    rate: u64,
    seconds: u64,
) -> Fairness {
    let receiver = receiver().await;
    let store = open(backend, pg).await;
    let template = store.subscribe(&receiver, &["tick"], None).await;
    store
        .copy_subscriptions(
            &template,
            3 * tenants,
            "'tenant_' || ((n.i - 1) / 3)",
            "t.events",
            0,
        )
        .await;
    store.settle().await;
    let observed = OBSERVED.min(tenants);
    let name = |k: u64| format!("tenant_{k}");
    // Observed and other tenants alternate; past the other tenants, the observed go on.
    let order: Vec<String> = (0..(tenants - observed).max(observed))
        .flat_map(|k| {
            let other = (observed + k < tenants).then(|| name(observed + k));
            std::iter::once(name(k % observed)).chain(other)
        })
        .collect();
    let dispatcher = store.outbox.dispatcher(config(None)).unwrap().spawn();
    publish_at_rate(&store.outbox, &receiver, &order, rate, seconds, 3).await;
    dispatcher.shutdown().await;
    store.remove().await;
    let mut by_tenant = receiver.take_latencies();
    let active = by_tenant.len();
    let mut observed_p99 = Vec::new();
    let mut observed_deliveries = usize::MAX;
    for k in 0..observed {
        let mut latencies = by_tenant.remove(&name(k)).unwrap_or_default();
        observed_deliveries = observed_deliveries.min(latencies.len());
        observed_p99.push(p99(&mut latencies));
    }
    let others_p99 = p99(&mut by_tenant.into_values().flatten().collect::<Vec<_>>());
    Fairness {
        observed_p99,
        observed_deliveries,
        others_p99,
        active,
    }
}

/// Curve 5: latencies (ms) of deliveries at `rate` events a second for `seconds`, first
/// alone, then while `Outbox::purge` deletes `history` delivered messages past retention;
/// how long the purge took, and whether it finished within the second phase (if not, every
/// latency of that phase was taken while it ran).
pub struct PurgeRun {
    pub alone: Vec<f64>,
    pub during: Vec<f64>,
    pub purge_seconds: f64,
    pub finished_in_window: bool,
}

/// Seconds at the rate before curve 5 measures.
const WARM_UP: u64 = 2;

pub async fn purge(backend: Backend, pg: &str, history: u64, rate: u64, seconds: u64) -> PurgeRun {
    let receiver = receiver().await;
    let store = open(backend, pg).await;
    store.subscribe(&receiver, &["tick"], None).await;
    let delivered = store.publish().await;
    store.deliver_pending(&receiver, 1).await;
    store.history(&delivered, history).await;
    store.settle().await;
    let dispatcher = store
        .outbox
        .dispatcher(config(Some(CONCURRENCY)))
        .unwrap()
        .spawn();
    let tenants = [TENANT.to_owned()];
    // Not measured: the pools' first connections, the statements' first plans and the
    // pages the fill left on disk; then the rate alone, as a running outbox has it.
    publish_at_rate(&store.outbox, &receiver, &tenants, rate, WARM_UP, 1).await;
    latencies(&receiver);
    publish_at_rate(&store.outbox, &receiver, &tenants, rate, seconds, 1).await;
    let alone = latencies(&receiver);
    let outbox = store.outbox.clone();
    let purging = tokio::spawn(async move {
        let started = Instant::now();
        let purged = outbox.purge(Duration::from_secs(3600)).await.unwrap();
        (purged, started.elapsed().as_secs_f64())
    });
    publish_at_rate(&store.outbox, &receiver, &tenants, rate, seconds, 1).await;
    let during = latencies(&receiver);
    // Waited for, not cut off: pacing the purge trades its length for the latency beside
    // it, and its length is half of that figure.
    let (purged, took) = purging.await.unwrap();
    assert_eq!(purged, history, "messages purged");
    let finished_in_window = took <= seconds as f64;
    dispatcher.shutdown().await;
    store.remove().await;
    PurgeRun {
        alone,
        during,
        purge_seconds: took,
        finished_in_window,
    }
}

/// Curve 6: latencies (ms) of deliveries at `rate` events a second for `seconds`, and the
/// publish rate reached.
pub async fn at_rate(backend: Backend, pg: &str, rate: u64, seconds: u64) -> (Vec<f64>, f64) {
    let receiver = receiver().await;
    let store = open(backend, pg).await;
    store.subscribe(&receiver, &["tick"], None).await;
    let dispatcher = store
        .outbox
        .dispatcher(config(Some(CONCURRENCY)))
        .unwrap()
        .spawn();
    let tenants = [TENANT.to_owned()];
    let reached = publish_at_rate(&store.outbox, &receiver, &tenants, rate, seconds, 1).await;
    dispatcher.shutdown().await;
    store.remove().await;
    (latencies(&receiver), reached)
}

/// The 99th percentile of `latencies`, not a number if there are none.
fn p99(latencies: &mut [f64]) -> f64 {
    match latencies.is_empty() {
        true => f64::NAN,
        false => quantile(latencies, 0.99),
    }
}

fn latencies(receiver: &crate::receiver::Receiver) -> Vec<f64> {
    let by_tenant: HashMap<String, Vec<f64>> = receiver.take_latencies();
    by_tenant.into_values().flatten().collect()
}

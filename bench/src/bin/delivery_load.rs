//! Delivery load harness: durable deliveries per second on SQLite and PostgreSQL against the
//! ceiling (the same HTTP client posting the same signed bodies, no storage), and
//! publish-to-receipt latency at a fixed rate.
//!
//! ```text
//! cargo run --release -p hookspec-bench --bin delivery_load -- [--events N] [--runs R] [--postgres URL] [--only sqlite|postgres]
//! ```
//! Prints a Markdown table (also used by bench/run.sh for BENCHMARKS.md).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hookspec::delivery::{DispatchConfig, Subscription};
use hookspec::whpost;
use hookspec_bench::harness::{backends, ceiling, now_us, Scratch};
use hookspec_bench::{quantile, summarize};
use serde::Serialize;

/// The benchmark's event: small, like most webhook payloads.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Tick {
    seq: u64,
    published_at_us: u64,
    note: String,
}

/// A tick happened.
#[whpost("tick")]
pub async fn tick(data: Tick) {}

const CONCURRENCY: usize = 32;
const PUBLISHERS: usize = 16;

/// A loopback receiver that counts requests and records each one's latency from the
/// `published_at_us` in its body.
struct Receiver {
    url: String,
    count: Arc<AtomicUsize>,
    latencies_us: Arc<Mutex<Vec<f64>>>,
}

async fn receiver() -> Receiver {
    let count = Arc::new(AtomicUsize::new(0));
    let latencies_us: Arc<Mutex<Vec<f64>>> = Arc::default();
    let (c, l) = (Arc::clone(&count), Arc::clone(&latencies_us));
    let handler = move |_headers: HeaderMap, body: Bytes| {
        let (c, l) = (Arc::clone(&c), Arc::clone(&l));
        async move {
            if let Ok(tick) = serde_json::from_slice::<serde_json::Value>(&body) {
                if let Some(at) = tick["published_at_us"].as_u64() {
                    l.lock().unwrap().push(now_us().saturating_sub(at) as f64);
                }
            }
            c.fetch_add(1, Ordering::Relaxed);
            StatusCode::NO_CONTENT
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(handler))
            .await
            .unwrap()
    });
    Receiver {
        url,
        count,
        latencies_us,
    }
}

fn body(seq: u64) -> Tick {
    Tick {
        seq,
        published_at_us: now_us(),
        note: "a webhook payload of ordinary size".into(),
    }
}

fn config() -> DispatchConfig {
    DispatchConfig {
        concurrency: CONCURRENCY,
        per_subscription: CONCURRENCY,
        // One tenant: it may have every slot.
        per_tenant: Some(CONCURRENCY),
        ..DispatchConfig::default()
    }
}

/// The one tenant the harness publishes for.
const TENANT: &str = "bench";

/// Durable throughput: publish `events` (timed apart), then deliver them all.
async fn durable(backend: &str, postgres: Option<&str>, events: usize) -> (f64, f64) {
    let receiver = receiver().await;
    let store = Scratch::open(backend, postgres).await;
    let outbox = store.outbox.tenant(TENANT);
    outbox
        .subscribe(Subscription::new(&receiver.url))
        .await
        .unwrap();
    // Publishers work side by side, as request handlers of an API would.
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|_| {
            let (outbox, next) = (outbox.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    if seq >= events {
                        break;
                    }
                    outbox.publish::<tick>(&body(seq as u64)).await.unwrap();
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    let publish_rate = events as f64 / started.elapsed().as_secs_f64();
    // On stderr, for a profiler to attach to just this phase.
    eprintln!("delivering {events} events from {backend}");
    let started = Instant::now();
    let dispatcher = store.outbox.dispatcher(config()).unwrap().spawn();
    while receiver.count.load(Ordering::Relaxed) < events {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let rate = events as f64 / started.elapsed().as_secs_f64();
    eprintln!("delivered {events} events from {backend}");
    dispatcher.shutdown().await;
    drop(outbox);
    store.remove().await;
    (rate, publish_rate)
}

/// Publish-to-receipt latency (p50, p99 in ms) at `rate` events per second for `seconds`.
async fn latency(backend: &str, postgres: Option<&str>, rate: u64, seconds: u64) -> (f64, f64) {
    let receiver = receiver().await;
    let store = Scratch::open(backend, postgres).await;
    let outbox = store.outbox.tenant(TENANT);
    outbox
        .subscribe(Subscription::new(&receiver.url))
        .await
        .unwrap();
    let dispatcher = store.outbox.dispatcher(config()).unwrap().spawn();
    let total = rate * seconds;
    let mut interval = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    for seq in 0..total {
        interval.tick().await;
        outbox.publish::<tick>(&body(seq)).await.unwrap();
    }
    while (receiver.count.load(Ordering::Relaxed) as u64) < total {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    dispatcher.shutdown().await;
    drop(outbox);
    store.remove().await;
    let mut latencies: Vec<f64> = receiver
        .latencies_us
        .lock()
        .unwrap()
        .iter()
        .map(|us| us / 1000.0)
        .collect();
    (
        quantile(&mut latencies, 0.5),
        quantile(&mut latencies, 0.99),
    )
}

struct Args {
    events: usize,
    runs: usize,
    rate: u64,
    postgres: Option<String>,
    only: Option<String>,
}

fn args() -> Args {
    let mut args = Args {
        events: 5_000,
        runs: 3,
        rate: 200,
        postgres: std::env::var("HOOKSPEC_TEST_DATABASE_URL").ok(),
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--events" => args.events = value.parse().expect("--events N"),
            "--runs" => args.runs = value.parse().expect("--runs R"),
            "--rate" => args.rate = value.parse().expect("--rate EVENTS_PER_SECOND"),
            "--postgres" => args.postgres = Some(value),
            "--only" => args.only = Some(value),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn cell(values: &[f64]) -> String {
    let s = summarize(values);
    format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max)
}

#[tokio::main]
async fn main() {
    let args = args();
    let backends = backends(args.postgres.as_deref(), args.only.as_deref());
    println!("| measure | backend | median (min–max) | ratio to ceiling |");
    println!("|---|---|---|---|");
    // Each durable run follows a ceiling run of its own, and its ratio is to that ceiling:
    // the machines drift between runs more than the figures differ.
    let mut ceilings = Vec::new();
    let mut measured: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> =
        vec![Default::default(); backends.len()];
    for _ in 0..args.runs {
        for (backend, (rates, publishes, ratios)) in backends.iter().zip(&mut measured) {
            let receiver = receiver().await;
            let ceiling = ceiling(&receiver.url, args.events, CONCURRENCY, |seq| {
                serde_json::to_string(&body(seq as u64)).unwrap()
            })
            .await;
            let (rate, publish) = durable(backend, args.postgres.as_deref(), args.events).await;
            ceilings.push(ceiling);
            rates.push(rate);
            publishes.push(publish);
            ratios.push(rate / ceiling);
        }
    }
    println!(
        "| ceiling: signed POSTs/s, no storage | - | {} | 1.00 |",
        cell(&ceilings)
    );
    for (backend, (rates, publishes, ratios)) in backends.iter().zip(&measured) {
        let ratio = summarize(ratios);
        println!(
            "| durable deliveries/s | {backend} | {} | {:.2} ({:.2}–{:.2}) |",
            cell(rates),
            ratio.median,
            ratio.min,
            ratio.max
        );
        println!(
            "| publishes/s ({PUBLISHERS} publishers, one transaction each) | {backend} | {} | - |",
            cell(publishes)
        );
    }
    for backend in &backends {
        let (p50, p99) = latency(backend, args.postgres.as_deref(), args.rate, 5).await;
        println!("| publish-to-receipt latency at {} events/s, p50 / p99 | {backend} | {p50:.1} ms / {p99:.1} ms | - |", args.rate);
    }
}

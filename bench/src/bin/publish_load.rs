//! Publishing under load, end to end (issue 18, section 7): `--producers` tasks each publish
//! single events, as request handlers do, for one tenant with one subscription to a counting
//! receiver on loopback, while a dispatcher delivers them; timed from the first publish to
//! the last receipt. Each round measures, on a fresh database each:
//!
//! - `per-event transaction`: every publish commits alone, as hookspec did before group
//!   commit (`Outbox::without_group_commit`), the baseline of the ratios;
//! - `group commit`: `Tenant::publish`, concurrent publishes sharing commits;
//! - with `--batch N`, `Tenant::publish_batch` of N events per call;
//!
//! and the HTTP ceiling (the same client posting the same signed bodies, nothing stored).
//!
//! ```text
//! cargo run --release -p hookspec-bench --bin publish_load -- [--events N] [--runs R]
//!     [--producers P] [--postgres URL] [--only sqlite|postgres] [--batch N]
//! ```
//! Prints a Markdown table (bench/run.sh step 7).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookspec::delivery::{DispatchConfig, Subscription, Tenant};
use hookspec::whpost;
use hookspec_bench::harness::{backends, ceiling, Scratch};
use hookspec_bench::summarize;
use serde::Serialize;

/// The benchmark's event: small, like most webhook payloads.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Tick {
    seq: u64,
    note: String,
}

/// A tick happened.
#[whpost("tick")]
pub async fn tick(data: Tick) {}

const CONCURRENCY: usize = 32;
const TENANT: &str = "bench";

fn body(seq: usize) -> Tick {
    Tick {
        seq: seq as u64,
        note: "a webhook payload of ordinary size".into(),
    }
}

/// A loopback receiver that counts requests.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    let handler = move || {
        counted.fetch_add(1, Ordering::Relaxed);
        async { axum::http::StatusCode::NO_CONTENT }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(handler))
            .await
            .unwrap()
    });
    (url, count)
}

/// How the producers publish.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    PerEventTransaction,
    GroupCommit,
    Batch(usize),
}

impl Variant {
    fn name(self) -> String {
        match self {
            Variant::PerEventTransaction => "per-event transaction (before)".into(),
            Variant::GroupCommit => "group commit (`publish`)".into(),
            Variant::Batch(n) => format!("`publish_batch` of {n}"),
        }
    }
}

/// Publishes events `seq`.. for one producer until all `events` are taken.
async fn produce(tenant: Tenant, next: Arc<AtomicUsize>, events: usize, variant: Variant) {
    let chunk = match variant {
        Variant::Batch(n) => n,
        _ => 1,
    };
    loop {
        let first = next.fetch_add(chunk, Ordering::Relaxed);
        if first >= events {
            return;
        }
        let last = (first + chunk).min(events);
        if let Variant::Batch(_) = variant {
            let payloads: Vec<Tick> = (first..last).map(body).collect();
            tenant.publish_batch::<tick>(&payloads).await.unwrap();
        } else {
            tenant.publish::<tick>(&body(first)).await.unwrap();
        }
    }
}

/// CPU time this process has used (user and system), in seconds, from /proc (Linux): it
/// counts the publishers, the dispatcher and the receiver alike.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name in parentheses: state is field 3, utime and stime 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: f64 = fields
        .get(11..13)
        .unwrap_or_default()
        .iter()
        .map(|f| f.parse::<f64>().unwrap_or(0.0))
        .sum();
    ticks / 100.0 // USER_HZ
}

/// One measurement: events per second from the first publish to the last receipt, with the
/// dispatcher running throughout; the publishing phase alone; and this process's CPU time
/// per event meanwhile, in microseconds.
async fn end_to_end(
    backend: &str,
    postgres: Option<&str>,
    args: &Args,
    variant: Variant,
) -> (f64, f64, f64) {
    let (url, received) = receiver().await;
    let mut store = Scratch::open(backend, postgres).await;
    if variant == Variant::PerEventTransaction {
        store.outbox = store.outbox.without_group_commit();
    }
    let tenant = store.outbox.tenant(TENANT);
    tenant.subscribe(Subscription::new(&url)).await.unwrap();
    let config = DispatchConfig {
        concurrency: CONCURRENCY,
        per_subscription: CONCURRENCY,
        per_tenant: Some(CONCURRENCY),
        ..DispatchConfig::default()
    };
    let dispatcher = store.outbox.dispatcher(config).unwrap().spawn();
    let events = args.events;
    let next = Arc::new(AtomicUsize::new(0));
    let cpu = process_cpu_seconds();
    let started = Instant::now();
    let producers: Vec<_> = (0..args.producers)
        .map(|_| tokio::spawn(produce(tenant.clone(), Arc::clone(&next), events, variant)))
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    let published = started.elapsed();
    while received.load(Ordering::Relaxed) < events {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let rate = events as f64 / started.elapsed().as_secs_f64();
    let cpu_us = (process_cpu_seconds() - cpu) * 1e6 / events as f64;
    dispatcher.shutdown().await;
    drop(tenant);
    store.remove().await;
    (rate, events as f64 / published.as_secs_f64(), cpu_us)
}

struct Args {
    events: usize,
    runs: usize,
    producers: usize,
    postgres: Option<String>,
    only: Option<String>,
    batch: Option<usize>,
}

fn args() -> Args {
    let mut args = Args {
        events: 10_000,
        runs: 4,
        producers: 16,
        postgres: std::env::var("HOOKSPEC_TEST_DATABASE_URL").ok(),
        only: None,
        batch: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--events" => args.events = value.parse().expect("--events N"),
            "--runs" => args.runs = value.parse().expect("--runs R"),
            "--producers" => args.producers = value.parse().expect("--producers P"),
            "--postgres" => args.postgres = Some(value),
            "--only" => args.only = Some(value),
            "--batch" => args.batch = Some(value.parse().expect("--batch N")),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// Median (min–max).
fn cell(values: &[f64], decimals: usize) -> String {
    let s = summarize(values);
    format!(
        "{:.*} ({:.*}–{:.*})",
        decimals, s.median, decimals, s.min, decimals, s.max
    )
}

/// One variant's figures over the rounds, each ratio taken within its own round.
#[derive(Default)]
struct Figures {
    rates: Vec<f64>,
    publish_rates: Vec<f64>,
    cpu_us: Vec<f64>,
    to_ceiling: Vec<f64>,
    to_before: Vec<f64>,
}

#[tokio::main]
async fn main() {
    let args = args();
    let backends = backends(args.postgres.as_deref(), args.only.as_deref());
    let mut variants = vec![Variant::PerEventTransaction, Variant::GroupCommit];
    variants.extend(args.batch.map(Variant::Batch));
    let mut ceilings = Vec::new();
    let mut figures: Vec<Vec<Figures>> = backends
        .iter()
        .map(|_| variants.iter().map(|_| Figures::default()).collect())
        .collect();
    for round in 0..args.runs {
        for (backend, figures) in backends.iter().zip(&mut figures) {
            let (url, _) = receiver().await;
            let ceiling = ceiling(&url, args.events, CONCURRENCY, |seq| {
                serde_json::to_string(&body(seq)).unwrap()
            })
            .await;
            ceilings.push(ceiling);
            let mut before = None;
            for (&variant, figures) in variants.iter().zip(figures.iter_mut()) {
                let (rate, publish_rate, cpu_us) =
                    end_to_end(backend, args.postgres.as_deref(), &args, variant).await;
                let before = *before.get_or_insert(rate);
                eprintln!(
                    "round {round} {backend} {}: {rate:.0} events/s",
                    variant.name()
                );
                figures.rates.push(rate);
                figures.publish_rates.push(publish_rate);
                figures.cpu_us.push(cpu_us);
                figures.to_ceiling.push(rate / ceiling);
                figures.to_before.push(rate / before);
            }
        }
    }
    println!(
        "{} events, {} producers publishing single events (or batches), one endpoint, \
         dispatcher running throughout; median (min–max) of {} alternating rounds.\n",
        args.events, args.producers, args.runs
    );
    println!("| variant | backend | events/s end to end | publishing phase, events/s | process CPU µs/event | ratio to ceiling | ratio to per-event transaction |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| ceiling: signed POSTs/s, no storage | - | {} | - | - | 1.00 | - |",
        cell(&ceilings, 0)
    );
    for (backend, figures) in backends.iter().zip(&figures) {
        for (variant, f) in variants.iter().zip(figures) {
            println!(
                "| {} | {backend} | {} | {} | {} | {} | {} |",
                variant.name(),
                cell(&f.rates, 0),
                cell(&f.publish_rates, 0),
                cell(&f.cpu_us, 0),
                cell(&f.to_ceiling, 2),
                cell(&f.to_before, 2),
            );
        }
    }
}

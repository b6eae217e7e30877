//! Cost curves at production sizes (issue 18): how delivery and publishing cost grow with the
//! backlog, the fan-out, the subscriptions of other events and tenants, the tenants, a
//! retention purge, and the rate, on SQLite and PostgreSQL.
//!
//! ```text
//! cargo run --release -p hookspec-bench --bin curves -- [--full] [--runs R] [--curves 1,2,...]
//!     [--postgres URL] [--only sqlite|postgres] [--backlog 20000,200000] [--history N]
//!     [--fanout 1,100,1000,10000] [--selectivity 1,1000,100000] [--tenants N]
//!     [--tenant-events N] [--tenant-seconds S] [--purge N] [--rate N] [--seconds S]
//! ```
//! Prints Markdown tables: each point a median with its spread (min–max) over the rounds,
//! and its ratio to the curve's first point measured in the same round. Every point is
//! measured on a fresh database; the rounds alternate the points and the backends, so that
//! what else the machine runs falls on all of them alike.

mod fixture;
mod measure;
mod receiver;
mod report;

use fixture::Backend;
use serde::{Deserialize, Serialize};

/// The curves' event.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tick {
    seq: u64,
    /// When it was published (µs since the epoch): the receiver measures latency from it.
    published_at_us: u64,
    /// Whose it is: the receiver keeps latencies by tenant.
    tenant: String,
}

impl Tick {
    fn now(seq: u64, tenant: &str) -> Tick {
        Tick {
            seq,
            published_at_us: receiver::now_us(),
            tenant: tenant.to_owned(),
        }
    }
}

/// A tick happened.
#[hookspec::whpost("tick")]
pub async fn tick(data: Tick) {}

/// The tenant that publishes, where a curve has one.
const TENANT: &str = "bench";

/// Sizes and settings; `--full` gives the largest sizes.
pub struct Args {
    runs: usize,
    curves: Vec<u32>,
    postgres: Option<String>,
    only: Option<String>,
    backlog: Vec<u64>,
    drained: u64,
    history: u64,
    fanout: Vec<u64>,
    selectivity: Vec<u64>,
    publishes: usize,
    tenants: u64,
    tenant_events: u64,
    tenant_rate: u64,
    tenant_seconds: u64,
    purge: u64,
    rate: u64,
    seconds: u64,
}

fn list(value: &str) -> Vec<u64> {
    value
        .split(',')
        .map(|n| n.parse().expect("a comma-separated list of numbers"))
        .collect()
}

fn args() -> Args {
    let mut args = Args {
        runs: 3,
        curves: vec![1, 2, 3, 4, 5, 6],
        postgres: std::env::var("HOOKSPEC_TEST_DATABASE_URL").ok(),
        only: None,
        backlog: vec![20_000, 200_000],
        drained: 10_000,
        // Retained history only with --full: filling it costs more than the default run has.
        history: 0,
        fanout: vec![1, 100, 1_000, 10_000],
        selectivity: vec![1, 1_000, 100_000],
        publishes: 7,
        tenants: 10_000,
        tenant_events: 5_000,
        tenant_rate: 300,
        tenant_seconds: 10,
        purge: 200_000,
        rate: 1_000,
        seconds: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--full" {
            args.backlog = vec![20_000, 200_000, 1_000_000];
            args.history = 10_000_000;
            args.purge = 10_000_000;
            args.drained = 20_000;
            continue;
        }
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--runs" => args.runs = value.parse().expect("--runs R"),
            "--curves" => args.curves = list(&value).into_iter().map(|c| c as u32).collect(),
            "--postgres" => args.postgres = Some(value),
            "--only" => args.only = Some(value),
            "--backlog" => args.backlog = list(&value),
            "--drained" => args.drained = value.parse().expect("--drained N"),
            "--history" => args.history = value.parse().expect("--history N"),
            "--fanout" => args.fanout = list(&value),
            "--selectivity" => args.selectivity = list(&value),
            "--tenants" => args.tenants = value.parse().expect("--tenants N"),
            "--tenant-events" => args.tenant_events = value.parse().expect("--tenant-events N"),
            "--tenant-seconds" => args.tenant_seconds = value.parse().expect("--tenant-seconds S"),
            "--seconds" => args.seconds = value.parse().expect("--seconds S"),
            "--purge" => args.purge = value.parse().expect("--purge N"),
            "--rate" => args.rate = value.parse().expect("--rate N"),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

#[tokio::main]
async fn main() {
    let args = args();
    let mut backends = vec![Backend::Sqlite];
    if args.postgres.is_some() {
        backends.push(Backend::Postgres);
    }
    backends.retain(|b| args.only.as_deref().is_none_or(|only| only == b.name()));
    let pg = args.postgres.clone().unwrap_or_default();
    for curve in &args.curves {
        let started = std::time::Instant::now();
        match curve {
            1 => report::backlog(&args, &backends, &pg).await,
            2 => report::fan_out(&args, &backends, &pg).await,
            3 => report::selectivity(&args, &backends, &pg).await,
            4 => report::tenants(&args, &backends, &pg).await,
            5 => report::purge(&args, &backends, &pg).await,
            6 => report::at_rate(&args, &backends, &pg).await,
            other => panic!("no curve {other}"),
        }
        eprintln!(
            "curve {curve} took {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
}

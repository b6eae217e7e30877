//! Each curve's rounds and its Markdown table.

use hookspec_bench::{quantile, summarize};

use crate::fixture::Backend;
use crate::{measure, Args};

/// Median (min–max).
fn cell(values: &[f64], digits: usize) -> String {
    let s = summarize(values);
    format!(
        "{:.digits$} ({:.digits$}–{:.digits$})",
        s.median, s.min, s.max
    )
}

/// The ratios of `values` to `base`, round by round, as a cell.
fn ratio(values: &[f64], base: &[f64]) -> String {
    let ratios: Vec<f64> = values.iter().zip(base).map(|(v, b)| v / b).collect();
    cell(&ratios, 2)
}

fn median(values: &[f64]) -> f64 {
    summarize(values).median
}

/// Runs `measure(backend, point)` for every point and backend, `runs` times in alternating
/// rounds; returns `[backend][point]` → one value per round.
macro_rules! rounds {
    ($args:expr, $backends:expr, $points:expr, |$backend:ident, $point:ident| $measure:expr) => {{
        let mut values = vec![vec![Vec::new(); $points.len()]; $backends.len()];
        for _ in 0..$args.runs {
            for (b, $backend) in $backends.iter().copied().enumerate() {
                for (p, $point) in $points.iter().enumerate() {
                    values[b][p].push($measure);
                }
            }
        }
        values
    }};
}

pub async fn backlog(args: &Args, backends: &[Backend], pg: &str) {
    let mut points: Vec<(u64, u64)> = args.backlog.iter().map(|p| (*p, 0)).collect();
    if args.history > 0 {
        points.push((args.backlog[0], args.history));
    }
    let rates = rounds!(args, backends, points, |backend, point| {
        let (pending, history) = *point;
        measure::backlog(backend, pg, pending, history, args.drained.min(pending)).await
    });
    println!("### 1. Backlog\n");
    println!(
        "Deliveries per second over the first {} deliveries of a backlog of pending deliveries \
         to one subscription, with delivered messages (one attempt each) retained beside them. \
         Ratio: to the first row, round by round.\n",
        args.drained
    );
    println!("| backend | pending | delivered, retained | deliveries/s | ratio to first row |");
    println!("|---|---|---|---|---|");
    for (b, backend) in backends.iter().enumerate() {
        for (p, (pending, history)) in points.iter().enumerate() {
            println!(
                "| {} | {pending} | {history} | {} | {} |",
                backend.name(),
                cell(&rates[b][p], 0),
                ratio(&rates[b][p], &rates[b][0])
            );
        }
    }
    println!();
}

pub async fn fan_out(args: &Args, backends: &[Backend], pg: &str) {
    let points: Vec<(u64, bool)> = args
        .fanout
        .iter()
        .flat_map(|n| [(*n, false), (*n, true)])
        .collect();
    let times = rounds!(args, backends, points, |backend, point| {
        let (matching, filtered) = *point;
        let times =
            measure::publish_cost(backend, pg, matching, filtered, 0, false, args.publishes).await;
        median(&times)
    });
    // The base of the per-delivery ratio: 100 subscriptions, where the goal starts.
    let base = |filtered: bool| {
        points
            .iter()
            .position(|p| *p == (100, filtered))
            .or_else(|| points.iter().position(|p| p.1 == filtered))
            .unwrap()
    };
    println!("### 2. Fan-out\n");
    println!(
        "One publish (one transaction: the message and a delivery per matching subscription) \
         to N subscriptions of its tenant, all of them matching, without a filter or each with \
         the filter `tenant = \"bench\"`; median of {} publishes per round, then median (min–max) \
         over the rounds. The publish time is the caller's transaction time.\n",
        args.publishes
    );
    println!("| backend | subscriptions | filter | publish (ms) | per delivery (µs) | per delivery, ratio to 100 |");
    println!("|---|---|---|---|---|---|");
    for (b, backend) in backends.iter().enumerate() {
        for (p, (matching, filtered)) in points.iter().enumerate() {
            let per_delivery: Vec<f64> = times[b][p]
                .iter()
                .map(|ms| ms * 1000.0 / *matching as f64)
                .collect();
            let (base_n, _) = points[base(*filtered)];
            let base_per: Vec<f64> = times[b][base(*filtered)]
                .iter()
                .map(|ms| ms * 1000.0 / base_n as f64)
                .collect();
            println!(
                "| {} | {matching} | {} | {} | {} | {} |",
                backend.name(),
                if *filtered { "yes" } else { "no" },
                cell(&times[b][p], 2),
                cell(&per_delivery, 1),
                ratio(&per_delivery, &base_per)
            );
        }
    }
    println!();
}

pub async fn selectivity(args: &Args, backends: &[Backend], pg: &str) {
    let points: Vec<(u64, bool)> = [false, true]
        .into_iter()
        .flat_map(|tenants| args.selectivity.iter().map(move |n| (*n, tenants)))
        .collect();
    let publishes = args.publishes * 2;
    let times = rounds!(args, backends, points, |backend, point| {
        let (all, other_tenants) = *point;
        let times =
            measure::publish_cost(backend, pg, 1, false, all - 1, other_tenants, publishes).await;
        median(&times)
    });
    println!("### 3. Selectivity\n");
    println!(
        "One publish with 1 matching subscription among N, the others of the same tenant to \
         another event, or of other tenants to the same event; median of {publishes} publishes \
         per round. Ratio: to N = {}, round by round.\n",
        args.selectivity[0]
    );
    println!("| backend | subscriptions | the others are | publish (ms) | ratio to first |");
    println!("|---|---|---|---|---|");
    for (b, backend) in backends.iter().enumerate() {
        for (p, (all, other_tenants)) in points.iter().enumerate() {
            let first = points.iter().position(|q| q.1 == *other_tenants).unwrap();
            println!(
                "| {} | {all} | {} | {} | {} |",
                backend.name(),
                if *other_tenants {
                    "other tenants'"
                } else {
                    "to other events"
                },
                cell(&times[b][p], 2),
                ratio(&times[b][p], &times[b][first])
            );
        }
    }
    println!();
}

pub async fn tenants(args: &Args, backends: &[Backend], pg: &str) {
    let points = [1, args.tenants];
    let rates = rounds!(args, backends, points, |backend, tenants| {
        measure::tenants_drain(backend, pg, *tenants, args.tenant_events).await
    });
    let fairness = rounds!(args, backends, [args.tenants], |backend, tenants| {
        let run =
            measure::tenants_fairness(backend, pg, *tenants, args.tenant_rate, args.tenant_seconds)
                .await;
        let median_observed = median(&run.observed_p99);
        let worst = run.observed_p99.iter().copied().fold(f64::NAN, f64::max);
        // In the table's order.
        [
            run.active as f64,
            run.observed_deliveries as f64,
            median_observed,
            worst,
            worst / median_observed,
            run.others_p99,
            run.others_p99 / median_observed,
        ]
    });
    println!("### 4. Tenants\n");
    println!(
        "Drain: deliveries per second of a backlog of {} events, each to the 3 subscriptions of \
         its tenant, all of one tenant (which may use every slot) or spread over {} tenants (the \
         default share, a quarter of the slots per tenant). Ratio: to one tenant, round by round.\n",
        args.tenant_events, args.tenants
    );
    println!("| backend | tenants | deliveries/s | ratio to one tenant |");
    println!("|---|---|---|---|");
    for (b, backend) in backends.iter().enumerate() {
        for (p, tenants) in points.iter().enumerate() {
            println!(
                "| {} | {tenants} | {} | {} |",
                backend.name(),
                cell(&rates[b][p], 0),
                ratio(&rates[b][p], &rates[b][0])
            );
        }
    }
    println!(
        "\nFairness: {} events a second for {} s published through the API, all receivers \
         healthy, every other event to {} observed tenants in turn (enough deliveries for a p99 \
         of each; the fewest one had is given) and the rest to the other of the {} tenants in \
         turn (about one event each; their deliveries are taken together). Latency: \
         publish-to-receipt p99 (ms); ratios to the median observed tenant's p99.\n",
        args.tenant_rate,
        args.tenant_seconds,
        measure::OBSERVED.min(args.tenants),
        args.tenants
    );
    println!(
        "| backend | tenants sent events | deliveries per observed tenant | median observed p99 \
         | worst observed p99 | worst / median | other tenants' p99 | other / median |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (b, backend) in backends.iter().enumerate() {
        let column = |i: usize| -> Vec<f64> { fairness[b][0].iter().map(|r| r[i]).collect() };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            backend.name(),
            cell(&column(0), 0),
            cell(&column(1), 0),
            cell(&column(2), 1),
            cell(&column(3), 1),
            cell(&column(4), 2),
            cell(&column(5), 1),
            cell(&column(6), 2)
        );
    }
    println!();
}

/// Events a second delivered while purging: the rate of delivery_load's latency figure.
const PURGE_RATE: u64 = 200;

pub async fn purge(args: &Args, backends: &[Backend], pg: &str) {
    let runs = rounds!(args, backends, [args.purge], |backend, history| {
        let mut run = measure::purge(backend, pg, *history, PURGE_RATE, args.seconds).await;
        let alone = quantile(&mut run.alone, 0.99);
        let during = quantile(&mut run.during, 0.99);
        (alone, during, run.purge_seconds, run.finished_in_window)
    });
    println!("### 5. Purge under load\n");
    println!(
        "p99 publish-to-receipt latency (ms) at {PURGE_RATE} events a second for {} s, alone and \
         then while `Outbox::purge` deletes {} delivered messages past retention with their \
         attempts (started with the second phase). Ratio: during / alone, round by round. The \
         purge's time is to its end, which may fall after the second phase.\n",
        args.seconds, args.purge
    );
    println!("| backend | purged | p99 alone | p99 during the purge | ratio | purge took (s) |");
    println!("|---|---|---|---|---|---|");
    for (b, backend) in backends.iter().enumerate() {
        let alone: Vec<f64> = runs[b][0].iter().map(|r| r.0).collect();
        let during: Vec<f64> = runs[b][0].iter().map(|r| r.1).collect();
        let took: Vec<f64> = runs[b][0].iter().map(|r| r.2).collect();
        let in_window = runs[b][0].iter().filter(|r| r.3).count();
        let took = format!(
            "{} ({in_window} of {} within the {} s)",
            cell(&took, 1),
            took.len(),
            args.seconds
        );
        println!(
            "| {} | {} | {} | {} | {} | {took} |",
            backend.name(),
            args.purge,
            cell(&alone, 1),
            cell(&during, 1),
            ratio(&during, &alone)
        );
    }
    println!();
}

pub async fn at_rate(args: &Args, backends: &[Backend], pg: &str) {
    let runs = rounds!(args, backends, [args.rate], |backend, rate| {
        let (mut latencies, reached) = measure::at_rate(backend, pg, *rate, args.seconds).await;
        let p50 = quantile(&mut latencies, 0.5);
        (p50, quantile(&mut latencies, 0.99), reached)
    });
    println!("### 6. Latency at rate\n");
    println!(
        "Publish-to-receipt latency (ms) at {} events a second for {} s, each publish on its own \
         task; the publish rate reached shows whether publishing kept up.\n",
        args.rate, args.seconds
    );
    println!("| backend | events/s | p50 | p99 | publishes/s reached |");
    println!("|---|---|---|---|---|");
    for (b, backend) in backends.iter().enumerate() {
        let column =
            |f: fn(&(f64, f64, f64)) -> f64| -> Vec<f64> { runs[b][0].iter().map(f).collect() };
        println!(
            "| {} | {} | {} | {} | {} |",
            backend.name(),
            args.rate,
            cell(&column(|r| r.0), 1),
            cell(&column(|r| r.1), 1),
            cell(&column(|r| r.2), 0)
        );
    }
    println!();
}

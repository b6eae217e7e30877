//! `hookspec::compat` on the largest pair of Adyen's webhook documents: parsing both documents
//! and comparing them, against the floor of parsing them alone.
//!
//! ```text
//! cargo run --release -p hookspec-bench --bin compat_diff -- [ADYEN_DIR] [--rounds R]
//! ```
//! `ADYEN_DIR` defaults to `../shared/data/adyen` beside the repository. Prints a Markdown
//! table (also used by bench/run.sh for BENCHMARKS.md).

use hookspec::compat;
use hookspec_bench::summarize;
use serde_json::Value;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Each round times each task over at least this long, to average out timer noise.
const BATCH: Duration = Duration::from_millis(200);

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/adyen"
    ));
    let mut rounds = 11;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|r| r.parse().ok())
                    .expect("--rounds N")
            }
            other => dir = PathBuf::from(other),
        }
    }
    let (name, old_text, new_text) = largest_pair(&dir);
    let parse = || -> (Value, Value) {
        let old = serde_json::from_str(black_box(&old_text)).expect("JSON");
        let new = serde_json::from_str(black_box(&new_text)).expect("JSON");
        (old, new)
    };
    let check = || {
        let (old, new) = parse();
        compat::diff(&old, &new).expect("Adyen's documents resolve")
    };
    let changes = check().changes.len();
    let (mut floor, mut full) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        // Alternate, so that both see the same drift of a shared machine.
        floor.push(per_call(|| drop(black_box(parse()))));
        full.push(per_call(|| drop(black_box(check()))));
    }
    let ratios: Vec<f64> = full.iter().zip(&floor).map(|(c, p)| c / p).collect();
    let (floor, full, ratios) = (summarize(&floor), summarize(&full), summarize(&ratios));
    let ms = |s: hookspec_bench::Summary| {
        format!(
            "{:.2} ({:.2}–{:.2})",
            s.median * 1e3,
            s.min * 1e3,
            s.max * 1e3
        )
    };
    let kib = (old_text.len() + new_text.len()) / 1024;
    println!(
        "Pair: {name} ({kib} KiB of JSON in all, {changes} changes reported), {rounds} rounds."
    );
    println!();
    println!("| measure | ms per call, median (min–max) | ratio to floor |");
    println!("|---|---|---|");
    println!(
        "| floor: parse both documents into `serde_json::Value` | {} | 1.00 |",
        ms(floor)
    );
    println!(
        "| parse both and `compat::diff` them | {} | {:.2} ({:.2}–{:.2}) |",
        ms(full),
        ratios.median,
        ratios.min,
        ratios.max
    );
}

/// The pair of files `NAME-vA.json`, `NAME-vB.json` with the most bytes, read.
fn largest_pair(dir: &PathBuf) -> (String, String, String) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let pairs = files
        .windows(2)
        .filter(|w| service(&w[0]) == service(&w[1]));
    let size = |path: &PathBuf| std::fs::metadata(path).map_or(0, |m| m.len());
    let [old, new] = pairs
        .max_by_key(|w| size(&w[0]) + size(&w[1]))
        .map(|w| [w[0].clone(), w[1].clone()])
        .expect("a pair of versions of one service");
    let read = |path: &PathBuf| std::fs::read_to_string(path).expect("readable");
    let name = format!("{} → {}", stem(&old), stem(&new));
    (name, read(&old), read(&new))
}

fn stem(path: &std::path::Path) -> String {
    path.file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// `Service` of `Service-v3.json`.
fn service(path: &std::path::Path) -> String {
    let stem = stem(path);
    stem.rsplit_once('-')
        .map_or(stem.clone(), |(service, _)| service.to_owned())
}

/// Seconds per call of `f`, over a batch of at least [`BATCH`].
fn per_call(mut f: impl FnMut()) -> f64 {
    let (start, mut calls) = (Instant::now(), 0u32);
    while start.elapsed() < BATCH {
        f();
        calls += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(calls)
}

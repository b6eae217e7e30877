//! Airtable-like webhooks: a subscription lives 7 days unless refreshed; deliveries are only
//! pings, and the consumer pulls the payloads by cursor, persisting the cursor between runs
//! (like pyairtable's example), so a consumer killed between two payloads neither skips nor
//! repeats work when it starts again. Two bases side by side: each base is a tenant of the
//! outbox, so its webhook pulls only its own records.
//!
//! ```text
//! cargo run --example airtable_like
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use hookspec::delivery::{DispatchConfig, Outbox, SsrfPolicy};
use hookspec::management::{BearerTokens, READ, WRITE};
use hookspec::{whpost, App, WebhookGateway};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A record changed in a base.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Clone, Debug)]
pub struct RecordChanged {
    base: String,
    record_id: String,
    fields: serde_json::Map<String, Value>,
}

/// A record changed.
#[whpost("record.changed")]
async fn record_changed(data: RecordChanged) {}

/// The consumer's persisted state: the next cursor, and the work done, written together
/// (write then rename), so a kill never separates them.
#[derive(Serialize, Deserialize, Default, Debug, PartialEq)]
struct ConsumerState {
    cursor: i64,
    processed: Vec<String>,
}

fn load(path: &Path) -> ConsumerState {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(ConsumerState {
            cursor: 1,
            processed: Vec::new(),
        })
}

fn save(path: &Path, state: &ConsumerState) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(state)?)?;
    std::fs::rename(tmp, path)
}

/// Pulls payloads from the persisted cursor, processing each and saving after each; stops
/// after `budget` payloads (a kill between two payloads) if given.
async fn pull(
    client: &reqwest::Client,
    payloads_url: &str,
    token: &str,
    state_path: &Path,
    budget: Option<usize>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut state = load(state_path);
    let mut done = 0;
    loop {
        let page: Value = client
            .get(format!("{payloads_url}?cursor={}&limit=2", state.cursor))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        let payloads = page["payloads"].as_array().cloned().unwrap_or_default();
        if payloads.is_empty() {
            return Ok(());
        }
        for payload in payloads {
            if budget.is_some_and(|b| done == b) {
                return Ok(());
            }
            state.processed.push(
                payload["payload"]["record_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
            state.cursor = payload["cursor"].as_i64().ok_or("no cursor")? + 1;
            save(state_path, &state)?;
            done += 1;
        }
    }
}

#[derive(Debug)]
struct Report {
    pings: usize,
    processed: Vec<String>,
    refreshed_later: bool,
    expired_received: usize,
    /// What the second base's consumer pulled through its own webhook.
    other_base_processed: Vec<String>,
    other_base_pings: usize,
}

/// Two bases, each with a personal access token scoped to it.
const BASE: (&str, &str) = ("app00000000000000", "pat-1");
const OTHER_BASE: (&str, &str) = ("app11111111111111", "pat-2");

async fn run() -> Result<Report, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("airtable-like-{}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    let outbox = Outbox::sqlite(&format!("sqlite://{}", dir.join("outbox.db").display()))
        .await?
        .ssrf_policy(SsrfPolicy::new().allow("127.0.0.1")?);
    let tokens = BearerTokens::new()
        .token(BASE.1, BASE.0, &[READ, WRITE])
        .token(OTHER_BASE.1, OTHER_BASE.0, &[READ, WRITE]);
    let app = App::new("Airtable-like", "1.0.0")
        .webhook(WebhookGateway::new(record_changed))
        .signed_webhooks()
        .webhook_management(outbox.clone(), tokens);
    let bound = app.bind("127.0.0.1:0").await?;
    let api = format!("http://{}/webhooks/subscriptions", bound.local_addr()?);
    tokio::spawn(bound.run_until(std::future::pending()));
    let dispatcher = outbox
        .dispatcher(DispatchConfig {
            poll_interval: Duration::from_millis(20),
            ..DispatchConfig::default()
        })?
        .spawn();
    let client = reqwest::Client::new();

    // The consumer's notification endpoint only counts pings: the work is in the pull.
    let (ping_url, pings) = ping_receiver().await;
    let created: Value = client
        .post(&api)
        .bearer_auth(BASE.1)
        .json(&json!({"url": ping_url, "lease_seconds": 7 * 24 * 3600}))
        .send()
        .await?
        .json()
        .await?;
    let id = created["subscription"]["id"]
        .as_str()
        .ok_or("no id")?
        .to_owned();
    let expires_at = created["subscription"]["expires_at"]
        .as_i64()
        .ok_or("no expiry")?;

    let (other_ping_url, other_pings) = ping_receiver().await;
    let other: Value = client
        .post(&api)
        .bearer_auth(OTHER_BASE.1)
        .json(&json!({"url": other_ping_url}))
        .send()
        .await?
        .json()
        .await?;
    let other_id = other["subscription"]["id"].as_str().ok_or("no id")?;

    // Changes in both bases, interleaved; each published for its own base.
    for n in 0..5 {
        for (base, prefix) in [(BASE.0, "rec"), (OTHER_BASE.0, "other")] {
            let change = RecordChanged {
                base: base.into(),
                record_id: format!("{prefix}{n}"),
                fields: serde_json::Map::new(),
            };
            outbox
                .tenant(base)
                .publish::<record_changed>(&change)
                .await?;
        }
    }
    while outbox.delivery_counts().await?.pending > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let state = dir.join("cursor.json");
    let payloads_url = format!("{api}/{id}/payloads");
    pull(&client, &payloads_url, BASE.1, &state, Some(2)).await?; // killed after two payloads
    pull(&client, &payloads_url, BASE.1, &state, None).await?; // started again
    let other_state = dir.join("other-cursor.json");
    let other_payloads = format!("{api}/{other_id}/payloads");
    pull(&client, &other_payloads, OTHER_BASE.1, &other_state, None).await?;

    tokio::time::sleep(Duration::from_millis(5)).await;
    let refreshed: Value = client
        .post(format!("{api}/{id}/refresh"))
        .bearer_auth(BASE.1)
        .json(&json!({}))
        .send()
        .await?
        .json()
        .await?;
    let refreshed_later = refreshed["expires_at"]
        .as_i64()
        .is_some_and(|at| at > expires_at);

    // A subscription whose lease ran out stops receiving.
    let (expired_url, expired_count) = ping_receiver().await;
    client
        .post(&api)
        .bearer_auth(BASE.1)
        .json(&json!({"url": expired_url, "lease_seconds": 1}))
        .send()
        .await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    outbox
        .tenant(BASE.0)
        .publish::<record_changed>(&RecordChanged {
            base: BASE.0.into(),
            record_id: "late".into(),
            fields: serde_json::Map::new(),
        })
        .await?;
    while outbox.delivery_counts().await?.pending > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    dispatcher.shutdown().await;
    Ok(Report {
        pings: pings.load(Ordering::Relaxed),
        processed: load(&state).processed,
        refreshed_later,
        expired_received: expired_count.load(Ordering::Relaxed),
        other_base_processed: load(&other_state).processed,
        other_base_pings: other_pings.load(Ordering::Relaxed),
    })
}

/// An endpoint that counts the pings that reach it. It need not verify them: a ping carries
/// no work, the pull is authenticated, so a forged ping costs only a wasted wake-up. (To
/// verify anyway, take `hookspec::receiver::Verified<T>` as in the seatable_like example.)
async fn ping_receiver() -> (String, Arc<AtomicUsize>) {
    let pings = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&pings);
    let app = axum::Router::new().route(
        "/ping",
        post(move || {
            let pings = Arc::clone(&pings);
            async move {
                pings.fetch_add(1, Ordering::Relaxed);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ping", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, count)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run().await?;
    println!("pings received: {}", report.pings);
    println!(
        "payloads processed (once each, across a kill): {:?}",
        report.processed
    );
    println!(
        "the other base pulled (its own records only): {:?}, after {} pings",
        report.other_base_processed, report.other_base_pings
    );
    println!("refresh extended the lease: {}", report.refreshed_later);
    println!(
        "deliveries to an expired subscription: {}",
        report.expired_received
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn pull_by_cursor_survives_a_kill_refresh_extends_and_expiry_stops() {
        let report = super::run().await.unwrap();
        assert_eq!(
            report.processed,
            ["rec0", "rec1", "rec2", "rec3", "rec4"],
            "no payload skipped or repeated"
        );
        assert!(report.pings >= 5, "{report:?}");
        assert_eq!(
            report.other_base_processed,
            ["other0", "other1", "other2", "other3", "other4"],
            "each base's webhook gets its own base's records only"
        );
        assert_eq!(report.other_base_pings, 5, "{report:?}");
        assert!(report.refreshed_later);
        assert_eq!(
            report.expired_received, 0,
            "an expired subscription receives nothing"
        );
    }
}

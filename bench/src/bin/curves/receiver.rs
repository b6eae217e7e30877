//! A loopback receiver that counts deliveries and records each one's latency by tenant, and
//! publishing at a fixed rate against it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::StatusCode;
use hookspec::delivery::Outbox;

use crate::{tick, Tick};

/// Counts requests, and for bodies stamped with a publish time records the latency (µs)
/// under the body's tenant.
pub struct Receiver {
    pub url: String,
    count: Arc<AtomicUsize>,
    latencies_us: Arc<Mutex<Vec<(String, f64)>>>,
}

pub async fn receiver() -> Receiver {
    let count = Arc::new(AtomicUsize::new(0));
    let latencies_us: Arc<Mutex<Vec<(String, f64)>>> = Arc::default();
    let (c, l) = (Arc::clone(&count), Arc::clone(&latencies_us));
    let handler = move |body: Bytes| {
        let (c, l) = (Arc::clone(&c), Arc::clone(&l));
        async move {
            if let Ok(tick) = serde_json::from_slice::<Tick>(&body) {
                if tick.published_at_us > 0 {
                    let latency = now_us().saturating_sub(tick.published_at_us) as f64;
                    l.lock().unwrap().push((tick.tenant, latency));
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

impl Receiver {
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Waits until `count` requests arrived; panics after `limit`, naming how many did.
    pub async fn wait_for(&self, count: usize, limit: Duration) {
        let started = Instant::now();
        while self.count() < count {
            assert!(
                started.elapsed() < limit,
                "{} of {count} deliveries arrived in {limit:?}",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// The latencies recorded so far (ms), by tenant, and forgets them.
    pub fn take_latencies(&self) -> HashMap<String, Vec<f64>> {
        let mut by_tenant: HashMap<String, Vec<f64>> = HashMap::new();
        for (tenant, us) in self.latencies_us.lock().unwrap().drain(..) {
            by_tenant.entry(tenant).or_default().push(us / 1000.0);
        }
        by_tenant
    }
}

pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Publishes `rate` events a second for `seconds`, for `tenants` in turn, each publish on
/// its own task as request handlers would (a slow one does not hold back the next), and
/// waits for `per_event` deliveries of each. Returns the rate the publishes reached.
pub async fn publish_at_rate(
    outbox: &Outbox,
    receiver: &Receiver,
    tenants: &[String],
    rate: u64,
    seconds: u64,
    per_event: usize,
) -> f64 {
    let before = receiver.count();
    let total = rate * seconds;
    let mut interval = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let started = Instant::now();
    let mut publishes = Vec::with_capacity(total as usize);
    for seq in 0..total {
        interval.tick().await;
        let tenant = outbox.tenant(&tenants[seq as usize % tenants.len()]);
        publishes.push(tokio::spawn(async move {
            let body = Tick::now(seq, tenant.name());
            tenant.publish::<tick>(&body).await.unwrap();
        }));
    }
    for publish in publishes {
        publish.await.unwrap();
    }
    let reached = total as f64 / started.elapsed().as_secs_f64();
    receiver
        .wait_for(
            before + total as usize * per_event,
            Duration::from_secs(120),
        )
        .await;
    reached
}

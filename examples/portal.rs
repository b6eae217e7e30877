//! A provider that lets its customers manage their own webhook endpoints in the portal:
//! three tenants, a fake event source publishing an order every few seconds for each, and a
//! local receiver on the same server (`/receiver/{tenant}`, answering 200; `/receiver/flaky`
//! answers 500 every other time). It prints a portal link per tenant.
//!
//! ```text
//! cargo run --example portal                  # http://127.0.0.1:8000
//! cargo run --example portal -- --port 9000
//! ```
//!
//! Over plain HTTP on your machine only: the session cookie is not marked `Secure` here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use hookspec::delivery::{DispatchConfig, DispatcherHandle, Outbox, SsrfPolicy, Subscription};
use hookspec::portal::Portal;
use hookspec::{whpost, App, WebhookGateway};
use serde::Serialize;

/// An order placed in the provider's shop.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Order {
    /// The order's number.
    id: u64,
    /// The customer who placed it.
    customer: String,
    /// In cents.
    total: u64,
    /// What was ordered.
    items: Vec<Item>,
}

/// One line of an order.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Item {
    sku: String,
    quantity: u32,
}

/// An order was placed.
///
/// Sent once per order, after it is paid.
#[whpost("order.placed", tags = ["orders"])]
pub async fn order_placed(data: Order) {}

/// An order was shipped.
#[whpost("order.shipped", tags = ["orders"])]
pub async fn order_shipped(data: Order) {}

/// The provider's customers.
const TENANTS: [&str; 3] = ["acme", "globex", "initech"];

/// The running example: its address and a portal link per tenant.
struct Running {
    base: String,
    links: Vec<(&'static str, String)>,
    dispatcher: DispatcherHandle,
}

async fn start(port: u16) -> Result<Running, Box<dyn std::error::Error>> {
    let db = std::env::temp_dir().join(format!("portal-example-{}.db", rand::random::<u32>()));
    let outbox = Outbox::sqlite(&format!("sqlite://{}", db.display()))
        .await?
        // The receiver is on this machine: let deliveries reach loopback.
        .ssrf_policy(SsrfPolicy::new().allow("127.0.0.1")?);
    // In production: 32+ random bytes from your secret store, the same on every server.
    let key: [u8; 32] = rand::random();
    let portal = Portal::new(key)?
        .title("Shop webhooks")
        .secure_cookie(false);
    let receiver = axum::Router::new()
        .route("/receiver/{tenant}", post(receive))
        .with_state(Arc::new(AtomicU64::new(0)));
    let app = App::new("Shop", "1.0.0")
        .webhook(WebhookGateway::new(order_placed))
        .webhook(WebhookGateway::new(order_shipped))
        .signed_webhooks()
        .router(receiver)
        .webhook_portal(outbox.clone(), portal.clone());
    let bound = app.bind(&format!("127.0.0.1:{port}")).await?;
    let base = format!("http://{}", bound.local_addr()?);
    tokio::spawn(bound.run_until(std::future::pending()));
    let dispatcher = outbox
        .dispatcher(DispatchConfig {
            poll_interval: Duration::from_millis(100),
            ..DispatchConfig::default()
        })?
        .spawn();

    let mut links = Vec::new();
    for tenant in TENANTS {
        // Each customer starts with one endpoint, so the portal has something to show.
        let endpoint = Subscription::new(format!("{base}/receiver/{tenant}"))
            .events([order_placed::NAME])
            .description(format!("{tenant}'s order system"));
        outbox.tenant(tenant).subscribe(endpoint).await?;
        links.push((
            tenant,
            format!("{base}{}", portal.link(tenant, Duration::from_secs(3600))?),
        ));
    }
    tokio::spawn(fake_event_source(outbox));
    Ok(Running {
        base,
        links,
        dispatcher,
    })
}

/// Publishes an order for each tenant every three seconds, and ships every other one.
async fn fake_event_source(outbox: Outbox) {
    for id in 1u64.. {
        for tenant in TENANTS {
            let order = Order {
                id,
                customer: format!("customer {} of {tenant}", id % 7),
                total: 1000 + id * 250,
                items: vec![Item {
                    sku: format!("SKU-{}", id % 5),
                    quantity: 1 + (id % 3) as u32,
                }],
            };
            let tenant = outbox.tenant(tenant);
            let published = if id % 2 == 0 {
                tenant.publish::<order_shipped>(&order).await
            } else {
                tenant.publish::<order_placed>(&order).await
            };
            if let Err(error) = published {
                eprintln!("publishing failed: {error}");
            }
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

/// The customers' receivers: 200, except `flaky`, which fails every other request.
async fn receive(
    State(calls): State<Arc<AtomicU64>>,
    Path(tenant): Path<String>,
) -> (StatusCode, String) {
    let n = calls.fetch_add(1, Ordering::Relaxed);
    if tenant == "flaky" && n % 2 == 0 {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "flaky receiver: try again".into(),
        );
    }
    (StatusCode::OK, format!("received by {tenant}'s receiver"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let port = match args.iter().position(|a| a == "--port") {
        Some(i) => args.get(i + 1).ok_or("--port needs a number")?.parse()?,
        None => 8000,
    };
    let running = start(port).await?;
    println!("serving on {}", running.base);
    println!(
        "receiver: {}/receiver/<name> (200), {}/receiver/flaky (500 every other time)",
        running.base, running.base
    );
    for (tenant, link) in &running.links {
        println!("portal link for {tenant} (valid 1 hour): {link}");
    }
    tokio::signal::ctrl_c().await?;
    running.dispatcher.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn each_tenant_gets_a_link_to_its_own_endpoints() {
        let running = super::start(0).await.unwrap();
        let client = reqwest::Client::new();
        for (tenant, link) in &running.links {
            let login = client.get(link).send().await.unwrap();
            assert_eq!(login.status(), 200);
            let cookie = login.headers()["set-cookie"].to_str().unwrap();
            let cookie = cookie.split(';').next().unwrap().to_owned();
            let page = client
                .get(format!("{}/webhooks/portal", running.base))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(page.contains(&format!("/receiver/{tenant}")), "{page}");
            let others = super::TENANTS.iter().filter(|t| *t != tenant);
            for other in others {
                assert!(!page.contains(&format!("/receiver/{other}")), "{page}");
            }
        }
        running.dispatcher.shutdown().await;
    }
}

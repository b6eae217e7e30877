//! Serving benchmark targets: hookspec's `/openapi.json` and the floor, an axum handler
//! returning the same bytes from a static, side by side on two loopback ports.
//!
//! ```text
//! cargo run --release -p hookspec-bench --bin serve_pair   # prints the two URLs, serves until killed
//! ```

use axum::routing::get;
use hookspec::{whpost, App, WebhookGateway};
use serde::Serialize;

/// A payment, as in the payments example.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Payment {
    is_paid: bool,
    amount: f64,
}

/// A payment was recorded.
#[whpost("new-event")]
pub async fn new_event(data: Payment) {}

fn app() -> App {
    App::new("Payments", "1.0.0").webhook(WebhookGateway::new(new_event))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let json: &'static str = Box::leak(app().openapi()?.to_pretty_json()?.into_boxed_str());
    let floor = axum::Router::new().route(
        "/openapi.json",
        get(move || async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                json,
            )
        }),
    );
    let floor_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bound = app().bind("127.0.0.1:0").await?;
    println!("hookspec http://{}/openapi.json", bound.local_addr()?);
    println!("floor http://{}/openapi.json", floor_listener.local_addr()?);
    tokio::spawn(async move { axum::serve(floor_listener, floor).await });
    bound.run().await?;
    Ok(())
}

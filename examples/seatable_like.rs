//! SeaTable-like per-base webhooks: each base's token manages that base's webhooks (create
//! with a URL, list, update, delete; the same URL twice is 409), and deliveries are signed
//! with the secret shown at creation.
//!
//! ```text
//! cargo run --example seatable_like
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use hookspec::delivery::{DispatchConfig, Outbox, SsrfPolicy};
use hookspec::management::{BearerTokens, READ, WRITE};
use hookspec::receiver::Verified;
use hookspec::signing::{Secret, Verifier};
use hookspec::{whpost, App, WebhookGateway};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A row was added to a table of a base.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Clone, Debug, PartialEq)]
pub struct RowCreated {
    dtable: String,
    table: String,
    row: serde_json::Map<String, Value>,
}

/// A row was created.
#[whpost("row.created")]
async fn row_created(data: RowCreated) {}

/// What the example observed, for its test.
#[derive(Debug)]
struct Report {
    created: StatusCode,
    duplicate: StatusCode,
    other_base_sees: usize,
    delivered: Vec<RowCreated>,
    deleted: StatusCode,
}

async fn run() -> Result<Report, Box<dyn std::error::Error>> {
    let db = std::env::temp_dir().join(format!("seatable-like-{}.db", rand::random::<u32>()));
    let outbox = Outbox::sqlite(&format!("sqlite://{}", db.display()))
        .await?
        .ssrf_policy(SsrfPolicy::new().allow("127.0.0.1")?);
    // One token per base, as SeaTable's base API tokens.
    let tokens = BearerTokens::new()
        .token("tweets-token", "workspace-1/Tweets", &[READ, WRITE])
        .token("crm-token", "workspace-1/CRM", &[READ, WRITE]);
    let app = App::new("SeaTable-like", "1.0.0")
        .webhook(WebhookGateway::new(row_created))
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
    let (url, inbox, verifier_secret) = receiver().await;
    let created = client
        .post(&api)
        .bearer_auth("tweets-token")
        .json(&json!({"url": url}))
        .send()
        .await?;
    let created_status = created.status();
    let created: Value = created.json().await?;
    let secret = Secret::parse(created["secret"].as_str().ok_or("no secret")?)?;
    *verifier_secret.lock().unwrap() = Some(Verifier::new(secret));
    let duplicate = client
        .post(&api)
        .bearer_auth("tweets-token")
        .json(&json!({"url": url}))
        .send()
        .await?
        .status();
    let other: Value = client
        .get(&api)
        .bearer_auth("crm-token")
        .send()
        .await?
        .json()
        .await?;

    let row = RowCreated {
        dtable: "Tweets".into(),
        table: "Table1".into(),
        row: serde_json::Map::from_iter([("Name".into(), json!("hello"))]),
    };
    outbox.publish::<row_created>(&row).await?;
    while outbox.delivery_counts().await?.0 > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let id = created["subscription"]["id"].as_str().ok_or("no id")?;
    let deleted = client
        .delete(format!("{api}/{id}"))
        .bearer_auth("tweets-token")
        .send()
        .await?
        .status();
    dispatcher.shutdown().await;
    let delivered = inbox.lock().unwrap().clone();
    Ok(Report {
        created: created_status,
        duplicate,
        other_base_sees: other["items"].as_array().map_or(0, Vec::len),
        delivered,
        deleted,
    })
}

type Inbox = Arc<Mutex<Vec<RowCreated>>>;
type SecretCell = Arc<Mutex<Option<Verifier>>>;

/// The base owner's endpoint: it learns its secret when the webhook is created.
async fn receiver() -> (String, Inbox, SecretCell) {
    async fn hook(
        State((inbox, cell)): State<(Inbox, SecretCell)>,
        request: axum::extract::Request,
    ) -> StatusCode {
        let Some(verifier) = cell.lock().unwrap().clone() else {
            return StatusCode::SERVICE_UNAVAILABLE;
        };
        match <Verified<RowCreated> as axum::extract::FromRequest<Verifier>>::from_request(
            request, &verifier,
        )
        .await
        {
            Ok(row) => {
                inbox.lock().unwrap().push(row.payload);
                StatusCode::OK
            }
            Err(_) => StatusCode::UNAUTHORIZED,
        }
    }
    let (inbox, cell): (Inbox, SecretCell) = Default::default();
    let app = axum::Router::new()
        .route("/seatable", post(hook))
        .with_state((Arc::clone(&inbox), Arc::clone(&cell)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/seatable", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, inbox, cell)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run().await?;
    println!(
        "create: {}, the same URL again: {}",
        report.created, report.duplicate
    );
    println!(
        "webhooks of Tweets that the CRM base's token sees: {}",
        report.other_base_sees
    );
    println!("signed deliveries verified: {:?}", report.delivered);
    println!("delete: {}", report.deleted);
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    #[tokio::test]
    async fn per_base_crud_conflict_and_signed_delivery() {
        let report = super::run().await.unwrap();
        assert_eq!(report.created, StatusCode::CREATED);
        assert_eq!(report.duplicate, StatusCode::CONFLICT);
        assert_eq!(
            report.other_base_sees, 0,
            "another base's token sees none of Tweets' webhooks"
        );
        assert_eq!(report.delivered.len(), 1);
        assert_eq!(report.delivered[0].row["Name"], "hello");
        assert_eq!(report.deleted, StatusCode::NO_CONTENT);
    }
}

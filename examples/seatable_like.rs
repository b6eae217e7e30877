//! SeaTable-like per-base webhooks: each base's token manages that base's webhooks (create
//! with a URL, list, update, delete; the same URL twice is 409), deliveries are signed with
//! the secret shown at creation, and two bases side by side each receive only their own rows:
//! a base is a tenant of the outbox.
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
    crm_sees: Vec<String>,
    tweets_delivered: Vec<RowCreated>,
    crm_delivered: Vec<RowCreated>,
    crm_reads_tweets_payloads: StatusCode,
    deleted: StatusCode,
}

/// The bases, each with its own API token: the token's owner is the base's tenant.
const TWEETS: (&str, &str) = ("workspace-1/Tweets", "tweets-token");
const CRM: (&str, &str) = ("workspace-1/CRM", "crm-token");

async fn run() -> Result<Report, Box<dyn std::error::Error>> {
    let db = std::env::temp_dir().join(format!("seatable-like-{}.db", rand::random::<u32>()));
    let outbox = Outbox::sqlite(&format!("sqlite://{}", db.display()))
        .await?
        .ssrf_policy(SsrfPolicy::new().allow("127.0.0.1")?);
    // One token per base, as SeaTable's base API tokens.
    let tokens = BearerTokens::new()
        .token(TWEETS.1, TWEETS.0, &[READ, WRITE])
        .token(CRM.1, CRM.0, &[READ, WRITE]);
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

    // Each base subscribes its own endpoint to every event.
    let client = reqwest::Client::new();
    let create = |token: &'static str, url: String| {
        let request = client
            .post(&api)
            .bearer_auth(token)
            .json(&json!({"url": url}));
        async move {
            let answer = request.send().await?;
            let status = answer.status();
            Ok::<_, reqwest::Error>((status, answer.json::<Value>().await?))
        }
    };
    let (tweets_url, tweets_inbox, tweets_secret) = receiver().await;
    let (created, tweets_hook) = create(TWEETS.1, tweets_url.clone()).await?;
    *tweets_secret.lock().unwrap() = Some(verifier(&tweets_hook)?);
    let (duplicate, _) = create(TWEETS.1, tweets_url).await?;
    let (crm_url, crm_inbox, crm_secret) = receiver().await;
    let (_, crm_hook) = create(CRM.1, crm_url).await?;
    *crm_secret.lock().unwrap() = Some(verifier(&crm_hook)?);
    let crm_list: Value = client
        .get(&api)
        .bearer_auth(CRM.1)
        .send()
        .await?
        .json()
        .await?;

    // A row in each base, published for that base.
    for (base, name) in [(TWEETS.0, "hello"), (CRM.0, "ACME Corp")] {
        let row = RowCreated {
            dtable: base.into(),
            table: "Table1".into(),
            row: serde_json::Map::from_iter([("Name".into(), json!(name))]),
        };
        outbox.tenant(base).publish::<row_created>(&row).await?;
    }
    while outbox.delivery_counts().await?.pending > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tweets_id = tweets_hook["subscription"]["id"].as_str().ok_or("no id")?;
    let crm_reads_tweets_payloads = client
        .get(format!("{api}/{tweets_id}/payloads"))
        .bearer_auth(CRM.1)
        .send()
        .await?
        .status();
    let deleted = client
        .delete(format!("{api}/{tweets_id}"))
        .bearer_auth(TWEETS.1)
        .send()
        .await?
        .status();
    dispatcher.shutdown().await;
    let crm_sees = crm_list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|hook| hook["url"].as_str().map(str::to_owned))
        .collect();
    let tweets_delivered = tweets_inbox.lock().unwrap().clone();
    let crm_delivered = crm_inbox.lock().unwrap().clone();
    Ok(Report {
        created,
        duplicate,
        crm_sees,
        tweets_delivered,
        crm_delivered,
        crm_reads_tweets_payloads,
        deleted,
    })
}

/// The verifier of a webhook from the answer that created it (the secret is shown once).
fn verifier(created: &Value) -> Result<Verifier, Box<dyn std::error::Error>> {
    let secret = created["secret"].as_str().ok_or("no secret")?;
    Ok(Verifier::new(Secret::parse(secret)?))
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
    println!("webhooks the CRM base's token sees: {:?}", report.crm_sees);
    println!("Tweets' endpoint verified: {:?}", report.tweets_delivered);
    println!("CRM's endpoint verified: {:?}", report.crm_delivered);
    println!(
        "CRM's token reading Tweets' payloads: {}",
        report.crm_reads_tweets_payloads
    );
    println!("delete: {}", report.deleted);
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    #[tokio::test]
    async fn per_base_crud_conflict_and_signed_delivery_to_each_base_alone() {
        let report = super::run().await.unwrap();
        assert_eq!(report.created, StatusCode::CREATED);
        assert_eq!(report.duplicate, StatusCode::CONFLICT);
        assert_eq!(
            report.crm_sees.len(),
            1,
            "the CRM base's token sees its own webhook only: {:?}",
            report.crm_sees
        );
        let names = |rows: &[super::RowCreated]| -> Vec<String> {
            rows.iter().map(|r| r.row["Name"].to_string()).collect()
        };
        assert_eq!(names(&report.tweets_delivered), ["\"hello\""]);
        assert_eq!(names(&report.crm_delivered), ["\"ACME Corp\""]);
        assert_eq!(
            report.crm_reads_tweets_payloads,
            StatusCode::NOT_FOUND,
            "another base's webhook does not exist for this token"
        );
        assert_eq!(report.deleted, StatusCode::NO_CONTENT);
    }
}

//! ftrack-like filtered webhooks: subscriptions carry trigger filters on the entity event, and
//! only matching events are delivered (signed, verified by the receiver kit).
//!
//! ```text
//! cargo run --example ftrack_like                  # runs the two automations and exits
//! cargo run --example ftrack_like -- --serve 8000  # serves the documents and docs pages
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use hookspec::delivery::{DispatchConfig, Outbox, SsrfPolicy, Subscription};
use hookspec::management::BearerTokens;
use hookspec::receiver::Verified;
use hookspec::signing::Verifier;
use hookspec::{whpost, App, WebhookGateway};
use serde::{Deserialize, Serialize};

/// An entity event, as ftrack sends them.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Clone, Debug)]
pub struct EntityEvent {
    entity: Entity,
}

/// The entity and its old and new direct properties.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Clone, Debug)]
pub struct Entity {
    entity_type: String,
    operation: String,
    new: serde_json::Map<String, serde_json::Value>,
    old: serde_json::Map<String, serde_json::Value>,
}

/// An entity was created or updated.
///
/// One event per changed entity; subscriptions filter them with ftrack's trigger filters.
#[whpost("entity.changed", tags = ["entities"])]
async fn entity_changed(data: EntityEvent) {}

fn event(entity_type: &str, operation: &str, new_status: &str, old_status: &str) -> EntityEvent {
    let status = |s: &str| {
        serde_json::Map::from_iter([("status_id".to_owned(), serde_json::Value::from(s))])
    };
    EntityEvent {
        entity: Entity {
            entity_type: entity_type.into(),
            operation: operation.into(),
            new: status(new_status),
            old: status(old_status),
        },
    }
}

/// A receiver (one per automation) that keeps what it verified.
async fn receiver(verifier: Verifier) -> (String, Arc<Mutex<Vec<EntityEvent>>>) {
    #[derive(Clone)]
    struct Inbox {
        verifier: Verifier,
        got: Arc<Mutex<Vec<EntityEvent>>>,
    }
    impl axum::extract::FromRef<Inbox> for Verifier {
        fn from_ref(inbox: &Inbox) -> Verifier {
            inbox.verifier.clone()
        }
    }
    async fn hook(State(inbox): State<Inbox>, event: Verified<EntityEvent>) -> StatusCode {
        inbox.got.lock().unwrap().push(event.payload);
        StatusCode::NO_CONTENT
    }
    let got: Arc<Mutex<Vec<EntityEvent>>> = Arc::default();
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(Inbox {
            verifier,
            got: Arc::clone(&got),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// Two automations, five events: returns what each automation received.
async fn run(db: &str) -> Result<(Vec<EntityEvent>, Vec<EntityEvent>), Box<dyn std::error::Error>> {
    let outbox = Outbox::sqlite(db)
        .await?
        .ssrf_policy(SsrfPolicy::new().allow("127.0.0.1")?);
    // The two trigger filters of ftrack's documentation.
    let filters = [
        r#"entity.entity_type = "Task" and entity.operation = "create""#,
        r#"entity.entity_type = "AssetVersion" and entity.operation = "update" and entity.new.status_id != entity.old.status_id and entity.new.status_id = "approved""#,
    ];
    // One ftrack server is one tenant of the outbox.
    let site = outbox.tenant("studio.ftrackapp.com");
    let mut inboxes = Vec::new();
    for filter in filters {
        let secret = hookspec::signing::Secret::generate();
        let (url, got) = receiver(Verifier::new(secret.clone())).await;
        site.subscribe(Subscription::new(url).filter(filter).secret(secret))
            .await?;
        inboxes.push(got);
    }
    let dispatcher = outbox
        .dispatcher(DispatchConfig {
            poll_interval: Duration::from_millis(20),
            ..DispatchConfig::default()
        })?
        .spawn();
    for e in [
        event("Task", "create", "new", ""),
        event("Task", "update", "done", "new"),
        event("AssetVersion", "update", "approved", "pending"),
        event("AssetVersion", "update", "approved", "approved"),
        event("AssetVersion", "create", "approved", ""),
    ] {
        site.publish::<entity_changed>(&e).await?;
    }
    while outbox.delivery_counts().await?.pending > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    dispatcher.shutdown().await;
    let take = |inbox: &Arc<Mutex<Vec<EntityEvent>>>| inbox.lock().unwrap().clone();
    Ok((take(&inboxes[0]), take(&inboxes[1])))
}

/// The provider's app: the signed webhook and the subscription-management API, documented
/// at /openapi.json, /docs (Swagger UI) and /webhook-docs (grouped by tag).
fn app(outbox: Outbox) -> App {
    App::new("ftrack-like", "1.0.0")
        .webhook(WebhookGateway::new(entity_changed))
        .signed_webhooks()
        .webhook_management(outbox, BearerTokens::new())
}

async fn serve(port: &str) -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = port
        .parse()
        .map_err(|_| format!("--serve needs a port number, not `{port}`"))?;
    let db = std::env::temp_dir().join(format!("ftrack-like-{}.db", rand::random::<u32>()));
    let outbox = Outbox::sqlite(&format!("sqlite://{}", db.display())).await?;
    let bound = app(outbox).bind(&format!("127.0.0.1:{port}")).await?;
    println!(
        "ftrack-like API on http://{}/ : open http://{0}/webhook-docs",
        bound.local_addr()?
    );
    bound.run().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {}
        [flag, port] if flag == "--serve" => return serve(port).await,
        _ => return Err("usage: ftrack_like [--serve PORT]".into()),
    }
    let db = std::env::temp_dir().join(format!("ftrack-like-{}.db", rand::random::<u32>()));
    let (tasks, approvals) = run(&format!("sqlite://{}", db.display())).await?;
    println!(
        "task automation received {} event(s): {tasks:?}",
        tasks.len()
    );
    println!(
        "approval automation received {} event(s): {approvals:?}",
        approvals.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_served_document_is_valid_and_signed() {
        let db = std::env::temp_dir().join(format!("ftrack-like-doc-{}.db", rand::random::<u32>()));
        let outbox = hookspec::delivery::Outbox::sqlite(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let doc = super::app(outbox).openapi().unwrap();
        let json = hookspec_tests::checked("ftrack_like", &doc);
        assert!(json.contains("webhook-signature"), "{json}");
    }

    #[tokio::test]
    async fn only_matching_events_reach_each_automation() {
        let db =
            std::env::temp_dir().join(format!("ftrack-like-test-{}.db", rand::random::<u32>()));
        let (tasks, approvals) = super::run(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        assert_eq!(tasks.len(), 1);
        assert_eq!(
            (
                tasks[0].entity.entity_type.as_str(),
                tasks[0].entity.operation.as_str()
            ),
            ("Task", "create")
        );
        assert_eq!(approvals.len(), 1);
        assert_eq!(approvals[0].entity.old["status_id"], "pending");
    }
}

//! Enveloped webhooks through a real delivery: the body that arrives is the documented,
//! wrapped schema (declared per webhook, per group and per gateway), and a receiver using
//! `Verified<Envelope<T>>` verifies and unwraps it.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use hookspec::receiver::Verified;
use hookspec::signing::{Secret, Verifier};
use hookspec::{webhooks, whpost, Envelope, OpenApiBuilder, WebhookGateway};
use hookspec_tests::request_body_errors;
use serde_json::Value;

use crate::support::{backends, drained, fast_config, TENANT};
use crate::{event, EntityEvent, Status, WAIT};

/// A task changed, sent in an envelope.
#[whpost("task.enveloped", envelope)]
pub async fn task_enveloped(data: EntityEvent) {}

pub struct StatusWebhooks;

#[webhooks(envelope)]
impl StatusWebhooks {
    #[whpost("status.enveloped")]
    pub async fn status_enveloped(data: Status) {}
}

/// The gateway of `other.event`, enveloped by the gateway alone.
fn other_gateway() -> WebhookGateway {
    WebhookGateway::new(crate::other_event).envelope(true)
}

/// What a receiver got: the raw body, and what `Verified<Envelope<Value>>` made of it.
#[derive(Default)]
struct Inbox {
    raw: Vec<Bytes>,
    unwrapped: Vec<Envelope<Value>>,
}

/// A receiver that keeps the raw body, then extracts `Verified<Envelope<Value>>` from it
/// as a consumer's handler would.
async fn receive(
    State((verifier, inbox)): State<(Verifier, Arc<Mutex<Inbox>>)>,
    request: Request,
) -> StatusCode {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    inbox.lock().unwrap().raw.push(bytes.clone());
    let request = Request::from_parts(parts, Body::from(bytes));
    match Verified::<Envelope<Value>>::from_request(request, &verifier).await {
        Ok(Verified { payload, .. }) => {
            inbox.lock().unwrap().unwrapped.push(payload);
            StatusCode::NO_CONTENT
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

#[tokio::test]
async fn enveloped_bodies_are_the_documented_schema_and_unwrap() {
    let doc = OpenApiBuilder::new("Enveloped", "1")
        .webhook(WebhookGateway::new(task_enveloped))
        .webhook(WebhookGateway::new(StatusWebhooks))
        .webhook(other_gateway())
        .build()
        .unwrap();
    hookspec_tests::checked("envelope_delivered", &doc);
    for backend in backends().await {
        let outbox = backend.outbox.clone().send_as_documented(&other_gateway());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let tenant = outbox.tenant(TENANT);
        let created = tenant
            .subscribe(hookspec::delivery::Subscription::new(&url))
            .await
            .unwrap();
        let verifier = Verifier::new(Secret::parse(&created.secret.expose()).unwrap());
        let inbox: Arc<Mutex<Inbox>> = Arc::default();
        let app = axum::Router::new()
            .fallback(receive)
            .with_state((verifier, Arc::clone(&inbox)));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        let task = event("Task", "create", "7", "");
        let status = Status {
            status_id: "done".into(),
        };
        tenant.publish::<task_enveloped>(&task).await.unwrap();
        tenant
            .publish::<StatusWebhooksStatusEnveloped>(&status)
            .await
            .unwrap();
        tenant.publish::<crate::other_event>(&status).await.unwrap();
        let dispatcher = outbox.dispatcher(fast_config()).unwrap().spawn();
        drained(&outbox, WAIT).await;
        dispatcher.shutdown().await;
        server.abort();

        let inbox = inbox.lock().unwrap();
        assert_eq!(inbox.raw.len(), 3, "{}", backend.name);
        assert_eq!(inbox.unwrapped.len(), 3, "{}: all verified", backend.name);
        let expected = [
            ("task.enveloped", serde_json::to_value(&task).unwrap()),
            ("status.enveloped", serde_json::to_value(&status).unwrap()),
            ("other.event", serde_json::to_value(&status).unwrap()),
        ];
        for (name, data) in expected {
            let envelope = inbox
                .unwrapped
                .iter()
                .find(|e| e.event_type == name)
                .unwrap_or_else(|| panic!("{}: no `{name}` arrived", backend.name));
            assert_eq!(envelope.data, data, "{}: {name}", backend.name);
            chrono::DateTime::parse_from_rfc3339(&envelope.timestamp)
                .unwrap_or_else(|e| panic!("{name}: timestamp {}: {e}", envelope.timestamp));
            let raw = inbox
                .raw
                .iter()
                .map(|body| serde_json::from_slice::<Value>(body).unwrap())
                .find(|body| body["type"] == name)
                .unwrap();
            assert_eq!(
                request_body_errors(&doc, name, &raw),
                Vec::<String>::new(),
                "{}: {name} as sent is not as documented: {raw}",
                backend.name
            );
            // The check can fail: the bare payload is not what the document shows.
            assert!(!request_body_errors(&doc, name, &data).is_empty());
        }
    }
}

#[tokio::test]
async fn without_the_gateway_the_outbox_sends_the_bare_payload() {
    // A gateway's envelope is the document's; the outbox follows it only when told
    // (`send_as_documented`), while a declaration's own `envelope` needs nothing.
    let backend = crate::support::sqlite().await;
    let receiver = crate::support::Receiver::answering(StatusCode::OK).await;
    backend.subscribe(&receiver).await;
    let status = Status {
        status_id: "bare".into(),
    };
    backend
        .outbox
        .tenant(TENANT)
        .publish::<crate::other_event>(&status)
        .await
        .unwrap();
    let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
    let got = receiver.wait_for(1, WAIT).await;
    dispatcher.shutdown().await;
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body, serde_json::to_value(&status).unwrap());
}

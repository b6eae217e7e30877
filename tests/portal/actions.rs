//! What a customer does: add with inline errors, browse the catalogue, send a test event and
//! see it delivered, resend, replay, rotate, edit, disable, enable, delete.

use std::time::Duration;

use hookspec::delivery::{DispatchConfig, Outbox, RetrySchedule};
use hookspec::portal::Portal;
use hookspec::{App, WebhookGateway};
use reqwest::header::LOCATION;
use reqwest::StatusCode;

use crate::support::{payment_created, Server, KEY};

#[tokio::test]
async fn bad_input_is_shown_next_to_its_field() {
    let server = Server::start().await;
    let acme = server.sign_in("acme").await;
    let response = acme
        .post(
            "/webhooks/portal/endpoints",
            &[
                ("url", "http://127.0.0.1:9/hooks"),
                ("filter", "amount = = 3"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    let error = page.split(r#"id="filter-error">"#).nth(1).expect(&page);
    assert!(
        error.starts_with("amount = = 3\n         ^ column 10: "),
        "{error}"
    );
    assert!(
        page.contains(r#"value="amount = = 3""#),
        "the input is kept"
    );
    let response = acme
        .post(
            "/webhooks/portal/endpoints",
            &[("url", "http://10.0.0.1/hooks")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains(r#"id="url-error""#));
    let response = acme
        .post(
            "/webhooks/portal/endpoints",
            &[
                ("url", "http://127.0.0.1:9/hooks"),
                ("events", "no.such.event"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("`no.such.event` is not an event"));
    assert!(server
        .outbox
        .tenant("acme")
        .subscriptions(None, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_catalogue_shows_descriptions_schemas_and_examples() {
    let server = Server::start().await;
    let acme = server.sign_in("acme").await;
    let (status, page) = acme.get("/webhooks/portal/events").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("A payment was recorded."), "{page}");
    assert!(page.contains("Sent once per payment"), "{page}");
    assert!(
        page.contains("&quot;currency&quot;: &quot;string&quot;"),
        "an example: {page}"
    );
    assert!(page.contains("&quot;properties&quot;"), "a schema: {page}");
    assert!(page.contains("webhook.test"), "{page}");
    let (_, form) = acme.get("/webhooks/portal/endpoints/new").await;
    assert!(
        form.contains(r#"name="events" value="payment.created""#),
        "{form}"
    );
    assert!(
        !form.contains(r#"value="webhook.test""#),
        "sent on request only: {form}"
    );
}

/// A receiver answering 200 with a body, counting what it got.
async fn receiver() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move || {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { "thanks from the receiver" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, count)
}

#[tokio::test]
async fn a_customer_adds_tests_sees_rotates_disables_replays_and_deletes() {
    let server = Server::start().await;
    let dispatcher = server
        .outbox
        .dispatcher(DispatchConfig {
            schedule: RetrySchedule::new([Duration::ZERO]).unwrap(),
            poll_interval: Duration::from_millis(20),
            ..DispatchConfig::default()
        })
        .unwrap()
        .spawn();
    let acme = server.sign_in("acme").await;
    let (url, received) = receiver().await;
    let (id, created) = acme.add(&url, "orders").await;
    assert!(created.contains("whsec_"), "the secret, once: {created}");
    let page_path = format!("/webhooks/portal/endpoints/{id}");
    let (_, page) = acme.get(&page_path).await;
    assert!(!page.contains("whsec_"), "and never again");

    let response = acme.post(&format!("{page_path}/test"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        format!("{page_path}?done=tested").as_str()
    );
    let mut page = String::new();
    for _ in 0..100 {
        page = acme.get(&page_path).await.1;
        if page.contains(r#"data-outcome="delivered""#) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(page.contains(r#"data-outcome="delivered""#), "{page}");
    assert!(page.contains(r#"<td class="status">200</td>"#), "{page}");
    assert!(
        page.contains("thanks from the receiver"),
        "the response excerpt: {page}"
    );
    assert!(page.contains("webhook.test"));
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 1);

    let message = page
        .split("/messages/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let resend = format!("{page_path}/messages/{message}/resend");
    assert_eq!(
        acme.post(&resend, &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    let replay = acme
        .post(
            &format!("{page_path}/replay"),
            &[("since", "2000-01-01T00:00")],
        )
        .await;
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    let bad_time = acme
        .post(&format!("{page_path}/replay"), &[("since", "yesterday")])
        .await;
    assert_eq!(bad_time.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let rotated = acme.post(&format!("{page_path}/rotate"), &[]).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    assert!(rotated.text().await.unwrap().contains("whsec_"));

    let edit = acme
        .post(
            &page_path,
            &[
                ("url", &url),
                ("description", "orders, renamed"),
                ("filter", "amount = 3"),
            ],
        )
        .await;
    assert_eq!(edit.status(), StatusCode::SEE_OTHER);
    let info = server
        .outbox
        .tenant("acme")
        .subscription(&id)
        .await
        .unwrap();
    assert_eq!(info.description.as_deref(), Some("orders, renamed"));
    assert_eq!(info.filter.as_deref(), Some("amount = 3"));
    assert!(info.events.is_empty(), "no box checked: every event");

    assert_eq!(
        acme.post(&format!("{page_path}/disable"), &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let (_, page) = acme.get(&format!("{page_path}?done=disabled")).await;
    assert!(page.contains("Disabled: deliveries wait"), "{page}");
    assert!(
        !server
            .outbox
            .tenant("acme")
            .subscription(&id)
            .await
            .unwrap()
            .enabled
    );
    assert_eq!(
        acme.post(&format!("{page_path}/enable"), &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        server
            .outbox
            .tenant("acme")
            .subscription(&id)
            .await
            .unwrap()
            .enabled
    );

    let deleted = acme.post(&format!("{page_path}/delete"), &[]).await;
    assert_eq!(deleted.headers()[LOCATION], "/webhooks/portal?done=deleted");
    assert!(server
        .outbox
        .tenant("acme")
        .subscriptions(None, 10)
        .await
        .unwrap()
        .is_empty());
    dispatcher.shutdown().await;
}

#[tokio::test]
async fn the_portal_and_the_management_api_mount_together() {
    let dir = std::env::temp_dir().join(format!("hookspec-portal-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let outbox = Outbox::sqlite(&format!("sqlite://{}", dir.join("o.db").display()))
        .await
        .unwrap();
    let doc = App::new("Payments", "1.0.0")
        .webhook(WebhookGateway::new(payment_created))
        .webhook_management(outbox.clone(), hookspec::management::BearerTokens::new())
        .webhook_portal(outbox, Portal::new(KEY).unwrap())
        .openapi()
        .unwrap();
    let doc = serde_json::to_value(doc).unwrap();
    assert!(doc["webhooks"]["webhook.test"].is_object());
    assert!(
        doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .all(|p| !p.contains("portal")),
        "the pages are not API"
    );
}

//! The management API over real HTTP: auth, owners, every route, bad input as JSON 4xx.

use std::time::Duration;

use hookspec::delivery::{Outbox, SsrfPolicy};
use hookspec::management::{BearerTokens, READ, WRITE};
use hookspec::{whpost, App, WebhookGateway};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Payment {
    amount: f64,
}

/// A payment was recorded.
#[whpost("payment.created")]
pub async fn payment_created(data: Payment) {}

struct Api {
    base: String,
    outbox: Outbox,
    client: reqwest::Client,
}

impl Api {
    async fn start() -> Api {
        let dir = std::env::temp_dir().join(format!("hookspec-mgmt-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let outbox = Outbox::sqlite(&format!("sqlite://{}", dir.join("o.db").display()))
            .await
            .unwrap()
            .ssrf_policy(SsrfPolicy::new().allow("127.0.0.1").unwrap());
        let tokens = BearerTokens::new()
            .token("alice-token", "alice", &[READ, WRITE])
            .token("bob-token", "bob", &[READ, WRITE])
            .token("reader-token", "alice", &[READ]);
        let app = App::new("Payments", "1.0.0")
            .webhook(WebhookGateway::new(payment_created))
            .webhook_management(outbox.clone(), tokens);
        let bound = app.bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", bound.local_addr().unwrap());
        tokio::spawn(bound.run_until(std::future::pending()));
        Api {
            base,
            outbox,
            client: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }
}

fn hook_url(n: u16) -> String {
    format!("http://127.0.0.1:{n}/hooks")
}

#[tokio::test]
async fn the_api_is_documented_beside_the_webhooks() {
    let api = Api::start().await;
    let doc: Value = api
        .client
        .get(format!("{}/openapi.json", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/webhooks/subscriptions",
        "/webhooks/subscriptions/{id}",
        "/webhooks/subscriptions/{id}/payloads",
        "/webhooks/events",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    assert!(doc["webhooks"]["payment.created"]["post"].is_object());
    assert!(
        doc["webhooks"]["webhook.test"]["post"].is_object(),
        "the test event is documented too"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let parsed: utoipa::openapi::OpenApi = serde_json::from_value(doc).unwrap();
    hookspec_tests::checked("management_api", &parsed);
    let (status, events) = api.get("/webhooks/events", "alice-token").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events[0]["name"], "payment.created");
    assert_eq!(
        events[0]["schema"]["properties"]["amount"]["type"],
        "number"
    );
}

#[tokio::test]
async fn owners_tokens_and_scopes() {
    let api = Api::start().await;
    let (status, created) = api
        .post(
            "/webhooks/subscriptions",
            "alice-token",
            json!({"url": hook_url(9001), "events": ["payment.created"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    let id = created["subscription"]["id"].as_str().unwrap().to_owned();

    assert_eq!(
        api.get(&format!("/webhooks/subscriptions/{id}"), "alice-token")
            .await
            .0,
        StatusCode::OK
    );
    let (status, error) = api
        .get(&format!("/webhooks/subscriptions/{id}"), "bob-token")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another owner's id");
    assert_eq!(error["error"]["code"], "not_found");
    let (status, error) = api
        .call(reqwest::Method::GET, "/webhooks/subscriptions", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Bearer"));
    assert_eq!(
        api.get("/webhooks/subscriptions", "wrong").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, error) = api
        .post(
            "/webhooks/subscriptions",
            "reader-token",
            json!({"url": hook_url(9002)}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("webhooks:write"));

    let (status, _) = api
        .post(
            "/webhooks/subscriptions",
            "alice-token",
            json!({"url": hook_url(9001), "events": ["payment.created"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "same URL and events for the same owner"
    );
    let (status, _) = api
        .post(
            "/webhooks/subscriptions",
            "bob-token",
            json!({"url": hook_url(9001), "events": ["payment.created"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "another owner may");

    let (_, page) = api.get("/webhooks/subscriptions", "alice-token").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(
        !page.to_string().contains("whsec_"),
        "secrets never appear in lists: {page}"
    );
}

#[tokio::test]
async fn bad_input_is_a_json_4xx_and_writes_nothing() {
    let api = Api::start().await;
    let cases = [
        (
            json!({"url": "not a url"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_subscription",
        ),
        (
            json!({"url": "http://10.0.0.1/hooks"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_subscription",
        ),
        (
            json!({"url": hook_url(9003), "events": ["nope"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_event",
        ),
        (
            json!({"url": hook_url(9003), "filter": "amount == 1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_filter",
        ),
        (
            json!({"url": hook_url(9003), "colour": "red"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"events": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"url": hook_url(9003), "description": "x".repeat(70_000)}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (body, status, code) in cases {
        let (got, error) = api
            .post("/webhooks/subscriptions", "alice-token", body.clone())
            .await;
        assert_eq!(
            (got, error["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {error}"
        );
    }
    let (_, error) = api
        .post(
            "/webhooks/subscriptions",
            "alice-token",
            json!({"url": hook_url(9003), "filter": "amount == 1"}),
        )
        .await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("column 8"),
        "the filter error has its position: {error}"
    );
    let malformed = api
        .client
        .post(format!("{}/webhooks/subscriptions", api.base))
        .bearer_auth("alice-token")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        malformed.json::<Value>().await.unwrap()["error"]["code"],
        "malformed_body"
    );
    let (_, page) = api.get("/webhooks/subscriptions", "alice-token").await;
    assert_eq!(page["items"], json!([]), "nothing half-written");
    // Changing the events is held to the catalogue too.
    let (_, created) = api
        .post(
            "/webhooks/subscriptions",
            "alice-token",
            json!({"url": hook_url(9003)}),
        )
        .await;
    let id = created["subscription"]["id"].as_str().unwrap();
    let path = format!("/webhooks/subscriptions/{id}");
    let (status, error) = api
        .call(
            reqwest::Method::PATCH,
            &path,
            Some("alice-token"),
            Some(json!({"events": ["nope"]})),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_event")),
        "{error}"
    );
    let (_, unchanged) = api.get(&path, "alice-token").await;
    assert_eq!(unchanged["events"], json!([]), "{unchanged}");
}

#[tokio::test]
async fn update_page_enable_disable_rotate_pull_and_delete() {
    let api = Api::start().await;
    let mut ids = Vec::new();
    for port in [9101, 9102, 9103] {
        let (_, created) = api
            .post(
                "/webhooks/subscriptions",
                "alice-token",
                json!({"url": hook_url(port)}),
            )
            .await;
        ids.push(created["subscription"]["id"].as_str().unwrap().to_owned());
    }
    let (_, first) = api
        .get("/webhooks/subscriptions?limit=2", "alice-token")
        .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap();
    let (_, second) = api
        .get(
            &format!("/webhooks/subscriptions?limit=2&after={next}"),
            "alice-token",
        )
        .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next"].is_null());
    assert_eq!(
        api.get("/webhooks/subscriptions?limit=0", "alice-token")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    let id = &ids[0];
    let (status, updated) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/webhooks/subscriptions/{id}"),
            Some("alice-token"),
            Some(json!({"events": ["payment.created"], "filter": "amount != 0", "description": "<b>orders</b>"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["filter"], "amount != 0");
    assert_eq!(updated["description"], "<b>orders</b>", "stored as given");
    let (_, cleared) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/webhooks/subscriptions/{id}"),
            Some("alice-token"),
            Some(json!({"description": null})),
        )
        .await;
    assert!(cleared["description"].is_null(), "{cleared}");
    assert_eq!(cleared["filter"], "amount != 0", "the rest is kept");
    let (_, disabled) = api
        .post(
            &format!("/webhooks/subscriptions/{id}/disable"),
            "alice-token",
            json!({}),
        )
        .await;
    assert_eq!(
        (
            disabled["enabled"].clone(),
            disabled["disabled_reason"].clone()
        ),
        (json!(false), json!("manual"))
    );
    let (_, enabled) = api
        .post(
            &format!("/webhooks/subscriptions/{id}/enable"),
            "alice-token",
            json!({}),
        )
        .await;
    assert_eq!(enabled["enabled"], true);
    let (status, rotated) = api
        .post(
            &format!("/webhooks/subscriptions/{id}/rotate-secret"),
            "alice-token",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(rotated["secret"].as_str().unwrap().starts_with("whsec_"));

    for amount in [1.0, 2.0, 3.0] {
        api.outbox
            .tenant("alice")
            .publish::<payment_created>(&Payment { amount })
            .await
            .unwrap();
    }
    let (_, page) = api
        .get(
            &format!("/webhooks/subscriptions/{id}/payloads?limit=2"),
            "alice-token",
        )
        .await;
    let payloads = page["payloads"].as_array().unwrap();
    assert_eq!(
        payloads
            .iter()
            .map(|p| p["payload"]["amount"].as_f64().unwrap())
            .collect::<Vec<_>>(),
        [1.0, 2.0]
    );
    let cursor = page["cursor"].as_i64().unwrap();
    let (_, rest) = api
        .get(
            &format!("/webhooks/subscriptions/{id}/payloads?cursor={cursor}"),
            "alice-token",
        )
        .await;
    assert_eq!(rest["payloads"].as_array().unwrap().len(), 1);
    assert_eq!(rest["payloads"][0]["payload"]["amount"], 3.0);
    let message = rest["payloads"][0]["message_id"].as_str().unwrap();
    let (status, attempts) = api
        .get(
            &format!("/webhooks/messages/{message}/attempts"),
            "alice-token",
        )
        .await;
    assert_eq!(
        (status, attempts),
        (StatusCode::OK, json!({"items": [], "next": null})),
        "nothing dispatched yet"
    );

    let (status, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/webhooks/subscriptions/{id}"),
            Some("bob-token"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "bob cannot delete alice's");
    let (status, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/webhooks/subscriptions/{id}"),
            Some("alice-token"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get(&format!("/webhooks/subscriptions/{id}"), "alice-token")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
}

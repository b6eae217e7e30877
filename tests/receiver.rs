//! The receiver kit: `Verified<T>` and `Dedup`, against hookspec's own signer, its outbox,
//! and (where a Python has `standardwebhooks`: see `hookspec_tests::services`) the Python package.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use hookspec::delivery::{Outbox, SsrfPolicy, Subscription};
use hookspec::receiver::{Dedup, Verified};
use hookspec::signing::{Secret, Signer, Verifier};
use hookspec::whpost;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, utoipa::ToSchema, Debug, PartialEq)]
pub struct Payment {
    amount: f64,
}

#[whpost("payment.created")]
pub async fn payment_created(data: Payment) {}

#[derive(Clone)]
struct State {
    verifier: Verifier,
    dedup: Arc<Dedup>,
    got: Arc<std::sync::Mutex<Vec<(String, f64)>>>,
}

impl axum::extract::FromRef<State> for Verifier {
    fn from_ref(state: &State) -> Verifier {
        state.verifier.clone()
    }
}

async fn receive(
    axum::extract::State(state): axum::extract::State<State>,
    hook: Verified<Payment>,
) -> StatusCode {
    if state.dedup.first_time(&hook.id) {
        state
            .got
            .lock()
            .unwrap()
            .push((hook.id, hook.payload.amount));
    }
    StatusCode::NO_CONTENT
}

async fn serve(secret: &Secret) -> (String, State) {
    let state = State {
        verifier: Verifier::new(secret.clone()),
        dedup: Arc::new(Dedup::new(Duration::from_secs(3600), 10_000)),
        got: Arc::default(),
    };
    let app = Router::new()
        .route("/hooks", post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn send(
    url: &str,
    id: &str,
    ts: i64,
    signature: &str,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn verified_accepts_good_signatures_and_explains_rejections() {
    let secret = Secret::generate();
    let signer = Signer::new(secret.clone());
    let (url, state) = serve(&secret).await;
    let body = r#"{"amount": 12.5}"#;
    let ts = now();
    let good = signer.sign("msg_1", ts, body.as_bytes());

    assert_eq!(
        send(&url, "msg_1", ts, &good, body).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&url, "msg_1", ts, &good, body).await.0,
        StatusCode::NO_CONTENT,
        "a duplicate is acknowledged"
    );
    assert_eq!(
        *state.got.lock().unwrap(),
        [("msg_1".to_owned(), 12.5)],
        "and processed once"
    );

    let (status, error) = send(&url, "msg_1", ts, &good, r#"{"amount": 99}"#).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["error"]["code"], "invalid_signature");

    let stale = ts - 3600;
    let (status, error) = send(
        &url,
        "msg_2",
        stale,
        &signer.sign("msg_2", stale, body.as_bytes()),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too old"),
        "{error}"
    );

    let response = reqwest::Client::new()
        .post(&url)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let error: serde_json::Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing header"),
        "{error}"
    );

    let bad_json = r#"{"amount": "lots"}"#;
    let (status, error) = send(
        &url,
        "msg_3",
        ts,
        &signer.sign("msg_3", ts, bad_json.as_bytes()),
        bad_json,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "invalid_body");
}

#[tokio::test]
async fn what_the_outbox_sends_the_receiver_kit_verifies() {
    let dir = std::env::temp_dir().join(format!("hookspec-receiver-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let outbox = Outbox::sqlite(&format!("sqlite://{}", dir.join("o.db").display()))
        .await
        .unwrap()
        .ssrf_policy(SsrfPolicy::new().allow("127.0.0.1").unwrap());
    let secret = Secret::generate();
    let (url, state) = serve(&secret).await;
    let tenant = outbox.tenant("acme");
    tenant
        .subscribe(Subscription::new(&url).secret(secret))
        .await
        .unwrap();
    let dispatcher = outbox
        .dispatcher(hookspec::delivery::DispatchConfig::default())
        .unwrap()
        .spawn();
    for amount in [1.0, 2.0, 3.0] {
        tenant
            .publish::<payment_created>(&Payment { amount })
            .await
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while state.got.lock().unwrap().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "not all verified in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        outbox.delivery_counts().await.unwrap().failed,
        0,
        "no delivery failed verification"
    );
    dispatcher.shutdown().await;
}

/// Both directions with the Python `standardwebhooks` package (`HOOKSPEC_PYTHON`, or
/// `python3` if it has the package; `.ci/run` makes a venv with it).
#[test]
fn interop_with_the_python_standardwebhooks_package() {
    let Some(python) = hookspec_tests::services::python() else {
        return; // hookspec_tests::services said why
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop_standardwebhooks.py");
    let secret = Secret::generate();
    let (id, ts, body) = ("msg_interop", now(), r#"{"amount": 7}"#);
    let ours = Signer::new(secret.clone()).sign(id, ts, body.as_bytes());
    let verify = std::process::Command::new(python)
        .args([
            script,
            "verify",
            &secret.expose(),
            id,
            &ts.to_string(),
            &ours,
            body,
        ])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "Python rejects hookspec's signature: {}",
        String::from_utf8_lossy(&verify.stderr)
    );

    let sign = std::process::Command::new(python)
        .args([script, "sign", &secret.expose(), id, &ts.to_string(), body])
        .output()
        .unwrap();
    assert!(
        sign.status.success(),
        "{}",
        String::from_utf8_lossy(&sign.stderr)
    );
    let theirs = String::from_utf8(sign.stdout).unwrap();
    let headers = [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", theirs.trim().to_owned()),
    ];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    };
    Verifier::new(secret)
        .verify(header, body.as_bytes())
        .expect("hookspec verifies the Python signature");
}

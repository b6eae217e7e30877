//! `App` over real HTTP: a server on an ephemeral loopback port, a real client.

use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use hookspec::{whpost, App, AppError, Endpoints, WebhookGateway};
use hookspec_tests::checked;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    amount: f64,
}

#[whpost("new-event")]
pub async fn new_event(data: Payment) {}

#[utoipa::path(post, path = "/create", request_body = Payment, responses((status = 201, description = "Created")))]
async fn create_payment(Json(_): Json<Payment>) -> StatusCode {
    StatusCode::CREATED
}

fn app() -> App {
    App::new("Payments", "1.0.0")
        .routes(OpenApiRouter::new().routes(routes!(create_payment)))
        .router(axum::Router::new().route("/healthz", get(|| async { "ok" })))
        .webhook(WebhookGateway::new(new_event))
}

/// A running server; dropping it stops the server.
struct Running {
    base: String,
    client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl Running {
    async fn start(app: App) -> Running {
        let bound = app
            .bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let base = format!("http://{}", bound.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(bound.run_until(async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Running {
            base,
            client,
            _stop: stop,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }
}

#[tokio::test]
async fn each_document_endpoint_serves_with_an_etag_and_answers_304() {
    let server = Running::start(app()).await;
    for (path, content_type) in [
        ("/openapi.json", "application/json"),
        ("/openapi.yaml", "application/yaml"),
    ] {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()[CONTENT_TYPE], content_type, "{path}");
        let etag = response.headers()[ETAG].clone();
        assert!(
            etag.to_str().unwrap().starts_with('"'),
            "a strong, quoted ETag: {etag:?}"
        );
        assert!(response.text().await.unwrap().contains("new-event"));

        let again = server
            .client
            .get(format!("{}{path}", server.base))
            .header(IF_NONE_MATCH, etag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()[ETAG], etag);
        assert!(again.bytes().await.unwrap().is_empty());

        let stale = server
            .client
            .get(format!("{}{path}", server.base))
            .header(IF_NONE_MATCH, "\"other\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), StatusCode::OK);

        let head = server
            .client
            .head(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn the_served_json_is_the_valid_document_with_routes_and_webhooks() {
    let server = Running::start(app()).await;
    let served: serde_json::Value = server.get("/openapi.json").await.json().await.unwrap();
    let doc = app().openapi().unwrap();
    assert_eq!(served, serde_json::to_value(&doc).unwrap());
    assert!(
        served["paths"]["/create"]["post"].is_object(),
        "documented route"
    );
    assert!(
        served["paths"].get("/healthz").is_none(),
        "a plain router is not documented"
    );
    assert!(served["webhooks"]["new-event"]["post"].is_object());
    checked("app_served", &doc);
}

#[tokio::test]
async fn ordinary_routes_still_work() {
    let server = Running::start(app()).await;
    assert_eq!(server.get("/healthz").await.text().await.unwrap(), "ok");
    let created = server
        .client
        .post(format!("{}/create", server.base))
        .json(&serde_json::json!({"amount": 1.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn docs_is_swagger_ui_served_from_the_binary() {
    let server = Running::start(app()).await;
    let redirect = server.get("/docs").await;
    assert!(redirect.status().is_redirection());
    assert_eq!(redirect.headers()[LOCATION], "/docs/");
    let page = server.get("/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "no CDN: every asset is local: {html}"
    );
    let init = server
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
    let bundle = server.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), StatusCode::OK);
}

#[tokio::test]
async fn endpoints_move_and_switch_off() {
    let endpoints = Endpoints::default()
        .json(Some("/spec.json"))
        .yaml(None)
        .docs(None);
    let server = Running::start(app().endpoints(endpoints)).await;
    assert_eq!(server.get("/spec.json").await.status(), StatusCode::OK);
    for gone in ["/openapi.json", "/openapi.yaml", "/docs", "/docs/"] {
        assert_eq!(
            server.get(gone).await.status(),
            StatusCode::NOT_FOUND,
            "{gone}"
        );
    }
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    let Err(err) = app().bind(&addr).await else {
        panic!("the port is taken")
    };
    assert!(
        matches!(&err, AppError::Bind { addr: a, .. } if *a == addr),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("cannot listen on {addr}: ")),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_configuration_fails_before_binding() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().to_string();
    // The document error wins over the taken port: nothing binds before the document builds.
    let err = app()
        .webhook(WebhookGateway::new(new_event))
        .bind(&taken)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            AppError::Document(hookspec::Error::DuplicateWebhook { .. })
        ),
        "{err}"
    );

    let clash = app().router(axum::Router::new().route("/openapi.json", get(|| async { "mine" })));
    let Err(err) = clash.into_router() else {
        panic!("expected a route conflict")
    };
    assert!(matches!(err, AppError::RouteConflict(_)), "{err}");

    let err = app()
        .endpoints(Endpoints::default().json(Some("openapi.json")))
        .into_router()
        .err()
        .unwrap();
    assert!(matches!(err, AppError::Config(_)), "{err}");
}

#[tokio::test]
async fn shuts_down_gracefully_on_signal() {
    let bound = app().bind("127.0.0.1:0").await.unwrap();
    let addr = bound.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(bound.run_until(async move {
        let _ = stopped.await;
    }));
    assert_eq!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .is_err(),
        "no longer listening"
    );
}

//! The customer portal over real HTTP: links and sessions, CSRF, escaping, tenant isolation,
//! and every action through to a delivery.

use std::time::Duration;

use hookspec::delivery::{DispatchConfig, Outbox, RetrySchedule, SsrfPolicy};
use hookspec::portal::{Portal, PortalError};
use hookspec::{whpost, App, WebhookGateway};
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Payment {
    /// In cents.
    amount: u64,
    currency: String,
}

/// A payment was recorded.
///
/// Sent once per payment, after the transaction commits.
#[whpost("payment.created")]
pub async fn payment_created(data: Payment) {}

const KEY: &[u8] = b"portal test key: thirty-two bytes or more";

struct Server {
    base: String,
    outbox: Outbox,
    portal: Portal,
    client: reqwest::Client,
}

/// A signed-in browser, as far as the portal can tell: its cookie and its CSRF token.
struct Browser<'a> {
    server: &'a Server,
    cookie: String,
    csrf: String,
}

impl Server {
    async fn start() -> Server {
        let dir = std::env::temp_dir().join(format!("hookspec-portal-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let outbox = Outbox::sqlite(&format!("sqlite://{}", dir.join("o.db").display()))
            .await
            .unwrap()
            .ssrf_policy(SsrfPolicy::new().allow("127.0.0.1").unwrap());
        let portal = Portal::new(KEY).unwrap().secure_cookie(false);
        let app = App::new("Payments", "1.0.0")
            .webhook(WebhookGateway::new(payment_created))
            .webhook_portal(outbox.clone(), portal.clone());
        let bound = app.bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", bound.local_addr().unwrap());
        tokio::spawn(bound.run_until(std::future::pending()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Server {
            base,
            outbox,
            portal,
            client,
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Opens a link as a browser would, and reads the CSRF token off the endpoints page.
    async fn sign_in(&self, tenant: &str) -> Browser<'_> {
        let link = self.portal.link(tenant, Duration::from_secs(60)).unwrap();
        let response = self
            .client
            .get(format!("{}{link}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let (status, page) = self
            .get("/webhooks/portal/endpoints/new", Some(&cookie))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        Browser {
            server: self,
            csrf: csrf_of(&page),
            cookie,
        }
    }
}

fn csrf_of(page: &str) -> String {
    let at = page
        .find(r#"name="csrf" value=""#)
        .expect("a form with a CSRF token");
    let rest = &page[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

impl Browser<'_> {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        self.server.get(path, Some(&self.cookie)).await
    }

    /// Posts a form with this session's CSRF token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = fields.to_vec();
        fields.push(("csrf", &self.csrf));
        self.post_raw(path, &fields).await
    }

    async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.server
            .client
            .post(format!("{}{path}", self.server.base))
            .header(COOKIE, &self.cookie)
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// Adds an endpoint and returns its id and the page showing its secret.
    async fn add(&self, url: &str, description: &str) -> (String, String) {
        let response = self
            .post(
                "/webhooks/portal/endpoints",
                &[
                    ("url", url),
                    ("description", description),
                    ("events", "payment.created"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.unwrap();
        let at = page
            .find("/endpoints/sub_")
            .expect("a link to the endpoint");
        let id = page[at + "/endpoints/".len()..]
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        (id, page)
    }
}

#[tokio::test]
async fn a_link_opens_a_session_for_its_tenant_only() {
    let server = Server::start().await;
    let link = server.portal.link("acme", Duration::from_secs(60)).unwrap();
    assert!(link.starts_with("/webhooks/portal/login?token="), "{link}");
    let response = server
        .client
        .get(format!("{}{link}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/webhooks/portal",
        "Max-Age=",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let token = link.split("token=").nth(1).unwrap();
    assert!(
        !cookie.contains(token),
        "the session is not the link's token"
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains(r#"http-equiv="refresh" content="0; url=/webhooks/portal""#),
        "moves on to a URL without the token: {page}"
    );

    // No session, an expired link, a tampered link, a forged session.
    let (status, page) = server.get("/webhooks/portal", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("Open this portal with the link"), "{page}");
    let short = server.portal.link("acme", Duration::from_secs(1)).unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, page) = server.get(&short, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("This link has expired"), "{page}");
    let other_key = Portal::new([9u8; 32]).unwrap();
    let forged = other_key.link("acme", Duration::from_secs(60)).unwrap();
    let tampered = format!("{}x", &link);
    for bad in [forged.as_str(), tampered.as_str(), "/webhooks/portal/login"] {
        let (status, page) = server.get(bad, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{bad}");
        assert!(page.contains("This link is not valid"), "{page}");
    }
    let link_as_cookie = format!("hookspec_portal={token}");
    let (status, _) = server.get("/webhooks/portal", Some(&link_as_cookie)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a link's token is no session"
    );
}

#[tokio::test]
async fn links_with_bad_settings_are_errors() {
    assert_eq!(
        Portal::new(b"short").unwrap_err(),
        PortalError::KeyTooShort(5)
    );
    let portal = Portal::new(KEY).unwrap();
    for ttl in [Duration::ZERO, Duration::from_secs(25 * 3600)] {
        assert_eq!(portal.link("acme", ttl), Err(PortalError::BadTtl(ttl)));
    }
    let error = portal.link("", Duration::from_secs(60)).unwrap_err();
    assert!(error.to_string().contains("is empty"), "{error}");
    for path in ["portal", "/portal/", "/a b", "/{id}", "/a?b"] {
        assert!(
            matches!(
                Portal::new(KEY).unwrap().at(path),
                Err(PortalError::BadPath(_))
            ),
            "{path}"
        );
    }
    assert!(Portal::new(KEY).unwrap().public_url("ftp://x").is_err());
    let portal = Portal::new(KEY)
        .unwrap()
        .at("/support/hooks")
        .unwrap()
        .public_url("https://api.example.com/")
        .unwrap();
    let link = portal.link("acme", Duration::from_secs(60)).unwrap();
    assert!(
        link.starts_with("https://api.example.com/support/hooks/login?token="),
        "{link}"
    );
    assert!(
        !format!("{portal:?}").contains("thirty-two"),
        "the key is not in Debug"
    );
}

#[tokio::test]
async fn pages_escape_what_customers_typed_under_a_csp_without_scripts() {
    let server = Server::start().await;
    let acme = server.sign_in("acme").await;
    let xss = "<script>alert(1)</script>";
    let (id, _) = acme.add("http://127.0.0.1:9/hooks", xss).await;
    for path in [
        "/webhooks/portal".to_owned(),
        format!("/webhooks/portal/endpoints/{id}"),
    ] {
        let response = server
            .client
            .get(format!("{}{path}", server.base))
            .header(COOKIE, &acme.cookie)
            .send()
            .await
            .unwrap();
        let csp = response.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(
            !csp.contains("script-src"),
            "no script source at all: {csp}"
        );
        let page = response.text().await.unwrap();
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(!page.contains(xss), "{page}");
        assert!(
            !page.contains("<script"),
            "the portal has no script: {page}"
        );
    }
    let (status, css) = server.get("/webhooks/portal/assets/portal.css", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains("body"));
}

#[tokio::test]
async fn a_post_without_the_sessions_csrf_token_changes_nothing() {
    let server = Server::start().await;
    let acme = server.sign_in("acme").await;
    let globex = server.sign_in("globex").await;
    let fields = [("url", "http://127.0.0.1:9/hooks")];
    let (id, _) = acme.add("http://127.0.0.1:9/other", "").await;
    let with_globex_token = [
        ("url", "http://127.0.0.1:9/hooks"),
        ("csrf", globex.csrf.as_str()),
    ];
    let wrong = [("url", "http://127.0.0.1:9/hooks"), ("csrf", "AAAA")];
    for attempt in [&fields[..], &wrong[..], &with_globex_token[..]] {
        let response = acme.post_raw("/webhooks/portal/endpoints", attempt).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.text().await.unwrap().contains("CSRF token"));
        let disable = format!("/webhooks/portal/endpoints/{id}/disable");
        assert_eq!(
            acme.post_raw(&disable, attempt).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let listed = server
        .outbox
        .tenant("acme")
        .subscriptions(None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "nothing was created");
    assert!(listed[0].enabled, "nothing was disabled");
    // A GET changes nothing either: actions are POST only.
    let (status, _) = acme
        .get(&format!("/webhooks/portal/endpoints/{id}/disable"))
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_tenant_sees_and_touches_only_its_own_endpoints() {
    let server = Server::start().await;
    let acme = server.sign_in("acme").await;
    let globex = server.sign_in("globex").await;
    let (acme_id, _) = acme.add("http://127.0.0.1:9/acme-only", "acme's").await;
    let (_, page) = globex.get("/webhooks/portal").await;
    assert!(
        !page.contains("acme-only") && !page.contains(&acme_id),
        "{page}"
    );
    let (status, page) = globex
        .get(&format!("/webhooks/portal/endpoints/{acme_id}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!page.contains("acme-only"), "{page}");
    for action in ["disable", "delete", "rotate", "test"] {
        let path = format!("/webhooks/portal/endpoints/{acme_id}/{action}");
        assert_eq!(
            globex.post(&path, &[]).await.status(),
            StatusCode::FORBIDDEN,
            "{action}"
        );
    }
    let edit = format!("/webhooks/portal/endpoints/{acme_id}");
    let response = globex
        .post(&edit, &[("url", "http://127.0.0.1:9/stolen")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let kept = server
        .outbox
        .tenant("acme")
        .subscription(&acme_id)
        .await
        .unwrap();
    assert_eq!(kept.url, "http://127.0.0.1:9/acme-only");
    assert!(kept.enabled);
}

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

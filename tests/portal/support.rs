//! A portal server on SQLite and a signed-in "browser" for the tests: its session cookie and
//! the CSRF token read off a page.

use std::time::Duration;

use hookspec::delivery::{Outbox, SsrfPolicy};
use hookspec::portal::Portal;
use hookspec::{whpost, App, WebhookGateway};
use reqwest::header::{COOKIE, SET_COOKIE};
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

pub const KEY: &[u8] = b"portal test key: thirty-two bytes or more";

pub struct Server {
    pub base: String,
    pub outbox: Outbox,
    pub portal: Portal,
    pub client: reqwest::Client,
}

/// A signed-in browser, as far as the portal can tell: its cookie and its CSRF token.
pub struct Browser<'a> {
    server: &'a Server,
    pub cookie: String,
    pub csrf: String,
}

impl Server {
    pub async fn start() -> Server {
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

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Opens `link` and returns the session cookie it sets, as `name=value`.
    pub async fn get_cookie(&self, link: &str) -> String {
        let response = self
            .client
            .get(format!("{}{link}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap();
        set_cookie.split(';').next().unwrap().to_owned()
    }

    /// Opens a link as a browser would, and reads the CSRF token off the add-endpoint page.
    pub async fn sign_in(&self, tenant: &str) -> Browser<'_> {
        let link = self.portal.link(tenant, Duration::from_secs(60)).unwrap();
        let cookie = self.get_cookie(&link).await;
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

pub fn csrf_of(page: &str) -> String {
    let at = page
        .find(r#"name="csrf" value=""#)
        .expect("a form with a CSRF token");
    let rest = &page[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

impl Browser<'_> {
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        self.server.get(path, Some(&self.cookie)).await
    }

    /// Posts a form with this session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = fields.to_vec();
        fields.push(("csrf", &self.csrf));
        self.post_raw(path, &fields).await
    }

    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
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
    pub async fn add(&self, url: &str, description: &str) -> (String, String) {
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

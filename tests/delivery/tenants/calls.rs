//! The management calls of the tenant matrix: the API over real HTTP, the table of routes
//! tried across tenants, and the tally of what got through.

use hookspec::delivery::Outbox;
use hookspec::management::BearerTokens;
use hookspec::{App, WebhookGateway};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{entity_changed, other_event};

/// The management API mounted on an outbox, called over real HTTP.
pub(crate) struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    pub(crate) async fn start(outbox: &Outbox, tokens: BearerTokens) -> Api {
        let app = App::new("Tenants", "1")
            .webhook(WebhookGateway::new(entity_changed))
            .webhook(WebhookGateway::new(other_event))
            .webhook_management(outbox.clone(), tokens);
        let bound = app.bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", bound.local_addr().unwrap());
        tokio::spawn(bound.run_until(std::future::pending()));
        Api {
            base,
            client: reqwest::Client::new(),
        }
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// What a call that got through across tenants was.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Read,
    Write,
}

/// How a call across tenants must be refused.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Refusal {
    NotFound,
    /// 200 with nothing in `items`: the listing reads answer, but show nothing foreign.
    EmptyPage,
}

/// One management call. In `path`, `{sub}` is the subscription it targets, `{own}` one of the
/// caller's own, and `{msg}` a message queued for `{sub}`; in `body`, `{own_url}` is the
/// caller's own receiver (a PATCH that got through would hijack the target's deliveries).
pub(super) struct Route {
    pub(super) method: Method,
    pub(super) path: &'static str,
    pub(super) body: Option<Value>,
    pub(super) kind: Kind,
    pub(super) refusal: Refusal,
    /// What the owner gets for the same call on its own subscription: the control showing
    /// that the route exists, so that its 404 across tenants means something.
    pub(super) own: StatusCode,
}

/// Every route that names a subscription or a message. DELETE comes last, so that a delete
/// that got through cannot hide what the calls after it would have done.
pub(super) fn routes() -> Vec<Route> {
    use Kind::{Read, Write};
    use Refusal::{EmptyPage, NotFound};
    let route = |method, path, body, kind, refusal, own| Route {
        method,
        path,
        body,
        kind,
        refusal,
        own,
    };
    let sub = "/webhooks/subscriptions/{sub}";
    vec![
        route(Method::GET, sub, None, Read, NotFound, StatusCode::OK),
        route(
            Method::GET,
            "/webhooks/subscriptions/{sub}/payloads?cursor=1&limit=100",
            None,
            Read,
            NotFound,
            StatusCode::OK,
        ),
        route(
            Method::GET,
            "/webhooks/messages/{msg}/attempts?after=0&limit=100",
            None,
            Read,
            EmptyPage,
            StatusCode::OK,
        ),
        route(
            Method::PATCH,
            sub,
            Some(json!({"url": "{own_url}", "events": ["other.event"], "filter": null})),
            Write,
            NotFound,
            StatusCode::OK,
        ),
        route(
            Method::POST,
            "/webhooks/subscriptions/{sub}/enable",
            None,
            Write,
            NotFound,
            StatusCode::OK,
        ),
        route(
            Method::POST,
            "/webhooks/subscriptions/{sub}/disable",
            None,
            Write,
            NotFound,
            StatusCode::OK,
        ),
        route(
            Method::POST,
            "/webhooks/subscriptions/{sub}/rotate-secret",
            None,
            Write,
            NotFound,
            StatusCode::OK,
        ),
        // A lease of one second that got through would expire the target's subscription.
        route(
            Method::POST,
            "/webhooks/subscriptions/{sub}/refresh",
            Some(json!({"lease_seconds": 1})),
            Write,
            NotFound,
            StatusCode::OK,
        ),
        route(
            Method::POST,
            "/webhooks/subscriptions/{sub}/replay",
            Some(json!({"since": 0})),
            Write,
            NotFound,
            StatusCode::ACCEPTED,
        ),
        route(
            Method::POST,
            "/webhooks/subscriptions/{sub}/test",
            None,
            Write,
            NotFound,
            StatusCode::ACCEPTED,
        ),
        route(
            Method::POST,
            "/webhooks/subscriptions/{sub}/messages/{msg}/resend",
            None,
            Write,
            NotFound,
            StatusCode::ACCEPTED,
        ),
        // The other tenant's message sent to the caller's own subscription: a leak of its
        // payload to the caller's receiver.
        route(
            Method::POST,
            "/webhooks/subscriptions/{own}/messages/{msg}/resend",
            None,
            Write,
            NotFound,
            StatusCode::ACCEPTED,
        ),
        route(
            Method::DELETE,
            sub,
            None,
            Write,
            NotFound,
            StatusCode::NO_CONTENT,
        ),
    ]
}

impl Route {
    /// The path and body for subscription `sub` and message `msg`, called by the owner of
    /// subscription `own`, whose receiver is at `own_url`.
    pub(super) fn fill(
        &self,
        sub: &str,
        msg: &str,
        own: &str,
        own_url: &str,
    ) -> (String, Option<Value>) {
        let path = self
            .path
            .replace("{sub}", sub)
            .replace("{own}", own)
            .replace("{msg}", msg);
        let body = self.body.as_ref().map(|body| {
            serde_json::from_str(&body.to_string().replace("{own_url}", own_url)).unwrap()
        });
        (path, body)
    }
}

/// The figures of one backend's matrix.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) tried: usize,
    pub(super) deliveries: usize,
    pub(super) reads: usize,
    pub(super) writes: usize,
    /// Everything else that was not as it should be, for the assertion message.
    pub(super) problems: Vec<String>,
}

impl Tally {
    /// Counts a call across tenants: whether it got through, and whether it answered as it
    /// must.
    pub(super) fn cross(&mut self, what: &str, route: &Route, status: StatusCode, body: &Value) {
        self.tried += 1;
        let got_through =
            status.is_success() && (route.refusal == Refusal::NotFound || !items(body).is_empty());
        if got_through {
            match route.kind {
                Kind::Read => self.reads += 1,
                Kind::Write => self.writes += 1,
            }
        }
        let refused = match route.refusal {
            Refusal::NotFound => status == StatusCode::NOT_FOUND,
            Refusal::EmptyPage => status == StatusCode::OK && items(body).is_empty(),
        };
        if !refused {
            // The start of the answer says enough; a whole page of payloads would drown the rest.
            let body: String = body.to_string().chars().take(200).collect();
            self.problems.push(format!("{what}: {status} {body}"));
        }
    }
}

pub(super) fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

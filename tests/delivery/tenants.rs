//! Tenant isolation end to end, on every backend: three tenants side by side, each with two
//! subscriptions made through the management API with its own token; every publish path; and
//! every management route tried by each tenant on every other tenant's subscriptions and
//! messages. Nothing may cross: not a delivery, not a read, not a write.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hookspec::delivery::{Outbox, OutboxError, Subscription};
use hookspec::management::{BearerTokens, READ, WRITE};
use hookspec::signing::{Secret, Verifier};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub(crate) mod calls;

use crate::support::{backends, fast_config, Backend, Receiver};
use crate::{entity_changed, event, other_event, EntityEvent, Status, WAIT};
use calls::{items, routes, Api, Tally};

const TENANTS: [&str; 3] = ["t0", "t1", "t2"];
const EVENTS: [&str; 2] = ["entity.changed", "other.event"];

fn token(tenant: &str) -> String {
    format!("{tenant}-token")
}

/// Whom a message was meant for.
#[derive(Clone, Debug, PartialEq)]
enum For {
    /// Every subscription of tenant `TENANTS[i]`.
    Tenant(usize),
    /// Every subscription of every tenant.
    Everyone,
    /// One subscription alone (the test event), of tenant `TENANTS[i]`.
    Subscription(usize, String),
}

/// A subscription of one tenant, with the receiver it points at.
struct Sub {
    tenant: usize,
    id: String,
    secret: String,
    /// As the API showed it when it was created: nothing may change it afterwards.
    view: Value,
    receiver: Receiver,
}

impl Sub {
    fn wants(&self, audience: &For) -> bool {
        match audience {
            For::Tenant(t) => *t == self.tenant,
            For::Everyone => true,
            For::Subscription(_, id) => *id == self.id,
        }
    }
}

/// The message ids a receiver got, sorted.
fn got(sub: &Sub) -> Vec<String> {
    let mut ids: Vec<String> = sub
        .receiver
        .received()
        .iter()
        .map(|r| r.header("webhook-id").to_owned())
        .collect();
    ids.sort();
    ids
}

/// The message ids meant for `sub`, sorted.
fn meant(sub: &Sub, messages: &HashMap<String, For>) -> Vec<String> {
    let mut ids: Vec<String> = messages
        .iter()
        .filter(|(_, audience)| sub.wants(audience))
        .map(|(id, _)| id.clone())
        .collect();
    ids.sort();
    ids
}

/// Publishes for `tenant` in a business transaction on the backend's own database, beside a
/// business write, and commits.
async fn publish_in_tx(backend: &Backend, tenant: &str, payload: &EntityEvent) -> String {
    let tenant = backend.outbox.tenant(tenant);
    macro_rules! in_tx {
        ($pool:expr) => {{
            let pool = $pool;
            sqlx::query("CREATE TABLE IF NOT EXISTS orders (tenant TEXT NOT NULL)")
                .execute(&pool)
                .await
                .unwrap();
            let mut tx = pool.begin().await.unwrap();
            // The business write first: on SQLite it takes the write lock at once, so the
            // transaction never has to upgrade a read snapshot while the dispatcher writes.
            sqlx::query("INSERT INTO orders (tenant) VALUES ($1)")
                .bind(tenant.name())
                .execute(&mut *tx)
                .await
                .unwrap();
            let id = tenant
                .publish_in_tx::<entity_changed>(&mut tx, payload)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            pool.close().await;
            id
        }};
    }
    if backend.name == "sqlite" {
        in_tx!(sqlx::SqlitePool::connect(&backend.url).await.unwrap())
    } else {
        in_tx!(sqlx::PgPool::connect(&backend.url).await.unwrap())
    }
}

#[tokio::test]
async fn no_tenant_reaches_another() {
    for backend in backends().await {
        let tally = matrix(&backend).await;
        eprintln!(
            "tenant matrix on {}: {} cross-tenant deliveries, {} reads, {} writes ({} calls tried)",
            backend.name, tally.deliveries, tally.reads, tally.writes, tally.tried
        );
        assert!(
            tally.problems.is_empty(),
            "on {}:\n{}",
            backend.name,
            tally.problems.join("\n")
        );
        assert_eq!(
            (tally.deliveries, tally.reads, tally.writes),
            (0, 0, 0),
            "cross-tenant deliveries, reads, writes on {}",
            backend.name
        );
    }
}

/// Runs the whole matrix on one backend.
async fn matrix(backend: &Backend) -> Tally {
    let outbox = &backend.outbox;
    let tokens = TENANTS.iter().fold(BearerTokens::new(), |tokens, name| {
        tokens.token(token(name), *name, &[READ, WRITE])
    });
    let api = Api::start(outbox, tokens).await;
    let mut subs = Vec::new();
    for (t, name) in TENANTS.iter().enumerate() {
        for _ in 0..2 {
            let receiver = Receiver::answering(StatusCode::OK).await;
            let body = json!({"url": receiver.url, "events": EVENTS});
            let (status, created) = api
                .call(
                    Method::POST,
                    "/webhooks/subscriptions",
                    &token(name),
                    Some(&body),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            subs.push(Sub {
                tenant: t,
                id: created["subscription"]["id"].as_str().unwrap().to_owned(),
                secret: created["secret"].as_str().unwrap().to_owned(),
                view: created["subscription"].clone(),
                receiver,
            });
        }
    }
    let dispatcher = outbox.dispatcher(fast_config()).unwrap().spawn();

    // Every publish path, each message noted with whom it is for.
    let mut messages = HashMap::new();
    for (t, name) in TENANTS.iter().enumerate() {
        let tenant = outbox.tenant(*name);
        let payload = event("Task", "create", &format!("{name} published"), "");
        let id = tenant.publish::<entity_changed>(&payload).await.unwrap();
        messages.insert(id, For::Tenant(t));
        let payload = event("Task", "create", &format!("{name} in a transaction"), "");
        messages.insert(publish_in_tx(backend, name, &payload).await, For::Tenant(t));
    }
    for sub in &subs {
        let path = format!("/webhooks/subscriptions/{}/test", sub.id);
        let (status, queued) = api
            .call(Method::POST, &path, &token(TENANTS[sub.tenant]), None)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
        let id = queued["message_id"].as_str().unwrap().to_owned();
        messages.insert(id, For::Subscription(sub.tenant, sub.id.clone()));
    }
    let everyone = Status {
        status_id: "for everyone".into(),
    };
    let id = outbox.broadcast::<other_event>(&everyone).await.unwrap();
    messages.insert(id, For::Everyone);
    settle(outbox, &subs, &messages).await;

    let mut tally = Tally::default();
    own_reads(&api, &subs, &messages, &mut tally).await;
    cross_calls(&api, &subs, &messages, &mut tally).await;

    // Nothing a refused call might have done half-way: every subscription reads as created...
    for sub in &subs {
        let path = format!("/webhooks/subscriptions/{}", sub.id);
        let (status, view) = api
            .call(Method::GET, &path, &token(TENANTS[sub.tenant]), None)
            .await;
        if status != StatusCode::OK || view != sub.view {
            let was = &sub.view;
            tally
                .problems
                .push(format!("{} changed: {status} {view}, was {was}", sub.id));
        }
    }
    // ...and still receives its tenant's next event, signed with its first secret alone, and
    // nothing that a resend, replay or test across tenants might have queued.
    for (t, name) in TENANTS.iter().enumerate() {
        let payload = event("Task", "update", &format!("{name} afterwards"), "");
        let id = outbox
            .tenant(*name)
            .publish::<entity_changed>(&payload)
            .await
            .unwrap();
        messages.insert(id, For::Tenant(t));
    }
    settle(outbox, &subs, &messages).await;
    for sub in &subs {
        let got = got(sub);
        for id in &got {
            if !messages.get(id).is_some_and(|audience| sub.wants(audience)) {
                tally.deliveries += 1;
            }
        }
        let meant = meant(sub, &messages);
        if got != meant {
            tally.problems.push(format!(
                "{} of {} got {got:?}, meant {meant:?}",
                sub.id, TENANTS[sub.tenant]
            ));
        }
        let verifier = Verifier::new(Secret::parse(&sub.secret).unwrap());
        for request in sub.receiver.received() {
            let signatures = request.header("webhook-signature").split(' ').count();
            let verified = verifier.verify(
                |name| request.headers.get(name).and_then(|v| v.to_str().ok()),
                &request.body,
            );
            if signatures != 1 || verified.is_err() {
                tally.problems.push(format!(
                    "{} got {} signed {:?}: {verified:?}",
                    sub.id,
                    request.header("webhook-id"),
                    request.header("webhook-signature")
                ));
            }
        }
    }
    controls(&api, &subs, &messages, &mut tally).await;
    dispatcher.shutdown().await;
    tally
}

/// Waits until no delivery is pending and every receiver has at least what is meant for it,
/// or until `WAIT` has passed. Unlike `drained` and `Receiver::wait_for` it does not panic: a
/// leak (a subscription disabled or deleted across tenants, a delivery gone astray) is for the
/// accounting to count and report, with the figures, rather than a bare timeout.
async fn settle(outbox: &Outbox, subs: &[Sub], messages: &HashMap<String, For>) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let pending = outbox.delivery_counts().await.unwrap().pending;
        let arrived = subs
            .iter()
            .all(|s| s.receiver.received().len() >= meant(s, messages).len());
        if pending == 0 && arrived {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The listing reads of each tenant show its own subscriptions, payloads and attempts only.
async fn own_reads(api: &Api, subs: &[Sub], messages: &HashMap<String, For>, tally: &mut Tally) {
    for (t, name) in TENANTS.iter().enumerate() {
        let own: Vec<&Sub> = subs.iter().filter(|s| s.tenant == t).collect();
        let is_own = |id: &Value| own.iter().any(|s| *id == s.id.as_str());
        let token = token(name);
        let (_, page) = api
            .call(
                Method::GET,
                "/webhooks/subscriptions?limit=100",
                &token,
                None,
            )
            .await;
        tally.tried += 1;
        let listed = items(&page);
        tally.reads += listed.iter().filter(|s| !is_own(&s["id"])).count();
        if listed.len() != own.len() {
            tally.problems.push(format!("{name} lists {page}"));
        }
        for sub in &own {
            let path = format!("/webhooks/subscriptions/{}/payloads?limit=100", sub.id);
            let (_, page) = api.call(Method::GET, &path, &token, None).await;
            tally.tried += 1;
            let mut ids: Vec<String> = page["payloads"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p["message_id"].as_str().unwrap_or_default().to_owned())
                .collect();
            ids.sort();
            tally.reads += ids
                .iter()
                .filter(|id| !messages.get(*id).is_some_and(|a| sub.wants(a)))
                .count();
            if ids != meant(sub, messages) {
                tally.problems.push(format!("{} payloads {page}", sub.id));
            }
        }
        // Its own messages and the broadcast went to its subscriptions (and the broadcast to
        // everyone's): their attempts show its own subscriptions' only.
        for (id, _) in messages
            .iter()
            .filter(|(_, a)| own.iter().any(|s| s.wants(a)))
        {
            let path = format!("/webhooks/messages/{id}/attempts?limit=100");
            let (_, page) = api.call(Method::GET, &path, &token, None).await;
            tally.tried += 1;
            let attempts = items(&page);
            tally.reads += attempts
                .iter()
                .filter(|a| !is_own(&a["subscription_id"]))
                .count();
            if attempts.is_empty() {
                tally
                    .problems
                    .push(format!("{name} sees no attempt of {id}"));
            }
        }
    }
}

/// Every route, by every tenant, on every subscription and message of every other tenant.
async fn cross_calls(api: &Api, subs: &[Sub], messages: &HashMap<String, For>, tally: &mut Tally) {
    for route in routes() {
        for (caller, name) in TENANTS.iter().enumerate() {
            let own = subs.iter().find(|s| s.tenant == caller).unwrap();
            for target in subs.iter().filter(|s| s.tenant != caller) {
                // The target's tenant's own messages; the broadcast is the caller's too.
                let theirs: Vec<&str> = messages
                    .iter()
                    .filter(|(_, a)| **a != For::Everyone && target.wants(a))
                    .map(|(id, _)| id.as_str())
                    .collect();
                let msgs = if route.path.contains("{msg}") {
                    theirs
                } else {
                    vec![""]
                };
                for msg in msgs {
                    let (path, body) = route.fill(&target.id, msg, &own.id, &own.receiver.url);
                    let (status, answer) = api
                        .call(route.method.clone(), &path, &token(name), body.as_ref())
                        .await;
                    let what = format!("{} {path} as {name}", route.method);
                    tally.cross(&what, &route, status, &answer);
                }
            }
        }
    }
    // Subscribing to the URL and events another tenant uses must not answer "duplicate": that
    // would tell the caller what another tenant subscribed.
    for (caller, name) in TENANTS.iter().enumerate() {
        for target in subs.iter().filter(|s| s.tenant != caller) {
            let body = json!({"url": target.receiver.url, "events": EVENTS});
            let (status, created) = api
                .call(
                    Method::POST,
                    "/webhooks/subscriptions",
                    &token(name),
                    Some(&body),
                )
                .await;
            tally.tried += 1;
            if status == StatusCode::CONFLICT {
                tally.reads += 1;
            }
            if status != StatusCode::CREATED {
                let problem = format!("{name} subscribing like {}: {status} {created}", target.id);
                tally.problems.push(problem);
                continue;
            }
            let path = format!("/webhooks/subscriptions/{}", created["subscription"]["id"]);
            let path = path.replace('"', "");
            let (status, _) = api.call(Method::DELETE, &path, &token(name), None).await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{name} deletes {path}");
        }
    }
}

/// Each route, by each tenant on its own subscription and message, answers as it should: the
/// routes refused across tenants are real ones.
async fn controls(api: &Api, subs: &[Sub], messages: &HashMap<String, For>, tally: &mut Tally) {
    for (t, name) in TENANTS.iter().enumerate() {
        let own = subs.iter().find(|s| s.tenant == t).unwrap();
        let msg = messages
            .iter()
            .find(|(_, a)| **a == For::Tenant(t))
            .map(|(id, _)| id.as_str())
            .unwrap();
        for route in routes() {
            let (path, body) = route.fill(&own.id, msg, &own.id, &own.receiver.url);
            let (status, answer) = api
                .call(route.method.clone(), &path, &token(name), body.as_ref())
                .await;
            if status != route.own {
                let problem = format!(
                    "control {} {path} as {name}: {status} {answer}",
                    route.method
                );
                tally.problems.push(problem);
            }
        }
    }
}

/// An empty tenant name names no one: a token for it may do nothing at all, and the outbox
/// neither publishes nor subscribes for it.
#[tokio::test]
async fn an_empty_tenant_names_no_one() {
    for backend in backends().await {
        let outbox = &backend.outbox;
        let nobody = outbox.tenant("");
        let payload = event("Task", "create", "nobody's", "");
        let published = nobody.publish::<entity_changed>(&payload).await;
        assert!(
            matches!(published, Err(OutboxError::InvalidTenant(_))),
            "{published:?}"
        );
        let receiver = Receiver::answering(StatusCode::OK).await;
        let subscribed = nobody.subscribe(Subscription::new(&receiver.url)).await;
        assert!(
            matches!(subscribed, Err(OutboxError::InvalidTenant(_))),
            "{subscribed:?}"
        );

        // A real subscription and message to aim at, so that a 403 is not a 404 in disguise.
        let t0 = outbox.tenant("t0");
        let real = t0
            .subscribe(Subscription::new(&receiver.url))
            .await
            .unwrap();
        let msg = t0.publish::<entity_changed>(&payload).await.unwrap();
        let tokens = BearerTokens::new().token("nobody-token", "", &[READ, WRITE]);
        let api = Api::start(outbox, tokens).await;
        let create = json!({"url": receiver.url});
        let mut calls = vec![
            (Method::GET, "/webhooks/events".to_owned(), None),
            (Method::GET, "/webhooks/subscriptions".to_owned(), None),
            (
                Method::POST,
                "/webhooks/subscriptions".to_owned(),
                Some(create),
            ),
        ];
        for route in routes() {
            let (path, body) = route.fill(&real.id, &msg, &real.id, &receiver.url);
            calls.push((route.method, path, body));
        }
        for (method, path, body) in calls {
            let (status, answer) = api
                .call(method.clone(), &path, "nobody-token", body.as_ref())
                .await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (StatusCode::FORBIDDEN, Some("forbidden")),
                "{method} {path} on {}: {answer}",
                backend.name
            );
        }
        // Nothing was created, changed or queued.
        assert_eq!(t0.subscription(&real.id).await.unwrap().url, receiver.url);
        assert!(t0.subscription(&real.id).await.unwrap().enabled);
        assert_eq!(backend.rows("hookspec_subscriptions").await, 1);
        assert_eq!(backend.rows("hookspec_messages").await, 1);
        assert_eq!(backend.rows("hookspec_deliveries").await, 1);
    }
}

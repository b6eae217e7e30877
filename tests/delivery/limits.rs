//! What keeps one tenant's requests bounded and repeatable: the cap on subscriptions, replay
//! and resend that queue nothing twice and replay at most `REPLAY_LIMIT` at once, the paged
//! attempt log, and secret rotations that lose nothing when they race. Each through the
//! library and, where the management API exposes it, through the API.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use hookspec::delivery::{
    DispatchConfig, Outbox, OutboxError, OutboxTransaction, RetrySchedule, Subscription,
    REPLAY_LIMIT,
};
use hookspec::management::{BearerTokens, READ, WRITE};
use serde_json::{json, Value};

use super::support::{self, backends, drained, fast_config, Backend, Receiver, TENANT};
use super::{entity_changed, event, WAIT};

/// The management API over `outbox` (the tenant matrix's client), for one token of
/// [`TENANT`], answering bare status codes.
struct Api(crate::tenants::calls::Api);

impl Api {
    async fn start(outbox: &Outbox) -> Api {
        let tokens = BearerTokens::new().token("token", TENANT, &[READ, WRITE]);
        Api(crate::tenants::calls::Api::start(outbox, tokens).await)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (status, body) = (self.0)
            .call(reqwest::Method::POST, path, "token", Some(&body))
            .await;
        (status.as_u16(), body)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let (status, body) = self.0.call(reqwest::Method::GET, path, "token", None).await;
        (status.as_u16(), body)
    }
}

/// A URL no test listens on: subscriptions that are never delivered to.
fn nowhere(n: usize) -> String {
    format!("http://127.0.0.1:9/hooks/{n}")
}

#[tokio::test]
async fn a_tenant_at_its_subscription_cap_is_refused_and_others_are_not() {
    for backend in backends().await {
        let outbox = backend.outbox.clone().max_subscriptions_per_tenant(3);
        let tenant = outbox.tenant(TENANT);
        for n in 0..3 {
            tenant
                .subscribe(Subscription::new(nowhere(n)))
                .await
                .unwrap();
        }
        match tenant.subscribe(Subscription::new(nowhere(3))).await {
            Err(OutboxError::TooManySubscriptions { tenant, limit }) => {
                assert_eq!((tenant.as_str(), limit), (TENANT, 3), "{}", backend.name)
            }
            other => panic!("{}: a 4th subscription: {other:?}", backend.name),
        }
        // The cap is per tenant: another one still has all of its own.
        outbox
            .tenant("other")
            .subscribe(Subscription::new(nowhere(0)))
            .await
            .unwrap();
        assert_eq!(tenant.subscriptions(None, 100).await.unwrap().len(), 3);

        // Through the API, a conflict that says why (a different URL, so it is not the
        // duplicate check that answers).
        let api = Api::start(&outbox).await;
        let body = json!({"url": nowhere(4), "events": ["entity.changed"]});
        let (status, error) = api.post("/webhooks/subscriptions", body).await;
        assert_eq!(status, 409, "{}: {error}", backend.name);
        assert_eq!(error["error"]["code"], "too_many_subscriptions", "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("has 3 subscriptions"), "{message}");
    }
}

#[tokio::test]
async fn concurrent_subscribes_on_postgres_stop_exactly_at_the_cap() {
    let Some(backend) = support::postgres().await else {
        eprintln!("HOOKSPEC_TEST_DATABASE_URL is not set: this PostgreSQL test has nothing to run against");
        return;
    };
    // Two handles, as two processes would have: the count is taken in the database.
    let first = backend.outbox.clone().max_subscriptions_per_tenant(3);
    let second = Outbox::postgres(&backend.url)
        .await
        .unwrap()
        .ssrf_policy(support::loopback())
        .max_subscriptions_per_tenant(3);
    let tries: Vec<_> = (0..10)
        .map(|n| {
            let outbox = if n % 2 == 0 { &first } else { &second }.clone();
            tokio::spawn(async move {
                outbox
                    .tenant(TENANT)
                    .subscribe(Subscription::new(nowhere(n)))
                    .await
            })
        })
        .collect();
    let (mut created, mut refused) = (0, 0);
    for done in tries {
        match done.await.unwrap() {
            Ok(_) => created += 1,
            Err(OutboxError::TooManySubscriptions { .. }) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((created, refused), (3, 7));
    let stored = first.tenant(TENANT).subscriptions(None, 100).await.unwrap();
    assert_eq!(stored.len(), 3);
}

/// Pending deliveries of subscription `id`, read directly from the database.
async fn pending(backend: &Backend, id: &str) -> i64 {
    backend
        .rows(&format!(
            "hookspec_deliveries WHERE status = 'pending' AND subscription_id = '{id}'"
        ))
        .await
}

#[tokio::test]
async fn replay_and_resend_queue_nothing_that_is_still_pending() {
    for backend in backends().await {
        let name = backend.name;
        let tenant = backend.outbox.tenant(TENANT);
        let failing = Receiver::answering(StatusCode::INTERNAL_SERVER_ERROR).await;
        let healthy = Receiver::answering(StatusCode::OK).await;
        let retrying = tenant.subscribe(Subscription::new(&failing.url)).await;
        let retrying = retrying.unwrap().id;
        let delivered = tenant.subscribe(Subscription::new(&healthy.url)).await;
        let delivered = delivered.unwrap().id;
        // One attempt now, the retry an hour later: the failing deliveries stay pending.
        let config = DispatchConfig {
            schedule: RetrySchedule::new([Duration::ZERO, Duration::from_secs(3600)])
                .unwrap()
                .jitter(0.0),
            ..fast_config()
        };
        let dispatcher = backend.outbox.dispatcher(config).unwrap().spawn();
        let mut messages = Vec::new();
        for _ in 0..3 {
            messages.push(backend.publish_task().await);
        }
        let deadline = std::time::Instant::now() + WAIT;
        while backend.rows("hookspec_attempts").await < 6 {
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: not attempted"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Without a dispatcher from here on: what is queued stays queued, to be counted.
        dispatcher.shutdown().await;
        assert_eq!(
            (
                pending(&backend, &retrying).await,
                pending(&backend, &delivered).await
            ),
            (3, 0),
            "{name}"
        );

        for _ in 0..5 {
            assert_eq!(tenant.replay(&retrying, 0).await.unwrap(), 0, "{name}");
        }
        assert_eq!(
            pending(&backend, &retrying).await,
            3,
            "{name}: one per message"
        );

        for _ in 0..2 {
            tenant.resend(&delivered, &messages[0]).await.unwrap();
        }
        assert_eq!(
            pending(&backend, &delivered).await,
            1,
            "{name}: resent once"
        );
        // Resending what is pending is no error, and queues nothing.
        tenant.resend(&retrying, &messages[0]).await.unwrap();
        assert_eq!(pending(&backend, &retrying).await, 3, "{name}");

        // The first replay queues the two delivered messages not resent yet, the rest nothing.
        let mut queued = Vec::new();
        for _ in 0..5 {
            queued.push(tenant.replay(&delivered, 0).await.unwrap());
        }
        assert_eq!(queued, [2, 0, 0, 0, 0], "{name}");
        assert_eq!(
            pending(&backend, &delivered).await,
            3,
            "{name}: once per message"
        );
        assert_eq!(
            backend.outbox.delivery_counts().await.unwrap().pending,
            6,
            "{name}"
        );
    }
}

#[tokio::test]
async fn concurrent_replays_and_resends_on_postgres_queue_each_message_once() {
    let Some(backend) = support::postgres().await else {
        eprintln!("HOOKSPEC_TEST_DATABASE_URL is not set: this PostgreSQL test has nothing to run against");
        return;
    };
    let receiver = Receiver::answering(StatusCode::OK).await;
    let id = backend.subscribe(&receiver).await.id;
    let mut messages = Vec::new();
    for _ in 0..5 {
        messages.push(backend.publish_task().await);
    }
    let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
    drained(&backend.outbox, WAIT).await;
    dispatcher.shutdown().await;
    // Two handles, as two processes (or two API servers) would have: each call checks
    // what is pending in the database, where the calls race.
    let second = Outbox::postgres(&backend.url)
        .await
        .unwrap()
        .ssrf_policy(support::loopback());
    // A race is won or lost by timing: several rounds, so that one lost is likely seen.
    let pool = sqlx::PgPool::connect(&backend.url).await.unwrap();
    for round in 0..5 {
        let calls: Vec<_> = (0..20)
            .map(|n| {
                let outbox = if n % 2 == 0 { &backend.outbox } else { &second }.clone();
                let (id, message) = (id.clone(), messages[n % 5].clone());
                tokio::spawn(async move {
                    let tenant = outbox.tenant(TENANT);
                    if n % 4 < 2 {
                        tenant.replay(&id, 0).await.unwrap();
                    } else {
                        tenant.resend(&id, &message).await.unwrap();
                    }
                })
            })
            .collect();
        for call in calls {
            call.await.unwrap();
        }
        let queued = pending(&backend, &id).await;
        assert_eq!(queued, 5, "round {round}: each message queued once");
        // As if delivered again: the attempts stay, the record that each was queued.
        sqlx::query("DELETE FROM hookspec_deliveries")
            .execute(&pool)
            .await
            .unwrap();
    }
}

/// Publishes `n` events for [`TENANT`] in one transaction of the test's own: a thousand
/// commits would take most of the test's time.
async fn publish_many(backend: &Backend, n: usize) {
    if backend.name == "sqlite" {
        publish_in_one_tx::<sqlx::Sqlite>(backend, n).await;
    } else {
        publish_in_one_tx::<sqlx::Postgres>(backend, n).await;
    }
}

async fn publish_in_one_tx<DB: sqlx::Database>(backend: &Backend, n: usize)
where
    for<'t> sqlx::Transaction<'t, DB>: OutboxTransaction,
{
    let tenant = backend.outbox.tenant(TENANT);
    let payload = event("Task", "import", "1", "");
    let pool = sqlx::Pool::<DB>::connect(&backend.url).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    for _ in 0..n {
        tenant
            .publish_in_tx::<entity_changed>(&mut tx, &payload)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    pool.close().await;
}

#[tokio::test]
async fn a_replay_queues_at_most_replay_limit_and_the_next_call_the_rest() {
    let limit = i64::try_from(REPLAY_LIMIT).unwrap();
    for backend in backends().await {
        let name = backend.name;
        let receiver = Receiver::answering(StatusCode::OK).await;
        let tenant = backend.outbox.tenant(TENANT);
        // Two subscriptions to the same messages: one replayed through the library, the
        // other through the API.
        let library = tenant.subscribe(Subscription::new(format!("{}/1", receiver.url)));
        let library = library.await.unwrap().id;
        let api_side = tenant.subscribe(Subscription::new(format!("{}/2", receiver.url)));
        let api_side = api_side.await.unwrap().id;
        publish_many(&backend, REPLAY_LIMIT as usize + 5).await;
        let config = DispatchConfig {
            concurrency: 64,
            per_subscription: 32,
            ..fast_config()
        };
        let dispatcher = backend.outbox.dispatcher(config).unwrap().spawn();
        let delivered = drained(&backend.outbox, WAIT * 6).await;
        dispatcher.shutdown().await;
        assert_eq!(delivered, (0, 2 * (limit + 5), 0), "{name}");

        let replays = [
            tenant.replay(&library, 0).await.unwrap(),
            tenant.replay(&library, 0).await.unwrap(),
            tenant.replay(&library, 0).await.unwrap(),
        ];
        // The second call finds the first thousand pending and queues the five left.
        assert_eq!(replays, [REPLAY_LIMIT, 5, 0], "{name}");
        assert_eq!(pending(&backend, &library).await, limit + 5, "{name}");

        let api = Api::start(&backend.outbox).await;
        let path = format!("/webhooks/subscriptions/{api_side}/replay");
        let mut answers = Vec::new();
        for _ in 0..3 {
            let (status, body) = api.post(&path, json!({"since": 0})).await;
            assert_eq!(status, 202, "{name}: {body}");
            answers.push(body);
        }
        assert_eq!(
            answers,
            [
                json!({"queued": REPLAY_LIMIT, "complete": false}),
                json!({"queued": 5, "complete": true}),
                json!({"queued": 0, "complete": true}),
            ],
            "{name}"
        );
        assert_eq!(pending(&backend, &api_side).await, limit + 5, "{name}");
    }
}

#[tokio::test]
async fn the_attempts_of_a_message_come_in_pages_each_once_in_order() {
    for backend in backends().await {
        let name = backend.name;
        let tenant = backend.outbox.tenant(TENANT);
        // Each receiver fails twice, then takes it: three attempts per subscription, the
        // most fast_config's schedule makes.
        let mut receivers = Vec::new();
        for _ in 0..3 {
            let receiver = Receiver::failing_first(2).await;
            tenant
                .subscribe(Subscription::new(&receiver.url))
                .await
                .unwrap();
            receivers.push(receiver);
        }
        let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
        let message = backend.publish_task().await;
        assert_eq!(drained(&backend.outbox, WAIT).await, (0, 3, 0), "{name}");
        dispatcher.shutdown().await;
        let all: Vec<i64> = backend
            .outbox
            .attempts(&message)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(all.len(), 9, "{name}");

        // Bounded, so that paging that never ends fails rather than hangs.
        let (mut after, mut pages, mut paged) = (0, Vec::new(), Vec::new());
        for _ in 0..10 {
            let page = tenant.attempts(&message, after, 4).await.unwrap();
            pages.push(page.len());
            let Some(last) = page.last() else { break };
            after = last.id;
            paged.extend(page.iter().map(|a| a.id));
        }
        assert_eq!(pages, [4, 4, 1, 0], "{name}");
        assert_eq!(paged, all, "{name}: each once, in id order");
        let stranger = backend.outbox.tenant("other");
        let seen = stranger.attempts(&message, 0, 100).await.unwrap();
        assert!(
            seen.is_empty(),
            "{name}: another tenant's message has no attempts here"
        );

        // The API hands out `next` while a page is full, and following it covers the rest.
        let api = Api::start(&backend.outbox).await;
        let (mut query, mut pages, mut paged) = (String::new(), Vec::new(), Vec::new());
        for _ in 0..10 {
            let path = format!("/webhooks/messages/{message}/attempts?limit=4{query}");
            let (status, page) = api.get(&path).await;
            assert_eq!(status, 200, "{name}: {page}");
            let items = page["items"].as_array().unwrap();
            pages.push(items.len());
            paged.extend(items.iter().map(|a| a["id"].as_i64().unwrap()));
            match page["next"].as_i64() {
                Some(next) => query = format!("&after={next}"),
                None => break,
            }
        }
        assert_eq!(pages, [4, 4, 1], "{name}");
        assert_eq!(paged, all, "{name}");
    }
}

#[tokio::test]
async fn concurrent_rotations_on_postgres_keep_every_secret() {
    let Some(backend) = support::postgres().await else {
        eprintln!("HOOKSPEC_TEST_DATABASE_URL is not set: this PostgreSQL test has nothing to run against");
        return;
    };
    let second = Outbox::postgres(&backend.url)
        .await
        .unwrap()
        .ssrf_policy(support::loopback());
    let created = backend
        .outbox
        .tenant(TENANT)
        .subscribe(Subscription::new(nowhere(0)))
        .await
        .unwrap();
    let rotations: Vec<_> = (0..10)
        .map(|n| {
            let outbox = if n % 2 == 0 { &backend.outbox } else { &second }.clone();
            let id = created.id.clone();
            tokio::spawn(async move {
                let tenant = outbox.tenant(TENANT);
                let grace = Duration::from_secs(24 * 3600);
                tenant.rotate_secret(&id, grace).await.unwrap().expose()
            })
        })
        .collect();
    let mut expected = BTreeSet::from([created.secret.expose()]);
    for rotation in rotations {
        expected.insert(rotation.await.unwrap());
    }
    assert_eq!(expected.len(), 11, "every rotation made a new secret");

    let pool = sqlx::PgPool::connect(&backend.url).await.unwrap();
    let stored: String =
        sqlx::query_scalar("SELECT secrets FROM hookspec_subscriptions WHERE id = $1")
            .bind(&created.id)
            .fetch_one(&pool)
            .await
            .unwrap();
    let stored: Vec<Value> = serde_json::from_str(&stored).unwrap();
    let secrets: BTreeSet<String> = stored
        .iter()
        .map(|s| s["secret"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(secrets, expected, "a rotation lost another's secret");
    // Only the newest signs without an end; the others until their grace runs out.
    let open: Vec<&Value> = stored
        .iter()
        .filter(|s| s["expires_at"].is_null())
        .collect();
    assert_eq!(open.len(), 1, "{stored:?}");
    assert_eq!(
        stored[0]["expires_at"],
        Value::Null,
        "the newest comes first"
    );
}

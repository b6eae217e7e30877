//! Delivery against real HTTP receivers on loopback and real databases: SQLite always,
//! PostgreSQL when it is reachable (`HOOKSPEC_TEST_DATABASE_URL`, else 127.0.0.1:5432; a skip
//! says so on the terminal, and `.ci/run` fails instead).

mod envelope;
mod fairness;
mod group_commit;
mod hostile;
mod kill;
mod leases;
mod limits;
mod matching;
mod metrics;
mod postgres;
mod records;
mod retries;
mod spans;
mod support;
mod tenants;
mod upgrade;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use hookspec::delivery::{DeliveryCounts, DispatchConfig, OutboxError, SsrfPolicy, Subscription};
use hookspec::signing::{Secret, Verifier};
use hookspec::{whpost, OpenApiBuilder, WebhookGateway};
use serde::Serialize;
use support::TENANT;
use support::{backends, drained, fast_config, Receiver};

/// An ftrack-like entity event.
#[derive(Serialize, utoipa::ToSchema, Clone)]
pub struct EntityEvent {
    pub entity: Entity,
}

#[derive(Serialize, utoipa::ToSchema, Clone)]
pub struct Entity {
    pub entity_type: String,
    pub operation: String,
    pub new: Status,
    pub old: Status,
}

#[derive(Serialize, utoipa::ToSchema, Clone)]
pub struct Status {
    pub status_id: String,
}

/// An entity changed.
#[whpost("entity.changed")]
pub async fn entity_changed(data: EntityEvent) {}

/// Something else.
#[whpost("other.event")]
pub async fn other_event(data: Status) {}

pub fn event(entity_type: &str, operation: &str, new: &str, old: &str) -> EntityEvent {
    EntityEvent {
        entity: Entity {
            entity_type: entity_type.into(),
            operation: operation.into(),
            new: Status {
                status_id: new.into(),
            },
            old: Status {
                status_id: old.into(),
            },
        },
    }
}

pub const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn delivers_signed_bodies_that_match_the_document() {
    let doc = OpenApiBuilder::new("Hooks", "1")
        .webhook(WebhookGateway::new(entity_changed))
        .build()
        .unwrap();
    for backend in backends().await {
        let receiver = Receiver::answering(StatusCode::OK).await;
        let created = backend.subscribe(&receiver).await;
        let secret = created.secret.expose();
        assert!(secret.starts_with("whsec_"), "{secret}");
        let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
        let ids = backend.publish_tasks(3).await;
        let got = receiver.wait_for(3, WAIT).await;
        let independent = standardwebhooks::Webhook::new(&secret).unwrap();
        let ours = Verifier::new(Secret::parse(&secret).unwrap());
        for request in &got {
            assert_eq!(request.method, axum::http::Method::POST, "{}", backend.name);
            assert_eq!(request.header("content-type"), "application/json");
            assert!(
                ids.iter().any(|id| id == request.header("webhook-id")),
                "{}",
                backend.name
            );
            independent
                .verify(&request.body, &request.headers)
                .expect("the standardwebhooks crate verifies it");
            ours.verify(
                |name| request.headers.get(name).and_then(|v| v.to_str().ok()),
                &request.body,
            )
            .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            assert_eq!(
                hookspec_tests::schema_errors(&doc, "EntityEvent", &body),
                Vec::<String>::new()
            );
        }
        drained(&backend.outbox, WAIT).await;
        let attempts = backend.outbox.attempts(&ids[0]).await.unwrap();
        assert_eq!(attempts.len(), 1, "{}", backend.name);
        assert_eq!(attempts[0].status_code, Some(200));
        assert_eq!(
            attempts[0].response_excerpt.as_deref(),
            Some("receiver says hi")
        );
        assert_eq!(support::counted(&dispatcher.metrics().sent, 3).await, 3);
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn an_ed25519_key_adds_a_v1a_signature() {
    let backend = support::sqlite().await;
    let key = hookspec::signing::SigningKey::generate();
    let public = key.public_key();
    let outbox = backend.outbox.signing_key(key);
    let receiver = Receiver::answering(StatusCode::OK).await;
    outbox
        .tenant(TENANT)
        .subscribe(Subscription::new(&receiver.url))
        .await
        .unwrap();
    let dispatcher = outbox.dispatcher(fast_config()).unwrap().spawn();
    outbox
        .tenant(TENANT)
        .publish::<entity_changed>(&event("Task", "create", "1", ""))
        .await
        .unwrap();
    let got = receiver.wait_for(1, WAIT).await;
    let request = &got[0];
    let signatures = request.header("webhook-signature");
    assert!(
        signatures.contains("v1,") && signatures.contains("v1a,"),
        "{signatures}"
    );
    Verifier::from_public_key(public)
        .verify(
            |name| request.headers.get(name).and_then(|v| v.to_str().ok()),
            &request.body,
        )
        .expect("verifies with the public key alone");
    dispatcher.shutdown().await;
}

#[tokio::test]
async fn targets_refused_by_the_ssrf_guard_fail_at_creation() {
    let backend = support::sqlite().await;
    let outbox = backend.outbox.ssrf_policy(SsrfPolicy::new());
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://localhost/x",
        "http://10.0.0.8/x",
        "http://[::ffff:192.168.0.1]/",
    ] {
        match outbox
            .tenant(TENANT)
            .subscribe(Subscription::new(url))
            .await
        {
            Err(OutboxError::InvalidSubscription(message)) => {
                assert!(message.contains("non-public"), "{message}")
            }
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }
    let err = outbox
        .tenant(TENANT)
        .subscribe(Subscription::new("gopher://example.com/"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("http or https"), "{err}");
    assert_eq!(
        outbox.delivery_counts().await.unwrap(),
        DeliveryCounts::default()
    );
}

#[tokio::test]
async fn events_and_filters_choose_the_subscriptions() {
    for backend in backends().await {
        let tasks = Receiver::answering(StatusCode::OK).await;
        let status_changes = Receiver::answering(StatusCode::OK).await;
        let others = Receiver::answering(StatusCode::OK).await;
        let outbox = &backend.outbox;
        outbox
            .tenant(TENANT)
            .subscribe(
                Subscription::new(&tasks.url)
                    .filter(r#"entity.entity_type = "Task" and entity.operation = "create""#),
            )
            .await
            .unwrap();
        outbox
            .tenant(TENANT)
            .subscribe(Subscription::new(&status_changes.url).events([entity_changed::NAME]).filter(
                r#"entity.entity_type = "AssetVersion" and entity.operation = "update" and entity.new.status_id != entity.old.status_id and entity.new.status_id = "approved""#,
            ))
            .await
            .unwrap();
        outbox
            .tenant(TENANT)
            .subscribe(Subscription::new(&others.url).events([other_event::NAME]))
            .await
            .unwrap();
        let dispatcher = outbox.dispatcher(fast_config()).unwrap().spawn();
        outbox
            .tenant(TENANT)
            .publish::<entity_changed>(&event("Task", "create", "x", ""))
            .await
            .unwrap();
        outbox
            .tenant(TENANT)
            .publish::<entity_changed>(&event("Task", "update", "x", "y"))
            .await
            .unwrap();
        outbox
            .tenant(TENANT)
            .publish::<entity_changed>(&event("AssetVersion", "update", "approved", "pending"))
            .await
            .unwrap();
        outbox
            .tenant(TENANT)
            .publish::<entity_changed>(&event("AssetVersion", "update", "approved", "approved"))
            .await
            .unwrap();
        outbox
            .tenant(TENANT)
            .publish::<other_event>(&Status {
                status_id: "s".into(),
            })
            .await
            .unwrap();
        drained(outbox, WAIT).await;
        let bodies = |r: &Receiver| {
            r.received()
                .iter()
                .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap())
                .collect::<Vec<_>>()
        };
        let tasks = bodies(&tasks);
        assert_eq!(tasks.len(), 1, "{}: {tasks:?}", backend.name);
        assert_eq!(tasks[0]["entity"]["operation"], "create");
        let changes = bodies(&status_changes);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0]["entity"]["old"]["status_id"], "pending");
        assert_eq!(bodies(&others), [serde_json::json!({"status_id": "s"})]);
        let err = outbox
            .tenant(TENANT)
            .subscribe(Subscription::new(&others.url).filter("entity.type == \"Task\""))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, OutboxError::Filter(f) if f.position == 12),
            "{err}"
        );
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn publishing_in_a_transaction_follows_its_commit() {
    let backend = support::sqlite().await;
    let receiver = Receiver::answering(StatusCode::OK).await;
    backend.subscribe(&receiver).await;
    let pool = sqlx::SqlitePool::connect(&backend.url).await.unwrap();
    sqlx::query("CREATE TABLE payments (id INTEGER PRIMARY KEY, amount REAL)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    // The outbox's own connection is the one to write on: SQLite has one writer.
    let business = sqlx::SqlitePool::connect(&backend.url).await.unwrap();
    let mut tx = business.begin().await.unwrap();
    sqlx::query("INSERT INTO payments (amount) VALUES (1.0)")
        .execute(&mut *tx)
        .await
        .unwrap();
    backend
        .outbox
        .tenant(TENANT)
        .publish_in_tx::<entity_changed>(&mut tx, &event("Task", "create", "rolled back", ""))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let mut tx = business.begin().await.unwrap();
    sqlx::query("INSERT INTO payments (amount) VALUES (2.0)")
        .execute(&mut *tx)
        .await
        .unwrap();
    backend
        .outbox
        .tenant(TENANT)
        .publish_in_tx::<entity_changed>(&mut tx, &event("Task", "create", "committed", ""))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
    drained(&backend.outbox, WAIT).await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(String::from_utf8_lossy(&got[0].body).contains("committed"));
    dispatcher.shutdown().await;
}

#[tokio::test]
async fn a_slow_receiver_does_not_delay_the_others() {
    for backend in backends().await {
        let slow = Receiver::start(Arc::new(|_| {
            (StatusCode::OK, Vec::new(), Duration::from_millis(700))
        }))
        .await;
        let fast = Receiver::answering(StatusCode::OK).await;
        backend.subscribe(&slow).await;
        backend.subscribe(&fast).await;
        // Both subscriptions are one tenant's: the tenant's share (a quarter of 8 by
        // default) would be the slow one's two slots, and the fast one would wait for them.
        // This is about subscriptions, so the tenant may use every slot.
        let config = DispatchConfig {
            per_subscription: 2,
            concurrency: 8,
            per_tenant: Some(8),
            timeout: Duration::from_secs(5),
            lease: Duration::from_secs(12),
            ..fast_config()
        };
        let dispatcher = backend.outbox.dispatcher(config).unwrap().spawn();
        backend.publish_tasks(20).await;
        fast.wait_for(20, Duration::from_secs(3)).await;
        assert!(
            slow.received().len() <= 6,
            "{}: the slow one is still working through its queue",
            backend.name
        );
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn a_rate_limit_spaces_deliveries() {
    for backend in backends().await {
        let receiver = Receiver::answering(StatusCode::OK).await;
        backend
            .outbox
            .tenant(TENANT)
            .subscribe(Subscription::new(&receiver.url).rate_limit(10))
            .await
            .unwrap();
        let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
        backend.publish_tasks(20).await;
        let got = receiver.wait_for(20, WAIT).await;
        // A burst of 10, then 10 per second: the 20th arrives about a second after the first.
        let spread = got[19].at.duration_since(got[0].at);
        assert!(
            spread >= Duration::from_millis(800),
            "{}: {spread:?}",
            backend.name
        );
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn finished_messages_are_purged_after_retention() {
    for backend in backends().await {
        let receiver = Receiver::answering(StatusCode::OK).await;
        backend.subscribe(&receiver).await;
        let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
        let id = backend.publish_task().await;
        drained(&backend.outbox, WAIT).await;
        let kept = backend.outbox.purge(Duration::from_secs(3600)).await;
        assert_eq!(kept.unwrap(), 0, "{}: kept within retention", backend.name);
        assert_eq!(backend.outbox.attempts(&id).await.unwrap().len(), 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(backend.outbox.purge(Duration::ZERO).await.unwrap(), 1);
        assert!(backend.outbox.attempts(&id).await.unwrap().is_empty());
        for table in [
            "hookspec_messages",
            "hookspec_deliveries",
            "hookspec_attempts",
        ] {
            assert_eq!(backend.rows(table).await, 0, "{}: {table}", backend.name);
        }
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn a_dispatcher_whose_settings_cannot_work_is_refused() {
    let backend = support::sqlite().await;
    let config = DispatchConfig {
        lease: Duration::from_millis(500),
        ..fast_config()
    };
    let Err(error) = backend.outbox.dispatcher(config) else {
        panic!("a lease shorter than the timeout was accepted");
    };
    assert_eq!(
        error.to_string(),
        "invalid dispatch configuration: lease (500ms) must cover the longest wait in memory \
         (half the lease), timeout (800ms) and 1s to record the outcome: at least 3.6s"
    );
}

#[tokio::test]
async fn deleting_a_subscription_deletes_its_deliveries_and_attempts() {
    for backend in backends().await {
        let receiver = Receiver::answering(StatusCode::OK).await;
        let outbox = &backend.outbox;
        let gone = outbox
            .tenant(TENANT)
            .subscribe(Subscription::new(&receiver.url))
            .await
            .unwrap();
        let kept = outbox
            .tenant(TENANT)
            .subscribe(Subscription::new(&receiver.url))
            .await
            .unwrap();
        let dispatcher = outbox.dispatcher(fast_config()).unwrap().spawn();
        for n in 0..3 {
            outbox
                .tenant(TENANT)
                .publish::<entity_changed>(&event("Task", "create", &n.to_string(), ""))
                .await
                .unwrap();
        }
        drained(outbox, WAIT).await;
        dispatcher.shutdown().await;
        // One more event, left pending for both.
        outbox
            .tenant(TENANT)
            .publish::<entity_changed>(&event("Task", "create", "3", ""))
            .await
            .unwrap();
        let rows = |table| backend.rows(table);
        assert_eq!(rows("hookspec_attempts").await, 6, "{}", backend.name);
        assert_eq!(rows("hookspec_deliveries").await, 2, "{}", backend.name);
        let owner = outbox.subscription(&gone.id).await.unwrap().tenant;
        outbox
            .tenant(&owner)
            .delete_subscription(&gone.id)
            .await
            .unwrap();
        assert_eq!(rows("hookspec_deliveries").await, 1, "{}", backend.name);
        assert_eq!(rows("hookspec_attempts").await, 3, "{}", backend.name);
        let kept_owner = outbox.subscription(&kept.id).await.unwrap().tenant;
        let listed = outbox
            .tenant(&kept_owner)
            .payloads(&kept.id, 0, 10)
            .await
            .unwrap();
        assert_eq!(
            listed.len(),
            4,
            "{}: three delivered, one pending",
            backend.name
        );
    }
}

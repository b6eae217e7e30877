//! Group commit (concurrent publishes sharing a transaction) and batch publishing, on every
//! backend: each caller gets its own outcome, a message the database refuses fails only its
//! own publish, a caller that gives up does not disturb the others, and what a batch
//! publishes reaches its own tenant's subscriptions alone.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use hookspec::delivery::{OutboxError, Subscription};
use sqlx::pool::PoolConnection;

use crate::support::{backends, drained, fast_config, Backend, Receiver, TENANT};
use crate::{entity_changed, event, EntityEvent, WAIT};

/// A connection of the test's own that holds the lock the outbox's next write needs, so that
/// publishes queue behind it and then commit together once it lets go.
enum WriteLock {
    Sqlite(PoolConnection<sqlx::Sqlite>),
    Postgres(PoolConnection<sqlx::Postgres>),
}

impl WriteLock {
    async fn take(backend: &Backend) -> WriteLock {
        if backend.name == "sqlite" {
            let pool = sqlx::SqlitePool::connect(&backend.url).await.unwrap();
            let mut conn = pool.acquire().await.unwrap();
            sqlx::raw_sql("BEGIN IMMEDIATE")
                .execute(&mut *conn)
                .await
                .unwrap();
            WriteLock::Sqlite(conn)
        } else {
            let pool = sqlx::PgPool::connect(&backend.url).await.unwrap();
            let mut conn = pool.acquire().await.unwrap();
            sqlx::raw_sql("BEGIN; LOCK TABLE hookspec_messages IN EXCLUSIVE MODE")
                .execute(&mut *conn)
                .await
                .unwrap();
            WriteLock::Postgres(conn)
        }
    }

    async fn release(self) {
        match self {
            WriteLock::Sqlite(mut conn) => {
                sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.unwrap();
            }
            WriteLock::Postgres(mut conn) => {
                sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.unwrap();
            }
        }
    }
}

/// Makes the database refuse any message whose payload mentions "poison", as it would a
/// payload it cannot store.
async fn refuse_poison(backend: &Backend) {
    if backend.name == "sqlite" {
        let pool = sqlx::SqlitePool::connect(&backend.url).await.unwrap();
        sqlx::raw_sql(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON hookspec_messages \
             WHEN NEW.payload LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poison refused'); END",
        )
        .execute(&pool)
        .await
        .unwrap();
    } else {
        let pool = sqlx::PgPool::connect(&backend.url).await.unwrap();
        sqlx::raw_sql(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.payload LIKE '%poison%' THEN RAISE EXCEPTION 'poison refused'; END IF; \
               RETURN NEW; END $$; \
             CREATE TRIGGER refuse_poison BEFORE INSERT ON hookspec_messages \
               FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
        )
        .execute(&pool)
        .await
        .unwrap();
    }
}

type Publishing = tokio::task::JoinHandle<Result<String, OutboxError>>;

/// Starts publishing a created task `status` for [`TENANT`].
fn publishing(backend: &Backend, status: &str) -> Publishing {
    let tenant = backend.outbox.tenant(TENANT);
    let task = event("Task", "create", status, "");
    tokio::spawn(async move { tenant.publish::<entity_changed>(&task).await })
}

/// While the caller holds a [`WriteLock`], starts one publish, which the committer takes
/// alone and which waits for the lock; then `statuses`, which queue meanwhile and so are
/// committed together once the lock is released.
async fn queued_behind(backend: &Backend, statuses: &[String]) -> Vec<Publishing> {
    let mut publishes = vec![publishing(backend, "first")];
    tokio::time::sleep(Duration::from_millis(100)).await;
    publishes.extend(statuses.iter().map(|s| publishing(backend, s)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    publishes
}

#[tokio::test]
async fn concurrent_publishes_each_get_their_own_committed_message() {
    for backend in backends().await {
        let receiver = Receiver::answering(StatusCode::OK).await;
        backend.subscribe(&receiver).await;
        let lock = WriteLock::take(&backend).await;
        let statuses: Vec<String> = (0..40).map(|n| n.to_string()).collect();
        let publishes = queued_behind(&backend, &statuses).await;
        lock.release().await;
        let mut ids = Vec::new();
        for publish in publishes {
            ids.push(publish.await.unwrap().unwrap());
        }
        let distinct: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), 41, "{}", backend.name);
        assert_eq!(backend.rows("hookspec_messages").await, 41);
        assert_eq!(backend.rows("hookspec_deliveries").await, 41);
        let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
        let got = receiver.wait_for(41, WAIT).await;
        let delivered: BTreeSet<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
        assert_eq!(delivered, distinct.iter().map(|id| id.as_str()).collect());
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn a_message_the_database_refuses_fails_only_its_own_publish() {
    for backend in backends().await {
        refuse_poison(&backend).await;
        let lock = WriteLock::take(&backend).await;
        let mut statuses: Vec<String> = (0..20).map(|n| n.to_string()).collect();
        statuses.insert(10, "poison".into());
        let publishes = queued_behind(&backend, &statuses).await;
        lock.release().await;
        let mut outcomes = Vec::new();
        for publish in publishes {
            outcomes.push(publish.await.unwrap());
        }
        // The first, then the 21 queued: the tenth of those is the poison.
        let poisoned = outcomes.remove(11);
        match poisoned {
            Err(OutboxError::Database(error)) => {
                assert!(error.to_string().contains("poison refused"), "{error}")
            }
            other => panic!("{}: the poison was stored: {other:?}", backend.name),
        }
        for outcome in outcomes {
            outcome.unwrap();
        }
        assert_eq!(
            backend.rows("hookspec_messages").await,
            21,
            "{}",
            backend.name
        );
        assert_eq!(backend.rows("hookspec_deliveries").await, 0);
    }
}

#[tokio::test]
async fn a_caller_that_gives_up_does_not_disturb_the_others() {
    for backend in backends().await {
        let receiver = Receiver::answering(StatusCode::OK).await;
        backend.subscribe(&receiver).await;
        let lock = WriteLock::take(&backend).await;
        let statuses: Vec<String> = (0..10).map(|n| n.to_string()).collect();
        let mut publishes = queued_behind(&backend, &statuses).await;
        // Every other queued one gives up: its future is dropped before its write began.
        let given_up: Vec<Publishing> = (1..6).map(|n| publishes.remove(n)).collect();
        for publish in &given_up {
            publish.abort();
        }
        for publish in given_up {
            assert!(publish.await.unwrap_err().is_cancelled());
        }
        lock.release().await;
        for publish in publishes {
            publish.await.unwrap().unwrap();
        }
        assert_eq!(
            backend.rows("hookspec_messages").await,
            6,
            "{}: the first and the five still waiting",
            backend.name
        );
        assert_eq!(backend.rows("hookspec_deliveries").await, 6);
        // The outbox goes on publishing.
        backend.publish_task().await;
        assert_eq!(backend.rows("hookspec_messages").await, 7);
    }
}

#[tokio::test]
async fn a_batch_is_published_in_order_to_its_own_tenant_alone() {
    for backend in backends().await {
        let ours = Receiver::answering(StatusCode::OK).await;
        let theirs = Receiver::answering(StatusCode::OK).await;
        let subscription = backend.subscribe(&ours).await;
        backend
            .outbox
            .tenant("someone-else")
            .subscribe(Subscription::new(&theirs.url))
            .await
            .unwrap();
        let tenant = backend.outbox.tenant(TENANT);
        let payloads: Vec<EntityEvent> = (0..30)
            .map(|n| event("Task", "create", &n.to_string(), ""))
            .collect();
        let ids = tenant
            .publish_batch::<entity_changed>(&payloads)
            .await
            .unwrap();
        assert_eq!(ids.len(), 30, "{}", backend.name);
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 30);
        let empty: Vec<EntityEvent> = Vec::new();
        assert!(tenant
            .publish_batch::<entity_changed>(&empty)
            .await
            .unwrap()
            .is_empty());
        // Queued in the order given, each with its own payload.
        let queued = tenant.payloads(&subscription.id, 0, 100).await.unwrap();
        let queued_ids: Vec<&str> = queued.iter().map(|p| p.message_id.as_str()).collect();
        assert_eq!(queued_ids, ids, "{}", backend.name);
        for (n, stored) in queued.iter().enumerate() {
            assert_eq!(stored.payload["entity"]["new"]["status_id"], n.to_string());
        }
        let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
        ours.wait_for(30, WAIT).await;
        drained(&backend.outbox, WAIT).await;
        assert!(
            theirs.received().is_empty(),
            "{}: crossed tenants",
            backend.name
        );
        assert_eq!(backend.rows("hookspec_messages").await, 30);
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn a_batch_is_stored_whole_or_not_at_all() {
    for backend in backends().await {
        refuse_poison(&backend).await;
        let receiver = Receiver::answering(StatusCode::OK).await;
        backend.subscribe(&receiver).await;
        let tenant = backend.outbox.tenant(TENANT);
        let payloads = [
            event("Task", "create", "1", ""),
            event("Task", "create", "poison", ""),
        ];
        let refused = tenant.publish_batch::<entity_changed>(&payloads).await;
        assert!(
            matches!(refused, Err(OutboxError::Database(_))),
            "{}: {refused:?}",
            backend.name
        );
        assert_eq!(backend.rows("hookspec_messages").await, 0);
        assert_eq!(backend.rows("hookspec_deliveries").await, 0);
    }
}

#[tokio::test]
async fn a_batch_in_a_transaction_follows_its_commit() {
    let backend = crate::support::sqlite().await;
    let receiver = Receiver::answering(StatusCode::OK).await;
    backend.subscribe(&receiver).await;
    let business = sqlx::SqlitePool::connect(&backend.url).await.unwrap();
    let tenant = backend.outbox.tenant(TENANT);
    let payloads = [
        event("Task", "create", "1", ""),
        event("Task", "create", "2", ""),
    ];
    let mut tx = business.begin().await.unwrap();
    tenant
        .publish_batch_in_tx::<entity_changed>(&mut tx, &payloads)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(backend.rows("hookspec_messages").await, 0);
    let mut tx = business.begin().await.unwrap();
    let ids = tenant
        .publish_batch_in_tx::<entity_changed>(&mut tx, &payloads)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(backend.rows("hookspec_messages").await, 2);
    assert_eq!(backend.rows("hookspec_deliveries").await, 2);
}

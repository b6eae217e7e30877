//! Several dispatchers on one PostgreSQL database share the work without double-sending.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use hookspec::delivery::{DispatchConfig, Outbox, OutboxError, Subscription};

use super::support::{self, drained, fast_config, Receiver};
use super::{entity_changed, event};
use crate::support::TENANT;

#[tokio::test]
async fn two_dispatchers_deliver_10_000_events_none_lost_none_twice() {
    let Some(backend) = support::postgres().await else {
        return; // hookspec_tests::services said why
    };
    const EVENTS: usize = 10_000;
    let receiver = Receiver::answering(StatusCode::OK).await;
    backend.subscribe(&receiver).await;
    let config = DispatchConfig {
        per_subscription: 32,
        concurrency: 32,
        ..support::fast_config()
    };
    let second = Outbox::postgres(&backend.url)
        .await
        .unwrap()
        .ssrf_policy(support::loopback());
    let a = backend.outbox.dispatcher(config.clone()).unwrap().spawn();
    let b = second.dispatcher(config).unwrap().spawn();

    let outbox = Arc::new(backend.outbox.clone());
    let publishers: Vec<_> = (0..8)
        .map(|p| {
            let outbox = Arc::clone(&outbox);
            tokio::spawn(async move {
                for i in (p..EVENTS).step_by(8) {
                    outbox
                        .tenant(TENANT)
                        .publish::<entity_changed>(&event("Task", "create", &i.to_string(), ""))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    let counts = drained(&backend.outbox, Duration::from_secs(240)).await;
    assert_eq!(counts, (0, EVENTS as i64, 0));

    let mut per_id: HashMap<String, usize> = HashMap::new();
    for request in receiver.received() {
        *per_id
            .entry(request.header("webhook-id").to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_id.len(), EVENTS, "none lost");
    let twice: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "claimed twice: {twice:?}");
    // The counters move just after the outcomes are committed.
    let mut tries = 0;
    let (sent_a, sent_b) = loop {
        let sent = (
            a.metrics().sent.load(Ordering::Relaxed),
            b.metrics().sent.load(Ordering::Relaxed),
        );
        if sent.0 + sent.1 >= EVENTS as u64 || tries == 200 {
            break sent;
        }
        tries += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(sent_a + sent_b, EVENTS as u64);
    assert!(
        sent_a > 0 && sent_b > 0,
        "both dispatchers took work: {sent_a} and {sent_b}"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn publishing_skips_a_subscription_deleted_meanwhile() {
    let Some(backend) = support::postgres().await else {
        return; // hookspec_tests::services said why
    };
    let receiver = Receiver::answering(StatusCode::OK).await;
    let deleted = backend.subscribe(&receiver).await;
    let kept = backend.subscribe(&receiver).await;
    // The subscription is deleted in a transaction that stays open while a message is
    // published: publishing reads the subscription, then waits for its row.
    let pool = sqlx::PgPool::connect(&backend.url).await.unwrap();
    let mut deleting = pool.begin().await.unwrap();
    sqlx::query("DELETE FROM hookspec_subscriptions WHERE id = $1")
        .bind(&deleted.id)
        .execute(&mut *deleting)
        .await
        .unwrap();
    let outbox = backend.outbox.clone();
    let publishing = tokio::spawn(async move {
        outbox
            .tenant(TENANT)
            .publish::<entity_changed>(&event("Task", "create", "1", ""))
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    deleting.commit().await.unwrap();
    let published = publishing.await.unwrap();
    assert!(published.is_ok(), "{published:?}");
    let subscriptions: Vec<String> =
        sqlx::query_scalar("SELECT subscription_id FROM hookspec_deliveries")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(subscriptions, [kept.id]);
}

#[tokio::test]
async fn resending_a_message_purged_meanwhile_is_not_found() {
    let Some(backend) = support::postgres().await else {
        return; // hookspec_tests::services said why
    };
    let receiver = Receiver::answering(StatusCode::OK).await;
    let sub = backend.subscribe(&receiver).await;
    let owner = backend.outbox.subscription(&sub.id).await.unwrap().tenant;
    let message = backend.publish_task().await;
    // Delivered first, as purge deletes only messages with nothing pending (and a resend of
    // a message still pending queues nothing).
    let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
    drained(&backend.outbox, Duration::from_secs(10)).await;
    dispatcher.shutdown().await;
    // The message is deleted in a transaction that stays open while it is resent: the
    // resend still sees it queued, then waits for the message's row.
    let pool = sqlx::PgPool::connect(&backend.url).await.unwrap();
    let mut purging = pool.begin().await.unwrap();
    sqlx::query("DELETE FROM hookspec_messages WHERE id = $1")
        .bind(&message)
        .execute(&mut *purging)
        .await
        .unwrap();
    let outbox = backend.outbox.clone();
    let (id, sent) = (sub.id.clone(), message.clone());
    let resending = tokio::spawn(async move { outbox.tenant(&owner).resend(&id, &sent).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    purging.commit().await.unwrap();
    let resent = resending.await.unwrap();
    assert!(
        matches!(&resent, Err(OutboxError::MessageNotFound(id)) if *id == message),
        "{resent:?}"
    );
}

#[tokio::test]
async fn a_rate_limit_holds_across_two_dispatchers() {
    let Some(backend) = support::postgres().await else {
        return; // hookspec_tests::services said why
    };
    const EVENTS: usize = 40;
    let receiver = Receiver::answering(StatusCode::OK).await;
    backend
        .outbox
        .tenant(TENANT)
        .subscribe(Subscription::new(&receiver.url).rate_limit(5))
        .await
        .unwrap();
    backend.publish_tasks(EVENTS).await;
    // Two handles on one database, as two machines would have.
    let second = Outbox::postgres(&backend.url)
        .await
        .unwrap()
        .ssrf_policy(support::loopback());
    let a = backend
        .outbox
        .dispatcher(support::fast_config())
        .unwrap()
        .spawn();
    let b = second.dispatcher(support::fast_config()).unwrap().spawn();

    let first = receiver.wait_for(1, Duration::from_secs(10)).await[0].at;
    let window = Duration::from_secs(2);
    tokio::time::sleep_until((first + window + Duration::from_millis(100)).into()).await;
    let in_window = receiver
        .received()
        .iter()
        .filter(|r| r.at.duration_since(first) <= window)
        .count();
    // A burst of 5, then 5 per second: 15 within two seconds, 16 with a moment's slack.
    // A bucket per dispatcher would let about twice as many through.
    eprintln!("{in_window} deliveries in the first {window:?}");
    assert!(
        in_window <= 16,
        "{in_window} deliveries in {window:?} at 5 per second"
    );
    // The limit spaces deliveries out but lets every one through.
    let all = receiver.wait_for(EVENTS, Duration::from_secs(20)).await;
    let spread = all[EVENTS - 1].at.duration_since(first);
    eprintln!("all {EVENTS} delivered within {spread:?}");
    // The last of 35 after the burst, one every 200 ms: 7 s after the first.
    assert!(spread >= Duration::from_secs(6), "{spread:?}");
    drained(&backend.outbox, Duration::from_secs(10)).await;
    a.shutdown().await;
    b.shutdown().await;
}

//! What the outbox keeps of its deliveries, and what it reads back: payload listings,
//! resending and replaying (delivered deliveries are deleted and recorded by their attempts,
//! see migration 3), and purging.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use hookspec::delivery::{OutboxError, RetrySchedule};

use super::support::{self, backends, drained, fast_config, Receiver};
use super::{entity_changed, event, WAIT};
use crate::support::TENANT;

#[tokio::test]
async fn payloads_list_failed_delivered_and_pending_deliveries_in_order() {
    for backend in backends().await {
        // Refuses everything until told otherwise: the first event fails for good.
        let accept = Arc::new(AtomicBool::new(false));
        let answer = Arc::clone(&accept);
        let receiver = Receiver::start(Arc::new(move |_| {
            let ok = answer.load(Ordering::SeqCst);
            let status = if ok {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            (status, Vec::new(), Duration::ZERO)
        }))
        .await;
        let sub = backend.subscribe(&receiver).await;
        let outbox = &backend.outbox;
        let publish = |n: usize| async move {
            let task = event("Task", "create", &n.to_string(), "");
            outbox
                .tenant(TENANT)
                .publish::<entity_changed>(&task)
                .await
                .unwrap();
        };
        let dispatcher = outbox.dispatcher(fast_config()).unwrap().spawn();
        publish(0).await;
        assert_eq!(drained(outbox, WAIT).await, (0, 0, 1), "{}", backend.name);
        accept.store(true, Ordering::SeqCst);
        publish(1).await;
        publish(2).await;
        assert_eq!(drained(outbox, WAIT).await, (0, 2, 1), "{}", backend.name);
        dispatcher.shutdown().await;
        publish(3).await;
        // Failed, delivered, delivered, pending: one list, in order, page by page.
        let owner = outbox.subscription(&sub.id).await.unwrap().tenant;
        let mut listed = Vec::new();
        let mut cursor = 0;
        loop {
            let page = outbox
                .tenant(&owner)
                .payloads(&sub.id, cursor, 2)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            cursor = last.cursor + 1;
            listed.extend(
                page.into_iter()
                    .map(|p| p.payload["entity"]["new"]["status_id"].clone()),
            );
        }
        assert_eq!(listed, ["0", "1", "2", "3"], "{}", backend.name);
    }
}

#[tokio::test]
async fn a_delivered_message_can_be_resent_and_replayed() {
    for backend in backends().await {
        let receiver = Receiver::answering(StatusCode::OK).await;
        let sub = backend.subscribe(&receiver).await;
        let outbox = &backend.outbox;
        let owner = outbox.subscription(&sub.id).await.unwrap().tenant;
        let id = backend.publish_task().await;
        let dispatcher = outbox.dispatcher(fast_config()).unwrap().spawn();
        assert_eq!(drained(outbox, WAIT).await, (0, 1, 0), "{}", backend.name);
        outbox.tenant(&owner).resend(&sub.id, &id).await.unwrap();
        assert_eq!(drained(outbox, WAIT).await, (0, 2, 0), "{}", backend.name);
        assert_eq!(outbox.tenant(&owner).replay(&sub.id, 0).await.unwrap(), 1);
        assert_eq!(drained(outbox, WAIT).await, (0, 3, 0), "{}", backend.name);
        let sent = receiver.wait_for(3, WAIT).await;
        assert!(sent.iter().all(|r| r.header("webhook-id") == id));
        let unknown = outbox.tenant(&owner).resend(&sub.id, "msg_unknown").await;
        assert!(
            matches!(&unknown, Err(OutboxError::MessageNotFound(id)) if id == "msg_unknown"),
            "{}: {unknown:?}",
            backend.name
        );
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn purging_goes_through_a_large_backlog_in_batches() {
    for backend in backends().await {
        let outbox = &backend.outbox;
        // More than one batch (1,000) of finished messages: with no subscriber, each is
        // finished as soon as it is published.
        for _ in 0..1_500 {
            backend.publish_task().await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(
            outbox.purge(Duration::ZERO).await.unwrap(),
            1_500,
            "{}",
            backend.name
        );
        assert_eq!(
            backend.rows("hookspec_messages").await,
            0,
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn a_purge_keeps_pending_messages_among_many_batches_of_finished_ones() {
    for backend in backends().await {
        let outbox = &backend.outbox;
        // Pending (no dispatcher runs) to TENANT's subscriber; finished at once to a tenant
        // with none. The pending ones sit before, between and after batches.
        let receiver = Receiver::answering(StatusCode::OK).await;
        let sub = backend.subscribe(&receiver).await;
        let tasks: Vec<_> = (0..700)
            .map(|i| event("Task", "create", &i.to_string(), ""))
            .collect();
        let mut pending = Vec::new();
        for _ in 0..4 {
            pending.push(backend.publish_task().await);
            outbox
                .tenant("nobody")
                .publish_batch::<entity_changed>(&tasks)
                .await
                .unwrap();
        }
        pending.push(backend.publish_task().await);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let purged = outbox.purge(Duration::ZERO).await.unwrap();
        assert_eq!(purged, 4 * 700, "{}", backend.name);
        assert_eq!(
            backend.rows("hookspec_messages").await,
            pending.len() as i64,
            "{}",
            backend.name
        );
        let records = outbox
            .tenant(TENANT)
            .recent_messages(&sub.id, 10)
            .await
            .unwrap();
        for id in &pending {
            assert!(
                records.iter().any(|r| &r.message_id == id && r.pending),
                "{}: {id} kept",
                backend.name
            );
        }
    }
}

#[tokio::test]
async fn a_purge_deletes_the_attempts_of_the_messages_it_deletes_and_no_others() {
    for backend in backends().await {
        let outbox = &backend.outbox;
        // TENANT's receiver fails and its retry is an hour away: its messages stay pending,
        // each with one failed attempt. The other tenant's are delivered and finished.
        let failing = Receiver::answering(StatusCode::INTERNAL_SERVER_ERROR).await;
        let accepting = Receiver::answering(StatusCode::OK).await;
        backend.subscribe(&failing).await;
        outbox
            .tenant("other")
            .subscribe(hookspec::delivery::Subscription::new(&accepting.url))
            .await
            .unwrap();
        let config = hookspec::delivery::DispatchConfig {
            schedule: RetrySchedule::new([Duration::ZERO, Duration::from_secs(3600)]).unwrap(),
            ..fast_config()
        };
        let dispatcher = outbox.dispatcher(config).unwrap().spawn();
        let kept = backend.publish_tasks(3).await;
        for n in 0..3 {
            outbox
                .tenant("other")
                .publish::<entity_changed>(&event("Task", "create", &n.to_string(), ""))
                .await
                .unwrap();
        }
        failing.wait_for(3, WAIT).await;
        accepting.wait_for(3, WAIT).await;
        dispatcher.shutdown().await;
        let name = backend.name;
        assert_eq!(backend.rows("hookspec_attempts").await, 6, "{name}");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(outbox.purge(Duration::ZERO).await.unwrap(), 3, "{name}");
        assert_eq!(backend.rows("hookspec_attempts").await, 3, "{name}");
        for id in &kept {
            let attempts = outbox.attempts(id).await.unwrap();
            assert_eq!(attempts.len(), 1, "{name}: {id}");
            assert_eq!(attempts[0].status_code, Some(500));
        }
    }
}

#[tokio::test]
async fn a_purge_lets_publishing_through_between_its_transactions() {
    // SQLite's outbox has one connection, which the purge shares with publishing: with its
    // transactions back to back, each took the connection again at once, and publishes one
    // after another got few in between (58-59 while purging these 5,000 messages with its
    // rests removed, 337-354 with them, in a debug build).
    let backend = support::sqlite().await;
    let outbox = &backend.outbox;
    const OLD: u64 = 5_000;
    let tasks: Vec<_> = (0..OLD)
        .map(|i| event("Task", "create", &i.to_string(), ""))
        .collect();
    // With no subscriber, each message is finished as soon as it is stored.
    for chunk in tasks.chunks(500) {
        outbox
            .tenant(TENANT)
            .publish_batch::<entity_changed>(chunk)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let purger = outbox.clone();
    let purging = tokio::spawn(async move { purger.purge(Duration::ZERO).await });
    let mut published = 0;
    while !purging.is_finished() {
        let task = event("Task", "create", "new", "");
        outbox
            .tenant(TENANT)
            .publish::<entity_changed>(&task)
            .await
            .unwrap();
        published += 1;
    }
    assert_eq!(purging.await.unwrap().unwrap(), OLD);
    // Paced, the purge rests after each transaction as long as it took, and a publish takes
    // a fraction of a transaction: many publishes fit in each rest.
    assert!(
        published >= 140,
        "{published} publishes while purging {OLD} messages"
    );
    assert_eq!(backend.rows("hookspec_messages").await, published);
}

#[tokio::test]
async fn an_event_name_with_a_control_character_is_refused() {
    for backend in backends().await {
        let outbox = &backend.outbox;
        let refused = outbox
            .tenant(TENANT)
            .subscribe(
                hookspec::delivery::Subscription::new("http://127.0.0.1:9/hooks")
                    .events(["entity\0changed"]),
            )
            .await;
        assert!(
            matches!(&refused, Err(OutboxError::InvalidSubscription(why)) if why.contains("control character")),
            "{}: {refused:?}",
            backend.name
        );
        let sub = outbox
            .tenant(TENANT)
            .subscribe(hookspec::delivery::Subscription::new(
                "http://127.0.0.1:9/hooks",
            ))
            .await
            .unwrap();
        let owner = outbox.subscription(&sub.id).await.unwrap().tenant;
        let update = hookspec::delivery::SubscriptionUpdate {
            events: Some(vec!["entity\0changed".into()]),
            ..Default::default()
        };
        let refused = outbox
            .tenant(&owner)
            .update_subscription(&sub.id, update)
            .await;
        assert!(
            matches!(refused, Err(OutboxError::InvalidSubscription(_))),
            "{}",
            backend.name
        );
        // Publishing still works for everyone.
        backend.publish_task().await;
    }
}

#[tokio::test]
async fn a_description_longer_than_the_limit_is_refused() {
    let too_long = "d".repeat(hookspec::delivery::MAX_DESCRIPTION + 1);
    for backend in backends().await {
        let acme = backend.outbox.tenant(TENANT);
        let refused = acme
            .subscribe(
                hookspec::delivery::Subscription::new("http://127.0.0.1:9/hooks")
                    .description(too_long.clone()),
            )
            .await;
        assert!(
            matches!(&refused, Err(OutboxError::InvalidSubscription(why)) if why.contains("description")),
            "{}: {refused:?}",
            backend.name
        );
        let longest = "d".repeat(hookspec::delivery::MAX_DESCRIPTION);
        let sub = acme
            .subscribe(
                hookspec::delivery::Subscription::new("http://127.0.0.1:9/hooks")
                    .description(longest),
            )
            .await
            .unwrap();
        let update = hookspec::delivery::SubscriptionUpdate {
            description: Some(Some(too_long.clone())),
            ..Default::default()
        };
        let refused = acme.update_subscription(&sub.id, update).await;
        assert!(
            matches!(refused, Err(OutboxError::InvalidSubscription(_))),
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn recent_messages_show_one_subscriptions_attempts_newest_first() {
    for backend in backends().await {
        let name = backend.name;
        let flaky = Receiver::failing_first(1).await;
        let steady = Receiver::answering(StatusCode::OK).await;
        let sub = backend.subscribe(&flaky).await;
        backend.subscribe(&steady).await;
        let outbox = &backend.outbox;
        let tenant = outbox.tenant(TENANT);
        let dispatcher = outbox.dispatcher(fast_config()).unwrap().spawn();
        let first = backend.publish_task().await;
        drained(outbox, WAIT).await;
        let second = backend.publish_task().await;
        drained(outbox, WAIT).await;
        dispatcher.shutdown().await;
        let third = backend.publish_task().await;

        let recent = tenant.recent_messages(&sub.id, 10).await.unwrap();
        let ids: Vec<&str> = recent.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, [&third, &second, &first], "{name}");
        let pending: Vec<bool> = recent.iter().map(|m| m.pending).collect();
        assert_eq!(pending, [true, false, false], "{name}");
        let statuses = |i: usize| -> Vec<Option<i64>> {
            recent[i].attempts.iter().map(|a| a.status_code).collect()
        };
        // The other subscription's attempts at the same messages are not listed.
        assert_eq!(statuses(0), [], "{name}");
        assert_eq!(statuses(1), [Some(200)], "{name}");
        assert_eq!(statuses(2), [Some(500), Some(200)], "{name}");
        assert_eq!(recent[2].event, "entity.changed", "{name}");
        let newest = tenant.recent_messages(&sub.id, 1).await.unwrap();
        assert_eq!(newest.len(), 1, "{name}");
        let other = outbox
            .tenant("someone-else")
            .recent_messages(&sub.id, 10)
            .await;
        assert!(
            matches!(other, Err(OutboxError::NotFound(_))),
            "{name}: {other:?}"
        );
    }
}

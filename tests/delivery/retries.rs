//! Failed attempts: retries on the schedule with the same id, timeouts, redirects and network
//! errors, `Retry-After`, and the subscriptions a 410 or continuous failure disables.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use hookspec::delivery::{DispatchConfig, RetrySchedule, Subscription};

use super::support::{self, backends, drained, fast_config, Receiver};
use super::{entity_changed, event, WAIT};
use crate::support::TENANT;

#[tokio::test]
async fn retries_non_2xx_with_the_same_id_until_success() {
    for backend in backends().await {
        let receiver = Receiver::failing_first(2).await;
        backend.subscribe(&receiver).await;
        let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
        let id = backend
            .outbox
            .tenant(TENANT)
            .publish::<entity_changed>(&event("Task", "create", "a", ""))
            .await
            .unwrap();
        let got = receiver.wait_for(3, WAIT).await;
        assert!(
            got.iter().all(|r| r.header("webhook-id") == id),
            "webhook-id is stable across retries"
        );
        assert_ne!(got[0].header("webhook-signature"), "", "{}", backend.name);
        assert_eq!(
            drained(&backend.outbox, WAIT).await,
            (0, 1, 0),
            "{}",
            backend.name
        );
        let attempts = backend.outbox.attempts(&id).await.unwrap();
        let codes: Vec<Option<i64>> = attempts.iter().map(|a| a.status_code).collect();
        assert_eq!(codes, [Some(500), Some(500), Some(200)]);
        // The schedule's 50 ms wait runs from the start of the failed attempt: measured there,
        // not at the receiver, where the first request's connection setup shortens the gap.
        assert!(
            attempts[1].attempted_at - attempts[0].attempted_at >= 50,
            "the schedule's 50 ms wait: {attempts:?}"
        );
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn network_errors_timeouts_and_redirects_are_failures_retried_then_given_up() {
    for backend in backends().await {
        // Nothing listens on the port of a listener we drop.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let slow = Receiver::start(Arc::new(|_| {
            (StatusCode::OK, Vec::new(), Duration::from_secs(3))
        }))
        .await;
        let ok = Receiver::answering(StatusCode::OK).await;
        let redirect_to = ok.url.clone();
        let redirect = Receiver::start(Arc::new(move |_| {
            (
                StatusCode::TEMPORARY_REDIRECT,
                vec![("location", redirect_to.clone())],
                Duration::ZERO,
            )
        }))
        .await;
        for url in [
            format!("http://{closed}/hooks"),
            slow.url.clone(),
            redirect.url.clone(),
        ] {
            backend
                .outbox
                .tenant(TENANT)
                .subscribe(Subscription::new(url))
                .await
                .unwrap();
        }
        let config = DispatchConfig {
            timeout: Duration::from_millis(300),
            ..fast_config()
        };
        let dispatcher = backend.outbox.dispatcher(config).unwrap().spawn();
        let id = backend
            .outbox
            .tenant(TENANT)
            .publish::<entity_changed>(&event("Task", "create", "a", ""))
            .await
            .unwrap();
        assert_eq!(
            drained(&backend.outbox, WAIT).await,
            (0, 0, 3),
            "{}",
            backend.name
        );
        let attempts = backend.outbox.attempts(&id).await.unwrap();
        assert_eq!(attempts.len(), 9, "three attempts each: {attempts:#?}");
        let errors: Vec<&str> = attempts.iter().filter_map(|a| a.error.as_deref()).collect();
        assert!(
            errors.iter().any(|e| e.starts_with("connection failed")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with("timed out")),
            "{errors:?}"
        );
        assert_eq!(
            attempts
                .iter()
                .filter(|a| a.status_code == Some(307))
                .count(),
            3,
            "redirects are not followed"
        );
        assert!(
            ok.received().is_empty(),
            "the redirect target never gets the webhook"
        );
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn gone_disables_the_subscription_and_enabling_resumes_it() {
    for backend in backends().await {
        let receiver = Receiver::start(Arc::new(|n| {
            let status = if n == 0 {
                StatusCode::GONE
            } else {
                StatusCode::OK
            };
            (status, Vec::new(), Duration::ZERO)
        }))
        .await;
        let sub = backend.subscribe(&receiver).await;
        let dispatcher = backend.outbox.dispatcher(fast_config()).unwrap().spawn();
        backend.publish_task().await;
        receiver.wait_for(1, WAIT).await;
        drained(&backend.outbox, WAIT).await;
        let info = backend.outbox.subscription(&sub.id).await.unwrap();
        assert!(!info.enabled, "{}", backend.name);
        assert_eq!(info.disabled_reason.as_deref(), Some("gone"));
        // Disabled: new events are not queued for it.
        backend
            .outbox
            .tenant(TENANT)
            .publish::<entity_changed>(&event("Task", "create", "2", ""))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(receiver.received().len(), 1);
        backend.outbox.enable(&sub.id).await.unwrap();
        backend
            .outbox
            .tenant(TENANT)
            .publish::<entity_changed>(&event("Task", "create", "3", ""))
            .await
            .unwrap();
        receiver.wait_for(2, WAIT).await;
        assert!(backend.outbox.subscription(&sub.id).await.unwrap().enabled);
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn continuous_failure_past_the_threshold_disables() {
    for backend in backends().await {
        let receiver = Receiver::answering(StatusCode::INTERNAL_SERVER_ERROR).await;
        let sub = backend.subscribe(&receiver).await;
        let config = DispatchConfig {
            failure_threshold: Duration::from_millis(20),
            ..fast_config()
        };
        let dispatcher = backend.outbox.dispatcher(config).unwrap().spawn();
        backend.publish_task().await;
        receiver.wait_for(2, WAIT).await;
        let deadline = std::time::Instant::now() + WAIT;
        while backend.outbox.subscription(&sub.id).await.unwrap().enabled {
            assert!(
                std::time::Instant::now() < deadline,
                "{}: not disabled",
                backend.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let info = backend.outbox.subscription(&sub.id).await.unwrap();
        assert_eq!(info.disabled_reason.as_deref(), Some("failing"));
        assert_eq!(support::counted(&dispatcher.metrics().disabled, 1).await, 1);
        backend.outbox.enable(&sub.id).await.unwrap();
        let info = backend.outbox.subscription(&sub.id).await.unwrap();
        assert!(info.enabled && info.failing_since.is_none());
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn retry_after_is_honoured_within_bounds() {
    for backend in backends().await {
        let receiver = Receiver::start(Arc::new(|n| match n {
            0 => (
                StatusCode::TOO_MANY_REQUESTS,
                vec![("retry-after", "1".into())],
                Duration::ZERO,
            ),
            1 => (
                StatusCode::SERVICE_UNAVAILABLE,
                vec![("retry-after", "3600".into())],
                Duration::ZERO,
            ),
            _ => (StatusCode::OK, Vec::new(), Duration::ZERO),
        }))
        .await;
        backend.subscribe(&receiver).await;
        let config = DispatchConfig {
            max_retry_after: Duration::from_millis(300),
            ..fast_config()
        };
        let dispatcher = backend.outbox.dispatcher(config).unwrap().spawn();
        backend.publish_task().await;
        let got = receiver.wait_for(3, WAIT).await;
        let first = got[1].at.duration_since(got[0].at);
        let second = got[2].at.duration_since(got[1].at);
        // Retry-After: 1 is capped at 300 ms here, like 3600; both are far above the 50/100 ms schedule.
        assert!(
            first >= Duration::from_millis(280),
            "{}: {first:?}",
            backend.name
        );
        assert!(
            second >= Duration::from_millis(280) && second < Duration::from_secs(5),
            "{second:?}"
        );
        dispatcher.shutdown().await;
    }
}

#[tokio::test]
async fn every_attempt_uses_the_schedule_then_gives_up() {
    let backend = support::sqlite().await;
    let receiver = Receiver::answering(StatusCode::BAD_GATEWAY).await;
    backend.subscribe(&receiver).await;
    let schedule = RetrySchedule::new([
        Duration::ZERO,
        Duration::from_millis(30),
        Duration::from_millis(60),
        Duration::from_millis(90),
    ])
    .unwrap()
    .jitter(0.0);
    let dispatcher = backend
        .outbox
        .dispatcher(DispatchConfig {
            schedule,
            ..fast_config()
        })
        .unwrap()
        .spawn();
    let id = backend.publish_task().await;
    assert_eq!(drained(&backend.outbox, WAIT).await, (0, 0, 1));
    assert_eq!(receiver.received().len(), 4);
    // The attempt log's start times, not arrival times: an attempt that reached a busy
    // receiver late would make the next gap look short.
    let attempts = backend.outbox.attempts(&id).await.unwrap();
    assert_eq!(attempts.len(), 4);
    for (i, wanted) in [30, 60, 90].into_iter().enumerate() {
        let gap = attempts[i + 1].attempted_at - attempts[i].attempted_at;
        assert!(gap >= wanted, "gap {i}: {gap} ms, scheduled {wanted} ms");
    }
    let metrics = dispatcher.metrics();
    assert_eq!(support::counted(&metrics.retried, 3).await, 3);
    assert_eq!(support::counted(&metrics.given_up, 1).await, 1);
    dispatcher.shutdown().await;
}

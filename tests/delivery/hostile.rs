//! Hostile and broken receivers. Nothing a receiver sends, or fails to send, may keep an
//! outcome from being recorded: on PostgreSQL a NUL in a 200's body once failed the whole
//! batch of outcomes it was recorded with, so every delivery in it was sent again after each
//! lease, forever. Each case runs beside a healthy subscription to the same events, whose
//! deliveries must be recorded once and never sent again.

use std::future::Future;
use std::time::Duration;

use axum::http::StatusCode;
use hookspec::delivery::{Attempt, DeliveryCounts, DispatchConfig, Subscription, RECORDING_MARGIN};
use tokio::io::AsyncWriteExt;

use super::support::{backends, fast_config, RawReceiver, Receiver};
use super::WAIT;
use crate::support::TENANT;

/// Events published per case: their outcomes finish together and are recorded in batches.
const EVENTS: usize = 3;
const TIMEOUT: Duration = Duration::from_millis(500);

/// The shortest lease allowed, so that a delivery left unrecorded is soon sent again.
fn config() -> DispatchConfig {
    DispatchConfig {
        timeout: TIMEOUT,
        lease: 2 * (TIMEOUT + RECORDING_MARGIN),
        ..fast_config()
    }
}

/// How the hostile receiver's deliveries end.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Expect {
    /// One attempt, a 2xx: recorded delivered.
    Delivered,
    /// Every attempt of the schedule (three in `fast_config`), none a 2xx: given up.
    Failed,
}

/// Publishes `EVENTS` events to a healthy receiver and to the one `hostile` starts (given
/// the healthy one's URL), on every backend, waits past a lease, and checks that every
/// outcome was recorded once and nothing was sent again. Returns the hostile receiver's
/// attempts, per backend and message, for the case's own checks.
async fn against<F, Fut>(https: bool, expect: Expect, hostile: F) -> Vec<Vec<Attempt>>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = RawReceiver>,
{
    let mut all = Vec::new();
    for backend in backends().await {
        let name = backend.name;
        let outbox = &backend.outbox;
        let healthy = Receiver::answering(StatusCode::OK).await;
        let raw = hostile(healthy.url.clone()).await;
        let url = if https {
            raw.url.replacen("http://", "https://", 1)
        } else {
            raw.url.clone()
        };
        let bad = outbox
            .tenant(TENANT)
            .subscribe(Subscription::new(url))
            .await
            .unwrap();
        let good = backend.subscribe(&healthy).await;
        let dispatcher = outbox.dispatcher(config()).unwrap().spawn();
        let published = backend.publish_tasks(EVENTS).await;
        healthy.wait_for(EVENTS, WAIT).await;
        // Past a lease: whatever went unrecorded has been claimed and sent again by now.
        tokio::time::sleep(config().lease + Duration::from_millis(700)).await;
        let mut got: Vec<String> = healthy
            .received()
            .iter()
            .map(|r| r.header("webhook-id").to_owned())
            .collect();
        got.sort();
        let mut expected = published.clone();
        expected.sort();
        assert_eq!(
            got, expected,
            "{name}: the healthy receiver got each event once"
        );
        let (succeeded, failed) = match expect {
            Expect::Delivered => (2 * EVENTS as i64, 0),
            Expect::Failed => (EVENTS as i64, EVENTS as i64),
        };
        let settled = DeliveryCounts {
            pending: 0,
            succeeded,
            failed,
        };
        assert_eq!(outbox.delivery_counts().await.unwrap(), settled, "{name}");
        for id in &published {
            let attempts = outbox.attempts(id).await.unwrap();
            let (good_ones, bad_ones): (Vec<Attempt>, Vec<Attempt>) = attempts
                .into_iter()
                .partition(|a| a.subscription_id == good.id);
            assert_eq!(good_ones.len(), 1, "{name}: {good_ones:?}");
            assert_eq!(good_ones[0].status_code, Some(200), "{name}");
            assert!(bad_ones.iter().all(|a| a.subscription_id == bad.id));
            for attempt in &bad_ones {
                for text in [&attempt.error, &attempt.response_excerpt] {
                    let text = text.as_deref().unwrap_or_default();
                    assert!(
                        !text
                            .chars()
                            .any(|c| c.is_control() && !"\n\r\t".contains(c)),
                        "{name}: stored as sent: {text:?}"
                    );
                    assert!(text.len() <= 2048, "{name}: {} bytes stored", text.len());
                }
            }
            match expect {
                Expect::Delivered => {
                    assert_eq!(bad_ones.len(), 1, "{name}: {bad_ones:?}");
                    assert_eq!(bad_ones[0].status_code, Some(200), "{name}");
                    assert_eq!(bad_ones[0].error, None, "{name}");
                }
                Expect::Failed => {
                    assert_eq!(bad_ones.len(), 3, "{name}: {bad_ones:?}");
                    assert!(
                        bad_ones
                            .iter()
                            .all(|a| !a.status_code.is_some_and(|s| (200..300).contains(&s))),
                        "{name}: {bad_ones:?}"
                    );
                }
            }
            all.push(bad_ones);
        }
        let sent = match expect {
            Expect::Delivered => EVENTS,
            Expect::Failed => 3 * EVENTS,
        };
        assert!(
            raw.requests() <= sent,
            "{name}: sent again ({})",
            raw.requests()
        );
        dispatcher.shutdown().await;
    }
    all
}

/// A `200` with `body`, of the right length.
fn ok_with(body: &[u8]) -> Vec<u8> {
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body);
    answer
}

fn excerpts(attempts: &[Vec<Attempt>]) -> Vec<Option<&str>> {
    attempts
        .iter()
        .flatten()
        .map(|a| a.response_excerpt.as_deref())
        .collect()
}

#[tokio::test]
async fn hostile_nul_bytes_in_the_body() {
    let attempts = against(false, Expect::Delivered, |_| {
        RawReceiver::writing(ok_with(b"ok\0bye"))
    })
    .await;
    for excerpt in excerpts(&attempts) {
        assert_eq!(excerpt, Some("ok\u{FFFD}bye"));
    }
}

#[tokio::test]
async fn hostile_nul_bytes_in_the_reason_phrase() {
    let answer = b"HTTP/1.1 200 O\0K\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_vec();
    let attempts = against(false, Expect::Failed, |_| {
        RawReceiver::writing(answer.clone())
    })
    .await;
    for attempt in attempts.iter().flatten() {
        assert_eq!(attempt.status_code, None, "{attempt:?}");
    }
}

#[tokio::test]
async fn hostile_invalid_utf8_in_the_body() {
    let attempts = against(false, Expect::Delivered, |_| {
        RawReceiver::writing(ok_with(b"\xff\xfe bad \xc3("))
    })
    .await;
    for excerpt in excerpts(&attempts) {
        assert_eq!(excerpt, Some("\u{FFFD}\u{FFFD} bad \u{FFFD}("));
    }
}

#[tokio::test]
async fn hostile_a_body_of_a_mebibyte() {
    let attempts = against(false, Expect::Delivered, |_| {
        RawReceiver::writing(ok_with(&vec![b'x'; 1 << 20]))
    })
    .await;
    for excerpt in excerpts(&attempts) {
        assert_eq!(excerpt, Some("x".repeat(1024).as_str()));
    }
}

#[tokio::test]
async fn hostile_100_kib_of_headers() {
    let mut answer = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
    answer.extend(std::iter::repeat_n(b'a', 100 << 10));
    answer.extend_from_slice(b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    let attempts = against(false, Expect::Delivered, |_| {
        RawReceiver::writing(answer.clone())
    })
    .await;
    for excerpt in excerpts(&attempts) {
        assert_eq!(excerpt, Some("ok"));
    }
}

/// The status decides: a body that stalls after a `200` does not turn it into a timeout.
#[tokio::test]
async fn hostile_a_200_whose_body_stalls() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial".to_vec();
    let attempts = against(false, Expect::Delivered, |_| {
        RawReceiver::stalling_after(head.clone())
    })
    .await;
    for excerpt in excerpts(&attempts) {
        assert_eq!(excerpt, Some("partial"));
    }
}

#[tokio::test]
async fn hostile_a_body_that_never_ends() {
    let attempts = against(false, Expect::Delivered, |_| {
        RawReceiver::start(|mut socket| async move {
            let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
            if socket.write_all(head).await.is_err() {
                return;
            }
            let chunk = format!("100\r\n{}\r\n", "y".repeat(256));
            while socket.write_all(chunk.as_bytes()).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    })
    .await;
    for excerpt in excerpts(&attempts) {
        assert_eq!(excerpt, Some("y".repeat(1024).as_str()));
    }
}

/// Not followed: the `Location` is the healthy receiver, which gets its own deliveries only.
#[tokio::test]
async fn hostile_a_redirect() {
    let attempts = against(false, Expect::Failed, |healthy| {
        let answer = format!(
            "HTTP/1.1 302 Found\r\nLocation: {healthy}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        RawReceiver::writing(answer.into_bytes())
    })
    .await;
    for attempt in attempts.iter().flatten() {
        assert_eq!(attempt.status_code, Some(302), "{attempt:?}");
    }
}

#[tokio::test]
async fn hostile_a_tls_handshake_that_fails() {
    let attempts = against(true, Expect::Failed, |_| {
        RawReceiver::blurting(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    })
    .await;
    for attempt in attempts.iter().flatten() {
        assert_eq!(attempt.status_code, None, "{attempt:?}");
        let error = attempt.error.as_deref().unwrap_or_default();
        assert!(!error.contains("timed out"), "{error}");
    }
}

#[tokio::test]
async fn hostile_a_connection_reset_mid_response() {
    let attempts = against(false, Expect::Failed, |_| {
        RawReceiver::start(|mut socket| async move {
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
            let _ = socket.flush().await;
            // Closing with a zero linger sends a reset rather than a clean end.
            let _ = socket.set_zero_linger();
            drop(socket);
        })
    })
    .await;
    for attempt in attempts.iter().flatten() {
        assert_eq!(attempt.status_code, None, "{attempt:?}");
        assert!(attempt.error.is_some(), "{attempt:?}");
    }
}

/// An answer after the timeout is a timeout, retried (and here given up after the schedule).
#[tokio::test]
async fn hostile_an_answer_after_the_timeout() {
    let attempts = against(false, Expect::Failed, |_| {
        RawReceiver::start(|mut socket| async move {
            tokio::time::sleep(TIMEOUT + Duration::from_millis(300)).await;
            let _ = socket.write_all(&ok_with(b"late")).await;
        })
    })
    .await;
    for attempt in attempts.iter().flatten() {
        assert_eq!(attempt.status_code, None, "{attempt:?}");
        let error = attempt.error.as_deref().unwrap_or_default();
        assert_eq!(error, format!("timed out after {TIMEOUT:?}"));
    }
}

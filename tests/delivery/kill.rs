//! At-least-once across a crash: a dispatcher process killed with SIGKILL mid-run loses
//! nothing; a restarted one delivers every event.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;

use super::support::{self, drained, Receiver};

fn child(url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dispatch-child"))
        .arg(url)
        .stdout(Stdio::null())
        .spawn()
        .expect("start dispatch-child")
}

#[tokio::test]
async fn a_killed_dispatcher_loses_nothing() {
    let mut backends = vec![support::sqlite().await];
    backends.extend(support::postgres().await);
    for backend in backends {
        let receiver = Receiver::start(Arc::new(|_| {
            (StatusCode::OK, Vec::new(), Duration::from_millis(3))
        }))
        .await;
        backend.subscribe(&receiver).await;
        let published: HashSet<String> = backend.publish_tasks(400).await.into_iter().collect();
        let mut first = child(&backend.url);
        receiver.wait_for(60, Duration::from_secs(30)).await;
        first.kill().expect("SIGKILL the dispatcher"); // std's kill is SIGKILL on Unix
        first.wait().unwrap();
        let before_restart = receiver.received().len();
        assert!(
            before_restart < 400,
            "{}: killed mid-run, not after the end",
            backend.name
        );

        let mut second = child(&backend.url);
        let counts = drained(&backend.outbox, Duration::from_secs(60)).await;
        second.kill().unwrap();
        second.wait().unwrap();

        assert_eq!(counts, (0, 400, 0), "{}", backend.name);
        let delivered: HashSet<String> = receiver
            .received()
            .iter()
            .map(|r| r.header("webhook-id").to_owned())
            .collect();
        assert_eq!(
            delivered, published,
            "{}: every event delivered at least once",
            backend.name
        );
    }
}

//! A dispatcher in its own process, for the crash test: `dispatch-child <outbox-url>`.
//! It runs until killed; the test kills it with SIGKILL mid-run and starts another.

use std::time::Duration;

use hookspec::delivery::{DispatchConfig, Outbox, RetrySchedule, SsrfPolicy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: dispatch-child <outbox-url>")?;
    let outbox = if url.starts_with("sqlite:") {
        Outbox::sqlite(&url).await?
    } else {
        Outbox::postgres(&url).await?
    };
    let outbox = outbox.ssrf_policy(SsrfPolicy::new().allow("127.0.0.1/32")?);
    let config = DispatchConfig {
        // A short lease, so the restarted process takes over the dead one's claims quickly.
        // The shortest that covers an attempt (see `DispatchConfig::validate`).
        lease: Duration::from_secs(3),
        timeout: Duration::from_millis(500),
        poll_interval: Duration::from_millis(20),
        schedule: RetrySchedule::new([Duration::ZERO, Duration::from_millis(100)])?.jitter(0.0),
        ..DispatchConfig::default()
    };
    let _dispatcher = outbox.dispatcher(config)?.spawn();
    println!("dispatching");
    std::future::pending::<()>().await;
    Ok(())
}

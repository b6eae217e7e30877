//! The dispatcher: claims due deliveries, sends them signed, records every attempt, retries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::outbox::{duration_ms, random_id, Outbox, StoredSecret};
use super::retry::{parse_retry_after, RetrySchedule};
use super::store::{now_ms, Finished, Job, Next, Outcome};
use crate::signing::{Secret, Signer, SigningKey, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};

/// How the dispatcher works. `Default` gives production values.
#[derive(Clone, Debug)]
pub struct DispatchConfig {
    /// Attempts in flight at once, over all subscriptions (default 64).
    pub concurrency: usize,
    /// Attempts in flight at once to one subscription (default 4): a slow receiver holds
    /// only its own slots.
    pub per_subscription: usize,
    /// Time allowed for one attempt, connection to response (default 15 s).
    pub timeout: Duration,
    /// When to retry (default: the Standard Webhooks schedule).
    pub schedule: RetrySchedule,
    /// The longest `Retry-After` honoured on 429 and 503 (default 1 h).
    pub max_retry_after: Duration,
    /// A subscription failing continuously for longer is disabled (default 5 days).
    pub failure_threshold: Duration,
    /// How long a claim lasts: a dispatcher that dies loses its claims after this (default 60 s).
    pub lease: Duration,
    /// How often to look for due work when nothing wakes the dispatcher (default 500 ms).
    pub poll_interval: Duration,
    /// Finished messages are purged after this (default 7 days).
    pub retention: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            concurrency: 64,
            per_subscription: 4,
            timeout: Duration::from_secs(15),
            schedule: RetrySchedule::default(),
            max_retry_after: Duration::from_secs(3600),
            failure_threshold: Duration::from_secs(5 * 24 * 3600),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Counters of what a dispatcher did.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Deliveries acknowledged with a 2xx.
    pub sent: AtomicU64,
    /// Attempts that failed (network error, timeout, non-2xx).
    pub failed: AtomicU64,
    /// Failed attempts scheduled for a retry.
    pub retried: AtomicU64,
    /// Deliveries given up after the last attempt or a 410.
    pub given_up: AtomicU64,
    /// Subscriptions disabled (410 or continuous failure).
    pub disabled: AtomicU64,
}

/// A dispatcher, ready to [`spawn`](Dispatcher::spawn).
pub struct Dispatcher {
    outbox: Outbox,
    config: DispatchConfig,
}

/// A running dispatcher.
pub struct DispatcherHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    metrics: Arc<Metrics>,
}

impl DispatcherHandle {
    /// Its counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Stops claiming work and waits for the attempts in flight to finish and be recorded.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// State shared by the loop and its attempts.
struct Shared {
    outbox: Outbox,
    config: DispatchConfig,
    owner: String,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
    in_flight: Mutex<HashMap<String, usize>>,
    buckets: Mutex<HashMap<String, (Instant, f64)>>,
}

impl Dispatcher {
    pub(crate) fn new(outbox: Outbox, config: DispatchConfig) -> Self {
        Dispatcher { outbox, config }
    }

    /// Starts delivering on the current tokio runtime.
    pub fn spawn(self) -> DispatcherHandle {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(self.outbox.ssrf.resolver())
            .no_proxy()
            .build()
            .unwrap_or_default();
        let metrics = Arc::new(Metrics::default());
        let shared = Arc::new(Shared {
            owner: random_id("dispatcher"),
            outbox: self.outbox,
            config: self.config,
            client,
            metrics: Arc::clone(&metrics),
            in_flight: Mutex::default(),
            buckets: Mutex::default(),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(shared, stopped));
        DispatcherHandle {
            stop,
            task,
            metrics,
        }
    }
}

async fn run(shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let concurrency = shared.config.concurrency.max(1);
    let slots = Arc::new(Semaphore::new(concurrency));
    let (done, results) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(record(Arc::clone(&shared), results));
    // Claimed deliveries wait here, so a slot that frees up finds work at once rather than
    // a round trip to the database: claiming runs beside delivering, never in its way.
    let (queue, mut claimed) = mpsc::channel(4 * concurrency);
    let claimer = tokio::spawn(claim_ahead(Arc::clone(&shared), queue, stopped.clone()));
    loop {
        let permit = tokio::select! {
            biased;
            () = stop_requested(&mut stopped) => break,
            permit = Arc::clone(&slots).acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break };
        let job = tokio::select! {
            biased;
            () = stop_requested(&mut stopped) => break,
            job = claimed.recv() => job,
        };
        let Some(job) = job else { break };
        let (shared, done) = (Arc::clone(&shared), done.clone());
        tokio::spawn(async move {
            if let Some(outcome) = shared.deliver(&job).await {
                let _ = done.send((job, outcome));
            }
            drop(permit);
        });
    }
    let _ = claimer.await;
    // Claimed but never started: give them back now rather than when their leases expire.
    claimed.close();
    let mut unstarted = Vec::new();
    while let Some(job) = claimed.recv().await {
        unstarted.push(job.delivery);
    }
    if let Err(e) = shared
        .outbox
        .bookkeeping
        .release(&unstarted, &shared.owner, now_ms())
        .await
    {
        tracing::warn!(error = %e, "releasing unstarted deliveries failed; their leases will expire");
    }
    // Graceful stop: wait for the attempts in flight, then for their outcomes to be recorded.
    let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    drop(done);
    let _ = recorder.await;
}

/// Resolves once a stop is asked for. A dropped handle never asks: the dispatcher then runs
/// for as long as the runtime does, like any detached task.
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    if stopped.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Keeps `queue` stocked with claimed deliveries, claiming a batch whenever there is room for
/// one, and otherwise sleeping until something is published or falls due.
async fn claim_ahead(
    shared: Arc<Shared>,
    queue: mpsc::Sender<Job>,
    mut stopped: watch::Receiver<bool>,
) {
    let batch = 2 * shared.config.concurrency.max(1);
    let mut next_purge = Instant::now();
    loop {
        let room = tokio::select! {
            biased;
            () = stop_requested(&mut stopped) => return,
            room = queue.reserve_many(batch) => room,
        };
        let Ok(room) = room else { return };
        if Instant::now() >= next_purge {
            next_purge = Instant::now() + Duration::from_secs(3600);
            if let Err(e) = shared.outbox.purge(shared.config.retention).await {
                tracing::warn!(error = %e, "purging old messages failed");
            }
        }
        // Listen before claiming, so a publish that lands during the claim still wakes us.
        let published = shared.outbox.published.notified();
        tokio::pin!(published);
        published.as_mut().enable();
        let jobs = match shared.claim(batch).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "claiming deliveries failed");
                Vec::new()
            }
        };
        let full = jobs.len() == batch;
        for (slot, job) in room.zip(jobs) {
            slot.send(job);
        }
        if full {
            continue;
        }
        // Everything due has been claimed (or belongs to a subscription at its limit, which
        // a short pause lets drain rather than spinning on the database).
        let wait = shared.idle_wait().await.max(Duration::from_millis(5));
        tokio::select! {
            () = &mut published => {}
            () = tokio::time::sleep(wait) => {}
            () = stop_requested(&mut stopped) => return,
        }
    }
}

/// Records outcomes in batches: whatever finished while the previous batch was being written
/// goes into the next transaction, so a busy dispatcher pays one commit for many attempts.
async fn record(shared: Arc<Shared>, mut results: mpsc::UnboundedReceiver<(Job, Outcome)>) {
    const BATCH: usize = 256;
    let mut batch = Vec::with_capacity(BATCH);
    while results.recv_many(&mut batch, BATCH).await > 0 {
        match shared
            .outbox
            .bookkeeping
            .finish(&shared.owner, &batch)
            .await
        {
            Ok(finished) => {
                for ((job, outcome), finished) in batch.iter().zip(finished) {
                    shared.count(job, outcome, finished);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, attempts = batch.len(), "recording attempts failed; their deliveries will be retried when the leases expire")
            }
        }
        batch.clear();
    }
}

impl Shared {
    async fn claim(&self, free: usize) -> Result<Vec<Job>, super::OutboxError> {
        let busy: Vec<String> = {
            let in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            in_flight
                .iter()
                .filter(|(_, n)| **n >= self.config.per_subscription)
                .map(|(s, _)| s.clone())
                .collect()
        };
        let now = now_ms();
        let limit = i64::try_from(free).unwrap_or(i64::MAX);
        let lease_until = now + duration_ms(self.config.lease);
        let pool = &self.outbox.bookkeeping;
        let ids = pool
            .claim(&self.owner, now, lease_until, limit, &busy)
            .await?;
        pool.jobs(&ids, &self.owner).await
    }

    /// Sleeps until the next delivery falls due, at most the poll interval.
    async fn idle_wait(&self) -> Duration {
        let poll = self.config.poll_interval;
        match self.outbox.bookkeeping.next_due().await {
            Ok(Some(due)) => {
                Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0)).min(poll)
            }
            _ => poll,
        }
    }

    /// Makes one attempt, or gives the delivery back when its subscription is at its limit.
    async fn deliver(&self, job: &Job) -> Option<Outcome> {
        if let Some(wait) = self.hold(job) {
            let _ = self
                .outbox
                .bookkeeping
                .release(&[job.delivery], &self.owner, now_ms() + duration_ms(wait))
                .await;
            return None;
        }
        let outcome = self.attempt(job).instrument(span(job)).await;
        self.leave(&job.subscription_id);
        Some(outcome)
    }

    fn count(&self, job: &Job, outcome: &Outcome, finished: Finished) {
        let metrics = &self.metrics;
        if outcome.success {
            metrics.sent.fetch_add(1, Ordering::Relaxed);
        } else {
            metrics.failed.fetch_add(1, Ordering::Relaxed);
            match outcome.next {
                Next::RetryAt(_) => metrics.retried.fetch_add(1, Ordering::Relaxed),
                _ => metrics.given_up.fetch_add(1, Ordering::Relaxed),
            };
        }
        let span = span(job);
        if finished.disabled {
            metrics.disabled.fetch_add(1, Ordering::Relaxed);
            span.in_scope(|| {
                tracing::warn!(
                    reason = outcome.disable.as_deref().unwrap_or("failing"),
                    "subscription disabled"
                )
            });
        }
        if !finished.recorded {
            span.in_scope(|| tracing::warn!("the lease expired before the attempt was recorded"));
        }
    }

    /// Takes a per-subscription slot and a rate-limit token, or says how long to wait.
    fn hold(&self, job: &Job) -> Option<Duration> {
        {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            let n = in_flight.entry(job.subscription_id.clone()).or_insert(0);
            if *n >= self.config.per_subscription {
                return Some(Duration::from_millis(50));
            }
            *n += 1;
        }
        let rate = job.rate_limit.filter(|r| *r > 0)? as f64;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let (last, tokens) = buckets
            .entry(job.subscription_id.clone())
            .or_insert((now, rate));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return None;
        }
        let wait = Duration::from_secs_f64((1.0 - tokens.max(0.0)) / rate);
        drop(buckets);
        self.leave(&job.subscription_id);
        Some(wait)
    }

    fn leave(&self, subscription: &str) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = in_flight.get_mut(subscription) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                in_flight.remove(subscription);
            }
        }
    }

    async fn attempt(&self, job: &Job) -> Outcome {
        let started = Instant::now();
        let attempted_at = now_ms();
        let made = u32::try_from(job.attempts + 1).unwrap_or(u32::MAX);
        let mut outcome = Outcome {
            attempted_at,
            success: false,
            status_code: None,
            error: None,
            latency_ms: 0,
            excerpt: None,
            next: Next::GiveUp,
            disable: None,
            failing_cutoff: Some(attempted_at - duration_ms(self.config.failure_threshold)),
        };
        let retry = |delay: Option<Duration>| match delay {
            Some(d) => Next::RetryAt(attempted_at + duration_ms(d)),
            None => Next::GiveUp,
        };
        let request = match self.request(job, attempted_at / 1000).await {
            Ok(request) => request,
            Err(refused) => {
                outcome.error = Some(refused);
                outcome.next = retry(self.config.schedule.next_delay(made));
                return outcome;
            }
        };
        let response = tokio::time::timeout(self.config.timeout, async {
            let response = request.send().await?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let excerpt = excerpt(response).await;
            Ok::<_, reqwest::Error>((status, retry_after, excerpt))
        })
        .await;
        outcome.latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        match response {
            Err(_) => outcome.error = Some(format!("timed out after {:?}", self.config.timeout)),
            Ok(Err(e)) => outcome.error = Some(describe(&e)),
            Ok(Ok((status, retry_after, excerpt))) => {
                outcome.status_code = Some(i64::from(status.as_u16()));
                outcome.excerpt = excerpt;
                if status.is_success() {
                    outcome.success = true;
                    outcome.next = Next::Done;
                    outcome.failing_cutoff = None;
                    return outcome;
                }
                if status == StatusCode::GONE {
                    outcome.disable = Some("gone".into());
                    return outcome;
                }
                let honoured = matches!(
                    status,
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                )
                .then(|| retry_after.and_then(|v| parse_retry_after(&v, SystemTime::now())))
                .flatten();
                if let Some(wait) = honoured {
                    let scheduled = self.config.schedule.next_delay(made);
                    outcome.next = retry(scheduled.map(|_| wait.min(self.config.max_retry_after)));
                    return outcome;
                }
            }
        }
        outcome.next = retry(self.config.schedule.next_delay(made));
        outcome
    }

    /// The signed request, or why the target is refused.
    async fn request(&self, job: &Job, timestamp: i64) -> Result<reqwest::RequestBuilder, String> {
        // IP literals never reach the resolver, so the policy is checked here for them.
        let url = self.outbox.ssrf.check_url(&job.url).await?;
        let mut signer =
            signer(&job.secrets, now_ms()).ok_or("the subscription has no usable secret")?;
        if let Some(key) = &self.outbox.signing_key {
            signer = signer.with_key(SigningKey::clone(key));
        }
        let signature = signer.sign(&job.message_id, timestamp, job.payload.as_bytes());
        let method =
            reqwest::Method::from_bytes(job.method.as_bytes()).map_err(|e| e.to_string())?;
        let header = |v: &str| HeaderValue::from_str(v).map_err(|e| e.to_string());
        Ok(self
            .client
            .request(method, url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(
                USER_AGENT,
                HeaderValue::from_static(concat!("hookspec/", env!("CARGO_PKG_VERSION"))),
            )
            .header(HEADER_ID, header(&job.message_id)?)
            .header(HEADER_TIMESTAMP, header(&timestamp.to_string())?)
            .header(HEADER_SIGNATURE, header(&signature)?)
            .body(job.payload.clone()))
    }
}

fn span(job: &Job) -> tracing::Span {
    tracing::info_span!(
        "webhook.attempt",
        delivery = job.delivery,
        message = %job.message_id,
        event = %job.event,
        subscription = %job.subscription_id,
        attempt = job.attempts + 1,
    )
}

/// A signer with every secret that has not expired (several during a rotation).
fn signer(secrets: &str, now: i64) -> Option<Signer> {
    let stored: Vec<StoredSecret> = serde_json::from_str(secrets).ok()?;
    let mut live = stored
        .iter()
        .filter(|s| s.expires_at.is_none_or(|at| at > now))
        .filter_map(|s| Secret::parse(&s.secret).ok());
    let first = live.next()?;
    Some(live.fold(Signer::new(first), Signer::with_secret))
}

/// The first bytes of a response body, for the attempt log.
async fn excerpt(mut response: reqwest::Response) -> Option<String> {
    const LIMIT: usize = 1024;
    let mut bytes = Vec::new();
    while bytes.len() < LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(LIMIT);
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_connect() {
        "connection failed"
    } else if error.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    let mut message = format!("{kind}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

//! The dispatcher: claims due deliveries, sends them signed, records every attempt, retries.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::clock::{duration_ms, now_ms, now_us};
use super::config::DispatchConfig;
use super::cursor::DueCursor;
use super::lanes::Lanes;
use super::model::{new_id, StoredSecret};
use super::outbox::Outbox;
use super::retry::{decide, Decision};
use super::sanitize::{describe, excerpt, storable, ERROR_LIMIT};
use super::ssrf::SsrfPolicy;
use super::store::{Backend, Finished, Job, Next, Outcome};
use super::telemetry::{attempt_span, claim_span, record_attempt, Metrics, Observer};
use crate::signing::{SigningKey, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};

/// A dispatcher, ready to [`spawn`](Dispatcher::spawn).
pub struct Dispatcher {
    source: Source,
    config: DispatchConfig,
    client: reqwest::Client,
    pub(crate) observer: Observer,
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

/// What a dispatcher works from: an outbox's stores and settings.
struct Source {
    /// Where old messages are purged: the connections that publish.
    store: Backend,
    /// Where claims and outcomes are written (see [`Outbox::postgres`]).
    bookkeeping: Backend,
    ssrf: Arc<SsrfPolicy>,
    /// Woken by each publish.
    published: Arc<tokio::sync::Notify>,
    /// Adds a `v1a` (ed25519) signature to every delivery, beside the `v1` ones.
    signing_key: Option<Arc<SigningKey>>,
}

/// State shared by the loop and its attempts.
struct Shared {
    source: Source,
    config: DispatchConfig,
    owner: String,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
    observer: Observer,
    lanes: Lanes,
}

impl Outbox {
    /// A dispatcher that delivers this outbox's pending work; call `spawn` on it. Settings
    /// that cannot work are an error naming the first (see [`DispatchConfig::validate`]).
    pub fn dispatcher(&self, config: DispatchConfig) -> Result<Dispatcher, super::OutboxError> {
        let source = Source {
            store: self.store.clone(),
            bookkeeping: self.bookkeeping.clone(),
            ssrf: Arc::clone(&self.ssrf),
            published: Arc::clone(&self.published),
            signing_key: self.signing_key.clone(),
        };
        Dispatcher::new(source, config)
    }
}

impl Dispatcher {
    /// Checks `config` and builds the HTTP client the attempts share.
    fn new(source: Source, config: DispatchConfig) -> Result<Self, super::OutboxError> {
        config.validate()?;
        // Redirects are not followed and every connection goes through the SSRF guard: a
        // client without them must not be used, so failing to build one is an error.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(source.ssrf.resolver())
            .no_proxy()
            .build()
            .map_err(|e| super::OutboxError::InvalidConfig(format!("no HTTP client: {e}")))?;
        Ok(Dispatcher {
            source,
            config,
            client,
            observer: Observer::default(),
        })
    }

    /// Starts delivering on the current tokio runtime.
    pub fn spawn(self) -> DispatcherHandle {
        let client = self.client;
        let metrics = Arc::new(Metrics::default());
        let shared = Arc::new(Shared {
            owner: new_id("dispatcher"),
            source: self.source,
            client,
            metrics: Arc::clone(&metrics),
            observer: self.observer,
            lanes: Lanes::new(self.config.per_subscription, self.config.tenant_share()),
            config: self.config,
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
    let concurrency = shared.config.concurrency;
    let slots = Arc::new(Semaphore::new(concurrency));
    let (done, results) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(record(Arc::clone(&shared), results));
    // Claimed deliveries wait here, so a slot that frees up finds work at once rather than
    // a round trip to the database: claiming runs beside delivering, never in its way.
    let (queue, mut claimed) = mpsc::channel(16 * concurrency);
    let claimer = tokio::spawn(claim_ahead(Arc::clone(&shared), queue, stopped.clone()));
    let purger = tokio::spawn(purge_hourly(Arc::clone(&shared), stopped.clone()));
    // Subscriptions whose attempt ended while deliveries of theirs were parked.
    let (freed, mut unparked) = mpsc::unbounded_channel::<String>();
    // Held past half its lease, a delivery goes back unattempted rather than risk being
    // claimed again (by this dispatcher or another) while it is still here.
    let stale_after = shared.config.lease / 2;
    'run: loop {
        let permit = tokio::select! {
            biased;
            () = stop_requested(&mut stopped) => break,
            permit = Arc::clone(&slots).acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break };
        let job = 'found: loop {
            tokio::select! {
                biased;
                () = stop_requested(&mut stopped) => break 'run,
                Some(subscription) = unparked.recv() => {
                    while let Some(job) = shared.lanes.next_parked(&subscription) {
                        if job.claimed_at.elapsed() < stale_after {
                            break 'found job;
                        }
                        // This subscription is tried again by the loop; another of the
                        // tenant may have been given the slot.
                        for other in shared.lanes.leave(&subscription, &job.tenant) {
                            if other != subscription {
                                let _ = freed.send(other);
                            }
                        }
                        give_back(&shared, job);
                    }
                }
                job = claimed.recv() => {
                    let Some(job) = job else { break 'run };
                    if job.claimed_at.elapsed() >= stale_after {
                        shared.lanes.forget(&job.subscription_id);
                        give_back(&shared, job);
                    } else if let Some(job) = shared.lanes.admit(job) {
                        break job;
                    }
                }
            }
        };
        let slot = LaneSlot {
            shared: Arc::clone(&shared),
            subscription: job.subscription_id.clone(),
            tenant: job.tenant.clone(),
            freed: freed.clone(),
        };
        let done = done.clone();
        tokio::spawn(async move {
            if let Some(outcome) = slot.shared.deliver(&job).await {
                let _ = done.send((job, outcome));
            }
            drop(slot);
            drop(permit);
        });
    }
    let _ = claimer.await;
    let _ = purger.await;
    // Claimed but never started: give them back now rather than when their leases expire.
    claimed.close();
    let mut unstarted = shared.lanes.unpark_claimed_before(Duration::ZERO);
    while let Some(job) = claimed.recv().await {
        unstarted.push(job);
    }
    if let Err(e) = shared.release(&unstarted, now_ms()).await {
        tracing::warn!(error = %e, "releasing unstarted deliveries failed; their leases will expire");
    }
    // Graceful stop: wait for the attempts in flight, then for their outcomes to be recorded.
    let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    drop(done);
    let _ = recorder.await;
}

/// A slot of a subscription and of its tenant, taken for one attempt and freed when it is
/// dropped (also if the attempt panics), waking the main loop for the subscriptions whose
/// parked deliveries may start now.
struct LaneSlot {
    shared: Arc<Shared>,
    subscription: String,
    tenant: String,
    freed: mpsc::UnboundedSender<String>,
}

impl Drop for LaneSlot {
    fn drop(&mut self) {
        for subscription in self.shared.lanes.leave(&self.subscription, &self.tenant) {
            let _ = self.freed.send(subscription);
        }
    }
}

/// Gives a claimed delivery back to the database, in the background (a rare path).
fn give_back(shared: &Arc<Shared>, job: Job) {
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        if let Err(e) = shared.release(&[job], now_ms()).await {
            tracing::warn!(error = %e, "giving back a delivery failed; its lease will expire");
        }
    });
}

/// Purges finished messages past their retention, a minute after the start (a dispatcher
/// that starts on a backlog delivers first) and then every hour.
async fn purge_hourly(shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let mut next = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = stop_requested(&mut stopped) => return,
        }
        next += Duration::from_secs(3600);
        if let Err(e) = shared.purge().await {
            tracing::warn!(error = %e, "purging old messages failed");
        }
    }
}

/// Resolves once a stop is asked for. A dropped handle never asks: the dispatcher then runs
/// for as long as the runtime does, like any detached task.
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    if stopped.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Keeps `queue` stocked with claimed deliveries, claiming whenever there is room for a
/// batch, and otherwise sleeping until something is published, falls due, or a
/// subscription that claims skipped has room again.
async fn claim_ahead(
    shared: Arc<Shared>,
    queue: mpsc::Sender<Job>,
    mut stopped: watch::Receiver<bool>,
) {
    let batch = 4 * shared.config.concurrency;
    let sweep = (shared.config.lease / 4).max(Duration::from_millis(10));
    let mut cursor = DueCursor::new(shared.config.poll_interval);
    loop {
        // Parked deliveries held past half their lease go back, even while the queue is full.
        let stale = shared.lanes.unpark_claimed_before(shared.config.lease / 2);
        if let Err(e) = shared.release(&stale, now_ms()).await {
            tracing::warn!(error = %e, "giving back deliveries failed; their leases will expire");
        }
        let room = tokio::select! {
            biased;
            () = stop_requested(&mut stopped) => return,
            room = queue.reserve_many(batch) => room,
            () = tokio::time::sleep(sweep) => continue,
        };
        let Ok(room) = room else { return };
        // Listen before claiming, so that what happens during the claim still wakes us.
        let published = shared.source.published.notified();
        let lane_room = shared.lanes.room.notified();
        tokio::pin!(published, lane_room);
        published.as_mut().enable();
        lane_room.as_mut().enable();
        let claimed = shared.claim(batch, cursor.from()).instrument(claim_span());
        let (mut jobs, busy) = match claimed.await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "claiming deliveries failed");
                (Vec::new(), false)
            }
        };
        let got = jobs.len();
        if !busy {
            cursor.claimed(&jobs);
        }
        if got > 0 {
            // A claim never returns more than asked for, but if it did the rest goes back
            // rather than be lost from the count of what each lane holds.
            let mut excess = jobs.split_off(got.min(batch));
            let (jobs, refused) = shared.lanes.claimed(jobs);
            excess.extend(refused);
            if let Err(e) = shared.release(&excess, now_ms()).await {
                tracing::warn!(error = %e, "giving back deliveries failed; their leases will expire");
            }
            for (slot, job) in room.zip(jobs) {
                slot.send(job);
            }
        } else {
            drop(room);
        }
        // A full batch with every subscription still open to claims: there may be more.
        let skipping = busy || shared.lanes.any_full();
        if got == batch && !skipping {
            continue;
        }
        // Otherwise wait. Subscriptions skipped for having enough waiting wake us as they
        // drain (`lane_room`), and a claim now would only read past their due deliveries;
        // other work wakes us when published, or within the poll interval. Without skipped
        // subscriptions, the next due time does, a short pause at least, so that due work
        // that cannot be claimed yet is not polled in a spin.
        let wait = if skipping {
            shared.config.poll_interval
        } else if got > 0 {
            Duration::ZERO
        } else {
            shared.idle_wait().await.max(Duration::from_millis(5))
        };
        tokio::select! {
            () = &mut published => {}
            () = &mut lane_room => {}
            () = tokio::time::sleep(wait) => {}
            () = stop_requested(&mut stopped) => return,
        }
    }
}

/// Records outcomes in batches: whatever finished while the previous batch was being written
/// goes into the next transaction, so a busy dispatcher pays one commit for many attempts.
/// A batch the database refuses is recorded in parts (`finish_apart`), so that one outcome
/// it cannot take does not leave the others to be sent again.
async fn record(shared: Arc<Shared>, mut results: mpsc::UnboundedReceiver<(Job, Outcome)>) {
    const BATCH: usize = 256;
    let mut batch = Vec::with_capacity(BATCH);
    while results.recv_many(&mut batch, BATCH).await > 0 {
        let finished = (shared.source.bookkeeping)
            .finish_apart(&shared.owner, &mut batch)
            .await;
        for ((job, outcome), finished) in batch.iter().zip(finished) {
            if let Some(finished) = finished {
                shared.count(job, outcome, finished);
            }
        }
        batch.clear();
    }
}

impl Shared {
    /// Deletes finished messages past their retention (as [`Outbox::purge`] does).
    async fn purge(&self) -> Result<u64, super::OutboxError> {
        let before = now_ms().saturating_sub(duration_ms(self.config.retention));
        self.source.store.purge(before).await
    }

    /// Claims up to `free` deliveries due from `from` on; also says whether some
    /// subscriptions were skipped.
    async fn claim(&self, free: usize, from: i64) -> Result<(Vec<Job>, bool), super::OutboxError> {
        let busy = self.lanes.full();
        let now = now_ms();
        let limit = i64::try_from(free).unwrap_or(i64::MAX);
        let lease_until = now + duration_ms(self.config.lease);
        let jobs = (self.source.bookkeeping)
            .claim(&self.owner, now, lease_until, limit, &busy, from)
            .await?;
        tracing::Span::current().record("claimed", jobs.len());
        Ok((jobs, !busy.is_empty()))
    }

    /// Gives claimed deliveries back, due again at `at`.
    async fn release(&self, jobs: &[Job], at: i64) -> Result<(), super::OutboxError> {
        let ids: Vec<i64> = jobs.iter().map(|job| job.delivery).collect();
        self.source.bookkeeping.release(&ids, &self.owner, at).await
    }

    /// Sleeps until the next delivery falls due, at most the poll interval.
    async fn idle_wait(&self) -> Duration {
        let poll = self.config.poll_interval;
        match self.source.bookkeeping.next_due().await {
            Ok(Some(due)) => {
                Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0)).min(poll)
            }
            _ => poll,
        }
    }

    /// Makes one attempt, or gives the delivery back when its subscription is out of
    /// rate-limit tokens.
    async fn deliver(&self, job: &Job) -> Option<Outcome> {
        if let Some(wait) = self.rate_limited(job).await {
            let _ = self
                .source
                .bookkeeping
                .release(&[job.delivery], &self.owner, now_ms() + duration_ms(wait))
                .await;
            return None;
        }
        let span = attempt_span(job);
        let outcome = self.attempt(job).instrument(span.clone()).await;
        record_attempt(&span, &outcome);
        Some(outcome)
    }

    /// How long a delivery of a rate-limited subscription must wait, or `None` once it has
    /// a token. The tokens are shared by every dispatcher on the database, so one is taken
    /// there, right before the attempt. The attempt follows whatever happens (a shutdown
    /// waits for attempts that began), so a token is wasted only when the process dies
    /// between the two, or when the database took it but its answer was lost (the delivery
    /// then goes back and asks again). Either costs the receiver one delivery of its limit,
    /// sent a little later than it could have been: acceptable, and never one too many.
    async fn rate_limited(&self, job: &Job) -> Option<Duration> {
        let rate = job.rate_limit.filter(|r| *r > 0)?;
        let bookkeeping = &self.source.bookkeeping;
        match bookkeeping
            .take_token(&job.subscription_id, rate, now_us())
            .await
        {
            Ok(wait) => wait,
            // Without the shared count the limit cannot be kept: wait rather than risk
            // flooding the receiver (the database is likely unreachable for the rest too).
            Err(e) => {
                tracing::warn!(error = %e, "taking a rate-limit token failed");
                Some(Duration::from_secs(1))
            }
        }
    }

    fn count(&self, job: &Job, outcome: &Outcome, finished: Finished) {
        let metrics = &self.metrics;
        if outcome.delivered() {
            metrics.sent.fetch_add(1, Ordering::Relaxed);
        } else {
            metrics.failed.fetch_add(1, Ordering::Relaxed);
            match outcome.next {
                Next::RetryAt(_) => metrics.retried.fetch_add(1, Ordering::Relaxed),
                _ => metrics.given_up.fetch_add(1, Ordering::Relaxed),
            };
        }
        // Logged without the attempt's span, which has ended: a second one of that name
        // would read as a second attempt in a trace.
        let (delivery, subscription) = (job.delivery, &job.subscription_id);
        if finished.disabled {
            metrics.disabled.fetch_add(1, Ordering::Relaxed);
            let reason = outcome.disable.as_deref().unwrap_or("failing");
            tracing::warn!(delivery, subscription, reason, "subscription disabled");
        }
        if finished.recorded {
            self.observer.recorded(job, outcome);
        } else {
            self.observer.lease_lost();
            tracing::warn!(
                delivery,
                subscription,
                "the lease expired before the attempt was recorded"
            );
        }
    }

    async fn attempt(&self, job: &Job) -> Outcome {
        let started = Instant::now();
        let attempted_at = now_ms();
        let made = u32::try_from(job.attempts + 1).unwrap_or(u32::MAX);
        let mut outcome = Outcome {
            attempted_at,
            status_code: None,
            error: None,
            latency_ms: 0,
            excerpt: None,
            next: Next::GiveUp,
            disable: None,
            failing_cutoff: Some(attempted_at - duration_ms(self.config.failure_threshold)),
        };
        // Everything up to the response's head, the DNS look-up of the target's host among it,
        // takes place within the timeout: the lease is sized for an attempt that lasts at most
        // that long (see `DispatchConfig::validate`).
        let deadline = tokio::time::Instant::now() + self.config.timeout;
        let head = tokio::time::timeout_at(deadline, async {
            let request = self.request(job, attempted_at / 1000).await?;
            let response = request.send().await.map_err(|e| describe(&e))?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Ok::<_, String>((response, status, retry_after))
        })
        .await;
        // Once the head is in, the status decides: the body is only read for the log, for
        // what is left of the time, and a body that stalls or breaks keeps what arrived.
        let answer = match head {
            Ok(Ok((response, status, retry_after))) => {
                Ok((status, retry_after, excerpt(response, deadline).await))
            }
            Ok(Err(e)) => Err(storable(e.as_bytes(), ERROR_LIMIT)),
            Err(_) => Err(format!("timed out after {:?}", self.config.timeout)),
        };
        outcome.latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status, retry_after) = match answer {
            Err(e) => {
                outcome.error = Some(e);
                (None, None)
            }
            Ok((status, retry_after, excerpt)) => {
                outcome.status_code = Some(i64::from(status.as_u16()));
                outcome.excerpt = excerpt;
                (Some(status.as_u16()), retry_after)
            }
        };
        let config = &self.config;
        outcome.next = match decide(
            status,
            retry_after.as_deref(),
            made,
            &config.schedule,
            config.max_retry_after,
            SystemTime::now(),
        ) {
            Decision::Delivered => {
                outcome.failing_cutoff = None;
                Next::Delivered
            }
            Decision::Disable => {
                outcome.disable = Some("gone".into());
                Next::GiveUp
            }
            Decision::RetryIn(delay) => Next::RetryAt(attempted_at + duration_ms(delay)),
            Decision::GiveUp => Next::GiveUp,
        };
        outcome
    }

    /// The signed request, or why the target is refused.
    async fn request(&self, job: &Job, timestamp: i64) -> Result<reqwest::RequestBuilder, String> {
        // IP literals never reach the resolver, so the policy is checked here for them.
        let url = self
            .source
            .ssrf
            .check_url(&job.url)
            .await
            .map_err(|e| e.to_string())?;
        let mut signer = StoredSecret::signer(&job.secrets, now_ms())
            .ok_or("the subscription has no usable secret")?;
        if let Some(key) = &self.source.signing_key {
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

//! The dispatcher's settings, and the check that they can work.

use std::time::Duration;

use super::retry::RetrySchedule;
use super::OutboxError;

/// The most attempts a dispatcher keeps in flight: its queue of claimed deliveries is sixteen
/// times this, and every one is a task and a socket.
pub const MAX_CONCURRENCY: usize = 1 << 16;

/// Time allowed, on top of the attempt, to record its outcome before its lease runs out (and
/// for the claim's own round trip, which the lease already counts).
pub const RECORDING_MARGIN: Duration = Duration::from_secs(1);

/// How the dispatcher works. `Default` gives production values.
#[derive(Clone, Debug)]
pub struct DispatchConfig {
    /// Attempts in flight at once, over all subscriptions (default 64, at most
    /// [`MAX_CONCURRENCY`]). The dispatcher claims ahead in batches of four times this, and
    /// holds at most sixteen times this many claimed deliveries in memory.
    pub concurrency: usize,
    /// Attempts in flight at once to one subscription (default 4): a slow receiver holds
    /// only its own slots.
    pub per_subscription: usize,
    /// Attempts in flight at once to the subscriptions of one tenant (default `None`: a
    /// quarter of `concurrency`, at least one): a tenant whose receivers all stall holds only
    /// its share, and the other tenants' deliveries go on. A deployment with one tenant sets
    /// it to `concurrency`.
    pub per_tenant: Option<usize>,
    /// Time allowed for one attempt, from the DNS look-up of the target to the end of what is
    /// read of the response (default 15 s). The lease must cover it: see `lease`.
    pub timeout: Duration,
    /// When to retry (default: the Standard Webhooks schedule).
    pub schedule: RetrySchedule,
    /// The longest `Retry-After` honoured on 429 and 503 (default 1 h).
    pub max_retry_after: Duration,
    /// A subscription failing continuously for longer is disabled (default 5 days).
    pub failure_threshold: Duration,
    /// How long a claim lasts: a dispatcher that dies loses its claims after this (default 60 s).
    /// A claimed delivery may wait in memory for up to half the lease before its attempt
    /// starts (then it goes back unattempted), so the lease must be at least
    /// `2 × (timeout + `[`RECORDING_MARGIN`]`)`: that no dispatcher takes a delivery over while it
    /// is being sent, or before its outcome is recorded.
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
            per_tenant: None,
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

impl DispatchConfig {
    /// Attempts in flight at once per tenant: `per_tenant`, or a quarter of `concurrency`.
    pub(crate) fn tenant_share(&self) -> usize {
        self.per_tenant.unwrap_or(self.concurrency / 4).max(1)
    }

    /// Checks that these settings can work, naming the first that cannot.
    /// [`Outbox::dispatcher`](super::Outbox::dispatcher) calls it.
    pub fn validate(&self) -> Result<(), OutboxError> {
        let invalid = |why: String| Err(OutboxError::InvalidConfig(why));
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return invalid(format!(
                "concurrency must be between 1 and {MAX_CONCURRENCY}, not {}",
                self.concurrency
            ));
        }
        if self.per_subscription == 0 || self.per_tenant == Some(0) {
            return invalid("per_subscription and per_tenant must be at least 1".into());
        }
        if self.timeout.is_zero() || self.poll_interval.is_zero() {
            return invalid("timeout and poll_interval must be longer than zero".into());
        }
        // A claim must outlive the attempt it is for, or another dispatcher (or this one)
        // claims the delivery again and sends it while it is still being sent. The attempt
        // may start as late as half the lease after the claim (`stale_after` in the
        // dispatcher), then lasts up to `timeout`, and its outcome takes a moment to record.
        let needed = self
            .timeout
            .saturating_add(RECORDING_MARGIN)
            .saturating_mul(2);
        if self.lease < needed {
            return invalid(format!(
                "lease ({:?}) must cover the longest wait in memory (half the lease), timeout ({:?}) \
                 and {RECORDING_MARGIN:?} to record the outcome: at least {needed:?}",
                self.lease, self.timeout
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(config: DispatchConfig) -> String {
        match config.validate() {
            Err(OutboxError::InvalidConfig(why)) => why,
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn defaults_work() {
        DispatchConfig::default().validate().unwrap();
    }

    #[test]
    fn settings_that_cannot_work_are_named() {
        let base = DispatchConfig::default;
        for concurrency in [0, MAX_CONCURRENCY + 1, usize::MAX] {
            let why = refused(DispatchConfig {
                concurrency,
                ..base()
            });
            assert!(why.starts_with("concurrency must be"), "{why}");
        }
        let why = refused(DispatchConfig {
            per_subscription: 0,
            ..base()
        });
        assert!(why.contains("per_subscription"), "{why}");
        let why = refused(DispatchConfig {
            poll_interval: Duration::ZERO,
            ..base()
        });
        assert!(why.contains("poll_interval"), "{why}");
        // A lease longer than the timeout is not enough: the attempt may start half a lease
        // after the claim.
        for lease in [15, 20, 31] {
            let why = refused(DispatchConfig {
                lease: Duration::from_secs(lease),
                ..base()
            });
            assert_eq!(
                why,
                format!(
                    "lease ({lease}s) must cover the longest wait in memory (half the lease), \
                     timeout (15s) and 1s to record the outcome: at least 32s"
                )
            );
        }
        DispatchConfig {
            lease: Duration::from_secs(32),
            ..base()
        }
        .validate()
        .unwrap();
        let why = refused(DispatchConfig {
            timeout: Duration::MAX,
            ..base()
        });
        assert!(why.contains("at least"), "{why}");
    }
}

//! What delivery tells operators: `tracing` spans around publishing, claiming and each
//! attempt (which `tracing-opentelemetry` exports as OpenTelemetry spans), and, with the
//! `metrics` feature, the Prometheus counts of [`crate::metrics::DeliveryMetrics`].
//!
//! Spans carry ids, event names, attempt numbers and statuses, never a URL (a target's query
//! string may hold a token), a secret, a payload or a receiver's answer.

use std::sync::atomic::AtomicU64;

use tracing::field::Empty;

use super::publish::Audience;
use super::store::{Job, Next, Outcome};

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

/// The span of one publish: `message` and `deliveries` are recorded once it is stored.
pub(crate) fn publish_span(event: &'static str, audience: Audience<'_>) -> tracing::Span {
    let tenant = match audience {
        Audience::Tenant(tenant) => tenant,
        Audience::Everyone => "",
    };
    tracing::info_span!(
        "webhook.publish",
        event,
        tenant,
        broadcast = matches!(audience, Audience::Everyone),
        message = Empty,
        deliveries = Empty,
    )
}

/// The span of one claim, at debug level: an idle dispatcher claims every poll interval,
/// which at info level would export a trace per poll. `claimed` is recorded by the claim.
pub(crate) fn claim_span() -> tracing::Span {
    tracing::debug_span!("webhook.claim", claimed = Empty)
}

/// The span of one attempt; [`record_attempt`] fills in how it went.
pub(crate) fn attempt_span(job: &Job) -> tracing::Span {
    tracing::info_span!(
        "webhook.attempt",
        otel.kind = "client",
        delivery = job.delivery,
        message = %job.message_id,
        event = %job.event,
        subscription = %job.subscription_id,
        attempt = job.attempts + 1,
        http.response.status_code = Empty,
        outcome = Empty,
        latency_ms = Empty,
    )
}

/// Records an attempt's status, outcome and latency on its span.
pub(crate) fn record_attempt(span: &tracing::Span, outcome: &Outcome) {
    if let Some(status) = outcome.status_code {
        span.record("http.response.status_code", status);
    }
    span.record("outcome", outcome_name(outcome));
    span.record("latency_ms", outcome.latency_ms);
}

/// What an attempt did to its delivery: `delivered` (2xx), `retrying` (it failed and is due
/// again) or `dead` (it failed and was given up: the last attempt, or a 410).
pub(crate) fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome.next {
        Next::Delivered => "delivered",
        Next::RetryAt(_) => "retrying",
        Next::GiveUp => "dead",
    }
}

/// Where a dispatcher reports what it recorded, beyond its own [`super::Metrics`]: the
/// Prometheus families of a [`crate::metrics::DeliveryMetrics`] when it was given one.
#[derive(Clone, Default)]
pub(crate) struct Observer {
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<crate::metrics::Recorder>,
}

impl Observer {
    /// An attempt whose outcome was recorded in the database.
    pub(crate) fn recorded(&self, job: &Job, outcome: &Outcome) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.recorded(job, outcome);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (job, outcome);
    }

    /// An attempt whose outcome could not be recorded: its lease had passed to another
    /// claim, which will attempt the delivery again.
    pub(crate) fn lease_lost(&self) {
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.metrics {
            metrics.lease_lost();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn outcome(status_code: Option<i64>, next: Next) -> Outcome {
        Outcome {
            attempted_at: 0,
            status_code,
            error: None,
            latency_ms: 3,
            excerpt: None,
            next,
            disable: None,
            failing_cutoff: None,
        }
    }

    #[test]
    fn outcomes_are_named() {
        let cases = [
            (Some(204), Next::Delivered, "delivered"),
            (Some(500), Next::RetryAt(5), "retrying"),
            (Some(410), Next::GiveUp, "dead"),
            (None, Next::RetryAt(5), "retrying"),
            (None, Next::GiveUp, "dead"),
        ];
        for (status, next, name) in cases {
            assert_eq!(outcome_name(&outcome(status, next)), name, "{status:?}");
        }
    }
}

//! Prometheus metrics of delivery (feature `metrics`), in the OpenMetrics text format that
//! Prometheus scrapes, encoded by the `prometheus-client` crate.
//!
//! ```no_run
//! # use hookspec::delivery::*;
//! # use hookspec::metrics::DeliveryMetrics;
//! # async fn run(outbox: Outbox) -> Result<(), Box<dyn std::error::Error>> {
//! let metrics = DeliveryMetrics::new(&outbox);
//! let dispatcher = outbox.dispatcher(DispatchConfig::default())?.with_metrics(&metrics).spawn();
//! // GET /metrics, on the App's port (`App::router`) or on an admin port of its own:
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
//! axum::serve(listener, metrics.router()).await?;
//! # Ok(()) }
//! ```
//!
//! Two kinds of figures:
//! * **What this process's dispatchers did** (counters and a histogram, kept in memory, as
//!   each attempt's outcome is recorded): `hookspec_delivery_attempts_total{event, outcome}`
//!   with `outcome` one of `delivered`, `retrying` (failed, due again) and `dead` (failed and
//!   given up: the last attempt or a 410); `hookspec_attempt_duration_seconds{status_class}`
//!   (`2xx`, `4xx`, ..., `error` when nothing answered); `hookspec_lease_losses_total`
//!   (attempts whose lease another claim had taken by the time they were recorded: they are
//!   attempted again). Several processes: sum them.
//! * **The state of the outbox** (gauges, read from the database at each scrape, with two
//!   small queries, so that they are right whichever process delivered and whoever disabled
//!   a subscription): `hookspec_pending_deliveries{subscription="enabled"|"disabled"}`,
//!   `hookspec_oldest_pending_age_seconds` (of the deliveries pending for enabled
//!   subscriptions, since they were queued; 0 when there are none: a delivery waiting out its
//!   retry delay counts, so one receiver that keeps failing holds it up for as long as its
//!   schedule lasts, up to a day by default; alert on it together with the pending count), and
//!   `hookspec_disabled_subscriptions{reason="gone"|"failing"|"manual"|"other"}`. Every
//!   process reports the same database: aggregate them with `max`, not `sum`.
//!
//! No label names a tenant, a subscription or a URL: their number is unbounded. Events are
//! the declared webhooks (and `webhook.test`), a bounded set.

mod scrape;

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::delivery::store::{Job, Outcome};
use crate::delivery::telemetry::{outcome_name, Observer};
use crate::delivery::{Dispatcher, Outbox, OutboxError};
use scrape::Figures;

/// The content type of what [`DeliveryMetrics::render`] returns.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the attempt duration buckets, in seconds: from a fast receiver on the
/// same network to the default 15 s timeout, and twice that for longer timeouts.
const DURATION_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0,
];

/// Delivery metrics of one outbox: give it to the dispatchers
/// ([`Dispatcher::with_metrics`]) and serve it ([`router`](Self::router) or
/// [`render`](Self::render)). Cheap to clone; clones share their figures.
#[derive(Clone)]
pub struct DeliveryMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    recorder: Recorder,
    gauges: Gauges,
    outbox: Outbox,
    /// Scrapes set the gauges and then encode them: one at a time, so that each encodes
    /// the figures it read.
    scraping: tokio::sync::Mutex<()>,
}

/// Why a scrape failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// The outbox's figures could not be read.
    #[error("reading the outbox's figures failed: {0}")]
    Outbox(#[from] OutboxError),
    /// The text could not be encoded.
    #[error("encoding the metrics failed")]
    Encode(#[from] std::fmt::Error),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    event: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusClassLabels {
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubscriptionLabels {
    subscription: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// What dispatchers count into; clones share the counts.
#[derive(Clone)]
pub(crate) struct Recorder {
    attempts: Family<AttemptLabels, Counter>,
    durations: Family<StatusClassLabels, Histogram, fn() -> Histogram>,
    lease_losses: Counter,
}

impl Recorder {
    /// An attempt recorded in the database.
    pub(crate) fn recorded(&self, job: &Job, outcome: &Outcome) {
        let labels = AttemptLabels {
            event: job.event.clone(),
            outcome: outcome_name(outcome),
        };
        self.attempts.get_or_create(&labels).inc();
        let labels = StatusClassLabels {
            status_class: status_class(outcome),
        };
        // Milliseconds as recorded, so that the histogram agrees with the attempt log.
        let seconds = outcome.latency_ms as f64 / 1000.0;
        self.durations.get_or_create(&labels).observe(seconds);
    }

    /// An attempt whose lease was lost before its outcome was recorded.
    pub(crate) fn lease_lost(&self) {
        self.lease_losses.inc();
    }
}

/// The gauges, set from the database at each scrape.
struct Gauges {
    pending: Family<SubscriptionLabels, Gauge>,
    oldest_pending_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    disabled: Family<ReasonLabels, Gauge>,
}

/// The reasons a subscription is disabled for, as labels: a bounded set, whatever the
/// database holds.
const REASONS: [&str; 4] = ["gone", "failing", "manual", "other"];

impl Gauges {
    fn set(&self, figures: &Figures) {
        let pending = |subscription| {
            self.pending
                .get_or_create(&SubscriptionLabels { subscription })
        };
        pending("enabled").set(figures.pending_enabled);
        pending("disabled").set(figures.pending_disabled);
        self.oldest_pending_age
            .set(figures.oldest_pending_age_seconds());
        for reason in REASONS {
            let count = figures
                .disabled
                .iter()
                .filter(|(stored, _)| reason_label(stored) == reason)
                .map(|(_, count)| count)
                .sum();
            self.disabled
                .get_or_create(&ReasonLabels { reason })
                .set(count);
        }
    }
}

/// An attempt's status class (`2xx`...), or `error` when no status came back (a network
/// error, a timeout, a refused target).
fn status_class(outcome: &Outcome) -> &'static str {
    match outcome.status_code {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
        None => "error",
    }
}

/// The label of a stored `disabled_reason`.
fn reason_label(stored: &str) -> &'static str {
    REASONS
        .into_iter()
        .find(|known| *known == stored)
        .unwrap_or("other")
}

impl DeliveryMetrics {
    /// Metrics of `outbox`: its gauges are read from it at each scrape, and its counters
    /// count the attempts of the dispatchers given these metrics.
    pub fn new(outbox: &Outbox) -> DeliveryMetrics {
        let mut registry = Registry::with_prefix("hookspec");
        let recorder = Recorder {
            attempts: Family::default(),
            durations: Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS)),
            lease_losses: Counter::default(),
        };
        let gauges = Gauges {
            pending: Family::default(),
            oldest_pending_age: Gauge::default(),
            disabled: Family::default(),
        };
        registry.register(
            "delivery_attempts",
            "Attempts recorded by this process's dispatchers, by event and outcome: delivered (2xx), retrying (failed, due again), dead (failed and given up)",
            recorder.attempts.clone(),
        );
        registry.register_with_unit(
            "attempt_duration",
            "How long attempts took, by status class (error: no answer)",
            Unit::Seconds,
            recorder.durations.clone(),
        );
        registry.register(
            "lease_losses",
            "Attempts whose lease had passed to another claim before their outcome was recorded (they are attempted again)",
            recorder.lease_losses.clone(),
        );
        registry.register(
            "pending_deliveries",
            "Deliveries waiting to be sent, by whether their subscription is enabled (read from the database)",
            gauges.pending.clone(),
        );
        registry.register_with_unit(
            "oldest_pending_age",
            "Age of the oldest delivery pending for an enabled subscription, 0 without one (read from the database)",
            Unit::Seconds,
            gauges.oldest_pending_age.clone(),
        );
        registry.register(
            "disabled_subscriptions",
            "Disabled subscriptions, by reason (read from the database)",
            gauges.disabled.clone(),
        );
        DeliveryMetrics {
            inner: Arc::new(Inner {
                registry,
                recorder,
                gauges,
                outbox: outbox.clone(),
                scraping: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The metrics as OpenMetrics text ([`CONTENT_TYPE`]), the gauges read from the
    /// database now.
    pub async fn render(&self) -> Result<String, MetricsError> {
        let _one_at_a_time = self.inner.scraping.lock().await;
        let figures = scrape::read(&self.inner.outbox).await?;
        self.inner.gauges.set(&figures);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)?;
        Ok(text)
    }

    /// A router answering `GET /metrics` with [`render`](Self::render), or `503` with a JSON
    /// error when the database cannot be read. Mount it on the `App`
    /// (`app.router(metrics.router())`) or serve it on an admin port of its own: it has no
    /// authentication, so keep it where only your monitoring reaches it.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        let metrics = self.clone();
        axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = metrics.clone();
                async move { metrics.respond().await }
            }),
        )
    }

    async fn respond(&self) -> Response {
        match self.render().await {
            Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
            Err(e) => {
                tracing::warn!(error = %e, "a metrics scrape failed");
                let body = serde_json::json!({"error": {
                    "code": "metrics_unavailable",
                    "message": "the outbox's figures could not be read; see the server's log",
                }});
                (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
            }
        }
    }
}

impl Dispatcher {
    /// Counts this dispatcher's attempts into `metrics` (see [`DeliveryMetrics`]).
    pub fn with_metrics(mut self, metrics: &DeliveryMetrics) -> Self {
        self.observer = Observer {
            metrics: Some(metrics.inner.recorder.clone()),
        };
        self
    }
}

#[cfg(test)]
mod tests {
    use super::{reason_label, status_class};
    use crate::delivery::store::Next;
    use crate::delivery::telemetry::tests::outcome;

    #[test]
    fn status_codes_fall_in_classes() {
        let cases = [
            (Some(204), "2xx"),
            (Some(500), "5xx"),
            (Some(410), "4xx"),
            (Some(307), "3xx"),
            (Some(103), "1xx"),
            (Some(999), "other"),
            (None, "error"),
        ];
        for (status, class) in cases {
            assert_eq!(
                status_class(&outcome(status, Next::GiveUp)),
                class,
                "{status:?}"
            );
        }
    }

    #[test]
    fn stored_reasons_map_to_a_bounded_set_of_labels() {
        assert_eq!(reason_label("gone"), "gone");
        assert_eq!(reason_label("failing"), "failing");
        assert_eq!(reason_label("manual"), "manual");
        assert_eq!(reason_label(""), "other");
        assert_eq!(reason_label("anything a future version writes"), "other");
    }
}

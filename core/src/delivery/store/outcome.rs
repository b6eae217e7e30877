//! What an attempt came to, as the dispatcher hands it to the store to record.

use super::Job;
use crate::delivery::OutboxError;

/// Whether an outcome was recorded (the lease was still ours) and disabled the subscription.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Finished {
    pub(crate) recorded: bool,
    pub(crate) disabled: bool,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Next {
    /// It succeeded: the delivery is deleted and its attempts stay as the record of it.
    Delivered,
    GiveUp,
    RetryAt(i64),
}

/// The result of one attempt, as recorded.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) attempted_at: i64,
    pub(crate) status_code: Option<i64>,
    pub(crate) error: Option<String>,
    pub(crate) latency_ms: i64,
    pub(crate) excerpt: Option<String>,
    pub(crate) next: Next,
    /// Disable the subscription now, with this reason (e.g. `gone` after a 410).
    pub(crate) disable: Option<String>,
    /// Disable it as `failing` if it has failed continuously since before this time.
    pub(crate) failing_cutoff: Option<i64>,
}

impl Outcome {
    /// Whether the receiver took it (answered 2xx).
    pub(crate) fn delivered(&self) -> bool {
        self.next == Next::Delivered
    }
}

/// The parameters of the statements that record a batch of successful attempts
/// ([`Bookkeeping::RECORD_SUCCESSES`](super::Bookkeeping::RECORD_SUCCESSES)).
pub(crate) struct SuccessBatch {
    pub(crate) deliveries: String,
}

impl SuccessBatch {
    pub(crate) fn new(
        results: &[(Job, Outcome)],
        successes: &[usize],
    ) -> Result<Option<SuccessBatch>, OutboxError> {
        if successes.is_empty() {
            return Ok(None);
        }
        let deliveries: Vec<i64> = successes.iter().map(|i| results[*i].0.delivery).collect();
        Ok(Some(SuccessBatch {
            deliveries: serde_json::to_string(&deliveries)?,
        }))
    }

    /// The attempts to insert and the subscriptions that stop failing, as JSON parameters.
    pub(crate) fn rows(
        results: &[(Job, Outcome)],
        recorded: &[usize],
    ) -> Result<(String, String), OutboxError> {
        let attempts: Vec<_> = recorded
            .iter()
            .map(|i| {
                let (job, o) = &results[*i];
                (
                    job.delivery,
                    &job.message_id,
                    &job.subscription_id,
                    o.attempted_at,
                    o.status_code,
                    o.error.as_deref(),
                    o.latency_ms,
                    o.excerpt.as_deref(),
                )
            })
            .collect();
        let subscriptions: std::collections::BTreeSet<&str> = recorded
            .iter()
            .map(|i| results[*i].0.subscription_id.as_str())
            .collect();
        Ok((
            serde_json::to_string(&attempts)?,
            serde_json::to_string(&subscriptions)?,
        ))
    }
}

//! The outbox's records as callers see them: subscriptions, attempts, stored payloads, and
//! the time-ordered ids they carry. Plain data, read and written by the store.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::clock::now_ms;
use crate::signing::{Secret, Signer};

/// A subscription to create.
#[derive(Clone, Debug)]
#[must_use]
pub struct Subscription {
    pub(crate) url: String,
    pub(crate) events: Vec<String>,
    pub(crate) filter: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) metadata: Option<serde_json::Value>,
    pub(crate) rate_limit: Option<u32>,
    pub(crate) expires_in: Option<Duration>,
    pub(crate) secret: Option<Secret>,
}

impl Subscription {
    /// Deliveries to `url`, for every event unless [`events`](Self::events) narrows them.
    pub fn new(url: impl Into<String>) -> Self {
        Subscription {
            url: url.into(),
            events: Vec::new(),
            filter: None,
            description: None,
            metadata: None,
            rate_limit: None,
            expires_in: None,
            secret: None,
        }
    }

    /// Only these webhook names, e.g. `[new_event::NAME]`.
    pub fn events<I: IntoIterator<Item = S>, S: Into<String>>(mut self, events: I) -> Self {
        self.events = events.into_iter().map(Into::into).collect();
        self
    }

    /// Only payloads matching this filter expression, e.g. `entity.operation = "create"`.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    /// A description for people.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Free-form JSON metadata.
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// At most this many deliveries per second to this subscription: a burst of
    /// `per_second`, then `per_second` a second, however many dispatchers share the
    /// database (the limit is kept there, in the subscription's row). A delivery over the
    /// limit goes back to the database, due when the next one is allowed. Zero is no limit.
    pub fn rate_limit(mut self, per_second: u32) -> Self {
        self.rate_limit = Some(per_second);
        self
    }

    /// Stops receiving after this long unless refreshed.
    pub fn expires_in(mut self, lease: Duration) -> Self {
        self.expires_in = Some(lease);
        self
    }

    /// Signs with this secret instead of a generated one.
    pub fn secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }
}

/// A created subscription: its id, and its secret (shown this once).
#[derive(Debug)]
pub struct CreatedSubscription {
    /// The subscription id.
    pub id: String,
    /// The signing secret. It is not retrievable later.
    pub secret: Secret,
}

/// A subscription as stored (secrets left out).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubscriptionInfo {
    /// Its id.
    pub id: String,
    /// The tenant it belongs to: only that tenant's events reach it, besides broadcasts.
    pub tenant: String,
    /// Where deliveries go.
    pub url: String,
    /// The webhook names it receives; empty for all.
    pub events: Vec<String>,
    /// Its filter expression.
    pub filter: Option<String>,
    /// Its description, for people.
    pub description: Option<String>,
    /// Whether deliveries are sent.
    pub enabled: bool,
    /// Why it was disabled: `gone` (the receiver answered 410), `failing`, or `manual`.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed (ms since the epoch).
    pub failing_since: Option<i64>,
    /// When it stops receiving unless refreshed (ms since the epoch), if it expires.
    pub expires_at: Option<i64>,
}

/// One recorded delivery attempt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attempt {
    /// Its position in the attempt log: pass it as `after` for the next page.
    pub id: i64,
    /// The subscription it went to.
    pub subscription_id: String,
    /// When (ms since the epoch).
    pub attempted_at: i64,
    /// The receiver's status code, if it answered.
    pub status_code: Option<i64>,
    /// The network error or reason, if it failed.
    pub error: Option<String>,
    /// How long it took.
    pub latency_ms: i64,
    /// The first bytes of the response body.
    pub response_excerpt: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredSecret {
    pub(crate) secret: String,
    pub(crate) expires_at: Option<i64>,
}

impl StoredSecret {
    /// A signer with every secret in a subscription's stored list that has not expired
    /// (several during a rotation).
    pub(crate) fn signer(secrets: &str, now: i64) -> Option<Signer> {
        let stored: Vec<StoredSecret> = serde_json::from_str(secrets).ok()?;
        let mut live = stored
            .iter()
            .filter(|s| s.expires_at.is_none_or(|at| at > now))
            .filter_map(|s| Secret::parse(&s.secret).ok());
        let first = live.next()?;
        Some(live.fold(Signer::new(first), Signer::with_secret))
    }
}

/// How many deliveries are in each state ([`Outbox::delivery_counts`](super::Outbox::delivery_counts)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Waiting for an attempt, or for a retry.
    pub pending: i64,
    /// Answered with a 2xx (counted from their attempts, as succeeded deliveries are deleted).
    pub succeeded: i64,
    /// Given up on: the schedule ran out, or the subscription was disabled.
    pub failed: i64,
}

/// One stored payload of a subscription, for consumers that pull (Airtable's model).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredPayload {
    /// Its position: ask for `cursor + 1` next.
    pub cursor: i64,
    /// The message id (`webhook-id`).
    pub message_id: String,
    /// The webhook name.
    pub event: String,
    /// The payload, as delivered.
    pub payload: serde_json::Value,
    /// When it was published (ms since the epoch).
    pub created_at: i64,
}

/// A message queued for one subscription, with the attempts to deliver it there.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageRecord {
    /// The message id (`webhook-id`).
    pub message_id: String,
    /// The webhook name.
    pub event: String,
    /// When it was published (ms since the epoch).
    pub created_at: i64,
    /// Whether a delivery of it to this subscription is still waiting to be sent.
    pub pending: bool,
    /// The attempts to deliver it to this subscription, oldest first (at most
    /// [`ATTEMPTS_LIMIT`](super::ATTEMPTS_LIMIT)).
    pub attempts: Vec<Attempt>,
}

/// `prefix_` + the time in milliseconds (10 base-32 characters) + 16 random ones (80 bits),
/// like a ULID. Ids sort by creation time, so each new message lands at the end of the
/// indexes that hold its id (the messages' key, the deliveries' message index) rather than on
/// a random page of each: with random ids, claiming and recording on PostgreSQL took about a
/// sixth longer.
pub(crate) fn new_id(prefix: &str) -> String {
    time_ordered_id(prefix, now_ms(), &mut rand::rng())
}

fn time_ordered_id(prefix: &str, ms: i64, rng: &mut impl rand::RngExt) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let ms = u64::try_from(ms).unwrap_or(0);
    let time = (0..10).rev().map(|i| (ms >> (5 * i)) as usize & 31);
    let random = (0..16).map(|_| rng.random_range(0..32));
    let tail: String = time
        .chain(random)
        .map(|digit| char::from(ALPHABET[digit]))
        .collect();
    format!("{prefix}_{tail}")
}

#[cfg(test)]
mod tests {
    use super::time_ordered_id;

    #[test]
    fn ids_sort_by_time_and_differ_within_a_millisecond() {
        let mut rng = rand::rng();
        let at = 1_764_180_000_000;
        let first = time_ordered_id("msg", at, &mut rng);
        let same_ms = time_ordered_id("msg", at, &mut rng);
        let next_ms = time_ordered_id("msg", at + 1, &mut rng);
        let next_year = time_ordered_id("msg", at + 365 * 86_400_000, &mut rng);
        assert_eq!(first.len(), "msg_".len() + 26);
        assert_ne!(first, same_ms);
        assert_eq!(first[..14], same_ms[..14], "the same time prefix");
        assert!(first < next_ms && same_ms < next_ms && next_ms < next_year);
        assert!(first[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
    }
}

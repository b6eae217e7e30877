//! The receiver kit, for the people who consume hookspec-powered webhooks (often in another
//! Rust service): verify a delivery and deserialize it in one extractor, and drop the
//! duplicates that at-least-once delivery brings.
//!
//! ```no_run
//! use axum::{routing::post, Router};
//! use hookspec::receiver::{Dedup, Verified};
//! use hookspec::signing::{Secret, Verifier};
//!
//! #[derive(serde::Deserialize)]
//! struct Payment { amount: f64 }
//!
//! async fn payment(Verified { id, payload, .. }: Verified<Payment>) -> &'static str {
//!     // at-least-once: the same `id` may come twice; see `Dedup`.
//!     let _ = (id, payload.amount);
//!     "ok"
//! }
//!
//! # fn app(secret: &str) -> Result<Router, hookspec::signing::SigningError> {
//! let verifier = Verifier::new(Secret::parse(secret)?);
//! Ok(Router::new().route("/hooks/payments", post(payment)).with_state(verifier))
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::signing::{Verifier, VerifyError, HEADER_ID, HEADER_TIMESTAMP};

/// A webhook body whose Standard Webhooks signature checked out, deserialized from JSON.
///
/// A webhook declared with `envelope` arrives as `{type, timestamp, data}`: extract
/// `Verified<hookspec::Envelope<Payment>>` and read `payload.data`.
///
/// Extracting it needs a [`Verifier`] in the router's state (directly, or through
/// `FromRef`). A bad or missing signature, or a timestamp outside the tolerance, is answered
/// `401` with a JSON reason; a body that is not the expected JSON, `400`.
#[derive(Debug, Clone)]
pub struct Verified<T> {
    /// The `webhook-id`: the same on every retry of one message.
    pub id: String,
    /// The `webhook-timestamp` of this attempt, in seconds since the epoch.
    pub timestamp: i64,
    /// The payload.
    pub payload: T,
}

/// Why a [`Verified`] extraction failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifiedRejection {
    /// The signature, its headers or its timestamp did not check out.
    #[error("the webhook signature does not verify: {0}")]
    Signature(#[from] VerifyError),
    /// The body could not be read.
    #[error("the request body could not be read: {0}")]
    Body(String),
    /// The body is not the expected JSON.
    #[error("the webhook body is not the expected JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl IntoResponse for VerifiedRejection {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            VerifiedRejection::Signature(_) => (StatusCode::UNAUTHORIZED, "invalid_signature"),
            VerifiedRejection::Body(_) => (StatusCode::BAD_REQUEST, "unreadable_body"),
            VerifiedRejection::Json(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
        };
        let body = serde_json::json!({"error": {"code": code, "message": self.to_string()}});
        (status, axum::Json(body)).into_response()
    }
}

impl<S, T> FromRequest<S> for Verified<T>
where
    S: Send + Sync,
    Verifier: FromRef<S>,
    T: DeserializeOwned,
{
    type Rejection = VerifiedRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|e| VerifiedRejection::Body(e.body_text()))?;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        verifier.verify(header, &body)?;
        let id = header(HEADER_ID).unwrap_or_default().to_owned();
        let timestamp = header(HEADER_TIMESTAMP)
            .and_then(|t| t.parse().ok())
            .unwrap_or_default();
        Ok(Verified {
            id,
            timestamp,
            payload: serde_json::from_slice(&body)?,
        })
    }
}

/// Remembers the `webhook-id`s seen recently, to drop the duplicates that at-least-once
/// delivery brings. In memory: for several instances, keep ids in your database instead
/// (a unique key on the id, in the same transaction as the work).
#[derive(Debug)]
pub struct Dedup {
    ttl: Duration,
    capacity: usize,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    at: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
}

impl Dedup {
    /// Remembers ids for `ttl` (a day covers the default retry schedule), at most `capacity`
    /// of them (the oldest are forgotten first).
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Dedup {
            ttl,
            capacity: capacity.max(1),
            seen: Mutex::default(),
        }
    }

    /// `true` the first time `id` is offered (within the ttl), `false` for a duplicate.
    pub fn first_time(&self, id: &str) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((at, _)) = seen.order.front() {
            if now.duration_since(*at) < self.ttl && seen.order.len() < self.capacity {
                break;
            }
            if let Some((at, old)) = seen.order.pop_front() {
                if seen.at.get(&old) == Some(&at) {
                    seen.at.remove(&old);
                }
            }
        }
        if seen.at.contains_key(id) {
            return false;
        }
        seen.at.insert(id.to_owned(), now);
        seen.order.push_back((now, id.to_owned()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_drops_repeats_and_forgets_after_ttl_or_capacity() {
        let dedup = Dedup::new(Duration::from_millis(50), 2);
        assert!(dedup.first_time("a"));
        assert!(!dedup.first_time("a"));
        assert!(dedup.first_time("b"));
        assert!(dedup.first_time("c"), "capacity 2: `a` is forgotten");
        assert!(dedup.first_time("a"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(dedup.first_time("b"), "past the ttl");
    }
}

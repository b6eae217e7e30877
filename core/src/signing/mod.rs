//! [Standard Webhooks](https://www.standardwebhooks.com) signatures: sign what you send, verify
//! what you receive.
//!
//! Every webhook carries three headers:
//!
//! - [`webhook-id`](HEADER_ID): the message id, the same on every retry, so receivers can use it
//!   as an idempotency key;
//! - [`webhook-timestamp`](HEADER_TIMESTAMP): when this attempt was sent, in Unix seconds;
//! - [`webhook-signature`](HEADER_SIGNATURE): a space-separated list of signatures of
//!   `{id}.{timestamp}.{body}`, each tagged with its scheme: `v1,` + base64 of an HMAC-SHA256
//!   made with a shared [`Secret`] (`whsec_…`), or `v1a,` + base64 of an ed25519 signature made
//!   with a [`SigningKey`] (`whsk_…`) that receivers check with its [`PublicKey`] (`whpk_…`).
//!
//! The header is a list so that keys can be rotated without downtime: during a rotation the
//! [`Signer`] holds the old and the new key and signs with both, and a [`Verifier`] accepts the
//! message if any one signature matches any one of its keys.
//!
//! # Sending
//!
//! ```
//! use hookspec::signing::{Secret, Signer};
//!
//! let secret = Secret::generate();
//! // Show the full secret to the endpoint's owner once; store it like a password.
//! let shown_once = secret.expose();
//! assert!(shown_once.starts_with("whsec_"));
//!
//! let signer = Signer::new(secret);
//! let signature = signer.sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", 1674087231, br#"{"type":"ping"}"#);
//! assert!(signature.starts_with("v1,"));
//! // Send `signature` as `webhook-signature`, next to `webhook-id` and `webhook-timestamp`.
//! ```
//!
//! # Receiving
//!
//! ```
//! use std::collections::HashMap;
//! use hookspec::signing::{Secret, Verifier, VerifyError};
//!
//! let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let headers = HashMap::from([
//!     ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
//!     ("webhook-timestamp", "1614265330"),
//!     ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
//! ]);
//! let body = br#"{"test": 2432232314}"#;
//!
//! let verifier = Verifier::new(secret);
//! // `verify` checks the timestamp against the system clock; this example pins "now" instead.
//! let now = 1614265330 + 10;
//! assert_eq!(verifier.verify_at(|name| headers.get(name).copied(), body, now), Ok(()));
//! assert_eq!(
//!     verifier.verify_at(|name| headers.get(name).copied(), b"{}", now),
//!     Err(VerifyError::NoValidSignature),
//! );
//! # Ok::<(), hookspec::signing::SigningError>(())
//! ```
//!
//! # Key formats
//!
//! | Key | Text | Bytes after the prefix (standard base64, padded) |
//! | --- | --- | --- |
//! | [`Secret`] | `whsec_…` | 16 to 64 random bytes; [`Secret::generate`] makes 32 |
//! | [`SigningKey`] | `whsk_…` | the 32-byte ed25519 seed (RFC 8032's private key); 64 bytes of seed followed by public key are accepted too |
//! | [`PublicKey`] | `whpk_…` | the 32-byte ed25519 public key |
//!
//! The prefix is required when parsing, even though some libraries accept a bare base64 key: the
//! prefix is what tells an HMAC secret from an ed25519 key, and without it a signing key pasted
//! where a secret belongs would be silently used as an HMAC key.

use thiserror::Error;

mod keys;
mod signer;
mod verifier;

#[cfg(test)]
mod tests;

pub use keys::{PublicKey, Secret, SigningKey};
pub use signer::Signer;
pub use verifier::{Verifier, DEFAULT_TOLERANCE};

/// The header with the message id, stable across retries of the same message.
pub const HEADER_ID: &str = "webhook-id";
/// The header with the time of this attempt, in integer Unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The header with the space-separated list of versioned signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// The version tag of HMAC-SHA256 signatures made with a [`Secret`].
const VERSION_HMAC: &str = "v1";
/// The version tag of ed25519 signatures made with a [`SigningKey`].
const VERSION_ED25519: &str = "v1a";

/// Why a key could not be parsed.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningError {
    /// The text does not start with the prefix of this kind of key.
    #[error("expected a key starting with `{expected}`")]
    BadPrefix {
        /// The prefix this kind of key starts with: `whsec_`, `whsk_` or `whpk_`.
        expected: &'static str,
    },
    /// The text after the prefix is not standard, padded base64.
    #[error("the text after `{prefix}` is not valid base64")]
    BadBase64 {
        /// The prefix of the key that was being parsed.
        prefix: &'static str,
    },
    /// The key decodes to a number of bytes this kind of key cannot have.
    #[error("a `{prefix}` key must decode to {expected} bytes, not {actual}")]
    BadLength {
        /// The prefix of the key that was being parsed.
        prefix: &'static str,
        /// The lengths this kind of key can have, in words.
        expected: &'static str,
        /// The length the key decoded to.
        actual: usize,
    },
    /// The bytes are not a usable ed25519 key: not a point on the curve, a weak (small-order)
    /// public key, or a 64-byte signing key whose public half does not belong to its seed.
    #[error("the `{prefix}` key is not a valid ed25519 key")]
    InvalidKey {
        /// The prefix of the key that was being parsed.
        prefix: &'static str,
    },
}

/// Why a received webhook was rejected.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent or empty. Holds the header's name.
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a non-negative integer number of seconds.
    #[error("header `webhook-timestamp` is not an integer Unix timestamp in seconds")]
    InvalidTimestamp,
    /// `webhook-timestamp` is further in the past than the verifier's tolerance: possibly a
    /// replayed message.
    #[error("header `webhook-timestamp` is too old")]
    TimestampTooOld,
    /// `webhook-timestamp` is further in the future than the verifier's tolerance.
    #[error("header `webhook-timestamp` is too far in the future")]
    TimestampTooNew,
    /// No signature in `webhook-signature` matches the message under any of the verifier's keys.
    #[error("no signature in header `webhook-signature` matches")]
    NoValidSignature,
}

/// The bytes both schemes sign: `{msg_id}.{timestamp}.{body}`.
///
/// Built once per message and shared by every key, because ed25519 needs the whole message in
/// one piece anyway.
fn signed_content(msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let timestamp = timestamp.to_string();
    let mut content = Vec::with_capacity(msg_id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(msg_id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

//! The receiving side: checking the three headers of a delivery against its body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::Signature;
use subtle::ConstantTimeEq;

use super::keys::{PublicKey, Secret};
use super::{
    signed_content, VerifyError, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, VERSION_ED25519,
    VERSION_HMAC,
};

/// How far a message's timestamp may be from the receiver's clock, in either direction, unless
/// [`Verifier::tolerance`] says otherwise: five minutes, as in the reference libraries.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// At most this many entries of `webhook-signature` are looked at. A rotation needs a handful;
/// the bound keeps a hostile header from making the receiver run thousands of ed25519
/// verifications.
const MAX_SIGNATURES: usize = 64;

/// What a receiver verifies with: HMAC [`Secret`]s and ed25519 [`PublicKey`]s, and how much
/// clock difference to allow.
///
/// A message is accepted when its timestamp is within the tolerance and any one of its
/// signatures matches any one of these keys, so during a rotation the receiver can hold the old
/// and the new key, in any order.
///
/// This does not remember message ids: to refuse a replay within the tolerance window, or a
/// retry of a message already processed, use `webhook-id` as an idempotency key.
#[derive(Clone, Debug)]
pub struct Verifier {
    secrets: Vec<Secret>,
    public_keys: Vec<PublicKey>,
    tolerance: Duration,
}

impl Verifier {
    /// A verifier that accepts `v1` (HMAC-SHA256) signatures made with `secret`.
    pub fn new(secret: Secret) -> Verifier {
        Verifier {
            secrets: vec![secret],
            public_keys: Vec::new(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// A verifier that accepts `v1a` (ed25519) signatures checked with `public_key`, and no HMAC
    /// signature.
    pub fn from_public_key(public_key: PublicKey) -> Verifier {
        Verifier {
            secrets: Vec::new(),
            public_keys: vec![public_key],
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Also accepts `v1` signatures made with `secret`.
    pub fn with_secret(mut self, secret: Secret) -> Verifier {
        self.secrets.push(secret);
        self
    }

    /// Also accepts `v1a` signatures checked with `public_key`.
    pub fn with_public_key(mut self, public_key: PublicKey) -> Verifier {
        self.public_keys.push(public_key);
        self
    }

    /// How far `webhook-timestamp` may be from now, in either direction; counted in whole
    /// seconds. The default is [`DEFAULT_TOLERANCE`].
    pub fn tolerance(mut self, tolerance: Duration) -> Verifier {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a delivery against the system clock.
    ///
    /// `header` looks a request header up by its lowercase name, returning `None` when it is
    /// absent (or, for a header type that may hold other bytes, not valid text). `body` is the
    /// raw request body, exactly as received: parsing and re-serializing JSON changes the bytes
    /// and breaks the signature. With an `http::HeaderMap`, `header` can be
    /// `|name| headers.get(name).and_then(|value| value.to_str().ok())`.
    pub fn verify<'a>(
        &self,
        header: impl Fn(&str) -> Option<&'a str>,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        self.verify_at(header, body, unix_now())
    }

    /// Verifies a delivery as if the time were `now_unix` (Unix seconds): for tests, and for
    /// callers with a clock of their own. Otherwise the same as [`Verifier::verify`].
    pub fn verify_at<'a>(
        &self,
        header: impl Fn(&str) -> Option<&'a str>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), VerifyError> {
        let msg_id = required(&header, HEADER_ID)?;
        let timestamp = parse_timestamp(required(&header, HEADER_TIMESTAMP)?)?;
        let signatures = required(&header, HEADER_SIGNATURE)?;
        // The cheap check first: a stale message is refused without any cryptography.
        self.check_freshness(timestamp, now_unix)?;
        let content = signed_content(msg_id, timestamp, body);
        if self.any_matches(signatures, &content) {
            Ok(())
        } else {
            Err(VerifyError::NoValidSignature)
        }
    }

    fn check_freshness(&self, timestamp: i64, now_unix: i64) -> Result<(), VerifyError> {
        // `abs_diff` cannot overflow, whatever the two values are.
        if timestamp.abs_diff(now_unix) <= self.tolerance.as_secs() {
            Ok(())
        } else if timestamp < now_unix {
            Err(VerifyError::TimestampTooOld)
        } else {
            Err(VerifyError::TimestampTooNew)
        }
    }

    /// Whether any well-formed entry of the `webhook-signature` value matches `content` under
    /// any key. Entries that are malformed or of an unknown version are skipped, as the spec
    /// asks, so that new signature versions can be added without breaking older receivers.
    fn any_matches(&self, signatures: &str, content: &[u8]) -> bool {
        // One HMAC per secret, however many `v1` entries there are.
        let tags: Vec<[u8; 32]> = self.secrets.iter().map(|s| s.tag(content)).collect();
        signatures
            .split_ascii_whitespace()
            .take(MAX_SIGNATURES)
            .filter_map(Candidate::parse)
            .any(|candidate| match candidate {
                // Constant-time, so response timing reveals nothing about how close a forged
                // signature came.
                Candidate::Hmac(signature) => tags
                    .iter()
                    .any(|tag| bool::from(tag.as_slice().ct_eq(&signature))),
                Candidate::Ed25519(signature) => self
                    .public_keys
                    .iter()
                    .any(|key| key.verifies(content, &signature)),
            })
    }
}

/// One well-formed entry of `webhook-signature`.
enum Candidate {
    Hmac(Vec<u8>),
    Ed25519(Signature),
}

impl Candidate {
    /// `v1,<base64>` or `v1a,<base64 of 64 bytes>`; anything else is `None`.
    fn parse(entry: &str) -> Option<Candidate> {
        let (version, encoded) = entry.split_once(',')?;
        // The version is checked before decoding, so unknown entries cost nothing.
        match version {
            VERSION_HMAC => STANDARD.decode(encoded).ok().map(Candidate::Hmac),
            VERSION_ED25519 => {
                let bytes = STANDARD.decode(encoded).ok()?;
                Signature::from_slice(&bytes).ok().map(Candidate::Ed25519)
            }
            _ => None,
        }
    }
}

/// The value of header `name`, treating an empty (or all-blank) value as absent.
fn required<'a>(
    header: &impl Fn(&str) -> Option<&'a str>,
    name: &'static str,
) -> Result<&'a str, VerifyError> {
    header(name)
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or(VerifyError::MissingHeader(name))
}

/// Plain ASCII digits only: `str::parse` alone would also take a sign (`+5`, `-5`), which no
/// sender writes.
fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    if !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(VerifyError::InvalidTimestamp);
    }
    text.parse().map_err(|_| VerifyError::InvalidTimestamp)
}

/// The system clock in Unix seconds; negative if the clock is set before 1970.
fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |secs| -secs),
    }
}

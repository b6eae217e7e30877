//! The sending side: turning a message into a `webhook-signature` header value.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::keys::{Secret, SigningKey};
use super::{signed_content, VERSION_ED25519, VERSION_HMAC};

/// What a sender signs with: one or more HMAC [`Secret`]s and ed25519 [`SigningKey`]s.
///
/// Holding more than one key is how keys are rotated: sign with the old and the new key until
/// every receiver has the new one, then drop the old one.
///
/// ```
/// use hookspec::signing::{Secret, Signer, SigningKey};
///
/// let signer = Signer::new(Secret::generate())
///     .with_secret(Secret::generate())
///     .with_key(SigningKey::generate());
/// let header = signer.sign("msg_1", 1674087231, b"{}");
/// assert_eq!(header.split(' ').count(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct Signer {
    secrets: Vec<Secret>,
    keys: Vec<SigningKey>,
}

impl Signer {
    /// A signer that makes `v1` (HMAC-SHA256) signatures with `secret`.
    pub fn new(secret: Secret) -> Signer {
        Signer {
            secrets: vec![secret],
            keys: Vec::new(),
        }
    }

    /// A signer that makes `v1a` (ed25519) signatures with `key`, and no HMAC signature.
    pub fn from_key(key: SigningKey) -> Signer {
        Signer {
            secrets: Vec::new(),
            keys: vec![key],
        }
    }

    /// Also signs with `secret`.
    pub fn with_secret(mut self, secret: Secret) -> Signer {
        self.secrets.push(secret);
        self
    }

    /// Also signs with `key`.
    pub fn with_key(mut self, key: SigningKey) -> Signer {
        self.keys.push(key);
        self
    }

    /// The `webhook-signature` header value for one delivery attempt: one signature per key,
    /// space-separated, the `v1` ones first, each group in the order its keys were added.
    ///
    /// `msg_id` goes in `webhook-id` and `timestamp` (Unix seconds, the time of this attempt) in
    /// `webhook-timestamp`. The id should never be chosen by a user, and must not contain a `.`:
    /// the signed text is `{msg_id}.{timestamp}.{body}`, and a dot in the id would let one
    /// signed text be read as another split of id, timestamp and body.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let content = signed_content(msg_id, timestamp, body);
        let hmac = self
            .secrets
            .iter()
            .map(|secret| format!("{VERSION_HMAC},{}", STANDARD.encode(secret.tag(&content))));
        let ed25519 = self
            .keys
            .iter()
            .map(|key| format!("{VERSION_ED25519},{}", key.sign(&content)));
        hmac.chain(ed25519).collect::<Vec<_>>().join(" ")
    }
}

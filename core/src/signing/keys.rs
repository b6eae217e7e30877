//! The three kinds of key and their text forms: `whsec_`, `whsk_` and `whpk_`.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::Signer as _;
use hmac::{Hmac, KeyInit, Mac};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng as _;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::SigningError;

const SECRET_PREFIX: &str = "whsec_";
const SIGNING_KEY_PREFIX: &str = "whsk_";
const PUBLIC_KEY_PREFIX: &str = "whpk_";

/// The spec asks for at least 24 random bytes ("192 bits, 512 maximum"). Parsing accepts down to
/// 16 so that receivers can still use the shorter secrets some senders hand out (128 bits is
/// still far out of reach of brute force), and up to 64, the 512 bits the spec allows.
const SECRET_LENGTHS: RangeInclusive<usize> = 16..=64;
const GENERATED_SECRET_LENGTH: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// An HMAC secret shared by the sender and one receiver: `whsec_` + base64 of random bytes.
///
/// Neither `Debug` nor `Display` shows the key, so a secret that ends up in a log line or an
/// error message does not leak; [`Secret::expose`] is the one way to get the full text, for
/// showing it to the endpoint's owner once.
#[derive(Clone)]
pub struct Secret {
    key: Vec<u8>,
    /// The HMAC keyed once at parse time: it is cloned for every message, which skips the key
    /// padding each time, and it leaves no fallible step for signing.
    mac: HmacSha256,
}

impl Secret {
    /// A new secret of 32 bytes from the operating system's random number generator.
    pub fn generate() -> Secret {
        let mut key = vec![0; GENERATED_SECRET_LENGTH];
        UnwrapErr(SysRng).fill_bytes(&mut key);
        Secret::from_key(key).expect("32 bytes is within the allowed secret lengths")
    }

    /// Parses `whsec_` followed by standard, padded base64 of 16 to 64 bytes. Whitespace around
    /// the text is ignored, since secrets are often pasted from a UI or an environment file.
    ///
    /// A bare base64 key without the prefix is refused: see the [module docs](super#key-formats).
    pub fn parse(text: &str) -> Result<Secret, SigningError> {
        Secret::from_key(decode_prefixed(text, SECRET_PREFIX)?)
    }

    /// The full `whsec_…` text, for showing once to whoever configures the receiving end.
    pub fn expose(&self) -> String {
        encode_prefixed(SECRET_PREFIX, &self.key)
    }

    fn from_key(key: Vec<u8>) -> Result<Secret, SigningError> {
        let bad_length = SigningError::BadLength {
            prefix: SECRET_PREFIX,
            expected: "16 to 64",
            actual: key.len(),
        };
        if !SECRET_LENGTHS.contains(&key.len()) {
            return Err(bad_length);
        }
        // HMAC takes keys of any length, so this cannot fail; mapping the error keeps it a
        // `Result` instead of a panic all the same.
        let mac = HmacSha256::new_from_slice(&key).map_err(|_| bad_length)?;
        Ok(Secret { key, mac })
    }

    /// The HMAC-SHA256 tag of `content` under this secret.
    pub(super) fn tag(&self, content: &[u8]) -> [u8; 32] {
        self.mac
            .clone()
            .chain_update(content)
            .finalize()
            .into_bytes()
            .into()
    }
}

impl PartialEq for Secret {
    /// Compares in constant time, like every other comparison of key material here.
    fn eq(&self, other: &Secret) -> bool {
        self.key.ct_eq(&other.key).into()
    }
}

impl Eq for Secret {}

impl FromStr for Secret {
    type Err = SigningError;

    fn from_str(text: &str) -> Result<Secret, SigningError> {
        Secret::parse(text)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({SECRET_PREFIX}…)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SECRET_PREFIX}…")
    }
}

/// An ed25519 signing key, held by the sender only: `whsk_` + base64 of its 32-byte seed.
///
/// Receivers get its [`PublicKey`], which can check signatures but not make them, so a leaked
/// receiver configuration cannot be used to forge webhooks. `Debug` shows the public key only,
/// `Display` shows just the prefix; [`SigningKey::expose`] returns the full text.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A new key pair from the operating system's random number generator.
    pub fn generate() -> SigningKey {
        SigningKey {
            key: ed25519_dalek::SigningKey::generate(&mut UnwrapErr(SysRng)),
        }
    }

    /// Parses `whsk_` followed by standard, padded base64 of either the 32-byte seed (what
    /// [`SigningKey::expose`] writes, and what the spec's Go library reads) or 64 bytes of seed
    /// followed by public key (the layout Svix and libsodium use), whose public half must then
    /// belong to the seed. Whitespace around the text is ignored.
    pub fn parse(text: &str) -> Result<SigningKey, SigningError> {
        let bytes = decode_prefixed(text, SIGNING_KEY_PREFIX)?;
        let invalid = SigningError::InvalidKey {
            prefix: SIGNING_KEY_PREFIX,
        };
        let key = if let Ok(seed) = <&[u8; 32]>::try_from(bytes.as_slice()) {
            ed25519_dalek::SigningKey::from_bytes(seed)
        } else if let Ok(pair) = <&[u8; 64]>::try_from(bytes.as_slice()) {
            ed25519_dalek::SigningKey::from_keypair_bytes(pair).map_err(|_| invalid)?
        } else {
            return Err(SigningError::BadLength {
                prefix: SIGNING_KEY_PREFIX,
                expected: "32 or 64",
                actual: bytes.len(),
            });
        };
        Ok(SigningKey { key })
    }

    /// The full `whsk_…` text (base64 of the 32-byte seed), for storing on the sending side.
    pub fn expose(&self) -> String {
        encode_prefixed(SIGNING_KEY_PREFIX, self.key.as_bytes())
    }

    /// The public key to give to receivers.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// The base64 of the ed25519 signature of `content`.
    pub(super) fn sign(&self, content: &[u8]) -> String {
        STANDARD.encode(self.key.sign(content).to_bytes())
    }
}

impl FromStr for SigningKey {
    type Err = SigningError;

    fn from_str(text: &str) -> Result<SigningKey, SigningError> {
        SigningKey::parse(text)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public_key", &self.public_key().to_string())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SIGNING_KEY_PREFIX}…")
    }
}

/// An ed25519 public key, for receivers to check `v1a` signatures: `whpk_` + base64 of its 32
/// bytes.
///
/// Public keys are not secret: `Display` (and so `to_string`) writes the full `whpk_…` text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    key: ed25519_dalek::VerifyingKey,
}

impl PublicKey {
    /// Parses `whpk_` followed by standard, padded base64 of a 32-byte ed25519 public key.
    /// Whitespace around the text is ignored.
    ///
    /// Weak keys (points of small order) are refused: signatures "valid" under them can be made
    /// without any private key.
    pub fn parse(text: &str) -> Result<PublicKey, SigningError> {
        let bytes = decode_prefixed(text, PUBLIC_KEY_PREFIX)?;
        let bytes =
            <&[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| SigningError::BadLength {
                prefix: PUBLIC_KEY_PREFIX,
                expected: "32",
                actual: bytes.len(),
            })?;
        match ed25519_dalek::VerifyingKey::from_bytes(bytes) {
            Ok(key) if !key.is_weak() => Ok(PublicKey { key }),
            _ => Err(SigningError::InvalidKey {
                prefix: PUBLIC_KEY_PREFIX,
            }),
        }
    }

    /// Whether `signature` is this key's signature of `content`.
    ///
    /// `verify_strict` rather than `verify`: it also refuses non-canonical and small-order
    /// encodings, which an honest signer never produces.
    pub(super) fn verifies(&self, content: &[u8], signature: &ed25519_dalek::Signature) -> bool {
        self.key.verify_strict(content, signature).is_ok()
    }
}

impl FromStr for PublicKey {
    type Err = SigningError;

    fn from_str(text: &str) -> Result<PublicKey, SigningError> {
        PublicKey::parse(text)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_prefixed(PUBLIC_KEY_PREFIX, self.key.as_bytes()))
    }
}

/// Strips `prefix` from the trimmed `text` and decodes the rest as standard, padded base64.
fn decode_prefixed(text: &str, prefix: &'static str) -> Result<Vec<u8>, SigningError> {
    let encoded = text
        .trim()
        .strip_prefix(prefix)
        .ok_or(SigningError::BadPrefix { expected: prefix })?;
    STANDARD
        .decode(encoded)
        .map_err(|_| SigningError::BadBase64 { prefix })
}

fn encode_prefixed(prefix: &str, bytes: &[u8]) -> String {
    format!("{prefix}{}", STANDARD.encode(bytes))
}

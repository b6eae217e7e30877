//! The portal's signed tokens: the link a provider hands out, the session cookie the link
//! turns into, and the CSRF token bound to that session. Each is an HMAC-SHA256 under the
//! portal's key, over a purpose label, so a token of one kind never passes for another.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng as _;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a token is for: the MAC covers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// In the link's query string, exchanged for a session. Nothing records its use: the
    /// link works until it expires, however often it is opened (the README says so).
    Link,
    /// The session cookie's value.
    Session,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Link => b"hookspec-portal-link",
            Purpose::Session => b"hookspec-portal-session",
        }
    }
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It was signed by this portal but is past its expiry.
    Expired,
    /// It is malformed, or was not signed by this portal for this purpose.
    Invalid,
}

/// The verified content of a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claims {
    pub(crate) tenant: String,
    /// Seconds since the Unix epoch.
    pub(crate) expires_at: u64,
}

/// Signs and verifies tokens with one key.
#[derive(Clone)]
pub(crate) struct Keys {
    key: Vec<u8>,
}

impl Keys {
    pub(crate) fn new(key: &[u8]) -> Keys {
        Keys { key: key.to_vec() }
    }

    fn mac(&self, purpose: Purpose, body: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any size");
        mac.update(purpose.label());
        mac.update(b"\0");
        mac.update(body.as_bytes());
        mac
    }

    /// `tenant.expiry.nonce.mac`, each part URL-safe: the tenant in base64, a random nonce so
    /// that two links of one second differ.
    pub(crate) fn sign(&self, purpose: Purpose, tenant: &str, expires_at: u64) -> String {
        let mut nonce = [0u8; 12];
        UnwrapErr(SysRng).fill_bytes(&mut nonce);
        let body = format!(
            "{}.{expires_at}.{}",
            URL_SAFE_NO_PAD.encode(tenant),
            URL_SAFE_NO_PAD.encode(nonce)
        );
        let tag = self.mac(purpose, &body).finalize().into_bytes();
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The claims of `token` if this key signed it for `purpose` and it has not expired at
    /// `now` (seconds since the epoch). The MAC is checked first, in constant time, so a
    /// forged token learns nothing from the answer.
    pub(crate) fn verify(
        &self,
        purpose: Purpose,
        token: &str,
        now: u64,
    ) -> Result<Claims, Refusal> {
        let (body, tag) = token.rsplit_once('.').ok_or(Refusal::Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| Refusal::Invalid)?;
        self.mac(purpose, body)
            .verify_slice(&tag)
            .map_err(|_| Refusal::Invalid)?;
        let mut parts = body.split('.');
        let (Some(tenant), Some(expiry), Some(_nonce), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refusal::Invalid);
        };
        let tenant = URL_SAFE_NO_PAD
            .decode(tenant)
            .ok()
            .and_then(|t| String::from_utf8(t).ok())
            .ok_or(Refusal::Invalid)?;
        let expires_at: u64 = expiry.parse().map_err(|_| Refusal::Invalid)?;
        if expires_at <= now {
            return Err(Refusal::Expired);
        }
        Ok(Claims { tenant, expires_at })
    }

    /// The CSRF token of a session: a MAC of the session cookie's value, so it changes with
    /// the session and cannot be made without the key.
    pub(crate) fn csrf(&self, session: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any size");
        mac.update(b"hookspec-portal-csrf\0");
        mac.update(session.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `given` is the CSRF token of `session`, compared in constant time.
    pub(crate) fn csrf_matches(&self, session: &str, given: &str) -> bool {
        let expected = self.csrf(session);
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given.as_bytes()).into()
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn keys() -> Keys {
        Keys::new(&[7; 32])
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let token = keys().sign(Purpose::Link, "acme/eu", NOW + 60);
        let claims = keys().verify(Purpose::Link, &token, NOW).unwrap();
        assert_eq!(claims.tenant, "acme/eu");
        assert_eq!(claims.expires_at, NOW + 60);
        assert_eq!(
            keys().verify(Purpose::Link, &token, NOW + 60),
            Err(Refusal::Expired)
        );
    }

    #[test]
    fn two_links_for_one_tenant_and_second_differ() {
        let a = keys().sign(Purpose::Link, "acme", NOW);
        let b = keys().sign(Purpose::Link, "acme", NOW);
        assert_ne!(a, b);
    }

    #[test]
    fn tampered_foreign_or_misused_tokens_are_invalid() {
        let token = keys().sign(Purpose::Link, "acme", NOW + 60);
        let (body, tag) = token.rsplit_once('.').unwrap();
        // Another tenant's name under acme's MAC.
        let mut parts: Vec<&str> = body.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode("globex");
        parts[0] = &other;
        let renamed = format!("{}.{tag}", parts.join("."));
        // A later expiry under the same MAC.
        let later = token.replacen(&format!(".{}.", NOW + 60), &format!(".{}.", NOW + 6000), 1);
        assert_ne!(later, token);
        let foreign = Keys::new(&[8; 32]).sign(Purpose::Link, "acme", NOW + 60);
        let session = keys().sign(Purpose::Session, "acme", NOW + 60);
        for bad in [
            renamed.as_str(),
            later.as_str(),
            foreign.as_str(),
            session.as_str(),
            "",
            "...",
            "a.b.c.d.e",
            &token[..token.len() - 1],
        ] {
            assert_eq!(
                keys().verify(Purpose::Link, bad, NOW),
                Err(Refusal::Invalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_csrf_token_is_bound_to_its_session() {
        let a = keys().sign(Purpose::Session, "acme", NOW + 60);
        let b = keys().sign(Purpose::Session, "acme", NOW + 60);
        let token = keys().csrf(&a);
        assert!(keys().csrf_matches(&a, &token));
        assert!(!keys().csrf_matches(&b, &token));
        assert!(!keys().csrf_matches(&a, ""));
        assert!(!Keys::new(&[8; 32]).csrf_matches(&a, &token));
    }
}

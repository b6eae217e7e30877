//! Pluggable authentication: a trait, and bearer tokens mapped to owners as the default.

use std::collections::HashMap;

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;

/// Who is calling, and what they may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The owner: a caller sees and changes only its own subscriptions.
    pub owner: String,
    /// Granted scopes, e.g. `webhooks:read`, `webhooks:write`.
    pub scopes: Vec<String>,
}

/// Why a request is not authenticated (answered `401`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials.
    #[error("missing credentials: send `Authorization: Bearer <token>`")]
    Missing,
    /// Credentials that are not valid.
    #[error("invalid credentials")]
    Invalid,
}

/// Authenticates management API requests.
#[diagnostic::on_unimplemented(
    note = "use `hookspec::management::BearerTokens`, or implement `authenticate` for your identity provider"
)]
pub trait Authenticate: Send + Sync + 'static {
    /// The caller of a request with these headers.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError>;
}

/// Static bearer tokens, each mapped to an owner and scopes.
#[derive(Clone, Default)]
pub struct BearerTokens {
    tokens: HashMap<String, Principal>,
}

impl std::fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are credentials: never in logs.
        f.debug_struct("BearerTokens")
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

impl BearerTokens {
    /// No tokens yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `token` for `owner` with `scopes`.
    pub fn token(
        mut self,
        token: impl Into<String>,
        owner: impl Into<String>,
        scopes: &[&str],
    ) -> Self {
        let principal = Principal {
            owner: owner.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        };
        self.tokens.insert(token.into(), principal);
        self
    }
}

impl Authenticate for BearerTokens {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let value = headers.get(AUTHORIZATION).ok_or(AuthError::Missing)?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(AuthError::Invalid)?;
        // Compare every token in constant time, so timing does not reveal a prefix.
        self.tokens
            .iter()
            .find(|(known, _)| {
                subtle::ConstantTimeEq::ct_eq(known.as_bytes(), token.trim().as_bytes()).into()
            })
            .map(|(_, principal)| principal.clone())
            .ok_or(AuthError::Invalid)
    }
}

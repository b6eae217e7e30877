//! The endpoint portal: pages a provider's customers use to manage their own webhook
//! endpoints, served by the same [`App`](crate::App) as the API
//! ([`App::webhook_portal`](crate::App::webhook_portal)), through the same [`Tenant`] API and
//! document as the JSON management API.
//!
//! Access is by link: the provider's own UI, where its customer is signed in, asks
//! [`Portal::link`] for a short-lived URL signed for that customer's tenant. Opening it sets
//! a session cookie (`HttpOnly`, `SameSite=Strict`, limited to the portal's path, expiring
//! with the link) and moves on to a URL without the token. The pages are server-rendered
//! HTML with one small stylesheet and no script; every change is a form `POST` carrying a
//! CSRF token bound to the session.
//!
//! [`Tenant`]: crate::delivery::Tenant

mod handlers;
mod pages;
mod session;
mod time;
mod token;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;

use crate::delivery::Outbox;
use token::{now_secs, Keys, Purpose};

/// The shortest key [`Portal::new`] accepts, in bytes.
pub const MIN_KEY_LEN: usize = 32;
/// The longest a link (and the session it opens) may live.
pub const MAX_LINK_TTL: Duration = Duration::from_secs(24 * 3600);
/// Where the portal is mounted unless [`Portal::at`] says otherwise.
pub const DEFAULT_PATH: &str = "/webhooks/portal";

/// A portal setting or link request that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    /// The signing key is shorter than [`MIN_KEY_LEN`].
    #[error("the portal key has {0} bytes; it needs at least 32 random bytes")]
    KeyTooShort(usize),
    /// The mount path is not `/` followed by path segments, without a trailing `/`.
    #[error("the portal path {0:?} must start with `/`, not end with `/`, and hold no `?`, `#`, `{{` or whitespace")]
    BadPath(String),
    /// The public URL is not an `http` or `https` origin.
    #[error(
        "the portal's public URL {0:?} must be `http://` or `https://` + host, without a path"
    )]
    BadPublicUrl(String),
    /// The tenant name cannot name a tenant.
    #[error("{0}")]
    BadTenant(String),
    /// The link's lifetime is zero or longer than [`MAX_LINK_TTL`].
    #[error("a portal link lives between 1 second and 24 hours, not {0:?}")]
    BadTtl(Duration),
}

/// The portal's settings and its link signer. Cheap to clone: keep one to hand out links
/// and give one to [`App::webhook_portal`](crate::App::webhook_portal).
///
/// ```
/// # fn run() -> Result<(), hookspec::portal::PortalError> {
/// use std::time::Duration;
/// let portal = hookspec::portal::Portal::new(b"a key of at least 32 random bytes, from a vault")?
///     .public_url("https://api.example.com")?;
/// let link = portal.link("acme", Duration::from_secs(600))?;
/// assert!(link.starts_with("https://api.example.com/webhooks/portal/login?token="));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Portal {
    settings: Arc<Settings>,
}

#[derive(Clone)]
struct Settings {
    keys: Keys,
    path: String,
    public_url: String,
    secure_cookie: bool,
    title: String,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key signs every session: never in logs.
        f.debug_struct("Portal")
            .field("path", &self.settings.path)
            .field("public_url", &self.settings.public_url)
            .finish_non_exhaustive()
    }
}

impl Portal {
    /// A portal signing its links and sessions with `key` (at least [`MIN_KEY_LEN`] random
    /// bytes; keep it secret, and the same on every server of the deployment). Changing the
    /// key ends every session and link.
    pub fn new(key: impl AsRef<[u8]>) -> Result<Portal, PortalError> {
        let key = key.as_ref();
        if key.len() < MIN_KEY_LEN {
            return Err(PortalError::KeyTooShort(key.len()));
        }
        Ok(Portal {
            settings: Arc::new(Settings {
                keys: Keys::new(key),
                path: DEFAULT_PATH.to_owned(),
                public_url: String::new(),
                secure_cookie: true,
                title: "Webhooks".to_owned(),
            }),
        })
    }

    /// Mounts the portal at `path` instead of [`DEFAULT_PATH`].
    pub fn at(self, path: &str) -> Result<Portal, PortalError> {
        // The path goes into the session cookie's `Path` attribute too, so only characters
        // that mean nothing in a cookie or a route pattern are taken.
        let bad = |c: char| !(c.is_ascii_alphanumeric() || "/_.~-".contains(c));
        if !path.starts_with('/')
            || path.ends_with('/')
            || path.contains("//")
            || path.contains(bad)
        {
            return Err(PortalError::BadPath(path.to_owned()));
        }
        Ok(self.with(|s| s.path = path.to_owned()))
    }

    /// Makes [`link`](Portal::link) return absolute URLs on `origin` (e.g.
    /// `https://api.example.com`); without it a link is a path on the app's own host.
    pub fn public_url(self, origin: &str) -> Result<Portal, PortalError> {
        let origin = origin.trim_end_matches('/');
        let host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        match host {
            Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => {
                Ok(self.with(|s| s.public_url = origin.to_owned()))
            }
            _ => Err(PortalError::BadPublicUrl(origin.to_owned())),
        }
    }

    /// Whether the session cookie is marked `Secure` (default `true`: sent over HTTPS only).
    /// Turn it off only to try the portal over plain HTTP on your own machine.
    pub fn secure_cookie(self, secure: bool) -> Portal {
        self.with(|s| s.secure_cookie = secure)
    }

    /// The title on every page (default "Webhooks"), e.g. your product's name.
    pub fn title(self, title: impl Into<String>) -> Portal {
        let title = title.into();
        self.with(|s| s.title = title)
    }

    fn with(self, change: impl FnOnce(&mut Settings)) -> Portal {
        let mut settings = Arc::unwrap_or_clone(self.settings);
        change(&mut settings);
        Portal {
            settings: Arc::new(settings),
        }
    }

    /// Where the portal is mounted.
    pub fn path(&self) -> &str {
        &self.settings.path
    }

    /// A link that opens the portal as `tenant` for `ttl` (at most [`MAX_LINK_TTL`]): hand
    /// it to your signed-in customer, e.g. as a redirect from your own dashboard. The token
    /// in it is signed with the portal's key and names the tenant and the expiry; it stays
    /// valid until then, so keep `ttl` short (minutes): the session it opens lasts as long.
    pub fn link(&self, tenant: &str, ttl: Duration) -> Result<String, PortalError> {
        if ttl.is_zero() || ttl > MAX_LINK_TTL {
            return Err(PortalError::BadTtl(ttl));
        }
        crate::delivery::check_tenant_name(tenant)
            .map_err(|e| PortalError::BadTenant(e.to_string()))?;
        let expires_at = now_secs() + ttl.as_secs().max(1);
        let token = self.settings.keys.sign(Purpose::Link, tenant, expires_at);
        let Settings {
            public_url, path, ..
        } = &*self.settings;
        Ok(format!("{public_url}{path}/login?token={token}"))
    }
}

/// The portal's router state.
#[derive(Clone)]
pub(crate) struct PortalState {
    outbox: Outbox,
    settings: Arc<Settings>,
    catalogue: Arc<OnceLock<Vec<crate::management::catalogue::Event>>>,
}

/// The portal's routes (served, not documented), and a cell to fill with the finished
/// document's catalogue.
pub(crate) fn router(
    outbox: Outbox,
    portal: Portal,
) -> (
    Router,
    Arc<OnceLock<Vec<crate::management::catalogue::Event>>>,
) {
    let catalogue = Arc::new(OnceLock::new());
    let state = PortalState {
        outbox,
        settings: portal.settings,
        catalogue: Arc::clone(&catalogue),
    };
    (handlers::routes(state), catalogue)
}

//! Who is asking: the link exchanged for a session cookie, the session read back from it,
//! and the CSRF check on every posted form. Also the portal's HTML answers and refusal
//! pages, which carry its security headers.

use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, REFERRER_POLICY, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::Markup;
use serde::Deserialize;

use super::pages::{EndpointForm, Page};
use super::token::{now_secs, Purpose, Refusal};
use super::PortalState;
use crate::delivery::{OutboxError, Tenant};

/// The session cookie's name.
const COOKIE_NAME: &str = "hookspec_portal";

/// No script runs at all (`default-src 'none'` covers `script-src`); styles come from the
/// portal's own stylesheet; forms post only to the portal; no page can frame it.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// An HTML answer with the portal's security headers: nothing cached, no framing, no
/// referrer (the link's token never leaves in a `Referer`), and the CSP.
pub(super) fn html(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (CONTENT_TYPE, "text/html; charset=utf-8"),
        (CONTENT_SECURITY_POLICY, CSP),
        (CACHE_CONTROL, "no-store"),
        (REFERRER_POLICY, "no-referrer"),
        (X_FRAME_OPTIONS, "DENY"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A refusal page: a status and a sentence, no data.
pub(super) struct Failure {
    status: StatusCode,
    heading: &'static str,
    message: String,
    title: String,
    base: String,
}

impl Failure {
    pub(super) fn new(
        state: &PortalState,
        status: StatusCode,
        heading: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Failure {
            status,
            heading,
            message: message.into(),
            title: state.settings.title.clone(),
            base: state.settings.path.clone(),
        }
    }

    pub(super) fn from_outbox(state: &PortalState, error: OutboxError) -> Self {
        match error {
            // Another tenant's endpoint and one that does not exist look the same.
            OutboxError::NotFound(_) => Failure::new(
                state,
                StatusCode::FORBIDDEN,
                "Not your endpoint",
                "This endpoint does not exist, or it belongs to another account.",
            ),
            OutboxError::MessageNotFound(_) => Failure::new(
                state,
                StatusCode::NOT_FOUND,
                "No such message",
                "This message was never sent to this endpoint, or it has been purged.",
            ),
            OutboxError::InvalidTenant(_) => Failure::new(
                state,
                StatusCode::FORBIDDEN,
                "Not allowed",
                "This session names no account.",
            ),
            other => {
                tracing::error!(error = %other, "portal storage error");
                Failure::new(
                    state,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The webhook store failed. Try again in a moment.",
                )
            }
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let page = Page {
            base: &self.base,
            title: &self.title,
            tenant: None,
            csrf: "",
        };
        html(self.status, page.failure(self.heading, &self.message))
    }
}

/// A signed-in customer: the tenant the session cookie names, and the session's CSRF token.
pub(super) struct Session {
    pub(super) tenant: Tenant,
    csrf: String,
    cookie: String,
}

impl FromRequestParts<PortalState> for Session {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &PortalState) -> Result<Self, Failure> {
        let cookie = parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='))
            .map(str::to_owned);
        let Some(cookie) = cookie else {
            return Err(Failure::new(
                state,
                StatusCode::UNAUTHORIZED,
                "Sign in first",
                "Open this portal with the link your provider gives you.",
            ));
        };
        let keys = &state.settings.keys;
        let claims = keys
            .verify(Purpose::Session, &cookie, now_secs())
            .map_err(|refusal| refused(state, refusal, "session"))?;
        Ok(Session {
            tenant: state.outbox.tenant(&claims.tenant),
            csrf: keys.csrf(&cookie),
            cookie,
        })
    }
}

fn refused(state: &PortalState, refusal: Refusal, what: &str) -> Failure {
    match refusal {
        Refusal::Expired => Failure::new(
            state,
            StatusCode::UNAUTHORIZED,
            "Expired",
            format!("This {what} has expired. Ask your provider for a new link."),
        ),
        Refusal::Invalid => Failure::new(
            state,
            StatusCode::FORBIDDEN,
            "Not valid",
            format!("This {what} is not valid. Ask your provider for a new link."),
        ),
    }
}

impl Session {
    pub(super) fn page<'a>(&'a self, state: &'a PortalState) -> Page<'a> {
        Page {
            base: &state.settings.path,
            title: &state.settings.title,
            tenant: Some(self.tenant.name()),
            csrf: &self.csrf,
        }
    }
}

/// A posted form whose CSRF token matches the session: the only way to change anything.
pub(super) struct Posted {
    pub(super) session: Session,
    fields: Vec<(String, String)>,
}

impl FromRequest<PortalState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &PortalState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let request = Request::from_parts(parts, body);
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
        let given = fields
            .iter()
            .find(|(k, _)| k == "csrf")
            .map_or("", |(_, v)| v);
        if !state.settings.keys.csrf_matches(&session.cookie, given) {
            return Err(Failure::new(
                state,
                StatusCode::FORBIDDEN,
                "Refused",
                "This form was not sent from this portal's page (its CSRF token is missing or wrong). Reload the page and try again.",
            )
            .into_response());
        }
        Ok(Posted { session, fields })
    }
}

impl Posted {
    pub(super) fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    pub(super) fn endpoint_form(&self) -> EndpointForm {
        EndpointForm {
            url: self.field("url").to_owned(),
            description: self.field("description").to_owned(),
            events: self
                .fields
                .iter()
                .filter(|(k, _)| k == "events")
                .map(|(_, v)| v.clone())
                .collect(),
            filter: self.field("filter").to_owned(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct LinkQuery {
    token: Option<String>,
}

/// The `Set-Cookie` value for a session cookie holding `value` for `max_age` seconds.
fn session_cookie(state: &PortalState, value: &str, max_age: u64) -> Option<HeaderValue> {
    let secure = if state.settings.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE_NAME}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
        state.settings.path
    );
    HeaderValue::from_str(&cookie).ok()
}

/// Removes the session cookie from the browser. (Sessions are signed, not stored: a copy of
/// the cookie taken before stays valid until the link's expiry.)
pub(super) async fn logout(State(state): State<PortalState>, posted: Posted) -> Response {
    let page = posted.session.page(&state);
    let mut response = html(StatusCode::OK, page.signed_out());
    if let Some(value) = session_cookie(&state, "", 0) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

/// Exchanges a link's token for a session cookie that expires with the link.
pub(super) async fn login(
    State(state): State<PortalState>,
    Query(query): Query<LinkQuery>,
) -> Response {
    let keys = &state.settings.keys;
    let claims = match keys.verify(
        Purpose::Link,
        query.token.as_deref().unwrap_or(""),
        now_secs(),
    ) {
        Ok(claims) => claims,
        Err(refusal) => return refused(&state, refusal, "link").into_response(),
    };
    let session = keys.sign(Purpose::Session, &claims.tenant, claims.expires_at);
    let max_age = claims.expires_at.saturating_sub(now_secs());
    let page = Page {
        base: &state.settings.path,
        title: &state.settings.title,
        tenant: None,
        csrf: "",
    };
    let mut response = html(StatusCode::OK, page.signed_in());
    if let Some(value) = session_cookie(&state, &session, max_age) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

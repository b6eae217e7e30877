//! The subscription-management API an API author mounts with one call
//! ([`App::webhook_management`](crate::App::webhook_management)), documented in the same
//! OpenAPI document as everything else: subscriptions (create, list, get, update, delete,
//! enable, disable, rotate the secret), the payloads a consumer can pull by cursor, the
//! attempts of a message, and the event catalogue.

mod auth;
pub(crate) mod catalogue;
mod handlers;

use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use auth::{AuthError, Authenticate, BearerTokens, Principal};

use crate::delivery::{Outbox, OutboxError};

/// The scope needed to read subscriptions, payloads and attempts.
pub const READ: &str = "webhooks:read";
/// The scope needed to change subscriptions.
pub const WRITE: &str = "webhooks:write";
/// The largest request body accepted (64 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The payload of the test event.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TestEvent {
    /// The subscription it was sent to.
    pub subscription_id: String,
    /// Says what this is.
    pub message: String,
}

/// Sent by `POST /webhooks/subscriptions/{id}/test`, so a consumer can check its endpoint and
/// its signature verification. Documented with the other webhooks when the API is mounted.
#[crate::whpost("webhook.test", tags = ["webhook management"])]
pub async fn webhook_test(data: TestEvent) {}

/// The router's state.
#[derive(Clone)]
pub(crate) struct Api {
    outbox: Outbox,
    auth: Arc<dyn Authenticate>,
    catalogue: Arc<OnceLock<Vec<catalogue::Event>>>,
}

/// The management routes, documented, and a cell to fill with the finished document (the
/// event catalogue is read from it).
pub(crate) fn router(
    outbox: Outbox,
    auth: Arc<dyn Authenticate>,
) -> (OpenApiRouter, Arc<OnceLock<Vec<catalogue::Event>>>) {
    let catalogue = Arc::new(OnceLock::new());
    let api = Api {
        outbox,
        auth,
        catalogue: Arc::clone(&catalogue),
    };
    (
        handlers::routes()
            .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(api),
        catalogue,
    )
}

/// Fills the catalogue cells (the management API's, the portal's) from the finished
/// document, read once.
pub(crate) fn publish_catalogue(cells: &[Arc<OnceLock<Vec<catalogue::Event>>>], doc: &OpenApi) {
    if cells.is_empty() {
        return;
    }
    let events = catalogue::read(doc);
    for cell in cells {
        let _ = cell.set(events.clone());
    }
}

/// An error answer: `{"error": {"code", "message"}}` with a 4xx or 5xx status.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail {
    /// A stable, machine-readable code, e.g. `not_found`.
    code: String,
    /// What went wrong, for people.
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into(),
                message: self.message,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<OutboxError> for ApiError {
    fn from(error: OutboxError) -> Self {
        match error {
            OutboxError::NotFound(_) | OutboxError::MessageNotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", error.to_string())
            }
            OutboxError::InvalidSubscription(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_subscription",
                error.to_string(),
            ),
            OutboxError::InvalidTenant(_) => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this token names no valid tenant",
            ),
            OutboxError::TooManySubscriptions { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "too_many_subscriptions",
                error.to_string(),
            ),
            OutboxError::Filter(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_filter",
                error.to_string(),
            ),
            other => {
                tracing::error!(error = %other, "management API storage error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the subscription store failed",
                )
            }
        }
    }
}

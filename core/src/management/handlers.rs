//! The management API's routes. Each is documented with `#[utoipa::path]`, so it appears in
//! the document's `paths` next to the author's own routes.

use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Api, ApiError, ErrorBody, Principal, READ, WRITE};
use crate::delivery::{
    Attempt, StoredPayload, Subscription, SubscriptionInfo, SubscriptionUpdate, Tenant,
    REPLAY_LIMIT,
};

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(create_subscription, list_subscriptions))
        .routes(routes!(
            get_subscription,
            update_subscription,
            delete_subscription
        ))
        .routes(routes!(enable_subscription))
        .routes(routes!(disable_subscription))
        .routes(routes!(rotate_secret))
        .routes(routes!(refresh_subscription))
        .routes(routes!(resend_message))
        .routes(routes!(replay_messages))
        .routes(routes!(send_test_event))
        .routes(routes!(list_payloads))
        .routes(routes!(list_attempts))
}

/// The authenticated caller.
pub(super) struct Caller(Principal);

impl FromRequestParts<Api> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, ApiError> {
        api.auth
            .authenticate(&parts.headers)
            .map(Caller)
            .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string()))
    }
}

impl Caller {
    /// The caller's tenant, if the caller holds `scope` and its owner can name a tenant.
    fn may(&self, api: &Api, scope: &str) -> Result<Tenant, ApiError> {
        if self.0.scopes.iter().any(|s| s == scope) {
            let tenant = api.outbox.tenant(&self.0.owner);
            // Checked here, not only where a tenant's rows are read, so that a token naming
            // no one (an empty owner) may do nothing at all, the event catalogue included.
            tenant.checked()?;
            return Ok(tenant);
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this token lacks the `{scope}` scope"),
        ))
    }
}

/// A JSON body whose rejections are JSON errors too: 400 malformed, 413 too large, 415 not
/// JSON, 422 unknown or missing fields.
pub(super) struct Body<T>(T);

impl<T: serde::de::DeserializeOwned> FromRequest<Api> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, api: &Api) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, api).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => {
                let (status, code) = match &rejection {
                    JsonRejection::JsonDataError(_) => {
                        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
                    }
                    JsonRejection::MissingJsonContentType(_) => {
                        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_json")
                    }
                    JsonRejection::BytesRejection(_)
                        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
                    {
                        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
                    }
                    _ => (StatusCode::BAD_REQUEST, "malformed_body"),
                };
                Err(ApiError::new(status, code, rejection.body_text()))
            }
        }
    }
}

/// A subscription to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateSubscription {
    /// Where deliveries go (http or https; private addresses are refused).
    url: String,
    /// Webhook names to receive; empty or absent for all.
    #[serde(default)]
    events: Vec<String>,
    /// A filter on the payload, e.g. `entity.operation = "create"`.
    filter: Option<String>,
    /// A description for people.
    description: Option<String>,
    /// Free-form metadata.
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
    /// Stop receiving after this many seconds unless refreshed (Airtable: 7 days).
    lease_seconds: Option<u64>,
}

/// Changes to a subscription.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateSubscription {
    url: Option<String>,
    events: Option<Vec<String>>,
    /// A new filter; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    filter: Option<Option<String>>,
    /// A new description; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A subscription as the API shows it: never its secret.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SubscriptionView {
    id: String,
    url: String,
    events: Vec<String>,
    filter: Option<String>,
    /// A description for people.
    description: Option<String>,
    enabled: bool,
    /// `gone` (the receiver answered 410), `failing`, or `manual`.
    disabled_reason: Option<String>,
    /// When it stops receiving unless refreshed (ms since the epoch).
    expires_at: Option<i64>,
}

impl From<SubscriptionInfo> for SubscriptionView {
    fn from(s: SubscriptionInfo) -> Self {
        SubscriptionView {
            id: s.id,
            url: s.url,
            events: s.events,
            filter: s.filter,
            description: s.description,
            enabled: s.enabled,
            disabled_reason: s.disabled_reason,
            expires_at: s.expires_at,
        }
    }
}

/// A created subscription, with its secret: shown here and on rotation only.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct CreatedView {
    subscription: SubscriptionView,
    /// The signing secret (`whsec_...`).
    secret: String,
}

/// A page of subscriptions.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SubscriptionPage {
    items: Vec<SubscriptionView>,
    /// Pass as `after` for the next page; absent on the last page.
    next: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    /// The last id of the previous page.
    after: Option<String>,
    /// At most this many (1 to 100, default 50).
    limit: Option<u32>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CursorQuery {
    /// The first payload to return (default 1).
    cursor: Option<i64>,
    /// At most this many (1 to 100, default 50).
    limit: Option<u32>,
}

/// Payloads pulled by cursor.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PayloadPage {
    #[schema(value_type = Vec<Object>)]
    payloads: Vec<StoredPayload>,
    /// Where to continue.
    cursor: i64,
}

/// A new secret.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SecretView {
    /// The new signing secret; the old one keeps signing for 24 hours.
    secret: String,
}

/// A declared webhook, from the document.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct EventInfo {
    name: String,
    methods: Vec<String>,
    /// The payload's JSON schema.
    #[schema(value_type = Option<Object>)]
    schema: Option<serde_json::Value>,
}

fn limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(50) {
        n @ 1..=100 => Ok(n),
        n => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            format!("limit {n} is not between 1 and 100"),
        )),
    }
}

/// The declared webhooks with their payload schemas.
#[utoipa::path(get, path = "/webhooks/events", tag = "webhook management",
    responses((status = 200, description = "OK", body = Vec<EventInfo>), (status = 401, description = "Missing or invalid credentials", body = ErrorBody)), security(("bearer" = [])))]
async fn list_events(
    caller: Caller,
    State(api): State<Api>,
) -> Result<Json<Vec<EventInfo>>, ApiError> {
    caller.may(&api, READ)?;
    let catalogue = api.catalogue.get().map(Vec::as_slice).unwrap_or_default();
    Ok(Json(catalogue.iter().map(EventInfo::from).collect()))
}

/// Creates a subscription; its secret is in this answer only.
#[utoipa::path(post, path = "/webhooks/subscriptions", tag = "webhook management", request_body = CreateSubscription,
    responses((status = 201, description = "Created", body = CreatedView), (status = 401, description = "Missing or invalid credentials", body = ErrorBody), (status = 403, description = "The token lacks a scope", body = ErrorBody),
        (status = 409, description = "The same URL and events exist already", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ErrorBody), (status = 422, description = "Invalid input", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_subscription(
    caller: Caller,
    State(api): State<Api>,
    Body(body): Body<CreateSubscription>,
) -> Result<(StatusCode, Json<CreatedView>), ApiError> {
    let tenant = caller.may(&api, WRITE)?;
    known_events(&api, &body.events)?;
    if tenant.has_duplicate(&body.url, &body.events).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "duplicate",
            "a subscription with this URL and these events exists already",
        ));
    }
    let mut subscription = Subscription::new(&body.url).events(body.events);
    if let Some(filter) = body.filter {
        subscription = subscription.filter(filter);
    }
    if let Some(description) = body.description {
        subscription = subscription.description(description);
    }
    if let Some(metadata) = body.metadata {
        subscription = subscription.metadata(metadata);
    }
    if let Some(lease) = body.lease_seconds {
        subscription = subscription.expires_in(Duration::from_secs(lease));
    }
    let created = tenant.subscribe(subscription).await?;
    let view = tenant.subscription(&created.id).await?.into();
    Ok((
        StatusCode::CREATED,
        Json(CreatedView {
            subscription: view,
            secret: created.secret.expose(),
        }),
    ))
}

/// The caller's subscriptions, a page at a time.
#[utoipa::path(get, path = "/webhooks/subscriptions", tag = "webhook management", params(PageQuery),
    responses((status = 200, description = "OK", body = SubscriptionPage), (status = 401, description = "Missing or invalid credentials", body = ErrorBody)), security(("bearer" = [])))]
async fn list_subscriptions(
    caller: Caller,
    State(api): State<Api>,
    Query(page): Query<PageQuery>,
) -> Result<Json<SubscriptionPage>, ApiError> {
    let tenant = caller.may(&api, READ)?;
    let limit = limit(page.limit)?;
    let items: Vec<SubscriptionView> = tenant
        .subscriptions(page.after.as_deref(), limit)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let next = (items.len() == limit as usize)
        .then(|| items.last().map(|s| s.id.clone()))
        .flatten();
    Ok(Json(SubscriptionPage { items, next }))
}

/// One subscription.
#[utoipa::path(get, path = "/webhooks/subscriptions/{id}", tag = "webhook management", params(("id" = String, Path, description = "The subscription id")),
    responses((status = 200, description = "OK", body = SubscriptionView), (status = 404, description = "No such subscription for this owner", body = ErrorBody)), security(("bearer" = [])))]
async fn get_subscription(
    caller: Caller,
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let tenant = caller.may(&api, READ)?;
    Ok(Json(tenant.subscription(&id).await?.into()))
}

/// Changes a subscription's URL, events, filter or description.
#[utoipa::path(patch, path = "/webhooks/subscriptions/{id}", tag = "webhook management", params(("id" = String, Path, description = "The subscription id")), request_body = UpdateSubscription,
    responses((status = 200, description = "OK", body = SubscriptionView), (status = 404, description = "No such subscription for this owner", body = ErrorBody), (status = 422, description = "Invalid input", body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_subscription(
    caller: Caller,
    State(api): State<Api>,
    Path(id): Path<String>,
    Body(body): Body<UpdateSubscription>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let tenant = caller.may(&api, WRITE)?;
    if let Some(events) = &body.events {
        known_events(&api, events)?;
    }
    let update = SubscriptionUpdate {
        url: body.url,
        events: body.events,
        filter: body.filter,
        description: body.description,
    };
    Ok(Json(tenant.update_subscription(&id, update).await?.into()))
}

/// Deletes a subscription with its deliveries and their attempts.
#[utoipa::path(delete, path = "/webhooks/subscriptions/{id}", tag = "webhook management", params(("id" = String, Path, description = "The subscription id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such subscription for this owner", body = ErrorBody)), security(("bearer" = [])))]
async fn delete_subscription(
    caller: Caller,
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.may(&api, WRITE)?;
    tenant.delete_subscription(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a subscription (after a 410, continuous failures, or a manual disable).
#[utoipa::path(post, path = "/webhooks/subscriptions/{id}/enable", tag = "webhook management", params(("id" = String, Path, description = "The subscription id")),
    responses((status = 200, description = "OK", body = SubscriptionView), (status = 404, description = "No such subscription for this owner", body = ErrorBody)), security(("bearer" = [])))]
async fn enable_subscription(
    caller: Caller,
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    set_enabled(caller, api, id, true).await
}

/// Disables a subscription; its deliveries wait until it is enabled.
#[utoipa::path(post, path = "/webhooks/subscriptions/{id}/disable", tag = "webhook management", params(("id" = String, Path, description = "The subscription id")),
    responses((status = 200, description = "OK", body = SubscriptionView), (status = 404, description = "No such subscription for this owner", body = ErrorBody)), security(("bearer" = [])))]
async fn disable_subscription(
    caller: Caller,
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    set_enabled(caller, api, id, false).await
}

async fn set_enabled(
    caller: Caller,
    api: Api,
    id: String,
    enabled: bool,
) -> Result<Json<SubscriptionView>, ApiError> {
    let tenant = caller.may(&api, WRITE)?;
    let changed = if enabled {
        tenant.enable(&id).await?
    } else {
        tenant.disable(&id).await?
    };
    Ok(Json(changed.into()))
}

/// A new signing secret; the old one keeps signing for 24 hours.
#[utoipa::path(post, path = "/webhooks/subscriptions/{id}/rotate-secret", tag = "webhook management", params(("id" = String, Path, description = "The subscription id")),
    responses((status = 200, description = "OK", body = SecretView), (status = 404, description = "No such subscription for this owner", body = ErrorBody)), security(("bearer" = [])))]
async fn rotate_secret(
    caller: Caller,
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<SecretView>, ApiError> {
    let tenant = caller.may(&api, WRITE)?;
    let secret = tenant
        .rotate_secret(&id, Duration::from_secs(24 * 3600))
        .await?;
    Ok(Json(SecretView {
        secret: secret.expose(),
    }))
}

/// Sends one message to the subscription again (a new delivery with the same `webhook-id`).
#[utoipa::path(post, path = "/webhooks/subscriptions/{id}/messages/{message}/resend", tag = "webhook management", params(("id" = String, Path, description = "The subscription id"), ("message" = String, Path, description = "The message id")),
    responses((status = 202, description = "Queued"), (status = 404, description = "No such subscription for this owner, or the message was never queued for it", body = ErrorBody)), security(("bearer" = [])))]
async fn resend_message(
    caller: Caller,
    State(api): State<Api>,
    Path((id, message)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.may(&api, WRITE)?;
    tenant.resend(&id, &message).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Since when to replay.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Replay {
    /// Milliseconds since the Unix epoch.
    since: i64,
}

/// How many messages were queued again.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Replayed {
    /// Messages queued by this call. Those with a delivery still pending are not queued
    /// again, so calling twice sends nothing twice.
    queued: u64,
    /// `false` when this call queued as many as one call may (1,000): call again to queue
    /// the rest.
    complete: bool,
}

/// Sends again every message the subscription was given since a time.
#[utoipa::path(post, path = "/webhooks/subscriptions/{id}/replay", tag = "webhook management", params(("id" = String, Path, description = "The subscription id")), request_body = Replay,
    responses((status = 202, description = "Accepted", body = Replayed), (status = 404, description = "No such subscription for this owner", body = ErrorBody)), security(("bearer" = [])))]
async fn replay_messages(
    caller: Caller,
    State(api): State<Api>,
    Path(id): Path<String>,
    Body(body): Body<Replay>,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    let tenant = caller.may(&api, WRITE)?;
    let queued = tenant.replay(&id, body.since).await?;
    let complete = queued < REPLAY_LIMIT;
    Ok((StatusCode::ACCEPTED, Json(Replayed { queued, complete })))
}

/// The queued message.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Queued {
    /// Its `webhook-id`.
    message_id: String,
}

/// Sends the `webhook.test` event to this subscription alone.
#[utoipa::path(post, path = "/webhooks/subscriptions/{id}/test", tag = "webhook management", params(("id" = String, Path, description = "The subscription id")),
    responses((status = 202, description = "Accepted", body = Queued), (status = 404, description = "No such subscription for this owner", body = ErrorBody)), security(("bearer" = [])))]
async fn send_test_event(
    caller: Caller,
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let tenant = caller.may(&api, WRITE)?;
    let event = super::TestEvent {
        subscription_id: id.clone(),
        message: "A test event, sent on request.".into(),
    };
    let message_id = tenant
        .publish_to::<super::webhook_test>(&id, &event)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { message_id })))
}

/// How long a refreshed subscription lives.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Refresh {
    /// Seconds from now (default 7 days).
    lease_seconds: Option<u64>,
}

/// Extends the subscription's lease: an expired subscription stops receiving.
#[utoipa::path(post, path = "/webhooks/subscriptions/{id}/refresh", tag = "webhook management", params(("id" = String, Path, description = "The subscription id")), request_body = Refresh,
    responses((status = 200, description = "OK", body = SubscriptionView), (status = 404, description = "No such subscription for this owner", body = ErrorBody)), security(("bearer" = [])))]
async fn refresh_subscription(
    caller: Caller,
    State(api): State<Api>,
    Path(id): Path<String>,
    Body(body): Body<Refresh>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let tenant = caller.may(&api, WRITE)?;
    let lease = Duration::from_secs(body.lease_seconds.unwrap_or(7 * 24 * 3600));
    Ok(Json(tenant.refresh(&id, lease).await?.into()))
}

/// The subscription's payloads from `cursor` on: consumers may ignore deliveries and poll.
#[utoipa::path(get, path = "/webhooks/subscriptions/{id}/payloads", tag = "webhook management", params(("id" = String, Path, description = "The subscription id"), CursorQuery),
    responses((status = 200, description = "OK", body = PayloadPage), (status = 404, description = "No such subscription for this owner", body = ErrorBody)), security(("bearer" = [])))]
async fn list_payloads(
    caller: Caller,
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(q): Query<CursorQuery>,
) -> Result<Json<PayloadPage>, ApiError> {
    let tenant = caller.may(&api, READ)?;
    let cursor = q.cursor.unwrap_or(1);
    let payloads = tenant.payloads(&id, cursor, limit(q.limit)?).await?;
    let next = payloads.last().map_or(cursor, |p| p.cursor + 1);
    Ok(Json(PayloadPage {
        payloads,
        cursor: next,
    }))
}

/// A page of attempts.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct AttemptPage {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Attempt>,
    /// Pass as `after` for the next page; absent on the last page.
    next: Option<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct AttemptQuery {
    /// The `id` of the last attempt of the previous page.
    after: Option<i64>,
    /// At most this many (1 to 100, default 50).
    limit: Option<u32>,
}

/// The attempts to deliver a message to the caller's subscriptions, oldest first, a page at
/// a time. Another tenant's message has no attempts here.
#[utoipa::path(get, path = "/webhooks/messages/{id}/attempts", tag = "webhook management", params(("id" = String, Path, description = "The message id"), AttemptQuery),
    responses((status = 200, description = "OK", body = AttemptPage), (status = 401, description = "Missing or invalid credentials", body = ErrorBody)), security(("bearer" = [])))]
async fn list_attempts(
    caller: Caller,
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(q): Query<AttemptQuery>,
) -> Result<Json<AttemptPage>, ApiError> {
    let tenant = caller.may(&api, READ)?;
    let limit = limit(q.limit)?;
    let items = tenant.attempts(&id, q.after.unwrap_or(0), limit).await?;
    let next = (items.len() == limit as usize)
        .then(|| items.last().map(|a| a.id))
        .flatten();
    Ok(Json(AttemptPage { items, next }))
}

/// Refuses events that the catalogue does not list.
fn known_events(api: &Api, events: &[String]) -> Result<(), ApiError> {
    let catalogue = api.catalogue.get().map(Vec::as_slice).unwrap_or_default();
    match super::catalogue::unknown(catalogue, events) {
        Some(unknown) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_event",
            format!("unknown event `{unknown}`; GET /webhooks/events lists them"),
        )),
        None => Ok(()),
    }
}

/// An event as the JSON API lists it: its name, methods and payload schema.
impl From<&super::catalogue::Event> for EventInfo {
    fn from(event: &super::catalogue::Event) -> Self {
        EventInfo {
            name: event.name.clone(),
            methods: event.methods.clone(),
            schema: event.schema.clone(),
        }
    }
}

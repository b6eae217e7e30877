//! The portal's routes: one handler per page or action, each acting through the session's
//! [`Tenant`](crate::delivery::Tenant), the same API the JSON management API uses.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::pages::{EndpointForm, FormErrors};
use super::session::{html, login, logout, Failure, Posted, Session};
use super::time::parse_utc;
use super::PortalState;
use crate::delivery::{OutboxError, Subscription, SubscriptionUpdate, RECENT_LIMIT};

/// The largest form accepted.
const BODY_LIMIT: usize = 64 * 1024;
const STYLESHEET: &str = include_str!("portal.css");

pub(super) fn routes(state: PortalState) -> Router {
    let p = state.settings.path.clone();
    Router::new()
        .route(&format!("{p}/login"), get(login))
        .route(&format!("{p}/logout"), post(logout))
        .route(&p, get(list_endpoints))
        .route(&format!("{p}/assets/portal.css"), get(stylesheet))
        .route(&format!("{p}/events"), get(events))
        .route(&format!("{p}/endpoints/new"), get(new_endpoint))
        .route(&format!("{p}/endpoints"), post(create_endpoint))
        .route(
            &format!("{p}/endpoints/{{id}}"),
            get(show_endpoint).post(update_endpoint),
        )
        .route(&format!("{p}/endpoints/{{id}}/{{action}}"), post(act))
        .route(
            &format!("{p}/endpoints/{{id}}/messages/{{message}}/resend"),
            post(resend),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn stylesheet() -> Response {
    let headers = [
        (CONTENT_TYPE, "text/css; charset=utf-8"),
        (CACHE_CONTROL, "public, max-age=3600"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (headers, STYLESHEET).into_response()
}

#[derive(Deserialize)]
struct Notice {
    done: Option<String>,
    n: Option<u64>,
}

impl Notice {
    /// Fixed sentences only: nothing from the query string is shown.
    fn text(&self) -> Option<String> {
        Some(match self.done.as_deref()? {
            "updated" => "Saved.".to_owned(),
            "enabled" => "Enabled: deliveries resume.".to_owned(),
            "disabled" => "Disabled: deliveries wait until you enable it.".to_owned(),
            "deleted" => "Deleted.".to_owned(),
            "tested" => "A test event is on its way.".to_owned(),
            "resent" => "The message is queued again.".to_owned(),
            "replayed" => format!("{} messages queued again.", self.n.unwrap_or(0)),
            _ => return None,
        })
    }
}

async fn list_endpoints(
    session: Session,
    State(state): State<PortalState>,
    Query(notice): Query<Notice>,
) -> Result<Response, Failure> {
    // A portal shows at most the first thousand; a tenant may have more only by raising
    // `max_subscriptions_per_tenant`.
    let endpoints = session
        .tenant
        .subscriptions(None, 1000)
        .await
        .map_err(|e| Failure::from_outbox(&state, e))?;
    let page = session.page(&state);
    Ok(html(
        StatusCode::OK,
        page.endpoints(&endpoints, notice.text().as_deref()),
    ))
}

async fn events(session: Session, State(state): State<PortalState>) -> Result<Response, Failure> {
    session
        .tenant
        .checked()
        .map_err(|e| Failure::from_outbox(&state, e))?;
    Ok(html(
        StatusCode::OK,
        session.page(&state).events(catalogue(&state)),
    ))
}

fn catalogue(state: &PortalState) -> &[crate::management::catalogue::Event] {
    state.catalogue.get().map(Vec::as_slice).unwrap_or_default()
}

async fn new_endpoint(session: Session, State(state): State<PortalState>) -> Response {
    let page = session.page(&state);
    let form = page.endpoint_form(
        None,
        &EndpointForm::default(),
        &FormErrors::default(),
        catalogue(&state),
    );
    html(StatusCode::OK, page.new_endpoint(form))
}

/// Field errors for what the tenant API refused; anything else is a failure page.
fn form_errors(state: &PortalState, error: OutboxError) -> Result<FormErrors, Failure> {
    let mut errors = FormErrors::default();
    match error {
        OutboxError::Filter(e) => errors.filter = Some((e.message, e.position)),
        OutboxError::InvalidSubscription(message) => errors.url = Some(message),
        e @ OutboxError::TooManySubscriptions { .. } => errors.general = Some(e.to_string()),
        other => return Err(Failure::from_outbox(state, other)),
    }
    Ok(errors)
}

/// The checks the JSON API makes before the tenant API's own: events from the catalogue.
fn check_events(state: &PortalState, form: &EndpointForm) -> FormErrors {
    let mut errors = FormErrors::default();
    if let Some(unknown) = crate::management::catalogue::unknown(catalogue(state), &form.events) {
        errors.events = Some(format!("`{unknown}` is not an event of this API"));
    }
    errors
}

async fn create_endpoint(
    State(state): State<PortalState>,
    posted: Posted,
) -> Result<Response, Failure> {
    let form = posted.endpoint_form();
    let tenant = &posted.session.tenant;
    let mut errors = check_events(&state, &form);
    if !errors.any() {
        let duplicate = tenant
            .has_duplicate(&form.url, &form.events)
            .await
            .map_err(|e| Failure::from_outbox(&state, e))?;
        if duplicate {
            errors.general =
                Some("An endpoint with this URL and these events exists already.".into());
        }
    }
    if !errors.any() {
        let mut subscription = Subscription::new(&form.url).events(form.events.clone());
        if !form.filter.is_empty() {
            subscription = subscription.filter(&form.filter);
        }
        if !form.description.is_empty() {
            subscription = subscription.description(&form.description);
        }
        match tenant.subscribe(subscription).await {
            Ok(created) => {
                let page = posted.session.page(&state);
                return Ok(html(
                    StatusCode::OK,
                    page.secret(&created.id, &created.secret.expose(), false),
                ));
            }
            Err(e) => errors = form_errors(&state, e)?,
        }
    }
    let page = posted.session.page(&state);
    let markup = page.endpoint_form(None, &form, &errors, catalogue(&state));
    Ok(html(
        StatusCode::UNPROCESSABLE_ENTITY,
        page.new_endpoint(markup),
    ))
}

async fn show_endpoint(
    session: Session,
    State(state): State<PortalState>,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
) -> Result<Response, Failure> {
    let endpoint = session
        .tenant
        .subscription(&id)
        .await
        .map_err(|e| Failure::from_outbox(&state, e))?;
    let form = EndpointForm {
        url: endpoint.url.clone(),
        description: endpoint.description.clone().unwrap_or_default(),
        events: endpoint.events.clone(),
        filter: endpoint.filter.clone().unwrap_or_default(),
    };
    endpoint_page(
        &state,
        &session,
        &id,
        &form,
        &FormErrors::default(),
        notice.text().as_deref(),
        StatusCode::OK,
    )
    .await
}

/// The endpoint's page, with `form` in its edit form.
async fn endpoint_page(
    state: &PortalState,
    session: &Session,
    id: &str,
    form: &EndpointForm,
    errors: &FormErrors,
    notice: Option<&str>,
    status: StatusCode,
) -> Result<Response, Failure> {
    let tenant = &session.tenant;
    let endpoint = tenant
        .subscription(id)
        .await
        .map_err(|e| Failure::from_outbox(state, e))?;
    let messages = tenant
        .recent_messages(id, RECENT_LIMIT)
        .await
        .map_err(|e| Failure::from_outbox(state, e))?;
    let page = session.page(state);
    let edit = page.endpoint_form(Some(id), form, errors, catalogue(state));
    Ok(html(
        status,
        page.endpoint(&endpoint, edit, &messages, notice),
    ))
}

async fn update_endpoint(
    State(state): State<PortalState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, Failure> {
    let form = posted.endpoint_form();
    let mut errors = check_events(&state, &form);
    if !errors.any() {
        let update = SubscriptionUpdate {
            url: Some(form.url.clone()),
            events: Some(form.events.clone()),
            filter: Some(Some(form.filter.clone()).filter(|f| !f.is_empty())),
            description: Some(Some(form.description.clone()).filter(|d| !d.is_empty())),
        };
        match posted.session.tenant.update_subscription(&id, update).await {
            Ok(_) => return Ok(done(&state, &id, "updated")),
            Err(e) => errors = form_errors(&state, e)?,
        }
    }
    endpoint_page(
        &state,
        &posted.session,
        &id,
        &form,
        &errors,
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// Back to the endpoint's page (or the list), saying what was done: post, redirect, get.
fn done(state: &PortalState, id: &str, what: &str) -> Response {
    let base = &state.settings.path;
    let target = match what {
        "deleted" => format!("{base}?done=deleted"),
        _ => format!("{base}/endpoints/{id}?done={what}"),
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(&target) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// The endpoint's buttons: enable, disable, test, rotate, delete, replay.
async fn act(
    State(state): State<PortalState>,
    Path((id, action)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, Failure> {
    let tenant = &posted.session.tenant;
    let fail = |e| Failure::from_outbox(&state, e);
    match action.as_str() {
        "enable" => tenant.enable(&id).await.map_err(fail)?,
        "disable" => tenant.disable(&id).await.map_err(fail)?,
        "delete" => {
            tenant.delete_subscription(&id).await.map_err(fail)?;
            return Ok(done(&state, &id, "deleted"));
        }
        "test" => {
            let event = crate::management::TestEvent {
                subscription_id: id.clone(),
                message: "A test event, sent from the portal.".into(),
            };
            tenant
                .publish_to::<crate::management::webhook_test>(&id, &event)
                .await
                .map_err(fail)?;
            return Ok(done(&state, &id, "tested"));
        }
        "rotate" => {
            let secret = tenant
                .rotate_secret(&id, Duration::from_secs(24 * 3600))
                .await
                .map_err(fail)?;
            let page = posted.session.page(&state);
            return Ok(html(
                StatusCode::OK,
                page.secret(&id, &secret.expose(), true),
            ));
        }
        "replay" => {
            let Some(since) = parse_utc(posted.field("since")) else {
                return Err(Failure::new(
                    &state,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Not a time",
                    "Give the time to replay from as YYYY-MM-DDTHH:MM (UTC).",
                ));
            };
            let queued = tenant.replay(&id, since).await.map_err(fail)?;
            return Ok(done(&state, &id, &format!("replayed&n={queued}")));
        }
        _ => {
            return Err(Failure::new(
                &state,
                StatusCode::NOT_FOUND,
                "No such action",
                "The portal has no such action.",
            ))
        }
    };
    let what = if action == "enable" {
        "enabled"
    } else {
        "disabled"
    };
    Ok(done(&state, &id, what))
}

async fn resend(
    State(state): State<PortalState>,
    Path((id, message)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, Failure> {
    posted
        .session
        .tenant
        .resend(&id, &message)
        .await
        .map_err(|e| Failure::from_outbox(&state, e))?;
    Ok(done(&state, &id, "resent"))
}

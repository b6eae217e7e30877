//! Storing a published event: the message, and one pending delivery per subscription that
//! wants it, among those of its tenant (or of every tenant, for a broadcast).

use serde::Serialize;

use super::clock::now_ms;
use super::filter::{Filter, FilterError};
use super::model::new_id;
use super::OutboxError;
use crate::{Envelope, Webhook};

/// Whom an event is for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Audience<'a> {
    /// One tenant's subscriptions.
    Tenant(&'a str),
    /// Every tenant's subscriptions: an event that really is global.
    Everyone,
}

impl<'a> Audience<'a> {
    /// The tenant, as the messages' `tenant` column holds it (NULL for a broadcast).
    pub(crate) fn tenant(self) -> Option<&'a str> {
        match self {
            Audience::Tenant(tenant) => Some(tenant),
            Audience::Everyone => None,
        }
    }
}

/// A message ready to store, for its audience.
pub(crate) struct NewMessage<'a> {
    pub(crate) id: String,
    pub(crate) event: &'static str,
    pub(crate) method: &'static str,
    pub(crate) payload: String,
    pub(crate) value: &'a serde_json::Value,
    pub(crate) now: i64,
    /// Whose subscriptions it reaches.
    pub(crate) audience: Audience<'a>,
}

/// The body is the payload's own serde JSON (field order kept), or with `envelope` the
/// payload wrapped in an [`Envelope`] stamped now; the value (the payload alone, either way)
/// is for filters.
pub(crate) fn new_message<'v, W: Webhook>(
    payload: &W::Payload,
    value: &'v serde_json::Value,
    envelope: bool,
    audience: Audience<'v>,
) -> Result<NewMessage<'v>, OutboxError>
where
    W::Payload: Serialize,
{
    let now = now_ms();
    let body = if envelope {
        serde_json::to_string(&Envelope {
            event_type: W::NAME.to_owned(),
            timestamp: rfc3339(now),
            data: payload,
        })?
    } else {
        serde_json::to_string(payload)?
    };
    Ok(NewMessage {
        id: new_id("msg"),
        event: W::NAME,
        // A webhook declared with several methods is sent with the first.
        method: W::METHODS.first().map_or("POST", |m| m.as_str()),
        payload: body,
        value,
        now,
        audience,
    })
}

/// Milliseconds since the epoch as RFC 3339 in UTC, to the millisecond.
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Refuses event names with control characters: no webhook has one, and PostgreSQL cannot
/// read a NUL out of the stored list, which would fail every publish.
pub(crate) fn check_event_names(events: &[String]) -> Result<(), OutboxError> {
    match events.iter().find(|e| e.chars().any(char::is_control)) {
        Some(bad) => Err(OutboxError::InvalidSubscription(format!(
            "event name {bad:?} contains a control character"
        ))),
        None => Ok(()),
    }
}

/// The longest a subscription's description may be, in characters: it is shown on every
/// page that lists the tenant's endpoints.
pub const MAX_DESCRIPTION: usize = 500;

pub(crate) fn check_description(description: Option<&str>) -> Result<(), OutboxError> {
    match description {
        Some(text) if text.chars().count() > MAX_DESCRIPTION => {
            Err(OutboxError::InvalidSubscription(format!(
                "a description is at most {MAX_DESCRIPTION} characters"
            )))
        }
        _ => Ok(()),
    }
}

/// Whether a subscription with `filter` wants this message. Filters are checked when stored;
/// one that no longer parses matches nothing.
pub(crate) fn wants(filter: Option<&str>, message: &NewMessage<'_>) -> bool {
    wanted_by(&filter.map(Filter::parse), message)
}

/// A subscription's filter, parsed: `None` without one.
pub(crate) type ParsedFilter = Option<Result<Filter, FilterError>>;

/// [`wants`] with the filter parsed once, for a batch that tests it against many messages.
pub(crate) fn wanted_by(filter: &ParsedFilter, message: &NewMessage<'_>) -> bool {
    filter
        .as_ref()
        .is_none_or(|f| f.as_ref().is_ok_and(|f| f.matches(message.value)))
}

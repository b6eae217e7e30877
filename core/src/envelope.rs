//! The Standard Webhooks envelope: `{"type", "timestamp", "data"}` around a payload, opt-in
//! per webhook (`#[whpost("x", envelope)]`), per group (`#[webhooks(envelope)]`) or per gateway
//! (`WebhookGateway::envelope(true)`).

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{KnownFormat, RefOr, Schema, SchemaFormat};

/// A payload as [Standard Webhooks](https://www.standardwebhooks.com) recommends sending it:
/// the event type, when it happened, and the payload under `data`.
///
/// It is what an enveloped webhook's body is, so a receiver takes it apart with
/// `Verified<Envelope<Payment>>` (feature `receiver`) or `serde_json::from_slice`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The webhook's name, e.g. `"payment.created"`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the event was published, RFC 3339 in UTC (`2026-11-30T02:39:09.123Z`).
    pub timestamp: String,
    /// The payload.
    pub data: T,
}

/// The schema of `{type, timestamp, data}` for webhook `name` whose payload has `data`'s
/// schema (`None`: a webhook without a payload, whose `data` is `null`).
pub(crate) fn schema(name: &str, data: Option<RefOr<Schema>>) -> RefOr<Schema> {
    let data = data.unwrap_or_else(|| ObjectBuilder::new().schema_type(Type::Null).into());
    ObjectBuilder::new()
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([name])),
        )
        .property(
            "timestamp",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .property("data", data)
        .required("type")
        .required("timestamp")
        .required("data")
        .description(Some(
            "Standard Webhooks envelope: the event type, when it was published (RFC 3339), and the payload under `data`.",
        ))
        .into()
}

/// An example payload, wrapped as it is sent.
pub(crate) fn example(name: &str, data: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"type": name, "timestamp": "2026-01-01T00:00:00Z", "data": data})
}

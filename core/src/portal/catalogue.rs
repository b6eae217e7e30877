//! The event catalogue as the portal shows it, read from the built document (the same one
//! `/openapi.json` serves): each webhook's description, payload schema and an example
//! payload, the declared example where there is one, else one made from the schema by
//! [`crate::example`], as the webhook reference page makes it.

use serde_json::Value;
use utoipa::openapi::OpenApi;

/// One declared webhook.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Event {
    pub(crate) name: String,
    pub(crate) summary: Option<String>,
    pub(crate) description: Option<String>,
    /// The payload schema, its top `$ref` resolved.
    pub(crate) schema: Option<Value>,
    /// An example payload.
    pub(crate) example: Option<Value>,
}

/// The webhooks of `doc`, in the document's order.
pub(crate) fn catalogue(doc: &OpenApi) -> Vec<Event> {
    let doc = serde_json::to_value(doc).unwrap_or_default();
    let Some(webhooks) = doc["webhooks"].as_object() else {
        return Vec::new();
    };
    webhooks
        .iter()
        .map(|(name, item)| {
            let operation = item
                .as_object()
                .and_then(|ops| ops.values().next())
                .cloned()
                .unwrap_or_default();
            let content = operation["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .cloned()
                .unwrap_or_default();
            let schema = content.get("schema").map(|s| resolve(&doc, s).clone());
            let example = content.get("example").cloned().or_else(|| {
                schema
                    .as_ref()
                    .map(|s| crate::example::from_schema(s, &doc))
            });
            let text = |key: &str| operation[key].as_str().map(str::to_owned);
            Event {
                name: name.clone(),
                summary: text("summary"),
                description: text("description"),
                schema,
                example,
            }
        })
        .collect()
}

/// `schema`, or what its `$ref` points at in `doc` (itself if the reference is dangling).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| doc.pointer(pointer))
        .unwrap_or(schema)
}

//! The event catalogue, read once from the built document (the one `/openapi.json` serves):
//! the JSON API lists it, checks subscriptions' events against it, and the portal shows it.

use serde_json::Value;
use utoipa::openapi::OpenApi;

/// One declared webhook.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Event {
    pub(crate) name: String,
    /// Its methods, upper case.
    pub(crate) methods: Vec<String>,
    pub(crate) summary: Option<String>,
    pub(crate) description: Option<String>,
    /// The payload schema, its top `$ref` resolved.
    pub(crate) schema: Option<Value>,
    /// An example payload: the declared example where there is one, else one made from the
    /// schema by [`crate::example`], as the webhook reference page makes it.
    pub(crate) example: Option<Value>,
}

/// The webhooks of `doc`, in the document's order. Where a webhook has several methods, the
/// payload is the first one's that has a body.
pub(crate) fn read(doc: &OpenApi) -> Vec<Event> {
    let doc = serde_json::to_value(doc).unwrap_or_default();
    let Some(webhooks) = doc["webhooks"].as_object() else {
        return Vec::new();
    };
    webhooks
        .iter()
        .map(|(name, item)| {
            let operations: Vec<(&String, &Value)> =
                item.as_object().into_iter().flatten().collect();
            let first = operations.first().map(|(_, op)| *op);
            let content = operations
                .iter()
                .find_map(|(_, op)| op["requestBody"]["content"].as_object()?.values().next());
            let schema = content
                .and_then(|c| c.get("schema"))
                .map(|s| crate::refs::follow(&doc, s).clone());
            let example = content.and_then(|c| c.get("example")).cloned().or_else(|| {
                schema
                    .as_ref()
                    .map(|s| crate::example::from_schema(s, &doc))
            });
            let text = |key: &str| first.and_then(|op| op[key].as_str()).map(str::to_owned);
            Event {
                name: name.clone(),
                methods: operations.iter().map(|(m, _)| m.to_uppercase()).collect(),
                summary: text("summary"),
                description: text("description"),
                schema,
                example,
            }
        })
        .collect()
}

/// The first of `events` that `catalogue` does not list.
pub(crate) fn unknown<'a>(catalogue: &[Event], events: &'a [String]) -> Option<&'a String> {
    events
        .iter()
        .find(|event| !catalogue.iter().any(|known| known.name == **event))
}

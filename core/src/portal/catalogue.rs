//! The event catalogue as the portal shows it, read from the built document (the same one
//! `/openapi.json` serves): each webhook's description, payload schema and an example
//! payload, the declared example where there is one, else one made from the schema.

use serde_json::{json, Map, Value};
use utoipa::openapi::OpenApi;

/// How deep the example generator follows nested schemas and `$ref`s: a recursive type
/// ends in `null` there instead of looping.
const MAX_DEPTH: usize = 8;
/// The most properties of one object the example shows.
const MAX_PROPERTIES: usize = 50;

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
            let example = content
                .get("example")
                .cloned()
                .or_else(|| schema.as_ref().map(|s| example_of(&doc, s, 0)));
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

/// A value that fits `schema`: its own example, default, const or first enum value where it
/// has one, else one built from its type, following `$ref`s down to [`MAX_DEPTH`].
pub(crate) fn example_of(doc: &Value, schema: &Value, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if schema.get("$ref").is_some() {
        let target = resolve(doc, schema);
        return if std::ptr::eq(target, schema) {
            Value::Null
        } else {
            example_of(doc, target, depth + 1)
        };
    }
    for key in ["example", "default", "const"] {
        if let Some(value) = schema.get(key) {
            return value.clone();
        }
    }
    if let Some(value) = schema["examples"].get(0).or(schema["enum"].get(0)) {
        return value.clone();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(first) = schema[key].as_array().and_then(|all| {
            // `Option<T>` is `oneOf: [null, T]`: show the `T`.
            all.iter()
                .find(|s| s["type"] != "null")
                .or_else(|| all.first())
        }) {
            return example_of(doc, first, depth + 1);
        }
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(fields) = example_of(doc, part, depth + 1) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    let kind = match &schema["type"] {
        Value::String(kind) => kind.as_str(),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "",
    };
    match kind {
        "object" => {
            let fields = schema["properties"].as_object().into_iter().flatten();
            Value::Object(
                fields
                    .take(MAX_PROPERTIES)
                    .map(|(name, s)| (name.clone(), example_of(doc, s, depth + 1)))
                    .collect(),
            )
        }
        "array" => json!([example_of(doc, &schema["items"], depth + 1)]),
        "string" => json!(match schema["format"].as_str() {
            Some("date-time") => "2026-01-01T12:00:00Z",
            Some("date") => "2026-01-01",
            Some("email") => "someone@example.com",
            Some("uri" | "url") => "https://example.com/",
            Some("uuid") => "00000000-0000-4000-8000-000000000000",
            _ => "string",
        }),
        "integer" => schema.get("minimum").cloned().unwrap_or(json!(0)),
        "number" => schema.get("minimum").cloned().unwrap_or(json!(0.0)),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_follow_refs_and_types() {
        let doc = json!({"components": {"schemas": {
            "Money": {"type": "object", "properties": {
                "amount": {"type": "number", "minimum": 1},
                "currency": {"type": "string", "enum": ["EUR", "USD"]}}},
            "Payment": {"type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"},
                "paid": {"type": "boolean"},
                "at": {"type": ["string", "null"], "format": "date-time"},
                "price": {"$ref": "#/components/schemas/Money"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "note": {"oneOf": [{"type": "null"}, {"type": "string", "example": "hi"}]},
                "count": {"type": "integer", "default": 3}}}}}});
        let payment = json!({"$ref": "#/components/schemas/Payment"});
        assert_eq!(
            example_of(&doc, &payment, 0),
            json!({"id": "00000000-0000-4000-8000-000000000000", "paid": false,
                   "at": "2026-01-01T12:00:00Z", "price": {"amount": 1, "currency": "EUR"},
                   "tags": ["string"], "note": "hi", "count": 3})
        );
    }

    #[test]
    fn recursive_and_dangling_refs_end() {
        let doc = json!({"components": {"schemas": {"Node": {"type": "object", "properties": {
            "next": {"$ref": "#/components/schemas/Node"}}}}}});
        let mut example = example_of(&doc, &json!({"$ref": "#/components/schemas/Node"}), 0);
        let mut depth = 0;
        while example["next"].is_object() {
            example = example["next"].take();
            depth += 1;
        }
        assert!(depth <= MAX_DEPTH, "{depth}");
        assert_eq!(
            example_of(&doc, &json!({"$ref": "#/components/schemas/Gone"}), 0),
            Value::Null
        );
    }
}

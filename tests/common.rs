//! Shared checks for every document the test suite produces.
//!
//! [`checked`] asserts what Rust can check by itself (OpenAPI 3.1, no dangling `$ref`) and writes
//! the document to `target/openapi-docs/`, where `.ci/run` runs the real OpenAPI 3.1 validator
//! (`openapi-spec-validator`) over every file.

pub mod services;

use std::path::PathBuf;

use serde_json::Value;
use utoipa::openapi::OpenApi;

/// Checks `doc`, saves it for the validator under `name`, and returns its pretty JSON.
pub fn checked(name: &str, doc: &OpenApi) -> String {
    let json = doc.to_pretty_json().expect("a document serializes to JSON");
    let value: Value = serde_json::from_str(&json).expect("the JSON parses back");
    assert_eq!(
        value["openapi"], "3.1.0",
        "{name}: not an OpenAPI 3.1 document"
    );
    let dangling = dangling_refs(&value);
    assert!(dangling.is_empty(), "{name}: dangling $ref: {dangling:?}");
    let dir = docs_dir();
    std::fs::create_dir_all(&dir).expect("create target/openapi-docs");
    std::fs::write(dir.join(format!("{name}.json")), &json)
        .expect("save the document for the validator");
    json
}

/// Every `$ref` in `doc` that does not resolve to a component.
pub fn dangling_refs(doc: &Value) -> Vec<String> {
    let mut refs = Vec::new();
    collect_refs(doc, &mut refs);
    refs.into_iter()
        .filter(|r| resolve(doc, r).is_none())
        .collect()
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                refs.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// Validates `value` against the component schema `name` of `doc`, with every other component
/// resolvable, and returns the validation errors (empty when it is valid).
pub fn schema_errors(doc: &OpenApi, name: &str, value: &Value) -> Vec<String> {
    let doc = serde_json::to_value(doc).expect("a document serializes");
    let schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    let validator = jsonschema::draft202012::new(&schema).expect("the component schemas compile");
    validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Validates `value` against the JSON request body schema that `doc` gives webhook `webhook`
/// (its first method), with every component resolvable: what a receiver is told it gets.
pub fn request_body_errors(doc: &OpenApi, webhook: &str, value: &Value) -> Vec<String> {
    let doc = serde_json::to_value(doc).expect("a document serializes");
    let operations = doc["webhooks"][webhook]
        .as_object()
        .unwrap_or_else(|| panic!("webhook `{webhook}` is not in the document"));
    let body = operations
        .values()
        .find_map(|operation| operation["requestBody"]["content"]["application/json"].get("schema"))
        .unwrap_or_else(|| panic!("webhook `{webhook}` documents no JSON body"));
    let mut schema = body.clone();
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema".into();
    schema["components"] = doc["components"].clone();
    let validator = jsonschema::draft202012::new(&schema).expect("the body schema compiles");
    validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// `target/openapi-docs` of this workspace.
pub fn docs_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("openapi-docs")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_a_dangling_ref_and_accepts_a_good_one() {
        let doc = json!({
            "components": {"schemas": {"A": {"type": "string"}}},
            "x": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]
        });
        assert_eq!(
            dangling_refs(&doc),
            vec!["#/components/schemas/B".to_owned()]
        );
    }
}

//! The last check of a built document: every local `$ref` resolves.

use serde_json::Value;
use utoipa::openapi::OpenApi;

use crate::Error;

/// The first local `$ref` of `doc` that points at nothing, as an error naming the reference
/// and where it is. References to other documents (`other.yaml#/..`) are left alone.
pub(crate) fn check_refs(doc: &OpenApi) -> Result<(), Error> {
    let value = serde_json::to_value(doc).map_err(|e| Error::DanglingRef {
        reference: String::new(),
        at: format!("the document does not serialize: {e}"),
    })?;
    match first_dangling(&value, &value, &mut String::new()) {
        Some((reference, at)) => Err(Error::DanglingRef { reference, at }),
        None => Ok(()),
    }
}

/// Depth first, so the answer is the same on every build; `at` is a JSON pointer.
fn first_dangling(root: &Value, value: &Value, at: &mut String) -> Option<(String, String)> {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let resolves = match reference.strip_prefix('#') {
                    Some(pointer) => root.pointer(pointer).is_some(),
                    None => true,
                };
                if !resolves {
                    return Some((reference.clone(), at.clone()));
                }
            }
            map.iter().find_map(|(key, child)| {
                let len = at.len();
                at.push('/');
                at.push_str(&key.replace('~', "~0").replace('/', "~1"));
                let found = first_dangling(root, child, at);
                at.truncate(len);
                found
            })
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(i, child)| {
            let len = at.len();
            at.push_str(&format!("/{i}"));
            let found = first_dangling(root, child, at);
            at.truncate(len);
            found
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_missing_reference_and_where_it_is() {
        let doc = json!({
            "components": {"schemas": {
                "A": {"type": "string"},
                "Envelope": {"properties": {"data": {"$ref": "#/components/schemas/Address"}}}
            }},
            "webhooks": {"x": {"post": {"requestBody": {"$ref": "#/components/schemas/A"}}}},
            "elsewhere": {"$ref": "other.yaml#/components/schemas/B"}
        });
        assert_eq!(
            first_dangling(&doc, &doc, &mut String::new()),
            Some((
                "#/components/schemas/Address".to_owned(),
                "/components/schemas/Envelope/properties/data".to_owned()
            ))
        );
    }

    #[test]
    fn a_document_whose_references_resolve_passes() {
        let doc = json!({
            "components": {"schemas": {"A": {"type": "string"}, "a/b": {"type": "string"}}},
            "x": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/a~1b"}]
        });
        assert_eq!(first_dangling(&doc, &doc, &mut String::new()), None);
    }
}

//! Local `$ref`s: what one points at, where a chain of them ends, and the last check of a
//! built document, that every one resolves. The document builder, the example generator,
//! the reference page, the catalogue and the compat checker all read references here.

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
                if reference.starts_with('#') && local(root, reference).is_none() {
                    return Some((reference.clone(), at.clone()));
                }
            }
            map.iter().find_map(|(key, value)| {
                let mut at = child(at, key);
                first_dangling(root, value, &mut at)
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

/// How many `$ref`s in a row [`follow`] goes through before it stops: a chain that loops
/// ends there.
#[cfg(feature = "app")]
const MAX_CHAIN: usize = 12;

/// What a local `$ref` (`#/components/schemas/Payment`) points at in `root`. Its fragment is
/// percent-decoded, then read as a JSON pointer, which undoes `~1` and `~0`. `None` for a
/// reference into another document, a fragment that is not a pointer, or a dangling one.
pub(crate) fn local<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return None;
    }
    root.pointer(&percent_decode(pointer)?)
}

/// `schema`, or where its chain of local `$ref`s ends; a chain that dangles or loops stops at
/// its last schema that resolved.
#[cfg(feature = "app")]
pub(crate) fn follow<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..MAX_CHAIN {
        match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|reference| local(root, reference))
        {
            Some(target) => schema = target,
            None => break,
        }
    }
    schema
}

/// `base` extended by one reference token, escaped as RFC 6901 says (`~` as `~0`, `/` as `~1`).
pub(crate) fn child(base: &str, token: &str) -> String {
    let mut pointer = String::with_capacity(base.len() + token.len() + 1);
    pointer.push_str(base);
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
    pointer
}

/// A URI fragment with its `%xx` escapes decoded; `None` when one is malformed.
fn percent_decode(fragment: &str) -> Option<String> {
    if !fragment.contains('%') {
        return Some(fragment.to_owned());
    }
    let bytes = fragment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = fragment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
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

//! Example payloads generated from a JSON schema, for documentation pages and tests.
//!
//! ```
//! use serde_json::json;
//! let doc = json!({"components": {"schemas": {"Payment": {
//!     "type": "object",
//!     "properties": {"amount": {"type": "number"}, "paid_at": {"type": "string", "format": "date-time"}},
//! }}}});
//! let example = hookspec::example::from_schema(&json!({"$ref": "#/components/schemas/Payment"}), &doc);
//! assert_eq!(example, json!({"amount": 0.0, "paid_at": "2026-01-01T00:00:00Z"}));
//! ```

use serde_json::{Map, Value};

/// How deep the generator follows nested schemas and `$ref`s before it stops with `null`:
/// deep enough for real payloads, and it ends recursive types (a tree of comments).
pub const MAX_DEPTH: usize = 12;

/// The longest a generated string grows to reach a `minLength`.
const MAX_PADDING: usize = 1024;

/// An example value for `schema`, resolving `$ref`s (JSON pointers such as
/// `#/components/schemas/X`) against `root`, the whole document.
///
/// A schema's own `example`, `examples`, `const`, `default` or first `enum` value wins; otherwise
/// the value is made from the type: every property of an object, one item of an array, a
/// string shaped by its `format`, a number within `minimum`/`maximum`. `oneOf` and `anyOf`
/// take their first non-null choice, `allOf` merges its parts. Past [`MAX_DEPTH`] levels, or
/// at a `$ref` that does not resolve, the value is `null`.
pub fn from_schema(schema: &Value, root: &Value) -> Value {
    generate(schema, root, 0)
}

fn generate(schema: &Value, root: &Value, depth: usize) -> Value {
    let Some(schema) = schema.as_object() else {
        // `true` (anything) or `false` (nothing): no better guess than null.
        return Value::Null;
    };
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(given) = given_value(schema) {
        return given;
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return match crate::refs::local(root, reference) {
            Some(target) => generate(target, root, depth + 1),
            None => Value::Null,
        };
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        return merge_objects(parts.iter().map(|part| generate(part, root, depth + 1)));
    }
    for choice in ["oneOf", "anyOf"] {
        if let Some(choices) = schema.get(choice).and_then(Value::as_array) {
            let first = choices
                .iter()
                .find(|c| c.get("type").and_then(Value::as_str) != Some("null"))
                .or(choices.first());
            return first.map_or(Value::Null, |c| generate(c, root, depth + 1));
        }
    }
    match schema_type(schema) {
        Some("object") => object(schema, root, depth),
        Some("array") => match schema.get("items") {
            Some(items) => Value::Array(vec![generate(items, root, depth + 1)]),
            None => Value::Array(Vec::new()),
        },
        Some("string") => Value::String(string(schema)),
        Some("integer") => integer(schema),
        Some("number") => number(schema),
        Some("boolean") => Value::Bool(true),
        _ => Value::Null,
    }
}

/// A value the schema states itself.
fn given_value(schema: &Map<String, Value>) -> Option<Value> {
    schema
        .get("example")
        .or_else(|| schema.get("examples").and_then(|e| e.as_array()?.first()))
        .or_else(|| schema.get("const"))
        .or_else(|| schema.get("default"))
        .or_else(|| schema.get("enum").and_then(|e| e.as_array()?.first()))
        .cloned()
}

/// `type` may be a list (`["string", "null"]`): the first that is not `null`. A schema with
/// `properties` but no `type` is an object.
fn schema_type(schema: &Map<String, Value>) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .or(Some("null")),
        _ if schema.contains_key("properties") => Some("object"),
        _ => None,
    }
}

fn object(schema: &Map<String, Value>, root: &Value, depth: usize) -> Value {
    let mut out = Map::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            out.insert(name.clone(), generate(property, root, depth + 1));
        }
    }
    // A map type (`HashMap<String, T>`): one illustrative entry, when `T` says something.
    if out.is_empty() {
        if let Some(values) = schema
            .get("additionalProperties")
            .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        {
            out.insert("key".to_owned(), generate(values, root, depth + 1));
        }
    }
    Value::Object(out)
}

fn merge_objects(parts: impl Iterator<Item = Value>) -> Value {
    let mut merged = Map::new();
    for part in parts {
        // A part that is not an object (a constraint-only schema) adds no fields.
        if let Value::Object(fields) = part {
            merged.extend(fields);
        }
    }
    Value::Object(merged)
}

fn string(schema: &Map<String, Value>) -> String {
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    let text = match format {
        "date-time" => "2026-01-01T00:00:00Z",
        "date" => "2026-01-01",
        "time" => "12:00:00Z",
        "duration" => "PT1H",
        "email" | "idn-email" => "user@example.com",
        "uri" | "url" | "iri" => "https://example.com/",
        "hostname" | "idn-hostname" => "example.com",
        "ipv4" => "192.0.2.1",
        "ipv6" => "2001:db8::1",
        "uuid" => "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "byte" => "aGVsbG8=",
        _ => "string",
    };
    let bound = |key| schema.get(key).and_then(Value::as_u64);
    let mut text = text.to_owned();
    if let Some(min) = bound("minLength") {
        // Padded in one step, and only so far: a schema may ask for any length.
        let min = usize::try_from(min).unwrap_or(usize::MAX).min(MAX_PADDING);
        let missing = min.saturating_sub(text.chars().count());
        text.extend(std::iter::repeat_n('x', missing));
    }
    if let Some(max) = bound("maxLength") {
        text = text.chars().take(max as usize).collect();
    }
    text
}

fn integer(schema: &Map<String, Value>) -> Value {
    let bound = |key| schema.get(key).and_then(Value::as_f64);
    let low = bound("minimum").or(bound("exclusiveMinimum").map(|m| m.floor() + 1.0));
    let high = bound("maximum").or(bound("exclusiveMaximum").map(|m| m.ceil() - 1.0));
    let value = match (low, high) {
        (Some(low), _) => low.ceil(),
        (None, Some(high)) if high < 0.0 => high.floor(),
        _ => 0.0,
    };
    // Bounds beyond i64 are not real payloads; saturating keeps the example an integer.
    Value::from(value as i64)
}

fn number(schema: &Map<String, Value>) -> Value {
    let bound = |key| schema.get(key).and_then(Value::as_f64);
    let value = match (bound("minimum"), bound("maximum")) {
        (Some(low), _) => low,
        (None, Some(high)) if high < 0.0 => high,
        _ => 0.0,
    };
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_huge_min_length_is_padded_only_so_far() {
        let text = example(json!({"type": "string", "minLength": 4_000_000_000u64}));
        assert_eq!(text.as_str().map(str::len), Some(MAX_PADDING));
        let text = example(json!({"type": "string", "format": "date", "minLength": 12}));
        assert_eq!(text.as_str().map(str::len), Some(12));
    }

    fn example(schema: Value) -> Value {
        from_schema(&schema, &json!({}))
    }

    #[test]
    fn stated_values_win_over_the_type() {
        assert_eq!(
            example(json!({"type": "string", "example": "hi"})),
            json!("hi")
        );
        assert_eq!(
            example(json!({"type": "string", "examples": ["a", "b"]})),
            json!("a")
        );
        assert_eq!(
            example(json!({"type": "string", "enum": ["paid", "open"]})),
            json!("paid")
        );
        assert_eq!(example(json!({"type": "integer", "default": 7})), json!(7));
        assert_eq!(example(json!({"const": "v1"})), json!("v1"));
    }

    #[test]
    fn types_formats_and_bounds() {
        assert_eq!(
            example(json!({"type": "string", "format": "date-time"})),
            json!("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            example(json!({"type": "string", "minLength": 8})),
            json!("stringxx")
        );
        assert_eq!(
            example(json!({"type": "string", "maxLength": 3})),
            json!("str")
        );
        assert_eq!(example(json!({"type": "integer", "minimum": 5})), json!(5));
        assert_eq!(
            example(json!({"type": "integer", "exclusiveMinimum": 0})),
            json!(1)
        );
        assert_eq!(
            example(json!({"type": "integer", "maximum": -3})),
            json!(-3)
        );
        assert_eq!(
            example(json!({"type": "number", "minimum": 0.5})),
            json!(0.5)
        );
        assert_eq!(
            example(json!({"type": ["string", "null"]})),
            json!("string")
        );
        assert_eq!(example(json!({"type": "null"})), Value::Null);
        assert_eq!(
            example(json!({"type": "array", "items": {"type": "boolean"}})),
            json!([true])
        );
        assert_eq!(
            example(json!({"type": "object", "additionalProperties": {"type": "integer"}})),
            json!({"key": 0})
        );
        assert_eq!(
            example(json!({"type": "object", "additionalProperties": {}})),
            json!({})
        );
    }

    #[test]
    fn refs_compositions_and_recursion() {
        let root = json!({"components": {"schemas": {
            "Node": {"type": "object", "properties": {
                "name": {"type": "string"},
                "child": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Node"}]},
            }},
            "Named": {"type": "object", "properties": {"name": {"type": "string"}}},
            "Aged": {"type": "object", "properties": {"age": {"type": "integer"}}},
        }}});
        let node = from_schema(&json!({"$ref": "#/components/schemas/Node"}), &root);
        // Each level nests one further, until the depth bound ends the recursion with null.
        let mut level = &node;
        let mut levels = 0;
        while let Some(child) = level.get("child") {
            assert_eq!(level["name"], "string");
            level = child;
            levels += 1;
        }
        assert!(level.is_null(), "{node}");
        assert!((2..=MAX_DEPTH).contains(&levels), "{levels} levels");
        assert_eq!(
            from_schema(
                &json!({"allOf": [{"$ref": "#/components/schemas/Named"}, {"$ref": "#/components/schemas/Aged"}]}),
                &root
            ),
            json!({"name": "string", "age": 0})
        );
        assert_eq!(
            from_schema(&json!({"$ref": "#/components/schemas/Missing"}), &root),
            Value::Null
        );
        assert_eq!(
            from_schema(&json!({"$ref": "https://example.com/schema"}), &root),
            Value::Null
        );
    }
}

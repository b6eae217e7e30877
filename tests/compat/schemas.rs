//! Schema rules, in the direction of a webhook's request body (we write, receivers read).

use super::*;
use Class::{Breaking, BreakingForStrictReceivers as Strict, Safe};

fn object(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required })
}

#[test]
fn identical_documents_have_no_changes() {
    let doc = sent(object(json!({ "a": { "type": "string" } }), &["a"]));
    assert_eq!(diff(&doc, &doc), Report::default());
}

#[test]
fn property_removed_and_added() {
    let both = sent(object(
        json!({ "a": { "type": "string" }, "b": { "type": "string" } }),
        &["a"],
    ));
    let only_a = sent(object(json!({ "a": { "type": "string" } }), &["a"]));
    let at = format!("{BODY}/properties/b");
    one_change(
        &both,
        &only_a,
        &at,
        Breaking,
        "optional property `b` removed",
        Safe,
    );
    let required_b = sent(object(
        json!({ "a": { "type": "string" }, "b": { "type": "string" } }),
        &["a", "b"],
    ));
    one_change(
        &required_b,
        &only_a,
        &at,
        Breaking,
        "required property `b` removed",
        Safe,
    );
}

#[test]
fn property_no_longer_required() {
    let props = json!({ "a": { "type": "string" }, "b": { "type": "string" } });
    let old = sent(object(props.clone(), &["a", "b"]));
    let new = sent(object(props, &["a"]));
    one_change(
        &old,
        &new,
        &format!("{BODY}/properties/b"),
        Breaking,
        "no longer required",
        Safe,
    );
}

#[test]
fn type_changed_widened_and_narrowed() {
    let at = format!("{BODY}/properties/amount");
    let amount = |schema: Value| sent(object(json!({ "amount": schema }), &["amount"]));
    let integer = amount(json!({ "type": "integer" }));
    one_change(
        &integer,
        &amount(json!({ "type": "number" })),
        &at,
        Breaking,
        "widened from integer to number",
        Safe,
    );
    one_change(
        &integer,
        &amount(json!({ "type": "string" })),
        &at,
        Breaking,
        "changed from integer to string",
        Breaking,
    );
    one_change(
        &integer,
        &amount(json!({ "type": ["integer", "string"] })),
        &at,
        Breaking,
        "widened",
        Safe,
    );
    one_change(
        &integer,
        &amount(json!({})),
        &at,
        Breaking,
        "widened from integer to any type",
        Safe,
    );
}

#[test]
fn nullable_added_in_both_dialects() {
    let string = sent(json!({ "type": "string" }));
    let v31 = sent(json!({ "type": ["string", "null"] }));
    let v30 = sent(json!({ "type": "string", "nullable": true }));
    let any_of = sent(json!({ "anyOf": [{ "type": "string" }, { "type": "null" }] }));
    for nullable in [&v31, &v30, &any_of] {
        one_change(&string, nullable, BODY, Breaking, "may now be null", Safe);
    }
    assert_eq!(
        diff(&v30, &v31),
        Report::default(),
        "3.0 nullable and 3.1 null type are the same"
    );
}

#[test]
fn new_alternative_in_one_of_and_any_of() {
    for keyword in ["oneOf", "anyOf"] {
        let old = sent(json!({ keyword: [{ "type": "string" }, { "type": "integer" }] }));
        let new = sent(
            json!({ keyword: [{ "type": "string" }, { "type": "integer" }, { "type": "boolean" }] }),
        );
        let at = format!("{BODY}/{keyword}/2");
        one_change(
            &old,
            &new,
            &at,
            Breaking,
            "new alternative an inline boolean schema",
            Safe,
        );
    }
    let components =
        json!({ "Card": { "type": "object" }, "Bank": { "type": "object", "required": ["iban"] } });
    let old = with_components(
        sent_bare(json!({ "oneOf": [{ "$ref": "#/components/schemas/Card" }] })),
        components.clone(),
    );
    let new = with_components(
        sent_bare(
            json!({ "oneOf": [{ "$ref": "#/components/schemas/Bank" }, { "$ref": "#/components/schemas/Card" }] }),
        ),
        components,
    );
    one_change(
        &old,
        &new,
        &format!("{BODY}/oneOf/0"),
        Breaking,
        "new alternative `Bank`",
        Safe,
    );
}

#[test]
fn format_changed_added_removed() {
    let with = |format: &str| sent(json!({ "type": "string", "format": format }));
    let plain = sent(json!({ "type": "string" }));
    one_change(
        &with("date-time"),
        &with("date"),
        BODY,
        Breaking,
        "format changed from `date-time` to `date`",
        Breaking,
    );
    one_change(
        &with("uuid"),
        &plain,
        BODY,
        Breaking,
        "format `uuid` removed",
        Safe,
    );
}

#[test]
fn constraints_loosened_and_tightened() {
    let cases = [
        (
            json!({ "type": "string", "maxLength": 10 }),
            json!({ "type": "string", "maxLength": 20 }),
            "`maxLength` loosened from 10 to 20",
        ),
        (
            json!({ "type": "string", "maxLength": 10 }),
            json!({ "type": "string" }),
            "`maxLength` loosened from 10 to none",
        ),
        (
            json!({ "type": "integer", "maximum": 100 }),
            json!({ "type": "integer" }),
            "`maximum` loosened",
        ),
        (
            json!({ "type": "integer", "minimum": 0 }),
            json!({ "type": "integer", "minimum": -1 }),
            "`minimum` loosened from 0 to -1",
        ),
        (
            json!({ "type": "array", "maxItems": 3 }),
            json!({ "type": "array", "maxItems": 4 }),
            "`maxItems` loosened",
        ),
        (
            json!({ "type": "string", "pattern": "^[a-z]+$" }),
            json!({ "type": "string" }),
            "`pattern` \"^[a-z]+$\" removed",
        ),
    ];
    for (old, new, says) in cases {
        one_change(&sent(old), &sent(new), BODY, Breaking, says, Safe);
    }
    let pattern = |p: &str| sent(json!({ "type": "string", "pattern": p }));
    one_change(
        &pattern("^[a-z]+$"),
        &pattern("^[a-z0-9]+$"),
        BODY,
        Breaking,
        "`pattern` changed",
        Breaking,
    );
}

#[test]
fn enum_value_added_breaks_exhaustive_receivers() {
    let status = |values: Value| sent(json!({ "type": "string", "enum": values }));
    let (old, new) = (
        status(json!(["paid", "failed"])),
        status(json!(["paid", "failed", "refunded"])),
    );
    one_change(
        &old,
        &new,
        BODY,
        Strict,
        "enum value(s) added: \"refunded\"",
        Safe,
    );
    one_change(
        &old,
        &sent(json!({ "type": "string" })),
        BODY,
        Strict,
        "any value may appear",
        Safe,
    );
    let (constant, either) = (
        sent(json!({ "const": "a" })),
        sent(json!({ "enum": ["a", "b"] })),
    );
    one_change(&constant, &either, BODY, Strict, "added: \"b\"", Safe);
}

#[test]
fn closed_object_opened() {
    let closed = sent(json!({ "type": "object", "additionalProperties": false }));
    let open = sent(json!({ "type": "object" }));
    one_change(&closed, &open, BODY, Breaking, "was closed", Safe);
    let unevaluated = sent(json!({ "type": "object", "unevaluatedProperties": false }));
    one_change(&unevaluated, &open, BODY, Breaking, "was closed", Safe);
    let new_property =
        sent(json!({ "type": "object", "additionalProperties": false, "properties": { "x": {} } }));
    one_change(
        &closed,
        &new_property,
        &format!("{BODY}/properties/x"),
        Strict,
        "object that was closed",
        Breaking,
    );
}

#[test]
fn nested_items_and_additional_properties_are_compared() {
    let list = |t: &str| sent(json!({ "type": "array", "items": { "type": t } }));
    one_change(
        &list("integer"),
        &list("number"),
        &format!("{BODY}/items"),
        Breaking,
        "widened",
        Safe,
    );
    let map = |t: &str| sent(json!({ "type": "object", "additionalProperties": { "type": t } }));
    one_change(
        &map("integer"),
        &map("number"),
        &format!("{BODY}/additionalProperties"),
        Breaking,
        "widened",
        Safe,
    );
}

#[test]
fn boolean_schemas() {
    one_change(
        &sent(json!(false)),
        &sent(json!(true)),
        BODY,
        Breaking,
        "allowed no value",
        Safe,
    );
    one_change(
        &sent(json!(true)),
        &sent(json!({ "type": "string" })),
        BODY,
        Safe,
        "narrowed from any type to string",
        Breaking,
    );
}

#[test]
fn all_of_members_are_merged() {
    let components = json!({ "Base": { "type": "object", "properties": { "id": { "type": "string" } }, "required": ["id"] } });
    let doc = |extra: Value| {
        with_components(
            sent_bare(json!({ "allOf": [{ "$ref": "#/components/schemas/Base" }, extra] })),
            components.clone(),
        )
    };
    let old = doc(json!({ "properties": { "amount": { "type": "integer" } } }));
    let new = doc(json!({ "properties": { "amount": { "type": "number" } } }));
    one_change(
        &old,
        &new,
        &format!("{BODY}/properties/amount"),
        Breaking,
        "widened",
        Safe,
    );
    let flat = with_components(
        sent(object(
            json!({ "id": { "type": "string" }, "amount": { "type": "integer" } }),
            &["id"],
        )),
        json!({}),
    );
    assert_eq!(
        diff(&old, &flat),
        Report::default(),
        "an allOf compares as the object it builds"
    );
}

#[test]
fn refs_followed_on_both_sides_including_recursion_and_renames() {
    // A tree whose node's `value` widens: reported once, at the node, and the recursion stops.
    let tree = |name: &str, value: &str| {
        let node = json!({ "type": "object", "required": ["value"], "properties": {
            "value": { "type": value },
            "children": { "type": "array", "items": { "$ref": format!("#/components/schemas/{name}") } }
        } });
        with_components(
            sent_bare(json!({ "$ref": format!("#/components/schemas/{name}") })),
            json!({ name: node }),
        )
    };
    let at = format!("{BODY}/properties/value");
    one_change(
        &tree("Node", "integer"),
        &tree("Node", "number"),
        &at,
        Breaking,
        "widened",
        Safe,
    );
    // Renamed with the same content: no change; renamed and changed: the change.
    assert_eq!(
        diff(&tree("Node", "integer"), &tree("TreeNode", "integer")),
        Report::default()
    );
    one_change(
        &tree("Node", "integer"),
        &tree("TreeNode", "number"),
        &at,
        Breaking,
        "widened",
        Safe,
    );
    // Inline on one side, a reference on the other.
    let inline = sent(object(
        json!({ "value": { "type": "integer" } }),
        &["value"],
    ));
    let referenced = with_components(
        sent_bare(json!({ "$ref": "#/components/schemas/P" })),
        json!({ "P": object(json!({ "value": { "type": "number" } }), &["value"]) }),
    );
    one_change(&inline, &referenced, &at, Breaking, "widened", Safe);
}

#[test]
fn mutually_recursive_schemas_terminate() {
    let doc = |t: &str| {
        with_components(
            sent_bare(json!({ "$ref": "#/components/schemas/A" })),
            json!({
                "A": { "type": "object", "properties": { "b": { "$ref": "#/components/schemas/B" }, "n": { "type": t } } },
                "B": { "type": "object", "properties": { "a": { "$ref": "#/components/schemas/A" } } }
            }),
        )
    };
    let report = diff(&doc("integer"), &doc("number"));
    assert_eq!(report.changes.len(), 1, "{report}");
    assert_eq!(report.changes[0].pointer, format!("{BODY}/properties/n"));
}

#[test]
fn a_schema_recursive_through_its_alternatives_terminates() {
    // schemars writes a self-recursive untagged enum so: typed only by its alternatives,
    // one of which is itself. Reading its type used to recurse until the stack overflowed.
    let doc = |t: &str| {
        with_components(
            sent_bare(json!({ "$ref": "#/components/schemas/A" })),
            json!({
                "A": { "anyOf": [
                    { "$ref": "#/components/schemas/A" },
                    { "type": "object", "properties": { "n": { "type": t } } },
                    { "type": "null" }
                ] }
            }),
        )
    };
    assert!(diff(&doc("integer"), &doc("integer")).changes.is_empty());
    let report = diff(&doc("integer"), &doc("number"));
    assert!(
        report
            .changes
            .iter()
            .any(|c| c.pointer.ends_with("/properties/n")),
        "{report}"
    );
}

#[test]
fn ref_pointers_are_unescaped_and_siblings_apply() {
    let doc = |t: &str| {
        with_components(
            sent_bare(
                json!({ "$ref": "#/components/schemas/a~1b~0c", "description": "siblings are allowed in 3.1" }),
            ),
            json!({ "a/b~c": { "type": t } }),
        )
    };
    one_change(
        &doc("integer"),
        &doc("number"),
        BODY,
        Breaking,
        "widened",
        Safe,
    );
    let nullable_sibling = with_components(
        sent_bare(json!({ "$ref": "#/components/schemas/a~1b~0c", "type": ["integer", "null"] })),
        json!({ "a/b~c": { "type": "integer" } }),
    );
    one_change(
        &doc("integer"),
        &nullable_sibling,
        BODY,
        Breaking,
        "may now be null",
        Safe,
    );
}

#[test]
fn a_ref_that_does_not_resolve_is_an_error_naming_it() {
    let good = sent(json!({ "type": "string" }));
    let bad = sent(json!({ "$ref": "#/components/schemas/Missing" }));
    let error = compat::diff(&good, &bad).unwrap_err().to_string();
    assert!(
        error.contains("new document") && error.contains("#/components/schemas/Missing"),
        "{error}"
    );
    let external = sent(json!({ "$ref": "other.json#/Payment" }));
    assert!(compat::diff(&external, &good)
        .unwrap_err()
        .to_string()
        .contains("old document"));
    let looping = with_components(
        sent_bare(json!({ "$ref": "#/components/schemas/A" })),
        json!({
            "A": { "$ref": "#/components/schemas/B" }, "B": { "$ref": "#/components/schemas/A" }
        }),
    );
    assert!(compat::diff(&good, &looping)
        .unwrap_err()
        .to_string()
        .contains("loop"));
}

#[test]
fn any_json_is_compared_without_panicking() {
    let odd = [
        json!(null),
        json!([]),
        json!("text"),
        json!(1),
        json!({}),
        json!({ "webhooks": [] }),
        json!({ "webhooks": { "a": 1 } }),
        json!({ "webhooks": { "a": { "post": 1 } } }),
        json!({ "webhooks": { "a": { "post": { "requestBody": [], "responses": 3, "parameters": {} } } } }),
        json!({ "paths": { "/x": { "get": { "parameters": [1, { "in": "header" }, { "name": "h", "schema": 7 }] } } } }),
        sent(json!(3)),
        sent(json!({ "type": 3, "enum": 4, "properties": [], "required": {}, "oneOf": {} })),
        sent(json!({ "allOf": [true, false, 1, { "type": "string" }] })),
        sent(json!({ "maxLength": "ten", "minimum": null, "pattern": 1, "format": [] })),
    ];
    for old in &odd {
        for new in &odd {
            compat::diff(old, new).expect("no reference to resolve");
        }
    }
}

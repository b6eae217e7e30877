//! `hookspec::compat`: every rule on synthetic pairs in both directions, the recursion and
//! reference cases, inputs that are not quite documents, the test helper, and Adyen's
//! published webhook documents.

mod adyen;
mod helper;
mod operations;
mod schemas;

use hookspec::compat::{self, Class, Report};
use serde_json::{json, Value};

/// A document with one webhook, `payment.created`, whose JSON request body is `schema`.
fn sent(schema: Value) -> Value {
    with_components(sent_bare(schema), json!({}))
}

fn sent_bare(schema: Value) -> Value {
    json!({ "openapi": "3.1.0", "webhooks": { "payment.created": { "post": {
        "requestBody": { "content": { "application/json": { "schema": schema } } },
        "responses": { "200": { "description": "OK" } }
    } } } })
}

/// Adds `components.schemas` to a document.
fn with_components(mut doc: Value, schemas: Value) -> Value {
    doc["components"] = json!({ "schemas": schemas });
    doc
}

/// Where `sent`'s schema is.
const BODY: &str = "/webhooks/payment.created/post/requestBody/content/application~1json/schema";

/// The report of `old` against `new`, which must resolve.
fn diff(old: &Value, new: &Value) -> Report {
    compat::diff(old, new).expect("both documents resolve")
}

/// Checks that `old` to `new` reports exactly one change, at `pointer`, of class `forward`,
/// saying `says`; and that `new` to `old` reports exactly one change of class `backward`.
#[track_caller]
fn one_change(
    old: &Value,
    new: &Value,
    pointer: &str,
    forward: Class,
    says: &str,
    backward: Class,
) {
    let report = diff(old, new);
    assert_eq!(
        report.changes.len(),
        1,
        "old to new, one change expected:\n{report}"
    );
    let change = &report.changes[0];
    assert_eq!(change.pointer, pointer, "\n{report}");
    assert_eq!(change.class, forward, "\n{report}");
    assert!(
        change.message.contains(says),
        "{:?} does not say {says:?}",
        change.message
    );
    let back = diff(new, old);
    assert_eq!(
        back.changes.len(),
        1,
        "new to old, one change expected:\n{back}"
    );
    assert_eq!(back.changes[0].class, backward, "new to old:\n{back}");
}

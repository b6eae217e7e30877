//! Operation rules: webhooks and methods, content types, request bodies, headers, the
//! receiver's answer, and `paths` in the server direction.

use super::*;
use Class::{Breaking, BreakingForStrictReceivers as Strict, Safe};

const OP: &str = "/webhooks/payment.created/post";

/// `payment.created` with `operation` as its POST.
fn webhook(operation: Value) -> Value {
    json!({ "openapi": "3.1.0", "webhooks": { "payment.created": { "post": operation } } })
}

fn header(name: &str, required: bool) -> Value {
    json!({ "name": name, "in": "header", "required": required, "schema": { "type": "string" } })
}

#[test]
fn webhook_and_method_removed() {
    let one = webhook(json!({}));
    let none = json!({ "openapi": "3.1.0", "webhooks": {} });
    one_change(
        &one,
        &none,
        "/webhooks/payment.created",
        Breaking,
        "webhook `payment.created` removed",
        Safe,
    );
    let no_webhooks_at_all = json!({ "openapi": "3.1.0" });
    one_change(
        &one,
        &no_webhooks_at_all,
        "/webhooks/payment.created",
        Breaking,
        "removed",
        Safe,
    );
    let both = json!({ "webhooks": { "payment.created": { "post": {}, "put": {} } } });
    one_change(
        &both,
        &one,
        "/webhooks/payment.created/put",
        Breaking,
        "PUT removed",
        Safe,
    );
}

#[test]
fn content_type_changed() {
    let body = |media: &str| {
        webhook(
            json!({ "requestBody": { "content": { media: { "schema": { "type": "object" } } } } }),
        )
    };
    let at = format!("{OP}/requestBody/content/application~1xml");
    one_change(
        &body("application/json"),
        &body("application/xml"),
        &at,
        Breaking,
        "content type changed from `application/json` to `application/xml`",
        Breaking,
    );
    let both = webhook(
        json!({ "requestBody": { "content": { "application/json": { "schema": { "type": "object" } }, "application/xml": { "schema": { "type": "object" } } } } }),
    );
    one_change(
        &body("application/json"),
        &both,
        &at,
        Breaking,
        "may now be sent as `application/xml`",
        Safe,
    );
}

#[test]
fn request_body_added_and_removed() {
    let with = webhook(json!({ "requestBody": { "content": { "application/json": {} } } }));
    let without = webhook(json!({}));
    one_change(
        &with,
        &without,
        &format!("{OP}/requestBody"),
        Breaking,
        "request body removed",
        Safe,
    );
    let required = webhook(
        json!({ "requestBody": { "required": true, "content": { "application/json": {} } } }),
    );
    one_change(
        &required,
        &with,
        &format!("{OP}/requestBody"),
        Breaking,
        "no longer required",
        Safe,
    );
}

#[test]
fn headers_we_send() {
    let headers = |list: Value| webhook(json!({ "parameters": list }));
    let signed = headers(json!([
        header("webhook-id", true),
        header("webhook-signature", true),
        header("webhook-timestamp", true)
    ]));
    let unsigned = headers(json!([
        header("webhook-id", true),
        header("webhook-timestamp", true)
    ]));
    one_change(
        &signed,
        &unsigned,
        &format!("{OP}/parameters/1"),
        Breaking,
        "signature header `webhook-signature` no longer sent",
        Safe,
    );
    let plain = headers(json!([]));
    let tenant = headers(json!([header("X-Tenant", true)]));
    one_change(
        &tenant,
        &plain,
        &format!("{OP}/parameters/0"),
        Breaking,
        "required header `x-tenant` no longer sent",
        Safe,
    );
    one_change(
        &plain,
        &tenant,
        &format!("{OP}/parameters/0"),
        Safe,
        "new required header `x-tenant`",
        Breaking,
    );
    let optional = headers(json!([header("x-tenant", false)]));
    one_change(
        &tenant,
        &optional,
        &format!("{OP}/parameters/0"),
        Breaking,
        "no longer required",
        Safe,
    );
    // Header names are case-insensitive; a `$ref`'d parameter is followed.
    let referenced = json!({ "webhooks": { "payment.created": { "post": { "parameters": [{ "$ref": "#/components/parameters/T" }] } } },
        "components": { "parameters": { "T": header("x-TENANT", true) } } });
    assert_eq!(diff(&tenant, &referenced), Report::default());
}

/// `payment.created`, whose receivers answer 200 with `schema` and `headers`.
fn answer(schema: Value, headers: Value) -> Value {
    webhook(
        json!({ "responses": { "200": { "description": "OK", "headers": headers,
        "content": { "application/json": { "schema": schema } } } } }),
    )
}

#[test]
fn the_receivers_answer_is_read_by_us() {
    let at = format!("{OP}/responses/200/content/application~1json/schema");
    let integer = answer(json!({ "type": "integer" }), json!({}));
    let number = answer(json!({ "type": "number" }), json!({}));
    one_change(&integer, &number, &at, Safe, "widened", Breaking);
    let enum_of = |values: Value| answer(json!({ "enum": values }), json!({}));
    one_change(
        &enum_of(json!(["ok"])),
        &enum_of(json!(["ok", "retry"])),
        &at,
        Safe,
        "added",
        Breaking,
    );
    let required = answer(
        json!({}),
        json!({ "x-receipt": { "required": true, "schema": { "type": "string" } } }),
    );
    let none = answer(json!({}), json!({}));
    let header_at = format!("{OP}/responses/200/headers/x-receipt");
    one_change(
        &none,
        &required,
        &header_at,
        Breaking,
        "new required response header `x-receipt`",
        Safe,
    );
    let statuses = |code: &str| webhook(json!({ "responses": { code: { "description": "OK" } } }));
    let report = diff(&statuses("200"), &statuses("204"));
    let classes: Vec<(&str, Class)> = report
        .changes
        .iter()
        .map(|c| (c.pointer.as_str(), c.class))
        .collect();
    let (was_200, now_204) = (format!("{OP}/responses/200"), format!("{OP}/responses/204"));
    assert_eq!(
        classes,
        [(was_200.as_str(), Breaking), (now_204.as_str(), Safe)],
        "{report}"
    );
}

#[test]
fn paths_use_the_server_direction() {
    let path = |request: Value, response: Value| {
        json!({ "openapi": "3.1.0", "paths": { "/payments": { "post": {
        "requestBody": { "content": { "application/json": { "schema": request } } },
        "responses": { "201": { "description": "Created", "content": { "application/json": { "schema": response } } } }
    } } } })
    };
    let op = "/paths/~1payments/post";
    let (a, ab) = (
        json!({ "type": "object", "properties": { "a": {} } }),
        json!({ "type": "object", "properties": { "a": {}, "b": {} }, "required": ["b"] }),
    );
    // A new required property in what clients send breaks them; in what clients read, it is safe.
    let request_at = format!("{op}/requestBody/content/application~1json/schema/properties/b");
    one_change(
        &path(a.clone(), json!({})),
        &path(ab.clone(), json!({})),
        &request_at,
        Breaking,
        "new required property `b`",
        Safe,
    );
    let response_at = format!("{op}/responses/201/content/application~1json/schema/properties/b");
    one_change(
        &path(json!({}), a.clone()),
        &path(json!({}), ab),
        &response_at,
        Safe,
        "new property `b`",
        Breaking,
    );
    let gone = json!({ "openapi": "3.1.0", "paths": {} });
    one_change(
        &path(a.clone(), a.clone()),
        &gone,
        "/paths/~1payments",
        Breaking,
        "clients that call it fail",
        Safe,
    );
    let with_400 =
        json!({ "paths": { "/payments": { "post": { "responses": { "201": {}, "400": {} } } } } });
    let only_201 = json!({ "paths": { "/payments": { "post": { "responses": { "201": {} } } } } });
    one_change(
        &only_201,
        &with_400,
        &format!("{op}/responses/400"),
        Strict,
        "new status 400",
        Safe,
    );
}

#[test]
fn path_item_parameters_and_refs_apply_to_each_operation() {
    let doc = |required: bool| {
        json!({ "paths": { "/payments/{id}": { "$ref": "#/components/pathItems/P" } },
        "components": { "pathItems": { "P": { "parameters": [header("x-tenant", required)], "get": {} } } } })
    };
    let at = "/paths/~1payments~1{id}/parameters/0";
    one_change(
        &doc(false),
        &doc(true),
        at,
        Breaking,
        "header `x-tenant` is now required",
        Safe,
    );
}

//! `assert_compatible`, the snapshot workflow's test helper, on a document hookspec builds.

use super::*;
use hookspec::{whpost, OpenApiBuilder, WebhookGateway};
use std::panic::{catch_unwind, AssertUnwindSafe};

mod v1 {
    /// A payment, as version 1 sends it.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct Payment {
        pub amount: i64,
        pub memo: Option<String>,
    }

    #[hookspec::whpost("payment.created")]
    pub async fn payment_created(data: Payment) {}
}

/// Version 2 drops `memo` and widens `amount` to a float.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Payment {
    amount: f64,
}

#[whpost("payment.created")]
async fn payment_created(data: Payment) {}

fn document(gateway: WebhookGateway) -> hookspec::utoipa::openapi::OpenApi {
    OpenApiBuilder::new("Payments", "1")
        .webhook(gateway)
        .build()
        .expect("a valid document")
}

/// The message `f` panics with.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("it panics");
    payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default()
}

const PAYMENT: &str = "/webhooks/payment.created/post/requestBody/content/application~1json/schema";

#[test]
fn a_baseline_file_in_json_or_yaml_passes_against_the_same_document() {
    let old = document(WebhookGateway::new(v1::payment_created));
    let dir = std::env::temp_dir().join(format!("hookspec-compat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json_path, yaml_path) = (dir.join("openapi.json"), dir.join("openapi.yaml"));
    std::fs::write(&json_path, old.to_pretty_json().unwrap()).unwrap();
    std::fs::write(&yaml_path, old.to_yaml().unwrap()).unwrap();
    compat::assert_compatible(&json_path, &old, &[]);
    compat::assert_compatible(yaml_path.to_str().unwrap(), &old, &[]);
    assert_eq!(
        compat::load(&json_path).unwrap(),
        compat::load(&yaml_path).unwrap()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_break_fails_with_a_readable_report_until_accepted() {
    let old = serde_json::to_value(document(WebhookGateway::new(v1::payment_created))).unwrap();
    let new = document(WebhookGateway::new(payment_created));
    let message = panic_message(|| compat::assert_compatible(&old, &new, &[]));
    assert!(
        message.contains("3 breaking, 0 breaking for strict receivers"),
        "{message}"
    );
    assert!(
        message.contains(&format!("{PAYMENT}/properties/memo")),
        "{message}"
    );
    assert!(
        message.contains("type widened from integer to number"),
        "{message}"
    );
    // Accepting one leaves the other.
    let amount = format!("{PAYMENT}/properties/amount");
    let message = panic_message(|| compat::assert_compatible(&old, &new, &[&amount]));
    assert!(
        message.contains("memo") && !message.contains("widened"),
        "{message}"
    );
    // Accepting both, by pointer and by prefix, passes.
    compat::assert_compatible(
        &old,
        &new,
        &[&amount, &format!("{PAYMENT}/properties/memo")],
    );
    compat::assert_compatible(&old, &new, &["/webhooks/payment.created"]);
}

#[test]
fn an_accepted_break_that_no_longer_occurs_fails() {
    let old = document(WebhookGateway::new(v1::payment_created));
    let old = serde_json::to_value(old).unwrap();
    let message = panic_message(|| compat::assert_compatible(&old, &old, &["/webhooks/gone"]));
    assert!(
        message.contains("no longer occur") && message.contains("/webhooks/gone"),
        "{message}"
    );
}

#[test]
fn a_missing_baseline_names_the_file() {
    let doc = json!({});
    let message = panic_message(|| compat::assert_compatible("no/such/openapi.json", &doc, &[]));
    assert!(message.contains("no/such/openapi.json"), "{message}");
    let error = compat::load(concat!(env!("CARGO_MANIFEST_DIR"), "/compat/helper.rs"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("not a JSON or YAML document"), "{error}");
}

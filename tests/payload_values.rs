//! Real serialized values validate against the schemas in the document, for utoipa and
//! schemars payloads alike; and a wrong value does not (so the check can fail).

use hookspec::{whpost, OpenApiBuilder, WebhookGateway};
use hookspec_tests::schema_errors;
use serde::Serialize;
use serde_json::json;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Address {
    pub city: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Customer {
    Person {
        name: String,
        address: Address,
    },
    Company {
        vat_id: String,
        addresses: Vec<Address>,
    },
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Invoice {
    pub number: u32,
    pub status: InvoiceStatus,
    pub note: Option<String>,
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Draft,
    Paid { at: String },
}

#[whpost("customer.updated")]
pub async fn customer_updated(data: Customer) {}

#[whpost("invoice.sent")]
pub async fn invoice_sent(data: Invoice) {}

fn doc() -> utoipa::openapi::OpenApi {
    OpenApiBuilder::new("Values", "1")
        .webhook(WebhookGateway::new(customer_updated))
        .webhook(WebhookGateway::new(invoice_sent))
        .build()
        .unwrap()
}

#[test]
fn utoipa_payload_values_validate() {
    let doc = doc();
    let values = [
        Customer::Person {
            name: "Ada".into(),
            address: Address {
                city: "Paris".into(),
            },
        },
        Customer::Company {
            vat_id: "FR1".into(),
            addresses: vec![Address {
                city: "Lyon".into(),
            }],
        },
    ];
    for value in values {
        let value = serde_json::to_value(value).unwrap();
        assert_eq!(
            schema_errors(&doc, "Customer", &value),
            Vec::<String>::new(),
            "{value}"
        );
    }
}

#[test]
fn schemars_payload_values_validate() {
    let doc = doc();
    let values = [
        Invoice {
            number: 1,
            status: InvoiceStatus::Draft,
            note: None,
            paid_at: None,
        },
        Invoice {
            number: 2,
            status: InvoiceStatus::Paid { at: "today".into() },
            note: Some("thanks".into()),
            paid_at: Some(chrono::Utc::now()),
        },
    ];
    for value in values {
        let value = serde_json::to_value(value).unwrap();
        assert_eq!(
            schema_errors(&doc, "Invoice", &value),
            Vec::<String>::new(),
            "{value}"
        );
    }
}

#[test]
fn wrong_values_do_not_validate() {
    let doc = doc();
    assert!(!schema_errors(&doc, "Customer", &json!({"kind": "robot"})).is_empty());
    assert!(!schema_errors(
        &doc,
        "Invoice",
        &json!({"number": -1, "status": "draft", "note": null, "paid_at": null})
    )
    .is_empty());
    assert!(!schema_errors(
        &doc,
        "Invoice",
        &json!({"number": 1, "status": "lost", "note": null, "paid_at": null})
    )
    .is_empty());
}

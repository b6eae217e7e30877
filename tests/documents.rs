//! Whole-document snapshots (JSON and YAML). Each document is also checked for dangling
//! `$ref`s and saved for the OpenAPI 3.1 validator that `.ci/run` runs.

use hookspec::utoipa::openapi::security::{
    ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme,
};
use hookspec::utoipa::openapi::OpenApi;
use hookspec::{
    webhooks, whdelete, whead, whget, whoptions, whpatch, whpost, whput, whroute, whtrace,
    OpenApiBuilder, WebhookGateway,
};
use hookspec_tests::checked;
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Payment {
    is_paid: bool,
    amount: f64,
    paid_at: chrono::DateTime<chrono::Utc>,
}

/// Snapshots a document as JSON and as YAML after the common checks.
fn snapshot(name: &str, doc: &OpenApi) {
    let json = checked(name, doc);
    insta::assert_snapshot!(format!("{name}.json"), json);
    insta::assert_snapshot!(format!("{name}.yaml"), doc.to_yaml().expect("YAML"));
}

mod verbs {
    use super::*;

    /// A payment was recorded.
    ///
    /// Sent once per payment, after the transaction commits.
    #[whpost("payment.created", tags = ["payments"])]
    pub async fn payment_created(data: Payment) {}

    #[whget("payment.ping")]
    pub async fn ping() {}

    #[whput("payment.replaced")]
    pub async fn payment_replaced(data: Payment) {}

    #[whpatch("payment.patched")]
    pub async fn payment_patched(data: axum_like::Json<Payment>) {}

    #[whdelete("payment.deleted")]
    pub async fn payment_deleted() {}

    #[whead("payment.head")]
    pub async fn payment_head() {}

    #[whoptions("payment.options")]
    pub async fn payment_options() {}

    #[whtrace("payment.trace")]
    pub async fn payment_trace() {}

    #[whroute("payment-probe", methods = [GET, HEAD])]
    pub async fn probe() {}

    /// Stand-in for `axum::Json`: the macros match the last path segment.
    pub mod axum_like {
        pub struct Json<T>(pub T);
    }
}

#[test]
fn every_verb_and_whroute() {
    use verbs::*;
    let doc = OpenApiBuilder::new("Payments", "1.0.0")
        .webhook(WebhookGateway::new(payment_created))
        .webhook(WebhookGateway::new(ping))
        .webhook(WebhookGateway::new(payment_replaced))
        .webhook(WebhookGateway::new(payment_patched))
        .webhook(WebhookGateway::new(payment_deleted))
        .webhook(WebhookGateway::new(payment_head))
        .webhook(WebhookGateway::new(payment_options))
        .webhook(WebhookGateway::new(payment_trace))
        .webhook(WebhookGateway::new(probe))
        .build()
        .unwrap();
    snapshot("every_verb", &doc);
}

mod group {
    use super::*;

    /// Class-based grouping, like Esmerald's APIView.
    pub struct PaymentWebhooks;

    #[webhooks(tags = ["payments"])]
    impl PaymentWebhooks {
        #[whpost("new-event")]
        pub async fn new_event(&self, data: Payment) {}

        /// Payments, in bulk.
        #[whpost("payments", deprecated)]
        pub async fn new_payment(data: Vec<Payment>) {}
    }
}

#[test]
fn a_group() {
    let doc = OpenApiBuilder::new("Payments", "1.0.0")
        .webhook(WebhookGateway::new(group::PaymentWebhooks))
        .build()
        .unwrap();
    snapshot("group", &doc);
}

#[test]
fn a_gateway_overrides_group_options() {
    let api_key = SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key")));
    let doc = OpenApiBuilder::new("Payments", "1.0.0")
        .security_scheme("api_key", api_key)
        .webhook(
            WebhookGateway::new(group::PaymentWebhooks)
                .tags(["billing"])
                .deprecated(true)
                .security(SecurityRequirement::new("api_key", Vec::<String>::new())),
        )
        .build()
        .unwrap();
    snapshot("gateway_overrides_group", &doc);
}

#[test]
fn group_members_have_typed_handles() {
    use hookspec::Webhook;
    assert_eq!(group::PaymentWebhooksNewEvent::NAME, "new-event");
    assert_eq!(
        <group::PaymentWebhooksNewPayment as Webhook>::METHODS,
        &[hookspec::Method::Post]
    );
    fn payload_of<W: Webhook<Payload = Vec<Payment>>>() {}
    payload_of::<group::PaymentWebhooksNewPayment>();
}

#[test]
fn free_functions_have_typed_handles() {
    use hookspec::Webhook;
    assert_eq!(verbs::payment_created::NAME, "payment.created");
    assert_eq!(
        verbs::probe::METHODS,
        &[hookspec::Method::Get, hookspec::Method::Head]
    );
    fn payload_of<W: Webhook<Payload = Payment>>() {}
    payload_of::<verbs::payment_created>();
    payload_of::<verbs::payment_patched>();
}

#[allow(dead_code)]
mod payloads {
    use super::*;

    #[derive(Serialize, utoipa::ToSchema)]
    pub struct Address {
        pub city: String,
        pub country: Country,
    }

    #[derive(Serialize, utoipa::ToSchema)]
    pub enum Country {
        Fr,
        De,
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

    /// A customer changed.
    #[whpost("customer.updated")]
    pub async fn customer_updated(data: Customer) {}

    /// A schemars payload beside the utoipa ones.
    #[derive(Serialize, schemars::JsonSchema)]
    pub struct Invoice {
        pub number: u32,
        pub lines: Vec<InvoiceLine>,
        pub status: InvoiceStatus,
        pub note: Option<String>,
    }

    #[derive(Serialize, schemars::JsonSchema)]
    pub struct InvoiceLine {
        pub label: String,
        pub cents: i64,
    }

    #[derive(Serialize, schemars::JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum InvoiceStatus {
        Draft,
        Sent,
        Paid { at: String },
    }

    #[whpost("invoice.sent", content_type = "application/json; charset=utf-8")]
    pub async fn invoice_sent(data: Invoice) {}
}

#[test]
fn nested_and_enum_payloads() {
    let doc = OpenApiBuilder::new("Customers", "1.0.0")
        .webhook(WebhookGateway::new(payloads::customer_updated))
        .build()
        .unwrap();
    snapshot("nested_and_enum", &doc);
}

#[test]
fn to_schema_and_json_schema_side_by_side() {
    let doc = OpenApiBuilder::new("Billing", "1.0.0")
        .webhook(WebhookGateway::new(payloads::customer_updated))
        .webhook(WebhookGateway::new(payloads::invoice_sent))
        .build()
        .unwrap();
    snapshot("utoipa_and_schemars", &doc);
}

mod options {
    use super::*;

    #[derive(Serialize, utoipa::ToSchema)]
    pub struct Ack {
        pub received: bool,
    }

    #[allow(dead_code)]
    #[derive(serde::Deserialize, utoipa::IntoParams)]
    pub struct Since {
        /// Only changes after this cursor.
        pub cursor: u64,
    }

    #[whpost(
        "payment.refunded",
        summary = "Refund",
        description = "A refund was issued.",
        operation_id = "refund_issued",
        tags = ["payments", "refunds"],
        status_code = 204,
        response_description = "Refund noted.",
        responses(
            (status = 410, description = "Gone: the subscription is removed."),
            (status = 429, description = "Slow down.", headers(("retry-after" = u32, description = "Seconds to wait."))),
        ),
        headers(
            ("webhook-id", description = "Stable across retries."),
            ("webhook-timestamp" = i64, description = "Seconds since the epoch."),
            ("x-trace", required = false),
        ),
        security(("api_key" = [])),
        example = r#"{"is_paid": true, "amount": 12.5, "paid_at": "2026-11-26T10:00:00Z"}"#
    )]
    pub async fn refund(data: Payment) {}

    #[whpost("payment.acknowledged", example = Ack { received: true })]
    pub async fn acknowledged(data: Ack) -> Ack {
        Ack { received: true }
    }

    #[whget("changes.available")]
    pub async fn changes(query: Query<Since>) {}

    #[whpost("hidden", include_in_schema = false)]
    pub async fn hidden(data: Payment) {}

    pub struct Query<T>(pub T);
}

#[test]
fn every_option() {
    let api_key = SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key")));
    let doc = OpenApiBuilder::new("Options", "1.0.0")
        .security_scheme("api_key", api_key)
        .webhook(WebhookGateway::new(options::refund))
        .webhook(WebhookGateway::new(options::acknowledged))
        .webhook(WebhookGateway::new(options::changes))
        .webhook(WebhookGateway::new(options::hidden))
        .build()
        .unwrap();
    let hooks = doc.webhooks.as_ref().unwrap();
    assert!(
        !hooks.paths.contains_key("hidden"),
        "include_in_schema = false is left out"
    );
    snapshot("every_option", &doc);
}

mod merged {
    use super::*;

    #[derive(Serialize, serde::Deserialize, utoipa::ToSchema)]
    pub struct CreatePayment {
        pub amount: f64,
    }

    #[utoipa::path(post, path = "/create", request_body = CreatePayment, responses((status = 201, description = "Created", body = Payment)))]
    #[allow(dead_code)]
    pub async fn create_payment() {}

    #[derive(utoipa::OpenApi)]
    #[openapi(info(title = "Payments", version = "1.0.0"), paths(create_payment))]
    pub struct ApiDoc;

    #[whpost("new-event")]
    pub async fn new_event(data: Payment) {}
}

#[test]
fn merge_into_a_derived_utoipa_document() {
    use utoipa::OpenApi as _;
    let doc = OpenApiBuilder::from_openapi(merged::ApiDoc::openapi())
        .webhook(WebhookGateway::new(merged::new_event))
        .build()
        .unwrap();
    let components = doc.components.as_ref().unwrap();
    assert!(
        components.schemas.contains_key("Payment")
            && components.schemas.contains_key("CreatePayment")
    );
    snapshot("merged_into_derived", &doc);
}

#[test]
fn merging_two_documents_keeps_webhooks() {
    let first = OpenApiBuilder::new("A", "1")
        .webhook(WebhookGateway::new(verbs::payment_created))
        .build()
        .unwrap();
    let second = OpenApiBuilder::new("B", "1")
        .webhook(WebhookGateway::new(group::PaymentWebhooks))
        .build()
        .unwrap();
    let mut merged = first.clone();
    hookspec::merge(&mut merged, second.clone()).unwrap();
    let names: Vec<&String> = merged.webhooks.as_ref().unwrap().paths.keys().collect();
    assert_eq!(names, ["new-event", "payment.created", "payments"]);
    // utoipa's own merge loses them: the reason `hookspec::merge` exists.
    let mut lossy = first;
    lossy.merge(second);
    assert_eq!(lossy.webhooks.unwrap().paths.len(), 1);
    checked("merged_two", &merged);
}

#[test]
fn signed_webhooks_document_the_standard_headers() {
    let doc = OpenApiBuilder::new("Signed", "1.0.0")
        .signed_webhooks()
        .webhook(WebhookGateway::new(verbs::payment_created))
        .webhook(WebhookGateway::new(options::refund))
        .security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        )
        .build()
        .unwrap();
    let value = serde_json::to_value(&doc).unwrap();
    for hook in ["payment.created", "payment.refunded"] {
        let names: Vec<&str> = value["webhooks"][hook]["post"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for header in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            assert_eq!(
                names.iter().filter(|n| **n == header).count(),
                1,
                "{hook}: {header} once in {names:?}"
            );
        }
    }
    snapshot("signed_webhooks", &doc);
}

mod enveloped {
    use super::*;

    /// A payment, in a Standard Webhooks envelope.
    #[whpost(
        "payment.enveloped",
        envelope,
        example = r#"{"is_paid": true, "amount": 1.5, "paid_at": "2026-01-01T00:00:00Z"}"#
    )]
    pub async fn payment_enveloped(data: Payment) {}

    #[whpost("payment.bare")]
    pub async fn payment_bare(data: Payment) {}

    #[whpost("payment.gateway")]
    pub async fn payment_gateway(data: Payment) {}

    pub struct Wrapped;

    #[webhooks(envelope)]
    impl Wrapped {
        #[whpost("payments.enveloped")]
        pub async fn payments(data: Vec<Payment>) {}
    }
}

#[test]
fn envelopes_per_webhook_group_and_gateway() {
    use enveloped::*;
    let doc = OpenApiBuilder::new("Payments", "1.0.0")
        .webhook(WebhookGateway::new(payment_enveloped))
        .webhook(WebhookGateway::new(Wrapped))
        .webhook(WebhookGateway::new(payment_gateway).envelope(true))
        .webhook(WebhookGateway::new(payment_bare))
        .build()
        .unwrap();
    let json = checked("enveloped", &doc);
    insta::assert_snapshot!("enveloped.json", json);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let body = |name: &str| {
        value["webhooks"][name]["post"]["requestBody"]["content"]["application/json"].clone()
    };
    for name in ["payment.enveloped", "payments.enveloped", "payment.gateway"] {
        let schema = &body(name)["schema"];
        assert_eq!(
            schema["required"],
            serde_json::json!(["type", "timestamp", "data"]),
            "{name}"
        );
        assert_eq!(
            schema["properties"]["type"]["enum"],
            serde_json::json!([name]),
            "{name}"
        );
        assert_eq!(
            schema["properties"]["timestamp"]["format"], "date-time",
            "{name}"
        );
    }
    assert_eq!(
        body("payment.bare")["schema"]["$ref"],
        "#/components/schemas/Payment"
    );
    assert_eq!(
        body("payment.enveloped")["example"]["type"],
        "payment.enveloped"
    );
    assert_eq!(body("payment.enveloped")["example"]["data"]["amount"], 1.5);
    let example = body("payment.enveloped")["example"].clone();
    assert_eq!(
        hookspec_tests::request_body_errors(&doc, "payment.enveloped", &example),
        Vec::<String>::new()
    );
}

#[test]
fn a_renamed_enveloped_webhook_documents_the_type_it_is_sent_with() {
    // Delivery sends the declared name; the gateway's name is the document's key only.
    let doc = OpenApiBuilder::new("Payments", "1.0.0")
        .webhook(WebhookGateway::new(enveloped::payment_enveloped).name("payment.renamed"))
        .build()
        .unwrap();
    let value = serde_json::to_value(&doc).unwrap();
    let schema = &value["webhooks"]["payment.renamed"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    assert_eq!(
        schema["properties"]["type"]["enum"],
        serde_json::json!(["payment.enveloped"])
    );
}

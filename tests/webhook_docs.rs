//! The webhook reference page (`/webhook-docs`) over real HTTP, and the example generator
//! against the schemas it illustrates.

use std::collections::HashMap;

use axum::http::StatusCode;
use hookspec::{whpost, App, AppError, Endpoints, OpenApiBuilder, WebhookGateway};
use hookspec_tests::schema_errors;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use serde::Serialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Payment {
    /// The amount, in <b>euros</b>.
    amount: f64,
    paid_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Address {
    city: String,
    country: Country,
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
        address: Option<Address>,
    },
    Company {
        addresses: Vec<Address>,
        labels: HashMap<String, u32>,
    },
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Invoice {
    number: u32,
    lines: Vec<InvoiceLine>,
    status: InvoiceStatus,
    note: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct InvoiceLine {
    label: String,
    cents: i64,
}

#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Draft,
    Paid { at: String },
}

#[whpost(
    "payment.created",
    tags = ["payments"],
    description = "Sent when <script>alert(1)</script> would have run."
)]
pub async fn payment_created(data: Payment) {}

#[whpost(
    "payment.refunded",
    tags = ["refunds", "payments"],
    example = r#"{"amount": 12.5, "paid_at": "2026-11-26T10:00:00Z"}"#
)]
pub async fn payment_refunded(data: Payment) {}

#[whpost("customer.updated", tags = ["<i>customers</i>"])]
pub async fn customer_updated(data: Customer) {}

#[whpost("invoice.sent")]
pub async fn invoice_sent(data: Invoice) {}

fn app() -> App {
    App::new("Payments & co", "1.0.0")
        .webhook(WebhookGateway::new(payment_created))
        .webhook(WebhookGateway::new(payment_refunded))
        .webhook(WebhookGateway::new(customer_updated))
        .webhook(WebhookGateway::new(invoice_sent))
        .signed_webhooks()
}

async fn start(app: App) -> String {
    let bound = app
        .bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port");
    let base = format!("http://{}", bound.local_addr().unwrap());
    tokio::spawn(bound.run_until(std::future::pending()));
    base
}

/// The `<section>` of the tag group titled `title` (escaped as the page writes it).
fn group<'a>(page: &'a str, title: &str) -> &'a str {
    let heading = format!("<h2>{title}</h2>");
    let start = page
        .find(&heading)
        .unwrap_or_else(|| panic!("no group {title}: {page}"));
    let end = page[start..]
        .find("</section>")
        .map_or(page.len(), |e| start + e);
    &page[start..end]
}

#[tokio::test]
async fn the_page_groups_webhooks_by_tag_with_examples_and_verification() {
    let base = start(app()).await;
    let response = reqwest::get(format!("{base}/webhook-docs")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("style-src 'self'"), "{csp}");
    let page = response.text().await.unwrap();

    // Nothing the strict policy would block: no script, no inline style, nothing remote.
    assert!(!page.contains("<script"), "{page}");
    assert!(
        !page.contains("<style") && !page.contains(" style="),
        "{page}"
    );
    assert!(page.contains("<link rel=\"stylesheet\" href=\"/webhook-docs/style.css\">"));
    for remote in ["src=\"http", "href=\"http://", "@import"] {
        assert!(!page.contains(remote), "{remote} in {page}");
    }

    // Groups: the tags in order of appearance (sorted webhook names), then the untagged.
    let positions: Vec<usize> = [
        "<h2>&lt;i&gt;customers&lt;/i&gt;</h2>",
        "<h2>payments</h2>",
        "<h2>refunds</h2>",
        "<h2>Other webhooks</h2>",
    ]
    .iter()
    .map(|h| {
        page.find(h)
            .unwrap_or_else(|| panic!("{h} missing: {page}"))
    })
    .collect();
    assert!(positions.is_sorted(), "{positions:?}");
    let payments = group(&page, "payments");
    assert!(payments.contains("<code class=\"event\">payment.created</code>"));
    assert!(payments.contains("<code class=\"event\">payment.refunded</code>"));
    let refunds = group(&page, "refunds");
    assert!(refunds.contains("payment.refunded") && !refunds.contains("payment.created"));
    assert!(group(&page, "Other webhooks").contains("invoice.sent"));

    // HTML in names and descriptions shows as text.
    assert!(page.contains("<p>Sent when &lt;script&gt;alert(1)&lt;/script&gt; would have run.</p>"));
    assert!(page.contains("The amount, in &lt;b&gt;euros&lt;/b&gt;."));
    assert!(page.contains("<title>Payments &amp; co webhooks</title>"));

    // The declared example, and one generated from the schema.
    assert!(refunds.contains("<p class=\"example-label\">Example</p>"));
    assert!(refunds.contains("&quot;amount&quot;: 12.5"));
    let created = &payments[..payments.find("payment.refunded").unwrap()];
    assert!(created.contains("Example, generated from the schema"));
    assert!(created.contains("&quot;paid_at&quot;: &quot;2026-01-01T00:00:00Z&quot;"));

    // Signed: each webhook says how to verify, with the payload's own type.
    assert_eq!(page.matches("<details class=\"verify\">").count(), 5);
    assert!(created.contains("Verified&lt;Payment&gt;"));
    assert!(page.contains("new Webhook(&quot;whsec_…&quot;).verify(body, headers)"));

    let css = reqwest::get(format!("{base}/webhook-docs/style.css"))
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains("article.webhook"));

    // Answered from memory, like the documents: 304 for the same ETag.
    let again = reqwest::Client::new()
        .get(format!("{base}/webhook-docs"))
        .header(IF_NONE_MATCH, headers[ETAG].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn an_unsigned_document_shows_no_verification() {
    let app = App::new("Payments", "1.0.0").webhook(WebhookGateway::new(payment_created));
    let base = start(app).await;
    let page = reqwest::get(format!("{base}/webhook-docs"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<h2>payments</h2>"), "{page}");
    assert!(!page.contains("Verify the signature"), "{page}");
}

#[test]
fn generated_examples_validate_against_their_schemas() {
    let doc = OpenApiBuilder::new("Examples", "1.0.0")
        .webhook(WebhookGateway::new(payment_created))
        .webhook(WebhookGateway::new(customer_updated))
        .webhook(WebhookGateway::new(invoice_sent))
        .build()
        .unwrap();
    let json = serde_json::to_value(&doc).unwrap();
    for name in ["Payment", "Customer", "Address", "Invoice", "InvoiceStatus"] {
        let schema = serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
        let example = hookspec::example::from_schema(&schema, &json);
        assert!(
            example.is_object() || example.is_string(),
            "{name}: {example}"
        );
        let errors = schema_errors(&doc, name, &example);
        assert!(
            errors.is_empty(),
            "{name}: {example} is invalid: {errors:?}"
        );
    }
    // Optional and nested fields are filled in, so the example shows the whole shape.
    let customer = hookspec::example::from_schema(
        &serde_json::json!({"$ref": "#/components/schemas/Customer"}),
        &json,
    );
    assert_eq!(customer["kind"], "person", "{customer}");
    assert_eq!(customer["address"]["country"], "Fr", "{customer}");
}

#[tokio::test]
async fn the_page_moves_switches_off_and_refuses_clashes() {
    let moved = Endpoints::default().webhook_docs(Some("/events"));
    let base = start(app().endpoints(moved)).await;
    for (path, status) in [
        ("/events", StatusCode::OK),
        ("/events/style.css", StatusCode::OK),
        ("/webhook-docs", StatusCode::NOT_FOUND),
        ("/webhook-docs/style.css", StatusCode::NOT_FOUND),
    ] {
        let got = reqwest::get(format!("{base}{path}"))
            .await
            .unwrap()
            .status();
        assert_eq!(got, status, "{path}");
    }
    let page = reqwest::get(format!("{base}/events")).await.unwrap();
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("href=\"/events/style.css\""));

    // Under Swagger UI's path the page's own routes win; Swagger UI keeps the rest.
    let nested = Endpoints::default().webhook_docs(Some("/docs/webhooks"));
    let base = start(app().endpoints(nested)).await;
    let page = reqwest::get(format!("{base}/docs/webhooks")).await.unwrap();
    assert!(page.text().await.unwrap().contains("<h2>payments</h2>"));
    let swagger = reqwest::get(format!("{base}/docs/")).await.unwrap();
    assert!(swagger.text().await.unwrap().contains("swagger-ui"));
    // On Swagger UI's own page it is a route conflict, reported, not a panic.
    let clash = Endpoints::default().webhook_docs(Some("/docs/"));
    let err = app().endpoints(clash).into_router().err().unwrap();
    assert!(matches!(err, AppError::RouteConflict(_)), "{err}");

    let off = Endpoints::default().webhook_docs(None);
    let base = start(app().endpoints(off)).await;
    let gone = reqwest::get(format!("{base}/webhook-docs")).await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    let same = Endpoints::default().webhook_docs(Some("/openapi.json"));
    let err = app().endpoints(same).into_router().err().unwrap();
    assert!(
        err.to_string()
            .contains("the json and webhook docs endpoints both use `/openapi.json`"),
        "{err}"
    );
    let relative = Endpoints::default().webhook_docs(Some("webhook-docs"));
    let err = app().endpoints(relative).into_router().err().unwrap();
    assert!(
        matches!(&err, AppError::Config(m) if m.contains("`webhook-docs`")),
        "{err}"
    );
    let documented = app().routes(OpenApiRouter::new().routes(utoipa_axum::routes!(mine)));
    let err = documented.into_router().err().unwrap();
    assert!(
        matches!(&err, AppError::RouteConflict(m) if m.contains("`/webhook-docs`")),
        "{err}"
    );
}

/// A documented route on the page's default path.
#[utoipa::path(get, path = "/webhook-docs", responses((status = 200, description = "Mine")))]
async fn mine() -> &'static str {
    "mine"
}

#[test]
fn the_document_is_unchanged_by_the_page() {
    // The page is rendered from the document; it adds nothing to it.
    let doc: Value = serde_json::to_value(app().openapi().unwrap()).unwrap();
    assert!(doc["paths"].get("/webhook-docs").is_none());
    hookspec_tests::checked("webhook_docs", &app().openapi().unwrap());
}

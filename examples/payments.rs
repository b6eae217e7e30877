//! The two apps of Esmerald's webhook documentation, in hookspec.
//!
//! ```text
//! cargo run --example payments                     # serves http://127.0.0.1:8000/docs
//! cargo run --example payments -- --class-based    # the #[webhooks] group app
//! cargo run --example payments -- --port 9000
//! cargo run --example payments -- --print-spec [json|yaml]    # print the document and exit
//! ```

use axum::http::StatusCode;
use axum::Json;
use hookspec::{webhooks, whpost, App, WebhookGateway};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A payment, as in the Esmerald example.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    is_paid: bool,
    amount: f64,
    paid_at: chrono::DateTime<chrono::Utc>,
}

#[whpost("new-event")]
async fn new_event(data: Payment) {}

/// The class-based declaration: Esmerald's `APIView` subclass.
pub struct PaymentWebhook;

#[webhooks]
impl PaymentWebhook {
    #[whpost("new-event")]
    async fn new_event(&self, data: Payment) {}

    #[whpost("payments")]
    async fn new_payment(&self, data: Payment) {}
}

/// Create Payment
#[utoipa::path(post, path = "/create", request_body = Payment, responses((status = 201, description = "Created")))]
async fn create_payment(Json(_payment): Json<Payment>) -> StatusCode {
    StatusCode::CREATED
}

fn app(class_based: bool) -> App {
    let webhooks = if class_based {
        WebhookGateway::new(PaymentWebhook)
    } else {
        WebhookGateway::new(new_event)
    };
    App::new("Payments", "1.0.0")
        .routes(OpenApiRouter::new().routes(routes!(create_payment)))
        .webhook(webhooks)
}

struct Args {
    class_based: bool,
    port: u16,
    print_spec: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        class_based: false,
        port: 8000,
        print_spec: None,
    };
    let mut it = std::env::args().skip(1).peekable();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--class-based" => args.class_based = true,
            "--port" => {
                let port = it.next().ok_or("--port needs a number")?;
                args.port = port
                    .parse()
                    .map_err(|_| format!("--port needs a number, not `{port}`"))?;
            }
            "--print-spec" => {
                let format = it
                    .next_if(|f| !f.starts_with("--"))
                    .unwrap_or_else(|| "json".into());
                if format != "json" && format != "yaml" {
                    return Err(format!(
                        "--print-spec takes `json` or `yaml`, not `{format}`"
                    ));
                }
                args.print_spec = Some(format);
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}`; see the header of examples/payments.rs"
                ))
            }
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let app = app(args.class_based);
    if let Some(format) = args.print_spec {
        let doc = app.openapi()?;
        match format.as_str() {
            "yaml" => print!("{}", doc.to_yaml()?),
            _ => println!("{}", doc.to_pretty_json()?),
        }
        return Ok(());
    }
    let bound = app.bind(&format!("127.0.0.1:{}", args.port)).await?;
    println!(
        "Payments API on http://{}/ : open http://{0}/docs",
        bound.local_addr()?
    );
    bound.run().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn documents_are_valid_and_snapshotted() {
        for (name, class_based) in [("payments", false), ("payments_class_based", true)] {
            let doc = super::app(class_based).openapi().unwrap();
            let json = hookspec_tests::checked(name, &doc);
            insta::assert_snapshot!(name, json);
        }
    }

    /// What Esmerald documents for the same two apps, minus its meaningless 422, with a `2XX`
    /// acknowledgement instead of its `201`, and the function name as operationId.
    #[test]
    fn webhooks_match_what_esmerald_documents() {
        let operation = |summary: &str, operation_id: &str| {
            json!({"post": {
                "summary": summary,
                "operationId": operation_id,
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Payment"}}},
                    "required": true
                },
                "responses": {"2XX": {"description": "Any 2XX response acknowledges receipt."}}
            }})
        };
        let webhooks = |class_based| {
            serde_json::to_value(super::app(class_based).openapi().unwrap()).unwrap()["webhooks"]
                .clone()
        };
        assert_eq!(
            webhooks(false),
            json!({"new-event": operation("New Event", "new_event")})
        );
        assert_eq!(
            webhooks(true),
            json!({"new-event": operation("New Event", "new_event"), "payments": operation("New Payment", "new_payment")})
        );
    }
}

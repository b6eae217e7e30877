//! The two apps of Esmerald's webhook documentation, in hookspec.
//!
//! ```text
//! cargo run --example payments                         # the plain app
//! cargo run --example payments -- --class-based        # the #[webhooks] group app
//! cargo run --example payments -- --print-spec [json|yaml]
//! ```

use hookspec::{webhooks, whpost, OpenApiBuilder, WebhookGateway};
use serde::{Deserialize, Serialize};

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

/// The ordinary route both apps have.
#[utoipa::path(post, path = "/create", request_body = Payment, responses((status = 201, description = "Created")))]
async fn create_payment() {}

#[derive(utoipa::OpenApi)]
#[openapi(info(title = "Payments", version = "1.0.0"), paths(create_payment))]
struct ApiDoc;

fn document(class_based: bool) -> Result<utoipa::openapi::OpenApi, hookspec::Error> {
    use utoipa::OpenApi as _;
    let gateway = if class_based {
        WebhookGateway::new(PaymentWebhook)
    } else {
        WebhookGateway::new(new_event)
    };
    OpenApiBuilder::from_openapi(ApiDoc::openapi())
        .webhook(gateway)
        .build()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let class_based = args.iter().any(|a| a == "--class-based");
    let doc = document(class_based)?;
    match args.iter().position(|a| a == "--print-spec") {
        Some(i) => match args.get(i + 1).map(String::as_str) {
            None | Some("json") | Some("--class-based") => println!("{}", doc.to_pretty_json()?),
            Some("yaml") => print!("{}", doc.to_yaml()?),
            Some(other) => {
                return Err(format!("--print-spec takes `json` or `yaml`, not `{other}`").into())
            }
        },
        None => println!("{}", doc.to_pretty_json()?),
    }
    Ok(())
}

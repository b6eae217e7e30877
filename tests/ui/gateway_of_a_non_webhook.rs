use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

pub struct NotAWebhook;

pub fn build() {
    let _ = WebhookGateway::new(NotAWebhook);
}

fn main() {}

use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whpost("new-event", content_type = "json")]
pub async fn new_event(data: Payment) {}

fn main() {}

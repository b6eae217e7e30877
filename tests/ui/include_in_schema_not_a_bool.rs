use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whpost("new-event", include_in_schema = 0)]
pub async fn new_event(data: Payment) {}

fn main() {}

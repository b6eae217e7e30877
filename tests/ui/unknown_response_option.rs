use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whpost("new-event", responses((status = 410, body_type = Payment)))]
pub async fn new_event(data: Payment) {}

fn main() {}

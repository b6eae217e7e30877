use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whpost("")]
pub async fn new_event(data: Payment) {}

fn main() {}

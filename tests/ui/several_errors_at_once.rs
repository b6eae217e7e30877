use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whpost("", sumary = "x", status_code = 700)]
pub async fn new_event(data: Payment) {}

fn main() {}

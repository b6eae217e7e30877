use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

pub struct NotASchema;

#[whpost("new-event", headers(("x-sig" = NotASchema)))]
pub async fn new_event(data: Payment) {}

fn main() {}

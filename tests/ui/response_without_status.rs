use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whpost("new-event", responses((description = "Gone")))]
pub async fn new_event(data: Payment) {}

fn main() {}

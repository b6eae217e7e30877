use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whtrace("trace")]
pub async fn trace(data: Payment) {}

fn main() {}

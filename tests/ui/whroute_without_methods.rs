use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whroute("probe")]
pub async fn probe() {}

fn main() {}

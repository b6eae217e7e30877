use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whroute("probe", methods = [GET, TRACE])]
pub async fn probe(data: Payment) {}

fn main() {}

use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whroute("probe", methods = [GET, HEAD, GET])]
pub async fn probe() {}

fn main() {}

use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

pub struct G;

#[webhooks]
impl G {
    #[whpost("a", sumary = "x")]
    pub async fn a(data: Payment) {}

    #[whtrace("b")]
    pub async fn b(data: Payment) {}
}

fn main() {}

use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

pub struct G;

#[webhooks]
impl G {
    #[whpost("a")]
    #[whput("a")]
    pub async fn a(data: Payment) {}
}

fn main() {}

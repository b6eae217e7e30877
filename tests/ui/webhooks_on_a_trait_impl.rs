use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

pub struct G;

#[webhooks]
impl Clone for G {
    fn clone(&self) -> Self {
        G
    }
}

fn main() {}

use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

pub struct G;

#[webhooks]
impl G {
    pub fn helper(&self) {}
}

fn main() {}

use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

pub struct S;

impl S {
    #[whpost("new-event")]
    pub async fn new_event(&self, data: Payment) {}
}

fn main() {}

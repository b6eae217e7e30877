use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whget("changes")]
pub async fn changes(query: Query<Payment>) {}

pub struct Query<T>(pub T);

fn main() {}

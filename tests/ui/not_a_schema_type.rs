use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

pub struct NotASchema;

#[whpost("new-event")]
pub async fn new_event(data: NotASchema) {}

fn main() {}

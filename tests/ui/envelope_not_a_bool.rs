use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whpost("new-event", envelope = 3)]
pub async fn new_event(data: Payment) {}

pub struct Group;

#[webhooks(envelope = "yes")]
impl Group {
    #[whpost("other")]
    pub async fn other(data: Payment) {}
}

fn main() {}

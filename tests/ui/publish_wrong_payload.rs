use hookspec::*;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub amount: f64,
}

#[whpost("new-event")]
pub async fn new_event(data: Payment) {}

pub async fn publish(outbox: hookspec::delivery::Outbox) {
    let _ = outbox
        .tenant("acme")
        .publish::<new_event>(&"not a payment")
        .await;
    let _ = outbox.broadcast::<new_event>(&"not a payment either").await;
}

fn main() {}

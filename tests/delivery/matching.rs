//! Which subscriptions a publish reaches, as their lists of events change: SQLite looks them
//! up in a table of the lists' elements that triggers keep (migration 7), PostgreSQL in an
//! index of the lists, and either would go stale if what writes a subscription bypassed it.

use axum::http::StatusCode;
use hookspec::delivery::{Outbox, Subscription, SubscriptionUpdate};

use super::support::{backends, Backend, Receiver, TENANT};
use super::{entity_changed, event, other_event};

/// The tenant beside [`TENANT`].
const OTHER: &str = "globex";

/// A subscription of the test, by name.
struct Sub {
    name: &'static str,
    tenant: &'static str,
    id: String,
}

/// The names of the subscriptions that message `id` was queued for.
async fn reached(outbox: &Outbox, subs: &[Sub], id: &str) -> Vec<&'static str> {
    let mut names = Vec::new();
    for sub in subs {
        let messages = outbox
            .tenant(sub.tenant)
            .recent_messages(&sub.id, 50)
            .await
            .unwrap();
        if messages.iter().any(|m| m.message_id == id) {
            names.push(sub.name);
        }
    }
    names
}

/// Publishes an `entity.changed` for [`TENANT`]; the message id.
async fn publish(outbox: &Outbox) -> String {
    outbox
        .tenant(TENANT)
        .publish::<entity_changed>(&event("Task", "create", "1", ""))
        .await
        .unwrap()
}

/// Sets subscription `sub`'s events.
async fn set_events(outbox: &Outbox, sub: &Sub, events: &[&str]) {
    let update = SubscriptionUpdate {
        events: Some(events.iter().map(|e| (*e).to_owned()).collect()),
        ..SubscriptionUpdate::default()
    };
    outbox
        .tenant(sub.tenant)
        .update_subscription(&sub.id, update)
        .await
        .unwrap();
}

/// On SQLite, that the table of events lists exactly the string elements of every
/// subscription's list: no row left behind by a change or a deletion, none missing.
async fn assert_in_sync(backend: &Backend, step: &str) {
    if backend.name != "sqlite" {
        return;
    }
    let pool = sqlx::SqlitePool::connect(&backend.url).await.unwrap();
    let listed = "SELECT DISTINCT e.value, s.owner, s.id FROM hookspec_subscriptions s, \
                  json_each(s.events) e WHERE e.type = 'text'";
    let kept = "SELECT event, owner, subscription_id FROM hookspec_subscription_events";
    for (a, b, what) in [
        (kept, listed, "rows left behind"),
        (listed, kept, "rows missing"),
    ] {
        let sql = format!("SELECT COUNT(*) FROM ({a} EXCEPT {b})");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "sqlite, {step}: {what}");
    }
    pool.close().await;
}

#[tokio::test]
async fn a_publish_reaches_the_subscriptions_listing_its_event_as_the_lists_change() {
    let receiver = Receiver::answering(StatusCode::NO_CONTENT).await;
    for backend in backends().await {
        let outbox = &backend.outbox;
        let mut subs = Vec::new();
        for (name, tenant, events) in [
            ("listing", TENANT, vec![entity_changed::NAME]),
            ("other", TENANT, vec![other_event::NAME]),
            ("every", TENANT, vec![]),
            (
                "both",
                TENANT,
                vec![other_event::NAME, entity_changed::NAME],
            ),
            ("foreign", OTHER, vec![entity_changed::NAME]),
            ("foreign every", OTHER, vec![]),
        ] {
            let created = outbox
                .tenant(tenant)
                .subscribe(Subscription::new(&receiver.url).events(events))
                .await
                .unwrap();
            subs.push(Sub {
                name,
                tenant,
                id: created.id,
            });
        }
        let name = backend.name;
        assert_in_sync(&backend, "subscribed").await;
        let first = publish(outbox).await;
        assert_eq!(
            reached(outbox, &subs, &first).await,
            ["listing", "every", "both"],
            "{name}: as subscribed"
        );

        // Each kind of list becomes another: one event to another, another to one, one to
        // every event and every event to one.
        set_events(outbox, &subs[0], &[other_event::NAME]).await;
        set_events(outbox, &subs[1], &[entity_changed::NAME]).await;
        set_events(outbox, &subs[2], &[other_event::NAME]).await;
        set_events(outbox, &subs[3], &[]).await;
        assert_in_sync(&backend, "updated").await;
        let second = publish(outbox).await;
        assert_eq!(
            reached(outbox, &subs, &second).await,
            ["other", "both"],
            "{name}: after the lists changed"
        );

        // Disabled subscriptions are skipped in both lookups, by event and to every event.
        outbox.disable(&subs[1].id).await.unwrap();
        outbox.disable(&subs[3].id).await.unwrap();
        let third = publish(outbox).await;
        assert_eq!(
            reached(outbox, &subs, &third).await,
            Vec::<&str>::new(),
            "{name}: after disabling"
        );
        outbox.enable(&subs[1].id).await.unwrap();
        outbox.enable(&subs[3].id).await.unwrap();

        // A broadcast reaches every tenant's subscriptions to the event or to every event.
        let everyone = outbox
            .broadcast::<entity_changed>(&event("Notice", "maintenance", "1", ""))
            .await
            .unwrap();
        assert_eq!(
            reached(outbox, &subs, &everyone).await,
            ["other", "both", "foreign", "foreign every"],
            "{name}: a broadcast"
        );

        let gone = subs.remove(1);
        outbox
            .tenant(gone.tenant)
            .delete_subscription(&gone.id)
            .await
            .unwrap();
        let gone = subs.remove(2);
        outbox
            .tenant(gone.tenant)
            .delete_subscription(&gone.id)
            .await
            .unwrap();
        assert_in_sync(&backend, "deleted").await;
        let last = publish(outbox).await;
        assert_eq!(
            reached(outbox, &subs, &last).await,
            Vec::<&str>::new(),
            "{name}: after the deletions"
        );
        let everyone = outbox
            .broadcast::<entity_changed>(&event("Notice", "maintenance", "2", ""))
            .await
            .unwrap();
        assert_eq!(
            reached(outbox, &subs, &everyone).await,
            ["foreign", "foreign every"],
            "{name}: a broadcast after the deletions"
        );
    }
}

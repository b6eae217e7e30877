//! Owner-scoped subscription administration, for the management API: every call names the
//! owner, and another owner's subscription is "not found".

use std::time::Duration;

use serde::Serialize;
use sqlx::Row;

use super::filter::Filter;
use super::outbox::{
    duration_ms, subscription_info, Outbox, StoredSecret, SubscriptionInfo, SUBSCRIPTION_COLUMNS,
};
use super::store::{is_sql_state, now_ms, on_pool, FOREIGN_KEY_VIOLATION};
use super::OutboxError;
use crate::signing::Secret;

/// Changes to a subscription; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct SubscriptionUpdate {
    /// A new target URL (checked against the SSRF policy).
    pub url: Option<String>,
    /// New event names (empty: every event).
    pub events: Option<Vec<String>>,
    /// A new filter; `Some(None)` removes it.
    pub filter: Option<Option<String>>,
}

/// One stored payload of a subscription, for consumers that pull (Airtable's model).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredPayload {
    /// Its position: ask for `cursor + 1` next.
    pub cursor: i64,
    /// The message id (`webhook-id`).
    pub message_id: String,
    /// The webhook name.
    pub event: String,
    /// The payload, as delivered.
    pub payload: serde_json::Value,
    /// When it was published (ms since the epoch).
    pub created_at: i64,
}

impl Outbox {
    /// The subscription `id` if `owner` owns it.
    pub async fn owned_subscription(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<SubscriptionInfo, OutboxError> {
        let info = self.subscription(id).await?;
        if info.owner != owner {
            return Err(OutboxError::NotFound(id.to_owned()));
        }
        Ok(info)
    }

    /// `owner`'s subscriptions with ids after `after`, in id order, at most `limit`.
    pub async fn subscriptions(
        &self,
        owner: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SubscriptionInfo>, OutboxError> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM hookspec_subscriptions \
             WHERE owner = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        on_pool!(&self.pool, |pool| {
            let rows = sqlx::query(&sql)
                .bind(owner)
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|row| subscription_info!(row)).collect()
        })
    }

    /// Whether `owner` already has a subscription to `url` for exactly these events.
    pub async fn has_duplicate(
        &self,
        owner: &str,
        url: &str,
        events: &[String],
    ) -> Result<bool, OutboxError> {
        let mut wanted = events.to_vec();
        wanted.sort();
        let rows: Vec<(String, String)> = on_pool!(&self.pool, |pool| {
            sqlx::query_as("SELECT url, events FROM hookspec_subscriptions WHERE owner = $1")
                .bind(owner)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().any(|(u, e)| {
            let mut e: Vec<String> = serde_json::from_str(&e).unwrap_or_default();
            e.sort();
            same_url(&u, url) && e == wanted
        }))
    }

    /// Applies `update` to `owner`'s subscription `id`.
    pub async fn update_subscription(
        &self,
        owner: &str,
        id: &str,
        update: SubscriptionUpdate,
    ) -> Result<SubscriptionInfo, OutboxError> {
        let current = self.owned_subscription(owner, id).await?;
        let url = match update.url {
            Some(url) => self
                .ssrf
                .check_url(&url)
                .await
                .map_err(OutboxError::InvalidSubscription)?
                .to_string(),
            None => current.url,
        };
        let filter = update.filter.unwrap_or(current.filter);
        if let Some(filter) = &filter {
            Filter::parse(filter)?;
        }
        let events = update.events.unwrap_or(current.events);
        super::outbox::check_event_names(&events)?;
        let events = serde_json::to_string(&events)?;
        on_pool!(&self.pool, |pool| {
            sqlx::query("UPDATE hookspec_subscriptions SET url = $1, events = $2, filter = $3, updated_at = $4 WHERE id = $5")
                .bind(&url)
                .bind(&events)
                .bind(&filter)
                .bind(now_ms())
                .bind(id)
                .execute(pool)
                .await?;
            Ok::<(), OutboxError>(())
        })?;
        self.subscription(id).await
    }

    /// Deletes `owner`'s subscription `id`, with its deliveries and their attempts.
    pub async fn delete_subscription(&self, owner: &str, id: &str) -> Result<(), OutboxError> {
        self.owned_subscription(owner, id).await?;
        self.pool.delete_subscription(id).await
    }

    /// A new secret for `owner`'s subscription `id`; the current ones keep signing for `grace`,
    /// so receivers can switch without losing a delivery.
    pub async fn rotate_secret(
        &self,
        owner: &str,
        id: &str,
        grace: Duration,
    ) -> Result<Secret, OutboxError> {
        self.owned_subscription(owner, id).await?;
        let now = now_ms();
        let fresh = Secret::generate();
        on_pool!(&self.pool, |pool| {
            let mut tx = pool.begin().await?;
            let stored: String =
                sqlx::query_scalar("SELECT secrets FROM hookspec_subscriptions WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            let mut secrets: Vec<StoredSecret> = serde_json::from_str(&stored)?;
            secrets.retain(|s| s.expires_at.is_none_or(|at| at > now));
            for secret in &mut secrets {
                secret.expires_at = Some(
                    secret
                        .expires_at
                        .unwrap_or(i64::MAX)
                        .min(now + duration_ms(grace)),
                );
            }
            secrets.insert(
                0,
                StoredSecret {
                    secret: fresh.expose(),
                    expires_at: None,
                },
            );
            sqlx::query(
                "UPDATE hookspec_subscriptions SET secrets = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(serde_json::to_string(&secrets)?)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<(), OutboxError>(())
        })?;
        Ok(fresh)
    }

    /// Extends `owner`'s subscription `id` to expire `lease` from now (Airtable's refresh).
    pub async fn refresh(
        &self,
        owner: &str,
        id: &str,
        lease: Duration,
    ) -> Result<SubscriptionInfo, OutboxError> {
        self.owned_subscription(owner, id).await?;
        let now = now_ms();
        on_pool!(&self.pool, |pool| {
            sqlx::query(
                "UPDATE hookspec_subscriptions SET expires_at = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(now.saturating_add(duration_ms(lease)))
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?;
            Ok::<(), OutboxError>(())
        })?;
        self.subscription(id).await
    }

    /// The payloads queued for `owner`'s subscription `id`, from `cursor` on, at most `limit`.
    pub async fn payloads(
        &self,
        owner: &str,
        id: &str,
        cursor: i64,
        limit: u32,
    ) -> Result<Vec<StoredPayload>, OutboxError> {
        self.owned_subscription(owner, id).await?;
        // Deliveries not yet delivered, and those delivered (deleted, each recorded by its
        // one 2xx attempt): two disjoint lists, each cut to a page before they are merged
        // (see migration 3).
        let sql = "SELECT d.id, m.id AS message_id, m.event, m.payload, m.created_at FROM ( \
                     SELECT * FROM (SELECT id, message_id FROM hookspec_deliveries \
                       WHERE subscription_id = $1 AND id >= $2 ORDER BY id LIMIT $3) pending \
                     UNION ALL \
                     SELECT * FROM (SELECT delivery_id, message_id FROM hookspec_attempts \
                       WHERE subscription_id = $1 AND delivery_id >= $2 AND status_code BETWEEN 200 AND 299 \
                       ORDER BY delivery_id LIMIT $3) delivered \
                   ) d JOIN hookspec_messages m ON m.id = d.message_id ORDER BY d.id LIMIT $3";
        on_pool!(&self.pool, |pool| {
            let rows = sqlx::query(sql)
                .bind(id)
                .bind(cursor)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    let payload: String = row.try_get("payload")?;
                    Ok(StoredPayload {
                        cursor: row.try_get("id")?,
                        message_id: row.try_get("message_id")?,
                        event: row.try_get("event")?,
                        payload: serde_json::from_str(&payload)?,
                        created_at: row.try_get("created_at")?,
                    })
                })
                .collect()
        })
    }
}

impl Outbox {
    /// Publishes an event of `W` to `owner`'s subscription `id` alone, whatever its events
    /// and filter: the management API's test event. Returns the message id.
    pub async fn publish_to<W: crate::Webhook>(
        &self,
        owner: &str,
        id: &str,
        payload: &W::Payload,
    ) -> Result<String, OutboxError>
    where
        W::Payload: Serialize,
    {
        self.owned_subscription(owner, id).await?;
        let message = super::outbox::new_id("msg");
        let body = serde_json::to_string(payload)?;
        let method = W::METHODS.first().map_or("POST", |m| m.as_str());
        let now = now_ms();
        on_pool!(&self.pool, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO hookspec_messages (id, event, method, payload, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&message)
                .bind(W::NAME)
                .bind(method)
                .bind(&body)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO hookspec_deliveries (message_id, subscription_id, status, next_attempt_at, created_at) \
                 VALUES ($1, $2, 'pending', $3, $3)",
            )
            .bind(&message)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<(), OutboxError>(())
        })
        .map_err(|e| subscription_gone(e, id))?;
        self.published.notify_waiters();
        Ok(message)
    }

    /// Queues `message` again for `owner`'s subscription `id`, if it was ever queued for it.
    pub async fn resend(&self, owner: &str, id: &str, message: &str) -> Result<(), OutboxError> {
        self.owned_subscription(owner, id).await?;
        let now = now_ms();
        let added = on_pool!(&self.pool, |pool| {
            sqlx::query(
                "INSERT INTO hookspec_deliveries (message_id, subscription_id, status, next_attempt_at, created_at) \
                 SELECT $1, $2, 'pending', $3, $3 WHERE EXISTS ( \
                   SELECT 1 FROM hookspec_deliveries WHERE message_id = $1 AND subscription_id = $2) \
                 OR EXISTS (SELECT 1 FROM hookspec_attempts WHERE message_id = $1 AND subscription_id = $2)",
            )
            .bind(message)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(OutboxError::from)
        });
        // The message or the subscription deleted meanwhile fails the foreign key.
        let added = match added {
            Ok(added) => added,
            Err(e) if is_sql_state(&e, FOREIGN_KEY_VIOLATION) => 0,
            Err(e) => return Err(e),
        };
        if added == 0 {
            return Err(OutboxError::MessageNotFound(message.to_owned()));
        }
        self.published.notify_waiters();
        Ok(())
    }

    /// Queues again every message `owner`'s subscription `id` was given since `since` (ms
    /// since the epoch), once each; returns how many.
    pub async fn replay(&self, owner: &str, id: &str, since: i64) -> Result<u64, OutboxError> {
        // A message purged, or the subscription deleted, meanwhile fails the foreign key: the
        // next try leaves the one out, or finds the other gone.
        let mut tries = 0;
        loop {
            self.owned_subscription(owner, id).await?;
            match self.replay_once(id, since).await {
                Err(e) if is_sql_state(&e, FOREIGN_KEY_VIOLATION) && tries < 3 => tries += 1,
                done => {
                    self.published.notify_waiters();
                    return done;
                }
            }
        }
    }

    async fn replay_once(&self, id: &str, since: i64) -> Result<u64, OutboxError> {
        let now = now_ms();
        on_pool!(&self.pool, |pool| {
            Ok(sqlx::query(
                "INSERT INTO hookspec_deliveries (message_id, subscription_id, status, next_attempt_at, created_at) \
                 SELECT m.id, $1, 'pending', $2, $2 FROM hookspec_messages m \
                 WHERE m.created_at >= $3 AND (EXISTS ( \
                   SELECT 1 FROM hookspec_deliveries d WHERE d.message_id = m.id AND d.subscription_id = $1) \
                 OR EXISTS (SELECT 1 FROM hookspec_attempts a WHERE a.message_id = m.id AND a.subscription_id = $1)) \
                 ORDER BY m.created_at, m.id",
            )
            .bind(id)
            .bind(now)
            .bind(since)
            .execute(pool)
            .await?
            .rows_affected())
        })
    }
}

/// A foreign key violation from queueing a delivery for subscription `id`, deleted meanwhile,
/// as the subscription not found.
fn subscription_gone(error: OutboxError, id: &str) -> OutboxError {
    if is_sql_state(&error, FOREIGN_KEY_VIOLATION) {
        OutboxError::NotFound(id.to_owned())
    } else {
        error
    }
}

/// URLs compare after parsing, so `https://a.example/x` and `https://A.example/x` are one.
fn same_url(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

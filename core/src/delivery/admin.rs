//! A tenant's subscription administration, for the management API: another tenant's
//! subscription is "not found".

use std::time::Duration;

use serde::Serialize;
use sqlx::Row;

use super::filter::Filter;
use super::outbox::{
    duration_ms, subscription_info, StoredSecret, SubscriptionInfo, SUBSCRIPTION_COLUMNS,
};
use super::store::{now_ms, on_pool, Pool};
use super::tenant::Tenant;
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
    /// A new description; `Some(None)` removes it.
    pub description: Option<Option<String>>,
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

impl Tenant {
    /// This tenant's subscription `id`, without its secrets.
    pub async fn subscription(&self, id: &str) -> Result<SubscriptionInfo, OutboxError> {
        let tenant = self.checked()?;
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM hookspec_subscriptions WHERE id = $1 AND owner = $2"
        );
        on_pool!(&self.outbox.pool, |pool| {
            let row = sqlx::query(sqlx::AssertSqlSafe(&*sql))
                .bind(id)
                .bind(tenant)
                .fetch_optional(pool)
                .await?;
            let row = row.ok_or_else(|| OutboxError::NotFound(id.to_owned()))?;
            subscription_info!(row)
        })
    }

    /// Enables this tenant's subscription `id` again (after a 410, continuous failures, or
    /// a manual disable); its pending deliveries resume.
    pub async fn enable(&self, id: &str) -> Result<SubscriptionInfo, OutboxError> {
        self.subscription(id).await?;
        self.outbox.enable(id).await?;
        self.subscription(id).await
    }

    /// Stops deliveries to this tenant's subscription `id`; pending ones wait until it is
    /// enabled.
    pub async fn disable(&self, id: &str) -> Result<SubscriptionInfo, OutboxError> {
        self.subscription(id).await?;
        self.outbox.disable(id).await?;
        self.subscription(id).await
    }

    /// This tenant's subscriptions with ids after `after`, in id order, at most `limit`.
    pub async fn subscriptions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SubscriptionInfo>, OutboxError> {
        let owner = self.checked()?;
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM hookspec_subscriptions \
             WHERE owner = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        on_pool!(&self.outbox.pool, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(&*sql))
                .bind(owner)
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(|row| subscription_info!(row)).collect()
        })
    }

    /// Whether this tenant already has a subscription to `url` for exactly these events.
    pub async fn has_duplicate(&self, url: &str, events: &[String]) -> Result<bool, OutboxError> {
        let owner = self.checked()?;
        let mut wanted = events.to_vec();
        wanted.sort();
        let rows: Vec<(String, String)> = on_pool!(&self.outbox.pool, |pool| {
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

    /// Applies `update` to this tenant's subscription `id`.
    pub async fn update_subscription(
        &self,
        id: &str,
        update: SubscriptionUpdate,
    ) -> Result<SubscriptionInfo, OutboxError> {
        let current = self.subscription(id).await?;
        let url = match update.url {
            Some(url) => self
                .outbox
                .ssrf
                .check_url(&url)
                .await
                .map_err(|refused| OutboxError::InvalidSubscription(refused.to_string()))?
                .to_string(),
            None => current.url,
        };
        let filter = update.filter.unwrap_or(current.filter);
        if let Some(filter) = &filter {
            Filter::parse(filter)?;
        }
        let description = update.description.unwrap_or(current.description);
        let events = update.events.unwrap_or(current.events);
        super::publish::check_event_names(&events)?;
        super::publish::check_description(description.as_deref())?;
        let events = serde_json::to_string(&events)?;
        on_pool!(&self.outbox.pool, |pool| {
            sqlx::query("UPDATE hookspec_subscriptions SET url = $1, events = $2, filter = $3, description = $7, updated_at = $4 WHERE id = $5 AND owner = $6")
                .bind(&url)
                .bind(&events)
                .bind(&filter)
                .bind(now_ms())
                .bind(id)
                .bind(&current.tenant)
                .bind(&description)
                .execute(pool)
                .await?;
            Ok::<(), OutboxError>(())
        })?;
        self.subscription(id).await
    }

    /// Deletes this tenant's subscription `id`, with its deliveries and their attempts.
    pub async fn delete_subscription(&self, id: &str) -> Result<(), OutboxError> {
        self.subscription(id).await?;
        self.outbox.pool.delete_subscription(id).await
    }

    /// A new secret for this tenant's subscription `id`; the current ones keep signing for
    /// `grace`, so receivers can switch without losing a delivery. Concurrent rotations take
    /// turns on the subscription's row, so none loses another's secret.
    pub async fn rotate_secret(&self, id: &str, grace: Duration) -> Result<Secret, OutboxError> {
        let tenant = self.checked()?;
        let now = now_ms();
        let fresh = Secret::generate();
        // Read and written in one transaction with the row locked: two rotations reading
        // the same list would each write it back with only their own new secret. (SQLite
        // has one writer, and the outbox one connection to it.)
        let read = match self.outbox.pool {
            Pool::Sqlite(_) => {
                "SELECT secrets FROM hookspec_subscriptions WHERE id = $1 AND owner = $2"
            }
            Pool::Postgres(_) => {
                "SELECT secrets FROM hookspec_subscriptions WHERE id = $1 AND owner = $2 FOR UPDATE"
            }
        };
        on_pool!(&self.outbox.pool, |pool| {
            let mut tx = pool.begin().await?;
            let stored: Option<String> = sqlx::query_scalar(read)
                .bind(id)
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?;
            let stored = stored.ok_or_else(|| OutboxError::NotFound(id.to_owned()))?;
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

    /// Extends this tenant's subscription `id` to expire `lease` from now (Airtable's
    /// refresh).
    pub async fn refresh(
        &self,
        id: &str,
        lease: Duration,
    ) -> Result<SubscriptionInfo, OutboxError> {
        self.subscription(id).await?;
        let now = now_ms();
        on_pool!(&self.outbox.pool, |pool| {
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

    /// The payloads queued for this tenant's subscription `id`, from `cursor` on, at most
    /// `limit`.
    pub async fn payloads(
        &self,
        id: &str,
        cursor: i64,
        limit: u32,
    ) -> Result<Vec<StoredPayload>, OutboxError> {
        self.subscription(id).await?;
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
        on_pool!(&self.outbox.pool, |pool| {
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

/// URLs compare after parsing, so `https://a.example/x` and `https://A.example/x` are one.
fn same_url(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

//! A tenant's subscription administration, for the management API: another tenant's
//! subscription is "not found".

use std::time::Duration;

use super::clock::{duration_ms, now_ms};
use super::filter::Filter;
use super::model::{StoredPayload, StoredSecret, SubscriptionInfo};
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

impl Tenant {
    /// This tenant's subscription `id`, without its secrets.
    pub async fn subscription(&self, id: &str) -> Result<SubscriptionInfo, OutboxError> {
        let tenant = self.checked()?;
        (self.outbox.store.subscription(id, Some(tenant)).await?)
            .ok_or_else(|| OutboxError::NotFound(id.to_owned()))
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
        let after = after.unwrap_or("");
        (self.outbox.store)
            .subscriptions(owner, after, i64::from(limit))
            .await
    }

    /// Whether this tenant already has a subscription to `url` for exactly these events.
    pub async fn has_duplicate(&self, url: &str, events: &[String]) -> Result<bool, OutboxError> {
        let owner = self.checked()?;
        let mut wanted = events.to_vec();
        wanted.sort();
        let rows = self.outbox.store.subscription_targets(owner).await?;
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
        (self.outbox.store)
            .update_subscription(
                id,
                &current.tenant,
                &url,
                &events,
                filter.as_deref(),
                description.as_deref(),
                now_ms(),
            )
            .await?;
        self.subscription(id).await
    }

    /// Deletes this tenant's subscription `id`, with its deliveries and their attempts.
    pub async fn delete_subscription(&self, id: &str) -> Result<(), OutboxError> {
        self.subscription(id).await?;
        self.outbox.store.delete_subscription(id).await
    }

    /// A new secret for this tenant's subscription `id`; the current ones keep signing for
    /// `grace`, so receivers can switch without losing a delivery. Concurrent rotations take
    /// turns on the subscription's row, so none loses another's secret.
    pub async fn rotate_secret(&self, id: &str, grace: Duration) -> Result<Secret, OutboxError> {
        let tenant = self.checked()?;
        let now = now_ms();
        let fresh = Secret::generate();
        let rotate = |stored: &str| -> Result<String, OutboxError> {
            let mut secrets: Vec<StoredSecret> = serde_json::from_str(stored)?;
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
            Ok(serde_json::to_string(&secrets)?)
        };
        (self.outbox.store)
            .rotate_secrets(id, tenant, now, rotate)
            .await?;
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
        (self.outbox.store)
            .refresh(id, now.saturating_add(duration_ms(lease)), now)
            .await?;
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
        (self.outbox.store)
            .payloads(id, cursor, i64::from(limit))
            .await
    }
}

/// URLs compare after parsing, so `https://a.example/x` and `https://A.example/x` are one.
fn same_url(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

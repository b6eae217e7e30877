//! One tenant's view of the outbox: what it publishes reaches only its own subscriptions, and
//! it reads and changes only those. The management API acts through it, as the tenant its
//! token names; another tenant's subscription or message is "not found".

use serde::Serialize;

use super::clock::{duration_ms, now_ms};
use super::filter::Filter;
use super::model::{new_id, CreatedSubscription, StoredSecret, Subscription};
use super::outbox::Outbox;
use super::publish::{check_description, check_event_names, Audience};
use super::store::{NewSubscription, OutboxTransaction};
use super::OutboxError;
use crate::signing::Secret;
use crate::Webhook;

/// The longest tenant name, in bytes.
const MAX_TENANT_LEN: usize = 200;

/// `name`, if it can name a tenant: an empty one would be everybody's and nobody's.
pub(crate) fn check_name(name: &str) -> Result<&str, OutboxError> {
    let why = if name.is_empty() {
        "is empty"
    } else if name.len() > MAX_TENANT_LEN {
        "is longer than 200 bytes"
    } else if name.chars().any(char::is_control) {
        "contains a control character"
    } else {
        return Ok(name);
    };
    Err(OutboxError::InvalidTenant(format!(
        "the tenant name {name:?} {why}"
    )))
}

/// A tenant of the outbox: a provider's customer (Airtable's base, SeaTable's base, Svix's
/// application). Made by [`Outbox::tenant`]; cheap to clone.
///
/// ```no_run
/// # use hookspec::delivery::*;
/// # #[derive(serde::Serialize, utoipa::ToSchema)] pub struct Payment { amount: f64 }
/// # #[hookspec::whpost("new-event")] pub async fn new_event(data: Payment) {}
/// # async fn run(outbox: Outbox, payment: Payment) -> Result<(), OutboxError> {
/// let acme = outbox.tenant("acme");
/// acme.subscribe(Subscription::new("https://acme.example/hooks")).await?;
/// acme.publish::<new_event>(&payment).await?; // reaches acme's subscriptions only
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Tenant {
    pub(crate) outbox: Outbox,
    pub(crate) name: String,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Tenant").field(&self.name).finish()
    }
}

impl Outbox {
    /// The handle of one tenant (a provider's customer: the owner that the management API
    /// knows). Its events reach only its own subscriptions, and it sees and changes only
    /// those. Cheap; the name is checked by each call (not empty, at most 200 bytes, no
    /// control characters).
    pub fn tenant(&self, name: impl Into<String>) -> Tenant {
        Tenant {
            outbox: self.clone(),
            name: name.into(),
        }
    }
}

impl Tenant {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name, if it can name a tenant.
    pub(crate) fn checked(&self) -> Result<&str, OutboxError> {
        check_name(&self.name)
    }
    /// Publishes an event of the declared webhook `W` for this tenant: stored with one
    /// pending delivery per matching subscription of this tenant, in one transaction.
    /// Returns the message id (the `webhook-id`).
    pub async fn publish<W: Webhook>(&self, payload: &W::Payload) -> Result<String, OutboxError>
    where
        W::Payload: Serialize,
    {
        let tenant = self.checked()?;
        self.outbox
            .store::<W>(Audience::Tenant(tenant), payload)
            .await
    }

    /// Publishes in your transaction, so the event is stored if and only if your business
    /// write commits. The transaction must be on the outbox's database. On PostgreSQL at
    /// READ COMMITTED (the default) a subscription deleted meanwhile is skipped; at stricter
    /// levels PostgreSQL reports it as a serialization failure, and your transaction retries.
    pub async fn publish_in_tx<W: Webhook>(
        &self,
        tx: &mut impl OutboxTransaction,
        payload: &W::Payload,
    ) -> Result<String, OutboxError>
    where
        W::Payload: Serialize,
    {
        let tenant = self.checked()?;
        self.outbox
            .store_in_tx::<W>(tx, Audience::Tenant(tenant), payload)
            .await
    }

    /// Creates a subscription of this tenant. A bad URL, a target the SSRF policy refuses,
    /// a filter that does not parse (with its position), an event name with a control
    /// character, or a tenant at its limit of subscriptions
    /// ([`Outbox::max_subscriptions_per_tenant`]) is an error, and nothing is stored.
    pub async fn subscribe(
        &self,
        subscription: Subscription,
    ) -> Result<CreatedSubscription, OutboxError> {
        let tenant = self.checked()?;
        let outbox = &self.outbox;
        let url = outbox
            .ssrf
            .check_url(&subscription.url)
            .await
            .map_err(|refused| OutboxError::InvalidSubscription(refused.to_string()))?;
        if let Some(filter) = &subscription.filter {
            Filter::parse(filter)?;
        }
        check_event_names(&subscription.events)?;
        check_description(subscription.description.as_deref())?;
        let secret = subscription.secret.unwrap_or_else(Secret::generate);
        let now = now_ms();
        let id = new_id("sub");
        let secrets = serde_json::to_string(&[StoredSecret {
            secret: secret.expose(),
            expires_at: None,
        }])?;
        let expires_at = subscription
            .expires_in
            .map(|d| now.saturating_add(duration_ms(d)));
        let new = NewSubscription {
            id: &id,
            tenant,
            url: url.as_str(),
            events: serde_json::to_string(&subscription.events)?,
            secrets,
            filter: subscription.filter.as_deref(),
            description: subscription.description.as_deref(),
            metadata: subscription
                .metadata
                .as_ref()
                .map(serde_json::Value::to_string),
            rate_limit: subscription.rate_limit.map(i64::from),
            expires_at,
            now,
        };
        outbox
            .store
            .subscribe(&new, outbox.max_subscriptions)
            .await?;
        Ok(CreatedSubscription { id, secret })
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn tenant_names_that_cannot_name_one_are_refused() {
        assert_eq!(check_name("workspace-1/CRM").unwrap(), "workspace-1/CRM");
        for (name, why) in [
            (String::new(), "is empty"),
            ("a\0b".to_owned(), "control character"),
            ("x".repeat(201), "longer than 200 bytes"),
        ] {
            let error = check_name(&name).unwrap_err().to_string();
            assert!(error.contains(why), "{error}");
        }
    }
}

//! A claimed delivery, as the dispatcher works on it.

use sqlx::Row;

/// A claimed delivery with its message and subscription.
pub(crate) struct Job {
    pub(crate) delivery: i64,
    pub(crate) attempts: i64,
    /// When it fell due (ms since the epoch).
    pub(crate) due_at: i64,
    pub(crate) message_id: String,
    pub(crate) event: String,
    pub(crate) method: String,
    pub(crate) payload: String,
    pub(crate) subscription_id: String,
    /// The subscription's tenant: its attempts in flight count against the tenant's share.
    pub(crate) tenant: String,
    pub(crate) url: String,
    pub(crate) secrets: String,
    pub(crate) rate_limit: Option<i64>,
    /// When this dispatcher claimed it: held past half its lease, it goes back unattempted.
    pub(crate) claimed_at: std::time::Instant,
}

/// Written out so that the subscription's signing secrets never reach a log.
impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("delivery", &self.delivery)
            .field("attempts", &self.attempts)
            .field("due_at", &self.due_at)
            .field("message_id", &self.message_id)
            .field("event", &self.event)
            .field("method", &self.method)
            .field("payload", &self.payload)
            .field("subscription_id", &self.subscription_id)
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .field("secrets", &"<redacted>")
            .field("rate_limit", &self.rate_limit)
            .field("claimed_at", &self.claimed_at)
            .finish()
    }
}

impl Job {
    /// A claimed delivery from a row of either backend's claim.
    pub(super) fn from_row<'r, R: Row>(row: &'r R) -> Result<Job, sqlx::Error>
    where
        &'r str: sqlx::ColumnIndex<R>,
        i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Job {
            delivery: row.try_get("id")?,
            attempts: row.try_get("attempts")?,
            due_at: row.try_get("next_attempt_at")?,
            message_id: row.try_get("message_id")?,
            event: row.try_get("event")?,
            method: row.try_get("method")?,
            payload: row.try_get("payload")?,
            subscription_id: row.try_get("subscription_id")?,
            tenant: row.try_get("owner")?,
            url: row.try_get("url")?,
            secrets: row.try_get("secrets")?,
            rate_limit: row.try_get("rate_limit")?,
            claimed_at: std::time::Instant::now(),
        })
    }
}

#[cfg(test)]
impl Job {
    /// A job of message `msg_<delivery>` for `subscription` of `tenant`, claimed now.
    pub(crate) fn for_test(delivery: i64, subscription: &str, tenant: &str) -> Job {
        Job {
            tenant: tenant.into(),
            delivery,
            attempts: 0,
            due_at: 0,
            message_id: format!("msg_{delivery}"),
            event: "tick".into(),
            method: "POST".into(),
            payload: "{}".into(),
            subscription_id: subscription.into(),
            url: "https://example.com".into(),
            secrets: "[]".into(),
            rate_limit: None,
            claimed_at: std::time::Instant::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_output_redacts_the_secrets() {
        let mut job = super::Job::for_test(7, "sub_1", "t");
        job.secrets = r#"[{"secret":"whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ="}]"#.into();
        for shown in [format!("{job:?}"), format!("{job:#?}")] {
            assert!(!shown.contains("whsec_"), "{shown}");
            assert!(!shown.contains("c2VjcmV0"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(
                shown.contains("sub_1") && shown.contains("msg_7"),
                "{shown}"
            );
        }
    }
}

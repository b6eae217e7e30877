//! The outbox's state, read at each scrape: read then rather than kept up to date in memory,
//! because it changes in other processes too (other dispatchers, the management API, a
//! provider's own `outbox.disable`), and a scrape every few seconds is cheap next to a
//! dispatcher's own statements.

use sqlx::Row;

use crate::delivery::store::{now_ms, on_pool};
use crate::delivery::{Outbox, OutboxError};

/// What the gauges show.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Figures {
    pub(super) pending_enabled: i64,
    pub(super) pending_disabled: i64,
    /// When the oldest delivery pending for an enabled subscription was queued (ms).
    pub(super) oldest_pending: Option<i64>,
    /// Disabled subscriptions by stored reason (`""` for none).
    pub(super) disabled: Vec<(String, i64)>,
    /// When they were read (ms).
    pub(super) read_at: i64,
}

impl Figures {
    pub(super) fn oldest_pending_age_seconds(&self) -> f64 {
        self.oldest_pending
            .map_or(0.0, |queued| (self.read_at - queued).max(0) as f64 / 1000.0)
    }
}

/// Pending deliveries (they are read through the index of pending ones), grouped by whether
/// their subscription is enabled: those of a disabled one wait for it to be enabled again
/// and would otherwise read as a queue the dispatchers never drain.
const PENDING: &str =
    "SELECT s.enabled AS enabled, COUNT(*) AS pending, MIN(d.created_at) AS oldest \
    FROM hookspec_deliveries d JOIN hookspec_subscriptions s ON s.id = d.subscription_id \
    WHERE d.status = 'pending' GROUP BY s.enabled";

const DISABLED: &str = "SELECT COALESCE(disabled_reason, '') AS reason, COUNT(*) AS disabled \
    FROM hookspec_subscriptions WHERE NOT enabled GROUP BY disabled_reason";

/// Reads the figures, through the outbox's publishing pool (on PostgreSQL the dispatchers'
/// own connections are tuned for their statements only).
pub(super) async fn read(outbox: &Outbox) -> Result<Figures, OutboxError> {
    let mut figures = Figures {
        read_at: now_ms(),
        ..Figures::default()
    };
    on_pool!(&outbox.pool, |pool| {
        for row in sqlx::query(PENDING).fetch_all(pool).await? {
            let pending: i64 = row.try_get("pending")?;
            if row.try_get::<bool, _>("enabled")? {
                figures.pending_enabled = pending;
                figures.oldest_pending = row.try_get("oldest")?;
            } else {
                figures.pending_disabled = pending;
            }
        }
        for row in sqlx::query(DISABLED).fetch_all(pool).await? {
            figures
                .disabled
                .push((row.try_get("reason")?, row.try_get("disabled")?));
        }
        Ok::<(), OutboxError>(())
    })?;
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::Figures;

    #[test]
    fn the_oldest_age_is_zero_without_pending_deliveries_and_never_negative() {
        let mut figures = Figures {
            read_at: 10_000,
            ..Figures::default()
        };
        assert_eq!(figures.oldest_pending_age_seconds(), 0.0);
        figures.oldest_pending = Some(7_500);
        assert_eq!(figures.oldest_pending_age_seconds(), 2.5);
        // Queued by a process whose clock runs ahead.
        figures.oldest_pending = Some(10_400);
        assert_eq!(figures.oldest_pending_age_seconds(), 0.0);
    }
}

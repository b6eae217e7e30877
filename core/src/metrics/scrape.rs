//! The outbox's state, read at each scrape: read then rather than kept up to date in memory,
//! because it changes in other processes too (other dispatchers, the management API, a
//! provider's own `outbox.disable`), and a scrape every few seconds is cheap next to a
//! dispatcher's own statements.

use crate::delivery::clock::now_ms;
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

/// Reads the figures, through the outbox's publishing pool (on PostgreSQL the dispatchers'
/// own connections are tuned for their statements only).
pub(super) async fn read(outbox: &Outbox) -> Result<Figures, OutboxError> {
    let mut figures = Figures {
        read_at: now_ms(),
        ..Figures::default()
    };
    // Those of a disabled subscription wait for it to be enabled again and would otherwise
    // read as a queue the dispatchers never drain.
    for (enabled, pending, oldest) in outbox.store.pending_by_state().await? {
        if enabled {
            figures.pending_enabled = pending;
            figures.oldest_pending = oldest;
        } else {
            figures.pending_disabled = pending;
        }
    }
    figures.disabled = outbox.store.disabled_by_reason().await?;
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

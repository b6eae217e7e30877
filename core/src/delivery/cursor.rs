//! Where a claim starts reading due work.
//!
//! On PostgreSQL a finished delivery leaves a dead entry in the index of pending deliveries,
//! at the time it fell due, until the table is vacuumed: the oldest part of the index fills
//! with them. A claim that read from the start would step over every delivery finished since
//! the last vacuum (tens of thousands a second under load, and autovacuum visits a table a
//! minute apart at best) before it found work. So the claimer remembers where the due work it
//! claimed began and starts there: what lies before is finished, in flight, or of a
//! subscription that cannot be claimed.
//!
//! Work can still appear behind that point: a delivery published in a transaction that
//! committed late, a dead dispatcher's lease running out, a subscription enabled again. So a
//! margin stays behind the point for publishes that commit a moment after they were stamped,
//! and once per poll interval a claim reads from the start, as polling always did.

use std::time::{Duration, Instant};

use super::store::Job;

/// How far behind the earliest claimed delivery the next claim starts (ms): publishes commit
/// about this late at most without waiting for a full read.
const MARGIN_MS: i64 = 100;

/// Where the next claim starts reading due work.
#[derive(Debug)]
pub(crate) struct DueCursor {
    from: i64,
    every: Duration,
    rescan_at: Instant,
}

impl DueCursor {
    /// A cursor that goes back to the start at least once per `every`.
    pub(crate) fn new(every: Duration) -> DueCursor {
        DueCursor {
            from: i64::MIN,
            every,
            rescan_at: Instant::now() + every,
        }
    }

    /// The earliest due time the next claim reads (ms since the epoch).
    pub(crate) fn from(&mut self) -> i64 {
        let now = Instant::now();
        if now >= self.rescan_at {
            self.from = i64::MIN;
            self.rescan_at = now + self.every;
        }
        self.from
    }

    /// After a claim that skipped no subscription, so that everything due before what it
    /// claimed is finished, in flight, or cannot be claimed.
    pub(crate) fn claimed(&mut self, jobs: &[Job]) {
        if let Some(first) = jobs.iter().map(|job| job.due_at).min() {
            self.from = self.from.max(first.saturating_sub(MARGIN_MS));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::lanes::tests::job;

    fn due(at: i64) -> Job {
        Job {
            due_at: at,
            ..job(at, "sub")
        }
    }

    #[test]
    fn starts_behind_the_earliest_claim_and_never_moves_back() {
        let mut cursor = DueCursor::new(Duration::from_secs(3600));
        assert_eq!(cursor.from(), i64::MIN);
        cursor.claimed(&[due(5_000), due(4_000), due(6_000)]);
        assert_eq!(cursor.from(), 4_000 - MARGIN_MS);
        cursor.claimed(&[due(1_000)]);
        assert_eq!(
            cursor.from(),
            4_000 - MARGIN_MS,
            "a retry due earlier is behind"
        );
        cursor.claimed(&[]);
        assert_eq!(cursor.from(), 4_000 - MARGIN_MS);
    }

    #[test]
    fn reads_from_the_start_once_per_interval() {
        let mut cursor = DueCursor::new(Duration::ZERO);
        cursor.claimed(&[due(5_000)]);
        assert_eq!(cursor.from(), i64::MIN);
    }
}

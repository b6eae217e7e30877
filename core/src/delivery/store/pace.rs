//! How a purge paces itself beside the publishing and delivering it shares the database
//! with. On SQLite they share its one connection: a purge that deleted in back-to-back
//! transactions of 1,000 messages held it most of the time, and every publish and claim
//! queued behind a whole transaction (issue 18: delivery p99 3-7x during a purge). So a
//! purge sizes its transactions by time, not by count, and after each one rests about as
//! long as it took: nothing waits long for it, and it never holds the connection (or, on
//! PostgreSQL, the cores and the disk) more than about half of the time.

use std::time::Duration;

/// The first transaction's messages, before any has been timed.
const FIRST: usize = 100;

/// Fewest messages per transaction: below it, a transaction's own cost (a commit, the
/// search for candidates) would be most of what it does.
const FEWEST: usize = 10;

/// Most messages per transaction: the ids of a transaction are bound as one JSON parameter.
const MOST: usize = 1_000;

/// The next purge transaction's size, set from how long the last one took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PurgePace {
    batch: usize,
    /// How long a transaction aims to take (the backend's, see [`PurgeSql`](super::PurgeSql)).
    target: Duration,
}

impl PurgePace {
    /// The pace of a purge's first transaction, aiming at transactions of `target`.
    pub(crate) fn new(target: Duration) -> PurgePace {
        PurgePace {
            batch: FIRST,
            target,
        }
    }

    /// How many messages the next transaction takes at most.
    pub(crate) fn batch(self) -> usize {
        self.batch
    }

    /// After a transaction of [`batch`](Self::batch) messages that held the database for
    /// `took`: the pace of the next one (scaled towards the target, by at most a factor of
    /// two, so that one slow commit does not swing it), and how long to rest before it.
    pub(crate) fn after(self, took: Duration) -> (PurgePace, Duration) {
        let twice = self.batch.saturating_mul(2);
        let next = match took.as_nanos() {
            0 => twice,
            nanos => {
                // In whole nanoseconds, so that a transaction on target keeps its size exactly.
                let scaled = self.batch as u128 * self.target.as_nanos() / nanos;
                usize::try_from(scaled)
                    .unwrap_or(usize::MAX)
                    .clamp(self.batch / 2, twice)
            }
        };
        let pace = PurgePace {
            batch: next.clamp(FEWEST, MOST),
            target: self.target,
        };
        (pace, took)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Duration = Duration::from_millis(5);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn it_rests_as_long_as_the_transaction_took() {
        for took in [ms(0), ms(1), ms(5), ms(40), Duration::from_secs(3)] {
            assert_eq!(PurgePace::new(TARGET).after(took).1, took);
        }
    }

    #[test]
    fn a_transaction_on_target_keeps_its_size() {
        let (pace, _) = PurgePace::new(TARGET).after(TARGET);
        assert_eq!(pace.batch(), FIRST);
    }

    #[test]
    fn fast_transactions_grow_by_at_most_twice_up_to_the_most() {
        let (pace, _) = PurgePace::new(TARGET).after(TARGET / 3);
        assert_eq!(pace.batch(), 2 * FIRST);
        let (pace, _) = PurgePace::new(TARGET).after(TARGET * 2 / 3);
        assert_eq!(pace.batch(), 150);
        let mut pace = PurgePace::new(TARGET);
        for _ in 0..20 {
            pace = pace.after(Duration::ZERO).0;
        }
        assert_eq!(pace.batch(), MOST);
    }

    #[test]
    fn slow_transactions_shrink_by_at_most_half_down_to_the_fewest() {
        let (pace, _) = PurgePace::new(TARGET).after(TARGET * 3 / 2);
        assert_eq!(pace.batch(), 66);
        let (pace, _) = PurgePace::new(TARGET).after(ms(500));
        assert_eq!(pace.batch(), FIRST / 2);
        let mut pace = PurgePace::new(TARGET);
        for _ in 0..20 {
            pace = pace.after(Duration::from_secs(3600)).0;
        }
        assert_eq!(pace.batch(), FEWEST);
    }

    #[test]
    fn it_settles_where_a_transaction_takes_the_target() {
        // A database that deletes a message in 50 µs: 100 messages take 5 ms.
        let mut pace = PurgePace {
            batch: MOST,
            target: TARGET,
        };
        for _ in 0..10 {
            let took = Duration::from_micros(50) * pace.batch() as u32;
            pace = pace.after(took).0;
        }
        assert_eq!(pace.batch(), 100);
    }
}

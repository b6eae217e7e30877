//! Rate limits shared by every dispatcher on a database: the generic cell rate algorithm
//! (GCRA), whose whole state is one number per subscription, `rate_tat`, the theoretical
//! arrival time (µs since the epoch). A limit of n per second spaces deliveries
//! T = 1 s / n apart and tolerates arriving up to tau = (n - 1) T early: a full burst of n,
//! then n per second, as a token bucket of n refilled at n per second would allow.

use std::time::Duration;

/// Limits above this are taken as this: one delivery per microsecond, the resolution of
/// the state, which also keeps `now + tau` far from overflowing whatever the stored limit.
const MAX_PER_SECOND: i64 = 1_000_000;

/// Takes a token (`$1` now, `$2` T, `$3` tau, `$4` the subscription): allowed if
/// max(tat, now) - now <= tau, i.e. tat <= now + tau, and then tat := max(tat, now) + T.
/// One conditional statement, so two dispatchers can never both take the last token: on
/// PostgreSQL at read committed the second waits for the first's row lock and evaluates the
/// condition again on the row it wrote. A refusal writes nothing.
pub(super) const TAKE: &str = "UPDATE hookspec_subscriptions \
    SET rate_tat = CASE WHEN rate_tat > $1 THEN rate_tat ELSE $1 END + $2 \
    WHERE id = $4 AND (rate_tat IS NULL OR rate_tat <= $1 + $3)";

/// The state of subscription `$1`, read after a refusal to say how long to wait.
pub(super) const READ: &str = "SELECT rate_tat FROM hookspec_subscriptions WHERE id = $1";

/// A limit of n per second, as the algorithm's two numbers (µs).
pub(super) struct Limit {
    /// T: the spacing of deliveries at exactly the limit.
    pub(super) interval: i64,
    /// tau: how early a delivery may come, which makes a burst of n.
    pub(super) tolerance: i64,
}

impl Limit {
    pub(super) fn new(per_second: i64) -> Limit {
        let per_second = per_second.clamp(1, MAX_PER_SECOND);
        let interval = 1_000_000 / per_second;
        Limit {
            interval,
            tolerance: (per_second - 1) * interval,
        }
    }

    /// After a refusal at `now`, with the stored `tat` (none: never limited yet), the wait:
    /// max(tat, now) - tau - now.
    pub(super) fn wait(&self, tat: Option<i64>, now: i64) -> Duration {
        let tat = tat.unwrap_or(now);
        let wait = tat
            .max(now)
            .saturating_sub(self.tolerance)
            .saturating_sub(now);
        // Deliveries fall due in whole milliseconds: rounding up keeps one from coming
        // back a fraction of a millisecond early, only to be refused again.
        let millis = u64::try_from(wait).unwrap_or(0).div_ceil(1000);
        Duration::from_millis(millis)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::delivery::store::{Bookkeeping, SqliteStore, Store};

    /// A fresh SQLite outbox, named `name`, with one subscription, `s`.
    async fn pool_with_subscription(name: &str) -> SqliteStore {
        let dir = std::env::temp_dir().join(format!(
            "hookspec-rate-{}-{}",
            std::process::id(),
            crate::delivery::clock::now_ms()
        ));
        let _ = std::fs::create_dir_all(&dir);
        let url = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
        let store = SqliteStore::connect(&url).await.expect("a SQLite outbox");
        sqlx::query(
            "INSERT INTO hookspec_subscriptions (id, url, events, secrets, created_at, updated_at) \
             VALUES ('s', 'https://example.com', '[]', '[]', 0, 0)",
        )
        .execute(store.pool())
        .await
        .expect("a subscription");
        store
    }

    #[tokio::test]
    async fn a_shared_limit_hands_out_its_burst_then_one_token_per_interval() {
        let pool = pool_with_subscription("burst").await;
        let ms = |n: u64| Some(Duration::from_millis(n));
        let take = |now_ms: i64| pool.take_token("s", 2, now_ms * 1000);
        // Two per second: a burst of two, then one every 500 ms.
        assert_eq!(take(0).await.unwrap(), None);
        assert_eq!(take(0).await.unwrap(), None);
        assert_eq!(take(0).await.unwrap(), ms(500), "the burst is spent");
        assert_eq!(take(300).await.unwrap(), ms(200));
        assert_eq!(take(500).await.unwrap(), None);
        assert_eq!(take(500).await.unwrap(), ms(500));
        // Idle long enough, the whole burst is back, and no more.
        assert_eq!(take(10_000).await.unwrap(), None);
        assert_eq!(take(10_000).await.unwrap(), None);
        assert_eq!(take(10_000).await.unwrap(), ms(500));
    }

    #[tokio::test]
    async fn out_of_range_limits_neither_overflow_nor_panic() {
        let pool = pool_with_subscription("range").await;
        for per_second in [i64::MAX, 0, -5] {
            assert!(pool.take_token("s", per_second, 0).await.is_ok());
        }
        assert_eq!(
            pool.take_token("gone", 5, 0).await.unwrap(),
            Some(Duration::ZERO)
        );
    }
}

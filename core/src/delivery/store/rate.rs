//! Rate limits shared by every dispatcher on a database: the generic cell rate algorithm
//! (GCRA), whose whole state is one number per subscription, `rate_tat`, the theoretical
//! arrival time (µs since the epoch). A limit of n per second spaces deliveries
//! T = 1 s / n apart and tolerates arriving up to tau = (n - 1) T early: a full burst of n,
//! then n per second, as a token bucket of n refilled at n per second would allow.

use std::time::Duration;

use super::{on_pool, Pool};
use crate::delivery::OutboxError;

/// Limits above this are taken as this: one delivery per microsecond, the resolution of
/// the state, which also keeps `now + tau` far from overflowing whatever the stored limit.
const MAX_PER_SECOND: i64 = 1_000_000;

/// Takes a token (`$1` now, `$2` T, `$3` tau, `$4` the subscription): allowed if
/// max(tat, now) - now <= tau, i.e. tat <= now + tau, and then tat := max(tat, now) + T.
/// One conditional statement, so two dispatchers can never both take the last token: on
/// PostgreSQL at read committed the second waits for the first's row lock and evaluates the
/// condition again on the row it wrote. A refusal writes nothing.
const TAKE: &str = "UPDATE hookspec_subscriptions \
    SET rate_tat = CASE WHEN rate_tat > $1 THEN rate_tat ELSE $1 END + $2 \
    WHERE id = $4 AND (rate_tat IS NULL OR rate_tat <= $1 + $3)";

impl Pool {
    /// Takes a token of `subscription`, limited to `per_second` deliveries per second, at
    /// `now` (µs since the epoch), or says how long until one is available. The clocks of
    /// the dispatchers must agree, as they must for leases: one running δ ahead may send
    /// up to δ × n early.
    pub(crate) async fn take_token(
        &self,
        subscription: &str,
        per_second: i64,
        now: i64,
    ) -> Result<Option<Duration>, OutboxError> {
        let per_second = per_second.clamp(1, MAX_PER_SECOND);
        let interval = 1_000_000 / per_second;
        let tolerance = (per_second - 1) * interval;
        on_pool!(self, |pool| {
            let taken = sqlx::query(TAKE)
                .bind(now)
                .bind(interval)
                .bind(tolerance)
                .bind(subscription)
                .execute(pool)
                .await?
                .rows_affected();
            if taken > 0 {
                return Ok(None);
            }
            // Refused: the wait is max(tat, now) - tau - now. Read apart from the update, as
            // a refusal should take no lock; the time only moves later meanwhile, and the
            // delivery will ask again anyway. A subscription deleted meanwhile (no row) has
            // no deliveries left to wait.
            let tat: Option<Option<i64>> =
                sqlx::query_scalar("SELECT rate_tat FROM hookspec_subscriptions WHERE id = $1")
                    .bind(subscription)
                    .fetch_optional(pool)
                    .await?;
            let tat = tat.flatten().unwrap_or(now);
            let wait = tat.max(now).saturating_sub(tolerance).saturating_sub(now);
            // Deliveries fall due in whole milliseconds: rounding up keeps one from coming
            // back a fraction of a millisecond early, only to be refused again.
            let millis = u64::try_from(wait).unwrap_or(0).div_ceil(1000);
            Ok(Some(Duration::from_millis(millis)))
        })
    }
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_us() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh SQLite outbox, named `name`, with one subscription, `s`.
    async fn pool_with_subscription(name: &str) -> Pool {
        let dir = std::env::temp_dir().join(format!(
            "hookspec-rate-{}-{}",
            std::process::id(),
            super::super::now_ms()
        ));
        let _ = std::fs::create_dir_all(&dir);
        let url = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
        let pool = Pool::sqlite(&url).await.expect("a SQLite outbox");
        on_pool!(&pool, |p| {
            sqlx::query(
            "INSERT INTO hookspec_subscriptions (id, url, events, secrets, created_at, updated_at) \
             VALUES ('s', 'https://example.com', '[]', '[]', 0, 0)"
        )
        .execute(p)
        .await
        .map(|_| ())
        .expect("a subscription")
        });
        pool
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

//! When to try again: the retry schedule, jitter, and `Retry-After`.

use std::time::{Duration, SystemTime};

use rand::RngExt;

/// [`RetrySchedule::new`] was given no delay at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a retry schedule needs at least one delay (the first attempt)")]
pub struct EmptyRetrySchedule;

/// The delays before each attempt. The default is the Standard Webhooks example: immediately,
/// then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (8 attempts over about 28 hours).
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    jitter: f64,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        const MIN: u64 = 60;
        const HOUR: u64 = 3600;
        let delays = [
            0,
            5,
            5 * MIN,
            30 * MIN,
            2 * HOUR,
            5 * HOUR,
            10 * HOUR,
            10 * HOUR,
        ];
        RetrySchedule {
            delays: delays.into_iter().map(Duration::from_secs).collect(),
            jitter: 0.2,
        }
    }
}

impl RetrySchedule {
    /// A schedule: `delays[0]` before the first attempt (usually zero), `delays[n]` before
    /// attempt `n + 1`. At least one delay.
    pub fn new(delays: impl IntoIterator<Item = Duration>) -> Result<Self, EmptyRetrySchedule> {
        let delays: Vec<Duration> = delays.into_iter().collect();
        if delays.is_empty() {
            return Err(EmptyRetrySchedule);
        }
        Ok(RetrySchedule {
            delays,
            jitter: 0.2,
        })
    }

    /// Spreads each delay by up to `fraction` either way (default 0.2), so that receivers
    /// that failed together are not retried together. `0.0` makes delays exact.
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction.clamp(0.0, 1.0);
        self
    }

    /// How many attempts a delivery gets in all.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX)
    }

    /// The delay before attempt `made + 1`, after `made` failed attempts; `None` when the
    /// schedule is exhausted.
    pub fn next_delay(&self, made: u32) -> Option<Duration> {
        let base = *self.delays.get(usize::try_from(made).ok()?)?;
        if self.jitter == 0.0 || base.is_zero() {
            return Some(base);
        }
        let factor = rand::rng().random_range(1.0 - self.jitter..=1.0 + self.jitter);
        Some(base.mul_f64(factor))
    }
}

/// What one attempt's answer leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// A 2xx: the delivery is done.
    Delivered,
    /// 410 Gone: the receiver asks not to be sent anything more; its subscription is disabled.
    Disable,
    /// Try again after this long.
    RetryIn(Duration),
    /// The schedule is spent: the delivery fails.
    GiveUp,
}

/// The retry rule, apart from any I/O: `status` is the answer's status code (`None` when the
/// request failed or timed out), `retry_after` its `Retry-After` header, `made` the attempts
/// made so far, this one included.
///
/// A 2xx delivers and 410 disables. 429 and 503 with a readable `Retry-After` wait that long,
/// capped at `max_retry_after`, but only while the schedule has attempts left: a receiver can
/// slow its deliveries down, not make them last forever. Everything else follows the schedule.
pub(crate) fn decide(
    status: Option<u16>,
    retry_after: Option<&str>,
    made: u32,
    schedule: &RetrySchedule,
    max_retry_after: Duration,
    now: SystemTime,
) -> Decision {
    if let Some(status) = status {
        if (200..300).contains(&status) {
            return Decision::Delivered;
        }
        if status == 410 {
            return Decision::Disable;
        }
    }
    let Some(scheduled) = schedule.next_delay(made) else {
        return Decision::GiveUp;
    };
    let honoured = matches!(status, Some(429 | 503))
        .then(|| retry_after.and_then(|value| parse_retry_after(value, now)))
        .flatten();
    Decision::RetryIn(honoured.map_or(scheduled, |wait| wait.min(max_retry_after)))
}

/// A `Retry-After` value (seconds or an HTTP date) as a delay from `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_is_the_standard_webhooks_one() {
        let schedule = RetrySchedule::default().jitter(0.0);
        let delays: Vec<u64> = (0..8)
            .map(|n| schedule.next_delay(n).unwrap().as_secs())
            .collect();
        assert_eq!(delays, [0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(schedule.next_delay(8), None);
        assert_eq!(schedule.attempts(), 8);
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let schedule = RetrySchedule::new([Duration::ZERO, Duration::from_secs(100)]).unwrap();
        for _ in 0..200 {
            let d = schedule.next_delay(1).unwrap().as_secs_f64();
            assert!((80.0..=120.0).contains(&d), "{d}");
        }
        assert_eq!(
            schedule.next_delay(0),
            Some(Duration::ZERO),
            "the first attempt is immediate"
        );
        assert!(RetrySchedule::new([]).is_err());
    }

    #[test]
    fn the_decision_follows_status_retry_after_and_schedule() {
        use Decision::*;
        let schedule = RetrySchedule::new([0, 5, 60].map(Duration::from_secs))
            .unwrap()
            .jitter(0.0);
        let cap = Duration::from_secs(30);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(20));
        let secs = |s| RetryIn(Duration::from_secs(s));
        for (status, retry_after, made, expected) in [
            (Some(200), None, 1, Delivered),
            (Some(299), None, 3, Delivered),
            (Some(410), Some("5"), 1, Disable),
            (Some(410), None, 3, Disable),
            (None, None, 1, secs(5)),
            (None, None, 2, secs(60)),
            (None, None, 3, GiveUp),
            (Some(500), Some("1"), 1, secs(5)),
            (Some(300), None, 1, secs(5)),
            (Some(429), Some("2"), 1, secs(2)),
            (Some(503), Some(later.as_str()), 2, secs(20)),
            (Some(429), Some("3600"), 1, secs(30)),
            (Some(429), Some("soon"), 1, secs(5)),
            (Some(429), None, 2, secs(60)),
            (Some(429), Some("1"), 3, GiveUp),
        ] {
            assert_eq!(
                decide(status, retry_after, made, &schedule, cap, now),
                expected,
                "{status:?} {retry_after:?} after {made} attempts"
            );
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}

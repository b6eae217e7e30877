//! Per-subscription lanes: how many attempts each subscription has in flight, and which
//! claimed deliveries wait for it. A subscription at its limit keeps its
//! waiting deliveries here, in memory, until one of its own attempts ends: they take no
//! global slot and no trip back to the database, so a slow receiver delays only itself.
//! (Rate limits are not kept here but in the database, shared by every dispatcher: see
//! `store/rate.rs`.)

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

use super::store::Job;

#[derive(Default)]
struct Lane {
    /// Attempts running now.
    in_flight: usize,
    /// Claimed deliveries not started yet: on their way from the claimer, or parked.
    waiting: usize,
    /// Deliveries that arrived while the lane was full, oldest first.
    parked: VecDeque<Job>,
}

impl Lane {
    fn idle(&self) -> bool {
        self.in_flight == 0 && self.waiting == 0 && self.parked.is_empty()
    }
}

/// Claims skip a subscription with this many rounds (`per_subscription` each) waiting...
const SKIP_AT_ROUNDS: usize = 8;
/// ...and a lane holds at most this many: deeper than one claim, so that a fast subscription
/// always has work in hand while the next claim is on its way.
const HOLD_ROUNDS: usize = 16;

pub(crate) struct Lanes {
    per_subscription: usize,
    lanes: Mutex<HashMap<String, Lane>>,
    /// Woken when a subscription that claims skipped has room for more waiting deliveries.
    pub(crate) room: Notify,
}

impl Lanes {
    pub(crate) fn new(per_subscription: usize) -> Lanes {
        Lanes {
            per_subscription: per_subscription.max(1),
            lanes: Mutex::default(),
            room: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lane>> {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claimed deliveries are on their way: those a lane has no room to hold (more than
    /// [`HOLD_ROUNDS`] waiting) come back as the second list, to be given back to the database.
    pub(crate) fn claimed(&self, jobs: Vec<Job>) -> (Vec<Job>, Vec<Job>) {
        let mut lanes = self.lock();
        jobs.into_iter().partition(|job| {
            let lane = lanes.entry(job.subscription_id.clone()).or_default();
            let keep = lane.waiting < HOLD_ROUNDS * self.per_subscription;
            lane.waiting += usize::from(keep);
            keep
        })
    }

    /// Subscriptions with [`SKIP_AT_ROUNDS`] of deliveries already waiting: claims skip them.
    pub(crate) fn full(&self) -> Vec<String> {
        let lanes = self.lock();
        lanes
            .iter()
            .filter(|(_, lane)| lane.waiting >= SKIP_AT_ROUNDS * self.per_subscription)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether claims skip any subscription (see [`full`](Self::full)).
    pub(crate) fn any_full(&self) -> bool {
        let lanes = self.lock();
        lanes
            .values()
            .any(|lane| lane.waiting >= SKIP_AT_ROUNDS * self.per_subscription)
    }

    /// A claimed delivery arrives: it may start (and holds a slot of its lane) if its lane
    /// has room and nothing parked before it; otherwise it is parked.
    pub(crate) fn admit(&self, job: Job) -> Option<Job> {
        let mut lanes = self.lock();
        let lane = lanes.entry(job.subscription_id.clone()).or_default();
        if lane.in_flight < self.per_subscription && lane.parked.is_empty() {
            self.start(lane);
            return Some(job);
        }
        lane.parked.push_back(job);
        None
    }

    /// The next parked delivery of `subscription`, if its lane has room (taking a slot).
    pub(crate) fn next_parked(&self, subscription: &str) -> Option<Job> {
        let mut lanes = self.lock();
        let lane = lanes.get_mut(subscription)?;
        if lane.in_flight >= self.per_subscription {
            return None;
        }
        let job = lane.parked.pop_front()?;
        self.start(lane);
        Some(job)
    }

    fn start(&self, lane: &mut Lane) {
        lane.in_flight += 1;
        lane.waiting = lane.waiting.saturating_sub(1);
        if lane.waiting + 1 == SKIP_AT_ROUNDS * self.per_subscription {
            self.room.notify_one();
        }
    }

    /// A claimed delivery of `subscription` that arrived will not be started here (it is
    /// given back): it no longer waits.
    pub(crate) fn forget(&self, subscription: &str) {
        let mut lanes = self.lock();
        let Some(lane) = lanes.get_mut(subscription) else {
            return;
        };
        lane.waiting = lane.waiting.saturating_sub(1);
        if lane.waiting + 1 == SKIP_AT_ROUNDS * self.per_subscription {
            self.room.notify_one();
        }
        if lane.idle() {
            lanes.remove(subscription);
        }
    }

    /// An attempt of `subscription` ended (or never began). Returns whether deliveries of
    /// it are parked, waiting for the slot it freed.
    pub(crate) fn leave(&self, subscription: &str) -> bool {
        let mut lanes = self.lock();
        let Some(lane) = lanes.get_mut(subscription) else {
            return false;
        };
        lane.in_flight = lane.in_flight.saturating_sub(1);
        let parked = !lane.parked.is_empty();
        if lane.idle() {
            lanes.remove(subscription);
        }
        parked
    }

    /// Parked deliveries claimed longer than `age` ago (all of them for zero), taken out to
    /// be given back before their lease runs out under a receiver that stays slow.
    pub(crate) fn unpark_claimed_before(&self, age: Duration) -> Vec<Job> {
        let mut lanes = self.lock();
        let mut old = Vec::new();
        for lane in lanes.values_mut() {
            let (keep, stale): (VecDeque<Job>, VecDeque<Job>) = std::mem::take(&mut lane.parked)
                .into_iter()
                .partition(|job| job.claimed_at.elapsed() < age);
            lane.parked = keep;
            lane.waiting = lane.waiting.saturating_sub(stale.len());
            old.extend(stale);
        }
        lanes.retain(|_, lane| !lane.idle());
        old
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Instant;

    pub(crate) fn job(delivery: i64, subscription: &str) -> Job {
        Job {
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
            claimed_at: Instant::now(),
        }
    }

    fn ids(jobs: &[Job]) -> Vec<i64> {
        jobs.iter().map(|j| j.delivery).collect()
    }

    #[test]
    fn a_full_lane_parks_in_order_and_unparks_as_its_attempts_end() {
        let lanes = Lanes::new(2);
        let (kept, excess) = lanes.claimed((1..=4).map(|i| job(i, "slow")).collect());
        assert_eq!((ids(&kept), ids(&excess)), (vec![1, 2, 3, 4], vec![]));
        let mut kept = kept.into_iter();
        assert!(lanes.admit(kept.next().unwrap()).is_some());
        assert!(lanes.admit(kept.next().unwrap()).is_some());
        assert!(
            lanes.admit(kept.next().unwrap()).is_none(),
            "two in flight is the limit"
        );
        assert!(lanes.admit(kept.next().unwrap()).is_none());
        assert!(lanes.next_parked("slow").is_none(), "no slot has freed yet");
        assert!(
            lanes.leave("slow"),
            "deliveries are parked behind the freed slot"
        );
        assert_eq!(lanes.next_parked("slow").map(|j| j.delivery), Some(3));
        assert!(lanes.leave("slow"));
        assert_eq!(lanes.next_parked("slow").map(|j| j.delivery), Some(4));
        assert!(!lanes.leave("slow"));
    }

    #[test]
    fn other_subscriptions_are_not_held_behind_a_full_lane() {
        let lanes = Lanes::new(1);
        let (kept, _) = lanes.claimed(vec![job(1, "slow"), job(2, "slow"), job(3, "fast")]);
        let admitted: Vec<i64> = kept
            .into_iter()
            .filter_map(|j| lanes.admit(j))
            .map(|j| j.delivery)
            .collect();
        assert_eq!(admitted, vec![1, 3]);
    }

    #[test]
    fn claims_skip_a_lane_with_enough_waiting_and_hear_when_it_drains() {
        let lanes = Lanes::new(2);
        let hold = i64::try_from(HOLD_ROUNDS * 2).unwrap();
        let (kept, excess) = lanes.claimed((1..=hold + 3).map(|i| job(i, "s")).collect());
        assert_eq!(kept.len(), HOLD_ROUNDS * 2, "a lane holds a bounded number");
        assert_eq!(ids(&excess), vec![hold + 1, hold + 2, hold + 3]);
        assert_eq!(lanes.full(), vec!["s".to_owned()]);
        assert!(lanes.any_full());
        let mut kept = kept.into_iter();
        let skip_at = SKIP_AT_ROUNDS * 2;
        for _ in 0..(HOLD_ROUNDS * 2 - skip_at) {
            let _ = lanes.admit(kept.next().unwrap());
            let _ = lanes.leave("s");
        }
        assert!(lanes.any_full(), "still exactly at the threshold");
        let room = lanes.room.notified();
        tokio::pin!(room);
        assert!(!room.as_mut().enable(), "no wake-up before it drains");
        let _ = lanes.admit(kept.next().unwrap());
        assert!(lanes.full().is_empty(), "one below the threshold");
        assert!(room.as_mut().enable(), "draining below it woke the claimer");
    }

    #[test]
    fn parked_deliveries_are_given_back_before_their_lease_runs_out() {
        let lanes = Lanes::new(1);
        let (kept, _) = lanes.claimed(vec![job(1, "s"), job(2, "s"), job(3, "s")]);
        for j in kept {
            let _ = lanes.admit(j);
        }
        assert!(lanes
            .unpark_claimed_before(Duration::from_secs(60))
            .is_empty());
        assert_eq!(
            ids(&lanes.unpark_claimed_before(Duration::ZERO)),
            vec![2, 3]
        );
        assert!(lanes.next_parked("s").is_none());
        assert!(!lanes.leave("s"));
        assert!(lanes.lock().is_empty(), "an idle lane is forgotten");
    }
}

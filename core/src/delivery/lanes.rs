//! Per-subscription lanes: how many attempts each subscription and each tenant has in flight,
//! and which claimed deliveries wait for them. A subscription at its limit, or whose tenant
//! is at its own, keeps its waiting deliveries here, in memory, until an attempt of the same
//! subscription or tenant ends: they take no global slot and no trip back to the database,
//! so a slow receiver delays only itself, and a tenant whose receivers all stall holds only
//! its tenant's share of the dispatcher. (Rate limits are not kept here but in the database,
//! shared by every dispatcher: see `store/rate.rs`.)

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
    /// Whether it is in its tenant's queue for a slot.
    queued: bool,
}

impl Lane {
    fn idle(&self) -> bool {
        self.in_flight == 0 && self.waiting == 0 && self.parked.is_empty() && !self.queued
    }
}

/// A tenant's attempts in flight, and its subscriptions waiting for one of them to end.
#[derive(Default)]
struct TenantLane {
    in_flight: usize,
    /// Subscriptions with room of their own whose deliveries are parked because the tenant
    /// is at its limit, in the order they met it.
    queue: VecDeque<String>,
}

#[derive(Default)]
struct Inner {
    lanes: HashMap<String, Lane>,
    tenants: HashMap<String, TenantLane>,
}

/// Claims skip a subscription with this many rounds (`per_subscription` each) waiting...
const SKIP_AT_ROUNDS: usize = 8;
/// ...and a lane holds at most this many: deeper than one claim, so that a fast subscription
/// always has work in hand while the next claim is on its way.
const HOLD_ROUNDS: usize = 16;

pub(crate) struct Lanes {
    per_subscription: usize,
    per_tenant: usize,
    inner: Mutex<Inner>,
    /// Woken when a subscription that claims skipped has room for more waiting deliveries.
    pub(crate) room: Notify,
}

impl Lanes {
    pub(crate) fn new(per_subscription: usize, per_tenant: usize) -> Lanes {
        Lanes {
            per_subscription: per_subscription.max(1),
            per_tenant: per_tenant.max(1),
            inner: Mutex::default(),
            room: Notify::new(),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claimed deliveries are on their way: those a lane has no room to hold (more than
    /// [`HOLD_ROUNDS`] waiting) come back as the second list, to be given back to the database.
    pub(crate) fn claimed(&self, jobs: Vec<Job>) -> (Vec<Job>, Vec<Job>) {
        let mut inner = self.inner();
        let lanes = &mut inner.lanes;
        jobs.into_iter().partition(|job| {
            let lane = lanes.entry(job.subscription_id.clone()).or_default();
            let keep = lane.waiting < HOLD_ROUNDS * self.per_subscription;
            lane.waiting += usize::from(keep);
            keep
        })
    }

    /// Subscriptions with [`SKIP_AT_ROUNDS`] of deliveries already waiting: claims skip them.
    pub(crate) fn full(&self) -> Vec<String> {
        let inner = self.inner();
        inner
            .lanes
            .iter()
            .filter(|(_, lane)| lane.waiting >= SKIP_AT_ROUNDS * self.per_subscription)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether claims skip any subscription (see [`full`](Self::full)).
    pub(crate) fn any_full(&self) -> bool {
        let inner = self.inner();
        inner
            .lanes
            .values()
            .any(|lane| lane.waiting >= SKIP_AT_ROUNDS * self.per_subscription)
    }

    /// A claimed delivery arrives: it may start (and holds a slot of its lane and of its
    /// tenant) if both have room and nothing of its lane is parked before it; otherwise it
    /// is parked.
    pub(crate) fn admit(&self, job: Job) -> Option<Job> {
        let mut inner = self.inner();
        let Inner { lanes, tenants } = &mut *inner;
        let lane = lanes.entry(job.subscription_id.clone()).or_default();
        let tenant = tenants.entry(job.tenant.clone()).or_default();
        if lane.in_flight < self.per_subscription && lane.parked.is_empty() {
            if tenant.in_flight < self.per_tenant {
                self.start(lane, tenant);
                return Some(job);
            }
            Self::queue(lane, tenant, &job.subscription_id);
        }
        lane.parked.push_back(job);
        None
    }

    /// The next parked delivery of `subscription`, if its lane and its tenant have room
    /// (taking a slot of each).
    pub(crate) fn next_parked(&self, subscription: &str) -> Option<Job> {
        let mut inner = self.inner();
        let Inner { lanes, tenants } = &mut *inner;
        let lane = lanes.get_mut(subscription)?;
        if lane.in_flight >= self.per_subscription {
            return None;
        }
        let tenant = tenants
            .entry(lane.parked.front()?.tenant.clone())
            .or_default();
        if tenant.in_flight >= self.per_tenant {
            Self::queue(lane, tenant, subscription);
            return None;
        }
        let job = lane.parked.pop_front()?;
        self.start(lane, tenant);
        Some(job)
    }

    /// `subscription` waits for a slot of its tenant.
    fn queue(lane: &mut Lane, tenant: &mut TenantLane, subscription: &str) {
        if !lane.queued {
            lane.queued = true;
            tenant.queue.push_back(subscription.to_owned());
        }
    }

    fn start(&self, lane: &mut Lane, tenant: &mut TenantLane) {
        tenant.in_flight += 1;
        lane.in_flight += 1;
        lane.waiting = lane.waiting.saturating_sub(1);
        if lane.waiting + 1 == SKIP_AT_ROUNDS * self.per_subscription {
            self.room.notify_one();
        }
    }

    /// A claimed delivery of `subscription` that arrived will not be started here (it is
    /// given back): it no longer waits.
    pub(crate) fn forget(&self, subscription: &str) {
        let mut inner = self.inner();
        let lanes = &mut inner.lanes;
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

    /// An attempt of `subscription` of `tenant` ended (or never began). Returns the
    /// subscriptions with parked deliveries that may start now: this one, if it has some,
    /// and the one that has waited longest for a slot of the tenant.
    pub(crate) fn leave(&self, subscription: &str, tenant: &str) -> Vec<String> {
        let mut inner = self.inner();
        let Inner { lanes, tenants } = &mut *inner;
        let mut wake = Vec::new();
        if let Some(lane) = lanes.get_mut(subscription) {
            lane.in_flight = lane.in_flight.saturating_sub(1);
            if !lane.parked.is_empty() {
                wake.push(subscription.to_owned());
            }
            if lane.idle() {
                lanes.remove(subscription);
            }
        }
        let Some(slots) = tenants.get_mut(tenant) else {
            return wake;
        };
        slots.in_flight = slots.in_flight.saturating_sub(1);
        // The freed slot goes to the subscription that has waited longest, skipping those
        // whose parked deliveries went back meanwhile.
        while let Some(next) = slots.queue.pop_front() {
            let Some(lane) = lanes.get_mut(&next) else {
                continue;
            };
            lane.queued = false;
            if lane.parked.is_empty() {
                if lane.idle() {
                    lanes.remove(&next);
                }
                continue;
            }
            if next != subscription {
                wake.push(next);
            }
            break;
        }
        if slots.in_flight == 0 && slots.queue.is_empty() {
            tenants.remove(tenant);
        }
        wake
    }

    /// Parked deliveries claimed longer than `age` ago (all of them for zero), taken out to
    /// be given back before their lease runs out under a receiver that stays slow.
    pub(crate) fn unpark_claimed_before(&self, age: Duration) -> Vec<Job> {
        let mut inner = self.inner();
        let lanes = &mut inner.lanes;
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

    pub(crate) fn job(delivery: i64, subscription: &str) -> Job {
        tenant_job(delivery, subscription, "t")
    }

    fn tenant_job(delivery: i64, subscription: &str, tenant: &str) -> Job {
        Job::for_test(delivery, subscription, tenant)
    }

    fn ids(jobs: &[Job]) -> Vec<i64> {
        jobs.iter().map(|j| j.delivery).collect()
    }

    #[test]
    fn a_full_lane_parks_in_order_and_unparks_as_its_attempts_end() {
        let lanes = Lanes::new(2, 100);
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
            !lanes.leave("slow", "t").is_empty(),
            "deliveries are parked behind the freed slot"
        );
        assert_eq!(lanes.next_parked("slow").map(|j| j.delivery), Some(3));
        assert_eq!(lanes.leave("slow", "t"), ["slow"]);
        assert_eq!(lanes.next_parked("slow").map(|j| j.delivery), Some(4));
        assert!(lanes.leave("slow", "t").is_empty());
    }

    #[test]
    fn other_subscriptions_are_not_held_behind_a_full_lane() {
        let lanes = Lanes::new(1, 100);
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
        let lanes = Lanes::new(2, 100);
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
            let _ = lanes.leave("s", "t");
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
        let lanes = Lanes::new(1, 100);
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
        assert!(lanes.leave("s", "t").is_empty());
        assert!(lanes.inner().lanes.is_empty(), "an idle lane is forgotten");
        assert!(lanes.inner().tenants.is_empty(), "so is an idle tenant");
    }

    #[test]
    fn a_tenant_at_its_limit_parks_and_its_freed_slots_go_to_its_waiting_subscriptions() {
        let lanes = Lanes::new(4, 2);
        let jobs = vec![
            tenant_job(1, "a1", "a"),
            tenant_job(2, "a2", "a"),
            tenant_job(3, "a3", "a"),
            tenant_job(4, "a4", "a"),
            tenant_job(5, "b1", "b"),
        ];
        let (kept, _) = lanes.claimed(jobs);
        let admitted: Vec<i64> = kept
            .into_iter()
            .filter_map(|j| lanes.admit(j))
            .map(|j| j.delivery)
            .collect();
        assert_eq!(
            admitted,
            vec![1, 2, 5],
            "tenant a holds two slots, b is not held"
        );
        assert!(lanes.next_parked("a3").is_none(), "a is still at its limit");
        assert_eq!(
            lanes.leave("a1", "a"),
            ["a3"],
            "the slot goes to the subscription that waited longest"
        );
        assert_eq!(lanes.next_parked("a3").map(|j| j.delivery), Some(3));
        assert!(lanes.next_parked("a4").is_none());
        assert_eq!(lanes.leave("b1", "b"), Vec::<String>::new());
        assert_eq!(lanes.leave("a2", "a"), ["a4"]);
        assert_eq!(lanes.next_parked("a4").map(|j| j.delivery), Some(4));
        let _ = lanes.leave("a3", "a");
        let _ = lanes.leave("a4", "a");
        assert!(lanes.inner().tenants.is_empty() && lanes.inner().lanes.is_empty());
    }
}

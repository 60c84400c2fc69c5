//! Keep-alives for registered contacts (pbxd sends OPTIONS to phones behind NAT), in virtual
//! time.
//!
//! The core decides *when* a binding is pinged and what the answers mean; the driver sends the
//! requests and reports what came back. It is driven with [`KeepAlive::insert`],
//! [`KeepAlive::remove`], [`KeepAlive::answered`], [`KeepAlive::failed`],
//! [`KeepAlive::cancelled`] and [`KeepAlive::handle_timeout`], each given `now`; its output is
//! drained with [`KeepAlive::poll_action`], and the next deadline comes from
//! [`KeepAlive::poll_timeout`]. It never reads a clock.
//!
//! # Decisions
//! * Spreading: a binding's first ping comes at `now + offset`, where the offset is a hash of
//!   its key scaled into `[0, interval)`; after that every `interval`. Bindings that arrive
//!   together (a restart restoring 100,000 of them, phones registering after an outage) are
//!   pinged evenly over the interval instead of in one burst. If the driver falls behind, a
//!   binding skips ahead rather than catching up with a burst.
//! * At most one ping per binding is out. It fails when no answer came within `timeout`
//!   (capped at the interval); the driver then abandons the request
//!   ([`Action::Abandon`]). Any answer — a 4xx or 5xx too — proves the phone is reachable.
//! * `max_failures` failed pings in a row make the binding unreachable
//!   ([`Action::Unreachable`]); the first answer after that makes it reachable again
//!   ([`Action::Reachable`]). Unreachable bindings keep being pinged at the same interval.
//! * [`KeepAlive::insert`] of a known key (a REGISTER refresh) keeps the schedule and clears
//!   the failures; the registrar reports the reachability change of a refresh itself.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

/// Settings of the keep-alives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepAliveConfig {
    /// Time between two pings of one binding.
    pub interval: Duration,
    /// A ping without an answer after this long has failed (capped at `interval`).
    pub timeout: Duration,
    /// Failed pings in a row before a binding is unreachable.
    pub max_failures: u32,
}

impl Default for KeepAliveConfig {
    fn default() -> KeepAliveConfig {
        KeepAliveConfig {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(4),
            max_failures: 3,
        }
    }
}

/// What the driver has to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<K> {
    /// Send a ping (OPTIONS) to this binding, then report `answered`, `failed` or `cancelled`.
    Ping(K),
    /// The ping got no answer in time: stop its request (it counts as failed already).
    Abandon(K),
    /// `max_failures` pings in a row failed.
    Unreachable(K),
    /// An unreachable binding answered.
    Reachable(K),
}

#[derive(Clone, Debug)]
struct Entry {
    next_ping: Instant,
    /// Deadline of the ping that is out.
    out: Option<Instant>,
    failures: u32,
    unreachable: bool,
    /// The instant this entry sits under in the timer set.
    wake: Instant,
}

impl Entry {
    /// While a ping is out only its deadline matters: a ping due meanwhile goes out when the
    /// one that is out has failed or been answered.
    fn wake_at(&self) -> Instant {
        self.out.unwrap_or(self.next_ping)
    }
}

/// The keep-alive scheduler. See the module documentation.
#[derive(Debug)]
pub struct KeepAlive<K: Clone + Ord + Hash> {
    cfg: KeepAliveConfig,
    entries: HashMap<K, Entry>,
    timers: BTreeSet<(Instant, K)>,
    actions: VecDeque<Action<K>>,
}

impl<K: Clone + Ord + Hash> KeepAlive<K> {
    /// An empty scheduler. An interval of zero is treated as one millisecond (the driver does
    /// not create a scheduler when keep-alives are off).
    pub fn new(mut cfg: KeepAliveConfig) -> KeepAlive<K> {
        cfg.interval = cfg.interval.max(Duration::from_millis(1));
        cfg.timeout = cfg.timeout.min(cfg.interval);
        cfg.max_failures = cfg.max_failures.max(1);
        KeepAlive {
            cfg,
            entries: HashMap::new(),
            timers: BTreeSet::new(),
            actions: VecDeque::new(),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> KeepAliveConfig {
        self.cfg
    }

    /// Number of bindings pinged.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No bindings?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Is this binding pinged?
    pub fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    /// Is this binding unreachable as far as the pings go?
    pub fn is_unreachable(&self, key: &K) -> bool {
        self.entries.get(key).is_some_and(|e| e.unreachable)
    }

    /// Where in the interval this key's pings fall.
    fn offset(&self, key: &K) -> Duration {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        let interval = self.cfg.interval.as_nanos();
        // The product of a u64 and a u64-sized interval fits u128; the quotient is below the
        // interval, which came from a Duration.
        let nanos = (u128::from(h.finish()) * interval) >> 64;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
    }

    fn reschedule(&mut self, key: &K) {
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        let old = e.wake;
        let new = e.wake_at();
        e.wake = new;
        self.timers.remove(&(old, key.clone()));
        self.timers.insert((new, key.clone()));
    }

    /// Starts pinging a binding (first ping within one interval), or — for a known one —
    /// clears its failures and unreachable mark (the phone just registered again).
    pub fn insert(&mut self, key: K, now: Instant) {
        if let Some(e) = self.entries.get_mut(&key) {
            e.failures = 0;
            e.unreachable = false;
            return;
        }
        let next_ping = now.checked_add(self.offset(&key)).unwrap_or(now);
        self.entries.insert(
            key.clone(),
            Entry {
                next_ping,
                out: None,
                failures: 0,
                unreachable: false,
                wake: next_ping,
            },
        );
        self.timers.insert((next_ping, key));
    }

    /// Marks a known binding unreachable without an action (it was so before a restart): the
    /// first answer reports it reachable.
    pub fn assume_unreachable(&mut self, key: &K) {
        if let Some(e) = self.entries.get_mut(key) {
            e.unreachable = true;
            e.failures = self.cfg.max_failures;
        }
    }

    /// Stops pinging a binding. A ping that is out is forgotten (the driver may abandon it).
    pub fn remove(&mut self, key: &K) {
        if let Some(e) = self.entries.remove(key) {
            self.timers.remove(&(e.wake, key.clone()));
        }
    }

    /// The binding answered the ping that is out (any response).
    pub fn answered(&mut self, key: &K, _now: Instant) {
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        e.out = None;
        e.failures = 0;
        if e.unreachable {
            e.unreachable = false;
            self.actions.push_back(Action::Reachable(key.clone()));
        }
        self.reschedule(key);
    }

    /// The ping that is out failed before its deadline (timeout or transport error reported by
    /// the transaction layer).
    pub fn failed(&mut self, key: &K, _now: Instant) {
        if self.entries.get(key).is_some_and(|e| e.out.is_some()) {
            self.fail(key);
            self.reschedule(key);
        }
    }

    /// The ping could not be sent (no socket, too many transactions): not the phone's fault,
    /// it does not count.
    pub fn cancelled(&mut self, key: &K) {
        if let Some(e) = self.entries.get_mut(key) {
            e.out = None;
            self.reschedule(key);
        }
    }

    fn fail(&mut self, key: &K) {
        let max = self.cfg.max_failures;
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        e.out = None;
        e.failures = e.failures.saturating_add(1);
        if e.failures >= max && !e.unreachable {
            e.unreachable = true;
            self.actions.push_back(Action::Unreachable(key.clone()));
        }
    }

    /// The earliest deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// The next thing to do.
    pub fn poll_action(&mut self) -> Option<Action<K>> {
        self.actions.pop_front()
    }

    /// Fires everything due at `now`: failed pings, then new pings.
    pub fn handle_timeout(&mut self, now: Instant) {
        let interval = self.cfg.interval;
        let timeout = self.cfg.timeout;
        while let Some((at, key)) = self.timers.first().cloned() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, key.clone()));
            let Some(e) = self.entries.get_mut(&key) else {
                continue;
            };
            // Not in the timer set any more: `reschedule` must not find a stale entry.
            e.wake = now;
            if e.out.is_some_and(|deadline| deadline <= now) {
                self.actions.push_back(Action::Abandon(key.clone()));
                self.fail(&key);
            }
            let Some(e) = self.entries.get_mut(&key) else {
                continue;
            };
            if e.out.is_none() && e.next_ping <= now {
                let mut next = e.next_ping.checked_add(interval).unwrap_or(now);
                if next <= now {
                    // Fallen behind: skip ahead instead of a burst.
                    next = now.checked_add(interval).unwrap_or(now);
                }
                e.next_ping = next;
                e.out = Some(now.checked_add(timeout).unwrap_or(now));
                self.actions.push_back(Action::Ping(key.clone()));
            }
            if let Some(e) = self.entries.get_mut(&key) {
                // Never again at or before `now`: this loop must end.
                let wake = e.wake_at().max(now + Duration::from_millis(1));
                e.wake = wake;
                self.timers.insert((wake, key));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(interval_s: u64) -> KeepAliveConfig {
        KeepAliveConfig {
            interval: Duration::from_secs(interval_s),
            timeout: Duration::from_secs(4),
            max_failures: 3,
        }
    }

    /// Runs the core to `until` in steps of `step`, answering pings with `answer(key)`; gives
    /// (time since start, action) for everything it did.
    fn run<K: Clone + Ord + Hash>(
        k: &mut KeepAlive<K>,
        start: Instant,
        until: Duration,
        step: Duration,
        answer: impl Fn(&K) -> bool,
    ) -> Vec<(Duration, Action<K>)> {
        let mut out = Vec::new();
        let mut t = start;
        while t <= start + until {
            k.handle_timeout(t);
            while let Some(a) = k.poll_action() {
                if let Action::Ping(key) = &a {
                    if answer(key) {
                        k.answered(key, t);
                    }
                }
                out.push((t - start, a));
            }
            // Answers also produce actions.
            while let Some(a) = k.poll_action() {
                out.push((t - start, a));
            }
            t += step;
        }
        out
    }

    #[test]
    fn every_binding_is_pinged_once_per_interval_spread_over_it() {
        let start = Instant::now();
        let mut k = KeepAlive::new(cfg(30));
        for i in 0..3000u32 {
            k.insert(i, start);
        }
        let acts = run(
            &mut k,
            start,
            Duration::from_secs(90) - Duration::from_millis(1),
            Duration::from_millis(1),
            |_| true,
        );
        let pings: Vec<(Duration, u32)> = acts
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Ping(k) => Some((*t, *k)),
                _ => None,
            })
            .collect();
        // Three intervals: every binding exactly three times, 30 s apart.
        assert_eq!(pings.len(), 9000);
        let mut per_key: HashMap<u32, Vec<Duration>> = HashMap::new();
        for (t, key) in &pings {
            per_key.entry(*key).or_default().push(*t);
        }
        assert_eq!(per_key.len(), 3000);
        for times in per_key.values() {
            assert_eq!(times.len(), 3);
            for w in times.windows(2) {
                let gap = w[1] - w[0];
                assert!(
                    gap >= Duration::from_millis(29_999) && gap <= Duration::from_millis(30_001),
                    "{gap:?}"
                );
            }
        }
        // Spread: 100 per second on average; no second carries more than twice that.
        let mut per_second = [0u32; 90];
        for (t, _) in &pings {
            per_second[t.as_secs() as usize] += 1;
        }
        let max = per_second.iter().copied().max().unwrap_or(0);
        let min = per_second.iter().copied().min().unwrap_or(0);
        assert!(max <= 200 && min >= 30, "per second: {min}..{max}");
        // Nothing failed.
        assert!(acts.iter().all(|(_, a)| matches!(a, Action::Ping(_))));
    }

    #[test]
    fn three_unanswered_pings_make_a_binding_unreachable_and_an_answer_reachable() {
        let start = Instant::now();
        let mut k = KeepAlive::new(KeepAliveConfig {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(4),
            max_failures: 3,
        });
        k.insert("phone", start);
        let acts = run(
            &mut k,
            start,
            Duration::from_millis(4500),
            Duration::from_millis(10),
            |_| false,
        );
        let names: Vec<String> = acts
            .iter()
            .map(|(_, a)| match a {
                Action::Ping(_) => "ping",
                Action::Abandon(_) => "abandon",
                Action::Unreachable(_) => "unreachable",
                Action::Reachable(_) => "reachable",
            })
            .map(String::from)
            .collect();
        // The timeout is capped at the interval: each ping fails when the next is due.
        assert_eq!(
            &names[..7],
            [
                "ping",
                "abandon",
                "ping",
                "abandon",
                "ping",
                "abandon",
                "unreachable"
            ],
            "{acts:?}"
        );
        assert!(k.is_unreachable(&"phone"));
        let unreachable_at = acts
            .iter()
            .find(|(_, a)| matches!(a, Action::Unreachable(_)))
            .map(|(t, _)| *t)
            .unwrap_or_default();
        assert!(
            unreachable_at < Duration::from_secs(4),
            "{unreachable_at:?}"
        );
        // Reported once, pings go on; the first answer makes it reachable.
        let later = start + Duration::from_secs(10);
        let acts = run(
            &mut k,
            later,
            Duration::from_secs(3),
            Duration::from_millis(10),
            |_| true,
        );
        assert_eq!(
            acts.iter()
                .filter(|(_, a)| matches!(a, Action::Reachable(_)))
                .count(),
            1,
            "{acts:?}"
        );
        assert!(!acts
            .iter()
            .any(|(_, a)| matches!(a, Action::Unreachable(_))));
        assert!(!k.is_unreachable(&"phone"));
    }

    #[test]
    fn late_driver_ticks_neither_hang_nor_burst() {
        // A driver that wakes at odd moments (a 20 ms tick, scheduling delays) sends a ping a
        // little after it was due, so the next one falls due while this one is still out.
        let start = Instant::now();
        let mut k = KeepAlive::new(KeepAliveConfig {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(4),
            max_failures: 3,
        });
        for i in 0..50u8 {
            k.insert(i, start);
        }
        let acts = run(
            &mut k,
            start,
            Duration::from_secs(20),
            Duration::from_millis(23),
            |_| false,
        );
        let pings = acts
            .iter()
            .filter(|(_, a)| matches!(a, Action::Ping(_)))
            .count();
        // One per second each, give or take the late start of each round.
        assert!((900..=1000).contains(&pings), "{pings}");
        assert_eq!(
            acts.iter()
                .filter(|(_, a)| matches!(a, Action::Unreachable(_)))
                .count(),
            50
        );
        let answered = run(
            &mut k,
            start + Duration::from_secs(30),
            Duration::from_secs(5),
            Duration::from_millis(17),
            |_| true,
        );
        assert_eq!(
            answered
                .iter()
                .filter(|(_, a)| matches!(a, Action::Reachable(_)))
                .count(),
            50
        );
    }

    #[test]
    fn failures_must_be_in_a_row_and_a_register_clears_them() {
        let start = Instant::now();
        let mut k = KeepAlive::new(KeepAliveConfig {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            max_failures: 3,
        });
        k.insert(7u8, start);
        let mut t = start;
        let mut outcomes = Vec::new();
        // fail, fail, answer, fail, fail, (register), fail: never unreachable.
        for (i, answer) in [false, false, true, false, false, false].iter().enumerate() {
            if i == 5 {
                k.insert(7, t);
            }
            let deadline = k.poll_timeout().unwrap_or(t);
            t = deadline.max(t);
            k.handle_timeout(t);
            while let Some(a) = k.poll_action() {
                if matches!(a, Action::Ping(_)) && *answer {
                    k.answered(&7, t);
                }
                outcomes.push(a);
            }
            // Let the ping time out (or not).
            t += Duration::from_secs(2);
            k.handle_timeout(t);
            while let Some(a) = k.poll_action() {
                outcomes.push(a);
            }
        }
        assert!(
            !outcomes.iter().any(|a| matches!(a, Action::Unreachable(_))),
            "{outcomes:?}"
        );
        assert_eq!(
            outcomes
                .iter()
                .filter(|a| matches!(a, Action::Abandon(_)))
                .count(),
            5
        );
    }

    #[test]
    fn cancelled_pings_do_not_count_and_removed_bindings_stop() {
        let start = Instant::now();
        let mut k = KeepAlive::new(KeepAliveConfig {
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            max_failures: 1,
        });
        k.insert(1u8, start);
        k.insert(2u8, start);
        let mut t = start;
        for _ in 0..500 {
            k.handle_timeout(t);
            while let Some(a) = k.poll_action() {
                match a {
                    Action::Ping(1) => k.cancelled(&1),
                    Action::Ping(2) => k.failed(&2, t),
                    Action::Unreachable(1) => panic!("cancelled pings counted"),
                    _ => {}
                }
            }
            t += Duration::from_millis(10);
        }
        assert!(!k.is_unreachable(&1));
        assert!(k.is_unreachable(&2));
        k.remove(&1);
        k.remove(&2);
        assert!(k.is_empty());
        assert_eq!(k.poll_timeout(), None);
        k.handle_timeout(t + Duration::from_secs(5));
        assert_eq!(k.poll_action(), None);
    }
}

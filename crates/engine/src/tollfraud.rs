//! The toll-fraud guard (belfraudebewaking): per organisation, the concurrent outside calls and
//! the international and betaalnummer calls started in the last hour, in virtual time.
//!
//! The glue asks [`Guard::admit`] after [`crate::route`] decided [`crate::route::Decision::Outside`]
//! (or [`Guard::check`] then [`Guard::started`]), reports [`Guard::answered`] and [`Guard::ended`],
//! drains [`Guard::poll_event`] for alarms and calls that reached their maximum duration, and
//! calls [`Guard::handle_timeout`] at [`Guard::poll_timeout`].
//!
//! - 112 ([`NumberClass::Alarm`]) is never blocked and has no maximum duration; it does occupy a
//!   channel and counts as an outside call.
//! - Internal calls ([`NumberClass::Intern`]) are not counted.
//! - The hourly counts are sliding: a call started at `t` counts until `t + 1 h`. Only admitted
//!   calls count, not blocked attempts (those are counted apart, for `pbxctl`).
//! - Every block is counted; an [`GuardEvent::Alarm`] is raised at most once per organisation and
//!   limit per [`ALARM_INTERVAL`], so a flood of attempts is one alarm and one audit entry.
//! - The maximum duration runs from the start of the call and again from the answer.

use crate::call::CallRef;
use crate::route::Refusal;
use pbx_i18n::Msg;
use pbx_model::tenant::LIMIT_CEILING;
use pbx_model::{NumberClass, Tenant};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The sliding window of the hourly limits.
pub const WINDOW: Duration = Duration::from_secs(3600);
/// At most one alarm per organisation and limit in this time.
pub const ALARM_INTERVAL: Duration = Duration::from_secs(60);

/// The limits the guard enforces for one organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardLimits {
    /// Concurrent outside calls ([`pbx_model::Limits::max_outside_calls`]).
    pub max_outside_calls: u32,
    /// International calls started per sliding hour.
    pub max_international_per_hour: u32,
    /// Calls to betaalnummers started per sliding hour.
    pub max_betaalnummers_per_hour: u32,
    /// Longest outside call.
    pub max_call: Duration,
}

impl GuardLimits {
    /// The limits of an organisation.
    pub fn of(tenant: &Tenant) -> GuardLimits {
        let t = &tenant.toll_fraud;
        GuardLimits {
            max_outside_calls: tenant.limits.max_outside_calls,
            max_international_per_hour: t.max_international_per_hour,
            max_betaalnummers_per_hour: t.max_betaalnummers_per_hour,
            max_call: Duration::from_secs(u64::from(t.max_call_secs)),
        }
    }
}

impl Default for GuardLimits {
    /// The limits of a new organisation.
    fn default() -> GuardLimits {
        GuardLimits::of(&Tenant::new("-", "-"))
    }
}

/// Which limit blocked a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Limit {
    /// Concurrent outside calls.
    OutsideCalls,
    /// International calls per hour.
    InternationalPerHour,
    /// Calls to betaalnummers per hour.
    BetaalnummersPerHour,
}

impl Limit {
    /// Name for `--json`, events and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::OutsideCalls => "max_outside_calls",
            Limit::InternationalPerHour => "max_international_per_hour",
            Limit::BetaalnummersPerHour => "max_betaalnummers_per_hour",
        }
    }

    fn idx(self) -> usize {
        match self {
            Limit::OutsideCalls => 0,
            Limit::InternationalPerHour => 1,
            Limit::BetaalnummersPerHour => 2,
        }
    }
}

/// A call blocked by a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// The limit.
    pub limit: Limit,
    /// Its value.
    pub max: u32,
    /// The count that reached it.
    pub current: u32,
}

impl Blocked {
    /// The message for the audit entry and the CDR.
    pub fn msg(&self) -> Msg {
        let key = match self.limit {
            Limit::OutsideCalls => "tollfraud.outside_calls",
            Limit::InternationalPerHour => "tollfraud.international_per_hour",
            Limit::BetaalnummersPerHour => "tollfraud.betaalnummers_per_hour",
        };
        Msg::new(key).arg("max", self.max)
    }

    /// How the call is refused: 403, the not-allowed announcement, an audit entry.
    pub fn refusal(&self) -> Refusal {
        Refusal::forbidden(self.msg())
    }
}

/// The answer of [`Guard::check`] and [`Guard::admit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The call may go out.
    Ok,
    /// A limit blocks it.
    Blocked(Blocked),
}

/// What the guard tells the glue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuardEvent {
    /// A limit blocked calls: raise an alarm and write an audit entry.
    Alarm {
        /// Organisation slug.
        tenant: String,
        /// The block that raised it.
        blocked: Blocked,
        /// Calls this limit blocked for this organisation since the start.
        total_blocked: u64,
    },
    /// An outside call reached its maximum duration: hang it up.
    MaxDuration {
        /// The call.
        call: CallRef,
        /// Organisation slug.
        tenant: String,
    },
}

/// The counters of one organisation, for `pbxctl` and pbxtop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Organisation slug.
    pub tenant: String,
    /// Outside calls now (112 included).
    pub outside_calls: u32,
    /// Of which to 112.
    pub emergency_calls: u32,
    /// The limit.
    pub max_outside_calls: u32,
    /// International calls started in the last hour.
    pub international_last_hour: u32,
    /// The limit.
    pub max_international_per_hour: u32,
    /// Calls to betaalnummers started in the last hour.
    pub betaalnummers_last_hour: u32,
    /// The limit.
    pub max_betaalnummers_per_hour: u32,
    /// Calls blocked per limit since the start: outside calls, international, betaalnummers.
    pub blocked: [u64; 3],
}

#[derive(Debug, Default)]
struct Org {
    limits: Option<GuardLimits>,
    active: u32,
    emergency: u32,
    international: VecDeque<Instant>,
    betaalnummers: VecDeque<Instant>,
    blocked: [u64; 3],
    last_alarm: [Option<Instant>; 3],
}

impl Org {
    fn limits(&self) -> GuardLimits {
        self.limits.unwrap_or_default()
    }

    fn prune(&mut self, now: Instant) {
        for q in [&mut self.international, &mut self.betaalnummers] {
            while q
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
            {
                q.pop_front();
            }
        }
    }

    fn idle(&self) -> bool {
        self.limits.is_none()
            && self.active == 0
            && self.international.is_empty()
            && self.betaalnummers.is_empty()
            && self.blocked == [0; 3]
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[derive(Debug)]
struct Active {
    tenant: String,
    class: NumberClass,
    deadline: Option<Instant>,
}

/// The guard, for all organisations.
#[derive(Debug, Default)]
pub struct Guard {
    orgs: BTreeMap<String, Org>,
    calls: HashMap<CallRef, Active>,
    deadlines: BTreeSet<(Instant, CallRef)>,
    events: VecDeque<GuardEvent>,
}

impl Guard {
    /// A guard without organisations; an organisation it has no limits for gets the defaults.
    pub fn new() -> Guard {
        Guard::default()
    }

    /// Sets (or changes) an organisation's limits; running calls keep their deadline.
    pub fn set_limits(&mut self, tenant: &str, limits: GuardLimits) {
        self.orgs.entry(tenant.to_string()).or_default().limits = Some(limits);
    }

    /// Forgets an organisation's limits (removed organisation); its running calls still count
    /// until they end.
    pub fn forget(&mut self, tenant: &str) {
        if let Some(o) = self.orgs.get_mut(tenant) {
            o.limits = None;
            o.blocked = [0; 3];
            if o.idle() {
                self.orgs.remove(tenant);
            }
        }
    }

    /// May a call of this class go out for this organisation now? A block is counted and may
    /// raise an alarm: the glue refuses every call this blocks.
    pub fn check(&mut self, tenant: &str, class: NumberClass, now: Instant) -> Verdict {
        if matches!(class, NumberClass::Alarm | NumberClass::Intern) {
            return Verdict::Ok;
        }
        let org = self.orgs.entry(tenant.to_string()).or_default();
        org.prune(now);
        let l = org.limits();
        let blocked = if org.active >= l.max_outside_calls {
            Some(Blocked {
                limit: Limit::OutsideCalls,
                max: l.max_outside_calls,
                current: org.active,
            })
        } else {
            match class {
                NumberClass::Internationaal
                    if count(org.international.len()) >= l.max_international_per_hour =>
                {
                    Some(Blocked {
                        limit: Limit::InternationalPerHour,
                        max: l.max_international_per_hour,
                        current: count(org.international.len()),
                    })
                }
                NumberClass::Betaalnummers
                    if count(org.betaalnummers.len()) >= l.max_betaalnummers_per_hour =>
                {
                    Some(Blocked {
                        limit: Limit::BetaalnummersPerHour,
                        max: l.max_betaalnummers_per_hour,
                        current: count(org.betaalnummers.len()),
                    })
                }
                _ => None,
            }
        };
        let Some(b) = blocked else {
            if org.idle() {
                self.orgs.remove(tenant);
            }
            return Verdict::Ok;
        };
        let i = b.limit.idx();
        org.blocked[i] = org.blocked[i].saturating_add(1);
        let due =
            org.last_alarm[i].is_none_or(|t| now.saturating_duration_since(t) >= ALARM_INTERVAL);
        if due {
            org.last_alarm[i] = Some(now);
            self.events.push_back(GuardEvent::Alarm {
                tenant: tenant.to_string(),
                blocked: b,
                total_blocked: org.blocked[i],
            });
        }
        Verdict::Blocked(b)
    }

    /// Counts a call that goes out (after [`Guard::check`] said yes). A call already counted,
    /// and an internal call, change nothing.
    pub fn started(&mut self, call: CallRef, tenant: &str, class: NumberClass, now: Instant) {
        if class == NumberClass::Intern || self.calls.contains_key(&call) {
            return;
        }
        let org = self.orgs.entry(tenant.to_string()).or_default();
        org.prune(now);
        org.active = org.active.saturating_add(1);
        let cap = LIMIT_CEILING as usize;
        match class {
            NumberClass::Alarm => org.emergency = org.emergency.saturating_add(1),
            NumberClass::Internationaal if org.international.len() < cap => {
                org.international.push_back(now)
            }
            NumberClass::Betaalnummers if org.betaalnummers.len() < cap => {
                org.betaalnummers.push_back(now)
            }
            _ => {}
        }
        let deadline = (class != NumberClass::Alarm)
            .then(|| now.checked_add(org.limits().max_call))
            .flatten();
        if let Some(d) = deadline {
            self.deadlines.insert((d, call.clone()));
        }
        self.calls.insert(
            call,
            Active {
                tenant: tenant.to_string(),
                class,
                deadline,
            },
        );
    }

    /// [`Guard::check`], and [`Guard::started`] when the call may go out.
    pub fn admit(
        &mut self,
        call: CallRef,
        tenant: &str,
        class: NumberClass,
        now: Instant,
    ) -> Verdict {
        let v = self.check(tenant, class, now);
        if v == Verdict::Ok {
            self.started(call, tenant, class, now);
        }
        v
    }

    /// The call was answered: its maximum duration runs from now.
    pub fn answered(&mut self, call: &CallRef, now: Instant) {
        let Some(a) = self.calls.get_mut(call) else {
            return;
        };
        let Some(old) = a.deadline else {
            return;
        };
        let max = self
            .orgs
            .get(&a.tenant)
            .map(Org::limits)
            .unwrap_or_default()
            .max_call;
        if let Some(d) = now.checked_add(max) {
            self.deadlines.remove(&(old, call.clone()));
            self.deadlines.insert((d, call.clone()));
            a.deadline = Some(d);
        }
    }

    /// The call ended (or never got through): it no longer counts as concurrent. The hourly
    /// counts keep it. Unknown calls are ignored.
    pub fn ended(&mut self, call: &CallRef) {
        let Some(a) = self.calls.remove(call) else {
            return;
        };
        if let Some(d) = a.deadline {
            self.deadlines.remove(&(d, call.clone()));
        }
        if let Some(org) = self.orgs.get_mut(&a.tenant) {
            org.active = org.active.saturating_sub(1);
            if a.class == NumberClass::Alarm {
                org.emergency = org.emergency.saturating_sub(1);
            }
            if org.idle() {
                self.orgs.remove(&a.tenant);
            }
        }
    }

    /// When [`Guard::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(t, _)| *t)
    }

    /// Reports every call past its maximum duration (once; the glue hangs it up and calls
    /// [`Guard::ended`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((t, call)) = self.deadlines.first().cloned() {
            if t > now {
                break;
            }
            self.deadlines.remove(&(t, call.clone()));
            if let Some(a) = self.calls.get_mut(&call) {
                a.deadline = None;
                let tenant = a.tenant.clone();
                self.events
                    .push_back(GuardEvent::MaxDuration { call, tenant });
            }
        }
    }

    /// The next event, until `None`.
    pub fn poll_event(&mut self) -> Option<GuardEvent> {
        self.events.pop_front()
    }

    /// The counters of every organisation the guard knows, by slug.
    pub fn snapshot(&self, now: Instant) -> Vec<Counters> {
        let in_window = |q: &VecDeque<Instant>| {
            count(
                q.iter()
                    .filter(|t| now.saturating_duration_since(**t) < WINDOW)
                    .count(),
            )
        };
        self.orgs
            .iter()
            .map(|(tenant, o)| {
                let l = o.limits();
                Counters {
                    tenant: tenant.clone(),
                    outside_calls: o.active,
                    emergency_calls: o.emergency,
                    max_outside_calls: l.max_outside_calls,
                    international_last_hour: in_window(&o.international),
                    max_international_per_hour: l.max_international_per_hour,
                    betaalnummers_last_hour: in_window(&o.betaalnummers),
                    max_betaalnummers_per_hour: l.max_betaalnummers_per_hour,
                    blocked: o.blocked,
                }
            })
            .collect()
    }

    /// The counters of one organisation (the defaults when the guard does not know it).
    pub fn counters(&self, tenant: &str, now: Instant) -> Counters {
        self.snapshot(now)
            .into_iter()
            .find(|c| c.tenant == tenant)
            .unwrap_or_else(|| {
                let l = GuardLimits::default();
                Counters {
                    tenant: tenant.to_string(),
                    outside_calls: 0,
                    emergency_calls: 0,
                    max_outside_calls: l.max_outside_calls,
                    international_last_hour: 0,
                    max_international_per_hour: l.max_international_per_hour,
                    betaalnummers_last_hour: 0,
                    max_betaalnummers_per_hour: l.max_betaalnummers_per_hour,
                    blocked: [0; 3],
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NumberClass::*;

    fn limits() -> GuardLimits {
        GuardLimits {
            max_outside_calls: 3,
            max_international_per_hour: 2,
            max_betaalnummers_per_hour: 1,
            max_call: Duration::from_secs(600),
        }
    }

    fn guard() -> (Guard, Instant) {
        let mut g = Guard::new();
        g.set_limits("acme", limits());
        (g, Instant::now())
    }

    fn call(n: u32) -> CallRef {
        CallRef(format!("c{n}"))
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn blocked(v: Verdict) -> Option<Limit> {
        match v {
            Verdict::Ok => None,
            Verdict::Blocked(b) => Some(b.limit),
        }
    }

    fn alarms(g: &mut Guard) -> Vec<(String, Limit, u64)> {
        let mut out = Vec::new();
        while let Some(e) = g.poll_event() {
            if let GuardEvent::Alarm {
                tenant,
                blocked,
                total_blocked,
            } = e
            {
                out.push((tenant, blocked.limit, total_blocked));
            }
        }
        out
    }

    #[test]
    fn concurrent_outside_calls() {
        let (mut g, t0) = guard();
        for n in 0..3 {
            assert_eq!(g.admit(call(n), "acme", Mobiel, t0), Verdict::Ok);
        }
        let v = g.admit(call(3), "acme", VastNationaal, t0);
        assert_eq!(
            v,
            Verdict::Blocked(Blocked {
                limit: Limit::OutsideCalls,
                max: 3,
                current: 3
            })
        );
        // Internal calls and 112 are never blocked.
        assert_eq!(g.admit(call(4), "acme", Intern, t0), Verdict::Ok);
        assert_eq!(g.admit(call(5), "acme", Alarm, t0), Verdict::Ok);
        let c = g.counters("acme", t0);
        assert_eq!((c.outside_calls, c.emergency_calls), (4, 1));
        assert_eq!(c.blocked, [1, 0, 0]);
        // Ending a call frees a channel only once the 112 call is gone too.
        g.ended(&call(0));
        assert!(blocked(g.admit(call(6), "acme", Mobiel, t0)).is_some());
        g.ended(&call(5));
        g.ended(&call(5)); // twice: no effect
        g.ended(&call(99)); // unknown: no effect
        assert_eq!(g.admit(call(6), "acme", Mobiel, t0), Verdict::Ok);
        assert_eq!(g.counters("acme", t0).outside_calls, 3);
        // The same call started twice counts once.
        g.ended(&call(6));
        g.started(call(1), "acme", Mobiel, t0);
        assert_eq!(g.counters("acme", t0).outside_calls, 2);
    }

    #[test]
    fn hourly_limits_slide() {
        let (mut g, t0) = guard();
        assert_eq!(g.admit(call(1), "acme", Internationaal, t0), Verdict::Ok);
        g.ended(&call(1));
        assert_eq!(
            g.admit(call(2), "acme", Internationaal, t0 + secs(1200)),
            Verdict::Ok
        );
        g.ended(&call(2));
        // Two in the last hour: the third is blocked, although none is running.
        assert_eq!(
            blocked(g.admit(call(3), "acme", Internationaal, t0 + secs(1800))),
            Some(Limit::InternationalPerHour)
        );
        // National calls are not affected.
        assert_eq!(
            g.admit(call(4), "acme", Mobiel, t0 + secs(1800)),
            Verdict::Ok
        );
        g.ended(&call(4));
        // One hour after the first, one slot is free again; the next waits for the second.
        assert!(blocked(g.admit(call(5), "acme", Internationaal, t0 + secs(3599))).is_some());
        assert_eq!(
            g.admit(call(5), "acme", Internationaal, t0 + secs(3600)),
            Verdict::Ok
        );
        assert!(blocked(g.admit(call(6), "acme", Internationaal, t0 + secs(3600))).is_some());
        assert_eq!(
            g.admit(call(6), "acme", Internationaal, t0 + secs(4800)),
            Verdict::Ok
        );
        // Betaalnummers: one per hour.
        assert_eq!(
            g.admit(call(7), "acme", Betaalnummers, t0 + secs(5000)),
            Verdict::Ok
        );
        g.ended(&call(7));
        assert_eq!(
            blocked(g.admit(call(8), "acme", Betaalnummers, t0 + secs(5060))),
            Some(Limit::BetaalnummersPerHour)
        );
        let c = g.counters("acme", t0 + secs(5060));
        assert_eq!(
            (c.international_last_hour, c.betaalnummers_last_hour),
            (2, 1)
        );
        let c = g.counters("acme", t0 + secs(8600));
        assert_eq!(
            (c.international_last_hour, c.betaalnummers_last_hour),
            (0, 0)
        );
        assert_eq!(c.blocked, [0, 3, 1]);
    }

    #[test]
    fn one_alarm_per_minute_per_limit() {
        let (mut g, t0) = guard();
        g.admit(call(1), "acme", Betaalnummers, t0);
        for s in 0..30 {
            g.admit(
                call(100 + s),
                "acme",
                Betaalnummers,
                t0 + secs(u64::from(s)),
            );
        }
        assert_eq!(
            alarms(&mut g),
            vec![("acme".into(), Limit::BetaalnummersPerHour, 1)]
        );
        g.admit(call(200), "acme", Betaalnummers, t0 + secs(59));
        assert!(alarms(&mut g).is_empty());
        g.admit(call(201), "acme", Betaalnummers, t0 + secs(60));
        assert_eq!(
            alarms(&mut g),
            vec![("acme".into(), Limit::BetaalnummersPerHour, 32)]
        );
        // Another limit has its own alarm.
        for n in 2..=3 {
            g.admit(call(n), "acme", Mobiel, t0 + secs(61));
        }
        g.admit(call(4), "acme", Mobiel, t0 + secs(61));
        assert_eq!(
            alarms(&mut g),
            vec![("acme".into(), Limit::OutsideCalls, 1)]
        );
    }

    #[test]
    fn maximum_duration() {
        let (mut g, t0) = guard();
        assert_eq!(g.poll_timeout(), None);
        g.admit(call(1), "acme", Mobiel, t0);
        g.admit(call(2), "acme", Alarm, t0);
        g.admit(call(3), "acme", VastNationaal, t0 + secs(10));
        assert_eq!(g.poll_timeout(), Some(t0 + secs(600)));
        // Call 1 is answered after 30 s: its 600 s run from then.
        g.answered(&call(1), t0 + secs(30));
        assert_eq!(g.poll_timeout(), Some(t0 + secs(610)));
        g.handle_timeout(t0 + secs(609));
        assert_eq!(g.poll_event(), None);
        g.handle_timeout(t0 + secs(630));
        assert_eq!(
            g.poll_event(),
            Some(GuardEvent::MaxDuration {
                call: call(3),
                tenant: "acme".into()
            })
        );
        assert_eq!(
            g.poll_event(),
            Some(GuardEvent::MaxDuration {
                call: call(1),
                tenant: "acme".into()
            })
        );
        assert_eq!(g.poll_event(), None);
        // Reported once; 112 has no deadline.
        g.handle_timeout(t0 + secs(100_000));
        assert_eq!(g.poll_event(), None);
        assert_eq!(g.poll_timeout(), None);
        // An ended call's deadline goes with it.
        g.admit(call(4), "acme", Mobiel, t0 + secs(700));
        g.ended(&call(4));
        assert_eq!(g.poll_timeout(), None);
    }

    #[test]
    fn organisations_apart_and_defaults() {
        let (mut g, t0) = guard();
        g.set_limits(
            "globex",
            GuardLimits {
                max_outside_calls: 1,
                ..limits()
            },
        );
        g.admit(call(1), "globex", Mobiel, t0);
        assert!(blocked(g.admit(call(2), "globex", Mobiel, t0)).is_some());
        assert_eq!(g.admit(call(3), "acme", Mobiel, t0), Verdict::Ok);
        // An organisation without limits gets the defaults of a new organisation (10 outside calls).
        for n in 10..20 {
            assert_eq!(g.admit(call(n), "initech", Mobiel, t0), Verdict::Ok);
        }
        assert!(blocked(g.admit(call(20), "initech", Mobiel, t0)).is_some());
        let snap = g.snapshot(t0);
        let names: Vec<&str> = snap.iter().map(|c| c.tenant.as_str()).collect();
        assert_eq!(names, vec!["acme", "globex", "initech"]);
        assert_eq!(snap[2].max_outside_calls, 10);
    }

    #[test]
    fn refusal_of_a_block() {
        let b = Blocked {
            limit: Limit::InternationalPerHour,
            max: 20,
            current: 20,
        };
        let r = b.refusal();
        assert_eq!((r.code, r.audit), (403, true));
        assert!(r.reason.to_string().contains("20"), "{}", r.reason);
        let limits = GuardLimits::of(&Tenant::new("acme", "Acme"));
        assert_eq!(limits.max_call, Duration::from_secs(7200));
    }
}

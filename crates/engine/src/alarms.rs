//! Alarms in virtual time: rules over metrics, evaluated per scope key, with a lifecycle.
//!
//! The glue feeds [`Alarms::observe`] with samples (a call's MOS when it ends, an
//! authentication failure from an address, a trunk going down …) and calls
//! [`Alarms::evaluate`] every second; it drains [`Alarms::poll_notice`] and hands each notice to
//! the sinks (log, control-API event, webhook, e-mail, command).
//!
//! - **Aggregation** per metric over the rule's window: averages for quality (`mos`, `loss`,
//!   `jitter`), counts for events (`auth_failures`, `one_way_calls`, `call_limit`,
//!   `store_errors`, `restart`), the last value for states (`trunk_down`, `disk_free`).
//!   An average over no samples is no value: the condition does not hold (and a firing alarm
//!   resolves when its window has emptied).
//! - **Scope**: every sample carries a key (`""` for global, the organisation, the trunk as
//!   `org/name`, the source address for `auth_failures`); a rule with scope `global` folds all
//!   keys into one, the others evaluate each key apart, so one trunk's alarm does not hide
//!   another's.
//! - **Lifecycle** per rule and key: the condition holds → `firing` (one notice); it keeps
//!   holding → a reminder every `repeat` (none after an acknowledgement); it no longer holds →
//!   `resolved` (one notice). Silencing a rule+key until a time suppresses notices, not the
//!   state. De-duplication is by (rule, key): a burst of samples never gives a second `firing`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::Duration;

/// Most samples kept per rule and key (a flood of auth failures counts up to this).
pub const MAX_SAMPLES: usize = 10_000;

/// Most alarm states kept (rule × key); beyond it, resolved states are forgotten first.
pub const MAX_STATES: usize = 10_000;

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// MOS of ended calls (average).
    Mos,
    /// Packet loss of ended calls, percent (average).
    Loss,
    /// Jitter of ended calls, ms (average).
    Jitter,
    /// Calls with one-way audio (count).
    OneWayCalls,
    /// A trunk is down or its registration fails (last value: 1 or 0).
    TrunkDown,
    /// Failed authentications from one address (count).
    AuthFailures,
    /// Calls refused at an organisation's call limit (count).
    CallLimit,
    /// Store write errors (count).
    StoreErrors,
    /// Free space of the state folder's disk, percent (last value).
    DiskFree,
    /// pbxd started (count).
    Restart,
    /// Callers waiting in a queue now (last value, per queue `org/number`).
    QueueWaiting,
    /// Calls to a queue lost: the caller hung up or nobody answered (count, per queue).
    QueueLost,
}

impl Metric {
    /// All metrics.
    pub const ALL: [Metric; 12] = [
        Metric::Mos,
        Metric::Loss,
        Metric::Jitter,
        Metric::OneWayCalls,
        Metric::TrunkDown,
        Metric::AuthFailures,
        Metric::CallLimit,
        Metric::StoreErrors,
        Metric::DiskFree,
        Metric::Restart,
        Metric::QueueWaiting,
        Metric::QueueLost,
    ];

    /// The name in `alarms.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Mos => "mos",
            Metric::Loss => "verlies",
            Metric::Jitter => "jitter",
            Metric::OneWayCalls => "eenrichtingsgeluid",
            Metric::TrunkDown => "trunk_onbereikbaar",
            Metric::AuthFailures => "mislukte_aanmeldingen",
            Metric::CallLimit => "gesprekslimiet",
            Metric::StoreErrors => "opslagfouten",
            Metric::DiskFree => "schijf_vrij",
            Metric::Restart => "herstart",
            Metric::QueueWaiting => "wachtrij_wachtend",
            Metric::QueueLost => "wachtrij_verloren",
        }
    }

    /// Parses a name of [`Metric::as_str`].
    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }

    fn aggregation(self) -> Aggregation {
        match self {
            Metric::Mos | Metric::Loss | Metric::Jitter => Aggregation::Average,
            Metric::TrunkDown | Metric::DiskFree | Metric::QueueWaiting => Aggregation::Last,
            _ => Aggregation::Count,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aggregation {
    Average,
    Count,
    Last,
}

/// Above or below the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Value > threshold.
    Above,
    /// Value < threshold.
    Below,
}

/// How bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// For information.
    Info,
    /// Needs attention.
    Waarschuwing,
    /// Customers are affected.
    Kritiek,
}

impl Severity {
    /// The name in `alarms.toml` and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Waarschuwing => "waarschuwing",
            Severity::Kritiek => "kritiek",
        }
    }

    /// Parses a name of [`Severity::as_str`].
    pub fn parse(s: &str) -> Option<Severity> {
        [Severity::Info, Severity::Waarschuwing, Severity::Kritiek]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// Over what a rule is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything together.
    Global,
    /// Each organisation apart.
    Organisatie,
    /// Each trunk apart.
    Trunk,
    /// Each queue apart.
    Wachtrij,
    /// Each source address apart (`auth_failures`).
    Adres,
}

impl Scope {
    /// The name in `alarms.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Global => "globaal",
            Scope::Organisatie => "organisatie",
            Scope::Trunk => "trunk",
            Scope::Wachtrij => "wachtrij",
            Scope::Adres => "adres",
        }
    }

    /// Parses a name of [`Scope::as_str`].
    pub fn parse(s: &str) -> Option<Scope> {
        [
            Scope::Global,
            Scope::Organisatie,
            Scope::Trunk,
            Scope::Wachtrij,
            Scope::Adres,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One alarm rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// What is measured.
    pub metric: Metric,
    /// Above or below.
    pub condition: Condition,
    /// The threshold.
    pub threshold: f64,
    /// The window the samples are taken over.
    pub window: Duration,
    /// How bad.
    pub severity: Severity,
    /// Evaluated per what.
    pub scope: Scope,
    /// Reminder interval while it keeps firing (zero: none).
    pub repeat: Duration,
}

/// A measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// What.
    pub metric: Metric,
    /// For which key: `""` (global), the organisation, `org/trunk`, an address.
    pub key: String,
    /// The organisation it belongs to, when any (rules with scope `organisatie` use it).
    pub tenant: Option<String>,
    /// The value (1 for an event).
    pub value: f64,
}

/// The state of an alarm (rule and key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The condition holds.
    Firing,
    /// It held and no longer does.
    Resolved,
}

impl State {
    /// `firing` / `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Firing => "firing",
            State::Resolved => "resolved",
        }
    }
}

/// An alarm as `pbxctl alarm list` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmView {
    /// `rule` or `rule:key`: what `ack` and `silence` take.
    pub id: String,
    /// Rule name.
    pub rule: String,
    /// Scope key.
    pub key: String,
    /// Organisation, when the key has one.
    pub tenant: Option<String>,
    /// Metric.
    pub metric: Metric,
    /// Severity.
    pub severity: Severity,
    /// State.
    pub state: State,
    /// The value that made it fire (or its last value).
    pub value: f64,
    /// Threshold.
    pub threshold: f64,
    /// Since when in this state (ms of the caller's clock).
    pub since_ms: u64,
    /// Acknowledged.
    pub acked: bool,
    /// Silenced until (ms), when silenced.
    pub silenced_until_ms: Option<u64>,
}

/// What a notice is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// Started firing.
    Firing,
    /// Still firing (repeat interval).
    Reminder,
    /// Resolved.
    Resolved,
}

impl NoticeKind {
    /// `firing`, `reminder`, `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Firing => "firing",
            NoticeKind::Reminder => "reminder",
            NoticeKind::Resolved => "resolved",
        }
    }
}

/// A notice for the sinks.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// The alarm.
    pub alarm: AlarmView,
}

#[derive(Clone, Debug)]
struct Alarm {
    state: State,
    since_ms: u64,
    value: f64,
    tenant: Option<String>,
    acked: bool,
    silenced_until_ms: Option<u64>,
    last_notice_ms: u64,
}

/// The samples of one rule and key: (ms, value, organisation), oldest first.
type Samples = VecDeque<(u64, f64, Option<String>)>;

/// The alarms of pbxd.
#[derive(Debug, Default)]
pub struct Alarms {
    rules: Vec<Rule>,
    /// Samples per (rule index, key).
    samples: BTreeMap<(usize, String), Samples>,
    alarms: BTreeMap<(String, String), Alarm>,
    notices: VecDeque<Notice>,
}

fn id_of(rule: &str, key: &str) -> String {
    if key.is_empty() {
        rule.to_string()
    } else {
        format!("{rule}:{key}")
    }
}

impl Alarms {
    /// Alarms with these rules.
    pub fn new(rules: Vec<Rule>) -> Alarms {
        Alarms {
            rules,
            ..Alarms::default()
        }
    }

    /// Replaces the rules (a reload): states of rules that are gone are dropped.
    pub fn set_rules(&mut self, rules: Vec<Rule>) {
        self.alarms
            .retain(|(r, _), _| rules.iter().any(|x| &x.name == r));
        self.samples.clear();
        self.rules = rules;
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// A measurement at `now_ms`.
    pub fn observe(&mut self, s: Sample, now_ms: u64) {
        if !s.value.is_finite() {
            return;
        }
        for (i, r) in self.rules.iter().enumerate() {
            if r.metric != s.metric {
                continue;
            }
            let key = match r.scope {
                Scope::Global => String::new(),
                Scope::Organisatie => match &s.tenant {
                    Some(t) => t.clone(),
                    None => continue,
                },
                // A sample without a key of this kind (an internal call for a trunk rule).
                _ if s.key.is_empty() => continue,
                _ => s.key.clone(),
            };
            let q = self.samples.entry((i, key)).or_default();
            if q.len() >= MAX_SAMPLES {
                q.pop_front();
            }
            q.push_back((now_ms, s.value, s.tenant.clone()));
        }
    }

    /// Evaluates every rule at `now_ms`; notices go to [`Alarms::poll_notice`].
    pub fn evaluate(&mut self, now_ms: u64) {
        // Forget samples outside their window.
        for ((i, _), q) in self.samples.iter_mut() {
            let window = self.rules.get(*i).map_or(0, |r| {
                u64::try_from(r.window.as_millis()).unwrap_or(u64::MAX)
            });
            let from = now_ms.saturating_sub(window);
            while q.front().is_some_and(|(t, _, _)| *t < from) {
                // `Last` keeps its latest value even when old: a trunk stays down until it
                // reports otherwise.
                let last =
                    self.rules.get(*i).map(|r| r.metric.aggregation()) == Some(Aggregation::Last);
                if last && q.len() == 1 {
                    break;
                }
                q.pop_front();
            }
        }
        self.samples.retain(|_, q| !q.is_empty());
        let mut seen: Vec<(String, String)> = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            for ((ri, key), q) in self.samples.range((i, String::new())..) {
                if *ri != i {
                    break;
                }
                let value = match r.metric.aggregation() {
                    Aggregation::Average => q.iter().map(|s| s.1).sum::<f64>() / q.len() as f64,
                    Aggregation::Count => q.iter().map(|s| s.1).sum::<f64>(),
                    Aggregation::Last => q.back().map_or(0.0, |s| s.1),
                };
                let holds = match r.condition {
                    Condition::Above => value > r.threshold,
                    Condition::Below => value < r.threshold,
                };
                let tenant = q.back().and_then(|s| s.2.clone());
                seen.push((r.name.clone(), key.clone()));
                step(
                    &mut self.alarms,
                    &mut self.notices,
                    r,
                    key,
                    tenant,
                    holds,
                    value,
                    now_ms,
                );
            }
        }
        // A firing alarm without samples any more (its window emptied) resolves.
        let silent: Vec<(String, String)> = self
            .alarms
            .iter()
            .filter(|(k, a)| a.state == State::Firing && !seen.contains(k))
            .map(|(k, _)| k.clone())
            .collect();
        for (rule, key) in silent {
            if let Some(r) = self.rules.iter().find(|r| r.name == rule).cloned() {
                let tenant = self
                    .alarms
                    .get(&(rule.clone(), key.clone()))
                    .and_then(|a| a.tenant.clone());
                step(
                    &mut self.alarms,
                    &mut self.notices,
                    &r,
                    &key,
                    tenant,
                    false,
                    0.0,
                    now_ms,
                );
            }
        }
        if self.alarms.len() > MAX_STATES {
            let resolved: Vec<(String, String)> = self
                .alarms
                .iter()
                .filter(|(_, a)| a.state == State::Resolved)
                .map(|(k, _)| k.clone())
                .collect();
            for k in resolved.into_iter().take(self.alarms.len() - MAX_STATES) {
                self.alarms.remove(&k);
            }
        }
    }

    /// The next notice for the sinks.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    /// All alarms, firing first, newest first.
    pub fn list(&self) -> Vec<AlarmView> {
        let mut v: Vec<AlarmView> = self
            .alarms
            .iter()
            .filter_map(|((rule, key), a)| {
                let r = self.rules.iter().find(|r| &r.name == rule)?;
                Some(view(r, key, a))
            })
            .collect();
        v.sort_by(|a, b| {
            (
                a.state != State::Firing,
                std::cmp::Reverse(a.since_ms),
                &a.id,
            )
                .cmp(&(
                    b.state != State::Firing,
                    std::cmp::Reverse(b.since_ms),
                    &b.id,
                ))
        });
        v
    }

    /// Acknowledges an alarm (`rule` or `rule:key`): no more reminders while it fires.
    pub fn ack(&mut self, id: &str) -> bool {
        self.find_mut(id).map(|a| a.acked = true).is_some()
    }

    /// Silences an alarm until `until_ms`: no notices until then.
    pub fn silence(&mut self, id: &str, until_ms: u64) -> bool {
        self.find_mut(id)
            .map(|a| a.silenced_until_ms = Some(until_ms))
            .is_some()
    }

    fn find_mut(&mut self, id: &str) -> Option<&mut Alarm> {
        self.alarms
            .iter_mut()
            .find(|((r, k), _)| id_of(r, k) == id)
            .map(|(_, a)| a)
    }
}

fn view(r: &Rule, key: &str, a: &Alarm) -> AlarmView {
    AlarmView {
        id: id_of(&r.name, key),
        rule: r.name.clone(),
        key: key.to_string(),
        tenant: a.tenant.clone(),
        metric: r.metric,
        severity: r.severity,
        state: a.state,
        value: a.value,
        threshold: r.threshold,
        since_ms: a.since_ms,
        acked: a.acked,
        silenced_until_ms: a.silenced_until_ms,
    }
}

#[allow(clippy::too_many_arguments)]
fn step(
    alarms: &mut BTreeMap<(String, String), Alarm>,
    notices: &mut VecDeque<Notice>,
    r: &Rule,
    key: &str,
    tenant: Option<String>,
    holds: bool,
    value: f64,
    now_ms: u64,
) {
    let k = (r.name.clone(), key.to_string());
    let kind = match (alarms.get_mut(&k), holds) {
        (None, false) => return,
        (None, true) => {
            alarms.insert(
                k.clone(),
                Alarm {
                    state: State::Firing,
                    since_ms: now_ms,
                    value,
                    tenant,
                    acked: false,
                    silenced_until_ms: None,
                    last_notice_ms: now_ms,
                },
            );
            NoticeKind::Firing
        }
        (Some(a), true) if a.state == State::Resolved => {
            a.state = State::Firing;
            a.since_ms = now_ms;
            a.value = value;
            a.acked = false;
            a.last_notice_ms = now_ms;
            NoticeKind::Firing
        }
        (Some(a), true) => {
            a.value = value;
            let repeat = u64::try_from(r.repeat.as_millis()).unwrap_or(u64::MAX);
            if a.acked || repeat == 0 || now_ms.saturating_sub(a.last_notice_ms) < repeat {
                return;
            }
            a.last_notice_ms = now_ms;
            NoticeKind::Reminder
        }
        (Some(a), false) if a.state == State::Firing => {
            a.state = State::Resolved;
            a.since_ms = now_ms;
            a.last_notice_ms = now_ms;
            NoticeKind::Resolved
        }
        (Some(_), false) => return,
    };
    let Some(a) = alarms.get(&k) else { return };
    if a.silenced_until_ms.is_some_and(|t| now_ms < t) {
        return;
    }
    notices.push_back(Notice {
        kind,
        alarm: view(r, key, a),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, metric: Metric, cond: Condition, threshold: f64, scope: Scope) -> Rule {
        Rule {
            name: name.into(),
            metric,
            condition: cond,
            threshold,
            window: Duration::from_secs(60),
            severity: Severity::Waarschuwing,
            scope,
            repeat: Duration::from_secs(300),
        }
    }

    fn sample(metric: Metric, key: &str, tenant: Option<&str>, value: f64) -> Sample {
        Sample {
            metric,
            key: key.into(),
            tenant: tenant.map(String::from),
            value,
        }
    }

    fn drain(a: &mut Alarms) -> Vec<(NoticeKind, String)> {
        std::iter::from_fn(|| a.poll_notice())
            .map(|n| (n.kind, n.alarm.id))
            .collect()
    }

    const S: u64 = 1000;

    #[test]
    fn low_mos_fires_once_reminds_and_resolves_when_the_window_empties() {
        let mut r = rule(
            "lage_mos",
            Metric::Mos,
            Condition::Below,
            3.6,
            Scope::Organisatie,
        );
        r.window = Duration::from_secs(600);
        let mut a = Alarms::new(vec![r]);
        a.observe(sample(Metric::Mos, "c1", Some("acme"), 3.0), 0);
        a.observe(sample(Metric::Mos, "c2", Some("acme"), 3.2), S);
        a.observe(sample(Metric::Mos, "c3", Some("globex"), 4.4), S);
        a.evaluate(2 * S);
        assert_eq!(
            drain(&mut a),
            vec![(NoticeKind::Firing, "lage_mos:acme".into())]
        );
        // More bad calls: no second firing.
        a.observe(sample(Metric::Mos, "c4", Some("acme"), 2.9), 3 * S);
        a.evaluate(4 * S);
        assert!(drain(&mut a).is_empty());
        let l = a.list();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].state, State::Firing);
        assert!((l[0].value - (3.0 + 3.2 + 2.9) / 3.0).abs() < 1e-9);
        // A reminder after the repeat interval (300 s after the first notice), not before.
        a.evaluate(301 * S);
        assert!(drain(&mut a).is_empty());
        a.evaluate(302 * S);
        assert_eq!(
            drain(&mut a),
            vec![(NoticeKind::Reminder, "lage_mos:acme".into())]
        );
        // The window (600 s) has emptied: resolved.
        a.evaluate(604 * S);
        assert_eq!(
            drain(&mut a),
            vec![(NoticeKind::Resolved, "lage_mos:acme".into())]
        );
        assert_eq!(a.list()[0].state, State::Resolved);
    }

    #[test]
    fn reminders_stop_after_an_acknowledgement_and_silence_suppresses_notices() {
        let mut r = rule(
            "trunk_weg",
            Metric::TrunkDown,
            Condition::Above,
            0.5,
            Scope::Trunk,
        );
        r.repeat = Duration::from_secs(10);
        let mut a = Alarms::new(vec![r]);
        a.observe(sample(Metric::TrunkDown, "acme/kpn", Some("acme"), 1.0), 0);
        a.evaluate(0);
        assert_eq!(
            drain(&mut a),
            vec![(NoticeKind::Firing, "trunk_weg:acme/kpn".into())]
        );
        // The last value counts, also after the window: the trunk stays down.
        a.evaluate(100 * S);
        assert_eq!(
            drain(&mut a),
            vec![(NoticeKind::Reminder, "trunk_weg:acme/kpn".into())]
        );
        assert!(a.ack("trunk_weg:acme/kpn"));
        a.evaluate(200 * S);
        assert!(drain(&mut a).is_empty(), "acknowledged: no reminders");
        assert!(a.silence("trunk_weg:acme/kpn", 400 * S));
        a.observe(
            sample(Metric::TrunkDown, "acme/kpn", Some("acme"), 0.0),
            300 * S,
        );
        a.evaluate(300 * S);
        assert!(
            drain(&mut a).is_empty(),
            "silenced: the resolve is not sent"
        );
        assert_eq!(a.list()[0].state, State::Resolved);
        // Down again after the silence: fires, and the acknowledgement is gone.
        a.observe(
            sample(Metric::TrunkDown, "acme/kpn", Some("acme"), 1.0),
            500 * S,
        );
        a.evaluate(500 * S);
        assert_eq!(
            drain(&mut a),
            vec![(NoticeKind::Firing, "trunk_weg:acme/kpn".into())]
        );
        assert!(!a.list()[0].acked);
        assert!(!a.ack("bestaat:niet"));
    }

    #[test]
    fn brute_force_counts_per_address() {
        let mut r = rule(
            "brute_force",
            Metric::AuthFailures,
            Condition::Above,
            9.0,
            Scope::Adres,
        );
        r.window = Duration::from_secs(10);
        let mut a = Alarms::new(vec![r]);
        // Ten failures in a second from one address; one every 5 s from another.
        for i in 0..10 {
            a.observe(
                sample(Metric::AuthFailures, "198.51.100.7", None, 1.0),
                i * 100,
            );
        }
        a.evaluate(S);
        assert_eq!(
            drain(&mut a),
            vec![(NoticeKind::Firing, "brute_force:198.51.100.7".into())]
        );
        for i in 1..10 {
            a.observe(
                sample(Metric::AuthFailures, "203.0.113.9", None, 1.0),
                i * 5 * S,
            );
            a.evaluate(i * 5 * S);
        }
        let notices = drain(&mut a);
        assert_eq!(
            notices,
            vec![(NoticeKind::Resolved, "brute_force:198.51.100.7".into())],
            "two failures per 10 s never fire"
        );
    }

    #[test]
    fn a_global_rule_folds_all_keys_and_reloads_keep_only_known_rules() {
        let mut a = Alarms::new(vec![rule(
            "eenrichting",
            Metric::OneWayCalls,
            Condition::Above,
            1.0,
            Scope::Global,
        )]);
        a.observe(sample(Metric::OneWayCalls, "acme", Some("acme"), 1.0), 0);
        a.evaluate(0);
        assert!(drain(&mut a).is_empty(), "one is not above 1");
        a.observe(
            sample(Metric::OneWayCalls, "globex", Some("globex"), 1.0),
            0,
        );
        a.evaluate(0);
        assert_eq!(
            drain(&mut a),
            vec![(NoticeKind::Firing, "eenrichting".into())]
        );
        a.set_rules(vec![]);
        assert!(a.list().is_empty());
        a.observe(sample(Metric::OneWayCalls, "x", None, f64::NAN), 0);
        a.evaluate(0);
        assert!(drain(&mut a).is_empty());
    }

    #[test]
    fn names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.as_str()), Some(m));
        }
        assert_eq!(Severity::parse("kritiek"), Some(Severity::Kritiek));
        assert_eq!(Scope::parse("trunk"), Some(Scope::Trunk));
        assert_eq!(Metric::parse("onzin"), None);
    }
}

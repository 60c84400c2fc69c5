//! Outbound routing: what happens to a number an extension dials. A pure function of the
//! organisation ([`TenantBundle`]: belplan, numbers, trunks, toll-fraud settings), the caller
//! (call permission, own number, anonymous or not), the dialled string and the local time.
//!
//! The order, first decision wins:
//! 1. **112** (`112`, `+31112`, `0031112`, `0112`) is always an [`Decision::Emergency`]: no rule,
//!    permission, suspension or toll-fraud setting can block it. `911` and `999` are mapped to 112
//!    too (visitors dial them in a panic, mobile networks do the same), unless the organisation
//!    has that exact number as an extension, queue or belgroep: then it is an ordinary internal
//!    number (rules and permissions apply).
//! 2. A suspended organisation gets 403 for everything else.
//! 3. The belplan rules in order; the first whose pattern, and schedule condition, holds decides.
//!    Rules with a DID are inbound rules and are skipped. A rule naming a schedule that does not
//!    exist never matches (`pbxctl check` reports it).
//! 4. The organisation's own numbers: extension, queue, belgroep.
//! 5. Nothing matched: 404.
//!
//! Every destination needs the caller's call permission for its class: internal destinations
//! [`NumberClass::Intern`], numbers sent to trunks their [`classify_outside`] class. International
//! numbers and betaalnummers also need the organisation to have switched them on
//! ([`TollFraud`]). Refusals of permission say 403, carry an announcement and ask for an audit
//! entry. The per-hour and concurrency limits are not decided here but by the stateful
//! [`crate::tollfraud::Guard`], which the glue asks after an [`Decision::Outside`].
//!
//! Call forwarding to an outside number goes through the same function, with the forwarding
//! extension's owner as the caller.
//!
//! `at` is local time (Europe/Amsterdam for Dutch organisations); the glue converts.

use chrono::NaiveDateTime;
use pbx_i18n::Msg;
use pbx_model::belplan::{Action, Rule};
use pbx_model::numbering::{classify_outside, is_alarm};
use pbx_model::tollfraud::TollFraud;
use pbx_model::{CallPermission, NumberClass, TenantBundle, TenantStatus, E164};
use std::time::Duration;

/// Longest dialled string looked at; longer is refused with 404 (E.164 has 15 digits, `00` and
/// separators add a few).
pub const MAX_DIALLED: usize = 32;

/// The emergency number in E.164 form, as a trunk that wants `+` numbers gets it.
pub const EMERGENCY_E164: &str = "+31112";
/// The emergency number in national form, as most Dutch trunks want it.
pub const EMERGENCY_NATIONAL: &str = "112";

/// Announcement for a call that is not allowed (shipped prompt name).
pub const PROMPT_NOT_ALLOWED: &str = "niet-toegestaan";
/// Announcement for a number that cannot be reached.
pub const PROMPT_NOT_AVAILABLE: &str = "niet-beschikbaar";

/// Who dials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Extension number of the caller.
    pub extension: String,
    /// The call permission of the extension's owner (or of the extension when it has none).
    pub permission: CallPermission,
    /// The caller's own outside number (a DID of the organisation), if it has one.
    pub number: Option<E164>,
    /// Hide the number from the called party (the provider still gets it, asserted).
    pub anonymous: bool,
}

/// A trunk to try, in order, with the caller ID to present on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrunkChoice {
    /// Trunk name.
    pub name: String,
    /// The caller's own number, else the trunk's caller ID (the organisation's number on that
    /// trunk); `None` when neither exists (the provider fills it in).
    pub caller_id: Option<E164>,
}

/// A call out through the organisation's trunks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outside {
    /// The class the permission was checked for; the toll-fraud guard counts by it.
    pub class: NumberClass,
    /// The number in E.164 form; `None` for Dutch short service numbers (14 0xx, 18xx, 116xxx).
    pub e164: Option<E164>,
    /// The number as a Dutch caller dials it (`0201234567`, `0044…`, `14020`), for trunks that want
    /// national numbers.
    pub national: String,
    /// Trunks in the order to try them: the rule's group, sorted stably by trunk priority,
    /// without trunks that are disabled or do not exist.
    pub trunks: Vec<TrunkChoice>,
    /// Present the number as anonymous (`Privacy: id`, the number only asserted).
    pub anonymous: bool,
    /// Hang up after this long (the organisation's maximum for outside calls).
    pub max_duration: Duration,
}

/// A call to 112.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emergency {
    /// What was dialled (`112`, `0112`, `911`, …), for the CDR and the audit entry.
    pub dialled: String,
    /// [`EMERGENCY_E164`].
    pub e164: &'static str,
    /// [`EMERGENCY_NATIONAL`].
    pub national: &'static str,
    /// Every enabled trunk of the organisation, by priority. Empty when it has none; the glue
    /// then raises an alarm.
    pub trunks: Vec<TrunkChoice>,
}

/// Why a call is refused, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// SIP status: 403 (not allowed), 404 (no such number), 503 (no trunk), or a rule's own code.
    pub code: u16,
    /// The reason, for the audit entry, the CDR and traces.
    pub reason: Msg,
    /// Announcement to play before the final answer, if any.
    pub prompt: Option<&'static str>,
    /// Write an audit entry (every refusal of permission or by the toll-fraud guard).
    pub audit: bool,
}

impl Refusal {
    /// 403 with the not-allowed announcement and an audit entry.
    pub fn forbidden(reason: Msg) -> Refusal {
        Refusal {
            code: 403,
            reason,
            prompt: Some(PROMPT_NOT_ALLOWED),
            audit: true,
        }
    }

    fn not_found(reason: Msg) -> Refusal {
        Refusal {
            code: 404,
            reason,
            prompt: Some(PROMPT_NOT_AVAILABLE),
            audit: false,
        }
    }
}

/// What to do with a dialled number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Ring this extension of the organisation.
    Extension(String),
    /// Put the call in this queue.
    Queue(String),
    /// Ring this belgroep.
    Belgroep(String),
    /// Play this announcement (a rule's action), then hang up.
    Announcement(String),
    /// Answer with this keuzemenu.
    Keuzemenu(String),
    /// Out through the trunks.
    Outside(Outside),
    /// 112.
    Emergency(Emergency),
    /// Refused.
    Refuse(Refusal),
}

/// A decision and the index of the belplan rule that made it, if a rule did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routed {
    /// The decision.
    pub decision: Decision,
    /// Index in `belplan.rules`.
    pub rule: Option<usize>,
}

/// Separators people and phones put in numbers; they are dropped before anything else.
fn clean(dialled: &str) -> String {
    dialled
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}'))
        .collect()
}

fn is_number(s: &str) -> bool {
    let body = s.strip_prefix('+').unwrap_or(s);
    !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

/// Is this one of the organisation's own numbers?
fn internal(org: &TenantBundle, number: &str) -> Option<Decision> {
    if org.extensions.iter().any(|e| e.number == number) {
        Some(Decision::Extension(number.to_string()))
    } else if org.queues.iter().any(|q| q.number == number) {
        Some(Decision::Queue(number.to_string()))
    } else if org.ring_groups.iter().any(|g| g.number == number) {
        Some(Decision::Belgroep(number.to_string()))
    } else {
        None
    }
}

/// The enabled trunks among `names` that exist, sorted stably by priority, with caller IDs.
fn trunk_choices<'a>(
    org: &TenantBundle,
    names: impl Iterator<Item = &'a str>,
    caller: &Caller,
) -> Vec<TrunkChoice> {
    let mut found: Vec<(u32, TrunkChoice)> = Vec::new();
    for name in names {
        if found.iter().any(|(_, t)| t.name == name) {
            continue;
        }
        if let Some(t) = org.trunks.iter().find(|t| t.name == name && t.enabled) {
            found.push((
                t.priority,
                TrunkChoice {
                    name: t.name.clone(),
                    caller_id: caller.number.clone().or_else(|| t.caller_id.clone()),
                },
            ));
        }
    }
    found.sort_by_key(|(p, _)| *p);
    found.into_iter().map(|(_, t)| t).collect()
}

fn emergency(org: &TenantBundle, caller: &Caller, dialled: &str) -> Decision {
    Decision::Emergency(Emergency {
        dialled: dialled.to_string(),
        e164: EMERGENCY_E164,
        national: EMERGENCY_NATIONAL,
        trunks: trunk_choices(org, org.trunks.iter().map(|t| t.name.as_str()), caller),
    })
}

/// The national form of a Dutch number dialled internationally (`+31612345678` and
/// `0031612345678` → `0612345678`), so that a softphone dialling from its contacts meets the
/// same rules (`_06XXXXXXXX`) as someone dialling by hand.
fn national_form(number: &str) -> Option<String> {
    let rest = number
        .strip_prefix("+31")
        .or_else(|| number.strip_prefix("0031"))?;
    (!rest.is_empty() && !rest.starts_with('0')).then(|| format!("0{rest}"))
}

/// Does the rule's condition hold for an outbound call to `number` at `at`? A pattern may match
/// the number as dialled or its national form.
fn rule_matches(org: &TenantBundle, rule: &Rule, number: &str, at: NaiveDateTime) -> bool {
    let m = &rule.matches;
    if m.did.is_some() {
        return false;
    }
    if let Some(p) = &m.pattern {
        let national = national_form(number);
        if !p.matches(number) && !national.as_deref().is_some_and(|n| p.matches(n)) {
            return false;
        }
    }
    match &m.schedule {
        None => true,
        Some(name) => org
            .belplan
            .schedules
            .iter()
            .find(|s| &s.name == name)
            .is_some_and(|s| s.is_open(at) != m.closed),
    }
}

fn allowed_internal(caller: &Caller, d: Decision) -> Decision {
    if caller.permission.allows(NumberClass::Intern) {
        d
    } else {
        Decision::Refuse(Refusal::forbidden(
            Msg::new("route.not_allowed").arg("class", NumberClass::Intern.as_str()),
        ))
    }
}

/// An outside call to `number` through the trunks `names`, if class, organisation and caller
/// allow it.
fn outside(
    org: &TenantBundle,
    caller: &Caller,
    number: &str,
    names: &[String],
    toll: &TollFraud,
) -> Decision {
    let Some(class) = classify_outside(number) else {
        return Decision::Refuse(Refusal::not_found(
            Msg::new("route.invalid_number").arg("value", number),
        ));
    };
    if class == NumberClass::Alarm {
        // Not reached: 112 is decided before the rules. Kept so no path can refuse it.
        return emergency(org, caller, number);
    }
    if class == NumberClass::Internationaal && !toll.international {
        return Decision::Refuse(Refusal::forbidden(Msg::new("route.international_off")));
    }
    if class == NumberClass::Betaalnummers && !toll.betaalnummers {
        return Decision::Refuse(Refusal::forbidden(Msg::new("route.betaalnummers_off")));
    }
    if !caller.permission.allows(class) {
        return Decision::Refuse(Refusal::forbidden(
            Msg::new("route.not_allowed").arg("class", class.as_str()),
        ));
    }
    let e164 = if number.starts_with('0') || number.starts_with('+') {
        match E164::normalise(number) {
            Ok(e) => Some(e),
            Err(_) => {
                return Decision::Refuse(Refusal::not_found(
                    Msg::new("route.invalid_number").arg("value", number),
                ))
            }
        }
    } else {
        None
    };
    let trunks = trunk_choices(org, names.iter().map(String::as_str), caller);
    if trunks.is_empty() {
        return Decision::Refuse(Refusal {
            code: 503,
            reason: Msg::new("route.no_trunk"),
            prompt: Some(PROMPT_NOT_AVAILABLE),
            audit: false,
        });
    }
    Decision::Outside(Outside {
        class,
        national: e164
            .as_ref()
            .map(E164::national)
            .unwrap_or_else(|| number.to_string()),
        e164,
        trunks,
        anonymous: caller.anonymous,
        max_duration: Duration::from_secs(u64::from(toll.max_call_secs)),
    })
}

/// Decides what happens to `dialled`, called by `caller` of organisation `org` at local time `at`.
pub fn route(org: &TenantBundle, caller: &Caller, dialled: &str, at: NaiveDateTime) -> Decision {
    route_explained(org, caller, dialled, at).decision
}

/// [`route`], also telling which belplan rule decided.
pub fn route_explained(
    org: &TenantBundle,
    caller: &Caller,
    dialled: &str,
    at: NaiveDateTime,
) -> Routed {
    let plain = |decision| Routed {
        decision,
        rule: None,
    };
    let number = clean(dialled);
    if is_alarm(&number) {
        return plain(emergency(org, caller, &number));
    }
    if (number == "911" || number == "999") && internal(org, &number).is_none() {
        return plain(emergency(org, caller, &number));
    }
    if number.chars().count() > MAX_DIALLED {
        return plain(Decision::Refuse(Refusal::not_found(Msg::new(
            "route.too_long",
        ))));
    }
    if !is_number(&number) {
        return plain(Decision::Refuse(Refusal::not_found(
            Msg::new("route.invalid_number").arg("value", &number),
        )));
    }
    if org.tenant.status == TenantStatus::Suspended {
        return plain(Decision::Refuse(Refusal::forbidden(
            Msg::new("route.suspended").arg("tenant", &org.tenant.slug),
        )));
    }
    let toll = &org.tenant.toll_fraud;
    for (i, rule) in org.belplan.rules.iter().enumerate() {
        if !rule_matches(org, rule, &number, at) {
            continue;
        }
        let decision = match &rule.action {
            Action::Extension(n) => allowed_internal(caller, Decision::Extension(n.clone())),
            Action::Queue(n) => allowed_internal(caller, Decision::Queue(n.clone())),
            Action::Belgroep(n) => allowed_internal(caller, Decision::Belgroep(n.clone())),
            Action::Announcement(p) => Decision::Announcement(p.clone()),
            Action::Keuzemenu(m) => allowed_internal(caller, Decision::Keuzemenu(m.clone())),
            Action::Hangup(code) => Decision::Refuse(Refusal {
                code: *code,
                reason: Msg::new("route.rule_hangup").arg("code", code),
                prompt: None,
                audit: false,
            }),
            Action::Trunks(names) => outside(org, caller, &number, names, toll),
        };
        return Routed {
            decision,
            rule: Some(i),
        };
    }
    if let Some(d) = internal(org, &number) {
        return plain(allowed_internal(caller, d));
    }
    plain(Decision::Refuse(Refusal::not_found(
        Msg::new("route.no_route").arg("number", &number),
    )))
}

/// What happens to a call from a trunk for `did` (the organisation's number it was dialled on)
/// at local time `at`: the first inbound rule (`match.did`) whose schedule condition holds.
/// Inbound calls need no call permission; a rule that sends them to trunks is refused (403:
/// pbxd does not relay outside calls back outside). No rule: 404 with the not-available
/// announcement.
pub fn route_inbound(org: &TenantBundle, did: &E164, at: NaiveDateTime) -> Routed {
    let inbound = |rule: &Rule| {
        rule.matches.did.as_ref() == Some(did)
            && rule.matches.pattern.is_none()
            && match &rule.matches.schedule {
                None => true,
                Some(name) => org
                    .belplan
                    .schedules
                    .iter()
                    .find(|s| &s.name == name)
                    .is_some_and(|s| s.is_open(at) != rule.matches.closed),
            }
    };
    if org.tenant.status == TenantStatus::Suspended {
        return Routed {
            decision: Decision::Refuse(Refusal {
                code: 480,
                reason: Msg::new("route.suspended").arg("tenant", &org.tenant.slug),
                prompt: Some(PROMPT_NOT_AVAILABLE),
                audit: false,
            }),
            rule: None,
        };
    }
    for (i, rule) in org.belplan.rules.iter().enumerate() {
        if !inbound(rule) {
            continue;
        }
        let decision = match &rule.action {
            Action::Extension(n) => Decision::Extension(n.clone()),
            Action::Queue(n) => Decision::Queue(n.clone()),
            Action::Belgroep(n) => Decision::Belgroep(n.clone()),
            Action::Announcement(p) => Decision::Announcement(p.clone()),
            Action::Keuzemenu(m) => Decision::Keuzemenu(m.clone()),
            Action::Hangup(code) => Decision::Refuse(Refusal {
                code: *code,
                reason: Msg::new("route.rule_hangup").arg("code", code),
                prompt: None,
                audit: false,
            }),
            Action::Trunks(_) => {
                Decision::Refuse(Refusal::forbidden(Msg::new("route.inbound_to_trunks")))
            }
        };
        return Routed {
            decision,
            rule: Some(i),
        };
    }
    Routed {
        decision: Decision::Refuse(Refusal::not_found(
            Msg::new("route.no_route").arg("number", did),
        )),
        rule: None,
    }
}

#[cfg(test)]
mod national_tests {
    use super::national_form;

    #[test]
    fn dutch_numbers_dialled_internationally_have_a_national_form() {
        assert_eq!(national_form("+31612345678").as_deref(), Some("0612345678"));
        assert_eq!(
            national_form("0031201234567").as_deref(),
            Some("0201234567")
        );
        assert_eq!(national_form("+3212345678"), None);
        assert_eq!(national_form("0612345678"), None);
        assert_eq!(national_form("+31"), None);
        assert_eq!(national_form("+310612"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbx_model::belplan::{Belplan, RuleMatch, Schedule, TimeRange};
    use pbx_model::{Extension, Pattern, Queue, RingGroup, Tenant, Trunk};

    fn rule(pattern: &str, action: Action) -> Rule {
        Rule {
            name: None,
            matches: RuleMatch {
                pattern: Pattern::parse(pattern).ok(),
                ..RuleMatch::default()
            },
            action,
        }
    }

    fn trunks(names: &[&str]) -> Action {
        Action::Trunks(names.iter().map(|s| s.to_string()).collect())
    }

    fn e164(s: &str) -> E164 {
        E164::parse(s).unwrap_or_else(|_| unreachable!("{s}"))
    }

    /// Acme: extensions 1001, 1002, 911; queue 500; belgroep 600; trunks kpn (priority 1), voys
    /// (priority 0, caller ID +31201234500), oud (disabled).
    fn acme() -> TenantBundle {
        let mut b = TenantBundle::new(Tenant::new("acme", "Acme BV"));
        for n in ["1001", "1002"] {
            b.extensions.push(Extension::new("acme", n, "toestel"));
        }
        b.queues.push(Queue::new("acme", "500", "Verkoop"));
        b.ring_groups.push(RingGroup {
            tenant: "acme".into(),
            number: "600".into(),
            name: "Receptie".into(),
            strategy: Default::default(),
            members: vec!["1001".into()],
            timeout_secs: 20,
            fallback: None,
        });
        let mut kpn = Trunk::new("acme", "kpn", "sip.kpn.example");
        kpn.priority = 1;
        let mut voys = Trunk::new("acme", "voys", "sip.voys.example");
        voys.caller_id = Some(e164("+31201234500"));
        let mut oud = Trunk::new("acme", "oud", "sip.oud.example");
        oud.enabled = false;
        b.trunks = vec![kpn, voys, oud];
        b.belplan = Belplan {
            rules: vec![
                Rule {
                    name: Some("verkoop-open".into()),
                    matches: RuleMatch {
                        pattern: Pattern::parse("500").ok(),
                        schedule: Some("kantoor".into()),
                        ..RuleMatch::default()
                    },
                    action: Action::Queue("500".into()),
                },
                rule("500", Action::Announcement("gesloten".into())),
                rule("_8XXX", Action::Hangup(480)),
                rule("_0[1-9]XXXXXXXX", trunks(&["oud", "kpn", "voys"])),
                rule("_0[89]0.", trunks(&["kpn"])),
                rule("_00.", trunks(&["kpn", "voys"])),
                rule("_+.", trunks(&["kpn", "voys"])),
                rule("_14XXX", trunks(&["kpn"])),
                rule("_140XXX", trunks(&["kpn"])),
                rule("_18XX", trunks(&["kpn"])),
                rule("_116XXX", trunks(&["kpn"])),
                rule("_77XX", trunks(&["oud"])),
                rule("_99", trunks(&["nergens"])),
            ],
            schedules: vec![Schedule {
                name: "kantoor".into(),
                open: vec![TimeRange {
                    days: ["ma", "di", "wo", "do", "vr"].map(String::from).to_vec(),
                    from: "08:30".into(),
                    to: "17:30".into(),
                }],
                holidays: true,
                ..Schedule::default()
            }],
            menus: vec![],
        };
        b
    }

    fn caller(permission: &str) -> Caller {
        Caller {
            extension: "1001".into(),
            permission: CallPermission::parse(permission).unwrap_or_else(|_| unreachable!()),
            number: None,
            anonymous: false,
        }
    }

    fn monday_10() -> NaiveDateTime {
        at("2026-11-23 10:00")
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_else(|_| unreachable!("{s}"))
    }

    /// A short description of a decision for the table below.
    fn short(d: &Decision) -> String {
        match d {
            Decision::Extension(n) => format!("ext {n}"),
            Decision::Queue(n) => format!("queue {n}"),
            Decision::Belgroep(n) => format!("belgroep {n}"),
            Decision::Announcement(p) => format!("ann {p}"),
            Decision::Keuzemenu(m) => format!("menu {m}"),
            Decision::Outside(o) => format!(
                "out {} {} {} [{}]",
                o.class.as_str(),
                o.e164.as_ref().map(E164::as_str).unwrap_or("-"),
                o.national,
                o.trunks
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Decision::Emergency(e) => format!(
                "112 {} [{}]",
                e.dialled,
                e.trunks
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Decision::Refuse(r) => format!("refuse {} {}", r.code, r.reason.key()),
        }
    }

    #[test]
    fn table_of_decisions() {
        let mut org = acme();
        org.extensions
            .push(Extension::new("acme", "911", "toestel"));
        let mut open = acme();
        open.tenant.toll_fraud.international = true;
        open.tenant.toll_fraud.betaalnummers = true;
        // organisation (org: defaults and an extension 911; open: international and betaalnummers
        // switched on) | permission | dialled | expected
        let table = r#"
# 112 in every form, before anything else.
org  | intern                | 112                                | 112 112 [voys,kpn]
org  | intern                | +31 112                            | 112 +31112 [voys,kpn]
org  | intern                | 0031112                            | 112 0031112 [voys,kpn]
org  | intern                | 0112                               | 112 0112 [voys,kpn]
org  | nationaal             | 999                                | 112 999 [voys,kpn]
# 911 is an extension of this organisation: internal wins.
org  | nationaal             | 911                                | ext 911
open | nationaal             | 911                                | 112 911 [voys,kpn]
# Internal numbers without a rule.
org  | nationaal             | 1001                               | ext 1001
org  | nationaal             | 10 02                              | ext 1002
org  | nationaal             | 600                                | belgroep 600
org  | nationaal             | 1003                               | refuse 404 route.no_route
# Rules: schedule, announcement, hangup.
org  | nationaal             | 500                                | queue 500
org  | nationaal             | 8123                               | refuse 480 route.rule_hangup
# Dutch formats out.
org  | nationaal             | 0612345678                         | out mobiel +31612345678 0612345678 [voys,kpn]
org  | nationaal             | 06-1234 5678                       | out mobiel +31612345678 0612345678 [voys,kpn]
org  | nationaal             | 020 123 45 67                      | out vast_nationaal +31201234567 0201234567 [voys,kpn]
org  | nationaal             | 0031201234567                      | out vast_nationaal +31201234567 0201234567 [voys,kpn]
org  | nationaal             | +31201234567                       | out vast_nationaal +31201234567 0201234567 [voys,kpn]
org  | nationaal             | +31 (0)20 1234567                  | out vast_nationaal +31201234567 0201234567 [voys,kpn]
org  | nationaal             | +31 6 1234 5678                    | out mobiel +31612345678 0612345678 [voys,kpn]
org  | nationaal             | 0800-1234                          | out gratis +318001234 08001234 [kpn]
# A Dutch number dialled internationally meets the national rules (_0[89]0. sends 0800 via kpn only).
org  | nationaal             | +31 800 1234                       | out gratis +318001234 08001234 [kpn]
org  | nationaal             | 08001234567                        | out gratis +318001234567 08001234567 [kpn]
org  | nationaal             | 14020                              | out vast_nationaal - 14020 [kpn]
org  | nationaal             | 140182                             | out vast_nationaal - 140182 [kpn]
org  | nationaal             | 116123                             | out gratis - 116123 [kpn]
# Betaalnummers: off for the organisation by default, then the permission.
org  | alles                 | 0900 1234567                       | refuse 403 route.betaalnummers_off
org  | alles                 | 0906-1234                          | refuse 403 route.betaalnummers_off
org  | alles                 | 1888                               | refuse 403 route.betaalnummers_off
open | nationaal             | 0909 1234567                       | refuse 403 route.not_allowed
open | nationaal             | 1850                               | refuse 403 route.not_allowed
open | alles                 | 0900 1234567                       | out betaalnummers +319001234567 09001234567 [kpn]
open | alles                 | 1888                               | out betaalnummers - 1888 [kpn]
# Police non-emergency at the local rate.
org  | nationaal             | 0900-8844                          | out vast_nationaal +319008844 09008844 [kpn]
# International: off for the organisation, then the permission.
org  | alles                 | 0044 20 7946 0958                  | refuse 403 route.international_off
org  | alles                 | +44 20 7946 0958                   | refuse 403 route.international_off
open | nationaal             | 0044 20 7946 0958                  | refuse 403 route.not_allowed
open | internationaal        | 0044 20 7946 0958                  | out internationaal +442079460958 00442079460958 [voys,kpn]
# Permission per class.
org  | intern                | 0612345678                         | refuse 403 route.not_allowed
org  | intern,vast_nationaal | 0612345678                         | refuse 403 route.not_allowed
org  | intern,mobiel         | 0612345678                         | out mobiel +31612345678 0612345678 [voys,kpn]
org  | mobiel                | 1001                               | refuse 403 route.not_allowed
# Bad numbers and trunks.
org  | nationaal             | 061234                             | refuse 404 route.no_route
org  | nationaal             | 0612345                            | refuse 404 route.no_route
org  | nationaal             | 02012345678                        | refuse 404 route.no_route
org  | nationaal             | 0800123456                         | refuse 404 route.invalid_number
open | alles                 | 7712                               | refuse 503 route.no_trunk
open | alles                 | 99                                 | refuse 503 route.no_trunk
org  | nationaal             | alice                              | refuse 404 route.invalid_number
org  | nationaal             |                                    | refuse 404 route.invalid_number
org  | nationaal             | +                                  | refuse 404 route.invalid_number
org  | nationaal             | 0123456789012345678901234567890123 | refuse 404 route.too_long
"#;
        let mut failures = Vec::new();
        let mut n = 0;
        for line in table
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let [which, perm, dialled, want] = cells[..] else {
                unreachable!("{line}")
            };
            let org = if which == "open" { &open } else { &org };
            let got = short(&route(org, &caller(perm), dialled, monday_10()));
            if got != want {
                failures.push(format!("{line}\n     got {got}"));
            }
            n += 1;
        }
        assert!(n > 40, "{n} cases");
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn schedules_and_rule_index() {
        let org = acme();
        let c = caller("nationaal");
        let r = route_explained(&org, &c, "500", monday_10());
        assert_eq!((short(&r.decision), r.rule), ("queue 500".into(), Some(0)));
        // Evening, weekend, and Eerste Kerstdag (a Friday in 2026): the closed rule.
        for when in ["2026-11-23 18:00", "2026-11-22 10:00", "2026-12-25 10:00"] {
            let r = route_explained(&org, &c, "500", at(when));
            assert_eq!(
                (short(&r.decision), r.rule),
                ("ann gesloten".into(), Some(1)),
                "{when}"
            );
        }
        // A dangling schedule never matches: the next rule decides.
        let mut dangling = acme();
        dangling.belplan.schedules.clear();
        let r = route_explained(&dangling, &c, "500", monday_10());
        assert_eq!(r.rule, Some(1));
        // `closed = true` matches when the schedule is closed.
        let mut closed = acme();
        closed.belplan.rules[0].matches.closed = true;
        assert_eq!(
            short(&route(&closed, &c, "500", monday_10())),
            "ann gesloten"
        );
        assert_eq!(
            short(&route(&closed, &c, "500", at("2026-11-23 20:00"))),
            "queue 500"
        );
        // Inbound rules (with a DID) are not used for outbound calls.
        let mut inbound = acme();
        inbound.belplan.rules.insert(
            0,
            Rule {
                name: None,
                matches: RuleMatch {
                    did: Some(e164("+31201234567")),
                    ..RuleMatch::default()
                },
                action: Action::Hangup(486),
            },
        );
        assert_eq!(short(&route(&inbound, &c, "1001", monday_10())), "ext 1001");
    }

    #[test]
    fn caller_id_anonymous_and_duration() {
        let org = acme();
        let mut c = caller("nationaal");
        let Decision::Outside(o) = route(&org, &c, "0612345678", monday_10()) else {
            unreachable!()
        };
        // voys has the organisation's number, kpn none; the extension has no own number.
        assert_eq!(
            o.trunks,
            vec![
                TrunkChoice {
                    name: "voys".into(),
                    caller_id: Some(e164("+31201234500"))
                },
                TrunkChoice {
                    name: "kpn".into(),
                    caller_id: None
                },
            ]
        );
        assert!(!o.anonymous);
        assert_eq!(o.max_duration, Duration::from_secs(7200));
        c.number = Some(e164("+31201234511"));
        c.anonymous = true;
        let Decision::Outside(o) = route(&org, &c, "0612345678", monday_10()) else {
            unreachable!()
        };
        assert!(o.anonymous);
        assert!(o
            .trunks
            .iter()
            .all(|t| t.caller_id == Some(e164("+31201234511"))));
        // 112 carries the caller's number, never anonymous.
        let Decision::Emergency(e) = route(&org, &c, "112", monday_10()) else {
            unreachable!()
        };
        assert_eq!((e.e164, e.national), ("+31112", "112"));
        assert!(e
            .trunks
            .iter()
            .all(|t| t.caller_id == Some(e164("+31201234511"))));
    }

    #[test]
    fn refusals_say_how() {
        let org = acme();
        let Decision::Refuse(r) = route(&org, &caller("intern"), "0612345678", monday_10()) else {
            unreachable!()
        };
        assert_eq!(
            (r.code, r.prompt, r.audit),
            (403, Some(PROMPT_NOT_ALLOWED), true)
        );
        assert!(r.reason.to_string().contains("mobiel"), "{}", r.reason);
        let Decision::Refuse(r) = route(&org, &caller("intern"), "1003", monday_10()) else {
            unreachable!()
        };
        assert_eq!(
            (r.code, r.prompt, r.audit),
            (404, Some(PROMPT_NOT_AVAILABLE), false)
        );
    }

    #[test]
    fn nothing_blocks_112() {
        let mut org = acme();
        org.tenant.status = TenantStatus::Suspended;
        org.belplan.rules.insert(0, rule("_!", Action::Hangup(403)));
        org.belplan
            .rules
            .insert(0, rule("112", Action::Hangup(403)));
        org.trunks.iter_mut().for_each(|t| t.enabled = false);
        let nobody = Caller {
            permission: CallPermission::of(&[]),
            ..caller("intern")
        };
        let d = route(&org, &nobody, "112", monday_10());
        assert!(
            matches!(&d, Decision::Emergency(e) if e.trunks.is_empty()),
            "{d:?}"
        );
        // Everything else is refused for a suspended organisation.
        assert_eq!(
            short(&route(&org, &nobody, "1001", monday_10())),
            "refuse 403 route.suspended"
        );
    }
}

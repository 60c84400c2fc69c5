//! The belplan (dial plan) of an organisation: ordered rules, first match wins.

use crate::error::ModelError;
use crate::names::check_object_name;
use crate::numbering::E164;
use crate::pattern::Pattern;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use pbx_i18n::Msg;
use serde::{Deserialize, Serialize};

/// What a rule does with the call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Action {
    /// Ring an extension.
    Extension(String),
    /// Put the call in a queue.
    Queue(String),
    /// Ring a belgroep.
    Belgroep(String),
    /// Send the call out through these trunks, in order.
    Trunks(Vec<String>),
    /// Play an announcement (a prompt name), then hang up.
    Announcement(String),
    /// Hang up with a SIP status code (403, 404, 480, 486, 503…).
    Hangup(u16),
}

impl Action {
    /// Short description for tables: `extensie 1001`, `wachtrij 500`.
    pub fn describe(&self) -> String {
        match self {
            Action::Extension(n) => format!("extensie {n}"),
            Action::Queue(n) => format!("wachtrij {n}"),
            Action::Belgroep(n) => format!("belgroep {n}"),
            Action::Trunks(t) => format!("trunks {}", t.join(",")),
            Action::Announcement(p) => format!("aankondiging {p}"),
            Action::Hangup(c) => format!("ophangen {c}"),
        }
    }
}

/// The conditions of a rule; all that are set must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    /// Dialled-number pattern (outbound and internal calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Pattern>,
    /// DID the call came in on (inkomende belroute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<E164>,
    /// Name of a schedule (openingstijden) that must be open …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// … or closed, when `closed` is true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
}

impl RuleMatch {
    /// Does every call this match lets through also pass `later`? Then `self`, placed earlier,
    /// shadows a rule with `later`.
    pub fn covers(&self, later: &RuleMatch) -> bool {
        let pattern = match (&self.pattern, &later.pattern) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a.covers(b),
        };
        let did = match (&self.did, &later.did) {
            (None, _) => true,
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
        };
        let schedule = match (&self.schedule, &later.schedule) {
            (None, _) => true,
            (Some(a), Some(b)) => a == b && self.closed == later.closed,
            (Some(_), None) => false,
        };
        pattern && did && schedule
    }
}

/// One rule of the belplan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Optional name, shown in traces and `pbxctl belplan show`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Conditions.
    #[serde(rename = "match", default)]
    pub matches: RuleMatch,
    /// Action.
    pub action: Action,
}

/// A time range on some weekdays (`08:30`–`17:30`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// Days: `ma di wo do vr za zo`.
    pub days: Vec<String>,
    /// Opening time, `HH:MM`.
    pub from: String,
    /// Closing time, `HH:MM` (after `from`).
    pub to: String,
}

/// Openingstijden: when an organisation is open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Name the rules refer to.
    pub name: String,
    /// Weekly opening hours.
    #[serde(default)]
    pub open: Vec<TimeRange>,
    /// Dates (`YYYY-MM-DD`) on which it is closed all day.
    #[serde(default)]
    pub closed_dates: Vec<String>,
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "ma" => Weekday::Mon,
        "di" => Weekday::Tue,
        "wo" => Weekday::Wed,
        "do" => Weekday::Thu,
        "vr" => Weekday::Fri,
        "za" => Weekday::Sat,
        "zo" => Weekday::Sun,
        _ => return None,
    })
}

fn hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

impl Schedule {
    /// Checks days, times and dates.
    pub fn problems(&self) -> Vec<ModelError> {
        let mut out = Vec::new();
        if let Err(e) = check_object_name(&self.name) {
            out.push(e);
        }
        for r in &self.open {
            for d in &r.days {
                if weekday(d).is_none() {
                    out.push(ModelError::invalid(
                        Msg::new("schedule.day").arg("value", d),
                    ));
                }
            }
            match (hhmm(&r.from), hhmm(&r.to)) {
                (Some(a), Some(b)) if a < b => {}
                (Some(_), Some(_)) => out.push(ModelError::invalid(
                    Msg::new("schedule.order")
                        .arg("from", &r.from)
                        .arg("to", &r.to),
                )),
                _ => out.push(ModelError::invalid(
                    Msg::new("schedule.time")
                        .arg("from", &r.from)
                        .arg("to", &r.to),
                )),
            }
        }
        for d in &self.closed_dates {
            if NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                out.push(ModelError::invalid(
                    Msg::new("schedule.date").arg("value", d),
                ));
            }
        }
        out
    }

    /// Is it open at this local time?
    pub fn is_open(&self, at: NaiveDateTime) -> bool {
        let date = at.date().format("%Y-%m-%d").to_string();
        if self.closed_dates.contains(&date) {
            return false;
        }
        let day = at.weekday();
        let t = at.time();
        self.open.iter().any(|r| {
            r.days.iter().any(|d| weekday(d) == Some(day))
                && matches!((hhmm(&r.from), hhmm(&r.to)), (Some(a), Some(b)) if a <= t && t < b)
        })
    }
}

/// The belplan of an organisation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Belplan {
    /// Rules in order; the first match wins.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Openingstijden the rules can refer to.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
}

impl Belplan {
    /// For each rule: the index of an earlier rule that shadows it completely.
    pub fn shadowed(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (j, later) in self.rules.iter().enumerate() {
            if let Some(i) = self.rules[..j]
                .iter()
                .position(|r| r.matches.covers(&later.matches))
            {
                out.push((j, i));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(p: Option<&str>, did: Option<&str>, sched: Option<&str>) -> Rule {
        Rule {
            name: None,
            matches: RuleMatch {
                pattern: p.and_then(|p| Pattern::parse(p).ok()),
                did: did.and_then(|d| E164::parse(d).ok()),
                schedule: sched.map(String::from),
                closed: false,
            },
            action: Action::Hangup(404),
        }
    }

    #[test]
    fn shadowed_rules() {
        let plan = Belplan {
            rules: vec![
                rule(Some("_0."), None, None),
                rule(Some("_06XXXXXXXX"), None, None),
                rule(Some("_1XXX"), None, Some("kantoor")),
                rule(Some("_1XXX"), None, None),
                rule(Some("_1001"), None, Some("kantoor")),
                rule(None, Some("+31201234567"), None),
                rule(None, Some("+31201234568"), None),
            ],
            schedules: vec![],
        };
        assert_eq!(plan.shadowed(), vec![(1, 0), (4, 2)]);
    }

    #[test]
    fn schedules() {
        let s = Schedule {
            name: "kantoor".into(),
            open: vec![TimeRange {
                days: vec![
                    "ma".into(),
                    "di".into(),
                    "wo".into(),
                    "do".into(),
                    "vr".into(),
                ],
                from: "08:30".into(),
                to: "17:30".into(),
            }],
            closed_dates: vec!["2026-12-25".into()],
        };
        assert!(s.problems().is_empty());
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_default();
        assert!(s.is_open(at("2026-11-23 09:00"))); // maandag
        assert!(!s.is_open(at("2026-11-23 17:30")));
        assert!(!s.is_open(at("2026-11-22 10:00"))); // zondag
        assert!(!s.is_open(at("2026-12-25 10:00"))); // vrijdag, gesloten
        let bad = Schedule {
            name: "x".into(),
            open: vec![TimeRange {
                days: vec!["maandag".into()],
                from: "18:00".into(),
                to: "08:00".into(),
            }],
            closed_dates: vec!["25-12".into()],
        };
        assert_eq!(bad.problems().len(), 3);
    }
}

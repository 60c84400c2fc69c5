//! The belplan (dial plan) of an organisation: ordered rules, first match wins.

use crate::error::ModelError;
use crate::holidays::{holidays_on, HolidayKind};
use crate::names::check_object_name;
use crate::numbering::E164;
use crate::pattern::Pattern;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
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
    /// Answer with a keuzemenu (IVR) of the belplan, by name.
    Keuzemenu(String),
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
            Action::Keuzemenu(m) => format!("keuzemenu {m}"),
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
    /// Closing time, `HH:MM` (after `from`), or `24:00` for the end of the day.
    pub to: String,
}

/// Special opening hours on one date, instead of the weekly hours (24 December 08:30–12:00).
/// Several entries for one date are all open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateHours {
    /// The date, `YYYY-MM-DD`.
    pub date: String,
    /// Opening time, `HH:MM`.
    pub from: String,
    /// Closing time, `HH:MM` (after `from`), or `24:00` for the end of the day.
    pub to: String,
}

/// At most this many `closed_dates` and `exceptions` together in one schedule.
pub const MAX_SCHEDULE_DATES: usize = 1000;

/// Openingstijden: when an organisation is open.
///
/// What decides, for a moment `at` (local time), first match wins:
/// 1. the date is in `closed_dates`: closed all day;
/// 2. the date has `exceptions`: open only within those hours (also on a holiday);
/// 3. the date is a holiday it closes on: closed all day. With `holidays = true` those are the
///    Dutch public holidays that are a general day off ([`crate::holidays`]: not Goede Vrijdag,
///    and Bevrijdingsdag only in lustrum years); `extra_holidays` adds holidays by name, e.g.
///    `goede_vrijdag` or `bevrijdingsdag` (then every year);
/// 4. the weekly hours in `open`.
///
/// `holidays` is false unless set: a schedule stored before it existed keeps its behaviour, and
/// which days an organisation closes is its own choice (a call centre may work on Pinksteren).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Closed on the Dutch public holidays that are a general day off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub holidays: bool,
    /// Holidays it closes on too, by name (`goede_vrijdag`, `bevrijdingsdag`, …; see
    /// [`HolidayKind::as_str`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_holidays: Vec<String>,
    /// Dates with their own opening hours instead of the weekly ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<DateHours>,
}

/// Whether a schedule is open at a moment, and why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleState {
    /// Open.
    Open,
    /// The date is in `closed_dates`.
    ClosedDate,
    /// The date has special hours and the moment is outside them.
    OutsideExceptionHours,
    /// A holiday it closes on.
    Holiday(HolidayKind),
    /// Outside the weekly hours.
    OutsideHours,
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

/// Minutes since midnight of `HH:MM`; `24:00` (1440) only as a closing time.
fn minutes(s: &str, closing: bool) -> Option<u32> {
    if closing && s == "24:00" {
        return Some(24 * 60);
    }
    let t = NaiveTime::parse_from_str(s, "%H:%M").ok()?;
    Some(t.hour() * 60 + t.minute())
}

/// The range `from`–`to` in minutes, when both parse and `from` is before `to`.
fn range(from: &str, to: &str) -> Option<(u32, u32)> {
    match (minutes(from, false), minutes(to, true)) {
        (Some(a), Some(b)) if a < b => Some((a, b)),
        _ => None,
    }
}

fn check_range(from: &str, to: &str, out: &mut Vec<ModelError>) {
    match (minutes(from, false), minutes(to, true)) {
        (Some(a), Some(b)) if a < b => {}
        (Some(_), Some(_)) => out.push(ModelError::invalid(
            Msg::new("schedule.order").arg("from", from).arg("to", to),
        )),
        _ => out.push(ModelError::invalid(
            Msg::new("schedule.time").arg("from", from).arg("to", to),
        )),
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

impl Schedule {
    /// Checks days, times, dates and holiday names.
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
            check_range(&r.from, &r.to, &mut out);
        }
        for d in &self.closed_dates {
            if parse_date(d).is_none() {
                out.push(ModelError::invalid(
                    Msg::new("schedule.date").arg("value", d),
                ));
            }
        }
        for x in &self.exceptions {
            match parse_date(&x.date) {
                None => out.push(ModelError::invalid(
                    Msg::new("schedule.date").arg("value", &x.date),
                )),
                Some(d) => {
                    if self.closed_dates.iter().any(|c| parse_date(c) == Some(d)) {
                        out.push(ModelError::invalid(
                            Msg::new("schedule.date_conflict").arg("date", &x.date),
                        ));
                    }
                }
            }
            check_range(&x.from, &x.to, &mut out);
        }
        for h in &self.extra_holidays {
            if HolidayKind::parse(h).is_none() {
                out.push(ModelError::invalid(
                    Msg::new("schedule.holiday").arg("value", h),
                ));
            }
        }
        if self.closed_dates.len() + self.exceptions.len() > MAX_SCHEDULE_DATES {
            out.push(ModelError::invalid(
                Msg::new("schedule.too_many").arg("max", MAX_SCHEDULE_DATES),
            ));
        }
        out
    }

    /// The holiday on `day` that closes this schedule, if any.
    pub fn closing_holiday(&self, day: NaiveDate) -> Option<HolidayKind> {
        if !self.holidays && self.extra_holidays.is_empty() {
            return None;
        }
        holidays_on(day)
            .into_iter()
            .find(|h| {
                (self.holidays && !h.optional)
                    || self.extra_holidays.iter().any(|e| e == h.kind.as_str())
            })
            .map(|h| h.kind)
    }

    /// Open or closed at this local time, and why (see the order on [`Schedule`]).
    pub fn state(&self, at: NaiveDateTime) -> ScheduleState {
        let day = at.date();
        let now = at.time().hour() * 60 + at.time().minute();
        let within = |r: Option<(u32, u32)>| r.is_some_and(|(a, b)| a <= now && now < b);
        if self.closed_dates.iter().any(|d| parse_date(d) == Some(day)) {
            return ScheduleState::ClosedDate;
        }
        let mut special = self
            .exceptions
            .iter()
            .filter(|x| parse_date(&x.date) == Some(day))
            .peekable();
        if special.peek().is_some() {
            return if special.any(|x| within(range(&x.from, &x.to))) {
                ScheduleState::Open
            } else {
                ScheduleState::OutsideExceptionHours
            };
        }
        if let Some(h) = self.closing_holiday(day) {
            return ScheduleState::Holiday(h);
        }
        let wd = at.weekday();
        let open = self.open.iter().any(|r| {
            r.days.iter().any(|d| weekday(d) == Some(wd)) && within(range(&r.from, &r.to))
        });
        if open {
            ScheduleState::Open
        } else {
            ScheduleState::OutsideHours
        }
    }

    /// Is it open at this local time?
    pub fn is_open(&self, at: NaiveDateTime) -> bool {
        self.state(at) == ScheduleState::Open
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
    /// Keuzemenu's the rules can send calls to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub menus: Vec<Menu>,
}

/// Most choices in one keuzemenu (the twelve keys of a phone).
pub const MAX_MENU_CHOICES: usize = 12;

/// A keuzemenu (IVR): pbxd answers, plays `prompt`, and waits for one key.
///
/// A key with a choice sends the call there (another keuzemenu nests). A key without one plays
/// `invalid_prompt` and the menu again; so does silence for `timeout_secs` after the prompt.
/// After `tries` rounds without a valid key the call goes to `on_timeout`, or is ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Menu {
    /// Name the actions refer to.
    pub name: String,
    /// The prompt: a shipped prompt name (`menu`) or a `.wav` file of the organisation.
    pub prompt: String,
    /// Key (`0`–`9`, `*`, `#`) → where the call goes.
    pub choices: std::collections::BTreeMap<String, Action>,
    /// Seconds to wait for a key after the prompt.
    #[serde(default = "menu_timeout")]
    pub timeout_secs: u32,
    /// Rounds (prompt and wait) before giving up.
    #[serde(default = "menu_tries")]
    pub tries: u32,
    /// Played after a key without a choice.
    #[serde(default = "menu_invalid")]
    pub invalid_prompt: String,
    /// Where the call goes after `tries` rounds; `None` ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<Action>,
}

fn menu_timeout() -> u32 {
    5
}

fn menu_tries() -> u32 {
    3
}

fn menu_invalid() -> String {
    "ongeldige-keuze".to_string()
}

impl Menu {
    /// A menu with the defaults.
    pub fn new(name: &str, prompt: &str) -> Menu {
        Menu {
            name: name.to_string(),
            prompt: prompt.to_string(),
            choices: Default::default(),
            timeout_secs: menu_timeout(),
            tries: menu_tries(),
            invalid_prompt: menu_invalid(),
            on_timeout: None,
        }
    }

    /// Checks the menu's own fields (references are checked with the bundle).
    pub fn problems(&self) -> Vec<(&'static str, ModelError)> {
        let mut out = Vec::new();
        if let Err(e) = check_object_name(&self.name) {
            out.push(("name", e));
        }
        for (field, p) in [
            ("prompt", &self.prompt),
            ("invalid_prompt", &self.invalid_prompt),
        ] {
            if !prompt_ok(p) {
                out.push((
                    field,
                    ModelError::invalid(Msg::new("bundle.bad_prompt").arg("prompt", p)),
                ));
            }
        }
        if self.choices.is_empty() || self.choices.len() > MAX_MENU_CHOICES {
            out.push((
                "choices",
                ModelError::invalid(Msg::new("menu.choices").arg("max", MAX_MENU_CHOICES)),
            ));
        }
        for key in self.choices.keys() {
            let ok = key.len() == 1
                && key
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '#');
            if !ok {
                out.push((
                    "choices",
                    ModelError::invalid(Msg::new("menu.key").arg("key", key)),
                ));
            }
        }
        for (field, v, min, max) in [
            ("timeout_secs", self.timeout_secs, 1, 60),
            ("tries", self.tries, 1, 10),
        ] {
            if !(min..=max).contains(&v) {
                out.push((
                    field,
                    ModelError::invalid(
                        Msg::new("queue.range")
                            .arg("field", field)
                            .arg("min", min)
                            .arg("max", max),
                    ),
                ));
            }
        }
        out
    }
}

/// Is this a usable prompt reference: a shipped prompt name or a `.wav` path, never one that
/// climbs out of its folder?
pub fn prompt_ok(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 512
        && !p.split(['/', '\\']).any(|part| part == "..")
        && !p.chars().any(|c| c.is_control())
        && (p.ends_with(".wav")
            || p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
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
            menus: vec![],
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
            ..Schedule::default()
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
            ..Schedule::default()
        };
        assert_eq!(bad.problems().len(), 3);
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_else(|_| unreachable!("{s}"))
    }

    fn kantoor() -> Schedule {
        Schedule {
            name: "kantoor".into(),
            open: vec![TimeRange {
                days: ["ma", "di", "wo", "do", "vr"].map(String::from).to_vec(),
                from: "08:30".into(),
                to: "17:30".into(),
            }],
            ..Schedule::default()
        }
    }

    fn keys(s: &Schedule) -> Vec<&'static str> {
        s.problems().iter().map(|e| e.msg.key()).collect()
    }

    #[test]
    fn holidays_close_when_asked() {
        let plain = kantoor();
        let mut s = kantoor();
        s.holidays = true;
        // Hemelvaartsdag 2026 is Thursday 14 May; Tweede Pinksterdag Monday 25 May.
        for when in [
            "2026-05-14 10:00",
            "2026-05-25 10:00",
            "2026-12-25 10:00",
            "2027-01-01 10:00",
        ] {
            assert!(plain.is_open(at(when)), "{when}: without holidays");
            assert!(!s.is_open(at(when)), "{when}: with holidays");
        }
        assert_eq!(
            s.state(at("2026-05-14 10:00")),
            ScheduleState::Holiday(HolidayKind::Hemelvaartsdag)
        );
        // Koningsdag 2025 on Saturday 26 April: a Saturday anyway; Monday 27 April 2026 closed.
        assert_eq!(
            s.state(at("2026-04-27 09:00")),
            ScheduleState::Holiday(HolidayKind::Koningsdag)
        );
        // Goede Vrijdag (3 April 2026) and Bevrijdingsdag outside a lustrum year stay open …
        assert!(s.is_open(at("2026-04-03 09:00")));
        assert!(s.is_open(at("2026-05-05 09:00")));
        // … Bevrijdingsdag in a lustrum year (Monday 5 May 2025) closes.
        assert!(!s.is_open(at("2025-05-05 09:00")));
        // extra_holidays adds them, Bevrijdingsdag then every year.
        s.extra_holidays = vec!["goede_vrijdag".into(), "bevrijdingsdag".into()];
        assert!(!s.is_open(at("2026-04-03 09:00")));
        assert_eq!(
            s.state(at("2026-05-05 09:00")),
            ScheduleState::Holiday(HolidayKind::Bevrijdingsdag)
        );
        // extra_holidays alone, without the general list.
        let mut kerst = kantoor();
        kerst.extra_holidays = vec!["eerste_kerstdag".into()];
        assert!(!kerst.is_open(at("2026-12-25 09:00")));
        assert!(kerst.is_open(at("2026-12-24 09:00")));
        assert!(kerst.is_open(at("2026-05-14 09:00")));
        assert!(s.problems().is_empty());
    }

    #[test]
    fn exceptions_and_precedence() {
        let mut s = kantoor();
        s.holidays = true;
        s.closed_dates = vec!["2026-12-31".into()];
        s.exceptions = vec![
            // Christmas Eve, a Thursday: mornings only.
            DateHours {
                date: "2026-12-24".into(),
                from: "08:30".into(),
                to: "12:00".into(),
            },
            // Open on Koningsdag 2026 for two short blocks.
            DateHours {
                date: "2026-04-27".into(),
                from: "10:00".into(),
                to: "12:00".into(),
            },
            DateHours {
                date: "2026-04-27".into(),
                from: "13:00".into(),
                to: "14:00".into(),
            },
            // A Saturday opening.
            DateHours {
                date: "2026-11-28".into(),
                from: "09:00".into(),
                to: "24:00".into(),
            },
        ];
        assert!(s.problems().is_empty(), "{:?}", keys(&s));
        assert!(s.is_open(at("2026-12-24 08:30")));
        assert!(s.is_open(at("2026-12-24 11:59")));
        assert_eq!(
            s.state(at("2026-12-24 12:00")),
            ScheduleState::OutsideExceptionHours
        );
        assert!(
            !s.is_open(at("2026-12-24 15:00")),
            "weekly hours do not apply"
        );
        assert!(s.is_open(at("2026-04-27 10:30")), "exception beats holiday");
        assert!(!s.is_open(at("2026-04-27 12:30")));
        assert!(s.is_open(at("2026-04-27 13:30")));
        assert!(s.is_open(at("2026-11-28 23:59")));
        assert!(!s.is_open(at("2026-11-28 08:59")));
        assert_eq!(s.state(at("2026-12-31 10:00")), ScheduleState::ClosedDate);
        assert_eq!(s.state(at("2026-11-29 10:00")), ScheduleState::OutsideHours);
        assert_eq!(s.state(at("2026-11-30 10:00")), ScheduleState::Open);
    }

    #[test]
    fn midnight_closing_time() {
        let mut s = kantoor();
        s.open[0].from = "00:00".into();
        s.open[0].to = "24:00".into();
        assert!(s.problems().is_empty());
        assert!(s.is_open(at("2026-11-23 00:00")));
        assert!(s.is_open(at("2026-11-23 23:59")));
        s.open[0].from = "24:00".into();
        assert_eq!(keys(&s), vec!["schedule.time"]);
    }

    #[test]
    fn schedule_validation_messages() {
        let mut s = kantoor();
        s.closed_dates = vec!["2026-12-24".into()];
        s.extra_holidays = vec!["kerst".into()];
        s.exceptions = vec![
            DateHours {
                date: "2026-12-24".into(),
                from: "08:30".into(),
                to: "12:00".into(),
            },
            DateHours {
                date: "24-12".into(),
                from: "12:00".into(),
                to: "08:00".into(),
            },
            DateHours {
                date: "2026-12-23".into(),
                from: "8u".into(),
                to: "12:00".into(),
            },
        ];
        assert_eq!(
            keys(&s),
            vec![
                "schedule.date_conflict",
                "schedule.date",
                "schedule.order",
                "schedule.time",
                "schedule.holiday"
            ]
        );
        let mut many = kantoor();
        many.closed_dates = vec!["2026-01-02".into(); MAX_SCHEDULE_DATES + 1];
        assert_eq!(keys(&many), vec!["schedule.too_many"]);
    }

    #[test]
    fn old_schedules_still_load_and_serialise_the_same() {
        let json = r#"{"name":"kantoor","open":[{"days":["ma"],"from":"08:30","to":"17:30"}],"closed_dates":["2026-12-25"]}"#;
        let s: Schedule = serde_json::from_str(json).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(!s.holidays && s.exceptions.is_empty() && s.extra_holidays.is_empty());
        assert_eq!(serde_json::to_string(&s).ok().as_deref(), Some(json));
        let new = r#"{"name":"k","holidays":true,"extra_holidays":["goede_vrijdag"],"exceptions":[{"date":"2026-12-24","from":"08:30","to":"12:00"}]}"#;
        let s: Schedule = serde_json::from_str(new).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(s.holidays && s.exceptions.len() == 1);
        assert!(serde_json::from_str::<Schedule>(r#"{"name":"k","feestdagen":true}"#).is_err());
    }
}

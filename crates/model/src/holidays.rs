//! Dutch public holidays (feestdagen), computed per year.
//!
//! The list follows the Algemene termijnenwet plus Koningsdag and Bevrijdingsdag, the days
//! Dutch organisations usually close on. Two of them are not a general day off, and are flagged
//! [`Holiday::optional`]:
//! - Goede Vrijdag: a day off only for some employers (it is in the list every year, always optional);
//! - Bevrijdingsdag (5 May): a national holiday every year, but a day off in most collective
//!   agreements only in lustrum years (1945 + 5n: 2025, 2030, …). It is in the list every year,
//!   optional except in lustrum years.
//!
//! Openingstijden ([`crate::Schedule`]) with `holidays = true` close on every holiday that is not
//! optional; the optional ones close only when named in `extra_holidays`.
//!
//! Easter follows the anonymous Gregorian algorithm (Meeus/Jones/Butcher). Years outside
//! [`FIRST_YEAR`]..=[`LAST_YEAR`] have no holidays (an empty list, never a panic).

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// First year with holidays: the Gregorian calendar.
pub const FIRST_YEAR: i32 = 1583;
/// Last year with holidays.
pub const LAST_YEAR: i32 = 9999;

/// Which holiday a date is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayKind {
    /// 1 January.
    Nieuwjaarsdag,
    /// The Friday before Easter; a day off for some employers only.
    GoedeVrijdag,
    /// Easter Sunday.
    EerstePaasdag,
    /// Easter Monday.
    TweedePaasdag,
    /// The King's birthday: 27 April, or 26 April when the 27th is a Sunday (from 2014; before
    /// that Koninginnedag on 30 April, or 29 April when the 30th was a Sunday).
    Koningsdag,
    /// 5 May; a general day off only in lustrum years.
    Bevrijdingsdag,
    /// Ascension Day: Easter + 39 days.
    Hemelvaartsdag,
    /// Whit Sunday: Easter + 49 days.
    EerstePinksterdag,
    /// Whit Monday: Easter + 50 days.
    TweedePinksterdag,
    /// 25 December.
    EersteKerstdag,
    /// 26 December.
    TweedeKerstdag,
}

impl HolidayKind {
    /// Every holiday, in calendar order.
    pub const ALL: [HolidayKind; 11] = [
        HolidayKind::Nieuwjaarsdag,
        HolidayKind::GoedeVrijdag,
        HolidayKind::EerstePaasdag,
        HolidayKind::TweedePaasdag,
        HolidayKind::Koningsdag,
        HolidayKind::Bevrijdingsdag,
        HolidayKind::Hemelvaartsdag,
        HolidayKind::EerstePinksterdag,
        HolidayKind::TweedePinksterdag,
        HolidayKind::EersteKerstdag,
        HolidayKind::TweedeKerstdag,
    ];

    /// The name in config (`extra_holidays = ["goede_vrijdag"]`) and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            HolidayKind::Nieuwjaarsdag => "nieuwjaarsdag",
            HolidayKind::GoedeVrijdag => "goede_vrijdag",
            HolidayKind::EerstePaasdag => "eerste_paasdag",
            HolidayKind::TweedePaasdag => "tweede_paasdag",
            HolidayKind::Koningsdag => "koningsdag",
            HolidayKind::Bevrijdingsdag => "bevrijdingsdag",
            HolidayKind::Hemelvaartsdag => "hemelvaartsdag",
            HolidayKind::EerstePinksterdag => "eerste_pinksterdag",
            HolidayKind::TweedePinksterdag => "tweede_pinksterdag",
            HolidayKind::EersteKerstdag => "eerste_kerstdag",
            HolidayKind::TweedeKerstdag => "tweede_kerstdag",
        }
    }

    /// Parses a config name.
    pub fn parse(s: &str) -> Option<HolidayKind> {
        HolidayKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Dutch name, as people write it.
    pub fn name_nl(self) -> &'static str {
        match self {
            HolidayKind::Nieuwjaarsdag => "Nieuwjaarsdag",
            HolidayKind::GoedeVrijdag => "Goede Vrijdag",
            HolidayKind::EerstePaasdag => "Eerste Paasdag",
            HolidayKind::TweedePaasdag => "Tweede Paasdag",
            HolidayKind::Koningsdag => "Koningsdag",
            HolidayKind::Bevrijdingsdag => "Bevrijdingsdag",
            HolidayKind::Hemelvaartsdag => "Hemelvaartsdag",
            HolidayKind::EerstePinksterdag => "Eerste Pinksterdag",
            HolidayKind::TweedePinksterdag => "Tweede Pinksterdag",
            HolidayKind::EersteKerstdag => "Eerste Kerstdag",
            HolidayKind::TweedeKerstdag => "Tweede Kerstdag",
        }
    }

    /// English name.
    pub fn name_en(self) -> &'static str {
        match self {
            HolidayKind::Nieuwjaarsdag => "New Year's Day",
            HolidayKind::GoedeVrijdag => "Good Friday",
            HolidayKind::EerstePaasdag => "Easter Sunday",
            HolidayKind::TweedePaasdag => "Easter Monday",
            HolidayKind::Koningsdag => "King's Day",
            HolidayKind::Bevrijdingsdag => "Liberation Day",
            HolidayKind::Hemelvaartsdag => "Ascension Day",
            HolidayKind::EerstePinksterdag => "Whit Sunday",
            HolidayKind::TweedePinksterdag => "Whit Monday",
            HolidayKind::EersteKerstdag => "Christmas Day",
            HolidayKind::TweedeKerstdag => "Boxing Day",
        }
    }
}

/// One holiday in one year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Holiday {
    /// The date.
    pub date: NaiveDate,
    /// Which holiday.
    pub kind: HolidayKind,
    /// Dutch name (Koninginnedag before 2014).
    pub name_nl: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// Not a general day off this year: Goede Vrijdag always, Bevrijdingsdag outside lustrum
    /// years. Schedules close on it only when it is named in `extra_holidays`.
    pub optional: bool,
}

/// Easter Sunday of a Gregorian year (anonymous Gregorian algorithm); `None` outside
/// [`FIRST_YEAR`]..=[`LAST_YEAR`].
pub fn easter(year: i32) -> Option<NaiveDate> {
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return None;
    }
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// Is this a lustrum year of the liberation (1945 + 5n), when Bevrijdingsdag is a general day off?
pub fn is_lustrum(year: i32) -> bool {
    year >= 1945 && (year - 1945) % 5 == 0
}

fn koningsdag(year: i32) -> Option<(NaiveDate, &'static str)> {
    if year >= 2014 {
        let d = NaiveDate::from_ymd_opt(year, 4, 27)?;
        let d = if d.weekday() == Weekday::Sun {
            d.pred_opt()?
        } else {
            d
        };
        Some((d, "Koningsdag"))
    } else {
        let d = NaiveDate::from_ymd_opt(year, 4, 30)?;
        let d = if d.weekday() == Weekday::Sun {
            d.pred_opt()?
        } else {
            d
        };
        Some((d, "Koninginnedag"))
    }
}

/// The Dutch public holidays of a year, in calendar order. Empty outside
/// [`FIRST_YEAR`]..=[`LAST_YEAR`].
pub fn holidays(year: i32) -> Vec<Holiday> {
    let Some(easter) = easter(year) else {
        return Vec::new();
    };
    let plus = |days: u64| easter.checked_add_days(Days::new(days));
    let fixed = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d);
    let entry = |kind: HolidayKind, date: Option<NaiveDate>, optional: bool| {
        date.map(|date| Holiday {
            date,
            kind,
            name_nl: kind.name_nl(),
            name_en: kind.name_en(),
            optional,
        })
    };
    let koning = koningsdag(year).map(|(date, name_nl)| Holiday {
        date,
        kind: HolidayKind::Koningsdag,
        name_nl,
        name_en: HolidayKind::Koningsdag.name_en(),
        optional: false,
    });
    let mut out: Vec<Holiday> = [
        entry(HolidayKind::Nieuwjaarsdag, fixed(1, 1), false),
        entry(
            HolidayKind::GoedeVrijdag,
            easter.checked_sub_days(Days::new(2)),
            true,
        ),
        entry(HolidayKind::EerstePaasdag, Some(easter), false),
        entry(HolidayKind::TweedePaasdag, plus(1), false),
        koning,
        entry(HolidayKind::Bevrijdingsdag, fixed(5, 5), !is_lustrum(year)),
        entry(HolidayKind::Hemelvaartsdag, plus(39), false),
        entry(HolidayKind::EerstePinksterdag, plus(49), false),
        entry(HolidayKind::TweedePinksterdag, plus(50), false),
        entry(HolidayKind::EersteKerstdag, fixed(12, 25), false),
        entry(HolidayKind::TweedeKerstdag, fixed(12, 26), false),
    ]
    .into_iter()
    .flatten()
    .collect();
    // Hemelvaartsdag can fall before Bevrijdingsdag (2008) or on it (2016): keep calendar order.
    out.sort_by_key(|h| (h.date, h.kind));
    out
}

/// The holidays on a date (two at once happens: Bevrijdingsdag on Hemelvaartsdag, or
/// Koningsdag on Tweede Paasdag).
pub fn holidays_on(date: NaiveDate) -> Vec<Holiday> {
    holidays(date.year())
        .into_iter()
        .filter(|h| h.date == date)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|_| unreachable!("{s}"))
    }

    fn date_of(year: i32, kind: HolidayKind) -> Option<NaiveDate> {
        holidays(year)
            .into_iter()
            .find(|h| h.kind == kind)
            .map(|h| h.date)
    }

    #[test]
    fn easter_dates() {
        for (year, want) in [
            (2019, "2019-04-21"),
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2027, "2027-03-28"),
            (2030, "2030-04-21"),
            (2038, "2038-04-25"),
            (2285, "2285-03-22"), // earliest possible
            (1943, "1943-04-25"), // latest possible
        ] {
            assert_eq!(easter(year), Some(d(want)), "{year}");
        }
        assert_eq!(easter(1582), None);
        assert_eq!(easter(10_000), None);
        assert_eq!(easter(i32::MIN), None);
    }

    #[test]
    fn whole_years() {
        use HolidayKind::*;
        let cases: [(i32, [&str; 11]); 6] = [
            (
                2024,
                [
                    "2024-01-01",
                    "2024-03-29",
                    "2024-03-31",
                    "2024-04-01",
                    "2024-04-27",
                    "2024-05-05",
                    "2024-05-09",
                    "2024-05-19",
                    "2024-05-20",
                    "2024-12-25",
                    "2024-12-26",
                ],
            ),
            (
                2025,
                [
                    "2025-01-01",
                    "2025-04-18",
                    "2025-04-20",
                    "2025-04-21",
                    "2025-04-26", // 27 April 2025 is a Sunday
                    "2025-05-05",
                    "2025-05-29",
                    "2025-06-08",
                    "2025-06-09",
                    "2025-12-25",
                    "2025-12-26",
                ],
            ),
            (
                2026,
                [
                    "2026-01-01",
                    "2026-04-03",
                    "2026-04-05",
                    "2026-04-06",
                    "2026-04-27",
                    "2026-05-05",
                    "2026-05-14",
                    "2026-05-24",
                    "2026-05-25",
                    "2026-12-25",
                    "2026-12-26",
                ],
            ),
            (
                2027,
                [
                    "2027-01-01",
                    "2027-03-26",
                    "2027-03-28",
                    "2027-03-29",
                    "2027-04-27",
                    "2027-05-05",
                    "2027-05-06",
                    "2027-05-16",
                    "2027-05-17",
                    "2027-12-25",
                    "2027-12-26",
                ],
            ),
            (
                2030,
                [
                    "2030-01-01",
                    "2030-04-19",
                    "2030-04-21",
                    "2030-04-22",
                    "2030-04-27",
                    "2030-05-05",
                    "2030-05-30",
                    "2030-06-09",
                    "2030-06-10",
                    "2030-12-25",
                    "2030-12-26",
                ],
            ),
            (
                2038,
                [
                    "2038-01-01",
                    "2038-04-23",
                    "2038-04-25",
                    "2038-04-26",
                    "2038-04-27",
                    "2038-05-05",
                    "2038-06-03",
                    "2038-06-13",
                    "2038-06-14",
                    "2038-12-25",
                    "2038-12-26",
                ],
            ),
        ];
        let order = [
            Nieuwjaarsdag,
            GoedeVrijdag,
            EerstePaasdag,
            TweedePaasdag,
            Koningsdag,
            Bevrijdingsdag,
            Hemelvaartsdag,
            EerstePinksterdag,
            TweedePinksterdag,
            EersteKerstdag,
            TweedeKerstdag,
        ];
        for (year, dates) in cases {
            assert_eq!(holidays(year).len(), 11, "{year}");
            for (kind, want) in order.iter().zip(dates) {
                assert_eq!(date_of(year, *kind), Some(d(want)), "{year} {kind:?}");
            }
            let list = holidays(year);
            assert!(
                list.windows(2).all(|w| w[0].date <= w[1].date),
                "{year}: calendar order"
            );
        }
    }

    #[test]
    fn koningsdag_and_koninginnedag() {
        // 27 April on a Sunday → Saturday 26 April.
        assert_eq!(
            date_of(2025, HolidayKind::Koningsdag),
            Some(d("2025-04-26"))
        );
        assert_eq!(
            date_of(2031, HolidayKind::Koningsdag),
            Some(d("2031-04-26"))
        );
        assert_eq!(
            date_of(2036, HolidayKind::Koningsdag),
            Some(d("2036-04-26"))
        );
        // Before 2014: Koninginnedag on 30 April, 29 April when the 30th was a Sunday (2006).
        let k2006 = holidays(2006)
            .into_iter()
            .find(|h| h.kind == HolidayKind::Koningsdag);
        assert_eq!(k2006.as_ref().map(|h| h.date), Some(d("2006-04-29")));
        assert_eq!(k2006.map(|h| h.name_nl), Some("Koninginnedag"));
        assert_eq!(
            date_of(2013, HolidayKind::Koningsdag),
            Some(d("2013-04-30"))
        );
    }

    #[test]
    fn optional_days() {
        for year in 2024..=2040 {
            let list = holidays(year);
            let flag = |k: HolidayKind| list.iter().find(|h| h.kind == k).map(|h| h.optional);
            assert_eq!(flag(HolidayKind::GoedeVrijdag), Some(true), "{year}");
            assert_eq!(
                flag(HolidayKind::Bevrijdingsdag),
                Some(!matches!(year, 2025 | 2030 | 2035 | 2040)),
                "{year}"
            );
            assert_eq!(
                list.iter().filter(|h| h.optional).count(),
                if is_lustrum(year) { 1 } else { 2 }
            );
        }
    }

    #[test]
    fn two_holidays_on_one_date() {
        // Easter 2016 was 27 March, so Hemelvaartsdag fell on 5 May, Bevrijdingsdag.
        let both: Vec<HolidayKind> = holidays_on(d("2016-05-05"))
            .iter()
            .map(|h| h.kind)
            .collect();
        assert_eq!(
            both,
            vec![HolidayKind::Bevrijdingsdag, HolidayKind::Hemelvaartsdag]
        );
        // 2008: Hemelvaartsdag on 1 May, before Bevrijdingsdag; the list stays in calendar order.
        let kinds: Vec<HolidayKind> = holidays(2008).iter().map(|h| h.kind).collect();
        let pos = |k: HolidayKind| kinds.iter().position(|x| *x == k);
        assert!(pos(HolidayKind::Hemelvaartsdag) < pos(HolidayKind::Bevrijdingsdag));
        assert!(holidays_on(d("2026-11-23")).is_empty());
        assert_eq!(
            holidays_on(d("2026-12-25")).first().map(|h| h.kind),
            Some(HolidayKind::EersteKerstdag)
        );
    }

    #[test]
    fn names_round_trip() {
        for k in HolidayKind::ALL {
            assert_eq!(HolidayKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(HolidayKind::parse("kerst"), None);
        assert!(holidays(1582).is_empty());
        assert!(holidays(i32::MAX).is_empty());
        assert_eq!(holidays(FIRST_YEAR).len(), 11);
        assert_eq!(holidays(LAST_YEAR).len(), 11);
    }
}

/// Local time in the Netherlands (Europe/Amsterdam: CET, and CEST from the last Sunday of March
/// 01:00 UTC to the last Sunday of October 01:00 UTC, the EU rule since 1996) of a moment in
/// Unix milliseconds. Openingstijden are in this time.
pub fn nl_local(unix_ms: u64) -> chrono::NaiveDateTime {
    let secs = i64::try_from(unix_ms / 1000).unwrap_or(i64::MAX);
    let utc = chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .naive_utc();
    let last_sunday = |month: u32| {
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(utc.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(utc.year(), month + 1, 1)
        };
        next.and_then(|d| d.pred_opt()).map(|mut d| {
            while d.weekday() != Weekday::Sun {
                d = d.pred_opt().unwrap_or(d);
            }
            d.and_hms_opt(1, 0, 0).unwrap_or_default()
        })
    };
    let summer = match (last_sunday(3), last_sunday(10)) {
        (Some(start), Some(end)) => utc >= start && utc < end,
        _ => false,
    };
    utc + chrono::Duration::hours(if summer { 2 } else { 1 })
}

#[cfg(test)]
mod nl_time_tests {
    use super::nl_local;

    fn ms(s: &str) -> u64 {
        let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_default();
        u64::try_from(t.and_utc().timestamp()).unwrap_or(0) * 1000
    }

    #[test]
    fn winter_summer_and_the_switches() {
        let f = |s| nl_local(ms(s)).format("%Y-%m-%d %H:%M").to_string();
        assert_eq!(f("2026-01-15 12:00"), "2026-01-15 13:00");
        assert_eq!(f("2026-07-01 12:00"), "2026-07-01 14:00");
        // 29 March 2026: 01:00 UTC is 03:00 CEST; a minute before, 01:59 CET.
        assert_eq!(f("2026-03-29 00:59"), "2026-03-29 01:59");
        assert_eq!(f("2026-03-29 01:00"), "2026-03-29 03:00");
        // 25 October 2026: 01:00 UTC is 02:00 CET again.
        assert_eq!(f("2026-10-25 00:59"), "2026-10-25 02:59");
        assert_eq!(f("2026-10-25 01:00"), "2026-10-25 02:00");
        assert_eq!(f("2027-03-28 01:00"), "2027-03-28 03:00");
    }
}

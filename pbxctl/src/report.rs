//! `pbxctl report`: call analysis over the CDRs of a period, computed here in pbxctl over the
//! records the caller may see (`GET /v1/cdr`).
//!
//! [`compute`] is pure (CDRs, scope and time zone in, [`Report`] out) so it can be tested on
//! synthetic records; [`run`] fetches and prints. A call belongs to the period in which it
//! *ended* (the server's `from_ms`/`to_ms` filter on `end_ms`); its hour of day is the local
//! hour in which it *started*.
//!
//! Output forms:
//! - a Dutch (or English, `--lang en`) table;
//! - `--json`: [`Report`], a stable object (totals plus `per_tenant`);
//! - `--csv`: the header `organisatie,sleutel,waarde` and one row per figure; the organisation
//!   `*` holds the period rows (`van`, `tot`, `trunk`) and the totals, then the same keys follow
//!   per organisation when there is a breakdown (see [`csv_rows`] for the keys).

use crate::cli::ReportArgs;
use crate::{Ctx, Failure, R};
use chrono::{TimeZone, Timelike};
use pbx_api::Route;
use pbx_cli::{exit, table};
use pbx_i18n::{tr, Lang, Msg};
use pbx_model::{Afloop, Cdr, Direction};
use serde::Serialize;
use std::collections::BTreeMap;

/// The default period: the last 30 days.
const DEFAULT_DAYS: u64 = 30;
/// How many busiest hours and failure causes the report names.
const TOP_HOURS: usize = 3;
const TOP_FAILURES: usize = 5;

/// What the report covers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// Start of the period (Unix ms, inclusive, on `end_ms`).
    pub from_ms: u64,
    /// End of the period (Unix ms, exclusive).
    pub to_ms: u64,
    /// Only this organisation (`--tenant`); `null` for every one the caller sees.
    pub tenant: Option<String>,
    /// Only calls whose `trunk` is this name (`--trunk`).
    pub trunk: Option<String>,
}

/// The whole report: the `--json` output.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The period and filters.
    #[serde(flatten)]
    pub scope: Scope,
    /// Figures over every call in scope.
    pub totals: Figures,
    /// The same per organisation, by slug; empty when `--tenant` was given or the calls of the
    /// period belong to one organisation only.
    pub per_tenant: Vec<TenantFigures>,
}

/// The figures of one organisation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TenantFigures {
    /// Organisation slug.
    pub tenant: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// Calls per direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Directions {
    pub intern: u64,
    pub inkomend: u64,
    pub uitgaand: u64,
}

/// Calls per afloop.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    pub beantwoord: u64,
    pub geen_antwoord: u64,
    pub bezet: u64,
    pub mislukt: u64,
    pub geannuleerd: u64,
}

/// An hour of the day (local time) and the calls that started in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HourCount {
    /// 0–23.
    pub hour: u8,
    pub calls: u64,
}

/// The quality of the answered calls, by MOS band. The MOS of a call is the average of its
/// quality summary (`quality.avg_mos_centi`), else the mean of its legs' MOS.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QualityFigures {
    /// Answered calls with a MOS.
    pub measured: u64,
    /// Average MOS of those, in hundredths; `null` when none was measured.
    pub avg_mos_centi: Option<u32>,
    /// MOS ≥ 4.3.
    pub uitstekend: u64,
    /// 4.0 ≤ MOS < 4.3.
    pub goed: u64,
    /// 3.6 ≤ MOS < 4.0.
    pub redelijk: u64,
    /// 3.1 ≤ MOS < 3.6.
    pub matig: u64,
    /// MOS < 3.1.
    pub slecht: u64,
    /// Answered calls without a MOS (media did not flow through pbxd).
    pub unmeasured: u64,
    /// Answered calls with one-way audio for 5 s or more.
    pub one_way: u64,
}

/// A final SIP status of unanswered calls, with how often it occurred.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureCause {
    pub sip_code: u16,
    pub count: u64,
    /// What the code means, in the output language.
    pub text: String,
}

/// The figures over a set of calls. Percentages are rounded to one decimal, durations to whole
/// seconds; an empty set gives zeros, never NaN.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Calls (call attempts: a call with trunk failover counts once).
    pub calls: u64,
    pub directions: Directions,
    pub outcomes: Outcomes,
    /// Answered calls (afloop `beantwoord`).
    pub answered: u64,
    /// Calls that count as effective for the NER (see [`ner_effective`]).
    pub ner_calls: u64,
    /// Answer-seizure ratio: `answered / calls × 100`.
    pub asr_pct: f64,
    /// Network effectiveness ratio: `ner_calls / calls × 100`.
    pub ner_pct: f64,
    /// Average billsec (answer to end) of the answered calls.
    pub avg_billsec: u64,
    /// Billsec of all answered calls together.
    pub total_billsec: u64,
    /// The same in minutes, one decimal.
    pub total_minutes: f64,
    /// Calls per local hour of the day in which they started, index 0–23.
    pub hours: [u64; 24],
    /// The busiest hours, most calls first (ties: the earlier hour); at most 3, only hours with
    /// calls.
    pub busiest_hours: Vec<HourCount>,
    pub quality: QualityFigures,
    /// The most frequent final SIP status of unanswered calls, most frequent first (ties: the
    /// lower code); at most 5.
    pub failures: Vec<FailureCause>,
}

/// Does a call count as effective for the NER (network effectiveness ratio, after ITU-T
/// E.425)? The network did its work when the call was answered or ended with a result from
/// the user's side:
/// - answered (afloop `beantwoord`);
/// - busy: 486 or 600;
/// - no answer from the called party: 480, and 408 — except a 408 that is the answer recorded
///   for the last trunk tried (the provider stayed silent: Timer B), which is a network failure;
/// - declined by the called party: 603;
/// - cancelled by the caller before answer: 487.
///
/// Everything else (404, 403, 484, 488, 5xx, other 4xx and 6xx) is a failure of the call
/// setup and does not count. NER = effective calls / all calls × 100.
pub fn ner_effective(c: &Cdr) -> bool {
    if c.afloop == Afloop::Beantwoord {
        return true;
    }
    match c.sip_code {
        486 | 600 | 480 | 603 | 487 => true,
        408 => c.attempts.last().is_none_or(|a| a.code != 408),
        _ => false,
    }
}

/// The MOS of a call in hundredths: its quality summary's average, else the mean of its legs.
pub fn call_mos(c: &Cdr) -> Option<u32> {
    if let Some(m) = c.quality.as_ref().and_then(|q| q.avg_mos_centi) {
        return Some(m);
    }
    let legs: Vec<u64> = c
        .legs
        .iter()
        .filter_map(|l| l.mos_centi.map(u64::from))
        .collect();
    let n = legs.len() as u64;
    (n > 0).then(|| u32::try_from((legs.iter().sum::<u64>() + n / 2) / n).unwrap_or(u32::MAX))
}

/// The MOS bands, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Band {
    Uitstekend,
    Goed,
    Redelijk,
    Matig,
    Slecht,
}

impl Band {
    pub const ALL: [Band; 5] = [
        Band::Uitstekend,
        Band::Goed,
        Band::Redelijk,
        Band::Matig,
        Band::Slecht,
    ];

    /// The band of a MOS in hundredths: ≥4.3, 4.0–4.3, 3.6–4.0, 3.1–3.6, <3.1 (lower bound
    /// inclusive).
    pub fn of(mos_centi: u32) -> Band {
        match mos_centi {
            430.. => Band::Uitstekend,
            400..=429 => Band::Goed,
            360..=399 => Band::Redelijk,
            310..=359 => Band::Matig,
            _ => Band::Slecht,
        }
    }

    /// The name in CSV keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Uitstekend => "uitstekend",
            Band::Goed => "goed",
            Band::Redelijk => "redelijk",
            Band::Matig => "matig",
            Band::Slecht => "slecht",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Band::Uitstekend => "ctl.report.band.uitstekend",
            Band::Goed => "ctl.report.band.goed",
            Band::Redelijk => "ctl.report.band.redelijk",
            Band::Matig => "ctl.report.band.matig",
            Band::Slecht => "ctl.report.band.slecht",
        }
    }

    /// The MOS range for the table.
    fn range(self) -> &'static str {
        match self {
            Band::Uitstekend => "≥ 4.3",
            Band::Goed => "4.0 – 4.3",
            Band::Redelijk => "3.6 – 4.0",
            Band::Matig => "3.1 – 3.6",
            Band::Slecht => "< 3.1",
        }
    }

    fn count(self, q: &QualityFigures) -> u64 {
        match self {
            Band::Uitstekend => q.uitstekend,
            Band::Goed => q.goed,
            Band::Redelijk => q.redelijk,
            Band::Matig => q.matig,
            Band::Slecht => q.slecht,
        }
    }

    fn count_mut(self, q: &mut QualityFigures) -> &mut u64 {
        match self {
            Band::Uitstekend => &mut q.uitstekend,
            Band::Goed => &mut q.goed,
            Band::Redelijk => &mut q.redelijk,
            Band::Matig => &mut q.matig,
            Band::Slecht => &mut q.slecht,
        }
    }
}

/// The catalogue key of what a final SIP status means.
fn sip_key(code: u16) -> &'static str {
    match code {
        403 => "ctl.report.sip.403",
        404 => "ctl.report.sip.404",
        408 => "ctl.report.sip.408",
        480 => "ctl.report.sip.480",
        484 => "ctl.report.sip.484",
        486 => "ctl.report.sip.486",
        487 => "ctl.report.sip.487",
        488 => "ctl.report.sip.488",
        500 => "ctl.report.sip.500",
        503 => "ctl.report.sip.503",
        600 => "ctl.report.sip.600",
        603 => "ctl.report.sip.603",
        _ => match code / 100 {
            4 => "ctl.report.sip.4xx",
            5 => "ctl.report.sip.5xx",
            6 => "ctl.report.sip.6xx",
            _ => "ctl.report.sip.other",
        },
    }
}

/// What a final SIP status means, in `lang`.
pub fn sip_text(lang: Lang, code: u16) -> String {
    tr(lang, sip_key(code))
}

/// `part / whole × 100`, rounded to one decimal; 0 for an empty whole.
fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    let tenths = (u128::from(part) * 1000 + u128::from(whole) / 2) / u128::from(whole);
    tenths as f64 / 10.0
}

/// The local hour (0–23) of a Unix ms in `tz`.
fn hour_in<Tz: TimeZone>(tz: &Tz, ms: u64) -> Option<u8> {
    let t = tz
        .timestamp_millis_opt(i64::try_from(ms).ok()?)
        .earliest()?;
    u8::try_from(t.hour()).ok()
}

impl Figures {
    /// The figures over `calls`, hours in `tz`, failure texts in `lang`.
    pub fn of<Tz: TimeZone>(calls: &[&Cdr], tz: &Tz, lang: Lang) -> Figures {
        let mut f = Figures {
            calls: calls.len() as u64,
            ..Figures::default()
        };
        let mut mos_sum = 0u64;
        let mut failures: BTreeMap<u16, u64> = BTreeMap::new();
        for c in calls {
            *match c.direction {
                Direction::Intern => &mut f.directions.intern,
                Direction::Inkomend => &mut f.directions.inkomend,
                Direction::Uitgaand => &mut f.directions.uitgaand,
            } += 1;
            *match c.afloop {
                Afloop::Beantwoord => &mut f.outcomes.beantwoord,
                Afloop::GeenAntwoord => &mut f.outcomes.geen_antwoord,
                Afloop::Bezet => &mut f.outcomes.bezet,
                Afloop::Mislukt => &mut f.outcomes.mislukt,
                Afloop::Geannuleerd => &mut f.outcomes.geannuleerd,
            } += 1;
            if ner_effective(c) {
                f.ner_calls += 1;
            }
            if let Some(h) = hour_in(tz, c.start_ms) {
                if let Some(slot) = f.hours.get_mut(usize::from(h)) {
                    *slot += 1;
                }
            }
            if c.afloop == Afloop::Beantwoord {
                f.answered += 1;
                f.total_billsec += c.billsec();
                match call_mos(c) {
                    Some(m) => {
                        f.quality.measured += 1;
                        mos_sum += u64::from(m);
                        *Band::of(m).count_mut(&mut f.quality) += 1;
                    }
                    None => f.quality.unmeasured += 1,
                }
                if c.quality.as_ref().is_some_and(|q| q.one_way) {
                    f.quality.one_way += 1;
                }
            } else {
                *failures.entry(c.sip_code).or_default() += 1;
            }
        }
        f.asr_pct = pct(f.answered, f.calls);
        f.ner_pct = pct(f.ner_calls, f.calls);
        f.avg_billsec = (f.total_billsec + f.answered / 2)
            .checked_div(f.answered)
            .unwrap_or(0);
        f.total_minutes = ((f.total_billsec * 10 + 30) / 60) as f64 / 10.0;
        let m = f.quality.measured;
        f.quality.avg_mos_centi = (mos_sum + m / 2)
            .checked_div(m)
            .and_then(|v| u32::try_from(v).ok());
        let mut hours: Vec<HourCount> = (0u8..24)
            .zip(f.hours)
            .filter(|(_, n)| *n > 0)
            .map(|(hour, calls)| HourCount { hour, calls })
            .collect();
        hours.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.hour.cmp(&b.hour)));
        hours.truncate(TOP_HOURS);
        f.busiest_hours = hours;
        let mut causes: Vec<(u16, u64)> = failures.into_iter().collect();
        causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        f.failures = causes
            .into_iter()
            .take(TOP_FAILURES)
            .map(|(sip_code, count)| FailureCause {
                sip_code,
                count,
                text: sip_text(lang, sip_code),
            })
            .collect();
        f
    }
}

/// Does `c` fall in the scope's organisation and trunk filters? (The period is the server's
/// filter.)
fn in_scope(scope: &Scope, c: &Cdr) -> bool {
    scope.tenant.as_deref().is_none_or(|t| c.tenant == t)
        && scope
            .trunk
            .as_deref()
            .is_none_or(|t| c.trunk.as_deref() == Some(t))
}

/// The report over `cdrs` (already limited to the period by the server): the calls that pass
/// the scope's organisation and trunk filters, with hours in `tz` and texts in `lang`.
pub fn compute<Tz: TimeZone>(cdrs: &[Cdr], scope: Scope, tz: &Tz, lang: Lang) -> Report {
    let calls: Vec<&Cdr> = cdrs.iter().filter(|c| in_scope(&scope, c)).collect();
    let mut by_tenant: BTreeMap<&str, Vec<&Cdr>> = BTreeMap::new();
    for c in &calls {
        by_tenant.entry(c.tenant.as_str()).or_default().push(c);
    }
    let per_tenant = if scope.tenant.is_none() && by_tenant.len() > 1 {
        by_tenant
            .iter()
            .map(|(t, v)| TenantFigures {
                tenant: (*t).to_string(),
                figures: Figures::of(v, tz, lang),
            })
            .collect()
    } else {
        Vec::new()
    };
    Report {
        totals: Figures::of(&calls, tz, lang),
        per_tenant,
        scope,
    }
}

// ---- presentation

/// Seconds as `0:01:05`.
fn duration(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A MOS in hundredths as `4.38`, `-` when unknown.
fn mos_text(m: Option<u32>) -> String {
    m.map(|m| format!("{}.{:02}", m / 100, m % 100))
        .unwrap_or_else(|| "-".into())
}

fn pct_text(v: f64) -> String {
    format!("{v:.1}%")
}

/// `14:00 (5), 09:00 (3)`.
fn busiest_text(lang: Lang, f: &Figures) -> String {
    if f.busiest_hours.is_empty() {
        return "-".into();
    }
    f.busiest_hours
        .iter()
        .map(|h| {
            Msg::new("ctl.report.hour_calls")
                .arg("hour", format!("{:02}:00", h.hour))
                .arg("calls", h.calls)
                .render(lang)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The report as people read it.
pub fn render_table(lang: Lang, r: &Report, local_time: impl Fn(u64) -> String) -> String {
    let f = &r.totals;
    let mut s = Msg::new("ctl.report.title")
        .arg("from", local_time(r.scope.from_ms))
        .arg("to", local_time(r.scope.to_ms))
        .render(lang);
    if let Some(t) = &r.scope.tenant {
        s.push_str(" — ");
        s.push_str(
            &Msg::new("ctl.report.for_tenant")
                .arg("tenant", t)
                .render(lang),
        );
    }
    if let Some(t) = &r.scope.trunk {
        s.push_str(" — ");
        s.push_str(
            &Msg::new("ctl.report.for_trunk")
                .arg("trunk", t)
                .render(lang),
        );
    }
    s.push_str("\n\n");
    let lines = [
        (
            tr(lang, "ctl.report.calls"),
            format!(
                "{} ({})",
                f.calls,
                Msg::new("ctl.report.directions")
                    .arg("intern", f.directions.intern)
                    .arg("inkomend", f.directions.inkomend)
                    .arg("uitgaand", f.directions.uitgaand)
                    .render(lang)
            ),
        ),
        (tr(lang, "ctl.report.answered"), f.answered.to_string()),
        (tr(lang, "ctl.report.asr"), pct_text(f.asr_pct)),
        (tr(lang, "ctl.report.ner"), pct_text(f.ner_pct)),
        (tr(lang, "ctl.report.avg_duration"), duration(f.avg_billsec)),
        (
            tr(lang, "ctl.report.total_minutes"),
            format!("{:.1}", f.total_minutes),
        ),
        (tr(lang, "ctl.report.busiest"), busiest_text(lang, f)),
        (
            tr(lang, "ctl.report.avg_mos"),
            mos_text(f.quality.avg_mos_centi),
        ),
    ];
    let width = lines
        .iter()
        .map(|(k, _)| k.chars().count() + 2)
        .max()
        .unwrap_or(0);
    for (k, v) in &lines {
        let label = format!("{k}:");
        s.push_str(&format!("{label:<width$}{v}\n"));
    }

    s.push('\n');
    s.push_str(&tr(lang, "ctl.report.quality"));
    s.push('\n');
    let mut rows: Vec<Vec<String>> = Band::ALL
        .iter()
        .map(|b| {
            vec![
                tr(lang, b.key()),
                b.range().to_string(),
                b.count(&f.quality).to_string(),
            ]
        })
        .collect();
    rows.push(vec![
        tr(lang, "ctl.report.unmeasured"),
        "-".into(),
        f.quality.unmeasured.to_string(),
    ]);
    rows.push(vec![
        tr(lang, "ctl.report.one_way"),
        String::new(),
        f.quality.one_way.to_string(),
    ]);
    s.push_str(&table(
        &[
            tr(lang, "col.band"),
            tr(lang, "col.mos"),
            tr(lang, "col.calls"),
        ],
        &rows,
    ));

    s.push('\n');
    s.push_str(&tr(lang, "ctl.report.failures"));
    s.push('\n');
    if f.failures.is_empty() {
        s.push_str(&tr(lang, "ctl.report.no_failures"));
        s.push('\n');
    } else {
        let rows: Vec<Vec<String>> = f
            .failures
            .iter()
            .map(|c| vec![c.sip_code.to_string(), c.text.clone(), c.count.to_string()])
            .collect();
        s.push_str(&table(
            &[
                tr(lang, "col.sip_code"),
                tr(lang, "col.meaning"),
                tr(lang, "col.calls"),
            ],
            &rows,
        ));
    }

    if !r.per_tenant.is_empty() {
        s.push('\n');
        s.push_str(&tr(lang, "ctl.report.per_tenant"));
        s.push('\n');
        let rows: Vec<Vec<String>> = r
            .per_tenant
            .iter()
            .map(|t| {
                let f = &t.figures;
                vec![
                    t.tenant.clone(),
                    f.calls.to_string(),
                    f.answered.to_string(),
                    pct_text(f.asr_pct),
                    pct_text(f.ner_pct),
                    duration(f.avg_billsec),
                    format!("{:.1}", f.total_minutes),
                    mos_text(f.quality.avg_mos_centi),
                ]
            })
            .collect();
        s.push_str(&table(
            &[
                tr(lang, "col.tenant"),
                tr(lang, "col.calls"),
                tr(lang, "col.answered"),
                tr(lang, "col.asr"),
                tr(lang, "col.ner"),
                tr(lang, "col.avg_duration"),
                tr(lang, "col.minutes"),
                tr(lang, "col.mos"),
            ],
            &rows,
        ));
    }
    s
}

/// The `sleutel,waarde` rows of one set of figures. Keys: `gesprekken`, `intern`, `inkomend`,
/// `uitgaand`, `beantwoord`, `geen_antwoord`, `bezet`, `mislukt`, `geannuleerd`,
/// `ner_gesprekken`, `asr_pct`, `ner_pct`, `gem_duur_s`, `totaal_duur_s`, `totaal_minuten`,
/// `drukste_uur_1`…`3` (hour 0–23), `uur_00`…`uur_23`, `mos_gemiddeld` (empty when unknown),
/// `mos_gemeten`, `mos_uitstekend`, `mos_goed`, `mos_redelijk`, `mos_matig`, `mos_slecht`,
/// `mos_zonder_meting`, `eenrichtingsgeluid`, and `fout_<code>` per failure cause, most
/// frequent first.
pub fn csv_rows(f: &Figures) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("gesprekken", f.calls.to_string()),
        ("intern", f.directions.intern.to_string()),
        ("inkomend", f.directions.inkomend.to_string()),
        ("uitgaand", f.directions.uitgaand.to_string()),
        ("beantwoord", f.outcomes.beantwoord.to_string()),
        ("geen_antwoord", f.outcomes.geen_antwoord.to_string()),
        ("bezet", f.outcomes.bezet.to_string()),
        ("mislukt", f.outcomes.mislukt.to_string()),
        ("geannuleerd", f.outcomes.geannuleerd.to_string()),
        ("ner_gesprekken", f.ner_calls.to_string()),
        ("asr_pct", format!("{:.1}", f.asr_pct)),
        ("ner_pct", format!("{:.1}", f.ner_pct)),
        ("gem_duur_s", f.avg_billsec.to_string()),
        ("totaal_duur_s", f.total_billsec.to_string()),
        ("totaal_minuten", format!("{:.1}", f.total_minutes)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (i, h) in f.busiest_hours.iter().enumerate() {
        v.push((format!("drukste_uur_{}", i + 1), h.hour.to_string()));
    }
    for (h, n) in f.hours.iter().enumerate() {
        v.push((format!("uur_{h:02}"), n.to_string()));
    }
    let q = &f.quality;
    v.push((
        "mos_gemiddeld".into(),
        q.avg_mos_centi
            .map(|m| mos_text(Some(m)))
            .unwrap_or_default(),
    ));
    v.push(("mos_gemeten".into(), q.measured.to_string()));
    for b in Band::ALL {
        v.push((format!("mos_{}", b.as_str()), b.count(q).to_string()));
    }
    v.push(("mos_zonder_meting".into(), q.unmeasured.to_string()));
    v.push(("eenrichtingsgeluid".into(), q.one_way.to_string()));
    for c in &f.failures {
        v.push((format!("fout_{}", c.sip_code), c.count.to_string()));
    }
    v
}

/// The report as CSV: `organisatie,sleutel,waarde`.
pub fn render_csv(r: &Report, local_time: impl Fn(u64) -> String) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut put = |org: &str, k: &str, v: &str| w.write_record([org, k, v]);
    let e = |e: csv::Error| e.to_string();
    put("organisatie", "sleutel", "waarde").map_err(e)?;
    put("*", "van", &local_time(r.scope.from_ms)).map_err(e)?;
    put("*", "tot", &local_time(r.scope.to_ms)).map_err(e)?;
    put("*", "trunk", r.scope.trunk.as_deref().unwrap_or_default()).map_err(e)?;
    let all = r.scope.tenant.as_deref().unwrap_or("*");
    for (k, v) in csv_rows(&r.totals) {
        put(all, &k, &v).map_err(e)?;
    }
    for t in &r.per_tenant {
        for (k, v) in csv_rows(&t.figures) {
            put(&t.tenant, &k, &v).map_err(e)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

// ---- I/O

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub async fn run(ctx: &Ctx, a: &ReportArgs) -> R<i32> {
    let l = ctx.lang;
    let time = |v: &Option<String>| -> R<Option<u64>> {
        match v {
            None => Ok(None),
            Some(v) => crate::cdr::parse_time(v).map(Some).ok_or_else(|| {
                Failure::new(
                    exit::USAGE,
                    Msg::new("ctl.bad_time").arg("value", v).render(l),
                )
            }),
        }
    };
    let now = now_ms();
    let to_ms = time(&a.to)?.unwrap_or(now);
    let from_ms = time(&a.from)?.unwrap_or_else(|| to_ms.saturating_sub(DEFAULT_DAYS * 86_400_000));
    if from_ms >= to_ms {
        return Err(Failure::new(
            exit::USAGE,
            Msg::new("ctl.report.bad_period")
                .arg("from", crate::cdr::local_time(from_ms))
                .arg("to", crate::cdr::local_time(to_ms))
                .render(l),
        ));
    }
    let (from_q, to_q) = (from_ms.to_string(), to_ms.to_string());
    let mut q = vec![("from_ms", from_q.as_str()), ("to_ms", to_q.as_str())];
    if let Some(t) = &a.tenant {
        q.push(("tenant", t.as_str()));
    }
    let cdrs: Vec<Cdr> = ctx.get(Route::Cdrs, &q).await?;
    let scope = Scope {
        from_ms,
        to_ms,
        tenant: a.tenant.clone(),
        trunk: a.trunk.clone(),
    };
    let report = compute(&cdrs, scope, &chrono::Local, l);
    if ctx.json {
        return ctx.out(&report, |_| String::new());
    }
    let text = if a.csv {
        render_csv(&report, crate::cdr::local_time).map_err(|e| Failure::new(exit::SOFTWARE, e))?
    } else {
        render_table(l, &report, crate::cdr::local_time)
    };
    crate::write_out(&text);
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use pbx_model::{Attempt, CallQuality, HangupBy, LegQuality, Party};

    /// 2026-11-21 00:00:00 UTC.
    const DAY: u64 = 1_795_219_200_000;
    const HOUR: u64 = 3_600_000;

    fn utc() -> chrono::FixedOffset {
        chrono::FixedOffset::east_opt(0).unwrap()
    }

    fn cdr(tenant: &str, start_ms: u64, sip_code: u16) -> Cdr {
        let afloop = Afloop::from_sip(sip_code);
        let answered = afloop == Afloop::Beantwoord;
        Cdr {
            id: format!("{tenant}-{start_ms}-{sip_code}"),
            tenant: tenant.into(),
            call_id: "c".into(),
            caller: Party::default(),
            callee: Party::default(),
            forwarded_to: Vec::new(),
            direction: Direction::Intern,
            start_ms,
            answer_ms: answered.then_some(start_ms + 5_000),
            end_ms: start_ms + if answered { 65_000 } else { 20_000 },
            afloop,
            sip_code,
            hangup_by: HangupBy::Beller,
            codecs: vec![],
            legs: vec![],
            trunk: None,
            attempts: vec![],
            quality: None,
            notes: String::new(),
            afcodering: None,
        }
    }

    fn with_mos(mut c: Cdr, mos: u32, one_way: bool) -> Cdr {
        c.quality = Some(CallQuality {
            avg_mos_centi: Some(mos),
            one_way,
            ..CallQuality::default()
        });
        c
    }

    fn all() -> Scope {
        Scope {
            from_ms: DAY,
            to_ms: DAY + 24 * HOUR,
            ..Scope::default()
        }
    }

    #[test]
    fn report_asr_ner_and_durations() {
        let mut trunk_silent = cdr("acme", DAY, 408);
        trunk_silent.attempts = vec![
            Attempt {
                trunk: "a".into(),
                code: 503,
            },
            Attempt {
                trunk: "b".into(),
                code: 408,
            },
        ];
        let mut answered_long = cdr("acme", DAY, 200);
        answered_long.end_ms = answered_long.start_ms + 5_000 + 120_000;
        let v = vec![
            cdr("acme", DAY, 200), // answered, 60 s
            answered_long,         // answered, 120 s
            cdr("acme", DAY, 486), // busy: effective
            cdr("acme", DAY, 480), // no answer: effective
            cdr("acme", DAY, 408), // phone no answer: effective
            cdr("acme", DAY, 603), // declined: effective
            cdr("acme", DAY, 487), // cancelled: effective
            cdr("acme", DAY, 404), // unknown number: not
            cdr("acme", DAY, 503), // unavailable: not
            trunk_silent,          // provider silent: not
        ];
        let r = compute(&v, all(), &utc(), Lang::Nl);
        let f = &r.totals;
        assert_eq!(f.calls, 10);
        assert_eq!(f.answered, 2);
        assert_eq!(f.ner_calls, 7);
        assert_eq!(f.asr_pct, 20.0);
        assert_eq!(f.ner_pct, 70.0);
        assert_eq!(f.avg_billsec, 90);
        assert_eq!(f.total_billsec, 180);
        assert_eq!(f.total_minutes, 3.0);
        assert_eq!(f.directions.intern, 10);
        assert_eq!(f.outcomes.geen_antwoord, 3);
        assert_eq!(f.outcomes.mislukt, 3);
        assert!(r.per_tenant.is_empty());
        // Rounding to one decimal: 2 of 3 is 66.7 %.
        let r = compute(
            &[
                cdr("acme", DAY, 200),
                cdr("acme", DAY, 200),
                cdr("acme", DAY, 404),
            ],
            all(),
            &utc(),
            Lang::Nl,
        );
        assert_eq!(r.totals.asr_pct, 66.7);
        assert_eq!(r.totals.ner_pct, 66.7);
    }

    #[test]
    fn report_busiest_hours_in_local_time() {
        let v = vec![
            cdr("acme", DAY + 9 * HOUR, 200),
            cdr("acme", DAY + 9 * HOUR + 59 * 60_000, 486),
            cdr("acme", DAY + 13 * HOUR, 200),
            cdr("acme", DAY + 13 * HOUR + 1, 200),
            cdr("acme", DAY + 13 * HOUR + 2, 200),
            cdr("acme", DAY + 23 * HOUR + 30 * 60_000, 200),
            cdr("acme", DAY + 7 * HOUR, 200),
        ];
        let r = compute(&v, all(), &utc(), Lang::Nl);
        let top: Vec<(u8, u64)> = r
            .totals
            .busiest_hours
            .iter()
            .map(|h| (h.hour, h.calls))
            .collect();
        // Ties go to the earlier hour: 7 before 23.
        assert_eq!(top, [(13, 3), (9, 2), (7, 1)]);
        assert_eq!(r.totals.hours[23], 1);
        assert_eq!(r.totals.hours.iter().sum::<u64>(), 7);
        // In Amsterdam in November (UTC+1) the same calls start an hour later; 23:30 UTC is
        // 00:30 local time.
        let cet = chrono::FixedOffset::east_opt(3600).unwrap();
        let r = compute(&v, all(), &cet, Lang::Nl);
        assert_eq!(r.totals.busiest_hours[0].hour, 14);
        assert_eq!(r.totals.busiest_hours[1].hour, 10);
        assert_eq!(r.totals.hours[0], 1);
        assert_eq!(r.totals.hours[23], 0);
        // The machine's own zone works too (whatever it is).
        let r = compute(&v, all(), &chrono::Local, Lang::Nl);
        assert_eq!(r.totals.hours.iter().sum::<u64>(), 7);
        assert_eq!(r.totals.busiest_hours[0].calls, 3);
    }

    #[test]
    fn report_mos_bands_and_one_way() {
        let mut legs_only = cdr("acme", DAY, 200);
        legs_only.legs = vec![
            LegQuality {
                leg: "a".into(),
                mos_centi: Some(420),
                ..LegQuality::default()
            },
            LegQuality {
                leg: "b".into(),
                mos_centi: Some(400),
                ..LegQuality::default()
            },
        ];
        let v = vec![
            with_mos(cdr("acme", DAY, 200), 430, false), // uitstekend (bound)
            with_mos(cdr("acme", DAY, 200), 441, false), // uitstekend
            with_mos(cdr("acme", DAY, 200), 429, false), // goed
            with_mos(cdr("acme", DAY, 200), 400, false), // goed (bound)
            with_mos(cdr("acme", DAY, 200), 399, true),  // redelijk, one-way
            with_mos(cdr("acme", DAY, 200), 360, false), // redelijk (bound)
            with_mos(cdr("acme", DAY, 200), 310, false), // matig (bound)
            with_mos(cdr("acme", DAY, 200), 309, false), // slecht
            legs_only,                                   // 4.10 from the legs: goed
            cdr("acme", DAY, 200),                       // no measurement
            with_mos(cdr("acme", DAY, 486), 100, true),  // not answered: not counted
        ];
        let q = compute(&v, all(), &utc(), Lang::Nl).totals.quality;
        assert_eq!(
            (q.uitstekend, q.goed, q.redelijk, q.matig, q.slecht),
            (2, 3, 2, 1, 1)
        );
        assert_eq!(q.measured, 9);
        assert_eq!(q.unmeasured, 1);
        assert_eq!(q.one_way, 1);
        // (430+441+429+400+399+360+310+309+410) / 9 = 387.6
        assert_eq!(q.avg_mos_centi, Some(388));
        assert_eq!(Band::of(0), Band::Slecht);
        assert_eq!(Band::of(500), Band::Uitstekend);
    }

    #[test]
    fn report_failure_causes_top_five() {
        let mut v = Vec::new();
        for (code, n) in [
            (486, 4),
            (404, 2),
            (480, 2),
            (503, 3),
            (403, 1),
            (487, 1),
            (408, 5),
        ] {
            for _ in 0..n {
                v.push(cdr("acme", DAY, code));
            }
        }
        v.push(cdr("acme", DAY, 200));
        let f = compute(&v, all(), &utc(), Lang::Nl).totals;
        let top: Vec<(u16, u64, &str)> = f
            .failures
            .iter()
            .map(|c| (c.sip_code, c.count, c.text.as_str()))
            .collect();
        assert_eq!(
            top,
            [
                (408, 5, "geen antwoord"),
                (486, 4, "bezet"),
                (503, 3, "niet beschikbaar"),
                (404, 2, "onbekend nummer"),
                (480, 2, "niet bereikbaar"),
            ]
        );
        assert_eq!(sip_text(Lang::Nl, 403), "geweigerd");
        assert_eq!(sip_text(Lang::Nl, 487), "geannuleerd");
        assert_eq!(sip_text(Lang::En, 486), "busy");
        // Every code has a text, never the bare key.
        for code in [
            0, 199, 400, 403, 404, 408, 480, 484, 486, 487, 488, 499, 500, 502, 503,
        ]
        .into_iter()
        .chain([600, 603, 699, 700])
        {
            for lang in [Lang::Nl, Lang::En] {
                assert_ne!(sip_text(lang, code), sip_key(code), "{code}");
            }
        }
    }

    #[test]
    fn report_trunk_and_tenant_breakdown() {
        let mut a = cdr("acme", DAY, 200);
        a.trunk = Some("kpn".into());
        a.direction = Direction::Uitgaand;
        let mut b = cdr("beta", DAY, 486);
        b.trunk = Some("kpn".into());
        b.direction = Direction::Inkomend;
        let mut c = cdr("beta", DAY, 200);
        c.trunk = Some("ziggo".into());
        let v = vec![a, b, c, cdr("acme", DAY, 200)];

        let r = compute(&v, all(), &utc(), Lang::Nl);
        assert_eq!(r.totals.calls, 4);
        let tenants: Vec<(&str, u64)> = r
            .per_tenant
            .iter()
            .map(|t| (t.tenant.as_str(), t.figures.calls))
            .collect();
        assert_eq!(tenants, [("acme", 2), ("beta", 2)]);

        let kpn = Scope {
            trunk: Some("kpn".into()),
            ..all()
        };
        let r = compute(&v, kpn, &utc(), Lang::Nl);
        assert_eq!(r.totals.calls, 2);
        assert_eq!(r.totals.answered, 1);
        assert_eq!(r.totals.directions.uitgaand, 1);
        assert_eq!(r.totals.directions.inkomend, 1);
        assert_eq!(r.per_tenant.len(), 2);

        // One organisation asked for: no breakdown.
        let beta = Scope {
            tenant: Some("beta".into()),
            ..all()
        };
        let r = compute(&v, beta, &utc(), Lang::Nl);
        assert_eq!(r.totals.calls, 2);
        assert!(r.per_tenant.is_empty());
    }

    #[test]
    fn report_empty_period_gives_zeros() {
        let r = compute(&[], all(), &utc(), Lang::Nl);
        let f = &r.totals;
        assert_eq!((f.calls, f.answered, f.avg_billsec), (0, 0, 0));
        assert_eq!((f.asr_pct, f.ner_pct, f.total_minutes), (0.0, 0.0, 0.0));
        assert!(f.busiest_hours.is_empty() && f.failures.is_empty());
        assert_eq!(f.quality.avg_mos_centi, None);
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("NaN"), "{json}");
        assert!(json.contains("\"asr_pct\":0.0"), "{json}");
        // The table and the CSV show zeros too.
        let text = render_table(Lang::Nl, &r, |ms| ms.to_string());
        assert!(text.contains("0.0%") && !text.contains("NaN"), "{text}");
        let csv = render_csv(&r, |ms| ms.to_string()).unwrap();
        assert!(csv.contains("*,asr_pct,0.0\n"), "{csv}");
        assert!(csv.contains("*,mos_gemiddeld,\n"), "{csv}");
    }

    #[test]
    fn report_json_shape_and_csv_rows() {
        let v = vec![
            with_mos(cdr("acme", DAY + 10 * HOUR, 200), 440, false),
            cdr("beta", DAY + 10 * HOUR, 486),
        ];
        let r = compute(&v, all(), &utc(), Lang::Nl);
        let j = serde_json::to_value(&r).unwrap();
        let mut keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "from_ms",
                "per_tenant",
                "tenant",
                "to_ms",
                "totals",
                "trunk"
            ]
        );
        assert_eq!(j["totals"]["hours"].as_array().map(Vec::len), Some(24));
        assert_eq!(j["totals"]["busiest_hours"][0]["hour"], 10);
        assert_eq!(j["totals"]["failures"][0]["text"], "bezet");
        assert_eq!(j["per_tenant"][0]["tenant"], "acme");
        assert_eq!(j["per_tenant"][0]["calls"], 1);
        let csv = render_csv(&r, |ms| ms.to_string()).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "organisatie,sleutel,waarde");
        assert_eq!(lines[3], "*,trunk,");
        assert!(lines.contains(&"*,gesprekken,2"));
        assert!(lines.contains(&"*,drukste_uur_1,10"));
        assert!(lines.contains(&"*,uur_10,2"));
        assert!(lines.contains(&"*,fout_486,1"));
        assert!(lines.contains(&"acme,mos_uitstekend,1"));
        assert!(lines.contains(&"beta,bezet,1"));
        let text = render_table(Lang::Nl, &r, |ms| ms.to_string());
        assert!(text.contains("10:00 (2)"), "{text}");
        assert!(text.contains("acme") && text.contains("beta"), "{text}");
    }
}

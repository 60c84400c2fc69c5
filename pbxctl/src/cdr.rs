//! `pbxctl cdr list|show|export`: the gespreksoverzicht.

use crate::cli::{CdrCmd, CdrFilterArgs};
use crate::{Ctx, Failure, R};
use pbx_api::Route;
use pbx_cli::{exit, table};
use pbx_i18n::{tr, Lang, Msg};
use pbx_model::{Afloop, Cdr};

/// Unix ms as local time `2026-11-21 14:03:07`.
pub fn local_time(ms: u64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(i64::try_from(ms).unwrap_or(i64::MAX)) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
        chrono::LocalResult::None => ms.to_string(),
    }
}

/// Parses `2026-11-21`, `2026-11-21 14:00[:ss]` (local time) or RFC 3339 into Unix ms.
pub fn parse_time(s: &str) -> Option<u64> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return u64::try_from(t.timestamp_millis()).ok();
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    let local = chrono::Local.from_local_datetime(&naive).earliest()?;
    u64::try_from(local.timestamp_millis()).ok()
}

fn query(lang: Lang, f: &CdrFilterArgs) -> R<Vec<(&'static str, String)>> {
    let mut q = Vec::new();
    if let Some(t) = &f.tenant {
        q.push(("tenant", t.clone()));
    }
    for (key, value) in [("from_ms", &f.from), ("to_ms", &f.to)] {
        if let Some(v) = value {
            let ms = parse_time(v).ok_or_else(|| {
                Failure::new(
                    exit::USAGE,
                    Msg::new("ctl.bad_time").arg("value", v).render(lang),
                )
            })?;
            q.push((key, ms.to_string()));
        }
    }
    if let Some(n) = &f.number {
        q.push(("number", n.clone()));
    }
    if let Some(a) = &f.afloop {
        if Afloop::parse(a).is_none() {
            return Err(Failure::new(
                exit::USAGE,
                Msg::new("api.bad_afloop").arg("value", a).render(lang),
            ));
        }
        q.push(("afloop", a.clone()));
    }
    if let Some(l) = f.limit {
        q.push(("limit", l.to_string()));
    }
    Ok(q)
}

fn afloop_text(lang: Lang, a: Afloop) -> String {
    tr(
        lang,
        match a {
            Afloop::Beantwoord => "afloop.beantwoord",
            Afloop::GeenAntwoord => "afloop.geen_antwoord",
            Afloop::Bezet => "afloop.bezet",
            Afloop::Mislukt => "afloop.mislukt",
            Afloop::Geannuleerd => "afloop.geannuleerd",
        },
    )
}

fn duration(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

fn hundredths(v: u32) -> String {
    format!("{}.{:02}", v / 100, v % 100)
}

const CSV_HEADER: [&str; 32] = [
    "id",
    "organisatie",
    "call_id",
    "beller",
    "beller_naam",
    "gebelde",
    "gebelde_naam",
    "doorgeschakeld_naar",
    "richting",
    "trunk",
    "pogingen",
    "start",
    "antwoord",
    "einde",
    "duur_s",
    "billsec_s",
    "afloop",
    "sip_code",
    "opgehangen_door",
    "codecs",
    "verlies_pct_a",
    "jitter_ms_a",
    "rtt_ms_a",
    "verlies_pct_b",
    "jitter_ms_b",
    "rtt_ms_b",
    "mos_a",
    "mos_b",
    "mos_gemiddeld",
    "mos_slechtste",
    "eenrichtingsgeluid",
    "geen_geluid",
];

/// The trunks tried, with their answers: `a:503 b:200`.
fn attempts(c: &Cdr) -> String {
    c.attempts
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The direction and trunk for the table: `uit b (a:503 b:200)`, `in a`, `intern`.
fn route_text(c: &Cdr) -> String {
    let dir = match c.direction {
        pbx_model::Direction::Intern => "intern",
        pbx_model::Direction::Inkomend => "in",
        pbx_model::Direction::Uitgaand => "uit",
    };
    let mut s = dir.to_string();
    if let Some(t) = &c.trunk {
        s.push(' ');
        s.push_str(t);
    }
    if c.attempts.len() > 1 || c.attempts.first().is_some_and(|a| a.code != 200) {
        s.push_str(&format!(" ({})", attempts(c)));
    }
    s
}

fn csv_row(c: &Cdr) -> Vec<String> {
    let leg = |name: &str| c.legs.iter().find(|l| l.leg == name);
    let q = |name: &str| match leg(name) {
        Some(l) => [
            hundredths(l.loss_centi_pct),
            hundredths(l.jitter_centi_ms),
            l.rtt_ms.map(|r| r.to_string()).unwrap_or_default(),
        ],
        None => Default::default(),
    };
    let [la, ja, ra] = q("a");
    let [lb, jb, rb] = q("b");
    let word = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
    vec![
        c.id.clone(),
        c.tenant.clone(),
        c.call_id.clone(),
        c.caller.number.clone(),
        c.caller.name.clone(),
        c.callee.number.clone(),
        c.callee.name.clone(),
        c.forwarded_to.join(" "),
        word(serde_json::to_value(c.direction).unwrap_or_default()),
        c.trunk.clone().unwrap_or_default(),
        attempts(c),
        local_time(c.start_ms),
        c.answer_ms.map(local_time).unwrap_or_default(),
        local_time(c.end_ms),
        c.duration_secs().to_string(),
        c.billsec().to_string(),
        c.afloop.as_str().to_string(),
        c.sip_code.to_string(),
        word(serde_json::to_value(c.hangup_by).unwrap_or_default()),
        c.codecs.join(" "),
        la,
        ja,
        ra,
        lb,
        jb,
        rb,
        mos(leg("a").and_then(|l| l.mos_centi)),
        mos(leg("b").and_then(|l| l.mos_centi)),
        mos(c.quality.as_ref().and_then(|q| q.avg_mos_centi)),
        mos(c.quality.as_ref().and_then(|q| q.worst_mos_centi)),
        flag(c.quality.as_ref().map(|q| q.one_way)),
        flag(c.quality.as_ref().map(|q| q.dead_air)),
    ]
}

/// A MOS in hundredths as `4.38`; empty when unknown.
fn mos(m: Option<u32>) -> String {
    m.map(hundredths).unwrap_or_default()
}

/// `ja`/`nee` for the CSV; empty when there is no quality summary.
fn flag(f: Option<bool>) -> String {
    match f {
        Some(true) => "ja".into(),
        Some(false) => "nee".into(),
        None => String::new(),
    }
}

pub async fn run(ctx: &Ctx, c: &CdrCmd) -> R<i32> {
    let l = ctx.lang;
    match c {
        CdrCmd::List { filter } => {
            let q = query(l, filter)?;
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let v: Vec<Cdr> = ctx.get(Route::Cdrs, &q).await?;
            ctx.out(&v, |v| {
                let rows: Vec<Vec<String>> = v
                    .iter()
                    .map(|c| {
                        vec![
                            local_time(c.start_ms),
                            c.tenant.clone(),
                            c.caller.number.clone(),
                            c.callee.number.clone(),
                            afloop_text(l, c.afloop),
                            route_text(c),
                            duration(c.duration_secs()),
                            duration(c.billsec()),
                            c.codecs.join(" "),
                            c.id.clone(),
                        ]
                    })
                    .collect();
                table(
                    &ctx.h(&[
                        "col.start",
                        "col.tenant",
                        "col.caller",
                        "col.callee",
                        "col.afloop",
                        "col.route",
                        "col.duration",
                        "col.billsec",
                        "col.codecs",
                        "col.id",
                    ]),
                    &rows,
                )
            })
        }
        CdrCmd::Show { tenant, id } => {
            let c: Cdr = ctx.get(Route::Cdr(tenant.clone(), id.clone()), &[]).await?;
            ctx.out(&c, |c| {
                let row = csv_row(c);
                let mut s = String::new();
                for (k, v) in CSV_HEADER.iter().zip(row) {
                    if !v.is_empty() {
                        s.push_str(&format!("{:<18}{v}\n", format!("{k}:")));
                    }
                }
                s
            })
        }
        CdrCmd::Export {
            filter,
            csv: _,
            jsonl,
        } => {
            let q = query(l, filter)?;
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let v: Vec<Cdr> = ctx.get(Route::Cdrs, &q).await?;
            let mut out = String::new();
            if *jsonl || ctx.json {
                for c in &v {
                    out.push_str(&serde_json::to_string(c).unwrap_or_default());
                    out.push('\n');
                }
            } else {
                let mut w = csv::Writer::from_writer(Vec::new());
                let write = |w: &mut csv::Writer<Vec<u8>>, row: &[String]| {
                    w.write_record(row)
                        .map_err(|e| Failure::new(exit::SOFTWARE, e.to_string()))
                };
                write(&mut w, &CSV_HEADER.map(String::from))?;
                for c in &v {
                    write(&mut w, &csv_row(c))?;
                }
                let bytes = w
                    .into_inner()
                    .map_err(|e| Failure::new(exit::SOFTWARE, e.to_string()))?;
                out = String::from_utf8_lossy(&bytes).into_owned();
            }
            crate::write_out(&out);
            Ok(exit::OK)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let ms = parse_time("2026-11-21 14:03:07");
        assert!(ms.is_some());
        assert_eq!(ms.map(local_time).as_deref(), Some("2026-11-21 14:03:07"));
        assert_eq!(parse_time("2026-11-21T13:00:00Z"), Some(1_795_266_000_000));
        assert!(parse_time("2026-11-21").is_some());
        assert!(parse_time("gisteren").is_none());
        assert_eq!(duration(3725), "1:02:05");
        assert_eq!(hundredths(105), "1.05");
    }
}

//! `alarms.toml`: the alarm rules and where notices go. Dutch keys, like the tenant files.
//!
//! ```toml
//! [[alarm]]
//! naam = "lage_mos"
//! metriek = "mos"            # mos, verlies, jitter, eenrichtingsgeluid, trunk_onbereikbaar,
//!                            # mislukte_aanmeldingen, gesprekslimiet, opslagfouten, schijf_vrij, herstart,
//!                            # wachtrij_wachtend, wachtrij_verloren
//! voorwaarde = "onder"       # onder of boven
//! drempel = 3.6
//! venster_s = 300            # over hoeveel seconden
//! ernst = "waarschuwing"     # info, waarschuwing of kritiek
//! bereik = "organisatie"     # globaal, organisatie, trunk, wachtrij of adres
//! herhaal_s = 3600           # herinnering zolang het alarm afgaat (0: geen)
//!
//! [[melding]]
//! soort = "webhook"          # webhook, email of commando (log en de control-API altijd)
//! url = "https://noc.example/hooks/pbx"
//! ```
//!
//! A missing file means no alarm rules. Every problem is reported at its line.

use crate::diag::Diagnostic;
use crate::doc::{self, Source};
use crate::fsutil;
use pbx_engine::alarms::{Condition, Metric, Rule, Scope, Severity};
use pbx_i18n::Msg;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// Most alarm rules and sinks in the file.
pub const MAX_ALARMS: usize = 200;

/// Where notices go besides the log and the control API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkKind {
    /// HTTP(S) POST of the notice as JSON, with retries and back-off.
    Webhook {
        /// `http://` or `https://` URL.
        url: String,
        /// Attempts before giving up.
        attempts: u32,
    },
    /// E-mail over SMTP.
    Email {
        /// `host:port` of the SMTP server.
        server: String,
        /// `geen` (plain, for a local relay), `starttls` or `tls`.
        tls: String,
        /// Sender.
        from: String,
        /// Recipients.
        to: Vec<String>,
    },
    /// A command, run with the notice as JSON on standard input and `PBX_ALARM_*` variables.
    Command {
        /// Program and arguments (no shell).
        argv: Vec<String>,
    },
}

/// A sink and the least severity it is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sink {
    /// What.
    pub kind: SinkKind,
    /// Only notices of this severity or worse.
    pub min_severity: Severity,
}

/// The loaded `alarms.toml`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlarmConfig {
    /// Rules.
    pub rules: Vec<Rule>,
    /// Sinks.
    pub sinks: Vec<Sink>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCfg {
    #[serde(default)]
    alarm: Vec<Spanned<AlarmCfg>>,
    #[serde(default)]
    melding: Vec<Spanned<SinkCfg>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlarmCfg {
    naam: Spanned<String>,
    metriek: Spanned<String>,
    voorwaarde: Spanned<String>,
    drempel: Spanned<f64>,
    venster_s: Option<Spanned<u64>>,
    ernst: Option<Spanned<String>>,
    bereik: Option<Spanned<String>>,
    herhaal_s: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SinkCfg {
    soort: Spanned<String>,
    url: Option<Spanned<String>>,
    pogingen: Option<Spanned<u32>>,
    server: Option<Spanned<String>>,
    tls: Option<Spanned<String>>,
    van: Option<Spanned<String>>,
    aan: Option<Vec<Spanned<String>>>,
    commando: Option<Spanned<Vec<String>>>,
    ernst_vanaf: Option<Spanned<String>>,
}

/// Loads `alarms.toml` of a configuration folder; a missing file gives no rules.
pub(crate) fn load_alarms(path: &Path, out: &mut Vec<Diagnostic>) -> Option<AlarmConfig> {
    if !path.exists() {
        return Some(AlarmConfig::default());
    }
    let text = fsutil::read_text(path, out)?;
    let src = Source::new(path, text);
    let value = src.parse(out)?;
    let file: FileCfg = doc::deserialize(&src, &value, "", out)?;
    let before = out.len();
    let bad =
        |out: &mut Vec<Diagnostic>, span: std::ops::Range<usize>, field: &str, value: &str| {
            out.push(
                src.error(
                    &span,
                    "invalid",
                    Msg::new("alarms.bad_value")
                        .arg("field", field)
                        .arg("value", value),
                ),
            );
        };
    if file.alarm.len() + file.melding.len() > MAX_ALARMS {
        out.push(src.error(
            &(0..0),
            "limit",
            Msg::new("alarms.too_many").arg("max", MAX_ALARMS),
        ));
    }
    let mut rules: Vec<Rule> = Vec::new();
    for a in &file.alarm {
        let a = a.get_ref();
        let name = a.naam.get_ref().trim().to_string();
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            bad(out, a.naam.span(), "naam", &name);
        } else if rules.iter().any(|r| r.name == name) {
            out.push(src.error(
                &a.naam.span(),
                "duplicate",
                Msg::new("alarms.twice").arg("name", &name),
            ));
        }
        let metric = Metric::parse(a.metriek.get_ref());
        if metric.is_none() {
            bad(out, a.metriek.span(), "metriek", a.metriek.get_ref());
        }
        let condition = match a.voorwaarde.get_ref().as_str() {
            "onder" => Some(Condition::Below),
            "boven" => Some(Condition::Above),
            other => {
                bad(out, a.voorwaarde.span(), "voorwaarde", other);
                None
            }
        };
        let threshold = *a.drempel.get_ref();
        if !threshold.is_finite() {
            bad(out, a.drempel.span(), "drempel", &threshold.to_string());
        }
        let window = a.venster_s.as_ref().map_or(300, |w| *w.get_ref());
        if let Some(w) = &a.venster_s {
            if !(1..=86_400).contains(w.get_ref()) {
                bad(out, w.span(), "venster_s", &w.get_ref().to_string());
            }
        }
        let severity = match &a.ernst {
            None => Some(Severity::Waarschuwing),
            Some(e) => {
                let s = Severity::parse(e.get_ref());
                if s.is_none() {
                    bad(out, e.span(), "ernst", e.get_ref());
                }
                s
            }
        };
        let scope = match &a.bereik {
            None => Some(Scope::Global),
            Some(b) => {
                let s = Scope::parse(b.get_ref());
                if s.is_none() {
                    bad(out, b.span(), "bereik", b.get_ref());
                }
                s
            }
        };
        let repeat = a.herhaal_s.as_ref().map_or(3600, |r| *r.get_ref());
        if repeat > 7 * 86_400 {
            if let Some(r) = &a.herhaal_s {
                bad(out, r.span(), "herhaal_s", &repeat.to_string());
            }
        }
        if let (Some(metric), Some(condition), Some(severity), Some(scope), true) =
            (metric, condition, severity, scope, name_ok)
        {
            rules.push(Rule {
                name,
                metric,
                condition,
                threshold,
                window: Duration::from_secs(window),
                severity,
                scope,
                repeat: Duration::from_secs(repeat),
            });
        }
    }
    let mut sinks = Vec::new();
    for m in &file.melding {
        let span = m.span();
        let m = m.get_ref();
        let missing = |out: &mut Vec<Diagnostic>, key: &str| {
            out.push(
                src.error(
                    &span,
                    "missing_key",
                    Msg::new("alarms.sink_needs")
                        .arg("kind", m.soort.get_ref())
                        .arg("key", key),
                ),
            );
        };
        let min_severity = match &m.ernst_vanaf {
            None => Severity::Info,
            Some(e) => Severity::parse(e.get_ref()).unwrap_or_else(|| {
                bad(out, e.span(), "ernst_vanaf", e.get_ref());
                Severity::Info
            }),
        };
        let kind = match m.soort.get_ref().as_str() {
            "webhook" => match &m.url {
                None => {
                    missing(out, "url");
                    None
                }
                Some(u) => {
                    let url = u.get_ref().trim().to_string();
                    let ok = (url.starts_with("http://") || url.starts_with("https://"))
                        && url.len() <= 2048
                        && !url.chars().any(char::is_whitespace);
                    if !ok {
                        bad(out, u.span(), "url", &url);
                    }
                    let attempts = m.pogingen.as_ref().map_or(5, |p| *p.get_ref());
                    if let Some(p) = &m.pogingen {
                        if !(1..=20).contains(p.get_ref()) {
                            bad(out, p.span(), "pogingen", &p.get_ref().to_string());
                        }
                    }
                    ok.then_some(SinkKind::Webhook { url, attempts })
                }
            },
            "email" => {
                let server = m.server.as_ref().map(|s| s.get_ref().clone());
                let from = m.van.as_ref().map(|s| s.get_ref().clone());
                let to: Vec<String> = m
                    .aan
                    .iter()
                    .flatten()
                    .map(|s| s.get_ref().clone())
                    .collect();
                if server.is_none() {
                    missing(out, "server");
                }
                if from.is_none() {
                    missing(out, "van");
                }
                if to.is_empty() {
                    missing(out, "aan");
                }
                for a in m.van.iter().chain(m.aan.iter().flatten()) {
                    let v = a.get_ref();
                    if !v.contains('@') || v.chars().any(char::is_whitespace) {
                        bad(out, a.span(), "e-mailadres", v);
                    }
                }
                let tls = m
                    .tls
                    .as_ref()
                    .map_or("starttls".to_string(), |t| t.get_ref().clone());
                if !["geen", "starttls", "tls"].contains(&tls.as_str()) {
                    if let Some(t) = &m.tls {
                        bad(out, t.span(), "tls", &tls);
                    }
                }
                match (server, from) {
                    (Some(server), Some(from)) if !to.is_empty() => Some(SinkKind::Email {
                        server,
                        tls,
                        from,
                        to,
                    }),
                    _ => None,
                }
            }
            "commando" => match &m.commando {
                Some(c) if !c.get_ref().is_empty() && !c.get_ref()[0].is_empty() => {
                    Some(SinkKind::Command {
                        argv: c.get_ref().clone(),
                    })
                }
                Some(c) => {
                    bad(out, c.span(), "commando", "[]");
                    None
                }
                None => {
                    missing(out, "commando");
                    None
                }
            },
            other => {
                bad(out, m.soort.span(), "soort", other);
                None
            }
        };
        if let Some(kind) = kind {
            sinks.push(Sink { kind, min_severity });
        }
    }
    (out.len() == before).then_some(AlarmConfig { rules, sinks })
}

//! Organisations (tenants) and their limits.

use crate::error::{ErrorCode, ModelError};
use crate::names::{check_host, check_slug, check_text};
use crate::tollfraud::TollFraud;
use pbx_i18n::Msg;
use serde::{Deserialize, Serialize};

/// Is an organisation in service?
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    /// Calls and registrations are served.
    #[default]
    Active,
    /// Nothing is served; the data stays.
    Suspended,
}

/// When calls are recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingPolicy {
    /// Never.
    #[default]
    Off,
    /// Every call.
    Always,
    /// When a user starts it during the call.
    OnDemand,
}

impl RecordingPolicy {
    /// Parses `off`, `always`, `on_demand`.
    pub fn parse(s: &str) -> Option<RecordingPolicy> {
        match s {
            "off" | "uit" => Some(RecordingPolicy::Off),
            "always" | "altijd" => Some(RecordingPolicy::Always),
            "on_demand" | "op_verzoek" => Some(RecordingPolicy::OnDemand),
            _ => None,
        }
    }
}

/// The limits a beheerder sets on an organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Maximum number of extensions.
    pub max_extensions: u32,
    /// Maximum concurrent calls, internal and outside.
    pub max_calls: u32,
    /// Maximum concurrent calls through trunks.
    pub max_outside_calls: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_extensions: 50,
            max_calls: 20,
            max_outside_calls: 10,
        }
    }
}

/// Upper bound on any organisation limit, so a typo cannot ask for billions.
pub const LIMIT_CEILING: u32 = 100_000;

/// An organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Short identifier, used in commands and keys.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// SIP domains; the first is the realm of its extensions' credentials.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
    /// In service or suspended.
    #[serde(default)]
    pub status: TenantStatus,
    /// Recording policy of the organisation.
    #[serde(default)]
    pub recording: RecordingPolicy,
    /// Days recordings and CDRs are kept.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    /// Toll-fraud settings (international and betaalnummers off by default).
    #[serde(default, skip_serializing_if = "TollFraud::is_default")]
    pub toll_fraud: TollFraud,
    /// Afcoderingen (dispositions) agents choose from after a call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub afcoderingen: Vec<Afcodering>,
    /// Afrondtijd: seconds of wrap-up after a softphone call before the agent is beschikbaar
    /// again (0: the agent says so).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub afrondtijd_s: u32,
}

/// A disposition an agent gives a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Afcodering {
    /// Short code, stored with the CDR (`verkocht`, `terugbellen`).
    pub code: String,
    /// What the agent reads.
    pub naam: String,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn default_retention() -> u32 {
    90
}

impl Tenant {
    /// A new active organisation with default limits.
    pub fn new(slug: &str, name: &str) -> Tenant {
        Tenant {
            slug: slug.to_string(),
            name: name.to_string(),
            domains: Vec::new(),
            limits: Limits::default(),
            status: TenantStatus::Active,
            recording: RecordingPolicy::Off,
            retention_days: default_retention(),
            toll_fraud: TollFraud::default(),
            afcoderingen: Vec::new(),
            afrondtijd_s: 0,
        }
    }

    /// The digest realm of its extensions: the first SIP domain, else the slug.
    pub fn realm(&self) -> &str {
        self.domains
            .first()
            .map(String::as_str)
            .unwrap_or(&self.slug)
    }

    /// Checks the organisation's own fields; each problem once, with the field it concerns.
    pub fn problems(&self) -> Vec<(&'static str, ModelError)> {
        let mut out = Vec::new();
        if let Err(e) = check_slug(&self.slug) {
            out.push(("slug", e));
        }
        if self.name.trim().is_empty() {
            out.push(("name", ModelError::invalid(Msg::new("tenant.name_empty"))));
        } else if let Err(e) = check_text("name", &self.name, 120) {
            out.push(("name", e));
        }
        for (i, d) in self.domains.iter().enumerate() {
            if let Err(e) = check_host(d) {
                out.push(("domains", e));
            }
            if self.domains[..i].contains(d) {
                out.push((
                    "domains",
                    ModelError::new(
                        ErrorCode::Conflict,
                        Msg::new("tenant.domain_twice").arg("domain", d),
                    ),
                ));
            }
        }
        let l = &self.limits;
        for (field, v) in [
            ("max_extensions", l.max_extensions),
            ("max_calls", l.max_calls),
            ("max_outside_calls", l.max_outside_calls),
        ] {
            if v > LIMIT_CEILING {
                out.push((
                    "limits",
                    ModelError::invalid(
                        Msg::new("tenant.limit_ceiling")
                            .arg("field", field)
                            .arg("max", LIMIT_CEILING),
                    ),
                ));
            }
        }
        if l.max_outside_calls > l.max_calls {
            out.push((
                "limits",
                ModelError::invalid(
                    Msg::new("tenant.outside_above_calls")
                        .arg("outside", l.max_outside_calls)
                        .arg("calls", l.max_calls),
                ),
            ));
        }
        out.extend(self.toll_fraud.problems());
        if self.retention_days == 0 || self.retention_days > 3650 {
            out.push((
                "retention_days",
                ModelError::invalid(Msg::new("tenant.retention").arg("value", self.retention_days)),
            ));
        }
        if self.afcoderingen.len() > 100 {
            out.push((
                "afcoderingen",
                ModelError::invalid(Msg::new("tenant.afcoderingen_max").arg("max", 100)),
            ));
        }
        for (i, a) in self.afcoderingen.iter().enumerate() {
            let code_ok = !a.code.is_empty()
                && a.code.len() <= 32
                && a.code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !code_ok {
                out.push((
                    "afcoderingen",
                    ModelError::invalid(Msg::new("tenant.afcodering_code").arg("code", &a.code)),
                ));
            }
            if let Err(e) = check_text("naam", &a.naam, 80) {
                out.push(("afcoderingen", e));
            }
            if self.afcoderingen[..i].iter().any(|b| b.code == a.code) {
                out.push((
                    "afcoderingen",
                    ModelError::new(
                        ErrorCode::Conflict,
                        Msg::new("tenant.afcodering_twice").arg("code", &a.code),
                    ),
                ));
            }
        }
        if self.afrondtijd_s > 3600 {
            out.push((
                "afrondtijd_s",
                ModelError::invalid(Msg::new("tenant.afrondtijd").arg("value", self.afrondtijd_s)),
            ));
        }
        out
    }

    /// The first problem, if any.
    pub fn validate(&self) -> Result<(), ModelError> {
        match self.problems().into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    /// May one more extension be added when `current` exist? Refused with the limit and how to raise it.
    pub fn check_extension_quota(&self, current: usize) -> Result<(), ModelError> {
        if current as u64 >= u64::from(self.limits.max_extensions) {
            return Err(ModelError::new(
                ErrorCode::LimitExceeded,
                Msg::new("tenant.extension_limit")
                    .arg("tenant", &self.slug)
                    .arg("max", self.limits.max_extensions),
            )
            .hint(
                Msg::new("tenant.extension_limit.hint")
                    .arg("tenant", &self.slug)
                    .arg("next", self.limits.max_extensions.saturating_add(10)),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_quota_names_the_limit_and_the_remedy() {
        let mut t = Tenant::new("acme", "Acme BV");
        t.limits.max_extensions = 50;
        assert!(t.check_extension_quota(49).is_ok());
        let e = t.check_extension_quota(50).err();
        let e = e.as_ref().map(|e| {
            (
                e.code,
                e.msg.to_string(),
                e.hint.as_ref().map(|h| h.to_string()),
            )
        });
        let Some((code, msg, Some(hint))) = e else {
            panic!("geen fout")
        };
        assert_eq!(code, ErrorCode::LimitExceeded);
        assert!(msg.contains("50") && msg.contains("acme"), "{msg}");
        assert!(
            hint.contains("pbxctl tenant set acme --max-extensions"),
            "{hint}"
        );
    }

    #[test]
    fn tenant_rules() {
        let mut t = Tenant::new("acme", "Acme BV");
        assert!(t.validate().is_ok());
        t.limits.max_outside_calls = 30;
        assert!(t.validate().is_err());
        t.limits.max_outside_calls = 5;
        t.domains = vec!["acme.example".into(), "acme.example".into()];
        assert!(t.validate().is_err());
        t.domains = vec!["acme.example".into()];
        assert_eq!(t.realm(), "acme.example");
    }
}

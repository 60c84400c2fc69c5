//! Extensions: the numbers phones register on.

use crate::error::ModelError;
use crate::names::{check_extension_number, check_text};
use crate::numbering::E164;
use crate::secret::{ha1_md5, ha1_sha256};
use crate::tenant::RecordingPolicy;
use pbx_i18n::Msg;
use serde::{Deserialize, Serialize};

/// Audio codecs and telephone-event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Codec {
    /// G.711 A-law.
    #[serde(rename = "PCMA")]
    Pcma,
    /// G.711 µ-law.
    #[serde(rename = "PCMU")]
    Pcmu,
    /// G.722 wideband.
    #[serde(rename = "G722")]
    G722,
    /// Opus.
    #[serde(rename = "opus")]
    Opus,
    /// RFC 4733 DTMF.
    #[serde(rename = "telephone-event")]
    TelephoneEvent,
}

impl Codec {
    /// All codecs.
    pub const ALL: [Codec; 5] = [
        Codec::Opus,
        Codec::G722,
        Codec::Pcma,
        Codec::Pcmu,
        Codec::TelephoneEvent,
    ];

    /// The SDP name.
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::Pcma => "PCMA",
            Codec::Pcmu => "PCMU",
            Codec::G722 => "G722",
            Codec::Opus => "opus",
            Codec::TelephoneEvent => "telephone-event",
        }
    }

    /// Parses a codec name, case-insensitively.
    pub fn parse(s: &str) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }

    /// The default codec list, in order of preference.
    pub fn defaults() -> Vec<Codec> {
        vec![
            Codec::Opus,
            Codec::G722,
            Codec::Pcma,
            Codec::Pcmu,
            Codec::TelephoneEvent,
        ]
    }
}

/// SIP credentials, stored only as HA1 digests (RFC 7616) for MD5 and SHA-256.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipCredentials {
    /// The realm the digests were made for.
    pub realm: String,
    /// MD5 HA1, hex.
    pub ha1_md5: String,
    /// SHA-256 HA1, hex.
    pub ha1_sha256: String,
}

impl SipCredentials {
    /// Digests a password for `user@realm`; the password itself is not kept.
    pub fn from_password(user: &str, realm: &str, password: &str) -> SipCredentials {
        SipCredentials {
            realm: realm.to_string(),
            ha1_md5: ha1_md5(user, realm, password),
            ha1_sha256: ha1_sha256(user, realm, password),
        }
    }
}

impl std::fmt::Debug for SipCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SipCredentials {{ realm: {:?}, … }}", self.realm)
    }
}

/// Call forwarding (doorschakelen) of an extension.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forwarding {
    /// Always forward to this number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always: Option<String>,
    /// Forward when busy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy: Option<String>,
    /// Forward when not answered within `no_answer_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_answer: Option<String>,
    /// Seconds before the no-answer forward.
    #[serde(default = "default_no_answer")]
    pub no_answer_secs: u32,
}

fn default_no_answer() -> u32 {
    20
}

impl Forwarding {
    /// The targets that are set, with their field names.
    pub fn targets(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("always", &self.always),
            ("busy", &self.busy),
            ("no_answer", &self.no_answer),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    }
}

/// Checks a forward target: an internal number or an outside number that can be normalised.
pub fn check_forward_target(t: &str) -> Result<(), ModelError> {
    if check_extension_number(t).is_ok() || E164::normalise(t).is_ok() {
        Ok(())
    } else {
        Err(ModelError::invalid(
            Msg::new("extension.forward_target").arg("value", t),
        ))
    }
}

/// Maximum simultaneous registrations an extension may allow.
pub const MAX_REGISTRATIONS_CEILING: u8 = 20;

/// An extension of an organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// Organisation slug.
    pub tenant: String,
    /// The number, unique in the organisation.
    pub number: String,
    /// Display name (caller ID name).
    pub name: String,
    /// The user this extension belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// SIP credentials as HA1; `None` means the extension cannot register.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip: Option<SipCredentials>,
    /// Codecs in order of preference.
    #[serde(default = "Codec::defaults")]
    pub codecs: Vec<Codec>,
    /// Call forwarding.
    #[serde(default)]
    pub forwarding: Forwarding,
    /// Recording policy; `None` follows the organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingPolicy>,
    /// Maximum simultaneous registrations.
    #[serde(default = "default_max_reg")]
    pub max_registrations: u8,
}

fn default_max_reg() -> u8 {
    3
}

impl Extension {
    /// A new extension with defaults and no credentials yet.
    pub fn new(tenant: &str, number: &str, name: &str) -> Extension {
        Extension {
            tenant: tenant.to_string(),
            number: number.to_string(),
            name: name.to_string(),
            owner: None,
            sip: None,
            codecs: Codec::defaults(),
            forwarding: Forwarding {
                no_answer_secs: default_no_answer(),
                ..Forwarding::default()
            },
            recording: None,
            max_registrations: default_max_reg(),
        }
    }

    /// The extension without its credentials, for output.
    pub fn public(&self) -> Extension {
        Extension {
            sip: None,
            ..self.clone()
        }
    }

    /// Sets the SIP password (stored as HA1 for the organisation's realm).
    pub fn set_password(&mut self, realm: &str, password: &str) {
        self.sip = Some(SipCredentials::from_password(&self.number, realm, password));
    }

    /// Checks the extension's own fields.
    pub fn problems(&self) -> Vec<(&'static str, ModelError)> {
        let mut out = Vec::new();
        if let Err(e) = check_extension_number(&self.number) {
            out.push(("number", e));
        }
        if let Err(e) = check_text("name", &self.name, 80) {
            out.push(("name", e));
        }
        if self.codecs.iter().all(|c| *c == Codec::TelephoneEvent) {
            out.push((
                "codecs",
                ModelError::invalid(Msg::new("extension.no_codecs")),
            ));
        }
        for (field, t) in self.forwarding.targets() {
            if t == self.number {
                out.push((
                    "forwarding",
                    ModelError::invalid(Msg::new("extension.forward_self").arg("field", field)),
                ));
            } else if let Err(e) = check_forward_target(t) {
                out.push(("forwarding", e));
            }
        }
        if !(5..=300).contains(&self.forwarding.no_answer_secs) {
            out.push((
                "forwarding",
                ModelError::invalid(
                    Msg::new("extension.no_answer_secs")
                        .arg("value", self.forwarding.no_answer_secs),
                ),
            ));
        }
        if self.max_registrations == 0 || self.max_registrations > MAX_REGISTRATIONS_CEILING {
            out.push((
                "max_registrations",
                ModelError::invalid(
                    Msg::new("extension.max_registrations")
                        .arg("value", self.max_registrations)
                        .arg("max", MAX_REGISTRATIONS_CEILING),
                ),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_digests_only() {
        let mut e = Extension::new("acme", "1001", "Jan Jansen");
        e.set_password("acme.example", "Zonnebloem-Tulp-42");
        let json = serde_json::to_string(&e).unwrap_or_default();
        assert!(!json.contains("Zonnebloem"));
        assert!(json.contains(&crate::secret::ha1_md5(
            "1001",
            "acme.example",
            "Zonnebloem-Tulp-42"
        )));
        assert!(!serde_json::to_string(&e.public())
            .unwrap_or_default()
            .contains("ha1"));
        assert!(!format!("{:?}", e).contains(&crate::secret::ha1_md5(
            "1001",
            "acme.example",
            "Zonnebloem-Tulp-42"
        )));
    }

    #[test]
    fn extension_rules() {
        let mut e = Extension::new("acme", "1001", "Jan");
        assert!(e.validate().is_ok());
        e.forwarding.always = Some("1001".into());
        assert!(e.validate().is_err());
        e.forwarding.always = Some("06 12345678".into());
        assert!(e.validate().is_ok());
        e.forwarding.busy = Some("hallo".into());
        assert!(e.validate().is_err());
        e.forwarding.busy = None;
        e.max_registrations = 0;
        assert!(e.validate().is_err());
    }
}

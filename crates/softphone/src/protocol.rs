//! The WebSocket messages of the softphone, version 1 (`docs/softphone-protocol.md`).
//!
//! Parsing is strict: an unknown type, a missing or extra field, a wrong version or a value out
//! of its limits gives a [`Refusal`] with code `ongeldig` and a Dutch message; nothing panics.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The protocol version this crate speaks.
pub const VERSION: u64 = 1;

/// The largest message the page may send (bytes); a bigger frame closes the connection (1009).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// An agent's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Takes calls.
    Beschikbaar,
    /// On a break (with a reason).
    Pauze,
    /// Only direct calls do not ring either.
    NietStoren,
    /// Not working.
    Afgemeld,
}

impl AgentStatus {
    /// The word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Beschikbaar => "beschikbaar",
            AgentStatus::Pauze => "pauze",
            AgentStatus::NietStoren => "niet_storen",
            AgentStatus::Afgemeld => "afgemeld",
        }
    }
}

/// A request of the page.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Request {
    /// Log in as an agent (beschikbaar).
    #[serde(rename = "agent:login")]
    AgentLogin {},
    /// Log out as an agent (afgemeld).
    #[serde(rename = "agent:logout")]
    AgentLogout {},
    /// Set the status.
    #[serde(rename = "agent:status")]
    AgentStatus {
        /// The new status.
        status: AgentStatus,
        /// Why (pauze).
        #[serde(default)]
        reden: Option<String>,
    },
    /// Call a number; `sdp` is the page's WebRTC offer.
    #[serde(rename = "call:dial")]
    Dial {
        /// What was dialled.
        nummer: String,
        /// The offer.
        sdp: String,
    },
    /// Answer a ringing call with the page's offer.
    #[serde(rename = "call:answer")]
    Answer {
        /// Call id.
        call: String,
        /// The offer.
        sdp: String,
    },
    /// Refuse a ringing call.
    #[serde(rename = "call:reject")]
    Reject {
        /// Call id.
        call: String,
    },
    /// Hang up.
    #[serde(rename = "call:hangup")]
    Hangup {
        /// Call id.
        call: String,
    },
    /// Put on hold.
    #[serde(rename = "call:hold")]
    Hold {
        /// Call id.
        call: String,
    },
    /// Take back from hold.
    #[serde(rename = "call:unhold")]
    Unhold {
        /// Call id.
        call: String,
    },
    /// Send digits (RFC 4733 to the other side).
    #[serde(rename = "call:dtmf")]
    Dtmf {
        /// Call id.
        call: String,
        /// `0-9*#A-D`.
        digits: String,
    },
    /// Blind transfer.
    #[serde(rename = "call:transfer")]
    Transfer {
        /// Call id.
        call: String,
        /// Where to.
        nummer: String,
    },
    /// Attended transfer: hold `call`, call `nummer` with a new offer.
    #[serde(rename = "call:consult")]
    Consult {
        /// The first call.
        call: String,
        /// Who to consult.
        nummer: String,
        /// The offer for the second call.
        sdp: String,
    },
    /// Connect the first call to the consulted party.
    #[serde(rename = "call:consult_complete")]
    ConsultComplete {
        /// The first call.
        call: String,
    },
    /// End the consultation, back to the first call.
    #[serde(rename = "call:consult_cancel")]
    ConsultCancel {
        /// The first call.
        call: String,
    },
    /// Notes with the call (kept with its CDR).
    #[serde(rename = "call:notes")]
    Notes {
        /// Call id.
        call: String,
        /// The notes.
        notes: String,
    },
    /// Disposition (afcodering); ends the wrap-up.
    #[serde(rename = "call:disposition")]
    Disposition {
        /// Call id.
        call: String,
        /// A code of the organisation's list.
        code: String,
    },
    /// New media for a call in progress after the page was reloaded: the page's new offer.
    #[serde(rename = "call:reoffer")]
    Reoffer {
        /// Call id.
        call: String,
        /// The offer.
        sdp: String,
    },
    /// Search contacts.
    #[serde(rename = "contacts:search")]
    ContactsSearch {
        /// Name, company or number.
        q: String,
    },
    /// The user's own calls.
    #[serde(rename = "history:list")]
    HistoryList {
        /// At most this many (default 50, at most 500).
        #[serde(default)]
        limit: Option<u32>,
    },
}

impl Request {
    /// The type word, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::AgentLogin {} => "agent:login",
            Request::AgentLogout {} => "agent:logout",
            Request::AgentStatus { .. } => "agent:status",
            Request::Dial { .. } => "call:dial",
            Request::Answer { .. } => "call:answer",
            Request::Reject { .. } => "call:reject",
            Request::Hangup { .. } => "call:hangup",
            Request::Hold { .. } => "call:hold",
            Request::Unhold { .. } => "call:unhold",
            Request::Dtmf { .. } => "call:dtmf",
            Request::Transfer { .. } => "call:transfer",
            Request::Reoffer { .. } => "call:reoffer",
            Request::Consult { .. } => "call:consult",
            Request::ConsultComplete { .. } => "call:consult_complete",
            Request::ConsultCancel { .. } => "call:consult_cancel",
            Request::Notes { .. } => "call:notes",
            Request::Disposition { .. } => "call:disposition",
            Request::ContactsSearch { .. } => "contacts:search",
            Request::HistoryList { .. } => "history:list",
        }
    }

    /// Limits on the values, after parsing.
    fn check(&self) -> Result<(), String> {
        let short = |what: &str, v: &str, max: usize| {
            if v.chars().count() > max {
                Err(format!("{what} is te lang (hoogstens {max} tekens)"))
            } else {
                Ok(())
            }
        };
        let number = |v: &str| {
            short("nummer", v, 64)?;
            if v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '+' | '*' | '#'))
            {
                return Err(format!(
                    "ongeldig nummer '{}': alleen cijfers, + * en #",
                    v.chars().take(40).collect::<String>()
                ));
            }
            Ok(())
        };
        let call = |v: &str| short("call", v, 128);
        let sdp = |v: &str| {
            if v.len() > 16 * 1024 || !v.starts_with("v=0") {
                return Err("sdp is geen SDP-aanbod (v=0 …, hoogstens 16 KiB)".to_string());
            }
            Ok(())
        };
        match self {
            Request::AgentStatus { reden, .. } => {
                short("reden", reden.as_deref().unwrap_or(""), 120)
            }
            Request::Dial { nummer, sdp: s } => {
                number(nummer)?;
                sdp(s)
            }
            Request::Answer { call: c, sdp: s } | Request::Reoffer { call: c, sdp: s } => {
                call(c)?;
                sdp(s)
            }
            Request::Consult {
                call: c,
                nummer,
                sdp: s,
            } => {
                call(c)?;
                number(nummer)?;
                sdp(s)
            }
            Request::Transfer { call: c, nummer } => {
                call(c)?;
                number(nummer)
            }
            Request::Dtmf { call: c, digits } => {
                call(c)?;
                if digits.is_empty()
                    || digits.len() > 32
                    || !digits
                        .chars()
                        .all(|d| d.is_ascii_digit() || matches!(d, '*' | '#' | 'A'..='D'))
                {
                    return Err("digits: 1 tot 32 tekens uit 0-9 * # A-D".to_string());
                }
                Ok(())
            }
            Request::Notes { call: c, notes } => {
                call(c)?;
                short("notes", notes, 4000)
            }
            Request::Disposition { call: c, code } => {
                call(c)?;
                short("code", code, 64)
            }
            Request::ContactsSearch { q } => short("q", q, 100),
            Request::HistoryList { limit } => match limit {
                Some(n) if *n > 500 => Err("limit is hoogstens 500".to_string()),
                _ => Ok(()),
            },
            Request::Reject { call: c }
            | Request::Hangup { call: c }
            | Request::Hold { call: c }
            | Request::Unhold { call: c }
            | Request::ConsultComplete { call: c }
            | Request::ConsultCancel { call: c } => call(c),
            Request::AgentLogin {} | Request::AgentLogout {} => Ok(()),
        }
    }
}

/// Why a request was not carried out: a code for the page and a Dutch message for the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `ongeldig`, `niet_gevonden`, `geweigerd`, `bezet`, `niet_beschikbaar`, `fout`.
    pub code: &'static str,
    /// Dutch text.
    pub message: String,
}

impl Refusal {
    /// A refusal with `code`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }

    /// The message was not understood.
    pub fn invalid(message: impl Into<String>) -> Refusal {
        Refusal::new("ongeldig", message)
    }
}

/// A parsed message: its id (echoed as `re`) and the request, or why it is invalid.
#[derive(Debug)]
pub struct Parsed {
    /// The page's `id`, if it sent one (and it was a string of at most 64 characters).
    pub id: Option<String>,
    /// The request.
    pub request: Result<Request, Refusal>,
}

/// Parses one text message of the page.
pub fn parse(text: &str) -> Parsed {
    let mut v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Parsed {
                id: None,
                request: Err(Refusal::invalid(format!("geen geldige JSON: {e}"))),
            }
        }
    };
    let Some(obj) = v.as_object_mut() else {
        return Parsed {
            id: None,
            request: Err(Refusal::invalid("een bericht is een JSON-object")),
        };
    };
    let id = match obj.remove("id") {
        None => None,
        Some(Value::String(s)) if s.chars().count() <= 64 => Some(s),
        Some(_) => {
            return Parsed {
                id: None,
                request: Err(Refusal::invalid("id is een tekst van hoogstens 64 tekens")),
            }
        }
    };
    let fail = |id: Option<String>, m: String| Parsed {
        id,
        request: Err(Refusal::invalid(m)),
    };
    match obj.remove("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
        Some(other) => {
            return fail(
                id,
                format!("protocolversie {other} wordt niet ondersteund (alleen {VERSION})"),
            )
        }
        None => return fail(id, "veld v (protocolversie) ontbreekt".into()),
    }
    let kind = match obj.get("type") {
        Some(Value::String(s)) => s.chars().take(40).collect::<String>(),
        _ => return fail(id, "veld type ontbreekt".into()),
    };
    match serde_json::from_value::<Request>(v) {
        Ok(r) => match r.check() {
            Ok(()) => Parsed { id, request: Ok(r) },
            Err(m) => fail(id, format!("{kind}: {m}")),
        },
        Err(e) => {
            let e = e.to_string();
            let m = if e.starts_with(&format!("unknown variant `{kind}`")) {
                format!("onbekend berichttype '{kind}'")
            } else {
                format!("{kind}: {}", dutch_serde(&e))
            };
            fail(id, m)
        }
    }
}

/// serde's English field errors in Dutch (the field names stay as they are).
fn dutch_serde(e: &str) -> String {
    if let Some(rest) = e.strip_prefix("missing field ") {
        return format!("veld {} ontbreekt", rest.trim_matches('`'));
    }
    if let Some(rest) = e.strip_prefix("unknown field ") {
        let name = rest.split(',').next().unwrap_or(rest).trim_matches('`');
        return format!("onbekend veld {name}");
    }
    if e.starts_with("invalid type") || e.starts_with("invalid value") {
        return format!("verkeerde waarde ({e})");
    }
    if e.starts_with("unknown variant") {
        let name = e.split('`').nth(1).unwrap_or("?");
        return format!("onbekende waarde '{name}'");
    }
    e.to_string()
}

/// An event of pbxd for the page: `{"v":1,"type":kind, …fields}`.
pub fn event(kind: &str, fields: Value) -> Value {
    let mut m = Map::new();
    m.insert("v".into(), json!(VERSION));
    m.insert("type".into(), json!(kind));
    if let Value::Object(f) = fields {
        for (k, v) in f {
            m.insert(k, v);
        }
    }
    Value::Object(m)
}

/// The answer `ok` to request `re` with extra fields.
pub fn ok(re: Option<&str>, fields: Map<String, Value>) -> Value {
    let mut v = event("ok", Value::Object(fields));
    if let (Some(re), Some(m)) = (re, v.as_object_mut()) {
        m.insert("re".into(), json!(re));
    }
    v
}

/// The answer `error` to request `re`.
pub fn error(re: Option<&str>, r: &Refusal) -> Value {
    let mut v = event("error", json!({"code": r.code, "message": r.message}));
    if let (Some(re), Some(m)) = (re, v.as_object_mut()) {
        m.insert("re".into(), json!(re));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_messages_parse() {
        let p = parse(r#"{"v":1,"type":"call:dial","id":"7","nummer":"201","sdp":"v=0\r\n"}"#);
        assert_eq!(p.id.as_deref(), Some("7"));
        assert_eq!(
            p.request,
            Ok(Request::Dial {
                nummer: "201".into(),
                sdp: "v=0\r\n".into()
            })
        );
        let p = parse(r#"{"v":1,"type":"agent:status","status":"pauze","reden":"lunch"}"#);
        assert!(matches!(
            p.request,
            Ok(Request::AgentStatus {
                status: AgentStatus::Pauze,
                ..
            })
        ));
        assert!(parse(r#"{"v":1,"type":"agent:login"}"#).request.is_ok());
        assert!(parse(r#"{"v":1,"type":"history:list"}"#).request.is_ok());
    }

    #[test]
    fn invalid_messages_get_a_dutch_reason() {
        let cases = [
            ("nonsens", "geen geldige JSON"),
            ("[1,2]", "JSON-object"),
            (r#"{"type":"agent:login"}"#, "protocolversie"),
            (r#"{"v":2,"type":"agent:login"}"#, "versie 2"),
            (r#"{"v":1}"#, "type ontbreekt"),
            (
                r#"{"v":1,"type":"call:dail"}"#,
                "onbekend berichttype 'call:dail'",
            ),
            (r#"{"v":1,"type":"call:hangup"}"#, "veld call ontbreekt"),
            (
                r#"{"v":1,"type":"call:hangup","call":"x","extra":1}"#,
                "onbekend veld extra",
            ),
            (
                r#"{"v":1,"type":"call:hangup","call":5}"#,
                "verkeerde waarde",
            ),
            (
                r#"{"v":1,"type":"agent:status","status":"weg"}"#,
                "onbekende waarde 'weg'",
            ),
            (
                r#"{"v":1,"type":"call:dtmf","call":"c","digits":"12x"}"#,
                "0-9 * # A-D",
            ),
            (
                r#"{"v":1,"type":"call:dial","nummer":"2; DROP","sdp":"v=0"}"#,
                "ongeldig nummer",
            ),
            (
                r#"{"v":1,"type":"call:dial","nummer":"201","sdp":"hallo"}"#,
                "geen SDP",
            ),
            (
                r#"{"v":1,"type":"history:list","limit":100000}"#,
                "hoogstens 500",
            ),
        ];
        for (text, want) in cases {
            let p = parse(text);
            let Err(r) = p.request else {
                panic!("{text} parsed")
            };
            assert_eq!(r.code, "ongeldig");
            assert!(r.message.contains(want), "{text}: {}", r.message);
        }
        // The id is echoed even when the rest is wrong.
        let p = parse(r#"{"v":1,"id":"9","type":"bestaat:niet"}"#);
        assert_eq!(p.id.as_deref(), Some("9"));
        let long = format!(
            r#"{{"v":1,"id":"{}","type":"agent:login"}}"#,
            "x".repeat(65)
        );
        assert!(parse(&long).request.is_err());
    }

    #[test]
    fn events_carry_version_type_and_re() {
        let v = error(Some("3"), &Refusal::invalid("x"));
        assert_eq!(v["v"], 1);
        assert_eq!(v["type"], "error");
        assert_eq!(v["re"], "3");
        assert_eq!(v["code"], "ongeldig");
        let v = event("agent:status", json!({"status": "pauze"}));
        assert_eq!(v["status"], "pauze");
    }
}

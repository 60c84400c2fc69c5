//! Registrations of phones and call detail records (gespreksoverzicht).

use serde::{Deserialize, Serialize};

/// One registered contact of an extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Organisation slug.
    pub tenant: String,
    /// Extension number.
    pub extension: String,
    /// The Contact URI as the phone registered it: the Request-URI of requests to the phone.
    /// They are sent to `source`, not to the address in this URI (which behind NAT is a
    /// private one).
    pub contact: String,
    /// `+sip.instance` of the phone (RFC 5626), when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Transport and source address the REGISTER came from: `udp:192.0.2.7:5060`.
    pub source: String,
    /// User-Agent header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Call-ID of the registration.
    pub call_id: String,
    /// CSeq of the last REGISTER.
    pub cseq: u32,
    /// Registered at (Unix ms).
    pub registered_ms: u64,
    /// Expires at (Unix ms).
    pub expires_ms: u64,
    /// The phone is behind NAT: its Contact or top Via names another address than the one the
    /// REGISTER came from. Absent (false) in records written before this field existed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub nat: bool,
    /// Keep-alives went unanswered (or its TCP/TLS connection closed): the phone is not rung
    /// until it answers or registers again.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unreachable: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Registration {
    /// Has it expired at `now_ms`?
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expires_ms <= now_ms
    }
}

/// How a call ended (afloop).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Afloop {
    /// Answered.
    Beantwoord,
    /// Not answered in time.
    GeenAntwoord,
    /// Busy.
    Bezet,
    /// Failed (error, unreachable, refused).
    Mislukt,
    /// Cancelled by the caller before answer.
    Geannuleerd,
}

impl Afloop {
    /// Every value.
    pub const ALL: [Afloop; 5] = [
        Afloop::Beantwoord,
        Afloop::GeenAntwoord,
        Afloop::Bezet,
        Afloop::Mislukt,
        Afloop::Geannuleerd,
    ];

    /// The name in filters and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Afloop::Beantwoord => "beantwoord",
            Afloop::GeenAntwoord => "geen_antwoord",
            Afloop::Bezet => "bezet",
            Afloop::Mislukt => "mislukt",
            Afloop::Geannuleerd => "geannuleerd",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Afloop> {
        Afloop::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The afloop of a call that ended with this final SIP status before answer
    /// (487 = cancelled, 486/600 = busy, 408/480 = no answer, other = failed).
    pub fn from_sip(code: u16) -> Afloop {
        match code {
            200..=299 => Afloop::Beantwoord,
            487 => Afloop::Geannuleerd,
            486 | 600 => Afloop::Bezet,
            408 | 480 => Afloop::GeenAntwoord,
            _ => Afloop::Mislukt,
        }
    }
}

/// The direction of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Between extensions.
    Intern,
    /// From a trunk.
    Inkomend,
    /// To a trunk.
    Uitgaand,
}

/// Who ended the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupBy {
    /// The caller.
    Beller,
    /// The called party.
    Gebelde,
    /// pbxd (timeout, limit, `pbxctl call hangup`).
    Systeem,
}

/// A party of a call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Number (extension or E.164).
    pub number: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// Media quality of one leg at the end of the call. Fractions are stored in hundredths so the
/// record stays exact and comparable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegQuality {
    /// `a` (caller side) or `b` (called side).
    pub leg: String,
    /// Codec used on this leg.
    pub codec: String,
    /// Packets received.
    pub packets: u64,
    /// Packets lost.
    pub lost: u64,
    /// Loss in hundredths of a percent.
    pub loss_centi_pct: u32,
    /// Interarrival jitter in hundredths of a ms.
    pub jitter_centi_ms: u32,
    /// Round-trip time in ms, from RTCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<u32>,
    /// Average MOS of the leg (E-model, per second with audio), in hundredths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mos_centi: Option<u32>,
}

/// The quality of a whole call (see `pbx_media::quality`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallQuality {
    /// Average MOS over the seconds with audio of both legs, in hundredths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_mos_centi: Option<u32>,
    /// The worst second, in hundredths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_mos_centi: Option<u32>,
    /// Largest jitter, hundredths of a ms.
    pub max_jitter_centi_ms: u32,
    /// Loss over both legs, hundredths of a percent.
    pub loss_centi_pct: u32,
    /// Audio went one way only for 5 s or more.
    #[serde(default)]
    pub one_way: bool,
    /// No audio either way for 5 s or more.
    #[serde(default)]
    pub dead_air: bool,
}

/// A call detail record, written and flushed when the call ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    /// Unique id of the call in pbxd.
    pub id: String,
    /// Organisation.
    pub tenant: String,
    /// SIP Call-ID of the caller's leg.
    pub call_id: String,
    /// Caller.
    pub caller: Party,
    /// Called party.
    pub callee: Party,
    /// Numbers the call was forwarded to, in order (empty when not forwarded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwarded_to: Vec<String>,
    /// Direction.
    pub direction: Direction,
    /// Start (Unix ms): the INVITE arrived.
    pub start_ms: u64,
    /// Answer (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_ms: Option<u64>,
    /// End (Unix ms).
    pub end_ms: u64,
    /// How the call ended.
    pub afloop: Afloop,
    /// Final SIP status (200 for answered calls).
    pub sip_code: u16,
    /// Who hung up.
    pub hangup_by: HangupBy,
    /// Codecs of the legs (`PCMA`, `PCMA→PCMU` when transcoded).
    #[serde(default)]
    pub codecs: Vec<String>,
    /// Quality per leg.
    #[serde(default)]
    pub legs: Vec<LegQuality>,
    /// The trunk the call went out or came in on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk: Option<String>,
    /// Trunks tried for an outside call, in order, with their answer (failover).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    /// The call's quality, when media flowed through pbxd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<CallQuality>,
    /// The agent's notes (softphone), added during or after the call.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// The agent's afcodering (softphone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub afcodering: Option<String>,
}

/// One trunk tried for an outside call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Trunk name.
    pub trunk: String,
    /// Its final answer (200 when it carried the call; 408 when the provider stayed silent;
    /// 503 when it had no free channel).
    pub code: u16,
}

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.trunk, self.code)
    }
}

impl Cdr {
    /// Whole seconds from start to end.
    pub fn duration_secs(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms) / 1000
    }

    /// Whole seconds from answer to end (0 when not answered).
    pub fn billsec(&self) -> u64 {
        self.answer_ms
            .map(|a| self.end_ms.saturating_sub(a) / 1000)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_stored_before_nat_fields_still_load() {
        let old = r#"{"tenant":"acme","extension":"1001","contact":"sip:1001@10.0.0.1","source":"udp:192.0.2.7:5060","call_id":"c","cseq":1,"registered_ms":1,"expires_ms":2}"#;
        let r: Registration = serde_json::from_str(old).unwrap_or_else(|e| panic!("{e}"));
        assert!(!r.nat && !r.unreachable);
        // A registration without NAT is written exactly as before (older readers deny unknown
        // fields).
        assert_eq!(serde_json::to_string(&r).ok().as_deref(), Some(old));
        let nat = Registration {
            nat: true,
            unreachable: true,
            ..r
        };
        let text = serde_json::to_string(&nat).unwrap_or_default();
        assert!(
            text.ends_with(r#","nat":true,"unreachable":true}"#),
            "{text}"
        );
    }

    #[test]
    fn afloop_from_sip() {
        assert_eq!(Afloop::from_sip(200), Afloop::Beantwoord);
        assert_eq!(Afloop::from_sip(487), Afloop::Geannuleerd);
        assert_eq!(Afloop::from_sip(486), Afloop::Bezet);
        assert_eq!(Afloop::from_sip(480), Afloop::GeenAntwoord);
        assert_eq!(Afloop::from_sip(404), Afloop::Mislukt);
        assert_eq!(Afloop::parse("geen_antwoord"), Some(Afloop::GeenAntwoord));
    }

    #[test]
    fn durations() {
        let c = Cdr {
            id: "x".into(),
            tenant: "acme".into(),
            call_id: "c".into(),
            caller: Party::default(),
            callee: Party::default(),
            forwarded_to: Vec::new(),
            direction: Direction::Intern,
            start_ms: 1_000,
            answer_ms: Some(5_500),
            end_ms: 65_999,
            afloop: Afloop::Beantwoord,
            sip_code: 200,
            hangup_by: HangupBy::Beller,
            codecs: vec![],
            legs: vec![],
            trunk: None,
            attempts: vec![],
            quality: None,
            notes: String::new(),
            afcodering: None,
        };
        assert_eq!(c.duration_secs(), 64);
        assert_eq!(c.billsec(), 60);
        assert_eq!(
            Cdr {
                answer_ms: None,
                ..c
            }
            .billsec(),
            0
        );
    }
}

//! An organisation's protection against toll fraud (belfraude): which expensive classes it may
//! dial out at all, how many of them per hour, and how long an outside call may last.
//!
//! The maximum of concurrent outside calls is [`crate::Limits::max_outside_calls`]. The engine's
//! guard (`pbx_engine::tollfraud`) counts against these numbers; the router
//! (`pbx_engine::route`) refuses the switched-off classes. 112 is never limited.

use crate::error::ModelError;
use crate::tenant::LIMIT_CEILING;
use pbx_i18n::Msg;
use serde::{Deserialize, Serialize};

/// Shortest maximum duration of an outside call an organisation can set, in seconds.
pub const MIN_CALL_SECS: u32 = 60;
/// Longest maximum duration of an outside call, in seconds (a day).
pub const MAX_CALL_SECS: u32 = 86_400;

/// Toll-fraud settings of an organisation. Every field has a default, so older stored
/// organisations load unchanged and get the safe defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TollFraud {
    /// International numbers may be dialled at all (users also need the class). Off by default.
    pub international: bool,
    /// Betaalnummers (0900, 0906, 0909, 18xx) may be dialled at all (users also need the class).
    /// Off by default.
    pub betaalnummers: bool,
    /// International calls started in any sliding hour.
    pub max_international_per_hour: u32,
    /// Calls to betaalnummers started in any sliding hour.
    pub max_betaalnummers_per_hour: u32,
    /// Longest outside call in seconds; then pbxd hangs up. Not for 112. Two hours by default:
    /// below the call core's overall four hours, and what a hijacked line costs is bounded.
    pub max_call_secs: u32,
}

impl Default for TollFraud {
    fn default() -> TollFraud {
        TollFraud {
            international: false,
            betaalnummers: false,
            max_international_per_hour: 20,
            max_betaalnummers_per_hour: 10,
            max_call_secs: 2 * 3600,
        }
    }
}

impl TollFraud {
    /// Are these the defaults (then they are left out when serialised)?
    pub fn is_default(&self) -> bool {
        *self == TollFraud::default()
    }

    /// Checks the ranges; each problem with the field it concerns.
    pub fn problems(&self) -> Vec<(&'static str, ModelError)> {
        let mut out = Vec::new();
        for (field, v) in [
            (
                "max_international_per_hour",
                self.max_international_per_hour,
            ),
            (
                "max_betaalnummers_per_hour",
                self.max_betaalnummers_per_hour,
            ),
        ] {
            if v > LIMIT_CEILING {
                out.push((
                    "toll_fraud",
                    ModelError::invalid(
                        Msg::new("tenant.limit_ceiling")
                            .arg("field", field)
                            .arg("max", LIMIT_CEILING),
                    ),
                ));
            }
        }
        if !(MIN_CALL_SECS..=MAX_CALL_SECS).contains(&self.max_call_secs) {
            out.push((
                "toll_fraud",
                ModelError::invalid(
                    Msg::new("tenant.max_call_secs")
                        .arg("value", self.max_call_secs)
                        .arg("min", MIN_CALL_SECS)
                        .arg("max", MAX_CALL_SECS),
                ),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe_and_old_data_loads() {
        let d = TollFraud::default();
        assert!(!d.international && !d.betaalnummers);
        assert!(d.problems().is_empty());
        let empty: TollFraud = serde_json::from_str("{}").unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(empty, d);
        let some: TollFraud = serde_json::from_str(r#"{"international":true}"#)
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(some.international && some.max_international_per_hour == 20);
        assert!(serde_json::from_str::<TollFraud>(r#"{"internationaal":true}"#).is_err());
    }

    #[test]
    fn ranges() {
        let t = TollFraud {
            max_call_secs: 10,
            max_betaalnummers_per_hour: LIMIT_CEILING + 1,
            ..TollFraud::default()
        };
        let keys: Vec<&str> = t.problems().iter().map(|(_, e)| e.msg.key()).collect();
        assert_eq!(keys, vec!["tenant.limit_ceiling", "tenant.max_call_secs"]);
    }
}

//! Wachtrijen (queues) and belgroepen (ring groups).

use crate::belplan::Action;
use crate::error::ModelError;
use crate::names::{check_extension_number, check_text};
use pbx_i18n::Msg;
use serde::{Deserialize, Serialize};

/// How a queue picks the next agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Every available agent rings.
    #[default]
    Ringall,
    /// The agent idle longest.
    Leastrecent,
    /// The agent with the fewest calls.
    Fewestcalls,
    /// A random agent.
    Random,
    /// In turn.
    Roundrobin,
}

impl Strategy {
    /// Parses a strategy name.
    pub fn parse(s: &str) -> Option<Strategy> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }

    /// The name as in the configuration (`ringall`, …).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    }
}

/// An agent in a queue; lower penalty is offered calls first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// User name of the agent.
    pub user: String,
    /// Penalty (0 is first).
    #[serde(default)]
    pub penalty: u32,
}

/// A wachtrij.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Organisation slug.
    pub tenant: String,
    /// Number callers dial; shares the number space with extensions.
    pub number: String,
    /// Name.
    pub name: String,
    /// Strategy.
    #[serde(default)]
    pub strategy: Strategy,
    /// Members.
    #[serde(default)]
    pub members: Vec<Member>,
    /// Seconds an agent's phone rings before the next is tried.
    #[serde(default = "d20")]
    pub ring_timeout_secs: u32,
    /// Maximum seconds a caller waits before overflow.
    #[serde(default = "d300")]
    pub max_wait_secs: u32,
    /// Afrondtijd: seconds after a call before the agent gets the next one.
    #[serde(default = "d10")]
    pub wrapup_secs: u32,
    /// Where callers go after `max_wait_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow: Option<Action>,
    /// Wachtmuziek: name of the music class.
    #[serde(default = "default_moh")]
    pub moh: String,
}

fn d20() -> u32 {
    20
}
fn d300() -> u32 {
    300
}
fn d10() -> u32 {
    10
}
fn default_moh() -> String {
    "standaard".to_string()
}

impl Queue {
    /// A new queue with defaults.
    pub fn new(tenant: &str, number: &str, name: &str) -> Queue {
        Queue {
            tenant: tenant.into(),
            number: number.into(),
            name: name.into(),
            strategy: Strategy::default(),
            members: Vec::new(),
            ring_timeout_secs: d20(),
            max_wait_secs: d300(),
            wrapup_secs: d10(),
            overflow: None,
            moh: default_moh(),
        }
    }

    /// Checks the queue's own fields.
    pub fn problems(&self) -> Vec<(&'static str, ModelError)> {
        let mut out = Vec::new();
        if let Err(e) = check_extension_number(&self.number) {
            out.push(("number", e));
        }
        if let Err(e) = check_text("name", &self.name, 80) {
            out.push(("name", e));
        }
        if !(5..=600).contains(&self.ring_timeout_secs) {
            out.push((
                "ring_timeout_secs",
                ModelError::invalid(
                    Msg::new("queue.range")
                        .arg("field", "ring_timeout_secs")
                        .arg("min", 5)
                        .arg("max", 600),
                ),
            ));
        }
        if !(10..=86_400).contains(&self.max_wait_secs) {
            out.push((
                "max_wait_secs",
                ModelError::invalid(
                    Msg::new("queue.range")
                        .arg("field", "max_wait_secs")
                        .arg("min", 10)
                        .arg("max", 86_400),
                ),
            ));
        }
        if self.wrapup_secs > 3600 {
            out.push((
                "wrapup_secs",
                ModelError::invalid(
                    Msg::new("queue.range")
                        .arg("field", "wrapup_secs")
                        .arg("min", 0)
                        .arg("max", 3600),
                ),
            ));
        }
        for (i, m) in self.members.iter().enumerate() {
            if self.members[..i].iter().any(|o| o.user == m.user) {
                out.push((
                    "members",
                    ModelError::invalid(Msg::new("queue.member_twice").arg("user", &m.user)),
                ));
            }
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

/// How a belgroep rings its members.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RingStrategy {
    /// All at once.
    #[default]
    Simultaan,
    /// One after the other, `timeout_secs` each.
    Opvolgend,
}

/// A belgroep (ring group).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingGroup {
    /// Organisation slug.
    pub tenant: String,
    /// Number; shares the number space with extensions.
    pub number: String,
    /// Name.
    pub name: String,
    /// Simultaneous or sequential.
    #[serde(default)]
    pub strategy: RingStrategy,
    /// Extension numbers.
    pub members: Vec<String>,
    /// Ring time (per member when sequential).
    #[serde(default = "d20")]
    pub timeout_secs: u32,
    /// Where the call goes when nobody answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Action>,
}

impl RingGroup {
    /// Checks the group's own fields.
    pub fn problems(&self) -> Vec<(&'static str, ModelError)> {
        let mut out = Vec::new();
        if let Err(e) = check_extension_number(&self.number) {
            out.push(("number", e));
        }
        if self.members.is_empty() {
            out.push(("members", ModelError::invalid(Msg::new("ringgroup.empty"))));
        }
        if !(5..=600).contains(&self.timeout_secs) {
            out.push((
                "timeout_secs",
                ModelError::invalid(
                    Msg::new("queue.range")
                        .arg("field", "timeout_secs")
                        .arg("min", 5)
                        .arg("max", 600),
                ),
            ));
        }
        out
    }
}

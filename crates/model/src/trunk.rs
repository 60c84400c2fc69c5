//! SIP trunks to providers.

use crate::error::ModelError;
use crate::extension::Codec;
use crate::names::{check_host, check_object_name};
use crate::numbering::E164;
use crate::secret::Sealed;
use pbx_i18n::Msg;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// SIP transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP.
    #[default]
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// SIP over WebSocket.
    Ws,
    /// SIP over secure WebSocket.
    Wss,
}

impl Transport {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }

    /// Parses a transport name.
    pub fn parse(s: &str) -> Option<Transport> {
        [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

/// An IP address or network in CIDR notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `192.0.2.10`, `192.0.2.0/24`, `2001:db8::/32`.
    pub fn parse(s: &str) -> Result<IpNet, ModelError> {
        let bad = || ModelError::invalid(Msg::new("trunk.ipnet").arg("value", s));
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }

    /// Does the network hold this address? (IPv4-mapped IPv6 addresses count as IPv4.)
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    /// Is this the whole address space (`0.0.0.0/0`, `::/0`)?
    pub fn is_everything(&self) -> bool {
        self.prefix == 0
    }
}

impl TryFrom<String> for IpNet {
    type Error = String;
    fn try_from(s: String) -> Result<IpNet, String> {
        IpNet::parse(&s).map_err(|e| e.msg.to_string())
    }
}

impl From<IpNet> for String {
    fn from(n: IpNet) -> String {
        n.to_string()
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// Registration of pbxd at the provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkRegistration {
    /// Register (true) or only authenticate calls (false).
    pub register: bool,
    /// Auth user name at the provider.
    pub username: String,
    /// Sealed secret; `None` in output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Sealed>,
    /// Requested registration lifetime in seconds.
    #[serde(default = "default_expires")]
    pub expires: u32,
}

fn default_expires() -> u32 {
    600
}

/// A SIP trunk of an organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trunk {
    /// Organisation slug.
    pub tenant: String,
    /// Name, unique in the organisation.
    pub name: String,
    /// Provider host name or address.
    pub host: String,
    /// Provider port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Transport.
    #[serde(default)]
    pub transport: Transport,
    /// Credentials and registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<TrunkRegistration>,
    /// Addresses inbound calls are accepted from (IP-authenticated trunks).
    #[serde(default)]
    pub allow: Vec<IpNet>,
    /// DIDs the provider delivers on this trunk.
    #[serde(default)]
    pub dids: Vec<E164>,
    /// Outbound caller ID when the extension has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<E164>,
    /// Maximum concurrent calls.
    #[serde(default = "default_channels")]
    pub max_channels: u32,
    /// Codecs in order of preference.
    #[serde(default = "default_trunk_codecs")]
    pub codecs: Vec<Codec>,
    /// Lower is tried first in a trunk group.
    #[serde(default)]
    pub priority: u32,
    /// Used for calls.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_port() -> u16 {
    5060
}
fn default_channels() -> u32 {
    10
}
fn default_trunk_codecs() -> Vec<Codec> {
    vec![Codec::Pcma, Codec::Pcmu, Codec::TelephoneEvent]
}
fn yes() -> bool {
    true
}

impl Trunk {
    /// A new trunk with defaults.
    pub fn new(tenant: &str, name: &str, host: &str) -> Trunk {
        Trunk {
            tenant: tenant.to_string(),
            name: name.to_string(),
            host: host.to_string(),
            port: default_port(),
            transport: Transport::Udp,
            auth: None,
            allow: Vec::new(),
            dids: Vec::new(),
            caller_id: None,
            max_channels: default_channels(),
            codecs: default_trunk_codecs(),
            priority: 0,
            enabled: true,
        }
    }

    /// The trunk without its secret, for output.
    pub fn public(&self) -> Trunk {
        let mut t = self.clone();
        if let Some(a) = &mut t.auth {
            a.secret = None;
        }
        t
    }

    /// Checks the trunk's own fields.
    pub fn problems(&self) -> Vec<(&'static str, ModelError)> {
        let mut out = Vec::new();
        if let Err(e) = check_object_name(&self.name) {
            out.push(("name", e));
        }
        if let Err(e) = check_host(&self.host) {
            out.push(("host", e));
        }
        if self.port == 0 {
            out.push(("port", ModelError::invalid(Msg::new("trunk.port"))));
        }
        if matches!(self.transport, Transport::Ws | Transport::Wss) {
            out.push((
                "transport",
                ModelError::invalid(Msg::new("trunk.transport_ws")),
            ));
        }
        if let Some(a) = &self.auth {
            if a.username.is_empty() {
                out.push((
                    "auth",
                    ModelError::invalid(Msg::new("trunk.username_empty")),
                ));
            }
            if a.secret.is_none() {
                out.push((
                    "auth",
                    ModelError::invalid(Msg::new("trunk.secret_missing")),
                ));
            }
            if !(60..=86_400).contains(&a.expires) {
                out.push((
                    "auth",
                    ModelError::invalid(Msg::new("trunk.expires").arg("value", a.expires)),
                ));
            }
        }
        if self.allow.iter().any(IpNet::is_everything) {
            out.push((
                "allow",
                ModelError::invalid(Msg::new("trunk.allow_everything")),
            ));
        }
        for (i, d) in self.dids.iter().enumerate() {
            if self.dids[..i].contains(d) {
                out.push((
                    "dids",
                    ModelError::invalid(Msg::new("trunk.did_twice").arg("did", d)),
                ));
            }
        }
        if self.max_channels == 0 || self.max_channels > crate::tenant::LIMIT_CEILING {
            out.push((
                "max_channels",
                ModelError::invalid(Msg::new("trunk.max_channels").arg("value", self.max_channels)),
            ));
        }
        if self.codecs.iter().all(|c| *c == Codec::TelephoneEvent) {
            out.push((
                "codecs",
                ModelError::invalid(Msg::new("extension.no_codecs")),
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
    fn networks() {
        let n = IpNet::parse("192.0.2.0/24").ok();
        assert!(n.is_some_and(
            |n| n.contains("192.0.2.77".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])))
        ));
        let n = IpNet::parse("192.0.2.10").ok();
        assert!(n.is_some_and(
            |n| !n.contains("192.0.2.11".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])))
        ));
        assert!(n.is_some_and(|n| n.contains(
            "::ffff:192.0.2.10"
                .parse()
                .unwrap_or(IpAddr::from([0, 0, 0, 0]))
        )));
        let v6 = IpNet::parse("2001:db8::/32").ok();
        assert!(v6.is_some_and(
            |n| n.contains("2001:db8::5".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])))
        ));
        for bad in ["192.0.2.0/33", "abc", "1.2.3.4/", "::/129"] {
            assert!(IpNet::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            IpNet::parse("10.0.0.0/8")
                .map(|n| n.to_string())
                .ok()
                .as_deref(),
            Some("10.0.0.0/8")
        );
    }

    #[test]
    fn trunk_rules() {
        let mut t = Trunk::new("acme", "kpn", "sip.provider.example");
        assert!(t.validate().is_ok());
        t.allow = vec![IpNet::parse("0.0.0.0/0").unwrap_or(IpNet {
            addr: IpAddr::from([0, 0, 0, 0]),
            prefix: 0,
        })];
        assert!(t.validate().is_err());
        t.allow.clear();
        t.auth = Some(TrunkRegistration {
            register: true,
            username: "u".into(),
            secret: None,
            expires: 600,
        });
        assert!(t.validate().is_err());
        assert!(!serde_json::to_string(
            &Trunk {
                auth: Some(TrunkRegistration {
                    register: true,
                    username: "u".into(),
                    secret: Some(Sealed("v1:x".into())),
                    expires: 600
                }),
                ..t
            }
            .public()
        )
        .unwrap_or_default()
        .contains("v1:x"));
    }
}

//! Phones behind NAT: NAT detection for REGISTER, keep-alive OPTIONS to UDP registrations
//! (through the transaction layer, driven by `pbx_engine::keepalive`), and reachability of
//! TCP/TLS registrations by their connection.
//!
//! * Requests to a phone always go to the source address of its registration (`source`), so a
//!   NATed phone is reached through the binding its own REGISTER opened; the Contact stays as
//!   the phone wrote it (it is the Request-URI, and the 200 to REGISTER must echo it).
//! * UDP: an OPTIONS every `[sip] keepalive_interval` seconds keeps the NAT binding open and
//!   tells whether the phone is still there. Three unanswered in a row mark the registration
//!   unreachable (not rung for calls); any answer, or a new REGISTER, clears that.
//! * TCP/TLS: no pings from pbxd. RFC 5626 §4.4.1 puts the CRLF keep-alive on the client, which
//!   pbxd answers; pbxd cannot open connections to phones, so a registration is reachable
//!   exactly while its connection is open, and is marked unreachable when it closes.

use super::{transport_name, Service};
use pbx_config::KeepaliveFor;
use pbx_engine::keepalive::{Action, KeepAlive, KeepAliveConfig};
use pbx_engine::registrar::{behind_nat, NatInput};
use pbx_model::Registration;
use pbx_sip::msg::{self, Request};
use pbx_sip::transaction::{TransportKind, TuEvent, TxKey};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A binding: (organisation, extension, contact).
pub(crate) type BindingKey = (String, String, String);

/// Failed pings in a row before a registration is unreachable.
const MAX_FAILURES: u32 = 3;
/// A ping without an answer after this long (or after the interval, when shorter) has failed.
/// The transaction layer retransmits the OPTIONS at 0.5, 1.5 and 3.5 s within it.
const PING_TIMEOUT: Duration = Duration::from_secs(4);

/// The keep-alive state of the SIP service.
#[derive(Default)]
pub(crate) struct Glue {
    /// `None` when keep-alives are off.
    core: Option<KeepAlive<BindingKey>>,
    /// The settings the core was made with.
    settings: Option<(u32, KeepaliveFor)>,
    /// Client transactions of pings, to route their responses here.
    by_tx: HashMap<TxKey, BindingKey>,
    /// The ping that is out per binding.
    by_key: HashMap<BindingKey, TxKey>,
}

fn key_of(r: &Registration) -> BindingKey {
    (r.tenant.clone(), r.extension.clone(), r.contact.clone())
}

/// `sip:1001@10.0.0.1:5062;transport=udp` → (`10.0.0.1`, `Some(5062)`); IPv6 keeps its brackets.
pub(crate) fn uri_hostport(uri: &str) -> Option<(&str, Option<u16>)> {
    let rest = uri.split_once(':')?.1;
    let rest = rest.split([';', '?', '>']).next().unwrap_or(rest);
    let hostport = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    if hostport.starts_with('[') {
        let close = hostport.find(']')?;
        let port = hostport[close + 1..]
            .strip_prefix(':')
            .and_then(|p| p.parse().ok());
        return Some((&hostport[..=close], port));
    }
    match hostport.split_once(':') {
        Some((h, p)) => Some((h, p.parse().ok())),
        None => Some((hostport, None)),
    }
}

/// Is the phone that sent this REGISTER behind NAT? See `pbx_engine::registrar::behind_nat`.
pub(crate) fn register_behind_nat(
    req: &Request,
    contacts: &[String],
    source: SocketAddr,
    transport: TransportKind,
) -> bool {
    let via = msg::top_via(req).map(|v| (v.host.to_string(), v.port));
    let input = NatInput {
        source,
        udp: transport == TransportKind::Udp,
        via: via.as_ref().map(|(h, p)| (h.as_str(), *p)),
        contacts: contacts.iter().filter_map(|c| uri_hostport(c)).collect(),
        default_port: if transport == TransportKind::Tls {
            5061
        } else {
            5060
        },
    };
    behind_nat(&input)
}

impl Service {
    fn keepalive_settings(&self) -> (u32, KeepaliveFor) {
        let cfg = self.app.config.read().unwrap_or_else(|p| p.into_inner());
        (
            cfg.daemon.sip.keepalive_interval,
            cfg.daemon.sip.keepalive_for,
        )
    }

    fn keepalive_eligible(r: &Registration, scope: KeepaliveFor) -> bool {
        r.source.starts_with("udp:") && (r.nat || scope == KeepaliveFor::Udp)
    }

    /// (Re)builds the keep-alives from the configuration and the live bindings: at start and
    /// when `[sip] keepalive_*` changed (reload).
    pub(crate) fn keepalive_reset(&mut self, now: Instant) {
        let (interval, scope) = self.keepalive_settings();
        for (tx, _) in std::mem::take(&mut self.keepalive.by_tx) {
            self.tx.abort(tx);
        }
        self.keepalive.by_key.clear();
        self.keepalive.settings = Some((interval, scope));
        self.keepalive.core = (interval > 0).then(|| {
            KeepAlive::new(KeepAliveConfig {
                interval: Duration::from_secs(u64::from(interval)),
                timeout: PING_TIMEOUT,
                max_failures: MAX_FAILURES,
            })
        });
        let regs: Vec<Registration> = self.registrar.all().cloned().collect();
        let mut unknown = Vec::new();
        for r in &regs {
            match self.keepalive.core.as_mut() {
                Some(core) if Service::keepalive_eligible(r, scope) => {
                    core.insert(key_of(r), now);
                    if r.unreachable {
                        core.assume_unreachable(&key_of(r));
                    }
                }
                // Nothing will check a UDP binding that is not pinged: its mark would stay
                // until the next REGISTER. TCP/TLS marks come from the connection.
                _ if r.unreachable && r.source.starts_with("udp:") => unknown.push(key_of(r)),
                _ => {}
            }
        }
        for (t, e, c) in unknown {
            self.registrar.set_unreachable(&t, &e, &c, false);
        }
        if let Some(core) = &self.keepalive.core {
            tracing::info!(
                interval_s = interval,
                scope = ?scope,
                bindings = core.len(),
                "keep-alives naar registraties"
            );
        }
        self.drain_registrar();
    }

    /// A binding was made or refreshed: pinged from now on if it qualifies (a refresh clears
    /// its failures), else not.
    pub(crate) fn keepalive_track(&mut self, r: &Registration) {
        let scope = self.keepalive.settings.map(|(_, s)| s).unwrap_or_default();
        let eligible = Service::keepalive_eligible(r, scope);
        let key = key_of(r);
        match self.keepalive.core.as_mut() {
            Some(core) if eligible => core.insert(key, Instant::now()),
            Some(_) => self.keepalive_untrack(r),
            None => {}
        }
    }

    /// A binding is gone: no more pings, the one that is out is abandoned.
    pub(crate) fn keepalive_untrack(&mut self, r: &Registration) {
        let key = key_of(r);
        if let Some(core) = self.keepalive.core.as_mut() {
            core.remove(&key);
        }
        if let Some(tx) = self.keepalive.by_key.remove(&key) {
            self.keepalive.by_tx.remove(&tx);
            self.tx.abort(tx);
        }
    }

    /// Due pings and failures; a changed configuration rebuilds the keep-alives.
    pub(crate) fn keepalive_timers(&mut self, now: Instant) {
        if self.keepalive.settings != Some(self.keepalive_settings()) {
            self.keepalive_reset(now);
        }
        let Some(core) = self.keepalive.core.as_mut() else {
            return;
        };
        if core.poll_timeout().is_some_and(|t| t <= now) {
            core.handle_timeout(now);
            self.keepalive_actions(now);
        }
    }

    fn keepalive_actions(&mut self, now: Instant) {
        while let Some(action) = self.keepalive.core.as_mut().and_then(|c| c.poll_action()) {
            match action {
                Action::Ping(key) => {
                    if !self.keepalive_ping(&key, now) {
                        if let Some(core) = self.keepalive.core.as_mut() {
                            core.cancelled(&key);
                        }
                    }
                }
                Action::Abandon(key) => {
                    self.count(|c| c.keepalive_timeouts += 1);
                    if let Some(tx) = self.keepalive.by_key.remove(&key) {
                        self.keepalive.by_tx.remove(&tx);
                        self.tx.abort(tx);
                    }
                }
                Action::Unreachable(key) => {
                    tracing::warn!(tenant = %key.0, extension = %key.1, "registratie onbereikbaar: keep-alives onbeantwoord");
                    self.registrar.set_unreachable(&key.0, &key.1, &key.2, true);
                    self.drain_registrar();
                }
                Action::Reachable(key) => {
                    tracing::info!(tenant = %key.0, extension = %key.1, "registratie weer bereikbaar");
                    self.registrar
                        .set_unreachable(&key.0, &key.1, &key.2, false);
                    self.drain_registrar();
                }
            }
        }
    }

    /// Sends one OPTIONS to the source address of a binding, Request-URI its Contact. `false`
    /// when it could not be sent (binding gone, not UDP, transaction layer full).
    fn keepalive_ping(&mut self, key: &BindingKey, now: Instant) -> bool {
        let Some(dest) = self
            .registrar
            .bindings(&key.0, &key.1)
            .iter()
            .find(|r| r.contact == key.2)
            .and_then(|r| r.source.strip_prefix("udp:"))
            .and_then(|a| a.parse::<SocketAddr>().ok())
        else {
            return false;
        };
        let Some(req) = self.options_request(&key.2, dest) else {
            tracing::debug!(tenant = %key.0, extension = %key.1, "keep-alive: contact onbruikbaar als Request-URI");
            return false;
        };
        match self.tx.send_request(req, dest, TransportKind::Udp, now) {
            Ok(tx) => {
                self.count(|c| c.keepalives += 1);
                if let Some(old) = self.keepalive.by_key.insert(key.clone(), tx) {
                    self.keepalive.by_tx.remove(&old);
                }
                self.keepalive.by_tx.insert(tx, key.clone());
                true
            }
            Err(e) => {
                tracing::debug!(error = ?e, "keep-alive niet verstuurd");
                false
            }
        }
    }

    /// Takes the transaction events of pings; gives back every other event.
    pub(crate) fn keepalive_event(&mut self, ev: TuEvent, now: Instant) -> Option<TuEvent> {
        let key = match &ev {
            TuEvent::Response { key, .. }
            | TuEvent::Timeout { key, .. }
            | TuEvent::TransportError { key }
            | TuEvent::Terminated { key } => *key,
            _ => return Some(ev),
        };
        let Some(binding) = self.keepalive.by_tx.get(&key).cloned() else {
            return Some(ev);
        };
        let out = self.keepalive.by_key.get(&binding) == Some(&key);
        match ev {
            TuEvent::Response { .. } => {
                // Any answer, 4xx and 5xx too, proves the phone is there.
                if out {
                    self.keepalive.by_key.remove(&binding);
                    if let Some(core) = self.keepalive.core.as_mut() {
                        core.answered(&binding, now);
                    }
                }
            }
            TuEvent::Timeout { .. } | TuEvent::TransportError { .. } => {
                if out {
                    self.keepalive.by_key.remove(&binding);
                    self.count(|c| c.keepalive_timeouts += 1);
                    if let Some(core) = self.keepalive.core.as_mut() {
                        core.failed(&binding, now);
                    }
                }
            }
            _ => {
                self.keepalive.by_tx.remove(&key);
                if out {
                    self.keepalive.by_key.remove(&binding);
                }
            }
        }
        self.keepalive_actions(now);
        None
    }

    /// A TCP/TLS connection closed: its registrations cannot be reached any more (pbxd does not
    /// connect to phones).
    pub(crate) fn connection_closed(&mut self, src: SocketAddr, transport: TransportKind) {
        let source = format!("{}:{src}", transport_name(transport));
        let keys: Vec<BindingKey> = self
            .registrar
            .all()
            .filter(|r| r.source == source && !r.unreachable)
            .map(key_of)
            .collect();
        for (t, e, c) in &keys {
            tracing::info!(tenant = %t, extension = %e, "registratie onbereikbaar: verbinding gesloten");
            self.registrar.set_unreachable(t, e, c, true);
        }
        if !keys.is_empty() {
            self.drain_registrar();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_of_contacts() {
        assert_eq!(
            uri_hostport("sip:1001@10.0.0.1:5062;transport=udp"),
            Some(("10.0.0.1", Some(5062)))
        );
        assert_eq!(uri_hostport("sip:1001@10.0.0.1"), Some(("10.0.0.1", None)));
        assert_eq!(
            uri_hostport("sips:a@[2001:db8::1]:5061;ob"),
            Some(("[2001:db8::1]", Some(5061)))
        );
        assert_eq!(
            uri_hostport("sip:phone.example"),
            Some(("phone.example", None))
        );
        assert_eq!(uri_hostport("nonsense"), None);
    }

    #[test]
    fn a_register_from_behind_nat_is_recognised() {
        let text = |via: &str| {
            format!("REGISTER sip:acme.example SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK1;rport\r\nFrom: <sip:1001@acme.example>;tag=1\r\nTo: <sip:1001@acme.example>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n")
        };
        let req = |via: &str| match msg::parse(text(via).as_bytes(), &msg::Limits::default())
            .map(|p| p.message)
        {
            Ok(msg::SipMessage::Request(r)) => r,
            other => panic!("{other:?}"),
        };
        let src: SocketAddr = "127.0.0.1:40000".parse().unwrap_or_else(|_| unreachable!());
        let open = ["sip:1001@127.0.0.1:40000".to_string()];
        let private = ["sip:1001@10.0.0.1:5060".to_string()];
        let udp = TransportKind::Udp;
        assert!(!register_behind_nat(
            &req("127.0.0.1:40000"),
            &open,
            src,
            udp
        ));
        assert!(register_behind_nat(
            &req("127.0.0.1:40000"),
            &private,
            src,
            udp
        ));
        assert!(register_behind_nat(&req("10.0.0.1:5060"), &open, src, udp));
        // TCP: the source port is the connection's.
        assert!(!register_behind_nat(
            &req("127.0.0.1:5060"),
            &["sip:1001@127.0.0.1:5060;transport=tcp".to_string()],
            src,
            TransportKind::Tcp
        ));
    }
}

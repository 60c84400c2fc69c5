//! The registrar (RFC 3261 §10.3): bindings of extensions to contacts, in virtual time.
//!
//! Authentication and finding the organisation happen before this core is called; it decides
//! what a REGISTER does to the bindings and what to answer, and tells which bindings expired.

use pbx_model::Registration;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Limits on registration lifetimes.
#[derive(Clone, Copy, Debug)]
pub struct RegistrarConfig {
    /// Shortest lifetime accepted; shorter gets 423 with Min-Expires.
    pub min_expires: u32,
    /// Longest lifetime granted; longer is clamped.
    pub max_expires: u32,
    /// Lifetime when the phone asks none.
    pub default_expires: u32,
}

impl Default for RegistrarConfig {
    fn default() -> RegistrarConfig {
        RegistrarConfig {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
        }
    }
}

/// One Contact of a REGISTER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactSpec {
    /// The Contact URI, after NAT fix-up by the transport layer.
    pub uri: String,
    /// `expires` parameter of this contact.
    pub expires: Option<u32>,
    /// `+sip.instance` (RFC 5626).
    pub instance: Option<String>,
}

/// The Contact header field(s) of a REGISTER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contacts {
    /// No Contact: a query for the current bindings.
    Query,
    /// `Contact: *`: remove all bindings (only with `Expires: 0`).
    Star,
    /// One or more contacts.
    List(Vec<ContactSpec>),
}

/// A decoded REGISTER for one extension.
#[derive(Clone, Debug)]
pub struct RegisterInput {
    /// Organisation slug.
    pub tenant: String,
    /// Extension number.
    pub extension: String,
    /// The extension's maximum of simultaneous registrations.
    pub max_registrations: u8,
    /// Call-ID.
    pub call_id: String,
    /// CSeq number.
    pub cseq: u32,
    /// `udp:192.0.2.7:5060`.
    pub source: String,
    /// The phone is behind NAT (see [`behind_nat`]).
    pub nat: bool,
    /// User-Agent.
    pub user_agent: Option<String>,
    /// Contacts.
    pub contacts: Contacts,
    /// The `Expires` header.
    pub expires_header: Option<u32>,
}

/// What the registrar answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 200 OK with the current bindings (each with its remaining lifetime in seconds).
    Ok {
        /// Current bindings and seconds left.
        bindings: Vec<(Registration, u32)>,
    },
    /// 423 Interval Too Brief with `Min-Expires`.
    IntervalTooBrief {
        /// The minimum.
        min_expires: u32,
    },
    /// 400 Bad Request (`*` without `Expires: 0`, or `*` with other contacts).
    BadRequest(&'static str),
    /// 500 with Retry-After: an older or repeated CSeq for the same Call-ID (RFC 3261 §10.3 step 7).
    OutOfOrder,
}

/// A change to the bindings, for the store and the event stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// New binding, or one whose contact, source, Call-ID or instance changed.
    Bound(Registration),
    /// The same binding renewed (only the lifetime and CSeq moved): the store may batch these.
    Refreshed(Registration),
    /// Removed by the phone, replaced, or expired.
    Removed(Registration),
    /// Its `unreachable` flag changed (keep-alives, a closed connection, or a new REGISTER).
    Reachability(Registration),
}

/// What NAT detection looks at: the address a request came from and what the phone wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatInput<'a> {
    /// Source address of the REGISTER.
    pub source: std::net::SocketAddr,
    /// Over UDP the source port must be the port the phone wrote; over TCP/TLS the source
    /// port is an ephemeral one and is not compared.
    pub udp: bool,
    /// Host and port of the top Via's sent-by, as written.
    pub via: Option<(&'a str, Option<u16>)>,
    /// Host and port of each Contact URI, as written.
    pub contacts: Vec<(&'a str, Option<u16>)>,
    /// The port a URI or sent-by without one means (5060, 5061 for TLS).
    pub default_port: u16,
}

/// Is the phone behind NAT? Yes when the top Via's sent-by or a Contact names an IP address
/// other than the source address, or (UDP) another port. A host name proves nothing either
/// way and is not counted. Requests go to the source address in any case; this decides the
/// keep-alives and what `pbxctl registrations` shows.
pub fn behind_nat(input: &NatInput<'_>) -> bool {
    let src = input.source.ip().to_canonical();
    let differs = |(host, port): (&str, Option<u16>)| {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match host.parse::<std::net::IpAddr>() {
            Ok(ip) => {
                ip.to_canonical() != src
                    || (input.udp && port.unwrap_or(input.default_port) != input.source.port())
            }
            Err(_) => false,
        }
    };
    input.via.is_some_and(differs) || input.contacts.iter().copied().any(differs)
}

/// The registrar.
#[derive(Debug, Default)]
pub struct Registrar {
    cfg: RegistrarConfig,
    /// (tenant, extension) → bindings in order of registration.
    bindings: HashMap<(String, String), Vec<Registration>>,
    /// Expiry index: (expires_ms, tenant, extension, contact).
    expiry: BTreeMap<(u64, String, String, String), ()>,
    changes: VecDeque<Change>,
}

impl Registrar {
    /// An empty registrar.
    pub fn new(cfg: RegistrarConfig) -> Registrar {
        Registrar {
            cfg,
            ..Registrar::default()
        }
    }

    /// Loads bindings kept in the store (after a restart); expired ones are dropped and reported.
    pub fn restore(&mut self, regs: Vec<Registration>, now_ms: u64) {
        for r in regs {
            if r.expired(now_ms) {
                self.changes.push_back(Change::Removed(r));
            } else {
                self.insert(r);
            }
        }
    }

    fn insert(&mut self, r: Registration) {
        self.expiry.insert(
            (
                r.expires_ms,
                r.tenant.clone(),
                r.extension.clone(),
                r.contact.clone(),
            ),
            (),
        );
        self.bindings
            .entry((r.tenant.clone(), r.extension.clone()))
            .or_default()
            .push(r);
    }

    fn remove_at(&mut self, key: &(String, String), idx: usize) -> Option<Registration> {
        let list = self.bindings.get_mut(key)?;
        if idx >= list.len() {
            return None;
        }
        let r = list.remove(idx);
        self.expiry.remove(&(
            r.expires_ms,
            r.tenant.clone(),
            r.extension.clone(),
            r.contact.clone(),
        ));
        if list.is_empty() {
            self.bindings.remove(key);
        }
        Some(r)
    }

    /// The current bindings of an extension (for ringing its phones).
    pub fn bindings(&self, tenant: &str, extension: &str) -> &[Registration] {
        self.bindings
            .get(&(tenant.to_string(), extension.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Every binding.
    pub fn all(&self) -> impl Iterator<Item = &Registration> {
        self.bindings.values().flatten()
    }

    /// Number of bindings.
    pub fn len(&self) -> usize {
        self.expiry.len()
    }

    /// No bindings at all?
    pub fn is_empty(&self) -> bool {
        self.expiry.is_empty()
    }

    /// When the next binding expires.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.expiry.keys().next().map(|k| k.0)
    }

    /// Removes the bindings that expired at `now_ms`.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        while let Some(((at, t, e, c), ())) = self.expiry.first_key_value() {
            if *at > now_ms {
                break;
            }
            let key = (t.clone(), e.clone());
            let contact = c.clone();
            let idx = self
                .bindings
                .get(&key)
                .and_then(|l| l.iter().position(|r| r.contact == contact));
            match idx.and_then(|i| self.remove_at(&key, i)) {
                Some(r) => self.changes.push_back(Change::Removed(r)),
                None => {
                    // An index entry without a binding cannot happen; drop it so the loop ends.
                    self.expiry.pop_first();
                }
            }
        }
    }

    /// Marks a binding (un)reachable; a change is reported. Unknown bindings are ignored.
    pub fn set_unreachable(
        &mut self,
        tenant: &str,
        extension: &str,
        contact: &str,
        unreachable: bool,
    ) {
        let key = (tenant.to_string(), extension.to_string());
        let Some(r) = self
            .bindings
            .get_mut(&key)
            .and_then(|l| l.iter_mut().find(|r| r.contact == contact))
        else {
            return;
        };
        if r.unreachable != unreachable {
            r.unreachable = unreachable;
            self.changes.push_back(Change::Reachability(r.clone()));
        }
    }

    /// The next change for the store and the event stream.
    pub fn poll_change(&mut self) -> Option<Change> {
        self.changes.pop_front()
    }

    /// Handles a REGISTER that passed authentication.
    pub fn handle_register(&mut self, req: RegisterInput, now_ms: u64) -> Outcome {
        let key = (req.tenant.clone(), req.extension.clone());
        let specs = match &req.contacts {
            Contacts::Query => return self.ok(&key, now_ms),
            Contacts::Star => {
                if req.expires_header != Some(0) {
                    return Outcome::BadRequest("Contact * requires Expires: 0");
                }
                while let Some(r) = self.remove_at(&key, 0) {
                    self.changes.push_back(Change::Removed(r));
                }
                return self.ok(&key, now_ms);
            }
            Contacts::List(l) => l.clone(),
        };
        // Lifetimes first: one too brief refuses the whole request (§10.3 step 6).
        let mut wanted = Vec::with_capacity(specs.len());
        for s in &specs {
            let e = s
                .expires
                .or(req.expires_header)
                .unwrap_or(self.cfg.default_expires);
            if e != 0 && e < self.cfg.min_expires {
                return Outcome::IntervalTooBrief {
                    min_expires: self.cfg.min_expires,
                };
            }
            wanted.push((s, e.min(self.cfg.max_expires)));
        }
        // Ordering (§10.3 step 7): the same Call-ID must bring a higher CSeq.
        for (s, _) in &wanted {
            if let Some(existing) = self
                .bindings(&req.tenant, &req.extension)
                .iter()
                .find(|r| r.contact == s.uri)
            {
                if existing.call_id == req.call_id && req.cseq <= existing.cseq {
                    return Outcome::OutOfOrder;
                }
            }
        }
        for (s, expires) in wanted {
            let list = self.bindings.get(&key).cloned().unwrap_or_default();
            // The same contact, or the same phone (+sip.instance) at a new address, is replaced.
            let same = list.iter().position(|r| {
                r.contact == s.uri || (s.instance.is_some() && r.instance == s.instance)
            });
            let old = same.and_then(|i| self.remove_at(&key, i));
            if expires == 0 {
                if let Some(r) = old {
                    self.changes.push_back(Change::Removed(r));
                }
                continue;
            }
            if old.is_none()
                && self.bindings(&req.tenant, &req.extension).len()
                    >= usize::from(req.max_registrations.max(1))
            {
                // At the maximum: the binding that would expire first makes room, so a phone that
                // rebooted with a new Call-ID is not locked out by its own stale binding.
                let soonest = self
                    .bindings(&req.tenant, &req.extension)
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, r)| r.expires_ms)
                    .map(|(i, _)| i);
                if let Some(r) = soonest.and_then(|i| self.remove_at(&key, i)) {
                    self.changes.push_back(Change::Removed(r));
                }
            }
            let reg = Registration {
                tenant: req.tenant.clone(),
                extension: req.extension.clone(),
                contact: s.uri.clone(),
                instance: s.instance.clone(),
                source: req.source.clone(),
                user_agent: req.user_agent.clone(),
                call_id: req.call_id.clone(),
                cseq: req.cseq,
                registered_ms: old.as_ref().map(|o| o.registered_ms).unwrap_or(now_ms),
                expires_ms: now_ms.saturating_add(u64::from(expires) * 1000),
                nat: req.nat,
                // The phone just reached us, and a NAT binding is open again.
                unreachable: false,
            };
            self.insert(reg.clone());
            let refresh = old.as_ref().is_some_and(|o| {
                o.contact == reg.contact
                    && o.source == reg.source
                    && o.call_id == reg.call_id
                    && o.instance == reg.instance
                    && o.nat == reg.nat
            });
            let was_unreachable = old.as_ref().is_some_and(|o| o.unreachable);
            self.changes.push_back(if refresh {
                Change::Refreshed(reg.clone())
            } else {
                Change::Bound(reg.clone())
            });
            if refresh && was_unreachable {
                self.changes.push_back(Change::Reachability(reg));
            }
        }
        self.ok(&key, now_ms)
    }

    fn ok(&self, key: &(String, String), now_ms: u64) -> Outcome {
        let bindings = self
            .bindings
            .get(key)
            .map(|l| {
                l.iter()
                    .map(|r| {
                        (
                            r.clone(),
                            u32::try_from(r.expires_ms.saturating_sub(now_ms).div_ceil(1000))
                                .unwrap_or(u32::MAX),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Outcome::Ok { bindings }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(contacts: Contacts, call_id: &str, cseq: u32, expires: Option<u32>) -> RegisterInput {
        RegisterInput {
            tenant: "acme".into(),
            extension: "1001".into(),
            max_registrations: 2,
            call_id: call_id.into(),
            cseq,
            source: "udp:127.0.0.1:5070".into(),
            nat: false,
            user_agent: None,
            contacts,
            expires_header: expires,
        }
    }

    fn one(uri: &str, expires: Option<u32>) -> Contacts {
        Contacts::List(vec![ContactSpec {
            uri: uri.into(),
            expires,
            instance: None,
        }])
    }

    fn bound(o: &Outcome) -> Vec<(String, u32)> {
        match o {
            Outcome::Ok { bindings } => bindings
                .iter()
                .map(|(r, s)| (r.contact.clone(), *s))
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn register_refresh_expire() {
        let mut r = Registrar::new(RegistrarConfig::default());
        let o = r.handle_register(input(one("sip:a@1.2.3.4", None), "c1", 1, Some(600)), 0);
        assert_eq!(bound(&o), vec![("sip:a@1.2.3.4".to_string(), 600)]);
        assert!(matches!(r.poll_change(), Some(Change::Bound(_))));
        assert_eq!(r.poll_timeout(), Some(600_000));
        // Refresh at 300 s with a higher CSeq: expires moves, registered_ms stays.
        let o = r.handle_register(
            input(one("sip:a@1.2.3.4", Some(120)), "c1", 2, Some(600)),
            300_000,
        );
        assert_eq!(bound(&o), vec![("sip:a@1.2.3.4".to_string(), 120)]);
        assert!(matches!(r.poll_change(), Some(Change::Refreshed(x)) if x.expires_ms == 420_000));
        assert_eq!(r.bindings("acme", "1001")[0].registered_ms, 0);
        assert_eq!(r.poll_timeout(), Some(420_000));
        r.handle_timeout(419_999);
        assert_eq!(r.len(), 1);
        assert_eq!(r.poll_change(), None);
        r.handle_timeout(420_000);
        assert!(r.is_empty());
        assert!(matches!(r.poll_change(), Some(Change::Removed(_))));
    }

    #[test]
    fn lifetimes_are_clamped_or_refused() {
        let mut r = Registrar::new(RegistrarConfig::default());
        assert_eq!(
            r.handle_register(input(one("sip:a@h", Some(30)), "c", 1, None), 0),
            Outcome::IntervalTooBrief { min_expires: 60 }
        );
        assert!(r.is_empty());
        let o = r.handle_register(input(one("sip:a@h", None), "c", 2, Some(86_400)), 0);
        assert_eq!(bound(&o), vec![("sip:a@h".to_string(), 3600)]);
        let o = r.handle_register(input(one("sip:b@h", None), "c2", 1, None), 0);
        assert_eq!(bound(&o).len(), 2);
    }

    #[test]
    fn unregister_and_star() {
        let mut r = Registrar::new(RegistrarConfig::default());
        r.handle_register(input(one("sip:a@h", None), "c", 1, Some(600)), 0);
        r.handle_register(input(one("sip:b@h", None), "d", 1, Some(600)), 0);
        let o = r.handle_register(input(one("sip:a@h", Some(0)), "c", 2, None), 1000);
        assert_eq!(bound(&o), vec![("sip:b@h".to_string(), 599)]);
        assert_eq!(
            r.handle_register(input(Contacts::Star, "d", 2, Some(600)), 2000),
            Outcome::BadRequest("Contact * requires Expires: 0")
        );
        let o = r.handle_register(input(Contacts::Star, "d", 3, Some(0)), 2000);
        assert!(bound(&o).is_empty());
        assert!(r.is_empty());
        // A query changes nothing.
        assert!(bound(&r.handle_register(input(Contacts::Query, "q", 1, None), 3000)).is_empty());
    }

    #[test]
    fn out_of_order_cseq_is_refused() {
        let mut r = Registrar::new(RegistrarConfig::default());
        r.handle_register(input(one("sip:a@h", None), "c", 5, Some(600)), 0);
        assert_eq!(
            r.handle_register(input(one("sip:a@h", None), "c", 5, Some(600)), 10),
            Outcome::OutOfOrder
        );
        assert_eq!(
            r.handle_register(input(one("sip:a@h", None), "c", 4, Some(600)), 10),
            Outcome::OutOfOrder
        );
        // Another Call-ID (a rebooted phone) replaces the binding whatever its CSeq.
        assert_eq!(
            bound(&r.handle_register(input(one("sip:a@h", None), "other", 1, Some(600)), 10)).len(),
            1
        );
    }

    #[test]
    fn the_maximum_makes_room_by_dropping_the_binding_expiring_first() {
        let mut r = Registrar::new(RegistrarConfig::default());
        r.handle_register(input(one("sip:a@h", None), "a", 1, Some(3600)), 0);
        r.handle_register(input(one("sip:b@h", None), "b", 1, Some(600)), 0);
        let o = r.handle_register(input(one("sip:c@h", None), "c", 1, Some(600)), 1000);
        let mut contacts: Vec<String> = bound(&o).into_iter().map(|(c, _)| c).collect();
        contacts.sort();
        assert_eq!(contacts, ["sip:a@h", "sip:c@h"]);
        // The same phone (instance) at a new address replaces its own binding.
        let mut r = Registrar::new(RegistrarConfig::default());
        let inst = |uri: &str| {
            Contacts::List(vec![ContactSpec {
                uri: uri.into(),
                expires: None,
                instance: Some("<urn:uuid:1>".into()),
            }])
        };
        r.handle_register(input(inst("sip:a@10.0.0.1"), "a", 1, Some(600)), 0);
        let o = r.handle_register(input(inst("sip:a@10.0.0.2"), "b", 1, Some(600)), 0);
        assert_eq!(bound(&o), vec![("sip:a@10.0.0.2".to_string(), 600)]);
    }

    #[test]
    fn nat_is_detected_from_via_and_contact() {
        let src: std::net::SocketAddr =
            "192.0.2.7:40000".parse().unwrap_or_else(|_| unreachable!());
        let nat =
            |udp: bool, via: Option<(&str, Option<u16>)>, contacts: Vec<(&str, Option<u16>)>| {
                behind_nat(&NatInput {
                    source: src,
                    udp,
                    via,
                    contacts,
                    default_port: 5060,
                })
            };
        // Everything names the source: a phone on the open internet or the same LAN.
        assert!(!nat(
            true,
            Some(("192.0.2.7", Some(40000))),
            vec![("192.0.2.7", Some(40000))]
        ));
        // A private Contact or Via behind a NAT router.
        assert!(nat(
            true,
            Some(("192.0.2.7", Some(40000))),
            vec![("10.0.0.1", Some(5060))]
        ));
        assert!(nat(true, Some(("10.0.0.1", Some(5060))), vec![]));
        // Same address, other port over UDP: a port-translating NAT.
        assert!(nat(true, Some(("192.0.2.7", None)), vec![]));
        assert!(nat(true, None, vec![("192.0.2.7", Some(5060))]));
        // Over TCP the source port is ephemeral: only the address counts.
        assert!(!nat(
            false,
            Some(("192.0.2.7", Some(5060))),
            vec![("192.0.2.7", None)]
        ));
        assert!(nat(
            false,
            Some(("192.0.2.7", Some(5060))),
            vec![("[2001:db8::1]", None)]
        ));
        // Host names prove nothing.
        assert!(!nat(
            true,
            Some(("phone.example", None)),
            vec![("phone.example", None)]
        ));
        // An IPv4-mapped source is the IPv4 address.
        let mapped: std::net::SocketAddr = "[::ffff:192.0.2.7]:5060"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        assert!(!behind_nat(&NatInput {
            source: mapped,
            udp: true,
            via: Some(("192.0.2.7", None)),
            contacts: vec![("192.0.2.7", Some(5060))],
            default_port: 5060,
        }));
    }

    #[test]
    fn reachability_is_reported_and_reset_by_a_new_register() {
        let mut r = Registrar::new(RegistrarConfig::default());
        let mut nat_input = input(one("sip:a@10.0.0.1", None), "c", 1, Some(600));
        nat_input.nat = true;
        r.handle_register(nat_input.clone(), 0);
        assert!(matches!(r.poll_change(), Some(Change::Bound(x)) if x.nat && !x.unreachable));
        r.set_unreachable("acme", "1001", "sip:a@10.0.0.1", true);
        assert!(matches!(r.poll_change(), Some(Change::Reachability(x)) if x.unreachable));
        // No change, no report; unknown bindings are ignored.
        r.set_unreachable("acme", "1001", "sip:a@10.0.0.1", true);
        r.set_unreachable("acme", "1001", "sip:other@h", false);
        assert_eq!(r.poll_change(), None);
        assert!(r.bindings("acme", "1001")[0].unreachable);
        // A refresh proves the phone is there again.
        nat_input.cseq = 2;
        r.handle_register(nat_input, 1000);
        assert!(matches!(r.poll_change(), Some(Change::Refreshed(_))));
        assert!(matches!(r.poll_change(), Some(Change::Reachability(x)) if !x.unreachable));
        assert!(!r.bindings("acme", "1001")[0].unreachable);
    }

    #[test]
    fn restore_drops_expired() {
        let mut r = Registrar::new(RegistrarConfig::default());
        let mk = |c: &str, exp: u64| Registration {
            tenant: "acme".into(),
            extension: "1001".into(),
            contact: c.into(),
            instance: None,
            source: "udp:h".into(),
            user_agent: None,
            call_id: "x".into(),
            cseq: 1,
            registered_ms: 0,
            expires_ms: exp,
            nat: false,
            unreachable: false,
        };
        r.restore(vec![mk("sip:old@h", 500), mk("sip:new@h", 5_000)], 1_000);
        assert_eq!(r.len(), 1);
        assert!(matches!(r.poll_change(), Some(Change::Removed(x)) if x.contact == "sip:old@h"));
    }
}

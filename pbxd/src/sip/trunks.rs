//! pbxd registering to SIP providers (trunks) and pinging them with OPTIONS, driven by
//! `pbx_engine::trunkreg`. The core decides; this glue reads the trunks from the store, builds
//! and sends the requests through the transaction layer, answers digest challenges
//! (`pbx_sip::auth` client side) and publishes the state for the control API
//! (`GET /v1/trunk-status`) and the event stream.
//!
//! * The trunks are read again from the store every second (a change through the API, an
//!   import or a reload shows within a second); a changed trunk registers anew.
//! * UDP and TCP trunks register, are pinged and carry calls (pbxd opens the TCP connection to
//!   the provider itself, see `connect_out` in `sip.rs`); TLS and WebSocket trunks show
//!   `mislukt` with reason `transport_niet_ondersteund`.
//! * The secret is unsealed in memory only; it never reaches a log line, an event or the API.
//!   REGISTER and OPTIONS are not traced (see `Service::trace`).
//! * When pbxd stops, every trunk with a binding gets an un-REGISTER (best effort: sent, not
//!   waited for, not re-sent with credentials).

use super::{unix_ms, Service};
use pbx_api::{Event, TrunkChange, TrunkStatus};
use pbx_engine::trunkreg::{
    Action, ChallengeInfo, Change, RegResponse, Spec, State, TrunkReg, TrunkRegConfig,
};
use pbx_model::Transport;
use pbx_sip::auth::{self, Challenge};
use pbx_sip::msg::{self, SipMessage};
use pbx_sip::transaction::{TransportKind, TuEvent, TxKey};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A trunk: (organisation, name).
pub(crate) type TrunkKey = (String, String);

/// How often the trunks are read from the store.
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// How often a host name that did not resolve is looked up again.
const RESOLVE_AGAIN: Duration = Duration::from_secs(30);

/// The trunk status as the control API reads it.
pub(crate) type Shared = Arc<Mutex<Vec<TrunkStatus>>>;

/// A secret in memory; never printed.
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<geheim>")
    }
}

#[derive(Debug)]
struct Info {
    host: String,
    port: u16,
    username: String,
    secret: Option<Secret>,
    max_channels: u32,
    enabled: bool,
    /// Why the trunk cannot register at all (not in the core's registration).
    problem: Option<&'static str>,
    dest: Option<SocketAddr>,
    /// When `dest` was looked up.
    resolved_at: Instant,
    fingerprint: u64,
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// The last challenge, from a 407 (`true`) or a 401.
    challenge: Option<(Challenge, bool)>,
    nc: u32,
    /// Addresses inbound calls are accepted from (besides the provider's own address).
    allow: Vec<pbx_model::IpNet>,
    /// Calls on the trunk now (in and out).
    active: u32,
    /// The codecs the trunk may carry.
    codecs: Vec<pbx_model::Codec>,
    /// UDP or TCP.
    transport: TransportKind,
}

/// The transport pbxd speaks to a trunk with; `None` for those it cannot use yet (TLS, WS).
fn trunk_transport(t: Transport) -> Option<TransportKind> {
    match t {
        Transport::Udp => Some(TransportKind::Udp),
        Transport::Tcp => Some(TransportKind::Tcp),
        Transport::Tls | Transport::Ws | Transport::Wss => None,
    }
}

/// `;transport=tcp` for URIs of TCP trunks.
fn uri_param(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Tcp => ";transport=tcp",
        _ => "",
    }
}

/// What a call needs to go out over a trunk.
pub(crate) struct TrunkDial {
    pub(crate) dest: SocketAddr,
    /// `host` or `host:port` for Request-URIs.
    pub(crate) host: String,
    pub(crate) username: String,
    pub(crate) codecs: Vec<pbx_model::Codec>,
    pub(crate) transport: TransportKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Register,
    Ping,
}

/// The trunk state of the SIP service.
pub(crate) struct Glue {
    core: TrunkReg<TrunkKey>,
    info: HashMap<TrunkKey, Info>,
    by_tx: HashMap<TxKey, (TrunkKey, Kind)>,
    /// The transaction whose answer counts, per trunk and kind.
    current: HashMap<(TrunkKey, Kind), TxKey>,
    last_sync: Option<Instant>,
    dirty: bool,
    pub(crate) shared: Shared,
}

impl Default for Glue {
    fn default() -> Glue {
        Glue {
            core: TrunkReg::new(TrunkRegConfig {
                seed: rand::random(),
                ..TrunkRegConfig::default()
            }),
            info: HashMap::new(),
            by_tx: HashMap::new(),
            current: HashMap::new(),
            last_sync: None,
            dirty: true,
            shared: Arc::default(),
        }
    }
}

fn hash_of(t: &pbx_model::Trunk, secret: Option<&str>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.host.hash(&mut h);
    t.port.hash(&mut h);
    t.transport.as_str().hash(&mut h);
    if let Some(a) = &t.auth {
        a.register.hash(&mut h);
        a.username.hash(&mut h);
        a.expires.hash(&mut h);
    }
    secret.hash(&mut h);
    h.finish()
}

/// `sip:host` or `sip:host:port` (IPv6 in brackets).
fn host_uri(host: &str, port: u16) -> String {
    let h = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    if port == 5060 {
        format!("sip:{h}")
    } else {
        format!("sip:{h}:{port}")
    }
}

/// Header values of a message by (case-insensitive) name, from its text.
fn header_values(text: &str, name: &str) -> Vec<String> {
    text.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

fn change_of(entry: &pbx_engine::trunkreg::HistoryEntry) -> TrunkChange {
    let (change, reason, code) = match entry.change {
        Change::State(s) => match s {
            State::Mislukt { reason, code, .. } => (
                s.as_str().to_string(),
                Some(reason.as_str().to_string()),
                code,
            ),
            _ => (s.as_str().to_string(), None, None),
        },
        Change::Up => ("up".to_string(), None, None),
        Change::Down => ("down".to_string(), None, None),
    };
    TrunkChange {
        at_ms: entry.at_ms,
        change,
        reason,
        code,
    }
}

impl Service {
    /// Reads the trunks from the store (every second) and drives the core's timers.
    pub(crate) async fn trunk_timers(&mut self, now: Instant) {
        if self
            .trunks
            .last_sync
            .is_none_or(|t| now.duration_since(t) >= SYNC_EVERY)
        {
            self.trunks.last_sync = Some(now);
            self.trunk_sync().await;
        }
        let ms = unix_ms();
        if self.trunks.core.poll_timeout().is_some_and(|t| t <= ms) {
            self.trunks.core.handle_timeout(ms);
        }
        self.trunk_actions(now);
        self.trunk_publish();
    }

    async fn trunk_sync(&mut self) {
        let tenants = match self.app.store.tenants() {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e.msg(), "trunks niet te lezen");
                return;
            }
        };
        let mut seen = std::collections::HashSet::new();
        let ms = unix_ms();
        for tenant in tenants {
            let trunks = match self.app.store.trunks(&tenant.slug) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(tenant = %tenant.slug, error = %e.msg(), "trunks niet te lezen");
                    continue;
                }
            };
            for t in trunks {
                let key = (t.tenant.clone(), t.name.clone());
                seen.insert(key.clone());
                let secret = t
                    .auth
                    .as_ref()
                    .and_then(|a| a.secret.as_ref())
                    .and_then(|s| self.app.store.open_secret(s).ok());
                let fingerprint = hash_of(&t, secret.as_deref());
                let known = self
                    .trunks
                    .info
                    .get(&key)
                    .map(|i| (i.fingerprint, i.enabled, i.max_channels));
                let unresolved = self.trunks.info.get(&key).is_some_and(|i| {
                    i.enabled
                        && i.problem.is_none()
                        && i.dest.is_none()
                        && i.resolved_at.elapsed() >= RESOLVE_AGAIN
                });
                if let Some(i) = self.trunks.info.get_mut(&key) {
                    i.allow = t.allow.clone();
                    i.codecs = t.codecs.clone();
                }
                if known == Some((fingerprint, t.enabled, t.max_channels)) && !unresolved {
                    continue;
                }
                let wants_register = t.auth.as_ref().is_some_and(|a| a.register);
                let kind = trunk_transport(t.transport);
                let problem = if kind.is_none() {
                    Some("transport_niet_ondersteund")
                } else if wants_register && secret.is_none() {
                    Some("geen_geheim")
                } else {
                    None
                };
                let dest = if kind.is_some() {
                    resolve(&t.host, t.port).await
                } else {
                    None
                };
                let old = self.trunks.info.remove(&key);
                let info = Info {
                    host: t.host.clone(),
                    port: t.port,
                    username: t
                        .auth
                        .as_ref()
                        .map(|a| a.username.clone())
                        .unwrap_or_default(),
                    secret: secret.map(Secret),
                    max_channels: t.max_channels,
                    enabled: t.enabled,
                    problem,
                    dest,
                    resolved_at: Instant::now(),
                    fingerprint,
                    call_id: old
                        .as_ref()
                        .filter(|o| o.fingerprint == fingerprint)
                        .map(|o| o.call_id.clone())
                        .unwrap_or_else(|| format!("{:024x}@pbxd", rand::random::<u128>() >> 32)),
                    from_tag: format!("{:012x}", rand::random::<u64>() >> 16),
                    cseq: old.as_ref().map(|o| o.cseq).unwrap_or(0),
                    challenge: None,
                    nc: 0,
                    allow: t.allow.clone(),
                    active: old.as_ref().map(|o| o.active).unwrap_or(0),
                    codecs: t.codecs.clone(),
                    transport: kind.unwrap_or(TransportKind::Udp),
                };
                if dest.is_none() && problem.is_none() {
                    tracing::warn!(tenant = %key.0, trunk = %key.1, "trunk: adres van de provider niet te vinden");
                }
                let in_core = kind.is_some();
                self.trunks.info.insert(key.clone(), info);
                if in_core {
                    let spec = Spec {
                        enabled: t.enabled && dest.is_some(),
                        register: wants_register && problem.is_none(),
                        expires: t.auth.as_ref().map(|a| a.expires).unwrap_or(600),
                        fingerprint,
                    };
                    self.trunks.core.set(key, spec, ms);
                } else {
                    self.trunks.core.remove(&key);
                }
                self.trunks.dirty = true;
            }
        }
        let gone: Vec<TrunkKey> = self
            .trunks
            .info
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            tracing::info!(tenant = %key.0, trunk = %key.1, "trunk verwijderd");
            self.trunks.core.remove(&key);
            // The info stays until the un-REGISTER is sent; it is dropped in `trunk_actions`.
            if let Some(i) = self.trunks.info.get_mut(&key) {
                i.enabled = false;
                i.fingerprint = 0;
            }
            self.trunks.dirty = true;
        }
    }

    fn trunk_actions(&mut self, now: Instant) {
        while let Some(action) = self.trunks.core.poll_action() {
            self.trunks.dirty = true;
            match action {
                Action::Register { key, expires, auth } => {
                    if !self.trunk_register(&key, expires, auth, now) {
                        self.trunks.core.register_failed(&key, true, unix_ms());
                    }
                }
                Action::Unregister { key, auth } => {
                    if !self.trunk_register(&key, 0, auth, now) {
                        self.trunks.core.register_failed(&key, true, unix_ms());
                    }
                }
                Action::Ping(key) => {
                    if !self.trunk_ping(&key, now) {
                        self.trunks.core.ping_failed(&key, true, unix_ms());
                    }
                }
                Action::AbandonPing(key) => {
                    if let Some(tx) = self.trunks.current.remove(&(key, Kind::Ping)) {
                        self.trunks.by_tx.remove(&tx);
                        self.tx.abort(tx);
                    }
                }
                Action::Changed { key, entry } => {
                    let change = change_of(&entry);
                    match entry.change {
                        Change::State(State::Mislukt { retry_ms, .. }) => tracing::warn!(
                            tenant = %key.0, trunk = %key.1,
                            reason = change.reason.as_deref().unwrap_or(""),
                            code = change.code.unwrap_or(0),
                            retry_in_s = retry_ms.saturating_sub(entry.at_ms) / 1000,
                            "trunk: registratie mislukt"
                        ),
                        Change::State(State::Geregistreerd { until_ms }) => tracing::info!(
                            tenant = %key.0, trunk = %key.1,
                            expires_s = until_ms.saturating_sub(entry.at_ms) / 1000,
                            "trunk geregistreerd"
                        ),
                        Change::State(s) => tracing::info!(
                            tenant = %key.0, trunk = %key.1, state = s.as_str(), "trunk: nieuwe toestand"
                        ),
                        Change::Up => {
                            tracing::info!(tenant = %key.0, trunk = %key.1, "trunk bereikbaar (OPTIONS beantwoord)")
                        }
                        Change::Down => {
                            tracing::warn!(tenant = %key.0, trunk = %key.1, "trunk onbereikbaar (OPTIONS onbeantwoord)")
                        }
                    }
                    // Down or failing registration: 1; up or registered: 0.
                    let down = match entry.change {
                        Change::Down | Change::State(State::Mislukt { .. }) => Some(1.0),
                        Change::Up | Change::State(State::Geregistreerd { .. }) => Some(0.0),
                        _ => None,
                    };
                    if let Some(v) = down {
                        self.alarm(
                            pbx_engine::alarms::Metric::TrunkDown,
                            &format!("{}/{}", key.0, key.1),
                            Some(&key.0),
                            v,
                        );
                    }
                    let _ = self.app.events.send(Event::Trunk {
                        tenant: key.0,
                        name: key.1,
                        change,
                    });
                }
            }
        }
        // Removed trunks whose un-REGISTER is done (or was never needed) are forgotten.
        let keys: std::collections::HashSet<TrunkKey> = self.trunks.core.keys().cloned().collect();
        let current = &self.trunks.current;
        self.trunks.info.retain(|k, i| {
            i.fingerprint != 0
                || keys.contains(k)
                || current.contains_key(&(k.clone(), Kind::Register))
        });
    }

    /// Sends a REGISTER (expires 0: un-REGISTER). `false` when it could not be sent.
    fn trunk_register(&mut self, key: &TrunkKey, expires: u32, auth: bool, now: Instant) -> bool {
        let Some(info) = self.trunks.info.get(key) else {
            return false;
        };
        let Some(dest) = info.dest else {
            return false;
        };
        let transport = info.transport;
        let own = self.own_addr_over(dest, transport);
        let Some(info) = self.trunks.info.get_mut(key) else {
            return false;
        };
        info.cseq = info.cseq.wrapping_add(1).max(1);
        let uri = format!(
            "{}{}",
            host_uri(&info.host, info.port),
            uri_param(transport)
        );
        let aor = format!("sip:{}@{}", info.username, uri.trim_start_matches("sip:"));
        let mut authorization = String::new();
        if auth {
            if let (Some((ch, proxy)), Some(secret)) = (&info.challenge, &info.secret) {
                info.nc = info.nc.wrapping_add(1).max(1);
                let cnonce = format!("{:016x}", rand::random::<u64>());
                let creds = auth::answer_challenge(
                    ch,
                    "REGISTER",
                    &uri,
                    &info.username,
                    &secret.0,
                    &cnonce,
                    info.nc,
                );
                let name = if *proxy {
                    "Proxy-Authorization"
                } else {
                    "Authorization"
                };
                authorization = format!("{name}: {}\r\n", creds.to_header_value());
            }
        }
        let text = format!(
            "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/{} {own};branch=z9hG4bK{:016x};rport\r\nMax-Forwards: 70\r\nFrom: <{aor}>;tag={}\r\nTo: <{aor}>\r\nCall-ID: {}\r\nCSeq: {} REGISTER\r\nContact: <sip:{}@{own}{}>\r\nExpires: {expires}\r\n{authorization}User-Agent: pbxd\r\nContent-Length: 0\r\n\r\n",
            super::transport_name(transport).to_ascii_uppercase(),
            rand::random::<u64>(),
            info.from_tag,
            info.call_id,
            info.cseq,
            info.username,
            uri_param(transport),
        );
        let req = match msg::parse(text.as_bytes(), &msg::Limits::default()).map(|p| p.message) {
            Ok(SipMessage::Request(r)) => r,
            _ => {
                tracing::warn!(tenant = %key.0, trunk = %key.1, "trunk: REGISTER niet te maken (gebruikersnaam of host ongeldig)");
                return false;
            }
        };
        match self.tx.send_request(req, dest, transport, now) {
            Ok(tx) => {
                if let Some(old) = self
                    .trunks
                    .current
                    .insert((key.clone(), Kind::Register), tx)
                {
                    self.trunks.by_tx.remove(&old);
                    self.tx.abort(old);
                }
                self.trunks.by_tx.insert(tx, (key.clone(), Kind::Register));
                true
            }
            Err(e) => {
                tracing::debug!(error = ?e, "trunk: REGISTER niet verstuurd");
                false
            }
        }
    }

    fn trunk_ping(&mut self, key: &TrunkKey, now: Instant) -> bool {
        let Some((dest, uri, transport)) = self.trunks.info.get(key).and_then(|i| {
            let uri = format!("{}{}", host_uri(&i.host, i.port), uri_param(i.transport));
            Some((i.dest?, uri, i.transport))
        }) else {
            return false;
        };
        let Some(req) = self.options_request_over(&uri, dest, transport) else {
            return false;
        };
        match self.tx.send_request(req, dest, transport, now) {
            Ok(tx) => {
                if let Some(old) = self.trunks.current.insert((key.clone(), Kind::Ping), tx) {
                    self.trunks.by_tx.remove(&old);
                    self.tx.abort(old);
                }
                self.trunks.by_tx.insert(tx, (key.clone(), Kind::Ping));
                true
            }
            Err(_) => false,
        }
    }

    /// Takes the transaction events of trunk REGISTERs and OPTIONS; gives back every other.
    pub(crate) fn trunk_event(&mut self, ev: TuEvent, now: Instant) -> Option<TuEvent> {
        let key = match &ev {
            TuEvent::Response { key, .. }
            | TuEvent::Timeout { key, .. }
            | TuEvent::TransportError { key }
            | TuEvent::Terminated { key } => *key,
            _ => return Some(ev),
        };
        let Some((trunk, kind)) = self.trunks.by_tx.get(&key).cloned() else {
            return Some(ev);
        };
        let current = self.trunks.current.get(&(trunk.clone(), kind)) == Some(&key);
        let ms = unix_ms();
        match ev {
            TuEvent::Response { response, .. } => {
                let code = response.status_code.code();
                if current && code >= 200 {
                    self.trunks.current.remove(&(trunk.clone(), kind));
                    match kind {
                        Kind::Ping => self.trunks.core.ping_answered(&trunk, ms),
                        Kind::Register => {
                            let r = self.trunk_response(&trunk, &response, code);
                            self.trunks.core.register_response(&trunk, r, ms);
                        }
                    }
                }
            }
            TuEvent::Timeout { .. } | TuEvent::TransportError { .. } => {
                let transport = matches!(ev, TuEvent::TransportError { .. });
                if current {
                    self.trunks.current.remove(&(trunk.clone(), kind));
                    match kind {
                        Kind::Ping => self.trunks.core.ping_failed(&trunk, transport, ms),
                        Kind::Register => self.trunks.core.register_failed(&trunk, transport, ms),
                    }
                }
            }
            _ => {
                self.trunks.by_tx.remove(&key);
                if current {
                    self.trunks.current.remove(&(trunk, kind));
                }
            }
        }
        self.trunks.dirty = true;
        self.trunk_actions(now);
        self.trunk_publish();
        None
    }

    /// Reads a final response to a REGISTER; keeps its challenge.
    fn trunk_response(
        &mut self,
        key: &TrunkKey,
        response: &msg::Response,
        code: u16,
    ) -> RegResponse {
        let text = SipMessage::Response(response.clone()).to_string();
        let mut r = RegResponse {
            code,
            granted: None,
            min_expires: None,
            challenge: ChallengeInfo::Unusable,
        };
        match code {
            200..=299 => {
                // The expires of our own Contact, else the Expires header.
                let own_user = self
                    .trunks
                    .info
                    .get(key)
                    .map(|i| format!("sip:{}@", i.username))
                    .unwrap_or_default();
                let contact_expires = header_values(&text, "contact")
                    .iter()
                    .chain(header_values(&text, "m").iter())
                    .flat_map(|v| msg::parse_name_addrs(v, true).unwrap_or_default())
                    .filter(|na| na.uri.starts_with(&own_user))
                    .find_map(|na| {
                        na.params
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case("expires"))
                            .and_then(|(_, v)| v.as_deref()?.trim_matches('"').parse::<u32>().ok())
                    });
                r.granted = contact_expires.or_else(|| msg::expires(response));
            }
            401 | 407 => {
                let proxy = code == 407;
                let name = if proxy {
                    "proxy-authenticate"
                } else {
                    "www-authenticate"
                };
                let values = header_values(&text, name);
                match auth::pick_challenge(values.iter().map(String::as_str)) {
                    Ok(ch) => {
                        let stale = ch.stale;
                        if let Some(i) = self.trunks.info.get_mut(key) {
                            i.challenge = Some((ch, proxy));
                            i.nc = 0;
                        }
                        r.challenge = ChallengeInfo::Usable { stale };
                    }
                    Err(e) => {
                        tracing::warn!(tenant = %key.0, trunk = %key.1, error = %e, "trunk: uitdaging van de provider niet te beantwoorden");
                    }
                }
            }
            423 => {
                r.min_expires = header_values(&text, "min-expires")
                    .first()
                    .and_then(|v| v.parse().ok());
            }
            _ => {}
        }
        r
    }

    /// Writes the status for the control API when something changed.
    fn trunk_publish(&mut self) {
        if !self.trunks.dirty {
            return;
        }
        self.trunks.dirty = false;
        let mut out: Vec<TrunkStatus> = self
            .trunks
            .info
            .iter()
            .filter(|(_, i)| i.fingerprint != 0)
            .map(|(k, i)| {
                let view = self.trunks.core.view(k);
                let state = view.as_ref().map(|v| v.state);
                let (mut state_s, mut reason, mut code, mut retry_ms, mut until) = (
                    state.map(|s| s.as_str()).unwrap_or("geen"),
                    None,
                    None,
                    None,
                    None,
                );
                match state {
                    Some(State::Mislukt {
                        reason: r,
                        code: c,
                        retry_ms: t,
                    }) => {
                        reason = Some(r.as_str().to_string());
                        code = c;
                        retry_ms = Some(t);
                    }
                    Some(State::Geregistreerd { until_ms }) => until = Some(until_ms),
                    _ => {}
                }
                if !i.enabled {
                    state_s = "uitgeschakeld";
                } else if let Some(p) = i.problem {
                    state_s = "mislukt";
                    reason = Some(p.to_string());
                } else if i.dest.is_none() {
                    state_s = "mislukt";
                    reason = Some("adres".to_string());
                }
                TrunkStatus {
                    tenant: k.0.clone(),
                    name: k.1.clone(),
                    state: state_s.to_string(),
                    reason,
                    code,
                    retry_ms,
                    registered_until_ms: until,
                    rtt_ms: view.as_ref().and_then(|v| v.rtt_ms),
                    up: view.as_ref().and_then(|v| v.up),
                    active_calls: i.active,
                    max_channels: i.max_channels,
                    history: view
                        .map(|v| v.history.iter().map(change_of).collect())
                        .unwrap_or_default(),
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.tenant, &a.name).cmp(&(&b.tenant, &b.name)));
        if let Ok(mut s) = self.trunks.shared.lock() {
            *s = out;
        }
    }

    /// The trunk an inbound request from `source` belongs to: one whose allow-list holds the
    /// address, else one whose provider address (IP and port) it is. The port counts for the
    /// latter so that a phone sharing the provider's IP (hosted phones, one NAT address) is not
    /// taken for the provider; a provider that calls from other ports is put in `allow`. A
    /// disabled trunk takes no calls.
    pub(crate) fn trunk_for_source(&self, source: SocketAddr) -> Option<TrunkKey> {
        let ip = source.ip();
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let live = |i: &&Info| i.enabled && i.fingerprint != 0;
        let mut keys: Vec<&TrunkKey> = self.trunks.info.keys().collect();
        keys.sort();
        keys.iter()
            .find(|k| {
                self.trunks
                    .info
                    .get(**k)
                    .filter(live)
                    .is_some_and(|i| i.allow.iter().any(|n| n.contains(ip)))
            })
            .or_else(|| {
                keys.iter().find(|k| {
                    self.trunks.info.get(**k).filter(live).is_some_and(|i| {
                        i.dest
                            .is_some_and(|d| d.ip() == ip && d.port() == source.port())
                    })
                })
            })
            .map(|k| (*k).clone())
    }

    /// Takes a channel of the trunk for a call: its address and names, or the status to fail
    /// the attempt with (503: disabled, no address, or every channel in use).
    pub(crate) fn trunk_take(&mut self, key: &TrunkKey) -> Result<TrunkDial, u16> {
        let Some(i) = self.trunks.info.get_mut(key) else {
            return Err(503);
        };
        let Some(dest) = i.dest.filter(|_| i.enabled && i.problem.is_none()) else {
            return Err(503);
        };
        if i.active >= i.max_channels {
            tracing::info!(tenant = %key.0, trunk = %key.1, max = i.max_channels, "trunk vol: volgende trunk");
            return Err(503);
        }
        i.active += 1;
        self.trunks.dirty = true;
        Ok(TrunkDial {
            dest,
            host: host_uri(&i.host, i.port)
                .trim_start_matches("sip:")
                .to_string(),
            username: i.username.clone(),
            codecs: i.codecs.clone(),
            transport: i.transport,
        })
    }

    /// The provider addresses of the trunks (pbxd opens TCP connections only to these).
    pub(crate) fn trunk_dests(&self) -> Vec<SocketAddr> {
        self.trunks.info.values().filter_map(|i| i.dest).collect()
    }

    /// Counts an inbound call on the trunk; false when every channel is in use.
    pub(crate) fn trunk_take_inbound(&mut self, key: &TrunkKey) -> bool {
        match self.trunks.info.get_mut(key) {
            Some(i) if i.active < i.max_channels => {
                i.active += 1;
                self.trunks.dirty = true;
                true
            }
            _ => false,
        }
    }

    /// Gives a channel back.
    pub(crate) fn trunk_release(&mut self, key: &TrunkKey) {
        if let Some(i) = self.trunks.info.get_mut(key) {
            i.active = i.active.saturating_sub(1);
            self.trunks.dirty = true;
        }
    }

    /// The `Authorization` (401) or `Proxy-Authorization` (407) header line answering a
    /// provider's challenge to `method` for `uri`; `None` without a secret or a usable challenge.
    pub(crate) fn trunk_credentials(
        &self,
        key: &TrunkKey,
        resp: &msg::Response,
        method: &str,
        uri: &str,
    ) -> Option<String> {
        let i = self.trunks.info.get(key)?;
        let secret = i.secret.as_ref()?;
        let code = resp.status_code.code();
        let (header, out) = if code == 407 {
            ("proxy-authenticate", "Proxy-Authorization")
        } else {
            ("www-authenticate", "Authorization")
        };
        let text = SipMessage::Response(resp.clone()).to_string();
        let values = header_values(&text, header);
        let ch = auth::pick_challenge(values.iter().map(String::as_str)).ok()?;
        let cnonce = format!("{:016x}", rand::random::<u64>());
        let creds = auth::answer_challenge(&ch, method, uri, &i.username, &secret.0, &cnonce, 1);
        Some(format!("{out}: {}", creds.to_header_value()))
    }

    /// pbxd stops: un-REGISTER every trunk with a binding (sent, not waited for).
    pub(crate) async fn trunk_shutdown(&mut self) {
        self.trunks.core.shutdown();
        let now = Instant::now();
        while let Some(action) = self.trunks.core.poll_action() {
            if let Action::Unregister { key, .. } = action {
                tracing::info!(tenant = %key.0, trunk = %key.1, "trunk: afmelden bij de provider");
                let _ = self.trunk_register(&key, 0, false, now);
            }
        }
        self.flush_transmits().await;
    }
}

/// The provider's address: an IP literal, else a DNS lookup of at most 2 s.
async fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    let lookup = tokio::net::lookup_host((bare.to_string(), port));
    match tokio::time::timeout(Duration::from_secs(2), lookup).await {
        Ok(Ok(mut addrs)) => addrs.next(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_headers() {
        assert_eq!(host_uri("sip.example", 5060), "sip:sip.example");
        assert_eq!(host_uri("127.0.0.1", 5070), "sip:127.0.0.1:5070");
        assert_eq!(host_uri("::1", 5070), "sip:[::1]:5070");
        let text = "SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"a\", nonce=\"1\"\r\nwww-authenticate: Digest realm=\"a\", nonce=\"2\", algorithm=SHA-256\r\n\r\nbody: x";
        assert_eq!(header_values(text, "WWW-Authenticate").len(), 2);
        assert!(header_values(text, "body").is_empty());
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret("geheim-123".into());
        assert_eq!(format!("{s:?}"), "<geheim>");
    }
}

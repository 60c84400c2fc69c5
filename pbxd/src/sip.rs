//! The SIP service of pbxd: UDP listeners feeding one task that owns the transaction layer, the
//! nonce manager, the registrar and the rate limiter (all sans-IO cores), drives their timers and
//! answers. This part: REGISTER (digest, MD5 and SHA-256) and OPTIONS; calls (INVITE, ACK, BYE,
//! CANCEL) go to the B2BUA glue in `crate::calls`.

mod keepalive;
pub(crate) mod trunks;
pub(crate) mod webrtc;
mod ws;

use crate::app::App;
use pbx_api::Event;
use pbx_engine::alarms::Metric;
use pbx_engine::registrar::{
    Change, ContactSpec, Contacts, Outcome as RegOutcome, RegisterInput, Registrar, RegistrarConfig,
};
use pbx_model::{Extension, Registration, Tenant, TenantStatus};
use pbx_sip::auth::{self, Algorithm, NonceConfig, NonceManager, Outcome as AuthOutcome};
use pbx_sip::check::{self, Policy, RateLimiter};
use pbx_sip::msg::{self, Limits, ParseError, Request, Response, SipMessage};
use pbx_sip::trace::{TraceBuffer, TraceEntry, TraceLimits, Way};
use pbx_sip::transaction::{self, TransactionLayer, TransportKind, TuEvent};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

/// What the SIP service counts, for `pbxctl status` and /metrics later.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    /// Datagrams received.
    pub received: u64,
    /// Dropped by the per-source rate limit.
    pub rate_limited: u64,
    /// Dropped as unparsable (no answer possible).
    pub discarded: u64,
    /// Answered with an error by the checks.
    pub rejected: u64,
    /// REGISTER answered 200.
    pub registered: u64,
    /// REGISTER refused after authentication (403).
    pub auth_failed: u64,
    /// Keep-alive OPTIONS sent to registered phones.
    pub keepalives: u64,
    /// Keep-alives that got no answer in time.
    pub keepalive_timeouts: u64,
    /// Calls from trunks to a number no organisation has.
    pub unknown_did: u64,
    /// Calls from addresses that are no trunk's, for a number of an organisation (refused).
    pub not_from_trunk: u64,
    /// Ended calls by (organisation, direction, afloop), for `/metrics`.
    pub calls: std::collections::BTreeMap<(String, String, String), u64>,
    /// MOS of ended calls with media: counts per bucket of [`MOS_BUCKETS`] (cumulative is made
    /// when exported), the sum and the count.
    pub mos_buckets: [u64; MOS_BUCKETS.len()],
    pub mos_sum: f64,
    pub mos_count: u64,
}

pub(crate) struct Inbound {
    bytes: Vec<u8>,
    src: SocketAddr,
    /// Index of the UDP socket (UDP only).
    socket: usize,
    transport: TransportKind,
    /// Not a message: the TCP/TLS connection from `src` closed.
    closed: bool,
}

/// Open TCP, TLS and WebSocket connections by remote address: where responses and requests to
/// that peer go (one message per send; the WebSocket writer makes it one frame).
type Conns = Arc<Mutex<std::collections::HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>;

/// Most simultaneous TCP, TLS and WebSocket connections together; more are refused at accept.
const MAX_TCP_CONNECTIONS: usize = 4096;
/// A TCP connection without any bytes for this long is closed (phones keep alive more often).
const TCP_IDLE: Duration = Duration::from_secs(600);

pub(crate) fn transport_name(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Udp => "udp",
        TransportKind::Tcp => "tcp",
        TransportKind::Tls => "tls",
        TransportKind::Ws => "ws",
        TransportKind::Wss => "wss",
    }
}
/// The first value of a header pbxd reads (long name, lower case: `from`, `to`,
/// `authorization`, `proxy-authorization`, `content-type`, `user-agent`).
pub(crate) fn header_value(req: &impl msg::HasHeaders, name: &str) -> Option<String> {
    req.headers().iter().find_map(|h| {
        let (n, v) = match h {
            msg::Header::From(f) => ("from", f.value()),
            msg::Header::To(t) => ("to", t.value()),
            msg::Header::Authorization(a) => ("authorization", a.value()),
            msg::Header::ProxyAuthorization(a) => ("proxy-authorization", a.value()),
            msg::Header::ContentType(c) => ("content-type", c.value()),
            msg::Header::UserAgent(u) => ("user-agent", u.value()),
            msg::Header::Allow(a) => ("allow", a.value()),
            _ => return None,
        };
        (n == name).then(|| v.to_string())
    })
}

/// The methods pbxd answers itself so far.
pub(crate) const ALLOW: &str = "REGISTER, OPTIONS, INVITE, ACK, BYE, CANCEL, UPDATE, INFO";

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `sip:1001@acme.example:5060;transport=udp` → (`1001`, `acme.example`).
pub(crate) fn user_host(uri: &str) -> Option<(String, String)> {
    let rest = uri.split_once(':').map(|(_, r)| r)?;
    let rest = rest.split([';', '?']).next().unwrap_or(rest);
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (u.split(':').next().unwrap_or(u).to_string(), h),
        None => (String::new(), rest),
    };
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6).to_string()
    } else {
        hostport.split(':').next().unwrap_or(hostport).to_string()
    };
    Some((user, host.to_ascii_lowercase()))
}

/// The SIP service state (one task owns it).
pub(crate) struct Service {
    pub(crate) app: Arc<App>,
    pub(crate) sockets: Vec<Arc<UdpSocket>>,
    pub(crate) tx: TransactionLayer,
    pub(crate) nonces: NonceManager,
    pub(crate) registrar: Registrar,
    pub(crate) limiter: RateLimiter,
    pub(crate) limits: Limits,
    pub(crate) policy: Policy,
    pub(crate) conns: Conns,
    /// Where messages read from connections pbxd opens itself (TCP trunks) go.
    pub(crate) in_tx: mpsc::Sender<Inbound>,
    /// The first TCP listener, for Via and Contact of requests over TCP.
    pub(crate) tcp_addr: Option<SocketAddr>,
    /// The first ws and wss listeners, for Via and Contact of requests over WebSocket.
    pub(crate) ws_addr: Option<SocketAddr>,
    pub(crate) wss_addr: Option<SocketAddr>,
    pub(crate) live: Arc<Mutex<Live>>,
    /// Bindings not yet written: written in one batch every second and when the service stops.
    pub(crate) dirty: std::collections::HashMap<(String, String, String), Registration>,
    pub(crate) last_dirty_flush: Instant,
    pub(crate) traces: Arc<Mutex<TraceBuffer>>,
    pub(crate) counters: Arc<Mutex<Counters>>,
    /// The B2BUA core and its SIP glue (`crate::calls`).
    pub(crate) calls: crate::calls::CallGlue,
    /// Keep-alives to registered phones (`keepalive`).
    pub(crate) keepalive: keepalive::Glue,
    /// Registrations to SIP providers and their keep-alives (`trunks`).
    pub(crate) trunks: trunks::Glue,
    /// The local address of each socket in `sockets`, read once at bind time.
    pub(crate) local_addrs: Vec<SocketAddr>,
    /// Organisations and extensions read from the store, for REGISTER (see [`StoreCache`]).
    cache: Mutex<StoreCache>,
}

/// At most this many extensions (including unknown numbers) are cached; beyond it the cache
/// starts again, so probing random numbers cannot grow memory.
const MAX_CACHED_EXTENSIONS: usize = 10_000;

/// Organisations and extensions as last read from the store, so a REGISTER does not decode all
/// organisations and the extension from sled every time.
///
/// Every change to the store made through pbxd is followed by an audit entry, which
/// [`App::audit`] announces as `Event::Changed` on `app.events` before the change's answer goes
/// out; a reload announces `Event::Reloaded`. Before every use the cache drains its receiver and
/// starts empty again on any event other than the SIP and call events pbxd sends itself, and on
/// a lag (events lost) or a closed channel. So after `pbxctl extension reset-password` returns,
/// the next REGISTER reads the new credentials.
struct StoreCache {
    events: tokio::sync::broadcast::Receiver<Event>,
    tenants: Option<Arc<Vec<Tenant>>>,
    extensions: std::collections::HashMap<(String, String), Option<Extension>>,
    bundles: std::collections::HashMap<String, Arc<pbx_model::TenantBundle>>,
}

impl StoreCache {
    fn new(events: tokio::sync::broadcast::Receiver<Event>) -> StoreCache {
        StoreCache {
            events,
            tenants: None,
            extensions: std::collections::HashMap::new(),
            bundles: std::collections::HashMap::new(),
        }
    }

    /// Drains the events; forgets everything when the store may have changed.
    fn refresh(&mut self) {
        use tokio::sync::broadcast::error::TryRecvError;
        let mut changed = false;
        loop {
            match self.events.try_recv() {
                Ok(
                    Event::Registration { .. }
                    | Event::Call { .. }
                    | Event::LimitReached { .. }
                    | Event::TollFraud { .. }
                    | Event::Alarm { .. }
                    | Event::Trunk { .. },
                ) => {}
                Ok(_) | Err(TryRecvError::Lagged(_)) => changed = true,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => {
                    // No more news of changes: never keep anything.
                    changed = true;
                    break;
                }
            }
        }
        if changed || self.events.is_closed() {
            self.tenants = None;
            self.extensions.clear();
            self.bundles.clear();
        }
    }
}

/// Upper bounds of the MOS histogram of `/metrics`.
pub const MOS_BUCKETS: [f64; 8] = [1.5, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.3];

/// Handles for the rest of pbxd.
#[derive(Clone)]
pub struct SipHandle {
    counters: Arc<Mutex<Counters>>,
    /// The TLS certificate in force, when there are TLS listeners.
    tls: Option<pbx_net::tls::TlsCertificate>,
    control: mpsc::Sender<Control>,
    /// The live bindings of the registrar, for `pbxctl registrations`.
    live: Arc<Mutex<Live>>,
    /// Call traces.
    pub traces: Arc<Mutex<TraceBuffer>>,
    /// The state of the trunks, for `pbxctl trunk status`.
    trunks: trunks::Shared,
    /// The toll-fraud counters, for `pbxctl tenant toll-fraud`.
    guard: Arc<Mutex<Vec<pbx_engine::tollfraud::Counters>>>,
    /// Into the SIP task, for phones inside pbxd (the softphone's user agents).
    inbound: mpsc::Sender<Inbound>,
    /// The connection map, where such a phone's messages are picked up.
    conns: Conns,
    /// The address the media relay binds (the first SIP listener's).
    sip_ip: std::net::IpAddr,
}

/// A phone inside pbxd: it speaks SIP to the SIP task like a WebSocket phone, over channels
/// instead of a socket, from an address of the discard-only prefix 100::/64 (RFC 6666) that no
/// packet from the network can carry.
pub struct Attached {
    /// Its address as the SIP task sees it.
    pub addr: SocketAddr,
    /// Messages from the SIP task.
    pub from_pbx: mpsc::Receiver<Vec<u8>>,
    inbound: mpsc::Sender<Inbound>,
    conns: Conns,
}

impl Attached {
    /// Hands one SIP message to the SIP task.
    pub async fn send(&self, bytes: Vec<u8>) -> bool {
        self.inbound
            .send(Inbound {
                bytes,
                src: self.addr,
                socket: usize::MAX,
                transport: TransportKind::Ws,
                closed: false,
            })
            .await
            .is_ok()
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        if let Ok(mut c) = self.conns.lock() {
            c.remove(&self.addr);
        }
        // Its registrations become unreachable, as when a WebSocket closes.
        let _ = self.inbound.try_send(Inbound {
            bytes: Vec::new(),
            src: self.addr,
            socket: usize::MAX,
            transport: TransportKind::Ws,
            closed: true,
        });
    }
}

/// Is `addr` a phone inside pbxd (see [`Attached`])?
pub fn is_attached(addr: SocketAddr) -> bool {
    matches!(addr.ip(), std::net::IpAddr::V6(v) if v.segments()[..4] == [0x0100, 0, 0, 0])
}

/// Requests of the control API to the SIP task (which owns the calls).
pub enum Control {
    /// The active calls (of one organisation).
    Calls(
        Option<String>,
        tokio::sync::oneshot::Sender<Vec<pbx_api::CallInfo>>,
    ),
    /// End a call; the answer says whether it existed.
    Hangup(String, tokio::sync::oneshot::Sender<bool>),
    /// Blind transfer by the B side: the B leg with this Call-ID (of `extension`, whose
    /// rights the number is dialled with) hands the call to `number`; a Dutch reason when not.
    Transfer {
        b_call_id: String,
        extension: String,
        number: String,
        reply: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
}

/// Live bindings by (organisation, extension, contact).
type Live = std::collections::BTreeMap<(String, String, String), Registration>;

fn live_key(r: &Registration) -> (String, String, String) {
    (r.tenant.clone(), r.extension.clone(), r.contact.clone())
}

impl SipHandle {
    /// Asks the SIP task from async code (the softphone); `None` when it is gone.
    pub async fn ask_async<T>(
        &self,
        make: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> Control,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.control.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// The address the media relay binds.
    pub fn sip_ip(&self) -> std::net::IpAddr {
        self.sip_ip
    }

    /// Is every live registration of the extension a browser (the softphone's phones inside
    /// pbxd and WebRTC clients on ws/wss), and is there at least one? A browser calling it
    /// then offers Opus end to end.
    pub fn browser_only(&self, tenant: &str, extension: &str) -> bool {
        let Ok(live) = self.live.lock() else {
            return false;
        };
        let mut any = false;
        for r in live
            .values()
            .filter(|r| r.tenant == tenant && r.extension == extension)
        {
            if !(r.source.starts_with("ws:") || r.source.starts_with("wss:")) {
                return false;
            }
            any = true;
        }
        any
    }

    /// Attaches a phone inside pbxd (see [`Attached`]).
    pub fn attach(&self) -> Attached {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ip = std::net::Ipv6Addr::new(
            0x0100,
            0,
            0,
            0,
            (n >> 48) as u16,
            (n >> 32) as u16,
            (n >> 16) as u16,
            n as u16,
        );
        let addr = SocketAddr::new(std::net::IpAddr::V6(ip), 5060);
        let (tx, rx) = mpsc::channel::<Vec<u8>>(256);
        if let Ok(mut c) = self.conns.lock() {
            c.insert(addr, tx);
        }
        Attached {
            addr,
            from_pbx: rx,
            inbound: self.inbound.clone(),
            conns: self.conns.clone(),
        }
    }

    /// Reads the TLS certificate and key again (SIGHUP). Connections that are up keep theirs.
    pub fn reload_tls(&self) -> Option<Result<(), pbx_net::tls::TlsError>> {
        self.tls.as_ref().map(|t| t.reload())
    }

    /// Asks the SIP task something and waits for the answer; for the control API's handlers,
    /// which run on tokio's blocking pool. `None` when the SIP task is gone.
    pub fn ask<T>(
        &self,
        make: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> Control,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.control.blocking_send(make(tx)).ok()?;
        rx.blocking_recv().ok()
    }
    /// The live registrations of an organisation, or of all.
    pub fn registrations(&self, tenant: Option<&str>) -> Vec<Registration> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.values()
            .filter(|r| tenant.is_none_or(|t| r.tenant == t))
            .cloned()
            .collect()
    }
    /// The state of the trunks of an organisation, or of all.
    pub fn trunk_status(&self, tenant: Option<&str>) -> Vec<pbx_api::TrunkStatus> {
        let all = self.trunks.lock().unwrap_or_else(|p| p.into_inner());
        all.iter()
            .filter(|t| tenant.is_none_or(|x| t.tenant == x))
            .cloned()
            .collect()
    }
    /// The toll-fraud counters of an organisation, or of all (published once a second).
    pub fn toll_fraud(&self, tenant: Option<&str>) -> Vec<pbx_api::TollFraudCounters> {
        use pbx_engine::tollfraud::Limit;
        let all = self.guard.lock().unwrap_or_else(|p| p.into_inner());
        all.iter()
            .filter(|c| tenant.is_none_or(|t| c.tenant == t))
            .map(|c| pbx_api::TollFraudCounters {
                tenant: c.tenant.clone(),
                outside_calls: c.outside_calls,
                emergency_calls: c.emergency_calls,
                max_outside_calls: c.max_outside_calls,
                international_last_hour: c.international_last_hour,
                max_international_per_hour: c.max_international_per_hour,
                betaalnummers_last_hour: c.betaalnummers_last_hour,
                max_betaalnummers_per_hour: c.max_betaalnummers_per_hour,
                blocked: [
                    Limit::OutsideCalls,
                    Limit::InternationalPerHour,
                    Limit::BetaalnummersPerHour,
                ]
                .iter()
                .zip(c.blocked)
                .map(|(l, n)| (l.as_str().to_string(), n))
                .collect(),
            })
            .collect()
    }

    /// A copy of all counters (for `/metrics`).
    pub fn counters_full(&self) -> Counters {
        self.counters.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The active calls (for `/metrics`, from async code).
    pub async fn calls_async(&self) -> Vec<pbx_api::CallInfo> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.control.send(Control::Calls(None, tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// The counters by name.
    pub fn counters(&self) -> std::collections::BTreeMap<String, u64> {
        let c = self.counters.lock().map(|c| c.clone()).unwrap_or_default();
        [
            ("received", c.received),
            ("rate_limited", c.rate_limited),
            ("discarded", c.discarded),
            ("rejected", c.rejected),
            ("registered", c.registered),
            ("auth_failed", c.auth_failed),
            ("keepalives", c.keepalives),
            ("keepalive_timeouts", c.keepalive_timeouts),
            ("unknown_did", c.unknown_did),
            ("not_from_trunk", c.not_from_trunk),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// Binds the UDP listeners of the configuration and runs the service until `stop`.
/// Returns the handle and the service task, which ends (after writing pending registrations)
/// when `stop` turns true.
pub async fn start(
    app: Arc<App>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<(SipHandle, tokio::task::JoinHandle<()>)> {
    let (listeners, tcp_listeners, tls_listeners, tls_files, ws_listeners, wss_listeners) = {
        let cfg = app.config.read().unwrap_or_else(|p| p.into_inner());
        let of = |t: pbx_model::Transport| {
            cfg.daemon
                .listen
                .iter()
                .filter(|l| l.transport == t)
                .map(|l| l.address)
                .collect::<Vec<_>>()
        };
        let files = cfg
            .daemon
            .tls
            .as_ref()
            .map(|t| (t.certificate.clone(), t.key.clone()));
        (
            of(pbx_model::Transport::Udp),
            of(pbx_model::Transport::Tcp),
            of(pbx_model::Transport::Tls),
            files,
            of(pbx_model::Transport::Ws),
            of(pbx_model::Transport::Wss),
        )
    };
    // The certificate is loaded once (pbxctl check has verified the files) and replaced on SIGHUP;
    // tls and wss listeners share it.
    let tls = match (
        &tls_files,
        tls_listeners.is_empty() && wss_listeners.is_empty(),
    ) {
        (Some((cert, key)), false) => Some(
            pbx_net::tls::TlsCertificate::load(cert, key)
                .map_err(|e| anyhow::anyhow!("{}", e.msg()))?,
        ),
        _ => None,
    };
    let mut sockets = Vec::new();
    for addr in &listeners {
        let s = UdpSocket::bind(addr).await.map_err(|e| {
            anyhow::anyhow!(
                "{}",
                pbx_i18n::Msg::new("pbxd.sip_bind")
                    .arg("address", addr)
                    .arg("detail", e)
            )
        })?;
        tracing::info!(address = %addr, "SIP luistert (udp)");
        sockets.push(Arc::new(s));
    }
    let (in_tx, mut in_rx) = mpsc::channel::<Inbound>(4096);
    for (i, s) in sockets.iter().enumerate() {
        let s = s.clone();
        let in_tx = in_tx.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                tokio::select! {
                    r = s.recv_from(&mut buf) => match r {
                        Ok((n, src)) => {
                            if in_tx.send(Inbound { bytes: buf[..n].to_vec(), src, socket: i, transport: TransportKind::Udp, closed: false }).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "SIP udp: ontvangen mislukt"),
                    },
                    _ = stop.changed() => return,
                }
            }
        });
    }
    let conns: Conns = Arc::default();
    for addr in &tcp_listeners {
        let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            anyhow::anyhow!(
                "{}",
                pbx_i18n::Msg::new("pbxd.sip_bind")
                    .arg("address", addr)
                    .arg("detail", e)
            )
        })?;
        tracing::info!(address = %addr, "SIP luistert (tcp)");
        tokio::spawn(accept_stream(
            l,
            None,
            in_tx.clone(),
            conns.clone(),
            stop.clone(),
        ));
    }
    for addr in &tls_listeners {
        let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            anyhow::anyhow!(
                "{}",
                pbx_i18n::Msg::new("pbxd.sip_bind")
                    .arg("address", addr)
                    .arg("detail", e)
            )
        })?;
        tracing::info!(address = %addr, "SIP luistert (tls)");
        tokio::spawn(accept_stream(
            l,
            tls.clone(),
            in_tx.clone(),
            conns.clone(),
            stop.clone(),
        ));
    }
    // SIP over WebSocket (RFC 7118), see `ws`.
    for (addrs, cert) in [(&ws_listeners, None), (&wss_listeners, tls.clone())] {
        for addr in addrs {
            let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                anyhow::anyhow!(
                    "{}",
                    pbx_i18n::Msg::new("pbxd.sip_bind")
                        .arg("address", addr)
                        .arg("detail", e)
                )
            })?;
            let name = if cert.is_some() { "wss" } else { "ws" };
            tracing::info!(address = %addr, "SIP luistert ({name})");
            // Browsers' media is bridged on the listener's address (the UDP listener's for a
            // wildcard one).
            let ip = match addr.ip() {
                ip if ip.is_unspecified() => sockets
                    .first()
                    .and_then(|s| s.local_addr().ok())
                    .map(|a| a.ip())
                    .unwrap_or(ip),
                ip => ip,
            };
            let bridges = {
                let cfg = app.config.read().unwrap_or_else(|p| p.into_inner());
                webrtc::bridge_config(&cfg.daemon.rtp, ip)
            };
            tokio::spawn(ws::accept_ws(
                l,
                cert.clone(),
                in_tx.clone(),
                conns.clone(),
                bridges,
                stop.clone(),
            ));
        }
    }
    let local_addrs: Vec<SocketAddr> = sockets
        .iter()
        .map(|s| {
            s.local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
        })
        .collect();
    // Subscribed before the first read of the store, so no change can slip between.
    let events = app.events.subscribe();
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    let base = Instant::now();
    let mut registrar = Registrar::new(RegistrarConfig::default());
    match app.store.registrations(None) {
        Ok(regs) => registrar.restore(regs, unix_ms()),
        Err(e) => tracing::error!(error = %e.msg(), "registraties niet te lezen"),
    }
    let (limiter, max_transactions, calls) = {
        let cfg = app.config.read().unwrap_or_else(|p| p.into_inner());
        let calls = crate::calls::CallGlue::new(&cfg.daemon.rtp, &cfg.dir);
        let max_transactions = cfg.daemon.sip.max_transactions as usize;
        let limiter = RateLimiter::new(
            cfg.daemon.sip.rate_burst,
            f64::from(cfg.daemon.sip.rate_per_second),
            100_000,
        );
        (limiter, max_transactions, calls)
    };
    let counters = Arc::new(Mutex::new(Counters::default()));
    let live: Arc<Mutex<Live>> = Arc::new(Mutex::new(
        registrar.all().map(|r| (live_key(r), r.clone())).collect(),
    ));
    let traces = Arc::new(Mutex::new(TraceBuffer::new(TraceLimits::default())));
    let tcp_addr = tcp_listeners.first().copied();
    let mut svc = Service {
        app,
        sockets,
        in_tx: in_tx.clone(),
        tcp_addr,
        ws_addr: ws_listeners.first().copied(),
        wss_addr: wss_listeners.first().copied(),
        tx: TransactionLayer::new(transaction::Config {
            tag_seed: rand::random(),
            max_transactions,
            ..transaction::Config::default()
        }),
        nonces: NonceManager::new(secret, base, NonceConfig::default()),
        registrar,
        limiter,
        limits: Limits::default(),
        policy: Policy::default(),
        conns: conns.clone(),
        live: live.clone(),
        dirty: std::collections::HashMap::new(),
        last_dirty_flush: Instant::now(),
        traces: traces.clone(),
        counters: counters.clone(),
        calls,
        keepalive: keepalive::Glue::default(),
        trunks: trunks::Glue::default(),
        local_addrs,
        cache: Mutex::new(StoreCache::new(events)),
    };
    svc.drain_registrar();
    svc.keepalive_reset(Instant::now());
    let (control_tx, mut control_rx) = mpsc::channel::<Control>(64);
    let handle = SipHandle {
        counters,
        tls: tls.clone(),
        control: control_tx,
        live,
        traces,
        trunks: svc.trunks.shared.clone(),
        guard: svc.calls.guard_shared.clone(),
        inbound: in_tx.clone(),
        conns: conns.clone(),
        sip_ip: svc.bound_addr().ip(),
    };
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Timers run on the 20 ms tick only: after every datagram they cost a scan of all
            // calls (bench/sip/calls.sh), and no SIP timer needs finer than 20 ms.
            tokio::select! {
                m = in_rx.recv() => match m {
                    Some(m) => svc.on_datagram(m).await,
                    None => break,
                },
                _ = tick.tick() => svc.on_timers().await,
                c = control_rx.recv() => if let Some(c) = c { svc.on_control(c, Instant::now()).await; },
                _ = stop.changed() => break,
            }
        }
        svc.trunk_shutdown().await;
        svc.flush_dirty();
    });
    Ok((handle, task))
}

/// Accepts TCP connections (TLS when `tls` is given, with a handshake of at most 10 s); each gets
/// a reader (framing by Content-Length, keep-alive pongs) and a writer fed through `conns`.
async fn accept_stream(
    l: tokio::net::TcpListener,
    tls: Option<pbx_net::tls::TlsCertificate>,
    in_tx: mpsc::Sender<Inbound>,
    conns: Conns,
    mut stop: watch::Receiver<bool>,
) {
    let transport = if tls.is_some() {
        TransportKind::Tls
    } else {
        TransportKind::Tcp
    };
    loop {
        let (stream, src) = tokio::select! {
            r = l.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "SIP tcp: accept mislukt");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let full = conns
            .lock()
            .map(|c| c.len() >= MAX_TCP_CONNECTIONS)
            .unwrap_or(true);
        if full {
            tracing::warn!(%src, "SIP tcp: te veel verbindingen, geweigerd");
            continue;
        }
        let (in_tx, conns) = (in_tx.clone(), conns.clone());
        match &tls {
            None => serve_stream(stream, src, transport, in_tx, conns),
            Some(cert) => {
                let acceptor = cert.acceptor();
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => serve_stream(s, src, transport, in_tx, conns),
                        Ok(Err(e)) => {
                            tracing::debug!(%src, error = %e, "SIP tls: handshake mislukt")
                        }
                        Err(_) => tracing::debug!(%src, "SIP tls: handshake duurde te lang"),
                    }
                });
            }
        }
    }
}

/// How long pbxd waits for a TCP connection it opens to a trunk.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a TCP connection to a trunk and sends `first` over it; what pbxd sends meanwhile
/// queues in the connection's channel (registered in `conns` at once). A failed connect drops
/// the queue: the transaction times out and a call fails over to the next trunk.
fn connect_out(dest: SocketAddr, first: Vec<u8>, in_tx: mpsc::Sender<Inbound>, conns: Conns) {
    let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>(256);
    let _ = out_tx.try_send(first);
    match conns.lock() {
        Ok(mut c) if c.len() < MAX_TCP_CONNECTIONS => {
            c.insert(dest, out_tx.clone());
        }
        _ => return,
    }
    tokio::spawn(async move {
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(dest)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                tracing::debug!(%dest, "SIP tcp: verbinding naar trunk open");
                serve_stream_with(s, dest, TransportKind::Tcp, in_tx, conns, out_tx, out_rx);
            }
            Ok(Err(e)) => {
                tracing::info!(%dest, error = %e, "SIP tcp: verbinding naar trunk mislukt");
                if let Ok(mut c) = conns.lock() {
                    c.remove(&dest);
                }
            }
            Err(_) => {
                tracing::info!(%dest, "SIP tcp: verbinding naar trunk duurde te lang");
                if let Ok(mut c) = conns.lock() {
                    c.remove(&dest);
                }
            }
        }
    });
}

/// Reads SIP messages from a byte stream (TCP or TLS) and writes what `conns` sends to `src`.
fn serve_stream<S>(
    stream: S,
    src: SocketAddr,
    transport: TransportKind,
    in_tx: mpsc::Sender<Inbound>,
    conns: Conns,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>(256);
    serve_stream_with(stream, src, transport, in_tx, conns, out_tx, out_rx);
}

/// [`serve_stream`] with the connection's send queue made already.
fn serve_stream_with<S>(
    stream: S,
    src: SocketAddr,
    transport: TransportKind,
    in_tx: mpsc::Sender<Inbound>,
    conns: Conns,
    out_tx: mpsc::Sender<Vec<u8>>,
    mut out_rx: mpsc::Receiver<Vec<u8>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    if let Ok(mut c) = conns.lock() {
        c.insert(src, out_tx.clone());
    }
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Some(b) = out_rx.recv().await {
            if wr.write_all(&b).await.is_err() || wr.flush().await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut framer = msg::StreamFramer::new(Limits::default());
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match tokio::time::timeout(TCP_IDLE, rd.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(n)) => n,
            };
            framer.push(&buf[..n]);
            let mut broken = false;
            while let Some(ev) = framer.next() {
                match ev {
                    Ok(msg::StreamEvent::Message(bytes)) => {
                        if in_tx
                            .send(Inbound {
                                bytes,
                                src,
                                socket: usize::MAX,
                                transport,
                                closed: false,
                            })
                            .await
                            .is_err()
                        {
                            broken = true;
                        }
                    }
                    Ok(msg::StreamEvent::Ping) => {
                        let _ = out_tx.send(b"\r\n".to_vec()).await;
                    }
                    Err(e) => {
                        tracing::debug!(%src, error = %e, "SIP: ongeldige stroom, verbinding gesloten");
                        broken = true;
                        break;
                    }
                }
            }
            if broken {
                break;
            }
        }
        if let Ok(mut c) = conns.lock() {
            c.remove(&src);
        }
        // Its registrations are unreachable now (see `keepalive`).
        let _ = in_tx
            .send(Inbound {
                bytes: Vec::new(),
                src,
                socket: usize::MAX,
                transport,
                closed: true,
            })
            .await;
    });
}

impl Service {
    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        if let Ok(mut c) = self.counters.lock() {
            f(&mut c);
        }
    }

    /// Records a message in the call traces. REGISTER and OPTIONS (registrations and
    /// keep-alives) are not traced: they would push calls out of the bounded buffer.
    fn trace(
        &self,
        way: Way,
        transport: TransportKind,
        src: SocketAddr,
        dst: SocketAddr,
        bytes: &[u8],
    ) {
        // The head is scanned as bytes: most messages are REGISTERs, which are not traced, and
        // decoding 4 KiB as UTF-8 for each of them showed in profiles (bench/sip/register.sh).
        let head = &bytes[..bytes.len().min(4096)];
        let mut call_id = None;
        for line in head.split(|b| *b == b'\n').skip(1) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                break;
            }
            let Some(colon) = line.iter().position(|b| *b == b':') else {
                continue;
            };
            let (n, v) = (line[..colon].trim_ascii(), &line[colon + 1..]);
            if n.eq_ignore_ascii_case(b"cseq") {
                let method = v
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|w| !w.is_empty())
                    .nth(1)
                    .unwrap_or(b"");
                if method.eq_ignore_ascii_case(b"REGISTER")
                    || method.eq_ignore_ascii_case(b"OPTIONS")
                {
                    return;
                }
            } else if n.eq_ignore_ascii_case(b"call-id") || n == b"i" {
                call_id = Some(String::from_utf8_lossy(v.trim_ascii()).into_owned());
            }
        }
        let Some(call_id) = call_id else { return };
        let text = String::from_utf8_lossy(bytes).into_owned();
        if let Ok(mut t) = self.traces.lock() {
            t.record(
                &call_id,
                TraceEntry {
                    time_ms: unix_ms(),
                    way,
                    transport: transport_name(transport),
                    src: src.to_string(),
                    dst: dst.to_string(),
                    text,
                },
            );
        }
    }

    async fn send(&self, transport: TransportKind, socket: usize, dest: SocketAddr, bytes: &[u8]) {
        if matches!(
            transport,
            TransportKind::Tcp | TransportKind::Tls | TransportKind::Ws | TransportKind::Wss
        ) {
            let conn = self.conns.lock().ok().and_then(|c| c.get(&dest).cloned());
            match conn {
                Some(c) => {
                    self.trace(
                        Way::Out,
                        transport,
                        SocketAddr::from(([0, 0, 0, 0], 0)),
                        dest,
                        bytes,
                    );
                    if matches!(transport, TransportKind::Ws | TransportKind::Wss) {
                        // A browser that stops reading must not hold up the SIP task: its
                        // queue full means the message is lost (the connection closes itself
                        // when a frame cannot go out in time, see `ws`).
                        if c.try_send(bytes.to_vec()).is_err() {
                            tracing::debug!(%dest, "SIP: WebSocket-wachtrij vol, bericht weggegooid");
                        }
                    } else {
                        let _ = c.send(bytes.to_vec()).await;
                    }
                }
                None if transport == TransportKind::Tcp && self.is_trunk_dest(dest) => {
                    self.trace(
                        Way::Out,
                        transport,
                        SocketAddr::from(([0, 0, 0, 0], 0)),
                        dest,
                        bytes,
                    );
                    connect_out(dest, bytes.to_vec(), self.in_tx.clone(), self.conns.clone());
                }
                None => {
                    tracing::debug!(%dest, transport = transport_name(transport), "SIP: geen verbinding meer")
                }
            }
            return;
        }
        let index = if socket < self.sockets.len() {
            socket
        } else {
            0
        };
        let Some(s) = self.sockets.get(index) else {
            return;
        };
        if let Some(local) = self.local_addrs.get(index) {
            self.trace(Way::Out, transport, *local, dest, bytes);
        }
        if let Err(e) = s.send_to(bytes, dest).await {
            tracing::debug!(error = %e, %dest, "SIP udp: versturen mislukt");
        }
    }

    async fn send_stateless(&self, m: &Inbound, resp: Response) {
        let bytes = SipMessage::Response(resp).to_string();
        self.send(m.transport, m.socket, m.src, bytes.as_bytes())
            .await;
    }
    async fn on_datagram(&mut self, m: Inbound) {
        let now = Instant::now();
        if m.closed {
            self.connection_closed(m.src, m.transport);
            return;
        }
        self.count(|c| c.received += 1);
        if !self.limiter.allow(m.src.ip(), now) {
            self.count(|c| c.rate_limited += 1);
            return;
        }
        // Keep-alives (CRLF) get no answer on UDP.
        if m.bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return;
        }
        let local = self
            .local_addrs
            .get(m.socket)
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        self.trace(Way::In, m.transport, m.src, local, &m.bytes);
        let mut parsed = match msg::parse(&m.bytes, &self.limits) {
            Ok(p) => p,
            Err(ParseError::Reject {
                code,
                reason,
                mut request,
            }) => {
                self.count(|c| c.rejected += 1);
                msg::stamp_via(&mut request, m.src);
                self.send_stateless(&m, msg::response_to(&request, code, reason))
                    .await;
                return;
            }
            Err(_) => {
                self.count(|c| c.discarded += 1);
                return;
            }
        };
        // RFC 3261 §18.2.1, RFC 3581: received and rport in the top Via, so every answer says
        // where the request came from.
        if let SipMessage::Request(req) = &mut parsed.message {
            msg::stamp_via(req, m.src);
        }
        match &parsed.message {
            SipMessage::Request(req) => {
                if let Err(reject) = check::check_request(&parsed, m.bytes.len(), &self.policy) {
                    if reject.discard {
                        self.count(|c| c.discarded += 1);
                    } else {
                        self.count(|c| c.rejected += 1);
                        self.send_stateless(&m, reject.response(req)).await;
                    }
                    return;
                }
            }
            SipMessage::Response(_) => {
                if check::check_response(&parsed).is_err() {
                    self.count(|c| c.discarded += 1);
                    return;
                }
            }
        }
        let request_uri = parsed.request_uri.clone().unwrap_or_default();
        let extension_method = parsed.method_token.is_some();
        self.tx
            .handle_incoming(parsed.message, m.src, m.transport, now);
        self.drain_events(now, &request_uri, extension_method).await;
    }

    async fn on_timers(&mut self) {
        let now = Instant::now();
        if self.tx.poll_timeout().is_some_and(|t| t <= now) {
            self.tx.handle_timeout(now);
            self.drain_events(now, "", false).await;
        }
        if !self.dirty.is_empty()
            && now.duration_since(self.last_dirty_flush) >= Duration::from_secs(1)
        {
            self.flush_dirty();
        }
        self.call_timers(now);
        self.poll_local(now);
        self.keepalive_timers(now);
        self.trunk_timers(now).await;
        let ms = unix_ms();
        if self.registrar.poll_timeout().is_some_and(|t| t <= ms) {
            self.registrar.handle_timeout(ms);
            self.drain_registrar();
        }
        self.flush_transmits().await;
    }

    pub(crate) async fn flush_transmits(&mut self) {
        while let Some(t) = self.tx.poll_transmit() {
            let socket = self
                .local_addrs
                .iter()
                .position(|a| a.is_ipv4() == t.dest.is_ipv4())
                .unwrap_or(0);
            self.send(t.transport, socket, t.dest, &t.bytes).await;
        }
    }

    async fn drain_events(&mut self, now: Instant, request_uri: &str, extension_method: bool) {
        while let Some(ev) = self.tx.poll_event() {
            // Answers to pbxd's own keep-alive OPTIONS first, then calls.
            let Some(ev) = self.keepalive_event(ev, now) else {
                continue;
            };
            // Answers to pbxd's own REGISTERs and OPTIONS to SIP trunks.
            let Some(ev) = self.trunk_event(ev, now) else {
                continue;
            };
            let ev = if extension_method {
                ev
            } else {
                match self.call_event(ev, request_uri, now) {
                    Some(ev) => ev,
                    None => continue,
                }
            };
            if let TuEvent::Request {
                key,
                request,
                source,
                transport,
            } = ev
            {
                let resp = if extension_method {
                    let mut r = msg::response_to(&request, 501, "Not Implemented");
                    r.headers.push(msg::make_header("Allow", ALLOW.to_string()));
                    r
                } else {
                    self.on_request(&request, request_uri, source, transport, now)
                };
                if let Err(e) = self.tx.send_response(key, resp, now) {
                    tracing::debug!(error = ?e, "SIP: antwoord niet verstuurd");
                }
            }
        }
        self.flush_transmits().await;
    }

    fn on_request(
        &mut self,
        req: &Request,
        request_uri: &str,
        source: SocketAddr,
        transport: TransportKind,
        now: Instant,
    ) -> Response {
        match req.method {
            msg::Method::Register => self.on_register(req, request_uri, source, transport, now),
            msg::Method::Options => {
                let mut r = msg::response_to(req, 200, "OK");
                r.headers.push(msg::make_header("Allow", ALLOW.to_string()));
                r.headers
                    .push(msg::make_header("Accept", "application/sdp".to_string()));
                r
            }
            _ => {
                let mut r = msg::response_to(req, 501, "Not Implemented");
                r.headers.push(msg::make_header("Allow", ALLOW.to_string()));
                r
            }
        }
    }

    /// The address of the first UDP listener as bound (may be unspecified).
    pub(crate) fn bound_addr(&self) -> SocketAddr {
        self.local_addrs
            .first()
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5060)))
    }

    /// pbxd's own address for Via and Contact of a request to `dest`: the UDP listener of that
    /// address family (the one `flush_transmits` sends from); for a wildcard listener the
    /// configured public address, else loopback.
    pub(crate) fn own_addr_to(&self, dest: SocketAddr) -> SocketAddr {
        let local = self
            .local_addrs
            .iter()
            .copied()
            .find(|a| a.is_ipv4() == dest.is_ipv4())
            .unwrap_or_else(|| self.bound_addr());
        if !local.ip().is_unspecified() {
            return local;
        }
        let public = self
            .app
            .config
            .read()
            .ok()
            .and_then(|c| c.daemon.rtp.public_address.clone())
            .and_then(|p| p.parse::<std::net::IpAddr>().ok());
        let loopback: std::net::IpAddr = if local.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(public.unwrap_or(loopback), local.port())
    }

    /// An out-of-dialog OPTIONS from pbxd to `uri`, for `dest` over UDP (keep-alives of
    /// registrations and trunks); `None` when `uri` cannot be a Request-URI.
    pub(crate) fn options_request(&self, uri: &str, dest: SocketAddr) -> Option<Request> {
        self.options_request_over(uri, dest, TransportKind::Udp)
    }

    /// [`Service::options_request`] over a given transport (a TCP trunk).
    pub(crate) fn options_request_over(
        &self,
        uri: &str,
        dest: SocketAddr,
        transport: TransportKind,
    ) -> Option<Request> {
        let own = self.own_addr_over(dest, transport);
        let via = transport_name(transport).to_ascii_uppercase();
        let text = format!(
            "OPTIONS {uri} SIP/2.0\r\nVia: SIP/2.0/{via} {own};branch=z9hG4bK{:016x};rport\r\nMax-Forwards: 70\r\nFrom: <sip:pbxd@{own}>;tag={:012x}\r\nTo: <{uri}>\r\nCall-ID: {:024x}@pbxd\r\nCSeq: 1 OPTIONS\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n",
            rand::random::<u64>(),
            rand::random::<u64>() >> 16,
            rand::random::<u128>() >> 32,
        );
        match msg::parse(text.as_bytes(), &msg::Limits::default()).map(|p| p.message) {
            Ok(SipMessage::Request(r)) => Some(r),
            _ => None,
        }
    }

    /// pbxd's own address for a request to `dest` over `transport`: for TCP the TCP listener,
    /// for ws and wss their listener (with the UDP one's address when the listener is a
    /// wildcard or missing).
    pub(crate) fn own_addr_over(&self, dest: SocketAddr, transport: TransportKind) -> SocketAddr {
        let udp = self.own_addr_to(dest);
        let listener = match transport {
            TransportKind::Tcp => self.tcp_addr,
            TransportKind::Ws => self.ws_addr,
            TransportKind::Wss => self.wss_addr,
            _ => None,
        };
        match listener {
            Some(t) if !t.ip().is_unspecified() => t,
            Some(t) => SocketAddr::new(udp.ip(), t.port()),
            None => udp,
        }
    }

    /// pbxd's own address in Via and Contact of requests to a phone: the first listener, except
    /// over WebSocket, where it is the ws or wss listener (RFC 7118 §5).
    pub(crate) fn own_addr_for_phone(
        &self,
        dest: SocketAddr,
        transport: TransportKind,
    ) -> SocketAddr {
        match transport {
            TransportKind::Ws | TransportKind::Wss => self.own_addr_over(dest, transport),
            _ => self.own_addr(),
        }
    }

    /// Is `dest` the address of a trunk (pbxd may open a TCP connection to it)?
    fn is_trunk_dest(&self, dest: SocketAddr) -> bool {
        self.trunk_dests().contains(&dest)
    }

    /// pbxd's own address as the first listener shows it (calls; see [`Service::own_addr_to`]).
    pub(crate) fn own_addr(&self) -> SocketAddr {
        self.own_addr_to(self.bound_addr())
    }

    /// The organisation of a domain; an IP address (or unknown host) falls back to the
    /// configured default organisation.
    pub(crate) fn tenant_for(&self, host: &str) -> Option<Tenant> {
        let tenants = self.tenants()?;
        if let Some(t) = tenants
            .iter()
            .find(|t| t.domains.iter().any(|d| d.eq_ignore_ascii_case(host)))
        {
            return Some(t.clone());
        }
        let default = self.app.config.read().ok()?.daemon.default_tenant.clone()?;
        if host.parse::<std::net::IpAddr>().is_ok() || host == "localhost" {
            return tenants.iter().find(|t| t.slug == default).cloned();
        }
        None
    }

    /// A sample for the alarms (nothing when the alarm service does not run).
    pub(crate) fn alarm(&self, metric: Metric, key: &str, tenant: Option<&str>, value: f64) {
        if let Some(a) = self.app.alarms.get() {
            a.observe(metric, key, tenant, value);
        }
    }

    /// An organisation by slug.
    pub(crate) fn tenant_for_slug(&self, slug: &str) -> Option<Tenant> {
        self.tenants()?.iter().find(|t| t.slug == slug).cloned()
    }

    /// All organisations, from the cache or else the store.
    fn tenants(&self) -> Option<Arc<Vec<Tenant>>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.refresh();
        if let Some(t) = &cache.tenants {
            return Some(t.clone());
        }
        let tenants = Arc::new(self.app.store.tenants().ok()?);
        cache.tenants = Some(tenants.clone());
        Some(tenants)
    }

    /// An organisation with all its objects (belplan, trunks, belgroepen …), from the cache or
    /// else the store.
    pub(crate) fn bundle(&self, slug: &str) -> Option<Arc<pbx_model::TenantBundle>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.refresh();
        if let Some(b) = cache.bundles.get(slug) {
            return Some(b.clone());
        }
        let b = Arc::new(self.app.store.bundle(slug).ok()??);
        cache.bundles.insert(slug.to_string(), b.clone());
        Some(b)
    }

    /// An extension, from the cache or else the store (`None` when unknown or unreadable).
    pub(crate) fn cached_extension(&self, tenant: &str, number: &str) -> Option<Extension> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.refresh();
        let key = (tenant.to_string(), number.to_string());
        if let Some(e) = cache.extensions.get(&key) {
            return e.clone();
        }
        // A store error is not cached: the next request asks the store again.
        let ext = self.app.store.extension(tenant, number).ok()?;
        if cache.extensions.len() >= MAX_CACHED_EXTENSIONS {
            cache.extensions.clear();
        }
        cache.extensions.insert(key, ext.clone());
        ext
    }

    fn on_register(
        &mut self,
        req: &Request,
        request_uri: &str,
        source: SocketAddr,
        transport: TransportKind,
        now: Instant,
    ) -> Response {
        let to = header_value(req, "to");
        let Some((user, host)) = to
            .as_deref()
            .and_then(|v| msg::parse_name_addrs(v, false).ok())
            .and_then(|v| v.into_iter().next())
            .and_then(|na| user_host(&na.uri))
        else {
            return msg::response_to(req, 400, "Bad To Header");
        };
        let Some(tenant) = self.tenant_for(&host) else {
            return msg::response_to(req, 404, "Not Found");
        };
        if tenant.status == TenantStatus::Suspended {
            return msg::response_to(req, 403, "Forbidden");
        }
        let realm = tenant.realm().to_string();
        let ext: Option<Extension> = self.cached_extension(&tenant.slug, &user);
        let auth_value = header_value(req, "authorization");
        let algorithms: Vec<Algorithm> = {
            let cfg = self.app.config.read().unwrap_or_else(|p| p.into_inner());
            cfg.daemon
                .sip
                .digest
                .iter()
                .filter_map(|a| Algorithm::from_name(a))
                .collect()
        };
        let challenge = |svc: &mut Service, stale: bool| {
            let mut r = msg::response_to(req, 401, "Unauthorized");
            for v in svc.nonces.challenge(&realm, &algorithms, stale, now) {
                r.headers.push(msg::make_header("WWW-Authenticate", v));
            }
            r
        };
        let Some(value) = auth_value else {
            return challenge(self, false);
        };
        let creds = match auth::parse_authorization(&value) {
            Ok(c) => c,
            Err(e) if e.is_bad_request() => {
                return msg::response_to(req, 400, "Bad Authorization Header")
            }
            Err(_) => return challenge(self, false),
        };
        // The digest user must be the extension being registered; otherwise the same answer as
        // for a wrong password.
        let ha1 = ext
            .as_ref()
            .filter(|_| creds.username == user)
            .and_then(|e| e.sip.as_ref())
            .map(|s| match creds.algorithm {
                Algorithm::Md5 => s.ha1_md5.clone(),
                Algorithm::Sha256 => s.ha1_sha256.clone(),
            });
        let realm_ok = ext
            .as_ref()
            .and_then(|e| e.sip.as_ref())
            .map(|s| s.realm.clone())
            .unwrap_or(realm.clone());
        match self.nonces.verify(
            &creds,
            "REGISTER",
            request_uri,
            ha1.as_deref(),
            &realm_ok,
            now,
        ) {
            AuthOutcome::Ok => {}
            AuthOutcome::Stale => return challenge(self, true),
            AuthOutcome::Fail(reason) => {
                self.count(|c| c.auth_failed += 1);
                self.alarm(
                    Metric::AuthFailures,
                    &source.ip().to_string(),
                    Some(&tenant.slug),
                    1.0,
                );
                tracing::info!(tenant = %tenant.slug, reason = ?reason, source = %source, "registratie geweigerd");
                return msg::response_to(req, 403, "Forbidden");
            }
        }
        let Some(ext) = ext else {
            return msg::response_to(req, 403, "Forbidden");
        };
        let contacts = self.contacts_of(req);
        let uris: Vec<String> = match &contacts {
            Contacts::List(l) => l.iter().map(|c| c.uri.clone()).collect(),
            _ => Vec::new(),
        };
        let nat = keepalive::register_behind_nat(req, &uris, source, transport);
        let input = RegisterInput {
            tenant: tenant.slug.clone(),
            extension: ext.number.clone(),
            max_registrations: ext.max_registrations,
            call_id: msg::call_id(req).unwrap_or_default().to_string(),
            cseq: msg::cseq(req).map(|c| c.seq).unwrap_or(0),
            source: format!("{}:{source}", transport_name(transport)),
            nat,
            user_agent: header_value(req, "user-agent"),
            contacts,
            expires_header: msg::expires(req),
        };
        let outcome = self.registrar.handle_register(input, unix_ms());
        self.drain_registrar();
        match outcome {
            RegOutcome::Ok { bindings } => {
                self.count(|c| c.registered += 1);
                let mut r = msg::response_to(req, 200, "OK");
                for (b, secs) in bindings {
                    r.headers.push(msg::make_header(
                        "Contact",
                        format!("<{}>;expires={secs}", b.contact),
                    ));
                }
                r
            }
            RegOutcome::IntervalTooBrief { min_expires } => {
                let mut r = msg::response_to(req, 423, "Interval Too Brief");
                r.headers
                    .push(msg::make_header("Min-Expires", min_expires.to_string()));
                r
            }
            RegOutcome::BadRequest(reason) => msg::response_to(req, 400, reason),
            RegOutcome::OutOfOrder => {
                let mut r = msg::response_to(req, 500, "Server Internal Error");
                r.headers
                    .push(msg::make_header("Retry-After", "1".to_string()));
                r
            }
        }
    }

    fn contacts_of(&self, req: &Request) -> Contacts {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter_map(|h| match h {
                msg::Header::Contact(c) => Some(c.value().to_string()),
                _ => None,
            })
            .collect();
        if values.is_empty() {
            return Contacts::Query;
        }
        let mut list = Vec::new();
        for v in values {
            for na in msg::parse_name_addrs(&v, true).unwrap_or_default() {
                if na.uri == "*" {
                    return Contacts::Star;
                }
                let param = |name: &str| {
                    na.params
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name))
                        .and_then(|(_, v)| v.clone())
                };
                list.push(ContactSpec {
                    uri: na.uri.clone(),
                    expires: param("expires").and_then(|e| e.trim_matches('"').parse().ok()),
                    instance: param("+sip.instance").map(|s| s.trim_matches('"').to_string()),
                });
            }
        }
        Contacts::List(list)
    }
    /// Writes the bindings collected since the last time, in one batch.
    fn flush_dirty(&mut self) {
        self.last_dirty_flush = Instant::now();
        if self.dirty.is_empty() {
            return;
        }
        let regs: Vec<Registration> = self.dirty.drain().map(|(_, r)| r).collect();
        if let Err(e) = self.app.store.put_registrations(&regs) {
            tracing::error!(error = %e.msg(), "registraties niet opgeslagen");
            self.alarm(Metric::StoreErrors, "", None, 1.0);
        }
    }
    /// Writes registration changes to the store and the event stream.
    fn drain_registrar(&mut self) {
        while let Some(ch) = self.registrar.poll_change() {
            if let Ok(mut live) = self.live.lock() {
                match &ch {
                    Change::Bound(r) | Change::Refreshed(r) | Change::Reachability(r) => {
                        live.insert(live_key(r), r.clone());
                    }
                    Change::Removed(r) => {
                        live.remove(&live_key(r));
                    }
                }
            }
            match &ch {
                Change::Bound(r) | Change::Refreshed(r) => self.keepalive_track(r),
                Change::Removed(r) => self.keepalive_untrack(r),
                Change::Reachability(_) => {}
            }
            let (change, reg): (&str, Registration) = match ch {
                Change::Bound(r) => {
                    self.dirty.insert(
                        (r.tenant.clone(), r.extension.clone(), r.contact.clone()),
                        r.clone(),
                    );
                    ("registered", r)
                }
                Change::Refreshed(r) => {
                    self.dirty.insert(
                        (r.tenant.clone(), r.extension.clone(), r.contact.clone()),
                        r,
                    );
                    continue;
                }
                Change::Reachability(r) => {
                    self.dirty.insert(
                        (r.tenant.clone(), r.extension.clone(), r.contact.clone()),
                        r.clone(),
                    );
                    (
                        if r.unreachable {
                            "unreachable"
                        } else {
                            "reachable"
                        },
                        r,
                    )
                }
                Change::Removed(r) => {
                    self.dirty
                        .remove(&(r.tenant.clone(), r.extension.clone(), r.contact.clone()));
                    if let Err(e) = self.app.store.remove_registration(&r) {
                        tracing::error!(error = %e.msg(), "registratie niet verwijderd");
                    }
                    (
                        if r.expired(unix_ms()) {
                            "expired"
                        } else {
                            "unregistered"
                        },
                        r,
                    )
                }
            };
            tracing::info!(tenant = %reg.tenant, extension = %reg.extension, change, "registratie");
            let _ = self.app.events.send(Event::Registration {
                change: change.to_string(),
                registration: reg,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_host_of_uris() {
        assert_eq!(
            user_host("sip:1001@acme.example"),
            Some(("1001".into(), "acme.example".into()))
        );
        assert_eq!(
            user_host("sip:1001:pw@Acme.Example:5060;transport=udp"),
            Some(("1001".into(), "acme.example".into()))
        );
        assert_eq!(
            user_host("sip:1001@[::1]:5060"),
            Some(("1001".into(), "::1".into()))
        );
        assert_eq!(
            user_host("sip:acme.example"),
            Some(("".into(), "acme.example".into()))
        );
        assert_eq!(user_host("nonsense"), None);
    }
}

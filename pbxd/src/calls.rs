//! The SIP glue of the B2BUA: turns INVITE, ACK, BYE, CANCEL and the responses of the B legs
//! into `pbx_engine::call::Calls` inputs, and its actions back into SIP requests and responses.
//! It lives inside the SIP service task (`crate::sip::Service`), which owns the transaction
//! layer; media anchoring is in `crate::relay`.
//!
//! A 2xx to an INVITE over UDP is retransmitted by pbxd until its ACK (RFC 6026 leaves that to
//! the TU). Mid-call offers (re-INVITE, UPDATE) are in [`midcall`]. Known limit: there is no
//! Record-Route or Route handling (phones talk to pbxd directly).

mod menu;
mod midcall;
mod routing;

use crate::relay::{Relay, RelayPool};
use crate::sip::header_value;
use crate::sip::{unix_ms, user_host, Service};
use midcall::{allows_update, MidOffer};
use pbx_engine::call::{
    Action, CallRef, CalleeInfo, Calls, Clock, Config as CallConfig, ContactRef, InviteIn, LegId,
    Side,
};
use pbx_engine::tollfraud::{Counters as GuardCounters, Guard};
use pbx_model::{Cdr, Party, TenantStatus};
use pbx_sip::auth::{self, Algorithm, Outcome as AuthOutcome};
use pbx_sip::msg::{self, Request, Response, SipMessage};
use pbx_sip::transaction::{TransportKind, TuEvent, TxKey};
use routing::{LocalApp, Routed, Running};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The caller's side of a call.
struct ASide {
    key: TxKey,
    invite: Request,
    source: SocketAddr,
    transport: TransportKind,
    tenant: String,
    call_id: String,
    /// Our tag in A's dialog (To tag of our answers).
    local_tag: String,
    /// A's From value (with its tag): the To of our requests to A.
    remote: String,
    /// A's To value without tag: the From of our requests to A (we add `local_tag`).
    local: String,
    /// A's Contact URI.
    target: String,
    /// A's From tag.
    invite_from_tag: Option<String>,
    cseq: u32,
    answered: bool,
    /// Answer SDP sent to A, for the CDR codec.
    answer_sdp: Option<String>,
    /// The 2xx sent to A over UDP and not yet ACKed: retransmitted by us (RFC 3261 §13.3.1.4,
    /// RFC 6026 leaves it to the TU).
    ok_retx: Option<OkRetx>,
    /// A listed UPDATE in its Allow.
    allow_update: bool,
}

/// Retransmission state of a 2xx to A.
struct OkRetx {
    response: Response,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

/// RFC 3261 T1 and T2.
const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);

/// One B leg.
struct BLeg {
    key: TxKey,
    invite: Request,
    dest: SocketAddr,
    transport: TransportKind,
    call_id: String,
    local_tag: String,
    from: String,
    to: String,
    remote_tag: Option<String>,
    target: String,
    cseq: u32,
    /// B listed UPDATE in the Allow of its 2xx.
    allow_update: bool,
}

/// The call state of the SIP service.
pub(crate) struct CallGlue {
    core: Calls,
    a: HashMap<CallRef, ASide>,
    by_a_call_id: HashMap<String, CallRef>,
    legs: HashMap<LegId, BLeg>,
    by_b_tx: HashMap<TxKey, LegId>,
    by_b_call_id: HashMap<String, LegId>,
    winner: HashMap<CallRef, LegId>,
    relays: HashMap<CallRef, Relay>,
    pool: Option<RelayPool>,
    /// Mid-call offers being relayed, and their client transactions.
    mid: HashMap<CallRef, MidOffer>,
    by_mid_tx: HashMap<TxKey, CallRef>,
    /// 2xx to a mid-call re-INVITE over UDP, retransmitted until its ACK.
    mid_retx: HashMap<CallRef, (TxKey, OkRetx)>,
    /// The last SDP sent to each side (relay index), for a re-INVITE without SDP.
    last_sdp: HashMap<(CallRef, usize), String>,
    /// When a refusal at the call limit was last put in the audit log, per organisation.
    limit_audited: HashMap<String, Instant>,
    /// When the relays' media activity was last read.
    activity_checked: Instant,
    /// The toll-fraud guard, and its counters as the control API reads them.
    guard: Guard,
    pub(crate) guard_shared: Arc<Mutex<Vec<GuardCounters>>>,
    guard_published: Instant,
    /// pbxd's part in a call, decided at routing, started at `Action::Local`.
    pending_app: HashMap<CallRef, LocalApp>,
    /// pbxd's part under way (announcement, keuzemenu).
    running: HashMap<CallRef, Running>,
    prompts: crate::prompts::Prompts,
    /// When a refusal was last put in the audit log, per organisation and extension/reason.
    refusal_audited: HashMap<(String, String), Instant>,
    /// B legs to trunks: the trunk, and whether the INVITE already carried credentials.
    trunk_legs: HashMap<LegId, (crate::sip::trunks::TrunkKey, bool)>,
    /// Calls that came in over a trunk.
    inbound_trunk: HashMap<CallRef, crate::sip::trunks::TrunkKey>,
}

/// How often the relays' media activity feeds the media timeout.
const ACTIVITY_EVERY: Duration = Duration::from_secs(1);

impl CallGlue {
    pub(crate) fn new(rtp: &pbx_config::RtpConfig, conf_dir: &std::path::Path) -> CallGlue {
        CallGlue {
            core: Calls::new(CallConfig {
                media_timeout: Duration::from_secs(rtp.media_timeout.into()),
                ..CallConfig::default()
            }),
            a: HashMap::new(),
            by_a_call_id: HashMap::new(),
            legs: HashMap::new(),
            by_b_tx: HashMap::new(),
            by_b_call_id: HashMap::new(),
            winner: HashMap::new(),
            relays: HashMap::new(),
            pool: None,
            mid: HashMap::new(),
            by_mid_tx: HashMap::new(),
            mid_retx: HashMap::new(),
            last_sdp: HashMap::new(),
            limit_audited: HashMap::new(),
            activity_checked: Instant::now(),
            guard: Guard::new(),
            guard_shared: Arc::default(),
            guard_published: Instant::now(),
            pending_app: HashMap::new(),
            running: HashMap::new(),
            prompts: crate::prompts::Prompts::new(conf_dir),
            refusal_audited: HashMap::new(),
            trunk_legs: HashMap::new(),
            inbound_trunk: HashMap::new(),
        }
    }
}

pub(crate) fn clock() -> Clock {
    Clock::new(Instant::now(), unix_ms())
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn body_sdp(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    String::from_utf8(body.to_vec()).ok()
}

/// The transport as written in a Via (`UDP`, `TLS`).
fn via_transport_name(t: TransportKind) -> String {
    crate::sip::transport_name(t).to_ascii_uppercase()
}

/// The transport parameter of pbxd's own Contact towards a phone on a WebSocket (RFC 7118
/// §5.2); nothing for the other transports, whose Contact stays as it always was.
fn contact_transport(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Ws => ";transport=ws",
        TransportKind::Wss => ";transport=wss",
        _ => "",
    }
}

/// `udp:127.0.0.1:5070` → transport and address.
fn parse_source(source: &str) -> Option<(TransportKind, SocketAddr)> {
    let (t, addr) = source.split_once(':')?;
    let t = match t {
        "udp" => TransportKind::Udp,
        "tcp" => TransportKind::Tcp,
        "tls" => TransportKind::Tls,
        "ws" => TransportKind::Ws,
        "wss" => TransportKind::Wss,
        _ => return None,
    };
    Some((t, addr.parse().ok()?))
}

fn reason(code: u16) -> &'static str {
    match code {
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "",
    }
}

/// Replaces the body (and Content-Length) of a response.
fn with_body(resp: Response, sdp: Option<&str>) -> Response {
    let Some(sdp) = sdp else { return resp };
    let mut headers = msg::Headers::default();
    for h in resp.headers.iter() {
        if !matches!(
            h,
            msg::Header::ContentLength(_) | msg::Header::ContentType(_)
        ) {
            headers.push(h.clone());
        }
    }
    headers.push(msg::make_header("Content-Type", "application/sdp".into()));
    headers.push(msg::make_header("Content-Length", sdp.len().to_string()));
    Response {
        headers,
        body: sdp.as_bytes().to_vec(),
        ..resp
    }
}

/// Parses a request we built ourselves.
fn build_request(text: String) -> Option<Request> {
    match msg::parse(text.as_bytes(), &msg::Limits::default()) {
        Ok(p) => match p.message {
            SipMessage::Request(r) => Some(r),
            SipMessage::Response(_) => None,
        },
        Err(e) => {
            tracing::warn!(error = ?e, "SIP: eigen verzoek niet te ontleden");
            None
        }
    }
}

fn body_part(sdp: Option<&str>) -> String {
    match sdp {
        Some(s) => format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{s}",
            s.len()
        ),
        None => "Content-Length: 0\r\n\r\n".to_string(),
    }
}

impl Service {
    /// Handles the TU events of calls; gives back the events it does not handle.
    pub(crate) fn call_event(
        &mut self,
        ev: TuEvent,
        request_uri: &str,
        now: Instant,
    ) -> Option<TuEvent> {
        match ev {
            TuEvent::Request { key, request, .. } if request.method == msg::Method::Info => {
                self.on_info(key, &request, now);
                None
            }
            TuEvent::Request {
                key,
                request,
                source,
                transport,
            } if matches!(
                request.method,
                msg::Method::Invite | msg::Method::Bye | msg::Method::Update
            ) =>
            {
                if request.method == msg::Method::Bye {
                    self.on_bye(key, &request, now);
                } else if request.method == msg::Method::Update || msg::to_tag(&request).is_some() {
                    self.on_mid_offer(key, request, transport, now);
                } else {
                    self.on_invite(key, request, request_uri, source, transport, now);
                }
                None
            }
            TuEvent::Response { key, response } if self.calls.by_mid_tx.contains_key(&key) => {
                self.on_mid_response(key, Some(&response), response.status_code.code());
                None
            }
            TuEvent::Timeout { key, .. } if self.calls.by_mid_tx.contains_key(&key) => {
                self.on_mid_response(key, None, 408);
                None
            }
            TuEvent::TransportError { key } if self.calls.by_mid_tx.contains_key(&key) => {
                self.on_mid_response(key, None, 503);
                None
            }
            TuEvent::Response { key, response } if self.calls.by_b_tx.contains_key(&key) => {
                self.on_b_response(key, &response);
                None
            }
            TuEvent::Timeout { key, .. } if self.calls.by_b_tx.contains_key(&key) => {
                self.b_failed(key, 408);
                None
            }
            TuEvent::TransportError { key } if self.calls.by_b_tx.contains_key(&key) => {
                self.b_failed(key, 503);
                None
            }
            TuEvent::Ack { request, .. } => {
                if let Some((call, _)) = self.dialog_of(&request) {
                    self.calls.mid_retx.remove(&call);
                }
                let call = msg::call_id(&request)
                    .and_then(|c| self.calls.by_a_call_id.get(c))
                    .cloned();
                if let Some(call) = call {
                    if let Some(a) = self.calls.a.get_mut(&call) {
                        a.ok_retx = None;
                    }
                    let sdp = body_sdp(&request.body);
                    let _ = self.calls.core.handle_ack(&call, sdp, clock());
                    self.drain_calls(now);
                }
                None
            }
            TuEvent::Cancelled { invite, .. } => {
                let call = self
                    .calls
                    .a
                    .iter()
                    .find(|(_, a)| a.key == invite)
                    .map(|(c, _)| c.clone());
                match call {
                    Some(call) => {
                        let _ = self.calls.core.handle_cancel(&call, clock());
                        self.drain_calls(now);
                    }
                    None => tracing::debug!("SIP: CANCEL voor onbekende INVITE"),
                }
                None
            }
            other => Some(other),
        }
    }

    fn respond(&mut self, key: TxKey, resp: Response, now: Instant) {
        if let Err(e) = self.tx.send_response(key, resp, now) {
            tracing::debug!(error = ?e, "SIP: antwoord niet verstuurd");
        }
    }

    fn on_invite(
        &mut self,
        key: TxKey,
        req: Request,
        request_uri: &str,
        source: SocketAddr,
        transport: TransportKind,
        now: Instant,
    ) {
        let call_id = msg::call_id(&req).unwrap_or_default().to_string();
        if let Some(trunk) = self.trunk_for_source(source) {
            return self.on_trunk_invite(key, req, trunk, source, transport, now);
        }
        let from = header_value(&req, "from");
        let Some((caller_user, host)) = from
            .as_deref()
            .and_then(|v| msg::parse_name_addrs(v, false).ok())
            .and_then(|v| v.into_iter().next())
            .and_then(|na| user_host(&na.uri))
        else {
            return self.respond(key, msg::response_to(&req, 400, "Bad From Header"), now);
        };
        let Some(tenant) = self.tenant_for(&host) else {
            self.count(|c| c.not_from_trunk += 1);
            return self.respond(key, msg::response_to(&req, 404, "Not Found"), now);
        };
        if tenant.status == TenantStatus::Suspended {
            return self.respond(key, msg::response_to(&req, 403, "Forbidden"), now);
        }
        let realm = tenant.realm().to_string();
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
            let mut r = msg::response_to(&req, 407, "Proxy Authentication Required");
            for v in svc.nonces.challenge(&realm, &algorithms, stale, now) {
                r.headers.push(msg::make_header("Proxy-Authenticate", v));
            }
            r
        };
        let Some(value) = header_value(&req, "proxy-authorization") else {
            let r = challenge(self, false);
            return self.respond(key, r, now);
        };
        let creds = match auth::parse_authorization(&value) {
            Ok(c) => c,
            Err(e) if e.is_bad_request() => {
                let r = msg::response_to(&req, 400, "Bad Proxy-Authorization Header");
                return self.respond(key, r, now);
            }
            Err(_) => {
                let r = challenge(self, false);
                return self.respond(key, r, now);
            }
        };
        let ext = self
            .app
            .store
            .extension(&tenant.slug, &creds.username)
            .ok()
            .flatten();
        let ha1 = ext
            .as_ref()
            .filter(|_| creds.username == caller_user)
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
            "INVITE",
            request_uri,
            ha1.as_deref(),
            &realm_ok,
            now,
        ) {
            AuthOutcome::Ok => {}
            AuthOutcome::Stale => {
                let r = challenge(self, true);
                return self.respond(key, r, now);
            }
            AuthOutcome::Fail(why) => {
                self.count(|c| c.auth_failed += 1);
                self.alarm(
                    pbx_engine::alarms::Metric::AuthFailures,
                    &source.ip().to_string(),
                    Some(&tenant.slug),
                    1.0,
                );
                tracing::info!(tenant = %tenant.slug, reason = ?why, "gesprek geweigerd");
                return self.respond(key, msg::response_to(&req, 403, "Forbidden"), now);
            }
        }
        let Some(caller) = ext else {
            return self.respond(key, msg::response_to(&req, 403, "Forbidden"), now);
        };
        let callee_number = user_host(&req.uri.to_string())
            .map(|(u, _)| u)
            .unwrap_or_default();
        if self.calls.by_a_call_id.contains_key(&call_id) {
            return self.respond(key, msg::response_to(&req, 482, "Loop Detected"), now);
        }
        let call = CallRef(format!("c{}", random_hex(8)));
        let privacy = header_value(&req, "privacy").is_some_and(|v| {
            v.split(';')
                .any(|p| matches!(p.trim().to_ascii_lowercase().as_str(), "id" | "user"))
        });
        let routed = self.route_dialled(&tenant.slug, &caller, &callee_number, privacy, &call, now);
        let party = Party {
            number: caller.number.clone(),
            name: caller.name.clone(),
        };
        self.admit_call(
            key,
            req,
            source,
            transport,
            (&tenant.slug, tenant.limits.max_calls),
            call,
            party,
            callee_number,
            routed,
            now,
        );
    }

    /// An INVITE from a trunk: to the organisation of the DID, and its inbound route.
    #[allow(clippy::too_many_arguments)]
    fn on_trunk_invite(
        &mut self,
        key: TxKey,
        req: Request,
        trunk: crate::sip::trunks::TrunkKey,
        source: SocketAddr,
        transport: TransportKind,
        now: Instant,
    ) {
        let call_id = msg::call_id(&req).unwrap_or_default().to_string();
        if self.calls.by_a_call_id.contains_key(&call_id) {
            return self.respond(key, msg::response_to(&req, 482, "Loop Detected"), now);
        }
        let Some(tenant) = self
            .tenant_for_slug(&trunk.0)
            .filter(|t| t.status != TenantStatus::Suspended)
        else {
            return self.respond(
                key,
                msg::response_to(&req, 480, "Temporarily Unavailable"),
                now,
            );
        };
        let call = CallRef(format!("c{}", random_hex(8)));
        let (routed, did) = match self.route_from_trunk(&trunk, &req, &call, now) {
            Ok(r) => r,
            Err(code) => {
                return self.respond(key, msg::response_to(&req, code, reason(code)), now);
            }
        };
        if !self.trunk_take_inbound(&trunk) {
            tracing::info!(tenant = %trunk.0, trunk = %trunk.1, "trunk vol: inkomend gesprek geweigerd");
            return self.respond(key, msg::response_to(&req, 503, "Service Unavailable"), now);
        }
        let from = header_value(&req, "from")
            .and_then(|v| msg::parse_name_addrs(&v, false).ok())
            .and_then(|v| v.into_iter().next());
        let number = from
            .as_ref()
            .and_then(|na| user_host(&na.uri))
            .map(|(u, _)| {
                pbx_model::E164::normalise(&u)
                    .map(|e| e.as_str().to_string())
                    .unwrap_or(u)
            })
            .unwrap_or_else(|| "anonymous".to_string());
        let name = from.and_then(|na| na.display).unwrap_or_default();
        self.calls.inbound_trunk.insert(call.clone(), trunk);
        self.admit_call(
            key,
            req,
            source,
            transport,
            (&tenant.slug, tenant.limits.max_calls),
            call,
            Party { number, name },
            did.as_str().to_string(),
            routed,
            now,
        );
    }

    /// Admits a routed call into the call core: A's side, media anchoring, the guard.
    #[allow(clippy::too_many_arguments)]
    fn admit_call(
        &mut self,
        key: TxKey,
        req: Request,
        source: SocketAddr,
        transport: TransportKind,
        (tenant, max_calls): (&str, u32),
        call: CallRef,
        caller: Party,
        callee_number: String,
        routed: Routed,
        now: Instant,
    ) {
        let call_id = msg::call_id(&req).unwrap_or_default().to_string();
        let from = header_value(&req, "from");
        let caller_user = caller.number.clone();
        let contact = msg::contacts(&req)
            .and_then(|c| c.into_iter().next())
            .map(|na| na.uri)
            .unwrap_or_else(|| format!("sip:{caller_user}@{source}"));
        let to = header_value(&req, "to").unwrap_or_default();
        let offer = body_sdp(&req.body);
        let local = matches!(routed.target, pbx_engine::call::Target::Local);
        // Anchor the media: A's offer goes to B with the relay's address. pbxd's own media
        // (announcement, keuzemenu) answers A's offer itself at `Action::Local`.
        let offer = match (offer, self.relay_for(&call)) {
            (Some(sdp), Some(relay)) => {
                // Behind NAT a phone signals its private address and sends from the public one.
                relay.allow_source_ip(0, source.ip());
                if local {
                    Some(sdp)
                } else {
                    Some(relay.offer_from_a(&sdp))
                }
            }
            (o, _) => o,
        };
        self.calls.a.insert(
            call.clone(),
            ASide {
                key,
                invite: req.clone(),
                source,
                transport,
                tenant: tenant.to_string(),
                call_id: call_id.clone(),
                local_tag: random_hex(6),
                remote: from.unwrap_or_default(),
                local: to,
                target: contact,
                invite_from_tag: msg::from_tag(&req),
                cseq: 0,
                answered: false,
                answer_sdp: None,
                ok_retx: None,
                allow_update: allows_update(crate::sip::header_value(&req, "allow").as_deref()),
            },
        );
        self.calls
            .by_a_call_id
            .insert(call_id.clone(), call.clone());
        if let Some(app) = routed.app {
            self.calls.pending_app.insert(call.clone(), app);
        }
        let inv = InviteIn {
            call_ref: call.clone(),
            call_id,
            tenant: tenant.to_string(),
            tenant_max_calls: max_calls,
            caller,
            callee_number,
            target: routed.target,
            direction: routed.direction,
            emergency: routed.emergency,
            max_call: None,
            offer_sdp: offer,
            max_forwards: msg::max_forwards(&req).unwrap_or(70),
        };
        tracing::info!(%tenant, call = %call, "gesprek");
        if let Err(e) = self.calls.core.handle_invite(inv, clock()) {
            tracing::debug!(error = %e, "SIP: INVITE niet aangenomen");
        }
        if self.calls.core.get(&call).is_some() {
            if let Some(h) = self.app.history.get() {
                let all = u32::try_from(self.calls.core.len()).unwrap_or(u32::MAX);
                h.call_started(tenant, self.calls.core.active(tenant), all);
            }
        }
        // The guard counts outside calls the core admitted (and stops at `Released`).
        if let (Some(class), true) = (routed.outside, self.calls.core.get(&call).is_some()) {
            self.calls.guard.started(call.clone(), tenant, class, now);
        }
        self.drain_calls(now);
    }

    fn callee_info(&self, tenant: &str, number: &str) -> Option<CalleeInfo> {
        let ext = self.app.store.extension(tenant, number).ok().flatten()?;
        let contacts = self
            .registrar
            .bindings(tenant, number)
            .iter()
            // Phones that stopped answering keep-alives (or lost their connection) are not rung.
            .filter(|r| !r.unreachable)
            .map(|r| ContactRef(format!("{}\n{}", r.source, r.contact)))
            .collect();
        Some(CalleeInfo {
            number: ext.number,
            name: ext.name,
            forwarding: ext.forwarding,
            contacts,
        })
    }

    fn relay_for(&mut self, call: &CallRef) -> Option<&mut Relay> {
        if !self.calls.relays.contains_key(call) {
            if self.calls.pool.is_none() {
                let cfg = self.app.config.read().unwrap_or_else(|p| p.into_inner());
                self.calls.pool = Some(RelayPool::new(&cfg.daemon.rtp, self.bound_addr().ip()));
            }
            let relay = self.calls.pool.as_mut()?.open()?;
            self.calls.relays.insert(call.clone(), relay);
        }
        self.calls.relays.get_mut(call)
    }

    fn on_bye(&mut self, key: TxKey, req: &Request, now: Instant) {
        let Some((call, side)) = self.dialog_of(req) else {
            let r = msg::response_to(req, 481, "Call/Transaction Does Not Exist");
            return self.respond(key, r, now);
        };
        self.respond(key, msg::response_to(req, 200, "OK"), now);
        if self.calls.core.handle_bye(&call, side, clock()).is_err() {
            tracing::debug!(call = %call, "SIP: BYE past niet bij het gesprek");
        }
        self.drain_calls(now);
    }

    fn on_b_response(&mut self, key: TxKey, resp: &Response) {
        let Some(leg) = self.calls.by_b_tx.get(&key).cloned() else {
            return;
        };
        let code = resp.status_code.code();
        if matches!(code, 401 | 407) && self.calls.trunk_legs.contains_key(&leg) {
            // The provider wants credentials: once per leg; a second challenge means they
            // were refused, which is the provider failing (the next trunk is tried).
            let code = if self.trunk_auth_retry(&leg, resp) {
                return;
            } else {
                503
            };
            self.calls.core.handle_response(&leg, code, None, clock());
            self.drain_calls(Instant::now());
            return;
        }
        if let Some(b) = self.calls.legs.get_mut(&leg) {
            if code < 300 {
                if let Some(tag) = msg::to_tag(resp) {
                    b.remote_tag = Some(tag);
                }
                if let Some(c) = msg::contacts(resp).and_then(|c| c.into_iter().next()) {
                    b.target = c.uri;
                }
                if code >= 200 {
                    b.allow_update =
                        allows_update(crate::sip::header_value(resp, "allow").as_deref());
                }
            }
        }
        if (200..300).contains(&code) && !self.calls.winner.contains_key(&leg.call) {
            self.calls.winner.insert(leg.call.clone(), leg.clone());
            if let Some(offer) = self
                .calls
                .legs
                .get(&leg)
                .and_then(|b| body_sdp(&b.invite.body))
            {
                self.calls.last_sdp.insert((leg.call.clone(), 1), offer);
            }
        }
        let mut sdp = body_sdp(&resp.body);
        let b_ip = self.calls.legs.get(&leg).map(|b| b.dest.ip());
        if let (Some(s), Some(relay)) = (sdp.as_deref(), self.calls.relays.get_mut(&leg.call)) {
            if let Some(ip) = b_ip {
                relay.allow_source_ip(1, ip);
            }
            sdp = Some(relay.answer_from_b(s));
        }
        self.calls.core.handle_response(&leg, code, sdp, clock());
        self.drain_calls(Instant::now());
    }

    fn b_failed(&mut self, key: TxKey, code: u16) {
        let Some(leg) = self.calls.by_b_tx.get(&key).cloned() else {
            return;
        };
        self.calls.core.handle_response(&leg, code, None, clock());
        self.drain_calls(Instant::now());
    }

    /// Blind transfer by the B side (the softphone's `call:transfer`): `number` is routed with
    /// the rights of `extension` (belplan, belrechten, toll fraud as when it dialled itself);
    /// the relay goes into local mode for A (which keeps its dialog, codec and port) and offers
    /// the new B the media A already has.
    fn blind_transfer(
        &mut self,
        b_call_id: &str,
        extension: &str,
        number: &str,
        now: Instant,
    ) -> Result<(), String> {
        let leg = self
            .calls
            .by_b_call_id
            .get(b_call_id)
            .cloned()
            .ok_or_else(|| "gesprek niet gevonden".to_string())?;
        let call = leg.call.clone();
        if self.calls.winner.get(&call) != Some(&leg) {
            return Err("alleen een verbonden gesprek kan doorverbonden worden".into());
        }
        let view = self
            .calls
            .core
            .get(&call)
            .ok_or_else(|| "gesprek niet gevonden".to_string())?;
        let ext = self
            .app
            .store
            .extension(&view.tenant, extension)
            .ok()
            .flatten()
            .ok_or_else(|| format!("toestel {extension} bestaat niet"))?;
        let routed = self.route_dialled(&view.tenant, &ext, number, false, &call, now);
        if routed.app.is_some() || matches!(routed.target, pbx_engine::call::Target::Local) {
            return Err(format!(
                "{number} is geen toestel of buitennummer: doorverbinden naar een keuzemenu of aankondiging kan niet"
            ));
        }
        if let pbx_engine::call::Target::Reject(code) = routed.target {
            return Err(format!("doorverbinden naar {number} geweigerd ({code})"));
        }
        let a_offer = self
            .calls
            .a
            .get(&call)
            .map(|a| String::from_utf8_lossy(&a.invite.body).into_owned())
            .unwrap_or_default();
        let offer = self.calls.relays.get_mut(&call).and_then(|r| {
            r.answer_locally(&a_offer)?;
            r.connect_b()
        });
        if offer.is_none() {
            return Err("doorverbinden kan niet: de beller spreekt geen G.711".into());
        }
        tracing::info!(tenant = %view.tenant, %call, by = %extension, "gesprek doorverbonden (direct)");
        self.calls
            .core
            .handle_blind_transfer(&call, routed.target, offer, number, clock())
            .map_err(|_| "alleen een verbonden gesprek kan doorverbonden worden".to_string())?;
        self.drain_calls(now);
        // The BYE to the old B went out above; the next answer is the new winner.
        if self.calls.winner.get(&call) == Some(&leg) {
            self.calls.winner.remove(&call);
        }
        Ok(())
    }

    /// Drives the call core's timers.
    /// A request of the control API: list the calls, or hang one up.
    pub(crate) async fn on_control(&mut self, c: crate::sip::Control, now: Instant) {
        match c {
            crate::sip::Control::Calls(tenant, reply) => {
                let views = self.calls.core.list(tenant.as_deref());
                let infos = views
                    .into_iter()
                    .map(|v| {
                        let relay = self.calls.relays.get(&v.id);
                        let mut info = with_quality(call_info(v), relay);
                        if let Some(a) = self.calls.a.get(&CallRef(info.id.clone())) {
                            info.call_id = a.call_id.clone();
                        }
                        info
                    })
                    .collect();
                let _ = reply.send(infos);
            }
            crate::sip::Control::Transfer {
                b_call_id,
                extension,
                number,
                reply,
            } => {
                let r = self.blind_transfer(&b_call_id, &extension, &number, now);
                let _ = reply.send(r);
            }
            crate::sip::Control::Hangup(id, reply) => {
                let call = CallRef(id);
                let ok = self
                    .calls
                    .core
                    .handle_hangup(&call, pbx_model::HangupBy::Systeem, clock())
                    .is_ok();
                if ok {
                    self.drain_calls(now);
                }
                let _ = reply.send(ok);
            }
        }
        self.flush_transmits().await;
    }

    pub(crate) fn call_timers(&mut self, now: Instant) {
        self.retransmit_ok(now);
        if self.calls.core.poll_timeout().is_some_and(|t| t <= now) {
            self.calls.core.handle_timeout(clock());
        }
        // Media activity is read once a second, not on every tick: the media timeout is tens
        // of seconds, and re-arming a timer per call 50 times a second showed in the relay
        // benchmark (bench/media/relay.sh) as a cost per packet.
        if now.duration_since(self.calls.activity_checked) < ACTIVITY_EVERY {
            self.drain_calls(now);
            return;
        }
        self.calls.activity_checked = now;
        let active: Vec<CallRef> = self
            .calls
            .relays
            .iter_mut()
            .filter(|(_, r)| r.take_activity())
            .map(|(c, _)| c.clone())
            .collect();
        for c in active {
            let _ = self.calls.core.handle_media_activity(&c, clock());
        }
        self.drain_calls(now);
    }

    /// Retransmits unACKed 2xx to A; without an ACK after 64·T1 the call is hung up.
    fn retransmit_ok(&mut self, now: Instant) {
        let mut resend = Vec::new();
        let mut dead = Vec::new();
        for (call, a) in self.calls.a.iter_mut() {
            let Some(r) = a.ok_retx.as_mut() else {
                continue;
            };
            if now >= r.give_up {
                a.ok_retx = None;
                dead.push(call.clone());
            } else if now >= r.next {
                r.interval = (r.interval * 2).min(T2);
                r.next = now + r.interval;
                resend.push((a.key, r.response.clone()));
            }
        }
        for (call, (key, r)) in self.calls.mid_retx.iter_mut() {
            if now >= r.give_up {
                dead.push(call.clone());
            } else if now >= r.next {
                r.interval = (r.interval * 2).min(T2);
                r.next = now + r.interval;
                resend.push((*key, r.response.clone()));
            }
        }
        for call in &dead {
            self.calls.mid_retx.remove(call);
        }
        for (key, r) in resend {
            self.respond(key, r, now);
        }
        for call in dead {
            tracing::info!(call = %call, "geen ACK op 200 OK: gesprek beëindigd");
            let _ = self
                .calls
                .core
                .handle_hangup(&call, pbx_model::HangupBy::Systeem, clock());
        }
    }

    /// Turns the actions of the call core into SIP.
    fn drain_calls(&mut self, now: Instant) {
        while let Some(action) = self.calls.core.poll_action() {
            match action {
                Action::SendInvite {
                    leg,
                    contact,
                    sdp,
                    max_forwards,
                } => self.send_invite(leg, &contact, sdp, max_forwards, now),
                Action::Provisional { call, code, sdp } => {
                    self.answer_a(&call, code, sdp.as_deref(), now)
                }
                Action::Answer { call, sdp } => {
                    self.calls.guard.answered(&call, now);
                    if let Some(a) = self.calls.a.get_mut(&call) {
                        a.answered = true;
                        a.answer_sdp = sdp.clone();
                    }
                    if let Some(s) = &sdp {
                        self.calls.last_sdp.insert((call.clone(), 0), s.clone());
                    }
                    self.answer_a(&call, 200, sdp.as_deref(), now)
                }
                Action::Reject { call, code } => self.answer_a(&call, code, None, now),
                Action::Cancel { leg } => self.cancel_b(&leg, now),
                Action::AckB { leg, sdp } => self.ack_b(&leg, sdp.as_deref()),
                Action::AckAndBye { leg } => {
                    self.ack_b(&leg, None);
                    self.bye_b(&leg, now);
                }
                Action::Bye { call, to } => match to {
                    Side::A => self.bye_a(&call, now),
                    Side::B => {
                        if let Some(leg) = self.calls.winner.get(&call).cloned() {
                            self.bye_b(&leg, now);
                        }
                    }
                },
                Action::Reinvite {
                    call,
                    to,
                    method,
                    sdp,
                } => self.send_mid_offer(&call, to, method, sdp, now),
                Action::ReinviteAnswer {
                    call,
                    to,
                    code,
                    sdp,
                } => self.send_mid_answer(&call, to, code, sdp, now),
                Action::NeedTarget { call, number, by } => {
                    let target = self.resolve_forward(&call, &number, &by, now);
                    let _ = self.calls.core.handle_target(&call, target, clock());
                }
                Action::Local { call } => self.start_local(&call, now),
                Action::Event(ev) => self.call_event_out(ev),
                Action::Cdr(cdr) => self.write_cdr(cdr),
                Action::Released { call } => self.release(&call),
            }
        }
    }

    fn write_cdr(&mut self, mut cdr: Cdr) {
        let call = CallRef(cdr.id.clone());
        if let Some(t) = self.calls.inbound_trunk.get(&call) {
            cdr.trunk = Some(t.1.clone());
        }
        if let Some(sdp) = self.calls.a.get(&call).and_then(|a| a.answer_sdp.clone()) {
            if let Some(codec) = first_codec(&sdp) {
                cdr.codecs = vec![codec];
            }
        }
        if let Some(relay) = self.calls.relays.get(&call) {
            // Both legs' codecs: `PCMU→PCMA` when the relay transcoded.
            match relay.codecs() {
                [Some(a), Some(b)] if a != b => cdr.codecs = vec![format!("{a}→{b}")],
                [Some(a), _] => cdr.codecs = vec![a],
                _ => {}
            }
            let codec = cdr.codecs.first().cloned().unwrap_or_default();
            cdr.legs = relay.quality(&codec);
            let view = relay.quality_view();
            if cdr.answer_ms.is_some() {
                cdr.quality = Some(crate::relay::call_quality(&view));
            }
        }
        self.quality_alarms(&cdr);
        self.queue_alarms(&cdr);
        if let Some(h) = self.app.history.get() {
            h.call_done(crate::history::CallDone {
                tenant: cdr.tenant.clone(),
                trunk: cdr.trunk.clone(),
                start_ms: cdr.start_ms,
                answered: cdr.answer_ms.is_some(),
                billsec: cdr.billsec(),
                mos_centi: cdr.quality.as_ref().and_then(|q| q.avg_mos_centi),
            });
        }
        let mos = cdr
            .quality
            .as_ref()
            .and_then(|q| q.avg_mos_centi)
            .map(|m| f64::from(m) / 100.0);
        let dir = serde_json::to_value(cdr.direction)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let key = (cdr.tenant.clone(), dir, cdr.afloop.as_str().to_string());
        self.count(|c| {
            if c.calls.len() < 100_000 || c.calls.contains_key(&key) {
                *c.calls.entry(key).or_insert(0) += 1;
            }
            if let Some(m) = mos {
                let i = crate::sip::MOS_BUCKETS
                    .iter()
                    .position(|b| m <= *b)
                    .unwrap_or(crate::sip::MOS_BUCKETS.len() - 1);
                // Above the last bound counts only in +Inf (the total): kept apart below.
                if m <= crate::sip::MOS_BUCKETS[crate::sip::MOS_BUCKETS.len() - 1] {
                    c.mos_buckets[i] += 1;
                }
                c.mos_sum += m;
                c.mos_count += 1;
            }
        });
        // Notes and afcodering a softphone agent gave during the call go in with it.
        let mut cdr = cdr;
        if let Some((notes, code)) = self
            .app
            .softphone
            .get()
            .and_then(|p| p.take_pending(&cdr.tenant, &cdr.id))
        {
            if let Some(n) = notes {
                cdr.notes = n;
            }
            if code.is_some() {
                cdr.afcodering = code;
            }
        }
        if let Err(e) = self.app.store.append_cdr(&cdr) {
            tracing::error!(error = %e.msg(), "CDR niet opgeslagen");
            self.alarm(pbx_engine::alarms::Metric::StoreErrors, "", None, 1.0);
        }
    }

    /// The quality of a call that ended, for the alarms: per organisation and, over a trunk,
    /// per trunk (`org/trunk`).
    fn quality_alarms(&self, cdr: &Cdr) {
        use pbx_engine::alarms::Metric;
        let Some(q) = &cdr.quality else { return };
        let key = cdr
            .trunk
            .as_ref()
            .map(|t| format!("{}/{t}", cdr.tenant))
            .unwrap_or_default();
        let t = Some(cdr.tenant.as_str());
        if let Some(m) = q.avg_mos_centi {
            self.alarm(Metric::Mos, &key, t, f64::from(m) / 100.0);
        }
        self.alarm(Metric::Loss, &key, t, f64::from(q.loss_centi_pct) / 100.0);
        self.alarm(
            Metric::Jitter,
            &key,
            t,
            f64::from(q.max_jitter_centi_ms) / 100.0,
        );
        if q.one_way {
            self.alarm(Metric::OneWayCalls, &key, t, 1.0);
        }
    }

    /// A call to a wachtrij that nobody answered (the caller hung up, or no member took it):
    /// per queue (`org/number`).
    fn queue_alarms(&self, cdr: &Cdr) {
        use pbx_engine::alarms::Metric;
        if !matches!(
            cdr.afloop,
            pbx_model::Afloop::Geannuleerd | pbx_model::Afloop::GeenAntwoord
        ) {
            return;
        }
        let is_queue = self
            .bundle(&cdr.tenant)
            .is_some_and(|b| b.queues.iter().any(|q| q.number == cdr.callee.number));
        if is_queue {
            let key = format!("{}/{}", cdr.tenant, cdr.callee.number);
            self.alarm(Metric::QueueLost, &key, Some(cdr.tenant.as_str()), 1.0);
        }
    }

    fn release(&mut self, call: &CallRef) {
        if let Some(a) = self.calls.a.remove(call) {
            self.calls.by_a_call_id.remove(&a.call_id);
        }
        self.calls.guard.ended(call);
        self.calls.pending_app.remove(call);
        self.calls.running.remove(call);
        if let Some(t) = self.calls.inbound_trunk.remove(call) {
            self.trunk_release(&t);
        }
        let legs: Vec<LegId> = self
            .calls
            .legs
            .keys()
            .filter(|l| &l.call == call)
            .cloned()
            .collect();
        for l in legs {
            if let Some(b) = self.calls.legs.remove(&l) {
                self.calls.by_b_tx.remove(&b.key);
                self.calls.by_b_call_id.remove(&b.call_id);
            }
            if let Some((t, _)) = self.calls.trunk_legs.remove(&l) {
                self.trunk_release(&t);
            }
        }
        self.calls.winner.remove(call);
        self.calls.mid.remove(call);
        self.calls.mid_retx.remove(call);
        self.calls.by_mid_tx.retain(|_, c| c != call);
        self.calls.last_sdp.remove(&(call.clone(), 0));
        self.calls.last_sdp.remove(&(call.clone(), 1));
        if let Some(relay) = self.calls.relays.remove(call) {
            relay.close();
        }
    }

    fn answer_a(&mut self, call: &CallRef, code: u16, sdp: Option<&str>, now: Instant) {
        let Some(a) = self.calls.a.get(call) else {
            return;
        };
        let contact = format!(
            "<sip:{}{}>",
            self.own_addr_for_phone(a.source, a.transport),
            contact_transport(a.transport)
        );
        let mut r = msg::response_with_tag(&a.invite, code, reason(code), &a.local_tag);
        if code < 300 {
            r.headers.push(msg::make_header("Contact", contact));
        }
        if (200..300).contains(&code) {
            r.headers
                .push(msg::make_header("Allow", crate::sip::ALLOW.to_string()));
        }
        // The softphone's agent inside pbxd learns the call's id (for notes and afcodering).
        if crate::sip::is_attached(a.source) {
            r.headers
                .push(msg::make_header("X-Pbx-Gesprek", call.0.clone()));
        }
        let r = with_body(r, sdp);
        let key = a.key;
        if (200..300).contains(&code) && a.transport == TransportKind::Udp {
            if let Some(a) = self.calls.a.get_mut(call) {
                a.ok_retx = Some(OkRetx {
                    response: r.clone(),
                    next: now + T1,
                    interval: T1,
                    give_up: now + 64 * T1,
                });
            }
        }
        self.respond(key, r, now);
    }

    fn send_invite(
        &mut self,
        leg: LegId,
        contact: &ContactRef,
        sdp: Option<String>,
        max_forwards: u8,
        now: Instant,
    ) {
        let fail = |svc: &mut Service, leg: &LegId| {
            svc.calls.core.handle_response(leg, 503, None, clock());
        };
        if let Some(t) = routing::parse_trunk_contact(contact) {
            return self.send_trunk_invite(leg, t, sdp, max_forwards, now);
        }
        let Some((source, target)) = contact.0.split_once('\n') else {
            return fail(self, &leg);
        };
        let Some((transport, dest)) = parse_source(source) else {
            return fail(self, &leg);
        };
        let Some(a) = self.calls.a.get(&leg.call) else {
            return fail(self, &leg);
        };
        let own = self.own_addr_for_phone(dest, transport);
        let callee = user_host(target).map(|(u, _)| u).unwrap_or_default();
        let caller_uri = a
            .remote
            .split(";tag=")
            .next()
            .unwrap_or(&a.remote)
            .to_string();
        let callee_host = user_host(&a.invite.uri.to_string())
            .map(|(_, h)| h)
            .unwrap_or_default();
        let from = caller_uri;
        let to = format!("<sip:{callee}@{callee_host}>");
        let local_tag = random_hex(6);
        let call_id = format!("{}@pbxd", random_hex(12));
        let branch = format!("z9hG4bK{}", random_hex(10));
        let internal = if crate::sip::is_attached(dest) {
            format!("X-Pbx-Gesprek: {}\r\n", leg.call.0)
        } else {
            String::new()
        };
        let text = format!(
            "INVITE {target} SIP/2.0\r\nVia: SIP/2.0/{} {own};branch={branch};rport\r\nFrom: {from};tag={local_tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:pbxd@{own}{}>\r\nMax-Forwards: {max_forwards}\r\nAllow: {}\r\n{internal}{}",
            via_transport_name(transport),
            contact_transport(transport),
            crate::sip::ALLOW,
            body_part(sdp.as_deref())
        );
        let Some(invite) = build_request(text) else {
            return fail(self, &leg);
        };
        match self.tx.send_request(invite.clone(), dest, transport, now) {
            Ok(key) => {
                self.calls.by_b_tx.insert(key, leg.clone());
                self.calls.by_b_call_id.insert(call_id.clone(), leg.clone());
                self.calls.legs.insert(
                    leg,
                    BLeg {
                        key,
                        invite,
                        dest,
                        transport,
                        call_id,
                        local_tag,
                        from,
                        to,
                        remote_tag: None,
                        target: target.to_string(),
                        cseq: 1,
                        allow_update: false,
                    },
                );
            }
            Err(e) => {
                tracing::debug!(error = ?e, "SIP: INVITE naar B niet verstuurd");
                fail(self, &leg);
            }
        }
    }

    fn cancel_b(&mut self, leg: &LegId, now: Instant) {
        let Some(b) = self.calls.legs.get(leg) else {
            return;
        };
        let mut headers = msg::Headers::default();
        for h in b.invite.headers.iter() {
            match h {
                msg::Header::Via(_)
                | msg::Header::From(_)
                | msg::Header::To(_)
                | msg::Header::CallId(_)
                | msg::Header::MaxForwards(_) => headers.push(h.clone()),
                _ => {}
            }
        }
        headers.push(msg::make_header("CSeq", format!("{} CANCEL", b.cseq)));
        headers.push(msg::make_header("Content-Length", "0".into()));
        let cancel = Request {
            method: msg::Method::Cancel,
            headers,
            body: Vec::new(),
            ..b.invite.clone()
        };
        let (dest, transport) = (b.dest, b.transport);
        if let Err(e) = self.tx.send_request(cancel, dest, transport, now) {
            tracing::debug!(error = ?e, "SIP: CANCEL niet verstuurd");
        }
    }

    fn ack_b(&mut self, leg: &LegId, sdp: Option<&str>) {
        if let Some(d) = self.leg_request(&leg.call, Some(leg), "ACK", false, sdp) {
            self.tx
                .send_stateless(&SipMessage::Request(d.request), d.dest, d.transport);
        }
    }

    fn bye_b(&mut self, leg: &LegId, now: Instant) {
        let sent = self
            .leg_request(&leg.call, Some(leg), "BYE", true, None)
            .map(|d| self.tx.send_request(d.request, d.dest, d.transport, now));
        if let Some(Err(e)) = sent {
            tracing::debug!(error = ?e, "SIP: BYE naar B niet verstuurd");
        }
    }

    fn bye_a(&mut self, call: &CallRef, now: Instant) {
        let sent = self
            .leg_request(call, None, "BYE", true, None)
            .map(|d| self.tx.send_request(d.request, d.dest, d.transport, now));
        if let Some(Err(e)) = sent {
            tracing::debug!(error = ?e, "SIP: BYE naar A niet verstuurd");
        }
    }
}

/// The encoding name of the first codec of the first audio stream of an SDP (`PCMU`).
fn first_codec(sdp: &str) -> Option<String> {
    let sdp: pbx_media::SessionDescription = sdp.parse().ok()?;
    let audio = sdp.media.iter().find(|m| m.media == "audio")?;
    let pt = audio.payload_types().next()?;
    audio.encoding(pt)
}
impl Service {
    /// Tells the relay whether two-way audio is expected now (answered with a B leg, not on
    /// hold), so that one-way audio and dead air are looked for only then.
    fn watch_media(&self, v: &pbx_engine::call::CallView) {
        let answered_b = self.calls.winner.contains_key(&v.id);
        let on = v.state == pbx_engine::call::CallState::Answered && answered_b && !v.on_hold;
        if let Some(r) = self.calls.relays.get(&v.id) {
            r.set_watch(on);
        }
    }

    /// Passes a call event to the control API's event stream.
    fn call_event_out(&mut self, ev: pbx_engine::call::CallEvent) {
        use pbx_engine::call::CallEvent as E;
        let event = match ev {
            E::Started(v) => pbx_api::Event::Call {
                change: "started".into(),
                call: call_info(v),
            },
            E::Ringing(v) => pbx_api::Event::Call {
                change: "ringing".into(),
                call: call_info(v),
            },
            E::Answered(v) => {
                self.watch_media(&v);
                pbx_api::Event::Call {
                    change: "answered".into(),
                    call: call_info(v),
                }
            }
            E::Updated(v) => {
                self.watch_media(&v);
                pbx_api::Event::Call {
                    change: "updated".into(),
                    call: call_info(v),
                }
            }
            E::Ended(v) => pbx_api::Event::Call {
                change: "ended".into(),
                call: call_info(v),
            },
            E::LimitReached {
                tenant,
                limit,
                scope,
            } => {
                tracing::warn!(%tenant, limit, "gesprek geweigerd: limiet bereikt");
                self.alarm(
                    pbx_engine::alarms::Metric::CallLimit,
                    &tenant,
                    Some(&tenant),
                    1.0,
                );
                self.audit_limit(&tenant, limit);
                let scope = if matches!(scope, pbx_engine::call::LimitScope::Tenant) {
                    "tenant"
                } else {
                    "system"
                };
                pbx_api::Event::LimitReached {
                    tenant,
                    limit,
                    scope: scope.into(),
                }
            }
        };
        let _ = self.app.events.send(event);
    }
}

/// The API view of a call.
fn call_info(v: pbx_engine::call::CallView) -> pbx_api::CallInfo {
    let word = |s: String| s.to_ascii_lowercase();
    pbx_api::CallInfo {
        id: v.id.0.clone(),
        call_id: String::new(),
        tenant: v.tenant,
        caller: v.caller,
        callee: v.callee,
        forwarded_to: v.forwarded_to,
        state: word(format!("{:?}", v.state)),
        on_hold: v.on_hold,
        started_ms: v.started_ms,
        answered_ms: v.answered_ms,
        legs: v
            .legs
            .into_iter()
            .map(|l| pbx_api::CallLeg {
                contact: l.contact.0,
                state: word(format!("{:?}", l.state)),
            })
            .collect(),
        quality: Vec::new(),
        one_way: false,
        dead_air: false,
    }
}

/// A call's live media quality from its relay.
fn with_quality(mut info: pbx_api::CallInfo, relay: Option<&Relay>) -> pbx_api::CallInfo {
    let Some(relay) = relay else { return info };
    let v = relay.quality_view();
    let codecs = relay.codecs();
    use crate::relay::{centi, whole_ms};
    info.quality = ["a", "b"]
        .iter()
        .enumerate()
        .map(|(i, leg)| {
            let n = &v.now[i];
            pbx_api::LegLive {
                leg: (*leg).to_string(),
                codec: codecs[i].clone().unwrap_or_default(),
                packets: n.packets,
                loss_centi_pct: centi(n.loss_percent),
                jitter_centi_ms: centi(n.jitter_ms),
                rtt_ms: whole_ms(n.rtt_ms),
                mos_centi: n.mos.map(centi),
                avg_mos_centi: v.avg_mos[i].map(centi),
                history_centi: v.history[i].iter().map(|m| centi(*m)).collect(),
            }
        })
        .collect();
    info.one_way = v.one_way_now;
    info.dead_air = v.dead_air_now;
    info
}

/// At most one audit entry per organisation per this long for calls refused at the limit (a
/// burst of refused calls must not turn into a burst of flushed writes on the SIP task).
const LIMIT_AUDIT_EVERY: Duration = Duration::from_secs(60);

impl Service {
    /// Puts a refusal at the call limit in the audit log (as pbxd itself, uid 0).
    fn audit_limit(&mut self, tenant: &str, limit: u32) {
        let now = Instant::now();
        if self
            .calls
            .limit_audited
            .get(tenant)
            .is_some_and(|t| now.duration_since(*t) < LIMIT_AUDIT_EVERY)
        {
            return;
        }
        self.calls.limit_audited.insert(tenant.to_string(), now);
        self.audit_pbxd(
            "call.limit_reached",
            tenant,
            format!("max_calls {limit}"),
            serde_json::json!({ "max_calls": limit }),
        );
    }

    /// An audit entry made by pbxd itself (uid 0, user `pbxd`): refused calls, limits, toll fraud.
    pub(crate) fn audit_pbxd(
        &self,
        action: &str,
        tenant: &str,
        object: String,
        after: serde_json::Value,
    ) {
        let caller = pbx_api::Caller {
            uid: 0,
            user: Some("pbxd".into()),
            scope: pbx_api::Scope::Beheerder,
        };
        if let Err(e) = self
            .app
            .audit(&caller, action, Some(tenant), object, None, Some(after))
        {
            tracing::error!(error = %e, "auditregel niet geschreven");
        }
    }
}

impl Service {
    /// Sends the INVITE of a trunk attempt: a channel of the trunk, the number at the
    /// provider's host, the caller ID in From and P-Asserted-Identity (anonymous: only asserted,
    /// with `Privacy: id`). No free channel or no address: the attempt fails with 503 at once.
    fn send_trunk_invite(
        &mut self,
        leg: LegId,
        t: routing::TrunkAttempt,
        sdp: Option<String>,
        max_forwards: u8,
        now: Instant,
    ) {
        let key = (t.tenant.clone(), t.trunk.clone());
        let dial = match self.trunk_take(&key) {
            Ok(d) => d,
            Err(code) => {
                self.calls.core.handle_response(&leg, code, None, clock());
                return;
            }
        };
        // Only the trunk's codecs; none in common is the trunk failing (the next is tried).
        let sdp = match sdp.map(|s| routing::restrict_codecs(&s, &dial.codecs)) {
            Some(None) => {
                tracing::info!(tenant = %key.0, trunk = %key.1, "trunk: geen gemeenschappelijke codec");
                self.trunk_release(&key);
                self.calls.core.handle_response(&leg, 503, None, clock());
                return;
            }
            Some(Some(s)) => Some(s),
            None => None,
        };
        let own = self.own_addr_over(dial.dest, dial.transport);
        let host = &dial.host;
        let tparam = if dial.transport == TransportKind::Tcp {
            ";transport=tcp"
        } else {
            ""
        };
        let target = format!("sip:{}@{host}{tparam}", t.number);
        let user = t.caller_id.clone().unwrap_or_else(|| {
            if dial.username.is_empty() {
                "pbxd".to_string()
            } else {
                dial.username.clone()
            }
        });
        let pai = format!("P-Asserted-Identity: <sip:{user}@{host}>\r\n");
        let (from, privacy) = if t.anonymous {
            (
                "\"Anonymous\" <sip:anonymous@anonymous.invalid>".to_string(),
                "Privacy: id\r\n",
            )
        } else {
            (format!("<sip:{user}@{host}>"), "")
        };
        let contact_user = if dial.username.is_empty() {
            "pbxd"
        } else {
            dial.username.as_str()
        };
        let local_tag = random_hex(6);
        let call_id = format!("{}@pbxd", random_hex(12));
        let branch = format!("z9hG4bK{}", random_hex(10));
        let text = format!(
            "INVITE {target} SIP/2.0\r\nVia: SIP/2.0/{} {own};branch={branch};rport\r\nFrom: {from};tag={local_tag}\r\nTo: <{target}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:{contact_user}@{own}{tparam}>\r\n{pai}{privacy}Max-Forwards: {max_forwards}\r\nAllow: {}\r\nUser-Agent: pbxd\r\n{}",
            via_transport_name(dial.transport),
            crate::sip::ALLOW,
            body_part(sdp.as_deref())
        );
        let Some(invite) = build_request(text) else {
            tracing::warn!(tenant = %key.0, trunk = %key.1, "trunk: INVITE niet te maken (nummer of host ongeldig)");
            self.trunk_release(&key);
            self.calls.core.handle_response(&leg, 503, None, clock());
            return;
        };
        tracing::info!(tenant = %key.0, trunk = %key.1, call = %leg.call, "naar buiten via trunk");
        match self
            .tx
            .send_request(invite.clone(), dial.dest, dial.transport, now)
        {
            Ok(tx) => {
                self.calls.by_b_tx.insert(tx, leg.clone());
                self.calls.by_b_call_id.insert(call_id.clone(), leg.clone());
                self.calls.trunk_legs.insert(leg.clone(), (key, false));
                self.calls.legs.insert(
                    leg,
                    BLeg {
                        key: tx,
                        invite,
                        dest: dial.dest,
                        transport: dial.transport,
                        call_id,
                        local_tag,
                        from,
                        to: format!("<{target}>"),
                        remote_tag: None,
                        target,
                        cseq: 1,
                        allow_update: false,
                    },
                );
            }
            Err(e) => {
                tracing::debug!(error = ?e, "SIP: INVITE naar trunk niet verstuurd");
                self.trunk_release(&key);
                self.calls.core.handle_response(&leg, 503, None, clock());
            }
        }
    }

    /// Sends a trunk leg's INVITE again with credentials for the provider's 401/407; false
    /// when it was sent with credentials already or cannot be answered.
    fn trunk_auth_retry(&mut self, leg: &LegId, resp: &Response) -> bool {
        let Some((key, false)) = self.calls.trunk_legs.get(leg).cloned() else {
            return false;
        };
        let Some(b) = self.calls.legs.get(leg) else {
            return false;
        };
        let uri = b.invite.uri.to_string();
        let Some(line) = self.trunk_credentials(&key, resp, "INVITE", &uri) else {
            tracing::warn!(tenant = %key.0, trunk = %key.1, "trunk: uitdaging op INVITE niet te beantwoorden (geen geheim?)");
            return false;
        };
        let Some((name, value)) = line.split_once(": ") else {
            return false;
        };
        let own = self.own_addr_over(b.dest, b.transport);
        let via = via_transport_name(b.transport);
        let cseq = b.cseq + 1;
        let mut headers = msg::Headers::default();
        for h in b.invite.headers.iter() {
            match h {
                msg::Header::Via(_) => headers.push(msg::make_header(
                    "Via",
                    format!("SIP/2.0/{via} {own};branch=z9hG4bK{};rport", random_hex(10)),
                )),
                msg::Header::CSeq(_) => {
                    headers.push(msg::make_header("CSeq", format!("{cseq} INVITE")))
                }
                _ => headers.push(h.clone()),
            }
        }
        let req = Request {
            headers,
            ..b.invite.clone()
        };
        // Through the parser, as every request pbxd sends: the header gets its typed form.
        let text = SipMessage::Request(req).to_string();
        let Some((start, rest)) = text.split_once("\r\n") else {
            return false;
        };
        let Some(req) = build_request(format!("{start}\r\n{name}: {value}\r\n{rest}")) else {
            return false;
        };
        let (dest, transport, old) = (b.dest, b.transport, b.key);
        match self
            .tx
            .send_request(req.clone(), dest, transport, Instant::now())
        {
            Ok(tx) => {
                self.calls.by_b_tx.remove(&old);
                self.calls.by_b_tx.insert(tx, leg.clone());
                if let Some(b) = self.calls.legs.get_mut(leg) {
                    b.key = tx;
                    b.invite = req;
                    b.cseq = cseq;
                }
                if let Some(t) = self.calls.trunk_legs.get_mut(leg) {
                    t.1 = true;
                }
                true
            }
            Err(e) => {
                tracing::debug!(error = ?e, "SIP: INVITE met inloggegevens niet verstuurd");
                false
            }
        }
    }

    /// SIP INFO in a call: 200, and a DTMF key (`application/dtmf-relay`, `application/dtmf`)
    /// from the caller goes to the keuzemenu pbxd runs on the call.
    fn on_info(&mut self, key: TxKey, req: &Request, now: Instant) {
        let Some((call, side)) = self.dialog_of(req) else {
            let r = msg::response_to(req, 481, "Call/Transaction Does Not Exist");
            return self.respond(key, r, now);
        };
        self.respond(key, msg::response_to(req, 200, "OK"), now);
        let ctype = header_value(req, "content-type").unwrap_or_default();
        if side == Side::A {
            if let Some(d) = pbx_media::dtmf_in::parse_info(&ctype, &req.body) {
                self.local_digit(&call, d.digit, now);
            }
        }
    }
}

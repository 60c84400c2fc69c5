//! The browser's phone inside pbxd: one SIP user agent per logged-in user with an extension.
//!
//! The page speaks JSON; this agent turns it into SIP towards pbxd's own SIP task, over an
//! in-process connection (`SipHandle::attach`), so a browser is handled exactly like a SIP
//! phone: registration (only while the agent is beschikbaar, so calls ring only then), digest
//! authentication with the extension's stored HA1, call permissions, forwarding, CDRs,
//! traces, limits. The media of each call is a WebRTC bridge (`pbx_webrtc::Bridge`): the
//! browser's offer is answered by the bridge, and the bridge's plain RTP side is the SDP this
//! agent gives pbxd.
//!
//! The agent is the page's only way in: it acts for one user of one organisation and knows
//! only its own calls.

use crate::sip::webrtc::{media_addr, mirror, plain_codecs, with_direction};
use crate::sip::Attached;
use pbx_sip::auth::{self, Algorithm, Credentials, Qop};
use pbx_sip::msg::{self, Limits, Parsed};
use pbx_softphone::protocol::Refusal;
use pbx_webrtc::{Bridge, BridgeConfig};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Registration lifetime asked for; refreshed at 80 %.
const REGISTER_SECS: u32 = 600;
/// An outgoing request without a final answer this long fails (the SIP task is in-process, so
/// this only happens when it is overloaded).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(32);
/// Calls per agent at most (a call and a consultation, with room for a waiting one).
const MAX_CALLS: usize = 4;

/// What the page asks the agent.
pub enum Cmd {
    /// Register (true) or un-register (false).
    Available(bool),
    /// Call a number with the page's offer.
    Dial {
        nummer: String,
        sdp: String,
        reply: oneshot::Sender<Result<Map<String, Value>, Refusal>>,
    },
    /// Answer a ringing call with the page's offer.
    Answer {
        call: String,
        sdp: String,
        reply: oneshot::Sender<Result<Map<String, Value>, Refusal>>,
    },
    /// Refuse a ringing call.
    Reject {
        call: String,
        reply: oneshot::Sender<Result<Map<String, Value>, Refusal>>,
    },
    /// End a call.
    Hangup {
        call: String,
        reply: oneshot::Sender<Result<Map<String, Value>, Refusal>>,
    },
    /// Hold (true) or take back (false).
    Hold {
        call: String,
        on: bool,
        reply: oneshot::Sender<Result<Map<String, Value>, Refusal>>,
    },
    /// Ruggespraak: hold `call`, call `nummer` with the page's offer.
    Consult {
        call: String,
        nummer: String,
        sdp: String,
        reply: oneshot::Sender<Result<Map<String, Value>, Refusal>>,
    },
    /// Connect the first call with the consulted party (attended transfer), or go back.
    ConsultEnd {
        call: String,
        complete: bool,
        reply: oneshot::Sender<Result<Map<String, Value>, Refusal>>,
    },
    /// Blind transfer of a call to a number.
    Transfer {
        call: String,
        nummer: String,
        reply: oneshot::Sender<Result<Map<String, Value>, Refusal>>,
    },
    /// Digits, as RFC 4733 on the call's media.
    Dtmf {
        call: String,
        digits: String,
        reply: oneshot::Sender<Result<Map<String, Value>, Refusal>>,
    },
    /// New media for a call in progress (the page was reloaded): the page's new offer.
    Reoffer {
        call: String,
        sdp: String,
        reply: oneshot::Sender<Result<Map<String, Value>, Refusal>>,
    },
    /// Send `call:state` of every call in progress (a page that connected again).
    Resend,
    /// The pbxd call id of a call (for notes and afcodering).
    PbxId(String, oneshot::Sender<Option<String>>),
}

/// Who the agent is.
#[derive(Clone, Debug)]
pub struct Account {
    pub tenant: String,
    pub extension: String,
    /// SIP domain of the organisation (the first one): the registrar finds the organisation by it.
    pub domain: String,
    pub realm: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

/// Where the page's events go.
pub trait Pager: Send + Sync + 'static {
    /// An event for every open page of the user.
    fn page(&self, ev: Value);
    /// A call of this agent ended (pbxd id when known, the page's call id, answered or not).
    fn ended(&self, pbx_id: Option<&str>, call: &str, answered: bool);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    In,
    Out,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Outgoing: INVITE sent, no answer yet.
    Dialling,
    /// Ringing (incoming: at the page; outgoing: at the other side).
    Ringing,
    Connected,
    Ended,
}

/// A request of ours waiting for its final answer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    Invite,
    /// The re-INVITE that points a transferred call's media at the other call's relay.
    Hairpin,
    Reinvite(bool),
    Bye,
    Cancel,
}

struct Call {
    dir: Dir,
    state: State,
    /// Dialog.
    call_id: String,
    local_tag: String,
    remote_tag: Option<String>,
    /// Our From / To as sent (outgoing) or received (incoming), without tags.
    local_uri: String,
    remote_uri: String,
    /// Where in-dialog requests go (the other side's Contact).
    target: String,
    cseq: u32,
    /// The INVITE that created an incoming call (for the answers).
    invite: Option<Parsed>,
    /// Outgoing INVITE: its branch and CSeq (for CANCEL and the ACK of a failure).
    branch: String,
    invite_cseq: u32,
    authorised: bool,
    pending: Vec<(String, u32, Pending)>,
    bridge: Option<Bridge>,
    browser_sdp: Option<String>,
    /// pbxd's SDP (its offer, or its answer to ours): where the relay listens.
    relay_sdp: Option<String>,
    sdp_version: u64,
    held: bool,
    number: String,
    name: String,
    since: u64,
    pbx_id: Option<String>,
    dial_reply: Option<oneshot::Sender<Result<Map<String, Value>, Refusal>>>,
    deadline: Option<Instant>,
    /// The second call of a ruggespraak started from this one / the first call of this one.
    consult: Option<String>,
    consult_of: Option<String>,
    /// After a transfer with ruggespraak: the call whose relay this one's media goes to (the
    /// browser is out; the two dialogs stay until one side hangs up), and the SDP it uses.
    paired: Option<String>,
    hairpin_sdp: Option<String>,
    /// The hidden second call of a direct transfer of a call the agent made (see
    /// `transfer_out`): not on the page; answered, it is joined to the first at once.
    hidden: bool,
    /// Since when the browser's media is gone (its bridge closed): a reloaded page has
    /// [`REOFFER_GRACE`] to send `call:reoffer` before the call is hung up.
    gone_at: Option<Instant>,
}

/// How long a call whose browser media went away waits for `call:reoffer` (a page reload).
const REOFFER_GRACE: Duration = Duration::from_secs(10);

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn hex(n: usize) -> String {
    (0..n)
        .map(|_| format!("{:x}", rand::random::<u8>() & 15))
        .collect()
}

/// The SDP that points a transferred call's media at `to` (the other call's relay), one codec
/// and telephone-event.
fn hairpin_sdp(to: SocketAddr, codec: pbx_webrtc::Codec, version: u64) -> String {
    let ip = to.ip();
    let fam = if ip.is_ipv6() { "IP6" } else { "IP4" };
    let pt = codec.default_pt();
    format!(
        "v=0\r\no=- 1 {version} IN {fam} {ip}\r\ns=-\r\nc=IN {fam} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {pt} 101\r\na=rtpmap:{pt} {name}/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
        port = to.port(),
        name = codec.name(),
    )
}

fn user_of(uri_or_name_addr: &str) -> (String, String) {
    // `"Jan" <sip:1001@acme.example>;tag=x` → ("1001", "Jan")
    let name = uri_or_name_addr
        .split('<')
        .next()
        .map(|n| n.trim().trim_matches('"').to_string())
        .unwrap_or_default();
    let uri = uri_or_name_addr
        .split('<')
        .nth(1)
        .and_then(|r| r.split('>').next())
        .unwrap_or(uri_or_name_addr);
    let user = uri
        .trim_start_matches("sips:")
        .trim_start_matches("sip:")
        .trim_start_matches("tel:")
        .split(['@', ';'])
        .next()
        .unwrap_or("")
        .to_string();
    (user, name)
}

fn strip_tag(v: &str) -> String {
    match v.find(";tag=") {
        Some(i) => v[..i].to_string(),
        None => v.to_string(),
    }
}

/// The INVITE's SDP of a call the browser makes: with Opus to the browser the plain side offers
/// Opus first and G.711 as alternatives (the bridge transcodes if the answer picks one).
fn plain_offer(b: &Bridge) -> String {
    if b.codecs().0 == pbx_webrtc::Codec::Opus {
        b.plain_offer_sdp()
    } else {
        b.plain_sdp()
    }
}

fn tag_of(v: &str) -> Option<String> {
    v.split(';')
        .skip(1)
        .find_map(|p| p.trim().strip_prefix("tag="))
        .map(str::to_string)
}

fn contact_uri(v: &str) -> Option<String> {
    let v = v.trim();
    match v.find('<') {
        Some(i) => v[i + 1..].split('>').next().map(str::to_string),
        None => v.split(';').next().map(str::to_string),
    }
}

fn afloop_of(code: u16) -> &'static str {
    match code {
        200..=299 => "beantwoord",
        486 | 600 => "bezet",
        487 => "geannuleerd",
        408 | 480 => "geen_antwoord",
        _ => "mislukt",
    }
}

/// The agent.
pub struct Ua {
    acct: Account,
    conn: Attached,
    sip: crate::sip::SipHandle,
    host: String,
    bridge_cfg: BridgeConfig,
    pager: Arc<dyn Pager>,
    // Registration.
    want_registered: bool,
    reg_call_id: String,
    reg_tag: String,
    reg_cseq: u32,
    reg_tried_auth: bool,
    reg_auth: Option<String>,
    reg_refresh: Option<Instant>,
    reg_expires: u32,
    calls: HashMap<String, Call>,
    limits: Limits,
}

impl Ua {
    /// A new agent on an attached connection.
    pub fn new(
        acct: Account,
        sip: crate::sip::SipHandle,
        conn: Attached,
        bridge_cfg: BridgeConfig,
        pager: Arc<dyn Pager>,
    ) -> Ua {
        Ua {
            acct,
            conn,
            sip,
            host: format!("{}.invalid", hex(12)),
            bridge_cfg,
            pager,
            want_registered: false,
            reg_call_id: format!("{}@softphone", hex(16)),
            reg_tag: hex(8),
            reg_cseq: 0,
            reg_tried_auth: false,
            reg_auth: None,
            reg_refresh: None,
            reg_expires: 0,
            calls: HashMap::new(),
            limits: Limits::default(),
        }
    }

    fn contact(&self) -> String {
        format!("<sip:{}@{};transport=ws>", self.acct.extension, self.host)
    }

    fn via(&self, branch: &str) -> String {
        format!("SIP/2.0/WS {};branch={branch};rport", self.host)
    }

    fn aor(&self) -> String {
        format!("sip:{}@{}", self.acct.extension, self.acct.domain)
    }

    /// Runs until `cmds` closes (the user has no page open and no calls).
    pub async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut open = true;
        loop {
            tokio::select! {
                c = cmds.recv(), if open => match c {
                    Some(c) => self.command(c).await,
                    None => {
                        // Nobody left: hang up the browser's own calls and un-register; calls
                        // transferred after a ruggespraak go on until one side hangs up.
                        open = false;
                        let own: Vec<String> = self
                            .calls
                            .iter()
                            .filter(|(_, c)| c.paired.is_none())
                            .map(|(id, _)| id.clone())
                            .collect();
                        for id in own {
                            self.hangup(&id).await;
                        }
                        if self.reg_expires > 0 {
                            self.want_registered = false;
                            self.register().await;
                        }
                    }
                },
                m = self.conn.from_pbx.recv() => match m {
                    Some(bytes) => self.on_message(bytes).await,
                    None => break,
                },
                _ = tick.tick() => self.timers().await,
            }
            if !open && self.calls.values().all(|c| c.paired.is_none()) {
                break;
            }
        }
        let ids: Vec<String> = self.calls.keys().cloned().collect();
        for id in ids {
            self.hangup(&id).await;
        }
        if self.reg_expires > 0 {
            self.want_registered = false;
            self.register().await;
        }
        for (_, c) in self.calls.drain() {
            if let Some(b) = c.bridge {
                b.close().await;
            }
        }
    }

    async fn send(&self, text: String) {
        let _ = self.conn.send(text.into_bytes()).await;
    }

    // ---- registration ----------------------------------------------------------------------

    async fn register(&mut self) {
        self.reg_cseq += 1;
        let expires = if self.want_registered {
            REGISTER_SECS
        } else {
            0
        };
        let auth = self.reg_auth.take().unwrap_or_default();
        let text = format!(
            "REGISTER sip:{domain} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: <{aor}>;tag={tag}\r\nTo: <{aor}>\r\nCall-ID: {cid}\r\nCSeq: {cseq} REGISTER\r\nContact: {contact}\r\nExpires: {expires}\r\n{auth}User-Agent: pbx-softphone\r\nContent-Length: 0\r\n\r\n",
            domain = self.acct.domain,
            via = self.via(&format!("z9hG4bK{}", hex(16))),
            aor = self.aor(),
            tag = self.reg_tag,
            cid = self.reg_call_id,
            cseq = self.reg_cseq,
            contact = self.contact(),
        );
        self.send(text).await;
    }

    /// Digest credentials answering the challenge in `p` (401 or 407) with the stored HA1.
    fn answer(&self, p: &Parsed, method: &str, uri: &str) -> Option<String> {
        let (header, out) = if p.response().map(|r| u16::from(r.status_code.clone())) == Some(407) {
            ("proxy-authenticate", "Proxy-Authorization")
        } else {
            ("www-authenticate", "Authorization")
        };
        let ch = auth::pick_challenge(p.values(header)).ok()?;
        let ha1 = match ch.algorithm {
            Algorithm::Md5 => &self.acct.ha1_md5,
            Algorithm::Sha256 => &self.acct.ha1_sha256,
        };
        if ch.realm != self.acct.realm {
            tracing::warn!(tenant = %self.acct.tenant, "softphone: uitdaging voor een ander realm");
            return None;
        }
        let qop = ch.qop_auth.then_some(Qop::Auth);
        let mut creds = Credentials {
            username: self.acct.extension.clone(),
            realm: ch.realm.clone(),
            nonce: ch.nonce.clone(),
            uri: uri.to_string(),
            response: String::new(),
            algorithm: ch.algorithm,
            cnonce: qop.map(|_| hex(16)),
            opaque: ch.opaque.clone(),
            qop,
            nc: qop.map(|_| 1),
        };
        creds.response = creds.expected_response(method, ha1);
        Some(format!("{out}: {}\r\n", creds.to_header_value()))
    }

    // ---- the page's commands ---------------------------------------------------------------

    async fn command(&mut self, c: Cmd) {
        match c {
            Cmd::Available(on) => {
                if on != self.want_registered || (on && self.reg_expires == 0) {
                    self.want_registered = on;
                    self.reg_tried_auth = false;
                    self.register().await;
                }
            }
            Cmd::Dial { nummer, sdp, reply } => self.dial(nummer, sdp, reply).await,
            Cmd::Answer { call, sdp, reply } => {
                let r = self.answer_call(&call, &sdp).await;
                let _ = reply.send(r);
            }
            Cmd::Reject { call, reply } => {
                let r = match self.calls.get(&call) {
                    Some(c) if c.dir == Dir::In && c.state == State::Ringing => {
                        self.respond_invite(&call, 603, "Decline", None).await;
                        self.end(&call, 603, "geweigerd").await;
                        Ok(Map::new())
                    }
                    Some(_) => Err(Refusal::new(
                        "ongeldig",
                        "alleen een gesprek dat overgaat kan geweigerd worden",
                    )),
                    None => Err(not_found(&call)),
                };
                let _ = reply.send(r);
            }
            Cmd::Hangup { call, reply } => {
                let r = if self.calls.contains_key(&call) {
                    self.hangup(&call).await;
                    Ok(Map::new())
                } else {
                    Err(not_found(&call))
                };
                let _ = reply.send(r);
            }
            Cmd::Hold { call, on, reply } => {
                let r = self.hold(&call, on).await;
                let _ = reply.send(r);
            }
            Cmd::Consult {
                call,
                nummer,
                sdp,
                reply,
            } => {
                let r = self.consult(&call, nummer, sdp).await;
                let _ = reply.send(r);
            }
            Cmd::ConsultEnd {
                call,
                complete,
                reply,
            } => {
                let r = self.consult_end(&call, complete).await;
                let _ = reply.send(r);
            }
            Cmd::Transfer {
                call,
                nummer,
                reply,
            } => {
                let r = self.transfer(&call, &nummer).await;
                let _ = reply.send(r);
            }
            Cmd::Reoffer { call, sdp, reply } => {
                let r = self.reoffer(&call, sdp).await;
                let _ = reply.send(r);
            }
            Cmd::Dtmf {
                call,
                digits,
                reply,
            } => {
                let r = match self.calls.get(&call).and_then(|c| c.bridge.as_ref()) {
                    Some(b)
                        if self
                            .calls
                            .get(&call)
                            .is_some_and(|c| c.state == State::Connected) =>
                    {
                        b.send_dtmf(&digits);
                        Ok(Map::new())
                    }
                    Some(_) => Err(Refusal::new(
                        "ongeldig",
                        "kiestoetsen kunnen alleen in een verbonden gesprek",
                    )),
                    None => Err(not_found(&call)),
                };
                let _ = reply.send(r);
            }
            Cmd::Resend => {
                let ids: Vec<String> = self.calls.keys().cloned().collect();
                for id in ids {
                    self.page_state(&id);
                }
            }
            Cmd::PbxId(call, reply) => {
                let _ = reply.send(self.calls.get(&call).and_then(|c| c.pbx_id.clone()));
            }
        }
    }

    fn call_json(&self, id: &str, c: &Call) -> Value {
        json!({
            "call": id,
            "state": self.state_word(c),
            "richting": if c.dir == Dir::In { "in" } else { "uit" },
            "nummer": c.number,
            "naam": c.name,
            "sinds": c.since,
            "sdp": c.browser_sdp,
        })
    }

    fn state_word(&self, c: &Call) -> &'static str {
        match (c.state, c.held) {
            (State::Dialling, _) => "kiezen",
            (State::Ringing, _) => "overgaan",
            (State::Connected, true) => "in_de_wacht",
            (State::Connected, false) => "verbonden",
            (State::Ended, _) => "beeindigd",
        }
    }

    fn page_state(&self, id: &str) {
        if let Some(c) = self
            .calls
            .get(id)
            .filter(|c| c.paired.is_none() && !c.hidden)
        {
            let mut v = self.call_json(id, c);
            if let Some(m) = v.as_object_mut() {
                m.insert("type".into(), json!("call:state"));
                m.insert("v".into(), json!(1));
            }
            self.pager.page(v);
        }
    }

    async fn new_bridge(
        &self,
        browser_offer: &str,
        relay_offer: Option<&str>,
    ) -> Result<(Bridge, String), Refusal> {
        self.new_bridge_for(browser_offer, relay_offer, false).await
    }

    /// `to_browser`: the far end is a browser too, so Opus end to end is tried first (the
    /// plain offer keeps G.711 as alternatives, see [`plain_offer`]).
    async fn new_bridge_for(
        &self,
        browser_offer: &str,
        relay_offer: Option<&str>,
        to_browser: bool,
    ) -> Result<(Bridge, String), Refusal> {
        let mut cfg = self.bridge_cfg.clone();
        if to_browser {
            cfg.plain_codecs = vec![
                pbx_webrtc::Codec::Opus,
                pbx_webrtc::Codec::Pcmu,
                pbx_webrtc::Codec::Pcma,
            ];
        }
        if let Some(o) = relay_offer {
            let codecs = plain_codecs(o);
            if codecs.is_empty() {
                return Err(Refusal::new(
                    "niet_beschikbaar",
                    "de andere kant biedt geen G.711 aan",
                ));
            }
            cfg.plain_codecs = codecs;
        }
        Bridge::accept_offer(&cfg, browser_offer)
            .await
            .map_err(|e| Refusal::invalid(format!("WebRTC-aanbod van de browser: {e}")))
    }

    async fn dial(
        &mut self,
        nummer: String,
        sdp: String,
        reply: oneshot::Sender<Result<Map<String, Value>, Refusal>>,
    ) {
        let r = self.start_dial(nummer, sdp, true).await;
        let id = r
            .as_ref()
            .ok()
            .and_then(|m| m["call"].as_str().map(str::to_string));
        let _ = reply.send(r);
        if let Some(id) = id {
            self.page_state(&id);
        }
    }

    /// Starts an outgoing call; the `ok` fields (`call`, `sdp`).
    /// A new call of ours to `nummer`, before its INVITE: no media yet, ringing deadline set.
    fn outgoing(&self, nummer: &str) -> Call {
        Call {
            dir: Dir::Out,
            state: State::Dialling,
            call_id: format!("{}@softphone", hex(20)),
            local_tag: hex(8),
            remote_tag: None,
            local_uri: format!("<{}>", self.aor()),
            remote_uri: format!("<sip:{nummer}@{}>", self.acct.domain),
            target: format!("sip:{nummer}@{}", self.acct.domain),
            cseq: 1,
            invite: None,
            branch: format!("z9hG4bK{}", hex(16)),
            invite_cseq: 1,
            authorised: false,
            pending: Vec::new(),
            bridge: None,
            browser_sdp: None,
            relay_sdp: None,
            sdp_version: 1,
            held: false,
            number: nummer.to_string(),
            name: String::new(),
            since: now_unix(),
            pbx_id: None,
            dial_reply: None,
            deadline: Some(Instant::now() + ANSWER_TIMEOUT),
            consult: None,
            consult_of: None,
            paired: None,
            hairpin_sdp: None,
            hidden: false,
            gone_at: None,
        }
    }

    /// `opus`: Opus end to end may be tried when the number is a browser (not for a
    /// consultation, whose media may later be joined to a G.711 call).
    async fn start_dial(
        &mut self,
        nummer: String,
        sdp: String,
        opus: bool,
    ) -> Result<Map<String, Value>, Refusal> {
        if self.calls.len() >= MAX_CALLS {
            return Err(Refusal::new("bezet", "te veel gesprekken tegelijk"));
        }
        let to_browser = opus
            && nummer.bytes().all(|b| b.is_ascii_digit())
            && self.sip.browser_only(&self.acct.tenant, &nummer);
        let (bridge, answer) = self.new_bridge_for(&sdp, None, to_browser).await?;
        let plain = plain_offer(&bridge);
        let mut call = self.outgoing(&nummer);
        let call_id = call.call_id.clone();
        call.bridge = Some(bridge);
        call.browser_sdp = Some(answer);
        let text = self.invite_text(&mut call, &plain, None);
        call.pending
            .push(("INVITE".into(), call.invite_cseq, Pending::Invite));
        self.calls.insert(call_id.clone(), call);
        self.send(text).await;
        let mut m = Map::new();
        m.insert("call".into(), json!(call_id));
        m.insert(
            "sdp".into(),
            json!(self.calls.get(&call_id).and_then(|c| c.browser_sdp.clone())),
        );
        Ok(m)
    }

    /// Ruggespraak: the first call goes on hold, a second one starts.
    async fn consult(
        &mut self,
        first: &str,
        nummer: String,
        sdp: String,
    ) -> Result<Map<String, Value>, Refusal> {
        match self.calls.get(first) {
            Some(c)
                if c.state == State::Connected && c.consult.is_none() && c.consult_of.is_none() => {
            }
            Some(_) => {
                return Err(Refusal::new(
                    "ongeldig",
                    "ruggespraak kan alleen vanuit een verbonden gesprek zonder andere ruggespraak",
                ))
            }
            None => return Err(not_found(first)),
        }
        if !self.calls.get(first).is_some_and(|c| c.held) {
            self.hold(first, true).await?;
        }
        let m = self.start_dial(nummer, sdp, false).await?;
        let second = m["call"].as_str().unwrap_or_default().to_string();
        if let Some(c) = self.calls.get_mut(first) {
            c.consult = Some(second.clone());
        }
        if let Some(c) = self.calls.get_mut(&second) {
            c.consult_of = Some(first.to_string());
        }
        self.page_state(&second);
        Ok(m)
    }

    /// The end of a ruggespraak: connect the first call's other side with the consulted party
    /// (`complete`), or hang up the second call and take the first back.
    ///
    /// Connecting happens at the media: each dialog gets a re-INVITE that points it at the
    /// other call's relay, so the caller and the consulted party talk relay to relay and the
    /// browser is out. Both dialogs stay (pbxd sees two answered calls) until one side hangs
    /// up; this agent then ends the other. It works whichever way each call went.
    async fn consult_end(
        &mut self,
        first: &str,
        complete: bool,
    ) -> Result<Map<String, Value>, Refusal> {
        let second = match self.calls.get(first) {
            Some(c) => c
                .consult
                .clone()
                .ok_or_else(|| Refusal::new("ongeldig", "er loopt geen ruggespraak"))?,
            None => return Err(not_found(first)),
        };
        if !complete {
            if self.calls.contains_key(&second) {
                self.hangup(&second).await;
            }
            if let Some(c) = self.calls.get_mut(first) {
                c.consult = None;
            }
            self.hold(first, false).await?;
            return Ok(Map::new());
        }
        let (s1, s2) = match (self.calls.get(first), self.calls.get(&second)) {
            (Some(a), Some(b)) if a.state == State::Connected && b.state == State::Connected => (
                a.relay_sdp.clone().unwrap_or_default(),
                b.relay_sdp.clone().unwrap_or_default(),
            ),
            _ => {
                return Err(Refusal::new(
                    "ongeldig",
                    "doorverbinden kan als de ruggespraak is opgenomen",
                ))
            }
        };
        // A call on Opus has a browser at its far end (only browsers get Opus end to end),
        // whose bridge follows a G.711 offer: it can take either law.
        let codecs = |sdp: &str| {
            let c = plain_codecs(sdp);
            if c.iter().any(|x| x.is_g711()) {
                c
            } else {
                vec![pbx_webrtc::Codec::Pcmu, pbx_webrtc::Codec::Pcma]
            }
        };
        let (c1, c2) = (codecs(&s1), codecs(&s2));
        let Some(codec) = [pbx_webrtc::Codec::Pcmu, pbx_webrtc::Codec::Pcma]
            .into_iter()
            .find(|c| c1.contains(c) && c2.contains(c))
        else {
            return Err(Refusal::new(
                "niet_beschikbaar",
                "de twee gesprekken hebben geen gemeenschappelijke G.711-codec",
            ));
        };
        let (Some(to1), Some(to2)) = (media_addr(&s2), media_addr(&s1)) else {
            return Err(Refusal::new("fout", "adres van de spraak onbekend"));
        };
        // The browser's bridges stop before the relays are pointed at each other: a relay
        // learns its peer's address from the first packet after an offer, and a bridge still
        // sending then would be learnt instead of the other relay (1003 hearing the browser).
        let bridges: Vec<Bridge> = [first.to_string(), second.clone()]
            .iter()
            .filter_map(|id| self.calls.get_mut(id).and_then(|c| c.bridge.take()))
            .collect();
        for b in bridges {
            b.close().await;
        }
        for (id, other, to) in [
            (first.to_string(), second.clone(), to1),
            (second.clone(), first.to_string(), to2),
        ] {
            let Some(c) = self.calls.get_mut(&id) else {
                continue;
            };
            c.sdp_version += 1;
            let body = hairpin_sdp(to, codec, c.sdp_version);
            c.hairpin_sdp = Some(body.clone());
            c.paired = Some(other);
            c.consult = None;
            c.consult_of = None;
            c.held = false;
            let (text, cseq) = self.in_dialog_of(&id, "INVITE", "", Some(&body));
            if let Some(c) = self.calls.get_mut(&id) {
                c.pending.push(("INVITE".into(), cseq, Pending::Hairpin));
            }
            self.send(text).await;
        }
        tracing::info!(tenant = %self.acct.tenant, extension = %self.acct.extension, "gesprek doorverbonden na ruggespraak");
        // The browser is out: its legs end for the page (the first one with its wrap-up).
        for id in [first.to_string(), second.clone()] {
            let Some(c) = self.calls.get_mut(&id) else {
                continue;
            };
            if let Some(b) = c.bridge.take() {
                tokio::spawn(b.close());
            }
            if c.hidden {
                continue;
            }
            let (pbx_id, since) = (c.pbx_id.clone(), c.since);
            self.pager.page(json!({
                "v": 1,
                "type": "call:ended",
                "call": id,
                "afloop": "doorverbonden",
                "oorzaak": 200,
                "duur_s": now_unix().saturating_sub(since),
                "gesprek": pbx_id,
            }));
            self.pager.ended(pbx_id.as_deref(), &id, id == first);
        }
        Ok(Map::new())
    }

    fn invite_text(&self, c: &mut Call, sdp: &str, auth: Option<&str>) -> String {
        format!(
            "INVITE {target} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from};tag={tag}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: {cseq} INVITE\r\nContact: {contact}\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE\r\n{auth}User-Agent: pbx-softphone\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            target = c.target,
            via = self.via(&c.branch),
            from = c.local_uri,
            tag = c.local_tag,
            to = c.remote_uri,
            cid = c.call_id,
            cseq = c.invite_cseq,
            contact = self.contact(),
            auth = auth.unwrap_or(""),
            len = sdp.len(),
        )
    }

    /// An in-dialog request of ours.
    fn in_dialog(
        &self,
        c: &mut Call,
        method: &str,
        extra: &str,
        body: Option<&str>,
    ) -> (String, u32) {
        c.cseq += 1;
        let to_tag = c
            .remote_tag
            .as_deref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        let body_part = match body {
            Some(b) => format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            ),
            None => "Content-Length: 0\r\n\r\n".to_string(),
        };
        let text = format!(
            "{method} {target} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from};tag={ltag}\r\nTo: {to}{to_tag}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\nContact: {contact}\r\n{extra}{body_part}",
            target = c.target,
            via = self.via(&format!("z9hG4bK{}", hex(16))),
            from = c.local_uri,
            ltag = c.local_tag,
            to = c.remote_uri,
            cid = c.call_id,
            cseq = c.cseq,
            contact = self.contact(),
        );
        (text, c.cseq)
    }

    async fn answer_call(&mut self, id: &str, sdp: &str) -> Result<Map<String, Value>, Refusal> {
        let relay_offer = match self.calls.get(id) {
            Some(c) if c.dir == Dir::In && c.state == State::Ringing => c.relay_sdp.clone(),
            Some(_) => return Err(Refusal::new("ongeldig", "dit gesprek gaat niet over")),
            None => return Err(not_found(id)),
        };
        let (bridge, answer) = self.new_bridge(sdp, relay_offer.as_deref()).await?;
        if let Some(addr) = relay_offer.as_deref().and_then(media_addr) {
            bridge.set_plain_remote(addr);
        }
        let plain = bridge.plain_sdp();
        let plain = match relay_offer.as_deref() {
            Some(o) => with_direction(&plain, mirror(o), 1),
            None => plain,
        };
        if let Some(c) = self.calls.get_mut(id) {
            c.bridge = Some(bridge);
            c.browser_sdp = Some(answer.clone());
            c.state = State::Connected;
            c.since = now_unix();
        }
        self.respond_invite(id, 200, "OK", Some(&plain)).await;
        self.page_state(id);
        let mut m = Map::new();
        m.insert("sdp".into(), json!(answer));
        Ok(m)
    }

    async fn respond_invite(&mut self, id: &str, code: u16, reason: &str, sdp: Option<&str>) {
        let text = match self.calls.get(id) {
            Some(c) => match &c.invite {
                Some(inv) => self.response(inv, code, reason, Some(&c.local_tag), sdp),
                None => return,
            },
            None => return,
        };
        self.send(text).await;
    }

    /// A response to request `req` (its Via, From, To, Call-ID, CSeq), with our To tag.
    fn response(
        &self,
        req: &Parsed,
        code: u16,
        reason: &str,
        tag: Option<&str>,
        sdp: Option<&str>,
    ) -> String {
        let mut out = format!("SIP/2.0 {code} {reason}\r\n");
        for v in req.values("via") {
            out.push_str(&format!("Via: {v}\r\n"));
        }
        for name in ["from", "call-id", "cseq"] {
            if let Some(v) = req.value(name) {
                let n = match name {
                    "from" => "From",
                    "call-id" => "Call-ID",
                    _ => "CSeq",
                };
                out.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        let to = req.value("to").unwrap_or("");
        match (tag_of(to), tag) {
            (None, Some(t)) if code > 100 => out.push_str(&format!("To: {to};tag={t}\r\n")),
            _ => out.push_str(&format!("To: {to}\r\n")),
        }
        if (200..300).contains(&code) || (101..200).contains(&code) {
            out.push_str(&format!("Contact: {}\r\n", self.contact()));
        }
        match sdp {
            Some(b) => out.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )),
            None => out.push_str("Content-Length: 0\r\n\r\n"),
        }
        out
    }

    async fn hangup(&mut self, id: &str) {
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        match (c.dir, c.state) {
            (Dir::In, State::Ringing) => {
                self.respond_invite(id, 603, "Decline", None).await;
                self.end(id, 603, "geweigerd").await;
            }
            (Dir::Out, State::Dialling | State::Ringing) => {
                // CANCEL the INVITE (same branch, CSeq number).
                let text = format!(
                    "CANCEL {target} SIP/2.0\r\nVia: SIP/2.0/WS {host};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: {from};tag={tag}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: {cseq} CANCEL\r\nContent-Length: 0\r\n\r\n",
                    target = c.target,
                    host = self.host,
                    branch = c.branch,
                    from = c.local_uri,
                    tag = c.local_tag,
                    to = c.remote_uri,
                    cid = c.call_id,
                    cseq = c.invite_cseq,
                );
                c.pending
                    .push(("CANCEL".into(), c.invite_cseq, Pending::Cancel));
                c.deadline = Some(Instant::now() + Duration::from_secs(8));
                self.send(text).await;
            }
            (_, State::Connected) => {
                let (text, cseq) = self.in_dialog_of(id, "BYE", "", None);
                if let Some(c) = self.calls.get_mut(id) {
                    c.pending.push(("BYE".into(), cseq, Pending::Bye));
                }
                self.send(text).await;
                self.end(id, 200, "beantwoord").await;
            }
            _ => {}
        }
    }

    fn in_dialog_of(
        &mut self,
        id: &str,
        method: &str,
        extra: &str,
        body: Option<&str>,
    ) -> (String, u32) {
        let Some(mut c) = self.calls.remove(id) else {
            return (String::new(), 0);
        };
        let r = self.in_dialog(&mut c, method, extra, body);
        self.calls.insert(id.to_string(), c);
        r
    }

    /// Direct doorverbinden: pbxd hands the other side to `nummer` and sends this phone a BYE.
    async fn transfer(&mut self, id: &str, nummer: &str) -> Result<Map<String, Value>, Refusal> {
        match self.calls.get(id) {
            Some(c) if c.state == State::Connected && c.dir == Dir::In => {}
            Some(c) if c.state == State::Connected && c.dir == Dir::Out => {
                return self.transfer_out(id, nummer).await
            }
            Some(_) => {
                return Err(Refusal::new(
                    "ongeldig",
                    "alleen een verbonden gesprek kan doorverbonden worden",
                ))
            }
            None => return Err(not_found(id)),
        }
        let (call_id, ext, number) = (
            id.to_string(),
            self.acct.extension.clone(),
            nummer.to_string(),
        );
        let r = self
            .sip
            .ask_async(|reply| crate::sip::Control::Transfer {
                b_call_id: call_id,
                extension: ext,
                number,
                reply,
            })
            .await;
        match r {
            Some(Ok(())) => Ok(Map::new()),
            Some(Err(why)) => Err(Refusal::new("geweigerd", why)),
            None => Err(Refusal::new("fout", "de SIP-dienst antwoordt niet")),
        }
    }

    /// Direct transfer of a call the agent made (pbxd's B2BUA can only give a new B side to an
    /// incoming call): the call goes on hold and a hidden second call to `nummer` starts whose
    /// media already points at the first call's relay; when it is answered the two are joined
    /// as after a ruggespraak and the browser is out. If it fails, the first call comes back
    /// off hold and the page gets an `error` (code `doorverbinden`).
    async fn transfer_out(
        &mut self,
        first: &str,
        nummer: &str,
    ) -> Result<Map<String, Value>, Refusal> {
        let relay = match self.calls.get(first) {
            Some(c) if c.consult.is_none() && c.consult_of.is_none() && c.paired.is_none() => {
                c.relay_sdp.clone().unwrap_or_default()
            }
            Some(_) => {
                return Err(Refusal::new(
                    "ongeldig",
                    "doorverbinden kan niet tijdens een ruggespraak",
                ))
            }
            None => return Err(not_found(first)),
        };
        if nummer.is_empty()
            || nummer.len() > 32
            || !nummer
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'+' || b == b'*' || b == b'#')
        {
            return Err(Refusal::invalid("ongeldig nummer"));
        }
        let codecs = plain_codecs(&relay);
        let codec = if codecs.contains(&pbx_webrtc::Codec::Pcma)
            && !codecs.contains(&pbx_webrtc::Codec::Pcmu)
        {
            pbx_webrtc::Codec::Pcma
        } else {
            pbx_webrtc::Codec::Pcmu
        };
        let Some(to) = media_addr(&relay) else {
            return Err(Refusal::new("fout", "adres van de spraak onbekend"));
        };
        if !self.calls.get(first).is_some_and(|c| c.held) {
            self.hold(first, true).await?;
        }
        let body = hairpin_sdp(to, codec, 1);
        let mut call = self.outgoing(nummer);
        let call_id = call.call_id.clone();
        call.consult_of = Some(first.to_string());
        call.hairpin_sdp = Some(body.clone());
        call.hidden = true;
        let text = self.invite_text(&mut call, &body, None);
        call.pending
            .push(("INVITE".into(), call.invite_cseq, Pending::Invite));
        self.calls.insert(call_id.clone(), call);
        if let Some(c) = self.calls.get_mut(first) {
            c.consult = Some(call_id);
        }
        self.send(text).await;
        Ok(Map::new())
    }

    /// The hidden call of `transfer_out` ended without being joined: the first call is taken
    /// back and the page told why.
    async fn transfer_out_failed(&mut self, first: &str, nummer: &str, code: u16) {
        tracing::info!(tenant = %self.acct.tenant, extension = %self.acct.extension, nummer, code, "direct doorverbinden mislukt; het gesprek is terug");
        if let Some(c) = self.calls.get_mut(first) {
            c.consult = None;
        }
        if self.calls.contains_key(first) {
            let _ = self.hold(first, false).await;
        }
        self.pager.page(json!({
            "v": 1,
            "type": "error",
            "code": "doorverbinden",
            "call": first,
            "message": format!("doorverbinden naar {nummer} mislukt ({}); het gesprek is terug", afloop_of(code)),
        }));
    }

    /// `call:reoffer`: the page lost its media (reloaded) while the call goes on. A new bridge
    /// answers the new offer with the codec of the call's relay; the old bridge stops; pbxd's
    /// relay learns the new plain address from a re-INVITE (same direction as before), so the
    /// other side keeps its dialog and hears the browser again.
    async fn reoffer(&mut self, id: &str, sdp: String) -> Result<Map<String, Value>, Refusal> {
        let (relay, held) = match self.calls.get(id) {
            Some(c) if c.state == State::Connected && c.paired.is_none() && !c.hidden => {
                if c.pending
                    .iter()
                    .any(|p| matches!(p.2, Pending::Reinvite(_)))
                {
                    return Err(Refusal::new(
                        "ongeldig",
                        "er loopt al een wijziging; probeer het zo opnieuw",
                    ));
                }
                (c.relay_sdp.clone().unwrap_or_default(), c.held)
            }
            Some(_) => {
                return Err(Refusal::new(
                    "ongeldig",
                    "alleen een verbonden gesprek krijgt nieuwe spraak",
                ))
            }
            None => return Err(not_found(id)),
        };
        let (bridge, answer) = self.new_bridge(&sdp, Some(&relay)).await?;
        if let Some(addr) = media_addr(&relay) {
            bridge.set_plain_remote(addr);
        }
        let (plain, version) = {
            let Some(c) = self.calls.get_mut(id) else {
                return Err(not_found(id));
            };
            if let Some(old) = c.bridge.replace(bridge) {
                tokio::spawn(old.close());
            }
            c.browser_sdp = Some(answer.clone());
            c.sdp_version += 1;
            (
                c.bridge.as_ref().map(|b| b.plain_sdp()).unwrap_or_default(),
                c.sdp_version,
            )
        };
        let body = with_direction(&plain, if held { "sendonly" } else { "sendrecv" }, version);
        let (text, cseq) = self.in_dialog_of(id, "INVITE", "", Some(&body));
        if let Some(c) = self.calls.get_mut(id) {
            c.pending
                .push(("INVITE".into(), cseq, Pending::Reinvite(held)));
        }
        self.send(text).await;
        tracing::info!(tenant = %self.acct.tenant, extension = %self.acct.extension, "softphone: spraak van een lopend gesprek hersteld");
        let mut m = Map::new();
        m.insert("call".into(), json!(id));
        m.insert("sdp".into(), json!(answer));
        Ok(m)
    }

    async fn hold(&mut self, id: &str, on: bool) -> Result<Map<String, Value>, Refusal> {
        let (plain, version) = match self.calls.get_mut(id) {
            Some(c) if c.state == State::Connected => {
                if c.pending
                    .iter()
                    .any(|p| matches!(p.2, Pending::Reinvite(_)))
                {
                    return Err(Refusal::new(
                        "ongeldig",
                        "er loopt al een wijziging; probeer het zo opnieuw",
                    ));
                }
                c.sdp_version += 1;
                (
                    c.bridge.as_ref().map(|b| b.plain_sdp()).unwrap_or_default(),
                    c.sdp_version,
                )
            }
            Some(_) => {
                return Err(Refusal::new(
                    "ongeldig",
                    "alleen een verbonden gesprek kan in de wacht",
                ))
            }
            None => return Err(not_found(id)),
        };
        let body = with_direction(&plain, if on { "sendonly" } else { "sendrecv" }, version);
        let (text, cseq) = self.in_dialog_of(id, "INVITE", "", Some(&body));
        if let Some(c) = self.calls.get_mut(id) {
            c.pending
                .push(("INVITE".into(), cseq, Pending::Reinvite(on)));
        }
        self.send(text).await;
        Ok(Map::new())
    }

    /// The call is over for the page (CDR and afronding follow).
    async fn end(&mut self, id: &str, code: u16, afloop: &str) {
        let Some(mut c) = self.calls.remove(id) else {
            return;
        };
        if c.state == State::Ended {
            return;
        }
        c.state = State::Ended;
        if c.hidden {
            if let Some(first) = c.consult_of.clone() {
                self.transfer_out_failed(&first, &c.number, code).await;
            }
            return;
        }
        // A direct transfer still ringing for this call goes with it.
        if let Some(second) = c.consult.clone() {
            if self.calls.get(&second).is_some_and(|s| s.hidden) {
                if let Some(s) = self.calls.get_mut(&second) {
                    s.consult_of = None;
                }
                Box::pin(self.hangup(&second)).await;
            }
        }
        if let Some(r) = c.dial_reply.take() {
            let _ = r.send(Err(Refusal::new(
                "mislukt",
                format!("gesprek mislukt ({code})"),
            )));
        }
        let duur = now_unix().saturating_sub(c.since);
        self.pager.page(json!({
            "v": 1,
            "type": "call:ended",
            "call": id,
            "afloop": afloop,
            "oorzaak": code,
            "duur_s": duur,
            "gesprek": c.pbx_id,
        }));
        self.pager
            .ended(c.pbx_id.as_deref(), id, afloop == "beantwoord");
        if let Some(b) = c.bridge.take() {
            tokio::spawn(b.close());
        }
        // Answers to a BYE or CANCEL still in flight are ignored from here on.
    }

    // ---- messages from pbxd ----------------------------------------------------------------

    async fn on_message(&mut self, bytes: Vec<u8>) {
        let Ok(p) = msg::parse(&bytes, &self.limits) else {
            tracing::debug!("softphone: onleesbaar bericht van de SIP-dienst");
            return;
        };
        if let Some(r) = p.response() {
            let code = u16::from(r.status_code.clone());
            self.on_response(&p, code).await;
        } else {
            self.on_request(&p).await;
        }
    }

    async fn on_response(&mut self, p: &Parsed, code: u16) {
        let Some(cseq) = p.value("cseq").and_then(msg::parse_cseq) else {
            return;
        };
        let call_id = p.value("call-id").unwrap_or("").to_string();
        let method = cseq.method.to_string().to_ascii_uppercase();
        if call_id == self.reg_call_id && method == "REGISTER" {
            return self.on_register_response(p, code).await;
        }
        let Some(c) = self.calls.get_mut(&call_id) else {
            return;
        };
        let Some(i) = c
            .pending
            .iter()
            .position(|(m, n, _)| *m == method && *n == cseq.seq)
        else {
            // A retransmitted 2xx of an INVITE: ACK again.
            if method == "INVITE" && (200..300).contains(&code) {
                let ack = self.ack_text(&call_id, cseq.seq);
                self.send(ack).await;
            }
            return;
        };
        if code < 200 {
            if c.dir == Dir::Out && c.state == State::Dialling && (180..=183).contains(&code) {
                c.state = State::Ringing;
                if let Some(t) = p.value("to").and_then(tag_of) {
                    c.remote_tag.get_or_insert(t);
                }
                self.page_state(&call_id);
            }
            return;
        }
        let (_, _, what) = c.pending.remove(i);
        match what {
            Pending::Invite => self.on_invite_final(p, &call_id, code, cseq.seq).await,
            Pending::Reinvite(on) => {
                if (200..300).contains(&code) {
                    let ack = self.ack_text(&call_id, cseq.seq);
                    self.send(ack).await;
                    if let Some(c) = self.calls.get_mut(&call_id) {
                        c.held = on;
                    }
                    self.page_state(&call_id);
                } else {
                    self.pager.page(json!({"v":1,"type":"error","code":"mislukt","message": format!("in de wacht zetten mislukt ({code})"), "call": call_id}));
                }
            }
            Pending::Hairpin => {
                if (200..300).contains(&code) {
                    let ack = self.ack_text(&call_id, cseq.seq);
                    self.send(ack).await;
                } else {
                    tracing::warn!(tenant = %self.acct.tenant, code, "doorverbinden na ruggespraak mislukt: beide gesprekken opgehangen");
                    let partner = self.calls.get(&call_id).and_then(|c| c.paired.clone());
                    self.drop_paired(&call_id).await;
                    if let Some(p) = partner {
                        self.drop_paired(&p).await;
                    }
                }
            }
            Pending::Bye | Pending::Cancel => {}
        }
    }

    /// Ends one dialog of a transferred pair with BYE, without telling the page (it was told).
    async fn drop_paired(&mut self, id: &str) {
        if !self.calls.contains_key(id) {
            return;
        }
        let (text, _) = self.in_dialog_of(id, "BYE", "", None);
        self.calls.remove(id);
        self.send(text).await;
    }

    fn ack_text(&self, id: &str, seq: u32) -> String {
        let Some(c) = self.calls.get(id) else {
            return String::new();
        };
        let to_tag = c
            .remote_tag
            .as_deref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        format!(
            "ACK {target} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from};tag={tag}\r\nTo: {to}{to_tag}\r\nCall-ID: {cid}\r\nCSeq: {seq} ACK\r\nContent-Length: 0\r\n\r\n",
            target = c.target,
            via = self.via(&format!("z9hG4bK{}", hex(16))),
            from = c.local_uri,
            tag = c.local_tag,
            to = c.remote_uri,
            cid = c.call_id,
        )
    }

    async fn on_invite_final(&mut self, p: &Parsed, id: &str, code: u16, seq: u32) {
        let to = p.value("to").unwrap_or("").to_string();
        if (200..300).contains(&code) {
            let sdp = String::from_utf8_lossy(&p_body(p)).to_string();
            let pbx_id = p.value("x-pbx-gesprek").map(str::to_string);
            let Some(c) = self.calls.get_mut(id) else {
                return;
            };
            c.remote_tag = tag_of(&to).or(c.remote_tag.take());
            if let Some(t) = p.value("contact").and_then(contact_uri) {
                c.target = t;
            }
            if let (Some(b), Some(addr)) = (c.bridge.as_ref(), media_addr(&sdp)) {
                b.set_plain_remote(addr);
                b.set_plain_answer(&sdp);
            }
            c.relay_sdp = Some(sdp);
            c.state = State::Connected;
            c.since = now_unix();
            c.deadline = None;
            if pbx_id.is_some() {
                c.pbx_id = pbx_id;
            }
            let ack = self.ack_text(id, seq);
            self.send(ack).await;
            let join = self
                .calls
                .get(id)
                .filter(|c| c.hidden)
                .and_then(|c| c.consult_of.clone());
            if let Some(first) = join {
                if let Err(e) = self.consult_end(&first, true).await {
                    tracing::warn!(tenant = %self.acct.tenant, reden = %e.message, "direct doorverbinden: samenvoegen mislukt");
                    // Its end takes the first call back (see `end`).
                    self.hangup(id).await;
                }
                return;
            }
            self.page_state(id);
            return;
        }
        // A failure: ACK it (same branch as the INVITE, To with its tag).
        let (branch, target, from, ltag, cid) = match self.calls.get(id) {
            Some(c) => (
                c.branch.clone(),
                c.target.clone(),
                c.local_uri.clone(),
                c.local_tag.clone(),
                c.call_id.clone(),
            ),
            None => return,
        };
        let ack = format!(
            "ACK {target} SIP/2.0\r\nVia: SIP/2.0/WS {host};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: {from};tag={ltag}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: {seq} ACK\r\nContent-Length: 0\r\n\r\n",
            host = self.host
        );
        self.send(ack).await;
        let retry =
            (code == 401 || code == 407) && self.calls.get(id).is_some_and(|c| !c.authorised);
        if retry {
            let uri = self
                .calls
                .get(id)
                .map(|c| c.target.clone())
                .unwrap_or_default();
            if let Some(auth) = self.answer(p, "INVITE", &uri) {
                let Some(mut c) = self.calls.remove(id) else {
                    return;
                };
                c.authorised = true;
                c.invite_cseq += 1;
                c.cseq = c.invite_cseq;
                c.branch = format!("z9hG4bK{}", hex(16));
                let plain = match c.bridge.as_ref() {
                    Some(b) => plain_offer(b),
                    None => c.hairpin_sdp.clone().unwrap_or_default(),
                };
                let text = self.invite_text(&mut c, &plain, Some(&auth));
                c.pending
                    .push(("INVITE".into(), c.invite_cseq, Pending::Invite));
                self.calls.insert(id.to_string(), c);
                self.send(text).await;
                return;
            }
        }
        let word = afloop_of(code);
        self.end(id, code, word).await;
    }

    async fn on_register_response(&mut self, p: &Parsed, code: u16) {
        match code {
            100..=199 => {}
            200..=299 => {
                self.reg_tried_auth = false;
                let expires = p
                    .value("contact")
                    .and_then(|c| {
                        c.split(';')
                            .find_map(|x| x.trim().strip_prefix("expires=").map(str::to_string))
                    })
                    .and_then(|e| e.parse::<u32>().ok())
                    .or_else(|| p.value("expires").and_then(|e| e.parse().ok()))
                    .unwrap_or(if self.want_registered {
                        REGISTER_SECS
                    } else {
                        0
                    });
                self.reg_expires = if self.want_registered { expires } else { 0 };
                self.reg_refresh = (self.want_registered && expires > 0)
                    .then(|| Instant::now() + Duration::from_secs(u64::from(expires) * 4 / 5));
                tracing::info!(tenant = %self.acct.tenant, extension = %self.acct.extension, registered = self.want_registered, "softphone: registratie");
            }
            401 | 407 if !self.reg_tried_auth => {
                self.reg_tried_auth = true;
                let uri = format!("sip:{}", self.acct.domain);
                self.reg_auth = self.answer(p, "REGISTER", &uri);
                if self.reg_auth.is_some() {
                    self.register().await;
                }
            }
            _ => {
                tracing::warn!(tenant = %self.acct.tenant, extension = %self.acct.extension, code, "softphone: registratie mislukt");
                self.pager.page(json!({"v":1,"type":"error","code":"registratie","message": format!("aanmelden bij de telefooncentrale mislukt ({code})")}));
                self.reg_refresh = Some(Instant::now() + Duration::from_secs(30));
                self.reg_tried_auth = false;
            }
        }
    }

    async fn on_request(&mut self, p: &Parsed) {
        let method = p.method_name().to_ascii_uppercase();
        let call_id = p.value("call-id").unwrap_or("").to_string();
        match method.as_str() {
            "INVITE" => {
                let to_tag = p.value("to").and_then(tag_of);
                if to_tag.is_some() {
                    return self.on_reinvite(p, &call_id).await;
                }
                if self.calls.contains_key(&call_id) {
                    // A retransmission: the answers go out again when they are given.
                    return;
                }
                if self.calls.len() >= MAX_CALLS || !self.want_registered {
                    let t = self.response(p, 486, "Busy Here", Some(&hex(8)), None);
                    return self.send(t).await;
                }
                let from = p.value("from").unwrap_or("").to_string();
                let (number, name) = user_of(&from);
                let sdp = String::from_utf8_lossy(&p_body(p)).to_string();
                let call = Call {
                    dir: Dir::In,
                    state: State::Ringing,
                    call_id: call_id.clone(),
                    local_tag: hex(8),
                    remote_tag: tag_of(&from),
                    local_uri: strip_tag(p.value("to").unwrap_or("")),
                    remote_uri: strip_tag(&from),
                    target: p.value("contact").and_then(contact_uri).unwrap_or_default(),
                    cseq: 0,
                    invite: Some(p.clone()),
                    branch: String::new(),
                    invite_cseq: 0,
                    authorised: true,
                    pending: Vec::new(),
                    bridge: None,
                    browser_sdp: None,
                    relay_sdp: (!sdp.is_empty()).then_some(sdp),
                    sdp_version: 1,
                    held: false,
                    number: number.clone(),
                    name: name.clone(),
                    since: now_unix(),
                    pbx_id: p.value("x-pbx-gesprek").map(str::to_string),
                    dial_reply: None,
                    deadline: None,
                    consult: None,
                    consult_of: None,
                    paired: None,
                    hairpin_sdp: None,
                    hidden: false,
                    gone_at: None,
                };
                self.calls.insert(call_id.clone(), call);
                self.respond_invite(&call_id, 180, "Ringing", None).await;
                self.pager.page(json!({
                    "v": 1,
                    "type": "call:incoming",
                    "call": call_id,
                    "van": number,
                    "naam": name,
                    "gesprek": self.calls.get(&call_id).and_then(|c| c.pbx_id.clone()),
                }));
            }
            "ACK" => {}
            "CANCEL" => {
                let t = self.response(p, 200, "OK", None, None);
                self.send(t).await;
                if self
                    .calls
                    .get(&call_id)
                    .is_some_and(|c| c.dir == Dir::In && c.state == State::Ringing)
                {
                    self.respond_invite(&call_id, 487, "Request Terminated", None)
                        .await;
                    self.end(&call_id, 487, "geannuleerd").await;
                }
            }
            "BYE" => {
                let known = self.calls.contains_key(&call_id);
                let t = if known {
                    self.response(p, 200, "OK", None, None)
                } else {
                    self.response(p, 481, "Call/Transaction Does Not Exist", None, None)
                };
                self.send(t).await;
                let partner = self.calls.get(&call_id).and_then(|c| c.paired.clone());
                if let Some(partner) = partner {
                    // One side of a transferred pair hung up: the other one ends too.
                    self.calls.remove(&call_id);
                    self.drop_paired(&partner).await;
                } else if known {
                    self.end(&call_id, 200, "beantwoord").await;
                }
            }
            "OPTIONS" | "INFO" | "NOTIFY" => {
                let t = self.response(p, 200, "OK", None, None);
                self.send(t).await;
            }
            "UPDATE" => self.on_reinvite(p, &call_id).await,
            _ => {
                let t = self.response(p, 501, "Not Implemented", None, None);
                self.send(t).await;
            }
        }
    }

    /// A re-INVITE or UPDATE from pbxd (the other side holds, or the media moves).
    async fn on_reinvite(&mut self, p: &Parsed, id: &str) {
        let offer = String::from_utf8_lossy(&p_body(p)).to_string();
        let Some(c) = self.calls.get_mut(id) else {
            let t = self.response(p, 481, "Call/Transaction Does Not Exist", None, None);
            return self.send(t).await;
        };
        let Some(b) = c.bridge.as_ref() else {
            // A transferred pair: its media stays relay to relay.
            let t = match c.hairpin_sdp.clone() {
                Some(h) => {
                    c.sdp_version += 1;
                    let dir = if offer.is_empty() {
                        "sendrecv"
                    } else {
                        mirror(&offer)
                    };
                    let body = with_direction(&h, dir, c.sdp_version);
                    self.response(p, 200, "OK", None, Some(&body))
                }
                None => self.response(p, 491, "Request Pending", None, None),
            };
            return self.send(t).await;
        };
        if !offer.is_empty() {
            crate::sip::webrtc::follow_offer(b, &offer);
        }
        let plain = b.plain_sdp();
        if !offer.is_empty() {
            if let Some(addr) = media_addr(&offer) {
                b.set_plain_remote(addr);
            }
            c.relay_sdp = Some(offer.clone());
        }
        c.sdp_version += 1;
        let dir = if offer.is_empty() {
            "sendrecv"
        } else {
            mirror(&offer)
        };
        let body = with_direction(&plain, dir, c.sdp_version);
        let t = self.response(p, 200, "OK", None, Some(&body));
        self.send(t).await;
    }

    async fn timers(&mut self) {
        let now = Instant::now();
        if self.reg_refresh.is_some_and(|t| now >= t) {
            self.reg_refresh = None;
            self.reg_tried_auth = false;
            if self.want_registered {
                self.register().await;
            }
        }
        let late: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, c)| c.deadline.is_some_and(|d| now >= d))
            .map(|(id, _)| id.clone())
            .collect();
        for id in late {
            self.end(&id, 408, "geen_antwoord").await;
        }
        // A browser that went away (ICE/DTLS gone, or the page closed its connection) hangs up
        // its call, after a grace for a reloaded page's `call:reoffer`.
        let mut gone = Vec::new();
        for (id, c) in self.calls.iter_mut() {
            let closed =
                c.state == State::Connected && c.bridge.as_ref().is_some_and(|b| b.is_closed());
            if !closed {
                c.gone_at = None;
                continue;
            }
            let since = *c.gone_at.get_or_insert(now);
            if now.duration_since(since) >= REOFFER_GRACE {
                gone.push(id.clone());
            }
        }
        for id in gone {
            tracing::info!(tenant = %self.acct.tenant, extension = %self.acct.extension, "softphone: browser weg, gesprek opgehangen");
            self.hangup(&id).await;
        }
    }
}

fn p_body(p: &Parsed) -> Vec<u8> {
    match &p.message {
        pbx_sip::msg::SipMessage::Request(r) => r.body.clone(),
        pbx_sip::msg::SipMessage::Response(r) => r.body.clone(),
    }
}

fn not_found(call: &str) -> Refusal {
    Refusal::new(
        "niet_gevonden",
        format!(
            "gesprek {} niet gevonden",
            call.chars().take(40).collect::<String>()
        ),
    )
}

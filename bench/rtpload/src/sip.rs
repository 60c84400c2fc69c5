//! The SIP side for pbxd: one UDP socket is the callee extension (registered with digest MD5;
//! answers every INVITE from pbxd with 180 and 200 with an SDP naming that call's own RTP port),
//! another is the calling extension (INVITE with an SDP offer, 407 → INVITE with
//! Proxy-Authorization, ACK on 200, BYE at the end). A window of set-ups runs at the same time;
//! messages are matched to calls by Call-ID (A side) and by the `o=` session id of the offer that
//! pbxd passes on to the callee (B side: pbxd makes its own Call-ID).
//!
//! Retransmissions are kept simple (loopback): the last request of the A side and the 200 of
//! the B side are sent again after 500 ms, doubling, six times at most.

use crate::{sdp_media_addr, CallMedia};
use anyhow::{anyhow, bail, Context as _, Result};
use md5::{Digest as _, Md5};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use pbx_sip::auth::{Algorithm, Credentials, Qop};
use pbx_sip::msg::{self, Limits, Parsed};
use std::collections::{BTreeMap, HashMap};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Where and who.
pub struct SipConfig {
    pub server: SocketAddr,
    pub domain: String,
    pub caller: String,
    pub callee: String,
    pub password: String,
    /// Set-ups (or tear-downs) in progress at once.
    pub window: usize,
    pub timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AState {
    Idle,
    Invite1,
    Invite2,
    Up,
    Bye,
    Done,
    Failed(u16),
}

/// One call as the two phones see it.
struct SipCall {
    a: AState,
    from_tag: String,
    to_tag: Option<String>,
    /// Contact of pbxd's 200: the Request-URI of ACK and BYE.
    target: String,
    branch: String,
    /// Branch of the first INVITE (its 407 may come again after the second INVITE left).
    first_branch: String,
    /// The last request A sent, for retransmission.
    last: Vec<u8>,
    sent_at: Instant,
    tries: u32,
    /// A provisional response came: pbxd has the INVITE, stop retransmitting it.
    provisional: bool,
    b_call_id: Option<String>,
    b_ok: Option<Vec<u8>>,
    b_src: Option<SocketAddr>,
    b_ok_at: Instant,
    b_tries: u32,
    b_acked: bool,
    b_bye: bool,
    primed: bool,
}

/// What came of a phase.
#[derive(Default, Debug)]
pub struct Outcome {
    pub ok: usize,
    pub failed: usize,
    /// Final codes of failed calls (0: no answer in time).
    pub codes: BTreeMap<u16, usize>,
    /// BYEs pbxd sent to the caller by itself (it hung up a call).
    pub hung_up_by_pbx: usize,
}

const T1: Duration = Duration::from_millis(500);
const MAX_TRIES: u32 = 6;
const A: Token = Token(0);
const B: Token = Token(1);

/// The two phones.
pub struct Phones {
    cfg: SipConfig,
    run: String,
    a: UdpSocket,
    b: UdpSocket,
    a_addr: SocketAddr,
    b_addr: SocketAddr,
    poll: Poll,
    events: Events,
    calls: Vec<SipCall>,
    by_b: HashMap<String, usize>,
    buf: Vec<u8>,
    hung_up_by_pbx: usize,
}

fn hex_rand(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut b);
    hex::encode(b)
}

fn branch() -> String {
    format!("z9hG4bK{}", hex_rand(8))
}

/// One parameter of a challenge (`Digest realm="x", nonce="y", …`), unquoted.
fn challenge_param(value: &str, name: &str) -> Option<String> {
    let rest = value.trim_start().strip_prefix("Digest")?;
    let mut s = rest;
    loop {
        s = s.trim_start_matches([' ', '\t', ',']);
        if s.is_empty() {
            return None;
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim();
        s = s[eq + 1..].trim_start();
        let val;
        if let Some(q) = s.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            val = out;
            s = &q[end.min(q.len())..];
        } else {
            let end = s.find(',').unwrap_or(s.len());
            val = s[..end].trim().to_string();
            s = &s[end..];
        }
        if key.eq_ignore_ascii_case(name) {
            return Some(val);
        }
    }
}

/// The `Authorization`/`Proxy-Authorization` value answering `challenge` (MD5, qop=auth).
fn digest(challenge: &str, user: &str, password: &str, method: &str, uri: &str) -> Result<String> {
    let realm =
        challenge_param(challenge, "realm").ok_or_else(|| anyhow!("uitdaging zonder realm"))?;
    let nonce =
        challenge_param(challenge, "nonce").ok_or_else(|| anyhow!("uitdaging zonder nonce"))?;
    if let Some(alg) = challenge_param(challenge, "algorithm") {
        if !alg.eq_ignore_ascii_case("MD5") {
            bail!("uitdaging met {alg}: alleen MD5 (zet [sip] digest = [\"MD5\"])");
        }
    }
    let ha1 = hex::encode(Md5::digest(format!("{user}:{realm}:{password}")));
    let mut c = Credentials {
        username: user.to_string(),
        realm,
        nonce,
        uri: uri.to_string(),
        response: String::new(),
        algorithm: Algorithm::Md5,
        cnonce: Some(hex_rand(8)),
        opaque: challenge_param(challenge, "opaque"),
        qop: Some(Qop::Auth),
        nc: Some(1),
    };
    c.response = c.expected_response(method, &ha1);
    Ok(c.to_header_value())
}

fn tag_of(value: Option<&str>) -> Option<String> {
    msg::parse_name_addrs(value?, false)
        .ok()?
        .first()?
        .tag()
        .map(str::to_string)
}

impl Phones {
    pub fn new(cfg: SipConfig, calls: usize) -> Result<Phones> {
        let local: SocketAddr = if cfg.server.is_ipv4() {
            SocketAddr::from(([127, 0, 0, 1], 0))
        } else {
            SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], 0))
        };
        let mut a = UdpSocket::bind(local).context("SIP-socket van de beller")?;
        let mut b = UdpSocket::bind(local).context("SIP-socket van de gebelde")?;
        let poll = Poll::new()?;
        poll.registry().register(&mut a, A, Interest::READABLE)?;
        poll.registry().register(&mut b, B, Interest::READABLE)?;
        let now = Instant::now();
        Ok(Phones {
            a_addr: a.local_addr()?,
            b_addr: b.local_addr()?,
            a,
            b,
            poll,
            events: Events::with_capacity(64),
            run: hex_rand(4),
            calls: (0..calls)
                .map(|_| SipCall {
                    a: AState::Idle,
                    from_tag: hex_rand(6),
                    to_tag: None,
                    target: String::new(),
                    branch: String::new(),
                    first_branch: String::new(),
                    last: Vec::new(),
                    sent_at: now,
                    tries: 0,
                    provisional: false,
                    b_call_id: None,
                    b_ok: None,
                    b_src: None,
                    b_ok_at: now,
                    b_tries: 0,
                    b_acked: false,
                    b_bye: false,
                    primed: false,
                })
                .collect(),
            by_b: HashMap::new(),
            buf: vec![0u8; 65_536],
            hung_up_by_pbx: 0,
            cfg,
        })
    }

    /// Datagrams that arrived within `timeout`: (socket, source, bytes).
    fn receive(&mut self, timeout: Duration) -> Result<Vec<(Token, SocketAddr, Vec<u8>)>> {
        let mut out = Vec::new();
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(out),
            Err(e) => return Err(e.into()),
        }
        let tokens: Vec<Token> = self.events.iter().map(|e| e.token()).collect();
        for t in tokens {
            let sock = if t == A { &self.a } else { &self.b };
            loop {
                match sock.recv_from(&mut self.buf) {
                    Ok((n, src)) => out.push((t, src, self.buf[..n].to_vec())),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                }
            }
        }
        Ok(out)
    }

    fn send(&self, from: Token, data: &[u8], to: SocketAddr) {
        let sock = if from == A { &self.a } else { &self.b };
        // Loss of a datagram here is covered by retransmission.
        let _ = sock.send_to(data, to);
    }

    /// REGISTER the callee from its socket (401 → REGISTER with Authorization → 200).
    pub fn register(&mut self) -> Result<()> {
        let call_id = format!("reg{}@rtpload", self.run);
        let tag = hex_rand(6);
        let uri = format!("sip:{}", self.cfg.domain);
        let mut auth: Option<String> = None;
        for cseq in 1..=2u32 {
            let text = format!(
                "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={};rport\r\nFrom: <sip:{}@{}>;tag={tag}\r\nTo: <sip:{}@{}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{}@{}>\r\nMax-Forwards: 70\r\nExpires: 3600\r\n{}Content-Length: 0\r\n\r\n",
                self.b_addr,
                branch(),
                self.cfg.callee,
                self.cfg.domain,
                self.cfg.callee,
                self.cfg.domain,
                self.cfg.callee,
                self.b_addr,
                auth.as_deref()
                    .map(|a| format!("Authorization: {a}\r\n"))
                    .unwrap_or_default(),
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut next_send = Instant::now();
            let code = 'wait: loop {
                let now = Instant::now();
                if now >= deadline {
                    bail!("geen antwoord van pbxd op REGISTER ({})", self.cfg.server);
                }
                if now >= next_send {
                    self.send(B, text.as_bytes(), self.cfg.server);
                    next_send = now + T1;
                }
                for (tok, _, data) in self.receive(Duration::from_millis(50))? {
                    let Ok(p) = msg::parse(&data, &Limits::default()) else {
                        continue;
                    };
                    let Some(r) = p.response() else { continue };
                    if tok != B || p.value("call-id") != Some(call_id.as_str()) {
                        continue;
                    }
                    let code = r.status_code.code();
                    if code < 200 {
                        continue;
                    }
                    if code == 401 && cseq == 1 {
                        let ch = p
                            .values("www-authenticate")
                            .find(|v| {
                                challenge_param(v, "algorithm")
                                    .is_none_or(|a| a.eq_ignore_ascii_case("MD5"))
                            })
                            .ok_or_else(|| {
                                anyhow!("401 zonder MD5-uitdaging (zet [sip] digest = [\"MD5\"])")
                            })?;
                        auth = Some(digest(
                            ch,
                            &self.cfg.callee,
                            &self.cfg.password,
                            "REGISTER",
                            &uri,
                        )?);
                    }
                    break 'wait code;
                }
            };
            match (cseq, code) {
                (_, 200..=299) => return Ok(()),
                (1, 401) => continue,
                (_, c) => bail!("REGISTER van {} geweigerd: {c}", self.cfg.callee),
            }
        }
        bail!("REGISTER van {} niet gelukt", self.cfg.callee)
    }

    fn request_uri(&self) -> String {
        format!("sip:{}@{}", self.cfg.callee, self.cfg.domain)
    }

    fn call_id(&self, i: usize) -> String {
        format!("rl{}-{i}@rtpload", self.run)
    }

    fn index_of(&self, call_id: &str) -> Option<usize> {
        let rest = call_id.strip_prefix(&format!("rl{}-", self.run))?;
        let i: usize = rest.strip_suffix("@rtpload")?.parse().ok()?;
        (i < self.calls.len()).then_some(i)
    }

    fn offer(&self, i: usize, port: u16) -> String {
        crate::offer_sdp(self.a_addr.ip(), i, port, "rtpload")
    }

    fn answer(&self, i: usize, port: u16) -> String {
        crate::offer_sdp(self.b_addr.ip(), i, port, "rtpload-b")
    }

    fn invite(&mut self, i: usize, cseq: u32, auth: Option<&str>, sdp: &str) {
        let br = branch();
        let text = format!(
            "INVITE {} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={br};rport\r\nFrom: \"rtpload {i}\" <sip:{}@{}>;tag={}\r\nTo: <sip:{}@{}>\r\nCall-ID: {}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:{}@{}>\r\nMax-Forwards: 70\r\n{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            self.request_uri(),
            self.a_addr,
            self.cfg.caller,
            self.cfg.domain,
            self.calls[i].from_tag,
            self.cfg.callee,
            self.cfg.domain,
            self.call_id(i),
            self.cfg.caller,
            self.a_addr,
            auth.map(|a| format!("Proxy-Authorization: {a}\r\n"))
                .unwrap_or_default(),
            sdp.len()
        );
        self.send(A, text.as_bytes(), self.cfg.server);
        let c = &mut self.calls[i];
        if cseq == 1 {
            c.first_branch = br.clone();
        }
        c.branch = br;
        c.last = text.into_bytes();
        c.sent_at = Instant::now();
        c.tries = 0;
        c.provisional = false;
        c.a = if cseq == 1 {
            AState::Invite1
        } else {
            AState::Invite2
        };
    }

    /// ACK for a non-2xx final response: same branch as the INVITE, To from the response.
    fn ack_failure(&self, i: usize, p: &Parsed, cseq: u32) {
        let branch = if cseq == 1 {
            &self.calls[i].first_branch
        } else {
            &self.calls[i].branch
        };
        let text = format!(
            "ACK {} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={};rport\r\nFrom: \"rtpload {i}\" <sip:{}@{}>;tag={}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            self.request_uri(),
            self.a_addr,
            branch,
            self.cfg.caller,
            self.cfg.domain,
            self.calls[i].from_tag,
            p.value("to").unwrap_or_default(),
            self.call_id(i),
        );
        self.send(A, text.as_bytes(), self.cfg.server);
    }

    /// An in-dialog request of A (ACK for the 2xx, BYE).
    fn in_dialog(&self, i: usize, method: &str, cseq: u32) -> String {
        let c = &self.calls[i];
        format!(
            "{method} {} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={};rport\r\nFrom: \"rtpload {i}\" <sip:{}@{}>;tag={}\r\nTo: <sip:{}@{}>;tag={}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            c.target,
            self.a_addr,
            branch(),
            self.cfg.caller,
            self.cfg.domain,
            c.from_tag,
            self.cfg.callee,
            self.cfg.domain,
            c.to_tag.as_deref().unwrap_or_default(),
            self.call_id(i),
        )
    }

    /// A response to a request pbxd sent: Via, From, To (with `to_tag` when it has none),
    /// Call-ID and CSeq copied.
    fn response(
        p: &Parsed,
        code: u16,
        reason: &str,
        to_tag: Option<&str>,
        extra: &str,
        body: &str,
    ) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {code} {reason}\r\n");
        for v in p.values("via") {
            out.push_str("Via: ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        let to = p.value("to").unwrap_or_default();
        let to = match to_tag {
            Some(t) if tag_of(Some(to)).is_none() => format!("{to};tag={t}"),
            _ => to.to_string(),
        };
        out.push_str(&format!(
            "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            p.value("from").unwrap_or_default(),
            p.value("call-id").unwrap_or_default(),
            p.value("cseq").unwrap_or_default(),
            body.len()
        ));
        out.into_bytes()
    }

    fn on_a(&mut self, src: SocketAddr, data: &[u8], media: &mut [CallMedia]) -> Result<()> {
        let Ok(p) = msg::parse(data, &Limits::default()) else {
            return Ok(());
        };
        let Some(i) = p.value("call-id").and_then(|c| self.index_of(c)) else {
            return Ok(());
        };
        let Some(cseq) = p.value("cseq").and_then(msg::parse_cseq) else {
            return Ok(());
        };
        if let Some(r) = p.response() {
            let code = r.status_code.code();
            let state = self.calls[i].a;
            match (cseq.method.as_str(), code) {
                // A late or repeated answer to the first INVITE (the 407 again, after a
                // retransmission): ACK it and go on with the second.
                ("INVITE", c) if cseq.seq == 1 && state != AState::Invite1 && c >= 300 => {
                    self.ack_failure(i, &p, 1);
                }
                ("INVITE", _) if cseq.seq == 1 && state != AState::Invite1 => {}
                ("INVITE", 100..=199) => self.calls[i].provisional = true,
                ("INVITE", 407) if cseq.seq == 1 && state == AState::Invite1 => {
                    self.ack_failure(i, &p, 1);
                    let ch = p
                        .values("proxy-authenticate")
                        .find(|v| {
                            challenge_param(v, "algorithm")
                                .is_none_or(|a| a.eq_ignore_ascii_case("MD5"))
                        })
                        .ok_or_else(|| {
                            anyhow!("407 zonder MD5-uitdaging (zet [sip] digest = [\"MD5\"])")
                        })?;
                    let auth = digest(
                        ch,
                        &self.cfg.caller,
                        &self.cfg.password,
                        "INVITE",
                        &self.request_uri(),
                    )?;
                    let sdp = self.offer(i, media[i].a_port);
                    self.invite(i, 2, Some(&auth), &sdp);
                }
                ("INVITE", 200..=299) => {
                    let c = &mut self.calls[i];
                    if c.a == AState::Invite2 {
                        c.to_tag = tag_of(p.value("to"));
                        c.target = p
                            .value("contact")
                            .and_then(|v| msg::parse_name_addrs(v, true).ok())
                            .and_then(|v| v.into_iter().next())
                            .map(|na| na.uri)
                            .unwrap_or_else(|| format!("sip:{}", self.cfg.server));
                        let body = std::str::from_utf8(&data[p.body_span.clone()]).unwrap_or("");
                        media[i].a_dest = sdp_media_addr(body);
                        c.a = if media[i].a_dest.is_some() {
                            AState::Up
                        } else {
                            AState::Failed(606)
                        };
                    }
                    // ACK every 2xx (pbxd retransmits it until the ACK arrives).
                    if matches!(self.calls[i].a, AState::Up | AState::Bye | AState::Done) {
                        let ack = self.in_dialog(i, "ACK", cseq.seq);
                        self.send(A, ack.as_bytes(), self.cfg.server);
                    }
                }
                ("INVITE", c) if c >= 300 => {
                    self.ack_failure(i, &p, cseq.seq);
                    if matches!(state, AState::Invite1 | AState::Invite2) {
                        self.calls[i].a = AState::Failed(c);
                    }
                }
                ("BYE", c) if c >= 200 && state == AState::Bye => {
                    self.calls[i].a = if c < 300 {
                        AState::Done
                    } else {
                        AState::Failed(c)
                    };
                }
                _ => {}
            }
        } else if p.method_name() == "BYE" {
            self.send(A, &Self::response(&p, 200, "OK", None, "", ""), src);
            if self.calls[i].a == AState::Up {
                self.calls[i].a = AState::Done;
                self.hung_up_by_pbx += 1;
            }
        } else if p.method_name() != "ACK" {
            self.send(A, &Self::response(&p, 200, "OK", None, "", ""), src);
        }
        Ok(())
    }

    /// Which call an INVITE from pbxd belongs to (pbxd makes its own Call-ID): the caller's
    /// display name `rtpload <i>` that pbxd passes on in From; else the `o=` session id of our
    /// offer (pbxd rewrites it now); else the only call still waiting for its B leg.
    fn b_index(&self, p: &Parsed, body: &str) -> Option<usize> {
        let by_name = p
            .value("from")
            .and_then(|v| msg::parse_name_addrs(v, false).ok())
            .and_then(|v| v.into_iter().next())
            .and_then(|na| na.display)
            .and_then(|d| {
                d.trim_matches('"')
                    .strip_prefix("rtpload ")?
                    .parse::<usize>()
                    .ok()
            });
        let i = by_name
            .or_else(|| crate::sdp_call_index(body))
            .or_else(|| {
                let mut waiting = (0..self.calls.len()).filter(|&i| {
                    let c = &self.calls[i];
                    c.b_call_id.is_none() && matches!(c.a, AState::Invite1 | AState::Invite2)
                });
                match (waiting.next(), waiting.next()) {
                    (Some(i), None) => Some(i),
                    _ => None,
                }
            })?;
        (i < self.calls.len() && self.calls[i].b_call_id.is_none()).then_some(i)
    }

    fn on_b(&mut self, src: SocketAddr, data: &[u8], media: &mut [CallMedia]) {
        let Ok(p) = msg::parse(data, &Limits::default()) else {
            return;
        };
        if p.response().is_some() {
            return;
        }
        let method = p.method_name();
        let call_id = p.value("call-id").unwrap_or_default().to_string();
        let known = self.by_b.get(&call_id).copied();
        match (method.as_str(), known) {
            ("INVITE", Some(i)) => {
                if let (Some(ok), Some(to)) = (&self.calls[i].b_ok, self.calls[i].b_src) {
                    self.send(B, ok, to);
                }
            }
            ("INVITE", None) => {
                let body = std::str::from_utf8(&data[p.body_span.clone()]).unwrap_or("");
                let Some(i) = self.b_index(&p, body) else {
                    let r = Self::response(&p, 488, "Not Acceptable Here", Some("x"), "", "");
                    self.send(B, &r, src);
                    return;
                };
                media[i].b_dest = sdp_media_addr(body);
                let tag = format!("b{i}");
                self.send(
                    B,
                    &Self::response(&p, 180, "Ringing", Some(&tag), "", ""),
                    src,
                );
                let contact = format!(
                    "Contact: <sip:{}@{}>\r\nContent-Type: application/sdp\r\n",
                    self.cfg.callee, self.b_addr
                );
                let sdp = self.answer(i, media[i].b_port);
                let ok = Self::response(&p, 200, "OK", Some(&tag), &contact, &sdp);
                self.send(B, &ok, src);
                let c = &mut self.calls[i];
                c.b_ok = Some(ok);
                c.b_src = Some(src);
                c.b_ok_at = Instant::now();
                c.b_tries = 0;
                c.b_call_id = Some(call_id.clone());
                self.by_b.insert(call_id, i);
            }
            ("ACK", Some(i)) => self.calls[i].b_acked = true,
            ("ACK", None) => {}
            ("BYE", k) => {
                self.send(B, &Self::response(&p, 200, "OK", None, "", ""), src);
                if let Some(i) = k {
                    self.calls[i].b_bye = true;
                }
            }
            _ => self.send(B, &Self::response(&p, 200, "OK", None, "", ""), src),
        }
    }

    fn pump(&mut self, media: &mut [CallMedia]) -> Result<()> {
        for (tok, src, data) in self.receive(Duration::from_millis(10))? {
            if tok == A {
                self.on_a(src, &data, media)?;
            } else {
                self.on_b(src, &data, media);
            }
        }
        let now = Instant::now();
        for i in 0..self.calls.len() {
            let c = &mut self.calls[i];
            let waiting = matches!(c.a, AState::Invite1 | AState::Invite2 | AState::Bye);
            if waiting
                && !c.provisional
                && now.duration_since(c.sent_at) >= T1 * (1 << c.tries.min(3))
            {
                if c.tries >= MAX_TRIES {
                    c.a = AState::Failed(0);
                    continue;
                }
                c.tries += 1;
                c.sent_at = now;
                let last = c.last.clone();
                self.send(A, &last, self.cfg.server);
            }
            let c = &mut self.calls[i];
            if c.b_ok.is_some()
                && !c.b_acked
                && c.b_tries >= MAX_TRIES
                && c.a == AState::Up
                && now.duration_since(c.b_ok_at) >= T1 * 8
            {
                // pbxd never ACKed the callee's 200: the call cannot be used.
                c.a = AState::Failed(0);
            }
            if let (Some(ok), Some(to), false) = (&c.b_ok, c.b_src, c.b_acked) {
                if now.duration_since(c.b_ok_at) >= T1 * (1 << c.b_tries.min(3))
                    && c.b_tries < MAX_TRIES
                {
                    c.b_tries += 1;
                    c.b_ok_at = now;
                    let ok = ok.clone();
                    self.send(B, &ok, to);
                }
            }
        }
        Ok(())
    }

    fn is_up(&self, i: usize, media: &[CallMedia]) -> bool {
        let c = &self.calls[i];
        c.a == AState::Up && c.b_acked && media[i].a_dest.is_some() && media[i].b_dest.is_some()
    }

    /// Sets up every call, `window` at a time; each call sends one priming packet per leg as
    /// soon as it is up (a phone starts its RTP at once; pbxd learns an address only within a
    /// few seconds of the SDP).
    pub fn setup(&mut self, media: &mut [CallMedia]) -> Result<Outcome> {
        let deadline = Instant::now() + self.cfg.timeout;
        let n = self.calls.len();
        let mut next = 0;
        loop {
            let mut in_flight = 0;
            for i in 0..next {
                let c = &self.calls[i];
                if matches!(c.a, AState::Failed(_) | AState::Done) {
                    continue;
                }
                if self.is_up(i, media) {
                    if !self.calls[i].primed {
                        self.calls[i].primed = true;
                        media[i].prime(i)?;
                    }
                } else {
                    in_flight += 1;
                }
            }
            while next < n && in_flight < self.cfg.window {
                let sdp = self.offer(next, media[next].a_port);
                self.invite(next, 1, None, &sdp);
                next += 1;
                in_flight += 1;
            }
            if next == n && in_flight == 0 {
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            self.pump(media)?;
        }
        let mut out = Outcome {
            hung_up_by_pbx: self.hung_up_by_pbx,
            ..Outcome::default()
        };
        for i in 0..n {
            if self.is_up(i, media) {
                out.ok += 1;
            } else {
                out.failed += 1;
                let code = match self.calls[i].a {
                    AState::Failed(c) => c,
                    _ => 0,
                };
                *out.codes.entry(code).or_default() += 1;
            }
        }
        Ok(out)
    }

    /// Whether call `i` is up (for the media phase).
    pub fn up(&self, i: usize, media: &[CallMedia]) -> bool {
        self.is_up(i, media)
    }

    /// BYE from the caller for every call that is up; counts 200s on A and the BYEs pbxd
    /// passes on to the callee.
    pub fn teardown(&mut self, media: &mut [CallMedia]) -> Result<(Outcome, usize)> {
        let deadline = Instant::now() + self.cfg.timeout;
        let todo: Vec<usize> = (0..self.calls.len())
            .filter(|&i| self.calls[i].a == AState::Up)
            .collect();
        let mut pos = 0;
        loop {
            let in_flight = todo[..pos]
                .iter()
                .filter(|&&i| self.calls[i].a == AState::Bye)
                .count();
            let mut room = self.cfg.window.saturating_sub(in_flight);
            while pos < todo.len() && room > 0 {
                let i = todo[pos];
                let bye = self.in_dialog(i, "BYE", 3);
                self.send(A, bye.as_bytes(), self.cfg.server);
                let c = &mut self.calls[i];
                c.last = bye.into_bytes();
                c.sent_at = Instant::now();
                c.tries = 0;
                c.provisional = false;
                c.a = AState::Bye;
                pos += 1;
                room -= 1;
            }
            let pending_b = todo[..pos]
                .iter()
                .filter(|&&i| !self.calls[i].b_bye)
                .count();
            if (pos == todo.len() && in_flight == 0 && pending_b == 0) || Instant::now() >= deadline
            {
                break;
            }
            self.pump(media)?;
        }
        let mut out = Outcome {
            hung_up_by_pbx: self.hung_up_by_pbx,
            ..Outcome::default()
        };
        let mut b_byes = 0;
        for &i in &todo {
            match self.calls[i].a {
                AState::Done => out.ok += 1,
                AState::Failed(c) => {
                    out.failed += 1;
                    *out.codes.entry(c).or_default() += 1;
                }
                _ => {
                    out.failed += 1;
                    *out.codes.entry(0).or_default() += 1;
                }
            }
            if self.calls[i].b_bye {
                b_byes += 1;
            }
        }
        Ok((out, b_byes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_challenge_parameters() {
        let ch = r#"Digest realm="bench.example", nonce="abc\"d", algorithm=MD5, qop="auth", opaque="o1""#;
        assert_eq!(
            challenge_param(ch, "realm").as_deref(),
            Some("bench.example")
        );
        assert_eq!(challenge_param(ch, "nonce").as_deref(), Some("abc\"d"));
        assert_eq!(challenge_param(ch, "algorithm").as_deref(), Some("MD5"));
        assert_eq!(challenge_param(ch, "opaque").as_deref(), Some("o1"));
        assert_eq!(challenge_param(ch, "stale"), None);
    }

    #[test]
    fn digest_matches_rfc_2617_example() {
        // RFC 2617 §3.5 with qop=auth, recomputed through pbx_sip's verifier formula.
        let ch = r#"Digest realm="testrealm@host.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093""#;
        let v = digest(ch, "Mufasa", "Circle Of Life", "GET", "/dir/index.html")
            .unwrap_or_else(|_| unreachable!());
        let c = pbx_sip::auth::parse_authorization(&v).unwrap_or_else(|_| unreachable!());
        let ha1 = hex::encode(Md5::digest("Mufasa:testrealm@host.com:Circle Of Life"));
        assert_eq!(c.response, c.expected_response("GET", &ha1));
        assert_eq!(c.nc, Some(1));
    }
}

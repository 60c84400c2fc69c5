//! WebRTC SIP clients (JsSIP, SIP.js) over a `ws`/`wss` connection: the connection bridges their
//! media so that the rest of pbxd sees an ordinary phone with plain RTP.
//!
//! A browser only speaks DTLS-SRTP with ICE (`UDP/TLS/RTP/SAVPF`); pbxd's relay speaks plain RTP.
//! Per call the connection keeps a [`Bridge`] from `pbx-webrtc` (the same one the softphone
//! uses) and rewrites the SDP of the messages that pass, nothing else:
//!
//! * **The browser calls** (its INVITE carries a WebRTC offer): the bridge answers the offer,
//!   the INVITE goes on with the bridge's plain SDP, and pbxd's answer (18x/2xx) goes back to
//!   the browser with the bridge's WebRTC answer; the bridge sends to the relay port from pbxd's
//!   answer. A repeated offer (the INVITE again after 407) reuses the bridge.
//! * **The browser is called**: a bridge offers to the browser (the codecs of pbxd's offer it can
//!   take, DTLS, ICE); the browser's answer in its 2xx starts the bridge, and the 2xx goes on to
//!   pbxd with the bridge's plain SDP as the answer to pbxd's offer. Without a bridge (no G.711
//!   in pbxd's offer, no free ports) the INVITE goes without SDP (a delayed offer, RFC 3261
//!   §13.2.1): the browser's offer in its 2xx is answered by a bridge, and pbxd's ACK carries the
//!   WebRTC answer.
//! * **In a call**: an offer from the browser (hold with `sendonly`) goes on as the plain SDP with
//!   the same direction and is answered with the first answer in the opposite direction; an
//!   offer from pbxd (the other side holds) goes as a re-INVITE without SDP (UPDATE without
//!   SDP), so the browser offers again and the same rules apply.
//! * BYE, a failed INVITE or the connection closing ends the bridge.
//!
//! Which connections are browsers: one that sent WebRTC SDP, or whose REGISTER has the ICE
//! feature tag (`+sip.ice`, RFC 5768) or the `.invalid` Contact host both libraries use. Only
//! those get WebRTC offers; a plain phone on a WebSocket is left as it is.
//!
//! pbxd's call traces show the messages as the SIP core saw them (with the plain SDP).

use pbx_webrtc::{Bridge, BridgeConfig, Codec, PendingBridge};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Calls with media on one WebSocket connection at most; a new browser offer beyond this is
/// answered 503 by the connection itself.
pub(crate) const MAX_CALLS: usize = 16;

/// The bridge settings for browser legs of this pbxd: WebRTC on `ip` (the listener's address),
/// plain RTP on loopback unless `ip` is a concrete address, ports from the `[rtp]` range.
pub(crate) fn bridge_config(rtp: &pbx_config::RtpConfig, ip: IpAddr) -> BridgeConfig {
    let plain_ip = if ip.is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        ip
    };
    BridgeConfig {
        bind_ip: ip,
        public_ip: rtp.public_address.as_deref().and_then(|a| a.parse().ok()),
        plain_ip,
        ports: Arc::new(crate::relay::RtpPorts::new(rtp)),
        plain_codecs: vec![Codec::Pcmu, Codec::Pcma],
        force_transcode: false,
    }
}

/// The address an SDP sends its audio to (`c=` and the audio `m=` port).
pub(crate) fn media_addr(sdp: &str) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for l in sdp.lines() {
        let l = l.trim();
        if let Some(c) = l
            .strip_prefix("c=IN IP4 ")
            .or_else(|| l.strip_prefix("c=IN IP6 "))
        {
            ip = c.split_whitespace().next().and_then(|a| a.parse().ok());
        }
        if let Some(m) = l.strip_prefix("m=audio ") {
            port = m
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok());
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

/// The codecs of pbxd's offer that a bridge can put on its plain side, in the offer's order:
/// G.711, and Opus when it has the payload type the bridge answers with (111, as a bridge
/// offers it: a browser calling a browser).
pub(crate) fn plain_codecs(offer: &str) -> Vec<Codec> {
    let opus = format!("a=rtpmap:{} opus/48000", Codec::Opus.default_pt());
    let has_opus = offer
        .lines()
        .any(|l| l.trim().to_ascii_lowercase().starts_with(&opus));
    let mut out = Vec::new();
    if let Some(m) = offer.lines().find(|l| l.starts_with("m=audio")) {
        for pt in m.split_whitespace().skip(3) {
            let c = match pt {
                "0" => Some(Codec::Pcmu),
                "8" => Some(Codec::Pcma),
                "111" if has_opus => Some(Codec::Opus),
                _ => None,
            };
            if let Some(c) = c {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// An offer from pbxd to a bridged leg that no longer has the bridge's plain codec (a transfer
/// joins it to a G.711 call): the bridge follows the offer, transcoding if it must.
pub(crate) fn follow_offer(bridge: &Bridge, offer: &str) {
    if !plain_codecs(offer).contains(&bridge.codecs().1) {
        bridge.set_plain_answer(offer);
    }
}

/// Is this SDP a browser's (DTLS-SRTP with ICE)?
pub(crate) fn is_webrtc_sdp(sdp: &str) -> bool {
    sdp.contains("a=fingerprint:") || sdp.contains("UDP/TLS/RTP/SAVP")
}

/// The media direction of an SDP (`sendrecv` when it names none).
fn direction(sdp: &str) -> &'static str {
    for l in sdp.lines() {
        match l.trim() {
            "a=sendonly" => return "sendonly",
            "a=recvonly" => return "recvonly",
            "a=inactive" => return "inactive",
            "a=sendrecv" => return "sendrecv",
            _ => {}
        }
    }
    "sendrecv"
}

/// The direction that answers `dir` (RFC 3264 §6.1).
fn answering(dir: &str) -> &'static str {
    match dir {
        "sendonly" => "recvonly",
        "recvonly" => "sendonly",
        "inactive" => "inactive",
        _ => "sendrecv",
    }
}

/// `sdp` with every direction attribute set to `dir` (added when it has none) and the version in
/// `o=` set to `version`. (The softphone's phones use it too.)
pub(crate) fn with_direction(sdp: &str, dir: &str, version: u64) -> String {
    let mut out = String::with_capacity(sdp.len() + 16);
    let mut had = false;
    for l in sdp.lines() {
        let l = l.trim_end();
        if l.is_empty() {
            continue;
        }
        if matches!(l, "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive") {
            out.push_str("a=");
            out.push_str(dir);
            had = true;
        } else if let Some(o) = l.strip_prefix("o=") {
            let mut parts: Vec<String> = o.split(' ').map(str::to_string).collect();
            if parts.len() >= 3 {
                parts[2] = version.to_string();
            }
            out.push_str("o=");
            out.push_str(&parts.join(" "));
        } else {
            out.push_str(l);
        }
        out.push_str("\r\n");
    }
    if !had {
        out.push_str("a=");
        out.push_str(dir);
        out.push_str("\r\n");
    }
    out
}

/// The direction that answers an offer (RFC 3264 §6.1).
pub(crate) fn mirror(offer: &str) -> &'static str {
    answering(direction(offer))
}

/// A SIP message as text: its start line and header lines, and the body. Only what the
/// gateway reads; the SIP core parses and checks the message properly afterwards.
struct Text<'a> {
    lines: Vec<&'a str>,
    body: &'a str,
}

impl<'a> Text<'a> {
    fn parse(s: &'a str) -> Option<Text<'a>> {
        let (head, body) = s.split_once("\r\n\r\n").unwrap_or((s, ""));
        let lines: Vec<&str> = head.split("\r\n").collect();
        if lines.first().is_none_or(|l| l.is_empty()) {
            return None;
        }
        Some(Text { lines, body })
    }

    fn is_request(&self) -> bool {
        !self.lines[0].starts_with("SIP/2.0 ")
    }

    fn method(&self) -> &str {
        self.lines[0].split(' ').next().unwrap_or("")
    }

    fn status(&self) -> u16 {
        self.lines[0]
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    /// The first value of a header, by its long or compact name (case-insensitive).
    fn header(&self, long: &str, compact: &str) -> Option<&'a str> {
        self.lines[1..].iter().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            let n = n.trim();
            (n.eq_ignore_ascii_case(long)
                || (!compact.is_empty() && n.eq_ignore_ascii_case(compact)))
            .then(|| v.trim())
        })
    }

    fn call_id(&self) -> Option<&'a str> {
        self.header("call-id", "i")
    }

    fn cseq(&self) -> Option<(u32, &'a str)> {
        let v = self.header("cseq", "")?;
        let mut it = v.split_whitespace();
        Some((it.next()?.parse().ok()?, it.next()?))
    }

    fn to_tagged(&self) -> bool {
        self.header("to", "t")
            .is_some_and(|v| v.to_ascii_lowercase().contains(";tag="))
    }

    fn sdp(&self) -> Option<&'a str> {
        (!self.body.trim().is_empty()).then_some(self.body)
    }

    /// The message again with `body` (SDP) or without one; Content-Type and Content-Length
    /// made to match.
    fn with_body(&self, body: Option<&str>) -> Vec<u8> {
        let mut out = String::with_capacity(1024 + body.map_or(0, str::len));
        out.push_str(self.lines[0]);
        out.push_str("\r\n");
        for l in &self.lines[1..] {
            let name = l.split_once(':').map(|(n, _)| n.trim()).unwrap_or("");
            let skip = ["content-length", "l", "content-type", "c"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n));
            if !skip {
                out.push_str(l);
                out.push_str("\r\n");
            }
        }
        match body {
            Some(b) => out.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )),
            None => out.push_str("Content-Length: 0\r\n\r\n"),
        }
        out.into_bytes()
    }

    /// A response to this request made here: Via, From, To (tagged), Call-ID and CSeq copied.
    fn reply(&self, code: u16, reason: &str, warning: &str) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {code} {reason}\r\n");
        for l in &self.lines[1..] {
            let Some((n, _)) = l.split_once(':') else {
                continue;
            };
            let n = n.trim().to_ascii_lowercase();
            match n.as_str() {
                "via" | "v" | "from" | "f" | "call-id" | "i" | "cseq" => {
                    out.push_str(l);
                    out.push_str("\r\n");
                }
                "to" | "t" => {
                    out.push_str(l);
                    if !l.to_ascii_lowercase().contains(";tag=") {
                        out.push_str(&format!(";tag=gw{:08x}", rand::random::<u32>()));
                    }
                    out.push_str("\r\n");
                }
                _ => {}
            }
        }
        let warning = warning.replace(['"', '\r', '\n'], "'");
        out.push_str(&format!(
            "Warning: 399 pbxd \"{warning}\"\r\nContent-Length: 0\r\n\r\n"
        ));
        out.into_bytes()
    }
}

/// One call on the connection.
#[derive(Default)]
struct Call {
    bridge: Option<Bridge>,
    /// The browser's last offer and the plain SDP it became (a repeated offer reuses it).
    offer_seen: Option<(String, String)>,
    /// The WebRTC answer to the browser's first offer; later answers are this, redirected.
    browser_answer: String,
    /// `o=` version of the SDPs made here.
    version: u64,
    /// The answer for pbxd's 2xx to the browser's offer in the call (CSeq number, SDP).
    answer_for_browser: Option<(u32, String)>,
    /// pbxd's offer that went on without SDP: (CSeq number, method, plain SDP).
    core_offer: Option<(u32, String, String)>,
    /// The WebRTC answer that goes in pbxd's ACK (delayed offer).
    ack_body: Option<String>,
    /// The first INVITE was answered 2xx.
    established: bool,
    /// Our offer to the browser (pbxd's INVITE to it), waiting for its answer in the 2xx.
    offering: Option<PendingBridge>,
}

/// What the connection does with a message from the browser.
pub(crate) enum FromPeer {
    /// On to the SIP service (possibly rewritten).
    Forward(Vec<u8>),
    /// Answered here (the SIP service never sees it).
    Reply(Vec<u8>),
}

/// The per-connection gateway.
pub(crate) struct Gateway {
    cfg: BridgeConfig,
    /// The peer is a WebRTC client (see the module text).
    browser: bool,
    calls: HashMap<String, Call>,
}

impl Gateway {
    pub(crate) fn new(cfg: BridgeConfig) -> Gateway {
        Gateway {
            cfg,
            browser: false,
            calls: HashMap::new(),
        }
    }

    /// Calls that have a bridge (for tests).
    #[cfg(test)]
    fn bridges(&self) -> usize {
        self.calls.values().filter(|c| c.bridge.is_some()).count()
    }

    /// A message from the browser, on its way to the SIP service.
    pub(crate) async fn inbound(&mut self, bytes: Vec<u8>) -> FromPeer {
        let Ok(s) = std::str::from_utf8(&bytes) else {
            return FromPeer::Forward(bytes);
        };
        let Some(t) = Text::parse(s) else {
            return FromPeer::Forward(bytes);
        };
        let Some(call_id) = t.call_id().map(str::to_string) else {
            return FromPeer::Forward(bytes);
        };
        let out = if t.is_request() {
            self.request_from_peer(&t, &call_id).await
        } else {
            self.response_from_peer(&t, &call_id).await
        };
        out.unwrap_or(FromPeer::Forward(bytes))
    }

    async fn request_from_peer(&mut self, t: &Text<'_>, call_id: &str) -> Option<FromPeer> {
        let method = t.method();
        match method {
            "REGISTER" => {
                let contact = t.header("contact", "m").unwrap_or("");
                if contact.contains("+sip.ice") || contact.contains(".invalid") {
                    self.browser = true;
                }
                return None;
            }
            "BYE" => {
                self.calls.remove(call_id);
                return None;
            }
            "INVITE" | "UPDATE" => {}
            _ => return None,
        }
        let offer = t.sdp().filter(|s| is_webrtc_sdp(s))?;
        self.browser = true;
        let (cseq, _) = t.cseq()?;
        if !t.to_tagged() {
            if method != "INVITE" {
                return None;
            }
            if let Some((_, plain)) = self
                .calls
                .get(call_id)
                .and_then(|c| c.offer_seen.as_ref())
                .filter(|(o, _)| o == offer)
            {
                return Some(FromPeer::Forward(t.with_body(Some(plain))));
            }
            self.calls.remove(call_id);
            self.calls
                .retain(|_, c| c.bridge.as_ref().is_none_or(|b| !b.is_closed()));
            if self.calls.len() >= MAX_CALLS {
                return Some(FromPeer::Reply(t.reply(
                    503,
                    "Service Unavailable",
                    "te veel gesprekken op deze verbinding",
                )));
            }
            return Some(match Bridge::accept_offer(&self.cfg, offer).await {
                Err(e) => {
                    tracing::info!(call_id, error = %e, "WebRTC-aanbod van een SIP-client geweigerd");
                    FromPeer::Reply(t.reply(488, "Not Acceptable Here", &e.to_string()))
                }
                Ok((bridge, answer)) => {
                    let plain = bridge.plain_sdp();
                    self.calls.insert(
                        call_id.to_string(),
                        Call {
                            bridge: Some(bridge),
                            offer_seen: Some((offer.to_string(), plain.clone())),
                            browser_answer: answer,
                            version: 1,
                            ..Call::default()
                        },
                    );
                    FromPeer::Forward(t.with_body(Some(&plain)))
                }
            });
        }
        // An offer in the call: same bridge, new direction.
        let c = self.calls.get_mut(call_id)?;
        let bridge = c.bridge.as_ref()?;
        let dir = direction(offer);
        c.version += 1;
        let plain = with_direction(&bridge.plain_sdp(), dir, c.version);
        c.answer_for_browser = Some((
            cseq,
            with_direction(&c.browser_answer, answering(dir), c.version),
        ));
        Some(FromPeer::Forward(t.with_body(Some(&plain))))
    }

    async fn response_from_peer(&mut self, t: &Text<'_>, call_id: &str) -> Option<FromPeer> {
        let (cseq, method) = t.cseq()?;
        if method != "INVITE" && method != "UPDATE" {
            return None;
        }
        let status = t.status();
        let c = self.calls.get_mut(call_id)?;
        let pending = c
            .core_offer
            .as_ref()
            .filter(|(n, m, _)| *n == cseq && m == method)
            .map(|(_, _, o)| o.clone());
        let Some(core_offer) = pending else {
            if status >= 300 && !c.established {
                self.calls.remove(call_id);
            }
            return None;
        };
        if status < 200 {
            // Early offers from the browser are not used: the offer comes with the 2xx.
            return t.sdp().map(|_| FromPeer::Forward(t.with_body(None)));
        }
        if status >= 300 {
            c.core_offer = None;
            if !c.established {
                self.calls.remove(call_id);
            }
            return None;
        }
        let answer_dir = answering(direction(&core_offer));
        let to = media_addr(&core_offer);
        if method == "UPDATE" {
            // pbxd's UPDATE went without SDP; its answer is made here.
            let bridge = c.bridge.as_ref()?;
            follow_offer(bridge, &core_offer);
            c.version += 1;
            let plain = with_direction(&bridge.plain_sdp(), answer_dir, c.version);
            if let Some(a) = to {
                bridge.set_plain_remote(a);
            }
            c.core_offer = None;
            return Some(FromPeer::Forward(t.with_body(Some(&plain))));
        }
        let offer = t.sdp().filter(|s| is_webrtc_sdp(s))?;
        if let Some((_, plain)) = c.offer_seen.as_ref().filter(|(o, _)| o == offer) {
            // The browser repeats its 2xx until the ACK.
            return Some(FromPeer::Forward(t.with_body(Some(plain))));
        }
        if let Some(pending) = c.offering.take() {
            // The browser answered our offer.
            let answer = offer;
            let setup = if answer.contains("a=setup:passive") {
                "active"
            } else {
                "passive"
            };
            let bridge = match pending.accept_answer(answer) {
                Ok(b) => b,
                Err(e) => {
                    tracing::info!(call_id, error = %e, "WebRTC-antwoord van een SIP-client onbruikbaar");
                    return Some(FromPeer::Forward(t.with_body(None)));
                }
            };
            if let Some(a) = to {
                bridge.set_plain_remote(a);
            }
            // Later offers of the browser are answered with our offer in the answering role.
            c.browser_answer = c
                .browser_answer
                .replace("a=setup:actpass", &format!("a=setup:{setup}"));
            c.version = 1;
            c.established = true;
            let plain = with_direction(&bridge.plain_sdp(), answer_dir, c.version);
            c.bridge = Some(bridge);
            c.offer_seen = Some((answer.to_string(), plain.clone()));
            return Some(FromPeer::Forward(t.with_body(Some(&plain))));
        }
        let plain = if let Some(bridge) = c.bridge.as_ref() {
            follow_offer(bridge, &core_offer);
            c.version += 1;
            c.ack_body = Some(with_direction(&c.browser_answer, answer_dir, c.version));
            with_direction(&bridge.plain_sdp(), answer_dir, c.version)
        } else {
            let mut cfg = self.cfg.clone();
            cfg.plain_codecs = plain_codecs(&core_offer);
            if cfg.plain_codecs.is_empty() {
                tracing::info!(call_id, "pbxd biedt de browser geen G.711 aan");
                return Some(FromPeer::Forward(t.with_body(None)));
            }
            match Bridge::accept_offer(&cfg, offer).await {
                Err(e) => {
                    tracing::info!(call_id, error = %e, "WebRTC-aanbod in het antwoord van een SIP-client onbruikbaar");
                    return Some(FromPeer::Forward(t.with_body(None)));
                }
                Ok((bridge, answer)) => {
                    c.version = 1;
                    c.ack_body = Some(with_direction(&answer, answer_dir, c.version));
                    c.browser_answer = answer;
                    c.established = true;
                    let plain = with_direction(&bridge.plain_sdp(), answer_dir, c.version);
                    c.bridge = Some(bridge);
                    plain
                }
            }
        };
        if let (Some(b), Some(a)) = (c.bridge.as_ref(), to) {
            b.set_plain_remote(a);
        }
        c.offer_seen = Some((offer.to_string(), plain.clone()));
        Some(FromPeer::Forward(t.with_body(Some(&plain))))
    }

    /// A message from the SIP service, on its way to the browser.
    pub(crate) async fn outbound(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        if self.calls.is_empty() && !self.browser {
            return bytes;
        }
        let Ok(s) = std::str::from_utf8(&bytes) else {
            return bytes;
        };
        let Some(t) = Text::parse(s) else {
            return bytes;
        };
        let Some(call_id) = t.call_id() else {
            return bytes;
        };
        let out = if t.is_request() {
            self.request_to_peer(&t, call_id).await
        } else {
            self.response_to_peer(&t, call_id)
        };
        out.unwrap_or(bytes)
    }

    async fn request_to_peer(&mut self, t: &Text<'_>, call_id: &str) -> Option<Vec<u8>> {
        let method = t.method();
        match method {
            "BYE" => {
                self.calls.remove(call_id);
                None
            }
            "ACK" => {
                let body = self.calls.get(call_id)?.ack_body.as_deref()?;
                Some(t.with_body(Some(body)))
            }
            "INVITE" | "UPDATE" => {
                let offer = t.sdp().filter(|s| !is_webrtc_sdp(s))?;
                let (cseq, _) = t.cseq()?;
                if !t.to_tagged() {
                    if !self.browser || method != "INVITE" {
                        return None;
                    }
                    // A bridge offers to the browser; without one (no G.711 in pbxd's offer,
                    // no ports) the INVITE goes without SDP and the browser offers.
                    let mut cfg = self.cfg.clone();
                    cfg.plain_codecs = plain_codecs(offer);
                    let offering = match cfg.plain_codecs.is_empty() {
                        true => None,
                        false => match Bridge::offer(&cfg).await {
                            Ok(o) => Some(o),
                            Err(e) => {
                                tracing::info!(call_id, error = %e, "geen WebRTC-aanbod voor een SIP-client; vertraagd aanbod");
                                None
                            }
                        },
                    };
                    let (offering, body, ours) = match offering {
                        Some((p, sdp)) => (Some(p), Some(sdp.clone()), sdp),
                        None => (None, None, String::new()),
                    };
                    self.calls.insert(
                        call_id.to_string(),
                        Call {
                            core_offer: Some((cseq, method.to_string(), offer.to_string())),
                            offering,
                            browser_answer: ours,
                            ..Call::default()
                        },
                    );
                    return Some(t.with_body(body.as_deref()));
                }
                let c = self.calls.get_mut(call_id)?;
                c.bridge.as_ref()?;
                c.core_offer = Some((cseq, method.to_string(), offer.to_string()));
                Some(t.with_body(None))
            }
            _ => None,
        }
    }

    fn response_to_peer(&mut self, t: &Text<'_>, call_id: &str) -> Option<Vec<u8>> {
        let (cseq, method) = t.cseq()?;
        if method != "INVITE" && method != "UPDATE" {
            return None;
        }
        let status = t.status();
        let c = self.calls.get_mut(call_id)?;
        if status >= 300 {
            if method == "INVITE" && !c.established && !matches!(status, 401 | 407) {
                self.calls.remove(call_id);
            } else {
                c.answer_for_browser = None;
            }
            return None;
        }
        let answer = t.sdp()?;
        let bridge = c.bridge.as_ref()?;
        if let Some(a) = media_addr(answer) {
            bridge.set_plain_remote(a);
        }
        if status >= 200 && method == "INVITE" {
            c.established = true;
        }
        let body = match &c.answer_for_browser {
            Some((n, a)) if *n == cseq => a.clone(),
            _ => c.browser_answer.clone(),
        };
        Some(t.with_body(Some(&body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbx_webrtc::{Client, PortRange};

    /// Runs a test body on a fresh current-thread runtime.
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
            .block_on(f)
    }

    fn cfg() -> BridgeConfig {
        BridgeConfig {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            public_ip: None,
            plain_ip: IpAddr::from([127, 0, 0, 1]),
            ports: Arc::new(PortRange::new(42000, 42199)),
            plain_codecs: vec![Codec::Pcmu, Codec::Pcma],
            force_transcode: false,
        }
    }

    fn msg(start: &str, headers: &[&str], body: Option<&str>) -> Vec<u8> {
        let mut s = format!("{start}\r\n");
        for h in headers {
            s.push_str(h);
            s.push_str("\r\n");
        }
        match body {
            Some(b) => s.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )),
            None => s.push_str("Content-Length: 0\r\n\r\n"),
        }
        s.into_bytes()
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    fn body_of(b: &[u8]) -> String {
        let s = text(b);
        s.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    fn content_length(b: &[u8]) -> usize {
        let s = text(b);
        s.lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(usize::MAX)
    }

    const PLAIN_OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

    #[test]
    fn directions_are_answered_and_rewritten() {
        assert_eq!(direction(PLAIN_OFFER), "sendrecv");
        assert_eq!(answering("sendonly"), "recvonly");
        assert_eq!(answering("recvonly"), "sendonly");
        assert_eq!(answering("inactive"), "inactive");
        let held = with_direction(PLAIN_OFFER, "sendonly", 7);
        assert_eq!(direction(&held), "sendonly");
        assert!(held.contains("o=- 1 7 IN IP4 127.0.0.1\r\n"), "{held}");
        assert_eq!(held.matches("a=sendonly").count(), 1);
        let none = with_direction(
            "v=0\r\no=- 1 1 IN IP4 ::1\r\nm=audio 1 RTP/AVP 0\r\n",
            "inactive",
            2,
        );
        assert!(none.ends_with("a=inactive\r\n"), "{none}");
    }

    #[test]
    fn text_reads_compact_headers_and_rebuilds_the_length() {
        let m = msg(
            "INVITE sip:1002@acme.example SIP/2.0",
            &[
                "v: SIP/2.0/WSS x.invalid;branch=z9hG4bK1",
                "i: abc",
                "CSeq: 3 INVITE",
                "t: <sip:1002@acme.example>",
                "l: 99",
            ],
            Some("v=0\r\n"),
        );
        let s = text(&m);
        let t = Text::parse(&s).unwrap_or_else(|| panic!("parse"));
        assert_eq!(t.call_id(), Some("abc"));
        assert_eq!(t.cseq(), Some((3, "INVITE")));
        assert!(!t.to_tagged());
        let out = t.with_body(Some("v=0\r\ns=x\r\n"));
        assert_eq!(content_length(&out), 10);
        assert!(!text(&out).contains("l: 99"));
        let r = t.reply(488, "Not Acceptable Here", "geen \"codec\"");
        let r = text(&r);
        assert!(r.starts_with("SIP/2.0 488 Not Acceptable Here\r\n"), "{r}");
        assert!(r.contains("v: SIP/2.0/WSS x.invalid;branch=z9hG4bK1\r\n"));
        assert!(r.contains("t: <sip:1002@acme.example>;tag=gw"));
        assert!(r.contains("Warning: 399 pbxd \"geen 'codec'\""));
    }

    #[test]
    fn a_plain_phone_on_a_websocket_is_left_alone() {
        block_on(async {
            let mut gw = Gateway::new(cfg());
            let invite = msg(
                "INVITE sip:1002@acme.example SIP/2.0",
                &[
                    "Call-ID: p1",
                    "CSeq: 1 INVITE",
                    "To: <sip:1002@acme.example>",
                ],
                Some(PLAIN_OFFER),
            );
            match gw.inbound(invite.clone()).await {
                FromPeer::Forward(b) => assert_eq!(b, invite),
                FromPeer::Reply(r) => panic!("{}", text(&r)),
            }
            // pbxd's INVITE to it keeps its SDP.
            let to = msg(
                "INVITE sip:1001@192.0.2.1 SIP/2.0",
                &[
                    "Call-ID: p2",
                    "CSeq: 1 INVITE",
                    "To: <sip:1001@acme.example>",
                ],
                Some(PLAIN_OFFER),
            );
            assert_eq!(gw.outbound(to.clone()).await, to);
        });
    }

    #[test]
    fn a_browser_offer_is_bridged_both_ways_and_ends_with_bye() {
        block_on(async {
            let mut gw = Gateway::new(cfg());
            let (mut client, offer) = Client::offer(IpAddr::from([127, 0, 0, 1]), &[Codec::Pcmu])
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let invite = |cseq: u32| {
                msg(
                    "INVITE sip:1002@acme.example SIP/2.0",
                    &[
                        "Call-ID: w1",
                        &format!("CSeq: {cseq} INVITE"),
                        "To: <sip:1002@acme.example>",
                    ],
                    Some(&offer),
                )
            };
            let FromPeer::Forward(first) = gw.inbound(invite(1)).await else {
                panic!("reply")
            };
            let plain = body_of(&first);
            assert!(!is_webrtc_sdp(&plain), "{plain}");
            assert!(plain.contains("RTP/AVP 0"), "{plain}");
            assert_eq!(content_length(&first), plain.len());
            // 407, then the same offer again: the same bridge.
            let challenge = msg(
                "SIP/2.0 407 Proxy Authentication Required",
                &[
                    "Call-ID: w1",
                    "CSeq: 1 INVITE",
                    "To: <sip:1002@acme.example>;tag=a",
                ],
                None,
            );
            assert_eq!(gw.outbound(challenge.clone()).await, challenge);
            let FromPeer::Forward(second) = gw.inbound(invite(2)).await else {
                panic!("reply")
            };
            assert_eq!(body_of(&second), plain);
            assert_eq!(gw.bridges(), 1);
            // pbxd answers with its relay port; the browser gets the WebRTC answer.
            let relay = tokio::net::UdpSocket::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let port = relay.local_addr().map(|a| a.port()).unwrap_or(0);
            let answer = format!("v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n");
            let ok = msg(
                "SIP/2.0 200 OK",
                &[
                    "Call-ID: w1",
                    "CSeq: 2 INVITE",
                    "To: <sip:1002@acme.example>;tag=b",
                ],
                Some(&answer),
            );
            let to_browser = body_of(&gw.outbound(ok).await);
            assert!(is_webrtc_sdp(&to_browser), "{to_browser}");
            client
                .accept_answer(&to_browser)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(client.connected(std::time::Duration::from_secs(5)).await);
            // The browser's audio arrives at the relay port as plain PCMU.
            client
                .send_audio(&[0i16; 160])
                .unwrap_or_else(|e| panic!("{e}"));
            let mut buf = [0u8; 1500];
            let got = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                loop {
                    client.send_audio(&[0i16; 160]).ok();
                    if let Ok(Ok((n, _))) = tokio::time::timeout(
                        std::time::Duration::from_millis(40),
                        relay.recv_from(&mut buf),
                    )
                    .await
                    {
                        return n;
                    }
                }
            })
            .await
            .unwrap_or(0);
            assert_eq!(got, 12 + 160);
            assert_eq!(buf[1] & 0x7f, 0);
            // Hold from the browser: sendonly goes on, recvonly comes back.
            let hold_offer = with_direction(&offer, "sendonly", 3);
            let hold = msg(
                "INVITE sip:1002@acme.example SIP/2.0",
                &[
                    "Call-ID: w1",
                    "CSeq: 3 INVITE",
                    "To: <sip:1002@acme.example>;tag=b",
                ],
                Some(&hold_offer),
            );
            let FromPeer::Forward(hold) = gw.inbound(hold).await else {
                panic!("reply")
            };
            assert_eq!(direction(&body_of(&hold)), "sendonly");
            let held_answer = with_direction(&answer, "recvonly", 3);
            let ok = msg(
                "SIP/2.0 200 OK",
                &[
                    "Call-ID: w1",
                    "CSeq: 3 INVITE",
                    "To: <sip:1002@acme.example>;tag=b",
                ],
                Some(&held_answer),
            );
            assert_eq!(direction(&body_of(&gw.outbound(ok).await)), "recvonly");
            let bye = msg(
                "BYE sip:1002@acme.example SIP/2.0",
                &[
                    "Call-ID: w1",
                    "CSeq: 4 BYE",
                    "To: <sip:1002@acme.example>;tag=b",
                ],
                None,
            );
            let _ = gw.inbound(bye).await;
            assert_eq!(gw.bridges(), 0);
        });
    }

    #[test]
    fn a_call_to_a_browser_gets_an_offer_of_a_bridge() {
        block_on(async {
            let mut gw = Gateway::new(cfg());
            let register = msg(
                "REGISTER sip:acme.example SIP/2.0",
                &[
                    "Call-ID: r2",
                    "CSeq: 1 REGISTER",
                    "Contact: <sip:abc@k3j4.invalid;transport=ws>;expires=600",
                ],
                None,
            );
            let _ = gw.inbound(register).await;
            let invite = msg(
                "INVITE sip:abc@k3j4.invalid;transport=ws SIP/2.0",
                &[
                    "Call-ID: o1",
                    "CSeq: 10 INVITE",
                    "To: <sip:1001@acme.example>",
                ],
                Some(PLAIN_OFFER),
            );
            let out = gw.outbound(invite).await;
            let offer = body_of(&out);
            assert!(is_webrtc_sdp(&offer), "{offer}");
            assert!(offer.contains("UDP/TLS/RTP/SAVPF 8 0"), "{offer}");
            assert_eq!(content_length(&out), offer.len());
            // The "browser" (a bridge answering, as str0m does for Chrome) takes PCMU only.
            let mut browser_cfg = cfg();
            browser_cfg.ports = Arc::new(PortRange::new(42400, 42499));
            browser_cfg.plain_codecs = vec![Codec::Pcmu];
            let (browser, answer) = Bridge::accept_offer(&browser_cfg, &offer)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let ok = msg(
                "SIP/2.0 200 OK",
                &[
                    "Call-ID: o1",
                    "CSeq: 10 INVITE",
                    "To: <sip:1001@acme.example>;tag=y",
                ],
                Some(&answer),
            );
            let FromPeer::Forward(ok_out) = gw.inbound(ok.clone()).await else {
                panic!("reply")
            };
            let plain = body_of(&ok_out);
            assert!(plain.contains("RTP/AVP 0 101"), "{plain}");
            // The repeated 2xx gives the same; the ACK goes on as it is.
            let FromPeer::Forward(again) = gw.inbound(ok).await else {
                panic!("reply")
            };
            assert_eq!(body_of(&again), plain);
            let ack = msg(
                "ACK sip:abc@k3j4.invalid;transport=ws SIP/2.0",
                &[
                    "Call-ID: o1",
                    "CSeq: 10 ACK",
                    "To: <sip:1001@acme.example>;tag=y",
                ],
                None,
            );
            assert_eq!(body_of(&gw.outbound(ack).await), "");
            assert_eq!(gw.bridges(), 1);
            // The browser holds: its re-offer is answered with our offer in the answering role.
            let hold = msg(
                "INVITE sip:1002@acme.example SIP/2.0",
                &[
                    "Call-ID: o1",
                    "CSeq: 2 INVITE",
                    "To: <sip:1002@acme.example>;tag=y",
                ],
                Some(&with_direction(&answer, "sendonly", 9)),
            );
            let FromPeer::Forward(hold_out) = gw.inbound(hold).await else {
                panic!("reply")
            };
            assert_eq!(direction(&body_of(&hold_out)), "sendonly");
            let ok = msg(
                "SIP/2.0 200 OK",
                &[
                    "Call-ID: o1",
                    "CSeq: 2 INVITE",
                    "To: <sip:1002@acme.example>;tag=y",
                ],
                Some(&with_direction(PLAIN_OFFER, "recvonly", 3)),
            );
            let back = body_of(&gw.outbound(ok).await);
            assert_eq!(direction(&back), "recvonly");
            assert!(!back.contains("a=setup:actpass"), "{back}");
            assert!(back.contains("a=setup:"), "{back}");
            browser.close().await;
            // A failed call frees the offering bridge's ports.
            let invite = msg(
                "INVITE sip:abc@k3j4.invalid;transport=ws SIP/2.0",
                &[
                    "Call-ID: o2",
                    "CSeq: 1 INVITE",
                    "To: <sip:1001@acme.example>",
                ],
                Some(PLAIN_OFFER),
            );
            let _ = gw.outbound(invite).await;
            let busy = msg(
                "SIP/2.0 486 Busy Here",
                &[
                    "Call-ID: o2",
                    "CSeq: 1 INVITE",
                    "To: <sip:1001@acme.example>;tag=z",
                ],
                None,
            );
            let _ = gw.inbound(busy).await;
            assert!(!gw.calls.contains_key("o2"));
        });
    }

    #[test]
    fn without_ports_a_call_to_a_browser_goes_as_a_delayed_offer() {
        block_on(async {
            // Two ports: too few for a bridge's offer (it needs two pairs), so pbxd's INVITE
            // goes without SDP and the browser offers; its 2xx then gets a bridge.
            let mut small = cfg();
            small.ports = Arc::new(PortRange::new(42300, 42301));
            let mut gw = Gateway::new(small);
            let register = msg(
                "REGISTER sip:acme.example SIP/2.0",
                &[
                    "Call-ID: r1",
                    "CSeq: 1 REGISTER",
                    "Contact: <sip:abc@df7jal23ls0d.invalid;transport=ws>;+sip.ice;expires=600",
                ],
                None,
            );
            let _ = gw.inbound(register).await;
            let invite = msg(
                "INVITE sip:abc@df7jal23ls0d.invalid;transport=ws SIP/2.0",
                &[
                    "Call-ID: d1",
                    "CSeq: 10 INVITE",
                    "To: <sip:1001@acme.example>",
                ],
                Some(PLAIN_OFFER),
            );
            let out = gw.outbound(invite).await;
            assert_eq!(body_of(&out), "");
            assert_eq!(content_length(&out), 0);
            assert!(!text(&out).contains("application/sdp"));
            gw.cfg.ports = Arc::new(PortRange::new(42302, 42399));
            // The browser answers with its offer; pbxd gets a plain answer in A-law (its
            // first G.711), the browser its answer in the ACK.
            let (mut client, offer) =
                Client::offer(IpAddr::from([127, 0, 0, 1]), &[Codec::Pcmu, Codec::Pcma])
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            let ok = msg(
                "SIP/2.0 200 OK",
                &[
                    "Call-ID: d1",
                    "CSeq: 10 INVITE",
                    "To: <sip:1001@acme.example>;tag=x",
                ],
                Some(&offer),
            );
            let FromPeer::Forward(ok_out) = gw.inbound(ok.clone()).await else {
                panic!("reply")
            };
            let plain = body_of(&ok_out);
            assert!(plain.contains("RTP/AVP 8"), "{plain}");
            // The repeated 2xx gives the same answer.
            let FromPeer::Forward(again) = gw.inbound(ok).await else {
                panic!("reply")
            };
            assert_eq!(body_of(&again), plain);
            assert_eq!(gw.bridges(), 1);
            let ack = msg(
                "ACK sip:abc@df7jal23ls0d.invalid;transport=ws SIP/2.0",
                &[
                    "Call-ID: d1",
                    "CSeq: 10 ACK",
                    "To: <sip:1001@acme.example>;tag=x",
                ],
                None,
            );
            let answer = body_of(&gw.outbound(ack).await);
            assert!(is_webrtc_sdp(&answer), "{answer}");
            client
                .accept_answer(&answer)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(client.connected(std::time::Duration::from_secs(5)).await);
            // pbxd holds (the other side did): a re-INVITE without SDP; the browser offers
            // again and is answered recvonly.
            let reinvite = msg(
                "INVITE sip:abc@df7jal23ls0d.invalid;transport=ws SIP/2.0",
                &[
                    "Call-ID: d1",
                    "CSeq: 11 INVITE",
                    "To: <sip:1001@acme.example>;tag=x",
                ],
                Some(&with_direction(PLAIN_OFFER, "sendonly", 2)),
            );
            assert_eq!(body_of(&gw.outbound(reinvite).await), "");
            let reoffer = with_direction(&offer, "sendrecv", 5);
            let ok = msg(
                "SIP/2.0 200 OK",
                &[
                    "Call-ID: d1",
                    "CSeq: 11 INVITE",
                    "To: <sip:1001@acme.example>;tag=x",
                ],
                Some(&reoffer),
            );
            let FromPeer::Forward(ok_out) = gw.inbound(ok).await else {
                panic!("reply")
            };
            assert_eq!(direction(&body_of(&ok_out)), "recvonly");
            let ack = msg(
                "ACK sip:abc@df7jal23ls0d.invalid;transport=ws SIP/2.0",
                &[
                    "Call-ID: d1",
                    "CSeq: 11 ACK",
                    "To: <sip:1001@acme.example>;tag=x",
                ],
                None,
            );
            assert_eq!(direction(&body_of(&gw.outbound(ack).await)), "recvonly");
            assert_eq!(gw.bridges(), 1);
        });
    }

    #[test]
    fn an_unusable_offer_is_answered_488_and_too_many_calls_503() {
        block_on(async {
            let mut gw = Gateway::new(cfg());
            let sdes = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n";
            let invite = msg(
                "INVITE sip:1002@acme.example SIP/2.0",
                &[
                    "Via: SIP/2.0/WSS x.invalid;branch=z9hG4bK9",
                    "Call-ID: bad",
                    "CSeq: 1 INVITE",
                    "From: <sip:1001@acme.example>;tag=f",
                    "To: <sip:1002@acme.example>",
                ],
                Some(sdes),
            );
            match gw.inbound(invite).await {
                FromPeer::Reply(r) => {
                    let r = text(&r);
                    assert!(r.starts_with("SIP/2.0 488 "), "{r}");
                    assert!(r.contains("Warning: 399 pbxd \""), "{r}");
                }
                FromPeer::Forward(b) => panic!("{}", text(&b)),
            }
            assert_eq!(gw.bridges(), 0);
            for i in 0..MAX_CALLS {
                let (_c, offer) = Client::offer(IpAddr::from([127, 0, 0, 1]), &[Codec::Pcmu])
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let invite = msg(
                    "INVITE sip:1002@acme.example SIP/2.0",
                    &[
                        &format!("Call-ID: many{i}"),
                        "CSeq: 1 INVITE",
                        "To: <sip:1002@acme.example>",
                    ],
                    Some(&offer),
                );
                assert!(matches!(gw.inbound(invite).await, FromPeer::Forward(_)));
            }
            let (_c, offer) = Client::offer(IpAddr::from([127, 0, 0, 1]), &[Codec::Pcmu])
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let invite = msg(
                "INVITE sip:1002@acme.example SIP/2.0",
                &[
                    "Call-ID: one-too-many",
                    "CSeq: 1 INVITE",
                    "To: <sip:1002@acme.example>",
                ],
                Some(&offer),
            );
            match gw.inbound(invite).await {
                FromPeer::Reply(r) => assert!(text(&r).starts_with("SIP/2.0 503 "), "{}", text(&r)),
                FromPeer::Forward(b) => panic!("{}", text(&b)),
            }
        });
    }
}

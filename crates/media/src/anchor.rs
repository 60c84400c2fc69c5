//! SDP offer/answer through a media-anchoring B2BUA (RFC 3264 seen from the middle).
//!
//! An [`Anchor`] sits between two legs, A (side 0) and B (side 1). Every SDP one leg sends is
//! rewritten for the other: addresses and ports point at the relay (the RTP port facing the
//! receiving leg, RTCP on that port + 1), and the codec lists are adjusted so that the relay can
//! join the two legs:
//!
//! - **Offers** keep the offerer's formats, order, ptime and direction (`a=sendonly`,
//!   `a=recvonly`, `a=inactive` pass unchanged, so hold works end to end). When the offer holds
//!   exactly one G.711 law (only PCMU or only PCMA), the other law is appended after the offerer's
//!   codecs, so the answerer prefers pass-through but can pick the other law, which the relay then
//!   transcodes. Opus, G.722 and everything else are never transcoded: they flow only when both
//!   legs share them. Only the first active RTP audio stream is anchored; other streams are
//!   disabled (port 0), since media the relay does not carry must not flow around it.
//! - **Answers** are mapped back onto the offer: each format the answerer accepted gets the
//!   offerer's payload type number for that codec; the added G.711 law becomes the offerer's own
//!   law (the relay transcodes); formats the offerer never offered are left out (RFC 3264 §6.1).
//! - ICE attributes and `a=rtcp-mux` are removed (the relay is the only candidate and terminates
//!   RTCP on its own port); `a=rtcp` is rewritten to the relay's RTCP port; `c=0.0.0.0` (RFC 2543
//!   hold) is kept as such. Each leg sees one `o=` line of ours (own session id, the version
//!   bumped whenever the SDP sent to that leg changes), so forking or a changed far end never
//!   shows up as a different session.
//!
//! Whether an SDP is an offer or an answer is tracked as in RFC 3264 §4: an SDP from the leg that
//! did not send the pending offer answers it. Without a pending offer, an SDP from the leg that
//! answered last is taken as a repetition of its answer when its `o=` line says so (the same
//! session and no higher version: 183 then 200 with the same SDP), or when it comes from another
//! session while only the first exchange has happened (a different fork answering the INVITE);
//! anything else is a new offer. [`Anchor::offer`] and [`Anchor::answer`] skip the guessing.
//!
//! [`Anchor::plan`] turns the negotiated state into what the packet path needs: per leg the
//! signalled RTP/RTCP addresses, the negotiated codec, and a [`PayloadMap`] saying for every
//! payload type that leg sends which payload type the other leg expects and whether the payload
//! must be converted between µ-law and A-law.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::negotiate::{Codec, G711};
use crate::sdp::{Attribute, Connection, Direction, MediaDescription, RtpMap, SessionDescription};

/// What an SDP was taken as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpKind {
    Offer,
    Answer,
}

/// What the relay does to the payload of one payload type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transform {
    /// Forward the payload as it is.
    #[default]
    Keep,
    /// PCMU → PCMA, octet by octet.
    UlawToAlaw,
    /// PCMA → PCMU.
    AlawToUlaw,
    /// Do not forward (e.g. telephone-event to a leg that did not agree to it).
    Drop,
}

/// Where one incoming payload type goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Payload type on the outgoing leg.
    pub pt: u8,
    pub transform: Transform,
    /// RTP clock rate of the codec (0: unknown).
    pub clock_rate: u32,
    /// RFC 4733 telephone-event.
    pub event: bool,
}

/// For every payload type (0–127) one leg sends: what happens towards the other leg. Payload
/// types the SDPs did not mention go through unchanged.
#[derive(Clone, PartialEq, Eq)]
pub struct PayloadMap {
    routes: [Route; 128],
}

impl Default for PayloadMap {
    fn default() -> Self {
        Self::identity()
    }
}

impl PayloadMap {
    /// Every payload type unchanged.
    pub fn identity() -> Self {
        let mut routes = [Route {
            pt: 0,
            transform: Transform::Keep,
            clock_rate: 0,
            event: false,
        }; 128];
        for (i, r) in routes.iter_mut().enumerate() {
            // i < 128.
            r.pt = i as u8;
        }
        Self { routes }
    }

    /// The route of a payload type (only its low 7 bits count).
    #[inline]
    pub fn get(&self, pt: u8) -> Route {
        self.routes[usize::from(pt & 0x7f)]
    }

    /// Sets the route of a payload type.
    pub fn set(&mut self, pt: u8, route: Route) {
        self.routes[usize::from(pt & 0x7f)] = route;
    }

    /// True when no payload type is changed or dropped.
    pub fn is_identity(&self) -> bool {
        self.routes
            .iter()
            .enumerate()
            .all(|(i, r)| usize::from(r.pt) == i && r.transform == Transform::Keep)
    }
}

impl fmt::Debug for PayloadMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (i, r) in self.routes.iter().enumerate() {
            if usize::from(r.pt) != i || r.transform != Transform::Keep || r.clock_rate != 0 {
                m.entry(&i, r);
            }
        }
        m.finish()
    }
}

/// The packet path's view of one leg.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegPlan {
    /// Where the leg wants RTP (its SDP), None when it gave none or put the stream on hold with
    /// `c=0.0.0.0`.
    pub rtp: Option<SocketAddr>,
    /// Where the leg wants RTCP: `a=rtcp`, else the RTP port + 1.
    pub rtcp: Option<SocketAddr>,
    /// Payload types this leg sends, mapped for the other leg.
    pub routes: PayloadMap,
    /// The codec negotiated on this leg (first codec of the last answer on it).
    pub codec: Option<Codec>,
}

/// Everything the packet path needs after an offer or answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaPlan {
    /// A and B.
    pub legs: [LegPlan; 2],
    /// Completed offer/answer exchanges so far; a new value reopens address learning.
    pub exchange: u32,
    /// The anchored stream is SRTP (RTP/SAVP, RTP/SAVPF): headers only, RTCP passed through.
    pub secure: bool,
}

type OriginKey = (String, String, u64);

#[derive(Debug, Clone, Default)]
struct LegSdp {
    /// Formats this leg receives: from the last SDP it sent (its offer or answer).
    recv: Vec<(u8, Codec)>,
    /// Formats this leg sends with: from the last SDP we sent it.
    send: Vec<(u8, Codec)>,
    rtp: Option<SocketAddr>,
    rtcp: Option<SocketAddr>,
    origin: Option<OriginKey>,
    codec: Option<Codec>,
}

#[derive(Debug, Clone)]
struct Offer {
    from: usize,
    /// The anchored m= line.
    index: Option<usize>,
    /// The offerer's formats on that line.
    offered: Vec<(u8, Codec)>,
    /// What we offered to the other leg (offered + the added G.711 law).
    to_peer: Vec<(u8, Codec)>,
    /// The G.711 law we added, if any.
    added: Option<(u8, Codec)>,
    /// Both legs as they were before this offer, for [`Anchor::offer_rejected`].
    before: Box<[LegSdp; 2]>,
    /// The offer of a leg that [`Anchor::answer_locally`] answered: SDP rewritten for the
    /// offerer when the other leg answers it is never sent (the offerer already has our answer).
    local: bool,
}

#[derive(Debug, Clone)]
struct OwnOrigin {
    session_id: u64,
    version: u64,
    /// The last SDP sent to this leg, without its o= line.
    last: Option<String>,
}

/// Offer/answer state of one anchored call. See the module documentation.
#[derive(Debug, Clone)]
pub struct Anchor {
    address: IpAddr,
    /// RTP port facing A, facing B (RTCP: + 1).
    ports: [u16; 2],
    transcoding: bool,
    legs: [LegSdp; 2],
    pending: Option<Offer>,
    last: Option<Offer>,
    /// Offers answered (a repeated or revised answer does not count).
    exchanges: u32,
    /// Answers handled, repeated ones included: [`MediaPlan::exchange`].
    generation: u32,
    origins: [OwnOrigin; 2],
    secure: bool,
    /// After [`Anchor::answer_locally`], until the other leg answered: the answered leg and its
    /// offer restricted to what we answered, for [`Anchor::local_offer`].
    local: Option<(usize, SessionDescription)>,
}

/// What [`Anchor::answer_locally`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAnswer {
    /// The answer for the offering leg.
    pub sdp: String,
    /// PCMU or PCMA, the first of the two in the offer.
    pub codec: Codec,
    /// Its payload type.
    pub payload_type: u8,
    /// telephone-event/8000, when offered.
    pub telephone_event: Option<u8>,
}

/// Is this a protocol whose streams we anchor?
fn anchorable(m: &MediaDescription) -> bool {
    m.port != 0
        && m.media.eq_ignore_ascii_case("audio")
        && ["RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF"]
            .iter()
            .any(|p| m.protocol.eq_ignore_ascii_case(p))
}

fn is_secure(m: &MediaDescription) -> bool {
    m.protocol.to_ascii_uppercase().contains("SAVP")
}

fn codecs_of(m: &MediaDescription) -> Vec<(u8, Codec)> {
    m.payload_types()
        .filter_map(|pt| Some((pt, Codec::from_media(m, pt)?)))
        .collect()
}

fn is_ice(a: &Attribute) -> bool {
    matches!(a, Attribute::Other { name, .. } if matches!(
        name.as_str(),
        "candidate" | "ice-ufrag" | "ice-pwd" | "ice-options" | "ice-lite" | "ice-mismatch"
            | "end-of-candidates" | "remote-candidates"
    ))
}

/// The addresses a leg signalled for stream `i`: RTP and RTCP (a=rtcp or RTP + 1). None for a
/// disabled stream or the hold address 0.0.0.0.
fn signalled(s: &SessionDescription, i: usize) -> (Option<SocketAddr>, Option<SocketAddr>) {
    let Some(m) = s.media.get(i) else {
        return (None, None);
    };
    let Some(ip) = s.media_connection(i).and_then(Connection::ip) else {
        return (None, None);
    };
    if ip.is_unspecified() || m.port == 0 {
        return (None, None);
    }
    let rtp = SocketAddr::new(ip, m.port);
    let rtcp = m
        .attributes
        .iter()
        .find_map(|a| match a {
            Attribute::Rtcp { port, rest } => {
                let rip = rest
                    .as_deref()
                    .and_then(|r| r.split_ascii_whitespace().nth(2))
                    .and_then(|a| a.parse::<IpAddr>().ok())
                    .unwrap_or(ip);
                Some(SocketAddr::new(rip, *port))
            }
            _ => None,
        })
        .or_else(|| m.port.checked_add(1).map(|p| SocketAddr::new(ip, p)));
    (Some(rtp), rtcp)
}

fn origin_key(s: &SessionDescription) -> OriginKey {
    (
        s.origin.username.clone(),
        s.origin.session_id.clone(),
        s.origin.session_version,
    )
}

/// Replaces the formats and their rtpmap/fmtp lines, keeping every other attribute in place.
fn set_formats(m: &mut MediaDescription, list: &[(u8, Codec)]) {
    let is_map = |a: &Attribute| matches!(a, Attribute::RtpMap(_) | Attribute::Fmtp { .. });
    let at = m.attributes.iter().position(is_map).unwrap_or(0);
    m.attributes.retain(|a| !is_map(a));
    let mut new = Vec::with_capacity(list.len() * 2);
    for (pt, c) in list {
        new.push(Attribute::RtpMap(RtpMap {
            payload_type: *pt,
            encoding: c.name.clone(),
            clock_rate: c.clock_rate,
            channels: (c.channels != 1).then_some(c.channels),
        }));
        if let Some(p) = &c.fmtp {
            new.push(Attribute::Fmtp {
                payload_type: *pt,
                params: p.clone(),
            });
        }
    }
    let at = at.min(m.attributes.len());
    m.attributes.splice(at..at, new);
    m.formats = list.iter().map(|(pt, _)| pt.to_string()).collect();
}

/// Adds the G.711 law the offer lacks when it has exactly one, after the offer's own codecs.
fn add_other_law(m: &mut MediaDescription, offered: &[(u8, Codec)]) -> Option<(u8, Codec)> {
    let has = |law| offered.iter().any(|(_, c)| c.g711() == Some(law));
    let add = match (has(G711::Ulaw), has(G711::Alaw)) {
        (true, false) => Codec::pcma(),
        (false, true) => Codec::pcmu(),
        _ => return None,
    };
    let used: Vec<u8> = m.payload_types().collect();
    let pt = add
        .static_payload_type()
        .filter(|p| !used.contains(p))
        .or_else(|| (96u8..=127).find(|p| !used.contains(p)))?;
    // After the last real codec: telephone-event and comfort noise stay behind it.
    let is_codec = |f: &String| {
        f.parse::<u8>().ok().is_some_and(|p| {
            offered
                .iter()
                .find(|(op, _)| *op == p)
                .is_some_and(|(_, c)| !c.is_telephone_event() && !c.name.eq_ignore_ascii_case("CN"))
        })
    };
    let pos = m
        .formats
        .iter()
        .rposition(is_codec)
        .map_or(m.formats.len(), |p| p + 1);
    m.formats.insert(pos, pt.to_string());
    let apos = m
        .attributes
        .iter()
        .rposition(|a| matches!(a, Attribute::RtpMap(_) | Attribute::Fmtp { .. }))
        .map_or(0, |p| p + 1);
    m.attributes.insert(
        apos,
        Attribute::RtpMap(RtpMap {
            payload_type: pt,
            encoding: add.name.clone(),
            clock_rate: add.clock_rate,
            channels: None,
        }),
    );
    Some((pt, add))
}

fn first_codec(list: &[(u8, Codec)]) -> Option<Codec> {
    list.iter()
        .find(|(_, c)| !c.is_telephone_event() && !c.name.eq_ignore_ascii_case("CN"))
        .map(|(_, c)| c.clone())
}

/// Routes for what `from` sends, towards `to`.
fn routes(from: &LegSdp, to: &LegSdp) -> PayloadMap {
    let mut map = PayloadMap::identity();
    // What the leg was told to send with, then what it said it takes (a leg may send any of
    // those, e.g. telephone-event the other leg refused).
    let sends = from.send.iter().chain(
        from.recv
            .iter()
            .filter(|(p, _)| !from.send.iter().any(|(q, _)| q == p)),
    );
    for (pt, c) in sends {
        let event = c.is_telephone_event();
        let keep = Route {
            pt: *pt,
            transform: Transform::Keep,
            clock_rate: c.clock_rate,
            event,
        };
        let to_pt = |tp: u8, transform| Route {
            pt: tp,
            transform,
            ..keep
        };
        let route = if to.recv.is_empty() {
            keep
        } else if event {
            to.recv
                .iter()
                .find(|(_, t)| t.is_telephone_event() && t.clock_rate == c.clock_rate)
                .map_or(
                    Route {
                        transform: Transform::Drop,
                        ..keep
                    },
                    |(tp, _)| to_pt(*tp, Transform::Keep),
                )
        } else if let Some((tp, _)) = to.recv.iter().find(|(_, t)| t.same_as(c)) {
            to_pt(*tp, Transform::Keep)
        } else if let Some(law) = c.g711() {
            to.recv
                .iter()
                .find_map(|(tp, t)| match (law, t.g711()) {
                    (G711::Ulaw, Some(G711::Alaw)) => Some(to_pt(*tp, Transform::UlawToAlaw)),
                    (G711::Alaw, Some(G711::Ulaw)) => Some(to_pt(*tp, Transform::AlawToUlaw)),
                    _ => None,
                })
                .unwrap_or(keep)
        } else {
            keep
        };
        map.set(*pt, route);
    }
    map
}

impl Anchor {
    /// An anchor announcing `address`, with RTP port `ports[0]` facing A and `ports[1]` facing B
    /// (RTCP on each + 1). `seed` gives the session ids of our `o=` lines.
    pub fn new(address: IpAddr, ports: [u16; 2], seed: u64) -> Self {
        let id = |k: u64| {
            // splitmix64: distinct, non-zero-looking ids from one seed.
            let mut z = seed.wrapping_add(k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) >> 1
        };
        Self {
            address,
            ports,
            transcoding: true,
            legs: Default::default(),
            pending: None,
            last: None,
            exchanges: 0,
            generation: 0,
            origins: [1, 2].map(|k| OwnOrigin {
                session_id: id(k),
                version: 0,
                last: None,
            }),
            secure: false,
            local: None,
        }
    }

    /// Allow or forbid PCMU↔PCMA transcoding (allowed by default).
    pub fn set_transcoding(&mut self, on: bool) {
        self.transcoding = on;
    }

    /// The codec negotiated on a leg (0 = A, 1 = B).
    pub fn codec(&self, side: usize) -> Option<&Codec> {
        self.legs.get(side)?.codec.as_ref()
    }

    /// Rewrites an SDP that leg `from` sent, for the other leg; offer or answer as tracked (see
    /// the module documentation).
    pub fn handle(&mut self, from: usize, sdp: &str) -> (String, SdpKind) {
        let from = from.min(1);
        let Ok(s) = sdp.parse::<SessionDescription>() else {
            return (sdp.to_string(), SdpKind::Offer);
        };
        let kind = self.classify(from, &s);
        let out = match kind {
            SdpKind::Offer => self.rewrite_offer(from, s),
            SdpKind::Answer => self.rewrite_answer(from, s),
        };
        (out, kind)
    }

    /// Rewrites an offer from leg `from`.
    pub fn offer(&mut self, from: usize, sdp: &str) -> String {
        match sdp.parse::<SessionDescription>() {
            Ok(s) => self.rewrite_offer(from.min(1), s),
            Err(_) => sdp.to_string(),
        }
    }

    /// Rewrites an answer from leg `from` to the other leg's latest offer (also a repeated or
    /// revised answer, e.g. 183 then 200, or another fork's). Without any offer from the other
    /// leg it is an offer (the INVITE had no SDP).
    pub fn answer(&mut self, from: usize, sdp: &str) -> String {
        let from = from.min(1);
        let Ok(s) = sdp.parse::<SessionDescription>() else {
            return sdp.to_string();
        };
        let answers = |o: &Option<Offer>| o.as_ref().is_some_and(|o| o.from != from);
        if answers(&self.pending) || (self.pending.is_none() && answers(&self.last)) {
            self.rewrite_answer(from, s)
        } else {
            self.rewrite_offer(from, s)
        }
    }

    fn classify(&self, from: usize, s: &SessionDescription) -> SdpKind {
        if let Some(p) = &self.pending {
            return if p.from == from {
                SdpKind::Offer
            } else {
                SdpKind::Answer
            };
        }
        let Some(last) = &self.last else {
            return SdpKind::Offer;
        };
        if last.from == from {
            return SdpKind::Offer;
        }
        let (user, id, version) = origin_key(s);
        match &self.legs[from].origin {
            Some((u, i, v)) if *u == user && *i == id => {
                if version <= *v {
                    SdpKind::Answer
                } else {
                    SdpKind::Offer
                }
            }
            Some(_) if self.exchanges <= 1 => SdpKind::Answer,
            _ => SdpKind::Offer,
        }
    }

    fn rewrite_offer(&mut self, from: usize, mut s: SessionDescription) -> String {
        let to = 1 - from;
        let index = s.media.iter().position(anchorable);
        let (rtp, rtcp) = index.map_or((None, None), |i| signalled(&s, i));
        let mut offered = Vec::new();
        let mut added = None;
        if let Some(i) = index {
            let m = &mut s.media[i];
            self.secure = is_secure(m);
            offered = codecs_of(m);
            if self.transcoding && !self.secure {
                added = add_other_law(m, &offered);
            }
        }
        let mut to_peer = offered.clone();
        to_peer.extend(added.clone());
        let before = Box::new(match &self.pending {
            // An offer replacing a pending one: the state before that one.
            Some(p) => (*p.before).clone(),
            None => self.legs.clone(),
        });
        let leg = &mut self.legs[from];
        leg.rtp = rtp;
        leg.rtcp = rtcp;
        leg.recv = offered.clone();
        leg.origin = Some(origin_key(&s));
        self.legs[to].send = to_peer.clone();
        self.pending = Some(Offer {
            from,
            index,
            offered,
            to_peer,
            added,
            before,
            local: false,
        });
        self.finish(s, index, to)
    }

    fn rewrite_answer(&mut self, from: usize, mut s: SessionDescription) -> String {
        let fresh = self.pending.is_some();
        let Some(offer) = self.pending.take().or_else(|| self.last.clone()) else {
            return self.rewrite_offer(from, s);
        };
        let to = offer.from;
        let index = offer
            .index
            .filter(|&i| s.media.get(i).is_some_and(|m| m.port != 0));
        let (rtp, rtcp) = index.map_or((None, None), |i| signalled(&s, i));
        let mut answered = Vec::new();
        let mut for_offerer = Vec::new();
        if let Some(i) = index {
            let m = &mut s.media[i];
            // Formats of the answer; a dynamic type without rtpmap is looked up in our offer.
            answered = m
                .payload_types()
                .filter_map(|pt| {
                    let c = Codec::from_media(m, pt).or_else(|| {
                        offer
                            .to_peer
                            .iter()
                            .find(|(p, _)| *p == pt)
                            .map(|(_, c)| c.clone())
                    })?;
                    Some((pt, c))
                })
                .collect();
            let offerer_law = offer.offered.iter().find(|(_, c)| c.g711().is_some());
            for (_, c) in &answered {
                let mapped = if c.is_telephone_event() {
                    offer
                        .offered
                        .iter()
                        .find(|(_, o)| o.is_telephone_event() && o.clock_rate == c.clock_rate)
                        .map(|(p, _)| (*p, c.clone()))
                } else if let Some((p, _)) = offer.offered.iter().find(|(_, o)| o.same_as(c)) {
                    Some((*p, c.clone()))
                } else if offer.added.as_ref().is_some_and(|(_, a)| a.same_as(c)) {
                    offerer_law.cloned()
                } else {
                    None
                };
                if let Some((p, c)) = mapped {
                    if !for_offerer.iter().any(|(q, _)| *q == p) {
                        for_offerer.push((p, c));
                    }
                }
            }
            if for_offerer.is_empty() {
                // Nothing the offerer can use: the stream is rejected towards it.
                m.port = 0;
                answered.clear();
            } else {
                set_formats(m, &for_offerer);
            }
        }
        let leg = &mut self.legs[from];
        leg.rtp = rtp.filter(|_| !answered.is_empty());
        leg.rtcp = rtcp.filter(|_| !answered.is_empty());
        leg.codec = first_codec(&answered);
        leg.recv = answered;
        leg.send = offer.to_peer.clone();
        leg.origin = Some(origin_key(&s));
        let o = &mut self.legs[to];
        o.codec = first_codec(&for_offerer);
        o.send = for_offerer;
        o.recv = offer.offered.clone();
        if fresh {
            self.exchanges = self.exchanges.saturating_add(1);
        }
        self.generation = self.generation.saturating_add(1);
        let index = offer.index;
        // The offerer of a locally answered offer keeps our answer: its o= line stays as it was.
        let keep = offer.local.then(|| self.origins[to].clone());
        if offer.local {
            self.local = None;
        }
        self.last = Some(offer);
        let out = self.finish(s, index, to);
        if let Some(k) = keep {
            self.origins[to] = k;
        }
        out
    }

    /// Points the SDP at the relay (port facing `to`), removes what must not pass, and writes
    /// our own o= line for `to`.
    fn finish(&mut self, mut s: SessionDescription, index: Option<usize>, to: usize) -> String {
        let ip = self.address;
        let port = self.ports[to];
        let ours = |c: &mut Connection| {
            if !c.is_unspecified() {
                *c = Connection::new(ip);
            }
        };
        if let Some(c) = &mut s.connection {
            ours(c);
        }
        s.attributes.retain(|a| !is_ice(a));
        for (i, m) in s.media.iter_mut().enumerate() {
            if let Some(c) = &mut m.connection {
                ours(c);
            }
            m.attributes
                .retain(|a| !is_ice(a) && !matches!(a, Attribute::RtcpMux));
            if Some(i) == index && m.port != 0 {
                m.port = port;
                m.port_count = None;
                for a in &mut m.attributes {
                    if let Attribute::Rtcp { port: p, rest } = a {
                        *p = port.saturating_add(1);
                        if rest.is_some() {
                            let c = Connection::new(ip);
                            *rest = Some(format!("{} {} {}", c.net_type, c.addr_type, c.address));
                        }
                    }
                }
            } else {
                m.port = 0;
                m.port_count = None;
                m.attributes
                    .retain(|a| !matches!(a, Attribute::Rtcp { .. }));
            }
        }
        if s.connection.is_none() && s.media.iter().any(|m| m.connection.is_none()) {
            s.connection = Some(Connection::new(ip));
        }
        let own = Connection::new(ip);
        s.origin.username = "-".into();
        s.origin.net_type = own.net_type;
        s.origin.addr_type = own.addr_type;
        s.origin.address = own.address;
        let o = &mut self.origins[to];
        s.origin.session_id = o.session_id.to_string();
        s.origin.session_version = 0;
        let body = s.to_string();
        if o.last.as_deref() != Some(body.as_str()) {
            o.version += 1;
            o.last = Some(body);
        }
        s.origin.session_version = o.version;
        s.to_string()
    }

    /// Answers leg `from`'s offer here, for media we terminate ourselves (announcements, the
    /// keuzemenu): G.711 (the first of PCMU and PCMA in the offer's order) and telephone-event/8000
    /// when offered, ptime 20, the relay's port facing `from`, our o= line. None (and nothing
    /// changed) for an offer without an RTP/AVP audio stream (SRTP cannot be played to) or
    /// without G.711.
    ///
    /// The offer is kept as a pending offer from `from`, restricted to what we answered: the
    /// plan has `from`'s addresses, and [`Anchor::local_offer`] gives the offer for the other
    /// leg later. Its answer (through [`Anchor::answer`]) completes the exchange; the SDP it
    /// returns for `from` is not to be sent (`from` keeps our answer, its o= version unchanged).
    pub fn answer_locally(&mut self, from: usize, offer: &str) -> Option<LocalAnswer> {
        let from = from.min(1);
        let s = offer.parse::<SessionDescription>().ok()?;
        let index = s.media.iter().position(anchorable)?;
        let m = s.media.get(index)?;
        if is_secure(m) {
            return None;
        }
        let offered = codecs_of(m);
        let (pt, codec) = offered.iter().find(|(_, c)| c.g711().is_some())?.clone();
        let event = offered
            .iter()
            .find(|(_, c)| c.is_telephone_event() && c.clock_rate == 8000)
            .map(|(p, _)| *p);
        let mut list = vec![(pt, codec.clone())];
        list.extend(event.map(|p| (p, Codec::telephone_event(8000))));
        let direction = match s.media_direction(index) {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        };

        let mut restricted = s.clone();
        if let Some(m) = restricted.media.get_mut(index) {
            set_formats(m, &list);
        }
        self.rewrite_offer(from, restricted.clone());

        let mut answer = s;
        answer.session_name = "-".into();
        answer.other.clear();
        answer.bandwidth.clear();
        answer.attributes.clear();
        answer.connection = Some(Connection::new(self.address));
        for (i, m) in answer.media.iter_mut().enumerate() {
            m.connection = None;
            m.other.clear();
            m.bandwidth.clear();
            m.attributes.clear();
            if i == index {
                m.attributes.push(Attribute::Rtcp {
                    port: 0,
                    rest: None,
                });
                set_formats(m, &list);
                m.attributes.push(Attribute::Ptime(20));
                m.attributes.push(Attribute::Direction(direction));
            }
        }
        let sdp = self.finish(answer, Some(index), from);

        let leg = &mut self.legs[from];
        leg.codec = Some(codec.clone());
        leg.send = list;
        if let Some(p) = &mut self.pending {
            p.local = true;
            *p.before = self.legs.clone();
        }
        self.local = Some((from, restricted));
        Some(LocalAnswer {
            sdp,
            codec,
            payload_type: pt,
            telephone_event: event,
        })
    }

    /// After [`Anchor::answer_locally`] and until the other leg answered: the offer for the
    /// other leg (the codec we answered, the other G.711 law after it when transcoding is
    /// allowed, telephone-event when the offer had it). Again after a rejection of it.
    pub fn local_offer(&mut self) -> Option<String> {
        let (from, s) = self.local.clone()?;
        let before = Box::new(match &self.pending {
            Some(p) => (*p.before).clone(),
            None => self.legs.clone(),
        });
        let out = self.rewrite_offer(from, s);
        if let Some(p) = &mut self.pending {
            p.local = true;
            p.before = before;
        }
        Some(out)
    }

    /// Whether a locally answered offer still waits for the other leg's answer.
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The pending offer was rejected (a 488 or other failure to a re-INVITE or UPDATE): the
    /// session stays as it was before it (RFC 3264 §8: a rejected offer changes nothing).
    pub fn offer_rejected(&mut self) {
        if let Some(p) = self.pending.take() {
            self.legs = *p.before;
        }
    }

    /// What the packet path needs now.
    pub fn plan(&self) -> MediaPlan {
        let leg = |i: usize| LegPlan {
            rtp: self.legs[i].rtp,
            rtcp: self.legs[i].rtcp,
            routes: routes(&self.legs[i], &self.legs[1 - i]),
            codec: self.legs[i].codec.clone(),
        };
        MediaPlan {
            legs: [leg(0), leg(1)],
            exchange: self.generation,
            secure: self.secure,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sdp::Direction;

    const RELAY: [u8; 4] = [203, 0, 113, 1];

    fn anchor() -> Anchor {
        Anchor::new(IpAddr::from(RELAY), [30000, 30002], 7)
    }

    fn sdp(ip: &str, port: u16, formats: &str, extra: &str) -> String {
        format!(
            "v=0\r\no=phone 42 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {formats}\r\n{extra}"
        )
    }

    fn parse(s: &str) -> SessionDescription {
        s.parse().unwrap()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn pcmu_only_offer_gets_pcma_appended_and_pcma_answer_is_transcoded() {
        let mut a = anchor();
        let offer = sdp(
            "10.0.0.5",
            4000,
            "0 101",
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
        );
        let (to_b, kind) = a.handle(0, &offer);
        assert_eq!(kind, SdpKind::Offer);
        let o = parse(&to_b);
        let m = &o.media[0];
        // A's codecs first, the other law after them, telephone-event behind.
        assert_eq!(m.formats, ["0", "8", "101"]);
        assert_eq!(m.rtpmap(8).unwrap().encoding, "PCMA");
        assert_eq!(m.port, 30002);
        assert_eq!(m.ptime(), Some(20));
        assert_eq!(o.connection, Some(Connection::new(IpAddr::from(RELAY))));
        assert!(!to_b.contains("10.0.0.5"), "{to_b}");

        // B only does PCMA.
        let answer = sdp(
            "10.0.0.9",
            5000,
            "8 101",
            "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n",
        );
        let (to_a, kind) = a.handle(1, &answer);
        assert_eq!(kind, SdpKind::Answer);
        let ans = parse(&to_a);
        let m = &ans.media[0];
        // A hears its own codec.
        assert_eq!(m.formats, ["0", "101"]);
        assert_eq!(m.rtpmap(0).unwrap().encoding, "PCMU");
        assert_eq!(m.fmtp(101), Some("0-15"));
        assert_eq!(m.port, 30000);
        assert_eq!(m.ptime(), Some(20));
        assert!(!to_a.contains("10.0.0.9"), "{to_a}");

        let plan = a.plan();
        assert_eq!(plan.exchange, 1);
        assert_eq!(plan.legs[0].rtp, Some(addr("10.0.0.5:4000")));
        assert_eq!(plan.legs[0].rtcp, Some(addr("10.0.0.5:4001")));
        assert_eq!(plan.legs[1].rtp, Some(addr("10.0.0.9:5000")));
        assert_eq!(plan.legs[0].codec, Some(Codec::pcmu()));
        assert_eq!(
            plan.legs[1].codec.as_ref().map(|c| c.name.as_str()),
            Some("PCMA")
        );
        let a_to_b = &plan.legs[0].routes;
        assert_eq!(a_to_b.get(0).transform, Transform::UlawToAlaw);
        assert_eq!(a_to_b.get(0).pt, 8);
        assert_eq!(a_to_b.get(101).pt, 101);
        assert!(a_to_b.get(101).event);
        let b_to_a = &plan.legs[1].routes;
        assert_eq!(
            (b_to_a.get(8).pt, b_to_a.get(8).transform),
            (0, Transform::AlawToUlaw)
        );
        assert_eq!(b_to_a.get(101).transform, Transform::Keep);
        // Comfort noise was never negotiated: passes unchanged.
        assert_eq!(b_to_a.get(13).pt, 13);
    }

    #[test]
    fn pass_through_is_preferred_and_the_added_law_never_reaches_the_offerer() {
        let mut a = anchor();
        a.handle(0, &sdp("10.0.0.5", 4000, "0", ""));
        // B accepts both, PCMU first: pass-through, and the PCMA we added is not A's.
        let (to_a, _) = a.handle(1, &sdp("10.0.0.9", 5000, "0 8", ""));
        assert_eq!(parse(&to_a).media[0].formats, ["0"]);
        let plan = a.plan();
        assert_eq!(plan.legs[0].routes.get(0).transform, Transform::Keep);
        assert_eq!(plan.legs[0].routes.get(0).pt, 0);
        assert_eq!(plan.legs[1].routes.get(0).transform, Transform::Keep);

        // Both laws offered: nothing added.
        let mut a = anchor();
        let (to_b, _) = a.handle(0, &sdp("10.0.0.5", 4000, "8 0", ""));
        assert_eq!(parse(&to_b).media[0].formats, ["8", "0"]);
    }

    #[test]
    fn opus_and_g722_pass_through_only() {
        let mut a = anchor();
        let (to_b, _) = a.handle(
            0,
            &sdp(
                "10.0.0.5",
                4000,
                "111 9 101",
                "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
            ),
        );
        // No G.711 in the offer: nothing to transcode, nothing added.
        assert_eq!(parse(&to_b).media[0].formats, ["111", "9", "101"]);
        let (to_a, _) = a.handle(
            1,
            &sdp(
                "10.0.0.9",
                5000,
                "111",
                "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1;stereo=0\r\n",
            ),
        );
        let m = &parse(&to_a).media[0];
        assert_eq!(m.formats, ["111"]);
        assert_eq!(m.fmtp(111), Some("useinbandfec=1;stereo=0"));
        let plan = a.plan();
        assert_eq!(plan.legs[0].routes.get(111).clock_rate, 48000);
        assert_eq!(plan.legs[0].routes.get(111).transform, Transform::Keep);
        // B did not take telephone-event: A's DTMF packets are not forwarded.
        assert_eq!(plan.legs[0].routes.get(101).transform, Transform::Drop);

        // An answer with only a codec that was never offered: rejected towards A.
        let mut a = anchor();
        a.handle(0, &sdp("10.0.0.5", 4000, "9", ""));
        let (to_a, _) = a.handle(1, &sdp("10.0.0.9", 5000, "18", ""));
        assert_eq!(parse(&to_a).media[0].port, 0);
        assert_eq!(a.plan().legs[1].rtp, None);
    }

    #[test]
    fn telephone_event_numbers_are_mapped_between_legs() {
        let mut a = anchor();
        a.handle(
            0,
            &sdp(
                "10.0.0.5",
                4000,
                "8 101",
                "a=rtpmap:101 telephone-event/8000\r\n",
            ),
        );
        a.handle(
            1,
            &sdp(
                "10.0.0.9",
                5000,
                "8 101",
                "a=rtpmap:101 telephone-event/8000\r\n",
            ),
        );
        // B re-offers with its own numbering for telephone-event.
        let (to_a, kind) = a.handle(
            1,
            &sdp(
                "10.0.0.9",
                5000,
                "8 96",
                "a=rtpmap:96 telephone-event/8000\r\n",
            )
            .replace("phone 42 1", "phone 42 2"),
        );
        assert_eq!(kind, SdpKind::Offer);
        // A PCMA-only offer from B gets PCMU appended for A.
        assert_eq!(parse(&to_a).media[0].formats, ["8", "0", "96"]);
        // A answers with its old numbering for the event (non-compliant but seen).
        let (to_b, kind) = a.handle(
            0,
            &sdp(
                "10.0.0.5",
                4000,
                "8 101",
                "a=rtpmap:101 telephone-event/8000\r\n",
            ),
        );
        assert_eq!(kind, SdpKind::Answer);
        // B hears its own number.
        assert_eq!(parse(&to_b).media[0].formats, ["8", "96"]);
        let plan = a.plan();
        // B sends 96 (its offer) to A, who expects 101 (its answer).
        assert_eq!(plan.legs[1].routes.get(96).pt, 101);
        // A sends with the numbers of the offer it got (96); B expects 96.
        assert_eq!(plan.legs[0].routes.get(96).pt, 96);
    }

    #[test]
    fn hold_reoffer_from_b_keeps_its_direction_and_the_answer_too() {
        let mut a = anchor();
        a.handle(0, &sdp("10.0.0.5", 4000, "0", ""));
        a.handle(1, &sdp("10.0.0.9", 5000, "8", ""));
        let hold = sdp("10.0.0.9", 5000, "8", "a=sendonly\r\n").replace("phone 42 1", "phone 42 2");
        let (to_a, kind) = a.handle(1, &hold);
        assert_eq!(kind, SdpKind::Offer);
        let o = parse(&to_a);
        assert_eq!(o.media_direction(0), Direction::SendOnly);
        assert_eq!(o.media[0].formats, ["8", "0"]);
        assert_eq!(o.media[0].port, 30000);
        let (to_b, kind) = a.handle(0, &sdp("10.0.0.5", 4000, "0", "a=recvonly\r\n"));
        assert_eq!(kind, SdpKind::Answer);
        let ans = parse(&to_b);
        assert_eq!(ans.media_direction(0), Direction::RecvOnly);
        // B hears PCMA, its own law.
        assert_eq!(ans.media[0].formats, ["8"]);
        assert_eq!(ans.media[0].port, 30002);
        let plan = a.plan();
        assert_eq!(plan.exchange, 2);
        assert_eq!(plan.legs[0].routes.get(0).transform, Transform::UlawToAlaw);
        // Resume from A with inactive→sendrecv, version bumped: an offer again.
        let (_, kind) = a.handle(
            0,
            &sdp("10.0.0.5", 4000, "0", "a=sendrecv\r\n").replace("phone 42 1", "phone 42 3"),
        );
        assert_eq!(kind, SdpKind::Offer);
    }

    #[test]
    fn a_rejected_reoffer_changes_nothing() {
        let mut a = anchor();
        a.handle(0, &sdp("10.0.0.5", 4000, "0", ""));
        a.handle(1, &sdp("10.0.0.9", 5000, "8", ""));
        let before = a.plan();
        // B moves and re-offers; A rejects it (488).
        a.handle(
            1,
            &sdp("10.0.0.10", 5002, "8", "").replace("phone 42 1", "phone 42 2"),
        );
        assert_ne!(a.plan(), before);
        a.offer_rejected();
        assert_eq!(a.plan(), before);
        // So A's next SDP is a new offer, not an answer to B's rejected one.
        let (_, kind) = a.handle(
            0,
            &sdp("10.0.0.5", 4000, "0", "").replace("phone 42 1", "phone 42 2"),
        );
        assert_eq!(kind, SdpKind::Offer);
    }

    #[test]
    fn repeated_answer_and_forks_are_answers() {
        let mut a = anchor();
        let (first_to_b, _) = a.handle(0, &sdp("10.0.0.5", 4000, "0", ""));
        // 183 and 200 with the same SDP.
        let b = sdp("10.0.0.9", 5000, "0", "");
        let (x, k1) = a.handle(1, &b);
        let (y, k2) = a.handle(1, &b);
        assert_eq!((k1, k2), (SdpKind::Answer, SdpKind::Answer));
        // Same SDP to A both times, so the same o= version.
        assert_eq!(x, y);
        // Another fork (another phone, another session) answering the INVITE.
        let fork = sdp("10.0.0.10", 6000, "8", "a=ptime:30\r\n").replace("phone 42", "other 77");
        let (z, k3) = a.handle(1, &fork);
        assert_eq!(k3, SdpKind::Answer);
        let zs = parse(&z);
        assert_eq!(zs.media[0].formats, ["0"]);
        // A's o= line: same session, higher version.
        let xs = parse(&x);
        assert_eq!(zs.origin.session_id, xs.origin.session_id);
        assert_eq!(zs.origin.session_version, xs.origin.session_version + 1);
        assert_eq!(a.plan().legs[1].rtp, Some(addr("10.0.0.10:6000")));
        // Ours towards B is a different session than towards A.
        assert_ne!(parse(&first_to_b).origin.session_id, xs.origin.session_id);
        // After that, the same phone with a higher version is a new offer.
        let re = fork.replace("other 77 1", "other 77 2");
        assert_eq!(a.handle(1, &re).1, SdpKind::Offer);
        // Explicit answer still answers.
        let mut a = anchor();
        a.offer(0, &sdp("10.0.0.5", 4000, "0", ""));
        let to_a = a.answer(1, &sdp("10.0.0.9", 5000, "8", ""));
        assert_eq!(parse(&to_a).media[0].formats, ["0"]);
    }

    #[test]
    fn rtcp_attribute_ice_mux_and_extra_streams() {
        let mut a = anchor();
        let offer = "v=0\r\no=x 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\na=ice-ufrag:abcd\r\n\
m=audio 4000 RTP/AVP 8\r\na=rtcp:4005 IN IP4 10.0.0.6\r\na=rtcp-mux\r\na=candidate:1 1 UDP 1 10.0.0.5 4000 typ host\r\n\
m=video 4010 RTP/AVP 96\r\nc=IN IP4 10.0.0.5\r\na=rtpmap:96 H264/90000\r\n";
        let (to_b, _) = a.handle(0, offer);
        let o = parse(&to_b);
        assert!(
            !to_b.contains("10.0.0.5") && !to_b.contains("10.0.0.6"),
            "{to_b}"
        );
        assert!(
            !to_b.contains("candidate") && !to_b.contains("ice-") && !to_b.contains("rtcp-mux")
        );
        assert!(
            to_b.contains("a=rtcp:30003 IN IP4 203.0.113.1\r\n"),
            "{to_b}"
        );
        assert_eq!(o.media[0].port, 30002);
        // Video is not anchored, so it is disabled rather than left to flow around the relay.
        assert_eq!(o.media[1].port, 0);
        let plan = a.plan();
        assert_eq!(plan.legs[0].rtcp, Some(addr("10.0.0.6:4005")));
        // Plain a=rtcp:port keeps the connection address.
        let mut a = anchor();
        a.handle(0, &sdp("10.0.0.5", 4000, "8", "a=rtcp:4009\r\n"));
        assert_eq!(a.plan().legs[0].rtcp, Some(addr("10.0.0.5:4009")));
        // The answer to the two-stream offer keeps two m= lines.
        let mut a = anchor();
        a.handle(0, offer);
        let ans = "v=0\r\no=y 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8\r\nm=video 0 RTP/AVP 96\r\n";
        let (to_a, _) = a.handle(1, ans);
        let s = parse(&to_a);
        assert_eq!(s.media.len(), 2);
        assert_eq!((s.media[0].port, s.media[1].port), (30000, 0));
    }

    #[test]
    fn old_style_hold_address_is_kept() {
        let mut a = anchor();
        a.handle(0, &sdp("10.0.0.5", 4000, "8", ""));
        a.handle(1, &sdp("10.0.0.9", 5000, "8", ""));
        let hold = sdp("0.0.0.0", 4000, "8", "").replace("phone 42 1", "phone 42 2");
        let (to_b, _) = a.handle(0, &hold);
        assert!(to_b.contains("c=IN IP4 0.0.0.0\r\n"), "{to_b}");
        assert_eq!(a.plan().legs[0].rtp, None);
    }

    #[test]
    fn srtp_is_not_transcoded() {
        let mut a = anchor();
        let offer = "v=0\r\no=x 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:xyz\r\n";
        let (to_b, _) = a.handle(0, offer);
        assert_eq!(parse(&to_b).media[0].formats, ["0"]);
        assert!(to_b.contains("a=crypto:1"));
        assert!(a.plan().secure);
    }

    #[test]
    fn garbage_passes_unchanged() {
        let mut a = anchor();
        assert_eq!(a.handle(0, "nonsense").0, "nonsense");
        assert_eq!(a.plan().legs[0].rtp, None);
    }

    #[test]
    fn local_answer_then_offer_to_b_keeps_what_a_was_told() {
        let mut a = anchor();
        let offer = sdp(
            "10.0.0.5",
            4000,
            "9 8 0 101",
            "a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendonly\r\n",
        );
        let la = a.answer_locally(0, &offer).unwrap();
        assert_eq!((la.codec.name.as_str(), la.payload_type), ("PCMA", 8));
        assert_eq!(la.telephone_event, Some(101));
        let ans = parse(&la.sdp);
        let m = &ans.media[0];
        assert_eq!(
            (m.port, m.formats.clone()),
            (30000, vec!["8".into(), "101".into()])
        );
        assert_eq!(m.ptime(), Some(20));
        assert_eq!(m.direction(), Some(Direction::RecvOnly));
        assert_eq!(ans.origin.session_version, 1);
        let plan = a.plan();
        assert_eq!(plan.legs[0].rtp, Some(addr("10.0.0.5:4000")));
        assert_eq!(plan.legs[1].rtp, None);
        assert_eq!(a.codec(0).map(|c| c.name.as_str()), Some("PCMA"));
        assert!(a.is_local());

        let to_b = parse(&a.local_offer().unwrap());
        assert_eq!(to_b.media[0].port, 30002);
        assert_eq!(to_b.media[0].formats, ["8", "0", "101"]);
        // Rejected, then offered again.
        a.offer_rejected();
        assert_eq!(a.plan().legs[0].rtp, Some(addr("10.0.0.5:4000")));
        assert!(a.local_offer().is_some());
        // B takes PCMU: transcoded, A keeps PCMA.
        let back = a.answer(
            1,
            &sdp(
                "10.0.0.9",
                5000,
                "0 101",
                "a=rtpmap:101 telephone-event/8000\r\n",
            ),
        );
        assert!(!a.is_local());
        assert!(a.local_offer().is_none());
        assert_eq!(parse(&back).media[0].formats, ["8", "101"]);
        let plan = a.plan();
        assert_eq!(
            plan.legs[0].codec.as_ref().map(|c| c.name.as_str()),
            Some("PCMA")
        );
        assert_eq!(plan.legs[0].routes.get(8).transform, Transform::AlawToUlaw);
        assert_eq!(plan.legs[1].routes.get(0).transform, Transform::UlawToAlaw);
        assert_eq!(plan.legs[1].routes.get(0).pt, 8);
        // A's next SDP from us is version 2: the one after our local answer.
        let reoffer = a.offer(1, &sdp("10.0.0.9", 5000, "0", ""));
        assert_eq!(parse(&reoffer).origin.session_version, 2);
    }
}

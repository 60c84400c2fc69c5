//! Offer/answer (RFC 3264) for audio, and the bridge decision between two legs.
//!
//! Rules implemented by [`answer`]:
//! - The answer has as many m= lines as the offer, in the same order (§6). A stream we do not
//!   take (not audio, a protocol we do not speak, port 0 in the offer, no common codec, no relay
//!   port) is answered with port 0 and the offer's format list, and nothing else (§6, §8.2).
//! - Formats are the intersection of the offer with our codecs, **in the offerer's order**
//!   (§6.1: the answerer MAY reorder, but it is RECOMMENDED to keep the offer's relative order
//!   unless there is a reason not to). Our preference order only decides which codecs we accept,
//!   and [`common_codec`] uses it when bridging. The first accepted codec is the one that flows.
//! - Payload type numbers are taken from the offer, for static and dynamic types alike (§6.1: the
//!   answerer MUST use the offerer's numbers for the same codec when sending).
//! - telephone-event is kept when we do DTMF and its clock rate equals that of an accepted codec:
//!   `/8000` for G.711 and G.722, `/48000` only when the offer has it and Opus is accepted.
//! - With transcoding allowed and no codec in common, a G.711 law we do not list is still accepted
//!   if we list the other: the relay converts PCMU↔PCMA. When a common codec exists the
//!   transcodable extras are left out, so media flows without conversion. Opus and G.722 are only
//!   ever passed through.
//! - `a=ptime` is echoed when offered, `a=rtcp-mux` when offered and enabled.
//! - Direction (§6.1, §8.4): sendonly → recvonly, recvonly → sendonly, inactive → inactive,
//!   sendrecv → our own direction; each further limited by what we want (e.g. we hold: sendonly).
//!   An offer with connection address 0.0.0.0 (RFC 2543 hold) is treated as sendonly.

use std::net::IpAddr;

use crate::sdp::{
    Attribute, Connection, Direction, MediaDescription, Origin, RtpMap, SessionDescription, Timing,
};

/// Why an offer could not be answered at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    #[error("offer has no media sections")]
    NoMedia,
}

/// A codec as named in SDP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Codec {
    /// Encoding name as in rtpmap (`PCMU`, `opus`…); compared case-insensitively.
    pub name: String,
    pub clock_rate: u32,
    /// Audio channels (1 when rtpmap gives none).
    pub channels: u16,
    /// fmtp parameters we offer for it.
    pub fmtp: Option<String>,
}

/// The two G.711 laws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711 {
    Ulaw,
    Alaw,
}

impl Codec {
    fn new(name: &str, clock_rate: u32, channels: u16, fmtp: Option<&str>) -> Self {
        Self {
            name: name.to_owned(),
            clock_rate,
            channels,
            fmtp: fmtp.map(str::to_owned),
        }
    }
    /// G.711 µ-law.
    pub fn pcmu() -> Self {
        Self::new("PCMU", 8000, 1, None)
    }
    /// G.711 A-law.
    pub fn pcma() -> Self {
        Self::new("PCMA", 8000, 1, None)
    }
    /// G.722 (RTP clock 8000 by RFC 3551's historical error).
    pub fn g722() -> Self {
        Self::new("G722", 8000, 1, None)
    }
    /// Opus as used in SIP and WebRTC.
    pub fn opus() -> Self {
        Self::new("opus", 48000, 2, Some("minptime=10;useinbandfec=1"))
    }
    /// RFC 4733 telephone-event at a clock rate.
    pub fn telephone_event(clock_rate: u32) -> Self {
        Self::new("telephone-event", clock_rate, 1, Some("0-15"))
    }

    /// Same encoding, clock rate and channels.
    pub fn same_as(&self, other: &Codec) -> bool {
        self.name.eq_ignore_ascii_case(&other.name)
            && self.clock_rate == other.clock_rate
            && self.channels == other.channels
    }

    /// Whether this is RFC 4733 telephone-event.
    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }

    /// The G.711 law, if this is G.711 at 8 kHz mono.
    pub fn g711(&self) -> Option<G711> {
        if self.clock_rate != 8000 || self.channels != 1 {
            None
        } else if self.name.eq_ignore_ascii_case("PCMU") {
            Some(G711::Ulaw)
        } else if self.name.eq_ignore_ascii_case("PCMA") {
            Some(G711::Alaw)
        } else {
            None
        }
    }

    /// The static payload type of this codec (RFC 3551), if it has one.
    pub fn static_payload_type(&self) -> Option<u8> {
        STATIC_TYPES
            .iter()
            .find(|(_, name, rate, ch)| {
                self.name.eq_ignore_ascii_case(name)
                    && self.clock_rate == *rate
                    && self.channels == *ch
            })
            .map(|(pt, ..)| *pt)
    }

    /// The codec a payload type stands for in a media section: its rtpmap, else the static table.
    pub fn from_media(m: &MediaDescription, pt: u8) -> Option<Self> {
        if let Some(map) = m.rtpmap(pt) {
            return Some(Self {
                name: map.encoding.clone(),
                clock_rate: map.clock_rate,
                channels: map.channels.unwrap_or(1),
                fmtp: m.fmtp(pt).map(str::to_owned),
            });
        }
        STATIC_TYPES
            .iter()
            .find(|(p, ..)| *p == pt)
            .map(|&(_, name, rate, ch)| Self::new(name, rate, ch, m.fmtp(pt)))
    }
}

/// RFC 3551 static audio payload types.
const STATIC_TYPES: &[(u8, &str, u32, u16)] = &[
    (0, "PCMU", 8000, 1),
    (3, "GSM", 8000, 1),
    (4, "G723", 8000, 1),
    (5, "DVI4", 8000, 1),
    (6, "DVI4", 16000, 1),
    (7, "LPC", 8000, 1),
    (8, "PCMA", 8000, 1),
    (9, "G722", 8000, 1),
    (10, "L16", 44100, 2),
    (11, "L16", 44100, 1),
    (12, "QCELP", 8000, 1),
    (13, "CN", 8000, 1),
    (14, "MPA", 90000, 1),
    (15, "G728", 8000, 1),
    (16, "DVI4", 11025, 1),
    (17, "DVI4", 22050, 1),
    (18, "G729", 8000, 1),
];

/// Our side of a negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address of our relay, written into c=.
    pub address: IpAddr,
    /// Codecs we accept, most preferred first (telephone-event is added by `telephone_event`).
    pub codecs: Vec<Codec>,
    /// Whether we take RFC 4733 DTMF.
    pub telephone_event: bool,
    /// Accept the other G.711 law and transcode.
    pub allow_transcoding: bool,
    /// What we want: sendrecv normally, sendonly when we put the peer on hold.
    pub direction: Direction,
    /// Accept RTP/RTCP multiplexing when offered, and offer it.
    pub rtcp_mux: bool,
    /// Transport protocols we answer (case-insensitive), e.g. `RTP/AVP`.
    pub protocols: Vec<String>,
    /// o= line: username, session id and version (bump the version on every new offer/answer).
    pub username: String,
    pub session_id: u64,
    pub session_version: u64,
    /// ptime we offer.
    pub ptime: u32,
}

impl LocalMedia {
    /// Defaults: PCMA, PCMU, G.722, telephone-event, sendrecv, RTP/AVP and RTP/AVPF.
    pub fn new(address: IpAddr) -> Self {
        Self {
            address,
            codecs: vec![Codec::pcma(), Codec::pcmu(), Codec::g722()],
            telephone_event: true,
            allow_transcoding: false,
            direction: Direction::SendRecv,
            rtcp_mux: true,
            protocols: vec!["RTP/AVP".into(), "RTP/AVPF".into()],
            username: "-".into(),
            session_id: 1,
            session_version: 1,
            ptime: 20,
        }
    }

    fn supports(&self, c: &Codec) -> bool {
        self.codecs.iter().any(|l| l.same_as(c))
    }

    fn can_transcode(&self, c: &Codec) -> bool {
        self.allow_transcoding
            && c.g711().is_some()
            && self.codecs.iter().any(|l| l.g711().is_some())
    }

    fn origin(&self) -> Origin {
        let conn = Connection::new(self.address);
        Origin {
            username: self.username.clone(),
            session_id: self.session_id.to_string(),
            session_version: self.session_version,
            net_type: conn.net_type,
            addr_type: conn.addr_type,
            address: conn.address,
        }
    }

    fn session(&self, media: Vec<MediaDescription>) -> SessionDescription {
        SessionDescription {
            origin: self.origin(),
            session_name: "-".into(),
            other: Vec::new(),
            connection: Some(Connection::new(self.address)),
            bandwidth: Vec::new(),
            timing: vec![Timing::default()],
            attributes: Vec::new(),
            media,
        }
    }
}

/// What was agreed for one audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedStream {
    /// Index of the m= line.
    pub index: usize,
    /// The codec that flows (first accepted) and its payload type.
    pub codec: Codec,
    pub payload_type: u8,
    /// All accepted codecs with their payload types, in answer order (telephone-event excluded).
    pub codecs: Vec<(u8, Codec)>,
    /// telephone-event payload type and clock rate, if agreed.
    pub telephone_event: Option<(u8, u32)>,
    /// Where the peer wants media (None when it gave no usable address).
    pub remote: Option<(IpAddr, u16)>,
    /// Our direction as answered.
    pub direction: Direction,
    pub rtcp_mux: bool,
    pub ptime: Option<u32>,
}

/// The answer and what it means for the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub sdp: SessionDescription,
    /// One entry per m= line; None where the stream was rejected.
    pub streams: Vec<Option<NegotiatedStream>>,
}

fn answer_direction(offered: Direction, local: Direction) -> Direction {
    // We may send only if the offerer receives, and receive only if it sends.
    Direction::from_flags(
        offered.receives() && local.sends(),
        offered.sends() && local.receives(),
    )
}

fn rejected(m: &MediaDescription) -> MediaDescription {
    let mut r = MediaDescription::new(&m.media, 0, &m.protocol, m.formats.clone());
    if r.formats.is_empty() {
        r.formats.push("0".into());
    }
    r
}

fn remote_of(offer: &SessionDescription, i: usize, port: u16) -> Option<(IpAddr, u16)> {
    let c = offer.media_connection(i)?;
    let ip = c.ip()?;
    (!ip.is_unspecified() && port != 0).then_some((ip, port))
}

fn push_format(m: &mut MediaDescription, pt: u8, c: &Codec, fmtp: Option<&str>) {
    m.formats.push(pt.to_string());
    m.attributes.push(Attribute::RtpMap(RtpMap {
        payload_type: pt,
        encoding: c.name.clone(),
        clock_rate: c.clock_rate,
        channels: (c.channels != 1).then_some(c.channels),
    }));
    if let Some(p) = fmtp {
        m.attributes.push(Attribute::Fmtp {
            payload_type: pt,
            params: p.to_owned(),
        });
    }
}

/// Answers `offer`. `ports[i]` is our relay port for m= line `i` (missing or 0: reject it).
pub fn answer(
    offer: &SessionDescription,
    local: &LocalMedia,
    ports: &[u16],
) -> Result<Answer, NegotiationError> {
    if offer.media.is_empty() {
        return Err(NegotiationError::NoMedia);
    }
    let mut media = Vec::with_capacity(offer.media.len());
    let mut streams = Vec::with_capacity(offer.media.len());
    for (i, m) in offer.media.iter().enumerate() {
        match answer_stream(offer, i, m, local, ports.get(i).copied().unwrap_or(0)) {
            Some((am, s)) => {
                media.push(am);
                streams.push(Some(s));
            }
            None => {
                media.push(rejected(m));
                streams.push(None);
            }
        }
    }
    Ok(Answer {
        sdp: local.session(media),
        streams,
    })
}

fn answer_stream(
    offer: &SessionDescription,
    i: usize,
    m: &MediaDescription,
    local: &LocalMedia,
    port: u16,
) -> Option<(MediaDescription, NegotiatedStream)> {
    if port == 0
        || m.port == 0
        || !m.media.eq_ignore_ascii_case("audio")
        || !local
            .protocols
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&m.protocol))
    {
        return None;
    }
    let offered: Vec<(u8, Codec)> = m
        .payload_types()
        .filter_map(|pt| Some((pt, Codec::from_media(m, pt)?)))
        .collect();
    let pick = |ok: &dyn Fn(&Codec) -> bool| -> Vec<(u8, Codec)> {
        offered
            .iter()
            .filter(|(_, c)| !c.is_telephone_event() && ok(c))
            .cloned()
            .collect()
    };
    // Codecs we carry natively come first; only without any do we fall back to transcoding, so
    // that PCMU+PCMA offered to a PCMA-only side flows as PCMA without conversion.
    let mut accepted = pick(&|c| local.supports(c));
    if accepted.is_empty() {
        accepted = pick(&|c| local.can_transcode(c));
    }
    let (pt, codec) = accepted.first()?.clone();
    let te: Vec<(u8, Codec)> = if local.telephone_event {
        offered
            .iter()
            .filter(|(_, c)| {
                c.is_telephone_event() && accepted.iter().any(|(_, a)| a.clock_rate == c.clock_rate)
            })
            .cloned()
            .collect()
    } else {
        Vec::new()
    };

    let mut am = MediaDescription::new(&m.media, port, &m.protocol, Vec::new());
    // Offer order for everything we keep.
    for (opt, oc) in &offered {
        if accepted.iter().any(|(p, _)| p == opt) {
            push_format(&mut am, *opt, oc, oc.fmtp.as_deref());
        } else if te.iter().any(|(p, _)| p == opt) {
            push_format(&mut am, *opt, oc, Some("0-15"));
        }
    }
    let ptime = m.ptime();
    if let Some(p) = ptime {
        am.attributes.push(Attribute::Ptime(p));
    }
    let mut offered_dir = offer.media_direction(i);
    if offer
        .media_connection(i)
        .is_some_and(Connection::is_unspecified)
        && !m.protocol.contains("SAVPF")
    {
        // RFC 2543 hold; WebRTC's c=0.0.0.0 with ICE is not hold.
        offered_dir = Direction::from_flags(offered_dir.sends(), false);
    }
    let direction = answer_direction(offered_dir, local.direction);
    am.attributes.push(Attribute::Direction(direction));
    let rtcp_mux = local.rtcp_mux && m.rtcp_mux();
    if rtcp_mux {
        am.attributes.push(Attribute::RtcpMux);
    }
    let stream = NegotiatedStream {
        index: i,
        payload_type: pt,
        codecs: accepted,
        telephone_event: te
            .iter()
            .find(|(_, c)| c.clock_rate == codec.clock_rate)
            .or(te.first())
            .map(|(p, c)| (*p, c.clock_rate)),
        codec,
        remote: remote_of(offer, i, m.port),
        direction,
        rtcp_mux,
        ptime,
    };
    Some((am, stream))
}

/// Builds an offer with one audio stream on `port` from `local.codecs` (static payload types
/// where they exist, dynamic from 96 on), telephone-event/8000 (and /48000 when Opus is offered).
pub fn create_offer(local: &LocalMedia, port: u16) -> SessionDescription {
    let mut m = MediaDescription::new("audio", port, "RTP/AVP", Vec::new());
    let mut next_dynamic = 96u8;
    let mut dynamic = || {
        let pt = next_dynamic;
        next_dynamic = next_dynamic.saturating_add(1).min(127);
        pt
    };
    for c in local.codecs.iter().filter(|c| !c.is_telephone_event()) {
        let pt = c.static_payload_type().unwrap_or_else(&mut dynamic);
        push_format(&mut m, pt, c, c.fmtp.as_deref());
    }
    if local.telephone_event {
        let mut rates = vec![8000];
        if local.codecs.iter().any(|c| c.clock_rate == 48000) {
            rates.push(48000);
        }
        for rate in rates {
            let te = Codec::telephone_event(rate);
            let pt = if rate == 8000 { 101 } else { dynamic() };
            push_format(&mut m, pt, &te, te.fmtp.as_deref());
        }
    }
    m.attributes.push(Attribute::Ptime(local.ptime));
    m.attributes.push(Attribute::Direction(local.direction));
    if local.rtcp_mux {
        m.attributes.push(Attribute::RtcpMux);
    }
    local.session(vec![m])
}

/// Reads the peer's answer to an offer we made: what was agreed per m= line (None: rejected).
pub fn read_answer(answer: &SessionDescription) -> Vec<Option<NegotiatedStream>> {
    answer
        .media
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if m.port == 0 || !m.media.eq_ignore_ascii_case("audio") {
                return None;
            }
            let all: Vec<(u8, Codec)> = m
                .payload_types()
                .filter_map(|pt| Some((pt, Codec::from_media(m, pt)?)))
                .collect();
            let codecs: Vec<(u8, Codec)> = all
                .iter()
                .filter(|(_, c)| !c.is_telephone_event())
                .cloned()
                .collect();
            let (payload_type, codec) = codecs.first()?.clone();
            let telephone_event = all
                .iter()
                .find(|(_, c)| c.is_telephone_event() && c.clock_rate == codec.clock_rate)
                .map(|(p, c)| (*p, c.clock_rate));
            // The answerer's direction is its own; ours is the mirror image.
            let theirs = answer.media_direction(i);
            Some(NegotiatedStream {
                index: i,
                codec,
                payload_type,
                codecs,
                telephone_event,
                remote: remote_of(answer, i, m.port),
                direction: Direction::from_flags(theirs.receives(), theirs.sends()),
                rtcp_mux: m.rtcp_mux(),
                ptime: m.ptime(),
            })
        })
        .collect()
}

/// How the relay joins two legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeMode {
    /// Same codec: rewrite headers only (payload types may still differ between the legs).
    PassThrough,
    /// G.711 law on leg A and on leg B differ: translate every payload octet.
    Transcode { a: G711, b: G711 },
    /// Nothing we can do without a full codec.
    Incompatible,
}

/// The mode for two negotiated codecs. Opus and G.722 are only passed through.
pub fn bridge_mode(a: &Codec, b: &Codec) -> BridgeMode {
    if a.same_as(b) {
        return BridgeMode::PassThrough;
    }
    match (a.g711(), b.g711()) {
        (Some(a), Some(b)) => BridgeMode::Transcode { a, b },
        _ => BridgeMode::Incompatible,
    }
}

/// Picks the codec pair for bridging leg A (codecs in its preference order) with leg B: the first
/// of A's codecs that B also has (pass-through), else with `allow_transcoding` the first G.711 of
/// each leg. telephone-event is ignored.
pub fn common_codec(
    a: &[Codec],
    b: &[Codec],
    allow_transcoding: bool,
) -> Option<(Codec, Codec, BridgeMode)> {
    let audio = |c: &&Codec| !c.is_telephone_event();
    for ca in a.iter().filter(audio) {
        if let Some(cb) = b.iter().filter(audio).find(|cb| ca.same_as(cb)) {
            return Some((ca.clone(), cb.clone(), BridgeMode::PassThrough));
        }
    }
    if allow_transcoding {
        let ga = a.iter().find(|c| c.g711().is_some())?;
        let gb = b.iter().find(|c| c.g711().is_some())?;
        return Some((ga.clone(), gb.clone(), bridge_mode(ga, gb)));
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sdp::tests::{CHROME_OFFER, LINPHONE_OFFER, SIPP_OFFER};

    fn local(codecs: Vec<Codec>) -> LocalMedia {
        LocalMedia {
            codecs,
            ..LocalMedia::new("203.0.113.5".parse().unwrap())
        }
    }

    fn offer(formats: &str, extra: &str) -> SessionDescription {
        format!("v=0\r\no=bob 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP {formats}\r\n{extra}")
            .parse()
            .unwrap()
    }

    #[test]
    fn sipp_pcmu_answered() {
        let o: SessionDescription = SIPP_OFFER.parse().unwrap();
        let a = answer(&o, &local(vec![Codec::pcmu()]), &[30000]).unwrap();
        let s = a.streams[0].as_ref().unwrap();
        assert_eq!((s.payload_type, s.codec.name.as_str()), (0, "PCMU"));
        assert_eq!(s.remote, Some(("127.0.0.1".parse().unwrap(), 6000)));
        assert_eq!(s.direction, Direction::SendRecv);
        assert_eq!(
            a.sdp.to_string(),
            "v=0\r\no=- 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
        );
    }

    #[test]
    fn pcmu_only_vs_pcma_only() {
        let o = offer("0", "");
        let a = answer(&o, &local(vec![Codec::pcma()]), &[30000]).unwrap();
        assert_eq!(a.streams, vec![None]);
        assert_eq!(a.sdp.media[0].port, 0);
        assert_eq!(a.sdp.media[0].formats, ["0"]);
        assert!(a.sdp.media[0].attributes.is_empty());

        let mut l = local(vec![Codec::pcma()]);
        l.allow_transcoding = true;
        let a = answer(&o, &l, &[30000]).unwrap();
        let s = a.streams[0].as_ref().unwrap();
        assert_eq!(s.codec, Codec::pcmu());
        assert_eq!(a.sdp.media[0].port, 30000);
        assert_eq!(
            bridge_mode(&s.codec, &Codec::pcma()),
            BridgeMode::Transcode {
                a: G711::Ulaw,
                b: G711::Alaw
            }
        );
        // Both laws offered: the native one wins, even though the offerer lists PCMU first.
        let a = answer(&offer("0 8", ""), &l, &[30000]).unwrap();
        assert_eq!(a.sdp.media[0].formats, ["8"]);
        assert_eq!(a.streams[0].as_ref().unwrap().codec, Codec::pcma());
    }

    #[test]
    fn offerer_order_and_payload_types_kept() {
        // Offer prefers PCMU; we prefer PCMA. The answer keeps the offerer's order (RFC 3264 §6.1).
        let o = offer(
            "97 0 8 18 101",
            "a=rtpmap:97 AMR/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:30\r\n",
        );
        let a = answer(&o, &local(vec![Codec::pcma(), Codec::pcmu()]), &[30000]).unwrap();
        let m = &a.sdp.media[0];
        // AMR and G.729 are unknown to us and left out; telephone-event kept with its number.
        assert_eq!(m.formats, ["0", "8", "101"]);
        assert_eq!(m.ptime(), Some(30));
        assert_eq!(m.fmtp(101), Some("0-15"));
        let s = a.streams[0].as_ref().unwrap();
        assert_eq!(s.payload_type, 0);
        assert_eq!(s.telephone_event, Some((101, 8000)));
        assert_eq!(s.ptime, Some(30));
    }

    #[test]
    fn dynamic_types_from_offer() {
        let o = offer("98 8 100", "a=rtpmap:98 opus/48000/2\r\na=fmtp:98 useinbandfec=1\r\na=rtpmap:100 telephone-event/48000\r\n");
        let a = answer(&o, &local(vec![Codec::opus(), Codec::pcma()]), &[30000]).unwrap();
        let m = &a.sdp.media[0];
        assert_eq!(m.formats, ["98", "8", "100"]);
        assert_eq!(m.rtpmap(98).unwrap().channels, Some(2));
        assert_eq!(m.fmtp(98), Some("useinbandfec=1"));
        let s = a.streams[0].as_ref().unwrap();
        assert_eq!(
            (s.payload_type, s.telephone_event),
            (98, Some((100, 48000)))
        );
        // Without Opus accepted, telephone-event/48000 goes.
        let a = answer(&o, &local(vec![Codec::pcma()]), &[30000]).unwrap();
        assert_eq!(a.sdp.media[0].formats, ["8"]);
        assert_eq!(a.streams[0].as_ref().unwrap().telephone_event, None);
    }

    #[test]
    fn telephone_event_dropped_when_disabled() {
        let o = offer("8 101", "a=rtpmap:101 telephone-event/8000\r\n");
        let mut l = local(vec![Codec::pcma()]);
        l.telephone_event = false;
        let a = answer(&o, &l, &[30000]).unwrap();
        assert_eq!(a.sdp.media[0].formats, ["8"]);
    }

    #[test]
    fn telephone_event_alone_is_no_codec() {
        let o = offer("101", "a=rtpmap:101 telephone-event/8000\r\n");
        let a = answer(&o, &local(vec![Codec::pcma()]), &[30000]).unwrap();
        assert_eq!(a.streams, vec![None]);
    }

    #[test]
    fn directions() {
        let l = local(vec![Codec::pcma()]);
        let dir = |extra: &str, l: &LocalMedia| {
            let a = answer(&offer("8", extra), l, &[30000]).unwrap();
            a.sdp.media_direction(0)
        };
        assert_eq!(dir("a=sendonly\r\n", &l), Direction::RecvOnly); // hold, RFC 3264 §8.4
        assert_eq!(dir("a=recvonly\r\n", &l), Direction::SendOnly);
        assert_eq!(dir("a=inactive\r\n", &l), Direction::Inactive);
        assert_eq!(dir("", &l), Direction::SendRecv);
        let mut holding = l.clone();
        holding.direction = Direction::SendOnly;
        assert_eq!(dir("", &holding), Direction::SendOnly);
        assert_eq!(dir("a=sendonly\r\n", &holding), Direction::Inactive);
        // Old-style hold with c=0.0.0.0.
        let o: SessionDescription = "v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n"
            .parse()
            .unwrap();
        let a = answer(&o, &l, &[30000]).unwrap();
        assert_eq!(a.sdp.media_direction(0), Direction::RecvOnly);
        assert_eq!(a.streams[0].as_ref().unwrap().remote, None);
    }

    #[test]
    fn m_lines_kept_in_number_and_order() {
        let o: SessionDescription =
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
m=audio 0 RTP/AVP 0\r\n\
m=audio 4000 RTP/SAVP 0\r\n\
m=audio 4002 RTP/AVP 8 0\r\na=rtcp-mux\r\n"
                .parse()
                .unwrap();
        let a = answer(
            &o,
            &local(vec![Codec::pcmu(), Codec::pcma()]),
            &[1, 2, 3, 30000],
        )
        .unwrap();
        let ports: Vec<u16> = a.sdp.media.iter().map(|m| m.port).collect();
        assert_eq!(ports, [0, 0, 0, 30000]);
        assert_eq!(a.sdp.media[0].media, "video");
        assert_eq!(a.sdp.media[2].protocol, "RTP/SAVP");
        let s = a.streams[3].as_ref().unwrap();
        assert_eq!((s.index, s.payload_type, s.rtcp_mux), (3, 8, true));
        assert!(a.sdp.media[3].rtcp_mux());
        // No port from the relay: rejected.
        let a = answer(&o, &local(vec![Codec::pcmu()]), &[]).unwrap();
        assert!(a.streams.iter().all(Option::is_none));
        assert_eq!(
            answer(
                &"v=0\r\no=- 1 1 IN IP4 h\r\n".parse().unwrap(),
                &local(vec![]),
                &[]
            ),
            Err(NegotiationError::NoMedia)
        );
    }

    #[test]
    fn linphone_offer() {
        let o: SessionDescription = LINPHONE_OFFER.parse().unwrap();
        let a = answer(&o, &local(vec![Codec::pcma(), Codec::pcmu()]), &[30000]).unwrap();
        let m = &a.sdp.media[0];
        // Opus is unknown to this local config: skipped; te/48000 dropped, te/8000 kept.
        assert_eq!(m.formats, ["0", "8", "101"]);
        assert_eq!(m.ptime(), Some(20));
        assert!(!m.rtcp_mux());
        let back: SessionDescription = a.sdp.to_string().parse().unwrap();
        assert_eq!(back, a.sdp);
    }

    #[test]
    fn chrome_offer_needs_savpf() {
        let o: SessionDescription = CHROME_OFFER.parse().unwrap();
        let l = local(vec![Codec::opus(), Codec::pcmu()]);
        assert_eq!(answer(&o, &l, &[30000]).unwrap().streams, vec![None]);
        let mut l = l;
        l.protocols.push("UDP/TLS/RTP/SAVPF".into());
        let a = answer(&o, &l, &[30000]).unwrap();
        assert_eq!(a.sdp.media[0].formats, ["111", "0", "110", "126"]);
        let s = a.streams[0].as_ref().unwrap();
        assert_eq!(s.codec.name, "opus");
        assert_eq!(s.direction, Direction::SendRecv);
        assert_eq!(s.telephone_event, Some((110, 48000)));
    }

    #[test]
    fn offer_generation_and_read_answer() {
        let mut l = local(vec![Codec::opus(), Codec::pcma(), Codec::pcmu()]);
        l.session_version = 7;
        let o = create_offer(&l, 20000);
        let m = &o.media[0];
        assert_eq!(m.formats, ["96", "8", "0", "101", "97"]);
        assert_eq!(m.rtpmap(97).unwrap().clock_rate, 48000);
        assert_eq!(o.origin.session_version, 7);
        // A peer that only does PCMA answers our offer; we read what was agreed.
        let peer = local(vec![Codec::pcma()]);
        let a = answer(&o.to_string().parse().unwrap(), &peer, &[40000]).unwrap();
        assert_eq!(a.sdp.media[0].formats, ["8", "101"]);
        let got = read_answer(&a.sdp);
        let s = got[0].as_ref().unwrap();
        assert_eq!((s.payload_type, s.telephone_event), (8, Some((101, 8000))));
        assert_eq!(s.remote, Some(("203.0.113.5".parse().unwrap(), 40000)));
        assert!(s.rtcp_mux);
    }

    #[test]
    fn bridge_decisions() {
        let (a, b, mode) = common_codec(
            &[Codec::opus(), Codec::pcmu()],
            &[Codec::pcma(), Codec::opus()],
            true,
        )
        .unwrap();
        assert_eq!(
            (a.name.as_str(), b.name.as_str(), mode),
            ("opus", "opus", BridgeMode::PassThrough)
        );
        let (a, b, mode) = common_codec(&[Codec::pcmu()], &[Codec::pcma()], true).unwrap();
        assert_eq!((a, b), (Codec::pcmu(), Codec::pcma()));
        assert_eq!(
            mode,
            BridgeMode::Transcode {
                a: G711::Ulaw,
                b: G711::Alaw
            }
        );
        assert_eq!(
            common_codec(&[Codec::pcmu()], &[Codec::pcma()], false),
            None
        );
        // Opus and G.722 are never transcoded.
        assert_eq!(common_codec(&[Codec::opus()], &[Codec::g722()], true), None);
        assert_eq!(
            bridge_mode(&Codec::opus(), &Codec::pcma()),
            BridgeMode::Incompatible
        );
        assert_eq!(
            bridge_mode(&Codec::g722(), &Codec::g722()),
            BridgeMode::PassThrough
        );
        let mut lower = Codec::pcma();
        lower.name = "pcma".into();
        assert_eq!(bridge_mode(&lower, &Codec::pcma()), BridgeMode::PassThrough);
    }
}

//! One browser leg: str0m on the WebRTC socket, plain RTP on the other, one tokio task.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pbx_media::g711::{ALAW_TO_ULAW, ULAW_TO_ALAW};
use pbx_media::rtp::{RtpHeader, RtpPacket as PlainPacket};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::rtp::{RtpPacket, RtpWrite, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::audio::{self, OpusDecoder, OpusEncoder, FRAME_8K};
use crate::offer::{self, Plan};
use crate::rtc::{self, Extender};
use crate::{BridgeConfig, Codec, Error, PortSource, PLAIN_EVENT_PT};

/// A bridge without ICE success within this time closes itself.
pub const ICE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connected bridge whose ICE stays disconnected this long closes itself (browser gone).
pub const DISCONNECT_GRACE: Duration = Duration::from_secs(5);
/// Tries to bind a port from the source before giving up.
const BIND_TRIES: usize = 16;
/// Opus encoder complexity for transcoding (narrowband input; 5 keeps the CPU cost down).
const OPUS_COMPLEXITY: i32 = 5;

/// Statistics of the browser side of a leg.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LegStats {
    /// ICE and DTLS are up.
    pub connected: bool,
    /// RTP packets from the browser.
    pub packets_in: u64,
    /// RTP packets to the browser.
    pub packets_out: u64,
    /// RTP packets received on the plain side.
    pub plain_in: u64,
    /// RTP packets sent on the plain side.
    pub plain_out: u64,
    /// Fraction lost of what the browser sent (from our receiver reports), 0..=1.
    pub loss: f32,
    /// Fraction lost of what we sent, as the browser reports it, 0..=1.
    pub remote_loss: f32,
    /// Interarrival jitter of the browser's stream in ms.
    pub jitter_ms: f32,
    /// Round-trip time to the browser in ms, once known.
    pub rtt_ms: Option<f32>,
    /// When the first RTP packet went out on the plain side.
    pub first_plain_packet: Option<Instant>,
    /// Why the bridge closed, once it did (Dutch).
    pub closed: Option<String>,
}

struct Shared {
    plain_remote: Mutex<Option<SocketAddr>>,
    stats: Mutex<LegStats>,
}

impl Shared {
    fn stats(&self, f: impl FnOnce(&mut LegStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }
}

/// Ports taken from the source; given back on drop.
struct Ports {
    source: Arc<dyn PortSource>,
    taken: Vec<u16>,
}

impl Drop for Ports {
    fn drop(&mut self) {
        for p in self.taken.drain(..) {
            self.source.give_back(p);
        }
    }
}

impl Ports {
    /// Binds `ip:p` (and `ip:p+1` with `rtcp`) for an even port `p` from the source.
    async fn bind(
        &mut self,
        ip: IpAddr,
        rtcp: bool,
    ) -> Result<(UdpSocket, Option<UdpSocket>), Error> {
        for _ in 0..BIND_TRIES {
            let Some(p) = self.source.take() else {
                return Err(Error::NoPorts);
            };
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(ip, p)).await else {
                self.source.give_back(p);
                continue;
            };
            let rtcp_sock = if rtcp {
                match UdpSocket::bind(SocketAddr::new(ip, p.wrapping_add(1))).await {
                    Ok(s) => Some(s),
                    Err(_) => {
                        self.source.give_back(p);
                        continue;
                    }
                }
            } else {
                None
            };
            self.taken.push(p);
            return Ok((rtp, rtcp_sock));
        }
        Err(Error::NoPorts)
    }
}

/// The sockets of a leg: WebRTC (ICE/DTLS) and plain RTP/RTCP, with their ports.
struct Io {
    ws: UdpSocket,
    plain: UdpSocket,
    plain_rtcp: Option<UdpSocket>,
    ports: Ports,
    ws_local: SocketAddr,
    plain_addr: SocketAddr,
}

impl Io {
    async fn bind(cfg: &BridgeConfig) -> Result<Io, Error> {
        let mut ports = Ports {
            source: cfg.ports.clone(),
            taken: Vec::new(),
        };
        let (ws, _) = ports.bind(cfg.bind_ip, false).await?;
        let (plain, plain_rtcp) = ports.bind(cfg.plain_ip, true).await?;
        let ws_local = ws.local_addr()?;
        let plain_addr = plain.local_addr()?;
        Ok(Io {
            ws,
            plain,
            plain_rtcp,
            ports,
            ws_local,
            plain_addr,
        })
    }

    /// Host candidates: the bind address (unless unspecified) and the public address. Gives
    /// the first one (where str0m's transmits are said to come from).
    fn candidates(&self, rtc: &mut Rtc, cfg: &BridgeConfig) -> Result<SocketAddr, Error> {
        let mut destination = None;
        let mut addrs = Vec::new();
        if !cfg.bind_ip.is_unspecified() {
            addrs.push(self.ws_local);
        }
        if let Some(p) = cfg.public_ip {
            let a = SocketAddr::new(p, self.ws_local.port());
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        }
        for a in &addrs {
            let c = Candidate::host(*a, "udp").map_err(|e| Error::Rtc(e.to_string()))?;
            if rtc.add_local_candidate(c).is_some() && destination.is_none() {
                destination = Some(*a);
            }
        }
        destination.ok_or(Error::NoCandidate(cfg.bind_ip))
    }
}

/// A bridge that offered to a browser ([`Bridge::offer`]) and waits for the answer. Dropping it
/// gives the ports back.
pub struct PendingBridge {
    rtc: Rtc,
    pending: SdpPendingOffer,
    mid: Mid,
    io: Io,
    destination: SocketAddr,
    plain_codecs: Vec<Codec>,
}

impl std::fmt::Debug for PendingBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingBridge")
            .field("webrtc_addr", &self.io.ws_local)
            .field("plain_addr", &self.io.plain_addr)
            .finish()
    }
}

impl PendingBridge {
    /// Applies the browser's answer and starts the leg: its first codec is the browser's and
    /// the plain side's (the offer only had codecs the plain side takes).
    pub fn accept_answer(mut self, answer_sdp: &str) -> Result<Bridge, Error> {
        let answered = offer::check(answer_sdp).map_err(|e| Error::Answer(e.to_string()))?;
        let answer =
            SdpAnswer::from_sdp_string(answer_sdp).map_err(|e| Error::Answer(e.to_string()))?;
        self.rtc
            .sdp_api()
            .accept_answer(self.pending, answer)
            .map_err(|e| Error::Answer(e.to_string()))?;
        let plan = offer::plan(&answered, &self.plain_codecs, false)?;
        Bridge::start(
            self.rtc,
            self.io,
            self.destination,
            self.mid,
            &answered,
            plan,
        )
    }
}

/// A browser leg bridged to plain RTP. Dropping it stops the leg as [`Bridge::close`] does
/// (without waiting).
pub struct Bridge {
    shared: Arc<Shared>,
    ctl: tokio::sync::mpsc::UnboundedSender<Ctl>,
    closed: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    /// `o=` session id of the plain side's SDPs.
    sdp_id: u32,
    plain_addr: SocketAddr,
    webrtc_addr: SocketAddr,
    plan: Mutex<Plan>,
    /// The browser offered telephone-event (the plain side offers it too).
    events: bool,
}

/// What the bridge's task is told from outside.
enum Ctl {
    /// Digits to send as RFC 4733 on the plain side.
    Dtmf(String),
    /// The plain side's codec and payload type from the answer.
    Plain(Codec, u8),
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("webrtc_addr", &self.webrtc_addr)
            .field("plain_addr", &self.plain_addr)
            .field("plan", &self.plan)
            .finish()
    }
}

impl Bridge {
    /// Answers a browser offer (ICE gathered, no trickle). Returns the running bridge and the
    /// answer SDP for the browser.
    pub async fn accept_offer(
        cfg: &BridgeConfig,
        offer_sdp: &str,
    ) -> Result<(Bridge, String), Error> {
        let offered = offer::check(offer_sdp)?;
        let plan = offer::plan(&offered, &cfg.plain_codecs, cfg.force_transcode)?;
        let str0m_offer =
            SdpOffer::from_sdp_string(offer_sdp).map_err(|e| Error::Sdp(e.to_string()))?;
        let io = Io::bind(cfg).await?;

        let mut rcfg = rtc::base_config()?;
        rtc::enable(&mut rcfg, plan.browser);
        if offered.event_8k.is_some() {
            rtc::enable_events(&mut rcfg, 126, 8000);
        }
        // With Opus str0m answers telephone-event only at 48 kHz when the offer has both rates
        // (as Chrome's does); with G.711 never 48 kHz.
        if plan.browser == Codec::Opus && offered.event_48k.is_some() {
            rtc::enable_events(&mut rcfg, 110, 48000);
        }
        let mut rtc = rcfg.build(Instant::now());
        let destination = io.candidates(&mut rtc, cfg)?;

        let answer = rtc
            .sdp_api()
            .accept_offer(str0m_offer)
            .map_err(|e| Error::Sdp(e.to_string()))?;
        let answer = answer.to_sdp_string();

        let mut mid: Option<Mid> = offered.mid.as_deref().map(Mid::from);
        rtc::drain(&mut rtc, &io.ws, |e| {
            if let Event::MediaAdded(m) = e {
                if m.kind == MediaKind::Audio && mid.is_none() {
                    mid = Some(m.mid);
                }
            }
        })
        .map_err(Error::Rtc)?;
        let mid = mid.ok_or(Error::NoAudio)?;
        let bridge = Bridge::start(rtc, io, destination, mid, &offered, plan)?;
        Ok((bridge, answer))
    }

    /// Makes an offer to a browser (for a call to a WebRTC SIP client): the codecs of
    /// `cfg.plain_codecs` in that order (so nothing needs converting), telephone-event like
    /// Chrome, ICE host candidates and DTLS. [`PendingBridge::accept_answer`] starts the leg.
    pub async fn offer(cfg: &BridgeConfig) -> Result<(PendingBridge, String), Error> {
        if cfg.plain_codecs.is_empty() {
            return Err(Error::NoCodec(String::new()));
        }
        let io = Io::bind(cfg).await?;
        let mut rcfg = rtc::base_config()?;
        for &c in &cfg.plain_codecs {
            rtc::enable(&mut rcfg, c);
        }
        if cfg.plain_codecs.contains(&Codec::Opus) {
            rtc::enable_events(&mut rcfg, 110, 48000);
        }
        rtc::enable_events(&mut rcfg, 126, 8000);
        let mut rtc = rcfg.build(Instant::now());
        let destination = io.candidates(&mut rtc, cfg)?;
        let mut api = rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api
            .apply()
            .ok_or_else(|| Error::Rtc("geen aanbod gemaakt".into()))?;
        Ok((
            PendingBridge {
                rtc,
                pending,
                mid,
                io,
                destination,
                plain_codecs: cfg.plain_codecs.clone(),
            },
            offer.to_sdp_string(),
        ))
    }

    /// The leg's task from a negotiated `Rtc`: payload types from the browser's SDP
    /// (`offered`: its offer, or its answer to ours), the codecs of `plan`.
    fn start(
        mut rtc: Rtc,
        io: Io,
        destination: SocketAddr,
        mid: Mid,
        offered: &offer::Offered,
        plan: Plan,
    ) -> Result<Bridge, Error> {
        let remote_pts: Vec<u8> = rtc
            .media(mid)
            .map(|m| m.remote_pts().iter().map(|p| **p).collect())
            .unwrap_or_default();
        let audio_pt = offered
            .pt(plan.browser)
            .filter(|pt| remote_pts.contains(pt))
            .ok_or_else(|| Error::NoCodec(offered.names.join(", ")))?;
        let event_8k = offered.event_8k.filter(|pt| remote_pts.contains(pt));
        let event_48k = offered.event_48k.filter(|pt| remote_pts.contains(pt));
        let (event_pt, event_scale) = match (event_8k, event_48k) {
            (Some(pt), _) => (Some(pt), 1),
            (None, Some(pt)) if plan.browser == Codec::Opus => (Some(pt), 6),
            _ => (None, 1),
        };
        let tx_ssrc = rtc
            .direct_api()
            .stream_tx_by_mid(mid, None)
            .map(|s| s.ssrc())
            .ok_or_else(|| Error::Rtc("geen zendstroom naar de browser".into()))?;
        let Io {
            ws,
            plain,
            plain_rtcp,
            ports,
            ws_local,
            plain_addr,
        } = io;
        let sdp_id: u32 = rand::random::<u32>() >> 1;
        let shared = Arc::new(Shared {
            plain_remote: Mutex::new(None),
            stats: Mutex::new(LegStats::default()),
        });
        let (closed_tx, closed_rx) = watch::channel(false);
        let (stop_tx, stop_rx) = watch::channel(false);
        let conv = Conv::new(plan)?;
        let leg = Leg {
            plan,
            audio_pt,
            event_pt,
            event_scale,
            plain_pt: plan.plain.default_pt(),
            tx_ssrc,
            plain,
            shared: shared.clone(),
            conv,
            out_seq: u64::from(rand::random::<u16>() & 0x3fff) + 1,
            own_ssrc: rand::random(),
            to_plain: TsMap::default(),
            to_browser: TsMap::default(),
            last_browser_ts: 0,
            last_plain_ts: 0,
            event_in: None,
            event_out: None,
            connected: false,
            disconnected_since: None,
            closing: false,
            seq_offset: 0,
            last_plain: None,
            digits: std::collections::VecDeque::new(),
            sending: None,
        };
        let (ctl_tx, ctl_rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(run(
            rtc,
            ws,
            destination,
            leg,
            plain_rtcp,
            ports,
            stop_rx,
            closed_tx,
            ctl_rx,
        ));
        Ok(Bridge {
            shared,
            ctl: ctl_tx,
            closed: closed_rx,
            stop: stop_tx,
            task: Some(task),
            sdp_id,
            plain_addr,
            webrtc_addr: ws_local,
            plan: Mutex::new(plan),
            events: event_pt.is_some(),
        })
    }

    /// SDP of the plain side, to be used as if a SIP phone had sent it.
    pub fn plain_sdp(&self) -> String {
        plain_sdp_of(
            self.plain_addr,
            &[self.plan().plain],
            self.events,
            self.sdp_id,
        )
    }

    /// Sends digits (`0-9*#A-D`) as RFC 4733 telephone-events on the plain side, as if the
    /// browser had sent them: 100 ms per digit, 60 ms apart, the end packet three times.
    /// Other characters are skipped.
    pub fn send_dtmf(&self, digits: &str) {
        let _ = self.ctl.send(Ctl::Dtmf(digits.to_string()));
    }

    /// The plain side's codecs this bridge can serve, its current one first: with Opus to the
    /// browser also G.711 (transcoded), with G.711 the other law (a table).
    fn servable(&self) -> Vec<Codec> {
        let plan = self.plan();
        let mut out = vec![plan.plain];
        let more: &[Codec] = match plan.browser {
            Codec::Opus => &[Codec::Opus, Codec::Pcmu, Codec::Pcma],
            _ => &[Codec::Pcmu, Codec::Pcma],
        };
        for c in more {
            if !out.contains(c) {
                out.push(*c);
            }
        }
        out
    }

    fn plan(&self) -> Plan {
        match self.plan.lock() {
            Ok(p) => *p,
            Err(p) => *p.into_inner(),
        }
    }

    /// The plain side as an offer with alternatives: the current codec first, then what the
    /// bridge can also serve ([`Bridge::set_plain_answer`] then follows the answer). For a
    /// browser on Opus calling out before it is known whether the far end speaks Opus.
    pub fn plain_offer_sdp(&self) -> String {
        plain_sdp_of(self.plain_addr, &self.servable(), self.events, self.sdp_id)
    }

    /// Follows the plain side's answer to [`Bridge::plain_offer_sdp`]: its first codec the bridge
    /// can serve becomes the plain codec (with its payload type). Gives that codec, or `None`
    /// when the answer names none of them (nothing changes then).
    pub fn set_plain_answer(&self, sdp: &str) -> Option<Codec> {
        let servable = self.servable();
        let (codec, pt) = answer_codecs(sdp)
            .into_iter()
            .find(|(c, _)| servable.contains(c))?;
        let mut plan = self.plan.lock().ok()?;
        if plan.plain != codec {
            plan.plain = codec;
            let _ = self.ctl.send(Ctl::Plain(codec, pt));
        }
        Some(codec)
    }

    /// The plain RTP socket's address.
    pub fn plain_addr(&self) -> SocketAddr {
        self.plain_addr
    }

    /// The WebRTC socket's local address.
    pub fn webrtc_addr(&self) -> SocketAddr {
        self.webrtc_addr
    }

    /// Codec towards the browser and on the plain side.
    pub fn codecs(&self) -> (Codec, Codec) {
        let plan = self.plan();
        (plan.browser, plan.plain)
    }

    /// Where decrypted RTP goes (the relay's port). Without it, the source of the first packet
    /// on the plain socket is used.
    pub fn set_plain_remote(&self, addr: SocketAddr) {
        if let Ok(mut r) = self.shared.plain_remote.lock() {
            *r = Some(addr);
        }
    }

    /// Statistics of the browser side.
    pub fn stats(&self) -> LegStats {
        self.shared
            .stats
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Whether the bridge has stopped.
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves when the bridge stops by itself (ICE/DTLS failed or timed out, browser gone)
    /// or is closed.
    pub fn on_closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.closed.clone();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// Stops the task and returns the ports.
    pub async fn close(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The codecs of an SDP answer's audio line that a bridge knows, in its order, with their
/// payload types (G.711 by static type, Opus by its rtpmap).
fn answer_codecs(sdp: &str) -> Vec<(Codec, u8)> {
    let Some(m) = sdp.lines().find(|l| l.starts_with("m=audio")) else {
        return Vec::new();
    };
    let opus_pt = sdp.lines().find_map(|l| {
        let (pt, enc) = l.trim().strip_prefix("a=rtpmap:")?.split_once(' ')?;
        enc.to_ascii_lowercase()
            .starts_with("opus/48000")
            .then(|| pt.parse::<u8>().ok())
            .flatten()
    });
    m.split_whitespace()
        .skip(3)
        .filter_map(|f| {
            let pt: u8 = f.parse().ok()?;
            match pt {
                0 => Some((Codec::Pcmu, 0)),
                8 => Some((Codec::Pcma, 8)),
                p if Some(p) == opus_pt => Some((Codec::Opus, p)),
                _ => None,
            }
        })
        .collect()
}

fn plain_sdp_of(addr: SocketAddr, codecs: &[Codec], events: bool, id: u32) -> String {
    let ip = addr.ip();
    let fam = if ip.is_ipv6() { "IP6" } else { "IP4" };
    let mut s = format!(
        "v=0\r\no=- {id} {id} IN {fam} {ip}\r\ns=pbxd-webrtc\r\nc=IN {fam} {ip}\r\nt=0 0\r\n"
    );
    s.push_str(&format!("m=audio {} RTP/AVP", addr.port()));
    for c in codecs {
        s.push_str(&format!(" {}", c.default_pt()));
    }
    if events {
        s.push_str(&format!(" {PLAIN_EVENT_PT}"));
    }
    s.push_str("\r\n");
    for &codec in codecs {
        let pt = codec.default_pt();
        match codec {
            Codec::Opus => s.push_str(&format!(
                "a=rtpmap:{pt} opus/48000/2\r\na=fmtp:{pt} minptime=10;useinbandfec=1\r\n"
            )),
            c => s.push_str(&format!("a=rtpmap:{pt} {}/8000\r\n", c.name())),
        }
    }
    if events {
        s.push_str(&format!(
            "a=rtpmap:{PLAIN_EVENT_PT} telephone-event/8000\r\na=fmtp:{PLAIN_EVENT_PT} 0-16\r\n"
        ));
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s
}

/// Payload conversion between the browser's and the plain side's codec.
enum Conv {
    Same,
    /// Browser µ-law, plain A-law (or the other way round).
    Law {
        to_plain: &'static [u8; 256],
        to_browser: &'static [u8; 256],
    },
    Opus {
        dec: Box<OpusDecoder>,
        enc: Box<OpusEncoder>,
        law: Codec,
        pcm: Vec<i16>,
        pending: Vec<i16>,
        bytes: Vec<u8>,
    },
}

impl Conv {
    fn new(plan: Plan) -> Result<Conv, Error> {
        Ok(match (plan.browser, plan.plain) {
            (a, b) if a == b => Conv::Same,
            (Codec::Pcmu, Codec::Pcma) => Conv::Law {
                to_plain: &ULAW_TO_ALAW,
                to_browser: &ALAW_TO_ULAW,
            },
            (Codec::Pcma, Codec::Pcmu) => Conv::Law {
                to_plain: &ALAW_TO_ULAW,
                to_browser: &ULAW_TO_ALAW,
            },
            (_, law) => Conv::Opus {
                dec: Box::new(OpusDecoder::new()?),
                enc: Box::new(OpusEncoder::new(OPUS_COMPLEXITY)?),
                law,
                pcm: Vec::with_capacity(960),
                pending: Vec::with_capacity(960),
                bytes: Vec::with_capacity(960),
            },
        })
    }
}

/// Maps an incoming timestamp stream onto an outgoing one with another base (and clock ratio).
#[derive(Debug, Default)]
struct TsMap {
    ext: Extender,
    first: Option<u64>,
    base: u32,
}

impl TsMap {
    /// `ts` in the incoming clock, scaled by `num / den`, on a random base.
    fn map(&mut self, ts: u32, num: u64, den: u64) -> u32 {
        let ext = self.ext.extend(u64::from(ts), 32);
        let first = *self.first.get_or_insert_with(|| {
            self.base = rand::random::<u32>();
            ext
        });
        let delta = ext.saturating_sub(first) * num / den;
        self.base.wrapping_add(delta as u32)
    }
}

/// Everything of the task but the `Rtc` and the WebRTC socket.
struct Leg {
    plan: Plan,
    /// The browser's payload type of `plan.browser`.
    audio_pt: u8,
    /// The browser's telephone-event payload type, if negotiated.
    event_pt: Option<u8>,
    /// Its clock rate / 8000 (1, or 6 for telephone-event/48000 with Opus).
    event_scale: u16,
    plain_pt: u8,
    tx_ssrc: Ssrc,
    plain: UdpSocket,
    shared: Arc<Shared>,
    conv: Conv,
    /// Extended sequence number of the next packet to the browser.
    out_seq: u64,
    /// SSRC on the plain side when transcoding.
    own_ssrc: u32,
    to_plain: TsMap,
    to_browser: TsMap,
    /// Last audio timestamp written to the browser / sent on the plain side.
    last_browser_ts: u32,
    last_plain_ts: u32,
    /// Telephone-event being relayed: (incoming timestamp, outgoing timestamp).
    event_in: Option<(u32, u32)>,
    event_out: Option<(u32, u32)>,
    connected: bool,
    disconnected_since: Option<Instant>,
    closing: bool,
    /// Added to every forwarded sequence number: one per packet this bridge made itself.
    seq_offset: u16,
    /// Sequence number, timestamp and SSRC of the last packet sent on the plain side.
    last_plain: Option<(u16, u32, u32)>,
    /// Telephone-events still to send (RFC 4733 event codes).
    digits: std::collections::VecDeque<u8>,
    /// The event being sent: (code, start timestamp, 20 ms ticks done).
    sending: Option<(u8, u32, u32)>,
}

/// How often the browser side's quality goes to the relay as RTCP XR.
const REPORT_EVERY: Duration = Duration::from_secs(2);

/// An RTCP compound packet (empty RR + XR with one VoIP Metrics block, RFC 3611 §4.7) that
/// tells the relay how the browser's stream arrives here: loss, round trip, R and MOS. pbxd's
/// relay takes a phone's MOS from XR over its own estimate, so the browser leg's quality (the
/// WebRTC stack's statistics) shows in pbxtop and the CDR, not the perfect loopback hop.
pub fn quality_report(
    ssrc: u32,
    about: u32,
    loss: f32,
    jitter_ms: f32,
    rtt_ms: Option<f32>,
    codec: Codec,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(52);
    // An RR of a sender with no report blocks: 8 bytes; cannot fail.
    let _ = pbx_media::rtcp::write_rr(&mut out, ssrc, &[]);
    let loss_pct = f64::from(loss.clamp(0.0, 1.0)) * 100.0;
    let imp = pbx_media::emodel::Impairments {
        loss_percent: loss_pct,
        jitter_ms: f64::from(jitter_ms.max(0.0)),
        rtt_ms: rtt_ms.map(f64::from),
    };
    let name = if codec == Codec::Opus { "opus" } else { "PCMU" };
    let r = pbx_media::emodel::r_factor(pbx_media::emodel::CodecImpairment::of(name), &imp);
    let mos = pbx_media::emodel::mos_from_r(r).max(1.0);
    let rtt = rtt_ms.map(|r| r.clamp(0.0, 65535.0) as u16).unwrap_or(0);
    // XR header: V=2, PT 207, length 10 (11 words: sender SSRC + a 9-word block).
    out.extend_from_slice(&[0x80, 207, 0, 10]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&[7, 0, 0, 8]);
    out.extend_from_slice(&about.to_be_bytes());
    out.push((f64::from(loss.clamp(0.0, 1.0)) * 256.0).min(255.0) as u8);
    out.push(0); // discard rate
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // burst/gap density and duration
    out.extend_from_slice(&rtt.to_be_bytes());
    out.extend_from_slice(&[0, 0]); // end system delay unknown
    out.extend_from_slice(&[127, 127, 127, 127]); // signal, noise, RERL, Gmin unknown
    out.push(r.clamp(0.0, 100.0) as u8);
    out.push(127); // external R unknown
    let m = (mos * 10.0).round().clamp(10.0, 50.0) as u8;
    out.extend_from_slice(&[m, m, 0, 0]); // MOS-LQ, MOS-CQ, RX config, reserved
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // jitter buffer unknown
    out
}

/// Ticks of 20 ms per generated digit (100 ms), then the end packet three times, then a pause.
const DTMF_TICKS: u32 = 5;
const DTMF_GAP_TICKS: u32 = 3;

impl Leg {
    /// The plain side answered with another codec than offered first: convert from now on.
    fn set_plain(&mut self, codec: Codec, pt: u8) {
        let plan = Plan {
            browser: self.plan.browser,
            plain: codec,
        };
        match Conv::new(plan) {
            Ok(conv) => {
                tracing::debug!(?plan, "WebRTC-been: codec van de gewone kant gewijzigd");
                self.plan = plan;
                self.plain_pt = pt;
                self.conv = conv;
                // Another clock may follow: both timestamp maps start again.
                self.to_plain = TsMap::default();
                self.to_browser = TsMap::default();
            }
            Err(e) => tracing::warn!(error = %e, "WebRTC-been: codec niet te wijzigen"),
        }
    }

    /// One 20 ms step of the digits being generated.
    fn dtmf_tick(&mut self) {
        let (ts, ssrc) = self
            .last_plain
            .map(|(_, t, s)| (t, s))
            .unwrap_or((0, self.own_ssrc));
        if self.sending.is_none() {
            let Some(code) = self.digits.pop_front() else {
                return;
            };
            self.sending = Some((code, ts.wrapping_add(FRAME_8K as u32), 0));
        }
        let Some((code, start, n)) = self.sending else {
            return;
        };
        let n = n + 1;
        if n > DTMF_TICKS + 2 + DTMF_GAP_TICKS {
            self.sending = None;
            return;
        }
        self.sending = Some((code, start, n));
        if n > DTMF_TICKS + 2 {
            return; // the pause between digits
        }
        let end = n >= DTMF_TICKS;
        let duration = (DTMF_TICKS.min(n) * FRAME_8K as u32) as u16;
        let ev = pbx_media::dtmf::TelephoneEvent {
            event: code,
            end,
            volume: 10,
            duration,
        };
        let mut payload = [0u8; 4];
        if ev.write(&mut payload).is_err() {
            return;
        }
        let seq = self
            .last_plain
            .map(|(q, _, _)| q.wrapping_add(1))
            .unwrap_or_else(rand::random);
        self.seq_offset = self.seq_offset.wrapping_add(1);
        let header = RtpHeader {
            marker: n == 1,
            payload_type: PLAIN_EVENT_PT,
            sequence: seq,
            timestamp: start,
            ssrc,
            csrcs: &[],
            extension: None,
        };
        // Written without the offset: this packet is the one the offset makes room for.
        self.write_plain(&header, &payload);
    }

    /// Sends the browser side's quality to the relay's RTCP port (RTP port + 1).
    fn report_quality(&self, sock: &UdpSocket) {
        let Some(remote) = self.plain_remote() else {
            return;
        };
        let Ok(st) = self.shared.stats.lock().map(|s| s.clone()) else {
            return;
        };
        if !self.connected || st.packets_in == 0 {
            return;
        }
        let ssrc = self.last_plain.map(|(_, _, s)| s).unwrap_or(self.own_ssrc);
        let pkt = quality_report(ssrc, 0, st.loss, st.jitter_ms, st.rtt_ms, self.plan.browser);
        let to = SocketAddr::new(remote.ip(), remote.port().wrapping_add(1));
        let _ = sock.try_send_to(&pkt, to);
    }

    fn dtmf_busy(&self) -> bool {
        self.sending.is_some() || !self.digits.is_empty()
    }

    fn plain_remote(&self) -> Option<SocketAddr> {
        self.shared.plain_remote.lock().ok().and_then(|r| *r)
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::Connected => {
                self.connected = true;
                self.shared.stats(|s| s.connected = true);
            }
            Event::IceConnectionStateChange(st) => match st {
                IceConnectionState::Disconnected => {
                    self.disconnected_since.get_or_insert_with(Instant::now);
                }
                IceConnectionState::Connected | IceConnectionState::Completed => {
                    self.disconnected_since = None;
                }
                _ => {}
            },
            Event::Closed => self.closing = true,
            Event::RtpPacket(p) => self.on_browser_rtp(&p),
            Event::MediaIngressStats(st) => {
                let khz = (self.plan.browser.clock_rate() / 1000) as f32;
                self.shared.stats(|s| {
                    s.jitter_ms = st.jitter as f32 / khz;
                    if let Some(l) = st.loss {
                        s.loss = l;
                    }
                    if let Some(r) = st.rtt {
                        s.rtt_ms = Some(r.as_secs_f32() * 1000.0);
                    }
                });
            }
            Event::MediaEgressStats(st) => self.shared.stats(|s| {
                if let Some(l) = st.loss {
                    s.remote_loss = l;
                }
                if let Some(r) = st.rtt {
                    s.rtt_ms = Some(r.as_secs_f32() * 1000.0);
                }
            }),
            Event::PeerStats(st) => {
                if let Some(r) = st.rtt {
                    self.shared
                        .stats(|s| s.rtt_ms = Some(r.as_secs_f32() * 1000.0));
                }
            }
            _ => {}
        }
    }

    /// Sends one forwarded packet on the plain side (its sequence number shifted past the
    /// packets this bridge made itself).
    fn send_plain(&mut self, h: &RtpHeader<'_>, payload: &[u8]) {
        let shifted = RtpHeader {
            sequence: h.sequence.wrapping_add(self.seq_offset),
            ..*h
        };
        self.write_plain(&shifted, payload);
    }

    fn write_plain(&mut self, h: &RtpHeader<'_>, payload: &[u8]) {
        if h.payload_type != PLAIN_EVENT_PT || self.last_plain.is_none() {
            self.last_plain = Some((h.sequence, h.timestamp, h.ssrc));
        } else if let Some(l) = &mut self.last_plain {
            l.0 = h.sequence;
        }
        let Some(dst) = self.plain_remote() else {
            return;
        };
        let mut buf = [0u8; 1500];
        let Ok(n) = h.write(payload, 0, &mut buf) else {
            return;
        };
        if self.plain.try_send_to(&buf[..n], dst).is_ok() {
            let now = Instant::now();
            self.shared.stats(|s| {
                s.plain_out += 1;
                s.first_plain_packet.get_or_insert(now);
            });
        }
    }

    /// An RTP packet from the browser to the plain side.
    fn on_browser_rtp(&mut self, p: &RtpPacket) {
        self.shared.stats(|s| s.packets_in += 1);
        let pt = *p.header.payload_type;
        let seq = p.header.sequence_number;
        let ts = p.header.timestamp;
        let marker = p.header.marker;
        if pt == self.audio_pt {
            let mut header = RtpHeader {
                marker,
                payload_type: self.plain_pt,
                sequence: seq,
                timestamp: ts,
                ssrc: *p.header.ssrc,
                csrcs: &[],
                extension: None,
            };
            match &mut self.conv {
                Conv::Same => {
                    self.last_plain_ts = ts;
                    self.send_plain(&header, &p.payload);
                }
                Conv::Law { to_plain, .. } => {
                    let table = *to_plain;
                    let out: Vec<u8> = p.payload.iter().map(|&b| table[usize::from(b)]).collect();
                    self.last_plain_ts = ts;
                    self.send_plain(&header, &out);
                }
                Conv::Opus {
                    dec,
                    law,
                    pcm,
                    bytes,
                    ..
                } => {
                    pcm.clear();
                    if !dec.decode(&p.payload, pcm) || pcm.is_empty() {
                        return;
                    }
                    bytes.clear();
                    audio::g711_encode(*law, pcm, bytes);
                    let out = std::mem::take(bytes);
                    header.timestamp = self.to_plain.map(ts, 1, 6);
                    header.ssrc = self.own_ssrc;
                    self.last_plain_ts = header.timestamp;
                    self.send_plain(&header, &out);
                    if let Conv::Opus { bytes, .. } = &mut self.conv {
                        *bytes = out;
                    }
                }
            }
        } else if Some(pt) == self.event_pt {
            let ssrc = match self.conv {
                Conv::Opus { .. } => self.own_ssrc,
                _ => *p.header.ssrc,
            };
            let timestamp = match self.conv {
                Conv::Opus { .. } => match self.event_in {
                    Some((i, o)) if i == ts => o,
                    _ => {
                        let o = self.last_plain_ts.wrapping_add(FRAME_8K as u32);
                        self.event_in = Some((ts, o));
                        o
                    }
                },
                _ => ts,
            };
            let header = RtpHeader {
                marker,
                payload_type: PLAIN_EVENT_PT,
                sequence: seq,
                timestamp,
                ssrc,
                csrcs: &[],
                extension: None,
            };
            let payload = rescale_event(&p.payload, |d| d / self.event_scale);
            self.send_plain(&header, &payload);
        }
    }

    /// Writes one packet to the browser through str0m.
    fn write_browser(&mut self, rtc: &mut Rtc, pt: u8, ts: u32, marker: bool, payload: &[u8]) {
        let mut api = rtc.direct_api();
        let Some(stream) = api.stream_tx(&self.tx_ssrc) else {
            return;
        };
        let w = RtpWrite::new(pt.into(), self.out_seq.into(), ts, Instant::now(), payload)
            .marker(marker);
        stream.write_rtp(w);
        self.out_seq += 1;
        self.shared.stats(|s| s.packets_out += 1);
    }

    /// A datagram on the plain socket.
    fn on_plain_datagram(&mut self, rtc: &mut Rtc, buf: &[u8], src: SocketAddr) {
        match self.shared.plain_remote.lock() {
            Ok(mut r) => match *r {
                None => *r = Some(src),
                Some(a) if a.ip() != src.ip() => return,
                Some(_) => {}
            },
            Err(_) => return,
        }
        if !self.connected {
            return;
        }
        let Ok(p) = PlainPacket::parse(buf) else {
            return;
        };
        let (pt, ts, marker) = (p.payload_type(), p.timestamp(), p.marker());
        self.shared.stats(|s| s.plain_in += 1);
        if pt == self.plain_pt {
            let audio_pt = self.audio_pt;
            match &mut self.conv {
                Conv::Same => {
                    self.last_browser_ts = ts;
                    self.write_browser(rtc, audio_pt, ts, marker, p.payload());
                }
                Conv::Law { to_browser, .. } => {
                    let table = *to_browser;
                    let out: Vec<u8> = p.payload().iter().map(|&b| table[usize::from(b)]).collect();
                    self.last_browser_ts = ts;
                    self.write_browser(rtc, audio_pt, ts, marker, &out);
                }
                Conv::Opus { law, pending, .. } => {
                    if pending.is_empty() {
                        // Timestamp of the first pending sample, in the browser's 48 kHz clock.
                        self.last_browser_ts = self.to_browser.map(ts, 6, 1);
                    }
                    audio::g711_decode(*law, p.payload(), pending);
                    // Bounded: a flood of odd-sized packets cannot grow it.
                    if pending.len() > 8 * FRAME_8K {
                        pending.clear();
                        return;
                    }
                    let mut frames = Vec::new();
                    while let Conv::Opus { enc, pending, .. } = &mut self.conv {
                        if pending.len() < FRAME_8K {
                            break;
                        }
                        let Ok(pkt) = enc.encode(&pending[..FRAME_8K]) else {
                            pending.clear();
                            break;
                        };
                        frames.push(pkt.to_vec());
                        pending.drain(..FRAME_8K);
                    }
                    for (i, f) in frames.iter().enumerate() {
                        let t = self.last_browser_ts.wrapping_add(i as u32 * 960);
                        self.write_browser(rtc, audio_pt, t, marker && i == 0, f);
                    }
                    self.last_browser_ts =
                        self.last_browser_ts.wrapping_add(frames.len() as u32 * 960);
                }
            }
        } else if pt == PLAIN_EVENT_PT {
            let Some(event_pt) = self.event_pt else {
                return;
            };
            let t = match self.conv {
                Conv::Opus { .. } => match self.event_out {
                    Some((i, o)) if i == ts => o,
                    _ => {
                        let o = self.last_browser_ts;
                        self.event_out = Some((ts, o));
                        o
                    }
                },
                _ => ts,
            };
            let scale = self.event_scale;
            let payload = rescale_event(p.payload(), |d| d.saturating_mul(scale));
            self.write_browser(rtc, event_pt, t, marker, &payload);
        }
    }
}

/// An RFC 4733 payload with its duration field (octets 2-3) mapped by `f`.
fn rescale_event(payload: &[u8], f: impl Fn(u16) -> u16) -> Vec<u8> {
    let mut out = payload.to_vec();
    if out.len() >= 4 {
        let d = f(u16::from_be_bytes([out[2], out[3]]));
        out[2..4].copy_from_slice(&d.to_be_bytes());
    }
    out
}

#[allow(clippy::too_many_arguments)]
async fn run(
    mut rtc: Rtc,
    ws: UdpSocket,
    destination: SocketAddr,
    mut leg: Leg,
    plain_rtcp: Option<UdpSocket>,
    ports: Ports,
    mut stop: watch::Receiver<bool>,
    closed: watch::Sender<bool>,
    mut ctl: tokio::sync::mpsc::UnboundedReceiver<Ctl>,
) {
    let start = Instant::now();
    let mut dtmf_tick = tokio::time::interval(Duration::from_millis(20));
    let mut report = tokio::time::interval(REPORT_EVERY);
    let mut wbuf = vec![0u8; 2048];
    let mut pbuf = vec![0u8; 2048];
    let reason: String = loop {
        let deadline = match rtc::drain(&mut rtc, &ws, |e| leg.on_event(e)) {
            Ok(t) => t,
            Err(e) => break format!("WebRTC-fout: {e}"),
        };
        if leg.closing || !rtc.is_alive() {
            break "de browser heeft de verbinding gesloten".into();
        }
        let watchdog = if !leg.connected {
            Some((start + ICE_TIMEOUT, "geen ICE-verbinding binnen 10 s"))
        } else {
            leg.disconnected_since.map(|t| {
                (
                    t + DISCONNECT_GRACE,
                    "ICE-verbinding verbroken (browser weg)",
                )
            })
        };
        // str0m may ask for a wake-up far away; never sleep past the watchdog.
        let wake = watchdog.map_or(deadline, |(w, _)| deadline.min(w));
        let r: Result<(), String> = tokio::select! {
            r = ws.recv_from(&mut wbuf) => match r {
                Ok((n, src)) => rtc::feed(&mut rtc, src, destination, &wbuf[..n]),
                Err(_) => Ok(()),
            },
            r = leg.plain.recv_from(&mut pbuf) => {
                if let Ok((n, src)) = r {
                    leg.on_plain_datagram(&mut rtc, &pbuf[..n], src);
                }
                Ok(())
            },
            _ = tokio::time::sleep_until(wake.into()) => {
                if let Some((w, why)) = watchdog {
                    if Instant::now() >= w {
                        break why.to_string();
                    }
                }
                rtc::tick(&mut rtc)
            },
            c = ctl.recv() => {
                match c {
                    Some(Ctl::Dtmf(d)) => {
                        leg.digits.extend(d.chars().filter_map(pbx_media::dtmf::digit_to_event));
                        dtmf_tick.reset();
                    }
                    Some(Ctl::Plain(codec, pt)) => leg.set_plain(codec, pt),
                    None => {}
                }
                Ok(())
            },
            _ = report.tick() => {
                if let Some(sock) = &plain_rtcp {
                    leg.report_quality(sock);
                }
                Ok(())
            },
            _ = dtmf_tick.tick(), if leg.dtmf_busy() => {
                leg.dtmf_tick();
                Ok(())
            },
            _ = stop.changed() => break "gesloten".to_string(),
        };
        if let Err(e) = r {
            break format!("WebRTC-fout: {e}");
        }
    };
    tracing::debug!(reden = %reason, "WebRTC-been gestopt");
    rtc.disconnect();
    leg.shared.stats(|s| {
        s.connected = false;
        s.closed = Some(reason);
    });
    drop(ws);
    drop(plain_rtcp);
    drop(leg);
    drop(ports);
    let _ = closed.send(true);
}

#[cfg(test)]
mod report_tests {
    use super::*;

    /// The report is a valid RTCP compound that pbxd's relay reads: its MOS follows the
    /// browser side's loss and round trip (E-model), R and loss are carried.
    #[test]
    fn quality_report_is_read_by_the_relay_parser() {
        let clean = quality_report(0x1234, 0, 0.0, 2.0, Some(20.0), Codec::Pcmu);
        assert!(pbx_media::rtcp::validate_compound(&clean).is_ok());
        let xr_body = |pkt: &[u8]| -> Vec<u8> {
            // RR is 8 bytes; the XR body starts after its 4-byte header.
            pkt[12..].to_vec()
        };
        let m = pbx_media::rtcp::xr_voip_metrics(&xr_body(&clean));
        assert_eq!(m.len(), 1);
        let good = m[0].mos().unwrap_or(0.0);
        assert!(good > 4.2, "unimpaired G.711: {good}");
        assert_eq!(m[0].round_trip_delay_ms, 20);
        let lossy = quality_report(0x1234, 0, 0.1, 15.0, Some(80.0), Codec::Pcmu);
        let m = pbx_media::rtcp::xr_voip_metrics(&xr_body(&lossy));
        let bad = m[0].mos().unwrap_or(5.0);
        assert!(bad < 3.9 && bad > 2.5, "10 % loss: {bad}");
        assert_eq!(m[0].loss_rate, 25);
    }
}

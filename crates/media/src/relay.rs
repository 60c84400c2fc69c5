//! The packet path of one anchored call, without I/O: [`RelayCore`].
//!
//! The driver owns four sockets per call (RTP and RTCP facing A, RTP and RTCP facing B), reads a
//! datagram, hands it to [`RelayCore::handle`] with the side and socket it came in on and the
//! time, and sends the (rewritten in place) buffer where the [`Verdict`] says, from the socket of
//! the same kind facing the other leg. Reports of our own come from [`RelayCore::poll_report`].
//! Time is a [`Duration`] since an epoch the driver chooses; the core never reads a clock.
//!
//! **RTP-bleed.** A leg's media source is learned only from packets whose source IP is the IP
//! that leg signalled (or an extra IP the driver allows, e.g. where its SIP came from), within
//! [`LEARN_WINDOW`] after the address was signalled or an offer/answer exchange completed; the
//! first such source is latched and from then on nothing else is accepted. RTCP is learned the
//! same way, separately (behind NAT its port is its own), within [`RTCP_LEARN_WINDOW`]. Until a
//! source is latched, packets to a leg go to its signalled address.
//!
//! **RTCP is terminated per leg.** A B2BUA that may transcode, maps payload types, and keeps one
//! SSRC towards each phone across re-INVITEs cannot pass a phone's SSRC-specific reports through:
//! their loss, jitter, LSR/DLSR would describe a stream the other phone never saw. So RTCP from a
//! phone is read (SR: for our LSR/DLSR; report blocks about the stream we send it: RTT, RFC 3550
//! §6.4.1) and not forwarded, and the relay sends each phone its own compound RTCP (SR when we
//! sent it media since the previous report, else RR; a report block about the stream received
//! from it; SDES CNAME) about every [`REPORT_INTERVAL`], randomised ×[0.5, 1.5] (§6.3.1), the
//! first one about [`FIRST_REPORT`] after media starts so short calls get an RTT too. With SRTP
//! (RTP/SAVP) the relay cannot read or write RTCP: it is forwarded unchanged, and RTP headers are
//! not touched.
//!
//! **Rewriting.** Payload types are mapped and G.711 payloads converted per
//! [`crate::anchor::PayloadMap`]. Towards each leg the relay keeps one SSRC: the first source's
//! own (so plain pass-through is byte for byte), and when the source changes (a re-INVITE to
//! another phone, a restarted phone) sequence numbers and timestamps continue from the last
//! packet sent, with the marker bit set, as a jitter buffer expects of one stream.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::anchor::{MediaPlan, PayloadMap, Transform};
use crate::g711;
use crate::rtcp::{self, ReportBlock, RtcpPacket};
use crate::rtp::RtpPacketMut;
use crate::stats::{rtt_from_report, LegStats, NtpTime, ReceiveStats, SendStats};

/// How long after its address was signalled (or an exchange completed) a leg's source may be
/// learned.
pub const LEARN_WINDOW: Duration = Duration::from_secs(5);
/// The same for RTCP, longer: phones send their first report up to several seconds after media
/// starts (RFC 3550 §6.2: 2.5 s × [0.5, 1.5], many simply every 5 s), and RTCP is only read here,
/// never forwarded to the other phone (except SRTCP).
pub const RTCP_LEARN_WINDOW: Duration = Duration::from_secs(15);
/// Mean interval between our RTCP reports to one leg.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);
/// Mean delay of the first report after media starts on a leg.
pub const FIRST_REPORT: Duration = Duration::from_secs(1);

/// What to do with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not accepted: unknown source (RTP-bleed), outside the window, or not RTP/RTCP.
    Drop,
    /// Media accepted from the leg; send the buffer from the other leg's RTP socket to the
    /// address (None: the other leg has no address yet, or the payload type is not forwarded).
    Rtp(Option<SocketAddr>),
    /// RTCP accepted and terminated here.
    RtcpConsumed,
    /// RTCP accepted; forward it unchanged from the other leg's RTCP socket (SRTP).
    RtcpForward(Option<SocketAddr>),
}

/// Address learning of one flow (RTP or RTCP of one leg).
#[derive(Debug, Clone, Copy, Default)]
struct Learn {
    signalled: Option<SocketAddr>,
    /// Another IP the source may have (the leg's signalling source, for NAT).
    also: Option<IpAddr>,
    since: Option<Duration>,
    latched: Option<SocketAddr>,
}

impl Learn {
    #[inline]
    fn accept(&mut self, src: SocketAddr, now: Duration, window: Duration) -> bool {
        if let Some(l) = self.latched {
            return l == src;
        }
        let Some(since) = self.since else {
            return false;
        };
        let ip_ok = self.signalled.is_some_and(|s| s.ip() == src.ip())
            || self.also.is_some_and(|ip| ip == src.ip());
        if ip_ok && now.saturating_sub(since) <= window {
            self.latched = Some(src);
            return true;
        }
        false
    }

    #[inline]
    fn dest(&self) -> Option<SocketAddr> {
        self.latched.or(self.signalled)
    }

    /// A (new) signalled address: a changed one unlatches and opens the window.
    fn signal(&mut self, addr: Option<SocketAddr>, now: Duration) {
        if addr != self.signalled {
            self.signalled = addr;
            self.latched = None;
            self.since = Some(now);
        }
    }

    /// An exchange completed: an unlatched flow may be learned again for a while.
    fn reopen(&mut self, now: Duration) {
        if self.latched.is_none() {
            self.since = Some(now);
        }
    }
}

/// The stream we send towards one leg.
#[derive(Debug, Clone, Default)]
struct OutStream {
    /// The source SSRC currently mapped onto ours.
    source: Option<u32>,
    /// Our SSRC towards the leg.
    ssrc: u32,
    seq_delta: u16,
    ts_delta: u32,
    /// Highest sequence number sent, its timestamp and when.
    last_seq: u16,
    last_ts: u32,
    last_at: Duration,
    sent: SendStats,
    /// `sent.packets` at our previous report: SR when it moved, else RR.
    reported: u32,
}

impl OutStream {
    /// A new source: continue our stream from the last packet sent.
    #[cold]
    fn switch(&mut self, ssrc: u32, seq: u16, ts: u32, now: Duration, clock: u32, own: u32) {
        if self.source.is_none() && self.sent.packets == 0 {
            // The first source: keep its numbers (pass-through stays byte for byte), unless its
            // SSRC equals the one the receiving leg uses itself (RFC 3550 §8.2 collision).
            self.ssrc = if own == ssrc {
                ssrc ^ 0x5bd1_e995
            } else {
                ssrc
            };
            self.seq_delta = 0;
            self.ts_delta = 0;
        } else {
            let ticks = (now.saturating_sub(self.last_at).as_micros() * u128::from(clock.max(1))
                / 1_000_000) as u32;
            self.seq_delta = self.last_seq.wrapping_add(1).wrapping_sub(seq);
            self.ts_delta = self.last_ts.wrapping_add(ticks.max(1)).wrapping_sub(ts);
        }
        self.source = Some(ssrc);
    }
}

/// One leg: what it sends us and what we send it.
#[derive(Debug, Clone, Default)]
struct Leg {
    rtp: Learn,
    rtcp: Learn,
    /// Payload types from this leg, towards the other.
    routes: PayloadMap,
    rx: Option<ReceiveStats>,
    rx_ssrc: Option<u32>,
    /// An SR that came before any RTP: (its NTP time, arrival).
    early_sr: Option<(u64, NtpTime)>,
    out: OutStream,
    next_report: Option<Duration>,
    /// Delay of the first report after media starts.
    first_report: Duration,
    rtt: Option<Duration>,
    /// The last report block the leg sent about our stream.
    remote: Option<ReportBlock>,
    /// The last RTCP XR VoIP Metrics the leg sent (its own view of what it hears).
    xr: Option<rtcp::VoipMetrics>,
    reports_sent: u64,
    reports_received: u64,
}

/// Counters of one leg for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LegSnapshot {
    /// What the leg sent us: packets, bytes, loss, jitter; RTT between us and the leg.
    pub receive: LegStats,
    /// RTP packets we sent to the leg.
    pub sent_packets: u64,
    /// RTCP reports we sent to it and received from it.
    pub reports_sent: u64,
    pub reports_received: u64,
    /// Loss and jitter the leg reported about our stream (fraction in 1/256, jitter in
    /// timestamp units), from its last report block.
    pub remote_fraction_lost: Option<u8>,
    pub remote_jitter: Option<u32>,
    /// Where its media comes from, once latched.
    pub source: Option<SocketAddr>,
    /// The last RTCP XR VoIP Metrics of the leg (RFC 3611 §4.7), when it sends them.
    pub xr: Option<rtcp::VoipMetrics>,
}

/// The packet path of one call. See the module documentation.
#[derive(Debug, Clone)]
pub struct RelayCore {
    legs: [Leg; 2],
    secure: bool,
    exchange: u32,
    /// NTP time at the driver's epoch.
    ntp_base: u64,
    rng: u64,
    cname: Vec<u8>,
}

impl RelayCore {
    /// A core whose time 0 is `ntp_at_epoch` in wall-clock time; `seed` gives our SSRCs, CNAME
    /// and report timing.
    pub fn new(seed: u64, ntp_at_epoch: NtpTime) -> Self {
        let mut core = Self {
            legs: Default::default(),
            secure: false,
            exchange: 0,
            ntp_base: ntp_at_epoch.0,
            rng: seed | 1,
            cname: Vec::new(),
        };
        for i in 0..2 {
            core.legs[i].out.ssrc = core.next_random() as u32;
            core.legs[i].first_report = core.jittered(FIRST_REPORT);
        }
        core.cname = format!("pbxd-{:016x}", core.next_random()).into_bytes();
        core
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `mean` × a random factor in [0.5, 1.5).
    fn jittered(&mut self, mean: Duration) -> Duration {
        let f = 0.5 + (self.next_random() >> 11) as f64 / (1u64 << 53) as f64;
        mean.mul_f64(f)
    }

    fn ntp(&self, now: Duration) -> NtpTime {
        NtpTime(
            self.ntp_base
                .wrapping_add(NtpTime::from_ntp_duration(now).0),
        )
    }

    /// Takes a new plan from the offer/answer state.
    pub fn set_plan(&mut self, plan: &MediaPlan, now: Duration) {
        let reopen = plan.exchange != self.exchange;
        self.exchange = plan.exchange;
        self.secure = plan.secure;
        for (leg, p) in self.legs.iter_mut().zip(&plan.legs) {
            leg.rtp.signal(p.rtp, now);
            leg.rtcp.signal(p.rtcp, now);
            if reopen {
                leg.rtp.reopen(now);
                leg.rtcp.reopen(now);
            }
            leg.routes = p.routes.clone();
        }
    }

    /// Also learn leg `side`'s RTP and RTCP from `ip` (where its signalling came from: a phone
    /// behind NAT signals its private address).
    pub fn allow_source_ip(&mut self, side: usize, ip: IpAddr) {
        let leg = &mut self.legs[side & 1];
        leg.rtp.also = Some(ip);
        leg.rtcp.also = Some(ip);
    }

    /// One datagram from leg `side` (0 = A, 1 = B) on its RTP socket (`rtcp_socket` false) or its
    /// RTCP socket, from `src`, at `now`. RTP is rewritten in place; its length never changes.
    #[inline]
    pub fn handle(
        &mut self,
        side: usize,
        rtcp_socket: bool,
        src: SocketAddr,
        buf: &mut [u8],
        now: Duration,
    ) -> Verdict {
        let side = side & 1;
        if rtcp_socket {
            return self.handle_rtcp(side, src, buf, now, false);
        }
        if rtcp::is_rtcp(buf) {
            // RTCP on the RTP port (rtcp-mux by a phone that does it anyway).
            return self.handle_rtcp(side, src, buf, now, true);
        }
        let secure = self.secure;
        let ntp_base = self.ntp_base;
        let [a, b] = &mut self.legs;
        let (from, to) = if side == 0 { (a, b) } else { (b, a) };
        if !from.rtp.accept(src, now, LEARN_WINDOW) {
            return Verdict::Drop;
        }
        let Ok(mut p) = RtpPacketMut::parse(buf) else {
            return Verdict::Drop;
        };
        let route = from.routes.get(p.payload_type());
        let ssrc = p.ssrc();
        let stats = match &mut from.rx {
            Some(s) => s,
            None => {
                let mut s = ReceiveStats::new(route.clock_rate);
                if let Some((ntp, at)) = from.early_sr.take() {
                    s.handle_sender_report(ntp, at);
                }
                from.rx.insert(s)
            }
        };
        let len = p.payload().len();
        if route.event {
            stats.handle_packet_without_jitter(p.sequence(), p.timestamp(), len, now);
        } else {
            stats.handle_packet(p.sequence(), p.timestamp(), len, now);
        }
        from.rx_ssrc = Some(ssrc);
        if from.next_report.is_none() {
            from.next_report = Some(now + from.first_report);
        }
        match route.transform {
            Transform::Keep => {}
            Transform::UlawToAlaw => g711::ulaw_to_alaw_in_place(p.payload_mut()),
            Transform::AlawToUlaw => g711::alaw_to_ulaw_in_place(p.payload_mut()),
            Transform::Drop => return Verdict::Rtp(None),
        }
        if route.pt != p.payload_type() {
            // A route's pt is always < 128.
            let _ = p.set_payload_type(route.pt);
        }
        let Some(dest) = to.rtp.dest() else {
            return Verdict::Rtp(None);
        };
        let out = &mut to.out;
        let mut ts = p.timestamp();
        if !secure {
            if out.source != Some(ssrc) {
                let own = to.rx_ssrc.unwrap_or(!ssrc);
                out.switch(ssrc, p.sequence(), ts, now, route.clock_rate, own);
                if out.sent.packets != 0 {
                    p.set_marker(true);
                }
            }
            let seq = p.sequence().wrapping_add(out.seq_delta);
            ts = ts.wrapping_add(out.ts_delta);
            if out.seq_delta != 0 {
                p.set_sequence(seq);
            }
            if out.ts_delta != 0 {
                p.set_timestamp(ts);
            }
            if out.ssrc != ssrc {
                p.set_ssrc(out.ssrc);
            }
            if seq.wrapping_sub(out.last_seq) < 0x8000 || out.sent.packets == 0 {
                out.last_seq = seq;
                out.last_ts = ts;
                out.last_at = now;
            }
        }
        let ntp = NtpTime(ntp_base.wrapping_add(NtpTime::from_ntp_duration(now).0));
        out.sent.handle_sent(ts, len, ntp);
        if to.next_report.is_none() {
            to.next_report = Some(now + to.first_report);
        }
        Verdict::Rtp(Some(dest))
    }

    fn handle_rtcp(
        &mut self,
        side: usize,
        src: SocketAddr,
        buf: &[u8],
        now: Duration,
        on_rtp_socket: bool,
    ) -> Verdict {
        let arrival = self.ntp(now);
        let secure = self.secure;
        let [a, b] = &mut self.legs;
        let (from, to) = if side == 0 { (a, b) } else { (b, a) };
        let ok = if on_rtp_socket {
            from.rtp.accept(src, now, LEARN_WINDOW)
        } else {
            from.rtcp.accept(src, now, RTCP_LEARN_WINDOW)
        };
        if !ok {
            return Verdict::Drop;
        }
        if secure {
            return Verdict::RtcpForward(to.rtcp.dest());
        }
        if rtcp::validate_compound(buf).is_err() {
            return Verdict::Drop;
        }
        from.reports_received += 1;
        let ours = from.out.ssrc;
        let block = |b: &ReportBlock, leg: &mut Leg| {
            if b.ssrc == ours {
                if let Some(rtt) = rtt_from_report(b, arrival) {
                    leg.rtt = Some(rtt);
                }
                leg.remote = Some(*b);
            }
        };
        for pkt in rtcp::parse_compound(buf).flatten() {
            match pkt {
                RtcpPacket::SenderReport(sr) => {
                    if from.rx_ssrc.is_none_or(|s| s == sr.ssrc) {
                        match &mut from.rx {
                            Some(rx) => rx.handle_sender_report(sr.info.ntp, arrival),
                            None => from.early_sr = Some((sr.info.ntp, arrival)),
                        }
                    }
                    for b in sr.blocks() {
                        block(&b, from);
                    }
                }
                RtcpPacket::ReceiverReport(rr) => {
                    for b in rr.blocks() {
                        block(&b, from);
                    }
                }
                RtcpPacket::Other {
                    packet_type: rtcp::PT_XR,
                    body,
                    ..
                } => {
                    if let Some(m) = rtcp::xr_voip_metrics(body).into_iter().last() {
                        from.xr = Some(m);
                    }
                }
                _ => {}
            }
        }
        Verdict::RtcpConsumed
    }

    /// Where media to leg `side` goes: its latched source, else its signalled address.
    pub fn destination(&self, side: usize) -> Option<SocketAddr> {
        self.legs[side & 1].rtp.dest()
    }

    /// SSRC, sequence number and timestamp for media of our own to leg `side` (a prompt
    /// player in the driver): our stream towards the leg, continuing after the last packet sent
    /// on it (the timestamp advanced by the time since, at `clock_rate`), or from random numbers
    /// when nothing was sent yet.
    pub fn own_stream(&mut self, side: usize, now: Duration, clock_rate: u32) -> (u32, u16, u32) {
        let side = side & 1;
        if self.legs[side].out.sent.packets == 0 {
            let r = self.next_random();
            return (self.legs[side].out.ssrc, r as u16, (r >> 32) as u32);
        }
        let out = &self.legs[side].out;
        let ticks = (now.saturating_sub(out.last_at).as_micros() * u128::from(clock_rate.max(1))
            / 1_000_000) as u32;
        (
            out.ssrc,
            out.last_seq.wrapping_add(1),
            out.last_ts.wrapping_add(ticks.max(1)),
        )
    }

    /// A packet of our own (SSRC from [`Self::own_stream`]) was sent to leg `side` with this
    /// sequence number, timestamp and payload length: our reports count it, and media relayed
    /// to the leg afterwards continues the same stream (marker bit set).
    pub fn sent_own(&mut self, side: usize, seq: u16, ts: u32, len: usize, now: Duration) {
        let ntp = self.ntp(now);
        let leg = &mut self.legs[side & 1];
        let out = &mut leg.out;
        out.source = None;
        out.last_seq = seq;
        out.last_ts = ts;
        out.last_at = now;
        out.sent.handle_sent(ts, len, ntp);
        if leg.next_report.is_none() {
            leg.next_report = Some(now + leg.first_report);
        }
    }

    /// When [`Self::poll_report`] next has something to do.
    pub fn next_report(&self) -> Option<Duration> {
        self.legs.iter().filter_map(|l| l.next_report).min()
    }

    /// A report that is due at `now`: written into `out` (cleared first), with the leg and
    /// where to send it from that leg's RTCP socket. Call until None.
    pub fn poll_report(&mut self, now: Duration, out: &mut Vec<u8>) -> Option<(usize, SocketAddr)> {
        if self.secure {
            return None;
        }
        for side in 0..2 {
            if self.legs[side].next_report.is_none_or(|due| due > now) {
                continue;
            }
            let wait = self.jittered(REPORT_INTERVAL);
            self.legs[side].next_report = Some(now + wait);
            let Some(dest) = self.legs[side].rtcp.dest() else {
                continue;
            };
            let ntp = self.ntp(now);
            out.clear();
            if self.write_report(side, ntp, out).is_ok() {
                self.legs[side].reports_sent += 1;
                return Some((side, dest));
            }
        }
        None
    }

    fn write_report(
        &mut self,
        side: usize,
        ntp: NtpTime,
        out: &mut Vec<u8>,
    ) -> Result<(), rtcp::RtcpError> {
        let leg = &mut self.legs[side];
        let ssrc = leg.out.ssrc;
        let block = match (leg.rx_ssrc, leg.rx.as_mut()) {
            (Some(s), Some(rx)) => Some(rx.report_block(s, ntp)),
            _ => None,
        };
        let blocks = block.as_slice();
        if leg.out.sent.packets != leg.out.reported {
            leg.out.reported = leg.out.sent.packets;
            rtcp::write_sr(out, ssrc, &leg.out.sent.sender_info(ntp), blocks)?;
        } else {
            rtcp::write_rr(out, ssrc, blocks)?;
        }
        rtcp::write_sdes_cname(out, ssrc, &self.cname)
    }

    /// Counters of leg `side`.
    pub fn snapshot(&self, side: usize) -> LegSnapshot {
        let leg = &self.legs[side & 1];
        let mut receive = leg
            .rx
            .as_ref()
            .map(ReceiveStats::snapshot)
            .unwrap_or_default();
        receive.rtt_ms = leg.rtt.map(|d| d.as_secs_f64() * 1000.0);
        LegSnapshot {
            receive,
            sent_packets: u64::from(leg.out.sent.packets),
            reports_sent: leg.reports_sent,
            reports_received: leg.reports_received,
            remote_fraction_lost: leg.remote.map(|b| b.fraction_lost),
            remote_jitter: leg.remote.map(|b| b.jitter),
            source: leg.rtp.latched,
            xr: leg.xr,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::anchor::Anchor;
    use crate::rtcp::{SenderInfo, PT_RR, PT_SR};
    use crate::rtp::{RtpHeader, RtpPacket};

    const A: usize = 0;
    const B: usize = 1;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn sdp(ip: &str, port: u16, formats: &str) -> String {
        format!("v=0\r\no=p 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {formats}\r\na=rtpmap:101 telephone-event/8000\r\n")
    }

    /// A calls with PCMU only from 10.0.0.5:4000, B answers PCMA only from 10.0.0.9:5000.
    fn transcoding_core() -> RelayCore {
        let mut anchor = Anchor::new("203.0.113.1".parse().unwrap(), [30000, 30002], 1);
        anchor.handle(A, &sdp("10.0.0.5", 4000, "0 101"));
        anchor.handle(B, &sdp("10.0.0.9", 5000, "8 101"));
        let mut core = RelayCore::new(42, NtpTime::from_unix(Duration::from_secs(1_800_000_000)));
        core.set_plan(&anchor.plan(), Duration::ZERO);
        core
    }

    fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 12 + payload.len()];
        let h = RtpHeader {
            payload_type: pt,
            sequence: seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        };
        h.write(payload, 0, &mut buf).unwrap();
        buf
    }

    #[test]
    fn transcodes_and_maps_payload_types_both_ways() {
        let mut core = transcoding_core();
        let payload: Vec<u8> = (0..160).map(|i| i as u8).collect();
        let mut pkt = rtp(0, 100, 16000, 0xaaaa, &payload);
        let v = core.handle(A, false, addr("10.0.0.5:4000"), &mut pkt, ms(10));
        // B has not sent yet: its signalled address.
        assert_eq!(v, Verdict::Rtp(Some(addr("10.0.0.9:5000"))));
        let p = RtpPacket::parse(&pkt).unwrap();
        assert_eq!(p.payload_type(), 8);
        assert_eq!(
            (p.sequence(), p.timestamp(), p.ssrc()),
            (100, 16000, 0xaaaa)
        );
        let want: Vec<u8> = payload
            .iter()
            .map(|&c| g711::ULAW_TO_ALAW[usize::from(c)])
            .collect();
        assert_eq!(p.payload(), &want[..]);

        let mut back = rtp(8, 7, 800, 0xbbbb, &payload);
        let v = core.handle(B, false, addr("10.0.0.9:5000"), &mut back, ms(20));
        assert_eq!(v, Verdict::Rtp(Some(addr("10.0.0.5:4000"))));
        let p = RtpPacket::parse(&back).unwrap();
        assert_eq!(p.payload_type(), 0);
        let want: Vec<u8> = payload
            .iter()
            .map(|&c| g711::ALAW_TO_ULAW[usize::from(c)])
            .collect();
        assert_eq!(p.payload(), &want[..]);

        // telephone-event passes untouched (same number on both legs here).
        let ev = [1u8, 0x0a, 0, 160];
        let mut dtmf = rtp(101, 101, 16000, 0xaaaa, &ev);
        core.handle(A, false, addr("10.0.0.5:4000"), &mut dtmf, ms(30));
        let p = RtpPacket::parse(&dtmf).unwrap();
        assert_eq!((p.payload_type(), p.payload()), (101, &ev[..]));

        let s = core.snapshot(A);
        assert_eq!((s.receive.packets, s.receive.bytes), (2, 164));
        assert_eq!(core.snapshot(B).sent_packets, 2);
    }

    #[test]
    fn rtp_bleed_for_rtp_and_rtcp() {
        let mut core = transcoding_core();
        let mut pkt = rtp(0, 1, 160, 1, &[0xff; 160]);
        let stranger = addr("10.0.0.66:4000");
        // Another IP is never learned, not even on the signalled port.
        assert_eq!(
            core.handle(A, false, stranger, &mut pkt.clone(), ms(1)),
            Verdict::Drop
        );
        // The signalled IP from another port (NAT) is learned and latched.
        let nat = addr("10.0.0.5:41000");
        assert!(matches!(
            core.handle(A, false, nat, &mut pkt, ms(2)),
            Verdict::Rtp(_)
        ));
        let mut other = rtp(0, 2, 320, 1, &[0xff; 160]);
        assert_eq!(
            core.handle(A, false, addr("10.0.0.5:4000"), &mut other, ms(3)),
            Verdict::Drop
        );
        // Media to A now goes to the latched source.
        let mut back = rtp(8, 1, 160, 2, &[0xd5; 160]);
        assert_eq!(
            core.handle(B, false, addr("10.0.0.9:5000"), &mut back, ms(4)),
            Verdict::Rtp(Some(nat))
        );

        // RTCP: learned separately, from the signalled IP only.
        let mut rr = Vec::new();
        rtcp::write_rr(&mut rr, 1, &[]).unwrap();
        assert_eq!(
            core.handle(A, true, addr("10.0.0.66:4001"), &mut rr.clone(), ms(5)),
            Verdict::Drop
        );
        assert_eq!(
            core.handle(A, true, addr("10.0.0.5:41001"), &mut rr.clone(), ms(6)),
            Verdict::RtcpConsumed
        );
        assert_eq!(
            core.handle(A, true, addr("10.0.0.5:4001"), &mut rr.clone(), ms(7)),
            Verdict::Drop
        );
        // RTCP arriving on the RTP port is read but must come from the RTP source.
        assert_eq!(
            core.handle(A, false, nat, &mut rr.clone(), ms(8)),
            Verdict::RtcpConsumed
        );
        assert_eq!(
            core.handle(A, false, stranger, &mut rr.clone(), ms(8)),
            Verdict::Drop
        );

        // After the window nothing unlatched is learned: B's RTP and RTCP come too late.
        let mut late = rtp(0, 1, 160, 2, &[0xff; 160]);
        assert_eq!(
            transcoding_core().handle(
                A,
                false,
                addr("10.0.0.5:4000"),
                &mut late,
                LEARN_WINDOW + ms(1)
            ),
            Verdict::Drop
        );
        assert_eq!(
            core.handle(
                B,
                true,
                addr("10.0.0.9:5001"),
                &mut rr.clone(),
                RTCP_LEARN_WINDOW + ms(1)
            ),
            Verdict::Drop
        );
        // Garbage from the latched source is dropped, not forwarded.
        assert_eq!(
            core.handle(A, false, nat, &mut [0u8; 5], ms(9)),
            Verdict::Drop
        );
        assert_eq!(
            core.handle(
                A,
                true,
                addr("10.0.0.5:41001"),
                &mut [0x80, 0xc9, 0, 9],
                ms(9)
            ),
            Verdict::Drop
        );
    }

    #[test]
    fn the_window_reopens_after_an_exchange_and_on_a_new_address() {
        let mut anchor = Anchor::new("203.0.113.1".parse().unwrap(), [30000, 30002], 1);
        anchor.handle(A, &sdp("10.0.0.5", 4000, "0"));
        let mut core = RelayCore::new(1, NtpTime::default());
        core.set_plan(&anchor.plan(), Duration::ZERO);
        // B rings for 30 s: A's offer is old by the time the answer comes.
        anchor.handle(B, &sdp("10.0.0.9", 5000, "0"));
        core.set_plan(&anchor.plan(), Duration::from_secs(30));
        let mut pkt = rtp(0, 1, 160, 1, &[0xff; 10]);
        assert!(matches!(
            core.handle(
                A,
                false,
                addr("10.0.0.5:4000"),
                &mut pkt,
                Duration::from_secs(31)
            ),
            Verdict::Rtp(_)
        ));
        // A phone behind NAT: its signalling source IP is allowed too.
        core.allow_source_ip(B, "198.51.100.7".parse().unwrap());
        let mut pkt = rtp(0, 1, 160, 2, &[0xff; 10]);
        assert!(matches!(
            core.handle(
                B,
                false,
                addr("198.51.100.7:6000"),
                &mut pkt,
                Duration::from_secs(32)
            ),
            Verdict::Rtp(_)
        ));
        // B moves to a new address with a re-INVITE: unlatched, learned again.
        anchor.handle(B, &sdp("10.0.0.10", 5002, "0").replace("p 1 1", "p 1 2"));
        anchor.handle(A, &sdp("10.0.0.5", 4000, "0").replace("p 1 1", "p 1 2"));
        core.set_plan(&anchor.plan(), Duration::from_secs(60));
        let mut pkt = rtp(0, 2, 320, 2, &[0xff; 10]);
        assert_eq!(
            core.handle(
                B,
                false,
                addr("198.51.100.7:6000"),
                &mut pkt.clone(),
                Duration::from_secs(61)
            ),
            Verdict::Rtp(Some(addr("10.0.0.5:4000")))
        );
        assert_eq!(core.snapshot(B).source, Some(addr("198.51.100.7:6000")));
        core.handle(
            A,
            false,
            addr("10.0.0.5:4000"),
            &mut pkt,
            Duration::from_secs(61),
        );
    }

    #[test]
    fn a_new_source_continues_our_stream() {
        let mut core = transcoding_core();
        let src = addr("10.0.0.5:4000");
        for i in 0..3u16 {
            let mut p = rtp(0, 1000 + i, 5000 + 160 * u32::from(i), 0x1111, &[0xff; 160]);
            core.handle(A, false, src, &mut p, ms(20 * u64::from(i)));
        }
        // The phone restarts its stream (new SSRC, new numbers) 40 ms later.
        let mut p = rtp(0, 7, 90, 0x2222, &[0xff; 160]);
        core.handle(A, false, src, &mut p, ms(80));
        let r = RtpPacket::parse(&p).unwrap();
        assert_eq!(r.ssrc(), 0x1111);
        assert_eq!(r.sequence(), 1003);
        // 40 ms after the last packet at 8 kHz: 320 ticks.
        assert_eq!(r.timestamp(), 5000 + 320 + 320);
        assert!(r.marker());
        let mut p = rtp(0, 8, 250, 0x2222, &[0xff; 160]);
        core.handle(A, false, src, &mut p, ms(100));
        let r = RtpPacket::parse(&p).unwrap();
        assert_eq!(
            (r.ssrc(), r.sequence(), r.timestamp(), r.marker()),
            (0x1111, 1004, 5800, false)
        );
    }

    fn parse_report(buf: &[u8]) -> (u8, u32, Option<SenderInfo>, Vec<ReportBlock>, bool) {
        rtcp::validate_compound(buf).unwrap();
        let mut it = rtcp::parse_compound(buf);
        let (kind, ssrc, info, blocks) = match it.next().unwrap().unwrap() {
            RtcpPacket::SenderReport(sr) => (PT_SR, sr.ssrc, Some(sr.info), sr.blocks().collect()),
            RtcpPacket::ReceiverReport(rr) => (PT_RR, rr.ssrc, None, rr.blocks().collect()),
            p => panic!("{p:?}"),
        };
        let cname = matches!(it.next(), Some(Ok(RtcpPacket::Sdes(s))) if s.chunks().next().and_then(|c| c.cname().map(|n| n.starts_with(b"pbxd-"))) == Some(true));
        (kind, ssrc, info, blocks, cname)
    }

    #[test]
    fn our_reports_give_rtt_from_the_phones_report_blocks() {
        let mut core = transcoding_core();
        let a_src = addr("10.0.0.5:4000");
        let b_src = addr("10.0.0.9:5000");
        let mut out = Vec::new();
        assert_eq!(core.next_report(), None);
        // 2 s of media both ways, 20 ms apart.
        for i in 0..100u16 {
            let t = ms(20 * u64::from(i));
            let mut pa = rtp(0, i, 160 * u32::from(i), 0xa1, &[0xff; 160]);
            core.handle(A, false, a_src, &mut pa, t);
            let mut pb = rtp(8, i, 160 * u32::from(i), 0xb1, &[0xd5; 160]);
            core.handle(B, false, b_src, &mut pb, t);
            while core.poll_report(t, &mut out).is_some() {}
        }
        let now = ms(2000);
        // Both legs have had their first report (0.5–1.5 s after media started); the next is
        // about 5 s later.
        assert!(core.snapshot(A).reports_sent >= 1 && core.snapshot(B).reports_sent >= 1);
        assert!(core.next_report().unwrap() > now + ms(1500));
        let due = core.next_report().unwrap();
        let (side, dest) = loop {
            if let Some(x) = core.poll_report(due, &mut out) {
                break x;
            }
        };
        // To A's RTCP port (RTP + 1, nothing latched yet).
        assert_eq!(
            dest,
            addr(if side == A {
                "10.0.0.5:4001"
            } else {
                "10.0.0.9:5001"
            })
        );
        let (kind, ssrc, info, blocks, cname) = parse_report(&out);
        // We send media to that leg, so an SR, from the SSRC of the stream it receives.
        assert_eq!(kind, PT_SR);
        assert_eq!(ssrc, if side == A { 0xb1 } else { 0xa1 });
        assert_eq!(info.unwrap().packet_count, 100);
        assert!(cname);
        // One block about the stream the leg sends us: 100 packets, no loss.
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].ssrc, if side == A { 0xa1 } else { 0xb1 });
        assert_eq!((blocks[0].cumulative_lost, blocks[0].highest_seq), (0, 99));
        assert_eq!(blocks[0].lsr, 0, "the phone sent no SR");

        // The phone answers 300 ms later; it held our SR for 200 ms: RTT 100 ms.
        let lsr = NtpTime(info.unwrap().ntp).compact();
        let block = ReportBlock {
            ssrc,
            lsr,
            dlsr: 65536 / 5,
            ..ReportBlock::default()
        };
        let mut rr = Vec::new();
        rtcp::write_rr(&mut rr, 0x77, &[block]).unwrap();
        let rtcp_src = if side == A {
            addr("10.0.0.5:4001")
        } else {
            addr("10.0.0.9:5001")
        };
        // The same report from a stranger does nothing.
        assert_eq!(
            core.handle(
                side,
                true,
                addr("10.0.0.66:4001"),
                &mut rr.clone(),
                due + ms(300)
            ),
            Verdict::Drop
        );
        assert_eq!(core.snapshot(side).receive.rtt_ms, None);
        assert_eq!(
            core.handle(side, true, rtcp_src, &mut rr, due + ms(300)),
            Verdict::RtcpConsumed
        );
        let rtt = core.snapshot(side).receive.rtt_ms.unwrap();
        assert!((rtt - 100.0).abs() < 1.0, "{rtt}");
        // A block about some other SSRC does not count.
        let other = ReportBlock {
            ssrc: 0x1234,
            lsr,
            dlsr: 0,
            ..ReportBlock::default()
        };
        let mut rr = Vec::new();
        rtcp::write_rr(&mut rr, 0x77, &[other]).unwrap();
        core.handle(side, true, rtcp_src, &mut rr, due + ms(400));
        assert!((core.snapshot(side).receive.rtt_ms.unwrap() - 100.0).abs() < 1.0);

        // RR + XR with VoIP Metrics (MOS-CQ 3.4): kept as the leg's own view.
        assert_eq!(core.snapshot(side).xr, None);
        let mut rr = Vec::new();
        rtcp::write_rr(&mut rr, 0x77, &[]).unwrap();
        let mut xr = vec![0x80, rtcp::PT_XR, 0, 10];
        xr.extend_from_slice(&0x77u32.to_be_bytes());
        xr.extend_from_slice(&[7, 0, 0, 8]);
        xr.extend_from_slice(&0xa1u32.to_be_bytes());
        xr.extend_from_slice(&[13, 0, 0, 0, 0, 0, 0, 0, 0, 60, 0, 30, 0, 0, 0, 0]);
        xr.extend_from_slice(&[70, 127, 36, 34, 0, 0, 0, 0, 0, 0, 0, 0]);
        rr.extend_from_slice(&xr);
        assert_eq!(
            core.handle(side, true, rtcp_src, &mut rr, due + ms(450)),
            Verdict::RtcpConsumed
        );
        let m = core.snapshot(side).xr.unwrap();
        assert_eq!(m.mos(), Some(3.4));
        assert_eq!(m.round_trip_delay_ms, 60);

        // The phone's own SR: our next report carries LSR/DLSR for it.
        let phone_ntp = NtpTime::from_unix(Duration::from_secs(1_900_000_000));
        let mut sr = Vec::new();
        let info = SenderInfo {
            ntp: phone_ntp.0,
            ..SenderInfo::default()
        };
        rtcp::write_sr(&mut sr, if side == A { 0xa1 } else { 0xb1 }, &info, &[]).unwrap();
        core.handle(side, true, rtcp_src, &mut sr, due + ms(500));
        let later = due + ms(500) + REPORT_INTERVAL * 2;
        let mut got = None;
        while let Some((s, _)) = core.poll_report(later, &mut out) {
            if s == side {
                got = Some(parse_report(&out));
            }
        }
        let (kind, _, _, blocks, _) = got.unwrap();
        assert_eq!(blocks[0].lsr, phone_ntp.compact());
        let dlsr = f64::from(blocks[0].dlsr) / 65536.0;
        assert!(
            (dlsr - (REPORT_INTERVAL * 2).as_secs_f64()).abs() < 0.01,
            "{dlsr}"
        );
        // No media towards the leg since the last report: RR this time.
        assert_eq!(kind, PT_RR);
    }

    #[test]
    fn receiver_report_when_we_send_nothing() {
        let mut core = transcoding_core();
        // Only A sends; nothing goes to A.
        for i in 0..10u16 {
            let mut p = rtp(0, i, 160 * u32::from(i), 0xa1, &[0xff; 160]);
            core.handle(
                A,
                false,
                addr("10.0.0.5:4000"),
                &mut p,
                ms(20 * u64::from(i)),
            );
        }
        let mut out = Vec::new();
        let mut to_a = None;
        let mut t = ms(200);
        while t < ms(4000) && to_a.is_none() {
            while let Some((side, _)) = core.poll_report(t, &mut out) {
                if side == A {
                    to_a = Some(parse_report(&out));
                }
            }
            t += ms(100);
        }
        let (kind, _, _, blocks, _) = to_a.unwrap();
        assert_eq!(kind, PT_RR);
        assert_eq!(blocks[0].highest_seq, 9);
    }

    #[test]
    fn srtp_is_forwarded_untouched() {
        let mut anchor = Anchor::new("203.0.113.1".parse().unwrap(), [30000, 30002], 1);
        anchor.handle(A, "v=0\r\no=x 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n");
        anchor.handle(B, "v=0\r\no=y 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 5000 RTP/SAVP 0\r\n");
        let mut core = RelayCore::new(3, NtpTime::default());
        core.set_plan(&anchor.plan(), Duration::ZERO);
        let mut p = rtp(0, 1, 160, 9, &[1, 2, 3]);
        let before = p.clone();
        assert_eq!(
            core.handle(A, false, addr("10.0.0.5:4000"), &mut p, ms(1)),
            Verdict::Rtp(Some(addr("10.0.0.9:5000")))
        );
        assert_eq!(p, before);
        let mut srtcp = vec![0x80, 0xc9, 0, 1, 0, 0, 0, 9, 0xde, 0xad];
        assert_eq!(
            core.handle(A, true, addr("10.0.0.5:4001"), &mut srtcp, ms(2)),
            Verdict::RtcpForward(Some(addr("10.0.0.9:5001")))
        );
        assert_eq!(
            core.poll_report(Duration::from_secs(60), &mut Vec::new()),
            None
        );
    }
}

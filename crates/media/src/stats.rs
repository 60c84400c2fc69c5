//! Per-stream reception statistics (RFC 3550 appendix A.1, A.3, A.8) and round-trip time from
//! RTCP (§6.4.1). Time comes in as arguments: a [`Duration`] since any fixed epoch for packet
//! arrival, an [`NtpTime`] for RTCP.

use std::time::Duration;

use crate::rtcp::{ReportBlock, SenderInfo};

const RTP_SEQ_MOD: u32 = 1 << 16;
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
/// Sequential packets needed before a source is valid (A.1).
pub const MIN_SEQUENTIAL: u32 = 2;

/// Seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (Unix epoch).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp (32.32 fixed point seconds since 1900).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// From a duration since the Unix epoch (as the driver reads it from the system clock).
    pub fn from_unix(since_epoch: Duration) -> Self {
        Self::from_ntp_duration(since_epoch.saturating_add(Duration::from_secs(NTP_UNIX_OFFSET)))
    }

    /// From a duration since the NTP epoch.
    pub fn from_ntp_duration(d: Duration) -> Self {
        let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        Self((d.as_secs() << 32) | frac)
    }

    /// The middle 32 bits (16.16 seconds), as used in LSR and for RTT.
    pub fn compact(self) -> u32 {
        // Truncation to the middle 32 bits is the definition.
        (self.0 >> 16) as u32
    }
}

fn compact_to_duration(c: u32) -> Duration {
    Duration::from_nanos((u64::from(c) * 1_000_000_000) >> 16)
}

/// Round-trip time from a report block about one of our streams, received at `arrival`
/// (RFC 3550 §6.4.1: A − LSR − DLSR). None if the peer has not seen an SR yet (LSR = 0) or the
/// result is negative (clock trouble, or a block that is not about our SR).
pub fn rtt_from_report(block: &ReportBlock, arrival: NtpTime) -> Option<Duration> {
    if block.lsr == 0 {
        return None;
    }
    let rtt = arrival
        .compact()
        .wrapping_sub(block.lsr)
        .wrapping_sub(block.dlsr);
    // A "negative" result shows up as a huge unsigned value.
    if rtt > u32::MAX / 2 {
        return None;
    }
    Some(compact_to_duration(rtt))
}

/// A snapshot of one leg's receive quality, for the API and pbxtop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LegStats {
    /// RTP packets received (including those seen while the source was on probation).
    pub packets: u64,
    /// RTP payload octets received.
    pub bytes: u64,
    /// Cumulative packets lost (expected − received), never negative here.
    pub lost: u64,
    /// `lost` as a percentage of the packets expected.
    pub loss_percent: f64,
    /// Interarrival jitter in milliseconds.
    pub jitter_ms: f64,
    /// Last round-trip time measured from RTCP, in milliseconds.
    pub rtt_ms: Option<f64>,
}

/// Reception statistics for one RTP source.
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    clock_rate: u32,
    started: bool,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    last_transit: Option<u32>,
    /// Jitter × 16, as in A.8's integer form (u64: a wild peer can push |D| to 2³¹).
    jitter_q4: u64,
    packets: u64,
    bytes: u64,
    /// (LSR value, arrival) of the last SR received from this source.
    last_sr: Option<(u32, NtpTime)>,
    rtt: Option<Duration>,
}

impl ReceiveStats {
    /// Statistics for a source whose RTP clock runs at `clock_rate` Hz (from the payload type:
    /// [`crate::rtp::static_clock_rate`] or the SDP rtpmap). A zero rate is treated as 8000.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: if clock_rate == 0 { 8000 } else { clock_rate },
            started: false,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: RTP_SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            last_transit: None,
            jitter_q4: 0,
            packets: 0,
            bytes: 0,
            last_sr: None,
            rtt: None,
        }
    }

    /// The RTP clock rate in Hz.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// A.1 `update_seq`: false while on probation or for a packet that looks like a restart.
    fn update_seq(&mut self, seq: u16) -> bool {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    // Deviation from A.1: the packets seen during probation were in sequence and are
                    // counted, so the first packets of a call are not missing from `expected`.
                    let back = MIN_SEQUENTIAL - 1;
                    if u32::from(seq) >= back {
                        self.base_seq = u32::from(seq) - back;
                    } else {
                        // Probation straddled a wrap: count the current packet in cycle 1.
                        self.cycles = RTP_SEQ_MOD;
                        self.base_seq = RTP_SEQ_MOD + u32::from(seq) - back;
                    }
                    self.received = u64::from(MIN_SEQUENTIAL);
                    return true;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return false;
        }
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(RTP_SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= RTP_SEQ_MOD - u32::from(MAX_MISORDER) {
            // A very large jump: accept it as a restart only if the next packet follows it.
            if u32::from(seq) == self.bad_seq {
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                return false;
            }
        }
        // Otherwise a duplicate or reordered packet: counted, max unchanged.
        self.received += 1;
        true
    }

    /// Feeds one received RTP packet: its sequence number, timestamp, payload length and arrival
    /// time (since any fixed epoch, the same for every call). Returns false for packets that A.1
    /// does not (yet) count: probation or a suspected source restart.
    pub fn handle_packet(
        &mut self,
        seq: u16,
        timestamp: u32,
        payload_len: usize,
        arrival: Duration,
    ) -> bool {
        self.handle(seq, timestamp, payload_len, arrival, true)
    }

    /// Like [`Self::handle_packet`], but the packet does not feed the jitter estimate: for
    /// RFC 4733 telephone-events, whose timestamp stays at the start of the event while the
    /// packets keep coming (they would show up as jitter of a whole event length). Sequence and
    /// loss accounting are the same.
    pub fn handle_packet_without_jitter(
        &mut self,
        seq: u16,
        timestamp: u32,
        payload_len: usize,
        arrival: Duration,
    ) -> bool {
        self.handle(seq, timestamp, payload_len, arrival, false)
    }

    fn handle(
        &mut self,
        seq: u16,
        timestamp: u32,
        payload_len: usize,
        arrival: Duration,
        jitter: bool,
    ) -> bool {
        self.packets += 1;
        self.bytes += payload_len as u64;
        if !self.started {
            self.started = true;
            self.init_seq(seq);
            self.max_seq = seq.wrapping_sub(1);
            self.probation = MIN_SEQUENTIAL;
        }
        let counted = self.update_seq(seq);
        if !jitter {
            return counted;
        }
        // A.8: transit time in timestamp units; only differences matter, so wrap freely.
        // Only the low 32 bits matter, so the whole seconds may wrap; the sub-second part fits u64.
        let rate = u64::from(self.clock_rate);
        let arrival_units = arrival
            .as_secs()
            .wrapping_mul(rate)
            .wrapping_add(u64::from(arrival.subsec_nanos()) * rate / 1_000_000_000)
            as u32;
        let transit = arrival_units.wrapping_sub(timestamp);
        if let Some(last) = self.last_transit {
            let d = u64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            // J += (|D| − J) / 16, in the ×16 integer form of A.8; stays below 16 × 2³¹.
            self.jitter_q4 = self.jitter_q4 + d - ((self.jitter_q4 + 8) >> 4);
        }
        self.last_transit = Some(transit);
        counted
    }

    /// Extended highest sequence number received (cycles + max).
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected (A.3).
    pub fn expected(&self) -> u64 {
        if self.probation > 0 {
            return 0;
        }
        (u64::from(self.cycles) + u64::from(self.max_seq) + 1)
            .saturating_sub(u64::from(self.base_seq))
    }

    /// Packets received and counted by A.1.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Cumulative lost (A.3); negative with duplicates.
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter_q4 >> 4).unwrap_or(u32::MAX)
    }

    /// Interarrival jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter_q4 as f64 / 16.0 * 1000.0 / f64::from(self.clock_rate)
    }

    /// Records an SR from this source (its NTP timestamp) received at `arrival`, for LSR/DLSR.
    pub fn handle_sender_report(&mut self, sr_ntp: u64, arrival: NtpTime) {
        self.last_sr = Some((NtpTime(sr_ntp).compact(), arrival));
    }

    /// Records a report block about our stream towards this peer, received at `arrival`; updates
    /// and returns the RTT.
    pub fn handle_report_block(
        &mut self,
        block: &ReportBlock,
        arrival: NtpTime,
    ) -> Option<Duration> {
        let rtt = rtt_from_report(block, arrival);
        if rtt.is_some() {
            self.rtt = rtt;
        }
        rtt
    }

    /// Last measured round-trip time.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// Builds the report block for this source at `now` (A.3: the fraction lost covers the interval
    /// since the previous call).
    pub fn report_block(&mut self, ssrc: u32, now: NtpTime) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        // lost_interval <= expected_interval, so the quotient is at most 256 (nothing arrived),
        // which saturates to 255; no packets expected means no loss.
        let fraction_lost = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| f.min(255) as u8);
        let (lsr, dlsr) = match self.last_sr {
            Some((lsr, at)) => (lsr, NtpTime(now.0.saturating_sub(at.0)).compact()),
            None => (0, 0),
        };
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            highest_seq: self.extended_max(),
            jitter: self.jitter(),
            lsr,
            dlsr,
        }
    }

    /// A snapshot for monitoring.
    pub fn snapshot(&self) -> LegStats {
        let expected = self.expected();
        let lost = self.cumulative_lost().max(0) as u64;
        LegStats {
            packets: self.packets,
            bytes: self.bytes,
            lost,
            loss_percent: if expected == 0 {
                0.0
            } else {
                lost as f64 * 100.0 / expected as f64
            },
            jitter_ms: self.jitter_ms(),
            rtt_ms: self.rtt.map(|d| d.as_secs_f64() * 1000.0),
        }
    }
}

/// Counters of one stream we send, for the sender info of our SRs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendStats {
    /// Packets sent (wraps as in the SR field).
    pub packets: u32,
    /// Payload octets sent (wraps as in the SR field).
    pub octets: u32,
    /// Timestamp of the last packet sent and when it was sent.
    last: Option<(u32, NtpTime)>,
    clock_rate: u32,
}

impl SendStats {
    /// Counters for a stream with RTP clock `clock_rate` Hz (0 is treated as 8000).
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: if clock_rate == 0 { 8000 } else { clock_rate },
            ..Self::default()
        }
    }

    /// Records one packet sent at `now`.
    pub fn handle_sent(&mut self, timestamp: u32, payload_len: usize, now: NtpTime) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
        self.last = Some((timestamp, now));
    }

    /// Sender info for an SR at `now`: the RTP timestamp is extrapolated from the last packet
    /// sent so that it corresponds to the same instant as the NTP timestamp (RFC 3550 §6.4.1).
    pub fn sender_info(&self, now: NtpTime) -> SenderInfo {
        let rtp_timestamp = match self.last {
            Some((ts, at)) => {
                let elapsed = now.0.saturating_sub(at.0);
                // 32.32 fixed point seconds × rate; only the low 32 bits are kept.
                let ticks = ((u128::from(elapsed) * u128::from(self.clock_rate)) >> 32) as u32;
                ts.wrapping_add(ticks)
            }
            None => 0,
        };
        SenderInfo {
            ntp: now.0,
            rtp_timestamp,
            packet_count: self.packets,
            octet_count: self.octets,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MS20: Duration = Duration::from_millis(20);

    /// Feeds `seqs` as a steady 8 kHz 20 ms stream, the n-th packet arriving at n × 20 ms.
    fn feed(seqs: impl IntoIterator<Item = u16>) -> ReceiveStats {
        let mut s = ReceiveStats::new(8000);
        for seq in seqs {
            s.handle_packet(seq, u32::from(seq) * 160, 160, MS20 * u32::from(seq));
        }
        s
    }

    #[test]
    fn two_percent_loss() {
        // 1000 packets, every 50th dropped (seq 25, 75, …, 975): 20 lost of 1000 expected.
        let mut s = feed((0..1000u16).filter(|i| i % 50 != 25));
        assert_eq!(s.expected(), 1000);
        assert_eq!(s.received(), 980);
        assert_eq!(s.cumulative_lost(), 20);
        let rb = s.report_block(1, NtpTime(0));
        // 20 × 256 / 1000 = 5.12 → 5.
        assert_eq!(rb.fraction_lost, 5);
        assert_eq!(rb.cumulative_lost, 20);
        assert_eq!(rb.highest_seq, 999);
        let snap = s.snapshot();
        assert_eq!((snap.packets, snap.bytes, snap.lost), (980, 980 * 160, 20));
        assert!((snap.loss_percent - 2.0).abs() < 1e-9);
        // The next interval without new packets reports no loss.
        assert_eq!(s.report_block(1, NtpTime(0)).fraction_lost, 0);
    }

    #[test]
    fn interval_fraction() {
        let mut s = feed(0..100u16);
        assert_eq!(s.report_block(1, NtpTime(0)).fraction_lost, 0);
        // Next interval: 100..200 with 25 missing → 25 × 256 / 100 = 64.
        for seq in (100..200u16).filter(|i| i % 4 != 0) {
            s.handle_packet(seq, u32::from(seq) * 160, 160, MS20 * u32::from(seq));
        }
        assert_eq!(s.report_block(1, NtpTime(0)).fraction_lost, 64);
    }

    #[test]
    fn reordering_is_not_loss() {
        let mut seqs: Vec<u16> = (0..1000).collect();
        for i in (10..990).step_by(7) {
            seqs.swap(i, i + 1);
        }
        seqs.swap(500, 503);
        let s = feed(seqs);
        assert_eq!(s.cumulative_lost(), 0);
        assert_eq!(s.expected(), 1000);
        assert_eq!(s.extended_max(), 999);
    }

    #[test]
    fn sequence_wrap() {
        let seqs = (0..200u32).map(|i| ((65_436 + i) % 65_536) as u16);
        let mut s = ReceiveStats::new(8000);
        for (i, seq) in seqs.enumerate() {
            s.handle_packet(seq, i as u32 * 160, 160, MS20 * i as u32);
        }
        assert_eq!(s.extended_max(), 65_536 + 99);
        assert_eq!(s.expected(), 200);
        assert_eq!(s.cumulative_lost(), 0);
    }

    #[test]
    fn wrap_during_probation() {
        let mut s = ReceiveStats::new(8000);
        for (i, seq) in [65_535u16, 0, 1, 2].into_iter().enumerate() {
            s.handle_packet(seq, i as u32 * 160, 160, MS20 * i as u32);
        }
        assert_eq!(s.expected(), 4);
        assert_eq!(s.cumulative_lost(), 0);
    }

    #[test]
    fn constant_transit_has_no_jitter() {
        let s = feed(0..500u16);
        assert_eq!(s.jitter(), 0);
        assert_eq!(s.jitter_ms(), 0.0);
    }

    #[test]
    fn alternating_transit_jitter() {
        // Transit alternates +10 ms and −10 ms around a constant, so |D| = 20 ms = 160 units at
        // 8 kHz for every packet after the first. A.8: J_n = J_{n−1} + (160 − J_{n−1}) / 16, so
        // J_n = 160 × (1 − (15/16)^n) → 160 units = 20 ms. After 999 steps (15/16)^999 ≈ 1e-28;
        // the integer ×16 form settles where (J16 + 8) >> 4 = 160, i.e. J16 ∈ [2552, 2567], so
        // jitter() = J16 >> 4 is 159 or 160 and jitter_ms within 0.07 ms of 20.
        let mut s = ReceiveStats::new(8000);
        let arrival_ms = |i: u32| {
            let base = 1000 + 20 * u64::from(i);
            if i % 2 == 0 {
                base + 10
            } else {
                base - 10
            }
        };
        for i in 0..1000u32 {
            let arrival = Duration::from_millis(arrival_ms(i));
            s.handle_packet(i as u16, i * 160, 160, arrival);
        }
        assert!((159..=160).contains(&s.jitter()), "{}", s.jitter());
        assert!((s.jitter_ms() - 20.0).abs() < 0.07, "{}", s.jitter_ms());
        // After 16 steps the hand formula gives 160 × (1 − (15/16)^16) ≈ 102.9 units.
        let mut s = ReceiveStats::new(8000);
        for i in 0..17u32 {
            s.handle_packet(i as u16, i * 160, 160, Duration::from_millis(arrival_ms(i)));
        }
        assert!((102..=104).contains(&s.jitter()), "{}", s.jitter());
    }

    #[test]
    fn rtt_from_sr_rr_pair() {
        // We send an SR at T0; the peer holds it 250 ms (DLSR) and its RR reaches us at
        // T0 + 330 ms, so the RTT is 80 ms.
        let t0 = NtpTime::from_unix(Duration::from_secs(1_700_000_000));
        let block = ReportBlock {
            lsr: t0.compact(),
            dlsr: (250 * 65_536) / 1000,
            ..Default::default()
        };
        let arrival = NtpTime::from_unix(Duration::from_millis(1_700_000_000_330));
        let rtt = rtt_from_report(&block, arrival).unwrap();
        assert!((rtt.as_secs_f64() - 0.080).abs() < 0.000_1, "{rtt:?}");
        // No SR seen yet, or a block that predates us: no RTT.
        assert_eq!(rtt_from_report(&ReportBlock::default(), arrival), None);
        let early = NtpTime::from_unix(Duration::from_millis(1_700_000_000_100));
        assert_eq!(rtt_from_report(&block, early), None);

        // The same through ReceiveStats, and the LSR/DLSR we echo for the peer's SR.
        let mut s = ReceiveStats::new(8000);
        assert!(s.handle_report_block(&block, arrival).is_some());
        let snap = s.snapshot();
        assert!((snap.rtt_ms.unwrap() - 80.0).abs() < 0.1);
        let peer_sr = NtpTime::from_unix(Duration::from_secs(1_700_000_100));
        s.handle_sender_report(peer_sr.0, t0);
        let rb = s.report_block(
            9,
            NtpTime::from_unix(Duration::from_millis(1_700_000_000_500)),
        );
        assert_eq!(rb.lsr, peer_sr.compact());
        assert!((i64::from(rb.dlsr) - 32_768).abs() <= 1, "{}", rb.dlsr);
    }

    #[test]
    fn restart_after_big_jump() {
        let mut s = feed(0..10u16);
        // A jump of 30000 is ignored once, then accepted as a restart when followed in sequence.
        assert!(!s.handle_packet(30_000, 0, 160, MS20));
        assert!(s.handle_packet(30_001, 160, 160, MS20 * 2));
        assert_eq!(s.extended_max(), 30_001);
        assert_eq!(s.cumulative_lost(), 0);
    }

    #[test]
    fn rtt_through_real_rtcp_packets() {
        use crate::rtcp::{parse_compound, write_rr, write_sr, RtcpPacket};
        // We (ssrc 1) send 50 packets and an SR at t0; the peer (ssrc 2) receives the SR 40 ms
        // later, answers with an RR 200 ms after that, which reaches us 40 ms later: RTT 80 ms.
        let epoch = Duration::from_secs(1_700_000_000);
        let at = |ms: u64| NtpTime::from_unix(epoch + Duration::from_millis(ms));
        let mut send = SendStats::new(8000);
        for i in 0..50u32 {
            send.handle_sent(i * 160, 160, at(u64::from(i) * 20));
        }
        let info = send.sender_info(at(1000));
        assert_eq!((info.packet_count, info.octet_count), (50, 8000));
        // Last packet at 980 ms had ts 49 × 160; 20 ms later is 160 ticks on.
        assert_eq!(info.rtp_timestamp, 50 * 160);
        let mut wire = Vec::new();
        write_sr(&mut wire, 1, &info, &[]).unwrap();

        let mut peer = ReceiveStats::new(8000);
        let Some(Ok(RtcpPacket::SenderReport(sr))) = parse_compound(&wire).next() else {
            panic!()
        };
        peer.handle_sender_report(sr.info.ntp, at(1040));
        let block = peer.report_block(1, at(1240));
        let mut wire = Vec::new();
        write_rr(&mut wire, 2, &[block]).unwrap();

        let mut ours = ReceiveStats::new(8000);
        let Some(Ok(RtcpPacket::ReceiverReport(rr))) = parse_compound(&wire).next() else {
            panic!()
        };
        let rb = rr.blocks().next().unwrap();
        let rtt = ours.handle_report_block(&rb, at(1280)).unwrap();
        assert!((rtt.as_secs_f64() - 0.080).abs() < 0.000_1, "{rtt:?}");
        assert!((ours.snapshot().rtt_ms.unwrap() - 80.0).abs() < 0.1);
    }
}

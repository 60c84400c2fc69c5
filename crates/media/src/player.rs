//! A prompt player for one leg, in virtual time: [`Player`].
//!
//! The player turns a playlist of prompts (8 kHz mono samples, see [`crate::wav`]) and silences
//! into G.711 RTP packets of 20 ms (160 samples), one every 20 ms from the moment it is started.
//! The driver asks [`Player::poll_timeout`] when the next packet is due, calls
//! [`Player::poll_packet`] at (or after) that time until it returns `None`, sends each packet,
//! and drains [`Player::poll_event`] for [`PlayerEvent::Finished`]. The player never reads a
//! clock; time is a [`Duration`] since an epoch the driver chooses.
//!
//! **Stream.** One SSRC; the sequence number goes up by one per packet sent and the timestamp by
//! 160 per 20 ms of media. The first packet carries the marker bit (RFC 3551 §4.1: start of a
//! talkspurt). Silence items and the tail of the last frame are sent as encoded silence rather
//! than left out, so the far jitter buffer and NAT bindings see an unbroken stream.
//!
//! **Lateness.** A driver that is late gets the frames it missed in a burst, up to
//! [`MAX_LATE`]; frames older than that are skipped (their audio is not sent, the timestamp
//! still advances and the sequence number does not, RFC 3550 §5.1), and the next packet carries
//! the marker bit so the receiver re-syncs its playout.
//!
//! **End.** Without looping, [`PlayerEvent::Finished`] comes 20 ms after the last packet was
//! due, i.e. when its audio has been played out at the far end (less the far jitter buffer);
//! with looping the playlist starts again until [`Player::stop`]. Stopping produces no event.

use std::sync::Arc;
use std::time::Duration;

use crate::g711;
use crate::negotiate::G711;
use crate::rtp::{RtpHeader, FIXED_HEADER_LEN};

/// Samples per packet (20 ms at 8 kHz).
pub const FRAME_SAMPLES: usize = 160;
/// Packet interval.
pub const FRAME: Duration = Duration::from_millis(20);
/// Frames later than this are skipped instead of sent in a burst.
pub const MAX_LATE: Duration = Duration::from_millis(100);
/// Longest silence item, so a typo in a config cannot keep a player busy for days.
pub const MAX_SILENCE: Duration = Duration::from_secs(60);
/// Size of one packet: RTP header and 160 G.711 octets.
pub const PACKET_LEN: usize = FIXED_HEADER_LEN + FRAME_SAMPLES;

/// One entry of a playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// 8 kHz mono samples, shared between players.
    Prompt(Arc<[i16]>),
    /// Silence of this length (rounded to whole samples, at most [`MAX_SILENCE`]).
    Silence(Duration),
}

impl Item {
    fn len(&self) -> usize {
        match self {
            Item::Prompt(s) => s.len(),
            Item::Silence(d) => ((*d).min(MAX_SILENCE).as_micros() * 8 / 1000) as usize,
        }
    }
}

impl From<crate::wav::Audio> for Item {
    fn from(audio: crate::wav::Audio) -> Self {
        Item::Prompt(audio.samples.into())
    }
}

/// Codec and stream identity of the leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamParams {
    /// Negotiated payload type of the G.711 codec (7 bits).
    pub payload_type: u8,
    pub law: G711,
    pub ssrc: u32,
    /// Sequence number of the first packet.
    pub sequence: u16,
    /// Timestamp of the first packet.
    pub timestamp: u32,
}

/// Where the player is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerState {
    /// Not started yet.
    Idle,
    Playing,
    /// Played to the end (without looping).
    Finished,
    /// Stopped by [`Player::stop`].
    Stopped,
}

/// Something the call logic wants to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerEvent {
    /// The playlist has been played out.
    Finished,
}

/// One RTP packet, without allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    buf: [u8; PACKET_LEN],
}

impl Packet {
    /// The datagram.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

impl std::fmt::Debug for Packet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("seq", &u16::from_be_bytes([self.buf[2], self.buf[3]]))
            .field(
                "ts",
                &u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]),
            )
            .finish_non_exhaustive()
    }
}

/// The prompt player of one leg; see the module documentation.
#[derive(Debug, Clone)]
pub struct Player {
    params: StreamParams,
    playlist: Vec<Item>,
    looping: bool,
    state: PlayerState,
    /// Position: item index and sample offset in it.
    item: usize,
    offset: usize,
    /// Start time and index of the next frame (frame k is due at start + k·20 ms).
    start: Duration,
    frame: u64,
    seq: u16,
    ts: u32,
    marker: bool,
    /// Due time after which the last frame has played out.
    end: Option<Duration>,
    event: Option<PlayerEvent>,
    sent: u64,
}

impl Player {
    /// A player for the playlist; `looping` repeats it until [`Player::stop`].
    pub fn new(params: StreamParams, playlist: Vec<Item>, looping: bool) -> Self {
        Self {
            params,
            playlist,
            looping,
            state: PlayerState::Idle,
            item: 0,
            offset: 0,
            start: Duration::ZERO,
            frame: 0,
            seq: params.sequence,
            ts: params.timestamp,
            marker: true,
            end: None,
            event: None,
            sent: 0,
        }
    }

    /// Starts playing; the first packet is due at `now`. Does nothing unless idle.
    pub fn start(&mut self, now: Duration) {
        if self.state == PlayerState::Idle {
            self.state = PlayerState::Playing;
            self.start = now;
        }
    }

    /// Stops at once; no further packets or events.
    pub fn stop(&mut self) {
        self.state = PlayerState::Stopped;
        self.event = None;
    }

    /// Switches codec mid-stream (after a re-INVITE); stream identity is kept.
    pub fn set_codec(&mut self, payload_type: u8, law: G711) {
        self.params.payload_type = payload_type & 0x7f;
        self.params.law = law;
    }

    pub fn state(&self) -> PlayerState {
        self.state
    }

    /// Packets sent so far.
    pub fn packets_sent(&self) -> u64 {
        self.sent
    }

    /// Sequence number and timestamp the next packet would carry, for a stream that continues
    /// after the player (same SSRC).
    pub fn next_sequence_and_timestamp(&self) -> (u16, u32) {
        (self.seq, self.ts)
    }

    fn due(&self, frame: u64) -> Duration {
        // Saturating: frame counts fit u32 for any realistic playing time.
        self.start
            .saturating_add(FRAME * u32::try_from(frame).unwrap_or(u32::MAX))
    }

    /// When the player next wants [`Player::poll_packet`] or [`Player::poll_event`] called.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.event.is_some() {
            return self.end;
        }
        match self.state {
            PlayerState::Playing => Some(self.end.unwrap_or_else(|| self.due(self.frame))),
            _ => None,
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<PlayerEvent> {
        self.event.take()
    }

    /// The next packet due at `now`, if any. Call until it returns `None`.
    pub fn poll_packet(&mut self, now: Duration) -> Option<Packet> {
        if self.state != PlayerState::Playing {
            return None;
        }
        if let Some(end) = self.end {
            if now >= end {
                self.state = PlayerState::Finished;
                self.event = Some(PlayerEvent::Finished);
            }
            return None;
        }
        // Skip frames that are too late to be useful: frame j is skipped when
        // due(j) + MAX_LATE < now.
        let late = self.due(self.frame).saturating_add(MAX_LATE);
        if now > late {
            let frame_ns = FRAME.as_nanos();
            let k = (now - late).as_nanos().div_ceil(frame_ns);
            let k = u64::try_from(k).unwrap_or(u64::MAX);
            let playing = self.advance(k.saturating_mul(FRAME_SAMPLES as u64));
            self.frame = self.frame.saturating_add(k);
            // RTP timestamps wrap: only the low 32 bits of the advance matter.
            self.ts = self
                .ts
                .wrapping_add((k.wrapping_mul(FRAME_SAMPLES as u64)) as u32);
            self.marker = true;
            if !playing {
                self.end = Some(self.due(self.frame));
                return self.poll_packet(now);
            }
        }
        if now < self.due(self.frame) {
            return None;
        }
        let mut pcm = [0i16; FRAME_SAMPLES];
        if !self.fill(&mut pcm) {
            self.end = Some(self.due(self.frame + 1));
        }
        let packet = self.packet(&pcm);
        self.frame += 1;
        Some(packet)
    }

    /// Moves the position `n` samples on without producing audio; returns false when the
    /// playlist ended (without looping) within those samples.
    fn advance(&mut self, mut n: u64) -> bool {
        let total: u64 = self.playlist.iter().map(|i| i.len() as u64).sum();
        if self.looping && total > 0 {
            let before: u64 = self.playlist[..self.item.min(self.playlist.len())]
                .iter()
                .map(|i| i.len() as u64)
                .sum();
            n = (before + self.offset as u64 + n % total) % total;
            self.item = 0;
            self.offset = 0;
        }
        while n > 0 {
            let Some(item) = self.playlist.get(self.item) else {
                return false;
            };
            let left = item.len().saturating_sub(self.offset) as u64;
            if n < left {
                self.offset += n as usize;
                return true;
            }
            n -= left;
            self.item += 1;
            self.offset = 0;
        }
        self.looping || self.audio_left()
    }

    /// Whether anything of non-zero length is left from the current position on.
    fn audio_left(&self) -> bool {
        self.playlist
            .get(self.item..)
            .is_some_and(|rest| rest.iter().any(|i| i.len() > 0))
    }

    /// Fills one frame from the playlist; returns false when the playlist ended inside (or
    /// before) this frame without looping. The rest of the frame is silence.
    fn fill(&mut self, out: &mut [i16; FRAME_SAMPLES]) -> bool {
        let total: usize = self.playlist.iter().map(Item::len).sum();
        let mut filled = 0;
        while filled < FRAME_SAMPLES {
            if self.item >= self.playlist.len() {
                if self.looping && total > 0 {
                    self.item = 0;
                    self.offset = 0;
                } else {
                    out[filled..].fill(0);
                    return false;
                }
            }
            let Some(item) = self.playlist.get(self.item) else {
                return false;
            };
            let len = item.len();
            let take = (len.saturating_sub(self.offset)).min(FRAME_SAMPLES - filled);
            match item {
                Item::Prompt(s) => {
                    out[filled..filled + take].copy_from_slice(&s[self.offset..self.offset + take])
                }
                Item::Silence(_) => out[filled..filled + take].fill(0),
            }
            filled += take;
            self.offset += take;
            if self.offset >= len {
                self.item += 1;
                self.offset = 0;
            }
        }
        // A frame that ends exactly at the end of the playlist (or before items of zero length):
        // the playlist is done too.
        self.looping || self.audio_left()
    }

    fn packet(&mut self, pcm: &[i16; FRAME_SAMPLES]) -> Packet {
        let mut payload = [0u8; FRAME_SAMPLES];
        match self.params.law {
            G711::Ulaw => g711::encode_ulaw(pcm, &mut payload),
            G711::Alaw => g711::encode_alaw(pcm, &mut payload),
        }
        let mut buf = [0u8; PACKET_LEN];
        let header = RtpHeader {
            marker: self.marker,
            payload_type: self.params.payload_type & 0x7f,
            sequence: self.seq,
            timestamp: self.ts,
            ssrc: self.params.ssrc,
            csrcs: &[],
            extension: None,
        };
        // Cannot fail: the payload type is masked to 7 bits, there are no CSRCs or extension,
        // and the buffer is exactly header + payload.
        let _ = header.write(&payload, 0, &mut buf);
        self.marker = false;
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(FRAME_SAMPLES as u32);
        self.sent += 1;
        Packet { buf }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::rtp::RtpPacket;

    fn params(law: G711) -> StreamParams {
        StreamParams {
            payload_type: if law == G711::Ulaw { 0 } else { 8 },
            law,
            ssrc: 0x1234_5678,
            sequence: 65534,
            timestamp: u32::MAX - 159,
        }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn prompt(n: usize, v: i16) -> Item {
        Item::Prompt(vec![v; n].into())
    }

    /// Drives the player every `step` from `t0` until it finishes or stops; returns the packets
    /// with their send time and the time Finished came.
    fn run(p: &mut Player, t0: Duration, step: Duration) -> (Vec<(Duration, Packet)>, Duration) {
        let mut out = Vec::new();
        let mut now = t0;
        for _ in 0..1_000_000 {
            while let Some(pk) = p.poll_packet(now) {
                out.push((now, pk));
            }
            if p.poll_event() == Some(PlayerEvent::Finished) {
                return (out, now);
            }
            now += step;
        }
        unreachable!("player did not finish")
    }

    #[test]
    fn stream_fields_and_timing() {
        let mut p = Player::new(params(G711::Ulaw), vec![prompt(400, 1000)], false);
        assert_eq!(p.poll_timeout(), None);
        assert!(p.poll_packet(ms(0)).is_none());
        p.start(ms(1000));
        assert_eq!(p.poll_timeout(), Some(ms(1000)));
        assert!(p.poll_packet(ms(999)).is_none());
        let (pkts, fin) = run(&mut p, ms(1000), ms(1));
        // 400 samples = 2.5 frames → 3 packets at 1000, 1020, 1040; played out at 1060.
        assert_eq!(pkts.len(), 3);
        assert_eq!(fin, ms(1060));
        assert_eq!(p.state(), PlayerState::Finished);
        assert_eq!(p.poll_timeout(), None);
        let want_seq = [65534u16, 65535, 0];
        let want_ts = [u32::MAX - 159, 0, 160];
        for (i, (t, pk)) in pkts.iter().enumerate() {
            assert_eq!(*t, ms(1000 + 20 * i as u64));
            let r = RtpPacket::parse(pk.as_bytes()).unwrap();
            assert_eq!(r.payload_type(), 0);
            assert_eq!(r.ssrc(), 0x1234_5678);
            assert_eq!(r.sequence(), want_seq[i]);
            assert_eq!(r.timestamp(), want_ts[i]);
            assert_eq!(r.marker(), i == 0);
            assert_eq!(r.payload().len(), 160);
        }
        // The last packet is half prompt, half silence.
        let last = RtpPacket::parse(pkts[2].1.as_bytes()).unwrap();
        assert!(last.payload()[..80]
            .iter()
            .all(|&b| b == g711::linear_to_ulaw(1000)));
        assert!(last.payload()[80..].iter().all(|&b| b == 0xff));
        assert_eq!(p.next_sequence_and_timestamp(), (1, 320));
        assert_eq!(p.packets_sent(), 3);
    }

    #[test]
    fn pcma_and_codec_switch() {
        let mut p = Player::new(params(G711::Alaw), vec![prompt(320, -500)], false);
        p.start(ms(0));
        let a = p.poll_packet(ms(0)).unwrap();
        let r = RtpPacket::parse(a.as_bytes()).unwrap();
        assert_eq!(r.payload_type(), 8);
        assert!(r.payload().iter().all(|&b| b == g711::linear_to_alaw(-500)));
        p.set_codec(0, G711::Ulaw);
        let b = p.poll_packet(ms(20)).unwrap();
        let r = RtpPacket::parse(b.as_bytes()).unwrap();
        assert_eq!(r.payload_type(), 0);
        assert!(r.payload().iter().all(|&b| b == g711::linear_to_ulaw(-500)));
        assert!(!r.marker());
    }

    #[test]
    fn playlist_with_silence_gap_is_contiguous() {
        let list = vec![prompt(100, 1), Item::Silence(ms(30)), prompt(100, 2)];
        let mut p = Player::new(params(G711::Ulaw), list, false);
        p.start(ms(0));
        let (pkts, fin) = run(&mut p, ms(0), ms(20));
        // 100 + 240 + 100 = 440 samples → 3 frames.
        assert_eq!(pkts.len(), 3);
        assert_eq!(fin, ms(60));
        let mut pcm = Vec::new();
        for (_, pk) in &pkts {
            let r = RtpPacket::parse(pk.as_bytes()).unwrap();
            pcm.extend(r.payload().iter().map(|&c| g711::ulaw_to_linear(c)));
        }
        let one = g711::ulaw_to_linear(g711::linear_to_ulaw(1));
        let two = g711::ulaw_to_linear(g711::linear_to_ulaw(2));
        assert!(pcm[..100].iter().all(|&s| s == one));
        assert!(pcm[100..340].iter().all(|&s| s == 0));
        assert!(pcm[340..440].iter().all(|&s| s == two));
        assert!(pcm[440..].iter().all(|&s| s == 0));
    }

    #[test]
    fn exact_frame_multiple_ends_without_extra_packet() {
        let list = vec![prompt(320, 7), Item::Silence(Duration::ZERO), prompt(0, 1)];
        let mut p = Player::new(params(G711::Ulaw), list, false);
        p.start(ms(0));
        let (pkts, fin) = run(&mut p, ms(0), ms(5));
        assert_eq!(pkts.len(), 2);
        assert_eq!(fin, ms(40));
    }

    #[test]
    fn loop_until_stopped() {
        let list = vec![prompt(80, 3), Item::Silence(ms(10))];
        let mut p = Player::new(params(G711::Ulaw), list, true);
        p.start(ms(0));
        let mut n = 0;
        for t in 0..1000u64 {
            while p.poll_packet(ms(t)).is_some() {
                n += 1;
            }
            assert_eq!(p.poll_event(), None);
        }
        assert_eq!(n, 50);
        p.stop();
        assert_eq!(p.state(), PlayerState::Stopped);
        assert!(p.poll_packet(ms(5000)).is_none());
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(p.poll_event(), None);
    }

    #[test]
    fn empty_playlists_finish_and_do_not_spin() {
        for looping in [false, true] {
            let mut p = Player::new(params(G711::Ulaw), Vec::new(), looping);
            p.start(ms(0));
            let (pkts, fin) = run(&mut p, ms(0), ms(20));
            // One frame of silence goes out, then the player is done.
            assert_eq!(pkts.len(), 1);
            assert_eq!(fin, ms(20));
        }
    }

    #[test]
    fn late_driver_gets_a_short_burst_then_skips() {
        let mut p = Player::new(params(G711::Ulaw), vec![prompt(8000, 5)], false);
        p.start(ms(0));
        assert!(p.poll_packet(ms(0)).is_some());
        // 90 ms late: the frames due at 20..=80 come in a burst.
        let burst: Vec<_> = std::iter::from_fn(|| p.poll_packet(ms(90))).collect();
        assert_eq!(burst.len(), 4);
        // Now 500 ms of stall: frames older than 100 ms are skipped.
        let burst: Vec<_> = std::iter::from_fn(|| p.poll_packet(ms(600))).collect();
        // Due 500..=600 are within 100 ms → 6 packets; first carries the marker.
        assert_eq!(burst.len(), 6);
        let r = RtpPacket::parse(burst[0].as_bytes()).unwrap();
        assert!(r.marker());
        assert_eq!(r.timestamp(), (u32::MAX - 159).wrapping_add(25 * 160));
        assert_eq!(r.sequence(), 65534u16.wrapping_add(5));
        let (rest, fin) = run(&mut p, ms(600), ms(20));
        // 8000 samples = 50 frames, 20 skipped; 1 + 4 + 6 + rest = 30.
        assert_eq!(11 + rest.len(), 30);
        assert_eq!(fin, ms(1000));
    }

    #[test]
    fn very_late_driver_past_the_end() {
        let mut p = Player::new(params(G711::Ulaw), vec![prompt(800, 5)], false);
        p.start(ms(0));
        assert!(p.poll_packet(ms(10_000)).is_none());
        assert_eq!(p.poll_event(), Some(PlayerEvent::Finished));
        assert_eq!(p.packets_sent(), 0);
    }

    #[test]
    fn menu_prompt_plays_for_its_length() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../conf.d/prompts/menu.wav");
        let bytes = std::fs::read(path).unwrap();
        let audio = crate::wav::parse(&bytes).unwrap();
        assert_eq!((audio.source_rate, audio.source_channels), (8000, 1));
        let n = audio.samples.len();
        assert!(n > 8000, "menu prompt is only {n} samples");
        let mut p = Player::new(params(G711::Ulaw), vec![Item::from(audio.clone())], false);
        p.start(ms(0));
        let (pkts, fin) = run(&mut p, ms(0), ms(20));
        let frames = n.div_ceil(FRAME_SAMPLES);
        assert_eq!(pkts.len(), frames);
        assert_eq!(fin, FRAME * frames as u32);
        // The decoded stream is the prompt (within G.711 quantisation) followed by silence.
        let mut pcm = Vec::new();
        for (_, pk) in &pkts {
            let r = RtpPacket::parse(pk.as_bytes()).unwrap();
            pcm.extend(r.payload().iter().map(|&c| g711::ulaw_to_linear(c)));
        }
        for (a, b) in pcm.iter().zip(&audio.samples) {
            // One µ-law quantisation step is at most 1/8 of the value (and 8 near zero).
            let step = (i32::from(*b).abs() / 8).max(8);
            assert!((i32::from(*a) - i32::from(*b)).abs() <= step, "{a} vs {b}");
        }
        let last = RtpPacket::parse(pkts[frames - 1].1.as_bytes()).unwrap();
        assert_eq!(
            last.timestamp(),
            (u32::MAX - 159).wrapping_add(160 * (frames as u32 - 1))
        );
    }
}

//! Test and benchmark client: plays "the browser" with str0m as the offerer (ICE controlling),
//! offering like Chrome does (Opus 111, PCMU 0, PCMA 8, telephone-event/48000 110 and
//! telephone-event/8000 126).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::rtp::{RtpWrite, Ssrc};
use str0m::{Candidate, Event, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::audio::{self, OpusDecoder, OpusEncoder};
use crate::rtc;
use crate::{Codec, Error};

/// One RTP packet the client received.
#[derive(Debug, Clone)]
pub struct Received {
    pub pt: u8,
    pub seq: u16,
    pub ts: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
    pub at: Instant,
}

enum Cmd {
    Rtp {
        pt: u8,
        ts: u32,
        marker: bool,
        payload: Vec<u8>,
    },
    /// Sends `frames` round-robin every 20 ms from now on.
    Play {
        pt: u8,
        ticks: u32,
        frames: Arc<Vec<Vec<u8>>>,
    },
}

struct Pre {
    rtc: Rtc,
    pending: SdpPendingOffer,
    mid: Mid,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    sent: AtomicU64,
    connected: AtomicBool,
}

/// A str0m peer that behaves like a browser leg.
pub struct Client {
    sock: Option<UdpSocket>,
    local: SocketAddr,
    pre: Option<Pre>,
    cmd: Option<mpsc::UnboundedSender<Cmd>>,
    rx: Option<mpsc::Receiver<Received>>,
    counters: Arc<Counters>,
    connected: watch::Receiver<bool>,
    connected_tx: Option<watch::Sender<bool>>,
    codec: Option<Codec>,
    audio_pt: u8,
    event_pt: Option<u8>,
    event_rate: u32,
    enc: Option<OpusEncoder>,
    dec: Option<OpusDecoder>,
    ts: u32,
    task: Option<JoinHandle<()>>,
}

impl Client {
    /// Binds a UDP socket on `bind_ip` (any free port) and makes an offer with `codecs` in that
    /// order, plus telephone-event like Chrome.
    pub async fn offer(bind_ip: IpAddr, codecs: &[Codec]) -> Result<(Client, String), Error> {
        let sock = UdpSocket::bind(SocketAddr::new(bind_ip, 0)).await?;
        let local = sock.local_addr()?;
        let mut cfg = rtc::base_config()?;
        for &c in codecs {
            rtc::enable(&mut cfg, c);
        }
        if codecs.contains(&Codec::Opus) {
            rtc::enable_events(&mut cfg, 110, 48000);
        }
        rtc::enable_events(&mut cfg, 126, 8000);
        let mut rtc = cfg.build(Instant::now());
        let c = Candidate::host(local, "udp").map_err(|e| Error::Rtc(e.to_string()))?;
        rtc.add_local_candidate(c);
        let mut api = rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api
            .apply()
            .ok_or_else(|| Error::Rtc("geen aanbod gemaakt".into()))?;
        let (connected_tx, connected) = watch::channel(false);
        let client = Client {
            sock: Some(sock),
            local,
            pre: Some(Pre { rtc, pending, mid }),
            cmd: None,
            rx: None,
            counters: Arc::new(Counters::default()),
            connected,
            connected_tx: Some(connected_tx),
            codec: None,
            audio_pt: 0,
            event_pt: None,
            event_rate: 8000,
            enc: None,
            dec: None,
            ts: rand::random::<u32>() >> 4,
            task: None,
        };
        Ok((client, offer.to_sdp_string()))
    }

    /// The client's UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Applies the bridge's answer and starts the client's task (ICE, DTLS, media).
    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), Error> {
        let Pre {
            mut rtc,
            pending,
            mid,
        } = self
            .pre
            .take()
            .ok_or_else(|| Error::Answer("het antwoord is al verwerkt".into()))?;
        let sock = self
            .sock
            .take()
            .ok_or_else(|| Error::Answer("geen socket".into()))?;
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| Error::Answer(e.to_string()))?;
        rtc.sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| Error::Answer(e.to_string()))?;
        let remote: Vec<u8> = rtc
            .media(mid)
            .map(|m| m.remote_pts().iter().map(|p| **p).collect())
            .unwrap_or_default();
        for pt in remote {
            let Some(p) = rtc.codec_config().find(|p| *p.pt() == pt) else {
                continue;
            };
            let spec = p.spec();
            if spec.codec.is_tele() {
                let rate = spec.clock_rate.get();
                if rate == 8000 || self.event_pt.is_none() {
                    self.event_pt = Some(pt);
                    self.event_rate = rate;
                }
            } else if self.codec.is_none() {
                if let Some(c) = rtc::from_str0m(spec.codec) {
                    self.codec = Some(c);
                    self.audio_pt = pt;
                }
            }
        }
        let codec = self
            .codec
            .ok_or_else(|| Error::Answer("geen audiocodec in het antwoord".into()))?;
        if codec == Codec::Opus {
            self.enc = Some(OpusEncoder::new(5)?);
            self.dec = Some(OpusDecoder::new()?);
        }
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (rx_tx, rx_rx) = mpsc::channel(4096);
        self.cmd = Some(cmd_tx);
        self.rx = Some(rx_rx);
        let connected = self
            .connected_tx
            .take()
            .ok_or_else(|| Error::Answer("al gestart".into()))?;
        self.task = Some(tokio::spawn(run(
            rtc,
            sock,
            self.local,
            mid,
            cmd_rx,
            rx_tx,
            self.counters.clone(),
            connected,
        )));
        Ok(())
    }

    /// Negotiated audio codec (after the answer).
    pub fn codec(&self) -> Option<Codec> {
        self.codec
    }

    /// Negotiated audio payload type.
    pub fn audio_pt(&self) -> u8 {
        self.audio_pt
    }

    /// Negotiated telephone-event payload type (8000 Hz preferred).
    pub fn event_pt(&self) -> Option<u8> {
        self.event_pt
    }

    /// Clock rate of the negotiated telephone-event.
    pub fn event_rate(&self) -> u32 {
        self.event_rate
    }

    /// Waits until ICE and DTLS are up, at most `timeout`.
    pub async fn connected(&self, timeout: Duration) -> bool {
        let mut rx = self.connected.clone();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Whether ICE and DTLS are up.
    pub fn is_connected(&self) -> bool {
        self.counters.connected.load(Ordering::Relaxed)
    }

    /// Packets received so far.
    pub fn received_count(&self) -> u64 {
        self.counters.received.load(Ordering::Relaxed)
    }

    /// Packets sent so far.
    pub fn sent_count(&self) -> u64 {
        self.counters.sent.load(Ordering::Relaxed)
    }

    /// Encodes 20 ms of 8 kHz audio with the negotiated codec.
    pub fn encode(&mut self, samples_8k: &[i16]) -> Result<Vec<u8>, Error> {
        match (self.codec, self.enc.as_mut()) {
            (Some(Codec::Opus), Some(enc)) => Ok(enc.encode(samples_8k)?.to_vec()),
            (Some(c), _) => {
                let mut out = Vec::with_capacity(samples_8k.len());
                audio::g711_encode(c, samples_8k, &mut out);
                Ok(out)
            }
            (None, _) => Err(Error::Answer("nog geen codec".into())),
        }
    }

    /// Sends 20 ms of 8 kHz audio (160 samples) as the next audio packet.
    pub fn send_audio(&mut self, samples_8k: &[i16]) -> Result<(), Error> {
        let payload = self.encode(samples_8k)?;
        let ticks = self.codec.map_or(160, Codec::frame_ticks);
        let ts = self.ts;
        self.ts = self.ts.wrapping_add(ticks);
        self.send_rtp(self.audio_pt, ts, false, payload);
        Ok(())
    }

    /// Sends one RFC 4733 packet (`event` 0-16) for the event that starts at the current audio
    /// timestamp; `duration` in 8 kHz units (scaled to the negotiated event clock).
    pub fn send_event(&mut self, event: u8, end: bool, duration: u16, marker: bool) -> bool {
        let Some(pt) = self.event_pt else {
            return false;
        };
        let scale = (self.event_rate / 8000).max(1) as u16;
        let d = duration.saturating_mul(scale).to_be_bytes();
        let payload = vec![event, if end { 0x80 | 10 } else { 10 }, d[0], d[1]];
        self.send_rtp(pt, self.ts, marker, payload);
        true
    }

    /// Sends a raw payload.
    pub fn send_rtp(&self, pt: u8, ts: u32, marker: bool, payload: Vec<u8>) {
        if let Some(c) = &self.cmd {
            let _ = c.send(Cmd::Rtp {
                pt,
                ts,
                marker,
                payload,
            });
        }
    }

    /// From now on the client's task sends `frames` (encoded with the negotiated codec)
    /// round-robin, one every 20 ms.
    pub fn play(&self, frames: Arc<Vec<Vec<u8>>>) {
        if let Some(c) = &self.cmd {
            let _ = c.send(Cmd::Play {
                pt: self.audio_pt,
                ticks: self.codec.map_or(160, Codec::frame_ticks),
                frames,
            });
        }
    }

    /// The next received packet, waiting at most `timeout`.
    pub async fn recv(&mut self, timeout: Duration) -> Option<Received> {
        let rx = self.rx.as_mut()?;
        tokio::time::timeout(timeout, rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Decodes a received audio payload to 8 kHz samples (appended to `out`).
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        match (self.codec, self.dec.as_mut()) {
            (Some(Codec::Opus), Some(dec)) => {
                dec.decode(payload, out);
            }
            (Some(c), _) => audio::g711_decode(c, payload, out),
            _ => {}
        }
    }

    /// Stops the client's task (the bridge then sees the browser disappear).
    pub async fn close(mut self) {
        self.cmd = None;
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

struct Player {
    pt: u8,
    ticks: u32,
    frames: Arc<Vec<Vec<u8>>>,
    next: usize,
    ts: u32,
}

#[allow(clippy::too_many_arguments)]
async fn run(
    mut rtc: Rtc,
    sock: UdpSocket,
    local: SocketAddr,
    mid: Mid,
    mut cmd: mpsc::UnboundedReceiver<Cmd>,
    out: mpsc::Sender<Received>,
    counters: Arc<Counters>,
    connected: watch::Sender<bool>,
) {
    let mut buf = vec![0u8; 2048];
    let mut ssrc: Option<Ssrc> = None;
    let mut seq: u64 = u64::from(rand::random::<u16>() & 0x3fff) + 1;
    let mut player: Option<Player> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        let deadline = match rtc::drain(&mut rtc, &sock, |e| match e {
            Event::Connected => {
                counters.connected.store(true, Ordering::Relaxed);
                let _ = connected.send(true);
            }
            Event::RtpPacket(p) => {
                counters.received.fetch_add(1, Ordering::Relaxed);
                let _ = out.try_send(Received {
                    pt: *p.header.payload_type,
                    seq: p.header.sequence_number,
                    ts: p.header.timestamp,
                    marker: p.header.marker,
                    payload: p.payload.to_vec(),
                    at: Instant::now(),
                });
            }
            _ => {}
        }) {
            Ok(t) => t,
            Err(_) => return,
        };
        if !rtc.is_alive() {
            return;
        }
        if ssrc.is_none() && rtc.is_connected() {
            ssrc = rtc
                .direct_api()
                .stream_tx_by_mid(mid, None)
                .map(|s| s.ssrc());
        }
        let mut write = |rtc: &mut Rtc, pt: u8, ts: u32, marker: bool, payload: &[u8]| {
            let Some(s) = ssrc else { return };
            let mut api = rtc.direct_api();
            let Some(stream) = api.stream_tx(&s) else {
                return;
            };
            stream.write_rtp(
                RtpWrite::new(pt.into(), seq.into(), ts, Instant::now(), payload).marker(marker),
            );
            seq += 1;
            counters.sent.fetch_add(1, Ordering::Relaxed);
        };
        let r = tokio::select! {
            r = sock.recv_from(&mut buf) => match r {
                Ok((n, src)) => rtc::feed(&mut rtc, src, local, &buf[..n]),
                Err(_) => Ok(()),
            },
            c = cmd.recv() => match c {
                Some(Cmd::Rtp { pt, ts, marker, payload }) => {
                    write(&mut rtc, pt, ts, marker, &payload);
                    Ok(())
                }
                Some(Cmd::Play { pt, ticks, frames }) => {
                    player = Some(Player { pt, ticks, frames, next: 0, ts: rand::random::<u32>() >> 4 });
                    Ok(())
                }
                None => return,
            },
            _ = tick.tick(), if player.is_some() => {
                if let Some(p) = player.as_mut() {
                    if !p.frames.is_empty() {
                        let f = &p.frames[p.next % p.frames.len()];
                        write(&mut rtc, p.pt, p.ts, p.next == 0, f);
                        p.next += 1;
                        p.ts = p.ts.wrapping_add(p.ticks);
                    }
                }
                Ok(())
            },
            _ = tokio::time::sleep_until(deadline.into()) => rtc::tick(&mut rtc),
        };
        if r.is_err() {
            return;
        }
    }
}

//! Media anchoring: per call an RTP/RTCP port pair facing A and one facing B (even RTP port,
//! RTCP on RTP + 1, all four bound), relayed by a few dedicated threads.
//!
//! The protocol work is in `pbx_media`, without I/O: [`Anchor`] rewrites every SDP between the
//! legs (offers, answers, re-offers from either side; PCMU↔PCMA transcoding choice; payload type
//! mapping; RFC 3264 order, ptime and direction kept) and [`RelayCore`] is the packet path of one
//! call (RTP-bleed protection for RTP and RTCP, statistics, transcoding, RTCP termination with
//! our own SR/RR every ~5 s, RTT). See those modules for the rules and the decisions.
//!
//! This file is the driver. Design, for ≤ ~5 µs CPU per relayed packet at thousands of calls:
//! - `N` relay threads (one per core, at most 8), each with its own epoll set over the sockets of
//!   the calls it owns (round robin). Level-triggered: one `recvfrom` per readiness event and one
//!   `sendto`, no `EAGAIN` round trip per packet, no allocation, no lock and no channel on the
//!   packet path; the call's state (`RelayCore`) belongs to its thread alone.
//! - The SIP task talks to a thread over a channel plus a wake-up datagram: new call, new media
//!   plan after an offer/answer, statistics request, close. Only the "media flowed" flags are
//!   shared, as relaxed atomics written at most once per poll interval's worth of packets.
//! - RTCP reports are sent from the thread's 100 ms tick; the ports of a closed call are freed by
//!   the thread once its sockets are closed.
//!
//! **Local mode** (announcements, the keuzemenu): [`Relay::answer_locally`] answers A's offer
//! with pbxd itself as the far end. The call's thread then forwards nothing to B, decodes RFC 4733
//! events from A into digits, and plays prompts to A from the A-facing RTP socket with a
//! [`Player`] of its own (epoll's timeout honours the player's next due time; the player's packets
//! are our stream towards A, so relayed media later continues it). Digits and the end of a
//! playlist go to the SIP task through a small queue in [`Shared`], which it polls without
//! blocking. [`Relay::connect_b`] gives the offer for B; B's answer through
//! [`Relay::answer_from_b`] ends local mode and the call is relayed as usual, A keeping the codec
//! and port it was told.

use pbx_config::RtpConfig;
use pbx_media::anchor::Anchor;
use pbx_media::dtmf_in::DtmfReceiver;
use pbx_media::negotiate::G711;
use pbx_media::player::{Item, Player, PlayerEvent, StreamParams};
use pbx_media::relay::{LegSnapshot, RelayCore, Verdict};
use pbx_media::rtp::RtpPacket;
use pbx_media::NtpTime;
use pbx_model::LegQuality;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Most relay threads.
const MAX_THREADS: usize = 8;
/// Interval of a thread's timer work (RTCP reports).
const TICK: Duration = Duration::from_millis(100);
/// Events taken per epoll_wait.
const EVENTS: usize = 256;
/// Largest datagram relayed (the UDP maximum: nothing is truncated).
const MAX_DATAGRAM: usize = 65_536;
/// How long the SIP task waits for a thread's statistics.
const STATS_TIMEOUT: Duration = Duration::from_millis(500);
/// The epoll token of a thread's wake-up socket.
const WAKE: u64 = u64::MAX;
/// Most media events kept for a SIP task that does not take them (the oldest are dropped).
const MAX_EVENTS: usize = 64;

/// Port numbers in use (the even RTP port of each pair), shared with the threads that free them.
type Used = Arc<Mutex<HashSet<u16>>>;

/// The ports in use in this process: the relay and the softphone's WebRTC bridges take their
/// pairs from the same range without handing one out twice.
fn process_used() -> Used {
    static USED: std::sync::OnceLock<Used> = std::sync::OnceLock::new();
    USED.get_or_init(Used::default).clone()
}

/// Even ports of the RTP range for the WebRTC bridges (`pbx_webrtc::PortSource`). A port is
/// marked used when taken; the bridge binds it (and tries the next on a bind error).
pub(crate) struct RtpPorts {
    used: Used,
    min: u16,
    max: u16,
    next: Mutex<u16>,
}

impl RtpPorts {
    /// The range of `[rtp]`.
    pub(crate) fn new(cfg: &RtpConfig) -> RtpPorts {
        let min = cfg.port_min.saturating_add(cfg.port_min % 2);
        // Start half-way, away from where the relay starts, so both rarely meet.
        let mid = min + ((cfg.port_max.saturating_sub(min) / 2) & !1);
        RtpPorts {
            used: process_used(),
            min,
            max: cfg.port_max,
            next: Mutex::new(mid),
        }
    }
}

impl pbx_webrtc::PortSource for RtpPorts {
    fn take(&self) -> Option<u16> {
        let span = u32::from(self.max.saturating_sub(self.min)) / 2 + 1;
        let mut next = self.next.lock().ok()?;
        for _ in 0..span {
            let port = *next;
            *next = if port.saturating_add(3) > self.max {
                self.min
            } else {
                port + 2
            };
            if port.checked_add(1).is_none_or(|p| p > self.max) {
                continue;
            }
            let mut u = self.used.lock().ok()?;
            if u.insert(port) {
                return Some(port);
            }
        }
        None
    }

    fn give_back(&self, port: u16) {
        if let Ok(mut u) = self.used.lock() {
            u.remove(&port);
        }
    }
}

/// Flags the relay thread raises and the SIP task takes.
#[derive(Default)]
struct Shared {
    rtp: [AtomicBool; 2],
    rtcp: [AtomicBool; 2],
    /// Media events of local mode, and whether there are any (checked without the lock).
    events: Mutex<VecDeque<MediaEvent>>,
    has_events: AtomicBool,
    /// The call's quality, written by the relay thread once a second.
    quality: Mutex<QualityView>,
}

/// The quality of a call as the SIP task reads it (see `pbx_media::quality`).
#[derive(Clone, Debug, Default)]
pub(crate) struct QualityView {
    /// A and B now.
    pub(crate) now: [pbx_media::quality::LegNow; 2],
    /// Average MOS per leg so far.
    pub(crate) avg_mos: [Option<f64>; 2],
    /// The last MOS values per leg (sparklines).
    pub(crate) history: [Vec<f64>; 2],
    /// One-way audio, dead air, right now.
    pub(crate) one_way_now: bool,
    pub(crate) dead_air_now: bool,
    /// The call so far.
    pub(crate) summary: pbx_media::quality::Summary,
}

impl Shared {
    /// Queues an event (relay thread; rare, so the lock is fine).
    fn push(&self, ev: MediaEvent) {
        if let Ok(mut q) = self.events.lock() {
            if q.len() >= MAX_EVENTS {
                q.pop_front();
            }
            q.push_back(ev);
            self.has_events.store(true, Ordering::Release);
        }
    }
}

/// What happened in local mode, for the SIP task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MediaEvent {
    /// A key A pressed (RFC 4733), once per press.
    Digit(char),
    /// A playlist without looping has been played out.
    PlayFinished,
}

/// Local mode of one call on its relay thread.
struct Local {
    /// Payload type and law of the codec A was answered with.
    pt: u8,
    law: G711,
    /// A's telephone-event payload type, if any.
    event_pt: Option<u8>,
    dtmf: DtmfReceiver,
    player: Option<Player>,
}

impl Local {
    /// An accepted RTP packet from A: a digit when it starts a key press.
    fn rtp_from_a(&mut self, buf: &[u8], shared: &Shared) {
        let Some(ev) = self.event_pt else {
            return;
        };
        let Ok(p) = RtpPacket::parse(buf) else {
            return;
        };
        if p.payload_type() != ev {
            return;
        }
        if let Some(d) = self
            .dtmf
            .handle_packet(p.timestamp(), p.marker(), p.payload())
        {
            shared.push(MediaEvent::Digit(d.digit));
        }
    }
}

/// What [`Relay::answer_locally`] tells the relay thread.
#[derive(Clone, Copy, Debug)]
struct LocalCodec {
    pt: u8,
    law: G711,
    event_pt: Option<u8>,
}

#[inline]
fn raise(flag: &AtomicBool) {
    // A load first: the cache line stays shared until the SIP task takes the flag.
    if !flag.load(Ordering::Relaxed) {
        flag.store(true, Ordering::Relaxed);
    }
}

/// What happened on a call since the last [`Relay::take_activity_detail`].
#[cfg(test)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Activity {
    /// RTP received from A, from B.
    pub(crate) rtp: [bool; 2],
    /// RTCP received from A, from B.
    pub(crate) rtcp: [bool; 2],
}

/// One call as a relay thread holds it.
struct Entry {
    id: u64,
    /// RTP facing A, RTCP facing A, RTP facing B, RTCP facing B.
    socks: [UdpSocket; 4],
    ports: [u16; 2],
    /// Where the ports are freed once the sockets are closed.
    used: Used,
    core: RelayCore,
    shared: Arc<Shared>,
    /// Local mode: pbxd is A's far end.
    local: Option<Box<Local>>,
    /// Quality, sampled once a second.
    meter: pbx_media::quality::QualityMeter,
    /// Negotiated codec per leg (from the last plan), for the MOS.
    codecs: [String; 2],
    /// Two-way audio expected (answered, not on hold): one-way audio is looked for.
    watching: bool,
    next_sample: Duration,
}

/// How often a call's quality is sampled.
const QUALITY_EVERY: Duration = Duration::from_secs(1);

impl Entry {
    /// One second's quality sample, published for the SIP task.
    fn sample_quality(&mut self) {
        let leg = |i: usize| {
            let s = self.core.snapshot(i);
            let r = s.receive;
            pbx_media::quality::LegSample {
                packets: r.packets,
                lost: r.lost,
                jitter_ms: r.jitter_ms,
                rtt_ms: r.rtt_ms,
                xr_mos: s.xr.and_then(|m| m.mos()),
            }
        };
        let legs = [leg(0), leg(1)];
        // In local mode pbxd itself is B: nothing to expect from a B leg.
        let watching = self.watching && self.local.is_none();
        self.meter.sample(
            legs,
            [self.codecs[0].as_str(), self.codecs[1].as_str()],
            watching,
        );
        let (one_way_now, dead_air_now) = self.meter.flags_now();
        let view = QualityView {
            now: self.meter.now(),
            avg_mos: [self.meter.leg_avg_mos(0), self.meter.leg_avg_mos(1)],
            history: [self.meter.history(0), self.meter.history(1)],
            one_way_now,
            dead_air_now,
            summary: self.meter.summary(),
        };
        if let Ok(mut q) = self.shared.quality.lock() {
            *q = view;
        }
    }

    /// Closes the sockets, then frees the ports.
    fn close(self: Box<Self>) {
        let (ports, used) = (self.ports, self.used.clone());
        drop(self);
        if let Ok(mut u) = used.lock() {
            u.remove(&ports[0]);
            u.remove(&ports[1]);
        };
    }
}

enum Cmd {
    Add(Box<Entry>),
    Plan(u64, Box<pbx_media::anchor::MediaPlan>),
    AllowIp(u64, usize, IpAddr),
    Stats(u64, mpsc::SyncSender<[LegSnapshot; 2]>),
    Remove(u64),
    /// Into local mode.
    Local(u64, LocalCodec),
    /// Out of local mode: relay as usual.
    Relay(u64),
    Play(u64, Vec<Arc<[i16]>>, bool),
    StopPlaying(u64),
    /// Whether two-way audio is expected now.
    Watch(u64, bool),
}

/// The SIP task's end of one relay thread.
#[derive(Clone)]
struct Link {
    tx: mpsc::Sender<Cmd>,
    wake: Arc<UnixDatagram>,
}

impl Link {
    fn send(&self, cmd: Cmd) -> bool {
        let ok = self.tx.send(cmd).is_ok();
        // A full wake-up socket means a wake-up is pending already.
        let _ = self.wake.send(&[1]);
        ok
    }
}

/// The relay threads, started with the first call.
struct Engine {
    links: Vec<Link>,
    /// NTP time at the threads' epoch (time 0 of every `RelayCore`).
    ntp: NtpTime,
}

/// Hands out relay port pairs from the configured range, and owns the relay threads.
pub(crate) struct RelayPool {
    bind: IpAddr,
    announce: IpAddr,
    min: u16,
    max: u16,
    next: u16,
    used: Used,
    engine: Option<Engine>,
    next_thread: usize,
    next_id: u64,
}

/// The media relay of one call, as the SIP task holds it.
pub(crate) struct Relay {
    id: u64,
    anchor: Anchor,
    link: Link,
    shared: Arc<Shared>,
    /// RTP port facing A, facing B (RTCP: + 1).
    ports: [u16; 2],
    /// In local mode (see [`Relay::answer_locally`]).
    local: bool,
}

impl RelayPool {
    pub(crate) fn new(cfg: &RtpConfig, sip_ip: IpAddr) -> RelayPool {
        let announce = cfg
            .public_address
            .as_deref()
            .and_then(|a| a.parse().ok())
            .unwrap_or(if sip_ip.is_unspecified() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                sip_ip
            });
        let min = cfg.port_min.saturating_add(cfg.port_min % 2);
        RelayPool {
            bind: sip_ip,
            announce,
            min,
            max: cfg.port_max,
            next: min,
            used: process_used(),
            engine: None,
            next_thread: 0,
            next_id: 1,
        }
    }

    /// An even RTP port and the RTCP port above it, both bound.
    fn bind_pair(&mut self) -> Option<(UdpSocket, UdpSocket, u16)> {
        let span = u32::from(self.max.saturating_sub(self.min)) / 2 + 1;
        for _ in 0..span {
            let port = self.next;
            self.next = if port.saturating_add(3) > self.max {
                self.min
            } else {
                port + 2
            };
            if port.checked_add(1).is_none_or(|p| p > self.max) {
                continue;
            }
            if self.used.lock().map(|u| u.contains(&port)).unwrap_or(true) {
                continue;
            }
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(self.bind, port)) else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(self.bind, port + 1)) else {
                continue;
            };
            if rtp.set_nonblocking(true).is_err() || rtcp.set_nonblocking(true).is_err() {
                continue;
            }
            if let Ok(mut u) = self.used.lock() {
                u.insert(port);
            }
            return Some((rtp, rtcp, port));
        }
        None
    }

    fn release(&self, port: u16) {
        if let Ok(mut u) = self.used.lock() {
            u.remove(&port);
        }
    }

    fn engine(&mut self) -> Option<&Engine> {
        if self.engine.is_none() {
            let threads = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .clamp(1, MAX_THREADS);
            let epoch = Instant::now();
            let unix = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let mut links = Vec::with_capacity(threads);
            for i in 0..threads {
                match spawn_thread(i, epoch) {
                    Ok(l) => links.push(l),
                    Err(e) => {
                        tracing::error!(error = %e, "mediarelay: draad niet te starten");
                        break;
                    }
                }
            }
            if links.is_empty() {
                return None;
            }
            tracing::info!(draden = links.len(), "mediarelay gestart");
            self.engine = Some(Engine {
                links,
                ntp: NtpTime::from_unix(unix),
            });
        }
        self.engine.as_ref()
    }

    /// Two port pairs and a place on a relay thread; `None` when the range is exhausted.
    pub(crate) fn open(&mut self) -> Option<Relay> {
        let (a_rtp, a_rtcp, pa) = self.bind_pair()?;
        let Some((b_rtp, b_rtcp, pb)) = self.bind_pair() else {
            self.release(pa);
            return None;
        };
        let id = self.next_id;
        self.next_id += 1;
        let seed: u64 = rand::random();
        let thread = self.next_thread;
        self.next_thread = self.next_thread.wrapping_add(1);
        let announce = self.announce;
        let used = self.used.clone();
        let Some(engine) = self.engine() else {
            self.release(pa);
            self.release(pb);
            return None;
        };
        let link = engine.links[thread % engine.links.len()].clone();
        let shared: Arc<Shared> = Arc::default();
        let entry = Entry {
            id,
            socks: [a_rtp, a_rtcp, b_rtp, b_rtcp],
            ports: [pa, pb],
            used: used.clone(),
            core: RelayCore::new(seed, engine.ntp),
            shared: shared.clone(),
            local: None,
            meter: pbx_media::quality::QualityMeter::new(),
            codecs: Default::default(),
            watching: false,
            next_sample: Duration::ZERO,
        };
        if !link.send(Cmd::Add(Box::new(entry))) {
            // The thread is gone; the entry and its sockets went with the failed send.
            if let Ok(mut u) = used.lock() {
                u.remove(&pa);
                u.remove(&pb);
            }
            return None;
        }
        Some(Relay {
            id,
            anchor: Anchor::new(announce, [pa, pb], seed.rotate_left(17)),
            link,
            shared,
            ports: [pa, pb],
            local: false,
        })
    }
}

fn spawn_thread(i: usize, epoch: Instant) -> std::io::Result<Link> {
    let (ours, theirs) = UnixDatagram::pair()?;
    ours.set_nonblocking(true)?;
    theirs.set_nonblocking(true)?;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(std::io::Error::from)?;
    epoll
        .add(&theirs, EpollEvent::new(EpollFlags::EPOLLIN, WAKE))
        .map_err(std::io::Error::from)?;
    let (tx, rx) = mpsc::channel();
    let worker = Worker {
        epoll,
        rx,
        wake: theirs,
        calls: Vec::new(),
        free: Vec::new(),
        index: HashMap::new(),
        epoch,
        buf: vec![0u8; MAX_DATAGRAM],
        report: Vec::with_capacity(256),
        players: Vec::new(),
        next_play: None,
    };
    std::thread::Builder::new()
        .name(format!("pbx-relay-{i}"))
        .spawn(move || worker.run())?;
    Ok(Link {
        tx,
        wake: Arc::new(ours),
    })
}

/// One relay thread.
struct Worker {
    epoll: Epoll,
    rx: mpsc::Receiver<Cmd>,
    wake: UnixDatagram,
    /// Calls by slot; the epoll token of socket `k` of slot `s` is `s << 2 | k`.
    calls: Vec<Option<Box<Entry>>>,
    free: Vec<usize>,
    index: HashMap<u64, usize>,
    epoch: Instant,
    buf: Vec<u8>,
    report: Vec<u8>,
    /// Slots of calls with a player that may have something to do.
    players: Vec<usize>,
    /// When the earliest of them is due (time since `epoch`).
    next_play: Option<Duration>,
}

impl Worker {
    fn run(mut self) {
        let mut events = vec![EpollEvent::empty(); EVENTS];
        let mut next_tick = Instant::now() + TICK;
        loop {
            let mut wait = if self.index.is_empty() {
                Duration::from_secs(1)
            } else {
                next_tick.saturating_duration_since(Instant::now())
            };
            if let Some(due) = self.next_play {
                wait = wait.min(due.saturating_sub(self.epoch.elapsed()));
            }
            // Whole milliseconds, rounded up so that the tick is not spun for.
            let ms = u16::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
            let n = match self.epoll.wait(&mut events, ms) {
                Ok(n) => n,
                Err(Errno::EINTR) => 0,
                Err(e) => {
                    tracing::error!(error = %e, "mediarelay: epoll_wait mislukt");
                    std::thread::sleep(Duration::from_millis(10));
                    0
                }
            };
            // Commands first: a plan was queued before the phone could have had the SDP that
            // makes its first packets acceptable, so it must be in place before they are read.
            // (A slot freed here may still have an event in this batch: `ready` finds nothing,
            // or a new call's socket that is readable anyway.)
            let woken = events[..n].iter().any(|ev| ev.data() == WAKE);
            let now = Instant::now();
            if woken || now >= next_tick {
                if woken {
                    let mut b = [0u8; 64];
                    while self.wake.recv(&mut b).is_ok() {}
                }
                if !self.commands() {
                    tracing::debug!("mediarelay: draad stopt");
                    return;
                }
            }
            for ev in &events[..n] {
                let token = ev.data();
                if token != WAKE {
                    self.ready(token);
                }
            }
            if now >= next_tick {
                self.tick();
                next_tick = now + TICK;
            }
            if let Some(due) = self.next_play {
                let t = self.epoch.elapsed();
                if t >= due {
                    self.play(t);
                }
            }
        }
    }

    /// Packets and events of the players that are due at `now`.
    fn play(&mut self, now: Duration) {
        let mut next: Option<Duration> = None;
        let mut i = 0;
        while i < self.players.len() {
            let slot = self.players[i];
            let mut keep = false;
            if let Some(Some(e)) = self.calls.get_mut(slot) {
                let dest = e.core.destination(0);
                if let Some(local) = e.local.as_deref_mut() {
                    if let Some(p) = local.player.as_mut() {
                        while let Some(pkt) = p.poll_packet(now) {
                            let b = pkt.as_bytes();
                            if let Some(d) = dest {
                                let _ = e.socks[0].send_to(b, d);
                            }
                            let seq = u16::from_be_bytes([b[2], b[3]]);
                            let ts = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                            e.core.sent_own(0, seq, ts, b.len() - 12, now);
                        }
                        while let Some(ev) = p.poll_event() {
                            match ev {
                                PlayerEvent::Finished => e.shared.push(MediaEvent::PlayFinished),
                            }
                        }
                        if let Some(t) = p.poll_timeout() {
                            keep = true;
                            next = Some(next.map_or(t, |n| n.min(t)));
                        } else {
                            local.player = None;
                        }
                    }
                }
            }
            if keep {
                i += 1;
            } else {
                self.players.swap_remove(i);
            }
        }
        self.next_play = next;
    }

    /// A player was started for `slot`: it is due now.
    fn playing(&mut self, slot: usize) {
        if !self.players.contains(&slot) {
            self.players.push(slot);
        }
        self.next_play = Some(Duration::ZERO);
    }

    /// One readable socket: one datagram.
    #[inline]
    fn ready(&mut self, token: u64) {
        let slot = (token >> 2) as usize;
        let k = (token & 3) as usize;
        let Some(Some(e)) = self.calls.get_mut(slot) else {
            return;
        };
        let Ok((n, src)) = e.socks[k].recv_from(&mut self.buf) else {
            return;
        };
        let side = k >> 1;
        let now = self.epoch.elapsed();
        let buf = &mut self.buf[..n];
        match e.core.handle(side, k & 1 == 1, src, buf, now) {
            Verdict::Rtp(dest) => {
                raise(&e.shared.rtp[side]);
                if let Some(local) = e.local.as_deref_mut() {
                    if side == 0 {
                        local.rtp_from_a(buf, &e.shared);
                    }
                    return;
                }
                if let Some(d) = dest {
                    let _ = e.socks[(side ^ 1) << 1].send_to(buf, d);
                }
            }
            Verdict::RtcpConsumed => raise(&e.shared.rtcp[side]),
            Verdict::RtcpForward(dest) => {
                raise(&e.shared.rtcp[side]);
                if e.local.is_some() {
                    return;
                }
                if let Some(d) = dest {
                    let _ = e.socks[((side ^ 1) << 1) | 1].send_to(buf, d);
                }
            }
            Verdict::Drop => {}
        }
    }

    /// RTCP reports that are due.
    fn tick(&mut self) {
        let now = self.epoch.elapsed();
        for e in self.calls.iter_mut().flatten() {
            if now >= e.next_sample {
                e.next_sample = now + QUALITY_EVERY;
                e.sample_quality();
            }
            if e.core.next_report().is_none_or(|t| t > now) {
                continue;
            }
            while let Some((side, dest)) = e.core.poll_report(now, &mut self.report) {
                let _ = e.socks[(side << 1) | 1].send_to(&self.report, dest);
            }
        }
    }

    /// Applies queued commands; false when the SIP side is gone and no call is left.
    fn commands(&mut self) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(cmd) => self.command(cmd),
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return !self.index.is_empty(),
            }
        }
    }

    fn command(&mut self, cmd: Cmd) {
        let now = self.epoch.elapsed();
        match cmd {
            Cmd::Add(e) => self.add(e),
            Cmd::Plan(id, plan) => {
                if let Some(e) = self.entry(id) {
                    e.core.set_plan(&plan, now);
                    for (i, leg) in plan.legs.iter().enumerate() {
                        if let Some(c) = &leg.codec {
                            e.codecs[i] = c.name.clone();
                        }
                    }
                }
            }
            Cmd::Watch(id, on) => {
                if let Some(e) = self.entry(id) {
                    e.watching = on;
                }
            }
            Cmd::AllowIp(id, side, ip) => {
                if let Some(e) = self.entry(id) {
                    e.core.allow_source_ip(side, ip);
                }
            }
            Cmd::Stats(id, reply) => {
                if let Some(e) = self.entry(id) {
                    let _ = reply.try_send([e.core.snapshot(0), e.core.snapshot(1)]);
                }
            }
            Cmd::Local(id, codec) => {
                if let Some(e) = self.entry(id) {
                    e.local = Some(Box::new(Local {
                        pt: codec.pt,
                        law: codec.law,
                        event_pt: codec.event_pt,
                        dtmf: DtmfReceiver::new(),
                        player: None,
                    }));
                }
            }
            Cmd::Relay(id) => {
                if let Some(e) = self.entry(id) {
                    e.local = None;
                }
            }
            Cmd::Play(id, prompts, looping) => {
                let now = self.epoch.elapsed();
                let Some(&slot) = self.index.get(&id) else {
                    return;
                };
                let Some(Some(e)) = self.calls.get_mut(slot) else {
                    return;
                };
                let Some(local) = e.local.as_deref_mut() else {
                    tracing::debug!("mediarelay: afspelen buiten lokale modus genegeerd");
                    return;
                };
                let (ssrc, sequence, timestamp) = e.core.own_stream(0, now, 8000);
                let params = StreamParams {
                    payload_type: local.pt,
                    law: local.law,
                    ssrc,
                    sequence,
                    timestamp,
                };
                let items = prompts.into_iter().map(Item::Prompt).collect();
                let mut player = Player::new(params, items, looping);
                player.start(now);
                local.player = Some(player);
                self.playing(slot);
            }
            Cmd::StopPlaying(id) => {
                if let Some(e) = self.entry(id) {
                    if let Some(local) = e.local.as_deref_mut() {
                        local.player = None;
                    }
                }
            }
            Cmd::Remove(id) => {
                if let Some(slot) = self.index.remove(&id) {
                    if let Some(e) = self.calls.get_mut(slot).and_then(Option::take) {
                        for s in &e.socks {
                            let _ = self.epoll.delete(s);
                        }
                        e.close();
                    }
                    self.free.push(slot);
                }
            }
        }
    }

    fn entry(&mut self, id: u64) -> Option<&mut Entry> {
        let slot = *self.index.get(&id)?;
        self.calls.get_mut(slot)?.as_deref_mut()
    }

    fn add(&mut self, e: Box<Entry>) {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.calls.push(None);
            self.calls.len() - 1
        });
        let mut ok = true;
        for (k, s) in e.socks.iter().enumerate() {
            let token = ((slot as u64) << 2) | k as u64;
            if let Err(err) = self
                .epoll
                .add(s, EpollEvent::new(EpollFlags::EPOLLIN, token))
            {
                tracing::error!(error = %err, "mediarelay: socket niet te bewaken");
                ok = false;
            }
        }
        if !ok {
            for s in &e.socks {
                let _ = self.epoll.delete(s);
            }
            e.close();
            self.free.push(slot);
            return;
        }
        self.index.insert(e.id, slot);
        self.calls[slot] = Some(e);
    }
}

/// Hundredths, for the exact integer fields of the CDR.
pub(crate) fn centi(v: f64) -> u32 {
    if v.is_finite() && v > 0.0 {
        (v * 100.0).round().min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

fn leg_quality(leg: &str, codec: &str, s: &LegSnapshot, mos: Option<f64>) -> LegQuality {
    let q = &s.receive;
    LegQuality {
        leg: leg.to_string(),
        codec: codec.to_string(),
        packets: q.packets,
        lost: q.lost,
        loss_centi_pct: centi(q.loss_percent),
        jitter_centi_ms: centi(q.jitter_ms),
        rtt_ms: whole_ms(q.rtt_ms),
        mos_centi: mos.map(centi),
    }
}

/// A round-trip time as whole milliseconds, when it is one.
pub(crate) fn whole_ms(rtt: Option<f64>) -> Option<u32> {
    rtt.filter(|r| r.is_finite() && *r >= 0.0)
        .map(|r| r.round().min(f64::from(u32::MAX)) as u32)
}

/// The CDR's quality summary of a call.
pub(crate) fn call_quality(v: &QualityView) -> pbx_model::CallQuality {
    let s = &v.summary;
    pbx_model::CallQuality {
        avg_mos_centi: s.avg_mos.map(centi),
        worst_mos_centi: s.worst_mos.map(centi),
        max_jitter_centi_ms: centi(s.max_jitter_ms),
        loss_centi_pct: centi(s.loss_percent),
        one_way: s.one_way,
        dead_air: s.dead_air,
    }
}

impl Relay {
    /// An offer or answer that side `from` (0 = A, 1 = B) sent, rewritten for the other side
    /// (which then sends to the relay port facing it). Used for the first offer and answer and for
    /// every re-INVITE or UPDATE afterwards, whichever side sends it: whether it is an offer or an
    /// answer follows from the offer/answer state (see `pbx_media::anchor`); [`Relay::offer_from`]
    /// and [`Relay::answer_from`] say it explicitly.
    #[allow(dead_code)] // the tests and examples/relay_cost.rs
    pub(crate) fn sdp_from(&mut self, from: usize, sdp: &str) -> String {
        let (out, _) = self.anchor.handle(from.min(1), sdp);
        if from >= 1 {
            self.after_answer_from_b();
        }
        self.after_sdp(sdp, &out);
        out
    }

    /// pbxd answers A's offer itself (announcements, the keuzemenu): PCMU or PCMA (the first of
    /// the two in A's order) and telephone-event/8000 when A offers it, ptime 20, the relay's
    /// A-facing port, our o= line. The relay goes into local mode: nothing is forwarded to B,
    /// A's RTP is still learned and checked as usual (RTP-bleed, [`Relay::allow_source_ip`]),
    /// and RFC 4733 events from A become [`MediaEvent::Digit`]s. None (nothing changed) when A
    /// offers neither G.711 law, or only SRTP.
    pub(crate) fn answer_locally(&mut self, offer: &str) -> Option<String> {
        let la = self.anchor.answer_locally(0, offer)?;
        let law = la.codec.g711()?;
        self.link.send(Cmd::Local(
            self.id,
            LocalCodec {
                pt: la.payload_type,
                law,
                event_pt: la.telephone_event,
            },
        ));
        self.local = true;
        self.push_plan();
        Some(la.sdp)
    }

    /// Plays the prompts (8 kHz mono, one after the other) to A in local mode, a packet every
    /// 20 ms in the codec [`Relay::answer_locally`] chose; replaces what was playing. `looping`
    /// starts again at the end until [`Relay::stop_playing`] or another `play`; otherwise
    /// [`MediaEvent::PlayFinished`] follows the end.
    pub(crate) fn play(&self, prompts: Vec<Arc<[i16]>>, looping: bool) {
        self.link.send(Cmd::Play(self.id, prompts, looping));
    }

    /// Stops playing (no [`MediaEvent::PlayFinished`]).
    pub(crate) fn stop_playing(&self) {
        self.link.send(Cmd::StopPlaying(self.id));
    }

    /// Media events since the last call: digits in order, [`MediaEvent::PlayFinished`]. Never
    /// blocks on the relay thread (which holds the queue's lock only to push an event).
    pub(crate) fn take_events(&self) -> Vec<MediaEvent> {
        if !self.shared.has_events.swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        match self.shared.events.lock() {
            Ok(mut q) => q.drain(..).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// After [`Relay::answer_locally`]: the offer for B (B-facing port) with the codec A was
    /// answered with (the other G.711 law after it, transcoded by the relay) and telephone-event
    /// when A has it. B's answer through [`Relay::answer_from_b`] ends local mode: playing stops
    /// and A↔B is relayed with A's codec and port unchanged; the SDP `answer_from_b` returns then
    /// is not for A (A keeps our local answer). None when not in local mode.
    pub(crate) fn connect_b(&mut self) -> Option<String> {
        if !self.local {
            return None;
        }
        let out = self.anchor.local_offer()?;
        self.push_plan();
        Some(out)
    }

    /// Whether the relay is in local mode.
    #[cfg(test)]
    pub(crate) fn is_local(&self) -> bool {
        self.local
    }

    /// Ends local mode once B answered the offer from [`Relay::connect_b`]; before the plan.
    fn after_answer_from_b(&mut self) {
        if self.local && !self.anchor.is_local() {
            self.local = false;
            self.link.send(Cmd::Relay(self.id));
        }
    }

    /// An offer from side `from`, rewritten for the other side.
    pub(crate) fn offer_from(&mut self, from: usize, sdp: &str) -> String {
        let out = self.anchor.offer(from.min(1), sdp);
        self.after_sdp(sdp, &out);
        out
    }

    /// An answer from side `from` to the other side's latest offer (also a repeated answer:
    /// 183 then 200, or another fork's), rewritten for the other side.
    pub(crate) fn answer_from(&mut self, from: usize, sdp: &str) -> String {
        let out = self.anchor.answer(from.min(1), sdp);
        if from >= 1 {
            self.after_answer_from_b();
        }
        self.after_sdp(sdp, &out);
        out
    }

    /// A's offer, rewritten for B (B sends to the socket facing B).
    pub(crate) fn offer_from_a(&mut self, sdp: &str) -> String {
        self.offer_from(0, sdp)
    }

    /// B's answer (18x or 2xx, from any fork), rewritten for A (A sends to the socket facing A).
    pub(crate) fn answer_from_b(&mut self, sdp: &str) -> String {
        self.answer_from(1, sdp)
    }

    /// The last offer passed through here was rejected (e.g. 488 to a re-INVITE or UPDATE): the
    /// media stays as it was before it.
    pub(crate) fn offer_rejected(&mut self) {
        self.anchor.offer_rejected();
        self.push_plan();
    }

    fn after_sdp(&self, sdp: &str, out: &str) {
        // Every SDP that parses gets our o= line, so an unchanged one did not parse.
        if sdp == out {
            tracing::warn!(
                "SDP niet te ontleden; ongewijzigd doorgegeven, media niet via de relay"
            );
        }
        self.push_plan();
    }

    fn push_plan(&self) {
        self.link
            .send(Cmd::Plan(self.id, Box::new(self.anchor.plan())));
    }

    /// Also learn side `side`'s media from `ip`: where its SIP came from. A phone behind NAT
    /// signals its private address in SDP and sends from the public one.
    pub(crate) fn allow_source_ip(&self, side: usize, ip: IpAddr) {
        self.link.send(Cmd::AllowIp(self.id, side.min(1), ip));
    }

    /// Whether two-way audio is expected now (answered, not on hold): then one-way audio and
    /// dead air are looked for.
    pub(crate) fn set_watch(&self, on: bool) {
        self.link.send(Cmd::Watch(self.id, on));
    }

    /// The call's quality as the relay thread last sampled it (at most a second old).
    pub(crate) fn quality_view(&self) -> QualityView {
        self.shared
            .quality
            .lock()
            .map(|q| q.clone())
            .unwrap_or_default()
    }

    /// Whether RTP flowed (either way) since the last call.
    pub(crate) fn take_activity(&self) -> bool {
        let a = self.shared.rtp[0].swap(false, Ordering::Relaxed);
        let b = self.shared.rtp[1].swap(false, Ordering::Relaxed);
        a || b
    }

    /// RTP and RTCP received per side since the last call (takes the same flags as
    /// [`Relay::take_activity`]: use one of the two).
    #[cfg(test)]
    pub(crate) fn take_activity_detail(&self) -> Activity {
        let take = |f: &AtomicBool| f.swap(false, Ordering::Relaxed);
        Activity {
            rtp: [take(&self.shared.rtp[0]), take(&self.shared.rtp[1])],
            rtcp: [take(&self.shared.rtcp[0]), take(&self.shared.rtcp[1])],
        }
    }

    /// The codec negotiated on each leg (A, B), e.g. PCMU and PCMA when the relay transcodes.
    pub(crate) fn codecs(&self) -> [Option<String>; 2] {
        [0, 1].map(|i| self.anchor.codec(i).map(|c| c.name.clone()))
    }

    /// The relay ports facing A and B (RTP; RTCP is + 1).
    #[allow(dead_code)] // the tests
    pub(crate) fn ports(&self) -> [u16; 2] {
        self.ports
    }

    /// Live counters of both legs, from the relay thread (None if it does not answer in time).
    pub(crate) fn stats(&self) -> Option<[LegSnapshot; 2]> {
        let (tx, rx) = mpsc::sync_channel(1);
        if !self.link.send(Cmd::Stats(self.id, tx)) {
            return None;
        }
        rx.recv_timeout(STATS_TIMEOUT).ok()
    }

    /// Receive quality of both legs (what each phone sent us, and the RTT to it), for the CDR and
    /// live views. Each leg carries its own negotiated codec; `codec` stands in where none was
    /// negotiated.
    pub(crate) fn quality(&self, codec: &str) -> Vec<LegQuality> {
        let snaps = self.stats().unwrap_or_default();
        let view = self.quality_view();
        ["a", "b"]
            .iter()
            .enumerate()
            .map(|(i, leg)| {
                let c = self
                    .anchor
                    .codec(i)
                    .map(|c| c.name.clone())
                    .unwrap_or_else(|| codec.to_string());
                leg_quality(leg, &c, &snaps[i], view.avg_mos[i])
            })
            .collect()
    }

    /// Stops relaying; the relay thread closes the sockets and frees the ports.
    pub(crate) fn close(self) {
        drop(self);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.link.send(Cmd::Remove(self.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbx_media::rtcp::{self, ReportBlock, RtcpPacket};
    use pbx_media::rtp::{RtpHeader, RtpPacket};

    fn pool(min: u16, max: u16) -> RelayPool {
        let mut cfg = pbx_config::DaemonConfig::default().rtp;
        cfg.port_min = min;
        cfg.port_max = max;
        RelayPool::new(&cfg, IpAddr::from([127, 0, 0, 1]))
    }

    /// A free even port range of `pairs` pairs on loopback, outside the default RTP range.
    fn free_range(pairs: u16) -> (u16, u16) {
        for _ in 0..200 {
            let base = 40_000 + (rand::random::<u16>() % 10_000) * 2;
            let top = base + pairs * 2 - 1;
            if (base..=top).all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok()) {
                return (base, top);
            }
        }
        unreachable!("no free port range on loopback")
    }

    fn socket() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|_| unreachable!());
        s.set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap_or_else(|_| unreachable!());
        s
    }

    fn port(s: &UdpSocket) -> u16 {
        s.local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|_| unreachable!())
    }

    fn sdp(port: u16, rtcp: u16, formats: &str) -> String {
        format!("v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP {formats}\r\na=rtcp:{rtcp}\r\n")
    }

    fn rtp(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 12 + payload.len()];
        RtpHeader {
            payload_type: pt,
            sequence: seq,
            timestamp: u32::from(seq) * 160,
            ssrc: 0x1000 + u32::from(pt),
            ..Default::default()
        }
        .write(payload, 0, &mut buf)
        .unwrap_or_else(|_| unreachable!());
        buf
    }

    fn m_port(sdp: &str) -> u16 {
        sdp.lines()
            .find_map(|l| l.strip_prefix("m=audio "))
            .and_then(|l| l.split(' ').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| unreachable!("no m= line in {sdp}"))
    }

    fn sdp_at(ip: &str, port: u16, formats: &str, extra: &str) -> String {
        format!("v=0\r\no=p 7 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {formats}\r\n{extra}")
    }

    const TE: &str = "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";

    /// An RFC 4733 packet from A.
    fn event(seq: u16, ts: u32, marker: bool, ev: u8, end: bool, duration: u16) -> Vec<u8> {
        let d = duration.to_be_bytes();
        let payload = [ev, if end { 0x8a } else { 0x0a }, d[0], d[1]];
        let mut buf = vec![0u8; 16];
        RtpHeader {
            marker,
            payload_type: 101,
            sequence: seq,
            timestamp: ts,
            ssrc: 0xa11ce,
            ..Default::default()
        }
        .write(&payload, 0, &mut buf)
        .unwrap_or_else(|_| unreachable!());
        buf
    }

    /// Events until `want` says enough, or 3 s.
    fn events_until(r: &Relay, want: impl Fn(&[MediaEvent]) -> bool) -> Vec<MediaEvent> {
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut got = Vec::new();
        while !want(&got) && Instant::now() < deadline {
            got.extend(r.take_events());
            std::thread::sleep(Duration::from_millis(5));
        }
        got
    }

    /// Whatever is queued on `s` within `ms`.
    fn drain(s: &UdpSocket, ms: u64) {
        let mut buf = [0u8; 2048];
        let _ = s.set_read_timeout(Some(Duration::from_millis(ms)));
        while s.recv_from(&mut buf).is_ok() {}
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    }

    fn tone(len: usize) -> Arc<[i16]> {
        (0..len)
            .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
            .collect::<Vec<_>>()
            .into()
    }

    /// pbxd answers A itself (PCMA: A's first G.711 law) and plays a 300 ms prompt: packets
    /// every 20 ms, consecutive, in A-law, then PlayFinished.
    #[test]
    fn answers_locally_and_plays_a_prompt_paced() {
        let (min, max) = free_range(2);
        let mut p = pool(min, max);
        let mut r = p.open().unwrap_or_else(|| unreachable!());
        assert!(r.connect_b().is_none(), "not in local mode");
        let a = socket();
        let offer = sdp_at(
            "127.0.0.1",
            port(&a),
            "9 8 0 101",
            &format!("a=rtpmap:9 G722/8000\r\n{TE}a=ptime:30\r\n"),
        );
        let answer = r.answer_locally(&offer).unwrap_or_else(|| unreachable!());
        let relay_a = r.ports()[0];
        assert_eq!(m_port(&answer), relay_a);
        assert!(answer.contains(" RTP/AVP 8 101\r\n"), "{answer}");
        assert!(
            answer.contains("a=rtpmap:101 telephone-event/8000\r\n"),
            "{answer}"
        );
        assert!(answer.contains("a=ptime:20\r\n"), "{answer}");
        assert!(answer.contains("a=sendrecv\r\n"), "{answer}");
        assert!(
            answer.contains(&format!("a=rtcp:{}\r\n", relay_a + 1)),
            "{answer}"
        );
        assert!(answer.contains("c=IN IP4 127.0.0.1\r\n"), "{answer}");
        assert!(answer.starts_with("v=0\r\no=- "), "{answer}");
        assert_eq!(r.codecs()[0].as_deref(), Some("PCMA"));
        assert!(r.is_local());

        let prompt = tone(2400);
        let started = Instant::now();
        r.play(vec![prompt.clone()], false);
        let mut buf = [0u8; 2048];
        let mut arrivals = Vec::new();
        let mut seqs = Vec::new();
        let mut ssrc = None;
        for i in 0..15usize {
            let (n, from) = a
                .recv_from(&mut buf)
                .unwrap_or_else(|_| unreachable!("packet {i}"));
            arrivals.push(Instant::now());
            assert_eq!(from, SocketAddr::from(([127, 0, 0, 1], relay_a)));
            let pkt = RtpPacket::parse(&buf[..n]).unwrap_or_else(|_| unreachable!());
            assert_eq!(pkt.payload_type(), 8);
            assert_eq!(pkt.payload().len(), 160);
            assert_eq!(pkt.marker(), i == 0);
            assert!(ssrc.is_none_or(|s| s == pkt.ssrc()));
            ssrc = Some(pkt.ssrc());
            let want: Vec<u8> = prompt[i * 160..(i + 1) * 160]
                .iter()
                .map(|&s| pbx_media::g711::linear_to_alaw(s))
                .collect();
            assert_eq!(pkt.payload(), &want[..], "packet {i}");
            seqs.push(pkt.sequence());
        }
        for w in seqs.windows(2) {
            assert_eq!(w[1], w[0].wrapping_add(1), "{seqs:?}");
        }
        // 14 intervals of 20 ms; generous bounds for a busy test machine.
        let span = arrivals[14].duration_since(arrivals[0]);
        assert!(
            span >= Duration::from_millis(230) && span <= Duration::from_millis(600),
            "{span:?}"
        );
        let evs = events_until(&r, |e| !e.is_empty());
        let took = started.elapsed();
        assert_eq!(evs, [MediaEvent::PlayFinished]);
        assert!(
            took >= Duration::from_millis(280) && took <= Duration::from_millis(1500),
            "{took:?}"
        );
        // Nothing more was sent after the prompt.
        a.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap_or_else(|_| unreachable!());
        assert!(a.recv_from(&mut buf).is_err());
        assert!(r.take_events().is_empty());
        r.close();
    }

    /// A behind NAT (private address in SDP, media from where its SIP came from): its RFC 4733
    /// events are learned and give one digit per key press, and the prompt goes to the learned
    /// address. Stopping and replacing a loop.
    #[test]
    fn digits_from_a_once_per_key_and_prompts_to_the_learned_address() {
        let (min, max) = free_range(2);
        let mut p = pool(min, max);
        let mut r = p.open().unwrap_or_else(|| unreachable!());
        let a = socket();
        let offer = sdp_at("10.255.0.7", 4000, "0 8 101", TE);
        let answer = r.answer_locally(&offer).unwrap_or_else(|| unreachable!());
        assert!(answer.contains(" RTP/AVP 0 101\r\n"), "{answer}");
        r.allow_source_ip(0, IpAddr::from([127, 0, 0, 1]));
        let relay_a = SocketAddr::from(([127, 0, 0, 1], r.ports()[0]));
        let mut seq = 1u16;
        let send = |pkt: Vec<u8>| {
            a.send_to(&pkt, relay_a).unwrap_or_else(|_| unreachable!());
            std::thread::sleep(Duration::from_millis(2));
        };
        // Audio first, then '5', '5' again (a new press) and '#', each: start (marker), two
        // updates, three end packets.
        send(rtp(0, 0, &[0xff; 160]));
        for (k, ev) in [5u8, 5, 11].into_iter().enumerate() {
            let ts = 8000 + 4000 * k as u32;
            for (i, (end, dur)) in [
                (false, 160),
                (false, 320),
                (false, 480),
                (true, 640),
                (true, 640),
                (true, 640),
            ]
            .into_iter()
            .enumerate()
            {
                send(event(seq, ts, i == 0, ev, end, dur));
                seq += 1;
            }
        }
        // A late copy of the first press's end packet changes nothing.
        send(event(2, 8000, false, 5, true, 640));
        let evs = events_until(&r, |e| e.len() >= 3);
        assert_eq!(
            evs,
            [
                MediaEvent::Digit('5'),
                MediaEvent::Digit('5'),
                MediaEvent::Digit('#')
            ]
        );
        std::thread::sleep(Duration::from_millis(50));
        assert!(r.take_events().is_empty());

        // Played to where A's media came from, not to the address in its SDP.
        r.play(vec![tone(800), tone(800)], true);
        let mut buf = [0u8; 2048];
        let mut last = None;
        for _ in 0..12 {
            let (n, _) = a.recv_from(&mut buf).unwrap_or_else(|_| unreachable!());
            let pkt = RtpPacket::parse(&buf[..n]).unwrap_or_else(|_| unreachable!());
            assert_eq!(pkt.payload_type(), 0);
            last = Some(pkt.sequence());
        }
        // Looping: well past the 200 ms of the playlist, no PlayFinished.
        std::thread::sleep(Duration::from_millis(150));
        assert!(r.take_events().is_empty());
        // A new playlist replaces the loop and continues the stream.
        r.play(vec![tone(160)], false);
        let evs = events_until(&r, |e| !e.is_empty());
        assert_eq!(evs, [MediaEvent::PlayFinished]);
        // The rest of the loop, then the new prompt (its first packet marked): one stream.
        let mut seqs = Vec::new();
        let mut markers = Vec::new();
        let _ = a.set_read_timeout(Some(Duration::from_millis(100)));
        while let Ok((n, _)) = a.recv_from(&mut buf) {
            let pkt = RtpPacket::parse(&buf[..n]).unwrap_or_else(|_| unreachable!());
            seqs.push(pkt.sequence());
            markers.push(pkt.marker());
        }
        let first = last.unwrap_or_default().wrapping_add(1);
        let want: Vec<u16> = (0..seqs.len() as u16)
            .map(|i| first.wrapping_add(i))
            .collect();
        assert_eq!(seqs, want);
        assert_eq!(markers.iter().filter(|m| **m).count(), 1, "{markers:?}");
        assert_eq!(markers.last(), Some(&true), "{markers:?}");
        r.play(vec![tone(8000)], true);
        std::thread::sleep(Duration::from_millis(60));
        r.stop_playing();
        drain(&a, 100);
        let _ = a.set_read_timeout(Some(Duration::from_millis(200)));
        assert!(a.recv_from(&mut buf).is_err(), "still playing after stop");
        assert!(r.take_events().is_empty());
        r.close();
    }

    /// After a prompt, B is called: the offer for B has A's codec and the other law, B answers
    /// PCMA, and the relay transcodes both ways with A keeping PCMU, its port and the stream
    /// the player started.
    #[test]
    fn connect_b_after_local_mode_relays_both_ways() {
        let (min, max) = free_range(2);
        let mut p = pool(min, max);
        let mut r = p.open().unwrap_or_else(|| unreachable!());
        let (a, b) = (socket(), socket());
        let answer = r
            .answer_locally(&sdp_at("127.0.0.1", port(&a), "0 101", TE))
            .unwrap_or_else(|| unreachable!());
        let relay_a = SocketAddr::from(([127, 0, 0, 1], m_port(&answer)));
        r.play(vec![tone(1600)], true);
        let mut buf = [0u8; 2048];
        let (n, _) = a.recv_from(&mut buf).unwrap_or_else(|_| unreachable!());
        let player_ssrc = RtpPacket::parse(&buf[..n])
            .map(|p| p.ssrc())
            .unwrap_or_else(|_| unreachable!());

        let to_b = r.connect_b().unwrap_or_else(|| unreachable!());
        let relay_b = SocketAddr::from(([127, 0, 0, 1], m_port(&to_b)));
        assert_eq!(relay_b.port(), r.ports()[1]);
        assert!(to_b.contains(" RTP/AVP 0 8 101\r\n"), "{to_b}");
        assert!(to_b.contains("telephone-event/8000"), "{to_b}");
        // Still local until B answers: A's media goes nowhere, the prompt still plays.
        a.send_to(&rtp(0, 1, &[0x11; 160]), relay_a)
            .unwrap_or_else(|_| unreachable!());
        // Time for the relay thread to take that packet while still local (else it would be
        // relayed to B after the answer below, which is right, but not what is tested here).
        std::thread::sleep(Duration::from_millis(200));
        let _ = r.answer_from_b(&sdp_at("127.0.0.1", port(&b), "8 101", TE));
        assert!(!r.is_local());
        assert_eq!(r.codecs()[0].as_deref(), Some("PCMU"));
        assert_eq!(r.codecs()[1].as_deref(), Some("PCMA"));
        // Whatever the player sent before it stopped.
        drain(&a, 100);
        let mut last_seq = None;
        let payload: Vec<u8> = (0..160u16).map(|i| (i * 5) as u8).collect();
        for seq in 10..20u16 {
            a.send_to(&rtp(0, seq, &payload), relay_a)
                .unwrap_or_else(|_| unreachable!());
            let (n, from) = b.recv_from(&mut buf).unwrap_or_else(|_| unreachable!());
            assert_eq!(from, relay_b);
            let pkt = RtpPacket::parse(&buf[..n]).unwrap_or_else(|_| unreachable!());
            assert_eq!((pkt.payload_type(), pkt.sequence()), (8, seq));
            assert_eq!(
                pkt.payload()[7],
                pbx_media::g711::ULAW_TO_ALAW[usize::from(payload[7])]
            );

            b.send_to(&rtp(8, seq, &payload), relay_b)
                .unwrap_or_else(|_| unreachable!());
            let (n, from) = a.recv_from(&mut buf).unwrap_or_else(|_| unreachable!());
            assert_eq!(from, relay_a);
            let pkt = RtpPacket::parse(&buf[..n]).unwrap_or_else(|_| unreachable!());
            assert_eq!(pkt.payload_type(), 0);
            assert_eq!(
                pkt.payload()[7],
                pbx_media::g711::ALAW_TO_ULAW[usize::from(payload[7])]
            );
            // One stream towards A: the player's SSRC, marker on the switch, consecutive.
            assert_eq!(pkt.ssrc(), player_ssrc);
            assert_eq!(pkt.marker(), last_seq.is_none());
            if let Some(l) = last_seq {
                assert_eq!(pkt.sequence(), u16::wrapping_add(l, 1));
            }
            last_seq = Some(pkt.sequence());
        }
        // No more prompt and no events after the switch.
        a.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap_or_else(|_| unreachable!());
        assert!(a.recv_from(&mut buf).is_err());
        assert!(r.take_events().is_empty());
        assert!(r.connect_b().is_none());
        r.close();
    }

    #[test]
    fn no_local_answer_without_g711_or_with_srtp() {
        let (min, max) = free_range(2);
        let mut p = pool(min, max);
        let mut r = p.open().unwrap_or_else(|| unreachable!());
        assert!(r
            .answer_locally(&sdp_at("127.0.0.1", 4000, "9 101", TE))
            .is_none());
        let srtp = sdp_at("127.0.0.1", 4000, "0", "").replace("RTP/AVP", "RTP/SAVP");
        assert!(r.answer_locally(&srtp).is_none());
        assert!(r.answer_locally("garbage").is_none());
        assert!(!r.is_local());
        r.close();
    }

    #[test]
    fn port_pairs_are_even_and_odd_and_freed_after_close() {
        let (min, max) = free_range(2);
        let mut p = pool(min, max);
        let r = p.open().unwrap_or_else(|| unreachable!());
        let ports = r.ports();
        assert_eq!(ports, [min, min + 2]);
        // All four ports are taken: RTP and RTCP of both pairs.
        for q in [min, min + 1, min + 2, min + 3] {
            assert!(
                UdpSocket::bind(("127.0.0.1", q)).is_err(),
                "{q} is not bound"
            );
        }
        // The range holds two pairs: a second call does not fit.
        assert!(p.open().is_none());
        r.close();
        let deadline = Instant::now() + Duration::from_secs(3);
        while p.used.lock().map(|u| !u.is_empty()).unwrap_or(true) {
            assert!(Instant::now() < deadline, "ports not freed");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(p.open().is_some());
    }

    /// A offers PCMU only, B takes PCMA only: the relay threads transcode both ways, send their
    /// own RTCP, and an answer to it gives the RTT.
    #[test]
    fn transcodes_through_the_threads_and_measures_rtt() {
        let (min, max) = free_range(2);
        let mut p = pool(min, max);
        let mut r = p.open().unwrap_or_else(|| unreachable!());
        let (a, a_rtcp, b, b_rtcp) = (socket(), socket(), socket(), socket());
        let to_b = r.sdp_from(0, &sdp(port(&a), port(&a_rtcp), "0"));
        assert!(to_b.contains(" RTP/AVP 0 8\r\n"), "{to_b}");
        let to_a = r.sdp_from(1, &sdp(port(&b), port(&b_rtcp), "8"));
        assert!(to_a.contains(" RTP/AVP 0\r\n"), "{to_a}");
        let relay_a = SocketAddr::from(([127, 0, 0, 1], m_port(&to_a)));
        let relay_b = SocketAddr::from(([127, 0, 0, 1], m_port(&to_b)));
        assert_eq!(relay_a.port() % 2, 0);
        assert!(
            to_a.contains(&format!("a=rtcp:{}\r\n", relay_a.port() + 1)),
            "{to_a}"
        );

        let payload: Vec<u8> = (0..160u16).map(|i| (i * 3) as u8).collect();
        let mut buf = [0u8; 2048];
        for seq in 0..20u16 {
            a.send_to(&rtp(0, seq, &payload), relay_a)
                .unwrap_or_else(|_| unreachable!());
            let (n, from) = b.recv_from(&mut buf).unwrap_or_else(|_| unreachable!());
            assert_eq!(from, relay_b);
            let pkt = RtpPacket::parse(&buf[..n]).unwrap_or_else(|_| unreachable!());
            assert_eq!((pkt.payload_type(), pkt.sequence()), (8, seq));
            assert_eq!(
                pkt.payload()[5],
                pbx_media::g711::ULAW_TO_ALAW[usize::from(payload[5])]
            );

            b.send_to(&rtp(8, seq, &payload), relay_b)
                .unwrap_or_else(|_| unreachable!());
            let (n, from) = a.recv_from(&mut buf).unwrap_or_else(|_| unreachable!());
            assert_eq!(from, relay_a);
            let pkt = RtpPacket::parse(&buf[..n]).unwrap_or_else(|_| unreachable!());
            assert_eq!(pkt.payload_type(), 0);
            assert_eq!(
                pkt.payload()[9],
                pbx_media::g711::ALAW_TO_ULAW[usize::from(payload[9])]
            );
        }
        assert!(r.take_activity());
        assert!(!r.take_activity());

        // Our first report to A arrives 0.5–1.5 s after media started, from RTP port + 1.
        let (n, from) = a_rtcp
            .recv_from(&mut buf)
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(from.port(), relay_a.port() + 1);
        let mut packets = rtcp::parse_compound(&buf[..n]);
        let Some(Ok(RtcpPacket::SenderReport(sr))) = packets.next() else {
            unreachable!("no SR: {:?}", &buf[..n])
        };
        assert!(matches!(packets.next(), Some(Ok(RtcpPacket::Sdes(_)))));
        // A answers after holding it 100 ms and says so: the RTT is what remains.
        std::thread::sleep(Duration::from_millis(100));
        let block = ReportBlock {
            ssrc: sr.ssrc,
            lsr: NtpTime(sr.info.ntp).compact(),
            dlsr: 65536 / 10,
            ..ReportBlock::default()
        };
        let mut rr = Vec::new();
        rtcp::write_rr(&mut rr, 0x1000, &[block]).unwrap_or_else(|_| unreachable!());
        a_rtcp.send_to(&rr, from).unwrap_or_else(|_| unreachable!());
        let deadline = Instant::now() + Duration::from_secs(3);
        let q = loop {
            let q = r.quality("PCMU");
            if q[0].rtt_ms.is_some() || Instant::now() > deadline {
                break q;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!((q[0].leg.as_str(), q[0].codec.as_str()), ("a", "PCMU"));
        assert_eq!((q[1].leg.as_str(), q[1].codec.as_str()), ("b", "PCMA"));
        assert_eq!((q[0].packets, q[1].packets), (20, 20));
        assert!(q[0].rtt_ms.is_some_and(|ms| ms < 50), "{q:?}");
        let detail = r.take_activity_detail();
        assert!(detail.rtcp[0] && !detail.rtcp[1], "{detail:?}");
        r.close();
    }
}

//! The streaming phase: G.711 RTP (160-byte payload every 20 ms) on every leg of every call, in
//! both directions, with the send time in the payload.
//!
//! Two threads: this one sends, paced by a 20 ms tick split into slots (each stream belongs to
//! one slot, so a tick's packets are spread over the tick instead of leaving in one burst); a
//! receiver thread waits on every socket with epoll (mio, edge-triggered) and drains them. No
//! allocation per packet: fixed buffers, per-stream counters in vectors sized up front, and a
//! fixed-bucket latency histogram.
//!
//! Stream `s` is sent from socket `s` to `dests[s]`; the relay delivers it to socket `s ^ 1` (the
//! other leg of the same call).
//!
//! Latency is measured twice per packet, both against the send time (CLOCK_REALTIME, read just
//! before `send_to`): `kernel` uses the arrival time the kernel stamps on the packet
//! (SO_TIMESTAMPNS; on loopback that is when the relay's `send_to` handed it to the stack), so it
//! holds the relay's own delay and not the generator's wake-up; `user` uses the time this
//! program read it, which adds the receiver thread's scheduling and is load-dependent. Only packets *sent* inside the measuring window count towards
//! loss and latency; the window starts after a warm-up and is marked on stdout (`@meten-start`,
//! `@meten-einde`) so that the script can read the relay's CPU time at the same moments.

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{self as nsock, sockopt, ControlMessageOwned, MsgFlags};
use std::io::{self, IoSliceMut, Write as _};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// RTP header (12) plus 20 ms of G.711 (160).
pub const PACKET_LEN: usize = 12 + 160;
/// Payload type: PCMA.
pub const PT_PCMA: u8 = 8;
/// First bytes of every payload this generator sends.
const MAGIC: [u8; 4] = *b"PBXL";
/// Payload flag: a priming packet (sent once per leg at set-up so the relay can latch), not
/// counted.
const FLAG_PRIME: u8 = 1;
/// A-law silence, for the rest of the payload.
const ALAW_SILENCE: u8 = 0xD5;

/// Timing of the streaming phase.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Streaming before the window opens.
    pub warmup: Duration,
    /// The measuring window.
    pub duration: Duration,
    /// Streaming after the window closes (packets sent in the window are still in flight).
    pub tail: Duration,
    /// Waiting for the last packets after sending stopped.
    pub drain: Duration,
    /// Packet interval.
    pub tick: Duration,
    /// Slots per tick over which the streams are spread.
    pub slots: u32,
    /// Pause of the receiver between polling rounds.
    pub rx_batch: Duration,
}

/// Builds one RTP packet of stream `stream` in `buf`.
fn fill(buf: &mut [u8; PACKET_LEN], stream: u32, seq: u16, send_ns: u64, flags: u8) {
    buf[0] = 0x80;
    buf[1] = PT_PCMA;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&u32::from(seq).wrapping_mul(160).to_be_bytes());
    buf[8..12].copy_from_slice(&(0x5eed_0000_u32 ^ stream).to_be_bytes());
    buf[12..16].copy_from_slice(&MAGIC);
    buf[16..20].copy_from_slice(&stream.to_be_bytes());
    buf[20..28].copy_from_slice(&send_ns.to_be_bytes());
    buf[28] = flags;
}

fn new_packet() -> [u8; PACKET_LEN] {
    [ALAW_SILENCE; PACKET_LEN]
}

/// Sends one priming packet (sequence 0) of stream `stream` from `sock` to `dest`: relays learn
/// a leg's address from its first packet, and pbxd only within a few seconds after the SDP.
pub fn prime(sock: &std::net::UdpSocket, stream: u32, dest: SocketAddr) -> io::Result<()> {
    let mut pkt = new_packet();
    fill(&mut pkt, stream, 0, 0, FLAG_PRIME);
    sock.send_to(&pkt, dest).map(|_| ())
}

/// What was read from one received packet.
struct Seen {
    stream: u32,
    seq: u16,
    send_ns: u64,
    flags: u8,
}

fn read(pkt: &[u8]) -> Option<Seen> {
    if pkt.len() < 29 || pkt[0] >> 6 != 2 || pkt[12..16] != MAGIC {
        return None;
    }
    let u32_at = |i: usize| u32::from_be_bytes([pkt[i], pkt[i + 1], pkt[i + 2], pkt[i + 3]]);
    let mut ns = [0u8; 8];
    ns.copy_from_slice(&pkt[20..28]);
    Some(Seen {
        stream: u32_at(16),
        seq: u16::from_be_bytes([pkt[2], pkt[3]]),
        send_ns: u64::from_be_bytes(ns),
        flags: pkt[28],
    })
}

/// Latency histogram: 100 ns buckets up to 10 ms, 100 µs buckets up to 10 s, then overflow.
pub struct Histogram {
    fine: Vec<u64>,
    coarse: Vec<u64>,
    over: u64,
    count: u64,
    max_ns: u64,
    sum_ns: u128,
}

const FINE_NS: u64 = 100;
const FINE_END: u64 = 10_000_000;
const COARSE_NS: u64 = 100_000;
const COARSE_END: u64 = 10_000_000_000;

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            fine: vec![0; (FINE_END / FINE_NS) as usize],
            coarse: vec![0; ((COARSE_END - FINE_END) / COARSE_NS) as usize],
            over: 0,
            count: 0,
            max_ns: 0,
            sum_ns: 0,
        }
    }

    fn record(&mut self, ns: u64) {
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
        self.sum_ns += u128::from(ns);
        if ns < FINE_END {
            self.fine[(ns / FINE_NS) as usize] += 1;
        } else if ns < COARSE_END {
            self.coarse[((ns - FINE_END) / COARSE_NS) as usize] += 1;
        } else {
            self.over += 1;
        }
    }

    /// The value at quantile `q` (0..1) in µs (middle of its bucket); `None` when empty.
    pub fn quantile_us(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (i, c) in self.fine.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some((i as f64 + 0.5) * FINE_NS as f64 / 1000.0);
            }
        }
        for (i, c) in self.coarse.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some((FINE_END as f64 + (i as f64 + 0.5) * COARSE_NS as f64) / 1000.0);
            }
        }
        Some(self.max_ns as f64 / 1000.0)
    }

    /// Mean in µs.
    pub fn mean_us(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_ns as f64 / self.count as f64 / 1000.0)
    }

    /// Largest value in µs.
    pub fn max_us(&self) -> f64 {
        self.max_ns as f64 / 1000.0
    }
}

/// Receive state of one stream.
#[derive(Clone, Copy)]
struct RxStream {
    /// Next expected sequence number.
    next: u16,
    /// Packets missing by sequence number (gaps; a late packet takes one back).
    lost: u64,
    /// Packets that came after a later one (reordered).
    late: u64,
    /// Packets that came twice (within the last 64 sequence numbers).
    dup: u64,
    /// Bit k: sequence number `next - 1 - k` arrived.
    seen: u64,
    /// Packets received (whole stream, duplicates not counted).
    received: u64,
}

impl RxStream {
    fn new() -> RxStream {
        // Sequence 0 is the priming packet: taken as seen.
        RxStream {
            next: 1,
            lost: 0,
            late: 0,
            dup: 0,
            seen: 1,
            received: 0,
        }
    }

    /// Records a sequence number; false for a duplicate.
    fn sequence(&mut self, seq: u16) -> bool {
        let diff = seq.wrapping_sub(self.next) as i16;
        if diff >= 0 {
            let shift = u32::try_from(diff).unwrap_or(0) + 1;
            self.seen = self.seen.checked_shl(shift).unwrap_or(0) | 1;
            self.lost += u64::from(shift - 1);
            self.next = seq.wrapping_add(1);
        } else {
            let k = u32::try_from(-i32::from(diff) - 1).unwrap_or(u32::MAX);
            if k < 64 && self.seen & (1 << k) != 0 {
                self.dup += 1;
                return false;
            }
            if k < 64 {
                self.seen |= 1 << k;
            }
            self.late += 1;
            self.lost = self.lost.saturating_sub(1);
        }
        self.received += 1;
        true
    }
}

/// The receiver thread's counters.
struct Rx {
    streams: Vec<RxStream>,
    /// Kernel arrival time − send time.
    kernel: Histogram,
    /// Time read by this program − send time.
    user: Histogram,
    /// Packets without a kernel time stamp (they count in `user` only).
    unstamped: u64,
    /// Packets received whose send time lies in the window.
    window: u64,
    /// Packets of another call or the wrong direction (RTP bleed or a relay mix-up).
    misrouted: u64,
    /// Packets that this generator did not make.
    foreign: u64,
    primes: u64,
    errors: u64,
}

impl Rx {
    fn packet(
        &mut self,
        sock: usize,
        pkt: &[u8],
        kernel_ns: Option<u64>,
        now_ns: u64,
        w0: u64,
        w1: u64,
    ) {
        let Some(p) = read(pkt) else {
            self.foreign += 1;
            return;
        };
        if p.flags & FLAG_PRIME != 0 {
            self.primes += 1;
            return;
        }
        if p.stream as usize != sock ^ 1 {
            self.misrouted += 1;
            return;
        }
        let Some(st) = self.streams.get_mut(p.stream as usize) else {
            self.misrouted += 1;
            return;
        };
        if !st.sequence(p.seq) {
            return;
        }
        if (w0..w1).contains(&p.send_ns) {
            self.window += 1;
            self.user.record(now_ns.saturating_sub(p.send_ns));
            match kernel_ns {
                Some(k) => self.kernel.record(k.saturating_sub(p.send_ns)),
                None => self.unstamped += 1,
            }
        }
    }
}

/// The outcome of a streaming phase.
pub struct Report {
    pub streams: usize,
    /// Packets sent in the window.
    pub sent_window: u64,
    /// Of those, received.
    pub received_window: u64,
    /// Packets sent over the whole phase and received over the whole phase.
    pub sent_total: u64,
    pub received_total: u64,
    /// Missing by sequence number over the whole phase (tail included).
    pub seq_lost: u64,
    pub late: u64,
    /// Packets that arrived twice (not counted anywhere else).
    pub duplicates: u64,
    pub misrouted: u64,
    pub foreign: u64,
    /// Priming packets that arrived (set-up, not counted).
    pub primes: u64,
    /// Streams that received nothing at all.
    pub silent_streams: usize,
    /// Sends that failed (socket buffer full or an error).
    pub send_failed: u64,
    pub recv_errors: u64,
    /// Slots started more than 2 ms after their time (the sender fell behind).
    pub late_slots: u64,
    /// Length of the window (between the marks).
    pub window: Duration,
    /// Latency of the packets counted in `received_window`: kernel arrival and program read.
    pub kernel: Histogram,
    pub user: Histogram,
    pub unstamped: u64,
}

fn mono_ns(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// CLOCK_REALTIME in ns: the clock of the kernel's receive time stamps.
fn real_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn marker(text: &str) {
    let mut out = io::stdout().lock();
    // The script reads these lines to sample CPU time; a closed stdout only loses the marker.
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Streams on `socks` (stream `s` from socket `s` to `dests[s]`) for the plan's phases and
/// gives the counts. `socks.len()` is even: legs `2i` and `2i + 1` belong to call `i`.
pub fn run(socks: Vec<UdpSocket>, dests: Vec<SocketAddr>, plan: Plan) -> io::Result<Report> {
    let total = socks.len();
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    for (i, s) in socks.iter().enumerate() {
        s.set_nonblocking(true)?;
        nsock::setsockopt(s, sockopt::ReceiveTimestampns, &true)?;
        // Level-triggered: one recvmsg per ready socket per round, no EAGAIN round trip.
        epoll.add(s, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))?;
    }
    let socks = Arc::new(socks);
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    // The schedule runs on the monotonic clock (offsets from `epoch`). The window is what the
    // sender sends between printing the two marks (so that it matches the CPU time the script
    // reads at the marks even when the sender runs late); its bounds are real-time send times,
    // published to the receiver when the marks are printed.
    let bounds = Arc::new([AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)]);
    let (m0, m1) = (
        ns(plan.warmup),
        ns(plan.warmup).saturating_add(ns(plan.duration)),
    );

    let receiver = {
        let socks = socks.clone();
        let bounds = bounds.clone();
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("rtpload-rx".into())
            .spawn(move || receive(&epoll, &socks, &stop, plan.rx_batch, &bounds))?
    };

    // Sender: this thread.
    let slots = u64::from(plan.slots.max(1));
    let slot_ns = (ns(plan.tick) / slots).max(1);
    let stop_at = m1.saturating_add(ns(plan.tail));
    let mut seq = vec![1u16; total];
    let mut pkt = new_packet();
    let (mut sent_window, mut sent_total, mut send_failed, mut late_slots) =
        (0u64, 0u64, 0u64, 0u64);
    let (mut started, mut ended) = (false, false);
    let mut k = 0u64;
    loop {
        let target = k.saturating_mul(slot_ns);
        if target >= stop_at {
            break;
        }
        let now = mono_ns(epoch);
        if now < target {
            std::thread::sleep(Duration::from_nanos(target - now));
        } else if now - target > 2_000_000 {
            late_slots += 1;
        }
        if !started && target >= m0 {
            started = true;
            bounds[0].store(real_ns(), Ordering::Relaxed);
            marker("@meten-start");
        }
        if !ended && target >= m1 {
            ended = true;
            bounds[1].store(real_ns(), Ordering::Relaxed);
            marker("@meten-einde");
        }
        let slot = (k % slots) as usize;
        for s in (slot..total).step_by(slots as usize) {
            let t = real_ns();
            fill(&mut pkt, s as u32, seq[s], t, 0);
            match socks[s].send_to(&pkt, dests[s]) {
                Ok(_) => {
                    seq[s] = seq[s].wrapping_add(1);
                    sent_total += 1;
                    if started && !ended {
                        sent_window += 1;
                    }
                }
                // A packet that could not leave still takes its sequence number: the
                // receiver counts it as lost, as a phone's peer would.
                Err(_) => {
                    seq[s] = seq[s].wrapping_add(1);
                    send_failed += 1;
                }
            }
        }
        k += 1;
    }
    if !ended {
        bounds[1].store(real_ns(), Ordering::Relaxed);
        marker("@meten-einde");
    }
    let window_ns = bounds[1]
        .load(Ordering::Relaxed)
        .saturating_sub(bounds[0].load(Ordering::Relaxed));
    std::thread::sleep(plan.drain);
    stop.store(true, Ordering::Relaxed);
    let rx = receiver
        .join()
        .map_err(|_| io::Error::other("ontvangstdraad gestopt met een paniek"))??;

    // Packets after the last one received never came: count them by sequence number too.
    let mut seq_lost = 0u64;
    let (mut late, mut dup, mut received_total, mut silent) = (0u64, 0u64, 0u64, 0usize);
    for (s, st) in rx.streams.iter().enumerate() {
        let tail = seq[s].wrapping_sub(st.next) as i16;
        seq_lost += st.lost + u64::try_from(tail).unwrap_or(0);
        late += st.late;
        dup += st.dup;
        received_total += st.received;
        if st.received == 0 {
            silent += 1;
        }
    }
    Ok(Report {
        streams: total,
        sent_window,
        received_window: rx.window,
        sent_total,
        received_total,
        seq_lost,
        late,
        duplicates: dup,
        misrouted: rx.misrouted,
        foreign: rx.foreign,
        primes: rx.primes,
        silent_streams: silent,
        send_failed,
        recv_errors: rx.errors,
        late_slots,
        window: Duration::from_nanos(window_ns),
        kernel: rx.kernel,
        user: rx.user,
        unstamped: rx.unstamped,
    })
}

fn receive(
    epoll: &Epoll,
    socks: &[UdpSocket],
    stop: &AtomicBool,
    batch: Duration,
    bounds: &[AtomicU64; 2],
) -> io::Result<Rx> {
    let mut rx = Rx {
        streams: vec![RxStream::new(); socks.len()],
        kernel: Histogram::new(),
        user: Histogram::new(),
        unstamped: 0,
        window: 0,
        misrouted: 0,
        foreign: 0,
        primes: 0,
        errors: 0,
    };
    let mut events = vec![EpollEvent::empty(); 1024];
    let mut buf = [0u8; 2048];
    // Room for one SCM_TIMESTAMPNS, allocated once and reused by every recvmsg.
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    // Latency comes from the kernel's arrival stamp, so reading may wait: the thread polls
    // without blocking and sleeps `batch` between rounds that found little, instead of being
    // woken for every packet (which would cost the generator, and the relay's sendto, a
    // wake-up per packet).
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        let n = match epoll.wait(&mut events, EpollTimeout::ZERO) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        for ev in &events[..n] {
            let i = usize::try_from(ev.data()).unwrap_or(usize::MAX);
            let Some(sock) = socks.get(i) else { continue };
            let got = {
                let mut iov = [IoSliceMut::new(&mut buf)];
                nsock::recvmsg::<()>(
                    sock.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::MSG_DONTWAIT,
                )
                .map(|m| {
                    let stamp = m.cmsgs().ok().and_then(|mut c| {
                        c.find_map(|c| match c {
                            ControlMessageOwned::ScmTimestampns(ts) => {
                                let ns = i128::from(ts.tv_sec()) * 1_000_000_000
                                    + i128::from(ts.tv_nsec());
                                u64::try_from(ns).ok()
                            }
                            _ => None,
                        })
                    });
                    (m.bytes, stamp)
                })
            };
            match got {
                Ok((len, stamp)) => {
                    let w = (
                        bounds[0].load(Ordering::Relaxed),
                        bounds[1].load(Ordering::Relaxed),
                    );
                    rx.packet(i, &buf[..len], stamp, real_ns(), w.0, w.1);
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                // An ICMP report or the like: counted, the socket stays in the set.
                Err(_) => rx.errors += 1,
            }
        }
        if stopping && n == 0 {
            break;
        }
        if n < events.len() {
            std::thread::sleep(batch);
        }
    }
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_round_trip() {
        let mut p = new_packet();
        fill(&mut p, 7, 513, 123_456_789, 0);
        let s = read(&p).unwrap_or_else(|| unreachable!());
        assert_eq!(
            (s.stream, s.seq, s.send_ns, s.flags),
            (7, 513, 123_456_789, 0)
        );
        assert_eq!(p[1], PT_PCMA);
        assert!(read(&p[..20]).is_none());
    }

    #[test]
    fn histogram_quantiles() {
        let mut h = Histogram::new();
        for us in 1..=1000u64 {
            h.record(us * 1000);
        }
        let p50 = h.quantile_us(0.5).unwrap_or_else(|| unreachable!());
        assert!((499.0..=501.0).contains(&p50), "{p50}");
        let p999 = h.quantile_us(0.999).unwrap_or_else(|| unreachable!());
        assert!((998.0..=1000.0).contains(&p999), "{p999}");
        h.record(20_000_000);
        assert!(h.quantile_us(1.0).unwrap_or(0.0) > 19_000.0);
    }

    #[test]
    fn sequence_gaps_and_reordering() {
        let mut rx = Rx {
            streams: vec![RxStream::new(); 2],
            kernel: Histogram::new(),
            user: Histogram::new(),
            unstamped: 0,
            window: 0,
            misrouted: 0,
            foreign: 0,
            primes: 0,
            errors: 0,
        };
        let mut p = new_packet();
        for seq in [1u16, 2, 4, 3, 6, 6, 3] {
            fill(&mut p, 0, seq, 10, 0);
            rx.packet(1, &p, Some(15), 20, 0, 100);
        }
        let st = rx.streams[0];
        assert_eq!((st.lost, st.late, st.dup, st.received), (1, 1, 2, 5));
        assert_eq!(rx.window, 5);
        assert_eq!(rx.kernel.count, 5);
        fill(&mut p, 0, 7, 10, 0);
        rx.packet(0, &p, None, 20, 0, 100);
        assert_eq!(rx.misrouted, 1);
    }
}

//! Quick local check of the relay threads' cost per packet (not the benchmark: that is
//! `bench/media/relay.sh`, pbxd against rtpengine with SIP and all).
//!
//! Opens N calls on pbxd's own relay code (`src/relay.rs`, included here), makes both legs of
//! every call send G.711 at 50 packets/s from two load sockets, and after a warm-up measures for
//! a while: CPU time of the `pbx-relay-*` threads (from /proc/self/task/*/schedstat) per relayed
//! packet, loss, and the time from send to arrival through the relay (p50/p99; the send time
//! rides in the RTP timestamp, so the relay's jitter figures are meaningless here).
//!
//! Run: `cargo run --release -p pbxd --example relay_cost -- [calls] [seconds] [transcode|pass|floor]`
//! (defaults 2000, 10, transcode). Needs 6 file descriptors per call (`ulimit -n`).
//!
//! `floor` replaces the relay by the least a userspace relay can do: threads named like the
//! relay's that wait in epoll, `recvfrom` one datagram and `sendto` it, nothing else. The
//! difference to `pass` is what pbxd's own work costs; the floor itself is the kernel's.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../src/relay.rs"]
mod relay;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn relay_cpu_ns() -> u64 {
    let mut total = 0;
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.starts_with("pbx-relay") {
            let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            total += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

fn m_port(sdp: &str) -> u16 {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap()
}

struct Counters {
    received: AtomicU64,
    measuring: AtomicBool,
    stop: AtomicBool,
}

/// Receives on `sock`, records latency (payload starts with the send time in ns since `t0`).
fn receiver(sock: UdpSocket, t0: Instant, c: Arc<Counters>) -> std::thread::JoinHandle<Vec<u32>> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    std::thread::spawn(move || {
        let mut lat = Vec::with_capacity(4_000_000);
        let mut buf = [0u8; 2048];
        while !c.stop.load(Ordering::Relaxed) {
            let Ok(n) = sock.recv(&mut buf) else { continue };
            if n < 20 || !c.measuring.load(Ordering::Relaxed) {
                continue;
            }
            c.received.fetch_add(1, Ordering::Relaxed);
            // The send time in µs rides in the RTP timestamp (the payload may be transcoded).
            let sent = u32::from_be_bytes(buf[4..8].try_into().unwrap());
            let now = t0.elapsed().as_micros() as u32;
            lat.push(now.wrapping_sub(sent));
        }
        lat
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let calls: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let mode = args.get(3).map_or("transcode", String::as_str);
    let transcode = mode == "transcode";
    let floor = mode == "floor";
    let mut cfg = pbx_config::DaemonConfig::default().rtp;
    cfg.port_min = 30_000;
    cfg.port_max = 59_999;
    let mut pool = relay::RelayPool::new(&cfg, "127.0.0.1".parse().unwrap());

    let a_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (a_port, b_port) = (
        a_sock.local_addr().unwrap().port(),
        b_sock.local_addr().unwrap().port(),
    );
    let (a_pt, b_pt) = if transcode { (0, 8) } else { (8, 8) };
    let sdp = |port: u16, pt: u8, v: u32| {
        format!("v=0\r\no=- 1 {v} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP {pt}\r\na=ptime:20\r\n")
    };
    let mut relays = Vec::with_capacity(calls);
    let mut targets: Vec<(SocketAddr, SocketAddr)> = Vec::with_capacity(calls);
    let mut floor_socks: Vec<Vec<(UdpSocket, UdpSocket, SocketAddr)>> =
        vec![Vec::new(), Vec::new()];
    for i in 0..calls {
        if floor {
            // Two sockets per call: what arrives on one leaves by the other, to a fixed address.
            let x = UdpSocket::bind("127.0.0.1:0").unwrap();
            let y = UdpSocket::bind("127.0.0.1:0").unwrap();
            let (xa, ya) = (x.local_addr().unwrap(), y.local_addr().unwrap());
            let a_dst = SocketAddr::from(([127, 0, 0, 1], a_port));
            let b_dst = SocketAddr::from(([127, 0, 0, 1], b_port));
            floor_socks[i % 2].push((x.try_clone().unwrap(), y.try_clone().unwrap(), b_dst));
            floor_socks[i % 2].push((y, x, a_dst));
            targets.push((xa, ya));
            continue;
        }
        let mut r = pool.open().expect("relay ports (ulimit -n?)");
        let to_b = r.sdp_from(0, &sdp(a_port, a_pt, 1));
        let to_a = r.sdp_from(1, &sdp(b_port, b_pt, 1));
        targets.push((
            SocketAddr::from(([127, 0, 0, 1], m_port(&to_a))),
            SocketAddr::from(([127, 0, 0, 1], m_port(&to_b))),
        ));
        relays.push(r);
    }
    for (t, socks) in floor_socks
        .into_iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
    {
        std::thread::Builder::new()
            .name(format!("pbx-relay-{t}"))
            .spawn(move || floor_thread(socks))
            .unwrap();
    }
    let t0 = Instant::now();
    let c = Arc::new(Counters {
        received: AtomicU64::new(0),
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
    });
    let ra = receiver(a_sock.try_clone().unwrap(), t0, c.clone());
    let rb = receiver(b_sock.try_clone().unwrap(), t0, c.clone());

    let warmup = Duration::from_secs(2);
    let total = warmup + Duration::from_secs(secs);
    let mut pkt = [0xd5u8; 172];
    pkt[0] = 0x80;
    let mut sent = 0u64;
    let mut tick = 0u64;
    let (mut cpu0, mut start) = (0, Instant::now());
    let mut measuring = false;
    loop {
        let due = t0 + Duration::from_millis(20 * tick);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        if !measuring && t0.elapsed() >= warmup {
            measuring = true;
            cpu0 = relay_cpu_ns();
            start = Instant::now();
            c.measuring.store(true, Ordering::Relaxed);
        }
        if t0.elapsed() >= total {
            break;
        }
        let seq = (tick as u16).to_be_bytes();
        pkt[2..4].copy_from_slice(&seq);
        for (i, (ra, rb)) in targets.iter().enumerate() {
            let stamp = (t0.elapsed().as_micros() as u32).to_be_bytes();
            pkt[4..8].copy_from_slice(&stamp);
            pkt[8..12].copy_from_slice(&(i as u32).to_be_bytes());
            pkt[1] = a_pt;
            let _ = a_sock.send_to(&pkt, ra);
            pkt[1] = b_pt;
            let _ = b_sock.send_to(&pkt, rb);
            if measuring {
                sent += 2;
            }
        }
        tick += 1;
    }
    let cpu = relay_cpu_ns() - cpu0;
    let wall = start.elapsed();
    c.measuring.store(false, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(300));
    c.stop.store(true, Ordering::Relaxed);
    let mut lat = ra.join().unwrap();
    lat.extend(rb.join().unwrap());
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let received = c.received.load(Ordering::Relaxed);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "calls {calls} ({}), {:.1} s measured, relay threads {}",
        match mode {
            "transcode" => "PCMU<->PCMA transcoding",
            "floor" => "floor: epoll + recvfrom + sendto only",
            _ => "PCMA pass-through",
        },
        wall.as_secs_f64(),
        threads.min(8)
    );
    println!(
        "packets sent {sent}, received {received} ({:.3} % loss), {:.0} packets/s",
        100.0 * sent.saturating_sub(received) as f64 / sent.max(1) as f64,
        received as f64 / wall.as_secs_f64()
    );
    println!(
        "relay CPU {:.2} s = {:.2} µs per relayed packet ({:.0} % of one core)",
        cpu as f64 / 1e9,
        cpu as f64 / 1000.0 / received.max(1) as f64,
        100.0 * cpu as f64 / 1e9 / wall.as_secs_f64()
    );
    println!(
        "send→arrival through the relay: p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs",
        pct(0.5),
        pct(0.99),
        pct(0.999),
        lat.last().copied().unwrap_or(0)
    );
    if let Some(r) = relays.first() {
        println!("call 0: {:?}", r.quality("PCMA"));
    }
    drop(relays);
}

/// The floor: level-triggered epoll, one recvfrom and one sendto per event.
fn floor_thread(socks: Vec<(UdpSocket, UdpSocket, SocketAddr)>) {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
    let epoll = Epoll::new(EpollCreateFlags::empty()).unwrap();
    for (i, (rx, _, _)) in socks.iter().enumerate() {
        rx.set_nonblocking(true).unwrap();
        epoll
            .add(rx, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))
            .unwrap();
    }
    let mut events = vec![EpollEvent::empty(); 256];
    let mut buf = vec![0u8; 65536];
    loop {
        let n = epoll.wait(&mut events, 1000u16).unwrap_or(0);
        for ev in &events[..n] {
            let (rx, tx, dst) = &socks[ev.data() as usize];
            if let Ok((len, _)) = rx.recv_from(&mut buf) {
                let _ = tx.send_to(&buf[..len], dst);
            }
        }
    }
}

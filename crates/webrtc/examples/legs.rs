//! Benchmark: N client <-> bridge legs in one process on loopback.
//!
//! For each leg: a str0m client (the "browser") offers, a bridge answers, the client streams
//! a 1 kHz tone at 50 packets/s, and one UDP socket plays the relay: it echoes every packet it
//! gets from a bridge's plain side back to that bridge (so media flows both ways through
//! every bridge). Measures the setup time (offer created -> first media packet at the relay)
//! p50/p99 and the CPU use of the whole process (clients, bridges and relay) while all legs
//! stream, without and with transcoding (Opus to the browser, PCMU on the plain side).
//!
//! `cargo run --release -p pbx-webrtc --example legs -- 50 200` (leg counts; `--secs 10`
//! measuring time; `--rate 20` opens 20 legs per second instead of all at once).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pbx_webrtc::audio::{self, tone, OpusEncoder};
use pbx_webrtc::{Bridge, BridgeConfig, Client, Codec, PortRange};
use tokio::net::UdpSocket;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// utime + stime of this process in seconds.
fn cpu_seconds() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may contain spaces).
    let Some(rest) = s.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime is field 14, stime 15 (1-based); here index 11 and 12.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Row {
    mode: &'static str,
    legs: usize,
    up: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    cpu: f64,
    relay_pps: f64,
    client_pps: f64,
}

async fn run(n: usize, transcode: bool, secs: u64, rate: f64) -> Row {
    let ports = Arc::new(PortRange::new(30000, 30000 + 8 * n as u16 + 64));
    let cfg = BridgeConfig {
        bind_ip: LOOPBACK,
        public_ip: None,
        plain_ip: LOOPBACK,
        ports,
        plain_codecs: vec![Codec::Pcmu, Codec::Pcma],
        force_transcode: transcode,
    };
    let client_codecs: &[Codec] = if transcode {
        &[Codec::Opus]
    } else {
        &[Codec::Opus, Codec::Pcmu, Codec::Pcma]
    };
    // 1 s of tone, pre-encoded (the client's cost is then SRTP only).
    let frames: Arc<Vec<Vec<u8>>> = Arc::new(if transcode {
        let mut enc = OpusEncoder::new(5).expect("opus");
        (0..50u64)
            .map(|f| {
                enc.encode(&tone(1000.0, 8000, 8000.0, f * 160, 160))
                    .expect("encode")
                    .to_vec()
            })
            .collect()
    } else {
        (0..50u64)
            .map(|f| {
                let mut out = Vec::new();
                audio::g711_encode(
                    Codec::Pcmu,
                    &tone(1000.0, 8000, 8000.0, f * 160, 160),
                    &mut out,
                );
                out
            })
            .collect()
    });

    // The relay: echoes, and notes the first packet per bridge plain port.
    let relay = Arc::new(
        UdpSocket::bind(SocketAddr::new(LOOPBACK, 0))
            .await
            .expect("relay"),
    );
    let relay_addr = relay.local_addr().expect("addr");
    let first: Arc<Mutex<HashMap<u16, Instant>>> = Arc::default();
    let relay_count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let echo = {
        let relay = relay.clone();
        let first = first.clone();
        let count = relay_count.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok((n, src)) = relay.recv_from(&mut buf).await {
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Ok(mut f) = first.lock() {
                    f.entry(src.port()).or_insert_with(Instant::now);
                }
                let _ = relay.send_to(&buf[..n], src).await;
            }
        })
    };

    // Open all legs concurrently.
    let mut opens = Vec::new();
    for i in 0..n {
        if rate > 0.0 && i > 0 {
            tokio::time::sleep(Duration::from_secs_f64(1.0 / rate)).await;
        }
        let cfg = cfg.clone();
        let frames = frames.clone();
        opens.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let (mut client, offer) = Client::offer(LOOPBACK, client_codecs).await.ok()?;
            let (bridge, answer) = Bridge::accept_offer(&cfg, &offer).await.ok()?;
            bridge.set_plain_remote(relay_addr);
            client.accept_answer(&answer).ok()?;
            client.play(frames);
            Some((t0, client, bridge))
        }));
    }
    let mut legs = Vec::new();
    for o in opens {
        if let Ok(Some(l)) = o.await {
            legs.push(l);
        }
    }
    // Wait until every leg delivered media at the relay (or 20 s).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = first.lock().map(|f| f.len()).unwrap_or(0);
        if seen >= legs.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut setup: Vec<Duration> = {
        let f = first.lock().map(|f| f.clone()).unwrap_or_default();
        legs.iter()
            .filter_map(|(t0, _, b)| f.get(&b.plain_addr().port()).map(|t| *t - *t0))
            .collect()
    };
    setup.sort();
    let up = setup.len();

    // Steady state: 1 s settle, then measure.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let c0 = cpu_seconds();
    let w0 = Instant::now();
    let r0 = relay_count.load(std::sync::atomic::Ordering::Relaxed);
    let k0: u64 = legs.iter().map(|(_, c, _)| c.received_count()).sum();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let wall = w0.elapsed().as_secs_f64();
    let cpu = (cpu_seconds() - c0) / wall * 100.0;
    let r1 = relay_count.load(std::sync::atomic::Ordering::Relaxed);
    let k1: u64 = legs.iter().map(|(_, c, _)| c.received_count()).sum();

    for (_, c, b) in legs {
        c.close().await;
        b.close().await;
    }
    echo.abort();
    Row {
        mode: if transcode { "Opus<->PCMU" } else { "PCMU" },
        legs: n,
        up,
        p50: percentile(&setup, 0.5),
        p99: percentile(&setup, 0.99),
        max: setup.last().copied().unwrap_or_default(),
        cpu,
        relay_pps: (r1 - r0) as f64 / wall,
        client_pps: (k1 - k0) as f64 / wall,
    }
}

/// Cost of one 20 ms frame through each transcoding step (µs), single thread.
fn codec_cost() {
    let frames: Vec<Vec<i16>> = (0..50u64)
        .map(|f| tone(1000.0, 8000, 8000.0, f * 160, 160))
        .collect();
    let n = 2000;
    let mut enc = OpusEncoder::new(5).expect("opus");
    let t = Instant::now();
    let mut packets = Vec::new();
    for i in 0..n {
        packets.push(enc.encode(&frames[i % 50]).expect("encode").to_vec());
    }
    let e = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let mut dec = audio::OpusDecoder::new().expect("opus");
    let mut out = Vec::new();
    let t = Instant::now();
    for p in &packets {
        out.clear();
        dec.decode(p, &mut out);
    }
    let d = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let mut up = audio::Interpolator::new();
    let mut down = audio::Decimator::new();
    let mut buf48 = Vec::new();
    let mut buf8 = Vec::new();
    let t = Instant::now();
    for i in 0..n {
        buf48.clear();
        buf8.clear();
        up.process(&frames[i % 50], &mut buf48);
        down.process(&buf48, &mut buf8);
    }
    let r = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!(
        "per 20 ms-frame: Opus-encode (incl. 8->48 kHz) {e:.0} µs, Opus-decode (incl. 48->8 kHz) {d:.0} µs, alleen resamplen heen+terug {r:.0} µs"
    );
}

#[tokio::main]
async fn main() {
    let mut counts = Vec::new();
    let mut secs = 10;
    let mut rate = 0.0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--secs" {
            secs = args.next().and_then(|v| v.parse().ok()).unwrap_or(10);
        } else if a == "--codec-cost" {
            codec_cost();
            return;
        } else if a == "--rate" {
            rate = args.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
        } else if let Ok(n) = a.parse::<usize>() {
            counts.push(n);
        }
    }
    if counts.is_empty() {
        counts = vec![50, 200];
    }
    let mut rows = Vec::new();
    for &n in &counts {
        for transcode in [false, true] {
            let r = run(n, transcode, secs, rate).await;
            eprintln!("{} legs {}: {} up, p50 {:?}", r.legs, r.mode, r.up, r.p50);
            rows.push(r);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    println!(
        "| modus | benen | op | opzet p50 | opzet p99 | opzet max | CPU % (2 kernen = 200) | relay pkt/s | client pkt/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} | {:.0} | {:.0} |",
            r.mode,
            r.legs,
            r.up,
            r.p50.as_secs_f64() * 1000.0,
            r.p99.as_secs_f64() * 1000.0,
            r.max.as_secs_f64() * 1000.0,
            r.cpu,
            r.relay_pps,
            r.client_pps
        );
    }
}

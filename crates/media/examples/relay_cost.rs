//! Cost of the relay's per-packet work: parse, statistics, header rewrite (and G.711 transcoding).
//!
//! Run: `cargo run --release -p pbx-media --example relay_cost [packets]` (default 10 million).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use pbx_media::g711::ulaw_to_alaw_in_place;
use pbx_media::rtp::{RtpHeader, RtpPacketMut};
use pbx_media::stats::ReceiveStats;

const RING: usize = 64;

fn packets() -> Vec<[u8; 172]> {
    (0..RING)
        .map(|i| {
            let mut buf = [0u8; 172];
            let h = RtpHeader {
                payload_type: 0,
                sequence: i as u16,
                timestamp: i as u32 * 160,
                ssrc: 0x1234_5678,
                ..Default::default()
            };
            let payload: Vec<u8> = (0..160).map(|j| (i * 7 + j) as u8).collect();
            h.write(&payload, 0, &mut buf).unwrap();
            buf
        })
        .collect()
}

fn run(n: u64, stats_on: bool, transcode: bool) -> f64 {
    let mut ring = packets();
    let mut stats = ReceiveStats::new(8000);
    let (mut out_seq, mut out_ts) = (1000u16, 5000u32);
    let start = Instant::now();
    for k in 0..n {
        let buf = &mut ring[(k as usize) % RING];
        let mut p = match RtpPacketMut::parse(black_box(&mut buf[..])) {
            Ok(p) => p,
            Err(_) => continue,
        };
        // Simulate a continuous stream: the sender's seq/ts advance per packet.
        let seq = k as u16;
        let ts = (k as u32).wrapping_mul(160);
        if stats_on {
            let arrival = Duration::from_micros(20_000 * k + (k % 7) * 300);
            stats.handle_packet(seq, ts, p.payload().len(), arrival);
        }
        out_seq = out_seq.wrapping_add(1);
        out_ts = out_ts.wrapping_add(160);
        p.set_sequence(out_seq);
        p.set_timestamp(out_ts);
        p.set_ssrc(0xfeed_beef);
        if transcode {
            ulaw_to_alaw_in_place(p.payload_mut());
            p.set_payload_type(8).unwrap();
        } else {
            p.set_payload_type(0).unwrap();
        }
        black_box(&p);
    }
    let elapsed = start.elapsed();
    black_box(stats.snapshot());
    elapsed.as_nanos() as f64 / n as f64
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    println!("packets: {n}");
    println!(
        "parse + rewrite:                    {:6.1} ns/packet",
        run(n, false, false)
    );
    println!(
        "parse + stats + rewrite:            {:6.1} ns/packet",
        run(n, true, false)
    );
    println!(
        "parse + stats + rewrite + PCMU→PCMA: {:6.1} ns/packet",
        run(n, true, true)
    );
}

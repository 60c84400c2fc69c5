//! Cost of the announcement/keuzemenu media path: reading (and resampling) a WAV prompt, making
//! the player's RTP packets, and in-band DTMF detection per 20 ms frame.
//!
//! Run: `cargo run --release -p pbx-media --example prompt_cost [seconds]` (default 60 s of audio),
//! or `bench/media/prompt.sh`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use pbx_media::inband::InbandDetector;
use pbx_media::negotiate::G711;
use pbx_media::player::{Item, Player, StreamParams, FRAME};
use pbx_media::wav;

fn tone(rate: u32, channels: u16, secs: u32) -> Vec<i16> {
    let n = (rate * secs) as usize * usize::from(channels);
    (0..n)
        .map(|i| {
            let t = (i / usize::from(channels)) as f32 / rate as f32;
            (8000.0 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()) as i16
        })
        .collect()
}

fn main() {
    let secs: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);

    for (rate, ch) in [(8000, 1), (16000, 1), (22050, 1), (44100, 2), (48000, 2)] {
        let bytes = wav::write(&tone(rate, ch, secs), rate, ch);
        let t = Instant::now();
        let audio = black_box(wav::parse(black_box(&bytes)).unwrap());
        let e = t.elapsed();
        println!(
            "wav {rate:>5} Hz {ch} kan.: {secs} s audio gelezen in {:.1} ms ({:.0}× realtime)",
            e.as_secs_f64() * 1e3,
            f64::from(secs) / e.as_secs_f64()
        );
        assert_eq!(audio.samples.len(), 8000 * secs as usize);
    }

    let audio = wav::parse(&wav::write(&tone(8000, 1, secs), 8000, 1)).unwrap();
    let params = StreamParams {
        payload_type: 0,
        law: G711::Ulaw,
        ssrc: 1,
        sequence: 0,
        timestamp: 0,
    };
    let mut p = Player::new(params, vec![Item::from(audio.clone())], true);
    p.start(Duration::ZERO);
    let frames = u64::from(secs) * 50 * 100;
    let t = Instant::now();
    let mut now = Duration::ZERO;
    let mut bytes = 0usize;
    for _ in 0..frames {
        while let Some(pk) = p.poll_packet(now) {
            bytes += black_box(pk.as_bytes()).len();
        }
        now += FRAME;
    }
    let e = t.elapsed();
    println!(
        "player: {} pakketten in {:.1} ms, {:.0} ns per pakket ({} bytes)",
        p.packets_sent(),
        e.as_secs_f64() * 1e3,
        e.as_nanos() as f64 / p.packets_sent() as f64,
        bytes
    );

    let mut det = InbandDetector::new();
    let t = Instant::now();
    let mut hits = 0;
    for frame in audio.samples.chunks(160) {
        det.process(black_box(frame), |_| hits += 1);
    }
    let e = t.elapsed();
    let n = audio.samples.len() / 160;
    println!(
        "inband-DTMF: {n} frames van 20 ms in {:.1} ms, {:.0} ns per frame ({hits} cijfers)",
        e.as_secs_f64() * 1e3,
        e.as_nanos() as f64 / n as f64
    );
}

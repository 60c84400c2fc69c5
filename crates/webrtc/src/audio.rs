//! Audio helpers: 48 kHz <-> 8 kHz resampling, Opus and G.711 framing, and the tone tools the
//! tests and the benchmark use (a sine generator and the Goertzel filter).

use std::f32::consts::PI;

use pbx_media::g711;

use crate::{Codec, Error};

/// Samples of 20 ms at 8 kHz.
pub const FRAME_8K: usize = 160;
/// Samples of 20 ms at 48 kHz.
pub const FRAME_48K: usize = 960;
/// Longest Opus frame (120 ms at 48 kHz).
const MAX_OPUS_48K: usize = 5760;

/// Taps of the low-pass filter, a multiple of the factor 6.
const TAPS: usize = 96;
const FACTOR: usize = 6;

/// A windowed-sinc (Blackman) low-pass at 3.6 kHz for a 48 kHz signal, unity DC gain.
fn lowpass() -> [f32; TAPS] {
    let mut h = [0f32; TAPS];
    let fc = 3600.0 / 48000.0;
    let mid = (TAPS as f32 - 1.0) / 2.0;
    let mut sum = 0.0;
    for (i, tap) in h.iter_mut().enumerate() {
        let x = i as f32 - mid;
        let sinc = if x == 0.0 {
            2.0 * fc
        } else {
            (2.0 * PI * fc * x).sin() / (PI * x)
        };
        let n = i as f32 / (TAPS as f32 - 1.0);
        let w = 0.42 - 0.5 * (2.0 * PI * n).cos() + 0.08 * (4.0 * PI * n).cos();
        *tap = sinc * w;
        sum += *tap;
    }
    for tap in &mut h {
        *tap /= sum;
    }
    h
}

fn clamp16(x: f32) -> i16 {
    x.round().clamp(-32768.0, 32767.0) as i16
}

/// 48 kHz -> 8 kHz: low-pass, then every sixth sample. Keeps its history across frames.
#[derive(Debug, Clone)]
pub struct Decimator {
    h: [f32; TAPS],
    hist: Vec<f32>,
}

impl Default for Decimator {
    fn default() -> Self {
        Self::new()
    }
}

impl Decimator {
    pub fn new() -> Self {
        Decimator {
            h: lowpass(),
            hist: vec![0.0; TAPS - 1],
        }
    }

    /// Appends `input.len() / 6` samples to `out` (`input.len()` should be a multiple of 6).
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let keep = TAPS - 1;
        self.hist.extend(input.iter().map(|&s| f32::from(s)));
        let n = (self.hist.len() - keep) / FACTOR;
        for k in 0..n {
            // Output k ends at input index keep + k * 6 + 5 (inclusive) of `hist`.
            let end = keep + k * FACTOR + FACTOR;
            let win = &self.hist[end - TAPS..end];
            let acc: f32 = win
                .iter()
                .zip(self.h.iter().rev())
                .map(|(x, c)| x * c)
                .sum();
            out.push(clamp16(acc));
        }
        let used = n * FACTOR;
        self.hist.drain(..used);
    }
}

/// 8 kHz -> 48 kHz: zero stuffing by six and the same low-pass (polyphase, gain 6).
#[derive(Debug, Clone)]
pub struct Interpolator {
    /// `phases[p][j]`: tap `j * 6 + p`.
    phases: [[f32; TAPS / FACTOR]; FACTOR],
    hist: Vec<f32>,
}

impl Default for Interpolator {
    fn default() -> Self {
        Self::new()
    }
}

impl Interpolator {
    pub fn new() -> Self {
        let h = lowpass();
        let mut phases = [[0f32; TAPS / FACTOR]; FACTOR];
        for (i, c) in h.iter().enumerate() {
            phases[i % FACTOR][i / FACTOR] = c * FACTOR as f32;
        }
        Interpolator {
            phases,
            hist: vec![0.0; TAPS / FACTOR - 1],
        }
    }

    /// Appends `6 * input.len()` samples to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let keep = TAPS / FACTOR - 1;
        self.hist.extend(input.iter().map(|&s| f32::from(s)));
        for k in 0..input.len() {
            // The newest low-rate sample for this group is hist[keep + k].
            let newest = keep + k;
            for phase in &self.phases {
                let mut acc = 0.0;
                for (j, c) in phase.iter().enumerate() {
                    acc += c * self.hist[newest - j];
                }
                out.push(clamp16(acc));
            }
        }
        self.hist.drain(..input.len());
    }
}

/// G.711 to linear.
pub fn g711_decode(codec: Codec, codes: &[u8], out: &mut Vec<i16>) {
    match codec {
        Codec::Pcma => out.extend(codes.iter().map(|&c| g711::alaw_to_linear(c))),
        _ => out.extend(codes.iter().map(|&c| g711::ulaw_to_linear(c))),
    }
}

/// Linear to G.711.
pub fn g711_encode(codec: Codec, samples: &[i16], out: &mut Vec<u8>) {
    match codec {
        Codec::Pcma => out.extend(samples.iter().map(|&s| g711::linear_to_alaw(s))),
        _ => out.extend(samples.iter().map(|&s| g711::linear_to_ulaw(s))),
    }
}

/// Opus packets to 8 kHz linear audio.
pub struct OpusDecoder {
    dec: opus::Decoder,
    pcm: Vec<i16>,
    down: Decimator,
}

impl OpusDecoder {
    pub fn new() -> Result<Self, Error> {
        Ok(OpusDecoder {
            dec: opus::Decoder::new(48000, opus::Channels::Mono)
                .map_err(|e| Error::Opus(e.to_string()))?,
            pcm: vec![0; MAX_OPUS_48K],
            down: Decimator::new(),
        })
    }

    /// Decodes one packet and appends the 8 kHz samples to `out`. A packet libopus rejects
    /// yields nothing (garbage from the network is no reason to stop the leg).
    pub fn decode(&mut self, packet: &[u8], out: &mut Vec<i16>) -> bool {
        match self.dec.decode(packet, &mut self.pcm, false) {
            Ok(n) => {
                let n = n - n % FACTOR;
                self.down.process(&self.pcm[..n], out);
                true
            }
            Err(_) => false,
        }
    }
}

/// 8 kHz linear audio to 20 ms Opus packets (mono, VoIP mode).
pub struct OpusEncoder {
    enc: opus::Encoder,
    up: Interpolator,
    pcm: Vec<i16>,
    out: Vec<u8>,
}

impl OpusEncoder {
    /// `complexity` 0..=10 (libopus default 9 in VoIP mode; 5 is plenty for narrowband input).
    pub fn new(complexity: i32) -> Result<Self, Error> {
        let mut enc = opus::Encoder::new(48000, opus::Channels::Mono, opus::Application::Voip)
            .map_err(|e| Error::Opus(e.to_string()))?;
        let _ = enc.set_complexity(complexity);
        // The input is 8 kHz audio: narrowband SILK is all it can carry, and the cheapest.
        let _ = enc.set_max_bandwidth(opus::Bandwidth::Narrowband);
        let _ = enc.set_signal(opus::Signal::Voice);
        let _ = enc.set_bitrate(opus::Bitrate::Bits(20000));
        Ok(OpusEncoder {
            enc,
            up: Interpolator::new(),
            pcm: Vec::with_capacity(FRAME_48K),
            out: vec![0; 1500],
        })
    }

    /// Encodes exactly 160 samples (20 ms at 8 kHz) into one Opus packet.
    pub fn encode(&mut self, samples_8k: &[i16]) -> Result<&[u8], Error> {
        self.pcm.clear();
        self.up.process(samples_8k, &mut self.pcm);
        self.pcm.resize(FRAME_48K, 0);
        let n = self
            .enc
            .encode(&self.pcm, &mut self.out)
            .map_err(|e| Error::Opus(e.to_string()))?;
        Ok(&self.out[..n])
    }
}

/// `n` samples of a sine of `freq` Hz at `rate` Hz with amplitude `amp`, starting at sample
/// `start` (so consecutive frames join without a click).
pub fn tone(freq: f32, rate: u32, amp: f32, start: u64, n: usize) -> Vec<i16> {
    (0..n as u64)
        .map(|i| {
            let t = (start + i) as f64 / f64::from(rate);
            clamp16(amp * (2.0 * std::f64::consts::PI * f64::from(freq) * t).sin() as f32)
        })
        .collect()
}

/// Goertzel power of `freq` in `samples`, normalised so a full-scale-relative sine of amplitude
/// `a` gives about `(a / 2)^2` (i.e. comparable to the mean square of that sine / 2).
pub fn goertzel(samples: &[i16], freq: f32, rate: u32) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * f64::from(freq) / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0f64, 0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = samples.len() as f64;
    power / (n * n)
}

/// Mean square of `samples`.
pub fn energy(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resamplers_keep_a_1khz_tone_and_remove_a_10khz_one() {
        let mut down = Decimator::new();
        let mut out = Vec::new();
        for f in 0..20 {
            down.process(&tone(1000.0, 48000, 10000.0, f * 960, 960), &mut out);
        }
        assert_eq!(out.len(), 20 * 160);
        let tail = &out[800..];
        let p1 = goertzel(tail, 1000.0, 8000);
        let total = energy(tail);
        // A sine of amplitude A: mean square A^2/2, Goertzel power (A/2)^2.
        assert!(p1 > 0.8 * 2500.0 * 10000.0, "1 kHz power {p1}");
        assert!(p1 / total > 0.45, "{p1} / {total}");

        let mut down = Decimator::new();
        let mut out = Vec::new();
        down.process(&tone(10000.0, 48000, 10000.0, 0, 9600), &mut out);
        assert!(
            energy(&out[400..]) < 0.001 * 5e7,
            "aliasing {}",
            energy(&out[400..])
        );

        let mut up = Interpolator::new();
        let mut out48 = Vec::new();
        for f in 0..20 {
            up.process(&tone(1000.0, 8000, 10000.0, f * 160, 160), &mut out48);
        }
        assert_eq!(out48.len(), 20 * 960);
        let tail = &out48[4800..];
        let p = goertzel(tail, 1000.0, 48000);
        assert!(p > 0.8 * 2500.0 * 10000.0, "1 kHz power at 48k {p}");
        // Images at 7 kHz (8k - 1k) must be gone.
        let img = goertzel(tail, 7000.0, 48000);
        assert!(img < 0.01 * p, "image {img} vs {p}");
    }

    #[test]
    fn opus_roundtrip_keeps_the_tone() {
        let mut enc = OpusEncoder::new(5).expect("encoder");
        let mut dec = OpusDecoder::new().expect("decoder");
        let mut out = Vec::new();
        for f in 0..50u64 {
            let frame = tone(1000.0, 8000, 8000.0, f * 160, 160);
            let pkt = enc.encode(&frame).expect("encode").to_vec();
            assert!(dec.decode(&pkt, &mut out));
        }
        assert_eq!(out.len(), 50 * 160);
        let tail = &out[4000..];
        let p = goertzel(tail, 1000.0, 8000);
        assert!(p / energy(tail) > 0.4, "{p} {}", energy(tail));
        assert!(p > 0.5 * 1600.0 * 10000.0, "{p}");
    }
}

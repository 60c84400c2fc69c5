//! In-band DTMF detection (Goertzel) on decoded G.711, for phones that send the tones in the
//! audio instead of RFC 4733 or SIP INFO: [`InbandDetector`].
//!
//! Samples (8 kHz, 16-bit linear, from [`crate::g711`]) are cut into blocks of [`BLOCK`] = 205
//! samples (25.6 ms; the classic size whose bins fall close to all eight DTMF frequencies). For
//! each block the Goertzel power of the four row and four column frequencies is computed and a
//! block holds a digit when:
//! - the strongest row and column tones each have at least [`MIN_TONE_AMPLITUDE`] (about
//!   −35 dBm0; 0 dBm0 is a sine of peak ≈ 22 300);
//! - twist (ITU-T Q.24): the column tone is at most 8 dB weaker than the row tone ("normal
//!   twist") and at most 4 dB stronger ("reverse twist");
//! - each is at least 8 dB above the other tones of its group;
//! - the two tones carry at least [`MIN_TONE_SHARE`] of the block's energy, which keeps speech and
//!   music (energy spread over many frequencies) out.
//!
//! A digit is reported once when two consecutive blocks hold it (so a tone must last ~40 ms, the
//! Q.24 minimum that must be accepted); the same digit again needs at least one block without it
//! in between.

/// Samples per analysis block.
pub const BLOCK: usize = 205;
/// Lowest accepted peak amplitude of each tone (16-bit linear scale).
pub const MIN_TONE_AMPLITUDE: f32 = 400.0;
/// Share of the block energy the two tones must carry.
pub const MIN_TONE_SHARE: f32 = 0.6;

const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// 8 dB as a power ratio.
const NORMAL_TWIST: f32 = 6.31;
/// 4 dB as a power ratio.
const REVERSE_TWIST: f32 = 2.51;
/// 8 dB as a power ratio.
const RELATIVE_PEAK: f32 = 6.31;

/// Goertzel coefficient 2·cos(2πf/8000) per frequency.
fn coefficients() -> [f32; 8] {
    let mut c = [0f32; 8];
    for (i, f) in ROWS.iter().chain(COLS.iter()).enumerate() {
        c[i] = 2.0 * (2.0 * std::f32::consts::PI * f / 8000.0).cos();
    }
    c
}

/// Detects DTMF tones in a stream of 8 kHz samples; see the module documentation.
#[derive(Debug, Clone)]
pub struct InbandDetector {
    coeff: [f32; 8],
    /// Goertzel state (s1, s2) per frequency.
    state: [(f32, f32); 8],
    energy: f32,
    filled: usize,
    last_block: Option<char>,
    reported: Option<char>,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandDetector {
    pub fn new() -> Self {
        Self {
            coeff: coefficients(),
            state: [(0.0, 0.0); 8],
            energy: 0.0,
            filled: 0,
            last_block: None,
            reported: None,
        }
    }

    /// Feeds samples; `on_digit` is called for each digit detected.
    pub fn process(&mut self, samples: &[i16], mut on_digit: impl FnMut(char)) {
        for &s in samples {
            let x = f32::from(s);
            self.energy += x * x;
            for (st, &c) in self.state.iter_mut().zip(&self.coeff) {
                let s0 = c * st.0 - st.1 + x;
                *st = (s0, st.0);
            }
            self.filled += 1;
            if self.filled == BLOCK {
                let hit = self.classify();
                if let Some(d) = hit {
                    if hit == self.last_block && hit != self.reported {
                        on_digit(d);
                        self.reported = hit;
                    }
                }
                // A block without the reported digit re-arms it.
                if hit != self.reported {
                    self.reported = None;
                }
                self.last_block = hit;
                self.state = [(0.0, 0.0); 8];
                self.energy = 0.0;
                self.filled = 0;
            }
        }
    }

    /// Feeds a µ-law payload.
    pub fn process_ulaw(&mut self, payload: &[u8], mut on_digit: impl FnMut(char)) {
        let mut pcm = [0i16; 320];
        for chunk in payload.chunks(pcm.len()) {
            crate::g711::decode_ulaw(chunk, &mut pcm);
            self.process(&pcm[..chunk.len()], &mut on_digit);
        }
    }

    /// Feeds an A-law payload.
    pub fn process_alaw(&mut self, payload: &[u8], mut on_digit: impl FnMut(char)) {
        let mut pcm = [0i16; 320];
        for chunk in payload.chunks(pcm.len()) {
            crate::g711::decode_alaw(chunk, &mut pcm);
            self.process(&pcm[..chunk.len()], &mut on_digit);
        }
    }

    fn classify(&self) -> Option<char> {
        // Goertzel power per frequency; compared as ratios, except for the level check.
        let mut p = [0f32; 8];
        for (i, (s1, s2)) in self.state.iter().enumerate() {
            p[i] = s1 * s1 + s2 * s2 - self.coeff[i] * s1 * s2;
        }
        let (rows, cols) = p.split_at(4);
        let best = |g: &[f32]| {
            let mut b = 0;
            for i in 1..4 {
                if g[i] > g[b] {
                    b = i;
                }
            }
            b
        };
        let (r, c) = (best(rows), best(cols));
        let (pr, pc) = (rows[r], cols[c]);
        // A sine of amplitude A over N samples gives a Goertzel power of (A·N/2)².
        let n = BLOCK as f32;
        let min = (MIN_TONE_AMPLITUDE * n / 2.0).powi(2);
        if pr < min || pc < min {
            return None;
        }
        if pc > pr * REVERSE_TWIST || pr > pc * NORMAL_TWIST {
            return None;
        }
        for i in 0..4 {
            if (i != r && rows[i] * RELATIVE_PEAK > pr) || (i != c && cols[i] * RELATIVE_PEAK > pc)
            {
                return None;
            }
        }
        // Tone energy: a sine of power (A·N/2)² has energy A²·N/2 = power·2/N.
        let tones = (pr + pc) * 2.0 / n;
        if tones < MIN_TONE_SHARE * self.energy {
            return None;
        }
        Some(KEYS[r][c])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::g711;

    /// `digits` as tones of `on` ms with `off` ms pauses, row amplitude `a`, column `a·col`.
    fn tones(digits: &str, on: usize, off: usize, a: f32, col: f32) -> Vec<i16> {
        let mut out = Vec::new();
        for d in digits.chars() {
            let (r, c) = (0..16)
                .map(|i| (i / 4, i % 4))
                .find(|&(r, c)| KEYS[r][c] == d)
                .unwrap();
            for i in 0..on * 8 {
                let t = i as f32 / 8000.0;
                let v = a * (2.0 * std::f32::consts::PI * ROWS[r] * t).sin()
                    + a * col * (2.0 * std::f32::consts::PI * COLS[c] * t).sin();
                out.push(v as i16);
            }
            out.extend(std::iter::repeat_n(0, off * 8));
        }
        out
    }

    /// Through µ-law in 20 ms packets, as it would arrive.
    fn detect(pcm: &[i16]) -> String {
        let mut det = InbandDetector::new();
        let mut got = String::new();
        for frame in pcm.chunks(160) {
            let mut u = [0u8; 160];
            g711::encode_ulaw(frame, &mut u);
            det.process_ulaw(&u[..frame.len()], |d| got.push(d));
        }
        got
    }

    #[test]
    fn all_sixteen_digits() {
        let all = "1234567890*#ABCD";
        assert_eq!(detect(&tones(all, 60, 60, 6000.0, 1.0)), all);
        // A-law path too.
        let mut det = InbandDetector::new();
        let mut got = String::new();
        for frame in tones("59#", 60, 60, 6000.0, 1.0).chunks(160) {
            let mut a = [0u8; 160];
            g711::encode_alaw(frame, &mut a);
            det.process_alaw(&a[..frame.len()], |d| got.push(d));
        }
        assert_eq!(got, "59#");
    }

    #[test]
    fn long_press_once_repeated_press_twice() {
        assert_eq!(detect(&tones("7", 1000, 0, 6000.0, 1.0)), "7");
        assert_eq!(detect(&tones("77", 80, 60, 6000.0, 1.0)), "77");
    }

    #[test]
    fn level_twist_and_duration_limits() {
        // Quiet but within range (about −30 dBm0 per tone).
        assert_eq!(detect(&tones("3", 80, 40, 700.0, 1.0)), "3");
        // Too quiet.
        assert_eq!(detect(&tones("3", 80, 40, 200.0, 1.0)), "");
        // 6 dB normal twist is fine, 12 dB is not; 3 dB reverse twist is fine, 6 dB is not.
        assert_eq!(detect(&tones("4", 80, 40, 6000.0, 0.5)), "4");
        assert_eq!(detect(&tones("4", 80, 40, 6000.0, 0.25)), "");
        assert_eq!(detect(&tones("4", 80, 40, 4000.0, 1.41)), "4");
        assert_eq!(detect(&tones("4", 80, 40, 3000.0, 2.0)), "");
        // Too short: 20 ms.
        assert_eq!(detect(&tones("8", 20, 100, 6000.0, 1.0)), "");
    }

    #[test]
    fn single_tones_and_noise_are_not_digits() {
        let sine: Vec<i16> = (0..8000)
            .map(|i| {
                (8000.0 * (2.0 * std::f32::consts::PI * 770.0 * i as f32 / 8000.0).sin()) as i16
            })
            .collect();
        assert_eq!(detect(&sine), "");
        let mut x = 12345u32;
        let noise: Vec<i16> = (0..16000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((x >> 16) as i16) / 4
            })
            .collect();
        assert_eq!(detect(&noise), "");
    }

    #[test]
    fn shipped_prompts_hold_no_digits() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../conf.d/prompts");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("wav") {
                continue;
            }
            let audio = crate::wav::parse(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(detect(&audio.samples), "", "{}", path.display());
            n += 1;
        }
        assert!(n >= 5);
    }

    #[test]
    fn digits_over_a_prompt() {
        // A caller pressing keys while the menu prompt plays (talk-off and barge-in): the tones
        // are mixed into the speech at a level a phone sends (about −10 dBm0 per tone).
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../conf.d/prompts/menu.wav");
        let audio = crate::wav::parse(&std::fs::read(path).unwrap()).unwrap();
        let keys = tones("12", 100, 100, 7000.0, 1.0);
        let mut mix = audio.samples.clone();
        for (m, k) in mix[8000..].iter_mut().zip(&keys) {
            *m = (*m / 4).saturating_add(*k);
        }
        assert_eq!(detect(&mix), "12");
    }
}

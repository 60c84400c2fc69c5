//! WAV prompts (RIFF/WAVE, PCM 16-bit) read from bytes into 8 kHz mono samples.
//!
//! The shipped prompts (`conf.d/prompts/*.wav`, made by `scripts/prompts.sh`) are already 8 kHz
//! mono 16-bit PCM and are taken as they are. Files an organisation brings along may be 16, 22.05,
//! 44.1 or 48 kHz and mono or stereo: stereo is mixed down to mono (mean of the two channels) and
//! the rate converted to 8 kHz with a windowed-sinc low-pass resampler:
//!
//! - polyphase: output sample *n* sits at input position *n·in/out*, which for the supported rates
//!   falls on at most `8000 / gcd(in, 8000)` (≤ 160) distinct fractional phases; one kernel per
//!   phase is computed once per file;
//! - cut-off 3.6 kHz (0.9 × the 4 kHz output Nyquist frequency), [`ZERO_CROSSINGS`] sinc lobes each
//!   side, Blackman window; every phase kernel is normalised to unity DC gain. Between 3.6 and
//!   ~4.5 kHz the filter rolls off, so a little energy just above 4 kHz aliases back into the top
//!   of the band, where G.711 telephony hardly carries speech anyway;
//! - samples before the start and after the end count as zero; the result is rounded and clipped
//!   to 16 bit.
//!
//! Nothing here panics on arbitrary bytes; chunk sizes are checked against the buffer, odd chunks
//! are padded as RIFF requires, and the audio is limited to [`MAX_SECONDS`] before anything is
//! allocated. A `data` chunk whose declared size runs past the end of the file (streaming writers
//! leave it 0 or 0xFFFFFFFF) is read up to the end of the file.

/// Sample rate of what [`parse`] returns.
pub const OUTPUT_RATE: u32 = 8000;
/// Input sample rates that are accepted.
pub const SUPPORTED_RATES: [u32; 5] = [8000, 16000, 22050, 44100, 48000];
/// Longest accepted audio.
pub const MAX_SECONDS: u32 = 600;
/// Largest file worth reading: [`MAX_SECONDS`] of 48 kHz stereo plus room for other chunks. A
/// loader checks the file size against this before reading it.
pub const MAX_FILE_BYTES: u64 = MAX_SECONDS as u64 * 48_000 * 4 + 1024 * 1024;
/// Sinc lobes each side of the resampler's kernel centre.
pub const ZERO_CROSSINGS: u32 = 12;

const FORMAT_PCM: u16 = 1;
const FORMAT_EXTENSIBLE: u16 = 0xfffe;

/// Why a WAV file was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    #[error("not a riff/wave file")]
    NotWave,
    #[error("chunk extends past the end of the file")]
    Truncated,
    #[error("no fmt chunk before the data chunk")]
    MissingFormat,
    #[error("no data chunk")]
    MissingData,
    #[error("fmt chunk too short")]
    BadFormatChunk,
    #[error("audio format {0:#06x} is not pcm")]
    NotPcm(u16),
    #[error("{0} bits per sample, only 16 is supported")]
    UnsupportedBits(u16),
    #[error("{0} channels, only mono and stereo are supported")]
    UnsupportedChannels(u16),
    #[error("sample rate {0} Hz is not supported")]
    UnsupportedRate(u32),
    #[error("block align {0} does not match the format")]
    BadBlockAlign(u16),
    #[error("audio longer than the limit of {MAX_SECONDS} seconds")]
    TooLong,
}

/// A decoded prompt: 8 kHz mono 16-bit samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    /// Samples at [`OUTPUT_RATE`].
    pub samples: Vec<i16>,
    /// Rate of the file.
    pub source_rate: u32,
    /// Channels of the file.
    pub source_channels: u16,
}

impl Audio {
    /// Playing time in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / u64::from(OUTPUT_RATE)
    }
}

#[derive(Debug, Clone, Copy)]
struct Format {
    channels: u16,
    rate: u32,
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(o)?, *b.get(o + 1)?]))
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(o)?,
        *b.get(o + 1)?,
        *b.get(o + 2)?,
        *b.get(o + 3)?,
    ]))
}

fn parse_format(body: &[u8]) -> Result<Format, WavError> {
    let (Some(tag), Some(channels), Some(rate), Some(align), Some(bits)) = (
        u16_at(body, 0),
        u16_at(body, 2),
        u32_at(body, 4),
        u16_at(body, 12),
        u16_at(body, 14),
    ) else {
        return Err(WavError::BadFormatChunk);
    };
    let tag = if tag == FORMAT_EXTENSIBLE {
        // WAVE_FORMAT_EXTENSIBLE: cbSize(2) validBits(2) channelMask(4) then the sub-format GUID,
        // whose first two octets are the format tag.
        u16_at(body, 24).ok_or(WavError::BadFormatChunk)?
    } else {
        tag
    };
    if tag != FORMAT_PCM {
        return Err(WavError::NotPcm(tag));
    }
    if bits != 16 {
        return Err(WavError::UnsupportedBits(bits));
    }
    if !(1..=2).contains(&channels) {
        return Err(WavError::UnsupportedChannels(channels));
    }
    if !SUPPORTED_RATES.contains(&rate) {
        return Err(WavError::UnsupportedRate(rate));
    }
    if align != 2 * channels {
        return Err(WavError::BadBlockAlign(align));
    }
    Ok(Format { channels, rate })
}

/// Reads a WAV file's bytes into 8 kHz mono samples. Never panics.
pub fn parse(bytes: &[u8]) -> Result<Audio, WavError> {
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err(WavError::NotWave);
    }
    let mut pos = 12usize;
    let mut format = None;
    loop {
        let (Some(id), Some(size)) = (bytes.get(pos..pos + 4), u32_at(bytes, pos + 4)) else {
            return Err(WavError::MissingData);
        };
        let start = pos + 8;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if id == b"data" {
            let fmt = format.ok_or(WavError::MissingFormat)?;
            let end = start.saturating_add(size).min(bytes.len());
            return decode(&bytes[start..end], fmt);
        }
        let end = start.checked_add(size).ok_or(WavError::Truncated)?;
        let body = bytes.get(start..end).ok_or(WavError::Truncated)?;
        if id == b"fmt " {
            format = Some(parse_format(body)?);
        }
        // Chunks are padded to an even length.
        pos = end + (size & 1);
    }
}

fn decode(data: &[u8], fmt: Format) -> Result<Audio, WavError> {
    let frame_len = 2 * usize::from(fmt.channels);
    let frames = data.len() / frame_len;
    if frames as u64 > u64::from(MAX_SECONDS) * u64::from(fmt.rate) {
        return Err(WavError::TooLong);
    }
    let mono: Vec<i16> = data
        .chunks_exact(frame_len)
        .map(|f| {
            let l = i16::from_le_bytes([f[0], f[1]]);
            if fmt.channels == 2 {
                let r = i16::from_le_bytes([f[2], f[3]]);
                // The mean of two i16 values is an i16.
                ((i32::from(l) + i32::from(r)) >> 1) as i16
            } else {
                l
            }
        })
        .collect();
    let samples = if fmt.rate == OUTPUT_RATE {
        mono
    } else {
        resample(&mono, fmt.rate, OUTPUT_RATE)
    };
    Ok(Audio {
        samples,
        source_rate: fmt.rate,
        source_channels: fmt.channels,
    })
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Converts `input` from `in_rate` to `out_rate` (a lower rate) with a windowed-sinc low-pass; see
/// the module documentation. Rates must be non-zero; a zero rate gives an empty result.
pub fn resample(input: &[i16], in_rate: u32, out_rate: u32) -> Vec<i16> {
    if in_rate == 0 || out_rate == 0 || input.is_empty() {
        return Vec::new();
    }
    let g = gcd(u64::from(in_rate), u64::from(out_rate));
    let step = u64::from(in_rate) / g; // M: input samples per L output samples
    let phases = u64::from(out_rate) / g; // L
                                          // Normalised cut-off in cycles per input sample: 0.9 × output Nyquist, never above the input
                                          // Nyquist (when up-sampling).
    let fc = 0.45 * f64::from(out_rate.min(in_rate)) / f64::from(in_rate);
    let half = (f64::from(ZERO_CROSSINGS) / (2.0 * fc)).ceil() as i64;
    let taps = (2 * half + 1) as usize;
    let mut table = vec![0f32; phases as usize * taps];
    for (p, kernel) in table.chunks_exact_mut(taps).enumerate() {
        let frac = p as f64 / phases as f64;
        let mut sum = 0.0f64;
        let mut tmp = vec![0f64; taps];
        for (k, t) in tmp.iter_mut().enumerate() {
            let x = (k as i64 - half) as f64 - frac;
            let sinc = if x == 0.0 {
                1.0
            } else {
                let a = std::f64::consts::PI * 2.0 * fc * x;
                a.sin() / a
            };
            // Blackman window over [-half-1, half+1].
            let w = {
                let r = (x / (half as f64 + 1.0) + 1.0) / 2.0; // 0..1
                let r = r.clamp(0.0, 1.0);
                let tau = 2.0 * std::f64::consts::PI * r;
                0.42 - 0.5 * tau.cos() + 0.08 * (2.0 * tau).cos()
            };
            *t = sinc * w;
            sum += *t;
        }
        for (k, t) in kernel.iter_mut().zip(&tmp) {
            *k = (t / sum) as f32;
        }
    }
    let out_len = (input.len() as u64 * phases / step) as usize;
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len as u64 {
        let pos = n * step;
        let centre = (pos / phases) as i64;
        let phase = (pos % phases) as usize;
        let kernel = &table[phase * taps..(phase + 1) * taps];
        let first = centre - half;
        let mut acc = 0f32;
        for (k, &w) in kernel.iter().enumerate() {
            let i = first + k as i64;
            if i >= 0 {
                if let Some(&s) = input.get(i as usize) {
                    acc += w * f32::from(s);
                }
            }
        }
        out.push(acc.round().clamp(-32768.0, 32767.0) as i16);
    }
    out
}

/// Writes 16-bit PCM samples as a WAV file (for tests and tools).
pub fn write(samples: &[i16], rate: u32, channels: u16) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&FORMAT_PCM.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
    out.extend_from_slice(&(2 * channels).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn sine(freq: f64, rate: u32, secs: f64, amp: f64) -> Vec<i16> {
        let n = (f64::from(rate) * secs) as usize;
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    fn rms(s: &[i16]) -> f64 {
        let sum: f64 = s.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        (sum / s.len().max(1) as f64).sqrt()
    }

    #[test]
    fn eight_khz_mono_is_taken_as_is() {
        let s: Vec<i16> = (0..800).map(|i| (i * 37 % 2000 - 1000) as i16).collect();
        let a = parse(&write(&s, 8000, 1)).unwrap();
        assert_eq!(a.samples, s);
        assert_eq!((a.source_rate, a.source_channels), (8000, 1));
        assert_eq!(a.duration_ms(), 100);
    }

    #[test]
    fn stereo_is_mixed_down() {
        let inter = [100i16, 300, -32768, -32768, 32767, 32767, 1, -2];
        let a = parse(&write(&inter, 8000, 2)).unwrap();
        assert_eq!(a.samples, [200, -32768, 32767, -1]);
        assert_eq!(a.source_channels, 2);
    }

    #[test]
    fn every_supported_rate_keeps_speech_band_and_length() {
        for rate in SUPPORTED_RATES {
            let s = sine(1000.0, rate, 1.0, 10000.0);
            let a = parse(&write(&s, rate, 1)).unwrap();
            assert_eq!(a.samples.len(), 8000, "{rate}");
            // Skip the edges (kernel ramps in/out); a 1 kHz tone passes at unity gain.
            let mid = &a.samples[400..7600];
            let want = 10000.0 / 2f64.sqrt();
            assert!(
                (rms(mid) - want).abs() < want * 0.02,
                "{rate}: {}",
                rms(mid)
            );
            // And it is still a 1 kHz tone: compare with the ideal 8 kHz sine.
            let ideal = sine(1000.0, 8000, 1.0, 10000.0);
            let err: Vec<i16> = mid
                .iter()
                .zip(&ideal[400..7600])
                .map(|(a, b)| a.saturating_sub(*b))
                .collect();
            assert!(rms(&err) < 100.0, "{rate}: error {}", rms(&err));
        }
    }

    #[test]
    fn resampler_suppresses_what_would_alias() {
        // 6 kHz at 48 kHz would fold to 2 kHz at 8 kHz without the low-pass.
        let s = sine(6000.0, 48000, 1.0, 10000.0);
        let a = parse(&write(&s, 48000, 1)).unwrap();
        assert!(rms(&a.samples[400..7600]) < 100.0, "{}", rms(&a.samples));
        let s = sine(5000.0, 44100, 1.0, 10000.0);
        let a = parse(&write(&s, 44100, 1)).unwrap();
        assert!(rms(&a.samples[400..7600]) < 150.0, "{}", rms(&a.samples));
    }

    #[test]
    fn chunks_are_walked_and_padded() {
        let mut f = write(&[1, 2, 3], 8000, 1);
        // Insert an odd-sized LIST chunk (with its pad byte) between fmt and data.
        let list = b"LIST\x03\x00\x00\x00abc\x00";
        f.splice(36..36, list.iter().copied());
        assert_eq!(parse(&f).unwrap().samples, [1, 2, 3]);
        // A data size past the end of the file is read up to the end.
        let mut g = write(&[5, 6], 8000, 1);
        g[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse(&g).unwrap().samples, [5, 6]);
        // An odd trailing byte is ignored.
        let mut h = write(&[7], 8000, 1);
        h.push(9);
        assert_eq!(parse(&h).unwrap().samples, [7]);
    }

    #[test]
    fn extensible_pcm_is_accepted() {
        // WAVE_FORMAT_EXTENSIBLE (as sox writes for some files): 40-octet fmt with a PCM GUID.
        let mut f = write(&[10, 20, 30, 40], 16000, 2);
        f[16] = 40;
        f[20..22].copy_from_slice(&FORMAT_EXTENSIBLE.to_le_bytes());
        let mut ext = vec![22, 0, 16, 0, 3, 0, 0, 0];
        ext.extend_from_slice(&[
            1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71,
        ]);
        f.splice(36..36, ext.iter().copied());
        let riff_len = (f.len() - 8) as u32;
        f[4..8].copy_from_slice(&riff_len.to_le_bytes());
        let a = parse(&f).unwrap();
        assert_eq!(
            (a.source_rate, a.source_channels, a.samples.len()),
            (16000, 2, 1)
        );
        // Extensible with a float sub-format is not PCM.
        let mut g = f.clone();
        g[44] = 3;
        assert_eq!(parse(&g), Err(WavError::NotPcm(3)));
    }

    #[test]
    fn rejections() {
        let good = write(&[0; 4], 8000, 1);
        assert_eq!(parse(b"RIFF"), Err(WavError::NotWave));
        assert_eq!(parse(&good[..12]), Err(WavError::MissingData));
        let mut bad = good.clone();
        bad[20] = 3; // IEEE float
        assert_eq!(parse(&bad), Err(WavError::NotPcm(3)));
        let mut bad = good.clone();
        bad[34] = 8;
        assert_eq!(parse(&bad), Err(WavError::UnsupportedBits(8)));
        let mut bad = good.clone();
        bad[22] = 6;
        assert_eq!(parse(&bad), Err(WavError::UnsupportedChannels(6)));
        let bad = write(&[0; 4], 11025, 1);
        assert_eq!(parse(&bad), Err(WavError::UnsupportedRate(11025)));
        let mut bad = good.clone();
        bad[32] = 4;
        assert_eq!(parse(&bad), Err(WavError::BadBlockAlign(4)));
        let mut bad = good.clone();
        bad[16] = 200; // fmt chunk claims more than the file holds
        assert_eq!(parse(&bad), Err(WavError::Truncated));
        let mut bad = good.clone();
        bad[16] = 8;
        bad.splice(28..36, []);
        assert_eq!(parse(&bad), Err(WavError::BadFormatChunk));
        let mut bad = good.clone();
        bad[12..16].copy_from_slice(b"junk");
        assert_eq!(parse(&bad), Err(WavError::MissingFormat));
    }

    #[test]
    fn length_limit_is_checked_before_allocating() {
        // The limit applies to the audio actually present (a header may claim anything).
        let n = (MAX_SECONDS * OUTPUT_RATE) as usize + 1;
        let f = write(&vec![0; n], 8000, 1);
        assert_eq!(parse(&f), Err(WavError::TooLong));
        let f = write(&vec![0; n - 1], 8000, 1);
        assert_eq!(parse(&f).unwrap().samples.len(), n - 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn mutated_headers_never_panic(
            rate_ix in 0usize..5,
            channels in 1u16..=2,
            edits in prop::collection::vec((0usize..60, any::<u8>()), 0..6),
        ) {
            let mut f = write(&[100; 40], SUPPORTED_RATES[rate_ix], channels);
            for (pos, v) in edits {
                if let Some(b) = f.get_mut(pos) {
                    *b = v;
                }
            }
            let _ = parse(&f);
        }
    }
}

//! G.711 (ITU-T G.711) µ-law and A-law, table-driven.
//!
//! Every table is computed at compile time from the segment definitions of the recommendation:
//! decoding is one lookup in a 256-entry table, encoding one lookup in a table indexed by the
//! 14-bit (µ-law) or 13-bit (A-law) linear value, and PCMU↔PCMA transcoding one lookup in a
//! 256-entry table.
//!
//! The transcoding tables are built as "decode with the source law, re-quantise with the target
//! law's decision intervals", so each code maps to the target code whose interval holds the source
//! value. Near segment edges this is not an involution (16 of 256 codes do not survive A→µ→A),
//! which is inherent in the two quantisers.

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 8159;

const fn ulaw_decode_const(code: u8) -> i16 {
    let u = !code;
    let t = (((u & 0x0f) as i32) << 3) + ULAW_BIAS;
    let t = t << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    }) as i16
}

const fn alaw_decode_const(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0f) as i32) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// Segment of a magnitude given the segment end points.
const fn segment(v: i32, ends: &[i32; 8]) -> usize {
    let mut i = 0;
    while i < 8 {
        if v <= ends[i] {
            return i;
        }
        i += 1;
    }
    8
}

/// µ-law encoding of a 14-bit linear sample (−8192..=8191).
const fn ulaw_encode14(v: i32) -> u8 {
    const ENDS: [i32; 8] = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
    let (mut v, mask) = if v < 0 { (-v, 0x7f) } else { (v, 0xff) };
    if v > ULAW_CLIP {
        v = ULAW_CLIP;
    }
    v += ULAW_BIAS >> 2;
    let seg = segment(v, &ENDS);
    if seg >= 8 {
        return 0x7f ^ mask;
    }
    (((seg as i32) << 4) | ((v >> (seg + 1)) & 0x0f)) as u8 ^ mask
}

/// A-law encoding of a 13-bit linear sample (−4096..=4095).
const fn alaw_encode13(v: i32) -> u8 {
    const ENDS: [i32; 8] = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
    let (v, mask) = if v >= 0 { (v, 0xd5) } else { (-v - 1, 0x55) };
    let seg = segment(v, &ENDS);
    if seg >= 8 {
        return 0x7f ^ mask;
    }
    let q = if seg < 2 {
        (v >> 1) & 0x0f
    } else {
        (v >> seg) & 0x0f
    };
    (((seg as i32) << 4) | q) as u8 ^ mask
}

const fn build_decode(ulaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if ulaw {
            ulaw_decode_const(i as u8)
        } else {
            alaw_decode_const(i as u8)
        };
        i += 1;
    }
    t
}

const fn build_ulaw_encode() -> [u8; 16384] {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        t[i] = ulaw_encode14(i as i32 - 8192);
        i += 1;
    }
    t
}

const fn build_alaw_encode() -> [u8; 8192] {
    let mut t = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        t[i] = alaw_encode13(i as i32 - 4096);
        i += 1;
    }
    t
}

const fn build_transcode(from_ulaw: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if from_ulaw {
            alaw_encode13((ulaw_decode_const(i as u8) as i32) >> 3)
        } else {
            ulaw_encode14((alaw_decode_const(i as u8) as i32) >> 2)
        };
        i += 1;
    }
    t
}

static ULAW_DECODE: [i16; 256] = build_decode(true);
static ALAW_DECODE: [i16; 256] = build_decode(false);
static ULAW_ENCODE: [u8; 16384] = build_ulaw_encode();
static ALAW_ENCODE: [u8; 8192] = build_alaw_encode();
/// PCMU code → PCMA code.
pub static ULAW_TO_ALAW: [u8; 256] = build_transcode(true);
/// PCMA code → PCMU code.
pub static ALAW_TO_ULAW: [u8; 256] = build_transcode(false);

/// µ-law code → 16-bit linear sample.
#[inline]
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_DECODE[usize::from(code)]
}

/// A-law code → 16-bit linear sample.
#[inline]
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_DECODE[usize::from(code)]
}

/// 16-bit linear sample → µ-law code.
#[inline]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    // (sample >> 2) + 8192 is in 0..16384.
    ULAW_ENCODE[((i32::from(sample) >> 2) + 8192) as usize]
}

/// 16-bit linear sample → A-law code.
#[inline]
pub fn linear_to_alaw(sample: i16) -> u8 {
    // (sample >> 3) + 4096 is in 0..8192.
    ALAW_ENCODE[((i32::from(sample) >> 3) + 4096) as usize]
}

/// Transcodes a PCMU payload to PCMA in place.
pub fn ulaw_to_alaw_in_place(buf: &mut [u8]) {
    for b in buf {
        *b = ULAW_TO_ALAW[usize::from(*b)];
    }
}

/// Transcodes a PCMA payload to PCMU in place.
pub fn alaw_to_ulaw_in_place(buf: &mut [u8]) {
    for b in buf {
        *b = ALAW_TO_ULAW[usize::from(*b)];
    }
}

/// Decodes µ-law into `out` (same length as `codes`, shorter of the two wins).
pub fn decode_ulaw(codes: &[u8], out: &mut [i16]) {
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = ulaw_to_linear(c);
    }
}

/// Decodes A-law into `out`.
pub fn decode_alaw(codes: &[u8], out: &mut [i16]) {
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = alaw_to_linear(c);
    }
}

/// Encodes linear samples to µ-law.
pub fn encode_ulaw(samples: &[i16], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(samples) {
        *o = linear_to_ulaw(s);
    }
}

/// Encodes linear samples to A-law.
pub fn encode_alaw(samples: &[i16], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(samples) {
        *o = linear_to_alaw(s);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x7f), 0); // negative zero
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(linear_to_alaw(8), 0xd5);
        assert_eq!(linear_to_alaw(0), 0xd5);
        assert_eq!(alaw_to_linear(0xaa), 32256);
        assert_eq!(alaw_to_linear(0x2a), -32256);
        assert_eq!(linear_to_alaw(i16::MAX), 0xaa);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2a);
        // Silence maps between the laws: µ 0 → A +8; A +8 → µ 0xfe, which decodes to exactly 8.
        assert_eq!(ULAW_TO_ALAW[0xff], 0xd5);
        assert_eq!(ALAW_TO_ULAW[0xd5], 0xfe);
        assert_eq!(ulaw_to_linear(0xfe), 8);
        // Full scale maps to full scale.
        assert_eq!(ULAW_TO_ALAW[0x80], 0xaa);
        assert_eq!(ALAW_TO_ULAW[0xaa], 0x80);
    }

    #[test]
    fn ulaw_round_trip_all_codes() {
        for c in 0..=255u8 {
            let back = linear_to_ulaw(ulaw_to_linear(c));
            // 0x7f is µ-law's negative zero; it decodes to 0, which encodes as 0xff.
            let want = if c == 0x7f { 0xff } else { c };
            assert_eq!(back, want, "code {c:#04x}");
        }
    }

    #[test]
    fn alaw_round_trip_all_codes() {
        for c in 0..=255u8 {
            assert_eq!(linear_to_alaw(alaw_to_linear(c)), c, "code {c:#04x}");
        }
    }

    #[test]
    fn decode_is_monotonic() {
        // Positive µ-law codes run 0xff (0) down to 0x80 (max); A-law codes with the sign bit
        // set grow with the code after removing the 0x55 toggle.
        let mut last = -1i32;
        for c in (0x80..=0xffu8).rev() {
            let v = i32::from(ulaw_to_linear(c));
            assert!(v > last || (c == 0xff && v == 0), "{c:#x}");
            last = v;
        }
        let mut last = 0i32;
        for x in 0x80..=0xffu8 {
            let v = i32::from(alaw_to_linear(x ^ 0x55));
            assert!(v > last, "{x:#x}");
            last = v;
        }
    }

    #[test]
    fn transcoding_tables_are_close() {
        // Transcoding loses at most one quantisation step of the coarser law.
        for c in 0..=255u8 {
            let lin = i32::from(ulaw_to_linear(c));
            let via = i32::from(alaw_to_linear(ULAW_TO_ALAW[usize::from(c)]));
            let step = (lin.abs() / 16).max(16);
            assert!((lin - via).abs() <= step, "u {c:#x}: {lin} vs {via}");
            let lin = i32::from(alaw_to_linear(c));
            let via = i32::from(ulaw_to_linear(ALAW_TO_ULAW[usize::from(c)]));
            let step = (lin.abs() / 16).max(16);
            assert!((lin - via).abs() <= step, "a {c:#x}: {lin} vs {via}");
        }
        let mut buf = [0xfeu8, 0x80, 0x00];
        ulaw_to_alaw_in_place(&mut buf);
        assert_eq!(buf, [0xd5, 0xaa, 0x2a]);
        alaw_to_ulaw_in_place(&mut buf);
        assert_eq!(buf, [0xfe, 0x80, 0x00]);
    }

    #[test]
    fn slice_helpers() {
        let pcm = [0i16, 1000, -1000, 32767];
        let mut u = [0u8; 4];
        let mut a = [0u8; 4];
        encode_ulaw(&pcm, &mut u);
        encode_alaw(&pcm, &mut a);
        let mut du = [0i16; 4];
        let mut da = [0i16; 4];
        decode_ulaw(&u, &mut du);
        decode_alaw(&a, &mut da);
        for i in 0..4 {
            assert!((i32::from(du[i]) - i32::from(pcm[i])).abs() < 1100);
            assert!((i32::from(da[i]) - i32::from(pcm[i])).abs() < 1100);
        }
    }
}

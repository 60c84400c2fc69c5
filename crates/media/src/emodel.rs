//! Call quality as a MOS estimate: the ITU-T G.107 E-model, reduced to what a media relay
//! measures (loss, jitter, round-trip time, codec), as RFC 3611 §4.7.5 and most VoIP monitors
//! use it.
//!
//! `R = R0 − Is − Id − Ie,eff + A` with the G.107 defaults: `R0 − Is = 93.2` (no noise, no
//! simultaneous impairment beyond the default), `A = 0` (no advantage factor).
//!
//! - **Delay** `Id` from the one-way mouth-to-ear delay `Ta` (G.107 §B.1, simplified with the
//!   usual line fit used by G.107 Appendix and RFC 3611 implementations):
//!   `Id = 0.024·Ta + 0.11·(Ta − 177.3)·H(Ta − 177.3)`.
//!   `Ta` is estimated as half the RTCP round-trip time, plus a jitter buffer of twice the
//!   interarrival jitter (at least 20 ms), plus one packet (20 ms) of packetisation.
//! - **Equipment** `Ie,eff = Ie + (95 − Ie)·Ppl / (Ppl + Bpl)` (G.107 (7-29), random loss,
//!   `BurstR = 1`) with `Ie` and `Bpl` per codec from G.113 Appendix I: G.711 with packet-loss
//!   concealment `Ie = 0`, `Bpl = 25.1`; G.722 and Opus are scored on the same narrowband scale
//!   as G.711 (their wideband advantage is not modelled), `Bpl` 25.1 and 20 respectively.
//! - **R → MOS** (G.107 (B-4)): `1` for `R ≤ 0`, `4.5` for `R ≥ 100`, else
//!   `1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶`.
//!
//! Unimpaired G.711 gives `R = 93.2`, MOS 4.41.

/// The codec parameters of the equipment impairment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CodecImpairment {
    /// Equipment impairment without loss.
    pub ie: f64,
    /// Packet-loss robustness.
    pub bpl: f64,
}

impl CodecImpairment {
    /// The values for an SDP encoding name (`PCMU`, `opus` …); unknown codecs count as G.711.
    pub fn of(encoding: &str) -> CodecImpairment {
        match encoding.to_ascii_lowercase().as_str() {
            "opus" => CodecImpairment { ie: 0.0, bpl: 20.0 },
            "g729" => CodecImpairment {
                ie: 11.0,
                bpl: 19.0,
            },
            // PCMU, PCMA, G722 and anything unknown.
            _ => CodecImpairment { ie: 0.0, bpl: 25.1 },
        }
    }
}

/// What the E-model needs of one leg.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Impairments {
    /// Packet loss in percent (0–100).
    pub loss_percent: f64,
    /// Interarrival jitter in milliseconds.
    pub jitter_ms: f64,
    /// Round-trip time in milliseconds, when known.
    pub rtt_ms: Option<f64>,
}

/// The transmission rating factor R of G.107 `R0 − Is` without other impairments.
pub const R_DEFAULT: f64 = 93.2;

/// The one-way delay estimate in milliseconds (see the module documentation).
pub fn one_way_delay_ms(i: &Impairments) -> f64 {
    let network = i
        .rtt_ms
        .filter(|r| r.is_finite() && *r >= 0.0)
        .unwrap_or(0.0)
        / 2.0;
    let jitter = if i.jitter_ms.is_finite() {
        i.jitter_ms.max(0.0)
    } else {
        0.0
    };
    network + (2.0 * jitter).max(20.0) + 20.0
}

/// The R factor of one leg.
pub fn r_factor(codec: CodecImpairment, i: &Impairments) -> f64 {
    let ta = one_way_delay_ms(i);
    let id = 0.024 * ta + if ta > 177.3 { 0.11 * (ta - 177.3) } else { 0.0 };
    let ppl = if i.loss_percent.is_finite() {
        i.loss_percent.clamp(0.0, 100.0)
    } else {
        0.0
    };
    let ie_eff = codec.ie + (95.0 - codec.ie) * ppl / (ppl + codec.bpl);
    R_DEFAULT - id - ie_eff
}

/// R → MOS (G.107 (B-4)).
pub fn mos_from_r(r: f64) -> f64 {
    if !r.is_finite() || r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6
    }
}

/// The MOS estimate of one leg: [`r_factor`] then [`mos_from_r`], at least 1.
pub fn mos(encoding: &str, i: &Impairments) -> f64 {
    mos_from_r(r_factor(CodecImpairment::of(encoding), i)).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imp(loss: f64, jitter: f64, rtt: Option<f64>) -> Impairments {
        Impairments {
            loss_percent: loss,
            jitter_ms: jitter,
            rtt_ms: rtt,
        }
    }

    #[test]
    fn unimpaired_g711_is_about_4_4() {
        // R0 − Is = 93.2 less the delay of the jitter buffer and packetisation (40 ms).
        let m = mos("PCMU", &imp(0.0, 0.0, Some(0.0)));
        assert!((4.35..=4.42).contains(&m), "{m}");
        assert!((mos_from_r(93.2) - 4.41).abs() < 0.01);
    }

    #[test]
    fn reference_points_of_the_r_to_mos_curve() {
        // G.107 Annex B: R 50 → MOS 2.58, R 70 → 3.60, R 80 → 4.02, R 90 → 4.34.
        for (r, want) in [(50.0, 2.58), (70.0, 3.60), (80.0, 4.02), (90.0, 4.34)] {
            let m = mos_from_r(r);
            assert!((m - want).abs() < 0.01, "R {r}: {m}");
        }
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(120.0), 4.5);
        assert_eq!(mos_from_r(f64::NAN), 1.0);
    }

    #[test]
    fn mos_falls_as_loss_and_delay_grow() {
        let mut last = 5.0;
        for loss in [0.0, 1.0, 2.0, 5.0, 10.0, 20.0] {
            let m = mos("PCMA", &imp(loss, 5.0, Some(40.0)));
            assert!(m < last, "loss {loss}: {m} !< {last}");
            last = m;
        }
        // G.711 with PLC at 5 % random loss: Ie,eff = 95·5/30.1 ≈ 15.8.
        let r = r_factor(CodecImpairment::of("PCMU"), &imp(5.0, 0.0, Some(0.0)));
        assert!((r - (93.2 - 0.96 - 15.78)).abs() < 0.1, "{r}");
        let mut last = 5.0;
        for rtt in [0.0, 100.0, 300.0, 500.0, 800.0] {
            let m = mos("PCMU", &imp(0.0, 5.0, Some(rtt)));
            assert!(m < last, "rtt {rtt}: {m}");
            last = m;
        }
        // Beyond 177 ms one way the delay term steepens.
        let below = r_factor(CodecImpairment::of("PCMU"), &imp(0.0, 0.0, Some(200.0)));
        let above = r_factor(CodecImpairment::of("PCMU"), &imp(0.0, 0.0, Some(400.0)));
        assert!(below - above > 0.024 * 100.0 + 1.0, "{below} {above}");
    }

    #[test]
    fn nonsense_input_stays_in_range() {
        for i in [
            imp(f64::NAN, f64::NAN, Some(f64::NAN)),
            imp(1e9, 1e9, Some(1e12)),
            imp(-3.0, -1.0, Some(-5.0)),
        ] {
            let m = mos("PCMU", &i);
            assert!((1.0..=4.5).contains(&m), "{i:?}: {m}");
        }
    }
}

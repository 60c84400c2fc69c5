//! Live call quality of one call, sampled once a second by the relay: per leg the packets,
//! the loss and MOS of the last second, jitter and RTT; over the call the average and worst MOS,
//! the largest jitter, the loss, and whether audio went one way only or not at all.
//!
//! - **MOS** per leg and second from [`crate::emodel`] with the loss of that second (not the
//!   cumulative loss, so a bad minute shows as bad and recovers), the current jitter and RTT.
//!   A second without packets on a leg has no MOS (silence suppression or hold is not bad
//!   quality); the call's average and worst MOS are over the seconds that have one.
//! - **One-way audio**: while two-way audio is expected (`watching`: answered, both legs, not on
//!   hold), one leg sends RTP and the other none for [`ONE_WAY_SECS`] seconds in a row.
//!   **Dead air**: neither leg for [`ONE_WAY_SECS`]. Both are kept as "now" (clears when audio
//!   returns) and "ever" (for the CDR).
//! - The last [`HISTORY`] MOS values per leg are kept for sparklines.

use crate::emodel::{self, Impairments};
use std::collections::VecDeque;

/// Seconds without RTP on one leg (or both) before a call counts as one-way audio (dead air).
pub const ONE_WAY_SECS: u32 = 5;

/// MOS values kept per leg.
pub const HISTORY: usize = 60;

/// The cumulative receive counters of one leg, as the relay has them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LegSample {
    /// Packets received.
    pub packets: u64,
    /// Packets lost (RFC 3550: expected − received, cumulative).
    pub lost: u64,
    /// Interarrival jitter in milliseconds.
    pub jitter_ms: f64,
    /// Round-trip time in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The MOS the phone itself reports in RTCP XR VoIP Metrics (RFC 3611 §4.7), when it does:
    /// it then counts instead of pbxd's estimate, since the phone also knows its jitter buffer
    /// and concealment.
    pub xr_mos: Option<f64>,
}

/// One leg now.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LegNow {
    /// Packets received in total.
    pub packets: u64,
    /// Loss in the last second, percent.
    pub loss_percent: f64,
    /// Jitter, milliseconds.
    pub jitter_ms: f64,
    /// RTT, milliseconds.
    pub rtt_ms: Option<f64>,
    /// MOS of the last second; `None` without packets.
    pub mos: Option<f64>,
}

/// The quality of a whole call, for the CDR.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    /// Average MOS over both legs' seconds with audio.
    pub avg_mos: Option<f64>,
    /// The worst second of either leg.
    pub worst_mos: Option<f64>,
    /// Largest jitter seen, milliseconds.
    pub max_jitter_ms: f64,
    /// Loss over the call, both legs, percent.
    pub loss_percent: f64,
    /// Audio went one way only for [`ONE_WAY_SECS`] or more.
    pub one_way: bool,
    /// No audio either way for [`ONE_WAY_SECS`] or more.
    pub dead_air: bool,
}

/// The quality meter of one call.
#[derive(Clone, Debug, Default)]
pub struct QualityMeter {
    prev: [Option<LegSample>; 2],
    now: [LegNow; 2],
    mos_sum: [f64; 2],
    mos_n: [u32; 2],
    worst: Option<f64>,
    max_jitter: f64,
    silent: [u32; 2],
    one_way_now: bool,
    dead_air_now: bool,
    one_way: bool,
    dead_air: bool,
    history: [VecDeque<f64>; 2],
}

impl QualityMeter {
    /// A meter for a new call.
    pub fn new() -> QualityMeter {
        QualityMeter::default()
    }

    /// One second's sample of both legs (A, B) with their codecs (SDP encoding names).
    pub fn sample(&mut self, legs: [LegSample; 2], codecs: [&str; 2], watching: bool) {
        for (i, s) in legs.iter().enumerate() {
            let prev = self.prev[i].unwrap_or_default();
            let got = s.packets.saturating_sub(prev.packets);
            let lost = s.lost.saturating_sub(prev.lost);
            let expected = got + lost;
            let loss = if expected == 0 {
                0.0
            } else {
                lost as f64 * 100.0 / expected as f64
            };
            let jitter = if s.jitter_ms.is_finite() {
                s.jitter_ms.max(0.0)
            } else {
                0.0
            };
            let mos = (got > 0).then(|| {
                s.xr_mos
                    .filter(|m| (1.0..=5.0).contains(m))
                    .unwrap_or_else(|| {
                        emodel::mos(
                            codecs[i],
                            &Impairments {
                                loss_percent: loss,
                                jitter_ms: jitter,
                                rtt_ms: s.rtt_ms,
                            },
                        )
                    })
            });
            if let Some(m) = mos {
                self.mos_sum[i] += m;
                self.mos_n[i] += 1;
                self.worst = Some(self.worst.map_or(m, |w| w.min(m)));
                if self.history[i].len() == HISTORY {
                    self.history[i].pop_front();
                }
                self.history[i].push_back(m);
            }
            if got > 0 {
                self.max_jitter = self.max_jitter.max(jitter);
                self.silent[i] = 0;
            } else {
                self.silent[i] = self.silent[i].saturating_add(1);
            }
            self.now[i] = LegNow {
                packets: s.packets,
                loss_percent: loss,
                jitter_ms: jitter,
                rtt_ms: s.rtt_ms,
                mos,
            };
            self.prev[i] = Some(*s);
        }
        if !watching {
            self.silent = [0, 0];
            self.one_way_now = false;
            self.dead_air_now = false;
            return;
        }
        let [a, b] = self.silent.map(|n| n >= ONE_WAY_SECS);
        self.dead_air_now = a && b;
        self.one_way_now = a != b;
        self.one_way |= self.one_way_now;
        self.dead_air |= self.dead_air_now;
    }

    /// Both legs now.
    pub fn now(&self) -> [LegNow; 2] {
        self.now
    }

    /// The last MOS values of a leg, oldest first.
    pub fn history(&self, leg: usize) -> Vec<f64> {
        self.history
            .get(leg)
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Average MOS of one leg so far.
    pub fn leg_avg_mos(&self, leg: usize) -> Option<f64> {
        let n = *self.mos_n.get(leg)?;
        (n > 0).then(|| self.mos_sum[leg] / f64::from(n))
    }

    /// Is audio going one way only right now? Is there none at all?
    pub fn flags_now(&self) -> (bool, bool) {
        (self.one_way_now, self.dead_air_now)
    }

    /// The call so far.
    pub fn summary(&self) -> Summary {
        let n = self.mos_n[0] + self.mos_n[1];
        let (got, lost) = self
            .prev
            .iter()
            .flatten()
            .fold((0u64, 0u64), |(g, l), s| (g + s.packets, l + s.lost));
        Summary {
            avg_mos: (n > 0).then(|| (self.mos_sum[0] + self.mos_sum[1]) / f64::from(n)),
            worst_mos: self.worst,
            max_jitter_ms: self.max_jitter,
            loss_percent: if got + lost == 0 {
                0.0
            } else {
                lost as f64 * 100.0 / (got + lost) as f64
            },
            one_way: self.one_way,
            dead_air: self.dead_air,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(packets: u64, lost: u64) -> LegSample {
        LegSample {
            packets,
            lost,
            jitter_ms: 2.0,
            rtt_ms: Some(20.0),
            xr_mos: None,
        }
    }

    #[test]
    fn a_phones_own_xr_mos_counts_instead_of_the_estimate() {
        let mut q = QualityMeter::new();
        let mut a = leg(50, 0);
        a.xr_mos = Some(3.4);
        q.sample([a, leg(50, 0)], ["PCMU", "PCMU"], true);
        assert_eq!(q.now()[0].mos, Some(3.4));
        assert!(q.now()[1].mos.is_some_and(|m| m > 4.3));
        // Nonsense from the phone is ignored.
        let mut a = leg(100, 0);
        a.xr_mos = Some(9.9);
        q.sample([a, leg(100, 0)], ["PCMU", "PCMU"], true);
        assert!(q.now()[0].mos.is_some_and(|m| m > 4.3));
    }

    #[test]
    fn a_clean_call_scores_high_and_a_lossy_second_scores_low() {
        let mut q = QualityMeter::new();
        let mut a = 0;
        for _ in 0..10 {
            a += 50;
            q.sample([leg(a, 0), leg(a, 0)], ["PCMA", "PCMA"], true);
        }
        let s = q.summary();
        assert!(s.avg_mos.is_some_and(|m| m > 4.3), "{s:?}");
        assert!(!s.one_way && !s.dead_air);
        // One second with 10 of 50 packets lost on A.
        q.sample([leg(a + 40, 10), leg(a + 50, 0)], ["PCMA", "PCMA"], true);
        let now = q.now();
        assert!((now[0].loss_percent - 20.0).abs() < 1e-9, "{now:?}");
        assert!(now[0].mos.is_some_and(|m| m < 3.5), "{now:?}");
        assert!(now[1].mos.is_some_and(|m| m > 4.3), "{now:?}");
        let s = q.summary();
        assert!(s.worst_mos.is_some_and(|m| m < 3.5));
        assert!(
            (s.loss_percent - 10.0 * 100.0 / 1100.0).abs() < 1e-9,
            "{s:?}"
        );
        // The next clean second recovers.
        q.sample([leg(a + 90, 10), leg(a + 100, 0)], ["PCMA", "PCMA"], true);
        assert!(q.now()[0].mos.is_some_and(|m| m > 4.3));
        assert_eq!(q.history(0).len(), 12);
    }

    #[test]
    fn one_way_audio_and_dead_air_after_five_seconds() {
        let mut q = QualityMeter::new();
        let mut a = 0;
        for s in 1..=ONE_WAY_SECS {
            a += 50;
            q.sample([leg(a, 0), leg(0, 0)], ["PCMU", "PCMU"], true);
            assert_eq!(q.flags_now().0, s >= ONE_WAY_SECS, "second {s}");
        }
        assert!(q.summary().one_way);
        // B starts sending: no longer one-way now, but the CDR keeps it.
        q.sample([leg(a + 50, 0), leg(50, 0)], ["PCMU", "PCMU"], true);
        assert_eq!(q.flags_now(), (false, false));
        assert!(q.summary().one_way);
        for _ in 0..ONE_WAY_SECS {
            q.sample([leg(a + 50, 0), leg(50, 0)], ["PCMU", "PCMU"], true);
        }
        assert_eq!(q.flags_now(), (false, true));
        assert!(q.summary().dead_air);
    }

    #[test]
    fn hold_and_ringing_are_not_one_way() {
        let mut q = QualityMeter::new();
        for i in 1..20 {
            q.sample([leg(i * 50, 0), leg(0, 0)], ["PCMU", "PCMU"], false);
        }
        assert_eq!(q.flags_now(), (false, false));
        let s = q.summary();
        assert!(!s.one_way && !s.dead_air);
        assert!(q.leg_avg_mos(1).is_none(), "no audio on B, no MOS");
    }
}

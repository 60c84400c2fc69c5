//! History: roll-ups of calls, quality, registrations and trunk availability per minute, hour
//! and day, globally, per organisation and per trunk.
//!
//! A [`Rollup`] holds sums and maxima only, so roll-ups merge exactly: an hour is the merge of
//! its minutes, a day of its hours, and a call that ends after its minute was written is merged
//! into that minute later. The 5th-percentile MOS comes from a histogram of 0.1-wide bins from
//! 1.0 to 4.5 ([`MOS_BINS`]).

use serde::{Deserialize, Serialize};

/// Bins of the MOS histogram: `[1.0, 1.1)`, … `[4.4, 4.5]`.
pub const MOS_BINS: usize = 35;

/// Minute, hour or day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// 60 s.
    Minuut,
    /// 3600 s.
    Uur,
    /// 86 400 s (UTC days).
    Dag,
}

impl Granularity {
    /// All, finest first.
    pub const ALL: [Granularity; 3] = [Granularity::Minuut, Granularity::Uur, Granularity::Dag];

    /// Length in milliseconds.
    pub fn ms(self) -> u64 {
        match self {
            Granularity::Minuut => 60_000,
            Granularity::Uur => 3_600_000,
            Granularity::Dag => 86_400_000,
        }
    }

    /// The start of the bucket holding `ms`.
    pub fn start(self, ms: u64) -> u64 {
        ms - ms % self.ms()
    }

    /// `minuut`, `uur`, `dag`.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Minuut => "minuut",
            Granularity::Uur => "uur",
            Granularity::Dag => "dag",
        }
    }

    /// Parses [`Granularity::as_str`] (also `minute`, `hour`, `day`).
    pub fn parse(s: &str) -> Option<Granularity> {
        match s {
            "minuut" | "minute" => Some(Granularity::Minuut),
            "uur" | "hour" => Some(Granularity::Uur),
            "dag" | "day" => Some(Granularity::Dag),
            _ => None,
        }
    }

    /// A one-byte tag for store keys.
    pub fn tag(self) -> u8 {
        match self {
            Granularity::Minuut => b'm',
            Granularity::Uur => b'h',
            Granularity::Dag => b'd',
        }
    }
}

/// What happened in one bucket for one scope.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollup {
    /// Calls that started.
    pub started: u64,
    /// Of those, answered.
    pub answered: u64,
    /// Of those, not answered (busy, no answer, refused, failed, cancelled).
    pub failed: u64,
    /// Sum of the answered calls' durations (seconds).
    pub billsec_sum: u64,
    /// Most calls at once seen in the bucket.
    pub peak_calls: u32,
    /// Answered calls with a MOS, and the sum of their MOS in hundredths.
    pub mos_n: u64,
    pub mos_sum_centi: u64,
    /// MOS histogram (see [`MOS_BINS`]); empty when there is no MOS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mos_bins: Vec<u32>,
    /// Most registrations seen in the bucket.
    pub registrations: u32,
    /// Seconds a trunk was seen up, of the seconds it was looked at.
    pub up_secs: u64,
    pub observed_secs: u64,
}

impl Rollup {
    /// An ended call, counted in the bucket of its start.
    pub fn add_call(&mut self, answered: bool, billsec: u64, mos_centi: Option<u32>) {
        self.started += 1;
        if answered {
            self.answered += 1;
            self.billsec_sum += billsec;
        } else {
            self.failed += 1;
        }
        if let Some(m) = mos_centi {
            self.mos_n += 1;
            self.mos_sum_centi += u64::from(m);
            if self.mos_bins.len() != MOS_BINS {
                self.mos_bins = vec![0; MOS_BINS];
            }
            let bin = (m.clamp(100, 450) - 100) / 10;
            let bin = (bin as usize).min(MOS_BINS - 1);
            self.mos_bins[bin] = self.mos_bins[bin].saturating_add(1);
        }
    }

    /// Merges another roll-up of the same scope into this one (sums, maxima, bins).
    pub fn merge(&mut self, o: &Rollup) {
        self.started += o.started;
        self.answered += o.answered;
        self.failed += o.failed;
        self.billsec_sum += o.billsec_sum;
        self.peak_calls = self.peak_calls.max(o.peak_calls);
        self.mos_n += o.mos_n;
        self.mos_sum_centi += o.mos_sum_centi;
        if !o.mos_bins.is_empty() {
            if self.mos_bins.len() != MOS_BINS {
                self.mos_bins = vec![0; MOS_BINS];
            }
            for (a, b) in self.mos_bins.iter_mut().zip(&o.mos_bins) {
                *a = a.saturating_add(*b);
            }
        }
        self.registrations = self.registrations.max(o.registrations);
        self.up_secs += o.up_secs;
        self.observed_secs += o.observed_secs;
    }

    /// Anything in it?
    pub fn is_empty(&self) -> bool {
        *self == Rollup::default()
    }

    /// Answer-seizure ratio in percent (`None` without calls).
    pub fn asr_pct(&self) -> Option<f64> {
        (self.started > 0).then(|| self.answered as f64 * 100.0 / self.started as f64)
    }

    /// Average duration of the answered calls, seconds.
    pub fn avg_duration_secs(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.billsec_sum as f64 / self.answered as f64)
    }

    /// Average MOS.
    pub fn mos_avg(&self) -> Option<f64> {
        (self.mos_n > 0).then(|| self.mos_sum_centi as f64 / 100.0 / self.mos_n as f64)
    }

    /// 5th-percentile MOS: the lower edge of the bin holding the call at the 5 % rank.
    pub fn mos_p5(&self) -> Option<f64> {
        let n: u64 = self.mos_bins.iter().map(|b| u64::from(*b)).sum();
        if n == 0 {
            return None;
        }
        let rank = n.div_ceil(20).max(1);
        let mut seen = 0u64;
        for (i, b) in self.mos_bins.iter().enumerate() {
            seen += u64::from(*b);
            if seen >= rank {
                return Some(1.0 + i as f64 * 0.1);
            }
        }
        None
    }

    /// Share of the observed time a trunk was up, percent.
    pub fn availability_pct(&self) -> Option<f64> {
        (self.observed_secs > 0).then(|| self.up_secs as f64 * 100.0 / self.observed_secs as f64)
    }
}

/// The scope of a roll-up as a store key part: `""` (everything), `org:<slug>`,
/// `trunk:<slug>/<name>`.
pub fn scope_org(slug: &str) -> String {
    format!("org:{slug}")
}

/// See [`scope_org`].
pub fn scope_trunk(slug: &str, trunk: &str) -> String {
    format!("trunk:{slug}/{trunk}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_names() {
        let t = 1_795_310_475_525; // 2026-11-22 01:21:15.525 UTC
        assert_eq!(Granularity::Minuut.start(t), 1_795_310_460_000);
        assert_eq!(Granularity::Uur.start(t) % 3_600_000, 0);
        assert_eq!(Granularity::Dag.start(t) % 86_400_000, 0);
        for g in Granularity::ALL {
            assert_eq!(Granularity::parse(g.as_str()), Some(g));
        }
    }

    #[test]
    fn merging_minutes_gives_the_hour() {
        let mut a = Rollup::default();
        a.add_call(true, 60, Some(439));
        a.add_call(false, 0, None);
        a.peak_calls = 2;
        a.registrations = 5;
        let mut b = Rollup::default();
        b.add_call(true, 120, Some(320));
        b.peak_calls = 1;
        b.registrations = 7;
        b.up_secs = 30;
        b.observed_secs = 60;
        let mut h = Rollup::default();
        h.merge(&a);
        h.merge(&b);
        assert_eq!((h.started, h.answered, h.failed), (3, 2, 1));
        assert_eq!(h.asr_pct().map(|x| (x * 10.0).round()), Some(667.0));
        assert_eq!(h.avg_duration_secs(), Some(90.0));
        assert_eq!(h.peak_calls, 2);
        assert_eq!(h.registrations, 7);
        assert!(h.mos_avg().is_some_and(|m| (m - 3.795).abs() < 1e-9));
        assert_eq!(h.availability_pct(), Some(50.0));
        assert!(Rollup::default().asr_pct().is_none());
        assert!(Rollup::default().is_empty());
    }

    #[test]
    fn fifth_percentile_mos() {
        let mut r = Rollup::default();
        for _ in 0..95 {
            r.add_call(true, 10, Some(440));
        }
        for _ in 0..5 {
            r.add_call(true, 10, Some(250));
        }
        // 100 calls: the 5th worst is in the 2.5 bin.
        assert_eq!(r.mos_p5().map(|m| (m * 10.0).round()), Some(25.0));
        r.add_call(true, 10, Some(440));
        // 101 calls: rank 6 is a 4.4.
        assert_eq!(r.mos_p5().map(|m| (m * 10.0).round()), Some(44.0));
        let mut one = Rollup::default();
        one.add_call(true, 1, Some(999));
        assert_eq!(
            one.mos_p5().map(|m| (m * 10.0).round()),
            Some(44.0),
            "clamped"
        );
    }
}

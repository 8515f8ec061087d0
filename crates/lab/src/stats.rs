//! The verdict of an A/B comparison, from paired samples.
//!
//! `compare` measures A and B alternately, sample by sample, so sample i of A and sample i
//! of B ran next to each other and share whatever the machine was doing then. The
//! statistic works on the paired log-ratios `d_i = ln(b_i / a_i)`:
//!
//! - the estimate is the Hodges-Lehmann estimate, the median of the Walsh averages
//!   `(d_i + d_j) / 2` (i <= j): robust to the occasional slow sample a shared machine
//!   produces, where a mean is not;
//! - the confidence interval is the distribution-free one that goes with it (Wilcoxon's
//!   signed-rank test inverted): order statistics `k` and `N + 1 - k` of the `N = n (n + 1) / 2`
//!   Walsh averages, `k` from the exact signed-rank distribution (normal approximation above
//!   60 pairs). It assumes only that the differences are symmetric about their centre, not
//!   that timings are normal.
//!
//! The verdict needs both a change beyond the user's threshold and an interval that
//! excludes no change: a 1% shift that is real but below the threshold is "no change", and
//! a large estimate on samples too noisy to exclude zero is "inconclusive". Ratios are
//! reported as `exp` of the log figures, so B/A = 2.0 means B took twice as long.

use serde::{Deserialize, Serialize};

/// Measured pairs per benchmark of a compare by default: enough to flag a 5% slowdown in
/// 2-3% noise in most compares (see the tests below).
pub const DEFAULT_SAMPLES: usize = 15;

/// What the comparison says about B relative to A.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// B is slower: the interval lies wholly above 1 and the estimate exceeds 1 + threshold.
    Slower,
    /// B is faster: the interval lies wholly below 1 and the estimate is below 1 / (1 + threshold).
    Faster,
    /// The interval lies within [1 / (1 + threshold), 1 + threshold], or the change is real
    /// but smaller than the threshold.
    NoChange,
    /// Neither: the interval reaches beyond the threshold but does not exclude 1. The
    /// samples are too noisy to tell; more samples (or a quieter machine) would.
    Inconclusive,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Slower => "SLOWER",
            Verdict::Faster => "faster",
            Verdict::NoChange => "no change",
            Verdict::Inconclusive => "inconclusive",
        })
    }
}

/// The comparison of one benchmark.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Pairs of samples.
    pub pairs: usize,
    /// Median seconds of A and of B.
    pub median_a: f64,
    pub median_b: f64,
    /// Estimated B / A (Hodges-Lehmann on the paired log-ratios).
    pub ratio: f64,
    /// Confidence interval of B / A.
    pub ci_low: f64,
    pub ci_high: f64,
    /// Confidence level of the interval (0.95).
    pub confidence: f64,
    /// Threshold the verdict used, as a fraction (0.03 = 3%).
    pub threshold: f64,
    pub verdict: Verdict,
}

/// Why no comparison could be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StatsError {
    #[error("A has {a} samples and B has {b}: a paired comparison needs as many of each")]
    Unpaired { a: usize, b: usize },
    #[error(
        "{pairs} pairs of samples cannot give a {:.0}% interval (at least {min} are needed)",
        confidence * 100.0
    )]
    TooFew {
        pairs: usize,
        min: usize,
        confidence: f64,
    },
    #[error("a sample is not a positive finite number of seconds: {0}")]
    BadSample(f64),
}

/// Smallest number of pairs that gives an interval at `confidence` (two-sided).
pub fn min_pairs(confidence: f64) -> usize {
    (1..=64)
        .find(|&n| rank_index(n, confidence).is_some())
        .unwrap_or(64)
}

/// The 1-based order statistic `k` of the Walsh averages for a two-sided interval at
/// `confidence` with `n` pairs: the largest `k` with `P(T+ <= k - 1) <= (1 - confidence) / 2`
/// under the null (T+ the signed-rank statistic). `None` when no interval exists.
pub fn rank_index(n: usize, confidence: f64) -> Option<usize> {
    let alpha_half = (1.0 - confidence) / 2.0;
    let total = n * (n + 1) / 2;
    if n == 0 {
        return None;
    }
    if n > 60 {
        // Normal approximation with continuity correction.
        let mean = total as f64 / 2.0;
        let sd = ((n * (n + 1) * (2 * n + 1)) as f64 / 24.0).sqrt();
        let z = normal_quantile(1.0 - alpha_half);
        let c = (mean - z * sd - 0.5).floor();
        return (c >= 0.0).then(|| c as usize + 1);
    }
    // counts[s]: sign patterns of ranks 1..=n whose positive ranks sum to s.
    let mut counts = vec![0f64; total + 1];
    counts[0] = 1.0;
    for r in 1..=n {
        for s in (r..=total).rev() {
            counts[s] += counts[s - r];
        }
    }
    let all = 2f64.powi(n as i32);
    let mut cdf = 0.0;
    let mut k = None;
    for (c, count) in counts.iter().enumerate() {
        cdf += count / all;
        if cdf <= alpha_half + 1e-12 {
            k = Some(c + 1);
        } else {
            break;
        }
    }
    k
}

/// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Median of a non-empty list (sorted in place); the one the sweep, compare and history use.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Compares paired samples (seconds; `a[i]` and `b[i]` measured next to each other) with a
/// `threshold` (fraction: 0.03 = 3%) at `confidence` (0.95).
pub fn compare_paired(
    a: &[f64],
    b: &[f64],
    threshold: f64,
    confidence: f64,
) -> Result<Comparison, StatsError> {
    if a.len() != b.len() {
        return Err(StatsError::Unpaired {
            a: a.len(),
            b: b.len(),
        });
    }
    if let Some(&bad) = a.iter().chain(b).find(|x| !(x.is_finite() && **x > 0.0)) {
        return Err(StatsError::BadSample(bad));
    }
    let n = a.len();
    let k = rank_index(n, confidence).ok_or(StatsError::TooFew {
        pairs: n,
        min: min_pairs(confidence),
        confidence,
    })?;
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| (y / x).ln()).collect();
    let mut walsh = Vec::with_capacity(n * (n + 1) / 2);
    for i in 0..n {
        for j in i..n {
            walsh.push((d[i] + d[j]) / 2.0);
        }
    }
    let estimate = median(&mut walsh); // sorts walsh
    let (lo, hi) = (walsh[k - 1], walsh[walsh.len() - k]);
    let t = (1.0 + threshold).ln();
    let verdict = if lo > 0.0 && estimate > t {
        Verdict::Slower
    } else if hi < 0.0 && estimate < -t {
        Verdict::Faster
    } else if (lo >= -t && hi <= t) || lo > 0.0 || hi < 0.0 {
        // Within the threshold, or a real change smaller than it.
        Verdict::NoChange
    } else {
        Verdict::Inconclusive
    };
    Ok(Comparison {
        pairs: n,
        median_a: median(&mut a.to_vec()),
        median_b: median(&mut b.to_vec()),
        ratio: estimate.exp(),
        ci_low: lo.exp(),
        ci_high: hi.exp(),
        confidence,
        threshold,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::{RngCore, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// A standard normal deviate (Box-Muller).
    fn gauss(rng: &mut Xoshiro256PlusPlus) -> f64 {
        let u = |rng: &mut Xoshiro256PlusPlus| {
            ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (u1, u2) = (u(rng), u(rng));
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Realistic timings of a shared machine: log-normal noise of `cv`, a slow drift shared
    /// by neighbouring samples, and 5% of samples slowed by 5-25% (another job stole a core).
    fn timings(
        rng: &mut Xoshiro256PlusPlus,
        n: usize,
        base: f64,
        cv: f64,
        drift: &[f64],
    ) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let mut t = base * (cv * gauss(rng)).exp() * drift[i];
                if rng.next_u64() % 100 < 5 {
                    t *= 1.05 + 0.2 * (rng.next_u64() % 1000) as f64 / 1000.0;
                }
                t
            })
            .collect()
    }

    /// Fraction of `trials` comparisons of B = shift x A whose verdict is slower or faster.
    fn alarm_rate(seed: u64, trials: usize, pairs: usize, cv: f64, shift: f64) -> (f64, f64) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let (mut slower, mut faster) = (0, 0);
        for _ in 0..trials {
            // Drift: the machine's speed wanders by a few percent over the compare.
            let mut level = 1.0;
            let drift: Vec<f64> = (0..pairs)
                .map(|_| {
                    level *= (0.01 * gauss(&mut rng)).exp();
                    level
                })
                .collect();
            let a = timings(&mut rng, pairs, 1.0, cv, &drift);
            let b = timings(&mut rng, pairs, shift, cv, &drift);
            match compare_paired(&a, &b, 0.03, 0.95).unwrap().verdict {
                Verdict::Slower => slower += 1,
                Verdict::Faster => faster += 1,
                _ => {}
            }
        }
        (slower as f64 / trials as f64, faster as f64 / trials as f64)
    }

    #[test]
    fn exact_signed_rank_indices_match_the_tables() {
        // Two-sided 95% critical values of the signed-rank test (n: T <= c rejects) are
        // 0 (n=6), 2 (n=7), 3 (8), 5 (9), 8 (10), 25 (15), 52 (20); k = c + 1.
        for (n, c) in [(6, 0), (7, 2), (8, 3), (9, 5), (10, 8), (15, 25), (20, 52)] {
            assert_eq!(rank_index(n, 0.95), Some(c + 1), "n = {n}");
        }
        assert_eq!(rank_index(5, 0.95), None);
        assert_eq!(min_pairs(0.95), 6);
        // The normal approximation continues the exact values smoothly.
        let exact = rank_index(60, 0.95).unwrap();
        let approx = rank_index(61, 0.95).unwrap();
        assert!(approx >= exact && approx <= exact + 40, "{exact} {approx}");
    }

    #[test]
    fn estimate_and_interval_of_a_known_sample() {
        let a = [1.0; 8];
        let b: Vec<f64> = [0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07]
            .iter()
            .map(|x: &f64| x.exp())
            .collect();
        let c = compare_paired(&a, &b, 0.03, 0.95).unwrap();
        assert!((c.ratio.ln() - 0.035).abs() < 1e-12, "{}", c.ratio);
        // k = 4 for n = 8: Walsh averages are (i + j) / 200 for i <= j, so the 4th smallest
        // is 0.01 (0+2 and 1+1 tie) and the 4th largest 0.06.
        assert!((c.ci_low.ln() - 0.01).abs() < 1e-12);
        assert!((c.ci_high.ln() - 0.06).abs() < 1e-12);
        assert_eq!(c.verdict, Verdict::Slower);
        assert_eq!(c.median_a, 1.0);
    }

    #[test]
    fn verdicts_at_the_edges() {
        let a = [1.0; 10];
        let up = |r: f64| vec![r; 10];
        assert_eq!(
            compare_paired(&a, &up(2.0), 0.03, 0.95).unwrap().verdict,
            Verdict::Slower
        );
        assert_eq!(
            compare_paired(&a, &up(0.5), 0.03, 0.95).unwrap().verdict,
            Verdict::Faster
        );
        // A real 1% change is below a 3% threshold.
        assert_eq!(
            compare_paired(&a, &up(1.01), 0.03, 0.95).unwrap().verdict,
            Verdict::NoChange
        );
        // Wild noise around no change cannot exclude a 3% change either way.
        let noisy: Vec<f64> = (0..10)
            .map(|i| if i % 2 == 0 { 1.3 } else { 0.75 })
            .collect();
        assert_eq!(
            compare_paired(&a, &noisy, 0.03, 0.95).unwrap().verdict,
            Verdict::Inconclusive
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(matches!(
            compare_paired(&[1.0; 6], &[1.0; 5], 0.03, 0.95),
            Err(StatsError::Unpaired { .. })
        ));
        assert!(matches!(
            compare_paired(&[1.0; 5], &[1.0; 5], 0.03, 0.95),
            Err(StatsError::TooFew { min: 6, .. })
        ));
        assert!(matches!(
            compare_paired(&[1.0, 0.0, 1.0, 1.0, 1.0, 1.0], &[1.0; 6], 0.03, 0.95),
            Err(StatsError::BadSample(_))
        ));
        assert!(matches!(
            compare_paired(&[f64::NAN; 6], &[1.0; 6], 0.03, 0.95),
            Err(StatsError::BadSample(_))
        ));
    }

    #[test]
    fn a_five_percent_slowdown_in_realistic_noise_is_flagged() {
        // compare's defaults: 15 pairs, 3% threshold; 2% and 3% noise. (Measured with these
        // seeds: 91% and 83%; with 10 pairs it would be 73% and 65%, with 20, 98% and 94%.)
        for (cv, seed, power) in [(0.02, 1, 0.85), (0.03, 2, 0.75)] {
            let (slower, faster) = alarm_rate(seed, 2000, DEFAULT_SAMPLES, cv, 1.05);
            assert!(
                slower >= power,
                "cv {cv}: flagged in only {:.1}% of trials",
                slower * 100.0
            );
            assert_eq!(faster, 0.0, "cv {cv}");
        }
    }

    #[test]
    fn identical_distributions_rarely_raise_an_alarm() {
        for (cv, seed) in [(0.01, 3), (0.03, 4), (0.08, 5)] {
            let (slower, faster) = alarm_rate(seed, 5000, DEFAULT_SAMPLES, cv, 1.0);
            assert!(
                slower + faster < 0.05,
                "cv {cv}: false alarms in {:.2}% of trials",
                (slower + faster) * 100.0
            );
        }
    }
}

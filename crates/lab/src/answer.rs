//! The sweep's answer: per workload, every configuration in one of three sets, the answer
//! in the tutorial's order (the kind of parallelism first, then the library), and what to
//! avoid with how much slower it is. Written to `DIR/recommendation.json` by the sweep
//! and summarised in `summary.md`.
//!
//! **Why three sets.** A single tie set ("every configuration the measurements cannot tell
//! from the best") has one edge, and where a dozen configurations lie within a few percent
//! of each other, configurations sit on that edge and fall either side of it from one
//! sweep to the next (`results/2026-11-26-xeon-quiet-2cpu-sweeps`). So the answer makes
//! only claims the measurements support, and says where they support none:
//!
//! - **as fast** (`tie_set`): surely within the margin of the fastest configuration;
//! - **slower**: surely slower than the fastest by more than the margin;
//! - **undecided**: neither claim holds with the measurements taken; each with its
//!   estimate, its interval and about how many more runs would decide it.
//!
//! A configuration whose true speed is near the margin lands in "undecided" whatever the
//! draw, instead of flipping between "tied" and "not tied"; a repeated sweep may decide
//! more or fewer configurations (more runs narrow the intervals), but a claim one sweep
//! makes at the stated level the next contradicts only at that level (tested below on
//! seeded repeated sweeps).
//!
//! **Method: a bootstrap of medians with the workload's pooled noise.** A sweep measures
//! each configuration a few times (1 to 6 when racing), too few pairs for the signed-rank
//! interval `compare` uses (at least 6), and configurations measured around the best ran
//! in other rounds than the grid, so repeats do not pair across configurations. A
//! configuration's own 2 or 3 values also say little about its noise: two configurations
//! of the same speed measured 3 times each have ranges that do not overlap in 1 case of
//! 10, and resampling each one's own values would then call them different every time.
//! So the noise is the workload's: every configuration measured at least twice gives its
//! relative residuals, `1 + (x - mean) / mean`, scaled by `sqrt(n / (n - 1))` (the usual
//! small-sample correction of residuals around a mean of `n`), into one pool; in each of
//! [`RESAMPLES`] = 2000 rounds, each configuration draws as many residuals as it has
//! measurements, multiplies its median by each, and takes the median of those: its
//! resampled median, spread as the workload's noise is and narrowing as its measurements
//! grow. The seed is fixed ([`SEED`]), so the same rows always give the same answer.
//! With no configuration measured twice there is no noise to go by (every resample is
//! the median itself): then nothing is claimed, every configuration is undecided (the
//! answer says so through `min_runs`).
//!
//! **The claims: compare's trust rule on the bootstrap's interval.** In each round, each
//! configuration's ratio to that round's resample of the best (the configuration of the
//! lowest measured median: the reference, as fast as itself) gives a distribution; its
//! interval `[ratio_low, ratio_high]` is from its `alpha` and `1 - alpha` quantiles,
//! `alpha = (1 - LEVEL) / 2`: compare's 95% interval. As `compare` only calls a change
//! when that interval lies wholly beyond the threshold, a configuration is **as fast**
//! when `ratio_high <= 1 + margin`, **slower** when `ratio_low > 1 + margin`,
//! **undecided** when the interval contains `1 + margin`. Each claim is made at 95%; how
//! often they all hold at once is the **confidence** below, reported rather than forced
//! to 95%: a Bonferroni level over the 50-odd configurations of a sweep asked for the
//! 0.05% quantile of 2000 rounds (their extreme), and with a round's fastest as the
//! reference (the minimum of many noisy medians, below every configuration's own) no
//! configuration of a real sweep on a 2-CPU VM was ever "as fast", and BLAS threads 14%
//! slower stayed "undecided" (first version of the three sets, this session).
//!
//! - **best**: the configuration with the lowest median seconds (in "as fast" or
//!   "undecided", never "slower").
//! - **confidence**: the share of bootstrap rounds in which every claim of the answer held
//!   at once (every "as fast" configuration within the margin of the round's fastest, every
//!   "slower" one beyond it); 1 when nothing is claimed. **winner_in_set**: the share of
//!   rounds whose fastest configuration was "as fast" or "undecided" (not "slower").
//! - **kinds**: the answer to "tasks, BLAS threads, or both?": each kind of parallelism
//!   with a configuration "as fast"; **undecided_kinds** those with one "undecided" and
//!   none "as fast"; **avoid**: each kind and each library all of whose configurations are
//!   "slower", with its fastest configuration and how many times slower than the best it is.

use crate::stats::median;
use crate::summary::{Row, Summary, summarise};
use blaspar_core::kind::Kind;
use blaspar_core::operation::Operation;
use blaspar_core::workload::Generation;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// Bootstrap rounds per workload.
pub const RESAMPLES: usize = 2000;
/// The level of each claim of an answer: compare's 95%
/// ([`crate::compare::CONFIDENCE`]).
pub const LEVEL: f64 = crate::compare::CONFIDENCE;
/// The default equivalence margin: a configuration at most this much slower than the
/// fastest (median over median) counts as as fast as it (`sweep --margin`).
pub const MARGIN: f64 = 0.02;
/// Each tail of a claim's interval: its ends are the `ALPHA` and `1 - ALPHA` quantiles.
const ALPHA: f64 = (1.0 - LEVEL) / 2.0;
/// Seed of the bootstrap: the same rows give the same answer.
pub const SEED: u64 = 0x7469_6573_6574_0001;
/// Version of `recommendation.json`.
pub const SCHEMA_VERSION: u32 = 3;

/// `DIR/recommendation.json`: the sweep's answer for every workload it measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Version of this file's layout (3: three sets, `tie_set` is the "as fast" one and
    /// `confidence` that of every claim together; 2: one tie set, `confidence` its
    /// separation from the rest; 1 called `winner_in_set` `confidence`).
    pub schema_version: u32,
    /// How the sets and the confidences were computed, in words, with the parameters.
    pub method: String,
    /// Bootstrap rounds per workload.
    pub resamples: usize,
    /// The level of each claim of a workload's answer (0.95; files written before version
    /// 3: 0).
    #[serde(default)]
    pub level: f64,
    /// The equivalence margin: "as fast as the fastest" means at most this much slower
    /// (0.02: 2%). Files written before it existed read as 0.
    #[serde(default)]
    pub margin: f64,
    /// What each task computed (files written before it existed: gemm).
    #[serde(default)]
    pub operation: Operation,
    /// One answer per workload, ordered by matrix size, then task count.
    pub workloads: Vec<Answer>,
}

/// Where a configuration stands against the fastest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// Surely within the margin of the fastest: `ratio_high <= 1 + margin`.
    AsFast,
    /// Neither claim holds with the measurements taken (files before version 3: every
    /// configuration).
    #[default]
    Undecided,
    /// Surely slower than the fastest by more than the margin: `ratio_low > 1 + margin`.
    Slower,
}

impl Standing {
    /// The set's name in the summary and advise.
    pub fn name(self) -> &'static str {
        match self {
            Standing::AsFast => "as fast",
            Standing::Undecided => "undecided",
            Standing::Slower => "slower",
        }
    }
}

/// The answer for one workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// Independent tasks (matrix products) of the workload.
    pub tasks: usize,
    /// Order n of its n x n matrices.
    pub size: usize,
    /// The fastest configuration measured (lowest median seconds).
    pub best: Choice,
    /// The "as fast" set: every configuration surely within the margin of the fastest,
    /// fastest first. Empty when the measurements show none to be (configurations of
    /// equal speed in noise too large for the margin: they are all undecided).
    pub tie_set: Vec<Choice>,
    /// The undecided configurations, fastest first: neither as fast nor slower for sure.
    #[serde(default)]
    pub undecided: Vec<Choice>,
    /// The "slower" set, fastest first: surely slower than the fastest by more than the
    /// margin.
    #[serde(default)]
    pub slower: Vec<Choice>,
    /// Share of bootstrap rounds in which every claim of this answer held at once: every
    /// "as fast" configuration within the margin of the round's fastest, every "slower"
    /// one beyond it (1 when nothing is claimed). The claims are made at a level that
    /// keeps it at about `level` or above.
    pub confidence: f64,
    /// Share of bootstrap rounds whose fastest configuration was "as fast" or "undecided"
    /// (the claim "nothing slower is the fastest").
    #[serde(default)]
    pub winner_in_set: f64,
    /// The answer to "tasks, BLAS threads, or both?": each kind of parallelism with a
    /// configuration "as fast", with those libraries, in the order of their fastest.
    pub kinds: Vec<KindAnswer>,
    /// Kinds with an "undecided" configuration and none "as fast", with the libraries of
    /// those configurations: what more measurement could add to `kinds`.
    #[serde(default)]
    pub undecided_kinds: Vec<KindAnswer>,
    /// Share of bootstrap rounds whose fastest configuration is of a kind in `kinds` or
    /// `undecided_kinds` (none of the kinds to avoid).
    pub kind_confidence: f64,
    /// Each kind of parallelism and each library all of whose configurations are
    /// "slower", most costly first.
    pub avoid: Vec<Avoid>,
    /// The fastest "slower" configuration (`null` when none is): what `blaspar check`
    /// measures the best against, to test the claim on fresh runs.
    #[serde(default)]
    pub first_outside: Option<Choice>,
    /// The slowest configuration measured, against the best.
    pub slowest: Choice,
    /// The fewest measurements of any configuration here.
    pub min_runs: usize,
    /// Configurations measured for this workload.
    pub configurations: usize,
    /// The workload's run-to-run noise and what it lets the sweep tell apart (`null` when
    /// no configuration was measured twice, and in files written before it existed).
    #[serde(default)]
    pub noise: Option<Noise>,
}

/// A workload's run-to-run noise: how far one run of a configuration lies from its mean,
/// and so how close two configurations can be for the sweep still to tell them apart.
/// Where that is wider than the margin, no configuration can be claimed "as fast" in the
/// runs a race gives it, and repeated sweeps move configurations between "undecided" and
/// "slower": the machine is too noisy for the margin (another load shares its CPUs, or a
/// VM's neighbours its caches), and the summary says so.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    /// How far one run typically lies from its configuration's mean, relative: the median
    /// of the bootstrap's pooled residuals' distances from 1 ([`pooled_residuals`]); half
    /// the runs lie closer (e.g. 0.05: within 5%). A median, not a standard deviation, so
    /// that a few runs disturbed far off do not make it.
    pub spread: f64,
    /// Runs in the pool.
    pub runs: usize,
    /// Configurations measured at least twice, whose runs the pool holds.
    pub configurations: usize,
    /// The most runs of one configuration here: what `resolution` is for.
    pub at_runs: usize,
    /// The half-width of the interval (at [`LEVEL`]) of the ratio of two configurations
    /// of equal speed, `at_runs` runs each, as the bootstrap resamples them (each one's
    /// median of as many residuals from the pool): the closest two configurations can be
    /// for these runs to tell them apart.
    pub resolution: f64,
}

impl Noise {
    /// The pooled noise of `samples` (seconds per configuration); `None` when no
    /// configuration has two.
    pub fn of(samples: &[Vec<f64>]) -> Option<Noise> {
        let configurations = samples.iter().filter(|v| v.len() >= 2).count();
        if configurations == 0 {
            return None;
        }
        let pool = pooled_residuals(samples);
        let spread = median(&mut pool.iter().map(|r| (r - 1.0).abs()).collect::<Vec<_>>());
        let at_runs = samples.iter().map(Vec::len).max().unwrap_or(1);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
        let mut draw = Vec::with_capacity(at_runs);
        let mut resample = |rng: &mut Xoshiro256PlusPlus| {
            draw.clear();
            draw.extend((0..at_runs).map(|_| pool[rng.random_range(0..pool.len())]));
            median(&mut draw)
        };
        let mut ratios: Vec<f64> = (0..RESAMPLES)
            .map(|_| resample(&mut rng) / resample(&mut rng))
            .collect();
        ratios.sort_by(f64::total_cmp);
        let at = |q: f64| quantile(&ratios, q);
        Some(Noise {
            spread,
            runs: pool.len(),
            configurations,
            at_runs,
            resolution: (at(1.0 - ALPHA) - at(ALPHA)) / 2.0,
        })
    }

    /// Whether these runs can tell configurations apart at `margin`: the resolution is
    /// within it.
    pub fn quiet_for(&self, margin: f64) -> bool {
        self.resolution <= margin
    }

    /// One line for the end of a sweep: the noise, its resolution and the verdict.
    pub fn line(&self, margin: f64) -> String {
        let verdict = if self.quiet_for(margin) {
            format!("quiet enough for the {:.1}% margin", 100.0 * margin)
        } else {
            format!(
                "too noisy for the {:.1}% margin (about {} runs each would do)",
                100.0 * margin,
                self.runs_for(margin)
            )
        };
        format!(
            "half the runs within {:.1}% of their mean; ±{:.1}% between two configurations of {} runs; {verdict}",
            100.0 * self.spread,
            100.0 * self.resolution,
            self.at_runs
        )
    }

    /// About how many runs of each of two configurations of equal speed narrow their
    /// interval to `margin` (an interval narrows as one over the square root of the runs):
    /// what a claim "as fast, within the margin" needs.
    pub fn runs_for(&self, margin: f64) -> usize {
        ((self.at_runs as f64 * (self.resolution / margin).powi(2)).ceil() as usize).max(1)
    }
}

impl Answer {
    /// What to advise: every configuration not surely slower, the "as fast" ones first
    /// (the best first among them), then the undecided ones, fastest first. Where the
    /// noise is wider than the margin the best is "as fast" alone, and which configuration
    /// that is, is the luck of the draw; the undecided ones are those the measurements
    /// cannot tell from it, and a program on another library gets its fastest of them.
    /// Each with its set (by the list it is in, so that files before version 3, whose
    /// choices carry no standing, read right).
    pub fn advised(&self) -> Vec<(&Choice, Standing)> {
        let as_fast = self.tie_set.iter().map(|c| (c, Standing::AsFast));
        as_fast
            .chain(self.undecided.iter().map(|c| (c, Standing::Undecided)))
            .collect()
    }
}

/// One measured configuration, as the answer names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The library (backend name of the registry).
    pub backend: String,
    /// The strategy's text form (`threads-2`, `hybrid-procs-2x4`).
    pub strategy: String,
    /// Who generated the data (serial: the worker's thread; parallel: as many threads as
    /// it has BLAS threads).
    pub generation: Generation,
    /// Its kind of parallelism (`null` for a strategy this version does not know).
    pub kind: Option<Kind>,
    /// Measurements behind it.
    pub runs: usize,
    /// Median seconds of the timed run.
    pub median_seconds: f64,
    /// Median GFLOP/s (data generation included).
    pub gflops: f64,
    /// Its median over the best's median (1 for the best): the estimate.
    pub slower_than_best: f64,
    /// Share of bootstrap rounds in which it was the fastest configuration.
    pub fastest_in: f64,
    /// Share of bootstrap rounds in which it was within the margin of that round's
    /// fastest configuration (files before version 3: of the best's).
    pub as_fast_as_best: f64,
    /// Its set.
    #[serde(default)]
    pub standing: Standing,
    /// The interval of its ratio to the best (the reference), at the answer's level:
    /// as fast when `ratio_high <= 1 + margin`, slower when `ratio_low > 1 + margin`.
    #[serde(default)]
    pub ratio_low: f64,
    #[serde(default)]
    pub ratio_high: f64,
    /// For an undecided configuration: about how many more runs of it would narrow its
    /// interval enough to decide it (the interval shrinks as one over the square root of
    /// the runs; measured from the median of its ratio to the fastest towards the margin);
    /// `null` when decided, or when it sits so close to the margin that a hundred times
    /// its runs would not.
    #[serde(default)]
    pub more_runs: Option<usize>,
}

/// A kind of parallelism of the answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindAnswer {
    /// The kind (`null` for strategies this version does not know).
    pub kind: Option<Kind>,
    /// The kind in words.
    pub description: String,
    /// The libraries with a configuration of this kind in the set, fastest first.
    pub libraries: Vec<String>,
}

/// Something to avoid: a kind of parallelism or a library all of whose configurations
/// are "slower".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Avoid {
    /// `kind` or `library`.
    pub what: AvoidWhat,
    /// The kind's name (`sequential`, `blas-threads`, ...) or the library's.
    pub name: String,
    /// Its fastest configuration.
    pub fastest: Choice,
    /// How many times slower than the best that configuration is (median over median).
    pub factor: f64,
}

/// What an [`Avoid`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AvoidWhat {
    Kind,
    Library,
}

/// The answer for every workload of `rows` (refused rows carry no measurement).
/// `margin` is the equivalence margin ([`MARGIN`] by default).
pub fn recommend(rows: &[Row], margin: f64) -> Recommendation {
    let sums = summarise(rows);
    let workloads = crate::summary::workloads(&sums);
    Recommendation {
        schema_version: SCHEMA_VERSION,
        method: method(margin),
        resamples: RESAMPLES,
        level: LEVEL,
        margin,
        operation: rows.first().map(|r| r.operation).unwrap_or_default(),
        workloads: workloads
            .into_iter()
            .filter_map(|(t, n)| answer(rows, &sums, t, n, margin))
            .collect(),
    }
}

/// The method in words, for the file and the summary.
pub fn method(margin: f64) -> String {
    format!(
        "bootstrap of medians with the workload's pooled noise: {RESAMPLES} rounds per \
         workload (seed {SEED:#x}); in each, every configuration's median times as many \
         relative residuals as it has measurements, drawn from the pool of the workload's \
         configurations measured at least twice (1 + (x - mean) / mean, scaled by \
         sqrt(n / (n - 1))), and the median of those; each configuration's ratio to the \
         round's resample of the best (the lowest measured median) gives an interval, from \
         its alpha and 1 - alpha quantiles with alpha = {:.3} / 2, each claim at {:.0}%; \
         as fast: the interval lies within a margin of {:.1}% (at most {:.3}); \
         slower: it lies wholly beyond; undecided: it contains {:.3} (compare's rule: a \
         claim only when the interval lies wholly on one side); confidence: share of rounds \
         in which every claim held at once; noise: the median distance of the pooled \
         residuals from 1, and its resolution: the half-width of the interval of the ratio \
         of two medians of as many draws from the pool as the most runs of a configuration",
        1.0 - LEVEL,
        100.0 * LEVEL,
        100.0 * margin,
        1.0 + margin,
        1.0 + margin,
    )
}

/// The `q` quantile of `sorted` (ascending, not empty): its value at index `q n`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((q * sorted.len() as f64) as usize).min(sorted.len() - 1)]
}

/// The seconds of every measurement of a summary's configuration.
fn samples(rows: &[Row], s: &Summary) -> Vec<f64> {
    rows.iter()
        .filter(|r| {
            r.backend == s.backend && r.strategy == s.strategy && r.generation == s.generation
        })
        .filter_map(|r| r.record.as_ref())
        .filter(|rec| (rec.tasks, rec.size) == (s.tasks, s.size))
        .map(|rec| rec.seconds_total)
        .collect()
}

/// The workload's noise: the relative residuals of every configuration measured at least
/// twice, `1 + (x - mean) / mean` scaled by `sqrt(n / (n - 1))`; `[1.0]` (no noise) when
/// none was.
fn pooled_residuals(samples: &[Vec<f64>]) -> Vec<f64> {
    let mut pool: Vec<f64> = samples
        .iter()
        .filter(|v| v.len() >= 2)
        .flat_map(|v| {
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let scale = (n / (n - 1.0)).sqrt();
            v.iter().map(move |x| 1.0 + scale * (x - mean) / mean)
        })
        .collect();
    if pool.is_empty() {
        pool.push(1.0);
    }
    pool
}

/// The bootstrap of one workload: per round, every configuration's resampled median
/// (`medians[round][configuration]`).
pub struct Bootstrap {
    pub medians: Vec<Vec<f64>>,
    /// Each configuration's measured median (the centre its resamples spread around).
    pub centres: Vec<f64>,
    /// Whether some configuration was measured twice or more: without, there is no noise
    /// to go by and no claim is made.
    pub noise: bool,
}

/// One configuration's judgement: its set, its interval against the fastest and the share
/// of rounds within the margin of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Judgement {
    pub standing: Standing,
    pub ratio_low: f64,
    pub ratio_high: f64,
    /// The median of its ratio to the round's fastest.
    pub ratio_median: f64,
    pub within: f64,
}

impl Bootstrap {
    /// [`RESAMPLES`] rounds over configurations' samples (seconds), from [`SEED`]: each
    /// configuration's median times as many residuals from the workload's pool as it has
    /// samples, and the median of those.
    pub fn run(samples: &[Vec<f64>]) -> Bootstrap {
        let residuals = pooled_residuals(samples);
        let noise = samples.iter().any(|v| v.len() >= 2);
        let centres: Vec<f64> = samples.iter().map(|v| median(&mut v.clone())).collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
        let mut draw = Vec::new();
        let medians = (0..RESAMPLES)
            .map(|_| {
                samples
                    .iter()
                    .zip(&centres)
                    .map(|(v, &m)| {
                        draw.clear();
                        draw.extend(
                            (0..v.len())
                                .map(|_| m * residuals[rng.random_range(0..residuals.len())]),
                        );
                        median(&mut draw)
                    })
                    .collect()
            })
            .collect();
        Bootstrap {
            medians,
            centres,
            noise,
        }
    }

    /// The reference of `among`: its configuration of the lowest measured median.
    fn reference(&self, among: &[usize]) -> Option<usize> {
        among
            .iter()
            .copied()
            .min_by(|&a, &b| self.centres[a].total_cmp(&self.centres[b]))
    }

    /// Share of rounds that satisfy `test`.
    fn share(&self, test: impl Fn(&[f64]) -> bool) -> f64 {
        self.medians.iter().filter(|m| test(m)).count() as f64 / self.medians.len() as f64
    }

    /// Per round, each configuration's ratio to the round's resample of the best of `among`
    /// (its lowest measured median; `ratios[configuration][round]`).
    fn ratios(&self, among: &[usize]) -> Vec<Vec<f64>> {
        let n = self.medians.first().map_or(0, Vec::len);
        let Some(best) = self.reference(among) else {
            return vec![Vec::new(); n];
        };
        let fastest: Vec<f64> = self.medians.iter().map(|m| m[best]).collect();
        (0..n)
            .map(|c| {
                self.medians
                    .iter()
                    .zip(&fastest)
                    .map(|(m, f)| m[c] / f)
                    .collect()
            })
            .collect()
    }

    /// Each configuration's judgement against the best of `among` (every configuration of
    /// the workload in the answer; the contenders in the race), with `margin`.
    pub fn judge(&self, among: &[usize], margin: f64) -> Vec<Judgement> {
        let limit = 1.0 + margin;
        self.ratios(among)
            .into_iter()
            .map(|mut r| {
                let within = r.iter().filter(|&&x| x <= limit).count() as f64 / r.len() as f64;
                r.sort_by(f64::total_cmp);
                let at = |q: f64| quantile(&r, q);
                let (ratio_low, ratio_high, ratio_median) = (at(ALPHA), at(1.0 - ALPHA), at(0.5));
                // With no noise to go by, the intervals are points: no claim rests on them
                // (but a configuration alone is the fastest).
                let standing = if !self.noise && among.len() > 1 {
                    Standing::Undecided
                } else if ratio_high <= limit {
                    Standing::AsFast
                } else if ratio_low > limit {
                    Standing::Slower
                } else {
                    Standing::Undecided
                };
                Judgement {
                    standing,
                    ratio_low,
                    ratio_high,
                    ratio_median,
                    within,
                }
            })
            .collect()
    }

    /// The winner (fastest configuration) of each round.
    fn winners(&self) -> Vec<usize> {
        self.medians
            .iter()
            .map(|m| {
                (0..m.len())
                    .min_by(|&a, &b| m[a].total_cmp(&m[b]))
                    .unwrap_or(0)
            })
            .collect()
    }

    /// Share of rounds in which every claim held at once: each "as fast" configuration
    /// within `margin` of the round's resample of the best, each "slower" one beyond it.
    pub fn all_claims_hold(&self, standing: &[Standing], margin: f64) -> f64 {
        let all: Vec<usize> = (0..self.centres.len()).collect();
        let Some(best) = self.reference(&all) else {
            return 1.0;
        };
        self.share(|m| {
            let limit = (1.0 + margin) * m[best];
            standing.iter().zip(m).all(|(s, &x)| match s {
                Standing::AsFast => x <= limit,
                Standing::Slower => x > limit,
                Standing::Undecided => true,
            })
        })
    }
}

/// About how many more runs would decide an undecided configuration of `runs` runs: its
/// interval must shrink until the end on the margin's side passes the margin (`high` below
/// `1 + margin` when its median ratio is within it, else `low` above), and an interval
/// shrinks as one over the square root of the runs (log scale). `None` when that needs
/// more than a hundred times the runs (it sits on the margin).
fn more_runs(runs: usize, j: &Judgement, margin: f64) -> Option<usize> {
    let (centre, edge) = (j.ratio_median.ln(), (1.0 + margin).ln());
    let (reach, distance) = if centre <= edge {
        (j.ratio_high.ln() - centre, edge - centre)
    } else {
        (centre - j.ratio_low.ln(), centre - edge)
    };
    let factor = (reach / distance).powi(2);
    (factor.is_finite() && factor <= 100.0).then(|| {
        ((runs.max(1) as f64 * factor).ceil() as usize)
            .saturating_sub(runs)
            .max(1)
    })
}

/// The kinds of `set` (in its order), each with its libraries.
fn kinds_of<'a>(set: impl Iterator<Item = &'a Choice>) -> Vec<KindAnswer> {
    let mut kinds: Vec<KindAnswer> = Vec::new();
    for c in set {
        let at = match kinds.iter().position(|k| k.kind == c.kind) {
            Some(at) => at,
            None => {
                kinds.push(KindAnswer {
                    kind: c.kind,
                    description: c
                        .kind
                        .map_or("a strategy this version does not know", Kind::describe)
                        .to_string(),
                    libraries: Vec::new(),
                });
                kinds.len() - 1
            }
        };
        if !kinds[at].libraries.contains(&c.backend) {
            kinds[at].libraries.push(c.backend.clone());
        }
    }
    kinds
}

/// The answer for one workload; `None` when nothing was measured there.
fn answer(rows: &[Row], all: &[Summary], tasks: usize, size: usize, margin: f64) -> Option<Answer> {
    // summarise sorts fastest first: index 0 is the best.
    let sums: Vec<&Summary> = all
        .iter()
        .filter(|s| (s.tasks, s.size) == (tasks, size))
        .collect();
    let best = *sums.first()?;
    let samples: Vec<Vec<f64>> = sums.iter().map(|s| samples(rows, s)).collect();
    let boot = Bootstrap::run(&samples);
    let winners = boot.winners();
    let everyone: Vec<usize> = (0..sums.len()).collect();
    let judged = boot.judge(&everyone, margin);
    let share = |n: usize| n as f64 / winners.len() as f64;
    let choices: Vec<Choice> = sums
        .iter()
        .zip(&judged)
        .enumerate()
        .map(|(i, (s, j))| Choice {
            backend: s.backend.clone(),
            strategy: s.strategy.clone(),
            generation: s.generation,
            kind: Kind::of_text(&s.strategy),
            runs: s.runs,
            median_seconds: s.median_seconds,
            gflops: s.median_gflops,
            slower_than_best: s.median_seconds / best.median_seconds,
            fastest_in: share(winners.iter().filter(|&&w| w == i).count()),
            as_fast_as_best: j.within,
            standing: j.standing,
            ratio_low: j.ratio_low,
            ratio_high: j.ratio_high,
            // With no noise to go by (nothing measured twice) there is no estimate.
            more_runs: (j.standing == Standing::Undecided && boot.noise)
                .then(|| more_runs(s.runs, j, margin))
                .flatten(),
        })
        .collect();
    let set = |s: Standing| -> Vec<Choice> {
        choices
            .iter()
            .filter(|c| c.standing == s)
            .cloned()
            .collect()
    };
    let (as_fast, undecided, slower) = (
        set(Standing::AsFast),
        set(Standing::Undecided),
        set(Standing::Slower),
    );
    let kinds = kinds_of(as_fast.iter());
    let undecided_kinds: Vec<KindAnswer> = kinds_of(undecided.iter())
        .into_iter()
        .filter(|u| !kinds.iter().any(|k| k.kind == u.kind))
        .collect();
    let standing: Vec<Standing> = choices.iter().map(|c| c.standing).collect();
    let not_slower = |w: usize| standing[w] != Standing::Slower;
    let open_kind = |w: usize| {
        kinds
            .iter()
            .chain(&undecided_kinds)
            .any(|k| k.kind == choices[w].kind)
    };
    Some(Answer {
        tasks,
        size,
        best: choices[0].clone(),
        confidence: boot.all_claims_hold(&standing, margin),
        winner_in_set: share(winners.iter().filter(|&&w| not_slower(w)).count()),
        kind_confidence: share(winners.iter().filter(|&&w| open_kind(w)).count()),
        avoid: avoid(&choices),
        first_outside: slower.first().cloned(),
        slowest: choices[choices.len() - 1].clone(),
        min_runs: sums.iter().map(|s| s.runs).min().unwrap_or(0),
        configurations: sums.len(),
        noise: Noise::of(&samples),
        tie_set: as_fast,
        undecided,
        slower,
        kinds,
        undecided_kinds,
    })
}

/// Each kind and each library all of whose configurations are "slower", with its fastest
/// configuration (`choices` is fastest first), most costly first.
fn avoid(choices: &[Choice]) -> Vec<Avoid> {
    let mut out: Vec<Avoid> = Vec::new();
    for c in choices {
        let kind_all_slower = choices
            .iter()
            .filter(|o| o.kind == c.kind)
            .all(|o| o.standing == Standing::Slower);
        if kind_all_slower
            && !out
                .iter()
                .any(|a| a.what == AvoidWhat::Kind && a.fastest.kind == c.kind)
        {
            out.push(Avoid {
                what: AvoidWhat::Kind,
                name: c.kind.map_or("unknown", Kind::name).to_string(),
                fastest: c.clone(),
                factor: c.slower_than_best,
            });
        }
    }
    for c in choices {
        let library_all_slower = choices
            .iter()
            .filter(|o| o.backend == c.backend)
            .all(|o| o.standing == Standing::Slower);
        if library_all_slower
            && !out
                .iter()
                .any(|a| a.what == AvoidWhat::Library && a.name == c.backend)
        {
            out.push(Avoid {
                what: AvoidWhat::Library,
                name: c.backend.clone(),
                fastest: c.clone(),
                factor: c.slower_than_best,
            });
        }
    }
    out.sort_by(|a, b| b.factor.total_cmp(&a.factor));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::test_rows as rows;
    use rand::Rng;

    /// `n` samples around `centre` with relative noise `noise` (uniform), fixed seed.
    fn noisy(centre: f64, noise: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n)
            .map(|_| centre * (1.0 + noise * (2.0 * rng.random::<f64>() - 1.0)))
            .collect()
    }

    fn names(set: &[Choice]) -> Vec<String> {
        set.iter()
            .map(|c| format!("{} {}", c.backend, c.strategy))
            .collect()
    }

    fn kinds(set: &[KindAnswer]) -> Vec<(Option<Kind>, Vec<String>)> {
        set.iter().map(|k| (k.kind, k.libraries.clone())).collect()
    }

    #[test]
    fn a_clear_winner_is_as_fast_alone_and_the_rest_slower() {
        let all = [
            rows("blis", "threads-2", &noisy(0.30, 0.02, 3, 1)),
            rows("blis", "sequential", &noisy(0.60, 0.02, 3, 2)),
            rows("blis", "blas-2", &noisy(0.40, 0.02, 3, 3)),
            rows("faer", "threads-2", &noisy(0.36, 0.02, 3, 4)),
        ]
        .concat();
        let rec = recommend(&all, 0.0);
        assert_eq!(rec.workloads.len(), 1);
        assert_eq!(rec.level, 0.95);
        let a = &rec.workloads[0];
        assert_eq!(names(&a.tie_set), ["blis threads-2"]);
        assert!(a.undecided.is_empty(), "{:?}", names(&a.undecided));
        assert_eq!(
            names(&a.slower),
            ["faer threads-2", "blis blas-2", "blis sequential"]
        );
        assert_eq!(names(std::slice::from_ref(&a.best)), ["blis threads-2"]);
        assert!(a.confidence >= 0.95, "{}", a.confidence);
        assert_eq!(
            kinds(&a.kinds),
            [(Some(Kind::TaskThreads), vec!["blis".to_string()])]
        );
        assert!(a.undecided_kinds.is_empty());
        // Avoid: sequential (2x), BLAS threads (1.33x), the library faer (1.2x), most costly
        // first; task threads are not avoided, though faer's are slower.
        let avoid: Vec<(AvoidWhat, &str)> =
            a.avoid.iter().map(|x| (x.what, x.name.as_str())).collect();
        assert_eq!(
            avoid,
            [
                (AvoidWhat::Kind, "sequential"),
                (AvoidWhat::Kind, "blas-threads"),
                (AvoidWhat::Library, "faer")
            ]
        );
        assert!(
            (a.avoid[0].factor - 2.0).abs() < 0.1,
            "{}",
            a.avoid[0].factor
        );
        assert_eq!(names(a.first_outside.as_slice()), ["faer threads-2"]);
        assert_eq!(a.slowest.strategy, "sequential");
        assert_eq!(a.min_runs, 3);
        let advised: Vec<Choice> = a.advised().into_iter().map(|(c, _)| c.clone()).collect();
        assert_eq!(names(&advised), names(&a.tie_set));
    }

    #[test]
    fn two_configurations_within_noise_are_undecided_with_no_margin() {
        let all = [
            rows("mkl-iomp", "threads-2", &[0.300, 0.309, 0.294]),
            rows("blis", "procs-2", &[0.303, 0.297, 0.310]),
            rows("blis", "sequential", &noisy(0.60, 0.02, 3, 5)),
        ]
        .concat();
        let a = &recommend(&all, 0.0).workloads[0];
        // The best is the reference; the other is neither surely as fast nor surely
        // slower: undecided, and so is its kind.
        assert_eq!(names(&a.tie_set), ["mkl-iomp threads-2"]);
        assert_eq!(names(&a.undecided), ["blis procs-2"]);
        assert_eq!(names(&a.slower), ["blis sequential"]);
        assert_eq!(
            kinds(&a.kinds),
            [(Some(Kind::TaskThreads), vec!["mkl-iomp".to_string()])]
        );
        assert_eq!(
            kinds(&a.undecided_kinds),
            [(Some(Kind::TaskProcesses), vec!["blis".to_string()])]
        );
        // Advised: the as fast one first, then the undecided one.
        let advised: Vec<(String, Standing)> = a
            .advised()
            .into_iter()
            .map(|(c, s)| (format!("{} {}", c.backend, c.strategy), s))
            .collect();
        assert_eq!(
            advised,
            [
                ("mkl-iomp threads-2".to_string(), Standing::AsFast),
                ("blis procs-2".to_string(), Standing::Undecided)
            ]
        );
        let runner_up = &a.undecided[0];
        assert!(runner_up.fastest_in > 0.1, "{}", runner_up.fastest_in);
        assert!(runner_up.ratio_low <= 1.0 && runner_up.ratio_high > 1.0);
    }

    #[test]
    fn noise_decides_a_claim_not_the_gap_alone() {
        // The same 3% gap: undecided in 5% noise, decided in 0.3% noise.
        let loud = [
            rows("blis", "threads-2", &noisy(1.00, 0.05, 5, 6)),
            rows("blis", "procs-2", &noisy(1.03, 0.05, 5, 7)),
        ]
        .concat();
        let quiet = [
            rows("blis", "threads-2", &noisy(1.00, 0.003, 5, 6)),
            rows("blis", "procs-2", &noisy(1.03, 0.003, 5, 7)),
        ]
        .concat();
        let l = &recommend(&loud, 0.0).workloads[0];
        assert!(l.slower.is_empty());
        assert_eq!(names(&l.undecided), ["blis procs-2"]);
        let q = &recommend(&quiet, 0.0).workloads[0];
        assert_eq!(names(&q.tie_set), ["blis threads-2"]);
        assert_eq!(names(&q.slower), ["blis procs-2"]);
        assert!(q.confidence > 0.99, "{}", q.confidence);
    }

    #[test]
    fn the_margin_makes_as_fast_what_is_measurably_but_not_materially_slower() {
        // 1% behind in 0.3% noise: slower with no margin, as fast within 2%; 3% behind
        // is slower either way.
        let all = [
            rows("blis", "threads-2", &noisy(1.00, 0.003, 5, 6)),
            rows("blis", "procs-2", &noisy(1.01, 0.003, 5, 7)),
            rows("blis", "blas-2", &noisy(1.03, 0.003, 5, 8)),
        ]
        .concat();
        let strict = &recommend(&all, 0.0).workloads[0];
        assert_eq!(names(&strict.tie_set), ["blis threads-2"]);
        assert_eq!(names(&strict.slower), ["blis procs-2", "blis blas-2"]);
        let r = recommend(&all, 0.02);
        assert_eq!(
            names(&r.workloads[0].tie_set),
            ["blis threads-2", "blis procs-2"]
        );
        assert_eq!(names(&r.workloads[0].slower), ["blis blas-2"]);
        assert_eq!(r.margin, 0.02);
        assert!(r.method.contains("margin of 2.0%"), "{}", r.method);
    }

    #[test]
    fn an_edge_near_the_margin_is_undecided_with_the_runs_that_would_decide_it() {
        // In 2% noise, procs-2 is about 3% behind, near a 2% margin: neither surely within
        // it nor surely beyond; blas-2, 20% behind, is surely slower.
        let all = [
            rows("blis", "threads-2", &[1.00, 1.02, 0.98]),
            rows("blis", "procs-2", &[1.04, 1.06, 1.02]),
            rows("blis", "blas-2", &[1.20, 1.22, 1.18]),
        ]
        .concat();
        let a = &recommend(&all, 0.02).workloads[0];
        let edge = a
            .undecided
            .iter()
            .find(|c| c.strategy == "procs-2")
            .expect("procs-2 undecided");
        assert!(edge.ratio_low <= 1.02 && edge.ratio_high > 1.02, "{edge:?}");
        assert!((edge.slower_than_best - 1.04).abs() < 1e-9);
        assert!(edge.more_runs.is_some_and(|n| n >= 1), "{edge:?}");
        assert_eq!(names(&a.slower), ["blis blas-2"]);
        assert_eq!(a.first_outside.as_ref().unwrap().strategy, "blas-2");
        assert!(a.winner_in_set > 0.99, "{}", a.winner_in_set);
    }

    #[test]
    fn with_no_noise_to_go_by_nothing_is_claimed() {
        // Every configuration measured once (a budget spent in round 1): no claim, even
        // for one twice as slow; the numbers are still there.
        let all = [
            rows("blis", "threads-2", &[1.00]),
            rows("blis", "sequential", &[2.0]),
        ]
        .concat();
        let a = &recommend(&all, 0.02).workloads[0];
        assert!(a.tie_set.is_empty() && a.slower.is_empty());
        assert_eq!(names(&a.undecided), ["blis threads-2", "blis sequential"]);
        assert!(a.avoid.is_empty());
        assert_eq!((a.min_runs, a.confidence), (1, 1.0));
        assert!((a.undecided[1].slower_than_best - 2.0).abs() < 1e-12);
        // Nor is there an estimate of the runs that would decide them.
        assert!(a.undecided.iter().all(|c| c.more_runs.is_none()));
    }

    #[test]
    fn more_runs_narrow_the_interval_as_one_over_their_square_root() {
        let j = |low: f64, median: f64, high: f64| Judgement {
            standing: Standing::Undecided,
            ratio_low: low,
            ratio_high: high,
            ratio_median: median,
            within: 0.5,
        };
        // 5% behind, its interval down to 1: the lower end must pass 1.02, which needs
        // (ln 1.05 / ln (1.05 / 1.02))^2 = 2.83 times the runs: 12 in all, 8 more.
        assert_eq!(more_runs(4, &j(1.0, 1.05, 1.2), 0.02), Some(8));
        // Within the margin, the upper end must come down: (ln(1.03/1.01) / ln(1.02/1.01))^2
        // = 3.9 times: 24 in all.
        assert_eq!(more_runs(6, &j(1.0, 1.01, 1.03), 0.02), Some(18));
        // On the margin: no number of runs decides it.
        assert_eq!(more_runs(6, &j(1.0, 1.02, 1.05), 0.02), None);
    }

    #[test]
    fn the_noise_is_the_relative_spread_of_repeated_runs_and_none_without_repeats() {
        assert_eq!(Noise::of(&[vec![1.0], vec![2.0]]), None);
        // 0.9 and 1.1 around 1.0: residuals 1 -+ 0.1414 (scaled by sqrt(n / (n - 1))); a
        // configuration measured once adds nothing to the pool.
        let n = Noise::of(&[vec![0.9, 1.1], vec![5.0]]).unwrap();
        assert!((n.spread - 0.02_f64.sqrt()).abs() < 1e-9, "{n:?}");
        assert_eq!((n.runs, n.configurations), (2, 1));
        // Relative: the same runs ten times longer are as noisy.
        let m = Noise::of(&[vec![9.0, 11.0]]).unwrap();
        assert!((m.spread - n.spread).abs() < 1e-9);
    }

    #[test]
    fn the_resolution_is_what_the_bootstrap_can_tell_apart_and_runs_for_reach_the_margin() {
        // Twelve configurations of one speed, six runs each, normal noise of 4%: the
        // bootstrap's intervals against the fastest are about as wide as the resolution
        // says (the reference, the lowest median, sits below the rest: compare widths).
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut normal = || {
            let (u, v): (f64, f64) = (rng.random(), rng.random());
            (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let samples: Vec<Vec<f64>> = (0..12)
            .map(|_| (0..6).map(|_| 1.0 + 0.04 * normal()).collect())
            .collect();
        let noise = Noise::of(&samples).unwrap();
        // Half of normal noise lies within 0.674 standard deviations: 2.7%.
        assert!((0.02..0.035).contains(&noise.spread), "{noise:?}");
        assert_eq!(noise.at_runs, 6);
        let everyone: Vec<usize> = (0..12).collect();
        let mut widths: Vec<f64> = Bootstrap::run(&samples)
            .judge(&everyone, 0.0)
            .iter()
            .map(|j| (j.ratio_high - j.ratio_low) / 2.0)
            .filter(|w| *w > 0.0)
            .collect();
        let bootstrap = median(&mut widths);
        assert!(
            (0.8..1.25).contains(&(bootstrap / noise.resolution)),
            "bootstrap half-width {bootstrap:.4}, resolution {:.4}",
            noise.resolution
        );
        // Normal theory: 1.96 * sqrt(2) * sqrt(pi / 2) * 4% / sqrt(6) = 5.7%.
        let theory = 1.96 * 2f64.sqrt() * (std::f64::consts::PI / 2.0).sqrt() * 0.04 / 6f64.sqrt();
        assert!(
            (0.75..1.33).contains(&(noise.resolution / theory)),
            "{noise:?} {theory:.4}"
        );
        // runs_for scales the resolution by one over the square root of the runs.
        let need = noise.runs_for(0.02);
        let at = |n: usize| noise.resolution * (6.0 / n as f64).sqrt();
        assert!(at(need) <= 0.02 + 1e-12 && at(need - 1) > 0.02, "{need}");
        assert!(
            need > 6,
            "a 2% margin in 4% noise needs more than six runs: {need}"
        );
    }

    #[test]
    fn a_single_measurement_borrows_the_workload_s_noise() {
        let all = [
            rows("blis", "threads-2", &[1.00, 1.04, 0.96]),
            rows("blis", "procs-2", &[1.01]),
            rows("blis", "sequential", &[2.0]),
        ]
        .concat();
        let a = &recommend(&all, 0.0).workloads[0];
        assert_eq!(names(&a.tie_set), ["blis threads-2"]);
        assert_eq!(names(&a.undecided), ["blis procs-2"]);
        assert_eq!(a.min_runs, 1);
        assert!(a.avoid.iter().any(|x| x.name == "sequential"));
    }

    #[test]
    fn the_same_rows_give_the_same_answer_and_refusals_are_ignored() {
        let mut all = [
            rows("blis", "threads-2", &noisy(0.30, 0.03, 3, 8)),
            rows("blis", "procs-2", &noisy(0.31, 0.03, 3, 9)),
        ]
        .concat();
        all.push(Row {
            record: None,
            refused: Some("not supported".into()),
            ..rows("blis", "batched-2", &[1.0]).remove(0)
        });
        let a = recommend(&all, 0.0);
        assert_eq!(a, recommend(&all, 0.0));
        assert_eq!(a.workloads[0].configurations, 2);
        assert!(recommend(&[], 0.0).workloads.is_empty());
        let json = serde_json::to_string(&a).unwrap();
        let back: Recommendation = serde_json::from_str(&json).unwrap();
        let (w, x) = (&back.workloads[0], &a.workloads[0]);
        for (p, q) in [
            (&w.tie_set, &x.tie_set),
            (&w.undecided, &x.undecided),
            (&w.slower, &x.slower),
        ] {
            assert_eq!(names(p), names(q));
        }
        assert_eq!(
            (w.confidence, w.kinds.clone()),
            (x.confidence, x.kinds.clone())
        );
    }

    #[test]
    fn a_version_2_file_still_reads() {
        let mut v =
            serde_json::to_value(recommend(&rows("blis", "threads-2", &[1.0]), 0.02)).unwrap();
        let w = &mut v["workloads"][0];
        for field in ["undecided", "slower", "undecided_kinds", "noise"] {
            w.as_object_mut().unwrap().remove(field);
        }
        for c in ["best", "slowest"] {
            for field in ["standing", "ratio_low", "ratio_high", "more_runs"] {
                w[c].as_object_mut().unwrap().remove(field);
            }
        }
        w["tie_set"] = serde_json::json!([w["best"].clone()]);
        v["schema_version"] = 2.into();
        v.as_object_mut().unwrap().remove("level");
        let old: Recommendation = serde_json::from_value(v).unwrap();
        assert_eq!(old.workloads[0].tie_set.len(), 1);
        assert_eq!(old.workloads[0].best.standing, Standing::Undecided);
        assert!(old.workloads[0].undecided.is_empty());
    }

    /// The old single tie set, for the comparison below: the best and every configuration
    /// within the margin of the best's resampled median in at least 5% of rounds.
    fn old_tie_set(samples: &[Vec<f64>], margin: f64) -> Vec<usize> {
        let boot = Bootstrap::run(samples);
        let medians: Vec<f64> = samples.iter().map(|v| median(&mut v.clone())).collect();
        let best = (0..medians.len())
            .min_by(|&a, &b| medians[a].total_cmp(&medians[b]))
            .unwrap();
        (0..samples.len())
            .filter(|&c| c == best || boot.share(|m| m[c] <= (1.0 + margin) * m[best]) >= 0.05)
            .collect()
    }

    #[test]
    fn repeated_sweeps_agree_on_what_they_decide_where_the_tie_set_moved() {
        // Two groups 1% apart (task threads at 1.00 on three libraries, worker processes
        // at 1.01 on the same), three configurations 20% slower, noise 3%, 6 runs each
        // (the race's most), margin 2%: 40 repeated sweeps, each with its own seed.
        let configs: [(&str, &str, f64); 9] = [
            ("blis", "threads-2", 1.00),
            ("mkl-seq", "threads-2", 1.00),
            ("faer", "threads-2", 1.00),
            ("blis", "procs-2", 1.01),
            ("mkl-seq", "procs-2", 1.01),
            ("faer", "procs-2", 1.01),
            ("blis", "sequential", 1.20),
            ("blis", "blas-2", 1.20),
            ("mkl-seq", "blas-2", 1.20),
        ];
        let mut old_sets = std::collections::BTreeSet::new();
        let mut answers = std::collections::BTreeSet::new();
        let mut answers_seen = Vec::new();
        for sweep in 0..40u64 {
            let samples: Vec<Vec<f64>> = (0..configs.len())
                .map(|i| noisy(configs[i].2, 0.03, 6, 1000 * sweep + i as u64))
                .collect();
            let all: Vec<Row> = configs
                .iter()
                .zip(&samples)
                .flat_map(|(&(b, s, _), v)| rows(b, s, v))
                .collect();
            let a = &recommend(&all, MARGIN).workloads[0];
            let sorted = |set: &[Choice]| {
                let mut n = names(set);
                n.sort();
                n
            };
            let kind_names = |set: &[KindAnswer]| {
                let mut k: Vec<&str> = set.iter().map(|k| k.kind.map_or("?", Kind::name)).collect();
                k.sort();
                k.join(",")
            };
            let avoided = |what| {
                let mut n: Vec<String> = a
                    .avoid
                    .iter()
                    .filter(|x| x.what == what)
                    .map(|x| x.name.clone())
                    .collect();
                n.sort();
                n
            };
            let this = (
                sorted(&a.tie_set),
                sorted(&a.undecided),
                sorted(&a.slower),
                kind_names(&a.kinds),
                kind_names(&a.undecided_kinds),
                avoided(AvoidWhat::Kind),
                avoided(AvoidWhat::Library),
            );
            answers.insert(this.clone());
            answers_seen.push(this);
            let mut old: Vec<String> = old_tie_set(&samples, MARGIN)
                .into_iter()
                .map(|i| format!("{} {}", configs[i].0, configs[i].1))
                .collect();
            old.sort();
            old_sets.insert(old);
        }
        assert!(
            old_sets.len() > 1,
            "the old tie set never moved: {old_sets:?}"
        );
        // What the measurements decide is the same in every sweep: the slower set, the
        // kinds and libraries to avoid, and the set not slower (as fast or undecided).
        let decided: std::collections::BTreeSet<_> = answers
            .iter()
            .map(|(f, u, s, _, _, ak, al)| {
                let mut open = [f.clone(), u.clone()].concat();
                open.sort();
                (open, s.clone(), ak.clone(), al.clone())
            })
            .collect();
        assert_eq!(decided.len(), 1, "{answers:#?}");
        let (open, slower, avoid_kinds, avoid_libs) = decided.into_iter().next().unwrap();
        assert_eq!(open.len(), 6, "{open:?}");
        assert_eq!(slower, ["blis blas-2", "blis sequential", "mkl-seq blas-2"]);
        assert_eq!(avoid_kinds, ["blas-threads", "sequential"]);
        assert!(avoid_libs.is_empty());
        // 3% noise in 6 runs cannot show the other configurations within 2% of the best
        // (the reference, as fast as itself), nor beyond: the two groups are the best and
        // the undecided, both kinds of task parallelism together, in every sweep; which of
        // the six is the best (and so which kind is "as fast") is the luck of the draw.
        for (f, u, _, k, uk, _, _) in &answers_seen {
            assert!(!f.is_empty() && f.len() + u.len() == 6, "{f:?} {u:?}");
            let mut both: Vec<&str> = k
                .split(',')
                .chain(uk.split(','))
                .filter(|x| !x.is_empty())
                .collect();
            both.sort();
            both.dedup();
            assert_eq!(both, ["task-processes", "task-threads"], "{k} / {uk}");
        }
    }
}

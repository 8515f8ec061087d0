//! The sweep's answer: per workload, not one winner but every configuration that the
//! measurements cannot tell from the best (the tie set), how sure that is, the answer in
//! the tutorial's order (the kind of parallelism first, then the library), and what to
//! avoid with how much slower it is. Written to `DIR/recommendation.json` by the sweep
//! and summarised in `summary.md`.
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
//! the median itself), and the answer says so through `min_runs`.
//!
//! - **best**: the configuration with the lowest median seconds.
//! - **tie set**: the best and every configuration whose resampled median is at least as
//!   fast as the best's resampled median in at least [`TIE_LEVEL`] = 5% of the rounds:
//!   the measurements cannot say, at 95% (one-sided), that it is slower. With 3 samples
//!   each, two configurations whose ranges do not overlap are never tied, and two that
//!   interleave always are.
//! - **confidence** of the claim "the best set beats the rest": the share of rounds in
//!   which every configuration of the tie set is faster than every configuration outside
//!   it. It is low exactly when the set's edge is uncertain (a member just inside and a
//!   configuration just outside trade places from round to round), which is when a
//!   repeated sweep may draw the edge elsewhere. **winner_in_set**: the weaker share of
//!   rounds whose fastest configuration lies in the set (near 1 by construction);
//!   **kind_confidence** the same for the kinds of parallelism in the tie set.
//! - **avoid**: every kind of parallelism and every library with no configuration in the
//!   tie set, with its fastest configuration and how many times slower than the best that
//!   is (median over median).

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
/// A configuration is tied with the best when it is at least as fast, within the margin,
/// in this share of rounds.
pub const TIE_LEVEL: f64 = 0.05;
/// The default equivalence margin: a configuration at most this much slower than the best
/// (median over median) counts as as fast as the best (`sweep --margin`).
pub const MARGIN: f64 = 0.02;
/// Seed of the bootstrap: the same rows give the same answer.
pub const SEED: u64 = 0x7469_6573_6574_0001;
/// Version of `recommendation.json`.
pub const SCHEMA_VERSION: u32 = 2;

/// `DIR/recommendation.json`: the sweep's answer for every workload it measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Version of this file's layout (2: `confidence` is the separation of the set from
    /// the rest; version 1 called `winner_in_set` `confidence`).
    pub schema_version: u32,
    /// How the tie set and the confidences were computed, in words, with the parameters.
    pub method: String,
    /// Bootstrap rounds per workload.
    pub resamples: usize,
    /// Share of rounds in which a configuration must be at least as fast as the best
    /// (within `margin`) to be tied with it.
    pub tie_level: f64,
    /// The equivalence margin: "as fast as the best" means at most this much slower
    /// (0.02: 2%). Files written before it existed read as 0.
    #[serde(default)]
    pub margin: f64,
    /// What each task computed (files written before it existed: gemm).
    #[serde(default)]
    pub operation: Operation,
    /// One answer per workload, ordered by matrix size, then task count.
    pub workloads: Vec<Answer>,
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
    /// Every configuration the measurements cannot tell from the best, fastest first
    /// (the best included).
    pub tie_set: Vec<Choice>,
    /// Share of bootstrap rounds in which every configuration of the tie set was faster
    /// than every configuration outside it: how sure the claim "the set beats the rest"
    /// is. Low when a configuration at the set's edge cannot be told from one just outside
    /// (then a repeated sweep may draw the edge elsewhere); 1 when nothing is outside.
    pub confidence: f64,
    /// Share of bootstrap rounds whose fastest configuration lies in the tie set (near 1
    /// by construction: the weaker claim "the best is in the set").
    #[serde(default)]
    pub winner_in_set: f64,
    /// The kinds of parallelism of the tie set, each with its libraries, in the order of
    /// their fastest configuration: the answer to "tasks, BLAS threads, or both?" first.
    pub kinds: Vec<KindAnswer>,
    /// Share of bootstrap rounds whose fastest configuration is of a kind in `kinds`.
    pub kind_confidence: f64,
    /// Each kind of parallelism and each library with nothing in the tie set, most
    /// costly first.
    pub avoid: Vec<Avoid>,
    /// The fastest configuration outside the tie set (`null` when every configuration is
    /// in it): what `blaspar check` measures the best against.
    #[serde(default)]
    pub first_outside: Option<Choice>,
    /// The slowest configuration measured, against the best.
    pub slowest: Choice,
    /// The fewest measurements of any configuration here.
    pub min_runs: usize,
    /// Configurations measured for this workload.
    pub configurations: usize,
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
    /// Its median over the best's median (1 for the best).
    pub slower_than_best: f64,
    /// Share of bootstrap rounds in which it was the fastest configuration.
    pub fastest_in: f64,
    /// Share of bootstrap rounds in which it was at least as fast as the best (the tie
    /// test: tied when at least `tie_level`).
    pub as_fast_as_best: f64,
}

/// A kind of parallelism of the tie set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindAnswer {
    /// The kind (`null` for strategies this version does not know).
    pub kind: Option<Kind>,
    /// The kind in words.
    pub description: String,
    /// The libraries with a configuration of this kind in the tie set, fastest first.
    pub libraries: Vec<String>,
}

/// Something to avoid: a kind of parallelism or a library absent from the tie set.
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
        tie_level: TIE_LEVEL,
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
         sqrt(n / (n - 1))), and the median of those; tie set: the best and every \
         configuration at least as fast as the best, within a margin of {:.1}%, in at least \
         {:.0}% of rounds; confidence: share of rounds in which every configuration of the \
         tie set is faster than every configuration outside it",
        100.0 * margin,
        100.0 * TIE_LEVEL
    )
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
}

impl Bootstrap {
    /// [`RESAMPLES`] rounds over configurations' samples (seconds), from [`SEED`]: each
    /// configuration's median times as many residuals from the workload's pool as it has
    /// samples, and the median of those.
    pub fn run(samples: &[Vec<f64>]) -> Bootstrap {
        let residuals = pooled_residuals(samples);
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
        Bootstrap { medians }
    }

    /// Share of rounds that satisfy `test`.
    fn share(&self, test: impl Fn(&[f64]) -> bool) -> f64 {
        self.medians.iter().filter(|m| test(m)).count() as f64 / self.medians.len() as f64
    }

    /// Per configuration, the share of rounds in which it was at least as fast as `best`
    /// within `margin` (at most `1 + margin` times its median; the tie test: tied when at
    /// least [`TIE_LEVEL`]).
    pub fn as_fast_as(&self, best: usize, margin: f64) -> Vec<f64> {
        let n = self.medians.first().map_or(0, Vec::len);
        (0..n)
            .map(|c| self.share(|m| m[c] <= (1.0 + margin) * m[best]))
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

    /// Share of rounds in which every configuration of `set` was faster than every one
    /// outside it: the set beats the rest (1 when nothing is outside).
    pub fn separation(&self, set: &[bool]) -> f64 {
        self.share(|m| {
            let slowest_in = (0..m.len())
                .filter(|&c| set[c])
                .map(|c| m[c])
                .fold(f64::MIN, f64::max);
            let fastest_out = (0..m.len())
                .filter(|&c| !set[c])
                .map(|c| m[c])
                .fold(f64::MAX, f64::min);
            slowest_in < fastest_out
        })
    }
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
    let as_fast = boot.as_fast_as(0, margin);
    let share = |n: usize| n as f64 / winners.len() as f64;
    let choices: Vec<Choice> = sums
        .iter()
        .enumerate()
        .map(|(i, s)| Choice {
            backend: s.backend.clone(),
            strategy: s.strategy.clone(),
            generation: s.generation,
            kind: Kind::of_text(&s.strategy),
            runs: s.runs,
            median_seconds: s.median_seconds,
            gflops: s.median_gflops,
            slower_than_best: s.median_seconds / best.median_seconds,
            fastest_in: share(winners.iter().filter(|&&w| w == i).count()),
            as_fast_as_best: as_fast[i],
        })
        .collect();
    let tied: Vec<bool> = choices
        .iter()
        .enumerate()
        .map(|(i, c)| i == 0 || c.as_fast_as_best >= TIE_LEVEL)
        .collect();
    let tie_set: Vec<Choice> = choices
        .iter()
        .zip(&tied)
        .filter(|(_, t)| **t)
        .map(|(c, _)| c.clone())
        .collect();
    let mut kinds: Vec<KindAnswer> = Vec::new();
    for c in &tie_set {
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
    let confidence = boot.separation(&tied);
    let winner_in_set = share(winners.iter().filter(|&&w| tied[w]).count());
    let kind_confidence = share(
        winners
            .iter()
            .filter(|&&w| kinds.iter().any(|k| k.kind == choices[w].kind))
            .count(),
    );
    Some(Answer {
        tasks,
        size,
        best: choices[0].clone(),
        confidence,
        winner_in_set,
        kind_confidence,
        avoid: avoid(&choices, &tie_set, &kinds),
        first_outside: choices
            .iter()
            .zip(&tied)
            .find(|(_, t)| !**t)
            .map(|(c, _)| c.clone()),
        slowest: choices[choices.len() - 1].clone(),
        min_runs: sums.iter().map(|s| s.runs).min().unwrap_or(0),
        configurations: sums.len(),
        tie_set,
        kinds,
    })
}

/// Each kind and each library absent from the tie set, with its fastest configuration
/// (`choices` is fastest first), most costly first.
fn avoid(choices: &[Choice], tie_set: &[Choice], kinds: &[KindAnswer]) -> Vec<Avoid> {
    let mut out: Vec<Avoid> = Vec::new();
    for c in choices {
        if !kinds.iter().any(|k| k.kind == c.kind)
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
        if !tie_set.iter().any(|t| t.backend == c.backend)
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

    #[test]
    fn a_clear_winner_is_a_set_of_one_with_high_confidence() {
        let all = [
            rows("blis", "threads-2", &noisy(0.30, 0.02, 3, 1)),
            rows("blis", "sequential", &noisy(0.60, 0.02, 3, 2)),
            rows("blis", "blas-2", &noisy(0.40, 0.02, 3, 3)),
            rows("faer", "threads-2", &noisy(0.36, 0.02, 3, 4)),
        ]
        .concat();
        let rec = recommend(&all, 0.0);
        assert_eq!(rec.workloads.len(), 1);
        let a = &rec.workloads[0];
        assert_eq!(names(&a.tie_set), ["blis threads-2"]);
        assert_eq!(names(std::slice::from_ref(&a.best)), ["blis threads-2"]);
        assert!(a.confidence >= 0.95, "{}", a.confidence);
        assert_eq!(a.kinds.len(), 1);
        assert_eq!(a.kinds[0].kind, Some(Kind::TaskThreads));
        assert_eq!(a.kinds[0].libraries, ["blis"]);
        // Avoid: sequential (2x), BLAS threads (1.33x), the library faer (1.2x), most costly first.
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
        assert_eq!(a.slowest.strategy, "sequential");
        assert_eq!(a.min_runs, 3);
    }

    #[test]
    fn two_configurations_within_noise_are_both_in_the_set() {
        let all = [
            rows("mkl-iomp", "threads-2", &[0.300, 0.309, 0.294]),
            rows("blis", "procs-2", &[0.303, 0.297, 0.310]),
            rows("blis", "sequential", &noisy(0.60, 0.02, 3, 5)),
        ]
        .concat();
        let a = &recommend(&all, 0.0).workloads[0];
        assert_eq!(names(&a.tie_set), ["mkl-iomp threads-2", "blis procs-2"]);
        assert!(a.confidence >= 0.95, "{}", a.confidence);
        // Kind first, then the library: two kinds, each with its library.
        let kinds: Vec<(Option<Kind>, Vec<String>)> = a
            .kinds
            .iter()
            .map(|k| (k.kind, k.libraries.clone()))
            .collect();
        assert_eq!(
            kinds,
            [
                (Some(Kind::TaskThreads), vec!["mkl-iomp".to_string()]),
                (Some(Kind::TaskProcesses), vec!["blis".to_string()])
            ]
        );
        let runner_up = &a.tie_set[1];
        assert!(runner_up.as_fast_as_best >= TIE_LEVEL && runner_up.fastest_in > 0.1);
    }

    #[test]
    fn noise_decides_a_tie_not_the_gap_alone() {
        // The same 3% gap: tied in 5% noise, apart in 0.3% noise.
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
        assert_eq!(recommend(&loud, 0.0).workloads[0].tie_set.len(), 2);
        let q = &recommend(&quiet, 0.0).workloads[0];
        assert_eq!(names(&q.tie_set), ["blis threads-2"]);
        assert!(q.confidence > 0.99);
    }

    #[test]
    fn the_margin_ties_what_is_measurably_but_not_materially_slower() {
        // 1% behind in 0.3% noise: apart with no margin, tied within 2%; 3% behind stays
        // apart either way.
        let all = [
            rows("blis", "threads-2", &noisy(1.00, 0.003, 5, 6)),
            rows("blis", "procs-2", &noisy(1.01, 0.003, 5, 7)),
            rows("blis", "blas-2", &noisy(1.03, 0.003, 5, 8)),
        ]
        .concat();
        assert_eq!(
            names(&recommend(&all, 0.0).workloads[0].tie_set),
            ["blis threads-2"]
        );
        let r = recommend(&all, 0.02);
        assert_eq!(
            names(&r.workloads[0].tie_set),
            ["blis threads-2", "blis procs-2"]
        );
        assert_eq!(r.margin, 0.02);
        assert!(r.method.contains("margin of 2.0%"), "{}", r.method);
    }

    #[test]
    fn an_uncertain_edge_gives_a_low_confidence() {
        // In 2% noise, procs-2 (3% behind the best) is still tied with it and blas-2 (5%
        // behind) no longer is, but the two are close: whether the set beats blas-2 is
        // far from sure, though the best is.
        let all = [
            rows("blis", "threads-2", &[1.00, 1.02, 0.98]),
            rows("blis", "procs-2", &[1.03, 1.05, 1.01]),
            rows("blis", "blas-2", &[1.05, 1.07, 1.03]),
        ]
        .concat();
        let a = &recommend(&all, 0.0).workloads[0];
        assert_eq!(names(&a.tie_set), ["blis threads-2", "blis procs-2"]);
        assert!(a.confidence < 0.8, "{}", a.confidence);
        assert!(a.winner_in_set > 0.99, "{}", a.winner_in_set);
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
        assert_eq!(names(&a.tie_set), ["blis threads-2", "blis procs-2"]);
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
        let w = (&back.workloads[0], &a.workloads[0]);
        assert_eq!(names(&w.0.tie_set), names(&w.1.tie_set));
        assert_eq!(
            (w.0.confidence, w.0.kinds.clone()),
            (w.1.confidence, w.1.kinds.clone())
        );
    }
}

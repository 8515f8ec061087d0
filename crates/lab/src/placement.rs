//! `sweep --pin`: does placing the workers (`run --pin`) pay on this machine?
//!
//! Measured around the best, after the race: each backend's fastest configuration of each
//! workload is run unpinned (`--pin none`) and with every placement asked for, pair by
//! pair: pair i runs each placement once, next to each other in a shuffled order, so that
//! what the machine does meanwhile hits all of them alike. Each placement is then compared
//! with the unpinned runs of the same pairs by the paired statistics of `compare`
//! ([`compare_paired`]: the Hodges-Lehmann estimate of pinned / unpinned with its 95%
//! interval, the sweep's margin as the threshold). The runs go to `DIR/pin.jsonl`, not
//! `runs.jsonl`: the race and its answer stay unpinned. Pinned runs enter the history under
//! their own ids (`threads-2+pin-cores`). Each is appended as it is measured,
//! so a resumed sweep measures only the pairs missing.

use crate::engines::{Outcome, Source, Spec, shuffled};
use crate::stats::{StatsError, Verdict, compare_paired, min_pairs};
use crate::summary::{Row, summarise};
use anyhow::Context;
use blaspar_core::ResultMode;
use blaspar_core::operation::Operation;
use blaspar_core::record::RunRecord;
use blaspar_core::strategy::label_placed;
use blaspar_core::topology::PinMode;
use blaspar_core::workload::Generation;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Confidence of the interval of each comparison.
const CONFIDENCE: f64 = 0.95;

/// One line of `pin.jsonl`: one run of a configuration with one placement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PinRow {
    pub backend: String,
    pub strategy: String,
    pub generation: Generation,
    pub tasks: usize,
    pub size: usize,
    pub pin: PinMode,
    /// Which pair this run belongs to (1, 2, ...).
    pub pair: usize,
    /// The run's record (`None` when the backend refused it).
    pub record: Option<RunRecord>,
    /// Why the backend refused it.
    pub refused: Option<String>,
}

/// A configuration measured with each placement: (tasks, size), backend, strategy,
/// generation.
type Target = ((usize, usize), String, String, Generation);

impl PinRow {
    fn target(&self) -> Target {
        (
            (self.tasks, self.size),
            self.backend.clone(),
            self.strategy.clone(),
            self.generation,
        )
    }
}

/// Pairs measured per configuration: the sweep's repeats, at least enough for a 95%
/// interval.
pub fn pairs(repeats: usize) -> usize {
    repeats.max(min_pairs(CONFIDENCE))
}

/// Each backend's fastest configuration per workload among `rows`, fastest first.
fn targets(rows: &[Row]) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    for s in summarise(rows) {
        let w = (s.tasks, s.size);
        if !out.iter().any(|(x, b, _, _)| *x == w && *b == s.backend) {
            out.push((w, s.backend, s.strategy, s.generation));
        }
    }
    out
}

/// What one sweep measures of placement.
pub struct PinSweep<'a> {
    pub out: &'a Path,
    /// The placements to compare with none (none itself is always measured).
    pub modes: &'a [PinMode],
    pub pairs: usize,
    pub op: Operation,
    pub results: ResultMode,
    pub source: Source<'a>,
}

impl PinSweep<'_> {
    /// Measures the pairs missing from `DIR/pin.jsonl` around each backend's best in `rows`
    /// and returns every row of the file.
    pub fn measure(&self, rows: &[Row]) -> anyhow::Result<Vec<PinRow>> {
        let path = self.out.join("pin.jsonl");
        let mut done: Vec<PinRow> = crate::jsonl::read(&path, "a placement row")?;
        let mut modes = vec![PinMode::None];
        modes.extend(self.modes.iter().filter(|&&m| m != PinMode::None));
        modes.dedup();
        let targets = targets(rows);
        let json = self.out.join(".pin-run.json");
        for pair in 1..=self.pairs {
            for (i, t) in targets.iter().enumerate() {
                let seed = (pair * 1000 + i) as u64;
                for pin in shuffled(&modes, seed) {
                    let have = |r: &PinRow| r.target() == *t && r.pin == pin;
                    let refused = done.iter().any(|r| have(r) && r.refused.is_some());
                    if refused || done.iter().any(|r| have(r) && r.pair == pair) {
                        continue;
                    }
                    let row = self.run(t, pin, pair, &json)?;
                    crate::jsonl::append(&path, &row)?;
                    done.push(row);
                }
            }
        }
        let _ = std::fs::remove_file(&json);
        Ok(done)
    }

    fn run(&self, t: &Target, pin: PinMode, pair: usize, json: &Path) -> anyhow::Result<PinRow> {
        let ((tasks, size), backend, strategy, generation) = t.clone();
        let name = label_placed(&strategy, generation, pin);
        eprintln!(
            "pin: {backend} {name} on {tasks}x{size} (pair {pair} of {})",
            self.pairs
        );
        let spec = Spec {
            backend: &backend,
            strategy: &strategy,
            tasks,
            size,
            op: self.op,
            generation,
            results: self.results,
            source: self.source,
        };
        let _ = std::fs::remove_file(json);
        let mut args = spec.args(json);
        // (The history names a pinned run `threads-2+pin-cores`: apart from unpinned ones.)
        args.extend(["--pin".to_string(), pin.to_string()]);
        let output = std::process::Command::new(blaspar_core::registry::engine_path(&backend))
            .args(args)
            .output()
            .with_context(|| format!("cannot start the {backend} engine"))?;
        let (record, refused) = match Outcome::of(&output, json)? {
            Outcome::Measured(record) => (Some(*record), None),
            Outcome::Unsupported(why) => (None, Some(why)),
            Outcome::Failed { status, stderr } => anyhow::bail!(
                "{backend} {name} on {tasks}x{size} (pair {pair}) failed ({status}): {stderr} -- \
                 measured pairs are kept in {}; run the same command to resume",
                self.out.join("pin.jsonl").display()
            ),
        };
        Ok(PinRow {
            backend,
            strategy,
            generation,
            tasks,
            size,
            pin,
            pair,
            record,
            refused,
        })
    }
}

/// The comparison of one placement with none on one configuration.
struct Paired<'a> {
    target: Target,
    pin: PinMode,
    result: Result<crate::stats::Comparison, StatsError>,
    /// The last pinned run, for where its threads ran.
    last: Option<&'a RunRecord>,
}

/// Every placement against none, over the pairs both measured.
fn comparisons(rows: &[PinRow], margin: f64) -> Vec<Paired<'_>> {
    let mut targets: Vec<Target> = Vec::new();
    for r in rows {
        if !targets.contains(&r.target()) {
            targets.push(r.target());
        }
    }
    let mut out = Vec::new();
    for t in targets {
        let of = |pin: PinMode| {
            rows.iter()
                .filter(|r| r.target() == t && r.pin == pin)
                .filter_map(|r| Some((r.pair, r.record.as_ref()?)))
                .collect::<Vec<_>>()
        };
        let none = of(PinMode::None);
        let mut modes: Vec<PinMode> = rows
            .iter()
            .filter(|r| r.target() == t && r.pin != PinMode::None)
            .map(|r| r.pin)
            .collect();
        modes.sort_unstable();
        modes.dedup();
        for pin in modes {
            let pinned = of(pin);
            let (a, b): (Vec<f64>, Vec<f64>) = pinned
                .iter()
                .filter_map(|(pair, rec)| {
                    let base = none.iter().find(|(p, _)| p == pair)?;
                    Some((base.1.seconds_total, rec.seconds_total))
                })
                .unzip();
            out.push(Paired {
                target: t.clone(),
                pin,
                result: compare_paired(&a, &b, margin, CONFIDENCE),
                last: pinned.iter().max_by_key(|(p, _)| *p).map(|(_, r)| *r),
            });
        }
    }
    out
}

/// Where each worker's threads ran in a pinned run: `0 / 1` (worker 0 on CPU 0, ...).
fn threads_ran_on(rec: &RunRecord) -> String {
    rec.pinning.as_ref().map_or_else(
        || "not recorded".to_string(),
        |p| {
            let seen: Vec<&str> = p.workers.iter().map(|w| w.seen.cpus.as_str()).collect();
            seen.join(" / ")
        },
    )
}

/// The summary's section: each placement against none, with a verdict, and the answer
/// for this machine.
pub fn section(rows: &[PinRow], margin: f64) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    if rows.is_empty() {
        return t;
    }
    let _ = writeln!(
        t,
        "### Placement (`--pin`): does it pay?\n\nEach backend's fastest configuration, run \
         unpinned (`--pin none`) and pinned, pair by pair next to each other \
         (`pin.jsonl`). pinned / unpinned is the Hodges-Lehmann estimate of the paired ratios \
         with its {:.0}% interval (below 1: pinned is faster); it pays when it is faster by more \
         than the {:.1}% margin and the interval lies below 1. The last column is where each \
         worker's threads ran in the last pinned run, as the kernel saw them.\n\n\
         | backend | workload | configuration | pairs | unpinned s | pinned s | pinned / unpinned | verdict | threads ran on |\n\
         |---|---|---|---:|---:|---:|---|---|---|",
        CONFIDENCE * 100.0,
        margin * 100.0
    );
    let mut paid = Vec::new();
    let compared = comparisons(rows, margin);
    for c in &compared {
        let ((tasks, size), backend, strategy, generation) = &c.target;
        let name = label_placed(strategy, *generation, c.pin);
        let ran_on = c.last.map_or_else(String::new, threads_ran_on);
        match &c.result {
            Ok(r) => {
                let verdict = match r.verdict {
                    Verdict::Faster => "pays",
                    Verdict::Slower => "costs",
                    Verdict::NoChange => "no gain beyond the margin",
                    Verdict::Inconclusive => "too noisy to tell",
                };
                if r.verdict == Verdict::Faster {
                    paid.push(format!("{name} on {backend}"));
                }
                let _ = writeln!(
                    t,
                    "| {backend} | {tasks} x {size} | {name} | {} | {:.3} | {:.3} | {:.3} ({:.3}-{:.3}) | {verdict} | {ran_on} |",
                    r.pairs, r.median_a, r.median_b, r.ratio, r.ci_low, r.ci_high
                );
            }
            Err(e) => {
                let _ = writeln!(
                    t,
                    "| {backend} | {tasks} x {size} | {name} | | | | | not compared: {e} | {ran_on} |"
                );
            }
        }
    }
    let refused: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let why = r.refused.as_ref()?;
            Some(format!(
                "{} on {}: {why}",
                label_placed(&r.strategy, r.generation, r.pin),
                r.backend
            ))
        })
        .collect();
    let _ = writeln!(t);
    for r in &refused {
        let _ = writeln!(t, "- refused: {r}");
    }
    let _ = writeln!(
        t,
        "{}\n",
        if compared.is_empty() {
            "No placement was compared with an unpinned run.".to_string()
        } else if paid.is_empty() {
            let noisy = compared
                .iter()
                .filter(|c| !matches!(&c.result, Ok(r) if r.verdict != Verdict::Inconclusive))
                .count();
            let more = match noisy {
                0 => String::new(),
                n => format!(" ({n} comparison(s) could not tell: more pairs, --repeats, would)"),
            };
            format!(
                "Pinning paid for none of the configurations measured on this machine{more}: \
                 leave placement to the kernel."
            )
        } else {
            format!("Pinning pays on this machine for: {}.", paid.join(", "))
        }
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record with only what the comparison reads.
    fn record(seconds: f64, seen: &[&str]) -> RunRecord {
        let text = include_str!("../../../results/2026-11-23-vm/quick-blis-threads-2.json");
        let mut r: RunRecord = serde_json::from_str(text).unwrap();
        r.seconds_total = seconds;
        r.pinning = Some(blaspar_core::record::Pinning {
            mode: PinMode::Cores,
            topology: String::new(),
            workers: seen
                .iter()
                .enumerate()
                .map(|(worker, cpus)| blaspar_core::record::WorkerPinning {
                    worker,
                    cpus: cpus.to_string(),
                    seen: blaspar_core::record::ThreadsSeen {
                        threads: 1,
                        cpus: cpus.to_string(),
                    },
                })
                .collect(),
            other_threads: Default::default(),
            method: String::new(),
        });
        r
    }

    fn row(pin: PinMode, pair: usize, seconds: f64) -> PinRow {
        PinRow {
            backend: "blis".to_string(),
            strategy: "threads-2".to_string(),
            generation: Generation::Serial,
            tasks: 16,
            size: 1000,
            pin,
            pair,
            record: Some(record(seconds, &["0", "1"])),
            refused: None,
        }
    }

    #[test]
    fn a_clearly_faster_placement_pays_and_noise_does_not() {
        let mut rows = Vec::new();
        for pair in 1..=8 {
            let wobble = 0.01 * (pair % 3) as f64;
            rows.push(row(PinMode::None, pair, 1.0 + wobble));
            rows.push(row(PinMode::Cores, pair, 0.8 + wobble));
            rows.push(row(
                PinMode::Spread,
                pair,
                1.0 + wobble + 0.001 * pair as f64,
            ));
        }
        let text = section(&rows, 0.02);
        assert!(
            text.contains("| blis | 16 x 1000 | threads-2+pin-cores | 8 |"),
            "{text}"
        );
        let cores = text.lines().find(|l| l.contains("+pin-cores")).unwrap();
        assert!(cores.contains("| pays | 0 / 1 |"), "{cores}");
        let spread = text.lines().find(|l| l.contains("+pin-spread")).unwrap();
        assert!(spread.contains("no gain beyond the margin"), "{spread}");
        assert!(text.contains("Pinning pays on this machine for: threads-2+pin-cores on blis."));
    }

    #[test]
    fn too_few_pairs_are_said_and_nothing_pays() {
        let rows = vec![row(PinMode::None, 1, 1.0), row(PinMode::Cores, 1, 0.5)];
        let text = section(&rows, 0.02);
        assert!(
            text.contains("not compared: 1 pairs of samples cannot give"),
            "{text}"
        );
        assert!(
            text.contains("Pinning paid for none of the configurations measured on this machine (1 comparison(s) could not tell"),
            "{text}"
        );
        assert_eq!(section(&[], 0.02), "");
    }

    #[test]
    fn pairs_are_the_repeats_at_least_enough_for_an_interval() {
        assert_eq!(pairs(3), 6);
        assert_eq!(pairs(8), 8);
    }
}

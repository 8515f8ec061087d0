//! `sweep --pin`: does placing the workers (`run --pin`) pay on this machine? And with
//! `sweep --input DIR --loading parent`: does loading every file in the parent first
//! (`run --loading parent`) pay against each worker loading its own (`--loading workers`)?
//!
//! Measured around the best, after the race: each backend's fastest configuration of each
//! workload is run as the race ran it (unpinned, workers loading: the baseline arm) and
//! with every placement and loading asked for (one changed at a time: an arm), pair by
//! pair: pair i runs each arm once, next to each other in a shuffled order, so that
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
use blaspar_core::folder::Loading;
use blaspar_core::operation::Operation;
use blaspar_core::record::RunRecord;
use blaspar_core::strategy::label_placed;
use blaspar_core::topology::PinMode;
use blaspar_core::workload::Generation;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Confidence of the interval of each comparison.
const CONFIDENCE: f64 = 0.95;

/// One line of `pin.jsonl`: one run of a configuration with one arm.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PinRow {
    pub backend: String,
    pub strategy: String,
    pub generation: Generation,
    pub tasks: usize,
    pub size: usize,
    pub pin: PinMode,
    /// Who loaded an input folder's files (rows of other sweeps: workers, unused).
    #[serde(default)]
    pub loading: Loading,
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

/// How a configuration is run around the best: its placement and who loads its files.
/// The default (unpinned, workers loading) is the race's own, the baseline of each
/// comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Arm {
    pub pin: PinMode,
    pub loading: Loading,
}

impl Arm {
    /// `threads-2+pin-cores`, `procs-2+pload` (the parent loaded the files).
    pub fn label(&self, strategy: &str, generation: Generation) -> String {
        let placed = label_placed(strategy, generation, self.pin);
        match self.loading {
            Loading::Parent => format!("{placed}+pload"),
            Loading::Workers => placed,
        }
    }
}

impl PinRow {
    fn arm(&self) -> Arm {
        Arm {
            pin: self.pin,
            loading: self.loading,
        }
    }

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

/// What one sweep measures of placement and loading.
pub struct PinSweep<'a> {
    pub out: &'a Path,
    /// The placements to compare with none (none itself is always measured).
    pub modes: &'a [PinMode],
    /// The loadings of an input folder to compare with workers' (with the folder's source).
    pub loadings: &'a [Loading],
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
        let mut modes = vec![Arm::default()];
        for &pin in self.modes {
            modes.push(Arm {
                pin,
                ..Arm::default()
            });
        }
        for &loading in self.loadings {
            modes.push(Arm {
                loading,
                ..Arm::default()
            });
        }
        modes.sort_unstable();
        modes.dedup();
        let targets = targets(rows);
        let json = self.out.join(".pin-run.json");
        for pair in 1..=self.pairs {
            for (i, t) in targets.iter().enumerate() {
                let seed = (pair * 1000 + i) as u64;
                for pin in shuffled(&modes, seed) {
                    let have = |r: &PinRow| r.target() == *t && r.arm() == pin;
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

    fn run(&self, t: &Target, arm: Arm, pair: usize, json: &Path) -> anyhow::Result<PinRow> {
        let ((tasks, size), backend, strategy, generation) = t.clone();
        let name = arm.label(&strategy, generation);
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
            source: match self.source {
                Source::Input { dir, .. } => Source::Input {
                    dir,
                    loading: arm.loading,
                },
                other => other,
            },
        };
        let _ = std::fs::remove_file(json);
        let mut args = spec.args(json);
        // (The history names a pinned run `threads-2+pin-cores`: apart from unpinned ones.)
        args.extend(["--pin".to_string(), arm.pin.to_string()]);
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
            pin: arm.pin,
            loading: arm.loading,
            pair,
            record,
            refused,
        })
    }
}

/// The comparison of one arm with the baseline on one configuration.
struct Paired<'a> {
    target: Target,
    arm: Arm,
    result: Result<crate::stats::Comparison, StatsError>,
    /// The arm's last run, for where its threads ran.
    last: Option<&'a RunRecord>,
}

/// Every arm against the baseline, over the pairs both measured.
fn comparisons(rows: &[PinRow], margin: f64) -> Vec<Paired<'_>> {
    let mut targets: Vec<Target> = Vec::new();
    for r in rows {
        if !targets.contains(&r.target()) {
            targets.push(r.target());
        }
    }
    let mut out = Vec::new();
    for t in targets {
        let of = |arm: Arm| {
            rows.iter()
                .filter(|r| r.target() == t && r.arm() == arm)
                .filter_map(|r| Some((r.pair, r.record.as_ref()?)))
                .collect::<Vec<_>>()
        };
        let base = of(Arm::default());
        let mut arms: Vec<Arm> = rows
            .iter()
            .filter(|r| r.target() == t && r.arm() != Arm::default())
            .map(PinRow::arm)
            .collect();
        arms.sort_unstable();
        arms.dedup();
        for arm in arms {
            let runs = of(arm);
            let (a, b): (Vec<f64>, Vec<f64>) = runs
                .iter()
                .filter_map(|(pair, rec)| {
                    let base = base.iter().find(|(p, _)| p == pair)?;
                    Some((base.1.seconds_total, rec.seconds_total))
                })
                .unzip();
            out.push(Paired {
                target: t.clone(),
                arm,
                result: compare_paired(&a, &b, margin, CONFIDENCE),
                last: runs.iter().max_by_key(|(p, _)| *p).map(|(_, r)| *r),
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

/// What one kind of arm is called in the summary.
struct Words {
    heading: &'static str,
    /// What the baseline and the arm are (`unpinned`, `pinned`).
    base: &'static str,
    arm: &'static str,
    /// The paragraph after the heading, before the margin.
    intro: &'static str,
    /// The sentences of the answer: nothing compared, nothing paid, paid for (list).
    none: &'static str,
    paid_none: &'static str,
    paid_some: &'static str,
}

const PLACEMENT: Words = Words {
    heading: "Placement (`--pin`): does it pay?",
    base: "unpinned",
    arm: "pinned",
    intro: "Each backend's fastest configuration, run unpinned (`--pin none`) and pinned, pair \
            by pair next to each other (`pin.jsonl`).",
    none: "No placement was compared with an unpinned run.",
    paid_none: "Pinning paid for none of the configurations measured on this machine",
    paid_some: "Pinning pays on this machine for",
};

const LOADING: Words = Words {
    heading: "Loading (`--loading`): does loading every file in the parent first pay?",
    base: "workers load",
    arm: "parent loads",
    intro: "Each backend's fastest configuration, run with each worker loading its own task's \
            files (`--loading workers`, parallel loading, as the race ran it) and with the \
            parent loading every file into shared memory before the workers start \
            (`--loading parent`, sequential loading, as the tutorial's programs do), pair by \
            pair next to each other (`pin.jsonl`); both times count the loading.",
    none: "No loading was compared with the workers' own.",
    paid_none: "Loading every file in the parent first paid for none of the configurations \
                measured on this machine",
    paid_some: "Loading in the parent first pays on this machine for",
};

/// The summary's sections: each placement against none, then each loading against the
/// workers', with a verdict, and the answer for this machine.
pub fn section(rows: &[PinRow], margin: f64) -> String {
    let compared = comparisons(rows, margin);
    let (pins, loads): (Vec<&Paired>, Vec<&Paired>) =
        compared.iter().partition(|c| c.arm.pin != PinMode::None);
    let mut t = String::new();
    let refused = |pinned: bool| -> Vec<String> {
        rows.iter()
            .filter(|r| (r.pin != PinMode::None) == pinned && r.arm() != Arm::default())
            .filter_map(|r| {
                let why = r.refused.as_ref()?;
                Some(format!(
                    "{} on {}: {why}",
                    r.arm().label(&r.strategy, r.generation),
                    r.backend
                ))
            })
            .collect()
    };
    if rows.iter().any(|r| r.pin != PinMode::None) {
        t.push_str(&arm_section(
            &pins,
            &refused(true),
            &PLACEMENT,
            margin,
            true,
        ));
    }
    if rows.iter().any(|r| r.loading != Loading::Workers) {
        t.push_str(&arm_section(
            &loads,
            &refused(false),
            &LOADING,
            margin,
            false,
        ));
    }
    t
}

/// One section: the table of `compared` and the answer.
fn arm_section(
    compared: &[&Paired],
    refused: &[String],
    w: &Words,
    margin: f64,
    threads: bool,
) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "### {}\n\n{} {} / {} is the Hodges-Lehmann estimate of the paired ratios with its \
         {:.0}% interval (below 1: {} is faster); it pays when it is faster by more than the \
         {:.1}% margin and the interval lies below 1.{}\n\n\
         | backend | workload | configuration | pairs | {} s | {} s | {} / {} | verdict |{}\n\
         |---|---|---|---:|---:|---:|---|---|{}",
        w.heading,
        w.intro,
        w.arm,
        w.base,
        CONFIDENCE * 100.0,
        w.arm,
        margin * 100.0,
        if threads {
            " The last column is where each worker's threads ran in the last pinned run, as \
             the kernel saw them."
        } else {
            ""
        },
        w.base,
        w.arm,
        w.arm,
        w.base,
        if threads { " threads ran on |" } else { "" },
        if threads { "---|" } else { "" },
    );
    let mut paid = Vec::new();
    for c in compared {
        let ((tasks, size), backend, strategy, generation) = &c.target;
        let name = c.arm.label(strategy, *generation);
        let ran_on = if threads {
            format!(" {} |", c.last.map_or_else(String::new, threads_ran_on))
        } else {
            String::new()
        };
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
                    "| {backend} | {tasks} x {size} | {name} | {} | {:.3} | {:.3} | {:.3} ({:.3}-{:.3}) | {verdict} |{ran_on}",
                    r.pairs, r.median_a, r.median_b, r.ratio, r.ci_low, r.ci_high
                );
            }
            Err(e) => {
                let _ = writeln!(
                    t,
                    "| {backend} | {tasks} x {size} | {name} | | | | | not compared: {e} |{ran_on}"
                );
            }
        }
    }
    let _ = writeln!(t);
    for r in refused {
        let _ = writeln!(t, "- refused: {r}");
    }
    let _ = writeln!(
        t,
        "{}\n",
        if compared.is_empty() {
            w.none.to_string()
        } else if paid.is_empty() {
            let noisy = compared
                .iter()
                .filter(|c| !matches!(&c.result, Ok(r) if r.verdict != Verdict::Inconclusive))
                .count();
            let more = match noisy {
                0 => String::new(),
                n => format!(" ({n} comparison(s) could not tell: more pairs, --repeats, would)"),
            };
            if threads {
                format!("{}{more}: leave placement to the kernel.", w.paid_none)
            } else {
                format!("{}{more}: let each worker load its own files.", w.paid_none)
            }
        } else {
            format!("{}: {}.", w.paid_some, paid.join(", "))
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
            loading: Loading::Workers,
            pair,
            record: Some(record(seconds, &["0", "1"])),
            refused: None,
        }
    }

    #[test]
    fn parent_loading_is_its_own_section_against_the_workers_loading() {
        let mut rows = Vec::new();
        for pair in 1..=8 {
            let wobble = 0.01 * (pair % 3) as f64;
            rows.push(row(PinMode::None, pair, 1.0 + wobble));
            rows.push(PinRow {
                loading: Loading::Parent,
                ..row(PinMode::None, pair, 1.3 + wobble)
            });
        }
        let text = section(&rows, 0.02);
        assert!(!text.contains("Placement"), "{text}");
        assert!(text.contains("### Loading (`--loading`)"), "{text}");
        let line = text
            .lines()
            .find(|l| l.contains("threads-2+pload"))
            .unwrap();
        assert!(
            line.contains("| 8 |") && line.ends_with("| costs |"),
            "{line}"
        );
        assert!(
            text.contains("paid for none of the configurations measured on this machine: let each worker load its own files."),
            "{text}"
        );
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

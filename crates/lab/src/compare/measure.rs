//! Compare's measuring rounds: every benchmark on both revisions, A and B back to back in
//! an order that alternates per round, each sample kept in `samples.jsonl` and the history
//! as soon as it is measured (a failure later keeps what was measured).

use super::{Bench, BenchResult, CompareArgs, Rev};
use crate::engines::{Source, Spec, refusal_reason, shuffled};
use anyhow::Context;
use blaspar_core::ResultMode;
use blaspar_core::history;
use blaspar_core::registry::EXIT_UNSUPPORTED;
use indicatif::{ProgressBar, ProgressStyle};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run of a benchmark on one revision gave.
enum Measurement {
    Measured {
        seconds: f64,
        record: serde_json::Value,
    },
    Refused(String),
}

/// Runs `bench` once with `rev`'s binaries, its record written to `json`.
fn run_benchmark(rev: &Rev, bench: &Bench, json: &Path) -> anyhow::Result<Measurement> {
    let _ = std::fs::remove_file(json);
    let front = rev.bin.join("blaspar");
    let output = Command::new(&front)
        .args(
            Spec {
                backend: &bench.backend,
                strategy: &bench.strategy,
                tasks: bench.tasks,
                size: bench.size,
                op: bench.op,
                generation: blaspar_core::workload::Generation::Serial,
                results: ResultMode::Matrices,
                source: Source::Generated,
            }
            .args(json),
        )
        .env("BLASPAR_ENGINE_DIR", &rev.bin)
        // compare appends the samples itself (older revisions do not write history).
        .env(history::ENV, "off")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot start {}", front.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Refusals are told by the exit status (revisions before it existed exit 1 and stop
    // the compare with their message).
    if output.status.code() == Some(i32::from(EXIT_UNSUPPORTED)) {
        return Ok(Measurement::Refused(refusal_reason(&stderr)));
    }
    if !output.status.success() {
        anyhow::bail!(
            "{} at {} ({}) failed ({}): {}",
            bench.id(),
            rev.name,
            history::short(&rev.commit),
            output.status,
            stderr.trim()
        );
    }
    let what = format!("{} at {}", bench.id(), rev.name);
    read_measurement(json, &what)
}

/// The seconds and the record a revision's run wrote to `json`. Any revision's record is
/// read, newer layouts included: compare needs only `seconds_total` from it.
fn read_measurement(json: &Path, what: &str) -> anyhow::Result<Measurement> {
    let text =
        std::fs::read_to_string(json).with_context(|| format!("{what}: no record written"))?;
    let record: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{what}: the record does not parse"))?;
    let seconds = record["seconds_total"]
        .as_f64()
        .filter(|s| s.is_finite() && *s > 0.0)
        .with_context(|| format!("{what}: the record has no seconds_total"))?;
    Ok(Measurement::Measured { seconds, record })
}

/// A sample line of `samples.jsonl`.
#[derive(Serialize)]
struct Sample<'a> {
    benchmark: String,
    round: usize,
    /// 0 when this revision ran first in its pair, 1 when second.
    position: usize,
    /// `A` or `B`.
    rev: &'static str,
    commit: &'a str,
    seconds: f64,
    record: &'a serde_json::Value,
}

/// The history the samples are appended to.
struct SampleHistory {
    path: Option<PathBuf>,
    /// Commits whose records this blaspar cannot turn into history entries (already said).
    unreadable: Vec<String>,
}

impl SampleHistory {
    /// Appends a revision's record; a record this version cannot read (written by a newer
    /// layout, an unknown strategy or generation) is left out of the history, and the
    /// warning to print is returned, once per revision. The compare does not depend on it.
    fn append(&mut self, rev: &Rev, record: serde_json::Value) -> anyhow::Result<Option<String>> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        match history::Entry::from_record(record, "compare") {
            Ok(entry) => history::append(path, &entry).map(|()| None),
            Err(_) if self.unreadable.contains(&rev.commit) => Ok(None),
            Err(e) => {
                self.unreadable.push(rev.commit.clone());
                Ok(Some(format!(
                    "warning: {} ({}) writes records this blaspar cannot read ({e:#}): its samples \
                     are compared but not added to the history {}",
                    rev.name,
                    history::short(&rev.commit),
                    path.display()
                )))
            }
        }
    }
}

/// The order of a compare's runs: reproducible, and different for every pair of commits.
struct RunOrder {
    seed: u64,
    /// Per benchmark, whether B runs first in even rounds.
    first_b: Vec<bool>,
}

impl RunOrder {
    fn new(commit_a: &str, commit_b: &str, benches: usize) -> RunOrder {
        let prefix = |c: &str| u64::from_str_radix(c.get(..16).unwrap_or(c), 16).ok();
        let seed = prefix(commit_a).unwrap_or(1) ^ prefix(commit_b).unwrap_or(2).rotate_left(17);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let first_b = (0..benches).map(|_| rng.next_u64() & 1 == 1).collect();
        RunOrder { seed, first_b }
    }

    /// The benchmarks (indices) in the order of `round`.
    fn benches(&self, round: usize) -> Vec<usize> {
        let all: Vec<usize> = (0..self.first_b.len()).collect();
        shuffled(&all, self.seed ^ round as u64)
    }

    /// Balanced order (A B, B A, A B, ... per benchmark, starting side drawn once): a
    /// position effect (the second run of a pair finding warm caches) and linear drift
    /// cancel exactly over each two rounds, not just on average.
    fn b_first(&self, round: usize, bench: usize) -> bool {
        (round % 2 == 1) != self.first_b[bench]
    }
}

/// The measuring rounds: warm-up, then `samples` pairs of every benchmark.
struct Rounds<'a> {
    a: &'a Rev,
    b: &'a Rev,
    benches: &'a [Bench],
    warmup: usize,
    results: Vec<BenchResult>,
    samples_path: PathBuf,
    samples_file: std::fs::File,
    /// Where each run writes its record.
    json: PathBuf,
    history: SampleHistory,
    bar: ProgressBar,
    /// Highest 1-minute load average seen before a run.
    busiest: f64,
}

impl<'a> Rounds<'a> {
    fn new(
        args: &CompareArgs,
        revs: [&'a Rev; 2],
        benches: &'a [Bench],
        out: &Path,
    ) -> anyhow::Result<Rounds<'a>> {
        let samples_path = out.join("samples.jsonl");
        let samples_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&samples_path)
            .with_context(|| format!("cannot open {}", samples_path.display()))?;
        let runs = (args.warmup + args.samples) * benches.len() * 2;
        let bar = ProgressBar::new(runs as u64).with_style(
            ProgressStyle::with_template(
                "{msg:48} [{bar:30}] {pos}/{len} runs, {elapsed} (eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Ok(Rounds {
            a: revs[0],
            b: revs[1],
            benches,
            warmup: args.warmup,
            results: benches.iter().map(BenchResult::empty).collect(),
            samples_path,
            samples_file,
            json: out.join("last-run.json"),
            history: SampleHistory {
                path: history::resolve(args.history.as_deref()),
                unreadable: Vec::new(),
            },
            bar,
            busiest: 0.0,
        })
    }

    /// Runs one pair of benchmark `i` in `round` (one run when a revision refuses it).
    fn measure_pair(&mut self, round: usize, i: usize, b_first: bool) -> anyhow::Result<()> {
        if self.results[i].refused.is_some() {
            self.bar.inc(2);
            return Ok(());
        }
        let (a, b) = (self.a, self.b);
        let pair = if b_first {
            [(b, "B"), (a, "A")]
        } else {
            [(a, "A"), (b, "B")]
        };
        for (position, (rev, label)) in pair.into_iter().enumerate() {
            self.bar.set_message(self.progress(round, i, label));
            self.busiest = self.busiest.max(load_average());
            let measurement =
                run_benchmark(rev, &self.benches[i], &self.json).with_context(|| {
                    format!(
                        "samples measured so far are in {}",
                        self.samples_path.display()
                    )
                })?;
            self.bar.inc(1);
            match measurement {
                Measurement::Refused(why) => {
                    self.results[i].refused = Some(format!("{label} ({}): {why}", rev.name));
                    self.bar.inc(1 - position as u64);
                    break;
                }
                Measurement::Measured { .. } if round < self.warmup => {}
                Measurement::Measured { seconds, record } => {
                    let sample = Sample {
                        benchmark: self.benches[i].id(),
                        round: round + 1 - self.warmup,
                        position,
                        rev: label,
                        commit: &rev.commit,
                        seconds,
                        record: &record,
                    };
                    self.keep(i, &sample)?;
                    if let Some(warning) = self.history.append(rev, record)? {
                        self.bar.suspend(|| eprintln!("{warning}"));
                    }
                }
            }
        }
        Ok(())
    }

    /// The progress bar's message while a run of benchmark `i` is on.
    fn progress(&self, round: usize, i: usize, label: &str) -> String {
        let (kind, number) = if round < self.warmup {
            ("warm-up ", round + 1)
        } else {
            ("round ", round + 1 - self.warmup)
        };
        format!("{} {label} ({kind}{number})", self.benches[i].id())
    }

    /// Keeps a measured sample of benchmark `i`: in its result and in `samples.jsonl`.
    fn keep(&mut self, i: usize, sample: &Sample) -> anyhow::Result<()> {
        let side = if sample.rev == "A" {
            &mut self.results[i].a
        } else {
            &mut self.results[i].b
        };
        side.push(sample.seconds);
        let mut line = serde_json::to_string(sample)?;
        line.push('\n');
        self.samples_file
            .write_all(line.as_bytes())
            .with_context(|| format!("cannot write {}", self.samples_path.display()))
    }
}

/// Measures every benchmark on both revisions; the results (samples, no comparison yet)
/// and the highest load average seen.
pub(super) fn measure(
    args: &CompareArgs,
    revs: [&Rev; 2],
    benches: &[Bench],
    out: &Path,
) -> anyhow::Result<(Vec<BenchResult>, f64)> {
    let mut rounds = Rounds::new(args, revs, benches, out)?;
    let order = RunOrder::new(&revs[0].commit, &revs[1].commit, benches.len());
    for round in 0..args.warmup + args.samples {
        for i in order.benches(round) {
            if let Err(e) = rounds.measure_pair(round, i, order.b_first(round, i)) {
                rounds.bar.abandon();
                return Err(e);
            }
        }
    }
    rounds.bar.finish_and_clear();
    let _ = std::fs::remove_file(&rounds.json);
    Ok((rounds.results, rounds.busiest))
}

/// The 1-minute load average (0 when unknown).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> serde_json::Value {
        serde_json::from_str(include_str!(
            "../../../../results/2026-11-23-vm/quick-blis-threads-2.json"
        ))
        .unwrap()
    }

    fn rev(name: &str, commit: &str) -> Rev {
        Rev {
            name: name.to_string(),
            commit: commit.to_string(),
            bin: PathBuf::new(),
        }
    }

    #[test]
    fn every_benchmark_runs_a_first_and_b_first_in_each_two_rounds() {
        let (a, b) = ("0123456789abcdef0123", "fedcba9876543210fedc");
        let order = RunOrder::new(a, b, 7);
        for round in [0, 2, 4] {
            for i in 0..7 {
                assert_ne!(order.b_first(round, i), order.b_first(round + 1, i));
            }
            let mut seen = order.benches(round);
            seen.sort_unstable();
            assert_eq!(seen, (0..7).collect::<Vec<_>>());
        }
        let again = RunOrder::new(a, b, 7);
        assert_eq!(again.benches(3), order.benches(3));
        assert_eq!(again.first_b, order.first_b);
    }

    #[test]
    fn a_record_is_read_for_its_seconds_whatever_its_layout() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("last-run.json");
        let read = |text: &str| {
            std::fs::write(&json, text).unwrap();
            read_measurement(&json, "mm/sequential/4x64 at HEAD")
        };
        // Fields this version does not know and a strategy it cannot parse: only
        // seconds_total matters.
        let future =
            r#"{"schema_version": 99, "strategy": "gpu-4", "seconds_total": 0.5, "x": []}"#;
        assert!(matches!(
            read(future).unwrap(),
            Measurement::Measured { seconds, .. } if seconds == 0.5
        ));
        for (text, why) in [
            (r#"{"schema_version": 3}"#, "no seconds_total"),
            (r#"{"seconds_total": "fast"}"#, "no seconds_total"),
            (r#"{"seconds_total": -1.0}"#, "no seconds_total"),
            (r#"[1, 2]"#, "no seconds_total"),
            ("{\"seconds_total\": 0.5", "does not parse"),
        ] {
            let e = format!("{:#}", read(text).err().expect(text));
            assert!(e.starts_with("mm/sequential/4x64 at HEAD: "), "{e}");
            assert!(e.contains(why), "{text}: {e}");
        }
        std::fs::remove_file(&json).unwrap();
        let e = read_measurement(&json, "x at A").err().unwrap();
        assert!(
            format!("{e:#}").contains("x at A: no record written"),
            "{e:#}"
        );
    }

    #[test]
    fn records_this_version_cannot_read_are_left_out_of_the_history_with_one_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let mut h = SampleHistory {
            path: Some(path.clone()),
            unreadable: Vec::new(),
        };
        let (old, new) = (rev("A", "aaaa"), rev("B", "bbbb"));
        assert_eq!(h.append(&old, record()).unwrap(), None);
        let mut newer = record();
        newer["generation"] = "on-the-gpu".into();
        let warning = h.append(&new, newer.clone()).unwrap().expect("a warning");
        assert!(
            warning.starts_with("warning: B (bbbb) writes records"),
            "{warning}"
        );
        assert!(warning.contains("not added to the history"), "{warning}");
        assert_eq!(h.append(&new, newer).unwrap(), None, "warned once");
        assert_eq!(h.append(&old, record()).unwrap(), None);
        let read = history::read(&path).unwrap();
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        assert_eq!(read.entries.len(), 2);
        assert!(read.entries.iter().all(|(_, e)| e.source == "compare"));
        let mut off = SampleHistory {
            path: None,
            unreadable: Vec::new(),
        };
        assert_eq!(off.append(&old, record()).unwrap(), None);
    }
}

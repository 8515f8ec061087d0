//! Compare's verdicts and reports: the paired statistics per benchmark, the table on
//! stdout, `compare.md` for people and `compare.json` for tools.

use super::{BenchResult, CONFIDENCE, CompareArgs, EXIT_SLOWER, Rev};
use crate::stats::{self, Verdict};
use anyhow::Context;
use blaspar_core::history;
use blaspar_core::machine::Machine;
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

/// Compares the samples of every measured benchmark; an error when nothing was measured.
pub(super) fn judge(results: &mut [BenchResult], threshold_pct: f64) -> anyhow::Result<()> {
    for r in results.iter_mut().filter(|r| r.refused.is_none()) {
        r.comparison = Some(
            stats::compare_paired(&r.a, &r.b, threshold_pct / 100.0, CONFIDENCE)
                .with_context(|| format!("{}: no comparison", r.benchmark))?,
        );
    }
    if results.iter().all(|r| r.comparison.is_none()) {
        anyhow::bail!(
            "nothing was measured: {}",
            results
                .iter()
                .filter_map(|r| r.refused.clone())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(())
}

/// `compare.json`.
#[derive(Serialize)]
struct Report<'a> {
    a: &'a Rev,
    b: &'a Rev,
    command: String,
    machine: &'a Machine,
    pairs: usize,
    warmup: usize,
    threshold_pct: f64,
    confidence: f64,
    results: &'a [BenchResult],
    slower: Vec<String>,
    /// Highest 1-minute load average seen before a run (other jobs on the machine).
    max_load_average: f64,
}

/// The table printed and written to `compare.md`.
pub fn table(results: &[BenchResult]) -> String {
    let mut s = format!(
        "| benchmark | A median s | B median s | B/A | {:.0}% interval | verdict |\n|---|---:|---:|---:|---|---|\n",
        CONFIDENCE * 100.0
    );
    for r in results {
        match (&r.comparison, &r.refused) {
            (Some(c), _) => s.push_str(&format!(
                "| {} | {:.4} | {:.4} | {:.3} | [{:.3}, {:.3}] | {} |\n",
                r.benchmark, c.median_a, c.median_b, c.ratio, c.ci_low, c.ci_high, c.verdict
            )),
            (None, why) => s.push_str(&format!(
                "| {} | | | | | not measured: {} |\n",
                r.benchmark,
                why.as_deref().unwrap_or("?")
            )),
        }
    }
    s
}

/// A finished compare: what its reports say.
pub(super) struct Finished<'a> {
    pub(super) args: &'a CompareArgs,
    pub(super) a: &'a Rev,
    pub(super) b: &'a Rev,
    pub(super) machine: &'a Machine,
    pub(super) results: Vec<BenchResult>,
    /// Highest 1-minute load average seen before a run.
    pub(super) busiest: f64,
}

impl Finished<'_> {
    /// The benchmarks B is slower on, beyond the threshold.
    fn slower(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| {
                r.comparison
                    .as_ref()
                    .is_some_and(|c| c.verdict == Verdict::Slower)
            })
            .map(|r| r.benchmark.clone())
            .collect()
    }

    /// A note when other jobs loaded the machine. Our own run accounts for about one CPU
    /// of load (threads-P for more): beyond that, other jobs shared the machine.
    fn busy_note(&self) -> Option<String> {
        let (busiest, cpus) = (self.busiest, self.machine.cpus_allowed.len().max(1));
        (busiest > cpus as f64 + 0.5).then(|| {
            format!(
                "note: the machine was busy during the compare (1-minute load average up to {busiest:.1} on {cpus} CPUs): \
                 other jobs add noise; the intervals include it, but a verdict near the threshold is less sure, and \
                 heavy contention that changes between the two runs of a pair can still mislead"
            )
        })
    }

    /// The line above the table: what was compared and how.
    fn heading(&self) -> String {
        format!(
            "A = {} ({}), B = {} ({}); {} pairs per benchmark, alternated (A B, then B A); \
             threshold {}%; B/A is the Hodges-Lehmann estimate of the paired ratios, with its {:.0}% interval",
            self.a.name,
            history::short(&self.a.commit),
            self.b.name,
            history::short(&self.b.commit),
            self.args.samples,
            self.args.threshold,
            CONFIDENCE * 100.0
        )
    }

    /// The line below the table: the slower benchmarks, or that there are none.
    fn summary(&self, slower: &[String]) -> String {
        if slower.is_empty() {
            "no benchmark is slower beyond the threshold".to_string()
        } else {
            format!(
                "SLOWER beyond {}%: {}",
                self.args.threshold,
                slower.join(", ")
            )
        }
    }

    /// `compare.md`.
    fn markdown(&self, command: &str, table: &str, summary: &str) -> String {
        let m = self.machine;
        format!(
            "# compare {} .. {}\n\n`{command}`\n\n{}.\n\n{table}\n{summary}.\n\nMachine: {}, {} CPUs ({} allowed); \
             highest 1-minute load average seen: {:.1}.\n{}\n\
             Verdicts: SLOWER / faster when the interval excludes 1 and the estimate is beyond the threshold; \
             no change when the interval lies within the threshold (or the change is real but smaller); \
             inconclusive when the interval reaches beyond the threshold without excluding 1 (more --samples).\n",
            self.a.name,
            self.b.name,
            self.heading(),
            m.cpu_model,
            m.logical_cpus,
            m.cpus_allowed.len(),
            self.busiest,
            self.busy_note()
                .as_deref()
                .map_or(String::new(), |n| format!("\n{n}.\n"))
        )
    }

    /// `compare.json`.
    fn report(&self, command: String, slower: Vec<String>) -> Report<'_> {
        Report {
            a: self.a,
            b: self.b,
            command,
            machine: self.machine,
            pairs: self.args.samples,
            warmup: self.args.warmup,
            threshold_pct: self.args.threshold,
            confidence: CONFIDENCE,
            results: &self.results,
            slower,
            max_load_average: self.busiest,
        }
    }

    /// Prints the table and writes `compare.md` and `compare.json` to `out`; the exit
    /// status.
    pub(super) fn write_reports(&self, out: &Path) -> anyhow::Result<ExitCode> {
        if let Some(n) = self.busy_note() {
            eprintln!("{n}");
        }
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        let table = table(&self.results);
        println!("{}\n\n{table}", self.heading());
        let slower = self.slower();
        let summary = self.summary(&slower);
        println!("{summary}");
        std::fs::write(
            out.join("compare.md"),
            self.markdown(&command, &table, &summary),
        )
        .context("cannot write compare.md")?;
        let code = if slower.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_SLOWER)
        };
        let mut text = serde_json::to_string_pretty(&self.report(command, slower))?;
        text.push('\n');
        std::fs::write(out.join("compare.json"), text).context("cannot write compare.json")?;
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CompareArgs,
    }

    fn rev(name: &str) -> Rev {
        Rev {
            name: name.to_string(),
            commit: format!("{name}0123456789abcdef"),
            bin: Default::default(),
        }
    }

    fn result(name: &str, a: f64, b: f64) -> BenchResult {
        BenchResult {
            benchmark: name.to_string(),
            a: vec![a; 8],
            b: (0..8).map(|i| b * (1.0 + i as f64 * 1e-3)).collect(),
            comparison: None,
            refused: None,
        }
    }

    #[test]
    fn reports_name_the_slower_benchmarks_and_the_refused_ones() {
        let args = Cli::parse_from(["compare", "A", "B"]).args;
        let mut results = vec![
            result("mm/sequential/4x64", 1.0, 1.0),
            result("mm/threads-2/4x64", 1.0, 2.0),
            BenchResult {
                refused: Some("B (B): threads-2 needs two cores".to_string()),
                ..result("mm/threads-3/4x64", 1.0, 1.0)
            },
        ];
        judge(&mut results, 3.0).unwrap();
        assert!(results[2].comparison.is_none());
        let machine = Machine::detect();
        let (a, b) = (rev("A"), rev("B"));
        let finished = Finished {
            args: &args,
            a: &a,
            b: &b,
            machine: &machine,
            results,
            busiest: 0.0,
        };
        let dir = tempfile::tempdir().unwrap();
        let code = finished.write_reports(dir.path()).unwrap();
        assert_eq!(code, ExitCode::from(EXIT_SLOWER));
        let md = std::fs::read_to_string(dir.path().join("compare.md")).unwrap();
        assert!(md.contains("SLOWER beyond 3%: mm/threads-2/4x64."), "{md}");
        assert!(
            md.contains("| mm/threads-3/4x64 | | | | | not measured: B (B): threads-2"),
            "{md}"
        );
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("compare.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(json["slower"], serde_json::json!(["mm/threads-2/4x64"]));
        assert_eq!(json["results"][0]["comparison"]["verdict"], "no-change");
        assert_eq!(json["pairs"], 15);
    }

    #[test]
    fn nothing_measured_is_an_error_naming_the_refusals() {
        let mut results = vec![BenchResult {
            refused: Some("A (HEAD~1): unknown strategy".to_string()),
            ..result("mm/blas-2/4x64", 1.0, 1.0)
        }];
        let e = judge(&mut results, 3.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "nothing was measured: A (HEAD~1): unknown strategy"
        );
    }
}

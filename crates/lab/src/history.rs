//! `blaspar history`: a benchmark's trend across commits on one machine, with its step
//! changes, from the history log ([`blaspar_core::history`]).

use crate::trend::{Point, trend};
use blaspar_core::args::positive_percent;
use blaspar_core::history::{ENV, Entry, History, read, resolve, short};
use clap::Args;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Args, Clone)]
pub struct HistoryArgs {
    /// Benchmark to show (`backend/strategy/TASKSxSIZE`; without it, the benchmarks recorded
    /// are listed).
    #[arg(long, value_name = "ID")]
    pub benchmark: Option<String>,
    /// Machine fingerprint (or its first digits) to show (default: the one with the latest
    /// entry of the benchmark).
    #[arg(long, value_name = "FINGERPRINT")]
    pub machine: Option<String>,
    /// Write the trend as an SVG plot to this file.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Smallest change between consecutive commits that counts as a step, in percent.
    #[arg(long, value_name = "PCT", default_value = "3", value_parser = positive_percent)]
    pub threshold: f64,
    /// History file (default: $BLASPAR_HISTORY, else results/history.jsonl).
    #[arg(long, value_name = "FILE")]
    pub history: Option<String>,
}

/// Commits in git order (oldest first) when git knows every one as an ancestor of HEAD of
/// the repository around the current directory; else in the order of their first entry.
/// Says which.
pub fn commit_order(entries: &[&Entry]) -> (Vec<String>, &'static str) {
    let mut first_seen: Vec<String> = Vec::new();
    for e in entries {
        if !first_seen.contains(&e.commit) {
            first_seen.push(e.commit.clone());
        }
    }
    let positions: Option<HashMap<String, usize>> = std::process::Command::new("git")
        .args(["rev-list", "--topo-order", "--reverse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .enumerate()
                .map(|(i, c)| (c.to_string(), i))
                .collect()
        });
    if let Some(pos) = positions {
        let key = |c: &String| {
            let (base, dirty) = match c.strip_suffix("-dirty") {
                Some(b) => (b, 1),
                None => (c.as_str(), 0),
            };
            pos.get(base).map(|p| (*p, dirty))
        };
        if first_seen.iter().all(|c| key(c).is_some()) {
            let mut order = first_seen.clone();
            order.sort_by_key(|c| key(c));
            return (order, "git order");
        }
    }
    (
        first_seen,
        "order of first record (not every commit is in this repository's HEAD history)",
    )
}

/// `blaspar history`: lists benchmarks, or shows one benchmark's trend.
pub fn show(args: &HistoryArgs) -> anyhow::Result<()> {
    let path = resolve(args.history.as_deref())
        .ok_or_else(|| anyhow::anyhow!("history is off ({ENV}=off): name a file with --history"))?;
    let h = read(&path)?;
    for p in &h.problems {
        eprintln!(
            "warning: {} {p} (kept in the file, not used)",
            path.display()
        );
    }
    let matching: Vec<&Entry> = h
        .entries
        .iter()
        .map(|(_, e)| e)
        .filter(|e| {
            args.machine
                .as_ref()
                .is_none_or(|m| e.machine.starts_with(m.as_str()))
        })
        .collect();
    match &args.benchmark {
        None => {
            print_index(&path, &h, &matching);
            Ok(())
        }
        Some(bench) => show_trend(args, &path, bench, matching),
    }
}

/// Prints what the history holds: per benchmark and machine, its runs and commits.
fn print_index(path: &Path, h: &History, entries: &[&Entry]) {
    let mut index: BTreeMap<(&str, &str), (usize, Vec<&str>, &str)> = BTreeMap::new();
    for e in entries {
        let slot = index
            .entry((e.benchmark.as_str(), e.machine.as_str()))
            .or_insert((0, vec![], e.machine_label.as_str()));
        slot.0 += 1;
        if !slot.1.contains(&e.commit.as_str()) {
            slot.1.push(e.commit.as_str());
        }
    }
    println!(
        "{} ({} entries{})",
        path.display(),
        h.entries.len(),
        if h.problems.is_empty() {
            String::new()
        } else {
            format!(", {} unusable lines", h.problems.len())
        }
    );
    println!(
        "{:<40} {:<16} {:>7} {:>7}  machine",
        "benchmark", "fingerprint", "runs", "commits"
    );
    for ((b, m), (runs, commits, label)) in &index {
        println!("{b:<40} {m:<16} {runs:>7} {:>7}  {label}", commits.len());
    }
}

/// Shows the trend of `bench` on one machine (the one with its latest entry among
/// `entries`, which `--machine` narrowed) and plots it when asked.
fn show_trend(
    args: &HistoryArgs,
    path: &Path,
    bench: &str,
    entries: Vec<&Entry>,
) -> anyhow::Result<()> {
    let of_bench: Vec<&Entry> = entries
        .into_iter()
        .filter(|e| e.benchmark == bench)
        .collect();
    let Some(latest) = of_bench.iter().copied().max_by_key(|e| e.started_unix) else {
        anyhow::bail!(
            "no entries for benchmark '{bench}'{} in {} (run `blaspar history` to list them)",
            args.machine
                .as_ref()
                .map_or(String::new(), |m| format!(" on machine {m}")),
            path.display()
        );
    };
    let others = other_machines(&of_bench, &latest.machine);
    let on_machine: Vec<&Entry> = of_bench
        .iter()
        .copied()
        .filter(|e| e.machine == latest.machine)
        .collect();
    let (order, how) = commit_order(&on_machine);
    let samples: Vec<(String, f64)> = on_machine
        .iter()
        .map(|e| (e.commit.clone(), e.seconds))
        .collect();
    let threshold = args.threshold / 100.0;
    let points = trend(&samples, &order, threshold);
    println!(
        "{bench} on machine {}: {}",
        latest.machine, latest.machine_label
    );
    if !others.is_empty() {
        println!(
            "(also recorded on {}: choose with --machine)",
            others.join(", ")
        );
    }
    println!(
        "commits in {how}; step: change > {:.1}% and sample ranges apart",
        args.threshold
    );
    print_points(&points);
    if let Some(svg) = &args.plot {
        // The plot knows nothing of samples: each commit's point as the values it draws.
        let points: Vec<blaspar_plot::trend::Point> = points
            .iter()
            .map(|p| blaspar_plot::trend::Point {
                commit: p.commit.clone(),
                median: p.median,
                min: p.min,
                max: p.max,
                step: p.step,
            })
            .collect();
        blaspar_plot::trend::trend(bench, &latest.machine_label, &points, threshold, svg)?;
        println!("plot: {}", svg.display());
    }
    Ok(())
}

/// The machines other than `machine` that `entries` were measured on, each once.
fn other_machines<'a>(entries: &[&'a Entry], machine: &str) -> Vec<&'a str> {
    let mut others: Vec<&str> = entries
        .iter()
        .filter(|e| e.machine != machine)
        .map(|e| e.machine.as_str())
        .collect();
    others.sort_unstable();
    others.dedup();
    others
}

/// Prints a trend's table: one row per commit, its step flagged.
fn print_points(points: &[Point]) {
    println!(
        "{:<12} {:>5} {:>10} {:>10} {:>10} {:>8}  step",
        "commit", "runs", "median s", "min s", "max s", "change"
    );
    for p in points {
        println!(
            "{:<12} {:>5} {:>10.4} {:>10.4} {:>10.4} {:>8}  {}",
            short(&p.commit),
            p.runs,
            p.median,
            p.min,
            p.max,
            p.change
                .map_or("".to_string(), |c| format!("{:+.1}%", c * 100.0)),
            match (p.step, p.change) {
                (true, Some(c)) if c > 0.0 => "STEP: slower",
                (true, _) => "STEP: faster",
                _ => "",
            }
        );
    }
}

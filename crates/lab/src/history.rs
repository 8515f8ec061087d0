//! `blaspar history`: a benchmark's trend across commits on one machine, with its step
//! changes, from the history log ([`blaspar_core::history`]).

use crate::trend::trend;
use blaspar_core::args::positive_percent;
use blaspar_core::history::short;
use blaspar_core::history::{ENV, Entry, read, resolve};
use clap::Args;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

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
    let threshold = args.threshold / 100.0;
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
    let Some(bench) = &args.benchmark else {
        // Index: benchmark x machine, with entries and commits.
        let mut index: BTreeMap<(&str, &str), (usize, Vec<&str>, &str)> = BTreeMap::new();
        for e in &matching {
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
        return Ok(());
    };
    let of_bench: Vec<&Entry> = matching
        .into_iter()
        .filter(|e| &e.benchmark == bench)
        .collect();
    if of_bench.is_empty() {
        anyhow::bail!(
            "no entries for benchmark '{bench}'{} in {} (run `blaspar history` to list them)",
            args.machine
                .as_ref()
                .map_or(String::new(), |m| format!(" on machine {m}")),
            path.display()
        );
    }
    // One machine: the one named, else the one with the latest entry.
    let latest: Entry = (*of_bench
        .iter()
        .max_by_key(|e| e.started_unix)
        .expect("non-empty"))
    .clone();
    let machine = latest.machine.clone();
    let mut others: Vec<&str> = of_bench
        .iter()
        .filter(|e| e.machine != machine)
        .map(|e| e.machine.as_str())
        .collect();
    others.sort_unstable();
    others.dedup();
    let entries: Vec<&Entry> = of_bench
        .into_iter()
        .filter(|e| e.machine == machine)
        .collect();
    let (order, how) = commit_order(&entries);
    let samples: Vec<(String, f64)> = entries
        .iter()
        .map(|e| (e.commit.clone(), e.seconds))
        .collect();
    let points = trend(&samples, &order, threshold);
    println!("{bench} on machine {machine}: {}", latest.machine_label);
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
    println!(
        "{:<12} {:>5} {:>10} {:>10} {:>10} {:>8}  step",
        "commit", "runs", "median s", "min s", "max s", "change"
    );
    for p in &points {
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
    if let Some(svg) = &args.plot {
        crate::plot::trend(bench, &latest.machine_label, &points, threshold, svg)?;
        println!("plot: {}", svg.display());
    }
    Ok(())
}

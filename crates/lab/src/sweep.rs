//! The sweep: every strategy of a grid on every backend named, each configuration measured
//! several times in an interleaved order (repeat 1 of everything, then repeat 2, each in
//! its own shuffled order) so that machine drift spreads evenly. Every measurement is one
//! engine run (`blaspar-engine-<backend> run ... --json`), verified like any run; its record
//! is appended to `runs.jsonl` as soon as it is measured, so an interrupted sweep resumes
//! where it stopped (`--out` the same folder).
//!
//! First step of the sweep issue: the grid, the interleaved measurement with resume and
//! progress, medians with spread, the best configuration per backend and overall against
//! the measured f64 peak. Search around the best, scaling lists and plots come next.

use crate::engines::{Outcome, run_args, shuffled};
use crate::summary::{Row, Summary, summarise};
use anyhow::Context;
use blaspar_core::ResultMode;
use blaspar_core::args::{
    backend, generation, positive, positive_seconds, preset, result_mode, strategy,
};
use blaspar_core::machine::Machine;
use blaspar_core::peak::Peak;
use blaspar_core::record::RunRecord;
use blaspar_core::registry::Engine;
use blaspar_core::strategy::label;
use blaspar_core::workload::Generation;
use blaspar_core::{Preset, Strategy};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args, Clone)]
pub struct SweepArgs {
    /// Backends to sweep, comma-separated (default: every built engine).
    #[arg(long, value_delimiter = ',', value_parser = backend,
          help = format!("Backends to sweep, comma-separated, of {} (default: every built engine)",
                         blaspar_core::registry::name_list()))]
    pub backends: Vec<String>,
    /// Named workload (quick or seed); --tasks and --sizes override its numbers.
    #[arg(long, default_value = "quick", value_parser = preset)]
    pub preset: Preset,
    /// Task counts to sweep, comma-separated (scaling with N; default: the preset's).
    #[arg(long, short = 'n', value_name = "N,...", value_delimiter = ',', allow_hyphen_values = true, value_parser = positive)]
    pub tasks: Vec<usize>,
    /// Matrix sizes to sweep, comma-separated (scaling with n; default: the preset's).
    #[arg(long, alias = "size", value_name = "SIZE,...", value_delimiter = ',', allow_hyphen_values = true, value_parser = positive)]
    pub sizes: Vec<usize>,
    /// Measurements per configuration (interleaved: every configuration once, then again).
    #[arg(long, default_value_t = 3, value_parser = positive)]
    pub repeats: usize,
    /// How products come back in each run (see `run --help`).
    #[arg(long, default_value = "matrices", value_parser = result_mode)]
    pub results: ResultMode,
    /// Folder for runs.jsonl and summary.md; an existing one is resumed
    /// (default: target/blaspar-sweeps/<time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seconds each peak measurement runs.
    #[arg(long, default_value = "0.5", value_parser = positive_seconds)]
    pub peak_seconds: std::time::Duration,
    /// Measure only these strategies, comma-separated (default: the pruned grid of this
    /// machine, then the neighbours of each backend's best).
    #[arg(long, value_delimiter = ',', value_parser = strategy)]
    pub strategies: Vec<Strategy>,
    /// Skip the search around each backend's best configuration.
    #[arg(long)]
    pub no_refine: bool,
    /// Data generation to measure, comma-separated: serial, parallel (see `run --help`).
    /// With both, every configuration whose workers run more than one BLAS thread is
    /// measured both ways (with one thread per worker the two are the same run).
    #[arg(long, value_delimiter = ',', default_value = "serial", value_parser = generation)]
    pub generation: Vec<Generation>,
}

/// Runs a sweep: measures what is missing from `runs.jsonl`, then prints and writes the
/// summary.
pub fn sweep(args: &SweepArgs) -> anyhow::Result<()> {
    let machine = Machine::detect();
    let cpus = machine.cpus_allowed.len().max(1);
    let preset = args.preset.workload(machine.default_parallelism);
    let task_list = if args.tasks.is_empty() {
        vec![preset.tasks]
    } else {
        args.tasks.clone()
    };
    let size_list = if args.sizes.is_empty() {
        vec![preset.size]
    } else {
        args.sizes.clone()
    };
    let workloads: Vec<(usize, usize)> = task_list
        .iter()
        .flat_map(|&t| size_list.iter().map(move |&n| (t, n)))
        .collect();
    let backends: Vec<String> = if args.backends.is_empty() {
        blaspar_core::registry::names()
            .filter(|b| blaspar_core::registry::engine_path(b).exists())
            .map(str::to_string)
            .collect()
    } else {
        args.backends.clone()
    };
    for b in &backends {
        let path = blaspar_core::registry::engine_path(b);
        anyhow::ensure!(
            path.exists(),
            "the {b} engine is not built (looked for {}): run scripts/build.sh",
            path.display()
        );
    }
    anyhow::ensure!(
        !backends.is_empty(),
        "no engine is built: run scripts/build.sh"
    );
    let out = args.out.clone().unwrap_or_else(|| {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Path::new("target/blaspar-sweeps").join(stamp.to_string())
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let runs_path = out.join("runs.jsonl");
    // Every invocation on this folder, for the README (a resumed sweep has several).
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.join("commands.log"))
        .with_context(|| format!("cannot write to {}", out.display()))?;
    writeln!(log, "{}", std::env::args().collect::<Vec<_>>().join(" "))?;
    let mut rows = read_rows(&runs_path)?;

    // A resumed sweep keeps the peak it measured first, so every row compares to one figure.
    let peak_path = out.join("peak.json");
    let peak: Peak = match std::fs::read_to_string(&peak_path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a peak measurement: remove it to measure again",
                peak_path.display()
            )
        })?,
        Err(_) => {
            let p = blaspar_core::peak::measure(cpus, args.peak_seconds);
            std::fs::write(&peak_path, serde_json::to_string_pretty(&p)? + "\n")?;
            p
        }
    };
    eprintln!(
        "peak (measured, {}): one core {:.1} GFLOP/s, {} CPUs {:.1} GFLOP/s",
        peak.isa, peak.one_core_gflops, peak.threads, peak.all_cores_gflops
    );

    let base: Vec<Strategy> = if args.strategies.is_empty() {
        Strategy::grid(cpus)
    } else {
        args.strategies.clone()
    };
    let configs: Vec<Config> = workloads
        .iter()
        .flat_map(|&w| {
            let base = &base;
            backends.iter().flat_map(move |b| {
                base.iter().flat_map(move |s| {
                    generations(s, &args.generation)
                        .into_iter()
                        .map(move |g| (w, b.clone(), *s, g))
                })
            })
        })
        .collect();
    let ctx = Measure {
        out: &out,
        runs_path: &runs_path,
        results: args.results,
        repeats: args.repeats,
    };
    eprintln!(
        "sweep: {} workloads x {} backends x {} configurations x {} repeats ({} rows already in {})",
        workloads.len(),
        backends.len(),
        base.len(),
        args.repeats,
        rows.len(),
        runs_path.display()
    );
    ctx.run(&configs, &mut rows, "grid")?;
    if args.strategies.is_empty() && !args.no_refine {
        let extra = around_best(&rows, &configs, cpus);
        if !extra.is_empty() {
            eprintln!(
                "around the best: {}",
                extra
                    .iter()
                    .map(|((t, n), b, s, g)| format!("{b} {} ({t}x{n})", label(&s.to_string(), *g)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        ctx.run(&extra, &mut rows, "around the best")?;
    }
    let text = report(&rows, &peak, args.repeats);
    print!("{text}");
    std::fs::write(out.join("summary.md"), &text)?;
    std::fs::write(out.join("README.md"), readme(&rows, &peak, &machine, &out))?;
    let sums = summarise(&rows);
    // Plot order: the grid's, then anything measured around the best.
    let mut order: Vec<String> = Vec::new();
    let labels = configs.iter().map(|(_, _, s, g)| label(&s.to_string(), *g));
    for l in labels.chain(rows.iter().map(|r| label(&r.strategy, r.generation))) {
        if !order.contains(&l) {
            order.push(l);
        }
    }
    let mut measured: Vec<(usize, usize)> = sums.iter().map(|s| (s.tasks, s.size)).collect();
    measured.sort_unstable();
    measured.dedup();
    let many = measured.len() > 1;
    for &(tasks, size) in &measured {
        let here: Vec<Summary> = sums
            .iter()
            .filter(|s| (s.tasks, s.size) == (tasks, size))
            .cloned()
            .collect();
        let suffix = if many {
            format!("-{tasks}x{size}")
        } else {
            String::new()
        };
        crate::plot::strategies(
            &here,
            &order,
            peak.all_cores_gflops,
            &out.join(format!("strategies{suffix}.svg")),
        )?;
        let mut backends: Vec<&str> = here.iter().map(|s| s.backend.as_str()).collect();
        backends.sort_unstable();
        backends.dedup();
        for b in backends {
            crate::plot::heatmap(
                b,
                &here,
                peak.all_cores_gflops,
                &out.join(format!("heatmap-{b}{suffix}.svg")),
            )?;
        }
    }
    if many {
        crate::plot::scaling(&sums, &order, &out.join("scaling.svg"))?;
    }
    eprintln!(
        "plots: {}/strategies*.svg, heatmap-<backend>*.svg (and scaling.svg with several workloads)",
        out.display()
    );
    eprintln!(
        "rows: {}; summary: {}",
        runs_path.display(),
        out.join("summary.md").display()
    );
    Ok(())
}

/// One configuration: workload (tasks, size), backend, strategy, data generation.
type Config = ((usize, usize), String, Strategy, Generation);

/// The generations of `wanted` that differ for `strategy`: parallel generation only where
/// a worker runs more than one BLAS thread (or the library default); serial otherwise.
fn generations(strategy: &Strategy, wanted: &[Generation]) -> Vec<Generation> {
    let many = match strategy.blas_threads().requested() {
        Some(t) => t > 1,
        None => true,
    };
    let mut out: Vec<Generation> = wanted
        .iter()
        .map(|&g| if many { g } else { Generation::Serial })
        .collect();
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        out.push(Generation::Serial);
    }
    out
}

/// Where and how measurements run.
struct Measure<'a> {
    out: &'a Path,
    runs_path: &'a Path,
    results: ResultMode,
    repeats: usize,
}

impl Measure<'_> {
    /// Measures every configuration `repeats` times, interleaved (each repeat in its own
    /// shuffled order), skipping what `rows` already holds; appends each row as measured.
    fn run(&self, configs: &[Config], rows: &mut Vec<Row>, phase: &str) -> anyhow::Result<()> {
        let done = |rows: &[Row], (t, n): (usize, usize), b: &str, s: &str, g, r: usize| {
            rows.iter().any(|x| {
                x.tasks == t
                    && x.size == n
                    && x.backend == b
                    && x.strategy == s
                    && x.generation == g
                    && (x.repeat == r || x.refused.is_some())
            })
        };
        let plan: Vec<(usize, Config)> = (1..=self.repeats)
            .flat_map(|r| shuffled(configs, r as u64).into_iter().map(move |c| (r, c)))
            .filter(|(r, (w, b, s, g))| !done(rows, *w, b, &s.to_string(), *g, *r))
            .collect();
        eprintln!("{phase}: {} measurements to do", plan.len());
        let bar = ProgressBar::new(plan.len() as u64).with_style(
            ProgressStyle::with_template("{msg:48} [{bar:30}] {pos}/{len}, {elapsed} (eta {eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        let json = self.out.join("last-run.json");
        for (repeat, ((tasks, size), backend, strategy, generation)) in plan {
            let name = strategy.to_string();
            // An earlier repeat may have found it refused.
            if done(rows, (tasks, size), &backend, &name, generation, repeat) {
                bar.inc(1);
                continue;
            }
            bar.set_message(format!(
                "{tasks}x{size} {backend} {} (repeat {repeat})",
                label(&name, generation)
            ));
            let _ = std::fs::remove_file(&json);
            let output = std::process::Command::new(blaspar_core::registry::engine_path(&backend))
                .args(run_args(
                    &backend,
                    &name,
                    tasks,
                    size,
                    generation,
                    self.results,
                    &json,
                ))
                .output()
                .with_context(|| format!("cannot start the {backend} engine"))?;
            let (record, refused) = match Outcome::of(&output, &json)
                .with_context(|| format!("{backend} {name}"))?
            {
                Outcome::Measured(record) => (Some(*record), None),
                Outcome::Unsupported(why) => (None, Some(why)),
                Outcome::Failed { status, stderr } => {
                    bar.abandon();
                    anyhow::bail!(
                        "{backend} {name} on {tasks}x{size} (repeat {repeat}) failed ({status}): {stderr} -- measured rows are kept in {}; run the same command with --out {} to resume",
                        self.runs_path.display(),
                        self.out.display()
                    );
                }
            };
            let row = Row {
                backend: backend.clone(),
                strategy: name,
                tasks,
                size,
                generation,
                repeat,
                record,
                refused,
            };
            append_row(self.runs_path, &row)?;
            rows.push(row);
            bar.inc(1);
        }
        bar.finish_and_clear();
        let _ = std::fs::remove_file(&json);
        Ok(())
    }
}

/// Configurations around each backend's best (per workload) that the grid did not measure,
/// with the best's data generation.
fn around_best(rows: &[Row], base: &[Config], cpus: usize) -> Vec<Config> {
    let sums = summarise(rows);
    let mut seen: Vec<(usize, usize, &str)> = Vec::new();
    let mut out = Vec::new();
    // summarise sorts fastest first: the first summary per (workload, backend) is its best.
    for s in &sums {
        if seen.contains(&(s.tasks, s.size, s.backend.as_str())) {
            continue;
        }
        seen.push((s.tasks, s.size, s.backend.as_str()));
        let Ok(best) = s.strategy.parse::<Strategy>() else {
            continue;
        };
        for n in best.neighbours(cpus) {
            let g = generations(&n, &[s.generation])[0];
            let c = ((s.tasks, s.size), s.backend.clone(), n, g);
            if !base.contains(&c) && !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

fn read_rows(path: &Path) -> anyhow::Result<Vec<Row>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<Row>(l)
                .map(|mut row| {
                    // Rows written before workload lists carry the workload in the record only.
                    if let (0, Some(rec)) = (row.tasks, &row.record) {
                        (row.tasks, row.size) = (rec.tasks, rec.size);
                    }
                    row
                })
                .with_context(|| {
                format!(
                    "{} line {} is not a sweep row (a partial write?): fix or remove it to resume",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

fn append_row(path: &Path, row: &Row) -> anyhow::Result<()> {
    let mut line = serde_json::to_string(row)?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // One write per row: an interrupted sweep leaves whole lines.
    f.write_all(line.as_bytes())?;
    f.sync_data()?;
    Ok(())
}

/// The summary in the tutorial's table form per backend, the best per backend and overall,
/// and the recommendation.
pub fn report(rows: &[Row], peak: &Peak, repeats: usize) -> String {
    use std::fmt::Write as _;
    let all = summarise(rows);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Sweep: {} interleaved repeats\n\nPeak (measured, {}): {:.1} GFLOP/s on one core, {:.1} on {} CPUs. \
         Times are medians; spread is (max - min) / median; GFLOP/s counts data generation, as the \
         tutorial's times do; generate / multiply / transfer / idle are shares of workers x time. \
         Every configuration listed was measured; the others were not (the pruned grid, then the \
         neighbours of each backend's best on the P x T plane).\n",
        repeats, peak.isa, peak.one_core_gflops, peak.all_cores_gflops, peak.threads
    );
    let mut workloads: Vec<(usize, usize)> = all.iter().map(|s| (s.tasks, s.size)).collect();
    workloads.sort_unstable_by_key(|&(tasks, size)| (size, tasks));
    workloads.dedup();
    let mut bests: Vec<(usize, usize, Summary)> = Vec::new();
    for &(tasks, size) in &workloads {
        let sums: Vec<Summary> = all
            .iter()
            .filter(|s| (s.tasks, s.size) == (tasks, size))
            .cloned()
            .collect();
        let rows: Vec<Row> = rows
            .iter()
            .filter(|r| (r.tasks, r.size) == (tasks, size))
            .cloned()
            .collect();
        let _ = writeln!(t, "## {tasks} tasks of {size}x{size}\n");
        workload_report(&mut t, &rows, &sums, peak);
        if let Some(best) = sums.first() {
            bests.push((tasks, size, best.clone()));
        }
    }
    if bests.len() > 1 {
        let _ = writeln!(
            t,
            "## Scaling\n\n| workload | best | median s | GFLOP/s | % of peak |\n|---|---|---:|---:|---:|"
        );
        for (tasks, size, b) in &bests {
            let _ = writeln!(
                t,
                "| {tasks} x {size}x{size} | {} on {} | {} | {:.1} | {:.0}% |",
                b.label(),
                b.backend,
                seconds(b.median_seconds),
                b.median_gflops,
                100.0 * b.median_gflops / peak.all_cores_gflops
            );
        }
        let crossovers: Vec<String> = bests
            .windows(2)
            .filter(|w| kind(&w[0].2.strategy) != kind(&w[1].2.strategy))
            .map(|w| {
                let (before, after) = (&w[0].2, &w[1].2);
                // The earlier winner, measured on the later workload: is the change real?
                let old = all.iter().find(|s| {
                    (s.tasks, s.size) == (w[1].0, w[1].1)
                        && s.backend == before.backend
                        && s.strategy == before.strategy
                        && s.generation == before.generation
                });
                let verdict = match old {
                    Some(old) => {
                        let margin = old.median_seconds / after.median_seconds - 1.0;
                        let noise = old.spread().max(after.spread());
                        if margin > noise {
                            format!(
                                "{} is {:.1}% slower there, beyond the spread ({:.1}%)",
                                before.label(),
                                100.0 * margin,
                                100.0 * noise
                            )
                        } else {
                            format!(
                                "within noise: {} is {:.1}% slower there, inside the spread ({:.1}%)",
                                before.label(),
                                100.0 * margin,
                                100.0 * noise
                            )
                        }
                    }
                    None => format!("{} was not measured there", before.label()),
                };
                format!(
                    "from {} x {}x{} to {} x {}x{}: {} on {} gives way to {} on {} ({verdict})",
                    w[0].0,
                    w[0].1,
                    w[0].1,
                    w[1].0,
                    w[1].1,
                    w[1].1,
                    before.label(),
                    before.backend,
                    after.label(),
                    after.backend
                )
            })
            .collect();
        if crossovers.is_empty() {
            let _ = writeln!(
                t,
                "\nNo crossover: the same kind of strategy wins at every workload measured."
            );
        } else {
            let _ = writeln!(t, "\nCrossovers (workloads ordered by size, then tasks):\n");
            for c in crossovers {
                let _ = writeln!(t, "- {c}");
            }
        }
    }
    t
}

/// The kind of a strategy, without its numbers (`threads-4` -> `threads`).
fn kind(strategy: &str) -> &str {
    strategy.trim_end_matches(|c: char| c.is_ascii_digit() || c == 'x' || c == '-')
}

/// One workload's tables (one per backend) and recommendation.
fn workload_report(t: &mut String, rows: &[Row], sums: &[Summary], peak: &Peak) {
    use std::fmt::Write as _;
    let mut backends: Vec<&str> = sums.iter().map(|s| s.backend.as_str()).collect();
    backends.sort_unstable();
    backends.dedup();
    for b in &backends {
        let _ = writeln!(t, "### {b}\n");
        let _ = writeln!(
            t,
            "| strategy | task parallelism | BLAS threads | runs | median s | spread | GFLOP/s | % of peak | generate | multiply | transfer | idle | start-up s |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for s in sums.iter().filter(|s| s.backend == *b) {
            // A row written by another version may name a strategy this one does not know:
            // its figures still stand, only the two descriptive cells stay open.
            let (tasks, mut threads) = match s.strategy.parse::<Strategy>() {
                Ok(strat) => (
                    strat.placement().tasks_cell(strat.workers()),
                    strat
                        .blas_threads()
                        .requested()
                        .map_or("default".to_string(), |t| t.to_string()),
                ),
                Err(_) => ("?".to_string(), "?".to_string()),
            };
            if s.generation == Generation::Parallel {
                threads.push_str(" (also generating)");
            }
            let _ = writeln!(
                t,
                "| {} | {} | {} | {} | {} | {:.1}% | {:.1} | {:.0}% | {:.0}% | {:.0}% | {:.1}% | {:.0}% | {:.4} |",
                s.label(),
                tasks,
                threads,
                s.runs,
                seconds(s.median_seconds),
                100.0 * s.spread(),
                s.median_gflops,
                100.0 * s.median_gflops / peak.all_cores_gflops,
                100.0 * s.split[0],
                100.0 * s.split[1],
                100.0 * s.split[2],
                100.0 * s.split[3],
                s.startup
            );
        }
        if let Some(best) = sums.iter().find(|s| s.backend == *b) {
            let _ = writeln!(
                t,
                "\nBest on {b}: **{}**, {} s, {:.1} GFLOP/s.",
                best.label(),
                seconds(best.median_seconds),
                best.median_gflops
            );
        }
        if let Some(seq) = sums.iter().find(|s| {
            s.backend == *b && s.strategy == "sequential" && s.generation == Generation::Serial
        }) {
            let _ = writeln!(
                t,
                "\nSingle-thread GEMM (sequential, multiply phase only): {:.1} GFLOP/s, {:.0}% of the one-core peak.",
                seq.gemm_gflops_per_worker,
                100.0 * seq.gemm_gflops_per_worker / peak.one_core_gflops
            );
        }
        let refused: Vec<&Row> = rows
            .iter()
            .filter(|r| r.backend == *b && r.refused.is_some())
            .collect();
        if !refused.is_empty() {
            let _ = writeln!(t, "\nNot run (the backend cannot run them honestly):\n");
            for r in refused {
                let why = r.refused.as_deref().unwrap_or_default();
                let why = why.split_once(": ").map_or(why, |(_, w)| w);
                let _ = writeln!(t, "- {}: {why}", r.strategy);
            }
        }
        let _ = writeln!(t);
    }
    let pairs: Vec<(&Summary, &Summary)> = sums
        .iter()
        .filter(|p| p.generation == Generation::Parallel)
        .filter_map(|p| {
            let s = sums.iter().find(|s| {
                s.generation == Generation::Serial
                    && s.backend == p.backend
                    && s.strategy == p.strategy
            })?;
            Some((s, p))
        })
        .collect();
    if !pairs.is_empty() {
        let _ = writeln!(
            t,
            "### Parallel data generation: does it pay?\n\nEach pair is the same configuration with \
             the data made by the worker's thread alone (serial) and by as many threads as it has \
             BLAS threads (parallel); the matrices are identical.\n\n\
             | backend | strategy | serial s | parallel s | generate share (serial) | gain | verdict |\n|---|---|---:|---:|---:|---:|---|"
        );
        for (s, p) in pairs {
            let gain = s.median_seconds / p.median_seconds - 1.0;
            let noise = s.spread().max(p.spread());
            let verdict = if gain.abs() <= noise {
                "within noise"
            } else if gain > 0.0 {
                "pays"
            } else {
                "costs"
            };
            let _ = writeln!(
                t,
                "| {} | {} | {} | {} | {:.0}% | {:+.1}% | {verdict} (spread {:.1}%) |",
                s.backend,
                s.strategy,
                seconds(s.median_seconds),
                seconds(p.median_seconds),
                100.0 * s.split[0],
                100.0 * gain,
                100.0 * noise
            );
        }
        let _ = writeln!(t);
    }
    if let (Some(best), Some(second)) = (sums.first(), sums.get(1)) {
        let strat: Strategy = best.strategy.parse().expect("valid");
        let margin = second.median_seconds / best.median_seconds - 1.0;
        let noise = best.spread().max(second.spread());
        let naive: Vec<String> = sums
            .iter()
            .filter(|s| {
                s.backend == best.backend
                    && s.label() != best.label()
                    && s.generation == Generation::Serial
                    && (s.strategy == "blas-default"
                        || s.strategy == format!("procs-{}", peak.threads))
            })
            .map(|s| {
                format!(
                    "{:.2}x faster than {}",
                    s.median_seconds / best.median_seconds,
                    s.strategy
                )
            })
            .collect();
        let _ = writeln!(
            t,
            "### Recommendation\n\nBest: **{} on {}**, {} s, {:.1} GFLOP/s ({:.0}% of the measured peak). \
             It beats the runner-up ({} on {}) by {:.1}%, {} the measured spread ({:.1}%){}{}.\n\nIn your own program: {}.",
            best.label(),
            best.backend,
            seconds(best.median_seconds),
            best.median_gflops,
            100.0 * best.median_gflops / peak.all_cores_gflops,
            second.label(),
            second.backend,
            100.0 * margin,
            if margin > noise {
                "more than"
            } else {
                "a tie: within"
            },
            100.0 * noise,
            if naive.is_empty() { "" } else { "; it is " },
            naive.join(" and "),
            how_to(&best.backend, &strat, best.generation)
        );
        let _ = writeln!(t);
    }
}

/// The folder's README: the exact commands, commits, tool and library versions, CPU, cores
/// and BLAS environment, all read from the rows themselves (nothing is typed by hand).
pub fn readme(rows: &[Row], peak: &Peak, machine: &Machine, out: &Path) -> String {
    use std::collections::BTreeSet;
    use std::fmt::Write as _;
    let recs: Vec<&RunRecord> = rows.iter().filter_map(|r| r.record.as_ref()).collect();
    let set = |f: &dyn Fn(&RunRecord) -> String| -> Vec<String> {
        recs.iter()
            .map(|r| f(r))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let commits = set(&|r| r.commit.clone());
    let tools = set(&|r| r.tool_version.clone());
    let libs = set(&|r| {
        format!(
            "{}: {} (kernel {}, {})",
            r.backend, r.backend_version, r.kernel, r.kernel_choice.method
        )
    });
    let envs = set(&|r| {
        if r.blas_env.is_empty() {
            "(no BLAS variable set)".to_string()
        } else {
            r.blas_env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    });
    let workloads = set(&|r| format!("{} tasks of {}x{}", r.tasks, r.size, r.size));
    let mut t = String::new();
    let _ = writeln!(t, "# blaspar sweep on {}\n", machine.hostname);
    let _ = writeln!(
        t,
        "Generated by `blaspar sweep` from the rows in `runs.jsonl`; the summary and plots are regenerated by running the same command again.\n"
    );
    let commands = std::fs::read_to_string(out.join("commands.log")).unwrap_or_default();
    let _ = writeln!(t, "- Commands (every invocation on this folder, in order):");
    for c in commands.lines().filter(|l| !l.trim().is_empty()) {
        let _ = writeln!(t, "  - `{c}`");
    }
    let _ = writeln!(
        t,
        "- Machine: {} ({} logical CPUs, {} physical cores; {} allowed; cgroup quota {}), SIMD: {}",
        machine.cpu_model,
        machine.logical_cpus,
        machine.physical_cores,
        machine.cpus_allowed.len(),
        machine
            .cgroup_cpu_quota
            .map_or("none".to_string(), |q| format!("{q} CPUs")),
        machine.simd.join(" ")
    );
    let _ = writeln!(
        t,
        "- Measured f64 FMA peak ({}): {:.1} GFLOP/s on one core, {:.1} on {} CPUs",
        peak.isa, peak.one_core_gflops, peak.all_cores_gflops, peak.threads
    );
    let _ = writeln!(t, "- Commit(s) of the binaries: {}", commits.join(", "));
    let _ = writeln!(t, "- blaspar version(s): {}", tools.join(", "));
    let _ = writeln!(t, "- Workloads: {}", workloads.join("; "));
    let _ = writeln!(t, "- BLAS environment: {}", envs.join("; "));
    let _ = writeln!(
        t,
        "- Rows: {} measured, {} refused (see `summary.md`)",
        recs.len(),
        rows.len() - recs.len()
    );
    let _ = writeln!(t, "- Libraries:");
    for l in libs {
        let _ = writeln!(t, "  - {l}");
    }
    let _ = writeln!(
        t,
        "\nFiles: `runs.jsonl` (one row per measurement, with the full run record), `peak.json`, \
         `summary.md` (tables, recommendation, scaling), `strategies*.svg`, `heatmap-*.svg`, \
         `scaling.svg` (with several workloads)."
    );
    t
}

/// Seconds with about four significant digits.
fn seconds(s: f64) -> String {
    match s {
        s if s >= 100.0 => format!("{s:.1}"),
        s if s >= 10.0 => format!("{s:.2}"),
        s if s >= 1.0 => format!("{s:.3}"),
        s => format!("{s:.4}"),
    }
}

/// How to get a strategy in the user's own program, in words, for one backend.
pub fn how_to(backend: &str, strategy: &Strategy, generation: Generation) -> String {
    let run = how_to_run(backend, strategy);
    match (generation, strategy.blas_threads()) {
        (Generation::Serial, _) => run,
        (Generation::Parallel, blaspar_core::BlasThreads::Fixed(t)) => format!(
            "{run}; and make each task's data with {t} threads (split the matrices into blocks, \
             e.g. with rayon's par_chunks_mut, one random stream per block)"
        ),
        (Generation::Parallel, blaspar_core::BlasThreads::LibraryDefault) => format!(
            "{run}; and make each task's data with as many threads as the library uses (split \
             the matrices into blocks, one random stream per block)"
        ),
    }
}

fn how_to_run(backend: &str, strategy: &Strategy) -> String {
    strategy.how_to(|t| match Engine::named(backend) {
        Some(engine) => engine.set_threads_phrase(t),
        None => format!("the library at {t} thread(s)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::median;

    fn names(g: &[Strategy]) -> Vec<String> {
        g.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn how_to_names_each_library_s_own_controls() {
        let h = |b: &str, s: &str| how_to(b, &s.parse().unwrap(), Generation::Serial);
        assert!(h("blis", "threads-4").contains("BLIS_NUM_THREADS=1"));
        assert!(h("openblas-openmp", "blas-8").contains("OMP_NUM_THREADS=8"));
        assert!(h("openblas-pthread", "hybrid-procs-2x4").contains("OPENBLAS_NUM_THREADS=4"));
        assert!(h("mkl-iomp", "blas-2").contains("MKL_NUM_THREADS=2"));
        assert!(h("mkl-seq", "procs-2").contains("single-threaded"));
        assert!(h("faer", "blas-2").contains("Par::rayon(2)"));
        assert!(h("blis", "batched-2").contains("cblas_dgemm_batch"));
        let p = how_to("blis", &"blas-4".parse().unwrap(), Generation::Parallel);
        assert!(
            p.contains("BLIS_NUM_THREADS=4") && p.contains("data with 4 threads"),
            "{p}"
        );
    }

    #[test]
    fn parallel_generation_only_where_workers_have_blas_threads() {
        let both = [Generation::Serial, Generation::Parallel];
        let g = |s: &str, w: &[Generation]| generations(&s.parse().unwrap(), w);
        assert_eq!(g("blas-2", &both), both);
        assert_eq!(g("blas-default", &both), both);
        assert_eq!(
            g("hybrid-procs-2x2", &[Generation::Parallel]),
            [Generation::Parallel]
        );
        assert_eq!(g("threads-2", &both), [Generation::Serial]);
        assert_eq!(
            g("sequential", &[Generation::Parallel]),
            [Generation::Serial]
        );
        assert_eq!(label("blas-2", Generation::Parallel), "blas-2+pgen");
        assert_eq!(label("blas-2", Generation::Serial), "blas-2");
    }

    #[test]
    fn strategy_kinds_drop_their_numbers() {
        assert_eq!(kind("threads-4"), "threads");
        assert_eq!(kind("hybrid-procs-2x8"), "hybrid-procs");
        assert_eq!(kind("blas-default"), "blas-default");
        assert_eq!(kind("sequential"), "sequential");
    }

    #[test]
    fn medians_and_spread() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        let s = Summary {
            backend: "b".into(),
            strategy: "s".into(),
            generation: Generation::Serial,
            tasks: 4,
            size: 10,
            runs: 3,
            median_seconds: 2.0,
            min_seconds: 1.9,
            max_seconds: 2.3,
            median_gflops: 1.0,
            split: [0.1, 0.8, 0.0, 0.1],
            startup: 0.0,
            gemm_gflops_per_worker: 1.0,
        };
        assert!((s.spread() - 0.2).abs() < 1e-12);
    }

    #[test]
    fn shuffles_are_permutations_that_differ_by_seed() {
        let items: Vec<usize> = (0..20).collect();
        let a = shuffled(&items, 1);
        let b = shuffled(&items, 2);
        assert_ne!(a, b);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, items);
        assert_eq!(shuffled(&items, 1), a);
    }
}

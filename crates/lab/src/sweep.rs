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

use crate::answer::recommend;
use crate::engines::{Outcome, run_args, shuffled};
use crate::report::{readme, report};
use crate::summary::{Row, summarise};
use anyhow::Context;
use blaspar_core::ResultMode;
use blaspar_core::args::{
    backend, generation, positive, positive_seconds, preset, result_mode, strategy,
};
use blaspar_core::machine::Machine;
use blaspar_core::peak::Peak;
use blaspar_core::strategy::label;
use blaspar_core::workload::Generation;
use blaspar_core::{Preset, Strategy};
use blaspar_plot::Measured;
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

/// Runs a sweep: measures what is missing from `runs.jsonl` (the grid, then around each
/// backend's best), then writes the summary, the README and the plots from all the rows.
pub fn sweep(args: &SweepArgs) -> anyhow::Result<()> {
    let machine = Machine::detect();
    let cpus = machine.cpus_allowed.len().max(1);
    let workloads = workloads(args, &machine);
    let backends = built_backends(&args.backends)?;
    let out = args.out.clone().unwrap_or_else(default_out);
    let runs_path = out.join("runs.jsonl");
    let mut rows = open_folder(&out, &runs_path)?;
    let peak = peak_of_folder(&out, cpus, args.peak_seconds)?;

    let base: Vec<Strategy> = if args.strategies.is_empty() {
        Strategy::grid(cpus)
    } else {
        args.strategies.clone()
    };
    let configs = configurations(&workloads, &backends, &base, &args.generation);
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
    ctx.measure(&configs, &mut rows, "grid")?;
    if args.strategies.is_empty() && !args.no_refine {
        let extra = around_best(&rows, &configs, cpus);
        if !extra.is_empty() {
            let names: Vec<String> = extra
                .iter()
                .map(|((t, n), b, s, g)| format!("{b} {} ({t}x{n})", label(&s.to_string(), *g)))
                .collect();
            eprintln!("around the best: {}", names.join(", "));
        }
        ctx.measure(&extra, &mut rows, "around the best")?;
    }

    let rec = recommend(&rows);
    let text = report(&rows, &peak, args.repeats, &rec);
    print!("{text}");
    std::fs::write(out.join("summary.md"), &text)?;
    let json = serde_json::to_string_pretty(&rec)? + "\n";
    std::fs::write(out.join("recommendation.json"), json)?;
    std::fs::write(out.join("README.md"), readme(&rows, &peak, &machine, &out))?;
    draw_plots(&out, &rows, &configs, &peak)?;
    eprintln!(
        "rows: {}; summary: {}; answer: {}",
        runs_path.display(),
        out.join("summary.md").display(),
        out.join("recommendation.json").display()
    );
    Ok(())
}

/// The workloads to sweep: every (tasks, size) of the lists, the preset's numbers where a
/// list is not given.
fn workloads(args: &SweepArgs, machine: &Machine) -> Vec<(usize, usize)> {
    let preset = args.preset.workload(machine.default_parallelism);
    let or_preset = |list: &[usize], one: usize| {
        if list.is_empty() {
            vec![one]
        } else {
            list.to_vec()
        }
    };
    let sizes = or_preset(&args.sizes, preset.size);
    or_preset(&args.tasks, preset.tasks)
        .into_iter()
        .flat_map(|t| sizes.iter().map(move |&n| (t, n)))
        .collect()
}

/// The backends named (each must be built), or every built one.
fn built_backends(named: &[String]) -> anyhow::Result<Vec<String>> {
    let backends: Vec<String> = if named.is_empty() {
        blaspar_core::registry::names()
            .filter(|b| blaspar_core::registry::engine_path(b).exists())
            .map(str::to_string)
            .collect()
    } else {
        named.to_vec()
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
    Ok(backends)
}

/// `target/blaspar-sweeps/<unix time>`.
fn default_out() -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Path::new("target/blaspar-sweeps").join(stamp.to_string())
}

/// Creates (or resumes) the sweep's folder: logs this command line for the README (a
/// resumed sweep has several) and reads the rows measured so far.
fn open_folder(out: &Path, runs_path: &Path) -> anyhow::Result<Vec<Row>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.join("commands.log"))
        .with_context(|| format!("cannot write to {}", out.display()))?;
    writeln!(log, "{}", std::env::args().collect::<Vec<_>>().join(" "))?;
    read_rows(runs_path)
}

/// The folder's peak: measured once, so every row of a resumed sweep compares to one figure.
fn peak_of_folder(out: &Path, cpus: usize, seconds: std::time::Duration) -> anyhow::Result<Peak> {
    let peak_path = out.join("peak.json");
    let peak: Peak = match std::fs::read_to_string(&peak_path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a peak measurement: remove it to measure again",
                peak_path.display()
            )
        })?,
        Err(_) => {
            let p = blaspar_core::peak::measure(cpus, seconds);
            std::fs::write(&peak_path, serde_json::to_string_pretty(&p)? + "\n")?;
            p
        }
    };
    eprintln!(
        "peak (measured, {}): one core {:.1} GFLOP/s, {} CPUs {:.1} GFLOP/s",
        peak.isa, peak.one_core_gflops, peak.threads, peak.all_cores_gflops
    );
    Ok(peak)
}

/// Every (workload, backend, strategy, generation) to measure.
fn configurations(
    workloads: &[(usize, usize)],
    backends: &[String],
    base: &[Strategy],
    wanted: &[Generation],
) -> Vec<Config> {
    let mut configs = Vec::new();
    for &w in workloads {
        for b in backends {
            for s in base {
                for g in generations(s, wanted) {
                    configs.push((w, b.clone(), *s, g));
                }
            }
        }
    }
    configs
}

/// The plots of every workload measured (and the scaling plot with several), in the grid's
/// order, then anything measured around the best.
fn draw_plots(out: &Path, rows: &[Row], configs: &[Config], peak: &Peak) -> anyhow::Result<()> {
    // The plots know nothing of runs: each summary becomes the plain values they draw.
    let sums: Vec<Measured> = summarise(rows)
        .into_iter()
        .map(|s| Measured {
            label: s.label(),
            backend: s.backend,
            strategy: s.strategy,
            tasks: s.tasks,
            size: s.size,
            median_seconds: s.median_seconds,
            min_seconds: s.min_seconds,
            max_seconds: s.max_seconds,
            median_gflops: s.median_gflops,
        })
        .collect();
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
        let here: Vec<Measured> = sums
            .iter()
            .filter(|s| (s.tasks, s.size) == (tasks, size))
            .cloned()
            .collect();
        let suffix = if many {
            format!("-{tasks}x{size}")
        } else {
            String::new()
        };
        let peak = peak.all_cores_gflops;
        let file = out.join(format!("strategies{suffix}.svg"));
        blaspar_plot::bars::strategies(&here, &order, peak, &file)?;
        let mut backends: Vec<&str> = here.iter().map(|s| s.backend.as_str()).collect();
        backends.sort_unstable();
        backends.dedup();
        for b in backends {
            let refused: Vec<String> = rows
                .iter()
                .filter(|r| r.backend == b && (r.tasks, r.size) == (tasks, size))
                .filter(|r| r.refused.is_some())
                .map(|r| r.strategy.clone())
                .collect();
            let file = out.join(format!("heatmap-{b}{suffix}.svg"));
            blaspar_plot::heatmap::heatmap(b, &here, &refused, peak, &file)?;
        }
    }
    if many {
        blaspar_plot::scaling::scaling(&sums, peak.all_cores_gflops, &out.join("scaling.svg"))?;
    }
    eprintln!(
        "plots: {}/strategies*.svg, heatmap-<backend>*.svg (and scaling.svg with several workloads)",
        out.display()
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
    fn measure(&self, configs: &[Config], rows: &mut Vec<Row>, phase: &str) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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

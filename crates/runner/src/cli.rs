//! The command line, shared by the front binary and every engine binary. clap's matches
//! become typed [`RunOptions`] once, validated against each other before anything runs.

use crate::execute::ResultMode;
use blaspar_core::machine::{Machine, available_memory};
use blaspar_core::workload::Generation;
use blaspar_core::{MemoryPlan, Preset, Strategy, Workload};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "blaspar",
    version,
    about = "How should a program that multiplies many independent matrices use the cores?",
    long_about = "Runs task-level parallelism (threads, processes), BLAS threads, both or neither on \
                  a workload of independent matrix products, verifies every product and reports \
                  time, GFLOP/s, verified BLAS thread counts and where the time went."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one strategy on one workload, verify every product, print a result row.
    Run(Box<RunArgs>),
    /// List the backends, whether each is built, and its version and kernel.
    Backends,
    /// Show the machine as this process sees it (JSON): cores, affinity, quota, SIMD.
    Machine,
    /// Measure the machine's f64 limit: a fused multiply-add microkernel in the widest vector
    /// instructions the CPU has, on one core and on every allowed core at once.
    Peak(PeakArgs),
    /// Sweep the strategy grid on every built backend (or those named), several interleaved
    /// repeats each; rows are written as they are measured and an interrupted sweep resumes.
    Sweep(SweepArgs),
    /// Compare two commits: build each in its own git worktree, measure both alternately
    /// (A B, B A, ...) on this machine, and give per benchmark the ratio B/A with a 95%
    /// interval and a verdict. Exit status 3 when a benchmark is slower beyond the threshold.
    Compare(CompareArgs),
    /// Show the history of measured runs: the benchmarks recorded, or one benchmark's
    /// trend across commits on one machine with its step changes (and an SVG plot).
    History(HistoryArgs),
}

#[derive(Debug, Args, Clone)]
pub struct CompareArgs {
    /// The baseline revision (anything `git rev-parse` takes: HEAD~1, a branch, a sha).
    #[arg(value_name = "REV_A")]
    pub rev_a: String,
    /// The revision compared with it.
    #[arg(value_name = "REV_B")]
    pub rev_b: String,
    /// Backends to measure, comma-separated (built in both revisions).
    #[arg(long, value_delimiter = ',', value_parser = parse_backend, default_value = "matrixmultiply")]
    pub backends: Vec<String>,
    /// Strategies to measure, comma-separated (resolved against this machine once, so both
    /// revisions run the same text).
    #[arg(long, value_delimiter = ',', value_parser = parse_strategy, default_value = "sequential,threads")]
    pub strategies: Vec<Strategy>,
    /// Named workload (quick or seed); --tasks and --size override its numbers.
    #[arg(long, default_value = "quick", value_parser = parse_preset)]
    pub preset: Preset,
    /// Number of tasks.
    #[arg(long, short = 'n', value_name = "N", allow_hyphen_values = true, value_parser = positive)]
    pub tasks: Option<usize>,
    /// Matrix size.
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true, value_parser = positive)]
    pub size: Option<usize>,
    /// Measured pairs per benchmark (at least 6 for a 95% interval).
    #[arg(long, default_value_t = crate::compare::DEFAULT_SAMPLES, value_parser = positive)]
    pub samples: usize,
    /// Unmeasured runs of each revision per benchmark first (page cache, kernel probes).
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Smallest change that counts, in percent: slower needs B/A above 1 + PCT/100 and an
    /// interval wholly above 1.
    #[arg(long, value_name = "PCT", default_value = "3", value_parser = positive_percent)]
    pub threshold: f64,
    /// Folder for samples.jsonl, compare.json and compare.md
    /// (default: target/blaspar-compare/runs/<time>-<A>-<B>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Shared cargo target folder for both revisions' builds
    /// (default: target/blaspar-compare/target; never your own target/release).
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// History file each sample is appended to (`off`: none; default: $BLASPAR_HISTORY,
    /// else results/history.jsonl).
    #[arg(long, value_name = "FILE")]
    pub history: Option<String>,
}

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

#[derive(Debug, Args, Clone)]
pub struct SweepArgs {
    /// Backends to sweep, comma-separated (default: every built engine).
    #[arg(long, value_delimiter = ',', value_parser = parse_backend)]
    pub backends: Vec<String>,
    /// Named workload (quick or seed); --tasks and --sizes override its numbers.
    #[arg(long, default_value = "quick", value_parser = parse_preset)]
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
    #[arg(long, value_enum, default_value_t = ResultMode::Matrices)]
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
    #[arg(long, value_delimiter = ',', value_parser = parse_strategy)]
    pub strategies: Vec<Strategy>,
    /// Skip the search around each backend's best configuration.
    #[arg(long)]
    pub no_refine: bool,
    /// Data generation to measure, comma-separated: serial, parallel (see `run --help`).
    /// With both, every configuration whose workers run more than one BLAS thread is
    /// measured both ways (with one thread per worker the two are the same run).
    #[arg(long, value_delimiter = ',', default_value = "serial", value_parser = parse_generation)]
    pub generation: Vec<Generation>,
}

#[derive(Debug, Args, Clone)]
pub struct PeakArgs {
    /// Seconds each measurement runs (one core, then all cores).
    #[arg(long, default_value = "0.5", value_parser = positive_seconds)]
    pub seconds: std::time::Duration,
    /// Kernel threads for the all-core figure (default: every CPU this process may use).
    #[arg(long, value_parser = positive)]
    pub threads: Option<usize>,
    /// Write the measurement (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

impl PeakArgs {
    /// Measures and prints the limit (and writes `--json`).
    pub fn run(&self) -> anyhow::Result<()> {
        let threads = self
            .threads
            .unwrap_or_else(|| Machine::detect().cpus_allowed.len().max(1));
        let p = blaspar_core::peak::measure(threads, self.seconds);
        println!(
            "f64 FMA peak ({}, {} lanes): one core {:.1} GFLOP/s, {} threads {:.1} GFLOP/s ({:.2} s each)",
            p.isa, p.lanes, p.one_core_gflops, p.threads, p.all_cores_gflops, p.seconds
        );
        if let Some(path) = &self.json {
            let mut text = serde_json::to_string_pretty(&p)?;
            text.push('\n');
            std::fs::write(path, text)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Strategy: sequential, blas-default, blas-T, threads-P, hybrid-threads-PxT, procs-P,
    /// hybrid-procs-PxT. `blas`, `threads`, `procs`, `hybrid-threads` and `hybrid-procs`
    /// alone take P and T from the physical cores this process may use.
    /// batched-T (`batched`): all products in one batched dgemm call at T BLAS threads.
    #[arg(long, short = 's', value_name = "STRATEGY", value_parser = parse_strategy)]
    pub strategy: Strategy,
    /// Named workload: seed (100 tasks of 2000x2000, the tutorial's) or quick (>= 16 tasks
    /// of 1000x1000, a few seconds). --tasks and --size override its numbers.
    #[arg(long, default_value = "quick", value_parser = parse_preset)]
    pub preset: Preset,
    /// Number of independent tasks (each: generate A and B, multiply).
    #[arg(long, short = 'n', value_name = "N", allow_hyphen_values = true, value_parser = positive)]
    pub tasks: Option<usize>,
    /// Matrix size: each task multiplies two SIZE x SIZE matrices.
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true, value_parser = positive)]
    pub size: Option<usize>,
    /// Seed of the data generator (Xoshiro256++).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Who generates each task's A and B: serial (the worker's own thread, as the tutorial
    /// does) or parallel (the worker's thread and one more per extra BLAS thread it runs,
    /// which would otherwise wait while the data are made). The values are the same.
    #[arg(long, default_value = "serial", value_parser = parse_generation)]
    pub generation: Generation,
    /// Backend to run: blis (built-in default), openblas-pthread, openblas-openmp,
    /// openblas-serial, mkl-seq, mkl-iomp, faer or matrixmultiply (`blaspar backends` lists
    /// what is built).
    #[arg(long, short = 'b', default_value = "blis", value_parser = parse_backend)]
    pub backend: String,
    /// Kernel: auto (probe every compiled-in kernel, take the fastest correct one; cached),
    /// default (the library's own detection) or a name such as skx or haswell (BLIS).
    #[arg(long, default_value = "auto")]
    pub kernel: String,
    /// Write the result record (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Folder for cached kernel probes (default: $BLASPAR_CACHE_DIR, else ~/.cache/blaspar).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// How products come back: matrices (every product kept; worker processes write theirs
    /// straight into shared memory that this process maps) or fingerprints (each worker
    /// checks its product and returns only the check; needs no memory for products).
    #[arg(long, value_enum, default_value_t = ResultMode::Matrices)]
    pub results: ResultMode,
    /// Longest a task may take in a worker process before the worker is killed and the run
    /// fails, in seconds (also bounds a worker's start-up, at least 30 s). Default: 60 s plus
    /// 2 s per GFLOP of one task.
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true, value_parser = positive_seconds)]
    pub task_timeout: Option<std::time::Duration>,
    /// Binary to start as worker processes (default: this engine itself).
    #[arg(long, value_name = "FILE")]
    pub worker_exe: Option<PathBuf>,
    /// Testing aid: add 1.0 to one entry of this task's product before verification.
    #[arg(long, hide = true, value_name = "TASK")]
    pub inject_corruption: Option<usize>,
    /// History file the run is appended to (`off`: none; default: $BLASPAR_HISTORY, else
    /// results/history.jsonl of the checkout that built blaspar).
    #[arg(long, value_name = "FILE")]
    pub history: Option<String>,
}

fn positive(s: &str) -> Result<usize, String> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("must be a whole number >= 1, got '{s}'"));
    }
    match t.parse::<usize>() {
        Ok(0) => Err("must be at least 1, got 0".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is too large")),
    }
}

fn positive_seconds(s: &str) -> Result<std::time::Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e9 => Ok(std::time::Duration::from_secs_f64(v)),
        _ => Err(format!("must be a number of seconds > 0, got '{s}'")),
    }
}

fn positive_percent(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches('%').parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1000.0 => Ok(v),
        _ => Err(format!(
            "must be a percentage > 0 (e.g. 3 or 3%), got '{s}'"
        )),
    }
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    Strategy::parse_with_defaults(s, Machine::detect().default_parallelism)
        .map_err(|e| e.to_string())
}

fn parse_generation(s: &str) -> Result<Generation, String> {
    s.parse()
}

fn parse_preset(s: &str) -> Result<Preset, String> {
    Preset::from_name(s)
        .ok_or_else(|| format!("unknown preset '{s}': expected one of {}", Preset::NAMES))
}

fn parse_backend(s: &str) -> Result<String, String> {
    if crate::BACKENDS.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown backend '{s}': expected one of {}",
            crate::BACKENDS.join(", ")
        ))
    }
}

/// A validated run request.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub strategy: Strategy,
    pub workload: Workload,
    pub backend: String,
    pub kernel: String,
    pub json: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub results: ResultMode,
    pub task_timeout: Option<std::time::Duration>,
    pub worker_exe: Option<PathBuf>,
    pub inject_corruption: Option<usize>,
    /// `--history` as given (resolved by [`crate::history::resolve`]).
    pub history: Option<String>,
}

impl RunArgs {
    /// Resolves the preset against this machine and checks that the run can fit in memory.
    /// Allocates nothing.
    pub fn validate(&self) -> anyhow::Result<RunOptions> {
        let machine = Machine::detect();
        let mut workload = self.preset.workload(machine.default_parallelism);
        workload.tasks = self.tasks.unwrap_or(workload.tasks);
        workload.size = self.size.unwrap_or(workload.size);
        workload.seed = self.seed;
        workload.generation = self.generation;
        let (available, source) = available_memory();
        let plan = MemoryPlan {
            keep_products: self.results == ResultMode::Matrices,
            // Workers in flight, or verification threads afterwards.
            in_flight: match self.strategy {
                // A batch holds every task's A, B and C at once.
                Strategy::Batched { .. } => workload.tasks,
                s => s.workers().max(machine.cpus_allowed.len()),
            },
        };
        workload.check(plan, available, &source)?;
        if let Some(task) = self.inject_corruption
            && task >= workload.tasks
        {
            anyhow::bail!(
                "--inject-corruption {task} names no task (tasks are 0..{})",
                workload.tasks - 1
            );
        }
        if self.inject_corruption.is_some() && self.results == ResultMode::Fingerprints {
            anyhow::bail!(
                "--inject-corruption needs --results matrices (it corrupts a kept product)"
            );
        }
        Ok(RunOptions {
            strategy: self.strategy,
            workload,
            backend: self.backend.clone(),
            kernel: self.kernel.clone(),
            json: self.json.clone(),
            cache_dir: self.cache_dir.clone(),
            results: self.results,
            task_timeout: self.task_timeout,
            worker_exe: self.worker_exe.clone(),
            inject_corruption: self.inject_corruption,
            history: self.history.clone(),
        })
    }
}

/// Parses the command line; on a usage error prints one line and exits with status 2.
pub fn parse_or_exit() -> Cli {
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            e.exit()
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            e.exit()
        }
        Err(e) => {
            // clap's first paragraph, as one line (missing arguments are listed below the first).
            let text = e.to_string();
            let first: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("{} (see --help)", first.join(" "));
            std::process::exit(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_numbers_only() {
        assert_eq!(positive("12"), Ok(12));
        assert!(positive("0").unwrap_err().contains("at least 1"));
        assert!(positive("-3").unwrap_err().contains("whole number"));
        assert!(positive("abc").unwrap_err().contains("whole number"));
        assert!(
            positive("99999999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn overrides_apply_to_the_preset() {
        let cli = Cli::try_parse_from([
            "blaspar",
            "run",
            "-s",
            "sequential",
            "--preset",
            "seed",
            "--tasks",
            "3",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("run")
        };
        let opts = args.validate().unwrap();
        assert_eq!(opts.workload.tasks, 3);
        assert_eq!(opts.workload.size, 2000);
    }
}

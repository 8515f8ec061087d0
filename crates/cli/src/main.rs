//! The front binary `blaspar`: one command line, one dispatch. It links no BLAS. `run` is
//! validated here (bad input fails fast, before anything is allocated) and handed to the
//! chosen backend's engine binary, `blaspar-engine-<backend>`, found next to this
//! executable or in `$BLASPAR_ENGINE_DIR`, by `exec`: same process, so signals and the exit
//! status pass straight through. Every other command is the lab's.

use blaspar_core::args::{positive, positive_seconds};
use blaspar_core::machine::Machine;
use blaspar_core::registry::{engine_path, names};
use blaspar_engine::options::{RunArgs, parse_or_exit};
use blaspar_lab::advise::AdviseArgs;
use blaspar_lab::check::CheckArgs;
use blaspar_lab::compare::CompareArgs;
use blaspar_lab::history::HistoryArgs;
use blaspar_lab::sweep::SweepArgs;
use clap::{Args, Parser, Subcommand};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    /// Sweep the strategy grid on every built backend (or those named): every configuration
    /// once, then repeats only where the answer is undecided (racing), and the answer as
    /// three sets (surely as fast as the best, undecided, surely slower) with a confidence;
    /// also of a workload file (--workload) or a folder of .npy files (--input); rows are
    /// written as they are measured and an interrupted sweep resumes.
    Sweep(SweepArgs),
    /// Compare two commits: build each in its own git worktree, measure both alternately
    /// (A B, B A, ...) on this machine, and give per benchmark the ratio B/A with a 95%
    /// interval and a verdict. Exit status 3 when a benchmark is slower beyond the threshold.
    Compare(CompareArgs),
    /// Show the history of measured runs: the benchmarks recorded, or one benchmark's
    /// trend across commits on one machine with its step changes (and an SVG plot).
    History(HistoryArgs),
    /// Print the sweep's answer for a program: the recommended set's library thread
    /// variables (sh), a Rust module or a Python module, from DIR/recommendation.json.
    Advise(AdviseArgs),
    /// Check a sweep's answer on fresh measurements: its best against the fastest
    /// configuration surely slower, interleaved, with compare's paired 95% interval;
    /// writes DIR/check.json and DIR/check.md.
    Check(CheckArgs),
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

fn not_built(backend: &str, path: &Path) -> String {
    format!(
        "the {backend} engine is not built (looked for {}): run scripts/build.sh",
        path.display()
    )
}

/// `run`: validate, then become the engine.
fn run(args: &RunArgs) -> ExitCode {
    if let Err(e) = args.validate() {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let path = engine_path(&args.backend);
    if !path.exists() {
        eprintln!("error: {}", not_built(&args.backend, &path));
        return ExitCode::from(1);
    }
    let err = std::process::Command::new(&path)
        .args(std::env::args_os().skip(1))
        .exec();
    eprintln!("error: cannot start {}: {err}", path.display());
    ExitCode::from(1)
}

/// `backends`: each built engine describes itself.
fn backends() -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for backend in names() {
        let path = engine_path(backend);
        if !path.exists() {
            println!("{backend:<15} {}", not_built(backend, &path));
            continue;
        }
        match std::process::Command::new(&path).arg("describe").status() {
            Ok(s) if s.success() => {}
            Ok(s) => {
                eprintln!("error: {} describe failed ({s})", path.display());
                code = ExitCode::from(1);
            }
            Err(e) => {
                eprintln!("error: cannot start {}: {e}", path.display());
                code = ExitCode::from(1);
            }
        }
    }
    code
}

/// A lab command's result as an exit status: its error on one line, status 1 (or the
/// command's own code).
fn finish(result: anyhow::Result<ExitCode>, code_of: impl Fn(&anyhow::Error) -> u8) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(code_of(&e))
        }
    }
}

fn main() -> ExitCode {
    let cli: Cli = parse_or_exit();
    let ok = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    match cli.command {
        Command::Run(args) => run(&args),
        Command::Backends => backends(),
        Command::Machine => {
            println!(
                "{}",
                serde_json::to_string_pretty(&Machine::detect()).expect("json")
            );
            ExitCode::SUCCESS
        }
        Command::Peak(args) => finish(ok(args.run()), |_| 1),
        Command::Sweep(args) => finish(ok(blaspar_lab::sweep::sweep(&args)), |_| 1),
        Command::Compare(args) => finish(
            blaspar_lab::compare::compare(&args),
            blaspar_lab::compare::error_code,
        ),
        Command::History(args) => finish(ok(blaspar_lab::history::show(&args)), |_| 1),
        Command::Advise(args) => finish(
            blaspar_lab::advise::advise(&args).map(|text| {
                print!("{text}");
                ExitCode::SUCCESS
            }),
            blaspar_lab::advise::error_code,
        ),
        Command::Check(args) => finish(
            blaspar_lab::check::check(&args).map(|text| {
                print!("{text}");
                ExitCode::SUCCESS
            }),
            blaspar_lab::advise::error_code,
        ),
    }
}

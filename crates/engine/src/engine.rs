//! The engine: the `main` of every backend's engine binary. It accepts only what an engine
//! does: `run` (the same arguments as the front binary's `run`, which validated them and
//! `exec`s this binary), `describe` (name, version, kernel, thread scope), and serving as
//! a worker process of a process strategy (`BLASPAR_WORKER` set: [`crate::procs`]).
//!
//! Exit status: 0 success; 1 the run failed (verification, backend initialisation, a
//! worker process failed); 2 bad command line; [`EXIT_UNSUPPORTED`] the backend cannot
//! run the strategy honestly (the reason on stderr); 130 interrupted.

use crate::execute::{ExecError, Workers};
use crate::execution::EngineInit;
use crate::options::{RunArgs, RunOptions, parse_or_exit};
use crate::procs::WorkerSettings;
use crate::report;
use crate::store::ResultStore;
use blaspar_core::{Backend, ResultMode};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;

pub use blaspar_core::registry::EXIT_UNSUPPORTED;

#[derive(Debug, Parser)]
#[command(
    about = "A blaspar engine: runs strategies on the one BLAS library it links. Start runs \
             through the `blaspar` front end."
)]
struct EngineCli {
    #[command(subcommand)]
    command: EngineCommand,
}

#[derive(Debug, Subcommand)]
enum EngineCommand {
    /// Run one strategy on one workload, verify every product, print a result row.
    Run(Box<RunArgs>),
    /// One line: backend, version, kernel and how it was chosen, thread scope.
    #[command(alias = "backends")]
    Describe,
}

/// Runs the engine for backend `name`; `init` initialises the backend (during start-up,
/// before any other thread exists). A worker process serves its parent instead.
pub fn engine_main<B: Backend>(
    name: &'static str,
    init: impl Fn(&EngineInit) -> anyhow::Result<B>,
) -> ExitCode {
    crate::procs::serve_if_worker(&init);
    let cli: EngineCli = parse_or_exit();
    let result = match cli.command {
        EngineCommand::Run(args) => {
            let opts = match args.validate() {
                Ok(opts) => opts,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::from(2);
                }
            };
            if opts.backend != name {
                eprintln!(
                    "error: this engine runs {name}, not {}: start runs through the `blaspar` front end",
                    opts.backend
                );
                return ExitCode::from(2);
            }
            let ctx = report::RunContext::now();
            init(&EngineInit {
                kernel: opts.kernel.clone(),
                cache_dir: opts.cache_dir.clone(),
            })
            .and_then(|backend| run_and_report(&backend, &opts, ctx))
        }
        EngineCommand::Describe => init(&EngineInit {
            kernel: "auto".to_string(),
            cache_dir: None,
        })
        .map(|b| {
            println!("{}", describe(&b));
            ExitCode::SUCCESS
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The exit status of a failed run.
fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<ExecError>() {
        Some(ExecError::Procs(p)) => p.exit_code(),
        Some(ExecError::Unsupported(_)) => EXIT_UNSUPPORTED,
        _ => 1,
    }
}

/// The `describe` line of a backend.
fn describe<B: Backend>(b: &B) -> String {
    let k = b.kernel();
    format!(
        "{:<15} {:<20} kernel {} ({}), library default {}, threads {}",
        b.name(),
        b.version(),
        k.kernel,
        k.method,
        k.library_default.as_deref().unwrap_or("-"),
        match b.thread_scope() {
            blaspar_core::ThreadScope::PerThread => "per calling thread".to_string(),
            blaspar_core::ThreadScope::Process => "process-wide".to_string(),
            blaspar_core::ThreadScope::Fixed { threads } => format!("fixed at {threads}"),
        }
    )
}

/// One run: execute, verify, record, print, write JSON.
pub fn run_and_report<B: Backend>(
    backend: &B,
    opts: &RunOptions,
    ctx: report::RunContext,
) -> anyhow::Result<ExitCode> {
    let w = &opts.workload;
    let strategy = opts.strategy;
    let mut store = match opts.results {
        ResultMode::Matrices => Some(ResultStore::new(w.tasks, w.size).map_err(ExecError::from)?),
        ResultMode::Fingerprints => None,
    };
    let settings = WorkerSettings {
        exe: opts.worker_exe.clone(),
        init: Some(EngineInit {
            kernel: opts.kernel.clone(),
            cache_dir: opts.cache_dir.clone(),
        }),
        task_timeout: opts.task_timeout,
    };
    if strategy.placement() == blaspar_core::strategy::Placement::Processes {
        crate::procs::stop_on_interrupt();
    }
    let bar = ProgressBar::new(w.tasks as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} tasks, {elapsed} (eta {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(format!(
        "{} {} (starting workers)",
        backend.name(),
        strategy
    ));
    let (mut workers, startup) = Workers::start(backend, strategy, w, store.as_ref(), &settings)?;
    bar.set_message(format!("{} {}", backend.name(), strategy));
    let exec = workers.run(backend, strategy, w, store.as_mut(), &|| bar.inc(1));
    bar.finish_and_clear();
    let mut exec = exec?;
    workers.shutdown()?;
    exec.startup_seconds = startup;
    if let (Some(task), Some(store)) = (opts.inject_corruption, store.as_mut()) {
        store.slot_mut(task)[[0, 0]] += 1.0;
    }
    let (verification, verify_seconds) = report::verify(&exec, w, store.as_ref());
    let record = report::record(
        backend,
        strategy,
        w,
        &exec,
        opts.results,
        (verification, verify_seconds),
        ctx,
    );
    println!("{}", report::header());
    println!("{}", report::row(&record));
    println!("{}", report::time_line(&record));
    if let Some(path) = &opts.json {
        let mut text = serde_json::to_string_pretty(&record)?;
        text.push('\n');
        std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(t) = exec.timings.iter().find(|t| t.gemm_calls == Some(0)) {
        anyhow::bail!(
            "task {}'s product did not reach {}'s dgemm (ndarray's .dot uses its own matrixmultiply \
             when no dimension exceeds 7 or the layout is not BLAS-compatible): these figures would not \
             measure {}; use a larger --size",
            t.task,
            backend.name(),
            backend.name()
        );
    }
    if let Some(first) = record.verification.failed_tasks.first() {
        anyhow::bail!(
            "task {} of {} failed verification: row {} has relative error {:.3e} > tolerance {:.3e} \
             ({} task(s) failed in all)",
            first.task,
            w.tasks,
            first.row,
            first.rel_error,
            record.verification.tolerance,
            record.verification.failed_tasks.len()
        );
    }
    // Only verified runs that reached the library enter the history.
    blaspar_core::history::record_run(&record, opts.history.as_deref());
    Ok(ExitCode::SUCCESS)
}

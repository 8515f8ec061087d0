//! The engine: `main` of every backend's engine binary. It parses the same command line
//! as the front binary, initialises the backend, runs, verifies, reports.
//!
//! Exit status: 0 success; 1 the run failed (verification, unsupported strategy, backend
//! initialisation, a worker process failed); 2 bad command line; 130 interrupted.
//!
//! The same binary serves as a worker process of process strategies ([`crate::procs`]).

use crate::cli::{Command, RunOptions, parse_or_exit};
use crate::execute::{ExecError, ResultMode, Workers};
use crate::procs::WorkerSettings;
use crate::report;
use crate::store::ResultStore;
use blaspar_core::Backend;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

/// What a backend needs to initialise.
#[derive(Debug, Clone)]
pub struct EngineInit {
    /// `auto`, `default` or a kernel name.
    pub kernel: String,
    pub cache_dir: Option<PathBuf>,
}

/// Runs the engine for backend `name`; `init` initialises the backend (during start-up,
/// before any other thread exists). A worker process serves its parent instead.
pub fn main<B: Backend>(
    name: &'static str,
    init: impl Fn(&EngineInit) -> anyhow::Result<B>,
) -> ExitCode {
    crate::procs::serve_if_worker(&init);
    let cli = parse_or_exit();
    let result = match cli.command {
        Command::Run(args) => {
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
            .and_then(|backend| run(&backend, &opts, ctx))
        }
        Command::Backends => init(&EngineInit {
            kernel: "auto".to_string(),
            cache_dir: None,
        })
        .map(|b| {
            let k = b.kernel();
            println!(
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
            );
            ExitCode::SUCCESS
        }),
        Command::Peak(args) => args.run().map(|()| ExitCode::SUCCESS),
        Command::Sweep(args) => crate::sweep::main(&args).map(|()| ExitCode::SUCCESS),
        Command::Compare(args) => match crate::compare::main(&args) {
            Ok(code) => Ok(code),
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(crate::compare::error_code(&e));
            }
        },
        Command::History(args) => crate::history::main(&args).map(|()| ExitCode::SUCCESS),
        Command::Machine => {
            println!(
                "{}",
                serde_json::to_string_pretty(&blaspar_core::machine::Machine::detect())
                    .expect("json")
            );
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            let code = match e.downcast_ref::<ExecError>() {
                Some(ExecError::Procs(p)) => p.exit_code(),
                _ => 1,
            };
            ExitCode::from(code)
        }
    }
}

/// One run: execute, verify, record, print, write JSON.
pub fn run<B: Backend>(
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
        store.slots()[task][[0, 0]] += 1.0;
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
    crate::history::record_run(&record, opts.history.as_deref());
    Ok(ExitCode::SUCCESS)
}

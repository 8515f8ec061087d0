//! The engine: the `main` of every backend's engine binary. It accepts only what an engine
//! does: `run` (the same arguments as the front binary's `run`, which validated them and
//! `exec`s this binary), `describe` (name, version, kernel, thread scope), serving as
//! a worker process of a process strategy (`BLASPAR_WORKER` set: [`crate::procs`]), and
//! serving a benchmark harness run by run (`BLASPAR_SERVE` set: [`crate::serve`]).
//!
//! Exit status: 0 success; 1 the run failed (verification, backend initialisation, a
//! worker process failed); 2 bad command line; [`EXIT_UNSUPPORTED`] the backend cannot
//! run the strategy honestly (the reason on stderr); 128 + the signal when SIGINT (130),
//! SIGTERM (143) or SIGHUP (129) stopped the run, which then leaves no record, no history
//! entry and no worker behind.

use crate::execute::{ExecError, Workers};
use crate::execution::{EngineInit, Execution, Interrupted, stop_on_signals, stop_point};
use crate::loaded::SharedFiles;
use crate::options::{RunArgs, RunOptions, parse_or_exit};
use crate::procs::WorkerSettings;
use crate::report;
use crate::store::ResultStore;
use blaspar_core::folder::Loading;
use blaspar_core::mix::TaskSet;
use blaspar_core::record::RunRecord;
use blaspar_core::strategy::Placement;
use blaspar_core::{Backend, ResultMode};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
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
    keep_freed_memory();
    crate::procs::serve_if_worker(&init);
    crate::serve::serve_if_asked(&init);
    let cli: EngineCli = parse_or_exit();
    let result = match cli.command {
        EngineCommand::Run(args) => match validated(&args, name) {
            Ok(opts) => run_command(&opts, &init),
            Err(code) => return code,
        },
        EngineCommand::Describe => init(&EngineInit {
            kernel: "auto".to_string(),
            cache_dir: None,
            size: None,
        })
        .map(|b| {
            println!("{}", report::describe(&b));
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

/// The run's options, or the usage error's exit status (the error printed).
fn validated(args: &RunArgs, name: &str) -> Result<RunOptions, ExitCode> {
    let opts = args.validate().map_err(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    })?;
    if opts.backend != name {
        eprintln!(
            "error: this engine runs {name}, not {}: start runs through the `blaspar` front end",
            opts.backend
        );
        return Err(ExitCode::from(2));
    }
    Ok(opts)
}

/// `run`: from here on a signal stops the run (see [`stop_on_signals`]); initialises the
/// backend, then runs.
fn run_command<B: Backend>(
    opts: &RunOptions,
    init: &impl Fn(&EngineInit) -> anyhow::Result<B>,
) -> anyhow::Result<ExitCode> {
    stop_on_signals().map_err(|e| anyhow::anyhow!("cannot install the signal handlers: {e}"))?;
    let ctx = report::RunContext::now();
    let initialising = || "while initialising the backend".to_string();
    let backend = match init(&EngineInit {
        kernel: opts.kernel.clone(),
        cache_dir: opts.cache_dir.clone(),
        size: Some(opts.workload.size),
    }) {
        Ok(backend) => backend,
        Err(e) => {
            // A failure the signal caused (a probe child it killed) is reported as the signal.
            stop_point(initialising)?;
            return Err(e);
        }
    };
    stop_point(initialising)?;
    run_and_report(&backend, opts, ctx)
}

/// The exit status of a failed run.
fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(i) = e.downcast_ref::<Interrupted>() {
        return i.exit_code();
    }
    e.downcast_ref::<ExecError>()
        .map_or(1, ExecError::exit_code)
}

/// One run: execute, verify, record, print, write JSON, append to the history. A stop
/// signal is honoured up to the history entry: until then nothing is kept.
pub fn run_and_report<B: Backend>(
    backend: &B,
    opts: &RunOptions,
    ctx: report::RunContext,
) -> anyhow::Result<ExitCode> {
    let w = &opts.workload;
    let progress = Progress::new(backend.name(), opts);
    let mut store = match opts.results {
        ResultMode::Matrices => {
            progress.announce(format!(
                "preparing the result store ({:.0} MB, every page mapped before the run) ...",
                (w.tasks * w.size * w.size * 8) as f64 / 1e6
            ));
            Some(ResultStore::new(w.tasks, w.size).map_err(ExecError::from)?)
        }
        ResultMode::Fingerprints => None,
    };
    let files = opts.mix.as_ref().and_then(|m| m.files.as_ref());
    if let Some(line) = files.and_then(|f| f.folder.ignored_line()) {
        eprintln!("{line}");
    }
    // `--loading parent`: every file read before the workers start, as its own phase.
    let shared = match files.filter(|f| f.loading == Loading::Parent) {
        Some(files) => {
            progress.announce(format!(
                "loading {} files ({:.1} MB) into shared memory ...",
                files.folder.files.len(),
                files.data_bytes() as f64 / 1e6
            ));
            let shared = SharedFiles::load(files);
            stop_point(|| "while loading the files; nothing was recorded".to_string())?;
            Some(shared?)
        }
        None => None,
    };
    let tasks = TaskSet {
        loaded: shared.as_ref().map(SharedFiles::loaded),
        ..opts.tasks()
    };
    let mut exec = execute_run(backend, opts, tasks, store.as_mut(), &progress)?;
    if let Some(shared) = &shared {
        exec.load_seconds = shared.seconds();
        exec.seconds_total += shared.seconds();
    }
    exec.store_seconds = store.as_ref().map_or(0.0, ResultStore::ready_seconds);
    if let (Some(task), Some(store)) = (opts.inject_corruption, store.as_mut()) {
        store.slot_mut(task)[[0, 0]] += 1.0;
    }
    if store.is_some() {
        progress.announce(format!("verifying {} products ...", w.tasks));
    }
    let verified = report::verify_unless_stopped(&exec, tasks, store.as_ref())?;
    let record = report::record(
        backend,
        opts.strategy,
        tasks,
        &exec,
        opts.results,
        verified,
        ctx,
    );
    stop_point(|| "after verifying the products; nothing was recorded".to_string())?;
    println!("{}", report::header());
    println!("{}", report::row(&record));
    println!("{}", report::time_line(&record));
    if let Some(line) = report::placement_line(&record) {
        println!("{line}");
    }
    if let Some(file) = &record.workload_file {
        println!("{}", report::workload_file_line(file));
    }
    if let Some(input) = &record.input {
        println!("{}", report::input_line(input));
    }
    if let Some(path) = &opts.json {
        write_record(path, &record)?;
    }
    refuse_unproven(backend, &exec, &record)?;
    if let Err(stopped) = stop_point(|| "while writing the record; none was kept".to_string()) {
        if let Some(path) = &opts.json {
            let _ = std::fs::remove_file(path);
        }
        return Err(stopped.into());
    }
    // Only verified runs that reached the library enter the history (a workload file's
    // under the file's label, `blis/threads-2/file-mixed-5d0c39e1`).
    blaspar_core::history::record_run(&record, opts.history.as_deref());
    Ok(ExitCode::SUCCESS)
}

/// Starts the workers, runs the tasks, stops the workers.
fn execute_run<B: Backend>(
    backend: &B,
    opts: &RunOptions,
    tasks: TaskSet<'_>,
    store: Option<&mut ResultStore>,
    progress: &Progress,
) -> anyhow::Result<Execution> {
    let (w, strategy) = (&opts.workload, opts.strategy);
    let settings = WorkerSettings {
        exe: opts.worker_exe.clone(),
        init: Some(EngineInit {
            kernel: opts.kernel.clone(),
            cache_dir: opts.cache_dir.clone(),
            size: Some(w.size),
        }),
        task_timeout: opts.task_timeout,
    };
    if strategy.placement() == Placement::Processes {
        progress.announce(format!(
            "starting {} worker processes ...",
            strategy.workers()
        ));
    }
    let (mut workers, startup) = Workers::start_pinned(
        backend,
        strategy,
        tasks,
        store.as_deref(),
        &settings,
        opts.pin,
    )?;
    progress.announce(match &opts.mix {
        Some(mix) if mix.files.is_some() => format!(
            "running the {} tasks of the files in {} (largest first) ...",
            w.tasks, mix.path
        ),
        Some(mix) => format!(
            "running the {} tasks of {} (largest first) ...",
            w.tasks, mix.path
        ),
        None => format!("running {} tasks of {} x {} ...", w.tasks, w.size, w.size),
    });
    let exec = workers.run(backend, strategy, tasks, store, &|| progress.bar.inc(1));
    progress.bar.finish_and_clear();
    let mut exec = exec?;
    workers.shutdown()?;
    exec.startup_seconds = startup;
    Ok(exec)
}

/// Writes the record whole or not at all: into a temporary file beside `path`, renamed
/// over it only if no stop signal came meanwhile (the temporary file goes with the error).
fn write_record(path: &Path, record: &RunRecord) -> anyhow::Result<()> {
    let cannot =
        |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot write {}: {e}", path.display());
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut staged = tempfile::Builder::new()
        .prefix(".blaspar-record-")
        .permissions(std::fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(|e| cannot(&e))?;
    let mut text = serde_json::to_string_pretty(record)?;
    text.push('\n');
    staged.write_all(text.as_bytes()).map_err(|e| cannot(&e))?;
    stop_point(|| "while writing the record; none was kept".to_string())?;
    staged.persist(path).map_err(|e| cannot(&e.error))?;
    Ok(())
}

/// A run whose products did not all reach the library, or did not all verify, fails.
fn refuse_unproven<B: Backend>(
    backend: &B,
    exec: &Execution,
    record: &RunRecord,
) -> anyhow::Result<()> {
    if let Some(t) = exec.timings.iter().find(|t| t.gemm_calls == Some(0)) {
        anyhow::bail!(
            "task {}'s product did not reach {}'s dgemm (ndarray's .dot uses its own matrixmultiply \
             when no dimension exceeds 7 or the layout is not BLAS-compatible): these figures would not \
             measure {}; use a larger --size (or larger dimensions in the workload file or the --input folder)",
            t.task,
            backend.name(),
            backend.name()
        );
    }
    if let Some(why) = record.verification.failure(record.tasks) {
        // A task over files names them (a cholesky of a matrix that is not positive
        // definite fails in the library: the file is what the user must look at).
        let files = record.input.as_ref().and_then(|i| {
            let task = record.verification.failed_tasks.first()?.task;
            Some(format!(" (file {})", i.files_of(task)?))
        });
        anyhow::bail!("{why}{}", files.unwrap_or_default());
    }
    Ok(())
}

/// Makes glibc keep freed memory for the next task instead of handing it back to the
/// kernel. By default blocks of 128 KiB and more (up to 32 MiB as the threshold adapts) are
/// mmap'd and unmapped when freed, and the heap's top is trimmed: every task's fresh A, B
/// and C were then faulted in again, inside the timed run, on a main-thread worker
/// (sequential, blas-T, each worker process) but not on a rayon thread (whose arena is not
/// trimmed): 250 k faults per 2000 x 200^2 run, and a bias between strategies. Called first
/// in every engine process (run, worker, served); a larger matrix than 32 MiB is still
/// mmap'd (glibc's ceiling for the threshold).
fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// The run's progress on stderr: one line per phase, so that a long run shows where it is
/// (and a signal can be aimed at a phase), and a bar during the tasks (drawn only on a
/// terminal; the lines go above it).
struct Progress {
    bar: ProgressBar,
}

impl Progress {
    fn new(backend: &str, opts: &RunOptions) -> Progress {
        let bar = ProgressBar::new(opts.workload.tasks as u64).with_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} tasks, {elapsed} (eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(format!("{backend} {}", opts.strategy));
        Progress { bar }
    }

    fn announce(&self, line: String) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
}

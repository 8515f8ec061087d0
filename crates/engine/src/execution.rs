//! What a run produced besides the products: per-task timings and thread read-backs,
//! per-worker CPU time, and the workers' own checks. Filled by every executor (calling
//! thread, rayon pool, worker processes, batched), read by the report. And how a run is
//! stopped by a signal, which every executor and phase checks.

use blaspar_core::Strategy;
use blaspar_core::task::{Failed, Passed};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};

/// A worker's own check of a task's result (`--results fingerprints` only).
pub type TaskCheck = Option<Result<Passed, Failed>>;

/// One task's timings (seconds from the start of the timed run) and thread read-back.
#[derive(Clone, Debug)]
pub struct TaskTiming {
    pub task: usize,
    pub worker: usize,
    pub generate: (f64, f64),
    pub multiply: (f64, f64),
    /// The worker's own check of the product (`--results fingerprints`).
    pub verify: Option<(f64, f64)>,
    /// When the run's owner knew the task was done (later than the worker's end only for
    /// worker processes: the reply crosses a pipe).
    pub delivered: f64,
    /// BLAS threads read back in the multiplying thread just before the multiply.
    pub blas_threads: usize,
    /// dgemm calls the multiply made, when the binary counts them.
    pub gemm_calls: Option<u64>,
}

impl TaskTiming {
    /// End of the worker's own work on the task.
    pub fn worker_end(&self) -> f64 {
        self.verify.map_or(self.multiply.1, |v| v.1)
    }
}

/// One worker's CPU and wall time over a run.
#[derive(Clone, Debug)]
pub struct WorkerStats {
    pub worker: usize,
    /// Process id of a worker process.
    pub pid: Option<u32>,
    pub startup_seconds: f64,
    /// Populating this worker process's mapping of the result store (part of its
    /// start-up; zero for threads, which share the run owner's mapping).
    pub store_seconds: f64,
    pub tasks: usize,
    pub cpu_seconds: f64,
    pub wall_seconds: f64,
}

/// Everything a run produced besides the products (those are in the store).
pub struct Execution {
    /// Indexed by task.
    pub timings: Vec<TaskTiming>,
    pub workers: Vec<WorkerStats>,
    /// With `--results fingerprints`: each task's check, done by its worker.
    pub checks: Option<Vec<Result<Passed, Failed>>>,
    /// Starting the workers (before the timed run).
    pub startup_seconds: f64,
    /// Making the result store ready, every page allocated and mapped (before the timed
    /// run; zero without a store).
    pub store_seconds: f64,
    /// `--input DIR --loading parent`: the parent's load of every file before the workers'
    /// run (zero otherwise).
    pub load_seconds: f64,
    /// From the start of the timed run to the last task delivered, seconds; with
    /// `load_seconds`, from the start of the parent's load.
    pub seconds_total: f64,
    /// CPU seconds of the run: this process, plus every worker process.
    pub cpu_seconds: f64,
    /// Minor page faults during the run: this process, plus every worker process.
    pub minor_faults: u64,
    /// `--pin`'s plan, and where the threads ran.
    pub placement: crate::pin::Placement,
}

/// Minor page faults (getrusage `ru_minflt`: a page mapped without reading a disk, as on
/// the first write to a fresh page) of this whole process so far.
pub fn process_minor_faults() -> u64 {
    minor_faults(libc::RUSAGE_SELF)
}

/// Minor page faults of the calling thread so far.
pub fn thread_minor_faults() -> u64 {
    minor_faults(libc::RUSAGE_THREAD)
}

fn minor_faults(who: libc::c_int) -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(who, &mut ru) };
    assert_eq!(rc, 0, "getrusage of this process or thread cannot fail");
    ru.ru_minflt as u64
}

/// The strategy cannot run honestly on this backend, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("strategy {strategy} is not supported on {backend}: {reason}")]
pub struct Unsupported {
    pub strategy: Strategy,
    pub backend: String,
    pub reason: String,
}

/// What a backend needs to initialise (a worker process gets its parent's).
#[derive(Debug, Clone)]
pub struct EngineInit {
    /// `auto`, `default` or a kernel name.
    pub kernel: String,
    pub cache_dir: Option<PathBuf>,
    /// The workload's matrix size, for a kernel probe at a size like it (`None`: no
    /// workload, as for `describe`).
    pub size: Option<usize>,
}

/// The signal that asked the run to stop (0: none yet), set by [`on_stop_signal`].
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Makes SIGINT (Ctrl-C), SIGTERM and SIGHUP ask the run to stop instead of killing the
/// process outright: every phase checks [`stop_requested`] (between phases, between
/// tasks, inside verification), stops and reaps its workers, records nothing and ends
/// with [`Interrupted`]. A second signal takes its default action at once, for a run
/// stuck where no check is reached (inside one long library call).
pub fn stop_on_signals() -> Result<(), nix::Error> {
    let action = SigAction::new(
        SigHandler::Handler(on_stop_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler is async-signal-safe (an atomic exchange; on a second signal
        // signal(2) and raise(3)).
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}

extern "C" fn on_stop_signal(raw: std::os::raw::c_int) {
    if STOP_SIGNAL
        .compare_exchange(0, raw, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
        && let Ok(signal) = Signal::try_from(raw)
    {
        // SAFETY: restoring the default action is async-signal-safe.
        let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) };
        let _ = nix::sys::signal::raise(signal);
    }
}

/// The signal that asked the run to stop, once one came (see [`stop_on_signals`]).
pub fn stop_requested() -> Option<Signal> {
    match STOP_SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        raw => Signal::try_from(raw).ok(),
    }
}

/// `Err` once a stop was asked for; `during` says where the run was ("while verifying the
/// products").
pub fn stop_point(during: impl FnOnce() -> String) -> Result<(), Interrupted> {
    match stop_requested() {
        Some(signal) => Err(Interrupted {
            signal,
            during: during(),
        }),
        None => Ok(()),
    }
}

/// A signal stopped the run; nothing was recorded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("interrupted by {signal} {during}")]
pub struct Interrupted {
    pub signal: Signal,
    /// The phase, and what was running ("while verifying the products").
    pub during: String,
}

impl Interrupted {
    /// 128 + the signal number, as shells report a process the signal ended: 130 after
    /// Ctrl-C, 143 after SIGTERM.
    pub fn exit_code(&self) -> u8 {
        128 + self.signal as u8
    }
}

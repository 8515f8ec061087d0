//! What a run produced besides the products: per-task timings and thread read-backs,
//! per-worker CPU time, and the workers' own checks. Filled by every executor (calling
//! thread, rayon pool, worker processes, batched), read by the report.

use blaspar_core::Strategy;
use blaspar_core::verify::{Checked, Mismatch};
use std::path::PathBuf;

/// A worker's own check of a task's product (`--results fingerprints` only).
pub type TaskCheck = Option<Result<Checked, Mismatch>>;

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
    pub checks: Option<Vec<Result<Checked, Mismatch>>>,
    /// Starting the workers (before the timed run).
    pub startup_seconds: f64,
    /// From the start of the timed run to the last task delivered, seconds.
    pub seconds_total: f64,
    /// CPU seconds of the run: this process, plus every worker process.
    pub cpu_seconds: f64,
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
}

//! Running one in-process strategy: workers take tasks from a [`TaskQueue`], set their BLAS
//! threads through the backend before the first task, and read the count back before every
//! multiply. Every product is kept (as the tutorial's lists and Pool results are).

use blaspar_core::backend::unsupported_reason;
use blaspar_core::schedule::TaskQueue;
use blaspar_core::strategy::Placement;
use blaspar_core::usage::{process_cpu_seconds, thread_cpu_seconds};
use blaspar_core::{Backend, BlasThreads, Strategy, Workload};
use ndarray::Array2;
use std::time::Instant;

/// One task's matrices and product.
pub struct TaskOutput {
    pub a: Array2<f64>,
    pub b: Array2<f64>,
    pub c: Array2<f64>,
}

/// One task's timings (seconds from the start of the run) and thread read-back.
#[derive(Clone, Debug)]
pub struct TaskTiming {
    pub task: usize,
    pub worker: usize,
    pub generate: (f64, f64),
    pub multiply: (f64, f64),
    /// BLAS threads read back in the multiplying thread just before the multiply.
    pub blas_threads: usize,
    /// dgemm calls the multiply made, when the binary counts them.
    pub gemm_calls: Option<u64>,
}

/// One worker's CPU and wall time.
#[derive(Clone, Debug)]
pub struct WorkerStats {
    pub worker: usize,
    pub tasks: usize,
    pub cpu_seconds: f64,
    pub wall_seconds: f64,
}

/// Everything a run produced.
pub struct Execution {
    /// Indexed by task.
    pub outputs: Vec<TaskOutput>,
    /// Indexed by task.
    pub timings: Vec<TaskTiming>,
    pub workers: Vec<WorkerStats>,
    /// From the start to the end of the last task, seconds.
    pub seconds_total: f64,
    /// Process CPU seconds (all threads) over the run.
    pub process_cpu_seconds: f64,
}

/// Why a strategy did not run.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("strategy {strategy} is not supported on {backend}: {reason}")]
    Unsupported {
        strategy: Strategy,
        backend: String,
        reason: String,
    },
    #[error("could not start {workers} worker threads: {detail}")]
    Pool { workers: usize, detail: String },
}

/// Checks that `backend` can run `strategy` honestly, without running it.
pub fn check_supported<B: Backend + ?Sized>(
    backend: &B,
    strategy: Strategy,
) -> Result<(), ExecError> {
    let unsupported = |reason: String| ExecError::Unsupported {
        strategy,
        backend: backend.name().to_string(),
        reason,
    };
    if strategy.placement() == Placement::Processes {
        return Err(unsupported(
            "process strategies need the process runner, which is not built yet; use threads-P or hybrid-threads-PxT"
                .to_string(),
        ));
    }
    let threads = match strategy.blas_threads() {
        BlasThreads::Fixed(t) => Some(t.get()),
        BlasThreads::LibraryDefault => None,
    };
    if let Some(reason) = crate::batched::unsupported(backend, strategy) {
        return Err(unsupported(reason));
    }
    match unsupported_reason(
        backend.thread_scope(),
        backend.name(),
        strategy.workers(),
        threads,
    ) {
        Some(reason) => Err(unsupported(reason)),
        None => Ok(()),
    }
}

/// Runs `strategy` on `workload`. `on_task_done` is called after each task (progress).
pub fn execute<B: Backend + ?Sized>(
    backend: &B,
    strategy: Strategy,
    workload: &Workload,
    on_task_done: &(dyn Fn() + Sync),
) -> Result<Execution, ExecError> {
    check_supported(backend, strategy)?;
    if let Strategy::Batched { .. } = strategy {
        return crate::batched::execute(backend, strategy, workload, on_task_done);
    }
    let queue = TaskQueue::new(workload.tasks);
    let threads = strategy.blas_threads();
    let cpu0 = process_cpu_seconds();
    let t0 = Instant::now();
    let per_worker: Vec<WorkerResult> = match strategy.placement() {
        Placement::CallingThread => vec![worker(
            backend,
            workload,
            &queue,
            threads,
            0,
            t0,
            on_task_done,
        )],
        Placement::Threads => {
            let p = strategy.workers();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(p)
                .thread_name(|i| format!("blaspar-worker-{i}"))
                .build()
                .map_err(|e| ExecError::Pool {
                    workers: p,
                    detail: e.to_string(),
                })?;
            pool.broadcast(|ctx| {
                worker(
                    backend,
                    workload,
                    &queue,
                    threads,
                    ctx.index(),
                    t0,
                    on_task_done,
                )
            })
        }
        Placement::Processes => unreachable!("rejected by check_supported"),
    };
    let seconds_total = t0.elapsed().as_secs_f64();
    let process_cpu = process_cpu_seconds() - cpu0;

    let mut slots: Vec<Option<(TaskTiming, TaskOutput)>> =
        (0..workload.tasks).map(|_| None).collect();
    let mut workers = Vec::with_capacity(per_worker.len());
    for w in per_worker {
        workers.push(w.stats);
        for (timing, output) in w.done {
            let task = timing.task;
            slots[task] = Some((timing, output));
        }
    }
    let (timings, outputs) = slots
        .into_iter()
        .map(|s| s.expect("the queue hands out every task exactly once"))
        .unzip();
    Ok(Execution {
        outputs,
        timings,
        workers,
        seconds_total,
        process_cpu_seconds: process_cpu,
    })
}

struct WorkerResult {
    stats: WorkerStats,
    done: Vec<(TaskTiming, TaskOutput)>,
}

fn worker<B: Backend + ?Sized>(
    backend: &B,
    workload: &Workload,
    queue: &TaskQueue,
    threads: BlasThreads,
    index: usize,
    t0: Instant,
    on_task_done: &(dyn Fn() + Sync),
) -> WorkerResult {
    let start = Instant::now();
    let cpu0 = thread_cpu_seconds();
    backend.set_threads(match threads {
        BlasThreads::Fixed(t) => t.get(),
        BlasThreads::LibraryDefault => backend.default_threads(),
    });
    let since = |t: Instant| t.duration_since(t0).as_secs_f64();
    let mut done = Vec::new();
    while let Some(task) = queue.next() {
        let g0 = Instant::now();
        let (a, b) = workload.generate(task);
        let g1 = Instant::now();
        let blas_threads = backend.threads();
        let calls0 = backend.gemm_calls_in_this_thread();
        let c = backend.multiply(&a, &b);
        let m1 = Instant::now();
        let gemm_calls = calls0
            .zip(backend.gemm_calls_in_this_thread())
            .map(|(before, after)| after - before);
        done.push((
            TaskTiming {
                task,
                worker: index,
                generate: (since(g0), since(g1)),
                multiply: (since(g1), since(m1)),
                blas_threads,
                gemm_calls,
            },
            TaskOutput { a, b, c },
        ));
        on_task_done();
    }
    WorkerResult {
        stats: WorkerStats {
            worker: index,
            tasks: done.len(),
            cpu_seconds: thread_cpu_seconds() - cpu0,
            wall_seconds: start.elapsed().as_secs_f64(),
        },
        done,
    }
}

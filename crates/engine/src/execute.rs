//! Running a strategy: start its workers (the calling thread, a rayon pool, or worker
//! processes), then run the workload on them, as many times as wanted (criterion reuses
//! the workers across iterations, so start-up is measured apart from the work).
//!
//! Every worker takes tasks dynamically from a queue, sets its BLAS threads through the
//! backend before its first task, and reads the count back before every multiply. Each
//! product goes to the [`ResultStore`] (or, with fingerprints only, is checked by the
//! worker and dropped); A and B are dropped after the multiply and regenerated for
//! verification.

use crate::batched::BatchError;
use crate::execution::{
    Execution, Interrupted, TaskCheck, TaskTiming, Unsupported, WorkerStats, process_minor_faults,
    stop_point, stop_requested,
};
use crate::feed::{self, Inputs, Sink, compute, feed};
use crate::pin::{PinError, Placement as Placed, Plan, ProcessPinned, Watch};
use crate::procs::{ProcError, ProcessPool, WorkerSettings};
use crate::store::{ResultStore, SlotClaims, StoreError};
use blaspar_core::backend::unsupported_reason;
use blaspar_core::folder::LoadError;
use blaspar_core::mix::TaskSet;
use blaspar_core::operation::Operation;
use blaspar_core::schedule::TaskQueue;
use blaspar_core::strategy::Placement;
use blaspar_core::topology::PinMode;
use blaspar_core::usage::{process_cpu_seconds, thread_cpu_seconds};
use blaspar_core::{Backend, BlasThreads, Strategy};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Why a strategy did not run.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    #[error("could not start {workers} worker threads: {detail}")]
    Pool { workers: usize, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Procs(#[from] ProcError),
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
    #[error(transparent)]
    Pin(#[from] PinError),
    /// A task's `.npy` file could not be read when its worker took it (`--input`).
    #[error(transparent)]
    Load(#[from] LoadError),
}

impl From<BatchError> for ExecError {
    fn from(e: BatchError) -> Self {
        match e {
            BatchError::Unsupported(u) => ExecError::Unsupported(u),
            BatchError::Interrupted(i) => ExecError::Interrupted(i),
        }
    }
}

impl ExecError {
    /// The engine's exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ExecError::Unsupported(_) => blaspar_core::registry::EXIT_UNSUPPORTED,
            ExecError::Procs(p) => p.exit_code(),
            ExecError::Interrupted(i) => i.exit_code(),
            ExecError::Pool { .. }
            | ExecError::Store(_)
            | ExecError::Pin(_)
            | ExecError::Load(_) => 1,
        }
    }
}

/// Checks that `backend` can run `strategy` honestly, without running it.
pub fn check_supported<B: Backend + ?Sized>(
    backend: &B,
    strategy: Strategy,
    op: Operation,
) -> Result<(), ExecError> {
    let threads = strategy.blas_threads().requested();
    if let Some(reason) = backend
        .operation_unsupported(op)
        .or_else(|| crate::batched::unsupported(backend, strategy, op))
    {
        return Err(ExecError::Unsupported(Unsupported {
            strategy,
            backend: backend.name().to_string(),
            reason,
        }));
    }
    // Worker processes each have their own library: process-wide settings are per worker.
    let in_one_process = match strategy.placement() {
        Placement::Processes => 1,
        _ => strategy.workers(),
    };
    if in_one_process > 1
        && let Some(reason) = backend.concurrent_calls_unsupported()
    {
        return Err(ExecError::Unsupported(Unsupported {
            strategy,
            backend: backend.name().to_string(),
            reason,
        }));
    }
    match unsupported_reason(
        backend.thread_scope(),
        backend.name(),
        in_one_process,
        threads,
    ) {
        Some(reason) => Err(ExecError::Unsupported(Unsupported {
            strategy,
            backend: backend.name().to_string(),
            reason,
        })),
        None => Ok(()),
    }
}

/// Checks that `backend` can run every operation of `tasks` on `strategy` honestly. A
/// workload file's tasks differ in operation and shape, which one batched dgemm call over
/// equal products cannot run: refused.
pub fn check_supported_tasks<B: Backend + ?Sized>(
    backend: &B,
    strategy: Strategy,
    tasks: TaskSet<'_>,
) -> Result<(), ExecError> {
    if let Some(mix) = tasks.mix
        && strategy.placement() == Placement::Batched
    {
        let what = match mix.files {
            Some(_) => format!(
                "the tasks of --input {} are loaded from files one by one",
                mix.path
            ),
            None => format!("the workload file {} mixes operations and shapes", mix.path),
        };
        return Err(ExecError::Unsupported(Unsupported {
            strategy,
            backend: backend.name().to_string(),
            reason: format!("{what}, and {strategy} is one batched dgemm call over equal products"),
        }));
    }
    tasks
        .operations()
        .into_iter()
        .try_for_each(|op| check_supported(backend, strategy, op))
}

/// The started workers of one strategy.
pub enum Workers {
    /// The calling thread does every task (pinned, with every thread of the process, for
    /// the run when the plan says so).
    CallingThread(Plan),
    /// A rayon pool of P threads, each pinned to its set when the plan has one.
    Threads(rayon::ThreadPool, Plan),
    /// P worker processes, ready.
    Processes(ProcessPool),
}

impl Workers {
    /// Starts the workers of `strategy` for `tasks` (a [`blaspar_core::Workload`], or a
    /// workload file's [`TaskSet`]), unpinned. Worker processes get `settings` (their
    /// binary, the store to write to) and are ready, BLAS initialised, when this returns.
    pub fn start<'t, B: Backend + ?Sized>(
        backend: &B,
        strategy: Strategy,
        tasks: impl Into<TaskSet<'t>>,
        store: Option<&ResultStore>,
        settings: &WorkerSettings,
    ) -> Result<(Workers, f64), ExecError> {
        Workers::start_pinned(backend, strategy, tasks, store, settings, PinMode::None)
    }

    /// [`Workers::start`], placing the workers as `pin` says ([`crate::pin`]): each worker
    /// has its CPUs before it first calls the library.
    pub fn start_pinned<'t, B: Backend + ?Sized>(
        backend: &B,
        strategy: Strategy,
        tasks: impl Into<TaskSet<'t>>,
        store: Option<&ResultStore>,
        settings: &WorkerSettings,
        pin: PinMode,
    ) -> Result<(Workers, f64), ExecError> {
        let tasks = tasks.into();
        check_supported_tasks(backend, strategy, tasks)?;
        // Read before the start-up is timed.
        let threads = strategy.blas_threads().count_or(backend.default_threads());
        let plan = Plan::new(pin, strategy.workers(), threads);
        let t0 = Instant::now();
        let workers = match strategy.placement() {
            // A batch is one call from the calling thread.
            Placement::CallingThread | Placement::Batched => Workers::CallingThread(plan),
            Placement::Threads => {
                let p = strategy.workers();
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(p)
                    .stack_size(blaspar_core::backend::CALLER_STACK_BYTES)
                    .thread_name(crate::pin::worker_thread_name)
                    .build()
                    .map_err(|e| ExecError::Pool {
                        workers: p,
                        detail: e.to_string(),
                    })?;
                // Before any task: the threads a worker starts inherit its set.
                pool.broadcast(|ctx| match plan.set(ctx.index()) {
                    Some(cpus) => crate::pin::pin_this_thread(cpus),
                    None => Ok(()),
                })
                .into_iter()
                .collect::<Result<(), PinError>>()?;
                Workers::Threads(pool, plan)
            }
            Placement::Processes => Workers::Processes(ProcessPool::start(
                backend, strategy, tasks, store, settings, &plan,
            )?),
        };
        Ok((workers, t0.elapsed().as_secs_f64()))
    }

    /// Runs `tasks` (a workload, or a workload file's tasks) once on these workers.
    /// Products go to `store` (or, when `None`, are checked by their worker and dropped; a
    /// workload file's always are). `on_task_done` is called after each task. Where the
    /// threads ran is in the execution's placement.
    pub fn run<'t, B: Backend + ?Sized>(
        &mut self,
        backend: &B,
        strategy: Strategy,
        tasks: impl Into<TaskSet<'t>>,
        store: Option<&mut ResultStore>,
        on_task_done: &(dyn Fn() + Sync),
    ) -> Result<Execution, ExecError> {
        let set: TaskSet<'_> = tasks.into();
        assert!(
            set.mix.is_none() || store.is_none(),
            "a workload file's results are checked by their workers, never stored"
        );
        let (plan, workers) = match self {
            Workers::Processes(pool) => {
                return Ok(pool.run(set, store.is_some(), on_task_done)?);
            }
            Workers::CallingThread(plan) => (plan.clone(), 1),
            Workers::Threads(pool, plan) => (plan.clone(), pool.current_num_threads()),
        };
        // The calling thread's run holds every thread of the process to its set (a pool the
        // library started at load time included), and lets go for verification.
        let pinned = match (&*self, plan.set(0)) {
            (Workers::CallingThread(_), Some(cpus)) => Some(ProcessPinned::pin(cpus)?),
            _ => None,
        };
        let watch = Watch::start(plan.set(0).is_some());
        let exec = self.run_in_process(backend, strategy, set, store, on_task_done);
        let tracks = watch.finish();
        drop(pinned);
        let mut exec = exec?;
        exec.placement = Placed::in_process(plan, workers, &tracks);
        Ok(exec)
    }

    /// [`Workers::run`] on the calling thread or the thread pool.
    fn run_in_process<B: Backend + ?Sized>(
        &mut self,
        backend: &B,
        strategy: Strategy,
        set: TaskSet<'_>,
        store: Option<&mut ResultStore>,
        on_task_done: &(dyn Fn() + Sync),
    ) -> Result<Execution, ExecError> {
        let workload = set.workload;
        if strategy.placement() == Placement::Batched {
            check_supported_tasks(backend, strategy, set)?;
            return crate::batched::execute(backend, strategy, workload, store, on_task_done)
                .map_err(ExecError::from);
        }
        let queue = TaskQueue::new(set.count());
        let tasks = match store {
            Some(s) => {
                assert_eq!((s.tasks(), s.size()), (workload.tasks, workload.size));
                Tasks::IntoStore(s.claims(&queue))
            }
            None => Tasks::Checked(&queue, set),
        };
        let keep_products = matches!(tasks, Tasks::IntoStore(_));
        let job = InProcessJob {
            backend,
            set,
            tasks,
            threads: strategy.blas_threads(),
            on_task_done,
            load_failed: AtomicBool::new(false),
        };
        let cpu0 = process_cpu_seconds();
        let faults0 = process_minor_faults();
        let t0 = Instant::now();
        let per_worker: Vec<WorkerResult> = match self {
            Workers::CallingThread(_) => vec![job.worker(0, t0)],
            Workers::Threads(pool, _) => pool.broadcast(|ctx| job.worker(ctx.index(), t0)),
            Workers::Processes(_) => unreachable!("handled above"),
        };
        let seconds_total = t0.elapsed().as_secs_f64();
        let cpu_seconds = process_cpu_seconds() - cpu0;
        let minor_faults = process_minor_faults() - faults0;
        stop_point(|| {
            let done: usize = per_worker.iter().map(|w| w.done.len()).sum();
            format!("during the tasks ({done} of {} done)", set.count())
        })?;
        if let Some(failed) = per_worker.iter().find_map(|w| w.failed.clone()) {
            return Err(ExecError::Load(failed));
        }
        let mut exec = in_task_order(per_worker, set.count(), keep_products);
        exec.seconds_total = seconds_total;
        exec.cpu_seconds = cpu_seconds;
        exec.minor_faults = minor_faults;
        Ok(exec)
    }

    /// Stops the workers: worker processes are told to exit and reaped.
    pub fn shutdown(self) -> Result<(), ExecError> {
        match self {
            Workers::Processes(pool) => Ok(pool.shutdown()?),
            _ => Ok(()),
        }
    }
}

/// Starts the workers, runs once, stops them: one command-line run. The start-up time is
/// in the returned execution.
pub fn execute<'t, B: Backend + ?Sized>(
    backend: &B,
    strategy: Strategy,
    tasks: impl Into<TaskSet<'t>>,
    store: Option<&mut ResultStore>,
    settings: &WorkerSettings,
    on_task_done: &(dyn Fn() + Sync),
) -> Result<Execution, ExecError> {
    let tasks = tasks.into();
    let store_seconds = store.as_ref().map_or(0.0, |s| s.ready_seconds());
    let (mut workers, startup) =
        Workers::start(backend, strategy, tasks, store.as_deref(), settings)?;
    let mut exec = workers.run(backend, strategy, tasks, store, on_task_done)?;
    workers.shutdown()?;
    exec.startup_seconds = startup;
    exec.store_seconds = store_seconds;
    Ok(exec)
}

/// Where the workers of one in-process run take their tasks, and where products go.
enum Tasks<'a> {
    /// Each task with its slot of the store, which the product is written into.
    IntoStore(SlotClaims<'a, TaskQueue>),
    /// Each result checked by its worker, then dropped (`--results fingerprints`, and
    /// workload files); the queue's positions are the set's order (largest first for a
    /// file).
    Checked(&'a TaskQueue, TaskSet<'a>),
}

impl<'a> Tasks<'a> {
    /// The next task and where its product goes.
    fn next(&self) -> Option<(usize, Sink<'a>)> {
        match self {
            Tasks::IntoStore(claims) => claims.next().map(|(task, slot)| (task, Sink::Slot(slot))),
            Tasks::Checked(queue, set) => queue.next().map(|i| (set.task_at(i), Sink::Check)),
        }
    }
}

/// The execution of an in-process run from what its workers did (every task done).
fn in_task_order(per_worker: Vec<WorkerResult>, tasks: usize, keep_products: bool) -> Execution {
    let mut slots: Vec<Option<(TaskTiming, TaskCheck)>> = (0..tasks).map(|_| None).collect();
    let mut workers = Vec::with_capacity(per_worker.len());
    for w in per_worker {
        workers.push(w.stats);
        for (timing, check) in w.done {
            let task = timing.task;
            slots[task] = Some((timing, check));
        }
    }
    let (timings, checks): (Vec<_>, Vec<_>) = slots
        .into_iter()
        .map(|s| s.expect("the queue hands out every task exactly once"))
        .unzip();
    let checks =
        (!keep_products).then(|| checks.into_iter().map(|c| c.expect("checked")).collect());
    Execution {
        timings,
        workers,
        checks,
        startup_seconds: 0.0,
        store_seconds: 0.0,
        load_seconds: 0.0,
        seconds_total: 0.0,
        cpu_seconds: 0.0,
        minor_faults: 0,
        placement: Placed::default(),
    }
}

struct InProcessJob<'a, B: Backend + ?Sized> {
    backend: &'a B,
    set: TaskSet<'a>,
    tasks: Tasks<'a>,
    threads: BlasThreads,
    on_task_done: &'a (dyn Fn() + Sync),
    /// Set by a worker whose task's file could not be loaded.
    load_failed: AtomicBool,
}

struct WorkerResult {
    stats: WorkerStats,
    done: Vec<(TaskTiming, TaskCheck)>,
    /// The file that could not be loaded, which ended this worker (`--input`).
    failed: Option<LoadError>,
}

impl<B: Backend + ?Sized> InProcessJob<'_, B> {
    fn worker(&self, index: usize, t0: Instant) -> WorkerResult {
        let backend = self.backend;
        let start = Instant::now();
        let cpu0 = thread_cpu_seconds();
        backend.set_threads(self.threads.count_or(backend.default_threads()));
        let mut done = Vec::new();
        // A stop signal ends the run at the next task; the owner reports it.
        // A file another worker could not load ends the run too: take nothing more.
        let next = || match stop_requested() {
            Some(_) => None,
            None if self.load_failed.load(Ordering::Relaxed) => None,
            None => self.tasks.next(),
        };
        let fed = feed(self.set, backend.threads(), next, Instant::now, |inputs| {
            done.push(self.do_task(index, inputs, t0));
            (self.on_task_done)();
            Ok::<(), LoadError>(())
        });
        if fed.is_err() {
            self.load_failed.store(true, Ordering::Relaxed);
        }
        WorkerResult {
            failed: fed.err(),
            stats: WorkerStats {
                worker: index,
                pid: None,
                startup_seconds: 0.0,
                store_seconds: 0.0,
                tasks: done.len(),
                cpu_seconds: thread_cpu_seconds() - cpu0,
                wall_seconds: start.elapsed().as_secs_f64(),
            },
            done,
        }
    }

    /// Multiplies a task's A and B into its product; times from `t0`.
    fn do_task(
        &self,
        worker: usize,
        inputs: Inputs<Sink<'_>, Instant>,
        t0: Instant,
    ) -> (TaskTiming, TaskCheck) {
        let backend = self.backend;
        let since = |t: Instant| t.duration_since(t0).as_secs_f64();
        let Inputs {
            task,
            with: sink,
            op,
            input,
            generated: (g0, g1),
        } = inputs;
        // After g1; later with overlapped generation when the data waited for the worker.
        let m0 = Instant::now();
        let blas_threads = backend.threads();
        let calls0 = backend.gemm_calls_in_this_thread();
        let result = compute(backend, op, &input, sink);
        let m1 = since(Instant::now());
        // LAPACK reaches the library's dgemm through the Fortran dgemm_, which no binary
        // counts: the count proves products only.
        let gemm_calls = calls0
            .zip(backend.gemm_calls_in_this_thread())
            .filter(|_| op == Operation::Gemm)
            .map(|(before, after)| after - before);
        let (check, verify) = match result {
            None => (None, None),
            Some(r) => {
                let check = feed::check(op, &input, r, self.set.workload.corrupt == Some(task));
                (Some(check), Some((m1, since(Instant::now()))))
            }
        };
        let timing = TaskTiming {
            task,
            worker,
            generate: (since(g0), since(g1)),
            multiply: (since(m0), m1),
            verify,
            delivered: 0.0,
            blas_threads,
            gemm_calls,
        };
        let delivered = timing.worker_end();
        (
            TaskTiming {
                delivered,
                ..timing
            },
            check,
        )
    }
}

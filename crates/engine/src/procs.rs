//! Worker processes: the parent side ([`ProcessPool`]) and the worker side
//! ([`serve_if_worker`]), which every engine binary calls first.
//!
//! - **Start**: fork+exec of an engine binary (by default the running one) with the
//!   worker's settings in `BLASPAR_WORKER` (JSON). Parent and worker talk over a socket
//!   pair of their own: the worker keeps its end across exec and the spec names its number.
//!   Stdout and stderr stay free for the libraries: the worker's stdout is the parent's, its
//!   stderr is copied line by line to the parent's, so whatever a library prints
//!   (`MKL_VERBOSE=1`, warnings) reaches the user and never the protocol. Before exec the
//!   child asks the kernel to kill it when its parent dies (`PR_SET_PDEATHSIG`), ignores
//!   Ctrl-C (the parent stops the run and names what was running) and keeps the channel,
//!   the result store and the task queue open. The worker initialises its backend, sets its
//!   BLAS threads, maps the store with every page populated (so that writing products
//!   takes no page fault in the timed run) and answers `ready`; spawn-to-ready is the
//!   start-up, measured apart from the work.
//! - **Run**: the parent resets a task counter in a shared page ([`SharedQueue`]) and sends
//!   `run` to every worker. Each worker takes tasks from that counter itself, as thread
//!   workers do, so it never waits for the parent: it says `took N`, generates A and B,
//!   multiplies straight into the task's slot of the shared store (no copy, no transfer of
//!   the product; the only slot it may write), says `done` with its timestamps
//!   (CLOCK_MONOTONIC, shared by all processes) and the BLAS threads it read back, and
//!   `drained` when no task is left. One driver thread per worker in the parent reads these
//!   lines. With fingerprints only, the worker checks its product itself.
//! - **Faults**: a worker that dies, exits, answers `failed`, or exceeds the task timeout
//!   ends the run with one line naming the task, the worker and its pid; the other workers
//!   are stopped and every child is reaped (also when a signal stops the run, see
//!   [`crate::execution::stop_on_signals`], and by [`Drop`]). A parent killed outright
//!   takes its workers with it through `PR_SET_PDEATHSIG`.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the worker exits: start pools
//! from a thread that outlives them (the engine's main thread).

use crate::execution::{
    EngineInit, Execution, Interrupted, TaskTiming, WorkerStats, process_minor_faults,
    stop_requested,
};
use crate::feed::{Inputs, Sink, check, compute, feed};
use crate::handoff::Handoff;
use crate::loaded::SharedFiles;
use crate::pin::{Placement, Plan, Seen, Watch};
use crate::store::{ResultStore, SharedQueue};
use blaspar_core::mix::{Group, Mix, TaskSet};
use blaspar_core::operation::Operation;
use blaspar_core::task::{Failed, Passed};
use blaspar_core::usage::{monotonic_ns, process_cpu_seconds};
use blaspar_core::{Backend, Strategy, Workload};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// Environment variable that makes a binary a worker; holds its [`WorkerSpec`] as JSON.
pub const WORKER_ENV: &str = "BLASPAR_WORKER";

/// The start-up phase, in messages.
const STARTING: &str = "while starting the worker processes";

/// How worker processes are started and watched.
#[derive(Clone, Debug, Default)]
pub struct WorkerSettings {
    /// Binary to start as workers (default: the running binary).
    pub exe: Option<PathBuf>,
    /// Kernel request and probe cache, as the parent's backend was initialised.
    pub init: Option<EngineInit>,
    /// Longest a task (and a worker's start-up, at least 30 s) may take; `None`:
    /// [`default_task_timeout`].
    pub task_timeout: Option<Duration>,
}

/// The default task timeout: 60 s plus 2 s per GFLOP of one task (a rate of 0.5 GFLOP/s,
/// far below any backend), so that only a hung worker reaches it. A workload file's
/// largest task sets it.
pub fn default_task_timeout<'t>(tasks: impl Into<TaskSet<'t>>) -> Duration {
    let gflop = tasks.into().largest_task_flops() / 1e9;
    Duration::from_secs_f64(60.0 + 2.0 * gflop)
}

/// What a worker is told at start (the `BLASPAR_WORKER` variable).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerSpec {
    pub index: usize,
    pub backend: String,
    pub kernel: String,
    pub cache_dir: Option<PathBuf>,
    /// BLAS threads to set (`None`: the library default).
    pub blas_threads: Option<usize>,
    pub workload: Workload,
    /// Descriptor of a workload file's groups ([`Handoff`]; the worker rebuilds its tasks
    /// and their order from them).
    #[serde(default)]
    pub groups_fd: Option<RawFd>,
    /// Descriptor of `--input`'s folder and tasks ([`Handoff`]; the worker rebuilds its
    /// tasks from them, and `groups_fd` is `None`).
    #[serde(default)]
    pub files_fd: Option<RawFd>,
    /// Descriptor of the files the parent loaded (`--loading parent`), with their number
    /// of values.
    #[serde(default)]
    pub loaded: Option<(RawFd, usize)>,
    /// Descriptor of the worker's end of its channel to the parent (a Unix socket).
    pub channel_fd: RawFd,
    /// Descriptor of the result store (`None`: fingerprints only).
    pub store_fd: Option<RawFd>,
    /// Descriptor of the shared task queue.
    pub queue_fd: RawFd,
    pub parent_pid: u32,
    /// CPUs the worker process runs on (`--pin`; empty: not pinned). Set before exec.
    #[serde(default)]
    pub cpus: Vec<usize>,
}

impl WorkerSpec {
    /// Worker 0's spec; the others differ only in their index. The kernel request is the
    /// parent's (without one: `auto`); the channel descriptor is still unknown (`spawn`
    /// makes the channel).
    fn first<B: Backend + ?Sized>(
        backend: &B,
        strategy: Strategy,
        tasks: TaskSet<'_>,
        settings: &WorkerSettings,
        store: Option<&ResultStore>,
        queue: &SharedQueue,
        handed: &Handed,
    ) -> WorkerSpec {
        let workload = tasks.workload;
        let init = settings.init.clone().unwrap_or(EngineInit {
            kernel: "auto".to_string(),
            cache_dir: None,
            size: Some(workload.size),
        });
        WorkerSpec {
            index: 0,
            backend: backend.name().to_string(),
            kernel: init.kernel,
            cache_dir: init.cache_dir,
            blas_threads: strategy.blas_threads().requested(),
            workload: *workload,
            groups_fd: handed.groups.as_ref().map(Handoff::fd),
            files_fd: handed.files.as_ref().map(Handoff::fd),
            loaded: tasks.loaded.map(|l| (l.fd, l.values.len())),
            channel_fd: -1,
            store_fd: store.map(ResultStore::fd),
            queue_fd: queue.fd(),
            parent_pid: std::process::id(),
            cpus: Vec::new(),
        }
    }
}

/// A finished task, as the worker reports it (monotonic nanoseconds).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskDone {
    pub task: usize,
    pub generate: (u64, u64),
    pub multiply: (u64, u64),
    pub verify: Option<(u64, u64)>,
    pub blas_threads: usize,
    pub gemm_calls: Option<u64>,
    pub check: Option<WireCheck>,
    /// Process CPU seconds of the worker so far.
    pub cpu_seconds: f64,
}

/// A worker's check of its result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireCheck {
    /// `None` when it passed, else which check failed.
    pub failed: Option<String>,
    /// A failed check's value is infinite for a NaN or no result, and a failed task has no
    /// fingerprint (NaN): JSON has neither, so they travel as `null` ([`finite_or_null`]).
    #[serde(with = "finite_or_null")]
    pub value: f64,
    #[serde(with = "finite_or_null")]
    pub limit: f64,
    #[serde(with = "finite_or_null")]
    pub fingerprint: f64,
    pub row: Option<usize>,
}

/// An `f64` on the wire: finite values as numbers, the others as `null`, read back as
/// infinity (serde_json would write `null` for them and then refuse to read it).
mod finite_or_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() {
            s.serialize_f64(*x)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

impl WireCheck {
    fn of(check: Result<Passed, Failed>) -> WireCheck {
        match check {
            Ok(c) => WireCheck {
                failed: None,
                value: c.value,
                limit: c.limit,
                fingerprint: c.fingerprint,
                row: None,
            },
            Err(f) => WireCheck {
                failed: Some(f.check),
                value: f.value,
                limit: f.limit,
                fingerprint: f64::NAN,
                row: f.row,
            },
        }
    }

    fn result(self) -> Result<Passed, Failed> {
        match self.failed {
            None => Ok(Passed {
                value: self.value,
                limit: self.limit,
                fingerprint: self.fingerprint,
            }),
            Some(check) => Err(Failed {
                check,
                value: self.value,
                limit: self.limit,
                row: self.row,
            }),
        }
    }
}

/// One line from a worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum Reply {
    Ready {
        pid: u32,
        backend: String,
        version: String,
        kernel: String,
        blas_threads: usize,
        cpu_seconds: f64,
        /// Seconds it took to populate this worker's mapping of the result store.
        store_seconds: f64,
        /// Minor page faults of the worker so far.
        minor_faults: u64,
    },
    /// The worker took this task from the shared queue.
    Took {
        task: usize,
    },
    Done(TaskDone),
    /// No task is left in this run.
    Drained {
        /// Process CPU seconds of the worker so far.
        cpu_seconds: f64,
        /// Minor page faults of the worker so far.
        minor_faults: u64,
        /// The worker's threads in this run and where they ran.
        #[serde(default)]
        seen: Seen,
    },
    Failed {
        message: String,
    },
}

/// Why a process run failed. Each message is one line naming the worker and its task.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("cannot start worker {worker} from {exe}: {source}")]
    Spawn {
        worker: usize,
        exe: PathBuf,
        source: std::io::Error,
    },
    #[error("worker {worker} (pid {pid}) {what} {when}{detail}")]
    Died {
        worker: usize,
        pid: u32,
        what: String,
        when: String,
        detail: String,
    },
    #[error("worker {worker} (pid {pid}) failed {when}: {message}")]
    Failed {
        worker: usize,
        pid: u32,
        when: String,
        message: String,
    },
    #[error(
        "worker {worker} (pid {pid}) gave no answer {when} within {timeout:?} (--task-timeout): \
         it was killed"
    )]
    Hung {
        worker: usize,
        pid: u32,
        when: String,
        timeout: Duration,
    },
    #[error("worker {worker} (pid {pid}) {problem}")]
    Protocol {
        worker: usize,
        pid: u32,
        problem: String,
    },
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
    #[error(transparent)]
    Queue(#[from] crate::store::StoreError),
    #[error(transparent)]
    Files(#[from] crate::loaded::LoadedError),
    #[error(transparent)]
    Handoff(#[from] crate::handoff::HandoffError),
}

impl ProcError {
    /// The exit status the engine uses: 128 + the signal when one stopped the run (as
    /// shells report it), else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            ProcError::Interrupted(i) => i.exit_code(),
            _ => 1,
        }
    }
}

/// A started worker process, on the parent's side.
struct WorkerProc {
    index: usize,
    pid: u32,
    child: Child,
    channel: Channel,
    stderr: StderrTail,
    startup_seconds: f64,
    /// Populating its mapping of the result store (in its start-up).
    store_seconds: f64,
    /// Worker CPU seconds at the end of the previous run (or at ready).
    cpu_mark: f64,
    /// Worker CPU seconds when it last said `drained`.
    cpu_drained: f64,
    /// Worker minor page faults at the end of the previous run (or at ready).
    faults_mark: u64,
    /// Its threads in the last run, and where they ran.
    seen: Seen,
    /// Worker minor page faults when it last said `drained`.
    faults_drained: u64,
    /// The task it is working on, for messages.
    current: Option<usize>,
}

/// P worker processes, started and ready.
pub struct ProcessPool {
    procs: Vec<WorkerProc>,
    queue: SharedQueue,
    workload: Workload,
    /// The workload file the pool was started for (boxed: most pools have none).
    mix: Option<Box<Mix>>,
    keep_products: bool,
    timeout: Duration,
    plan: Plan,
    /// What the workers read at start besides their spec.
    handed: Handed,
}

/// What worker processes read at start besides their spec (too large for the environment):
/// a workload file's groups, or `--input`'s files and tasks.
#[derive(Default)]
struct Handed {
    groups: Option<Handoff>,
    files: Option<Handoff>,
}

impl Handed {
    fn new(tasks: TaskSet<'_>) -> Result<Handed, crate::handoff::HandoffError> {
        Ok(match tasks.mix {
            Some(mix) if let Some(files) = &mix.files => Handed {
                files: Some(Handoff::new(
                    c"blaspar-input-files",
                    "the input files",
                    files,
                )?),
                groups: None,
            },
            Some(mix) => Handed {
                groups: Some(Handoff::new(
                    c"blaspar-workload-groups",
                    "the workload file's groups",
                    &mix.groups,
                )?),
                files: None,
            },
            None => Handed::default(),
        })
    }
}

/// What every worker's `ready` must say.
struct Expected<'a> {
    backend: &'a str,
    kernel: &'a str,
    blas_threads: Option<usize>,
    exe: &'a Path,
}

impl ProcessPool {
    /// Starts `strategy.workers()` worker processes for `workload`, each on its CPUs of
    /// `plan`, and waits until each is ready (backend initialised, BLAS threads set and
    /// read back, store mapped).
    pub fn start<B: Backend + ?Sized>(
        backend: &B,
        strategy: Strategy,
        tasks: TaskSet<'_>,
        store: Option<&ResultStore>,
        settings: &WorkerSettings,
        plan: &Plan,
    ) -> Result<ProcessPool, ProcError> {
        let exe = worker_exe(settings)?;
        let timeout = settings
            .task_timeout
            .unwrap_or_else(|| default_task_timeout(tasks));
        let mut pool = ProcessPool {
            procs: Vec::new(),
            queue: SharedQueue::new(tasks.count())?,
            workload: *tasks.workload,
            mix: tasks.mix.map(|m| Box::new(m.clone())),
            keep_products: store.is_some(),
            timeout,
            plan: plan.clone(),
            handed: Handed::new(tasks)?,
        };
        let spec = WorkerSpec::first(
            backend,
            strategy,
            tasks,
            settings,
            store,
            &pool.queue,
            &pool.handed,
        );
        let started = Instant::now();
        for index in 0..strategy.workers() {
            pool.stop_point(STARTING)?;
            pool.procs.push(spawn(
                &exe,
                WorkerSpec {
                    index,
                    cpus: plan.set(index).map(<[usize]>::to_vec).unwrap_or_default(),
                    ..spec.clone()
                },
            )?);
        }
        let kernel = backend.kernel().kernel.clone();
        let expected = Expected {
            backend: &spec.backend,
            kernel: &kernel,
            blas_threads: spec.blas_threads,
            exe: &exe,
        };
        pool.await_ready(&expected, started)?;
        Ok(pool)
    }

    /// Waits until every worker said `ready`, and records when.
    fn await_ready(&mut self, expected: &Expected, started: Instant) -> Result<(), ProcError> {
        let limit = self.timeout.max(Duration::from_secs(30));
        for i in 0..self.procs.len() {
            match self.procs[i].await_ready(expected, limit) {
                Ok(()) => self.procs[i].startup_seconds = started.elapsed().as_secs_f64(),
                Err(NotReady::Stopped(signal)) => return Err(self.interrupted(signal, STARTING)),
                Err(NotReady::Failed(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// Process ids of the workers.
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(|w| w.pid).collect()
    }

    /// Runs `workload` (the one the pool was started for) once. Products go to the store
    /// given at start when `keep_products`, else each worker returns its check.
    pub fn run(
        &mut self,
        tasks: TaskSet<'_>,
        keep_products: bool,
        on_task_done: &(dyn Fn() + Sync),
    ) -> Result<Execution, ProcError> {
        assert!(
            (*tasks.workload, keep_products) == (self.workload, self.keep_products)
                && tasks.mix == self.mix.as_deref(),
            "a pool runs the workload and result mode it was started for"
        );
        self.queue.reset();
        let cpu0 = process_cpu_seconds();
        let faults0 = process_minor_faults();
        let t0_ns = monotonic_ns();
        let t0 = Instant::now();
        let delivered = self.drive_all(on_task_done);
        let seconds_total = t0.elapsed().as_secs_f64();
        let delivered = delivered.inspect_err(|_| self.kill_all())?;
        let parent_cpu = process_cpu_seconds() - cpu0;
        let parent_faults = process_minor_faults() - faults0;
        let mut exec = self.collect(delivered, t0_ns);
        exec.seconds_total = seconds_total;
        exec.cpu_seconds += parent_cpu;
        exec.minor_faults += parent_faults;
        Ok(exec)
    }

    /// One driver thread per worker follows it through the run; the first failure stops
    /// the other drivers. A stop signal wins over the failures it caused.
    fn drive_all(
        &mut self,
        on_task_done: &(dyn Fn() + Sync),
    ) -> Result<Vec<Vec<Delivered>>, ProcError> {
        let abort = AtomicBool::new(false);
        let first_error: Mutex<Option<ProcError>> = Mutex::new(None);
        let timeout = self.timeout;
        let delivered = std::thread::scope(|scope| {
            let drivers: Vec<_> = self
                .procs
                .iter_mut()
                .map(|w| {
                    let (abort, first_error) = (&abort, &first_error);
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        if let Err(e) = drive(w, abort, timeout, &mut done, on_task_done) {
                            abort.store(true, Ordering::SeqCst);
                            first_error
                                .lock()
                                .expect("no panic holding it")
                                .get_or_insert(e);
                        }
                        done
                    })
                })
                .collect();
            drivers
                .into_iter()
                .map(|h| h.join().expect("driver threads do not panic"))
                .collect()
        });
        if let Some(signal) = stop_requested() {
            return Err(self.interrupted(signal, "during the tasks"));
        }
        match first_error.into_inner().expect("no panic holding it") {
            Some(e) => Err(e),
            None => Ok(delivered),
        }
    }

    /// The run's execution from what each worker delivered (times from `t0_ns`).
    fn collect(&mut self, delivered: Vec<Vec<Delivered>>, t0_ns: u64) -> Execution {
        let tasks = self.workload.tasks;
        let since = |ns: u64| ns.saturating_sub(t0_ns) as f64 * 1e-9;
        let mut timings: Vec<Option<TaskTiming>> = vec![None; tasks];
        let mut checks: Vec<Option<Result<Passed, Failed>>> = vec![None; tasks];
        let mut workers = Vec::new();
        let mut worker_cpu = 0.0;
        let mut worker_faults = 0;
        for (w, done) in self.procs.iter_mut().zip(delivered) {
            let cpu = w.cpu_drained - w.cpu_mark;
            w.cpu_mark = w.cpu_drained;
            worker_cpu += cpu;
            worker_faults += w.faults_drained - w.faults_mark;
            w.faults_mark = w.faults_drained;
            workers.push(WorkerStats {
                worker: w.index,
                pid: Some(w.pid),
                startup_seconds: w.startup_seconds,
                store_seconds: w.store_seconds,
                tasks: done.len(),
                cpu_seconds: cpu,
                wall_seconds: done.last().map_or(0.0, |d| since(d.delivered_ns)),
            });
            for d in done {
                let task = d.report.task;
                timings[task] = Some(d.timing(w.index, since));
                checks[task] = d.report.check.map(WireCheck::result);
            }
        }
        let checks = (!self.keep_products).then(|| {
            checks
                .into_iter()
                .map(|c| c.expect("a worker without a store returns its check"))
                .collect()
        });
        Execution {
            timings: timings
                .into_iter()
                .map(|t| t.expect("every task was delivered (no driver failed)"))
                .collect(),
            workers,
            checks,
            startup_seconds: 0.0,
            store_seconds: 0.0,
            load_seconds: 0.0,
            seconds_total: 0.0,
            cpu_seconds: worker_cpu,
            minor_faults: worker_faults,
            placement: Placement {
                plan: self.plan.clone(),
                workers: self.procs.iter().map(|w| w.seen.clone()).collect(),
                other: Seen::default(),
            },
        }
    }

    /// Tells every worker to exit (closes its channel) and reaps it; a worker that does not
    /// exit within 5 s is killed. An unclean exit is an error.
    pub fn shutdown(mut self) -> Result<(), ProcError> {
        for w in &mut self.procs {
            w.channel.close_requests();
        }
        let mut first = None;
        for w in &mut self.procs {
            let problem = match w.child.wait_timeout(Duration::from_secs(5)) {
                Ok(Some(s)) if s.success() => None,
                Ok(Some(s)) => Some(describe_status(s)),
                Ok(None) => Some("did not exit within 5 s of the end of the run".to_string()),
                Err(e) => Some(format!("could not be waited for ({e})")),
            };
            if let (Some(what), None) = (problem, &first) {
                first = Some(ProcError::Died {
                    worker: w.index,
                    pid: w.pid,
                    what,
                    when: "at shutdown".to_string(),
                    detail: w.stderr.last_line(),
                });
            }
        }
        self.kill_all();
        first.map_or(Ok(()), Err)
    }

    fn stop_point(&mut self, during: &str) -> Result<(), ProcError> {
        match stop_requested() {
            Some(signal) => Err(self.interrupted(signal, during)),
            None => Ok(()),
        }
    }

    /// The run was stopped by a signal: every worker is killed and reaped, and the error
    /// names what was running.
    fn interrupted(&mut self, signal: Signal, during: &str) -> ProcError {
        let running: Vec<String> = self
            .procs
            .iter()
            .filter_map(|w| {
                w.current
                    .map(|t| format!("task {t} on worker {} (pid {})", w.index, w.pid))
            })
            .collect();
        self.kill_all();
        let running = if running.is_empty() {
            String::new()
        } else {
            format!(", while {} ran", running.join(", "))
        };
        ProcError::Interrupted(Interrupted {
            signal,
            during: format!("{during}{running}; every worker was stopped"),
        })
    }

    fn kill_all(&mut self) {
        for w in &mut self.procs {
            w.kill();
        }
    }
}

impl Drop for ProcessPool {
    /// No worker outlives its pool, whatever ended the run.
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// The binary to start as workers: the one the settings name, else this one.
fn worker_exe(settings: &WorkerSettings) -> Result<PathBuf, ProcError> {
    match &settings.exe {
        Some(p) => Ok(p.clone()),
        None => std::env::current_exe().map_err(|source| ProcError::Spawn {
            worker: 0,
            exe: PathBuf::from("(this binary)"),
            source,
        }),
    }
}

/// A finished task as a worker reported it, with the parent's delivery time.
struct Delivered {
    report: TaskDone,
    delivered_ns: u64,
}

impl Delivered {
    /// Its timing on the run's time line (`since` turns monotonic ns into run seconds).
    fn timing(&self, worker: usize, since: impl Fn(u64) -> f64) -> TaskTiming {
        let d = &self.report;
        TaskTiming {
            task: d.task,
            worker,
            generate: (since(d.generate.0), since(d.generate.1)),
            multiply: (since(d.multiply.0), since(d.multiply.1)),
            verify: d.verify.map(|(a, b)| (since(a), since(b))),
            delivered: since(self.delivered_ns),
            blas_threads: d.blas_threads,
            gemm_calls: d.gemm_calls,
        }
    }
}

/// One driver thread's loop: start `w` on the run, then follow its lines until it has
/// drained the queue, fails, goes silent for `timeout`, or the run aborts.
fn drive(
    w: &mut WorkerProc,
    abort: &AtomicBool,
    timeout: Duration,
    done: &mut Vec<Delivered>,
    on_task_done: &(dyn Fn() + Sync),
) -> Result<(), ProcError> {
    w.current = None;
    if w.channel.send_request("run").is_err() {
        return Err(w.diagnose(Silence::Eof, "before its first task".to_string(), timeout));
    }
    loop {
        let when = match w.current {
            Some(task) => format!("during task {task}"),
            None => "between tasks".to_string(),
        };
        let line = match w.channel.next_line(Instant::now() + timeout, abort) {
            Ok(line) => line,
            Err(Wait::Silent(silence)) => return Err(w.diagnose(silence, when, timeout)),
            // The pool names the signal, or the other worker's failure, and kills this one.
            Err(Wait::Stopped(_)) | Err(Wait::Aborted) => return Ok(()),
        };
        let delivered_ns = monotonic_ns();
        match parse_reply(w, &line)? {
            Reply::Took { task } => w.current = Some(task),
            Reply::Done(report) => {
                if w.current != Some(report.task) {
                    return Err(w.protocol(format!(
                        "finished task {} without taking it (it took {:?})",
                        report.task, w.current
                    )));
                }
                done.push(Delivered {
                    report,
                    delivered_ns,
                });
                w.current = None;
                on_task_done();
            }
            Reply::Drained {
                cpu_seconds,
                minor_faults,
                seen,
            } => {
                w.cpu_drained = cpu_seconds;
                w.faults_drained = minor_faults;
                w.seen = seen;
                return Ok(());
            }
            Reply::Failed { message } => return Err(w.failed(when, message)),
            Reply::Ready { .. } => return Err(w.protocol("answered `ready` twice".to_string())),
        }
    }
}

fn parse_reply(w: &WorkerProc, line: &str) -> Result<Reply, ProcError> {
    serde_json::from_str(line).map_err(|e| {
        w.protocol(format!(
            "sent a line that is not a worker reply ({e}): {:.120}",
            line.trim_end()
        ))
    })
}

/// Why no line came.
#[derive(Debug)]
pub(crate) enum Wait {
    /// The worker's fault.
    Silent(Silence),
    /// Another worker failed: the run is over.
    Aborted,
    /// A signal asked the run to stop.
    Stopped(Signal),
}

/// How a worker left a line unsaid.
#[derive(Debug)]
pub(crate) enum Silence {
    Eof,
    Timeout,
    Io(std::io::Error),
}

impl Silence {
    /// What the silent `child` did, in words; `None` when it timed out. A child that timed
    /// out, could not be read from, or closed its channel without exiting is killed.
    pub(crate) fn of(self, child: &mut Child) -> Option<String> {
        match self {
            Silence::Timeout => {
                kill_and_reap(child);
                None
            }
            Silence::Io(e) => {
                kill_and_reap(child);
                Some(format!("could not be read from ({e}) and was killed"))
            }
            // The channel closed: the child is exiting or gone. Give it a moment to be reaped.
            Silence::Eof => Some(match child.wait_timeout(Duration::from_secs(2)) {
                Ok(Some(s)) => describe_status(s),
                _ => {
                    kill_and_reap(child);
                    "closed its channel without exiting (killed)".to_string()
                }
            }),
        }
    }
}

/// Kills `child` unless it has exited, and reaps it.
pub(crate) fn kill_and_reap(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// Why a worker did not become ready.
enum NotReady {
    Stopped(Signal),
    Failed(ProcError),
}

impl WorkerProc {
    /// Waits for the worker's `ready` and checks that it runs what the parent runs.
    fn await_ready(&mut self, expected: &Expected, limit: Duration) -> Result<(), NotReady> {
        let when = "while starting";
        let never = AtomicBool::new(false);
        let line = match self.channel.next_line(Instant::now() + limit, &never) {
            Ok(line) => line,
            Err(Wait::Silent(silence)) => {
                return Err(NotReady::Failed(self.diagnose(silence, when.into(), limit)));
            }
            Err(Wait::Stopped(signal)) => return Err(NotReady::Stopped(signal)),
            Err(Wait::Aborted) => unreachable!("nothing aborts a start-up"),
        };
        let reply = parse_reply(self, &line).map_err(NotReady::Failed)?;
        match reply {
            Reply::Ready {
                backend,
                kernel,
                blas_threads,
                cpu_seconds,
                store_seconds,
                minor_faults,
                ..
            } => {
                self.check_ready(expected, &backend, &kernel, blas_threads)
                    .map_err(NotReady::Failed)?;
                self.cpu_mark = cpu_seconds;
                self.store_seconds = store_seconds;
                self.faults_mark = minor_faults;
                Ok(())
            }
            Reply::Failed { message } => Err(NotReady::Failed(self.failed(when.into(), message))),
            other => Err(NotReady::Failed(
                self.protocol(format!("answered {other:?} before `ready`")),
            )),
        }
    }

    fn check_ready(
        &self,
        expected: &Expected,
        backend: &str,
        kernel: &str,
        blas_threads: usize,
    ) -> Result<(), ProcError> {
        if backend != expected.backend {
            return Err(self.protocol(format!(
                "runs backend {backend}, not {}: {} is another backend's engine",
                expected.backend,
                expected.exe.display()
            )));
        }
        if kernel != expected.kernel {
            let want = expected.kernel;
            return Err(self.protocol(format!(
                "runs kernel {kernel}, the parent {want}: the kernel choice differs between \
                 processes (pass --kernel {want})"
            )));
        }
        match expected.blas_threads {
            Some(t) if t != blas_threads => {
                Err(self.protocol(format!("set {t} BLAS threads but read back {blas_threads}")))
            }
            _ => Ok(()),
        }
    }

    fn protocol(&self, problem: String) -> ProcError {
        ProcError::Protocol {
            worker: self.index,
            pid: self.pid,
            problem,
        }
    }

    fn failed(&self, when: String, message: String) -> ProcError {
        ProcError::Failed {
            worker: self.index,
            pid: self.pid,
            when,
            message,
        }
    }

    /// Turns a missing answer into an error: the exit status of a dead worker, or a
    /// timeout (the worker is killed).
    fn diagnose(&mut self, silence: Silence, when: String, timeout: Duration) -> ProcError {
        let Some(what) = silence.of(&mut self.child) else {
            return ProcError::Hung {
                worker: self.index,
                pid: self.pid,
                when,
                timeout,
            };
        };
        ProcError::Died {
            worker: self.index,
            pid: self.pid,
            what,
            when,
            detail: self.stderr.last_line(),
        }
    }

    /// Kills the worker unless it has exited, and reaps it.
    fn kill(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

/// "was killed by signal 9 (SIGKILL)", "exited with status 3".
pub(crate) fn describe_status(s: ExitStatus) -> String {
    match s.signal() {
        Some(sig) => match Signal::try_from(sig) {
            Ok(name) => format!("was killed by signal {sig} ({name})"),
            Err(_) => format!("was killed by signal {sig}"),
        },
        None => format!("exited with status {}", s.code().unwrap_or(-1)),
    }
}

/// fork+exec of one worker, with its end of a new channel.
fn spawn(exe: &Path, mut spec: WorkerSpec) -> Result<WorkerProc, ProcError> {
    let spawn_err = |source| ProcError::Spawn {
        worker: spec.index,
        exe: exe.to_path_buf(),
        source,
    };
    // Both ends are close-on-exec; the worker's end is kept open in the child only.
    let (parent_end, worker_end) = UnixStream::pair().map_err(spawn_err)?;
    spec.channel_fd = worker_end.as_raw_fd();
    let mut cmd = Command::new(exe);
    cmd.env(
        WORKER_ENV,
        serde_json::to_string(&spec).expect("spec serialises"),
    )
    .stdin(Stdio::null())
    .stdout(Stdio::inherit())
    .stderr(Stdio::piped());
    let inherit: Vec<RawFd> = [spec.channel_fd, spec.queue_fd]
        .into_iter()
        .chain(spec.store_fd)
        .chain(spec.files_fd)
        .chain(spec.groups_fd)
        .chain(spec.loaded.map(|(fd, _)| fd))
        .collect();
    let parent = spec.parent_pid;
    // Made before the fork: the child only hands it to the kernel.
    let cpus = match spec.cpus.as_slice() {
        [] => None,
        cpus => Some(crate::pin::cpu_set(cpus).map_err(|e| spawn_err(std::io::Error::other(e)))?),
    };
    // SAFETY: only async-signal-safe calls (prctl, getppid, signal, fcntl, _exit,
    // sched_setaffinity) between fork and exec, and no allocation.
    unsafe {
        cmd.pre_exec(move || {
            prepare_worker(parent, &inherit)?;
            // The whole process, so every thread a library starts, even at load, is placed.
            crate::pin::pin_child(cpus.as_ref())
        })
    };
    let mut child = cmd.spawn().map_err(spawn_err)?;
    // The parent's copy of the worker's end must go, or the parent would never see the
    // channel close when the worker dies.
    drop(worker_end);
    let stderr = StderrTail::follow(child.stderr.take().expect("piped"));
    Ok(WorkerProc {
        index: spec.index,
        pid: child.id(),
        child,
        channel: Channel::new(parent_end),
        stderr,
        startup_seconds: 0.0,
        store_seconds: 0.0,
        cpu_mark: 0.0,
        cpu_drained: 0.0,
        faults_mark: 0,
        faults_drained: 0,
        seen: Seen::default(),
        current: None,
    })
}

/// In the forked child, before exec: die with the parent, leave Ctrl-C to the parent, and
/// keep the descriptors the worker needs across exec.
pub(crate) fn prepare_worker(parent: u32, inherit: &[RawFd]) -> std::io::Result<()> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
    // The parent may have died before prctl took effect.
    if nix::unistd::getppid().as_raw() as u32 != parent {
        // SAFETY: _exit ends the forked child without running the parent's destructors.
        unsafe { libc::_exit(1) };
    }
    // SAFETY: ignoring a signal installs no handler.
    unsafe { nix::sys::signal::signal(Signal::SIGINT, nix::sys::signal::SigHandler::SigIgn) }?;
    for &fd in inherit {
        // SAFETY: the descriptors belong to the parent's channel, store and queue, open
        // until the spawn returns.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
    }
    Ok(())
}

/// The parent's end of a worker's channel: requests out, reply lines in, each read with a
/// deadline (poll(2) in slices of 50 ms, so that an abort or a stop signal is noticed
/// promptly).
pub(crate) struct Channel {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Channel {
    pub(crate) fn new(stream: UnixStream) -> Self {
        Channel {
            stream,
            buf: Vec::new(),
        }
    }

    pub(crate) fn send_request(&mut self, request: &str) -> std::io::Result<()> {
        self.stream.write_all(format!("{request}\n").as_bytes())
    }

    /// No more requests: the worker exits when it reads the end.
    pub(crate) fn close_requests(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }

    pub(crate) fn next_line(
        &mut self,
        deadline: Instant,
        abort: &AtomicBool,
    ) -> Result<String, Wait> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if let Some(signal) = stop_requested() {
                return Err(Wait::Stopped(signal));
            }
            if abort.load(Ordering::SeqCst) {
                return Err(Wait::Aborted);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Wait::Silent(Silence::Timeout));
            }
            let slice = (deadline - now).min(Duration::from_millis(50));
            if self.readable_within(slice)? {
                self.read_some()?;
            }
        }
    }

    fn readable_within(&self, slice: Duration) -> Result<bool, Wait> {
        let mut fds = [PollFd::new(self.stream.as_fd(), PollFlags::POLLIN)];
        let ms = u16::try_from(slice.as_millis().max(1)).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(n) => Ok(n > 0),
            // A signal (the stop signal included) interrupted the wait: look again.
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(Wait::Silent(Silence::Io(e.into()))),
        }
    }

    fn read_some(&mut self) -> Result<(), Wait> {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(Wait::Silent(Silence::Eof)),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(()),
            // A worker killed with unread requests resets the connection: that is its end.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                Err(Wait::Silent(Silence::Eof))
            }
            Err(e) => Err(Wait::Silent(Silence::Io(e))),
        }
    }
}

/// A worker's stderr, copied line by line to the parent's stderr by a thread of its own
/// (so the user sees what the worker and its libraries say), keeping the last non-empty
/// line to name the cause when the worker dies.
pub(crate) struct StderrTail {
    state: Arc<(Mutex<TailState>, Condvar)>,
}

#[derive(Default)]
struct TailState {
    last: String,
    ended: bool,
}

impl StderrTail {
    pub(crate) fn follow(pipe: ChildStderr) -> StderrTail {
        let state = Arc::new((Mutex::new(TailState::default()), Condvar::new()));
        let shared = Arc::clone(&state);
        // Detached: it ends when the worker's stderr closes (the pool reaps every worker).
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                // A parent whose stderr is gone still runs: the line is only lost.
                let _ = writeln!(std::io::stderr().lock(), "{line}");
                if !line.trim().is_empty() {
                    shared.0.lock().expect("no panic holding it").last = line;
                }
            }
            shared.0.lock().expect("no panic holding it").ended = true;
            shared.1.notify_all();
        });
        StderrTail { state }
    }

    /// The last line the worker wrote to stderr, as `: <line>` (empty when none). Waits up
    /// to a second for the rest of a dead worker's output.
    pub(crate) fn last_line(&self) -> String {
        let (lock, ended) = &*self.state;
        let state = lock.lock().expect("no panic holding it");
        let (state, _) = ended
            .wait_timeout_while(state, Duration::from_secs(1), |s| !s.ended)
            .expect("no panic holding it");
        match state.last.trim() {
            "" => String::new(),
            last => format!(": {last:.200}"),
        }
    }
}

/// Call first in `main` of every binary that can be a worker (the engine binaries):
/// when `BLASPAR_WORKER` is set, serves as a worker and exits; otherwise returns at once.
pub fn serve_if_worker<B: Backend>(init: impl FnOnce(&EngineInit) -> anyhow::Result<B>) {
    let Ok(text) = std::env::var(WORKER_ENV) else {
        return;
    };
    std::process::exit(worker_main(&text, init))
}

/// The worker's life: its exit status. A failure goes to the parent as a `failed` reply
/// (the parent prints it), or to stderr when the channel is unusable.
fn worker_main<B: Backend>(text: &str, init: impl FnOnce(&EngineInit) -> anyhow::Result<B>) -> i32 {
    let (spec, mut channel) = match open_channel(text) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("worker error: {e:#}");
            return 1;
        }
    };
    match serve(&spec, &mut channel, init) {
        Ok(()) => 0,
        Err(e) => {
            let message = format!("{e:#}");
            if send(
                &mut channel,
                &Reply::Failed {
                    message: message.clone(),
                },
            )
            .is_err()
            {
                eprintln!("worker error: {message}");
            }
            1
        }
    }
}

/// The spec, and the channel it names.
fn open_channel(text: &str) -> anyhow::Result<(WorkerSpec, UnixStream)> {
    use anyhow::Context;
    let spec: WorkerSpec =
        serde_json::from_str(text).with_context(|| format!("{WORKER_ENV} is not a worker spec"))?;
    let channel = inherited_channel(
        spec.channel_fd,
        WORKER_ENV,
        "workers are started by an engine",
    )?;
    Ok((spec, channel))
}

/// The channel end a parent made for this process and kept open across exec: descriptor
/// `fd`, named in the variable `var`. `who` says who starts such processes, for the error.
pub(crate) fn inherited_channel(fd: RawFd, var: &str, who: &str) -> anyhow::Result<UnixStream> {
    // SAFETY: only asks whether the descriptor is open; nothing is read or closed.
    let open = fd >= 0
        && nix::fcntl::fcntl(
            unsafe { BorrowedFd::borrow_raw(fd) },
            nix::fcntl::FcntlArg::F_GETFD,
        )
        .is_ok();
    if !open {
        anyhow::bail!("descriptor {fd} named in {var} is not open: {who}");
    }
    // SAFETY: the parent made this descriptor for this process and kept it open across
    // exec; nothing else in this process owns it.
    Ok(unsafe { UnixStream::from_raw_fd(fd) })
}

/// Where a worker's products go.
enum Products {
    /// Into the task's slot of the parent's store, mapped here.
    Store(ResultStore),
    /// Checked here, then dropped (`--results fingerprints`).
    Checked,
}

fn serve<B: Backend>(
    spec: &WorkerSpec,
    channel: &mut UnixStream,
    init: impl FnOnce(&EngineInit) -> anyhow::Result<B>,
) -> anyhow::Result<()> {
    let backend = init_backend(spec, init)?;
    let w = spec.workload;
    let files = match spec.files_fd {
        // SAFETY: the parent wrote the files and tasks and kept this descriptor open for us.
        Some(fd) => Some(unsafe { Handoff::read_inherited(fd) }?),
        None => None,
    };
    let groups: Option<Vec<Group>> = match spec.groups_fd {
        // SAFETY: the parent wrote the groups and kept this descriptor open for us.
        Some(fd) => Some(unsafe { Handoff::read_inherited(fd) }?),
        None => None,
    };
    let mix = match (groups, files) {
        (_, Some(files)) => Some(Mix::from_files(files)),
        (Some(groups), None) => Some(Mix::from_groups(
            "the parent's workload file".to_string(),
            groups,
        )),
        (None, None) => None,
    };
    let shared = match spec.loaded {
        // SAFETY: the parent loaded the files and kept this descriptor open for us.
        Some((fd, elements)) => Some(unsafe { SharedFiles::from_inherited_fd(fd, elements) }?),
        None => None,
    };
    let tasks = TaskSet {
        workload: &w,
        mix: mix.as_ref(),
        loaded: shared.as_ref().map(SharedFiles::loaded),
    };
    let mut products = match spec.store_fd {
        // SAFETY: the parent created the store and kept this descriptor open for us.
        Some(fd) => {
            Products::Store(unsafe { ResultStore::from_inherited_fd(fd, w.tasks, w.size) }?)
        }
        None => Products::Checked,
    };
    // SAFETY: the parent created the queue and kept this descriptor open for us.
    let queue = unsafe { SharedQueue::from_inherited_fd(spec.queue_fd, w.tasks) }?;
    send(
        channel,
        &Reply::Ready {
            pid: std::process::id(),
            backend: backend.name().to_string(),
            version: backend.version(),
            kernel: backend.kernel().kernel.clone(),
            blas_threads: backend.threads(),
            cpu_seconds: process_cpu_seconds(),
            store_seconds: match &products {
                Products::Store(store) => store.ready_seconds(),
                Products::Checked => 0.0,
            },
            minor_faults: process_minor_faults(),
        },
    )?;
    let mut requests = BufReader::new(channel.try_clone()?);
    let mut line = String::new();
    loop {
        line.clear();
        if requests.read_line(&mut line)? == 0 {
            return Ok(()); // the parent closed the channel: the pool is shutting down
        }
        if line.trim() != "run" {
            anyhow::bail!("unexpected request {:?}", line.trim());
        }
        run_tasks(
            &backend,
            tasks,
            &mut products,
            &queue,
            channel,
            !spec.cpus.is_empty(),
        )?;
    }
}

/// The backend as the parent's, with the BLAS threads the strategy asks for.
fn init_backend<B: Backend>(
    spec: &WorkerSpec,
    init: impl FnOnce(&EngineInit) -> anyhow::Result<B>,
) -> anyhow::Result<B> {
    let backend = init(&EngineInit {
        kernel: spec.kernel.clone(),
        cache_dir: spec.cache_dir.clone(),
        size: Some(spec.workload.size),
    })?;
    if backend.name() != spec.backend {
        anyhow::bail!(
            "this binary runs backend {}, not {}",
            backend.name(),
            spec.backend
        );
    }
    backend.set_threads(spec.blas_threads.unwrap_or(backend.default_threads()));
    Ok(backend)
}

/// One run: takes tasks from the shared queue until none is left, reporting each (the
/// queue's positions are the set's order: largest first for a workload file).
fn run_tasks<B: Backend>(
    backend: &B,
    tasks: TaskSet<'_>,
    products: &mut Products,
    queue: &SharedQueue,
    channel: &mut UnixStream,
    pinned: bool,
) -> anyhow::Result<()> {
    // Read in this thread: a generator thread may see another count (BLIS's is per thread).
    let threads = backend.threads();
    let watch = Watch::start(pinned);
    match products {
        // Every run writes its slots afresh (criterion reuses workers across runs).
        Products::Store(store) => {
            let claims = store.claims(queue);
            feed(
                tasks,
                threads,
                || claims.next(),
                monotonic_ns,
                |inputs| -> anyhow::Result<()> {
                    send(channel, &Reply::Took { task: inputs.task })?;
                    let done = do_task(backend, inputs, Sink::Slot, tasks.workload.corrupt);
                    Ok(send(channel, &Reply::Done(done))?)
                },
            )?;
        }
        Products::Checked => {
            let next = || queue.next().map(|i| (tasks.task_at(i), ()));
            feed(
                tasks,
                threads,
                next,
                monotonic_ns,
                |inputs| -> anyhow::Result<()> {
                    send(channel, &Reply::Took { task: inputs.task })?;
                    let done = do_task(backend, inputs, |()| Sink::Check, tasks.workload.corrupt);
                    Ok(send(channel, &Reply::Done(done))?)
                },
            )?;
        }
    }
    send(
        channel,
        &Reply::Drained {
            cpu_seconds: process_cpu_seconds(),
            minor_faults: process_minor_faults(),
            seen: Seen::of(&watch.finish()),
        },
    )?;
    Ok(())
}

/// Computes a task into where `sink` says its result goes; the result is checked here
/// when the sink is [`Sink::Check`].
fn do_task<'s, B: Backend, T>(
    backend: &B,
    inputs: Inputs<T, u64>,
    sink: impl FnOnce(T) -> Sink<'s>,
    corrupt: Option<usize>,
) -> TaskDone {
    let Inputs {
        task,
        with,
        op,
        input,
        generated: (g0, g1),
    } = inputs;
    // After g1; later with overlapped generation when the data waited for the worker.
    let m0 = monotonic_ns();
    let blas_threads = backend.threads();
    let calls0 = backend.gemm_calls_in_this_thread();
    let result = compute(backend, op, &input, sink(with));
    let m1 = monotonic_ns();
    // LAPACK reaches the library's dgemm through the Fortran dgemm_, which no binary counts.
    let gemm_calls = calls0
        .zip(backend.gemm_calls_in_this_thread())
        .filter(|_| op == Operation::Gemm)
        .map(|(before, after)| after - before);
    let corrupt = corrupt == Some(task);
    let check = result.map(|r| WireCheck::of(check(op, &input, r, corrupt)));
    TaskDone {
        task,
        generate: (g0, g1),
        multiply: (m0, m1),
        verify: check.as_ref().map(|_| (m1, monotonic_ns())),
        blas_threads,
        gemm_calls,
        check,
        cpu_seconds: process_cpu_seconds(),
    }
}

fn send(channel: &mut UnixStream, reply: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_string(reply).expect("replies serialise");
    line.push('\n');
    // One write per line, from one thread: lines never interleave.
    channel.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_crosses_the_wire() {
        let failed = WireCheck::of(Err(Failed::no_result("dgesv: info 3".into())));
        let line = serde_json::to_string(&failed).unwrap();
        let back: WireCheck = serde_json::from_str(&line).unwrap();
        assert_eq!(back.failed.as_deref(), failed.failed.as_deref());
        assert_eq!((back.value, back.limit), (failed.value, failed.limit));
        assert!(back.value.is_infinite(), "{line}");
        let passed = WireCheck::of(Ok(Passed {
            value: 0.5,
            limit: 30.0,
            fingerprint: -1.25,
        }));
        let back: WireCheck =
            serde_json::from_str(&serde_json::to_string(&passed).unwrap()).unwrap();
        assert_eq!(back.fingerprint, -1.25);
    }

    #[test]
    fn statuses_read_as_words() {
        assert_eq!(
            describe_status(ExitStatus::from_raw(9)),
            "was killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            describe_status(ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
    }

    #[test]
    fn default_timeout_grows_with_the_task() {
        let small = Workload {
            tasks: 1,
            size: 100,
            seed: 0,
            generation: Default::default(),
            operation: Default::default(),
            corrupt: None,
        };
        let seed = Workload {
            tasks: 1,
            size: 2000,
            seed: 0,
            generation: Default::default(),
            operation: Default::default(),
            corrupt: None,
        };
        assert!(default_task_timeout(&small) >= Duration::from_secs(60));
        assert_eq!(default_task_timeout(&seed), Duration::from_secs(92));
    }

    #[test]
    fn replies_round_trip() {
        let r = Reply::Failed {
            message: "x".to_string(),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"reply\":\"failed\""), "{text}");
        assert!(matches!(
            serde_json::from_str::<Reply>(&text).unwrap(),
            Reply::Failed { .. }
        ));
    }
}

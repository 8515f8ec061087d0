//! Worker processes: the parent side ([`ProcessPool`]) and the worker side
//! ([`serve_if_worker`]), which every engine binary (and the criterion bench) calls first.
//!
//! - **Start**: fork+exec of an engine binary (by default the running one) with the
//!   worker's settings in `BLASPAR_WORKER` (JSON). Before exec the child asks the kernel to
//!   kill it when its parent dies (`PR_SET_PDEATHSIG`), ignores Ctrl-C (the parent stops
//!   the run and names what was running) and keeps the result store's descriptor open.
//!   The worker initialises its backend, sets its BLAS threads, maps the store and answers
//!   `ready`; spawn-to-ready is the start-up, measured apart from the work.
//! - **Run**: the parent resets a task counter in a shared page ([`SharedQueue`]) and sends
//!   `run` to every worker. Each worker takes tasks from that counter itself, as thread
//!   workers do, so it never waits for the parent: it says `took N`, generates A and B,
//!   multiplies straight into the task's slot of the shared store (no copy, no transfer of
//!   the product), says `done` with its timestamps (CLOCK_MONOTONIC, shared by all
//!   processes) and the BLAS threads it read back, and `drained` when no task is left. One
//!   driver thread per worker in the parent reads these lines. With fingerprints only, the
//!   worker checks its product itself.
//! - **Faults**: a worker that dies, exits, answers `failed`, or exceeds the task timeout
//!   ends the run with one line naming the task, the worker and its pid; the other workers
//!   are stopped and every child is reaped (also on Ctrl-C, and by [`Drop`]). A parent killed
//!   outright takes its workers with it through `PR_SET_PDEATHSIG`.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the worker exits: start pools
//! from a thread that outlives them (the engine's and the bench's main thread).

use crate::execution::{EngineInit, Execution, TaskTiming, WorkerStats};
use crate::store::{ResultStore, SharedQueue};
use blaspar_core::usage::{monotonic_ns, process_cpu_seconds};
use blaspar_core::verify::{Checked, Mismatch, Verifier};
use blaspar_core::{Backend, BlasThreads, Strategy, Workload};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Environment variable that makes a binary a worker; holds its [`WorkerSpec`] as JSON.
pub const WORKER_ENV: &str = "BLASPAR_WORKER";

/// Set by the Ctrl-C / SIGTERM handler ([`stop_on_interrupt`]).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Makes Ctrl-C (SIGINT), SIGTERM and SIGHUP stop a process run cleanly: the run ends
/// with a line naming the tasks that were running, and every worker is reaped.
pub fn stop_on_interrupt() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // An error here means another handler is installed: that one stays in charge.
        let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    });
}

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
/// far below any backend), so that only a hung worker reaches it.
pub fn default_task_timeout(workload: &Workload) -> Duration {
    let gflop = 2.0 * (workload.size as f64).powi(3) / 1e9;
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
    /// Descriptor of the result store (`None`: fingerprints only).
    pub store_fd: Option<RawFd>,
    /// Descriptor of the shared task queue.
    pub queue_fd: RawFd,
    pub parent_pid: u32,
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

/// A worker's check of its product.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct WireCheck {
    pub passed: bool,
    pub rel_error: f64,
    pub fingerprint: f64,
    pub row: usize,
    pub tolerance: f64,
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
    #[error("interrupted{running}; every worker was stopped")]
    Interrupted { running: String },
    #[error(transparent)]
    Queue(#[from] crate::store::StoreError),
}

impl ProcError {
    /// The exit status the engine uses: 130 after Ctrl-C (as shells do), else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            ProcError::Interrupted { .. } => 130,
            _ => 1,
        }
    }
}

/// A started worker process, on the parent's side.
struct WorkerProc {
    index: usize,
    pid: u32,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: LineReader,
    stderr: std::fs::File,
    startup_seconds: f64,
    /// Worker CPU seconds at the end of the previous run (or at ready).
    cpu_mark: f64,
    /// Worker CPU seconds when it last said `drained`.
    cpu_drained: f64,
    /// The task it is working on, for messages.
    current: Option<usize>,
}

/// P worker processes, started and ready.
pub struct ProcessPool {
    procs: Vec<WorkerProc>,
    queue: SharedQueue,
    workload: Workload,
    keep_products: bool,
    timeout: Duration,
}

impl ProcessPool {
    /// Starts `strategy.workers()` worker processes for `workload` and waits until each is
    /// ready (backend initialised, BLAS threads set and read back, store mapped).
    pub fn start<B: Backend + ?Sized>(
        backend: &B,
        strategy: Strategy,
        workload: &Workload,
        store: Option<&ResultStore>,
        settings: &WorkerSettings,
    ) -> Result<ProcessPool, ProcError> {
        let exe = match &settings.exe {
            Some(p) => p.clone(),
            None => std::env::current_exe().map_err(|source| ProcError::Spawn {
                worker: 0,
                exe: PathBuf::from("(this binary)"),
                source,
            })?,
        };
        let init = settings.init.clone().unwrap_or(EngineInit {
            kernel: "auto".to_string(),
            cache_dir: None,
        });
        let timeout = settings
            .task_timeout
            .unwrap_or_else(|| default_task_timeout(workload));
        let mut pool = ProcessPool {
            procs: Vec::new(),
            queue: SharedQueue::new(workload.tasks)?,
            workload: *workload,
            keep_products: store.is_some(),
            timeout,
        };
        let blas_threads = match strategy.blas_threads() {
            BlasThreads::Fixed(t) => Some(t.get()),
            BlasThreads::LibraryDefault => None,
        };
        let started = Instant::now();
        for index in 0..strategy.workers() {
            let spec = WorkerSpec {
                index,
                backend: backend.name().to_string(),
                kernel: init.kernel.clone(),
                cache_dir: init.cache_dir.clone(),
                blas_threads,
                workload: *workload,
                store_fd: store.map(ResultStore::fd),
                queue_fd: pool.queue.fd(),
                parent_pid: std::process::id(),
            };
            pool.procs.push(spawn(&exe, &spec)?);
        }
        let startup_limit = timeout.max(Duration::from_secs(30));
        let expected_kernel = backend.kernel().kernel.clone();
        for w in &mut pool.procs {
            let when = "while starting".to_string();
            let deadline = Instant::now() + startup_limit;
            let reply = match w.stdout.next_line(deadline) {
                Ok(line) => parse_reply(w, &line)?,
                Err(wait) => return Err(w.diagnose(wait, when, startup_limit)),
            };
            match reply {
                Reply::Ready {
                    backend: b,
                    kernel,
                    blas_threads: got,
                    cpu_seconds,
                    ..
                } => {
                    if b != backend.name() {
                        return Err(w.protocol(format!(
                            "runs backend {b}, not {}: {} is another backend's engine",
                            backend.name(),
                            exe.display()
                        )));
                    }
                    if kernel != expected_kernel {
                        return Err(w.protocol(format!(
                            "runs kernel {kernel}, the parent {expected_kernel}: the kernel \
                             choice differs between processes (pass --kernel {expected_kernel})"
                        )));
                    }
                    if let Some(t) = blas_threads
                        && got != t
                    {
                        return Err(w.protocol(format!("set {t} BLAS threads but read back {got}")));
                    }
                    w.startup_seconds = started.elapsed().as_secs_f64();
                    w.cpu_mark = cpu_seconds;
                }
                Reply::Failed { message } => return Err(w.failed(when, message)),
                other => {
                    return Err(w.protocol(format!("answered {other:?} before `ready`")));
                }
            }
        }
        Ok(pool)
    }

    /// Process ids of the workers.
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(|w| w.pid).collect()
    }

    /// Runs `workload` (the one the pool was started for) once. Products go to the store
    /// given at start when `keep_products`, else each worker returns its check.
    pub fn run(
        &mut self,
        workload: &Workload,
        keep_products: bool,
        on_task_done: &(dyn Fn() + Sync),
    ) -> Result<Execution, ProcError> {
        assert_eq!(
            (*workload, keep_products),
            (self.workload, self.keep_products),
            "a pool runs the workload and result mode it was started for"
        );
        self.queue.reset();
        let abort = AtomicBool::new(false);
        let first_error: Mutex<Option<(Instant, ProcError)>> = Mutex::new(None);
        let timeout = self.timeout;
        let cpu0 = process_cpu_seconds();
        let t0_ns = monotonic_ns();
        let t0 = Instant::now();
        let since = |ns: u64| ns.saturating_sub(t0_ns) as f64 * 1e-9;
        let results: Vec<Vec<Delivered>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .procs
                .iter_mut()
                .map(|w| {
                    let (abort, first_error) = (&abort, &first_error);
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        let outcome = drive(w, abort, timeout, &mut done, on_task_done);
                        if let Err(e) = outcome {
                            abort.store(true, Ordering::SeqCst);
                            let mut slot = first_error.lock().expect("no panic holding it");
                            if slot.is_none() {
                                *slot = Some((Instant::now(), e));
                            }
                        }
                        done
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("driver threads do not panic"))
                .collect()
        });
        let seconds_total = t0.elapsed().as_secs_f64();
        let interrupted = INTERRUPTED.load(Ordering::SeqCst);
        if let Some((_, e)) = first_error.into_inner().expect("no panic holding it") {
            let e = if interrupted { self.interrupted() } else { e };
            self.kill_all();
            return Err(e);
        }
        let parent_cpu = process_cpu_seconds() - cpu0;

        let mut timings: Vec<Option<TaskTiming>> = vec![None; workload.tasks];
        let mut checks: Vec<Option<Result<Checked, Mismatch>>> = vec![None; workload.tasks];
        let mut workers = Vec::new();
        let mut worker_cpu = 0.0;
        for (w, done) in self.procs.iter_mut().zip(results) {
            let cpu = w.cpu_drained - w.cpu_mark;
            w.cpu_mark = w.cpu_drained;
            worker_cpu += cpu;
            workers.push(WorkerStats {
                worker: w.index,
                pid: Some(w.pid),
                startup_seconds: w.startup_seconds,
                tasks: done.len(),
                cpu_seconds: cpu,
                wall_seconds: done.last().map_or(0.0, |d| since(d.delivered_ns)),
            });
            for Delivered {
                report: d,
                delivered_ns,
            } in done
            {
                let t = d.task;
                timings[t] = Some(TaskTiming {
                    task: t,
                    worker: w.index,
                    generate: (since(d.generate.0), since(d.generate.1)),
                    multiply: (since(d.multiply.0), since(d.multiply.1)),
                    verify: d.verify.map(|(a, b)| (since(a), since(b))),
                    delivered: since(delivered_ns),
                    blas_threads: d.blas_threads,
                    gemm_calls: d.gemm_calls,
                });
                checks[t] = d.check.map(|c| {
                    if c.passed {
                        Ok(Checked {
                            rel_error: c.rel_error,
                            fingerprint: c.fingerprint,
                        })
                    } else {
                        Err(Mismatch {
                            row: c.row,
                            rel_error: c.rel_error,
                            tolerance: c.tolerance,
                        })
                    }
                });
            }
        }
        let timings = timings
            .into_iter()
            .map(|t| t.expect("every task was delivered (no driver failed)"))
            .collect();
        let checks = if keep_products {
            None
        } else {
            Some(
                checks
                    .into_iter()
                    .map(|c| c.expect("a worker without a store returns its check"))
                    .collect(),
            )
        };
        Ok(Execution {
            timings,
            workers,
            checks,
            startup_seconds: 0.0,
            seconds_total,
            cpu_seconds: parent_cpu + worker_cpu,
        })
    }

    /// Tells every worker to exit (closes its stdin) and reaps it; a worker that does not
    /// exit within 5 s is killed. An unclean exit is an error.
    pub fn shutdown(mut self) -> Result<(), ProcError> {
        for w in &mut self.procs {
            w.stdin = None;
        }
        let mut first = None;
        for w in &mut self.procs {
            let status = exit_within(&mut w.child, Duration::from_secs(5));
            let problem = match status {
                Some(s) if s.success() => None,
                Some(s) => Some(describe_status(s)),
                None => Some("did not exit within 5 s of the end of the run".to_string()),
            };
            if let (Some(what), None) = (problem, &first) {
                first = Some(ProcError::Died {
                    worker: w.index,
                    pid: w.pid,
                    what,
                    when: "at shutdown".to_string(),
                    detail: w.stderr_tail(),
                });
            }
        }
        self.kill_all();
        first.map_or(Ok(()), Err)
    }

    fn interrupted(&self) -> ProcError {
        let running: Vec<String> = self
            .procs
            .iter()
            .filter_map(|w| {
                w.current
                    .map(|t| format!("task {t} on worker {} (pid {})", w.index, w.pid))
            })
            .collect();
        ProcError::Interrupted {
            running: if running.is_empty() {
                String::new()
            } else {
                format!(" while {} ran", running.join(", "))
            },
        }
    }

    fn kill_all(&mut self) {
        for w in &mut self.procs {
            if let Ok(None) = w.child.try_wait() {
                let _ = w.child.kill();
            }
            let _ = w.child.wait();
        }
    }
}

impl Drop for ProcessPool {
    /// No worker outlives its pool, whatever ended the run.
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// A finished task as a worker reported it, with the parent's delivery time.
struct Delivered {
    report: TaskDone,
    delivered_ns: u64,
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
    let stdin = w.stdin.as_mut().expect("open until shutdown");
    if stdin.write_all(b"run\n").is_err() {
        return Err(w.diagnose(Wait::Eof, "before its first task".to_string(), timeout));
    }
    loop {
        let when = match w.current {
            Some(task) => format!("during task {task}"),
            None => "between tasks".to_string(),
        };
        let deadline = Instant::now() + timeout;
        let line = match w.stdout.next_line_or_abort(deadline, abort) {
            Ok(line) => line,
            Err(Wait::Aborted) if INTERRUPTED.load(Ordering::SeqCst) => {
                return Err(ProcError::Interrupted {
                    running: String::new(),
                });
            }
            // Another worker failed; this one is killed with the pool.
            Err(Wait::Aborted) => return Ok(()),
            Err(wait) => return Err(w.diagnose(wait, when, timeout)),
        };
        let delivered_ns = monotonic_ns();
        match parse_reply(w, &line)? {
            Reply::Took { task } => w.current = Some(task),
            Reply::Done(report) => {
                let task = report.task;
                if w.current != Some(task) {
                    return Err(w.protocol(format!(
                        "finished task {task} without taking it (it took {:?})",
                        w.current
                    )));
                }
                done.push(Delivered {
                    report,
                    delivered_ns,
                });
                w.current = None;
                on_task_done();
            }
            Reply::Drained { cpu_seconds } => {
                w.cpu_drained = cpu_seconds;
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
enum Wait {
    Eof,
    Timeout,
    Aborted,
    Io(std::io::Error),
}

impl WorkerProc {
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
    fn diagnose(&mut self, wait: Wait, when: String, timeout: Duration) -> ProcError {
        match wait {
            Wait::Timeout => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                ProcError::Hung {
                    worker: self.index,
                    pid: self.pid,
                    when,
                    timeout,
                }
            }
            Wait::Aborted => ProcError::Interrupted {
                running: String::new(),
            },
            Wait::Io(e) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                ProcError::Died {
                    worker: self.index,
                    pid: self.pid,
                    what: format!("could not be read from ({e}) and was killed"),
                    when,
                    detail: self.stderr_tail(),
                }
            }
            Wait::Eof => {
                // The pipe closed: the worker is exiting or gone. Give it a moment to be reaped.
                let status = exit_within(&mut self.child, Duration::from_secs(2));
                let what = match status {
                    Some(s) => describe_status(s),
                    None => {
                        let _ = self.child.kill();
                        let _ = self.child.wait();
                        "closed its output without exiting (killed)".to_string()
                    }
                };
                ProcError::Died {
                    worker: self.index,
                    pid: self.pid,
                    what,
                    when,
                    detail: self.stderr_tail(),
                }
            }
        }
    }

    /// The last line the worker wrote to stderr, as `: <line>` (empty when none).
    fn stderr_tail(&self) -> String {
        use std::io::{Read, Seek};
        let mut text = String::new();
        let mut f = &self.stderr;
        if f.seek(std::io::SeekFrom::Start(0)).is_err() || f.read_to_string(&mut text).is_err() {
            return String::new();
        }
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!(": {:.200}", l.trim()))
            .unwrap_or_default()
    }
}

/// The child's exit status once it has exited, polling for at most `limit` (it is reaped);
/// `None` if it is still running then.
fn exit_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => return None,
        }
    }
}

/// "was killed by signal 9 (SIGKILL)", "exited with status 3".
fn describe_status(s: ExitStatus) -> String {
    if let Some(sig) = s.signal() {
        let name = match sig {
            libc::SIGKILL => "SIGKILL",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGABRT => "SIGABRT",
            libc::SIGBUS => "SIGBUS",
            libc::SIGILL => "SIGILL",
            libc::SIGFPE => "SIGFPE",
            libc::SIGTERM => "SIGTERM",
            libc::SIGINT => "SIGINT",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGHUP => "SIGHUP",
            _ => "",
        };
        if name.is_empty() {
            format!("was killed by signal {sig}")
        } else {
            format!("was killed by signal {sig} ({name})")
        }
    } else {
        format!("exited with status {}", s.code().unwrap_or(-1))
    }
}

/// fork+exec of one worker.
fn spawn(exe: &Path, spec: &WorkerSpec) -> Result<WorkerProc, ProcError> {
    let spawn_err = |source| ProcError::Spawn {
        worker: spec.index,
        exe: exe.to_path_buf(),
        source,
    };
    let stderr = tempfile::tempfile().map_err(spawn_err)?;
    let mut cmd = Command::new(exe);
    cmd.env(
        WORKER_ENV,
        serde_json::to_string(spec).expect("spec serialises"),
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::from(stderr.try_clone().map_err(spawn_err)?));
    let parent = spec.parent_pid;
    let inherit: Vec<RawFd> = spec.store_fd.into_iter().chain([spec.queue_fd]).collect();
    // SAFETY: only async-signal-safe calls (prctl, getppid, signal, fcntl) between fork
    // and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            for &fd in &inherit {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(spawn_err)?;
    let stdin = child.stdin.take();
    let stdout = LineReader::new(child.stdout.take().expect("piped"));
    Ok(WorkerProc {
        index: spec.index,
        pid: child.id(),
        child,
        stdin,
        stdout,
        stderr,
        startup_seconds: 0.0,
        cpu_mark: 0.0,
        cpu_drained: 0.0,
        current: None,
    })
}

/// Reads lines from a pipe with a deadline (poll(2) in slices of 50 ms, so that an abort
/// or Ctrl-C is noticed promptly).
struct LineReader {
    pipe: ChildStdout,
    buf: Vec<u8>,
}

impl LineReader {
    fn new(pipe: ChildStdout) -> Self {
        LineReader {
            pipe,
            buf: Vec::new(),
        }
    }

    fn next_line(&mut self, deadline: Instant) -> Result<String, Wait> {
        self.next_line_or_abort(deadline, &INTERRUPTED)
    }

    fn next_line_or_abort(
        &mut self,
        deadline: Instant,
        abort: &AtomicBool,
    ) -> Result<String, Wait> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if abort.load(Ordering::SeqCst) || INTERRUPTED.load(Ordering::SeqCst) {
                return Err(Wait::Aborted);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Wait::Timeout);
            }
            let slice = (deadline - now).min(Duration::from_millis(50));
            let mut pfd = libc::pollfd {
                fd: self.pipe.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, slice.as_millis().max(1) as libc::c_int) };
            if rc < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Wait::Io(e));
            }
            if rc == 0 {
                continue;
            }
            let mut chunk = [0u8; 4096];
            match std::io::Read::read(&mut self.pipe, &mut chunk) {
                Ok(0) => return Err(Wait::Eof),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Wait::Io(e)),
            }
        }
    }
}

/// Call first in `main` of every binary that can be a worker (engine binaries, the bench):
/// when `BLASPAR_WORKER` is set, serves as a worker and exits; otherwise returns at once.
pub fn serve_if_worker<B: Backend>(init: impl FnOnce(&EngineInit) -> anyhow::Result<B>) {
    let Ok(text) = std::env::var(WORKER_ENV) else {
        return;
    };
    let code = match serve(&text, init) {
        Ok(()) => 0,
        Err(e) => {
            let message = format!("{e:#}");
            let _ = send(&Reply::Failed {
                message: message.clone(),
            });
            eprintln!("worker error: {message}");
            1
        }
    };
    std::process::exit(code)
}

fn send(reply: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_string(reply).expect("replies serialise");
    line.push('\n');
    // One write per line: lines are far below PIPE_BUF, so each arrives whole.
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.flush()
}

fn serve<B: Backend>(
    text: &str,
    init: impl FnOnce(&EngineInit) -> anyhow::Result<B>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let spec: WorkerSpec =
        serde_json::from_str(text).with_context(|| format!("{WORKER_ENV} is not a worker spec"))?;
    let backend = init(&EngineInit {
        kernel: spec.kernel.clone(),
        cache_dir: spec.cache_dir.clone(),
    })?;
    if backend.name() != spec.backend {
        anyhow::bail!(
            "this binary runs backend {}, not {}",
            backend.name(),
            spec.backend
        );
    }
    backend.set_threads(spec.blas_threads.unwrap_or(backend.default_threads()));
    let w = spec.workload;
    let mut store = match spec.store_fd {
        // SAFETY: the parent created the store and kept this descriptor open for us.
        Some(fd) => Some(unsafe { ResultStore::from_inherited_fd(fd, w.tasks, w.size) }?),
        None => None,
    };
    let verifier = spec.store_fd.is_none().then(|| Verifier::new(w.size));
    send(&Reply::Ready {
        pid: std::process::id(),
        backend: backend.name().to_string(),
        version: backend.version(),
        kernel: backend.kernel().kernel.clone(),
        blas_threads: backend.threads(),
        cpu_seconds: process_cpu_seconds(),
    })?;
    // SAFETY: the parent created the queue and kept this descriptor open for us.
    let queue = unsafe { SharedQueue::from_inherited_fd(spec.queue_fd, w.tasks) }?;
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        line.clear();
        if stdin.read_line(&mut line)? == 0 {
            return Ok(()); // the parent closed our input: the pool is shutting down
        }
        if line.trim() != "run" {
            anyhow::bail!("unexpected request {:?}", line.trim());
        }
        // Every run writes every slot afresh (criterion reuses workers across runs); this
        // worker writes only the slots of the tasks it takes.
        let claims = store.as_mut().map(|s| s.claims(&queue));
        let next = || match &claims {
            Some(c) => c.next().map(|(task, slot)| (task, Some(slot))),
            None => queue.next().map(|task| (task, None)),
        };
        while let Some((task, slot)) = next() {
            send(&Reply::Took { task })?;
            let g0 = monotonic_ns();
            let (a, b) = w.generate_on(task, w.generation.threads(backend.threads()));
            let g1 = monotonic_ns();
            let blas_threads = backend.threads();
            let calls0 = backend.gemm_calls_in_this_thread();
            let (check, verify, m1) = match (slot, &verifier) {
                (Some(slot), _) => {
                    backend.multiply_into(a.view(), b.view(), slot);
                    (None, None, monotonic_ns())
                }
                (None, None) => anyhow::bail!("task {task} has neither a slot nor a check"),
                (None, Some(v)) => {
                    let c = backend.multiply(&a, &b);
                    let m1 = monotonic_ns();
                    let check = match v.check(&a, &b, &c) {
                        Ok(c) => WireCheck {
                            passed: true,
                            rel_error: c.rel_error,
                            fingerprint: c.fingerprint,
                            row: 0,
                            tolerance: blaspar_core::verify::tolerance(w.size),
                        },
                        Err(m) => WireCheck {
                            passed: false,
                            rel_error: m.rel_error,
                            fingerprint: f64::NAN,
                            row: m.row,
                            tolerance: m.tolerance,
                        },
                    };
                    (Some(check), Some((m1, monotonic_ns())), m1)
                }
            };
            let gemm_calls = calls0
                .zip(backend.gemm_calls_in_this_thread())
                .map(|(before, after)| after - before);
            send(&Reply::Done(TaskDone {
                task,
                generate: (g0, g1),
                multiply: (g1, m1),
                verify,
                blas_threads,
                gemm_calls,
                check,
                cpu_seconds: process_cpu_seconds(),
            }))?;
        }
        send(&Reply::Drained {
            cpu_seconds: process_cpu_seconds(),
        })?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        };
        let seed = Workload {
            tasks: 1,
            size: 2000,
            seed: 0,
            generation: Default::default(),
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

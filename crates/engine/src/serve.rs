//! Serving a benchmark harness: an engine that another process drives one run at a time,
//! so that a BLAS-free program (the criterion bench in `benches/`) can time every backend
//! on its own clock. Both sides are here: the engine's loop ([`serve_if_asked`], which
//! every engine's `main` reaches through [`crate::engine_main`]) and the harness's handle
//! on it ([`ServedEngine`]).
//!
//! The pattern is criterion.rs's external-process bench: start the child outside the
//! timing, then time each request and its reply on the parent's clock, so that everything
//! a strategy costs (handing out tasks, worker processes' replies, collecting the results)
//! is counted. The channel is the worker processes' own ([`crate::procs`]): a socket pair,
//! the engine's end kept across exec and named in the spec, requests as words, replies as
//! JSON lines; stdout and stderr stay free for the libraries (the engine's stderr is copied
//! to the harness's line by line, its last line named when the engine dies).
//!
//! ```text
//!  harness (no BLAS)                               engine (BLASPAR_SERVE={spec}: backend, workload)
//!  spawn, socket pair ───────────────────────────> init backend (kernel choice)
//!        <══════════ {"reply":"hello", describe}    (or "failed", exit 1)
//!  "check S"   ═════>  {"reply":"supported"} | {"reply":"unsupported", reason}
//!  "start S"   ═════>  store + Workers::start (threads, processes) -> {"reply":"started"}
//!  "run"       ═════>  Workers::run -> {"reply":"ran", seconds}      <- timed by the harness
//!  "verify"    ═════>  every product of the last run checked -> {"reply":"verified"}
//!  "stop"      ═════>  workers shut down -> {"reply":"stopped"}
//!  end of channel ──>  exit 0
//! ```
//!
//! The products of a strategy's first run must be verified before it runs again (the
//! engine refuses a second `run` otherwise): every strategy that is timed was checked.
//! Verification also proves that every product reached the library (dgemm calls counted)
//! and that every task ran at the BLAS threads asked for. A refusal (`unsupported`) is
//! the backend's honest "cannot run this", with the reason the engine's `run` would give
//! with exit status 4. Anything else that goes wrong is a `failed` reply with one line, or
//! the engine's death, both turned into one [`ServeError`] naming the engine, its pid and
//! the request; no reply is awaited longer than the workload could take plus a margin, so
//! a hung engine is an error, never a hang. The engine dies with the harness
//! (`PR_SET_PDEATHSIG`), and its worker processes with it.

use crate::execute::{ExecError, Workers, check_supported_tasks};
use crate::execution::{EngineInit, Execution};
use crate::handoff::Handoff;
use crate::procs::{
    Channel, Silence, StderrTail, Wait, WorkerSettings, default_task_timeout, describe_status,
    inherited_channel, kill_and_reap, prepare_worker,
};
use crate::report;
use crate::store::ResultStore;
use blaspar_core::machine::{Machine, available_memory};
use blaspar_core::mix::{Group, Mix, TaskSet};
use blaspar_core::operation::Operation;
use blaspar_core::strategy::Placement;
use blaspar_core::{Backend, MemoryPlan, Strategy, Workload};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// Environment variable that makes an engine serve a harness; holds its [`ServeSpec`].
pub const SERVE_ENV: &str = "BLASPAR_SERVE";

/// What a served engine is told at start (the `BLASPAR_SERVE` variable).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServeSpec {
    /// The backend the harness expects (the engine refuses to serve another).
    pub backend: String,
    /// The workload every strategy runs (a workload file's: [`Mix::workload`]).
    pub workload: Workload,
    /// Descriptor of a workload file's path and groups ([`Handoff`]; `None`: every task
    /// alike, as `workload` says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix_fd: Option<RawFd>,
    /// Kernel request (`auto`, `default`, a name) and probe cache, as for `run`.
    pub kernel: String,
    pub cache_dir: Option<PathBuf>,
    /// Longest one task may take in a worker process (`None`: the default).
    pub task_timeout: Option<Duration>,
    /// Descriptor of the engine's end of its channel (a Unix socket).
    pub channel_fd: RawFd,
    /// Testing aid: adds 1.0 to one entry of this task's product after every run.
    pub inject_corruption: Option<usize>,
}

/// One reply of a served engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum ServeReply {
    /// The backend is initialised.
    Hello {
        pid: u32,
        backend: String,
        /// The engine's `describe` line: version, kernel and how it was chosen, threads.
        describe: String,
    },
    Supported,
    /// The backend cannot run the strategy honestly (a run would exit with status 4).
    Unsupported {
        reason: String,
    },
    /// The strategy's workers are ready; starting them took this long.
    Started {
        startup_seconds: f64,
    },
    /// One run of the workload, as the engine timed it (the harness times it too).
    Ran {
        seconds: f64,
    },
    /// Every product of the last run passed.
    Verified {
        tasks: usize,
        worst_rel_error: f64,
    },
    Stopped,
    Failed {
        message: String,
    },
}

/// Why a served engine did not answer as asked. Each message is one line naming the
/// engine, its pid and the request.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Handoff(#[from] crate::handoff::HandoffError),
    #[error("cannot start the {backend} engine {exe}: {source}")]
    Spawn {
        backend: String,
        exe: PathBuf,
        source: std::io::Error,
    },
    #[error("the {backend} engine (pid {pid}) failed {when}: {message}")]
    Failed {
        backend: String,
        pid: u32,
        when: String,
        message: String,
    },
    #[error("the {backend} engine (pid {pid}) {what} {when}{detail}")]
    Died {
        backend: String,
        pid: u32,
        what: String,
        when: String,
        detail: String,
    },
    #[error(
        "the {backend} engine (pid {pid}) gave no answer {when} within {timeout:?}: it was killed"
    )]
    Hung {
        backend: String,
        pid: u32,
        when: String,
        timeout: Duration,
    },
    #[error("the {backend} engine (pid {pid}) {problem}")]
    Protocol {
        backend: String,
        pid: u32,
        problem: String,
    },
}

/// How a harness starts a served engine.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    pub kernel: String,
    pub cache_dir: Option<PathBuf>,
    pub task_timeout: Option<Duration>,
    /// Longest the engine may take to initialise its backend, or to start a strategy's
    /// workers (a first BLIS kernel probe takes tens of seconds).
    pub start_timeout: Duration,
    /// Testing aid: see [`ServeSpec::inject_corruption`].
    pub inject_corruption: Option<usize>,
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            kernel: "auto".to_string(),
            cache_dir: None,
            task_timeout: None,
            start_timeout: Duration::from_secs(600),
            inject_corruption: None,
        }
    }
}

/// A served engine, on the harness's side: one backend, one workload, one strategy
/// started at a time.
pub struct ServedEngine {
    backend: String,
    pid: u32,
    describe: String,
    child: Child,
    channel: Channel,
    stderr: StderrTail,
    start_timeout: Duration,
    /// Longest one run (or its verification) may take: every task at the task timeout.
    run_timeout: Duration,
}

impl ServedEngine {
    /// Starts `exe` (the engine of `backend`) serving `workload`, and waits for its hello
    /// (the backend initialised). Start it from a thread that outlives it: the engine dies
    /// with that thread (`PR_SET_PDEATHSIG`).
    pub fn start<'t>(
        exe: &Path,
        backend: &str,
        tasks: impl Into<TaskSet<'t>>,
        settings: &ServeSettings,
    ) -> Result<ServedEngine, ServeError> {
        let tasks: TaskSet<'_> = tasks.into();
        let workload = tasks.workload;
        let spawn_err = |source| ServeError::Spawn {
            backend: backend.to_string(),
            exe: exe.to_path_buf(),
            source,
        };
        let (ours, theirs) = UnixStream::pair().map_err(spawn_err)?;
        // The engine's copy of the descriptor keeps the groups; ours goes after the spawn.
        let mix = tasks
            .mix
            .map(|m| {
                Handoff::new(
                    c"blaspar-workload-groups",
                    "the workload file's groups",
                    &(&m.path, &m.groups),
                )
            })
            .transpose()?;
        let spec = ServeSpec {
            backend: backend.to_string(),
            workload: *workload,
            mix_fd: mix.as_ref().map(Handoff::fd),
            kernel: settings.kernel.clone(),
            cache_dir: settings.cache_dir.clone(),
            task_timeout: settings.task_timeout,
            channel_fd: theirs.as_raw_fd(),
            inject_corruption: settings.inject_corruption,
        };
        let mut cmd = Command::new(exe);
        cmd.env(
            SERVE_ENV,
            serde_json::to_string(&spec).expect("spec serialises"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
        let parent = std::process::id();
        let keep: Vec<RawFd> = std::iter::once(spec.channel_fd)
            .chain(spec.mix_fd)
            .collect();
        // SAFETY: only async-signal-safe calls between fork and exec (see prepare_worker).
        unsafe { cmd.pre_exec(move || prepare_worker(parent, &keep)) };
        let mut child = cmd.spawn().map_err(spawn_err)?;
        drop(mix);
        // Our copy of the engine's end must go, or its death would never close the channel.
        drop(theirs);
        let stderr = StderrTail::follow(child.stderr.take().expect("piped"));
        let task_timeout = settings
            .task_timeout
            .unwrap_or_else(|| default_task_timeout(tasks));
        let mut engine = ServedEngine {
            backend: backend.to_string(),
            pid: child.id(),
            describe: String::new(),
            child,
            channel: Channel::new(ours),
            stderr,
            start_timeout: settings.start_timeout,
            run_timeout: task_timeout
                .saturating_mul(u32::try_from(tasks.count().max(1)).unwrap_or(u32::MAX)),
        };
        let when = "while initialising its backend";
        match engine.answer(when, settings.start_timeout)? {
            ServeReply::Hello {
                backend: served,
                describe,
                ..
            } if served == backend => engine.describe = describe,
            ServeReply::Hello { backend: other, .. } => {
                return Err(engine.protocol(format!(
                    "serves backend {other}, not {backend}: {} is another backend's engine",
                    exe.display()
                )));
            }
            other => return Err(engine.unexpected(when, other)),
        }
        Ok(engine)
    }

    /// The backend's name.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// The engine's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The engine's `describe` line (version, kernel and how it was chosen, threads).
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Whether the backend can run `strategy` honestly: `None`, or the reason it cannot.
    pub fn check(&mut self, strategy: Strategy) -> Result<Option<String>, ServeError> {
        let when = format!("checking {strategy}");
        match self.request(&format!("check {strategy}"), &when, self.start_timeout)? {
            ServeReply::Supported => Ok(None),
            ServeReply::Unsupported { reason } => Ok(Some(reason)),
            other => Err(self.unexpected(&when, other)),
        }
    }

    /// Starts `strategy`'s workers and result store (outside any timing); returns the
    /// start-up seconds.
    pub fn start_strategy(&mut self, strategy: Strategy) -> Result<f64, ServeError> {
        let when = format!("starting {strategy}");
        match self.request(&format!("start {strategy}"), &when, self.start_timeout)? {
            ServeReply::Started { startup_seconds } => Ok(startup_seconds),
            other => Err(self.unexpected(&when, other)),
        }
    }

    /// Runs the workload once on the started strategy; returns the engine's own seconds
    /// (time the call on your clock to count the round trip).
    pub fn run(&mut self) -> Result<f64, ServeError> {
        match self.request("run", "during a run", self.run_timeout)? {
            ServeReply::Ran { seconds } => Ok(seconds),
            other => Err(self.unexpected("during a run", other)),
        }
    }

    /// Verifies every product of the last run; returns the worst relative error.
    pub fn verify(&mut self) -> Result<f64, ServeError> {
        let when = "verifying the products";
        match self.request("verify", when, self.run_timeout)? {
            ServeReply::Verified {
                worst_rel_error, ..
            } => Ok(worst_rel_error),
            other => Err(self.unexpected(when, other)),
        }
    }

    /// Stops the started strategy's workers.
    pub fn stop_strategy(&mut self) -> Result<(), ServeError> {
        let when = "stopping the workers";
        match self.request("stop", when, self.start_timeout)? {
            ServeReply::Stopped => Ok(()),
            other => Err(self.unexpected(when, other)),
        }
    }

    /// Ends the engine (its channel closed) and reaps it; it must exit cleanly within 10 s.
    pub fn quit(mut self) -> Result<(), ServeError> {
        self.channel.close_requests();
        let what = match self.child.wait_timeout(Duration::from_secs(10)) {
            Ok(Some(s)) if s.success() => return Ok(()),
            Ok(Some(s)) => describe_status(s),
            Ok(None) => "did not exit within 10 s of the end of its channel (killed)".to_string(),
            Err(e) => format!("could not be waited for ({e})"),
        };
        Err(self.died(what, "at the end".to_string()))
    }

    /// Sends `request` and waits up to `timeout` for its reply; a `failed` reply is an
    /// error.
    fn request(
        &mut self,
        request: &str,
        when: &str,
        timeout: Duration,
    ) -> Result<ServeReply, ServeError> {
        if self.channel.send_request(request).is_err() {
            return Err(self.silent(Silence::Eof, when, timeout));
        }
        self.answer(when, timeout)
    }

    fn answer(&mut self, when: &str, timeout: Duration) -> Result<ServeReply, ServeError> {
        let never = AtomicBool::new(false);
        let line = match self.channel.next_line(Instant::now() + timeout, &never) {
            Ok(line) => line,
            Err(Wait::Silent(silence)) => return Err(self.silent(silence, when, timeout)),
            // The harness installs no stop handler; should one stop it, the engine goes too.
            Err(Wait::Stopped(signal)) => {
                self.kill();
                return Err(self.protocol(format!("was stopped: the harness got {signal}")));
            }
            Err(Wait::Aborted) => unreachable!("nothing aborts a served engine"),
        };
        match serde_json::from_str(&line) {
            Ok(ServeReply::Failed { message }) => Err(ServeError::Failed {
                backend: self.backend.clone(),
                pid: self.pid,
                when: when.to_string(),
                message,
            }),
            Ok(reply) => Ok(reply),
            Err(e) => Err(self.protocol(format!(
                "sent a line that is not a reply ({e}) {when}: {:.120}",
                line.trim_end()
            ))),
        }
    }

    fn unexpected(&mut self, when: &str, reply: ServeReply) -> ServeError {
        self.protocol(format!("answered {reply:?} {when}"))
    }

    fn protocol(&mut self, problem: String) -> ServeError {
        self.kill();
        ServeError::Protocol {
            backend: self.backend.clone(),
            pid: self.pid,
            problem,
        }
    }

    /// A missing answer: the engine's exit status, or a timeout (the engine is killed).
    fn silent(&mut self, silence: Silence, when: &str, timeout: Duration) -> ServeError {
        let Some(what) = silence.of(&mut self.child) else {
            return ServeError::Hung {
                backend: self.backend.clone(),
                pid: self.pid,
                when: when.to_string(),
                timeout,
            };
        };
        self.died(what, when.to_string())
    }

    fn died(&mut self, what: String, when: String) -> ServeError {
        self.kill();
        ServeError::Died {
            backend: self.backend.clone(),
            pid: self.pid,
            what,
            when,
            detail: self.stderr.last_line(),
        }
    }

    /// Kills the engine unless it has exited, and reaps it.
    fn kill(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

impl Drop for ServedEngine {
    /// No engine outlives its handle, however the harness ended.
    fn drop(&mut self) {
        self.kill();
    }
}

/// Call in an engine's `main` (after [`crate::procs::serve_if_worker`]): when
/// `BLASPAR_SERVE` is set, serves the harness that started this engine and exits;
/// otherwise returns at once.
///
/// The variable stays set for the process's life: a backend that re-executes itself during
/// initialisation (OpenBLAS with `OPENBLAS_CORETYPE`) comes back here with the same spec
/// and channel. Children started later see it too but never serve: worker processes and
/// kernel probes take their own turn first, and the channel is closed on exec once the
/// backend is up.
pub fn serve_if_asked<B: Backend>(init: impl FnOnce(&EngineInit) -> anyhow::Result<B>) {
    let Ok(text) = std::env::var(SERVE_ENV) else {
        return;
    };
    std::process::exit(serve_main(&text, init))
}

/// The served engine's life: its exit status (0 when the harness closed the channel).
fn serve_main<B: Backend>(text: &str, init: impl FnOnce(&EngineInit) -> anyhow::Result<B>) -> i32 {
    let opened = serde_json::from_str::<ServeSpec>(text)
        .map_err(|e| anyhow::anyhow!("{SERVE_ENV} is not a serve spec: {e}"))
        .and_then(|spec| {
            let channel = inherited_channel(
                spec.channel_fd,
                SERVE_ENV,
                "a served engine is started by a harness (the criterion bench)",
            )?;
            Ok((spec, channel))
        });
    let (spec, mut channel) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("error: {e:#}");
            return 1;
        }
    };
    let outcome = init(&EngineInit {
        kernel: spec.kernel.clone(),
        cache_dir: spec.cache_dir.clone(),
        size: Some(spec.workload.size),
    })
    .and_then(|backend| {
        if backend.name() != spec.backend {
            anyhow::bail!(
                "this engine runs backend {}, not {}",
                backend.name(),
                spec.backend
            );
        }
        Ok(backend)
    })
    .and_then(|backend| {
        close_on_exec(&channel)?;
        // The harness's workload file, rebuilt from its groups.
        let mix = match spec.mix_fd {
            // SAFETY: the harness wrote the groups and kept this descriptor open for us.
            Some(fd) => {
                let (path, groups): (String, Vec<Group>) = unsafe { Handoff::read_inherited(fd) }?;
                Some(Mix::from_groups(path, groups))
            }
            None => None,
        };
        Served::new(&backend, &spec, mix.as_ref()).serve(&mut channel)
    });
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            let message = format!("{e:#}");
            if send(
                &mut channel,
                &ServeReply::Failed {
                    message: message.clone(),
                },
            )
            .is_err()
            {
                eprintln!("error: {message}");
            }
            1
        }
    }
}

/// From here on no child inherits the channel: the harness sees it close when this
/// engine ends, whatever its worker processes do.
fn close_on_exec(channel: &UnixStream) -> anyhow::Result<()> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    fcntl(channel, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map_err(|e| anyhow::anyhow!("cannot mark the channel close-on-exec: {e}"))?;
    Ok(())
}

/// One request from the harness.
#[derive(Debug, PartialEq)]
enum Request {
    Check(Strategy),
    Start(Strategy),
    Run,
    Verify,
    Stop,
}

impl std::str::FromStr for Request {
    type Err = String;

    fn from_str(line: &str) -> Result<Request, String> {
        let strategy = |text: &str| {
            text.parse::<Strategy>()
                .map_err(|e| format!("request {line:?}: {e}"))
        };
        match line.trim().split_once(' ') {
            Some(("check", s)) => Ok(Request::Check(strategy(s)?)),
            Some(("start", s)) => Ok(Request::Start(strategy(s)?)),
            None if line.trim() == "run" => Ok(Request::Run),
            None if line.trim() == "verify" => Ok(Request::Verify),
            None if line.trim() == "stop" => Ok(Request::Stop),
            _ => Err(format!(
                "unknown request {:?} (check S, start S, run, verify, stop)",
                line.trim()
            )),
        }
    }
}

/// The started strategy of a served engine.
struct Started {
    strategy: Strategy,
    workers: Workers,
    /// The products (gemm); `None` for the other operations, whose results each worker
    /// checks as it computes them.
    store: Option<ResultStore>,
    runs: usize,
    verified: bool,
    /// The last run, until it is verified.
    last: Option<Execution>,
}

/// The engine's side: one backend, one workload, at most one strategy started.
struct Served<'b, B: Backend> {
    backend: &'b B,
    spec: &'b ServeSpec,
    /// The harness's workload file.
    mix: Option<&'b Mix>,
    started: Option<Started>,
}

impl<'b, B: Backend> Served<'b, B> {
    fn new(backend: &'b B, spec: &'b ServeSpec, mix: Option<&'b Mix>) -> Self {
        Served {
            backend,
            spec,
            mix,
            started: None,
        }
    }

    /// The tasks every strategy runs.
    fn tasks(&self) -> TaskSet<'b> {
        TaskSet {
            workload: &self.spec.workload,
            mix: self.mix,
            loaded: None,
        }
    }

    /// Says hello, then answers requests until the harness closes the channel. A request
    /// that fails is answered `failed` and its strategy stopped; serving goes on.
    fn serve(mut self, channel: &mut UnixStream) -> anyhow::Result<()> {
        send(
            channel,
            &ServeReply::Hello {
                pid: std::process::id(),
                backend: self.backend.name().to_string(),
                describe: report::describe(self.backend),
            },
        )?;
        let mut requests = BufReader::new(channel.try_clone()?);
        let mut line = String::new();
        loop {
            line.clear();
            if requests.read_line(&mut line)? == 0 {
                return self.stop().map(|_| ());
            }
            let request: Request = line.parse().map_err(anyhow::Error::msg)?;
            let reply = self.answer(request).unwrap_or_else(|e| {
                // Whatever failed, the strategy's workers are not reused.
                if let Some(started) = self.started.take() {
                    let _ = started.workers.shutdown();
                }
                ServeReply::Failed {
                    message: format!("{e:#}"),
                }
            });
            send(channel, &reply)?;
        }
    }

    fn answer(&mut self, request: Request) -> anyhow::Result<ServeReply> {
        match request {
            Request::Check(strategy) => Ok(
                match check_supported_tasks(self.backend, strategy, self.tasks()) {
                    Ok(()) => ServeReply::Supported,
                    Err(ExecError::Unsupported(u)) => ServeReply::Unsupported { reason: u.reason },
                    Err(e) => return Err(e.into()),
                },
            ),
            Request::Start(strategy) => self.start(strategy),
            Request::Run => self.run(),
            Request::Verify => self.verify(),
            Request::Stop => self.stop(),
        }
    }

    fn start(&mut self, strategy: Strategy) -> anyhow::Result<ServeReply> {
        if let Some(s) = &self.started {
            anyhow::bail!(
                "start {strategy}: {} is still started (stop it first)",
                s.strategy
            );
        }
        let w = &self.spec.workload;
        let machine = Machine::detect();
        let (available, source) = available_memory();
        // A workload file's results are checked by their workers, as in its runs.
        let keep_products = w.operation == Operation::Gemm && self.mix.is_none();
        let plan = MemoryPlan {
            keep_products,
            in_flight: match strategy.placement() {
                Placement::Batched => w.tasks,
                _ => strategy.workers().max(machine.cpus_allowed.len()),
            },
        };
        match self.mix {
            Some(mix) => mix
                .fits(plan.in_flight, 0, available, &source)
                .map_err(anyhow::Error::msg)?,
            None => w.check(plan, available, &source)?,
        }
        let store = if keep_products {
            Some(ResultStore::new(w.tasks, w.size).map_err(ExecError::from)?)
        } else {
            None
        };
        let settings = WorkerSettings {
            exe: None,
            init: Some(EngineInit {
                kernel: self.spec.kernel.clone(),
                cache_dir: self.spec.cache_dir.clone(),
                size: Some(w.size),
            }),
            task_timeout: self.spec.task_timeout,
        };
        let (workers, startup_seconds) = Workers::start(
            self.backend,
            strategy,
            self.tasks(),
            store.as_ref(),
            &settings,
        )?;
        self.started = Some(Started {
            strategy,
            workers,
            store,
            runs: 0,
            verified: false,
            last: None,
        });
        Ok(ServeReply::Started { startup_seconds })
    }

    fn run(&mut self) -> anyhow::Result<ServeReply> {
        let tasks = self.tasks();
        let Some(s) = self.started.as_mut() else {
            anyhow::bail!("run: no strategy is started (start S first)");
        };
        if s.runs > 0 && !s.verified {
            anyhow::bail!(
                "run: the products of {}'s first run were not verified (verify first)",
                s.strategy
            );
        }
        let w = &self.spec.workload;
        let exec = s
            .workers
            .run(self.backend, s.strategy, tasks, s.store.as_mut(), &|| {})?;
        if let (Some(task), Some(store)) = (
            self.spec.inject_corruption.filter(|&t| t < w.tasks),
            s.store.as_mut(),
        ) {
            store.slot_mut(task)[[0, 0]] += 1.0;
        }
        s.runs += 1;
        let seconds = exec.seconds_total;
        s.last = Some(exec);
        Ok(ServeReply::Ran { seconds })
    }

    fn verify(&mut self) -> anyhow::Result<ServeReply> {
        let tasks = self.tasks();
        let Some(s) = self.started.as_mut() else {
            anyhow::bail!("verify: no strategy is started");
        };
        let Some(exec) = s.last.take() else {
            anyhow::bail!(
                "verify: {} has not run since it was last verified",
                s.strategy
            );
        };
        let w = &self.spec.workload;
        if let Some(t) = exec.timings.iter().find(|t| t.gemm_calls == Some(0)) {
            anyhow::bail!(
                "task {}'s product did not reach {}'s dgemm",
                t.task,
                self.backend.name()
            );
        }
        if let Some(want) = s.strategy.blas_threads().requested()
            && let Some(t) = exec.timings.iter().find(|t| t.blas_threads != want)
        {
            anyhow::bail!(
                "task {} ran at {} BLAS threads (read back), not the {want} of {}",
                t.task,
                t.blas_threads,
                s.strategy
            );
        }
        let (v, _) = report::verify(&exec, tasks, s.store.as_ref());
        if let Some(why) = v.failure(w.tasks) {
            anyhow::bail!("{why}");
        }
        s.verified = true;
        Ok(ServeReply::Verified {
            tasks: w.tasks,
            worst_rel_error: v.worst_rel_error,
        })
    }

    fn stop(&mut self) -> anyhow::Result<ServeReply> {
        if let Some(s) = self.started.take() {
            s.workers.shutdown()?;
        }
        Ok(ServeReply::Stopped)
    }
}

fn send(channel: &mut UnixStream, reply: &ServeReply) -> std::io::Result<()> {
    let mut line = serde_json::to_string(reply).expect("replies serialise");
    line.push('\n');
    channel.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_words() {
        let threads2: Strategy = "threads-2".parse().unwrap();
        assert_eq!("check threads-2\n".parse(), Ok(Request::Check(threads2)));
        assert_eq!("start threads-2".parse(), Ok(Request::Start(threads2)));
        assert_eq!("run\n".parse(), Ok(Request::Run));
        assert_eq!("verify".parse(), Ok(Request::Verify));
        assert_eq!("stop".parse(), Ok(Request::Stop));
        let bad: Result<Request, _> = "start no-such".parse();
        assert!(bad.unwrap_err().contains("no-such"));
        let unknown: Result<Request, _> = "quit".parse();
        assert!(unknown.unwrap_err().contains("unknown request \"quit\""));
    }

    #[test]
    fn replies_round_trip() {
        for reply in [
            ServeReply::Hello {
                pid: 7,
                backend: "blis".into(),
                describe: "blis 1.0".into(),
            },
            ServeReply::Supported,
            ServeReply::Unsupported {
                reason: "no batch".into(),
            },
            ServeReply::Started {
                startup_seconds: 0.5,
            },
            ServeReply::Ran { seconds: 0.25 },
            ServeReply::Verified {
                tasks: 4,
                worst_rel_error: 1e-16,
            },
            ServeReply::Stopped,
            ServeReply::Failed {
                message: "x".into(),
            },
        ] {
            let line = serde_json::to_string(&reply).unwrap();
            assert_eq!(serde_json::from_str::<ServeReply>(&line).unwrap(), reply);
        }
        assert_eq!(
            serde_json::to_string(&ServeReply::Ran { seconds: 1.0 }).unwrap(),
            r#"{"reply":"ran","seconds":1.0}"#
        );
    }
}

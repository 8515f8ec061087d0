//! Real faults in real runs (the pure-Rust engine: cheap to build, and the process runner
//! and a run's phases are the same for every backend). Each test does something real to a
//! run from outside — kills or stops a worker, signals the parent in a phase the engine
//! announced on stderr, starts workers that print junk — and checks the message, the exit
//! status, what was (and was not) written, and that no process is left.
//!
//! The only time bound is [`HANG`]: it tells a hang from an answer, never fast from slow.

use blaspar_testkit::engine::{alive, children_of};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_blaspar-engine-matrixmultiply");

/// Longer than any of these runs takes to answer: reaching it means the engine hung.
const HANG: Duration = Duration::from_secs(60);

/// A process run that takes many seconds when left alone (200 tasks of 1000 x 1000).
const LONG_TASKS: &[&str] = &[
    "-s",
    "procs-2",
    "--tasks",
    "200",
    "--size",
    "1000",
    "--results",
    "fingerprints",
];

/// A process run whose products take a second or more to verify (1000 kept products of
/// 250 x 250, 500 MB): a signal sent when verification is announced arrives during it.
const LONG_VERIFICATION: &[&str] = &["-s", "procs-2", "--tasks", "1000", "--size", "250"];

/// One engine run, its stderr followed line by line, its record and history in a folder
/// of its own.
struct Run {
    child: Child,
    stderr: Receiver<String>,
    seen: Vec<String>,
    stdout: Receiver<String>,
    dir: tempfile::TempDir,
}

/// How a run ended.
struct Ended {
    code: Option<i32>,
    stderr: String,
    stdout: String,
    record_written: bool,
    history_lines: usize,
    /// Files in the run's folder besides the ones the test put there.
    leftovers: Vec<String>,
}

impl Run {
    fn start(args: &[&str]) -> Run {
        Run::start_in(tempfile::tempdir().expect("temp dir"), args)
    }

    /// Starts `run -b matrixmultiply <args> --json <dir>/run.json --history <dir>/history.jsonl`.
    fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Run {
        let mut child = Command::new(Path::new(EXE))
            .args(["run", "-b", "matrixmultiply"])
            .args(args)
            .arg("--json")
            .arg(dir.path().join("run.json"))
            .arg("--history")
            .arg(dir.path().join("history.jsonl"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("engine starts");
        let mut out = child.stdout.take().expect("piped");
        let (send, stdout) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            let _ = send.send(text);
        });
        let err = child.stderr.take().expect("piped");
        let (send, stderr) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Run {
            child,
            stderr,
            seen: Vec::new(),
            stdout,
            dir,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads stderr until a line starts with `phase` (the engine announces each phase).
    fn wait_for_phase(&mut self, phase: &str) {
        let deadline = Instant::now() + HANG;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(wait) {
                Ok(line) => {
                    let found = line.starts_with(phase);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no `{phase}` line within {HANG:?}: {:?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the run ended before `{phase}`: {:?}", self.seen)
                }
            }
        }
    }

    /// Waits for the engine to end (killing it, and failing, if it hangs).
    fn finish(mut self, expected_files: &[&str]) -> Ended {
        let deadline = Instant::now() + HANG;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the engine did not end within {HANG:?}: {:?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Both pipes close once every process that holds them is gone: workers inherit
        // the engine's stdout.
        loop {
            match self.stderr.recv_timeout(HANG) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("stderr still open: a process outlived the engine")
                }
            }
        }
        let stdout = self
            .stdout
            .recv_timeout(HANG)
            .expect("stdout closes: no process outlived the engine");
        let dir = self.dir.path();
        let leftovers = std::fs::read_dir(dir)
            .expect("run folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| {
                !["run.json", "history.jsonl"].contains(&name.as_str())
                    && !expected_files.contains(&name.as_str())
            })
            .collect();
        Ended {
            code: status.code(),
            stderr: self.seen.join("\n"),
            stdout,
            record_written: dir.join("run.json").exists(),
            history_lines: std::fs::read_to_string(dir.join("history.jsonl"))
                .map_or(0, |t| t.lines().count()),
            leftovers,
        }
    }
}

impl Drop for Run {
    /// A failed test leaves no engine running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Ended {
    fn error_line(&self) -> &str {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        match errors[..] {
            [line] => line,
            _ => panic!("not exactly one error line in: {}", self.stderr),
        }
    }
}

/// The live children of `parent` once there are `n` (workers exist, or are starting).
fn children(parent: u32, n: usize) -> Vec<u32> {
    let deadline = Instant::now() + HANG;
    loop {
        let kids = children_of(parent);
        if kids.len() == n {
            return kids;
        }
        assert!(
            Instant::now() < deadline,
            "not {n} children of {parent}: {kids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(pid: u32, sig: Signal) {
    nix::sys::signal::kill(Pid::from_raw(pid as i32), sig).expect("kill");
}

fn assert_gone(pids: &[u32]) {
    let deadline = Instant::now() + HANG;
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            Instant::now() < deadline,
            "processes left behind: {:?}",
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_worker_killed_by_sigkill_ends_the_run_naming_it() {
    let mut run = Run::start(LONG_TASKS);
    run.wait_for_phase("running ");
    let workers = children(run.pid(), 2);
    signal(workers[0], Signal::SIGKILL);
    let end = run.finish(&[]);
    assert_eq!(end.code, Some(1), "{}", end.stderr);
    let line = end.error_line();
    assert!(
        line.contains(&format!("(pid {})", workers[0]))
            && line.contains("was killed by signal 9 (SIGKILL)"),
        "{line}"
    );
    assert!(
        ["before its first task", "during task ", "between tasks"]
            .iter()
            .any(|when| line.contains(when)),
        "{line}"
    );
    assert!(!end.stderr.contains("panicked"), "{}", end.stderr);
    assert!(!end.record_written && end.history_lines == 0);
    assert_gone(&workers);
}

#[test]
fn a_stopped_worker_hits_the_task_timeout_and_is_killed() {
    let mut run = Run::start(&[LONG_TASKS, &["--task-timeout", "1"]].concat());
    run.wait_for_phase("running ");
    let workers = children(run.pid(), 2);
    signal(workers[1], Signal::SIGSTOP);
    let end = run.finish(&[]);
    assert_eq!(end.code, Some(1), "{}", end.stderr);
    let line = end.error_line();
    assert!(
        line.contains(&format!("(pid {})", workers[1]))
            && line.contains("gave no answer")
            && line.contains("within 1s (--task-timeout)"),
        "{line}"
    );
    assert_gone(&workers);
}

#[test]
fn workers_die_with_a_parent_killed_outright() {
    let mut run = Run::start(LONG_TASKS);
    run.wait_for_phase("running ");
    let workers = children(run.pid(), 2);
    signal(run.pid(), Signal::SIGKILL);
    let end = run.finish(&[]);
    assert_eq!(end.code, None, "killed by a signal");
    assert_gone(&workers);
}

#[test]
fn a_missing_or_foreign_worker_binary_is_a_clear_error() {
    let end = Run::start(&[LONG_TASKS, &["--worker-exe", "/nonexistent/blaspar-worker"]].concat())
        .finish(&[]);
    assert_eq!(end.code, Some(1), "{}", end.stderr);
    assert!(
        end.error_line()
            .contains("cannot start worker 0 from /nonexistent/blaspar-worker"),
        "{}",
        end.stderr
    );
    // A binary that is no engine at all exits before it is ready.
    let end = Run::start(&[LONG_TASKS, &["--worker-exe", "/bin/false"]].concat()).finish(&[]);
    assert_eq!(end.code, Some(1), "{}", end.stderr);
    assert!(
        end.error_line()
            .contains("exited with status 1 while starting"),
        "{}",
        end.stderr
    );
}

/// Writes an executable shell script into `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[test]
fn workers_whose_libraries_print_to_stdout_and_stderr_still_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    // What a chatty library does (MKL_VERBOSE=1, warnings): lines on both streams, before
    // and while the engine runs in the same process.
    let noisy = script(
        dir.path(),
        "noisy-worker",
        &format!(
            "echo 'junk on stdout {{\"reply\":\"ready\"}}'\necho 'junk on stderr' >&2\nexec {EXE}"
        ),
    );
    let noisy = noisy.to_str().expect("utf-8 path").to_string();
    let run = Run::start_in(
        dir,
        &[
            "-s",
            "procs-2",
            "--tasks",
            "6",
            "--size",
            "64",
            "--worker-exe",
            &noisy,
        ],
    );
    let end = run.finish(&["noisy-worker"]);
    assert_eq!(end.code, Some(0), "{}", end.stderr);
    assert_eq!(
        end.stdout.matches("junk on stdout").count(),
        2,
        "{}",
        end.stdout
    );
    assert_eq!(
        end.stderr.matches("junk on stderr").count(),
        2,
        "{}",
        end.stderr
    );
    assert!(end.stdout.contains("yes"), "verified: {}", end.stdout);
    assert!(end.record_written);
    assert_eq!(end.history_lines, 1, "a finished run enters the history");
    assert!(end.leftovers.is_empty(), "{:?}", end.leftovers);
}

/// Sends `sig` once the run announced `phase` and `children` returned the processes that
/// must not outlive it, then checks that the run ends as a stopped run must: 128 + the
/// signal, one error line naming the signal and `during`, no record, no history entry, no
/// temporary file, no process left.
fn stop_at(
    run: Run,
    phase: &str,
    children: impl FnOnce(&Run) -> Vec<u32>,
    sig: Signal,
    during: &str,
    extra_files: &[&str],
) {
    let mut run = run;
    run.wait_for_phase(phase);
    let children = children(&run);
    signal(run.pid(), sig);
    let end = run.finish(extra_files);
    assert_eq!(end.code, Some(128 + sig as i32), "{}", end.stderr);
    let line = end.error_line();
    assert!(
        line.starts_with(&format!("error: interrupted by {sig} {during}")),
        "{line}"
    );
    assert!(!end.record_written, "no record after {sig}");
    assert_eq!(end.history_lines, 0, "no history entry after {sig}");
    assert!(end.leftovers.is_empty(), "{:?}", end.leftovers);
    assert!(!end.stderr.contains("panicked"), "{}", end.stderr);
    assert_gone(&children);
}

/// Workers that never become ready: each blocks in its own process (sh opening a FIFO
/// nobody writes to) before it would exec the engine, so start-up lasts until stopped.
fn stop_during_startup(sig: Signal) {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("never");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let slow = script(
        dir.path(),
        "slow-worker",
        &format!("read line < '{}'\nexec {EXE}", fifo.display()),
    );
    let slow = slow.to_str().expect("utf-8 path").to_string();
    let run = Run::start_in(
        dir,
        &[
            "-s",
            "procs-2",
            "--tasks",
            "4",
            "--size",
            "64",
            "--worker-exe",
            &slow,
        ],
    );
    stop_at(
        run,
        "starting 2 worker processes",
        |run| children(run.pid(), 2),
        sig,
        "while starting the worker processes; every worker was stopped",
        &["never", "slow-worker"],
    );
}

fn stop_during_tasks(sig: Signal) {
    stop_at(
        Run::start(LONG_TASKS),
        "running 200 tasks",
        |run| children(run.pid(), 2),
        sig,
        "during the tasks",
        &[],
    );
}

fn stop_during_verification(sig: Signal) {
    stop_at(
        Run::start(LONG_VERIFICATION),
        "verifying 1000 products",
        |run| children(run.pid(), 0),
        sig,
        "while verifying the products",
        &[],
    );
}

#[test]
fn sigint_during_startup_stops_the_run() {
    stop_during_startup(Signal::SIGINT);
}

#[test]
fn sigterm_during_startup_stops_the_run() {
    stop_during_startup(Signal::SIGTERM);
}

#[test]
fn sigint_during_the_tasks_stops_the_workers() {
    stop_during_tasks(Signal::SIGINT);
}

#[test]
fn sigterm_during_the_tasks_stops_the_workers() {
    stop_during_tasks(Signal::SIGTERM);
}

#[test]
fn sigint_during_verification_keeps_nothing() {
    stop_during_verification(Signal::SIGINT);
}

#[test]
fn sigterm_during_verification_keeps_nothing() {
    stop_during_verification(Signal::SIGTERM);
}

#[test]
fn a_signal_stops_an_in_process_run_between_tasks() {
    stop_at(
        Run::start(&[
            "-s",
            "threads-2",
            "--tasks",
            "200",
            "--size",
            "1000",
            "--results",
            "fingerprints",
        ]),
        "running 200 tasks",
        |_| Vec::new(),
        Signal::SIGINT,
        "during the tasks (",
        &[],
    );
}

//! Real faults in real worker processes (the pure-Rust engine: cheap to build, and the
//! process runner is the same for every backend). Each test starts a run of a few
//! seconds, does something to a worker or to the parent from outside, and checks the
//! message, the exit status, how long the run took to end, and that no process is left.

use blaspar_testkit::engine::{alive, children_of};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_blaspar-engine-matrixmultiply");

/// A process run that takes several seconds when left alone (200 tasks of 1000 x 1000).
fn start_run(extra: &[&str]) -> Child {
    Command::new(Path::new(EXE))
        .args([
            "run",
            "-b",
            "matrixmultiply",
            "-s",
            "procs-2",
            "--tasks",
            "200",
            "--size",
            "1000",
            "--results",
            "fingerprints",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("engine starts")
}

/// Waits until the run has its two workers, and they have been working for a moment.
fn workers_of(parent: &Child) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let kids = children_of(parent.id());
        if kids.len() == 2 {
            std::thread::sleep(Duration::from_millis(300));
            return kids;
        }
        assert!(
            Instant::now() < deadline,
            "workers did not appear: {kids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on a pid this test started (or its child).
    assert_eq!(
        unsafe { libc::kill(pid as libc::pid_t, sig) },
        0,
        "kill {pid}"
    );
}

/// Waits for the engine to end; returns its exit code, stderr and how long it took.
fn finish(child: Child) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    let out = child.wait_with_output().expect("engine ends");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
}

fn assert_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            Instant::now() < deadline,
            "processes left behind: {:?}",
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn error_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in: {stderr}"))
}

#[test]
fn a_worker_killed_by_sigkill_ends_the_run_naming_it() {
    let child = start_run(&[]);
    let workers = workers_of(&child);
    signal(workers[0], libc::SIGKILL);
    let (code, stderr, took) = finish(child);
    assert_eq!(code, Some(1), "{stderr}");
    let line = error_line(&stderr);
    assert!(
        line.contains(&format!("(pid {})", workers[0]))
            && line.contains("was killed by signal 9 (SIGKILL)"),
        "{line}"
    );
    assert!(
        line.contains("during task ") || line.contains("between tasks"),
        "{line}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?} to notice");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_gone(&workers);
}

#[test]
fn a_stopped_worker_hits_the_task_timeout_and_is_killed() {
    let child = start_run(&["--task-timeout", "1"]);
    let workers = workers_of(&child);
    signal(workers[1], libc::SIGSTOP);
    let (code, stderr, took) = finish(child);
    assert_eq!(code, Some(1), "{stderr}");
    let line = error_line(&stderr);
    assert!(
        line.contains(&format!("(pid {})", workers[1]))
            && line.contains("gave no answer")
            && line.contains("--task-timeout"),
        "{line}"
    );
    assert!(took < Duration::from_secs(6), "took {took:?}");
    assert_gone(&workers);
}

#[test]
fn ctrl_c_stops_the_workers_and_names_what_ran() {
    let child = start_run(&[]);
    let workers = workers_of(&child);
    signal(child.id(), libc::SIGINT);
    let (code, stderr, took) = finish(child);
    assert_eq!(code, Some(130), "{stderr}");
    let line = error_line(&stderr);
    assert!(line.contains("interrupted"), "{line}");
    assert!(line.contains("every worker was stopped"), "{line}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_gone(&workers);
}

#[test]
fn workers_die_with_a_parent_killed_outright() {
    let child = start_run(&[]);
    let workers = workers_of(&child);
    signal(child.id(), libc::SIGKILL);
    let (code, _, _) = finish(child);
    assert_eq!(code, None, "killed by a signal");
    assert_gone(&workers);
}

#[test]
fn a_missing_or_foreign_worker_binary_is_a_clear_error() {
    let (code, stderr, _) = finish(start_run(&["--worker-exe", "/nonexistent/blaspar-worker"]));
    assert_eq!(code, Some(1), "{stderr}");
    let line = error_line(&stderr);
    assert!(
        line.contains("cannot start worker 0 from /nonexistent/blaspar-worker"),
        "{line}"
    );
    // A binary that is no engine at all exits before it is ready.
    let (code, stderr, _) = finish(start_run(&["--worker-exe", "/bin/false"]));
    assert_eq!(code, Some(1), "{stderr}");
    let line = error_line(&stderr);
    assert!(
        line.contains("exited with status 1 while starting"),
        "{line}"
    );
}

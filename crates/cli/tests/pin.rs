//! `run --pin` through the real front binary and a real engine (the pure-Rust one): pinned
//! workers run on the CPUs of their plan, as the kernel saw them, and the record says so;
//! a bad placement is a clear command-line error.

use serde_json::Value;
use std::process::Command;

const EXE: &str = env!("CARGO_BIN_EXE_blaspar");

/// The record of a small matrixmultiply run of `strategy` with `--pin pin`.
fn pinned_run(strategy: &str, pin: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = blaspar_testkit::engine::front_with_engine(EXE, "matrixmultiply")
        .args(["run", "-b", "matrixmultiply", "-s", strategy, "--pin", pin])
        .args(["--tasks", "8", "--size", "96", "--history", "off", "--json"])
        .arg(&json)
        .output()
        .expect("blaspar starts");
    assert!(
        out.status.success(),
        "{strategy} --pin {pin}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
}

/// The CPUs this test may use (the engine inherits them).
fn allowed() -> usize {
    // SAFETY: sched_getaffinity writes at most size_of::<cpu_set_t>() bytes into `set`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    assert_eq!(rc, 0);
    unsafe { libc::CPU_COUNT(&set) as usize }
}

/// Two workers pinned with `cores` run on two distinct CPUs, each only on its own.
fn two_workers_on_distinct_cpus(strategy: &str) {
    if allowed() < 2 {
        eprintln!(
            "skipped: {} CPU allowed, pinning two workers apart needs 2",
            allowed()
        );
        return;
    }
    let r = pinned_run(strategy, "cores");
    assert_eq!(r["schema_version"], 6);
    let pinning = &r["pinning"];
    assert_eq!(pinning["mode"], "cores", "{pinning}");
    assert!(pinning["topology"].as_str().unwrap().contains("core(s)"));
    let workers = pinning["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "{pinning}");
    let cpus: Vec<&str> = workers
        .iter()
        .map(|w| w["cpus"].as_str().unwrap())
        .collect();
    assert!(cpus.iter().all(|c| c.parse::<usize>().is_ok()), "{cpus:?}");
    assert_ne!(cpus[0], cpus[1], "{pinning}");
    for w in workers {
        // The worker's thread (and any it started) ran on its CPU and nowhere else.
        assert!(w["seen"]["threads"].as_u64().unwrap() >= 1, "{w}");
        assert_eq!(w["seen"]["cpus"], w["cpus"], "{w}");
    }
}

#[test]
fn pin_cores_puts_two_thread_workers_on_distinct_cpus() {
    two_workers_on_distinct_cpus("threads-2");
}

#[test]
fn pin_cores_puts_two_worker_processes_on_distinct_cpus() {
    two_workers_on_distinct_cpus("procs-2");
}

#[test]
fn unpinned_runs_record_where_threads_ran_without_a_plan() {
    let r = pinned_run("threads-2", "none");
    let pinning = &r["pinning"];
    assert_eq!(pinning["mode"], "none", "{pinning}");
    for w in pinning["workers"].as_array().unwrap() {
        assert_eq!(w["cpus"], "", "{w}");
        assert!(w["seen"]["threads"].as_u64().unwrap() >= 1, "{w}");
    }
}

#[test]
fn a_bad_placement_is_a_clear_usage_error() {
    let out = Command::new(EXE)
        .env(
            "BLASPAR_ENGINE_DIR",
            std::env::temp_dir().join("blaspar-no-engines-here"),
        )
        .args(["run", "-s", "sequential", "--pin", "sockets"])
        .output()
        .expect("blaspar starts");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unknown placement 'sockets' (expected one of: none, cores, spread)"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked at"), "{err}");
}

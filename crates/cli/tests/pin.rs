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
    assert_eq!(r["schema_version"], blaspar_core::record::SCHEMA_VERSION);
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
fn unpinned_runs_record_no_plan_and_watch_no_threads() {
    // An unpinned run (every sweep's and bench's) has no watch thread beside its workers.
    let r = pinned_run("threads-2", "none");
    let pinning = &r["pinning"];
    assert_eq!(pinning["mode"], "none", "{pinning}");
    for w in pinning["workers"].as_array().unwrap() {
        assert_eq!(w["cpus"], "", "{w}");
        assert_eq!(w["seen"]["threads"], 0, "{w}");
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

#[test]
fn sweep_pin_compares_the_best_configuration_pinned_and_unpinned() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let sweep = || {
        blaspar_testkit::engine::front_with_engine(EXE, "matrixmultiply")
            .env("BLASPAR_HISTORY", "off")
            .args([
                "sweep",
                "--backends",
                "matrixmultiply",
                "--strategies",
                "threads-2",
            ])
            .args([
                "--tasks",
                "4",
                "--size",
                "48",
                "--no-race",
                "--repeats",
                "1",
            ])
            .args(["--peak-seconds", "0.05", "--pin", "cores", "--out"])
            .arg(&out)
            .output()
            .expect("blaspar starts")
    };
    let first = sweep();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let rows = || -> Vec<Value> {
        std::fs::read_to_string(out.join("pin.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    // 6 pairs (the fewest that give a 95% interval) of none and cores.
    let r = rows();
    assert_eq!(r.len(), 12, "{r:?}");
    for pin in ["none", "cores"] {
        let mut pairs: Vec<u64> = r
            .iter()
            .filter(|x| x["pin"] == pin)
            .map(|x| x["pair"].as_u64().unwrap())
            .collect();
        pairs.sort_unstable();
        assert_eq!(pairs, [1, 2, 3, 4, 5, 6], "{pin}");
    }
    assert!(r.iter().all(|x| x["record"]["pinning"]["mode"] == x["pin"]));
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("### Placement (`--pin`): does it pay?"),
        "{summary}"
    );
    let line = summary
        .lines()
        .find(|l| l.contains("threads-2+pin-cores"))
        .expect("the pinned configuration's row");
    assert!(
        line.contains("| matrixmultiply | 4 x 48 |") && line.contains("| 6 |"),
        "{line}"
    );
    // Resumed: nothing is measured again.
    let again = sweep();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(rows().len(), 12);
}

#[test]
fn a_calling_thread_run_pins_the_whole_process_to_its_set() {
    let r = pinned_run("sequential", "cores");
    let w = &r["pinning"]["workers"][0];
    let cpu = w["cpus"].as_str().unwrap();
    assert!(cpu.parse::<usize>().is_ok(), "one CPU for one thread: {w}");
    assert_eq!(w["seen"]["cpus"], cpu, "{w}");
    assert_eq!(r["pinning"]["other_threads"]["threads"], 0, "{r}");
}

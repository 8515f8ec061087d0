//! Bad input to the real front binary: exit status 2 with one clear line, before anything
//! is allocated (a workload far beyond memory is refused by its estimate), and never a panic.

use std::process::Command;

fn blaspar(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_blaspar"))
        // An empty engine folder: a run that got past validation would fail differently.
        .env(
            "BLASPAR_ENGINE_DIR",
            std::env::temp_dir().join("blaspar-no-engines-here"),
        )
        .args(args)
        .output()
        .expect("blaspar starts");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), err)
}

fn assert_rejected(args: &[&str], expected: &str) {
    let (code, err) = blaspar(args);
    assert_eq!(code, Some(2), "{args:?}: {err}");
    assert!(
        err.contains(expected),
        "{args:?}: expected '{expected}' in: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: one line, got: {err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked at"), "{err}");
}

#[test]
fn bad_counts_are_rejected() {
    let s = ["run", "-s", "sequential"];
    for (flag, value, msg) in [
        ("--tasks", "0", "must be at least 1"),
        ("--tasks", "-3", "must be a whole number >= 1, got '-3'"),
        ("--tasks", "abc", "must be a whole number >= 1, got 'abc'"),
        ("--tasks", "2.5", "must be a whole number >= 1"),
        ("--size", "0", "must be at least 1"),
        ("--size", "-1", "must be a whole number >= 1, got '-1'"),
        ("--size", "ten", "must be a whole number >= 1, got 'ten'"),
    ] {
        assert_rejected(&[&s[..], &[flag, value]].concat(), msg);
    }
}

#[test]
fn bad_workers_and_threads_are_rejected() {
    for (strategy, msg) in [
        (
            "threads-0",
            "worker count P must be a whole number >= 1, got '0'",
        ),
        (
            "threads--2",
            "worker count P must be a whole number >= 1, got '-2'",
        ),
        (
            "threads-x",
            "worker count P must be a whole number >= 1, got 'x'",
        ),
        (
            "blas-0",
            "BLAS thread count T must be a whole number >= 1, got '0'",
        ),
        (
            "hybrid-threads-2x0",
            "BLAS thread count T must be a whole number >= 1, got '0'",
        ),
        (
            "hybrid-threads-0x2",
            "worker count P must be a whole number >= 1, got '0'",
        ),
        ("fastest", "unknown strategy 'fastest'"),
    ] {
        assert_rejected(&["run", "-s", strategy], msg);
    }
}

#[test]
fn unknown_backend_and_preset_are_rejected() {
    assert_rejected(
        &["run", "-s", "sequential", "--backend", "cublas"],
        "unknown backend 'cublas': expected one of blis, openblas-pthread,",
    );
    assert_rejected(
        &["run", "-s", "sequential", "--preset", "huge"],
        "unknown preset 'huge'",
    );
    assert_rejected(&["run"], "--strategy");
    assert_rejected(&["frobnicate"], "unrecognized subcommand");
}

#[test]
fn memory_beyond_what_is_available_is_rejected_before_allocation() {
    assert_rejected(
        &[
            "run",
            "-s",
            "sequential",
            "--tasks",
            "1000",
            "--size",
            "100000",
        ],
        "lower --tasks or --size",
    );
    assert_rejected(
        &[
            "run",
            "-s",
            "sequential",
            "--tasks",
            "99999999999",
            "--size",
            "99999999999",
        ],
        "too large",
    );
}

#[test]
fn a_missing_engine_is_named_with_the_fix() {
    let (code, err) = blaspar(&["run", "-s", "sequential", "--tasks", "1", "--size", "8"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("the blis engine is not built") && err.contains("scripts/build.sh"),
        "{err}"
    );
}

#[test]
fn help_and_machine_work() {
    let out = Command::new(env!("CARGO_BIN_EXE_blaspar"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("hybrid-threads-PxT"));
    let out = Command::new(env!("CARGO_BIN_EXE_blaspar"))
        .arg("machine")
        .output()
        .unwrap();
    assert!(out.status.success());
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(m["default_parallelism"].as_u64().unwrap() >= 1);
}

#[test]
fn bad_process_options_are_rejected() {
    let s = ["run", "-s", "procs-2"];
    for (extra, msg) in [
        (
            &["--task-timeout", "0"][..],
            "must be a number of seconds > 0, got '0'",
        ),
        (&["--task-timeout", "soon"][..], "got 'soon'"),
        (&["--task-timeout", "-1"][..], "got '-1'"),
        (
            &["--results", "some"][..],
            "invalid value 'some' for '--results",
        ),
    ] {
        assert_rejected(&[&s[..], extra].concat(), msg);
    }
}

#[test]
fn bad_peak_options_are_rejected() {
    assert_rejected(
        &["peak", "--seconds", "0"],
        "must be a number of seconds > 0",
    );
    assert_rejected(&["peak", "--threads", "0"], "must be at least 1");
}

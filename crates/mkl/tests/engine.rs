//! The MKL engine binary of this build, run for real: every strategy it supports agrees with
//! sequential (batched included, as one counted library call), the rest are refused.

use blaspar_testkit::engine::{assert_strategies_agree, run, text};
use std::path::Path;

#[cfg(feature = "iomp")]
const EXE: &str = env!("CARGO_BIN_EXE_blaspar-engine-mkl-iomp");
#[cfg(not(feature = "iomp"))]
const EXE: &str = env!("CARGO_BIN_EXE_blaspar-engine-mkl-seq");
const NAME: &str = blaspar_mkl::BACKEND_NAME;

#[test]
fn every_supported_strategy_agrees_with_sequential() {
    let strategies: &[&str] = if cfg!(feature = "iomp") {
        &[
            "blas-default",
            "blas-2",
            "threads-2",
            "hybrid-threads-2x2",
            "batched-2",
            "batched-2+pgen",
            "procs-2",
            "hybrid-procs-2x2",
        ]
    } else {
        &[
            "blas-default",
            "threads-2",
            "hybrid-threads-2x1",
            "batched-1",
            "procs-2",
        ]
    };
    assert_strategies_agree(Path::new(EXE), NAME, strategies, &[]);
}

#[test]
fn batched_is_one_library_call() {
    let t = if cfg!(feature = "iomp") {
        "batched-2"
    } else {
        "batched-1"
    };
    let (out, rec) = run(
        Path::new(EXE),
        &["-b", NAME, "-s", t, "--tasks", "5", "--size", "40"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let rec = rec.expect("record");
    let calls = rec.gemm_calls_per_task.expect("the engine counts calls");
    assert_eq!((calls.min, calls.max), (1, 1));
    assert!(rec.results_verified);
}

/// With `MKL_VERBOSE=1` MKL prints a line to stdout for every call, in every worker
/// process: the workers' replies go through a channel of their own, so the run verifies and
/// the lines reach the engine's stdout.
#[test]
fn worker_processes_run_while_mkl_prints_to_stdout() {
    let (out, rec) = run(
        Path::new(EXE),
        &["-b", NAME, "-s", "procs-2", "--tasks", "6", "--size", "300"],
        &[("MKL_VERBOSE", "1")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let rec = rec.expect("record");
    assert!(rec.results_verified);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let calls = stdout
        .lines()
        .filter(|l| l.starts_with("MKL_VERBOSE DGEMM"))
        .count();
    assert_eq!(
        calls, 6,
        "one verbose line per product, from the workers: {stdout}"
    );
}

/// The iomp build runs every in-process strategy (per-thread counts), so only the
/// sequential build has one to refuse.
#[cfg(not(feature = "iomp"))]
#[test]
fn more_blas_threads_are_refused_on_the_sequential_build() {
    let (s, why) = ("blas-2", "no API");
    let (out, rec) = run(
        Path::new(EXE),
        &["-b", NAME, "-s", s, "--tasks", "2", "--size", "16"],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(i32::from(blaspar_core::registry::EXIT_UNSUPPORTED)),
        "{}",
        text(&out)
    );
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("not supported") && msg.contains(why), "{msg}");
    assert!(rec.is_none());
}

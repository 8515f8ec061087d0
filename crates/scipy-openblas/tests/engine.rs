//! The openblas-scipy engine binary, run for real: every strategy it supports agrees with
//! sequential (batched included, as one counted library call), the rest are refused; the
//! binary calls the wheel's library and no other OpenBLAS, checked in its symbols and at
//! run time.

use blaspar_testkit::engine::{assert_strategies_agree, run, text};
use std::path::Path;
use std::process::Command;

const EXE: &str = env!("CARGO_BIN_EXE_blaspar-engine-openblas-scipy");
const NAME: &str = blaspar_scipy_openblas::BACKEND_NAME;

fn small(strategy: &str) -> Vec<&str> {
    vec!["-b", NAME, "-s", strategy, "--tasks", "3", "--size", "64"]
}

#[test]
fn every_supported_strategy_agrees_with_sequential() {
    // One process-wide count: P x T in one process is refused, worker processes each
    // have their own.
    let strategies = [
        "blas-default",
        "blas-2",
        "threads-2",
        "hybrid-threads-1x2",
        "batched-1",
        "batched-2",
        "batched-2+pgen",
        "procs-2",
        "hybrid-procs-2x2",
        "blas-2+pgen",
    ];
    assert_strategies_agree(Path::new(EXE), NAME, &strategies, &[]);
}

#[test]
fn batched_is_one_library_call() {
    let (out, rec) = run(
        Path::new(EXE),
        &[
            "-b",
            NAME,
            "-s",
            "batched-2",
            "--tasks",
            "5",
            "--size",
            "40",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let rec = rec.expect("record");
    let calls = rec.gemm_calls_per_task.expect("the engine counts calls");
    assert_eq!((calls.min, calls.max), (1, 1));
    assert_eq!(
        (rec.blas_threads_verified.min, rec.blas_threads_verified.max),
        (2, 2)
    );
    assert!(rec.results_verified);
}

#[test]
fn hybrids_in_one_process_are_refused_with_the_reason() {
    let (out, rec) = run(Path::new(EXE), &small("hybrid-threads-2x2"), &[]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(blaspar_core::registry::EXIT_UNSUPPORTED)),
        "{}",
        text(&out)
    );
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("not supported") && msg.contains("whole process"),
        "{msg}"
    );
    assert!(rec.is_none());
}

/// The binary needs the wheel's library and no other BLAS, imports only prefixed names
/// from it, and exports no plain `cblas_` name (its forwarders are its own).
#[test]
fn the_binary_links_the_wheel_and_forwards_cblas_dgemm() {
    let readelf = Command::new("readelf").args(["-d", EXE]).output();
    let Ok(readelf) = readelf else {
        panic!("readelf (binutils) is needed for this test");
    };
    let dynamic = String::from_utf8_lossy(&readelf.stdout);
    let needed: Vec<&str> = dynamic.lines().filter(|l| l.contains("(NEEDED)")).collect();
    assert!(
        needed.iter().any(|l| l.contains("[libscipy_openblas.so]")),
        "{dynamic}"
    );
    assert!(
        !needed
            .iter()
            .any(|l| l.contains("libopenblas") || l.contains("libblas") || l.contains("libcblas")),
        "{dynamic}"
    );
    assert!(
        dynamic.contains(env!("BLASPAR_SCIPY_OPENBLAS_LIBDIR")),
        "run path: {dynamic}"
    );

    let nm = |args: &[&str]| {
        let out = Command::new("nm")
            .args(args)
            .arg(EXE)
            .output()
            .expect("nm runs");
        assert!(out.status.success(), "nm {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let undefined = nm(&["-D", "--undefined-only"]);
    let names: Vec<&str> = undefined
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    for wanted in [
        "scipy_cblas_dgemm",
        "scipy_cblas_dgemm_batch",
        "scipy_openblas_set_num_threads",
    ] {
        assert!(
            names.contains(&wanted),
            "{wanted} not imported: {undefined}"
        );
    }
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("cblas_") || n.starts_with("openblas_")),
        "plain BLAS names imported: {undefined}"
    );
    // The forwarders are this binary's own: not exported for another object to take.
    let exported = nm(&["-D", "--defined-only"]);
    assert!(
        !exported.lines().any(|l| l
            .split_whitespace()
            .last()
            .is_some_and(|n| n.starts_with("cblas_"))),
        "{exported}"
    );
}

/// Every product reaches the library through the counted forwarder, and the library the
/// engine names is the wheel's.
#[test]
fn every_task_calls_the_wheels_dgemm() {
    let (out, rec) = run(Path::new(EXE), &small("threads-2"), &[]);
    assert!(out.status.success(), "{}", text(&out));
    let rec = rec.expect("record");
    let calls = rec.gemm_calls_per_task.expect("the engine counts calls");
    assert_eq!((calls.min, calls.max), (1, 1));
    assert!(
        rec.backend_version.contains("libscipy_openblas.so"),
        "{}",
        rec.backend_version
    );
    assert!(
        rec.backend_version.starts_with("0."),
        "{}",
        rec.backend_version
    );
    assert!(!rec.kernel.is_empty());
}

/// OPENBLAS_NUM_THREADS sets the library's default count (the library reads it when it
/// loads).
#[test]
fn openblas_num_threads_sets_the_default() {
    let (out, rec) = run(
        Path::new(EXE),
        &small("blas-default"),
        &[("OPENBLAS_NUM_THREADS", "1")],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(rec.expect("record").blas_threads_library_default, 1);
}

/// Debian's OpenBLAS preloaded into the process would answer `cblas_dgemm` lookups: the
/// engine refuses to run instead of measuring something else.
#[test]
fn the_engine_refuses_to_run_beside_another_openblas() {
    let debian = ["pthread", "openmp", "serial"]
        .map(|v| format!("/usr/lib/x86_64-linux-gnu/openblas-{v}/libopenblas.so.0"))
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(debian) = debian else {
        eprintln!("skipped: no Debian libopenblas is installed");
        return;
    };
    let (out, rec) = run(
        Path::new(EXE),
        &small("sequential"),
        &[("LD_PRELOAD", &debian)],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("libopenblas") && msg.contains("LD_PRELOAD"),
        "{msg}"
    );
    assert!(rec.is_none());
}

/// As for Debian's builds (blaspar_cblas::coretype): a forced core is reported, probed
/// against the library's own choice, and dropped by `--kernel default`; `--kernel NAME`
/// re-executes with OPENBLAS_CORETYPE=NAME. Nehalem (SSE4.2) runs on every x86-64 CPU
/// OpenBLAS supports today.
#[test]
fn a_forced_core_is_reported_and_can_be_dropped() {
    let args = small("sequential");
    let with = |extra: &[&'static str]| -> Vec<&str> {
        args.iter().copied().chain(extra.iter().copied()).collect()
    };
    let (out, own) = run(Path::new(EXE), &with(&["--kernel", "default"]), &[]);
    assert!(out.status.success(), "{}", text(&out));
    let own = own.expect("record").kernel;

    let (out, forced) = run(Path::new(EXE), &args, &[("OPENBLAS_CORETYPE", "Nehalem")]);
    assert!(out.status.success(), "{}", text(&out));
    let forced = forced.expect("record");
    assert_eq!(forced.kernel, "Nehalem");
    assert_eq!(
        forced.kernel_choice.method,
        blaspar_core::backend::ChoiceMethod::UserOverride
    );
    assert_eq!(
        forced.kernel_choice.library_default.as_deref(),
        Some(own.as_str())
    );
    assert_eq!(
        forced.kernel_choice.probes.len(),
        2,
        "{:?}",
        forced.kernel_choice
    );
    let rates: Vec<f64> = forced
        .kernel_choice
        .probes
        .iter()
        .map(|p| match p.outcome {
            blaspar_core::ProbeOutcome::Correct { gflops } => gflops,
            ref other => panic!("probe failed: {other:?}"),
        })
        .collect();
    let warned = String::from_utf8_lossy(&out.stderr).contains("--kernel default");
    assert_eq!(
        warned,
        own != "Nehalem" && rates[1] > rates[0],
        "{}",
        text(&out)
    );

    let (out, dropped) = run(
        Path::new(EXE),
        &with(&["--kernel", "default"]),
        &[("OPENBLAS_CORETYPE", "Nehalem")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let dropped = dropped.expect("record");
    assert_eq!(dropped.kernel, own);
    assert!(!dropped.blas_env.contains_key("OPENBLAS_CORETYPE"));

    let (out, named) = run(Path::new(EXE), &with(&["--kernel", "Nehalem"]), &[]);
    assert!(out.status.success(), "{}", text(&out));
    let named = named.expect("record");
    assert_eq!(named.kernel, "Nehalem");
    assert_eq!(
        named.blas_env.get("OPENBLAS_CORETYPE").map(String::as_str),
        Some("Nehalem")
    );
}

/// A forced core whose kernels this CPU cannot execute (AVX-512 ones on a CPU without
/// AVX-512) is refused with the reason, instead of the engine dying of SIGILL at its first
/// product.
#[test]
fn a_forced_core_this_cpu_cannot_run_is_refused() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if cpuinfo.contains(" avx512f") {
        eprintln!("skipped: this CPU runs AVX-512 kernels");
        return;
    }
    let (out, rec) = run(
        Path::new(EXE),
        &small("sequential"),
        &[("OPENBLAS_CORETYPE", "SkylakeX")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("cannot execute") && msg.contains("OPENBLAS_CORETYPE=SkylakeX"),
        "{msg}"
    );
    assert!(rec.is_none());
}

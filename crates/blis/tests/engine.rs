//! The BLIS engine binary, run for real: strategies agree, threads are read back, the kernel
//! choice is probed / cached / overridden, and a corrupted product is caught.

use blaspar_testkit::engine::{assert_strategies_agree, run, text};
use std::path::Path;

const EXE: &str = env!("CARGO_BIN_EXE_blaspar-engine-blis");

fn exe() -> &'static Path {
    Path::new(EXE)
}

fn cache() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn every_strategy_agrees_with_sequential() {
    let c = cache();
    let dir = c.path().to_str().unwrap();
    assert_strategies_agree(
        exe(),
        "blis",
        &[
            "blas-default",
            "blas-2",
            "blas-3",
            "threads-2",
            "threads-3",
            "hybrid-threads-2x2",
            "hybrid-threads-3x1",
            "procs-2",
            "procs-3",
            "hybrid-procs-2x2",
            "hybrid-procs-2x2+pgen",
            "blas-2+pgen",
            "hybrid-procs-2x2+ogen",
            "threads-2+ogen",
            "hybrid-procs-3x1",
        ],
        &[("BLASPAR_CACHE_DIR", dir)],
    );
}

#[test]
fn every_product_reaches_blis_and_threads_are_read_back() {
    let c = cache();
    let dir = c.path().to_str().unwrap();
    let (out, rec) = run(
        exe(),
        &["-s", "hybrid-threads-2x3", "--tasks", "4", "--size", "64"],
        &[("BLASPAR_CACHE_DIR", dir)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let rec = rec.unwrap();
    let calls = rec
        .gemm_calls_per_task
        .expect("the engine counts dgemm calls");
    assert_eq!((calls.min, calls.max), (1, 1));
    assert_eq!(
        (rec.blas_threads_verified.min, rec.blas_threads_verified.max),
        (3, 3)
    );
    assert_eq!(rec.thread_scope, blaspar_core::ThreadScope::PerThread);

    // The same proofs from worker processes: each reached BLIS and read back its threads.
    let (out, rec) = run(
        exe(),
        &["-s", "hybrid-procs-2x3", "--tasks", "4", "--size", "64"],
        &[("BLASPAR_CACHE_DIR", dir)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let rec = rec.unwrap();
    let calls = rec.gemm_calls_per_task.expect("workers count dgemm calls");
    assert_eq!((calls.min, calls.max), (1, 1));
    assert_eq!(
        (rec.blas_threads_verified.min, rec.blas_threads_verified.max),
        (3, 3)
    );

    // The library default comes from BLIS_NUM_THREADS and is read back as such.
    let (out, rec) = run(
        exe(),
        &["-s", "blas-default", "--tasks", "2", "--size", "64"],
        &[("BLASPAR_CACHE_DIR", dir), ("BLIS_NUM_THREADS", "3")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let rec = rec.unwrap();
    assert_eq!(rec.blas_threads_library_default, 3);
    assert_eq!(
        (rec.blas_threads_verified.min, rec.blas_threads_verified.max),
        (3, 3)
    );
    assert_eq!(rec.blas_threads_requested, None);
    assert_eq!(
        rec.blas_env.get("BLIS_NUM_THREADS").map(String::as_str),
        Some("3")
    );
}

#[test]
fn a_worker_binary_of_another_backend_is_refused() {
    let other = exe().with_file_name("blaspar-engine-matrixmultiply");
    assert!(
        other.exists(),
        "{} is missing: build every engine first (scripts/build.sh)",
        other.display()
    );
    let c = cache();
    let (out, rec) = run(
        exe(),
        &[
            "-s",
            "procs-2",
            "--tasks",
            "4",
            "--size",
            "64",
            "--worker-exe",
        ],
        &[("BLASPAR_CACHE_DIR", c.path().to_str().unwrap())],
    );
    // `--worker-exe` without a value is a usage error.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(rec.is_none());
    let (out, rec) = run(
        exe(),
        &[
            "-s",
            "procs-2",
            "--tasks",
            "4",
            "--size",
            "64",
            "--worker-exe",
            other.to_str().unwrap(),
        ],
        &[("BLASPAR_CACHE_DIR", c.path().to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("this binary runs backend matrixmultiply, not blis"),
        "{msg}"
    );
    assert!(msg.contains("worker 0 (pid "), "{msg}");
    assert!(rec.is_none(), "no record for a failed run");
}

#[test]
fn tiny_matrices_that_bypass_blis_are_refused() {
    let c = cache();
    let (out, _) = run(
        exe(),
        &["-s", "sequential", "--tasks", "2", "--size", "5"],
        &[("BLASPAR_CACHE_DIR", c.path().to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("did not reach blis's dgemm"),
        "{}",
        text(&out)
    );
}

#[test]
fn kernel_is_probed_then_cached_then_overridden() {
    use blaspar_core::{ChoiceMethod, ProbeOutcome};
    let c = cache();
    let dir = c.path().to_str().unwrap();
    let env = [("BLASPAR_CACHE_DIR", dir)];
    let args = ["-s", "sequential", "--tasks", "2", "--size", "64"];

    let (out, rec) = run(exe(), &args, &env);
    assert!(out.status.success(), "{}", text(&out));
    let probed = rec.unwrap();
    assert_eq!(probed.kernel_choice.method, ChoiceMethod::Probe);
    let correct: Vec<_> = probed
        .kernel_choice
        .probes
        .iter()
        .filter_map(|p| match p.outcome {
            ProbeOutcome::Correct { gflops } => Some((p.kernel.clone(), gflops)),
            _ => None,
        })
        .collect();
    assert!(
        correct.iter().any(|(k, _)| k == "generic"),
        "generic is always compiled in: {correct:?}"
    );
    // Every kernel at 512^3, then the contenders at the workload's size class, which decides.
    assert_eq!(probed.kernel_choice.decided_at, Some(64));
    let fastest_at = |rec: &blaspar_core::record::RunRecord, size: usize| {
        rec.kernel_choice
            .probes
            .iter()
            .filter(|p| p.size == Some(size))
            .filter_map(|p| match p.outcome {
                ProbeOutcome::Correct { gflops } => Some((p.kernel.clone(), gflops)),
                _ => None,
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(k, _)| k)
    };
    let at_64 = probed
        .kernel_choice
        .probes
        .iter()
        .filter(|p| p.size == Some(64));
    assert!((1..=4).contains(&at_64.count()), "at most 4 contenders");
    assert_eq!(
        Some(&probed.kernel),
        fastest_at(&probed, 64).as_ref(),
        "the fastest correct kernel at the workload's size wins"
    );

    let (out, rec) = run(exe(), &args, &env);
    assert!(out.status.success(), "{}", text(&out));
    let cached = rec.unwrap();
    assert_eq!(cached.kernel_choice.method, ChoiceMethod::Cache);
    assert_eq!(cached.kernel, probed.kernel);
    assert_eq!(cached.kernel_choice.probes, probed.kernel_choice.probes);

    // The 512^3 table decides a workload of that class, from the cache.
    let big = ["-s", "sequential", "--tasks", "1", "--size", "512"];
    let (out, rec) = run(exe(), &big, &env);
    assert!(out.status.success(), "{}", text(&out));
    let at_512 = rec.unwrap();
    assert_eq!(at_512.kernel_choice.method, ChoiceMethod::Cache);
    assert_eq!(at_512.kernel_choice.decided_at, Some(512));
    assert_eq!(Some(&at_512.kernel), fastest_at(&at_512, 512).as_ref());

    let (out, rec) = run(exe(), &[&args[..], &["--kernel", "generic"]].concat(), &env);
    assert!(out.status.success(), "{}", text(&out));
    let named = rec.unwrap();
    assert_eq!(
        (named.kernel.as_str(), named.kernel_choice.method),
        ("generic", ChoiceMethod::UserOverride)
    );

    let (out, rec) = run(exe(), &[&args[..], &["--kernel", "default"]].concat(), &env);
    assert!(out.status.success(), "{}", text(&out));
    let default = rec.unwrap();
    assert_eq!(default.kernel_choice.method, ChoiceMethod::LibraryDefault);
    assert_eq!(
        Some(&default.kernel),
        probed.kernel_choice.library_default.as_ref()
    );

    // BLIS's own variable, set by the user, is respected and reported.
    let arches = blaspar_blis::ffi::all_arches();
    let generic_id = arches
        .iter()
        .find(|(_, n)| n == "generic")
        .unwrap()
        .0
        .to_string();
    let generic_id = generic_id.as_str();
    let (out, rec) = run(
        exe(),
        &args,
        &[("BLASPAR_CACHE_DIR", dir), ("BLIS_ARCH_TYPE", generic_id)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let user = rec.unwrap();
    assert_eq!(
        (user.kernel.as_str(), user.kernel_choice.method),
        ("generic", ChoiceMethod::UserOverride)
    );

    let (out, _) = run(
        exe(),
        &[&args[..], &["--kernel", "nonesuch"]].concat(),
        &env,
    );
    assert_eq!(out.status.code(), Some(1));
    let msg = text(&out);
    assert!(
        msg.contains("no sub-configuration 'nonesuch'") && msg.contains("generic"),
        "{msg}"
    );
}

#[test]
fn a_corrupted_product_names_its_task_and_fails() {
    let c = cache();
    let (out, rec) = run(
        exe(),
        &[
            "-s",
            "threads-2",
            "--tasks",
            "5",
            "--size",
            "80",
            "--inject-corruption",
            "3",
        ],
        &[("BLASPAR_CACHE_DIR", c.path().to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("task 3 of 5 failed verification"), "{msg}");
    assert!(!msg.contains("panicked at"), "{msg}");
    let rec = rec.expect("the record is written, marked unverified");
    assert!(!rec.results_verified);
    let failed: Vec<_> = rec
        .verification
        .failed_tasks
        .iter()
        .map(|f| f.task)
        .collect();
    assert_eq!(failed, vec![3]);
    assert_eq!(rec.verification.fingerprints[3], None);
}

/// Every operation's check catches a wrong result in the worker that computed it, on a
/// thread worker and in a worker process: exactly that task fails, by its operation's
/// check, and the others pass.
#[test]
fn a_corrupted_result_of_every_operation_fails_exactly_its_task() {
    let c = cache();
    for op in ["gemm", "solve", "cholesky", "qr", "eigh", "svd"] {
        for strategy in ["threads-2", "procs-2"] {
            let (out, rec) = run(
                exe(),
                &[
                    "-s",
                    strategy,
                    "--op",
                    op,
                    "--results",
                    "fingerprints",
                    "--tasks",
                    "4",
                    "--size",
                    "40",
                    "--inject-corruption",
                    "2",
                ],
                &[("BLASPAR_CACHE_DIR", c.path().to_str().unwrap())],
            );
            let what = format!("{op} on {strategy}: {}", text(&out));
            assert_eq!(out.status.code(), Some(1), "{what}");
            assert!(text(&out).contains("task 2 of 4 failed"), "{what}");
            assert!(!text(&out).contains("panicked at"), "{what}");
            let rec = rec.expect("the record is written, marked unverified");
            assert_eq!(rec.operation.name(), op);
            assert!(!rec.results_verified, "{what}");
            let failed: Vec<_> = rec.verification.failed_tasks.iter().collect();
            assert_eq!(failed.len(), 1, "{what}");
            assert_eq!(failed[0].task, 2, "{what}");
            if op != "gemm" {
                assert!(failed[0].check.is_some(), "{what}: {:?}", failed[0]);
            }
            let passed = rec.verification.fingerprints.iter().flatten().count();
            assert_eq!(passed, 3, "{what}");
        }
    }
}

//! `blaspar advise` on recommendation files: the shell passes `bash -n` and sets each
//! library's variable when sourced, the Python compiles (`python3 -m py_compile`), the Rust
//! type-checks on its own (`rustc --emit=metadata`, warnings denied), for a real sweep's
//! answer and for a tie set that touches every placement and every library (and the same
//! set undecided, with nothing surely as fast); a missing,
//! unreadable or newer file is one line and exit 1, bad arguments exit 2.

use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};

const QUICK: &str = include_str!("../../../results/2026-11-23-vm-sweep-quick/recommendation.json");

fn advise(dir: Option<&Path>, args: &[&str], cwd: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blaspar"));
    cmd.current_dir(cwd).arg("advise");
    if let Some(dir) = dir {
        cmd.arg(dir);
    }
    cmd.args(args).output().expect("blaspar starts")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// A tie set with one configuration per library, every placement among them, parallel
/// data generation, a library default, and a library and strategy of another version.
fn everything() -> Value {
    let mut rec: Value = serde_json::from_str(QUICK).unwrap();
    let template = rec["workloads"][0]["best"].clone();
    let choice = |backend: &str, strategy: &str, generation: &str| {
        let mut c = template.clone();
        c["backend"] = json!(backend);
        c["strategy"] = json!(strategy);
        c["generation"] = json!(generation);
        c
    };
    let set = vec![
        choice("blis", "procs-2", "serial"),
        choice("openblas-pthread", "hybrid-procs-2x2", "serial"),
        choice("openblas-openmp", "blas-default", "serial"),
        choice("openblas-serial", "sequential", "serial"),
        choice("mkl-seq", "batched-2", "serial"),
        choice("mkl-iomp", "hybrid-threads-2x2", "serial"),
        choice("faer", "blas-2", "parallel"),
        choice("matrixmultiply", "threads-3", "serial"),
        choice("future-lib", "warp-9", "serial"),
    ];
    rec["workloads"][0]["best"] = set[0].clone();
    rec["workloads"][0]["tie_set"] = json!(set);
    rec
}

fn folder(root: &Path, name: &str, rec: &Value) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("recommendation.json"),
        serde_json::to_string_pretty(rec).unwrap(),
    )
    .unwrap();
    dir
}

fn check(tool: &str, args: &[&str], file: &Path) {
    let out = Command::new(tool)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} {}: {}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(file).unwrap()
    );
}

/// `name` sourced with BLASPAR_LIBRARY=library: the value of `var` afterwards.
fn sourced(file: &Path, library: &str, var: &str) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". '{}'; printf %s \"${{{var}-unset}}\"",
            file.display()
        ))
        .env("BLASPAR_LIBRARY", library)
        .env("OMP_NUM_THREADS", "7")
        .output()
        .expect("bash starts");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_advice_is_valid_shell_python_and_rust() {
    let tmp = tempfile::tempdir().unwrap();
    let quick = folder(tmp.path(), "quick", &serde_json::from_str(QUICK).unwrap());
    let all = folder(tmp.path(), "all", &everything());
    for (dir, name) in [(&quick, "quick"), (&all, "all")] {
        let sh = tmp.path().join(format!("{name}.sh"));
        std::fs::write(
            &sh,
            stdout(&advise(Some(dir), &["--lang", "sh"], tmp.path())),
        )
        .unwrap();
        check("bash", &["-n"], &sh);
        let py = tmp.path().join(format!("{name}.py"));
        std::fs::write(
            &py,
            stdout(&advise(Some(dir), &["--lang", "python"], tmp.path())),
        )
        .unwrap();
        check("python3", &["-m", "py_compile"], &py);
        let rs = tmp.path().join(format!("{name}.rs"));
        std::fs::write(
            &rs,
            stdout(&advise(Some(dir), &["--lang", "rust"], tmp.path())),
        )
        .unwrap();
        let meta = tmp.path().join(format!("lib{name}.rmeta"));
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
        check(
            &rustc,
            &[
                "--edition",
                "2024",
                "--crate-type",
                "lib",
                "--emit=metadata",
                "-D",
                "warnings",
                "-o",
                meta.to_str().unwrap(),
            ],
            &rs,
        );
    }

    // The shell sets each library's own variable to the threads of its configuration.
    let sh = tmp.path().join("all.sh");
    assert_eq!(sourced(&sh, "blis", "BLIS_NUM_THREADS"), "1");
    assert_eq!(
        sourced(&sh, "openblas-pthread", "OPENBLAS_NUM_THREADS"),
        "2"
    );
    assert_eq!(sourced(&sh, "openblas-openmp", "OMP_NUM_THREADS"), "unset");
    assert_eq!(sourced(&sh, "mkl-iomp", "MKL_NUM_THREADS"), "2");
    assert_eq!(sourced(&sh, "mkl-seq", "MKL_NUM_THREADS"), "unset");
    // Without BLASPAR_LIBRARY: the best's library.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". '{}'; printf %s \"$BLIS_NUM_THREADS\"",
            sh.display()
        ))
        .env_remove("BLASPAR_LIBRARY")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1");
    let quick_sh = std::fs::read_to_string(tmp.path().join("quick.sh")).unwrap();
    assert!(quick_sh.contains("export MKL_NUM_THREADS=1"), "{quick_sh}");

    let rust = std::fs::read_to_string(tmp.path().join("all.rs")).unwrap();
    for expected in [
        "pub mod blis",
        "bli_thread_set_num_threads(1)",
        "openblas_set_num_threads(2)",
        "mkl_set_num_threads_local(2)",
        "super::pool(2, tasks, set_threads, multiply)",
        "super::pool(3, tasks, set_threads, multiply)",
        ".env(\"BLIS_NUM_THREADS\", \"1\")",
        "cblas_dgemm_batch",
        "Par::rayon(2)",
    ] {
        assert!(rust.contains(expected), "{expected} missing:\n{rust}");
    }
    let python = std::fs::read_to_string(tmp.path().join("all.py")).unwrap();
    for expected in [
        "\"blis\": {\"BLIS_NUM_THREADS\": \"1\"}",
        "ProcessPoolExecutor(",
        "inner_max_num_threads=2",
        "ThreadPoolExecutor(max_workers=3)",
        "def run_blas_2_pgen(",
        "run = run_procs_2",
    ] {
        assert!(python.contains(expected), "{expected} missing:\n{python}");
    }
}

#[test]
fn with_nothing_surely_as_fast_the_undecided_set_is_advised_and_said_so() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rec = everything();
    let w = &mut rec["workloads"][0];
    w["undecided"] = w["tie_set"].take();
    w["tie_set"] = json!([]);
    w["undecided_kinds"] = w["kinds"].take();
    w["kinds"] = json!([]);
    rec["schema_version"] = json!(3);
    let dir = folder(tmp.path(), "undecided", &rec);
    let sh = stdout(&advise(Some(&dir), &[], tmp.path()));
    assert!(
        sh.contains("# Nothing is surely as fast as the fastest yet.\n# Undecided (not told apart from the fastest by these runs), fastest first: procs-2 on blis"),
        "{sh}"
    );
    assert!(sh.contains("BLIS_NUM_THREADS=1"), "{sh}");
    assert!(sh.contains("MKL_NUM_THREADS=2"), "{sh}");
}

/// A noisy sweep: the best alone is "as fast", its equals on other libraries undecided.
/// Each library still gets its fastest configuration not surely slower, marked undecided.
#[test]
fn the_best_alone_as_fast_still_advises_every_library_not_surely_slower() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rec = everything();
    let w = &mut rec["workloads"][0];
    let mut set = w["tie_set"].take();
    let rest: Vec<serde_json::Value> = set.as_array_mut().unwrap().drain(1..).collect();
    let best = set[0]["backend"].as_str().unwrap().to_string();
    let others: Vec<String> = rest
        .iter()
        .map(|c| c["backend"].as_str().unwrap().to_string())
        .filter(|b| *b != best)
        .collect();
    assert!(!others.is_empty(), "the fixture has several libraries");
    w["tie_set"] = set;
    w["undecided"] = json!(rest);
    rec["schema_version"] = json!(3);
    let dir = folder(tmp.path(), "noisy", &rec);
    let sh = stdout(&advise(Some(&dir), &[], tmp.path()));
    assert!(sh.contains("# As fast as the fastest"), "{sh}");
    assert!(
        sh.contains("# Undecided (not told apart from the fastest by these runs)"),
        "{sh}"
    );
    for b in &others {
        assert!(sh.contains(&format!("  {b})")), "{b} missing:\n{sh}");
    }
    assert!(sh.contains("(undecided against the best):"), "{sh}");
}

/// One line on stderr, starting `error: `, containing `expected`, with exit status `code`.
fn assert_fails(out: &Output, code: i32, expected: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(expected), "expected '{expected}' in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_unreadable_or_newer_files_and_bad_arguments_are_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_fails(
        &advise(Some(&empty), &[], tmp.path()),
        1,
        "recommendation.json",
    );
    let torn = tmp.path().join("torn");
    std::fs::create_dir_all(&torn).unwrap();
    std::fs::write(
        torn.join("recommendation.json"),
        "{\"schema_version\": 1, \"work",
    )
    .unwrap();
    assert_fails(
        &advise(Some(&torn), &[], tmp.path()),
        1,
        "is not a sweep's recommendation",
    );
    let mut newer: Value = serde_json::from_str(QUICK).unwrap();
    newer["schema_version"] = json!(99);
    let newer = folder(tmp.path(), "newer", &newer);
    assert_fails(&advise(Some(&newer), &[], tmp.path()), 1, "newer layout");

    let quick = folder(tmp.path(), "quick", &serde_json::from_str(QUICK).unwrap());
    assert_fails(
        &advise(Some(&quick), &["--lang", "fortran"], tmp.path()),
        2,
        "fortran",
    );
    assert_fails(
        &advise(Some(&quick), &["--workload", "16"], tmp.path()),
        2,
        "not TASKSxSIZE",
    );
    assert_fails(
        &advise(Some(&quick), &["--workload", "8x500"], tmp.path()),
        2,
        "no workload 8x500",
    );
    assert!(
        advise(Some(&quick), &["--workload", "16x1000"], tmp.path())
            .status
            .success()
    );

    // No DIR: the answer written last under target/blaspar-sweeps, or one line naming it.
    assert_fails(
        &advise(None, &[], tmp.path()),
        1,
        "no sweep under target/blaspar-sweeps",
    );
    let sweeps = tmp.path().join("target/blaspar-sweeps");
    folder(&sweeps, "1", &serde_json::from_str(QUICK).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(20));
    folder(&sweeps, "2", &everything());
    let out = advise(None, &["--lang", "sh"], tmp.path());
    assert!(stdout(&out).contains("BLASPAR_LIBRARY:-blis"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("blaspar-sweeps/2/recommendation.json"));
}

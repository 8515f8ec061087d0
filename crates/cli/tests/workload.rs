//! `run --workload FILE.toml` through the real front binary and real engines: a mixed file
//! on thread workers and worker processes (every task verified by its worker, the groups,
//! FLOPs and idle share in the record, the same results either way), mixed operations on
//! BLIS, batched refused with the reason, and a bad file as one line with exit status 2.

use blaspar_core::record::RunRecord;
use std::path::Path;
use std::process::{Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_blaspar");

/// Products only (matrixmultiply multiplies and nothing else): rectangular and square, of
/// different sizes, so that the queue's order and the shapes matter.
const PRODUCTS: &str = r#"
[[tasks]]
op = "gemm"
shape = [40, 30, 50]   # A is 40 x 30, B is 30 x 50
count = 3

[[tasks]]
op = "gemm"
size = 24
count = 2

[[tasks]]
op = "gemm"
shape = [64, 8, 16]
count = 1
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// `blaspar run -b BACKEND -s STRATEGY --workload FILE --json ...`: the output and record.
fn run(backend: &str, strategy: &str, file: &str, extra: &[&str]) -> (Output, Option<RunRecord>) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = blaspar_testkit::engine::front_with_engine(EXE, backend)
        .env("BLASPAR_HISTORY", "off")
        .args(["run", "-b", backend, "-s", strategy, "--workload", file])
        .args(extra)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("blaspar starts");
    let record = std::fs::read(&json)
        .ok()
        .map(|b| serde_json::from_slice(&b).expect("the record parses"));
    (out, record)
}

fn text(out: &Output) -> String {
    blaspar_testkit::engine::text(out)
}

/// What every verified run of a workload file records.
fn check_record(r: &RunRecord, strategy: &str, tasks: usize, groups: usize, flops: f64) {
    assert_eq!(r.strategy, strategy);
    assert!(r.results_verified, "{:?}", r.verification);
    assert_eq!(r.results, "fingerprints");
    assert_eq!(r.tasks, tasks);
    assert_eq!(r.verification.fingerprints.len(), tasks);
    assert!(r.verification.fingerprints.iter().all(Option::is_some));
    assert!(r.verification.worst_rel_error <= r.verification.tolerance);
    let file = r.workload_file.as_ref().expect("the record names its file");
    assert_eq!((file.tasks, file.groups.len()), (tasks, groups));
    assert!(
        (file.total_flops - flops).abs() <= 1e-9 * flops,
        "{} != {flops}",
        file.total_flops
    );
    assert!(file.order.contains("largest"), "{}", file.order);
    let per_worker: usize = r.workers_cpu.iter().map(|w| w.tasks).sum();
    assert_eq!(per_worker, tasks);
    let t = &r.time.task_seconds;
    assert!((0.0..=1.0).contains(&t.idle_share), "{t:?}");
    let expected = t.idle / (r.workers as f64 * r.seconds_total);
    assert!((t.idle_share - expected).abs() < 1e-9, "{t:?}");
    assert!((r.gflops - flops / r.seconds_total / 1e9).abs() <= 1e-9 * r.gflops);
}

#[test]
fn a_mixed_file_runs_on_threads_and_processes_with_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "products.toml", PRODUCTS);
    let flops =
        3.0 * 2.0 * 40.0 * 30.0 * 50.0 + 2.0 * 2.0 * 24f64.powi(3) + 2.0 * 64.0 * 8.0 * 16.0;
    let mut fingerprints = Vec::new();
    for strategy in ["threads-2", "procs-2"] {
        let (out, record) = run("matrixmultiply", strategy, &file, &[]);
        assert!(out.status.success(), "{strategy}: {}", text(&out));
        let r = record.expect("a record");
        check_record(&r, strategy, 6, 3, flops);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("workload file") && stdout.contains("3 x gemm 40x30x50"),
            "{stdout}"
        );
        assert!(stdout.contains("% of workers x wall"), "{stdout}");
        assert_eq!(r.workload_file.as_ref().unwrap().groups[1].label, "gemm 24");
        if strategy == "procs-2" {
            assert!(r.workers_cpu.iter().all(|w| w.pid.is_some()));
        }
        fingerprints.push(r.verification.fingerprints.clone());
    }
    // Each task's data come from its id: threads and processes computed the same products.
    for (a, b) in fingerprints[0].iter().zip(&fingerprints[1]) {
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!((a - b).abs() <= 1e-12 * a.abs(), "{a} vs {b}");
    }
}

#[test]
fn a_workload_file_run_enters_the_history_under_the_file_label() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "products.toml", PRODUCTS);
    let history = dir.path().join("history.jsonl");
    let h = history.to_str().unwrap();
    let (out, record) = run("matrixmultiply", "threads-2", &file, &["--history", h]);
    assert!(out.status.success(), "{}", text(&out));
    let label = record.unwrap().workload_file.unwrap().label();
    assert!(label.starts_with("file-products-"), "{label}");
    let lines = std::fs::read_to_string(&history).expect("a history entry");
    let entry: serde_json::Value =
        serde_json::from_str(lines.lines().next().unwrap().split('\t').next().unwrap()).unwrap();
    assert_eq!(
        entry["benchmark"],
        format!("matrixmultiply/threads-2/{label}").as_str()
    );
}

#[test]
fn mixed_operations_run_on_blis_each_checked_by_its_worker() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "ops.toml",
        "[[tasks]]\nop = \"gemm\"\nshape = [60, 40, 80]\ncount = 2\n\
         [[tasks]]\nop = \"svd\"\nsize = 48\ncount = 2\n\
         [[tasks]]\nop = \"cholesky\"\nsize = 64\ncount = 1\n",
    );
    let flops = 2.0 * 2.0 * 60.0 * 40.0 * 80.0
        + 2.0 * 21.0 * 48f64.powi(3)
        + (64f64.powi(3) / 3.0 + 0.5 * 64f64.powi(2) + 64.0 / 6.0);
    for strategy in ["threads-2", "procs-2"] {
        let (out, record) = run("blis", strategy, &file, &["--kernel", "default"]);
        assert!(out.status.success(), "{strategy}: {}", text(&out));
        let r = record.expect("a record");
        check_record(&r, strategy, 5, 3, flops);
        let ops: Vec<String> = r
            .workload_file
            .as_ref()
            .unwrap()
            .groups
            .iter()
            .map(|g| g.op.to_string())
            .collect();
        assert_eq!(ops, ["gemm", "svd", "cholesky"]);
    }
}

#[test]
fn batched_refuses_a_workload_file_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "products.toml", PRODUCTS);
    let (out, record) = run("matrixmultiply", "batched-2", &file, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(blaspar_core::registry::EXIT_UNSUPPORTED as i32),
        "{err}"
    );
    assert!(err.contains("mixes operations and shapes"), "{err}");
    assert!(record.is_none());
}

/// The front binary alone (no engine is reached): exit status 2 and one line.
fn rejected(args: &[&str]) -> String {
    let out = Command::new(EXE)
        .env(
            "BLASPAR_ENGINE_DIR",
            std::env::temp_dir().join("blaspar-no-engines-here"),
        )
        .args(args)
        .output()
        .expect("blaspar starts");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn a_bad_workload_file_is_one_line_naming_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = ["run", "-s", "threads-2", "--workload"];
    for (text, want) in [
        (
            "[[tasks]]\nop = \"qr\"\nshape = [3, 4, 5]\ncount = 2\n",
            "line 3: key `shape`: shape = [m, k, n] is for gemm only",
        ),
        (
            "[[tasks]]\nop = \"gemm\"\nsize = 8\ncount = 1\nsizes = 3\n",
            "line 5: key `sizes`: unknown field `sizes`",
        ),
        (
            "[[tasks]]\nop = \"gemm\"\nsize = 8\ncount = [1\n",
            "line 4: key `count`:",
        ),
        ("", "line 1: key `tasks`: no task groups"),
    ] {
        let file = write(dir.path(), "bad.toml", text);
        let err = rejected(&[&s[..], &[file.as_str()]].concat());
        assert!(
            err.starts_with(&format!("error: {file} {want}")),
            "{text:?}: {err}"
        );
    }
    let err = rejected(&[&s[..], &["/nonexistent/w.toml"]].concat());
    assert!(
        err.contains("cannot read the workload file /nonexistent/w.toml"),
        "{err}"
    );
    // Four trillion tiny tasks: their records alone exceed the memory, refused before
    // anything is allocated.
    let file = write(
        dir.path(),
        "huge.toml",
        "[[tasks]]\nop = \"gemm\"\nsize = 2\ncount = 4000000000000\n",
    );
    let err = rejected(&[&s[..], &[file.as_str()]].concat());
    assert!(
        err.contains("a record of each of its 4000000000000 tasks"),
        "{err}"
    );
    let file = write(dir.path(), "good.toml", PRODUCTS);
    let err = rejected(&[&s[..], &[file.as_str(), "--tasks", "4"]].concat());
    assert!(err.contains("--tasks"), "{err}");
    let err = rejected(&[&s[..], &[file.as_str(), "--results", "matrices"]].concat());
    assert!(
        err.contains("a workload file's results are checked"),
        "{err}"
    );
}

/// A workload file of more groups than the environment can carry to worker processes (one
/// variable holds at most 128 KiB): its groups reach them through shared memory, and the
/// run's line names the first groups and counts the rest.
#[test]
fn a_file_of_thousands_of_groups_runs_on_worker_processes() {
    let dir = tempfile::tempdir().unwrap();
    let groups: String = (0..3000)
        .map(|i| {
            format!(
                "[[tasks]]\nop = \"gemm\"\nshape = [{}, 8, 9]\ncount = 1\n\n",
                8 + i % 40
            )
        })
        .collect();
    let file = write(dir.path(), "many.toml", &groups);
    let (out, record) = run("blis", "procs-2", &file, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let r = record.expect("record");
    assert_eq!(r.workload_file.as_ref().expect("groups").groups.len(), 3000);
    assert!(r.results_verified);
    let said = text(&out);
    assert!(said.contains("and 2988 more groups"), "{said}");
}

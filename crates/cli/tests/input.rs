//! `run --input DIR` through the real front binary and the BLIS engine: folders of `.npy`
//! files (written here as bytes, no NumPy) on thread workers and worker processes, loaded
//! by the workers or by the parent; gemm's pairing, an SVD folder, Cholesky's lower
//! triangle; and every bad file as one line naming it, a non-zero exit and no record.

use blaspar_core::folder::Loading;
use blaspar_core::record::RunRecord;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const EXE: &str = env!("CARGO_BIN_EXE_blaspar");

/// Writes a version 1.0 `.npy` file of `rows` x `cols` values (`value(i, j)`), in C or
/// Fortran order, with dtype `descr` (8-byte values whatever it says).
fn npy(
    dir: &Path,
    name: &str,
    (rows, cols): (usize, usize),
    fortran: bool,
    descr: &str,
    value: impl Fn(usize, usize) -> f64,
) {
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({rows}, {cols}), }}",
        if fortran { "True" } else { "False" }
    );
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    let order: Vec<(usize, usize)> = if fortran {
        (0..cols)
            .flat_map(|j| (0..rows).map(move |i| (i, j)))
            .collect()
    } else {
        (0..rows)
            .flat_map(|i| (0..cols).map(move |j| (i, j)))
            .collect()
    };
    for (i, j) in order {
        bytes.extend(value(i, j).to_le_bytes());
    }
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// A float64 `.npy` file whose header has `shape` (as written, e.g. `'shape': (2, 2, 4)`),
/// followed by `data` zero bytes.
fn raw(dir: &Path, name: &str, shape: &str, data: usize) {
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, {shape}, }}");
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, data));
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Values in [0, 1) that differ from entry to entry and file to file.
fn noise(seed: u64) -> impl Fn(usize, usize) -> f64 {
    move |i, j| {
        let mut x = seed ^ ((i as u64) << 32 | j as u64);
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 29;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn c(dir: &Path, name: &str, shape: (usize, usize), seed: u64) {
    npy(dir, name, shape, false, "<f8", noise(seed));
}

/// `blaspar run -b blis -s STRATEGY --input DIR ... --json`: the output and the record.
fn run(strategy: &str, dir: &Path, extra: &[&str]) -> (Output, Option<RunRecord>) {
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("run.json");
    let out = blaspar_testkit::engine::front_with_engine(EXE, "blis")
        .env("BLASPAR_HISTORY", "off")
        .args(["run", "-b", "blis", "--kernel", "default", "-s", strategy])
        .arg("--input")
        .arg(dir)
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

/// What every verified run over files records.
fn check_record(r: &RunRecord, strategy: &str, loading: Loading, tasks: usize) {
    assert_eq!(r.strategy, strategy);
    assert!(r.results_verified, "{:?}", r.verification);
    assert_eq!(r.results, "fingerprints");
    assert_eq!(r.tasks, tasks);
    assert!(r.verification.fingerprints.iter().all(Option::is_some));
    assert!(r.workload_file.is_none());
    let input = r.input.as_ref().expect("the record names its folder");
    assert_eq!((input.loading, input.tasks.len()), (loading, tasks));
    let bytes: u64 = input.files.iter().map(|f| f.bytes).sum();
    assert_eq!(input.total_bytes, bytes);
    let t = &r.time;
    // Loading takes generation's place: nothing was generated.
    assert_eq!((t.wall.generate, t.task_seconds.generate), (0.0, 0.0));
    assert!(t.task_seconds.load >= 0.0 && t.wall.load >= 0.0);
    if loading == Loading::Parent {
        assert!(t.wall.load <= r.seconds_total, "{t:?}");
    }
    let per_worker: usize = r.workers_cpu.iter().map(|w| w.tasks).sum();
    assert_eq!(per_worker, tasks);
}

#[test]
fn a_gemm_folder_pairs_files_and_runs_alike_on_threads_and_processes_either_loading() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // a (40 x 30) * b (30 x 50, Fortran order): a pair; c (20 x 24) is followed by nothing
    // with 24 rows: c c^T.
    c(d, "a.npy", (40, 30), 1);
    npy(d, "b.npy", (30, 50), true, "<f8", noise(2));
    c(d, "c.npy", (20, 24), 3);
    std::fs::write(d.join("notes.txt"), "not a matrix").unwrap();
    let mut fingerprints = Vec::new();
    for strategy in ["threads-2", "procs-2"] {
        for loading in [Loading::Workers, Loading::Parent] {
            let l = loading.to_string();
            let (out, record) = run(strategy, d, &["--loading", &l]);
            assert!(out.status.success(), "{strategy} {l}: {}", text(&out));
            let r = record.expect("a record");
            check_record(&r, strategy, loading, 2);
            let input = r.input.as_ref().unwrap();
            assert_eq!(input.tasks[0].files, ["a.npy", "b.npy"]);
            assert_eq!(input.tasks[1].files, ["c.npy"]);
            assert_eq!(input.tasks[0].dims.to_string(), "40x30x50");
            assert_eq!(input.tasks[1].dims.to_string(), "20x24x20");
            assert_eq!(input.files[1].order, "F");
            assert_eq!(input.ignored, ["notes.txt"]);
            let flops = 2.0 * 40.0 * 30.0 * 50.0 + 2.0 * 20.0 * 24.0 * 20.0;
            assert!((input.total_flops - flops).abs() < 1e-6);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                stdout.contains("1 products of two files, 1 of a file and its transpose"),
                "{stdout}"
            );
            assert!(stdout.contains("task-seconds load"), "{stdout}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("ignored 1 entry that is not a .npy file: notes.txt"),
                "{stderr}"
            );
            fingerprints.push(r.verification.fingerprints.clone());
        }
    }
    // The same files gave the same products, whoever loaded them.
    for other in &fingerprints[1..] {
        for (a, b) in fingerprints[0].iter().zip(other) {
            let (a, b) = (a.unwrap(), b.unwrap());
            assert!((a - b).abs() <= 1e-12 * a.abs(), "{a} vs {b}");
        }
    }
    // Overlapped: the next task's files are read while the current one computes.
    let (out, record) = run("threads-2", d, &["--generation", "overlapped"]);
    assert!(out.status.success(), "{}", text(&out));
    check_record(&record.unwrap(), "threads-2", Loading::Workers, 2);
}

#[test]
fn an_svd_folder_and_cholesky_of_the_lower_triangle() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    c(d, "m0.npy", (24, 24), 4);
    npy(d, "m1.npy", (32, 32), true, "<f8", noise(5));
    c(d, "m2.npy", (16, 16), 6);
    let (out, record) = run("procs-2", d, &["--op", "svd"]);
    assert!(out.status.success(), "{}", text(&out));
    let r = record.unwrap();
    check_record(&r, "procs-2", Loading::Workers, 3);
    assert_eq!(r.operation.to_string(), "svd");
    assert_eq!(r.size, 32);

    // Positive definite in its lower triangle (diagonal n), anything above it: LAPACK and
    // the check both see the symmetric matrix of the lower triangle.
    let spd = tempfile::tempdir().unwrap();
    let n = 30;
    let lower = move |i: usize, j: usize| match i.cmp(&j) {
        std::cmp::Ordering::Equal => n as f64,
        std::cmp::Ordering::Greater => noise(7)(i, j),
        std::cmp::Ordering::Less => -1.0e3,
    };
    npy(spd.path(), "s.npy", (n, n), false, "<f8", lower);
    for op in ["cholesky", "eigh"] {
        let (out, record) = run(
            "threads-2",
            spd.path(),
            &["--op", op, "--loading", "parent"],
        );
        assert!(out.status.success(), "{op}: {}", text(&out));
        check_record(&record.unwrap(), "threads-2", Loading::Parent, 1);
    }
    // Not positive definite: the run fails naming the task and its file.
    npy(spd.path(), "t.npy", (n, n), false, "<f8", |i, j| {
        if i == j { -1.0 } else { 0.0 }
    });
    let (out, record) = run("threads-2", spd.path(), &["--op", "cholesky"]);
    let err = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("task 1 of 2 failed verification") && err.contains("(file t.npy)"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // Recorded as every failed verification is: the task's error is infinite (no result).
    let r = record.expect("a record");
    assert!(!r.results_verified);
    assert_eq!(r.verification.failed_tasks[0].task, 1);
    assert!(r.verification.failed_tasks[0].rel_error.is_infinite());
}

/// A folder of more files than a worker's spec could list in its environment (128 KiB a
/// variable): worker processes read the files and tasks from shared memory.
#[test]
fn worker_processes_take_a_folder_of_many_files() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..1500 {
        c(
            dir.path(),
            &format!("a-matrix-with-a-rather-long-file-name-{i:05}.npy"),
            (3, 3),
            i,
        );
    }
    let (out, record) = run("procs-2", dir.path(), &["--op", "qr"]);
    assert!(out.status.success(), "{}", text(&out));
    check_record(&record.unwrap(), "procs-2", Loading::Workers, 1500);
}

#[test]
fn an_injected_corruption_fails_the_task_naming_its_file() {
    let dir = tempfile::tempdir().unwrap();
    c(dir.path(), "a.npy", (20, 30), 8);
    c(dir.path(), "b.npy", (30, 10), 9);
    let (out, _) = run("procs-2", dir.path(), &["--inject-corruption", "0"]);
    let err = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("task 0 of 1 failed verification") && err.contains("(file a.npy and b.npy)"),
        "{err}"
    );
}

/// Writes one file into a folder.
type MakeFile = dyn Fn(&Path);

/// The front binary alone (no engine is reached): exit status 2 and one line.
fn rejected(args: &[&str]) -> String {
    let out = Command::new(EXE)
        .env(
            "BLASPAR_ENGINE_DIR",
            std::env::temp_dir().join("blaspar-no-engines-here"),
        )
        .env("BLASPAR_HISTORY", "off")
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
fn every_bad_file_is_one_line_naming_it_before_anything_runs() {
    let cases: [(&str, &MakeFile, &str); 6] = [
        (
            "text.npy",
            &|d| std::fs::write(d.join("text.npy"), "1,2\n3,4\n").unwrap(),
            "not a .npy file",
        ),
        (
            "x.npy",
            &|d| npy(d, "x.npy", (2, 2), false, "<f4", noise(1)),
            "dtype <f4, expected float64 (<f8)",
        ),
        (
            "cube.npy",
            &|d| raw(d, "cube.npy", "'shape': (2, 2, 4)", 16 * 8),
            "3-D array (shape (2, 2, 4)), expected a 2-D matrix",
        ),
        (
            "cut.npy",
            &|d| {
                c(d, "cut.npy", (4, 4), 1);
                let path = d.join("cut.npy");
                let len = std::fs::metadata(&path).unwrap().len();
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(len - 8)
                    .unwrap();
            },
            "truncated: 248 bytes, expected 256",
        ),
        (
            "wide.npy",
            &|d| c(d, "wide.npy", (4, 6), 1),
            "svd takes square matrices; this one is 4 x 6",
        ),
        (
            "empty.npy",
            &|d| raw(d, "empty.npy", "'shape': (0, 4)", 0),
            "empty matrix (shape (0, 4))",
        ),
    ];
    for (name, make, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A good file first: the bad one is named, whatever comes before it.
        c(d, "a-good.npy", (4, 4), 2);
        make(d);
        let json = d.join("run.json");
        let err = rejected(&[
            "run",
            "-s",
            "threads-2",
            "--op",
            "svd",
            "--input",
            d.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ]);
        let file = d.join(name).display().to_string();
        assert!(
            err.starts_with(&format!("error: {file}: {want}")),
            "{name}: {err}"
        );
        assert!(!json.exists(), "{name}: no record");
    }
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().to_str().unwrap();
    let err = rejected(&["run", "-s", "threads-2", "--input", dir]);
    assert!(err.contains("the folder is empty"), "{err}");
    std::fs::write(empty.path().join("a.csv"), "1").unwrap();
    let err = rejected(&["run", "-s", "threads-2", "--input", dir]);
    assert!(
        err.contains("no .npy files (1 other entries ignored)"),
        "{err}"
    );
    c(empty.path(), "a.npy", (4, 4), 1);
    let err = rejected(&[
        "run",
        "-s",
        "threads-2",
        "--input",
        dir,
        "--generation",
        "parallel",
    ]);
    assert!(
        err.contains("--generation parallel") && err.contains("--input"),
        "{err}"
    );
    let err = rejected(&["run", "-s", "threads-2", "--loading", "parent"]);
    assert!(err.contains("--input"), "{err}");
    let err = rejected(&["run", "-s", "threads-2", "--input", dir, "--tasks", "3"]);
    assert!(err.contains("cannot be used with"), "{err}");
}

/// A file deleted after the check at start, before its worker loads it: the run fails
/// naming the file and the task, with no record. One worker takes the large task first
/// (largest first) and the small file is deleted while that task computes.
#[test]
fn a_file_gone_before_its_task_loads_fails_the_run_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Its SVD takes long enough (about a second here) for the delete to land first.
    c(d, "big.npy", (1000, 1000), 1);
    c(d, "small.npy", (8, 8), 2);
    let json = d.join("run.json");
    let mut child = blaspar_testkit::engine::front_with_engine(EXE, "blis")
        .env("BLASPAR_HISTORY", "off")
        .args([
            "run",
            "-b",
            "blis",
            "--kernel",
            "default",
            "-s",
            "sequential",
        ])
        .args(["--op", "svd", "--input"])
        .arg(d)
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains("running the 2 tasks") {
            std::fs::remove_file(d.join("small.npy")).unwrap();
        }
        line.clear();
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{seen}");
    let file = d.join("small.npy").display().to_string();
    assert!(
        seen.contains(&format!("task 1: cannot load {file}")),
        "{seen}"
    );
    assert!(!json.exists());
}

#[test]
fn an_input_run_enters_the_history_under_the_folder_and_its_loading() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("photos");
    std::fs::create_dir(&dir).unwrap();
    c(&dir, "a.npy", (12, 12), 1);
    c(&dir, "b.npy", (12, 12), 2);
    let history = root.path().join("history.jsonl");
    let h = history.to_str().unwrap();
    for loading in ["workers", "parent"] {
        let (out, record) = run("threads-2", &dir, &["--loading", loading, "--history", h]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            record
                .unwrap()
                .input
                .unwrap()
                .label()
                .starts_with("npy-photos-")
        );
    }
    let ids: Vec<String> = std::fs::read_to_string(&history)
        .expect("history entries")
        .lines()
        .map(|l| {
            let e: serde_json::Value = serde_json::from_str(l.split('\t').next().unwrap()).unwrap();
            e["benchmark"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids[0].starts_with("blis/threads-2/npy-photos-"), "{ids:?}");
    let label = ids[0].rsplit('/').next().unwrap();
    assert_eq!(ids[1], format!("blis/threads-2+pload/{label}"));
}

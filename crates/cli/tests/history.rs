//! The history through real runs: every verified `blaspar run` appends one line; runs appending at
//! once from several processes never interleave; a torn line is reported with its line
//! number by `blaspar history` and left in place, and later runs still append whole lines;
//! lines another version wrote are shown or reported by line number, never a panic.

use std::path::Path;
use std::process::{Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_blaspar");

fn front() -> Command {
    blaspar_testkit::engine::front_with_engine(EXE, "matrixmultiply")
}

/// `blaspar run` of a small sequential benchmark, with `extra` options.
fn run_command(extra: &[&str]) -> Command {
    let mut cmd = front();
    cmd.args(["run", "-b", "matrixmultiply", "-s", "sequential"])
        .args(["--tasks", "2", "--size", "64"])
        .args(extra);
    cmd
}

fn run(history: &Path) -> std::process::Child {
    run_command(&["--history"])
        .arg(history)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("engine starts")
}

fn history_command(history: &Path, extra: &[&str]) -> Output {
    front()
        .arg("history")
        .arg("--history")
        .arg(history)
        .args(extra)
        .output()
        .unwrap()
}

fn lines(history: &Path) -> Vec<String> {
    std::fs::read_to_string(history)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Runs `procs` runs at once, `rounds` times, each appending to `history`.
fn run_concurrently(history: &Path, procs: usize, rounds: usize) {
    for _ in 0..rounds {
        let children: Vec<_> = (0..procs).map(|_| run(history)).collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Every line is one whole entry of a verified run of the benchmark `run` measures.
fn assert_whole_entries(lines: &[String]) {
    for l in lines {
        let (json, sum) = l.rsplit_once('\t').expect("json<TAB>crc");
        assert_eq!(sum.len(), 8);
        let v: serde_json::Value = serde_json::from_str(json).expect("whole JSON");
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["benchmark"], "matrixmultiply/sequential/2x64");
        assert_eq!(v["source"], "run");
        assert_eq!(v["record"]["results_verified"], true);
        assert_eq!(v["commit"], v["record"]["commit"]);
    }
}

#[test]
fn concurrent_runs_append_whole_lines_and_a_torn_line_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("history.jsonl");
    let (procs, rounds) = (6, 3);
    run_concurrently(&h, procs, rounds);
    let all = lines(&h);
    assert_eq!(all.len(), procs * rounds);
    assert_whole_entries(&all);
    let ok = history_command(&h, &[]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success());
    assert!(
        stdout.contains(&format!("({} entries)", procs * rounds)),
        "{stdout}"
    );
    assert!(
        ok.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // Cut the last line short, as a crash mid-write would; then one more run.
    let text = std::fs::read_to_string(&h).unwrap();
    let torn = &text[..text.len() - 30];
    std::fs::write(&h, torn).unwrap();
    let out = run(&h).wait_with_output().unwrap();
    assert!(out.status.success());
    let after = std::fs::read_to_string(&h).unwrap();
    assert!(after.starts_with(torn), "earlier lines are never rewritten");
    let report = history_command(&h, &[]);
    let stderr = String::from_utf8_lossy(&report.stderr);
    let stdout = String::from_utf8_lossy(&report.stdout);
    assert!(report.status.success());
    assert!(
        stderr.contains(&format!(
            "line {}: no checksum (torn or edited line)",
            procs * rounds
        )),
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!("({} entries, 1 unusable lines)", procs * rounds)),
        "{stdout}"
    );
}

#[test]
fn history_off_and_failed_runs_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("history.jsonl");
    let out = run_command(&[])
        .env("BLASPAR_HISTORY", &h)
        .output()
        .unwrap();
    assert!(out.status.success());
    let before = std::fs::read_to_string(&h).unwrap();
    assert_eq!(before.lines().count(), 1);

    let out = run_command(&[])
        .env("BLASPAR_HISTORY", "off")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&h).unwrap(), before);

    // A run that fails verification is not history.
    let out = run_command(&["--inject-corruption", "0", "--history"])
        .arg(&h)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&h).unwrap(), before);
}

/// The line of `json` with its checksum, as any version writes it.
fn line_of(json: &serde_json::Value) -> String {
    let text = json.to_string();
    format!(
        "{text}\t{:08x}\n",
        blaspar_core::history::crc32(text.as_bytes())
    )
}

#[test]
fn lines_of_other_versions_are_shown_or_reported_by_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("history.jsonl");
    run_concurrently(&h, 1, 1);
    let real = lines(&h).remove(0);
    let entry: serde_json::Value = serde_json::from_str(real.rsplit_once('\t').unwrap().0).unwrap();
    let edited = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = entry.clone();
        edit(&mut v);
        line_of(&v)
    };
    let foreign = [
        // 2: a strategy this version does not know, and a field it does not know: shown.
        edited(&|v| {
            v["benchmark"] = "matrixmultiply/gpu-offload-4/2x64".into();
            v["record"]["strategy"] = "gpu-offload-4".into();
            v["energy_joules"] = 3.5.into();
        }),
        // 3: a field missing.
        edited(&|v| {
            v.as_object_mut().unwrap().remove("commit");
        }),
        // 4: seconds of another type.
        edited(&|v| v["seconds"] = serde_json::json!({"wall": 0.1})),
    ];
    std::fs::write(&h, format!("{real}\n{}", foreign.concat())).unwrap();

    let index = history_command(&h, &[]);
    let stdout = String::from_utf8_lossy(&index.stdout);
    let stderr = String::from_utf8_lossy(&index.stderr);
    assert!(index.status.success(), "{stderr}");
    assert!(stdout.contains("(2 entries, 2 unusable lines)"), "{stdout}");
    assert!(
        stdout.contains("matrixmultiply/gpu-offload-4/2x64"),
        "{stdout}"
    );
    assert!(
        stderr.contains("line 3: not a history entry: missing field `commit`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 4: not a history entry: invalid type: map"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let svg = dir.path().join("trend.svg");
    let trend = history_command(
        &h,
        &[
            "--benchmark",
            "matrixmultiply/gpu-offload-4/2x64",
            "--plot",
            svg.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&trend.stdout);
    assert!(
        trend.status.success(),
        "{}",
        String::from_utf8_lossy(&trend.stderr)
    );
    assert!(
        stdout.contains("matrixmultiply/gpu-offload-4/2x64 on machine"),
        "{stdout}"
    );
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
}

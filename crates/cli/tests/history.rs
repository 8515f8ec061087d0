//! The history through real runs: every verified `blaspar run` appends one line; runs appending at
//! once from several processes never interleave; a torn line is reported with its line
//! number by `blaspar history` and left in place, and later runs still append whole lines.

use std::path::Path;
use std::process::{Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_blaspar");

fn front() -> Command {
    blaspar_testkit::engine::front_with_engine(EXE, "matrixmultiply")
}

fn run(history: &Path) -> std::process::Child {
    front()
        .args([
            "run",
            "--backend",
            "matrixmultiply",
            "--strategy",
            "sequential",
        ])
        .args(["--tasks", "2", "--size", "64", "--history"])
        .arg(history)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("engine starts")
}

fn list(history: &Path) -> Output {
    front()
        .arg("history")
        .arg("--history")
        .arg(history)
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

#[test]
fn concurrent_runs_append_whole_lines_and_a_torn_line_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("history.jsonl");
    let (procs, rounds) = (6, 3);
    for _ in 0..rounds {
        let children: Vec<_> = (0..procs).map(|_| run(&h)).collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let all = lines(&h);
    assert_eq!(all.len(), procs * rounds);
    for l in &all {
        let (json, sum) = l.rsplit_once('\t').expect("json<TAB>crc");
        assert_eq!(sum.len(), 8);
        let v: serde_json::Value = serde_json::from_str(json).expect("whole JSON");
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["benchmark"], "matrixmultiply/sequential/2x64");
        assert_eq!(v["source"], "run");
        assert_eq!(v["record"]["results_verified"], true);
        assert_eq!(v["commit"], v["record"]["commit"]);
    }
    let ok = list(&h);
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
    let report = list(&h);
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

    // `off` writes nothing.
    let before = std::fs::read_to_string(&h).unwrap();
    let out = front()
        .args([
            "run",
            "-b",
            "matrixmultiply",
            "-s",
            "sequential",
            "--tasks",
            "2",
            "--size",
            "64",
        ])
        .env("BLASPAR_HISTORY", "off")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&h).unwrap(), before);

    // A run that fails verification is not history.
    let out = front()
        .args([
            "run",
            "-b",
            "matrixmultiply",
            "-s",
            "sequential",
            "--tasks",
            "2",
            "--size",
            "64",
        ])
        .args(["--inject-corruption", "0", "--history"])
        .arg(&h)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&h).unwrap(), before);
}

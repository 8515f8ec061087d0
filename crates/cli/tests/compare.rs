//! `blaspar compare` end to end on the pure-Rust backend (cheap to build): a commit against
//! itself is never flagged (exit 0; no change, or inconclusive on a loaded machine); against
//! a fixture commit that multiplies four times it is SLOWER (exit 3); the samples land in the history, whose trend flags the step; a bad
//! revision is a one-line error (exit 2).
//!
//! The repository under test is a fresh clone of this checkout's HEAD (fetched with depth 1,
//! so a shallow CI clone works), with the fixture committed in the test under an explicit
//! author. Both revisions build into one target folder under cargo's test tmpdir, which later
//! runs reuse.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_blaspar");

fn front() -> Command {
    blaspar_testkit::engine::front_with_engine(EXE, "matrixmultiply")
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=fixture",
            "-c",
            "user.email=fixture@example.invalid",
        ])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn compare(repo: &Path, tmp: &Path, a: &str, b: &str, out: &str) -> Output {
    front()
        .current_dir(repo)
        .args([
            "compare",
            a,
            b,
            "--backends",
            "matrixmultiply",
            "--strategies",
            "sequential",
        ])
        .args([
            "--tasks",
            "4",
            "--size",
            "512",
            "--samples",
            "10",
            "--warmup",
            "1",
        ])
        // The statistic's error rates are tested on synthetic samples (stats.rs); here a
        // wide threshold keeps a same-commit compare from ever flagging by chance, and a 2x
        // slowdown is far beyond it.
        .args(["--threshold", "50"])
        .arg("--out")
        .arg(tmp.join(out))
        .arg("--history")
        .arg(tmp.join("history.jsonl"))
        .arg("--target-dir")
        .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("compare-target"))
        .output()
        .expect("engine starts")
}

fn verdict(tmp: &Path, out: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(tmp.join(out).join("compare.json")).expect("compare.json");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["results"][0]["comparison"].clone()
}

/// A fresh repository under `tmp` holding this checkout's HEAD (depth 1, so a shallow CI
/// clone works); its path and commit.
fn clone_head(tmp: &Path) -> (PathBuf, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let repo = tmp.join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "--quiet"]);
    let url = format!("file://{}", root.canonicalize().unwrap().display());
    git(
        &repo,
        &[
            "fetch",
            "--quiet",
            "--no-tags",
            "--depth",
            "1",
            &url,
            "HEAD",
        ],
    );
    git(&repo, &["checkout", "--quiet", "--detach", "FETCH_HEAD"]);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    (repo, base)
}

/// Commits the fixture: every product computed four times (the same product, so it still
/// verifies): a 4x slowdown of the multiply stays far outside the noise even when other
/// jobs load the machine. Its commit.
fn commit_slow_fixture(repo: &Path) -> String {
    let lib = repo.join("crates/matrixmultiply/src/lib.rs");
    let src = std::fs::read_to_string(&lib).unwrap();
    let open = "        unsafe {\n            matrixmultiply::dgemm(\n                m,";
    let close = "                sc[1],\n            );\n        }\n";
    assert!(
        src.matches(open).count() == 1 && src.matches(close).count() == 1,
        "multiply_into changed shape: update this fixture"
    );
    let slow = src
        .replace(open, &format!("        for _ in 0..4 {{\n{open}"))
        .replace(close, &format!("{close}        }}\n"));
    std::fs::write(&lib, slow).unwrap();
    git(
        repo,
        &[
            "commit",
            "--quiet",
            "-am",
            "fixture: multiply four times (test only)",
        ],
    );
    git(repo, &["rev-parse", "HEAD"])
}

/// A commit against itself: exit 0, never an alarm.
fn assert_no_change_against_itself(repo: &Path, tmp: &Path, base: &str) {
    let same = compare(repo, tmp, base, base, "same");
    let stdout = String::from_utf8_lossy(&same.stdout);
    let stderr = String::from_utf8_lossy(&same.stderr);
    assert_eq!(same.status.code(), Some(0), "{stdout}\n{stderr}");
    let c = verdict(tmp, "same");
    // On a quiet machine the verdict is "no change"; on a loaded one 10 pairs of 30 ms runs
    // can leave the interval wider than the threshold, and "inconclusive" is then the
    // honest answer, so both are accepted (the rates are tested in stats.rs).
    assert!(
        c["verdict"] == "no-change" || c["verdict"] == "inconclusive",
        "{stdout}"
    );
    let ratio = c["ratio"].as_f64().unwrap();
    assert!((1.0 / 1.5..1.5).contains(&ratio), "{stdout}");
    assert_eq!(c["pairs"], 10);
    assert!(
        stdout.contains("matrixmultiply/sequential/4x512"),
        "{stdout}"
    );
}

/// The fixture against its base: SLOWER, exit 3, the base's binaries reused.
fn assert_fixture_is_slower(repo: &Path, tmp: &Path, base: &str, fixture: &str) {
    let slower = compare(repo, tmp, base, fixture, "slower");
    let stdout = String::from_utf8_lossy(&slower.stdout);
    let stderr = String::from_utf8_lossy(&slower.stderr);
    assert_eq!(slower.status.code(), Some(3), "{stdout}\n{stderr}");
    let c = verdict(tmp, "slower");
    assert_eq!(c["verdict"], "slower", "{stdout}");
    assert!(c["ratio"].as_f64().unwrap() > 2.0, "{stdout}");
    assert!(c["ci_low"].as_f64().unwrap() > 1.0, "{stdout}");
    assert!(stdout.contains("SLOWER"), "{stdout}");
    assert!(stderr.contains("built binaries found"), "{stderr}");
    let samples = std::fs::read_to_string(tmp.join("slower/samples.jsonl")).unwrap();
    assert_eq!(samples.lines().count(), 20);
}

/// Every measured sample is in the history; the trend shows the step at the fixture.
fn assert_trend_steps_at_the_fixture(repo: &Path, tmp: &Path, base: &str, fixture: &str) {
    let history = front()
        .current_dir(repo)
        .args(["history", "--benchmark", "matrixmultiply/sequential/4x512"])
        .arg("--history")
        .arg(tmp.join("history.jsonl"))
        .arg("--plot")
        .arg(tmp.join("trend.svg"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&history.stdout);
    assert!(
        history.status.success(),
        "{}",
        String::from_utf8_lossy(&history.stderr)
    );
    assert!(stdout.contains("commits in git order"), "{stdout}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with(&base[..10]) || l.starts_with(&fixture[..10]))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(
        rows[0].starts_with(&base[..10]) && rows[0].contains(" 30 "),
        "{stdout}"
    );
    assert!(
        rows[1].starts_with(&fixture[..10]) && rows[1].contains("STEP: slower"),
        "{stdout}"
    );
    let svg = std::fs::read_to_string(tmp.join("trend.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains(&base[..10]),
        "trend plot"
    );
}

#[test]
fn compare_finds_no_change_against_itself_and_flags_an_injected_slowdown() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path();
    let (repo, base) = clone_head(tmp);
    let fixture = commit_slow_fixture(&repo);
    assert_no_change_against_itself(&repo, tmp, &base);
    assert_fixture_is_slower(&repo, tmp, &base, &fixture);
    assert_trend_steps_at_the_fixture(&repo, tmp, &base, &fixture);

    // A revision that does not exist: one line, exit 2, nothing built.
    let bad = compare(&repo, tmp, "no-such-rev", &base, "bad");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("'no-such-rev' is not a commit"), "{err}");
}

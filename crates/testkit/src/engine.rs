//! Helpers for the integration tests of every engine binary (one body for every backend).

use blaspar_core::record::RunRecord;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `exe run <args> --json <tmp>`; returns the output and the record when one was written.
pub fn run(exe: &Path, args: &[&str], envs: &[(&str, &str)]) -> (Output, Option<RunRecord>) {
    let dir =
        std::env::temp_dir().join(format!("blaspar-test-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json = dir.join("run.json");
    let mut cmd = Command::new(exe);
    cmd.arg("run").args(args).arg("--json").arg(&json);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("engine starts");
    let record = std::fs::read(&json)
        .ok()
        .map(|b| serde_json::from_slice(&b).expect("record parses"));
    let _ = std::fs::remove_dir_all(&dir);
    (out, record)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Text of stdout and stderr, for messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Process ids of the live children of `pid` (from `/proc/*/stat`).
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
                    let rest = &s[s.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Whether a process with this id exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s[s.rfind(')')? + 1..].to_string();
            rest.split_whitespace().next().map(|st| st != "Z")
        })
        .unwrap_or(false)
}

/// Runs every strategy on a small workload and checks each against `sequential`: verified,
/// same fingerprints (to 1e-12 relative), BLAS threads read back as requested in every
/// task, one worker record per worker. Process strategies run twice: products returned
/// through shared memory, and fingerprints only. A strategy written `S+pgen` runs S with
/// parallel data generation (264 x 264 matrices: two generator blocks each), `S+ogen` with
/// overlapped data generation.
pub fn assert_strategies_agree(
    exe: &Path,
    backend: &str,
    strategies: &[&str],
    envs: &[(&str, &str)],
) {
    let common = ["--backend", backend, "--tasks", "6", "--size", "264"];
    let (out, reference) = run(
        exe,
        &[&["--strategy", "sequential"], &common[..]].concat(),
        envs,
    );
    assert!(out.status.success(), "sequential failed: {}", text(&out));
    let reference = reference.expect("record written");
    assert!(reference.results_verified);
    let runs = strategies.iter().flat_map(|s| {
        let modes: &[&str] = if s.contains("procs") {
            &["matrices", "fingerprints"]
        } else {
            &["matrices"]
        };
        modes.iter().map(move |m| (*s, *m))
    });
    for (s, mode) in runs {
        let (strategy, generation) = match (s.strip_suffix("+pgen"), s.strip_suffix("+ogen")) {
            (Some(strategy), _) => (strategy, "parallel"),
            (_, Some(strategy)) => (strategy, "overlapped"),
            (None, None) => (s, "serial"),
        };
        let (out, rec) = run(
            exe,
            &[
                &[
                    "--strategy",
                    strategy,
                    "--results",
                    mode,
                    "--generation",
                    generation,
                ],
                &common[..],
            ]
            .concat(),
            envs,
        );
        assert!(out.status.success(), "{s} ({mode}) failed: {}", text(&out));
        let rec = rec.expect("record written");
        // The record names the canonical form (`hybrid-threads-2x1` runs as `threads-2`).
        let canonical: blaspar_core::Strategy = strategy.parse().expect("a valid strategy");
        assert_eq!(rec.strategy, canonical.to_string());
        assert_eq!(rec.generation.to_string(), generation);
        assert_eq!(rec.results, mode);
        assert!(rec.results_verified, "{s} not verified");
        assert_eq!(rec.verification.fingerprints.len(), 6);
        for (task, (a, b)) in rec
            .verification
            .fingerprints
            .iter()
            .zip(&reference.verification.fingerprints)
            .enumerate()
        {
            let (a, b) = (a.expect("verified task"), b.expect("verified task"));
            assert!(
                ((a - b) / b).abs() < 1e-12,
                "{s} ({mode}): task {task} differs from sequential: {a} vs {b}"
            );
        }
        if let Some(t) = rec.blas_threads_requested {
            assert_eq!(
                (rec.blas_threads_verified.min, rec.blas_threads_verified.max),
                (t as u64, t as u64),
                "{s}"
            );
        }
        assert_eq!(rec.workers_cpu.len(), rec.workers, "{s}");
        assert_eq!(
            rec.workers_cpu.iter().map(|w| w.tasks).sum::<usize>(),
            6,
            "{s}"
        );
        let mut pids: Vec<u32> = rec.workers_cpu.iter().filter_map(|w| w.pid).collect();
        if s.contains("procs") {
            pids.sort();
            pids.dedup();
            assert_eq!(pids.len(), rec.workers, "{s}: one process per worker");
            assert!(rec.time.wall.startup > 0.0, "{s}: start-up measured");
        } else {
            assert!(pids.is_empty(), "{s}: threads have no pid");
        }
        assert!(rec.gflops > 0.0 && rec.seconds_total > 0.0);
    }
}

/// A command for the front binary `front` (`env!("CARGO_BIN_EXE_blaspar")`), after checking
/// that `backend`'s engine is built next to it: the end-to-end tests of the lab's commands
/// drive real engines, which `scripts/build.sh` builds (cargo builds only the front for the
/// front's own tests).
pub fn front_with_engine(front: &str, backend: &str) -> Command {
    let engine = Path::new(front).with_file_name(format!("blaspar-engine-{backend}"));
    assert!(
        engine.exists(),
        "{} is not built: these tests drive the real engine; run scripts/build.sh first",
        engine.display()
    );
    Command::new(front)
}

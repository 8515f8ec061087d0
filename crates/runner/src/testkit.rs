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

/// Runs every strategy on a small workload and checks each against `sequential`: verified,
/// same fingerprints (to 1e-12 relative), BLAS threads read back as requested in every
/// task, one worker record per worker.
pub fn assert_strategies_agree(
    exe: &Path,
    backend: &str,
    strategies: &[&str],
    envs: &[(&str, &str)],
) {
    let common = ["--backend", backend, "--tasks", "6", "--size", "96"];
    let (out, reference) = run(
        exe,
        &[&["--strategy", "sequential"], &common[..]].concat(),
        envs,
    );
    assert!(out.status.success(), "sequential failed: {}", text(&out));
    let reference = reference.expect("record written");
    assert!(reference.results_verified);
    for s in strategies {
        let (out, rec) = run(exe, &[&["--strategy", s], &common[..]].concat(), envs);
        assert!(out.status.success(), "{s} failed: {}", text(&out));
        let rec = rec.expect("record written");
        assert_eq!(rec.strategy, *s);
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
                "{s}: task {task} differs from sequential: {a} vs {b}"
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
        assert!(rec.gflops > 0.0 && rec.seconds_total > 0.0);
    }
}

//! The pure-Rust engine binary, run for real.

use blaspar_testkit::engine::{assert_strategies_agree, run, text};
use std::path::Path;

const EXE: &str = env!("CARGO_BIN_EXE_blaspar-engine-matrixmultiply");

#[test]
fn every_supported_strategy_agrees_with_sequential() {
    assert_strategies_agree(
        Path::new(EXE),
        "matrixmultiply",
        &[
            "blas-default",
            "blas-1",
            "threads-2",
            "threads-3",
            "hybrid-threads-2x1",
            "procs-2",
            "procs-3",
            "hybrid-procs-2x1",
            "sequential+ogen",
            "threads-2+ogen",
            "procs-2+ogen",
        ],
        &[],
    );
}

#[test]
fn more_than_one_blas_thread_is_refused_with_the_reason() {
    for s in ["blas-2", "hybrid-threads-2x2", "hybrid-procs-2x2"] {
        let (out, rec) = run(
            Path::new(EXE),
            &[
                "-b",
                "matrixmultiply",
                "-s",
                s,
                "--tasks",
                "2",
                "--size",
                "16",
            ],
            &[],
        );
        assert_eq!(
            out.status.code(),
            Some(i32::from(blaspar_core::registry::EXIT_UNSUPPORTED)),
            "{s}: {}",
            text(&out)
        );
        let msg = String::from_utf8_lossy(&out.stderr);
        assert!(
            msg.contains(&format!("strategy {s} is not supported on matrixmultiply")),
            "{msg}"
        );
        assert!(!msg.contains("panicked at"));
        assert!(rec.is_none(), "no record for a run that did not happen");
    }
}

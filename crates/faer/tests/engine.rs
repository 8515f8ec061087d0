//! The faer engine binary, run for real: every in-process strategy agrees with sequential,
//! hybrids included (faer's parallelism is a value per call, so counts are per thread).

use blaspar_testkit::engine::{assert_strategies_agree, run, text};
use std::path::Path;

const EXE: &str = env!("CARGO_BIN_EXE_blaspar-engine-faer");

#[test]
fn every_supported_strategy_agrees_with_sequential() {
    assert_strategies_agree(
        Path::new(EXE),
        "faer",
        &[
            "blas-default",
            "blas-2",
            "threads-2",
            "hybrid-threads-2x2",
            "hybrid-threads-2x2+pgen",
            "blas-default+pgen",
            "procs-2",
            "hybrid-procs-2x2",
        ],
        &[],
    );
}

#[test]
fn batched_is_refused_with_the_reason() {
    let (out, rec) = run(
        Path::new(EXE),
        &[
            "-b",
            "faer",
            "-s",
            "batched-2",
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
        "{}",
        text(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("batched"));
    assert!(rec.is_none());
}

//! Runner: the command line and the orchestration of a run, for any [`Backend`].
//!
//! This crate links no BLAS. The BLAS-free front binary `blaspar` validates the command
//! line and hands a run to the engine binary of the chosen backend
//! (`blaspar-engine-<backend>`, built by each backend crate around [`engine::main`]).
//!
//! [`Backend`]: blaspar_core::Backend

pub mod batched;
pub mod cli;
pub mod compare;
pub mod engine;
pub mod execute;
pub mod history;
pub mod plot;
pub mod procs;
pub mod report;
pub mod stats;
pub mod store;
pub mod sweep;
pub mod testkit;

/// Backends this version knows how to start, in the order `blaspar backends` lists them.
pub const BACKENDS: &[&str] = &[
    "blis",
    "openblas-pthread",
    "openblas-openmp",
    "openblas-serial",
    "mkl-seq",
    "mkl-iomp",
    "faer",
    "matrixmultiply",
];

/// The commit the binary was built from.
pub const COMMIT: &str = env!("BLASPAR_COMMIT");

/// Where the engine of `backend` is: next to the running binary, or in `$BLASPAR_ENGINE_DIR`.
pub fn engine_path(backend: &str) -> std::path::PathBuf {
    let dir = std::env::var_os("BLASPAR_ENGINE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(std::path::PathBuf::from))
                .unwrap_or_else(|| std::path::PathBuf::from("."))
        });
    dir.join(engine_binary_name(backend))
}

/// Name of the engine binary of a backend.
pub fn engine_binary_name(backend: &str) -> String {
    format!("blaspar-engine-{backend}")
}

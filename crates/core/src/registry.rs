//! The engines this version knows, and where their binaries are. One binary links one BLAS
//! library, so each backend runs as its own engine binary, `blaspar-engine-<backend>`.

use std::path::PathBuf;

/// Exit status of an engine's `run` that the backend refuses ("not supported here,
/// because ..." on stderr): the lab reads the outcome from the status, never from the
/// message's words.
pub const EXIT_UNSUPPORTED: u8 = 4;

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

/// Where the engine of `backend` is: next to the running binary, or in `$BLASPAR_ENGINE_DIR`.
pub fn engine_path(backend: &str) -> PathBuf {
    let dir = std::env::var_os("BLASPAR_ENGINE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("."))
        });
    dir.join(engine_binary_name(backend))
}

/// Name of the engine binary of a backend.
pub fn engine_binary_name(backend: &str) -> String {
    format!("blaspar-engine-{backend}")
}

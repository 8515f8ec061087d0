//! The engines this version knows, and where their binaries are. One binary links one BLAS
//! library, so each backend runs as its own engine binary, `blaspar-engine-<backend>`.
//!
//! The registry is declared once, by each backend crate in its own `Cargo.toml`:
//!
//! ```toml
//! [[package.metadata.blaspar.engines]]
//! name = "mkl-iomp"                 # the backend's name everywhere (CLI, records, bench ids)
//! features = ["iomp"]               # cargo features that build it (one cargo invocation each)
//! library = "Intel MKL, Intel OpenMP threading layer"
//! set-threads = "MKL_NUM_THREADS={t} (or mkl_set_num_threads_local({t}) in that thread)"
//! requires = [{ file = "$MKLROOT/lib/libiomp5.so", missing = "..." }]   # scripts only
//! ```
//!
//! `build.rs` turns the entries into [`ENGINES`] (in workspace `members` order); the build
//! and test scripts read the same entries through `scripts/engines.py`. Adding a backend is
//! one new crate with its entries plus its line in the workspace `members`.

use std::path::PathBuf;

/// One engine binary of a backend crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Engine {
    /// The backend's name: `--backend`, records, bench ids, `blaspar-engine-<name>`.
    pub name: &'static str,
    /// The cargo package that builds it.
    pub package: &'static str,
    /// The cargo features that build it, comma-separated (empty: none).
    pub features: &'static str,
    /// The library, in words.
    pub library: &'static str,
    /// How a user's program sets the library to `{t}` threads (variable or call), in
    /// words; empty when the build is single-threaded.
    pub set_threads: &'static str,
    /// The environment variable the library reads its thread count from
    /// (`BLIS_NUM_THREADS`); empty when none.
    pub threads_env: &'static str,
    /// The call that sets the library's threads in a program (`bli_thread_set_num_threads`,
    /// `Par::rayon`); empty when none.
    pub threads_call: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/engines.rs"));

impl Engine {
    /// The engine of `name`, if this version knows it.
    pub fn named(name: &str) -> Option<&'static Engine> {
        ENGINES.iter().find(|e| e.name == name)
    }

    /// The cargo features as a list (empty when none).
    pub fn feature_list(&self) -> Vec<&'static str> {
        self.features.split(',').filter(|f| !f.is_empty()).collect()
    }

    /// The phrase that sets the library to `threads` threads in a user's program.
    pub fn set_threads_phrase(&self, threads: usize) -> String {
        if self.set_threads.is_empty() {
            "the library single-threaded (as built)".to_string()
        } else {
            self.set_threads.replace("{t}", &threads.to_string())
        }
    }
}

/// The backend names, in registry order.
pub fn names() -> impl Iterator<Item = &'static str> {
    ENGINES.iter().map(|e| e.name)
}

/// The backend names as a list for help texts: "blis, openblas-pthread, ...".
pub fn name_list() -> String {
    names().collect::<Vec<_>>().join(", ")
}

/// Exit status of an engine's `run` that the backend refuses ("not supported here,
/// because ..." on stderr): the lab reads the outcome from the status, never from the
/// message's words.
pub const EXIT_UNSUPPORTED: u8 = 4;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_crate_declares_its_engines() {
        let names: Vec<&str> = names().collect();
        for expected in [
            "blis",
            "openblas-pthread",
            "mkl-iomp",
            "faer",
            "matrixmultiply",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let mkl = Engine::named("mkl-seq").unwrap();
        assert_eq!(
            (mkl.package, mkl.feature_list()),
            ("blaspar-mkl", vec!["seq"])
        );
        assert!(Engine::named("no-such").is_none());
    }

    #[test]
    fn thread_phrases_fill_in_the_count() {
        let blis = Engine::named("blis").unwrap();
        assert!(blis.set_threads_phrase(4).contains("BLIS_NUM_THREADS=4"));
        let mm = Engine::named("matrixmultiply").unwrap();
        assert_eq!(
            mm.set_threads_phrase(4),
            "the library single-threaded (as built)"
        );
    }
}

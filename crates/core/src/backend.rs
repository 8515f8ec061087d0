//! The backend trait: what each BLAS (or pure-Rust) crate implements, thinly.
//!
//! A backend owns exactly one place where threads are set and read back (its own API, never
//! an environment variable after start-up), says whether that setting applies to the calling
//! thread or to the whole process, and says which kernel it runs and how that kernel was
//! chosen. The count is read back in the thread that multiplies, for every task.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

/// Whether a thread-count setting applies to the calling thread or to the whole process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "scope")]
pub enum ThreadScope {
    /// Each calling thread has its own count (vendored BLIS 1.0; MKL's `_local` call).
    PerThread,
    /// One count for the process (OpenBLAS, MKL's global call).
    Process,
    /// The library runs a fixed number of threads and has no API to change it.
    Fixed { threads: usize },
}

/// How the kernel in use was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChoiceMethod {
    /// Every compiled-in kernel was tried in a child process; the fastest correct one won.
    Probe,
    /// A previous probe on this CPU model and library version, read from the cache.
    Cache,
    /// The user named the kernel (flag or the library's own environment variable).
    UserOverride,
    /// The library's own run-time detection, unchanged (asked for explicitly).
    LibraryDefault,
    /// The library has a single kernel path; there is nothing to choose.
    Only,
}

impl std::fmt::Display for ChoiceMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChoiceMethod::Probe => "probe",
            ChoiceMethod::Cache => "cache",
            ChoiceMethod::UserOverride => "user override",
            ChoiceMethod::LibraryDefault => "library default",
            ChoiceMethod::Only => "only kernel",
        })
    }
}

/// What trying one kernel in a child process gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum ProbeOutcome {
    /// Products correct; measured speed of one thread.
    Correct { gflops: f64 },
    /// Products wrong beyond the tolerance.
    Wrong { detail: String },
    /// The child died or failed (signal, abort, non-zero exit, timeout).
    Failed { detail: String },
}

/// One row of the probe table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelProbe {
    /// Kernel (sub-configuration) name as the library spells it.
    pub kernel: String,
    #[serde(flatten)]
    pub outcome: ProbeOutcome,
}

/// The kernel in use and how it came to be used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelChoice {
    /// The kernel the library reports it is running (read back after initialisation).
    pub kernel: String,
    /// How it was chosen.
    pub method: ChoiceMethod,
    /// What the library would pick by itself on this CPU, when known.
    pub library_default: Option<String>,
    /// Every kernel tried, when a probe ran (now or when the cache was written).
    pub probes: Vec<KernelProbe>,
}

/// One BLAS (or pure-Rust) library, initialised and ready to multiply.
pub trait Backend: Send + Sync {
    /// Short backend name, as used on the command line (`blis`, `matrixmultiply`).
    fn name(&self) -> &'static str;
    /// The library's version as the library reports it.
    fn version(&self) -> String;
    /// The kernel in use and how it was chosen.
    fn kernel(&self) -> &KernelChoice;
    /// Whether [`Backend::set_threads`] applies to the calling thread or the process.
    fn thread_scope(&self) -> ThreadScope;
    /// The library's default thread count, read before anything changed it.
    fn default_threads(&self) -> usize;
    /// Sets the thread count through the library's own API (scope: [`Backend::thread_scope`]).
    fn set_threads(&self, threads: usize);
    /// Reads the thread count back through the library's own API, in the calling thread.
    fn threads(&self) -> usize;
    /// `a . b` through the path the benchmark measures (ndarray's `.dot` for BLAS backends).
    fn multiply(&self, a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64>;
    /// `c = a . b`, written straight into `c` (a slot of the result store, possibly shared
    /// memory that another process maps). Backends override this to call their dgemm on
    /// `c` directly; the default multiplies into a new array and copies.
    fn multiply_into(
        &self,
        a: ArrayView2<'_, f64>,
        b: ArrayView2<'_, f64>,
        mut c: ArrayViewMut2<'_, f64>,
    ) {
        c.assign(&self.multiply(&a.to_owned(), &b.to_owned()));
    }
    /// Calls into the library's dgemm made by the calling thread so far, when the binary counts
    /// them; proves that [`Backend::multiply`] reached the library.
    fn gemm_calls_in_this_thread(&self) -> Option<u64> {
        None
    }
}

/// Why a strategy cannot run on a backend.
pub fn unsupported_reason(
    scope: ThreadScope,
    backend: &str,
    workers: usize,
    blas_threads: Option<usize>,
) -> Option<String> {
    match (scope, blas_threads) {
        (ThreadScope::Fixed { threads }, Some(t)) if t != threads => Some(format!(
            "{backend} always runs {threads} thread(s) and has no API to set {t}"
        )),
        (ThreadScope::Process, Some(t)) if workers > 1 && t > 1 => Some(format!(
            "{backend} sets BLAS threads for the whole process, not per calling thread, so \
             {workers} threads x {t} BLAS threads cannot be set up in one process"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_combinations_say_why() {
        assert!(unsupported_reason(ThreadScope::PerThread, "blis", 4, Some(2)).is_none());
        assert!(unsupported_reason(ThreadScope::Process, "openblas", 1, Some(4)).is_none());
        assert!(unsupported_reason(ThreadScope::Process, "openblas", 4, Some(1)).is_none());
        let r = unsupported_reason(ThreadScope::Process, "openblas", 2, Some(2)).unwrap();
        assert!(r.contains("whole process"), "{r}");
        let r = unsupported_reason(
            ThreadScope::Fixed { threads: 1 },
            "matrixmultiply",
            1,
            Some(2),
        )
        .unwrap();
        assert!(r.contains("no API"), "{r}");
        assert!(unsupported_reason(ThreadScope::Fixed { threads: 1 }, "mm", 3, Some(1)).is_none());
        assert!(unsupported_reason(ThreadScope::Fixed { threads: 1 }, "mm", 1, None).is_none());
    }
}

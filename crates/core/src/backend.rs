//! The backend trait: what each BLAS (or pure-Rust) crate implements, thinly.
//!
//! A backend owns exactly one place where threads are set and read back (its own API, never
//! an environment variable after start-up), says whether that setting applies to the calling
//! thread or to the whole process, and says which kernel it runs and how that kernel was
//! chosen. The count is read back in the thread that multiplies, for every task.

use crate::operation::Operation;
use crate::task::{Input, Output};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

/// Stack of every thread that calls a backend, bytes (the engine's thread workers, the
/// conformance checks). OpenBLAS's threaded LU (`dgetrf_parallel`, under `dgesv` when the
/// library runs more than one thread) keeps per-thread work arrays on the caller's stack,
/// more than the 2 MiB a Rust thread gets by default: on Debian's OpenBLAS 0.3.21 it
/// crashed (SIGSEGV) in a 2 MiB test thread, 3 of 60 runs of its conformance tests, and
/// never with 64 MiB (0 of 60). Only the pages a thread touches take memory.
pub const CALLER_STACK_BYTES: usize = 64 << 20;

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
    /// n of the timed n x n x n product (`null`: not said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
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
    /// n of the n x n x n probe product whose timings decided (a size near the
    /// workload's), when a probe decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<usize>,
}

/// Memory order of the operands of one [`Gemm`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Rows are contiguous; the leading dimension is the distance between rows.
    RowMajor,
    /// Columns are contiguous; the leading dimension is the distance between columns.
    ColMajor,
}

/// One direct dgemm call `C = A B` (no transposes, alpha 1, beta 0) on plain slices:
/// A is m x k, B is k x n, C is m x n, each stored in `layout` with its leading dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    pub layout: Layout,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub lda: usize,
    pub ldb: usize,
    pub ldc: usize,
}

/// Why a [`Gemm`] call was refused before it reached the library.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GemmError {
    #[error("leading dimension {what} = {ld} is smaller than the {min} the layout needs")]
    LeadingDimension {
        what: &'static str,
        ld: usize,
        min: usize,
    },
    #[error("operand {what} holds {len} elements, the call reads {need}")]
    TooShort {
        what: &'static str,
        len: usize,
        need: usize,
    },
    #[error("A has {a_cols} columns but B has {b_rows} rows")]
    InnerDimension { a_cols: usize, b_rows: usize },
    #[error("dimension {value} does not fit the library's 32-bit integers")]
    TooLarge { value: usize },
}

impl Gemm {
    /// Densely packed operands (leading dimension = row or column length).
    pub fn packed(layout: Layout, m: usize, n: usize, k: usize) -> Gemm {
        let (lda, ldb, ldc) = match layout {
            Layout::RowMajor => (k, n, n),
            Layout::ColMajor => (m, k, m),
        };
        Gemm {
            layout,
            m,
            n,
            k,
            lda: lda.max(1),
            ldb: ldb.max(1),
            ldc: ldc.max(1),
        }
    }

    /// (rows, cols, ld) of A, B and C, with their names.
    fn operands(&self) -> [(&'static str, usize, usize, usize); 3] {
        [
            ("A", self.m, self.k, self.lda),
            ("B", self.k, self.n, self.ldb),
            ("C", self.m, self.n, self.ldc),
        ]
    }

    /// Row and column strides (in elements) of an operand with leading dimension `ld`.
    pub fn strides(&self, ld: usize) -> (isize, isize) {
        match self.layout {
            Layout::RowMajor => (ld as isize, 1),
            Layout::ColMajor => (1, ld as isize),
        }
    }

    /// Checks leading dimensions and slice lengths; every backend calls this before its
    /// library sees a pointer.
    pub fn check(&self, a: usize, b: usize, c: usize) -> Result<(), GemmError> {
        for ((what, rows, cols, ld), len) in self.operands().into_iter().zip([a, b, c]) {
            let (lines, line_len) = match self.layout {
                Layout::RowMajor => (rows, cols),
                Layout::ColMajor => (cols, rows),
            };
            if ld < line_len.max(1) {
                return Err(GemmError::LeadingDimension {
                    what,
                    ld,
                    min: line_len.max(1),
                });
            }
            let need = if lines == 0 || line_len == 0 {
                0
            } else {
                (lines - 1) * ld + line_len
            };
            if len < need {
                return Err(GemmError::TooShort { what, len, need });
            }
            for v in [rows, cols, ld] {
                if i32::try_from(v).is_err() {
                    return Err(GemmError::TooLarge { value: v });
                }
            }
        }
        Ok(())
    }
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
    /// `C = A B` through the library's own dgemm, called directly on slices (no ndarray in
    /// between), after [`Gemm::check`]. The conformance tests of every backend use it.
    fn dgemm(&self, g: &Gemm, a: &[f64], b: &[f64], c: &mut [f64]) -> Result<(), GemmError>;
    /// `None` when several threads of one process may call the library at once; otherwise
    /// why not (strategies with more than one worker thread are then refused).
    fn concurrent_calls_unsupported(&self) -> Option<String> {
        None
    }
    /// `None` when the backend computes `op`; otherwise why it cannot (the engine refuses
    /// the run with this reason). Every backend multiplies; LAPACK-backed operations need
    /// the library's LAPACK or decompositions of its own.
    fn operation_unsupported(&self, op: Operation) -> Option<String> {
        (op != Operation::Gemm).then(|| {
            format!(
                "{} computes only products: it has no {} ({op})",
                self.name(),
                op.routine()
            )
        })
    }
    /// One task of `op` through the library, with the calling thread's thread setting:
    /// products through [`Backend::multiply`], the others through the library's LAPACK (or
    /// its own decompositions). `Err` says why the library could not (an unsupported
    /// operation, or LAPACK's `info`).
    fn compute(&self, op: Operation, input: &Input) -> Result<Output, String> {
        match (op, input) {
            (Operation::Gemm, Input::Pair(a, b)) => Ok(Output::Product(self.multiply(a, b))),
            _ => Err(self
                .operation_unsupported(op)
                .unwrap_or_else(|| format!("{op} got the input of another operation"))),
        }
    }
    /// `None` when the library multiplies a whole batch in one call
    /// ([`Backend::multiply_batch`]); otherwise why it cannot.
    fn batch_unsupported(&self) -> Option<String> {
        Some(format!(
            "{} offers no batched dgemm (cblas_dgemm_batch)",
            self.name()
        ))
    }
    /// Every product `a[i] . b[i]` in one batched library call; `None` when the library has
    /// no batched dgemm ([`Backend::batch_unsupported`] says why).
    fn multiply_batch(&self, pairs: &[(&Array2<f64>, &Array2<f64>)]) -> Option<Vec<Array2<f64>>> {
        let _ = pairs;
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
    fn gemm_shapes_are_checked() {
        let g = Gemm::packed(Layout::RowMajor, 3, 4, 5);
        assert_eq!((g.lda, g.ldb, g.ldc), (5, 4, 4));
        assert!(g.check(15, 20, 12).is_ok());
        assert_eq!(
            g.check(14, 20, 12),
            Err(GemmError::TooShort {
                what: "A",
                len: 14,
                need: 15
            })
        );
        let g = Gemm::packed(Layout::ColMajor, 3, 4, 5);
        assert_eq!((g.lda, g.ldb, g.ldc), (3, 5, 3));
        let bad = Gemm { ldc: 2, ..g };
        assert!(matches!(
            bad.check(15, 20, 12),
            Err(GemmError::LeadingDimension { what: "C", .. })
        ));
        let padded = Gemm { lda: 7, ..g };
        assert!(padded.check(7 * 4 + 3, 20, 12).is_ok());
        assert!(
            Gemm::packed(Layout::RowMajor, 0, 0, 0)
                .check(0, 0, 0)
                .is_ok()
        );
    }

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

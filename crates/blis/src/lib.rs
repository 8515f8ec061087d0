//! BLIS backend: the BLIS 1.0 that `blis-src` vendors, built static with pthreads.
//!
//! Thread control is `bli_thread_set_num_threads` / `bli_thread_get_num_threads`, which in
//! vendored BLIS 1.0 act on the **calling thread** (thread-local runtime): a new thread
//! starts at the default (BLIS_NUM_THREADS, else 1). That makes in-process hybrids possible.
//!
//! The kernel (sub-configuration) is chosen by [`probe`] before BLIS initialises.

// Links libblis.a (and its cblas symbols, which ndarray's `blas` feature calls).
extern crate blis_src;

pub mod ffi;
pub mod probe;

use blaspar_cblas::cstr;
use blaspar_core::backend::{Backend, KernelChoice, ThreadScope};
use blaspar_core::operation::Operation;
use blaspar_core::task::{Input, Output};
use ndarray::Array2;
use std::path::{Path, PathBuf};

pub use blaspar_core::kernel_cache::default_cache_dir;
pub use probe::{KernelRequest, child_hook};

/// Reads a per-thread count of dgemm calls (provided by binaries that wrap `cblas_dgemm`).
pub type CallCounter = fn() -> u64;

/// BLIS, initialised with a chosen kernel.
pub struct Blis {
    version: String,
    kernel: KernelChoice,
    default_threads: usize,
    counter: Option<CallCounter>,
    /// The libflame whose LAPACK computes the operations beyond GEMM (`None`: built
    /// without it, and they are refused).
    libflame: Option<PathBuf>,
}

/// Initialises libflame once for the process. Its LAPACK entry points otherwise call
/// `FLA_Init_safe` and `FLA_Finalize_safe` around every call: the first of two calls
/// running at once in two threads initialises libflame's global objects and control
/// trees, finalises them when it returns, and the other call, still running, then aborts
/// ("Detected inconsistent object datatypes", "not yet implemented") or computes with
/// freed state. Initialised here, before any worker thread exists, `FLA_Init_safe` finds
/// it initialised and no call finalises it (conformance:
/// `operations_are_correct_from_several_threads_at_once`).
fn init_libflame() {
    #[cfg(blaspar_libflame)]
    {
        unsafe extern "C" {
            fn FLA_Initialized() -> std::os::raw::c_int;
            fn FLA_Init();
        }
        // SAFETY: plain calls without arguments, made during start-up on one thread.
        unsafe {
            if FLA_Initialized() == 0 {
                FLA_Init();
            }
        }
    }
}

/// The libflame this binary links, checked to answer LAPACK's routines and to call the
/// BLIS linked into the binary (its BLAS symbols, `dgemm_` among them); `None` when the
/// build found no libflame.
fn libflame() -> Result<Option<PathBuf>, blaspar_cblas::provenance::ProvenanceError> {
    use blaspar_cblas::provenance::{ProvenanceError, Provider, expect_lapack, provider};
    if !cfg!(blaspar_libflame) {
        return Ok(None);
    }
    match provider(c"dpotrf_") {
        Provider::Shared(path)
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libflame")) =>
        {
            expect_lapack(&Provider::Shared(path.clone()), &Provider::Static)?;
            Ok(Some(path))
        }
        other => Err(ProvenanceError::Wrong {
            symbol: "dpotrf_".into(),
            expected: "libflame*.so".into(),
            found: format!("{other:?}"),
        }),
    }
}

impl Blis {
    /// Chooses the kernel (see [`probe`]; `size`: the workload's matrix size, probed near
    /// it), then initialises BLIS. Call during start-up, before other threads exist, after
    /// [`child_hook`].
    pub fn init(
        request: &KernelRequest,
        cache_dir: &Path,
        size: Option<usize>,
    ) -> Result<Blis, probe::ProbeError> {
        blaspar_cblas::provenance::expect_static("BLIS (vendored by blis-src)")?;
        let libflame = libflame()?;
        init_libflame();
        let selection = probe::select(request, cache_dir, size)?;
        // SAFETY: BLIS reads BLIS_ARCH_TYPE (set by `select`) during this initialisation.
        unsafe { ffi::bli_init() };
        let running = unsafe { ffi::bli_arch_query_id() };
        let kernel = ffi::arch_name(running).unwrap_or_else(|| format!("arch {running}"));
        if let Some(want) = selection.arch_id.filter(|&want| want != running) {
            return Err(probe::ProbeError::Ignored {
                want,
                running: kernel,
            });
        }
        // SAFETY: BLIS returns static NUL-terminated strings.
        let (threading, version) = unsafe {
            (
                cstr(ffi::bli_thread_get_thread_impl_str(
                    ffi::bli_thread_get_thread_impl(),
                )),
                cstr(ffi::bli_info_get_version_str()),
            )
        };
        let version = format!("{version} ({threading})");
        // BLIS reports a non-positive count when nothing was set: it then runs one thread.
        let default_threads = unsafe { ffi::bli_thread_get_num_threads() }.max(1) as usize;
        Ok(Blis {
            version,
            kernel: KernelChoice {
                kernel,
                method: selection.method,
                library_default: selection.library_default,
                probes: selection.probes,
                decided_at: selection.decided_at,
            },
            default_threads,
            counter: None,
            libflame,
        })
    }

    /// Lets [`Backend::gemm_calls_in_this_thread`] report the binary's dgemm call counter.
    pub fn with_call_counter(mut self, counter: CallCounter) -> Self {
        self.counter = Some(counter);
        self
    }
}

impl Backend for Blis {
    fn name(&self) -> &'static str {
        "blis"
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn kernel(&self) -> &KernelChoice {
        &self.kernel
    }

    fn thread_scope(&self) -> ThreadScope {
        ThreadScope::PerThread
    }

    fn default_threads(&self) -> usize {
        self.default_threads
    }

    fn set_threads(&self, threads: usize) {
        let n = i64::try_from(threads).expect("thread count fits i64");
        // SAFETY: plain setter of BLIS's thread-local runtime.
        unsafe { ffi::bli_thread_set_num_threads(n) }
    }

    fn threads(&self) -> usize {
        // SAFETY: plain getter of BLIS's thread-local runtime.
        unsafe { ffi::bli_thread_get_num_threads() }.max(1) as usize
    }

    blaspar_cblas::cblas_products!();

    fn gemm_calls_in_this_thread(&self) -> Option<u64> {
        self.counter.map(|f| f())
    }

    fn batch_unsupported(&self) -> Option<String> {
        None
    }

    fn multiply_batch(&self, pairs: &[(&Array2<f64>, &Array2<f64>)]) -> Option<Vec<Array2<f64>>> {
        // Shapes come from ndarray arrays, so the only refusal (dimensions beyond i32) would
        // have been a failed allocation long before.
        blaspar_cblas::multiply_batch(blaspar_cblas::linked_dgemm_batch(), pairs).ok()
    }

    fn operation_unsupported(&self, op: Operation) -> Option<String> {
        (op != Operation::Gemm && self.libflame.is_none()).then(|| {
            format!(
                "BLIS has no LAPACK of its own and this build found no libflame for {} \
                 ({op}): install libflame-dev (scripts/setup.sh) and rebuild",
                op.routine()
            )
        })
    }

    fn compute(&self, op: Operation, input: &Input) -> Result<Output, String> {
        if let Some(why) = self.operation_unsupported(op) {
            return Err(why);
        }
        // libflame's LAPACK over this BLIS (checked at start-up: `libflame`). One call at a
        // time in a process: even initialised once, libflame gave a wrong SVD next to
        // another thread's LAPACK call (a workload file of gemm, svd and cholesky on
        // threads-2). Thread workers therefore take turns for the operations beyond gemm
        // (their measurements show it); worker processes run them side by side.
        static LIBFLAME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = LIBFLAME.lock().unwrap_or_else(|e| e.into_inner());
        blaspar_cblas::lapack::compute(self, op, input)
    }
}

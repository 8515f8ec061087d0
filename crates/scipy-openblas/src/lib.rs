//! OpenBLAS as the scientific Python stack ships it: the PyPI wheel `scipy-openblas32` (a
//! current release, DYNAMIC_ARCH, pthreads, LP64), linked dynamically from the prefix
//! scripts/setup.sh installs it into (run path: build.rs).
//!
//! **Prefixed symbols.** Every symbol of the wheel's library carries a `scipy_` prefix
//! (`scipy_cblas_dgemm`, `scipy_openblas_set_num_threads`), so it cannot clash with another
//! OpenBLAS. ndarray's `blas` feature (through cblas-sys) and [`blaspar_cblas`] call the
//! plain names; this crate defines `cblas_dgemm` and `cblas_dgemm_batch`, the only CBLAS
//! names they reference, as forwarders to the prefixed ones, and the forwarders count the
//! calls ([`blaspar_cblas::calls`]): every path from ndarray or this crate to the library
//! passes through them. (`-Wl,--wrap=cblas_dgemm`, which the other CBLAS engines count
//! with, cannot work here: the linker wraps only references to a symbol defined in another
//! object file, and rustc inlines the forwarder into ndarray's product code, which it
//! compiles in this crate.) At start-up the engine checks that no shared object exports
//! `cblas_dgemm` (the forwarder answers), that `scipy_cblas_dgemm` comes from
//! `libscipy_openblas.so`, and that no other BLAS is mapped
//! ([`blaspar_cblas::provenance::expect_forwarded`]).
//!
//! **Threads** (one place: [`ScipyOpenBlas::set_threads`] / [`ScipyOpenBlas::threads`]):
//! `scipy_openblas_set_num_threads` / `scipy_openblas_get_num_threads` are process-wide (the
//! wheel exports no `openblas_set_num_threads_local`), so P x T hybrids in one process are
//! refused. The library reads OPENBLAS_NUM_THREADS (then GOTO_NUM_THREADS, OMP_NUM_THREADS)
//! when it loads.
//!
//! **Kernel.** As for Debian's builds ([`blaspar_cblas::coretype`]): the library picks its
//! core when it loads, `OPENBLAS_CORETYPE` overrides it (probed against the library's own
//! choice in child processes), `--kernel default` / `NAME` re-execute the engine with the
//! variable changed.
//!
//! **Batched.** 0.3.28 and later have `cblas_dgemm_batch`: batched runs are one library call.

use blaspar_cblas::coretype::{self, CoreError};
use blaspar_cblas::cstr;
use blaspar_core::ThreadScope;
use blaspar_core::backend::{Backend, KernelChoice};
use ndarray::Array2;
use std::os::raw::c_int;

/// The backend's name everywhere (CLI, records, bench ids).
pub const BACKEND_NAME: &str = "openblas-scipy";
/// The file name the library is checked against at start-up.
const LIBRARY_FILE: &str = "libscipy_openblas";
/// What the kernel choice calls in this build.
const LIBRARY: coretype::Library = coretype::Library {
    get_corename: ffi::scipy_openblas_get_corename,
    set_num_threads: ffi::scipy_openblas_set_num_threads,
};

mod ffi {
    use std::os::raw::{c_char, c_int};
    unsafe extern "C" {
        pub fn scipy_openblas_get_config() -> *const c_char;
        pub fn scipy_openblas_get_corename() -> *const c_char;
        pub fn scipy_openblas_set_num_threads(n: c_int);
        pub fn scipy_openblas_get_num_threads() -> c_int;
        pub fn scipy_cblas_dgemm(
            layout: c_int,
            transa: c_int,
            transb: c_int,
            m: c_int,
            n: c_int,
            k: c_int,
            alpha: f64,
            a: *const f64,
            lda: c_int,
            b: *const f64,
            ldb: c_int,
            beta: f64,
            c: *mut f64,
            ldc: c_int,
        );
        pub fn scipy_cblas_dgemm_batch(
            layout: c_int,
            transa: *const c_int,
            transb: *const c_int,
            m: *const c_int,
            n: *const c_int,
            k: *const c_int,
            alpha: *const f64,
            a: *const *const f64,
            lda: *const c_int,
            b: *const *const f64,
            ldb: *const c_int,
            beta: *const f64,
            c: *const *mut f64,
            ldc: *const c_int,
            group_count: c_int,
            group_size: *const c_int,
        );
    }
}

/// `cblas_dgemm` for ndarray and [`blaspar_cblas::dgemm`]: forwards to the wheel's
/// `scipy_cblas_dgemm`.
///
/// # Safety
/// The contract of CBLAS `cblas_dgemm`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cblas_dgemm(
    layout: c_int,
    transa: c_int,
    transb: c_int,
    m: c_int,
    n: c_int,
    k: c_int,
    alpha: f64,
    a: *const f64,
    lda: c_int,
    b: *const f64,
    ldb: c_int,
    beta: f64,
    c: *mut f64,
    ldc: c_int,
) {
    blaspar_cblas::calls::count();
    // SAFETY: the same function under its prefixed name; the caller keeps the contract.
    unsafe {
        ffi::scipy_cblas_dgemm(
            layout, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
        )
    }
}

/// `cblas_dgemm_batch` for [`blaspar_cblas::linked_dgemm_batch`]: forwards to the wheel's
/// `scipy_cblas_dgemm_batch` (LP64, the signature of [`blaspar_cblas::DgemmBatchFn`]).
///
/// # Safety
/// The contract of `cblas_dgemm_batch` (MKL's and OpenBLAS's, LP64).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cblas_dgemm_batch(
    layout: c_int,
    transa: *const c_int,
    transb: *const c_int,
    m: *const c_int,
    n: *const c_int,
    k: *const c_int,
    alpha: *const f64,
    a: *const *const f64,
    lda: *const c_int,
    b: *const *const f64,
    ldb: *const c_int,
    beta: *const f64,
    c: *const *mut f64,
    ldc: *const c_int,
    group_count: c_int,
    group_size: *const c_int,
) {
    blaspar_cblas::calls::count();
    // SAFETY: the same function under its prefixed name; the caller keeps the contract.
    unsafe {
        ffi::scipy_cblas_dgemm_batch(
            layout,
            transa,
            transb,
            m,
            n,
            k,
            alpha,
            a,
            lda,
            b,
            ldb,
            beta,
            c,
            ldc,
            group_count,
            group_size,
        )
    }
}

/// Why the library could not be set up as asked; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ScipyOpenBlasError {
    #[error(transparent)]
    Provenance(#[from] blaspar_cblas::provenance::ProvenanceError),
    #[error(transparent)]
    Kernel(#[from] CoreError),
}

/// The core (kernel set) the library runs, as it names it (`Haswell`, `SkylakeX`, ...).
pub fn corename() -> String {
    LIBRARY.corename()
}

/// Call first in `main` of every binary that links this crate: a kernel-probe child prints
/// its core and speed and exits ([`coretype::child_hook`]).
pub fn child_hook() {
    coretype::child_hook(&LIBRARY);
}

/// The library's configuration string: `OpenBLAS 0.3.34.481.3 DYNAMIC_ARCH NO_AFFINITY
/// Haswell MAX_THREADS=64`.
pub fn config() -> String {
    // SAFETY: plain getter of a static NUL-terminated string.
    unsafe { cstr(ffi::scipy_openblas_get_config()) }
}

/// The scipy-openblas32 library, loaded and checked.
pub struct ScipyOpenBlas {
    version: String,
    kernel: KernelChoice,
    default_threads: usize,
}

impl ScipyOpenBlas {
    /// Checks that `cblas_dgemm` forwards to the wheel's library (and no other BLAS is
    /// loaded), reads version and default thread count, and applies the kernel request
    /// ([`coretype::choose`]: `auto`, `default` or a core name; the last two may re-execute
    /// the process). Call during start-up, after [`child_hook`], before other threads exist.
    pub fn init(
        kernel: &str,
        cache_dir: &std::path::Path,
    ) -> Result<ScipyOpenBlas, ScipyOpenBlasError> {
        let path = blaspar_cblas::provenance::expect_forwarded(c"scipy_cblas_dgemm", LIBRARY_FILE)?;
        lapack_is_the_wheels(&path)?;
        let config = config();
        let release = config.split_whitespace().nth(1).unwrap_or("?");
        let cache = coretype::ProbeCache {
            dir: cache_dir.to_path_buf(),
            library: format!("scipy-openblas32 {release}"),
        };
        let kernel = coretype::choose(&LIBRARY, kernel, &cache)?;
        // SAFETY: plain getter, read before anything changed the count.
        let default_threads = unsafe { ffi::scipy_openblas_get_num_threads() }.max(1) as usize;
        Ok(ScipyOpenBlas {
            version: format!("{release} (scipy-openblas32 wheel, {})", path.display()),
            kernel,
            default_threads,
        })
    }
}

// LAPACK's plain names (`dgesv_`, ...) for blaspar_cblas::lapack, forwarding to the wheel.
blaspar_cblas::forward_lapack!(
    scipy_dgesv_,
    scipy_dpotrf_,
    scipy_dgeqrf_,
    scipy_dsyevd_,
    scipy_dgesdd_
);

/// Checks that LAPACK's plain names are this executable's forwarders (no loaded object
/// exports them, nor `dgemm_`) and that the routines they call, and the wheel's own
/// `scipy_dgemm_` underneath, come from the wheel's library at `path`.
fn lapack_is_the_wheels(path: &std::path::Path) -> Result<(), ScipyOpenBlasError> {
    use blaspar_cblas::provenance::{ProvenanceError, Provider, expect_lapack, provider};
    expect_lapack(&Provider::Static, &Provider::Static)?;
    let wheel = Provider::Shared(path.to_path_buf());
    for symbol in [
        c"scipy_dgesv_",
        c"scipy_dpotrf_",
        c"scipy_dgeqrf_",
        c"scipy_dsyevd_",
        c"scipy_dgesdd_",
        c"scipy_dgemm_",
    ] {
        let got = provider(symbol);
        if got != wheel {
            return Err(ProvenanceError::Wrong {
                symbol: symbol.to_string_lossy().into_owned(),
                expected: path.display().to_string(),
                found: format!("{got:?}"),
            }
            .into());
        }
    }
    Ok(())
}

impl Backend for ScipyOpenBlas {
    fn name(&self) -> &'static str {
        BACKEND_NAME
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn kernel(&self) -> &KernelChoice {
        &self.kernel
    }

    fn thread_scope(&self) -> ThreadScope {
        ThreadScope::Process
    }

    fn default_threads(&self) -> usize {
        self.default_threads
    }

    fn set_threads(&self, threads: usize) {
        let n = c_int::try_from(threads).unwrap_or(c_int::MAX);
        // SAFETY: plain setter of the library's process-wide count.
        unsafe { ffi::scipy_openblas_set_num_threads(n) }
    }

    fn threads(&self) -> usize {
        // SAFETY: plain getter.
        unsafe { ffi::scipy_openblas_get_num_threads() }.max(1) as usize
    }

    blaspar_cblas::cblas_products!();

    fn gemm_calls_in_this_thread(&self) -> Option<u64> {
        Some(blaspar_cblas::calls::in_this_thread())
    }

    fn batch_unsupported(&self) -> Option<String> {
        None
    }

    fn multiply_batch(&self, pairs: &[(&Array2<f64>, &Array2<f64>)]) -> Option<Vec<Array2<f64>>> {
        // Shapes come from ndarray arrays; the only refusal (dimensions beyond i32) would
        // have failed allocation long before.
        blaspar_cblas::multiply_batch(blaspar_cblas::linked_dgemm_batch(), pairs).ok()
    }

    blaspar_cblas::lapack_operations!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forwarders_count_every_call() {
        // `default`: a test binary has no probe-child hook, so `auto` must not probe here.
        let b =
            ScipyOpenBlas::init("default", &std::env::temp_dir()).unwrap_or_else(|e| panic!("{e}"));
        let a = Array2::from_shape_fn((9, 9), |(i, j)| (i + j) as f64);
        let before = b.gemm_calls_in_this_thread().expect("counted");
        let _ = b.multiply(&a, &a); // ndarray -> cblas_dgemm
        let mut c = vec![0.0; 81];
        let g = blaspar_core::Gemm::packed(blaspar_core::Layout::RowMajor, 9, 9, 9);
        b.dgemm(&g, a.as_slice().unwrap(), a.as_slice().unwrap(), &mut c)
            .expect("valid call");
        let _ = b.multiply_batch(&[(&a, &a), (&a, &a)]).expect("batched");
        assert_eq!(b.gemm_calls_in_this_thread(), Some(before + 3));
    }

    #[test]
    fn the_library_is_the_wheel_and_answers_through_the_forwarder() {
        // This test binary links the wheel's library and the forwarders, nothing else.
        let path = blaspar_cblas::provenance::expect_forwarded(c"scipy_cblas_dgemm", LIBRARY_FILE)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            path.starts_with(env!("BLASPAR_SCIPY_OPENBLAS_LIBDIR")),
            "{path:?}"
        );
        assert!(config().starts_with("OpenBLAS 0."), "{}", config());
        assert!(!corename().is_empty());
    }
}

//! Engine binary for the BLIS backend: the runner's `run` on BLIS.
//!
//! Linked with `-Wl,--wrap=cblas_dgemm` (build.rs): every call to `cblas_dgemm`, including
//! those ndarray's `.dot` makes, lands in `__wrap_cblas_dgemm` below, which counts it per
//! thread and forwards to BLIS. The count proves that each task's product reached BLIS.

use std::cell::Cell;
use std::os::raw::c_int;

thread_local!(static DGEMM_CALLS: Cell<u64> = const { Cell::new(0) });

unsafe extern "C" {
    fn __real_cblas_dgemm(
        layout: c_int,
        ta: c_int,
        tb: c_int,
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
}

/// # Safety
/// Same contract as `cblas_dgemm`, which it forwards to.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __wrap_cblas_dgemm(
    layout: c_int,
    ta: c_int,
    tb: c_int,
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
    DGEMM_CALLS.with(|x| x.set(x.get() + 1));
    unsafe { __real_cblas_dgemm(layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) }
}

fn dgemm_calls() -> u64 {
    DGEMM_CALLS.with(|x| x.get())
}

fn main() -> std::process::ExitCode {
    blaspar_blis::child_hook();
    blaspar_runner::engine::main("blis", |init| {
        let request: blaspar_blis::KernelRequest = init
            .kernel
            .parse()
            .unwrap_or(blaspar_blis::KernelRequest::Auto);
        let cache = init
            .cache_dir
            .clone()
            .unwrap_or_else(blaspar_blis::default_cache_dir);
        Ok(blaspar_blis::Blis::init(&request, &cache)?.with_call_counter(dgemm_calls))
    })
}

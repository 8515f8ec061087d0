//! The few BLIS entry points this crate uses (BLIS 1.0, 64-bit `dim_t`).
//!
//! `bli_gks_lookup_id` and `bli_check_valid_arch_id` are internal (hidden visibility) but
//! resolve in the static link; they let us enumerate compiled-in sub-configurations
//! without touching BLIS's private headers.

use blaspar_cblas::cstr;
use std::os::raw::{c_char, c_int};

pub type DimT = i64;
pub type ArchT = c_int;
/// `BLIS_SUCCESS` in BLIS's `err_t`.
pub const BLIS_SUCCESS: c_int = -1;

unsafe extern "C" {
    pub fn bli_init();
    pub fn bli_info_get_version_str() -> *const c_char;
    pub fn bli_thread_get_thread_impl_str(ti: c_int) -> *const c_char;
    pub fn bli_thread_get_thread_impl() -> c_int;
    pub fn bli_arch_query_id() -> ArchT;
    pub fn bli_arch_string(id: ArchT) -> *const c_char;
    pub fn bli_check_valid_arch_id(id: ArchT) -> c_int;
    pub fn bli_gks_lookup_id(id: ArchT) -> *const std::ffi::c_void;
    pub fn bli_thread_set_num_threads(n: DimT);
    pub fn bli_thread_get_num_threads() -> DimT;
}

/// Name of an arch id; `None` outside BLIS's range. Pure table lookups, no initialisation.
pub fn arch_name(id: ArchT) -> Option<String> {
    // SAFETY: the range check comes first; bli_arch_string indexes a static table of
    // NUL-terminated names.
    unsafe { (bli_check_valid_arch_id(id) == BLIS_SUCCESS).then(|| cstr(bli_arch_string(id))) }
}

/// Every arch id BLIS defines, with its name (compiled in or not).
pub fn all_arches() -> Vec<(ArchT, String)> {
    (0..)
        .map_while(|id| arch_name(id).map(|n| (id, n)))
        .collect()
}

/// Row-major `c = a . b` straight into BLIS's cblas_dgemm (no ndarray), for the probes.
pub fn dgemm(m: usize, n: usize, k: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
    let g = blaspar_core::Gemm::packed(blaspar_core::Layout::RowMajor, m, n, k);
    if let Err(e) = blaspar_cblas::dgemm(&g, a, b, c) {
        panic!("probe product {m}x{k}x{n}: {e}");
    }
}

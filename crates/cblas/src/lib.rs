//! What the CBLAS backends (BLIS, OpenBLAS, MKL) share, so that each backend crate stays a
//! thin layer over its library's own thread and introspection API.
//!
//! This crate **links no library**: it declares `cblas_dgemm` and leaves the definition to
//! whichever `-src` crate the backend crate links. That is also why [`provenance`] exists:
//! with two libraries in one binary the linker silently takes one, so every backend checks
//! at start-up which object actually answers `cblas_dgemm`.
//!
//! - [`dgemm`]: one direct `cblas_dgemm` call on slices ([`Gemm`] checked first).
//! - [`multiply_batch`]: every product in one `cblas_dgemm_batch` call (MKL, BLIS), through
//!   the function the backend crate declares (OpenBLAS 0.3.21 has none, so this crate must
//!   not reference the symbol itself).
//! - [`lapack`]: solve, Cholesky, QR, eigh and SVD through the library's LAPACK.
//! - [`coretype`]: OpenBLAS's kernel choice (`OPENBLAS_CORETYPE`, probes, `--kernel`), for
//!   every OpenBLAS build whatever its symbol prefix.
//! - [`calls`]: the per-thread count of calls into the library's dgemm, which proves that
//!   every product reached the library; [`count_dgemm_calls!`] moves it from an engine
//!   binary (with `-Wl,--wrap=cblas_dgemm`), a crate that forwards `cblas_dgemm` to a
//!   prefixed library (scipy-openblas) moves it in its forwarder.

pub mod coretype;
pub mod lapack;
pub mod provenance;

/// The per-thread count of calls into the library's dgemm (and dgemm_batch).
pub mod calls {
    use std::cell::Cell;

    thread_local!(static DGEMM_CALLS: Cell<u64> = const { Cell::new(0) });

    /// One more call into the library from the calling thread.
    #[inline]
    pub fn count() {
        DGEMM_CALLS.with(|x| x.set(x.get() + 1));
    }

    /// Calls into the library made by the calling thread so far.
    pub fn in_this_thread() -> u64 {
        DGEMM_CALLS.with(|x| x.get())
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn each_thread_counts_its_own_calls() {
            let before = super::in_this_thread();
            super::count();
            super::count();
            assert_eq!(super::in_this_thread(), before + 2);
            let other = std::thread::spawn(|| {
                super::count();
                super::in_this_thread()
            });
            assert_eq!(other.join().unwrap(), 1);
            assert_eq!(super::in_this_thread(), before + 2);
        }
    }
}

use blaspar_core::{Gemm, GemmError, Layout};
use ndarray::Array2;
use std::os::raw::{c_char, c_int};

pub const CBLAS_ROW_MAJOR: c_int = 101;
pub const CBLAS_COL_MAJOR: c_int = 102;
pub const CBLAS_NO_TRANS: c_int = 111;

unsafe extern "C" {
    pub fn cblas_dgemm(
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
}

/// `cblas_dgemm_batch` as MKL and BLIS declare it (LP64: 32-bit integers).
pub type DgemmBatchFn = unsafe extern "C" fn(
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

mod batch_symbol {
    use std::os::raw::c_int;
    unsafe extern "C" {
        pub fn cblas_dgemm_batch(
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

/// The linked library's own `cblas_dgemm_batch`, for backends whose library has one (BLIS,
/// MKL). `#[inline]`: only a crate that calls this references the symbol, so OpenBLAS 0.3.21
/// (which has none) still links.
#[inline]
pub fn linked_dgemm_batch() -> DgemmBatchFn {
    batch_symbol::cblas_dgemm_batch
}

/// The text of a string a library returns about itself (version, configuration, core
/// name); a null pointer reads as empty. Bytes that are not UTF-8 become U+FFFD: these
/// strings only end up in messages and records.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that stays valid during the call (the
/// libraries return static strings).
pub unsafe fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated and valid, as the caller guarantees.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

fn int(v: usize) -> c_int {
    // Gemm::check and shape_of have bounded every value by i32::MAX.
    c_int::try_from(v).unwrap_or(c_int::MAX)
}

/// `C = A B` through `cblas_dgemm`, after [`Gemm::check`].
pub fn dgemm(g: &Gemm, a: &[f64], b: &[f64], c: &mut [f64]) -> Result<(), GemmError> {
    g.check(a.len(), b.len(), c.len())?;
    if g.m == 0 || g.n == 0 {
        return Ok(());
    }
    let layout = match g.layout {
        Layout::RowMajor => CBLAS_ROW_MAJOR,
        Layout::ColMajor => CBLAS_COL_MAJOR,
    };
    // SAFETY: check() proved that every element the call reads or writes lies in the slices.
    unsafe {
        cblas_dgemm(
            layout,
            CBLAS_NO_TRANS,
            CBLAS_NO_TRANS,
            int(g.m),
            int(g.n),
            int(g.k),
            1.0,
            a.as_ptr(),
            int(g.lda),
            b.as_ptr(),
            int(g.ldb),
            0.0,
            c.as_mut_ptr(),
            int(g.ldc),
        )
    }
    Ok(())
}

/// Every product `a . b` of `pairs` in **one** `cblas_dgemm_batch` call: one group per run
/// of equal shapes (a workload's tasks are one group). Inputs that are not in standard
/// (row-major, contiguous) layout are copied first.
pub fn multiply_batch(
    batch: DgemmBatchFn,
    pairs: &[(&Array2<f64>, &Array2<f64>)],
) -> Result<Vec<Array2<f64>>, GemmError> {
    let std_pairs: Vec<_> = pairs
        .iter()
        .map(|(a, b)| (a.as_standard_layout(), b.as_standard_layout()))
        .collect();
    let mut shapes = Vec::with_capacity(pairs.len());
    for (a, b) in &std_pairs {
        let ((m, k), (k2, n)) = (a.dim(), b.dim());
        if k != k2 {
            return Err(GemmError::InnerDimension {
                a_cols: k,
                b_rows: k2,
            });
        }
        Gemm::packed(Layout::RowMajor, m, n, k).check(m * k, k * n, m * n)?;
        shapes.push((m, n, k));
    }
    let mut out: Vec<Array2<f64>> = shapes
        .iter()
        .map(|&(m, n, _)| Array2::zeros((m, n)))
        .collect();
    if pairs.is_empty() {
        return Ok(out);
    }
    // Groups: runs of equal shapes.
    let (mut gm, mut gn, mut gk, mut size) = (vec![], vec![], vec![], vec![]);
    for &(m, n, k) in &shapes {
        if gm.last() == Some(&int(m)) && gn.last() == Some(&int(n)) && gk.last() == Some(&int(k)) {
            *size.last_mut().expect("a group exists") += 1;
        } else {
            gm.push(int(m));
            gn.push(int(n));
            gk.push(int(k));
            size.push(1 as c_int);
        }
    }
    let groups = gm.len();
    let trans = vec![CBLAS_NO_TRANS; groups];
    let (alpha, beta) = (vec![1.0f64; groups], vec![0.0f64; groups]);
    let lda: Vec<c_int> = gk.iter().map(|&k| k.max(1)).collect();
    let ldb: Vec<c_int> = gn.iter().map(|&n| n.max(1)).collect();
    let ldc = &ldb;
    let a_ptrs: Vec<*const f64> = std_pairs.iter().map(|(a, _)| a.as_ptr()).collect();
    let b_ptrs: Vec<*const f64> = std_pairs.iter().map(|(_, b)| b.as_ptr()).collect();
    let c_ptrs: Vec<*mut f64> = out.iter_mut().map(|c| c.as_mut_ptr()).collect();
    // SAFETY: every pointer addresses a distinct standard-layout array of the group's shape;
    // the arrays outlive the call; group arrays have `groups` entries.
    unsafe {
        batch(
            CBLAS_ROW_MAJOR,
            trans.as_ptr(),
            trans.as_ptr(),
            gm.as_ptr(),
            gn.as_ptr(),
            gk.as_ptr(),
            alpha.as_ptr(),
            a_ptrs.as_ptr(),
            lda.as_ptr(),
            b_ptrs.as_ptr(),
            ldb.as_ptr(),
            beta.as_ptr(),
            c_ptrs.as_ptr(),
            ldc.as_ptr(),
            int(groups),
            size.as_ptr(),
        )
    }
    Ok(out)
}

/// The [`Backend`](blaspar_core::Backend) methods every CBLAS backend implements alike,
/// for use inside its `impl Backend` block: `multiply` (ndarray's `.dot`, which hands
/// standard-layout f64 products with any dimension > 7 to `cblas_dgemm`, where the binary
/// counts the call), `multiply_into` (the same path, `general_mat_mul` with beta = 0, into a
/// slot of the result store) and `dgemm` (one direct call, [`dgemm`]).
#[macro_export]
macro_rules! cblas_products {
    () => {
        fn multiply(
            &self,
            a: &ndarray::Array2<f64>,
            b: &ndarray::Array2<f64>,
        ) -> ndarray::Array2<f64> {
            a.dot(b)
        }

        fn multiply_into(
            &self,
            a: ndarray::ArrayView2<'_, f64>,
            b: ndarray::ArrayView2<'_, f64>,
            mut c: ndarray::ArrayViewMut2<'_, f64>,
        ) {
            ndarray::linalg::general_mat_mul(1.0, &a, &b, 0.0, &mut c);
        }

        fn dgemm(
            &self,
            g: &blaspar_core::Gemm,
            a: &[f64],
            b: &[f64],
            c: &mut [f64],
        ) -> Result<(), blaspar_core::GemmError> {
            $crate::dgemm(g, a, b, c)
        }
    };
}

/// `operation_unsupported` (none) and `compute` ([`lapack::compute`]) for a backend whose
/// library answers every LAPACK routine the operations call (checked at its start-up).
#[macro_export]
macro_rules! lapack_operations {
    () => {
        fn operation_unsupported(&self, _: blaspar_core::operation::Operation) -> Option<String> {
            None
        }

        fn compute(
            &self,
            op: blaspar_core::operation::Operation,
            input: &blaspar_core::task::Input,
        ) -> Result<blaspar_core::task::Output, String> {
            $crate::lapack::compute(self, op, input)
        }
    };
}

/// Defines, in an engine binary, the counting of calls into the library's dgemm ([`calls`]):
/// `__wrap_cblas_dgemm` (and with `batch`, `__wrap_cblas_dgemm_batch`) count and forward to
/// the real symbol, and `fn dgemm_calls() -> u64` reads the calling thread's count. The
/// binary must be linked with `-Wl,--wrap=cblas_dgemm` (and `--wrap=cblas_dgemm_batch`): the
/// backend crate's build.rs says `cargo:rustc-link-arg-bins=...`.
#[macro_export]
macro_rules! count_dgemm_calls {
    () => {
        unsafe extern "C" {
            fn __real_cblas_dgemm(
                layout: ::std::os::raw::c_int,
                ta: ::std::os::raw::c_int,
                tb: ::std::os::raw::c_int,
                m: ::std::os::raw::c_int,
                n: ::std::os::raw::c_int,
                k: ::std::os::raw::c_int,
                alpha: f64,
                a: *const f64,
                lda: ::std::os::raw::c_int,
                b: *const f64,
                ldb: ::std::os::raw::c_int,
                beta: f64,
                c: *mut f64,
                ldc: ::std::os::raw::c_int,
            );
        }

        /// # Safety
        /// Same contract as `cblas_dgemm`, which it forwards to.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn __wrap_cblas_dgemm(
            layout: ::std::os::raw::c_int,
            ta: ::std::os::raw::c_int,
            tb: ::std::os::raw::c_int,
            m: ::std::os::raw::c_int,
            n: ::std::os::raw::c_int,
            k: ::std::os::raw::c_int,
            alpha: f64,
            a: *const f64,
            lda: ::std::os::raw::c_int,
            b: *const f64,
            ldb: ::std::os::raw::c_int,
            beta: f64,
            c: *mut f64,
            ldc: ::std::os::raw::c_int,
        ) {
            $crate::calls::count();
            unsafe {
                __real_cblas_dgemm(layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            }
        }

        /// Calls into the library's dgemm made by the calling thread so far.
        fn dgemm_calls() -> u64 {
            $crate::calls::in_this_thread()
        }
    };
    (batch) => {
        $crate::count_dgemm_calls!();

        unsafe extern "C" {
            fn __real_cblas_dgemm_batch(
                layout: ::std::os::raw::c_int,
                transa: *const ::std::os::raw::c_int,
                transb: *const ::std::os::raw::c_int,
                m: *const ::std::os::raw::c_int,
                n: *const ::std::os::raw::c_int,
                k: *const ::std::os::raw::c_int,
                alpha: *const f64,
                a: *const *const f64,
                lda: *const ::std::os::raw::c_int,
                b: *const *const f64,
                ldb: *const ::std::os::raw::c_int,
                beta: *const f64,
                c: *const *mut f64,
                ldc: *const ::std::os::raw::c_int,
                group_count: ::std::os::raw::c_int,
                group_size: *const ::std::os::raw::c_int,
            );
        }

        /// # Safety
        /// Same contract as `cblas_dgemm_batch`, which it forwards to.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn __wrap_cblas_dgemm_batch(
            layout: ::std::os::raw::c_int,
            transa: *const ::std::os::raw::c_int,
            transb: *const ::std::os::raw::c_int,
            m: *const ::std::os::raw::c_int,
            n: *const ::std::os::raw::c_int,
            k: *const ::std::os::raw::c_int,
            alpha: *const f64,
            a: *const *const f64,
            lda: *const ::std::os::raw::c_int,
            b: *const *const f64,
            ldb: *const ::std::os::raw::c_int,
            beta: *const f64,
            c: *const *mut f64,
            ldc: *const ::std::os::raw::c_int,
            group_count: ::std::os::raw::c_int,
            group_size: *const ::std::os::raw::c_int,
        ) {
            $crate::calls::count();
            unsafe {
                __real_cblas_dgemm_batch(
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
    };
}

//! The operations beyond GEMM through the library's LAPACK: `dgesv_`, `dpotrf_`,
//! `dgeqrf_`, `dsyevd_` and `dgesdd_`, for the backends whose library ships LAPACK
//! (OpenBLAS, MKL) or is linked under one (BLIS under libflame). Declared here and linked by
//! the backend crate, as `cblas_dgemm` is; [`crate::provenance`] checks at start-up which
//! object answers them and the BLAS calls they make.
//!
//! Why the Fortran symbols and not ndarray-linalg: ndarray-linalg 0.18 reaches LAPACK
//! through `lax` and `lapack-sys` with its own choice of `-src` crate per feature (and none
//! for libflame), so each backend crate would link its library twice over; the five calls
//! here are the whole of what the operations need, on the one library the crate already
//! links.
//!
//! - **Column-major copies.** LAPACK is column-major; the input is copied into Fortran
//!   order (O(n^2), inside the timed call, as NumPy's and SciPy's wrappers copy) and the
//!   results come back in Fortran order (the checks read any memory order).
//! - **Hidden string lengths.** gfortran passes the length of every CHARACTER argument as
//!   a hidden trailing argument; omitting it is undefined behaviour that crashes when the
//!   callee tail-calls (GCC bug 90329, LAPACK issue 339), so they are passed (1 each). MKL
//!   and libflame, not built by gfortran, ignore them.
//! - **Workspace**: queried (`lwork = -1`) and allocated per call, as a caller would.
//! - **info**: negative means an illegal argument (a bug here), positive the matrix's
//!   fault (singular, not positive definite) or no convergence; both become an error
//!   naming the routine.

use blaspar_core::Backend;
use blaspar_core::operation::Operation;
use blaspar_core::task::{Input, Output};
use ndarray::{Array1, Array2, ArrayView2, ShapeBuilder};
use std::os::raw::{c_char, c_int};

unsafe extern "C" {
    fn dgesv_(
        n: *const c_int,
        nrhs: *const c_int,
        a: *mut f64,
        lda: *const c_int,
        ipiv: *mut c_int,
        b: *mut f64,
        ldb: *const c_int,
        info: *mut c_int,
    );
    fn dpotrf_(
        uplo: *const c_char,
        n: *const c_int,
        a: *mut f64,
        lda: *const c_int,
        info: *mut c_int,
        uplo_len: usize,
    );
    fn dgeqrf_(
        m: *const c_int,
        n: *const c_int,
        a: *mut f64,
        lda: *const c_int,
        tau: *mut f64,
        work: *mut f64,
        lwork: *const c_int,
        info: *mut c_int,
    );
    fn dsyevd_(
        jobz: *const c_char,
        uplo: *const c_char,
        n: *const c_int,
        a: *mut f64,
        lda: *const c_int,
        w: *mut f64,
        work: *mut f64,
        lwork: *const c_int,
        iwork: *mut c_int,
        liwork: *const c_int,
        info: *mut c_int,
        jobz_len: usize,
        uplo_len: usize,
    );
    fn dgesdd_(
        jobz: *const c_char,
        m: *const c_int,
        n: *const c_int,
        a: *mut f64,
        lda: *const c_int,
        s: *mut f64,
        u: *mut f64,
        ldu: *const c_int,
        vt: *mut f64,
        ldvt: *const c_int,
        work: *mut f64,
        lwork: *const c_int,
        iwork: *mut c_int,
        info: *mut c_int,
        jobz_len: usize,
    );
}

/// Defines the five LAPACK names this module calls (`dgesv_`, ...) in the invoking crate,
/// each forwarding to the routine of the same signature under another name: for a library
/// whose symbols carry a prefix (scipy-openblas: `scipy_dgesv_`).
///
/// `blaspar_cblas::forward_lapack!(scipy_dgesv_, scipy_dpotrf_, scipy_dgeqrf_, scipy_dsyevd_, scipy_dgesdd_);`
#[macro_export]
macro_rules! forward_lapack {
    ($gesv:ident, $potrf:ident, $geqrf:ident, $syevd:ident, $gesdd:ident) => {
        mod forwarded_lapack {
            use std::os::raw::{c_char, c_int};
            type I = *const c_int;
            type F = *mut f64;
            type C = *const c_char;
            unsafe extern "C" {
                fn $gesv(
                    n: I,
                    nrhs: I,
                    a: F,
                    lda: I,
                    ipiv: *mut c_int,
                    b: F,
                    ldb: I,
                    info: *mut c_int,
                );
                fn $potrf(uplo: C, n: I, a: F, lda: I, info: *mut c_int, uplo_len: usize);
                fn $geqrf(m: I, n: I, a: F, lda: I, tau: F, work: F, lwork: I, info: *mut c_int);
                fn $syevd(
                    jobz: C,
                    uplo: C,
                    n: I,
                    a: F,
                    lda: I,
                    w: F,
                    work: F,
                    lwork: I,
                    iwork: *mut c_int,
                    liwork: I,
                    info: *mut c_int,
                    jobz_len: usize,
                    uplo_len: usize,
                );
                fn $gesdd(
                    jobz: C,
                    m: I,
                    n: I,
                    a: F,
                    lda: I,
                    s: F,
                    u: F,
                    ldu: I,
                    vt: F,
                    ldvt: I,
                    work: F,
                    lwork: I,
                    iwork: *mut c_int,
                    info: *mut c_int,
                    jobz_len: usize,
                );
            }
            /// Forwards to the prefixed routine (same arguments).
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn dgesv_(
                n: I,
                nrhs: I,
                a: F,
                lda: I,
                ipiv: *mut c_int,
                b: F,
                ldb: I,
                info: *mut c_int,
            ) {
                // SAFETY: the caller's arguments, unchanged, to the same routine.
                unsafe { $gesv(n, nrhs, a, lda, ipiv, b, ldb, info) }
            }
            /// Forwards to the prefixed routine (same arguments).
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn dpotrf_(
                uplo: C,
                n: I,
                a: F,
                lda: I,
                info: *mut c_int,
                uplo_len: usize,
            ) {
                // SAFETY: the caller's arguments, unchanged, to the same routine.
                unsafe { $potrf(uplo, n, a, lda, info, uplo_len) }
            }
            /// Forwards to the prefixed routine (same arguments).
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn dgeqrf_(
                m: I,
                n: I,
                a: F,
                lda: I,
                tau: F,
                work: F,
                lwork: I,
                info: *mut c_int,
            ) {
                // SAFETY: the caller's arguments, unchanged, to the same routine.
                unsafe { $geqrf(m, n, a, lda, tau, work, lwork, info) }
            }
            /// Forwards to the prefixed routine (same arguments).
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn dsyevd_(
                jobz: C,
                uplo: C,
                n: I,
                a: F,
                lda: I,
                w: F,
                work: F,
                lwork: I,
                iwork: *mut c_int,
                liwork: I,
                info: *mut c_int,
                jobz_len: usize,
                uplo_len: usize,
            ) {
                // SAFETY: the caller's arguments, unchanged, to the same routine.
                unsafe {
                    $syevd(
                        jobz, uplo, n, a, lda, w, work, lwork, iwork, liwork, info, jobz_len,
                        uplo_len,
                    )
                }
            }
            /// Forwards to the prefixed routine (same arguments).
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn dgesdd_(
                jobz: C,
                m: I,
                n: I,
                a: F,
                lda: I,
                s: F,
                u: F,
                ldu: I,
                vt: F,
                ldvt: I,
                work: F,
                lwork: I,
                iwork: *mut c_int,
                info: *mut c_int,
                jobz_len: usize,
            ) {
                // SAFETY: the caller's arguments, unchanged, to the same routine.
                unsafe {
                    $gesdd(
                        jobz, m, n, a, lda, s, u, ldu, vt, ldvt, work, lwork, iwork, info, jobz_len,
                    )
                }
            }
        }
    };
}

/// `op` on `input` through `backend`: products through [`Backend::multiply`], the rest
/// through LAPACK, with the calling thread's thread setting.
pub fn compute<B: Backend + ?Sized>(
    backend: &B,
    op: Operation,
    input: &Input,
) -> Result<Output, String> {
    if let (Operation::Gemm, Input::Pair(a, b)) = (op, input) {
        return Ok(Output::Product(backend.multiply(a, b)));
    }
    let a = input.a();
    let n = a.nrows();
    let ni = c_int::try_from(n)
        .map_err(|_| format!("{op}: n = {n} does not fit LAPACK's 32-bit integers"))?;
    let mut f = fortran(a);
    let mut info: c_int = 0;
    let lda = ni.max(1);
    let status = |routine: &str, info: c_int, positive: &str| match info {
        0 => Ok(()),
        i if i < 0 => Err(format!("{routine}: argument {} was illegal", -i)),
        i => Err(format!("{routine}: info = {i}: {positive}")),
    };
    let data = |m: &mut Array2<f64>| {
        m.as_slice_memory_order_mut()
            .expect("contiguous")
            .as_mut_ptr()
    };
    match (op, input) {
        (Operation::Solve, Input::System(_, b)) => {
            let mut x = b.to_vec();
            let mut ipiv = vec![0; n];
            // SAFETY: n x n column-major A with lda >= n, n pivots, one right-hand side of n.
            unsafe {
                dgesv_(
                    &ni,
                    &1,
                    data(&mut f),
                    &lda,
                    ipiv.as_mut_ptr(),
                    x.as_mut_ptr(),
                    &lda,
                    &mut info,
                )
            };
            status("dgesv", info, "U is exactly singular")?;
            Ok(Output::Solution(Array1::from(x)))
        }
        (Operation::Cholesky, Input::Single(_)) => {
            // SAFETY: n x n column-major, lda >= n; 'L' with its hidden length.
            unsafe { dpotrf_(&(b'L' as c_char), &ni, data(&mut f), &lda, &mut info, 1) };
            status("dpotrf", info, "the matrix is not positive definite")?;
            Ok(Output::Cholesky(f))
        }
        (Operation::Qr, Input::Single(_)) => {
            let mut tau = vec![0.0; n];
            let qr = |f: &mut Array2<f64>,
                      tau: &mut [f64],
                      work: &mut [f64],
                      lwork: c_int,
                      info: &mut c_int| {
                // SAFETY: n x n column-major, n entries of tau, lwork entries of work (or
                // the query, lwork = -1, which writes work[0] only).
                unsafe {
                    dgeqrf_(
                        &ni,
                        &ni,
                        data(f),
                        &lda,
                        tau.as_mut_ptr(),
                        work.as_mut_ptr(),
                        &lwork,
                        info,
                    )
                }
            };
            let mut query = [0.0];
            qr(&mut f, &mut tau, &mut query, -1, &mut info);
            status("dgeqrf (workspace query)", info, "")?;
            let mut work = vec![0.0; (query[0] as usize).max(1)];
            let lwork = work.len() as c_int;
            qr(&mut f, &mut tau, &mut work, lwork, &mut info);
            status("dgeqrf", info, "")?;
            Ok(Output::Qr {
                factors: f,
                tau: Array1::from(tau),
            })
        }
        (Operation::Eigh, Input::Single(_)) => {
            let mut w = vec![0.0; n];
            let mut evd = |f: &mut Array2<f64>,
                           work: &mut [f64],
                           lwork: c_int,
                           iwork: &mut [c_int],
                           liwork: c_int,
                           info: &mut c_int| {
                // SAFETY: n x n column-major, n eigenvalues, lwork / liwork entries of the
                // workspaces (or the query, -1, which writes their first entries only).
                unsafe {
                    dsyevd_(
                        &(b'V' as c_char),
                        &(b'L' as c_char),
                        &ni,
                        data(f),
                        &lda,
                        w.as_mut_ptr(),
                        work.as_mut_ptr(),
                        &lwork,
                        iwork.as_mut_ptr(),
                        &liwork,
                        info,
                        1,
                        1,
                    )
                }
            };
            let (mut q, mut iq) = ([0.0], [0]);
            evd(&mut f, &mut q, -1, &mut iq, -1, &mut info);
            status("dsyevd (workspace query)", info, "")?;
            let mut work = vec![0.0; (q[0] as usize).max(1)];
            let mut iwork = vec![0; (iq[0] as usize).max(1)];
            let (lwork, liwork) = (work.len() as c_int, iwork.len() as c_int);
            evd(&mut f, &mut work, lwork, &mut iwork, liwork, &mut info);
            status("dsyevd", info, "the algorithm failed to converge")?;
            Ok(Output::Eigh {
                values: Array1::from(w),
                vectors: f,
            })
        }
        (Operation::Svd, Input::Single(_)) => {
            let mut s = vec![0.0; n];
            let mut u = Array2::zeros((n, n).f());
            let mut vt = Array2::zeros((n, n).f());
            let mut iwork = vec![0; 8 * n.max(1)];
            let mut svd = |f: &mut Array2<f64>,
                           u: &mut Array2<f64>,
                           vt: &mut Array2<f64>,
                           work: &mut [f64],
                           lwork: c_int,
                           info: &mut c_int| {
                // SAFETY: n x n column-major A, U and V^T with leading dimension >= n, n
                // singular values, 8 n integers, lwork doubles (or the query, -1).
                unsafe {
                    dgesdd_(
                        &(b'A' as c_char),
                        &ni,
                        &ni,
                        data(f),
                        &lda,
                        s.as_mut_ptr(),
                        data(u),
                        &lda,
                        data(vt),
                        &lda,
                        work.as_mut_ptr(),
                        &lwork,
                        iwork.as_mut_ptr(),
                        info,
                        1,
                    )
                }
            };
            let mut q = [0.0];
            svd(&mut f, &mut u, &mut vt, &mut q, -1, &mut info);
            status("dgesdd (workspace query)", info, "")?;
            let mut work = vec![0.0; (q[0] as usize).max(1)];
            let lwork = work.len() as c_int;
            svd(&mut f, &mut u, &mut vt, &mut work, lwork, &mut info);
            status("dgesdd", info, "the bidiagonal SVD did not converge")?;
            Ok(Output::Svd {
                u,
                s: Array1::from(s),
                vt,
            })
        }
        _ => Err(format!("{op} got the input of another operation")),
    }
}

/// A column-major (Fortran-order) copy of `a`.
fn fortran(a: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut f = Array2::zeros(a.dim().f());
    f.assign(&a);
    f
}

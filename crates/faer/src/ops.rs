//! Every [`Operation`] through faer's own decompositions, with the parallelism the caller
//! passes (never faer's global one: the high-level `Mat::llt()`, `qr()`, `svd()`, ... read
//! `get_global_parallelism`, so this module calls the low-level in-place routines that take
//! `par`, each with a `MemStack` sized by its own `*_scratch` function).
//!
//! | op | faer routine | LAPACK's counterpart |
//! |---|---|---|
//! | solve | `lu::partial_pivoting::{factor::lu_in_place, solve::solve_in_place}` | dgesv |
//! | cholesky | `cholesky::llt::factor::cholesky_in_place` | dpotrf |
//! | qr | `qr::no_pivoting::factor::qr_in_place` | dgeqrf |
//! | eigh | `evd::self_adjoint_evd` | dsyevd |
//! | svd | `svd::svd`, full U and V | dgesdd |
//!
//! Results come back in LAPACK's layouts ([`Output`]'s documentation); faer's QR is
//! converted to LAPACK's compact form (see [`qr`]). Bad input (a shape that does not suit
//! the operation, a matrix that is not positive definite or is singular, no convergence)
//! is an `Err` naming the operation and the reason, never a panic.

use blaspar_core::operation::Operation;
use blaspar_core::task::{Input, Output};
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt::factor::{LltError, cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::evd::{
    ComputeEigenvectors, EvdError, self_adjoint_evd, self_adjoint_evd_scratch,
};
use faer::linalg::lu::partial_pivoting::{factor as lu, solve as lu_solve};
use faer::linalg::qr::no_pivoting::factor as qr_factor;
use faer::linalg::svd::{ComputeSvdVectors, SvdError, svd, svd_scratch};
use faer::{Mat, MatRef, Par};
use ndarray::{Array1, Array2, ArrayView2};

/// One task of a decomposition `op` on `input` with parallelism `par` (run it inside the
/// pool `par` names). Products go through `Faer::multiply`, which sets up its own `Par`.
pub fn decompose(op: Operation, input: &Input, par: Par) -> Result<Output, String> {
    match (op, input) {
        (Operation::Solve, Input::System(a, b)) => solve(a.view(), b, par),
        (Operation::Cholesky, Input::Single(s)) => cholesky(s.view(), par),
        (Operation::Qr, Input::Single(a)) => qr(a.view(), par),
        (Operation::Eigh, Input::Single(s)) => eigh(s.view(), par),
        (Operation::Svd, Input::Single(a)) => singular(a.view(), par),
        _ => Err(format!("{op} got the input of another operation")),
    }
}

/// A column-major faer copy of `a` (the decompositions work in place on it).
fn to_faer(a: ArrayView2<'_, f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
}

fn from_faer(m: MatRef<'_, f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

/// `Err` unless `a` is square.
fn square(op: Operation, a: ArrayView2<'_, f64>) -> Result<usize, String> {
    let (m, n) = a.dim();
    if m == n {
        Ok(n)
    } else {
        Err(format!("{op}: the matrix must be square, got {m}x{n}"))
    }
}

/// A workspace of `req` bytes, or why there is none.
fn workspace(op: Operation, req: StackReq) -> Result<MemBuffer, String> {
    MemBuffer::try_new(req).map_err(|e| {
        format!(
            "{op}: cannot allocate faer's workspace ({} bytes): {e}",
            req.size_bytes()
        )
    })
}

/// dgesv: LU with partial pivoting, then the solve with one right-hand side.
fn solve(a: ArrayView2<'_, f64>, b: &Array1<f64>, par: Par) -> Result<Output, String> {
    let op = Operation::Solve;
    let n = square(op, a)?;
    if b.len() != n {
        return Err(format!(
            "solve: the right-hand side has {} entries for a {n}x{n} matrix",
            b.len()
        ));
    }
    let mut lu_mat = to_faer(a);
    let (mut fwd, mut bwd) = (vec![0usize; n], vec![0usize; n]);
    let req = lu::lu_in_place_scratch::<usize, f64>(n, n, par, Default::default())
        .or(lu_solve::solve_in_place_scratch::<usize, f64>(n, 1, par));
    let mut mem = workspace(op, req)?;
    let stack = MemStack::new(&mut mem);
    let (_, perm) = lu::lu_in_place(
        lu_mat.as_mut(),
        &mut fwd,
        &mut bwd,
        par,
        stack,
        Default::default(),
    );
    // faer factors a singular matrix without complaint; LAPACK's dgetrf reports the first
    // exactly zero pivot (info > 0) and dgesv then does not solve.
    if let Some(i) = (0..n).find(|&i| lu_mat[(i, i)] == 0.0) {
        return Err(format!(
            "solve: the matrix is singular (U({0},{0}) is exactly zero, LAPACK's info = {0})",
            i + 1
        ));
    }
    let mut x = Mat::from_fn(n, 1, |i, _| b[i]);
    // The unit lower triangle (L) and the upper triangle (U) share one matrix; each solve
    // reads only its own triangle.
    lu_solve::solve_in_place(
        lu_mat.as_ref(),
        lu_mat.as_ref(),
        perm,
        x.as_mut(),
        par,
        stack,
    );
    Ok(Output::Solution(Array1::from_shape_fn(n, |i| x[(i, 0)])))
}

/// dpotrf: S = L L^T from S's lower triangle; L in the lower triangle, zeros above.
fn cholesky(s: ArrayView2<'_, f64>, par: Par) -> Result<Output, String> {
    let op = Operation::Cholesky;
    let n = square(op, s)?;
    let mut l = to_faer(s);
    let mut mem = workspace(
        op,
        cholesky_in_place_scratch::<f64>(n, par, Default::default()),
    )?;
    let stack = MemStack::new(&mut mem);
    // No regularization: a pivot that is not positive is an error, as in dpotrf.
    cholesky_in_place(
        l.as_mut(),
        Default::default(),
        par,
        stack,
        Default::default(),
    )
    .map_err(|LltError::NonPositivePivot { index }| {
        format!(
            "cholesky: the matrix is not positive definite (pivot {} is not positive, \
             LAPACK's info = {})",
            index + 1,
            index + 1
        )
    })?;
    Ok(Output::Cholesky(Array2::from_shape_fn((n, n), |(i, j)| {
        if j <= i { l[(i, j)] } else { 0.0 }
    })))
}

/// dgeqrf: A = Q R in LAPACK's compact form (R on and above the diagonal, the essential
/// part of each Householder vector below it with an implicit unit head) and tau.
///
/// faer writes R and the Householder vectors exactly where LAPACK does (the vectors also
/// have a unit head, `linalg::householder`), but writes each reflector as
/// `H = I - v v^T / t` and keeps, per block of `bs` columns, an upper-triangular factor T
/// with `H_0 ... H_{b-1} = I - V T^{-1} V^T`. LAPACK's compact WY form is `I - V T_L V^T`
/// with `diag(T_L) = tau`, so `T^{-1} = T_L` and, T being triangular, `T_ii = 1 / tau_i`:
/// column i's `t` sits on the diagonal of its block's T, at row `i % bs` of `Q_coeff`
/// (blocks start at multiples of bs). Hence `tau_i = 1 / T_ii`, which is `2 / (v^T v)`
/// (faer's `t = (1 + |v_essential|^2) / 2`), the relation `verify` checks. faer marks a
/// reflector it skipped (a column already zero below the diagonal, or one past the rank)
/// with an infinite `t`: `1 / inf = 0`, LAPACK's tau for H = I. We keep faer's
/// recommended block size: block size 1 (a row of `t`s) would be the unblocked, much
/// slower factorization.
fn qr(a: ArrayView2<'_, f64>, par: Par) -> Result<Output, String> {
    let op = Operation::Qr;
    let n = square(op, a)?;
    let mut factors = to_faer(a);
    let bs = qr_factor::recommended_block_size::<f64>(n, n);
    let mut t = Mat::<f64>::zeros(bs, n);
    let mut mem = workspace(
        op,
        qr_factor::qr_in_place_scratch::<f64>(n, n, bs, par, Default::default()),
    )?;
    qr_factor::qr_in_place(
        factors.as_mut(),
        t.as_mut(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    );
    let tau = Array1::from_shape_fn(n, |i| t[(i % bs, i)].recip());
    Ok(Output::Qr {
        factors: from_faer(factors.as_ref()),
        tau,
    })
}

/// dsyevd: eigenvalues ascending and eigenvectors as columns, from S's lower triangle.
fn eigh(s: ArrayView2<'_, f64>, par: Par) -> Result<Output, String> {
    let op = Operation::Eigh;
    let n = square(op, s)?;
    if n == 0 {
        // faer's workspace size underflows at n = 0 (`n - 1`).
        return Ok(Output::Eigh {
            values: Array1::zeros(0),
            vectors: Array2::zeros((0, 0)),
        });
    }
    let fs = to_faer(s);
    let mut values = Diag::<f64>::zeros(n);
    let mut vectors = Mat::<f64>::zeros(n, n);
    let mut mem = workspace(
        op,
        self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::Yes, par, Default::default()),
    )?;
    self_adjoint_evd(
        fs.as_ref(),
        values.as_mut(),
        Some(vectors.as_mut()),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|EvdError::NoConvergence| {
        "eigh: faer's self-adjoint eigensolver did not converge (iteration limit reached)"
            .to_string()
    })?;
    let values = values.column_vector();
    Ok(Output::Eigh {
        values: Array1::from_shape_fn(n, |i| values[i]),
        vectors: from_faer(vectors.as_ref()),
    })
}

/// dgesdd: A = U diag(s) V^T with s descending, full U and V^T.
fn singular(a: ArrayView2<'_, f64>, par: Par) -> Result<Output, String> {
    let op = Operation::Svd;
    let n = square(op, a)?;
    if n == 0 {
        // Nothing to decompose (and faer's eigensolver cannot size a workspace for n = 0).
        return Ok(Output::Svd {
            u: Array2::zeros((0, 0)),
            s: Array1::zeros(0),
            vt: Array2::zeros((0, 0)),
        });
    }
    let fa = to_faer(a);
    let mut s = Diag::<f64>::zeros(n);
    let (mut u, mut v) = (Mat::<f64>::zeros(n, n), Mat::<f64>::zeros(n, n));
    let full = ComputeSvdVectors::Full;
    let mut mem = workspace(
        op,
        svd_scratch::<f64>(n, n, full, full, par, Default::default()),
    )?;
    svd(
        fa.as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        Some(v.as_mut()),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|SvdError::NoConvergence| {
        "svd: faer's singular value decomposition did not converge (iteration limit reached)"
            .to_string()
    })?;
    let s = s.column_vector();
    Ok(Output::Svd {
        u: from_faer(u.as_ref()),
        s: Array1::from_shape_fn(n, |i| s[i]),
        vt: from_faer(v.transpose()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use blaspar_core::Workload;
    use blaspar_core::task::verify;

    fn workload(n: usize) -> Workload {
        Workload {
            tasks: 1,
            size: n,
            seed: 5,
            generation: Default::default(),
            operation: Default::default(),
            corrupt: None,
        }
    }

    fn checked(op: Operation, input: &Input) -> Output {
        let out = decompose(op, input, Par::Seq).unwrap_or_else(|e| panic!("{op}: {e}"));
        verify(op, input, &out).unwrap_or_else(|e| panic!("{op}: {e}"));
        out
    }

    #[test]
    fn every_decomposition_passes_its_check_across_qr_block_sizes() {
        // QR's recommended block size is 1 up to 16^2 entries, then 4, 8, 32, 48; past
        // 48^2 entries faer also splits each block in two. Cover each regime.
        for n in [1, 2, 16, 17, 40, 130, 260] {
            for op in Operation::ALL.into_iter().filter(|&o| o != Operation::Gemm) {
                checked(op, &op.input(&workload(n), 0, 1));
            }
        }
    }

    #[test]
    fn qr_tau_is_lapacks() {
        // A 1x1 matrix is already triangular: dlarfg returns tau = 0 (H = I).
        let one = Input::Single(Array2::from_elem((1, 1), -3.0));
        let Output::Qr { factors, tau } = checked(Operation::Qr, &one) else {
            panic!("qr returns factors and tau")
        };
        assert_eq!((factors[[0, 0]], tau[0]), (-3.0, 0.0));
        // Otherwise tau_i = 2 / (v_i^T v_i), so 1 <= tau_i <= 2, but for the last column of a
        // square matrix, which has nothing below the diagonal: tau = 0 there too.
        let Output::Qr { tau, .. } =
            checked(Operation::Qr, &Operation::Qr.input(&workload(96), 0, 1))
        else {
            panic!("qr returns factors and tau")
        };
        let (last, rest) = tau.as_slice().unwrap().split_last().unwrap();
        assert!(rest.iter().all(|&t| (1.0..=2.0).contains(&t)), "{tau}");
        assert_eq!(*last, 0.0);
    }

    #[test]
    fn qr_of_rank_deficient_matrices_is_still_a_valid_compact_qr() {
        let Input::Single(a) = Operation::Qr.input(&workload(100), 0, 1) else {
            panic!("qr takes one matrix")
        };
        // A zero column, a repeated column, and a matrix of rank one.
        let mut zero_col = a.clone();
        zero_col.column_mut(3).fill(0.0);
        let mut repeated = a.clone();
        let c = repeated.column(10).to_owned();
        repeated.column_mut(60).assign(&c);
        let rank_one = Array2::from_shape_fn((100, 100), |(i, j)| (i + 1) as f64 * (j + 2) as f64);
        for m in [zero_col, repeated, rank_one, Array2::zeros((40, 40))] {
            checked(Operation::Qr, &Input::Single(m));
        }
    }

    #[test]
    fn bad_input_is_an_error_naming_the_operation_and_the_reason() {
        let rect = Input::Single(Array2::zeros((3, 4)));
        for op in [
            Operation::Cholesky,
            Operation::Qr,
            Operation::Eigh,
            Operation::Svd,
        ] {
            let e = decompose(op, &rect, Par::Seq).unwrap_err();
            assert!(e.starts_with(op.name()) && e.contains("square"), "{e}");
        }
        let e = decompose(
            Operation::Solve,
            &Input::System(Array2::eye(3), Array1::zeros(4)),
            Par::Seq,
        )
        .unwrap_err();
        assert!(e.contains("4 entries for a 3x3"), "{e}");
        let e = decompose(
            Operation::Eigh,
            &Input::System(Array2::eye(2), Array1::zeros(2)),
            Par::Seq,
        )
        .unwrap_err();
        assert!(e.contains("input of another operation"), "{e}");
        // Two equal rows: LU meets an exactly zero pivot.
        let singular =
            Array2::from_shape_fn(
                (3, 3),
                |(i, j)| if i == 2 { j as f64 } else { (i + j) as f64 },
            );
        let e = decompose(
            Operation::Solve,
            &Input::System(singular, Array1::ones(3)),
            Par::Seq,
        )
        .unwrap_err();
        assert!(e.starts_with("solve: the matrix is singular"), "{e}");
        // Indefinite: the second pivot is 1 - 4 < 0.
        let indefinite = Array2::from_shape_vec((2, 2), vec![1.0, 2.0, 2.0, 1.0]).unwrap();
        let e = decompose(Operation::Cholesky, &Input::Single(indefinite), Par::Seq).unwrap_err();
        assert!(
            e.contains("not positive definite") && e.contains("info = 2"),
            "{e}"
        );
    }

    #[test]
    fn cholesky_leaves_zeros_above_the_diagonal() {
        let input = Operation::Cholesky.input(&workload(20), 0, 1);
        let Output::Cholesky(l) = checked(Operation::Cholesky, &input) else {
            panic!("cholesky returns L")
        };
        assert!(l.indexed_iter().all(|((i, j), &x)| j <= i || x == 0.0));
    }

    #[test]
    fn empty_matrices_give_empty_results() {
        for op in Operation::ALL.into_iter().filter(|&o| o != Operation::Gemm) {
            let input = match op {
                Operation::Solve => Input::System(Array2::zeros((0, 0)), Array1::zeros(0)),
                _ => Input::Single(Array2::zeros((0, 0))),
            };
            decompose(op, &input, Par::Seq).unwrap_or_else(|e| panic!("{op}: {e}"));
        }
    }
}

//! One task of an operation: its operands from the workload's generator, its result in
//! LAPACK's layout, and the check of every result.
//!
//! **Inputs**, from the workload's pinned generator ([`Workload::generate`]): A is the
//! task's first matrix (entries uniform in [0, 1)); gemm multiplies it by the second.
//! `solve`'s right-hand side b is the first row of the second matrix (block 0 of its
//! stream, so nothing else is drawn). `cholesky` and `eigh` take `S = (A + A^T) / 2 + n I`:
//! off-diagonal row sums are below n - 1 and the diagonal is at least n, so S is strictly
//! diagonally dominant with a positive diagonal, hence symmetric positive definite, made in
//! O(n^2) without a product. The shift moves no eigenvector and no gap between eigenvalues,
//! so an eigensolver meets the spectrum of a random symmetric matrix.
//!
//! **Verification** of every task by checks of its own, each O(n^2) through a fixed random
//! vector u (entries in [0.5, 1.5)), never by comparing a library with itself. Every check
//! is a ratio `residual / (norm * n * eps)`, eps = 2^-52, that must stay at most
//! [`THRESHOLD`] = 30, the threshold of LAPACK's own test suite (e.g. `dtest.in`):
//!
//! - solve: `||A x - b|| / (||A|| ||x|| n eps)`;
//! - cholesky: `||S u - L (L^T u)|| / (||S|| ||u|| n eps)` (the lower triangle is L; the
//!   upper is not read), and a positive diagonal;
//! - qr (LAPACK's compact form: R on and above the diagonal, the Householder vectors below
//!   it with an implicit unit, and tau): `||A u - Q (R u)|| / (||A|| ||u|| n eps)`, and each
//!   reflector orthogonal, `|tau_i v_i^T v_i - 2| / (n eps)` (or tau_i = 0);
//! - eigh (values ascending, vectors as columns): `||S (V u) - V (L u)|| / (||S|| ||u|| n eps)`
//!   and `||V^T (V u) - u|| / (||u|| n eps)`;
//! - svd (values descending and non-negative): `||A u - U (S (V^T u))|| / (||A|| ||u|| n
//!   eps)`, `||U^T (U u) - u||` and `||V (V^T u) - u||` over `||u|| n eps`.
//!
//! Norms are infinity norms. A wrong entry moves the projected residual by about its error
//! times an entry of u, so a single corrupted value fails its task.

use crate::operation::Operation;
use crate::verify::Verifier;
use crate::workload::{Workload, unit_f64};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Largest accepted check ratio (LAPACK's test-suite threshold).
pub const THRESHOLD: f64 = 30.0;

/// A task's operand dimensions: A is m x k and B is k x n (gemm); the other operations
/// take n x n operands (m = k = n).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Dims {
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

impl Dims {
    /// n x n operands.
    pub fn square(n: usize) -> Dims {
        Dims { m: n, k: n, n }
    }

    pub fn is_square(&self) -> bool {
        self.m == self.k && self.k == self.n
    }

    /// The largest of m, k and n.
    pub fn largest(&self) -> usize {
        self.m.max(self.k).max(self.n)
    }
}

impl std::fmt::Display for Dims {
    /// `300x200x500` (m x k x n), or `200` when square.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_square() {
            write!(f, "{}", self.n)
        } else {
            write!(f, "{}x{}x{}", self.m, self.k, self.n)
        }
    }
}

impl Operation {
    /// Task `task`'s input, from `w`'s generator with `threads` threads (see the module's
    /// "Inputs"); the values do not depend on `threads`.
    pub fn input(self, w: &Workload, task: usize, threads: usize) -> Input {
        self.input_shaped(w, task, Dims::square(w.size), threads)
    }

    /// Task `task`'s input of dimensions `dims` (an m x k A and a k x n B for gemm; the
    /// other operations read n), from `w`'s generator: the seed and the task's id choose
    /// the streams, as for [`Operation::input`], which this is at `Dims::square(w.size)`.
    pub fn input_shaped(self, w: &Workload, task: usize, dims: Dims, threads: usize) -> Input {
        let Dims { m, k, n } = dims;
        let a = match self {
            Operation::Gemm => w.matrix_shaped(task, 0, (m, k), threads),
            _ => w.matrix_shaped(task, 0, (n, n), threads),
        };
        match self {
            Operation::Gemm => Input::Pair(a, w.matrix_shaped(task, 1, (k, n), threads)),
            Operation::Solve => {
                let mut rng = w.rng(task, 1, 0);
                let b = Array1::from_shape_fn(n, |_| unit_f64(&mut rng));
                Input::System(a, b)
            }
            Operation::Cholesky | Operation::Eigh => {
                let n = n as f64;
                let s = Array2::from_shape_fn(a.dim(), |(i, j)| {
                    0.5 * (a[[i, j]] + a[[j, i]]) + if i == j { n } else { 0.0 }
                });
                Input::Single(s)
            }
            Operation::Qr | Operation::Svd => Input::Single(a),
        }
    }
}

/// One task's operands.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// gemm: A and B.
    Pair(Array2<f64>, Array2<f64>),
    /// solve: A and b.
    System(Array2<f64>, Array1<f64>),
    /// cholesky, eigh (symmetric positive definite S), qr, svd (general A).
    Single(Array2<f64>),
}

impl Input {
    /// The first operand (A or S).
    pub fn a(&self) -> ArrayView2<'_, f64> {
        match self {
            Input::Pair(a, _) | Input::System(a, _) | Input::Single(a) => a.view(),
        }
    }
}

/// One task's result, in the layout LAPACK returns it.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// gemm: C = A B.
    Product(Array2<f64>),
    /// solve: x with A x = b.
    Solution(Array1<f64>),
    /// cholesky: L in the lower triangle (the upper triangle is not read).
    Cholesky(Array2<f64>),
    /// qr: R on and above the diagonal, Householder vectors below it; tau.
    Qr {
        factors: Array2<f64>,
        tau: Array1<f64>,
    },
    /// eigh: eigenvalues ascending, eigenvectors as columns.
    Eigh {
        values: Array1<f64>,
        vectors: Array2<f64>,
    },
    /// svd: A = U diag(s) V^T, s descending.
    Svd {
        u: Array2<f64>,
        s: Array1<f64>,
        vt: Array2<f64>,
    },
}

impl Output {
    /// Adds 1 to one entry of the result's main matrix (the solution vector for solve): the
    /// testing aid of `run --inject-corruption`, which every operation's check must catch.
    pub fn corrupt_one_entry(&mut self) {
        let (i, j) = (0, 0);
        match self {
            Output::Product(m) | Output::Cholesky(m) => m[[i, j]] += 1.0,
            Output::Solution(x) => x[i] += 1.0,
            Output::Qr { factors, .. } => factors[[i, j]] += 1.0,
            Output::Eigh { vectors, .. } => vectors[[i, j]] += 1.0,
            Output::Svd { vt, .. } => vt[[i, j]] += 1.0,
        }
    }
}

/// A task whose result failed a check.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{check}{}: {value:.3e} exceeds the limit {limit:.3e}", row.map_or(String::new(), |r| format!(" (row {r})")))]
pub struct Failed {
    /// Which check failed, in words (or why the library gave no result).
    pub check: String,
    /// Its value (infinite for a NaN, a wrong shape or no result): `residual / (norm n
    /// eps)`, or Freivalds' relative error for gemm.
    pub value: f64,
    /// The largest value it may take: [`THRESHOLD`], or Freivalds' tolerance for gemm.
    pub limit: f64,
    /// The row of C where Freivalds' check failed (gemm only).
    pub row: Option<usize>,
}

impl Failed {
    /// A task whose library call gave no result (`why`: its error).
    pub fn no_result(why: String) -> Failed {
        Failed {
            check: why,
            value: f64::INFINITY,
            limit: THRESHOLD,
            row: None,
        }
    }
}

/// A task that passed every check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Passed {
    /// The worst check's value (at most `limit`): `residual / (norm n eps)`, or Freivalds'
    /// relative error for gemm.
    pub value: f64,
    /// The largest value a check may take: [`THRESHOLD`], or Freivalds' tolerance for gemm.
    pub limit: f64,
    /// A value every correct result has (whatever the library's sign conventions), to
    /// compare runs: gemm the sum of C x; solve sum x; cholesky sum L u; qr sum |R_ii|;
    /// eigh and svd the sum of the values.
    pub fingerprint: f64,
}

/// The fixed vector u of the checks (entries in [0.5, 1.5)), for size n.
fn probe(n: usize) -> Array1<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x0b5e_55ed);
    Array1::from_shape_fn(n, |_| 0.5 + unit_f64(&mut rng))
}

fn inf_norm(v: ArrayView1<'_, f64>) -> f64 {
    v.iter().fold(
        0.0,
        |m: f64, x| if x.is_nan() { f64::NAN } else { m.max(x.abs()) },
    )
}

fn matrix_norm(a: ArrayView2<'_, f64>) -> f64 {
    a.rows()
        .into_iter()
        .map(|r| r.iter().map(|x| x.abs()).sum::<f64>())
        .fold(0.0, f64::max)
}

/// `M v` with plain loops (never BLAS: the check must not trust the library under test).
fn mv(m: ArrayView2<'_, f64>, v: ArrayView1<'_, f64>) -> Array1<f64> {
    Array1::from_iter(
        m.rows()
            .into_iter()
            .map(|r| r.iter().zip(v).map(|(a, b)| a * b).sum()),
    )
}

/// `M^T v` with plain loops.
fn mtv(m: ArrayView2<'_, f64>, v: ArrayView1<'_, f64>) -> Array1<f64> {
    mv(m.t(), v)
}

/// Collects check ratios and the first one over the threshold.
struct Checks {
    worst: f64,
    failed: Option<Failed>,
    scale: f64,
}

impl Checks {
    fn new(n: usize) -> Checks {
        Checks {
            worst: 0.0,
            failed: None,
            scale: n.max(1) as f64 * f64::EPSILON,
        }
    }

    /// Records `residual / (norm n eps)` for `check`.
    fn ratio(&mut self, check: &'static str, residual: f64, norm: f64) {
        let r = residual / (norm.max(f64::MIN_POSITIVE) * self.scale);
        let r = if r.is_nan() { f64::INFINITY } else { r };
        self.worst = self.worst.max(r);
        if r > THRESHOLD && self.failed.is_none() {
            self.failed = Some(Failed {
                check: check.to_string(),
                value: r,
                limit: THRESHOLD,
                row: None,
            });
        }
    }

    /// `||got - want|| / (norm n eps)`.
    fn residual(&mut self, check: &'static str, got: &Array1<f64>, want: &Array1<f64>, norm: f64) {
        self.ratio(check, inf_norm((got - want).view()), norm);
    }

    fn fail(&mut self, check: &'static str) {
        self.ratio(check, f64::INFINITY, 1.0);
    }

    fn done(self, fingerprint: f64) -> Result<Passed, Failed> {
        match self.failed {
            Some(f) => Err(f),
            None => Ok(Passed {
                value: self.worst,
                limit: THRESHOLD,
                fingerprint,
            }),
        }
    }
}

/// Checks `output` against `input` for `op` (see the module's "Verification").
pub fn verify(op: Operation, input: &Input, output: &Output) -> Result<Passed, Failed> {
    if let (Operation::Gemm, Input::Pair(a, b), Output::Product(p)) = (op, input, output) {
        return verify_product(a.view(), b.view(), p.view());
    }
    let a = input.a();
    let n = a.nrows();
    let mut c = Checks::new(n);
    let square = |m: &Array2<f64>| m.dim() == (n, n);
    let u = probe(n);
    let au = mv(a, u.view());
    let a_u = matrix_norm(a) * inf_norm(u.view());
    let fingerprint = match (op, input, output) {
        (Operation::Solve, Input::System(_, b), Output::Solution(x)) if x.len() == n => {
            let ax = mv(a, x.view());
            c.residual(
                "solve: A x = b",
                &ax,
                b,
                matrix_norm(a) * inf_norm(x.view()),
            );
            x.sum()
        }
        (Operation::Cholesky, _, Output::Cholesky(l)) if square(l) => {
            let l = Array2::from_shape_fn((n, n), |(i, j)| if j <= i { l[[i, j]] } else { 0.0 });
            let llu = mv(l.view(), mtv(l.view(), u.view()).view());
            c.residual("cholesky: S = L L^T", &llu, &au, a_u);
            if !l.diag().iter().all(|&d| d > 0.0) {
                c.fail("cholesky: positive diagonal of L");
            }
            mv(l.view(), u.view()).sum()
        }
        (Operation::Qr, _, Output::Qr { factors, tau }) if square(factors) && tau.len() == n => {
            let r =
                Array2::from_shape_fn((n, n), |(i, j)| if j >= i { factors[[i, j]] } else { 0.0 });
            let mut w = mv(r.view(), u.view());
            // Q w = H_1 H_2 ... H_n w: the last reflector first.
            for i in (0..n).rev() {
                let v = |k: usize| if k == i { 1.0 } else { factors[[k, i]] };
                let dot: f64 = (i..n).map(|k| v(k) * w[k]).sum();
                for k in i..n {
                    w[k] -= tau[i] * v(k) * dot;
                }
                let vv: f64 = (i..n).map(|k| v(k) * v(k)).sum();
                if tau[i] != 0.0 {
                    c.ratio(
                        "qr: reflector orthogonal (tau v^T v = 2)",
                        (tau[i] * vv - 2.0).abs(),
                        1.0,
                    );
                }
            }
            c.residual("qr: A = Q R", &w, &au, a_u);
            r.diag().iter().map(|d| d.abs()).sum()
        }
        (Operation::Eigh, _, Output::Eigh { values, vectors })
            if square(vectors) && values.len() == n =>
        {
            let vu = mv(vectors.view(), u.view());
            let lu = values * &u;
            let s_norm = matrix_norm(a);
            c.residual(
                "eigh: S V = V L",
                &mv(a, vu.view()),
                &mv(vectors.view(), lu.view()),
                s_norm * inf_norm(u.view()),
            );
            c.residual(
                "eigh: V^T V = I",
                &mtv(vectors.view(), vu.view()),
                &u,
                inf_norm(u.view()),
            );
            if values.windows(2).into_iter().any(|p| p[0] > p[1]) {
                c.fail("eigh: eigenvalues ascending");
            }
            values.sum()
        }
        (Operation::Svd, _, Output::Svd { u: uu, s, vt })
            if square(uu) && square(vt) && s.len() == n =>
        {
            let vtu = mv(vt.view(), u.view());
            let usv = mv(uu.view(), (s * &vtu).view());
            c.residual("svd: A = U S V^T", &usv, &au, a_u);
            let un = inf_norm(u.view());
            c.residual(
                "svd: U^T U = I",
                &mtv(uu.view(), mv(uu.view(), u.view()).view()),
                &u,
                un,
            );
            c.residual("svd: V V^T = I", &mtv(vt.view(), vtu.view()), &u, un);
            if s.iter().any(|&x| x.is_nan() || x < 0.0)
                || s.windows(2).into_iter().any(|p| p[0] < p[1])
            {
                c.fail("svd: singular values non-negative and descending");
            }
            s.sum()
        }
        _ => {
            c.fail("the result's kind or shape does not match the operation");
            0.0
        }
    };
    c.done(fingerprint)
}

/// gemm's check, Freivalds' (its own tolerance, see [`crate::verify`]): of [`verify`], and
/// of products kept in a store, read as views.
pub fn verify_product(
    a: ArrayView2<'_, f64>,
    b: ArrayView2<'_, f64>,
    p: ArrayView2<'_, f64>,
) -> Result<Passed, Failed> {
    if p.dim() != (a.nrows(), b.ncols()) || a.ncols() != b.nrows() {
        let mut c = Checks::new(a.nrows());
        c.fail("gemm: C has the shape of A B");
        return c.done(0.0);
    }
    match Verifier::new(b.ncols()).check(&a, &b, &p) {
        Ok(ok) => Ok(Passed {
            value: ok.rel_error,
            limit: crate::verify::tolerance(a.ncols()),
            fingerprint: ok.fingerprint,
        }),
        Err(e) => Err(Failed {
            check: "gemm: Freivalds' check of C = A B".to_string(),
            value: e.rel_error,
            limit: e.tolerance,
            row: Some(e.row),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::linalg::solvers::Solve;
    use faer::{Mat, Side};

    fn workload(n: usize) -> Workload {
        Workload {
            tasks: 2,
            size: n,
            seed: 7,
            generation: Default::default(),
            operation: Default::default(),
            corrupt: None,
        }
    }

    fn to_faer(a: ArrayView2<'_, f64>) -> Mat<f64> {
        Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
    }

    fn from_faer(m: faer::MatRef<'_, f64>) -> Array2<f64> {
        Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
    }

    /// LAPACK's dgeqr2 (unblocked Householder QR, dlarfg's convention), for the tests.
    fn householder_qr(a: &Array2<f64>) -> (Array2<f64>, Array1<f64>) {
        let n = a.nrows();
        let mut f = a.clone();
        let mut tau = Array1::zeros(n);
        for i in 0..n {
            let alpha = f[[i, i]];
            let xnorm = (i + 1..n).map(|k| f[[k, i]].powi(2)).sum::<f64>().sqrt();
            if xnorm == 0.0 {
                continue;
            }
            let beta = -alpha.signum() * alpha.hypot(xnorm);
            tau[i] = (beta - alpha) / beta;
            for k in i + 1..n {
                f[[k, i]] /= alpha - beta;
            }
            f[[i, i]] = beta;
            let v: Vec<f64> = (i..n)
                .map(|k| if k == i { 1.0 } else { f[[k, i]] })
                .collect();
            for j in i + 1..n {
                let dot: f64 = (i..n).map(|k| v[k - i] * f[[k, j]]).sum();
                for k in i..n {
                    f[[k, j]] -= tau[i] * v[k - i] * dot;
                }
            }
        }
        (f, tau)
    }

    /// A correct result of `op` on `input`, computed by faer (or the Householder above).
    fn reference(op: Operation, input: &Input) -> Output {
        let a = to_faer(input.a());
        match (op, input) {
            (Operation::Gemm, Input::Pair(_, b)) => {
                Output::Product(from_faer((&a * to_faer(b.view())).as_ref()))
            }
            (Operation::Solve, Input::System(_, b)) => {
                let rhs = Mat::from_fn(b.len(), 1, |i, _| b[i]);
                let x = a.partial_piv_lu().solve(&rhs);
                Output::Solution(Array1::from_shape_fn(b.len(), |i| x[(i, 0)]))
            }
            (Operation::Cholesky, _) => {
                Output::Cholesky(from_faer(a.llt(Side::Lower).unwrap().L()))
            }
            (Operation::Qr, _) => {
                let (factors, tau) = householder_qr(&input.a().to_owned());
                Output::Qr { factors, tau }
            }
            (Operation::Eigh, _) => {
                let e = a.self_adjoint_eigen(Side::Lower).unwrap();
                let s = e.S().column_vector();
                Output::Eigh {
                    values: Array1::from_shape_fn(s.nrows(), |i| s[i]),
                    vectors: from_faer(e.U()),
                }
            }
            (Operation::Svd, _) => {
                let d = a.svd().unwrap();
                let s = d.S().column_vector();
                Output::Svd {
                    u: from_faer(d.U()),
                    s: Array1::from_shape_fn(s.nrows(), |i| s[i]),
                    vt: from_faer(d.V()).reversed_axes(),
                }
            }
            _ => unreachable!("inputs match their operations"),
        }
    }

    /// Adds `d` to one entry of the result's main matrix (or vector for solve).
    fn corrupt(out: &mut Output, d: f64) {
        let (i, j) = (5, 3);
        match out {
            Output::Product(m) | Output::Cholesky(m) => m[[i, j]] += d,
            Output::Solution(x) => x[i] += d,
            Output::Qr { factors, .. } => factors[[j, i]] += d,
            Output::Eigh { vectors, .. } => vectors[[i, j]] += d,
            Output::Svd { vt, .. } => vt[[i, j]] += d,
        }
    }

    #[test]
    fn inputs_suit_their_operations_and_do_not_depend_on_threads() {
        let w = workload(40);
        let (a, b) = w.generate(1);
        for op in Operation::ALL {
            assert_eq!(op.input(&w, 1, 1), op.input(&w, 1, 3), "{op}");
        }
        assert_eq!(
            Operation::Gemm.input(&w, 1, 1),
            Input::Pair(a.clone(), b.clone())
        );
        let Input::System(a2, rhs) = Operation::Solve.input(&w, 1, 1) else {
            panic!("solve takes a system")
        };
        assert_eq!((a2, rhs), (a.clone(), b.row(0).to_owned()));
        let Input::Single(s) = Operation::Cholesky.input(&w, 1, 1) else {
            panic!("cholesky takes one matrix")
        };
        assert_eq!(s, s.t());
        for (i, row) in s.rows().into_iter().enumerate() {
            let off: f64 = row
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, x)| x.abs())
                .sum();
            assert!(row[i] > off, "row {i} is not diagonally dominant");
        }
        assert_eq!(Operation::Qr.input(&w, 1, 1), Input::Single(a));
    }

    #[test]
    fn every_correct_result_passes_and_one_wrong_entry_fails_its_check() {
        let w = workload(48);
        for op in Operation::ALL {
            let input = op.input(&w, 0, 1);
            let mut out = reference(op, &input);
            let ok = verify(op, &input, &out).unwrap_or_else(|e| panic!("{op}: {e}"));
            assert!(ok.value < 0.1 * ok.limit, "{op}: {ok:?}");
            assert!(ok.fingerprint.is_finite() && ok.fingerprint != 0.0, "{op}");
            corrupt(&mut out, 1e-8);
            let bad = verify(op, &input, &out).expect_err(op.name());
            assert!(bad.check.starts_with(op.name()), "{op}: {bad}");
            assert!(bad.value > bad.limit, "{op}: {bad}");
        }
    }

    #[test]
    fn a_rectangular_product_is_generated_and_checked() {
        let w = workload(8);
        let dims = Dims {
            m: 30,
            k: 20,
            n: 50,
        };
        let input = Operation::Gemm.input_shaped(&w, 3, dims, 1);
        let Input::Pair(a, b) = &input else {
            panic!("gemm takes a pair")
        };
        assert_eq!((a.dim(), b.dim()), ((30, 20), (20, 50)));
        assert_eq!(input, Operation::Gemm.input_shaped(&w, 3, dims, 4));
        assert_eq!(*a, w.matrix_shaped(3, 0, (30, 20), 1));
        let mut out = reference(Operation::Gemm, &input);
        let ok = verify(Operation::Gemm, &input, &out).unwrap();
        assert!(ok.value <= ok.limit, "{ok:?}");
        assert_eq!(ok.limit, crate::verify::tolerance(20));
        corrupt(&mut out, 1e-6);
        let bad = verify(Operation::Gemm, &input, &out).unwrap_err();
        assert_eq!(bad.row, Some(5), "{bad}");
        // A product of the wrong shape fails, it does not panic.
        let wrong = Output::Product(Array2::zeros((30, 20)));
        assert!(verify(Operation::Gemm, &input, &wrong).is_err());
        // Square dimensions give exactly the square input.
        assert_eq!(
            Operation::Svd.input_shaped(&w, 1, Dims::square(8), 1),
            Operation::Svd.input(&w, 1, 1)
        );
        assert_eq!(dims.to_string(), "30x20x50");
        assert_eq!(Dims::square(7).to_string(), "7");
    }

    #[test]
    fn nan_wrong_kind_and_wrong_shape_fail() {
        let w = workload(16);
        let input = Operation::Eigh.input(&w, 0, 1);
        let mut out = reference(Operation::Eigh, &input);
        if let Output::Eigh { values, .. } = &mut out {
            values[2] = f64::NAN;
        }
        assert!(verify(Operation::Eigh, &input, &out).is_err());
        let svd_in = Operation::Svd.input(&w, 0, 1);
        let svd = reference(Operation::Svd, &svd_in);
        let e = verify(Operation::Eigh, &input, &svd).unwrap_err();
        assert!(e.check.contains("does not match"), "{e}");
        let e = verify(
            Operation::Solve,
            &Operation::Solve.input(&w, 0, 1),
            &Output::Solution(Array1::zeros(3)),
        )
        .unwrap_err();
        assert!(e.value.is_infinite(), "{e}");
        let e = verify(
            Operation::Gemm,
            &Operation::Gemm.input(&w, 0, 1),
            &Output::Product(Array2::zeros((3, 3))),
        )
        .unwrap_err();
        assert!(e.check.contains("shape"), "{e}");
    }

    #[test]
    fn a_singular_or_indefinite_claim_fails() {
        // A "Cholesky factor" with a negative diagonal entry whose product is still right.
        let w = workload(12);
        let input = Operation::Cholesky.input(&w, 0, 1);
        let Output::Cholesky(mut l) = reference(Operation::Cholesky, &input) else {
            unreachable!()
        };
        for i in 0..12 {
            l[[i, 4]] = -l[[i, 4]];
        }
        let e = verify(Operation::Cholesky, &input, &Output::Cholesky(l)).unwrap_err();
        assert!(e.check.contains("positive diagonal"), "{e}");
    }
}

//! Verification of every product by Freivalds' check: `C x` against `A (B x)`.
//!
//! `x` is a fixed random vector with entries in [0.5, 1.5) (never near zero, so a wrong
//! entry of C cannot hide behind a tiny weight). The products run as plain loops, never
//! through BLAS, so the check does not trust the library under test.
//!
//! Tolerance: for every row i,
//! `|(C x)_i - (A (B x))_i| <= 4 (n + 2) eps (|A| (|B| |x|))_i`, eps = 2^-52:
//! the classical bound for an n-term dot product (n eps) taken for C, for B x and for
//! A (B x), with room for blocked and FMA orderings. A wrong entry of size d in row i
//! moves the left side by about d; for [0, 1) data the right side is about n^2 eps.

use crate::workload::unit_f64;
use ndarray::{ArrayBase, Data, Ix2};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Relative tolerance factor for size n: `4 (n + 2) eps`.
pub fn tolerance(n: usize) -> f64 {
    4.0 * (n as f64 + 2.0) * f64::EPSILON
}

/// A product that failed the check.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("row {row}: relative error {rel_error:.3e} exceeds the tolerance {tolerance:.3e}")]
pub struct Mismatch {
    pub row: usize,
    pub rel_error: f64,
    pub tolerance: f64,
}

/// A product that passed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checked {
    /// Worst relative error over the rows.
    pub rel_error: f64,
    /// Sum of the entries of `C x`.
    pub fingerprint: f64,
}

/// Checks products of n x k times k x m matrices.
#[derive(Debug, Clone)]
pub struct Verifier {
    x: Vec<f64>,
}

impl Verifier {
    /// A verifier for products with `cols` columns (fixed vector from a fixed seed).
    pub fn new(cols: usize) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x5eed_f00d);
        Verifier {
            x: (0..cols).map(|_| 0.5 + unit_f64(&mut rng)).collect(),
        }
    }

    /// Checks `c == a . b` within the tolerance; returns the worst relative error and a
    /// fingerprint of `c` (the sum of `C x`), which lets runs compare products.
    pub fn check(
        &self,
        a: &ArrayBase<impl Data<Elem = f64>, Ix2>,
        b: &ArrayBase<impl Data<Elem = f64>, Ix2>,
        c: &ArrayBase<impl Data<Elem = f64>, Ix2>,
    ) -> Result<Checked, Mismatch> {
        let (n, k) = a.dim();
        let m = b.ncols();
        assert_eq!(b.nrows(), k, "inner dimensions");
        assert_eq!(c.dim(), (n, m), "product shape");
        assert_eq!(self.x.len(), m, "verifier built for another size");
        let x = &self.x;
        let x_abs: Vec<f64> = x.iter().map(|v| v.abs()).collect();
        let bx = matvec(b, x, false);
        let bx_abs = matvec(b, &x_abs, true);
        let abx = matvec(a, &bx, false);
        let bound = matvec(a, &bx_abs, true);
        let cx = matvec(c, x, false);
        let tol = tolerance(k);
        let mut worst = Mismatch {
            row: 0,
            rel_error: 0.0,
            tolerance: tol,
        };
        for i in 0..n {
            let diff = (cx[i] - abx[i]).abs();
            let scale = bound[i].max(f64::MIN_POSITIVE);
            let rel = diff / scale;
            // NaN compares false: treat it as a failure explicitly.
            if rel.is_nan() || rel > worst.rel_error {
                worst = Mismatch {
                    row: i,
                    rel_error: if rel.is_nan() { f64::INFINITY } else { rel },
                    tolerance: tol,
                };
            }
        }
        if worst.rel_error <= tol {
            Ok(Checked {
                rel_error: worst.rel_error,
                fingerprint: cx.iter().sum(),
            })
        } else {
            Err(worst)
        }
    }
}

/// `M v` (or `|M| v` when `abs`) with plain loops, any memory layout.
fn matvec(m: &ArrayBase<impl Data<Elem = f64>, Ix2>, v: &[f64], abs: bool) -> Vec<f64> {
    m.rows()
        .into_iter()
        .map(|row| {
            row.iter()
                .zip(v)
                .map(|(&a, &b)| if abs { a.abs() * b } else { a * b })
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;
    use ndarray::Array2;

    fn naive(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        let (n, k) = a.dim();
        let m = b.ncols();
        Array2::from_shape_fn((n, m), |(i, j)| (0..k).map(|p| a[[i, p]] * b[[p, j]]).sum())
    }

    #[test]
    fn correct_product_passes_and_one_wrong_entry_fails() {
        let w = Workload {
            tasks: 1,
            size: 64,
            seed: 3,
            generation: Default::default(),
            operation: Default::default(),
            corrupt: None,
        };
        let (a, b) = w.generate(0);
        let mut c = naive(&a, &b);
        let v = Verifier::new(64);
        assert!(v.check(&a, &b, &c).is_ok());
        c[[17, 40]] += 1e-9;
        let err = v.check(&a, &b, &c).unwrap_err();
        assert_eq!(err.row, 17);
        assert!(err.rel_error > err.tolerance);
    }

    #[test]
    fn nan_and_transposed_layouts() {
        let w = Workload {
            tasks: 1,
            size: 9,
            seed: 1,
            generation: Default::default(),
            operation: Default::default(),
            corrupt: None,
        };
        let (a, b) = w.generate(0);
        let c = naive(&a, &b);
        let v = Verifier::new(9);
        // Column-major copies give the same verdict.
        let a_f = a.t().as_standard_layout().t().to_owned();
        assert!(v.check(&a_f, &b, &c).is_ok());
        let mut bad = c.clone();
        bad[[3, 3]] = f64::NAN;
        assert_eq!(v.check(&a, &b, &bad).unwrap_err().row, 3);
    }

    #[test]
    fn tolerance_is_of_order_n_eps() {
        assert!(tolerance(2000) < 1e-11);
        assert!(tolerance(2000) > 2000.0 * f64::EPSILON);
    }
}

//! Operations: what one task does with its matrices. `gemm` (today's product) and five
//! LAPACK-backed ones whose parallelism inside the library differs sharply from GEMM's.
//!
//! One text form everywhere (CLI, record, bench ids, history ids, folders): `gemm`,
//! `solve`, `cholesky`, `qr`, `eigh`, `svd`.
//!
//! **FLOP counts** (for GFLOP/s and % of peak). GEMM, LU, its solve, Cholesky and QR are
//! the exact counts of LAPACK Working Note 41 (Blackford and Dongarra, "Installation Guide
//! for LAPACK", Table "Floating point operation counts"), multiplications plus additions,
//! for square operands as LAPACK++ spells them (`include/lapack/flops.hh`):
//!
//! | op | routine | count for n x n |
//! |---|---|---|
//! | gemm | dgemm | 2 n^3 |
//! | solve | dgesv, one right-hand side | getrf: 2/3 n^3 - 1/2 n^2 + 5/6 n; getrs: 2 n^2 - n |
//! | cholesky | dpotrf | 1/3 n^3 + 1/2 n^2 + 1/6 n |
//! | qr | dgeqrf | 4/3 n^3 + 2 n^2 + 14/3 n |
//! | eigh | dsyevd, values and vectors | 9 n^3 (nominal) |
//! | svd | dgesdd, U, S and V^T | 21 n^3 (nominal) |
//!
//! Eigen- and singular-value solvers iterate, so their work depends on the data: LAWN 41
//! gives no count, and the convention (used by LAPACK's timing programs and by papers that
//! report GFLOP/s for them) is the nominal count of the classical algorithm, Golub and
//! Van Loan, *Matrix Computations* (4th ed.): symmetric QR with the eigenvectors
//! accumulated, 9 n^3 (Section 8.3.3), and Golub-Kahan-Reinsch SVD with U and V for an
//! m x n matrix, 4 m^2 n + 8 m n^2 + 9 n^3 = 21 n^3 square (Section 8.6.3). Divide and
//! conquer usually does less, so % of peak is a lower bound there; it still compares
//! strategies and libraries, which all get the same count.
//!
//! A task's inputs, results and their checks are in the module `task`.

/// What each task computes.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// C = A B (dgemm).
    #[default]
    Gemm,
    /// LU with partial pivoting and a solve of A x = b (dgesv).
    Solve,
    /// S = L L^T of a symmetric positive definite S (dpotrf).
    Cholesky,
    /// A = Q R by Householder reflectors (dgeqrf).
    Qr,
    /// Eigenvalues and eigenvectors of a symmetric S (dsyevd).
    Eigh,
    /// A = U S V^T, all singular values and vectors (dgesdd).
    Svd,
}

impl Operation {
    pub const ALL: [Operation; 6] = [
        Operation::Gemm,
        Operation::Solve,
        Operation::Cholesky,
        Operation::Qr,
        Operation::Eigh,
        Operation::Svd,
    ];
    pub const NAMES: &'static str = "gemm, solve, cholesky, qr, eigh, svd";

    /// The text form.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Gemm => "gemm",
            Operation::Solve => "solve",
            Operation::Cholesky => "cholesky",
            Operation::Qr => "qr",
            Operation::Eigh => "eigh",
            Operation::Svd => "svd",
        }
    }

    /// The LAPACK (or BLAS) routine the operation stands for.
    pub fn routine(self) -> &'static str {
        match self {
            Operation::Gemm => "dgemm",
            Operation::Solve => "dgesv",
            Operation::Cholesky => "dpotrf",
            Operation::Qr => "dgeqrf",
            Operation::Eigh => "dsyevd",
            Operation::Svd => "dgesdd",
        }
    }

    /// Floating-point operations of one task on n x n operands (see the module's table).
    pub fn flops(self, n: usize) -> f64 {
        let n = n as f64;
        let (n2, n3) = (n * n, n * n * n);
        match self {
            Operation::Gemm => 2.0 * n3,
            Operation::Solve => (2.0 / 3.0 * n3 - 0.5 * n2 + 5.0 / 6.0 * n) + (2.0 * n2 - n),
            Operation::Cholesky => n3 / 3.0 + 0.5 * n2 + n / 6.0,
            Operation::Qr => 4.0 / 3.0 * n3 + 2.0 * n2 + 14.0 / 3.0 * n,
            Operation::Eigh => 9.0 * n3,
            Operation::Svd => 21.0 * n3,
        }
    }

    /// The order n at which one task of this operation costs as many FLOPs as a GEMM of
    /// order `gemm_n` (the smallest such n, rounded to a multiple of 10): the quick preset's
    /// size per operation, so that each operation's quick run does about the same work
    /// (n ~ gemm_n (2 / c)^(1/3) for c n^3 FLOPs: svd ~460, eigh ~600, qr ~1150 for 1000).
    /// Its time is not matched: the LAPACK operations reach lower rates than GEMM.
    pub fn size_matching_gemm(self, gemm_n: usize) -> usize {
        let target = Operation::Gemm.flops(gemm_n);
        // flops(n) grows with n, and is at least target at 4 gemm_n for every operation
        // (cholesky's 1/3 n^3 is the smallest).
        let (mut lo, mut hi) = (1, 4 * gemm_n.max(1));
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.flops(mid) >= target {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        if lo < 10 { lo } else { (lo + 5) / 10 * 10 }
    }

    /// Where [`Operation::flops`] comes from, in words.
    pub fn flops_source(self) -> &'static str {
        match self {
            Operation::Gemm => "2 n^3 (LAWN 41)",
            Operation::Solve => "dgetrf + dgetrs with one right-hand side (LAWN 41)",
            Operation::Cholesky => "dpotrf (LAWN 41)",
            Operation::Qr => "dgeqrf (LAWN 41)",
            Operation::Eigh => {
                "9 n^3, symmetric QR with vectors (Golub and Van Loan 8.3.3), nominal"
            }
            Operation::Svd => {
                "21 n^3, Golub-Kahan-Reinsch with U and V (Golub and Van Loan 8.6.3), nominal"
            }
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // pad, not write_str: tables align operations with `{op:>9}`.
        f.pad(self.name())
    }
}

impl std::str::FromStr for Operation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Operation::ALL
            .into_iter()
            .find(|o| o.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown operation '{s}': expected one of {}",
                    Operation::NAMES
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_sizes_match_gemm_work() {
        assert_eq!(Operation::Gemm.size_matching_gemm(1000), 1000);
        for op in Operation::ALL {
            let n = op.size_matching_gemm(1000);
            let ratio = op.flops(n) / Operation::Gemm.flops(1000);
            // Rounding to 10 moves the cube by at most 3 (5 / 460)-ish percent.
            assert!((0.95..1.05).contains(&ratio), "{op}: n {n}, ratio {ratio}");
        }
        assert!(Operation::Svd.size_matching_gemm(1000) < Operation::Eigh.size_matching_gemm(1000));
        assert!(
            Operation::Cholesky.size_matching_gemm(1000)
                > Operation::Solve.size_matching_gemm(1000)
        );
        assert_eq!(Operation::Svd.size_matching_gemm(1), 1);
    }

    #[test]
    fn text_forms_round_trip_and_bad_names_say_what_is_known() {
        for op in Operation::ALL {
            assert_eq!(op.to_string().parse::<Operation>(), Ok(op));
            let json = serde_json::to_string(&op).unwrap();
            assert_eq!(json, format!("\"{op}\""));
        }
        let e = "lu".parse::<Operation>().unwrap_err();
        assert!(e.contains("gemm, solve, cholesky, qr, eigh, svd"), "{e}");
        assert_eq!(Operation::default(), Operation::Gemm);
    }

    #[test]
    fn flop_counts_follow_their_formulas() {
        assert_eq!(Operation::Gemm.flops(10), 2000.0);
        // n = 1 by LAWN 41's formulas: getrf 1 and getrs 1; potrf 1 (the square root).
        assert!((Operation::Solve.flops(1) - 2.0).abs() < 1e-12);
        assert!((Operation::Cholesky.flops(1) - 1.0).abs() < 1e-12);
        let n = 1000;
        let g = Operation::Gemm.flops(n);
        let ratio = |op: Operation| op.flops(n) / g;
        assert!((ratio(Operation::Solve) - 1.0 / 3.0).abs() < 1e-3);
        assert!((ratio(Operation::Cholesky) - 1.0 / 6.0).abs() < 1e-3);
        assert!((ratio(Operation::Qr) - 2.0 / 3.0).abs() < 1e-2);
        assert_eq!(ratio(Operation::Eigh), 4.5);
        assert_eq!(ratio(Operation::Svd), 10.5);
    }
}

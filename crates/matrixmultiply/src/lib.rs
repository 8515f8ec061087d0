//! Pure-Rust backend: `matrixmultiply::dgemm`, called directly.
//!
//! Not through ndarray's `.dot`: Cargo turns ndarray's `blas` feature on for every crate of
//! a workspace build, and `.dot` would then silently become a BLAS call. This crate links no
//! C library at all.
//!
//! matrixmultiply is built without its `threading` feature, so it always runs one thread and
//! has no API to change that: strategies that ask for more BLAS threads are reported
//! unsupported. Its kernel is chosen inside the crate by CPU feature detection, with no API
//! to read the choice; we report the instruction set its dispatch takes on this CPU.

use blaspar_core::backend::{Backend, ChoiceMethod, KernelChoice, ThreadScope};
use blaspar_core::{Gemm, GemmError};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// matrixmultiply's dgemm.
pub struct MatrixMultiply {
    kernel: KernelChoice,
}

/// The dgemm path matrixmultiply 0.3 dispatches to on this CPU (its own detection order).
fn dispatch() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2")
        {
            return "x86 fma+avx2";
        }
        if std::arch::is_x86_feature_detected!("avx") {
            return "x86 avx";
        }
        "x86 sse2"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "aarch64 neon"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "portable fallback"
    }
}

impl MatrixMultiply {
    pub fn new() -> Self {
        let kernel = dispatch().to_string();
        MatrixMultiply {
            kernel: KernelChoice {
                kernel: kernel.clone(),
                method: ChoiceMethod::Only,
                library_default: Some(kernel),
                probes: vec![],
                decided_at: None,
            },
        }
    }
}

impl Default for MatrixMultiply {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for MatrixMultiply {
    fn name(&self) -> &'static str {
        "matrixmultiply"
    }

    fn version(&self) -> String {
        env!("MATRIXMULTIPLY_VERSION").to_string()
    }

    fn kernel(&self) -> &KernelChoice {
        &self.kernel
    }

    fn thread_scope(&self) -> ThreadScope {
        ThreadScope::Fixed { threads: 1 }
    }

    fn default_threads(&self) -> usize {
        1
    }

    fn set_threads(&self, threads: usize) {
        // Strategies asking for more are rejected before they run (ThreadScope::Fixed).
        debug_assert_eq!(threads, 1, "matrixmultiply runs one thread");
    }

    fn threads(&self) -> usize {
        1
    }

    fn dgemm(&self, g: &Gemm, a: &[f64], b: &[f64], c: &mut [f64]) -> Result<(), GemmError> {
        g.check(a.len(), b.len(), c.len())?;
        if g.m == 0 || g.n == 0 {
            return Ok(());
        }
        let ((ra, ca), (rb, cb), (rc, cc)) = (g.strides(g.lda), g.strides(g.ldb), g.strides(g.ldc));
        // SAFETY: check() proved that every element addressed by these strides lies in the
        // slices; c does not alias a or b (a &mut borrow).
        unsafe {
            matrixmultiply::dgemm(
                g.m,
                g.k,
                g.n,
                1.0,
                a.as_ptr(),
                ra,
                ca,
                b.as_ptr(),
                rb,
                cb,
                0.0,
                c.as_mut_ptr(),
                rc,
                cc,
            );
        }
        Ok(())
    }

    fn multiply(&self, a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        let mut c = Array2::<f64>::zeros((a.nrows(), b.ncols()));
        self.multiply_into(a.view(), b.view(), c.view_mut());
        c
    }

    fn multiply_into(
        &self,
        a: ArrayView2<'_, f64>,
        b: ArrayView2<'_, f64>,
        mut c: ArrayViewMut2<'_, f64>,
    ) {
        let (m, k) = a.dim();
        let (k2, n) = b.dim();
        assert_eq!(k, k2, "inner dimensions differ");
        assert_eq!(c.dim(), (m, n), "product shape");
        let (sa, sb, sc) = (a.strides(), b.strides(), c.strides().to_vec());
        // SAFETY: pointers and element strides describe the three arrays exactly; c is an
        // exclusive view, so it does not overlap a or b.
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                sa[0],
                sa[1],
                b.as_ptr(),
                sb[0],
                sb[1],
                0.0,
                c.as_mut_ptr(),
                sc[0],
                sc[1],
            );
        }
    }
}

//! Pure-Rust backend: faer's `matmul` and faer's own decompositions ([`ops`]), no C library.
//!
//! **Operations.** Every [`Operation`]: products through `matmul`, the others (solve,
//! cholesky, qr, eigh, svd) through faer's in-place decompositions that take the
//! parallelism as a value, with this thread's count, in this thread's pool (below).
//!
//! **Threads.** faer takes parallelism as a value on every call (`Par::Seq`,
//! `Par::rayon(n)`), so there is no library-wide count to set: this backend keeps the count
//! per calling thread ([`Faer::set_threads`], one place) and passes it with every call.
//! `Par::rayon(n)` splits work over the rayon pool the call runs in; a rayon worker of the
//! runner's own P-thread pool would share that pool, so every calling thread gets its own
//! pool of exactly T threads and computes inside it. T x P hybrids are therefore real.
//! The default is faer's global parallelism (`get_global_parallelism`).
//!
//! **Kernel.** faer dispatches at run time (pulp / private-gemm-x86) to AVX-512 or AVX2+FMA
//! microkernels; there is no API to read the choice, so we report the instruction set its
//! dispatch takes on this CPU.

pub mod ops;

use blaspar_core::backend::{Backend, ChoiceMethod, KernelChoice, ThreadScope};
use blaspar_core::operation::Operation;
use blaspar_core::task::{Input, Output};
use blaspar_core::{Gemm, GemmError};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use std::cell::{Cell, RefCell};

/// faer's matmul and decompositions.
pub struct Faer {
    kernel: KernelChoice,
    default_threads: usize,
}

thread_local! {
    /// This thread's count (0: not set yet, i.e. the default).
    static THREADS: Cell<usize> = const { Cell::new(0) };
    /// This thread's pool of `THREADS` rayon threads (T > 1 only).
    static POOL: RefCell<Option<(usize, rayon::ThreadPool)>> = const { RefCell::new(None) };
}

/// The instruction set faer's f64 dispatch takes on this CPU.
fn dispatch() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "x86-64-v4 (AVX-512)";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "x86-64-v3 (AVX2+FMA)";
        }
        "x86-64 (SSE2)"
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "portable (pulp)"
    }
}

impl Faer {
    pub fn new() -> Self {
        let kernel = dispatch().to_string();
        Faer {
            kernel: KernelChoice {
                kernel: kernel.clone(),
                method: ChoiceMethod::Only,
                library_default: Some(kernel),
                probes: vec![],
                decided_at: None,
            },
            default_threads: faer::get_global_parallelism().degree().max(1),
        }
    }

    /// Runs `f` with this thread's parallelism: `Par::Seq` at one thread, else inside this
    /// thread's own pool of T rayon threads with `Par::rayon(T)`.
    fn with_par<R: Send>(&self, f: impl FnOnce(Par) -> R + Send) -> R {
        let t = self.threads();
        if t == 1 {
            return f(Par::Seq);
        }
        POOL.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.as_ref().is_none_or(|(n, _)| *n != t) {
                match rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .thread_name(|i| format!("blaspar-faer-{i}"))
                    .build()
                {
                    Ok(pool) => *slot = Some((t, pool)),
                    // No pool, no parallel call: say so and run on this thread only.
                    Err(e) => {
                        eprintln!("warning: faer: cannot start {t} threads ({e}); running one");
                        *slot = None;
                    }
                }
            }
            match slot.as_ref() {
                Some((_, pool)) => pool.install(|| f(Par::rayon(t))),
                None => f(Par::Seq),
            }
        })
    }
}

impl Default for Faer {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for Faer {
    fn name(&self) -> &'static str {
        "faer"
    }

    fn version(&self) -> String {
        env!("FAER_VERSION").to_string()
    }

    fn kernel(&self) -> &KernelChoice {
        &self.kernel
    }

    fn thread_scope(&self) -> ThreadScope {
        ThreadScope::PerThread
    }

    fn default_threads(&self) -> usize {
        self.default_threads
    }

    fn set_threads(&self, threads: usize) {
        THREADS.with(|t| t.set(threads.max(1)));
    }

    fn threads(&self) -> usize {
        match THREADS.with(Cell::get) {
            0 => self.default_threads,
            t => t,
        }
    }

    fn dgemm(&self, g: &Gemm, a: &[f64], b: &[f64], c: &mut [f64]) -> Result<(), GemmError> {
        g.check(a.len(), b.len(), c.len())?;
        if g.m == 0 || g.n == 0 {
            return Ok(());
        }
        let ((ra, ca), (rb, cb), (rc, cc)) = (g.strides(g.lda), g.strides(g.ldb), g.strides(g.ldc));
        // SAFETY: check() proved that every element these strides address lies in the
        // slices; c is borrowed mutably, so it aliases neither a nor b.
        let (a, b, c) = unsafe {
            (
                MatRef::from_raw_parts(a.as_ptr(), g.m, g.k, ra, ca),
                MatRef::from_raw_parts(b.as_ptr(), g.k, g.n, rb, cb),
                MatMut::from_raw_parts_mut(c.as_mut_ptr(), g.m, g.n, rc, cc),
            )
        };
        self.with_par(move |par| matmul(c, Accum::Replace, a, b, 1.0, par));
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
        // exclusive view, distinct from a and b.
        let (a, b, cm) = unsafe {
            (
                MatRef::from_raw_parts(a.as_ptr(), m, k, sa[0], sa[1]),
                MatRef::from_raw_parts(b.as_ptr(), k, n, sb[0], sb[1]),
                MatMut::from_raw_parts_mut(c.as_mut_ptr(), m, n, sc[0], sc[1]),
            )
        };
        self.with_par(move |par| matmul(cm, Accum::Replace, a, b, 1.0, par));
    }

    fn operation_unsupported(&self, _op: Operation) -> Option<String> {
        None
    }

    fn compute(&self, op: Operation, input: &Input) -> Result<Output, String> {
        if let (Operation::Gemm, Input::Pair(a, b)) = (op, input) {
            if a.ncols() != b.nrows() {
                return Err(format!(
                    "gemm: inner dimensions differ: A is {}x{}, B is {}x{}",
                    a.nrows(),
                    a.ncols(),
                    b.nrows(),
                    b.ncols()
                ));
            }
            return Ok(Output::Product(self.multiply(a, b)));
        }
        self.with_par(|par| ops::decompose(op, input, par))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a call sees: its pool's size, its thread's name and the `Par` it got.
    fn seen(b: &Faer) -> (usize, Option<String>, Par) {
        b.with_par(|par| {
            let name = std::thread::current().name().map(str::to_string);
            (rayon::current_num_threads(), name, par)
        })
    }

    #[test]
    fn two_threads_run_in_the_calling_threads_own_pool() {
        let b = Faer::new();
        // Inside a runner's pool of 3 (a P = 3 strategy), each worker's T = 2 call runs in a
        // pool of exactly 2 threads of this backend, not in the runner's pool.
        let outer = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let (threads, name, par) = outer.install(|| {
            b.set_threads(2);
            seen(&b)
        });
        assert_eq!(threads, 2);
        assert!(name.is_some_and(|n| n.starts_with("blaspar-faer-")));
        assert_eq!(par, Par::rayon(2));
        // At one thread the call stays on the calling thread, sequential.
        b.set_threads(1);
        let here = std::thread::current().name().map(str::to_string);
        let (_, name, par) = seen(&b);
        assert_eq!((name, par), (here, Par::Seq));
    }

    #[test]
    fn decompositions_keep_the_thread_count_and_refuse_bad_products() {
        let b = Faer::new();
        for op in Operation::ALL {
            assert_eq!(b.operation_unsupported(op), None);
        }
        b.set_threads(2);
        let s = ndarray::Array2::from_shape_fn((64, 64), |(i, j)| {
            if i == j {
                64.0
            } else {
                1.0 / (1 + i + j) as f64
            }
        });
        let out = b
            .compute(Operation::Eigh, &Input::Single(s.clone()))
            .unwrap();
        blaspar_core::task::verify(Operation::Eigh, &Input::Single(s), &out).unwrap();
        assert_eq!(b.threads(), 2);
        let bad = Input::Pair(
            ndarray::Array2::zeros((2, 3)),
            ndarray::Array2::zeros((2, 3)),
        );
        let e = b.compute(Operation::Gemm, &bad).unwrap_err();
        assert!(e.contains("inner dimensions differ"), "{e}");
    }
}

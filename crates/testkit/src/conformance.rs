//! Backend conformance checks: one body for every backend.
//!
//! Each backend crate's `tests/conformance.rs` is one line of
//! [`conformance_tests!`](crate::conformance_tests), which generates a `#[test]` per check
//! below on that crate's backend. The checks call the backend's own dgemm directly
//! ([`Backend::dgemm`]), never ndarray's `.dot` (which falls back to matrixmultiply for tiny
//! or non-BLAS layouts and would compare matrixmultiply with itself), against a plain-loop
//! reference with a stated tolerance.
//!
//! The generated tests of one binary hold one lock: thread counts are process-wide on some
//! libraries, and a concurrent test could otherwise change a count between set and read-back.

pub use blaspar_core::backend::CALLER_STACK_BYTES;
use blaspar_core::backend::{Backend, Gemm, Layout, ThreadScope};
use blaspar_core::operation::Operation;
use blaspar_core::task::{self, Input};
use blaspar_core::verify::Verifier;
use blaspar_core::workload::Workload;
use ndarray::Array2;

/// (m, k, n): square, rectangular, tiny, vectors, and sizes that are not multiples of any
/// kernel's register or cache blocks.
pub const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (1, 7, 1),
    (2, 3, 4),
    (7, 5, 3),
    (8, 8, 8),
    (17, 1, 19),
    (1, 64, 33),
    (37, 53, 29),
    (64, 64, 64),
    (65, 63, 67),
    (130, 300, 9),
    (257, 129, 65),
];

/// Deterministic entries in [-1, 1), different per operand.
fn value(i: usize, j: usize, salt: usize) -> f64 {
    let x = (i.wrapping_mul(7919) ^ j.wrapping_mul(104_729) ^ salt.wrapping_mul(15_485_863))
        .wrapping_mul(2_654_435_761)
        % 1_000_003;
    x as f64 / 500_001.5 - 1.0
}

/// An m x n operand stored in `layout` with leading dimension `ld`; padding is NaN, so a
/// library that reads it produces NaN and fails the check.
fn store(rows: usize, cols: usize, ld: usize, layout: Layout, salt: usize) -> Vec<f64> {
    let lines = match layout {
        Layout::RowMajor => rows,
        Layout::ColMajor => cols,
    };
    let mut v = vec![f64::NAN; lines.max(1) * ld];
    for i in 0..rows {
        for j in 0..cols {
            v[index(layout, ld, i, j)] = value(i, j, salt);
        }
    }
    v
}

fn index(layout: Layout, ld: usize, i: usize, j: usize) -> usize {
    match layout {
        Layout::RowMajor => i * ld + j,
        Layout::ColMajor => j * ld + i,
    }
}

/// Checks one call of `backend.dgemm` against a plain-loop reference: every entry within
/// `2 k eps sum_p |a_ip b_pj|` (plus one ulp of the magnitude), padding of C untouched.
pub fn check_dgemm<B: Backend + ?Sized>(backend: &B, g: &Gemm) {
    let a = store(g.m, g.k, g.lda, g.layout, 1);
    let b = store(g.k, g.n, g.ldb, g.layout, 2);
    // beta = 0: BLAS must not read C, so NaN there must not leak into the product.
    let lines = match g.layout {
        Layout::RowMajor => g.m,
        Layout::ColMajor => g.n,
    };
    let mut c = vec![f64::NAN; lines.max(1) * g.ldc];
    backend
        .dgemm(g, &a, &b, &mut c)
        .unwrap_or_else(|e| panic!("{} refused {g:?}: {e}", backend.name()));
    let eps = f64::EPSILON;
    for i in 0..g.m {
        for j in 0..g.n {
            let (mut exact, mut magnitude) = (0.0f64, 0.0f64);
            for p in 0..g.k {
                let t = a[index(g.layout, g.lda, i, p)] * b[index(g.layout, g.ldb, p, j)];
                exact += t;
                magnitude += t.abs();
            }
            let got = c[index(g.layout, g.ldc, i, j)];
            let tol = 2.0 * (g.k as f64 + 1.0) * eps * magnitude + f64::MIN_POSITIVE;
            assert!(
                (got - exact).abs() <= tol,
                "{}: {g:?}: C[{i},{j}] = {got}, reference {exact} (tolerance {tol:.3e})",
                backend.name()
            );
        }
    }
    for (idx, v) in c.iter().enumerate() {
        let (line, pos) = (idx / g.ldc, idx % g.ldc);
        let line_len = match g.layout {
            Layout::RowMajor => g.n,
            Layout::ColMajor => g.m,
        };
        if pos >= line_len && line < lines {
            assert!(
                v.is_nan(),
                "{}: {g:?} wrote into C's padding at {idx}",
                backend.name()
            );
        }
    }
}

/// Every shape, both memory orders, packed and with padded leading dimensions.
pub fn products_match_reference<B: Backend + ?Sized>(backend: &B) {
    backend.set_threads(1);
    for &(m, k, n) in SHAPES {
        for layout in [Layout::RowMajor, Layout::ColMajor] {
            let packed = Gemm::packed(layout, m, n, k);
            check_dgemm(backend, &packed);
            let padded = Gemm {
                lda: packed.lda + 3,
                ldb: packed.ldb + 1,
                ldc: packed.ldc + 2,
                ..packed
            };
            check_dgemm(backend, &padded);
        }
    }
}

/// The same with the library's threads on (when it has more than one).
pub fn products_match_reference_threaded<B: Backend + ?Sized>(backend: &B) {
    let t = match backend.thread_scope() {
        ThreadScope::Fixed { threads } => threads,
        _ => 2,
    };
    backend.set_threads(t);
    for &(m, k, n) in &[(257, 129, 65), (300, 301, 299), (64, 64, 64)] {
        for layout in [Layout::RowMajor, Layout::ColMajor] {
            check_dgemm(backend, &Gemm::packed(layout, m, n, k));
        }
    }
    backend.set_threads(1);
}

/// Bad shapes are refused with an error, never handed to the library.
pub fn bad_calls_are_refused<B: Backend + ?Sized>(backend: &B) {
    let g = Gemm::packed(Layout::RowMajor, 4, 5, 6);
    let (a, b, mut c) = (vec![0.0; 24], vec![0.0; 30], vec![0.0; 20]);
    assert!(backend.dgemm(&g, &a[..23], &b, &mut c).is_err());
    assert!(backend.dgemm(&g, &a, &b, &mut c[..19]).is_err());
    assert!(
        backend
            .dgemm(&Gemm { lda: 5, ..g }, &a, &b, &mut c)
            .is_err()
    );
    assert!(backend.dgemm(&g, &a, &b, &mut c).is_ok());
}

fn matrix(rows: usize, cols: usize, salt: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| value(i, j, salt))
}

/// The path the benchmark measures ([`Backend::multiply`]) on C- and Fortran-order inputs.
pub fn multiply_is_correct_in_both_memory_orders<B: Backend + ?Sized>(backend: &B) {
    backend.set_threads(1);
    for (m, k, n) in [(64, 33, 17), (130, 131, 129), (9, 200, 8)] {
        let x = matrix(m, k, 3);
        let y = matrix(k, n, 4);
        let x_f = x.t().as_standard_layout().t().to_owned();
        let y_f = y.t().as_standard_layout().t().to_owned();
        for (a, b) in [(&x, &y), (&x_f, &y), (&x, &y_f), (&x_f, &y_f)] {
            let c = backend.multiply(a, b);
            assert_eq!(c.dim(), (m, n));
            let r = Verifier::new(n).check(&x, &y, &c);
            assert!(r.is_ok(), "{}: {m}x{k}x{n}: {r:?}", backend.name());
        }
    }
}

/// Set and read back through the library's API; what the scope promises holds in a new
/// thread: per-thread counts start at the default there and do not leak back, process-wide
/// counts are seen by every thread.
pub fn threads_are_set_and_read_back_with_the_documented_scope<B: Backend + ?Sized>(backend: &B) {
    let default = backend.default_threads();
    assert!(default >= 1, "{}: default {default}", backend.name());
    match backend.thread_scope() {
        ThreadScope::Fixed { threads } => {
            assert_eq!(default, threads);
            backend.set_threads(threads);
            assert_eq!(backend.threads(), threads);
            std::thread::scope(|s| {
                s.spawn(|| assert_eq!(backend.threads(), threads));
            });
        }
        ThreadScope::PerThread => {
            for t in [1, 3, 2] {
                backend.set_threads(t);
                assert_eq!(backend.threads(), t, "{}: set {t}", backend.name());
            }
            std::thread::scope(|s| {
                s.spawn(|| {
                    assert_eq!(
                        backend.threads(),
                        default,
                        "{}: a new thread starts at the default",
                        backend.name()
                    );
                    backend.set_threads(3);
                    assert_eq!(backend.threads(), 3);
                });
            });
            assert_eq!(
                backend.threads(),
                2,
                "{}: per-thread count leaked",
                backend.name()
            );
        }
        ThreadScope::Process => {
            for t in [1, 3, 2] {
                backend.set_threads(t);
                assert_eq!(backend.threads(), t, "{}: set {t}", backend.name());
            }
            std::thread::scope(|s| {
                s.spawn(|| {
                    assert_eq!(backend.threads(), 2, "{}: process-wide", backend.name());
                    backend.set_threads(3);
                    assert_eq!(backend.threads(), 3);
                });
            });
            assert_eq!(
                backend.threads(),
                3,
                "{}: process-wide count",
                backend.name()
            );
        }
    }
    backend.set_threads(1);
    assert_eq!(backend.threads(), 1);
}

/// Four threads multiplying at once (library at one thread each) get correct products.
pub fn concurrent_calls_are_correct<B: Backend + ?Sized>(backend: &B) {
    if let Some(why) = backend.concurrent_calls_unsupported() {
        // The engine refuses strategies that would call it from several threads at once.
        eprintln!("{}: concurrent calls not checked: {why}", backend.name());
        return;
    }
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                backend.set_threads(1);
                let x = matrix(150, 120, t);
                let y = matrix(120, 90, t + 1);
                let verifier = Verifier::new(90);
                for round in 0..5 {
                    let c = backend.multiply(&x, &y);
                    let r = verifier.check(&x, &y, &c);
                    assert!(
                        r.is_ok(),
                        "{}: thread {t} round {round}: {r:?}",
                        backend.name()
                    );
                    check_dgemm(backend, &Gemm::packed(Layout::RowMajor, 37 + t, 29, 53));
                }
            });
        }
    });
}

/// Name, version and kernel are reported.
pub fn introspection_names_library_version_and_kernel<B: Backend + ?Sized>(
    backend: &B,
    name: &str,
) {
    assert_eq!(backend.name(), name);
    let version = backend.version();
    assert!(
        version.chars().any(|c| c.is_ascii_digit()),
        "{name}: version '{version}' names no release"
    );
    let k = backend.kernel();
    assert!(!k.kernel.trim().is_empty(), "{name}: no kernel reported");
}

/// Libraries with a batched dgemm give the same products as one call per pair; the others
/// say why not.
pub fn batch_matches_single_products_or_says_why_not<B: Backend + ?Sized>(backend: &B) {
    let pairs_owned: Vec<_> = (0..5)
        .map(|t| (matrix(70, 50, t), matrix(50, 60, t + 7)))
        .collect();
    let pairs: Vec<_> = pairs_owned.iter().map(|(a, b)| (a, b)).collect();
    match backend.batch_unsupported() {
        None => {
            backend.set_threads(1);
            let products = backend
                .multiply_batch(&pairs)
                .unwrap_or_else(|| panic!("{} claims a batched dgemm", backend.name()));
            assert_eq!(products.len(), pairs.len());
            for ((a, b), c) in pairs.iter().zip(&products) {
                let r = Verifier::new(60).check(a, b, c);
                assert!(r.is_ok(), "{}: batched product: {r:?}", backend.name());
            }
            assert_eq!(backend.multiply_batch(&[]).map(|v| v.len()), Some(0));
        }
        Some(reason) => {
            assert!(!reason.is_empty());
            assert!(backend.multiply_batch(&pairs).is_none());
        }
    }
}

/// Every operation the backend computes passes its own check (module `operation` of
/// blaspar-core) at sizes from 1 to 96, at one library thread and, where the scope allows,
/// at two; the thread count reads back unchanged after each call (limits hold inside
/// LAPACK). Operations it does not compute are refused with the reason, and a matrix that
/// is not positive definite makes Cholesky fail with an error, never a panic.
pub fn operations_are_correct_or_say_why_not<B: Backend + ?Sized>(backend: &B) {
    let threads: &[usize] = match backend.thread_scope() {
        ThreadScope::Fixed { threads } => &[threads],
        _ => &[1, 2],
    };
    for op in Operation::ALL {
        if let Some(why) = backend.operation_unsupported(op) {
            assert!(why.contains(op.name()), "{}: {op}: {why}", backend.name());
            let input = op.input(&workload(8), 0, 1);
            let err = backend
                .compute(op, &input)
                .expect_err("refused operations fail");
            assert_eq!(err, why, "{}: {op}", backend.name());
            continue;
        }
        for &t in threads {
            backend.set_threads(t);
            for n in [1, 17, 96] {
                let input = op.input(&workload(n), 3, 1);
                let out = backend.compute(op, &input).unwrap_or_else(|e| {
                    panic!("{}: {op} {n}x{n} at {t} thread(s): {e}", backend.name())
                });
                let r = task::verify(op, &input, &out);
                assert!(
                    r.is_ok(),
                    "{}: {op} {n}x{n} at {t} thread(s): {r:?}",
                    backend.name()
                );
                assert_eq!(
                    backend.threads(),
                    t,
                    "{}: {op} changed the thread count",
                    backend.name()
                );
            }
        }
    }
    backend.set_threads(1);
    if backend.operation_unsupported(Operation::Cholesky).is_none() {
        let not_spd = Input::Single(Array2::from_shape_fn((4, 4), |(i, j)| {
            if i == j { -1.0 } else { 0.0 }
        }));
        let err = backend
            .compute(Operation::Cholesky, &not_spd)
            .expect_err("Cholesky of a negative definite matrix fails");
        assert!(!err.is_empty(), "{}", backend.name());
    }
}

/// Every supported operation computed by several threads at once, each at one library
/// thread, at a size where LAPACK takes its blocked paths: the thread workers' case. A
/// library with process-wide state that one call sets up and tears down (libflame
/// initialises and finalises its globals around every LAPACK call unless initialised once)
/// corrupts or aborts the calls running beside it.
pub fn operations_are_correct_from_several_threads_at_once<B: Backend + ?Sized>(backend: &B) {
    if matches!(backend.thread_scope(), ThreadScope::Fixed { threads } if threads != 1) {
        return;
    }
    if let Some(why) = backend.concurrent_calls_unsupported() {
        // The engine refuses strategies that would call it from several threads at once.
        eprintln!(
            "{}: concurrent operations not checked: {why}",
            backend.name()
        );
        return;
    }
    for op in Operation::ALL {
        if backend.operation_unsupported(op).is_some() {
            continue;
        }
        std::thread::scope(|s| {
            for worker in 0..4 {
                let thread = std::thread::Builder::new().stack_size(CALLER_STACK_BYTES);
                let spawned = thread.spawn_scoped(s, move || {
                    backend.set_threads(1);
                    for round in 0..3 {
                        let input = op.input(&workload(150), worker * 3 + round, 1);
                        let out = backend.compute(op, &input).unwrap_or_else(|e| {
                            panic!("{}: {op} in worker {worker}: {e}", backend.name())
                        });
                        let r = task::verify(op, &input, &out);
                        assert!(
                            r.is_ok(),
                            "{}: {op} in worker {worker}: {r:?}",
                            backend.name()
                        );
                    }
                });
                spawned.expect("a worker thread starts");
            }
        });
    }
}

fn workload(n: usize) -> Workload {
    Workload {
        tasks: 4,
        size: n,
        seed: 11,
        generation: Default::default(),
        operation: Default::default(),
        corrupt: None,
    }
}

/// Generates one `#[test]` per conformance check for a backend type.
///
/// `conformance_tests!(Type, "name", init_expr)`: `init_expr` builds the backend (once per
/// test binary); `name` is what [`Backend::name`] must return.
#[macro_export]
macro_rules! conformance_tests {
    ($ty:ty, $name:expr, $init:expr) => {
        fn conformance_backend() -> (std::sync::MutexGuard<'static, ()>, &'static $ty) {
            static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
            static BACKEND: std::sync::OnceLock<$ty> = std::sync::OnceLock::new();
            let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
            (guard, BACKEND.get_or_init(|| $init))
        }
        $crate::conformance_tests!(@each products_match_reference);
        $crate::conformance_tests!(@each products_match_reference_threaded);
        $crate::conformance_tests!(@each bad_calls_are_refused);
        $crate::conformance_tests!(@each multiply_is_correct_in_both_memory_orders);
        $crate::conformance_tests!(@each threads_are_set_and_read_back_with_the_documented_scope);
        $crate::conformance_tests!(@each concurrent_calls_are_correct);
        $crate::conformance_tests!(@each batch_matches_single_products_or_says_why_not);
        $crate::conformance_tests!(@each operations_are_correct_or_say_why_not);
        $crate::conformance_tests!(@each operations_are_correct_from_several_threads_at_once);
        #[test]
        fn introspection_names_library_version_and_kernel() {
            let (_guard, b) = conformance_backend();
            $crate::conformance::introspection_names_library_version_and_kernel(b, $name);
        }
    };
    (@each $check:ident) => {
        #[test]
        fn $check() {
            let (_guard, b) = conformance_backend();
            // On a thread with the stack the engine gives its workers (a test thread's
            // 2 MiB is too small for OpenBLAS's threaded LU).
            std::thread::scope(|s| {
                std::thread::Builder::new()
                    .stack_size($crate::conformance::CALLER_STACK_BYTES)
                    .spawn_scoped(s, || $crate::conformance::$check(b))
                    .expect("a test thread starts")
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e))
            });
        }
    };
}

//! BLIS's dgemm called directly against a plain-loop check, on shapes that are not
//! multiples of any kernel's blocks; thread count set and read back per calling thread.
//! Uses the library's own kernel choice: no probe children from a test harness.

use blaspar_blis::{Blis, KernelRequest, ffi};
use blaspar_core::Backend;
use blaspar_core::verify::Verifier;
use ndarray::Array2;

fn matrix(rows: usize, cols: usize, salt: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((i * 31 + j * 17 + salt) % 97) as f64 / 97.0
    })
}

fn blis() -> Blis {
    Blis::init(&KernelRequest::LibraryDefault, &std::env::temp_dir()).expect("BLIS initialises")
}

#[test]
fn direct_dgemm_is_correct_on_awkward_shapes() {
    for (m, k, n) in [
        (1, 1, 1),
        (3, 200, 2),
        (37, 53, 29),
        (257, 129, 65),
        (8, 8, 8),
    ] {
        let a = matrix(m, k, 1);
        let b = matrix(k, n, 2);
        let mut c = Array2::zeros((m, n));
        ffi::dgemm(
            m,
            n,
            k,
            a.as_slice().unwrap(),
            b.as_slice().unwrap(),
            c.as_slice_mut().unwrap(),
        );
        assert!(Verifier::new(n).check(&a, &b, &c).is_ok(), "{m}x{k}x{n}");
    }
}

#[test]
fn multiply_is_correct_in_both_memory_orders_and_threads_are_per_thread() {
    let b = blis();
    assert!(!b.version().is_empty());
    assert!(!b.kernel().kernel.is_empty());
    for (m, k, n) in [(64, 33, 17), (130, 131, 129)] {
        let x = matrix(m, k, 3);
        let y = matrix(k, n, 4);
        let x_f = x.t().as_standard_layout().t().to_owned();
        for a in [&x, &x_f] {
            let c = b.multiply(a, &y);
            assert!(Verifier::new(n).check(&x, &y, &c).is_ok(), "{m}x{k}x{n}");
        }
    }
    b.set_threads(3);
    assert_eq!(b.threads(), 3);
    std::thread::scope(|s| {
        s.spawn(|| {
            // Vendored BLIS 1.0 keeps the count per thread: a new thread starts at the default.
            assert_eq!(b.threads(), b.default_threads());
            b.set_threads(2);
            assert_eq!(b.threads(), 2);
        });
    });
    assert_eq!(b.threads(), 3);
}

#[test]
fn concurrent_calls_from_several_threads_are_correct() {
    let b = blis();
    std::thread::scope(|s| {
        for t in 0..4 {
            let b = &b;
            s.spawn(move || {
                b.set_threads(1);
                let x = matrix(150, 120, t);
                let y = matrix(120, 90, t + 1);
                for _ in 0..5 {
                    let c = b.multiply(&x, &y);
                    assert!(Verifier::new(90).check(&x, &y, &c).is_ok());
                }
            });
        }
    });
}

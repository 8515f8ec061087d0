//! Rough GFLOP/s of every operation through the faer backend, one task at a time on the
//! calling thread (FLOPs from `Operation::flops`; each result is verified).
//!
//! `cargo run --release -p blaspar-faer --example ops_gflops -- [n=500] [threads=1] [reps=5]`

use blaspar_core::Workload;
use blaspar_core::backend::Backend;
use blaspar_core::operation::Operation;
use blaspar_core::task::verify;
use blaspar_faer::Faer;
use std::time::Instant;

fn arg(i: usize, name: &str, default: usize) -> Result<usize, String> {
    match std::env::args().nth(i) {
        None => Ok(default),
        Some(s) => match s.parse() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(format!("{name} must be a positive integer, got '{s}'")),
        },
    }
}

fn main() -> Result<(), String> {
    let (n, threads, reps) = (arg(1, "n", 500)?, arg(2, "threads", 1)?, arg(3, "reps", 5)?);
    let w = Workload {
        tasks: 1,
        size: n,
        seed: 1,
        generation: Default::default(),
        operation: Default::default(),
        corrupt: None,
    };
    let b = Faer::new();
    b.set_threads(threads);
    println!(
        "faer {}, n = {n}, T = {threads}, best of {reps}",
        b.version()
    );
    for op in Operation::ALL {
        let input = op.input(&w, 0, 1);
        let out = b.compute(op, &input)?;
        verify(op, &input, &out).map_err(|e| format!("{op}: {e}"))?;
        let mut best = f64::INFINITY;
        for _ in 0..reps {
            let t = Instant::now();
            let out = b.compute(op, &input)?;
            best = best.min(t.elapsed().as_secs_f64());
            drop(out);
        }
        let gflops = op.flops(n) / best / 1e9;
        println!(
            "{:>9}  {:>9.3} ms  {gflops:>7.2} GFLOP/s",
            op.name(),
            best * 1e3
        );
    }
    Ok(())
}

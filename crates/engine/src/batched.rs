//! The `batched-T` strategy: every task's matrices are generated first, then all products
//! go to the library in **one** batched call (`cblas_dgemm_batch`), with the library at T
//! threads. The tutorial's closing notes suggest it; it needs a library that has the call
//! ([`Backend::batch_unsupported`] says why not otherwise).
//!
//! Bookkeeping: one call multiplies every task, so no per-task multiply time exists. Each
//! task's multiply interval is its equal share (the tasks are equal in size) of the call's
//! measured interval, in task order: the wall-clock union is the call itself and the summed
//! task-seconds equal its duration. `gemm_calls` of every task is the number of library calls
//! the whole batch made (1 when the binary counts them).
//!
//! The library allocates nothing: the products are the arrays the call wrote. After the timed
//! run they are copied into the result store (or checked, with fingerprints only) so that
//! verification reads every strategy's products the same way; that copy is not timed.

use crate::execution::{
    Execution, Interrupted, TaskTiming, Unsupported, WorkerStats, process_minor_faults, stop_point,
};
use crate::store::ResultStore;
use blaspar_core::operation::Operation;
use blaspar_core::strategy::Placement;
use blaspar_core::task::verify_product;
use blaspar_core::usage::{process_cpu_seconds, thread_cpu_seconds};
use blaspar_core::{Backend, Strategy, Workload};
use ndarray::Array2;
use std::time::Instant;

/// Why a batched run did not finish.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
}

/// Why `strategy` (a batched one) cannot run on `backend`.
pub fn unsupported<B: Backend + ?Sized>(
    backend: &B,
    strategy: Strategy,
    op: Operation,
) -> Option<String> {
    match strategy.placement() {
        Placement::Batched if op != Operation::Gemm => Some(format!(
            "batched-T is one batched dgemm call for every product; {op} ({}) has no \
             batched call here",
            op.routine()
        )),
        Placement::Batched => backend.batch_unsupported(),
        _ => None,
    }
}

/// Runs a batched strategy in the calling thread. A stop signal is noticed between
/// generated tasks and around the one call (which cannot be cut short).
pub fn execute<B: Backend + ?Sized>(
    backend: &B,
    strategy: Strategy,
    workload: &Workload,
    store: Option<&mut ResultStore>,
    on_task_done: &(dyn Fn() + Sync),
) -> Result<Execution, BatchError> {
    let refuse = |reason: String| Unsupported {
        strategy,
        backend: backend.name().to_string(),
        reason,
    };
    if let Some(reason) = unsupported(backend, strategy, workload.operation) {
        return Err(refuse(reason).into());
    }
    let threads = strategy.blas_threads().count_or(backend.default_threads());
    let cpu0 = process_cpu_seconds();
    let thread_cpu0 = thread_cpu_seconds();
    let faults0 = process_minor_faults();
    let t0 = Instant::now();
    let since = |t: Instant| t.duration_since(t0).as_secs_f64();
    backend.set_threads(threads);
    let (inputs, generate) = generate_all(workload, threads, since)?;
    stop_point(|| "before the batched call".to_string())?;
    let blas_threads = backend.threads();
    let calls0 = backend.gemm_calls_in_this_thread();
    let m0 = Instant::now();
    let pairs: Vec<_> = inputs.iter().map(|(a, b)| (a, b)).collect();
    let products = backend.multiply_batch(&pairs).ok_or_else(|| {
        refuse(format!(
            "{} returned no batched products although it claims a batched dgemm",
            backend.name()
        ))
    })?;
    let m1 = Instant::now();
    stop_point(|| "during the batched call".to_string())?;
    let gemm_calls = calls0
        .zip(backend.gemm_calls_in_this_thread())
        .map(|(before, after)| after - before);
    let seconds_total = t0.elapsed().as_secs_f64();
    let cpu_seconds = process_cpu_seconds() - cpu0;
    let worker_cpu = thread_cpu_seconds() - thread_cpu0;
    let minor_faults = process_minor_faults() - faults0;
    let timings: Vec<TaskTiming> = shared_call(&generate, (since(m0), since(m1)))
        .map(|(task, generate, multiply)| TaskTiming {
            task,
            worker: 0,
            generate,
            multiply,
            verify: None,
            delivered: multiply.1,
            blas_threads,
            gemm_calls,
        })
        .inspect(|_| on_task_done())
        .collect();
    // Not timed: hand the products over for verification.
    let checks = match store {
        Some(store) => {
            for (task, c) in products.iter().enumerate() {
                store.slot_mut(task).assign(c);
            }
            None
        }
        None => {
            let checked = inputs.iter().zip(&products);
            Some(
                checked
                    .map(|((a, b), c)| verify_product(a.view(), b.view(), c.view()))
                    .collect(),
            )
        }
    };
    Ok(Execution {
        timings,
        workers: vec![WorkerStats {
            worker: 0,
            pid: None,
            startup_seconds: 0.0,
            store_seconds: 0.0,
            tasks: workload.tasks,
            cpu_seconds: worker_cpu,
            wall_seconds: seconds_total,
        }],
        checks,
        startup_seconds: 0.0,
        store_seconds: 0.0,
        load_seconds: 0.0,
        seconds_total,
        cpu_seconds,
        minor_faults,
        placement: Default::default(),
    })
}

/// Every task's A and B.
type Inputs = Vec<(Array2<f64>, Array2<f64>)>;

/// Every task's A and B, and when each was generated (seconds by `since`).
fn generate_all(
    workload: &Workload,
    threads: usize,
    since: impl Fn(Instant) -> f64,
) -> Result<(Inputs, Vec<(f64, f64)>), BatchError> {
    let mut inputs = Vec::with_capacity(workload.tasks);
    let mut generate = Vec::with_capacity(workload.tasks);
    for task in 0..workload.tasks {
        stop_point(|| {
            format!(
                "while generating the batch ({task} of {} tasks)",
                workload.tasks
            )
        })?;
        let g0 = Instant::now();
        inputs.push(workload.generate_on(task, workload.generation.threads(threads)));
        generate.push((since(g0), since(Instant::now())));
    }
    Ok((inputs, generate))
}

/// Each task's (task, generate, multiply) intervals: the call's interval shared evenly in
/// task order, the last share ending exactly with the call.
fn shared_call(
    generate: &[(f64, f64)],
    (start, end): (f64, f64),
) -> impl Iterator<Item = (usize, (f64, f64), (f64, f64))> + '_ {
    let share = (end - start) / generate.len() as f64;
    generate.iter().enumerate().map(move |(task, &g)| {
        let s = start + share * task as f64;
        let e = if task + 1 == generate.len() {
            end
        } else {
            s + share
        };
        (task, g, (s, e))
    })
}

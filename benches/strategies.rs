//! The criterion suite: every strategy of the default set on one workload, on the backend
//! this build links (feature `blis` by default). One group per backend x workload
//! (`blis/quick-16x1000`), one bench id per strategy (its text form), throughput in FLOPs
//! (criterion prints "elem/s": read it as FLOP/s).
//!
//! Workers (a thread pool, or worker processes: this bench binary started again as a
//! worker, fork+exec) and the result store are set up outside the timing, as in
//! criterion's external-process example, then driven once per iteration and timed on
//! this process's clock, so that handing out tasks and collecting results is counted.
//! Each strategy's products are verified after its first iteration (outside the timing).
//!
//! Workload: `BLASPAR_BENCH_WORKLOAD=quick|seed|TASKSxSIZE` (default quick).
//! `cargo bench -- --test` runs every bench once.

use blaspar_core::Backend;
use blaspar_core::machine::{Machine, available_memory};
use blaspar_core::{MemoryPlan, Strategy, Workload};
use blaspar_engine::execute::{Workers, check_supported};
use blaspar_engine::procs::WorkerSettings;
use blaspar_engine::report::verify;
use blaspar_engine::store::ResultStore;
use criterion::{Criterion, SamplingMode, Throughput};
use std::time::{Duration, Instant};

fn fail(msg: String) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

fn bench_strategy(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    backend: &impl Backend,
    strategy: Strategy,
    workload: Workload,
) {
    let mut store = ResultStore::new(workload.tasks, workload.size)
        .unwrap_or_else(|e| fail(format!("{strategy}: {e}")));
    let (mut workers, _) = Workers::start(
        backend,
        strategy,
        &workload,
        Some(&store),
        &WorkerSettings::default(),
    )
    .unwrap_or_else(|e| fail(format!("{strategy}: {e}")));
    let mut verified = false;
    c.bench_function(strategy.to_string(), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let exec = workers
                    .run(backend, strategy, &workload, Some(&mut store), &|| {})
                    .unwrap_or_else(|e| fail(format!("{strategy}: {e}")));
                total += start.elapsed();
                if !verified {
                    let (v, _) = verify(&exec, &workload, Some(&store));
                    if let Some(f) = v.failed_tasks.first() {
                        fail(format!(
                            "{strategy}: task {} failed verification (row {}, relative error {:.3e})",
                            f.task, f.row, f.rel_error
                        ));
                    }
                    verified = true;
                }
            }
            total
        })
    });
    workers
        .shutdown()
        .unwrap_or_else(|e| fail(format!("{strategy}: {e}")));
}

fn main() {
    blaspar_bench::child_hook();
    // This binary is also the worker process of the process strategies.
    blaspar_engine::procs::serve_if_worker(blaspar_bench::backend_for);
    let machine = Machine::detect();
    let spec = std::env::var("BLASPAR_BENCH_WORKLOAD").ok();
    let (workload, label) =
        blaspar_bench::bench_workload(spec.as_deref(), machine.default_parallelism)
            .unwrap_or_else(|e| fail(e.to_string()));
    let (available, source) = available_memory();
    let plan = MemoryPlan {
        keep_products: true,
        // The batched strategy holds every task's A, B and C at once.
        in_flight: workload.tasks.max(machine.cpus_allowed.len()),
    };
    workload
        .check(plan, available, &source)
        .unwrap_or_else(|e| fail(e.to_string()));
    let backend = blaspar_bench::backend().unwrap_or_else(|e| fail(format!("{e:#}")));
    eprintln!(
        "{} {} kernel {} ({}), workload {label}, {} CPUs usable",
        backend.name(),
        backend.version(),
        backend.kernel().kernel,
        backend.kernel().method,
        machine.default_parallelism
    );

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group(format!("{}/{label}", backend.name()));
    group
        .throughput(Throughput::Elements(workload.flops() as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for strategy in Strategy::default_set(machine.default_parallelism) {
        match check_supported(&backend, strategy) {
            Ok(()) => bench_strategy(&mut group, &backend, strategy, workload),
            Err(e) => eprintln!("skipped: {e}"),
        }
    }
    group.finish();
    criterion.final_summary();
}

//! The criterion suite: every in-process strategy on one workload, on the backend this build
//! links (feature `blis` by default). One group per backend x workload (`blis/quick-16x1000`),
//! one bench id per strategy (its text form), throughput in FLOPs (criterion prints
//! "elem/s": read it as FLOP/s).
//!
//! Workload: `BLASPAR_BENCH_WORKLOAD=quick|seed|TASKSxSIZE` (default quick). Each strategy's
//! products are verified on its first run (outside the timing). `cargo bench -- --test`
//! runs every bench once.

use blaspar_core::Backend;
use blaspar_core::machine::{Machine, available_memory};
use blaspar_core::{Strategy, Workload};
use blaspar_runner::execute::{check_supported, execute};
use blaspar_runner::report::verify;
use criterion::{Criterion, SamplingMode, Throughput};
use std::time::Duration;

fn bench_strategy(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    backend: &impl Backend,
    strategy: Strategy,
    workload: Workload,
) {
    let mut verified = false;
    c.bench_function(strategy.to_string(), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let exec = execute(backend, strategy, &workload, &|| {}).expect("checked as supported");
                // The run's own clock: setup and every task, products kept, nothing else.
                total += Duration::from_secs_f64(exec.seconds_total);
                if !verified {
                    let (v, _) = verify(&exec, workload.size);
                    if let Some(f) = v.failed_tasks.first() {
                        eprintln!("error: {strategy}: task {} failed verification (row {}, relative error {:.3e})", f.task, f.row, f.rel_error);
                        std::process::exit(1);
                    }
                    verified = true;
                }
            }
            total
        })
    });
}

fn main() {
    blaspar_bench::child_hook();
    let fail = |msg: String| -> ! {
        eprintln!("error: {msg}");
        std::process::exit(1)
    };
    let machine = Machine::detect();
    let spec = std::env::var("BLASPAR_BENCH_WORKLOAD").ok();
    let (workload, label) =
        blaspar_bench::bench_workload(spec.as_deref(), machine.default_parallelism)
            .unwrap_or_else(|e| fail(e.to_string()));
    let (available, source) = available_memory();
    workload
        .check(available, &source)
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

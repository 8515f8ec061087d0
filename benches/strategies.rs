//! The criterion suite: every strategy of the default set on one workload, on every built
//! backend (and always BLIS, the embedded default), in one criterion group per operation
//! and workload (`quick-16x1000` for gemm, `quick-svd-16x460`) with one bench id per
//! backend x strategy (`mkl-iomp/threads-2`), so that one report puts every library and
//! strategy side by side and `cargo bench -- mkl` runs the MKL ones. Throughput is in
//! FLOPs, each operation's own count (criterion prints "elem/s": read FLOP/s).
//!
//! This binary links no BLAS library. Each backend's engine binary is brought up to date
//! (`cargo build`, a no-op when current; see the `blaspar_bench` library), started outside
//! the timing as a served engine ([`blaspar_engine::serve`]), asked which strategies it
//! can run honestly (a refusal is printed as skipped, with the reason), then per strategy:
//! its workers (a thread pool, worker processes) and result store are started outside the
//! timing, each iteration is one `run` request and its reply, timed on this process's
//! clock (as in criterion's external-process example: handing out tasks, the workers'
//! replies and collecting the results all count), and the products of the first iteration
//! are verified (outside the timing) before the next (the operations other than gemm are
//! checked by their workers as they compute, and the first iteration's checks are read).
//!
//! Workload: `BLASPAR_BENCH_WORKLOAD=quick|seed|TASKSxSIZE` (default quick), or a workload
//! file (`examples/mixed.toml`: a path ending in `.toml`, as `run --workload` reads it), one
//! group named by the file (`file-mixed-5d0c39e1`, as its history ids) whose tasks their
//! workers check (batched strategies refuse it, as `run` does).
//! Operations: `BLASPAR_BENCH_OP=gemm,svd,...` (default gemm), one group each (not with a
//! workload file, whose groups name their operations).
//! `cargo bench -- --test` runs every bench once.

use blaspar_bench::{EngineDir, bench_groups, engines};
use blaspar_core::Strategy;
use blaspar_core::machine::Machine;
use blaspar_engine::serve::{ServeSettings, ServedEngine};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use std::path::Path;
use std::time::{Duration, Instant};

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

/// One backend x strategy: started on its first iteration (so that a filtered-out bench
/// starts nothing), verified after it, stopped after the bench.
fn bench_strategy(
    group: &mut BenchmarkGroup<'_, WallTime>,
    engine: &mut ServedEngine,
    s: Strategy,
) {
    let id = BenchmarkId::new(engine.backend().to_string(), s.to_string());
    let (mut started, mut verified) = (false, false);
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            if !started {
                engine.start_strategy(s).unwrap_or_else(|e| fail(e));
                started = true;
            }
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t0 = Instant::now();
                engine.run().unwrap_or_else(|e| fail(e));
                total += t0.elapsed();
                if !verified {
                    engine.verify().unwrap_or_else(|e| fail(e));
                    verified = true;
                }
            }
            total
        })
    });
    if started {
        engine.stop_strategy().unwrap_or_else(|e| fail(e));
    }
}

fn main() {
    let machine = Machine::detect();
    let spec = std::env::var("BLASPAR_BENCH_WORKLOAD").ok();
    let ops = std::env::var("BLASPAR_BENCH_OP").ok();
    let groups = bench_groups(spec.as_deref(), ops.as_deref(), machine.default_parallelism)
        .unwrap_or_else(|e| fail(format!("{e:#}")));
    let dir = EngineDir::of_this_process().unwrap_or_else(|e| fail(e));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let engines = engines(
        &dir,
        Path::new(&cargo),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
    .unwrap_or_else(|e| fail(format!("{e:#}")));
    let labels: Vec<&str> = groups.iter().map(|g| g.label.as_str()).collect();
    eprintln!(
        "workloads {}, {} CPUs usable, engines in {}: {}",
        labels.join(", "),
        machine.default_parallelism,
        dir.path().display(),
        engines
            .iter()
            .map(|(e, _)| e.name)
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut criterion = Criterion::default().configure_from_args();
    let mut skipped = Vec::new();
    for g in &groups {
        let label = &g.label;
        let mut group = criterion.benchmark_group(label);
        group
            .throughput(Throughput::Elements(g.tasks().flops() as u64))
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for (engine, exe) in &engines {
            let mut served =
                ServedEngine::start(exe, engine.name, g.tasks(), &ServeSettings::default())
                    .unwrap_or_else(|e| fail(e));
            eprintln!("{}", served.describe());
            for s in Strategy::default_set(machine.default_parallelism) {
                match served.check(s).unwrap_or_else(|e| fail(e)) {
                    None => bench_strategy(&mut group, &mut served, s),
                    Some(reason) => {
                        let line = format!("skipped {label}/{}/{s}: {reason}", engine.name);
                        eprintln!("{line}");
                        skipped.push(line);
                    }
                }
            }
            served.quit().unwrap_or_else(|e| fail(e));
        }
        group.finish();
    }
    criterion.final_summary();
    // Refusals again at the end, where a reader of the summary looks.
    for line in skipped {
        eprintln!("{line}");
    }
}

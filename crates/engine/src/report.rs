//! Verification of a finished run, the result record, and the printed result row.

use crate::execution::{Execution, Interrupted, stop_point};
use crate::store::ResultStore;
use blaspar_core::ResultMode;
use blaspar_core::folder::Loading;
use blaspar_core::machine::{Machine, blas_env};
use blaspar_core::mix::TaskSet;
use blaspar_core::operation::Operation;
use blaspar_core::record::{
    FailedTask, InputRecord, MinMax, RunRecord, SCHEMA_VERSION, TaskSeconds, TimeSplit,
    Verification, WallPhases, WorkerUsage, WorkloadFile, union_length,
};
use blaspar_core::task::{Failed, Passed, THRESHOLD, verify_product};
use blaspar_core::verify::tolerance;
use blaspar_core::workload::GENERATOR;
use blaspar_core::{Backend, Strategy};
use rayon::prelude::*;
use std::time::Instant;

/// The commit the binary was built from (build.rs: `-dirty` when tracked files changed).
pub const COMMIT: &str = env!("BLASPAR_COMMIT");

/// Checks every task's product after the timed run, in parallel: A and B are regenerated
/// from the workload's seed and the product is read from `store`. With fingerprints only
/// (`store` is `None`) the workers' own checks are summarised. Returns the verification
/// summary and its wall time. `tasks` is the run's workload, or a workload file's tasks.
pub fn verify<'t>(
    exec: &Execution,
    tasks: impl Into<TaskSet<'t>>,
    store: Option<&ResultStore>,
) -> (Verification, f64) {
    verify_with(exec, tasks.into(), store, &|| Ok(())).expect("nothing stops this verification")
}

/// [`verify`], ended early by a stop signal (checked before each product).
pub fn verify_unless_stopped<'t>(
    exec: &Execution,
    tasks: impl Into<TaskSet<'t>>,
    store: Option<&ResultStore>,
) -> Result<(Verification, f64), Interrupted> {
    verify_with(exec, tasks.into(), store, &|| {
        stop_point(|| "while verifying the products".to_string())
    })
}

fn verify_with(
    exec: &Execution,
    tasks: TaskSet<'_>,
    store: Option<&ResultStore>,
    go_on: &(dyn Fn() -> Result<(), Interrupted> + Sync),
) -> Result<(Verification, f64), Interrupted> {
    if tasks.mix.is_some() {
        let checks = exec
            .checks
            .as_ref()
            .expect("a workload file's tasks are checked by their workers");
        return Ok((mixed_verification(tasks, checks), 0.0));
    }
    let workload = tasks.workload;
    let start = Instant::now();
    let size = workload.size;
    let op = workload.operation;
    let results: Vec<Result<Passed, Failed>> = match (store, &exec.checks) {
        (Some(store), _) => (0..workload.tasks)
            .into_par_iter()
            .map(|task| {
                go_on()?;
                let (a, b) = workload.generate(task);
                Ok(verify_product(a.view(), b.view(), store.product(task)))
            })
            .collect::<Result<_, Interrupted>>()?,
        (None, Some(checks)) => checks.clone(),
        (None, None) => panic!("a run without a store carries its workers' checks"),
    };
    let mut worst = 0.0f64;
    let mut failed = Vec::new();
    let mut fingerprints = Vec::with_capacity(results.len());
    for (task, r) in results.into_iter().enumerate() {
        fingerprints.push(r.as_ref().ok().map(|c| c.fingerprint));
        match r {
            Ok(c) => worst = worst.max(c.value),
            Err(f) => {
                worst = worst.max(f.value);
                failed.push(FailedTask {
                    task,
                    row: f.row,
                    rel_error: f.value,
                    check: (op != Operation::Gemm).then_some(f.check),
                });
            }
        }
    }
    let by = if store.is_some() {
        "after the run, A and B regenerated from the seed"
    } else {
        "by each worker right after its operation"
    };
    let v = Verification {
        method: match op {
            Operation::Gemm => format!(
                "freivalds: C x = A (B x), plain-loop matrix-vector products, x fixed in \
                 [0.5, 1.5), {by}"
            ),
            _ => format!(
                "{op}: residual and orthogonality ratios through a fixed vector in [0.5, 1.5), \
                 residual / (norm n eps) <= {THRESHOLD} (blaspar_core::operation), {by}"
            ),
        },
        tolerance: match op {
            Operation::Gemm => tolerance(size),
            _ => THRESHOLD,
        },
        worst_rel_error: worst,
        failed_tasks: failed,
        fingerprints,
    };
    Ok((v, start.elapsed().as_secs_f64()))
}

/// The verification of a workload file's tasks, each checked by its worker against its
/// own limit (Freivalds' tolerance for a product, depending on its inner dimension; 30 for
/// the other operations): each task's value is recorded over its limit, so the
/// tolerance is 1 and a failed task's check names its raw value and limit.
fn mixed_verification(tasks: TaskSet<'_>, checks: &[Result<Passed, Failed>]) -> Verification {
    let mut worst = 0.0f64;
    let mut failed = Vec::new();
    let mut fingerprints = Vec::with_capacity(checks.len());
    for (task, r) in checks.iter().enumerate() {
        fingerprints.push(r.as_ref().ok().map(|c| c.fingerprint));
        match r {
            Ok(c) => worst = worst.max(c.value / c.limit),
            Err(f) => {
                let share = f.value / f.limit;
                worst = worst.max(share);
                failed.push(FailedTask {
                    task,
                    row: f.row,
                    rel_error: share,
                    check: Some(format!(
                        "{}: {} ({:.3e} against its limit {:.3e})",
                        tasks.shape(task).label(),
                        f.check,
                        f.value,
                        f.limit
                    )),
                });
            }
        }
    }
    Verification {
        method: "each task by its worker right after its operation, with the operation's own \
                 check: gemm Freivalds' C x = A (B x) (tolerance 4 (k+2) eps, k the inner \
                 dimension), the others residual and orthogonality ratios <= 30 \
                 (blaspar_core::operation); worst_rel_error and tolerance are each task's value \
                 over its own limit"
            .to_string(),
        tolerance: 1.0,
        worst_rel_error: worst,
        failed_tasks: failed,
        fingerprints,
    }
}

/// What a run's record needs besides the run itself, collected before the backend starts.
pub struct RunContext {
    pub started_unix: u64,
    pub machine: Machine,
    pub env: std::collections::BTreeMap<String, String>,
}

impl RunContext {
    /// The machine and BLAS environment as they are now (before any library changes them).
    pub fn now() -> RunContext {
        let started_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        RunContext {
            started_unix,
            machine: Machine::detect(),
            env: blas_env(),
        }
    }
}

/// Builds the result record of a run (`tasks`: its workload, or a workload file's tasks).
pub fn record<'t, B: Backend + ?Sized>(
    backend: &B,
    strategy: Strategy,
    tasks: impl Into<TaskSet<'t>>,
    exec: &Execution,
    results: ResultMode,
    (verification, verify_seconds): (Verification, f64),
    ctx: RunContext,
) -> RunRecord {
    let tasks = tasks.into();
    let workload = tasks.workload;
    let workers = strategy.workers();
    let total = exec.seconds_total;
    let kernel = backend.kernel();
    RunRecord {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        commit: COMMIT.to_string(),
        started_unix: ctx.started_unix,
        backend: backend.name().to_string(),
        backend_version: backend.version(),
        kernel: kernel.kernel.clone(),
        kernel_choice: kernel.clone(),
        thread_scope: backend.thread_scope(),
        strategy: strategy.to_string(),
        workers,
        blas_threads_requested: strategy.blas_threads().requested(),
        blas_threads_library_default: backend.default_threads(),
        blas_threads_verified: MinMax::of(exec.timings.iter().map(|t| t.blas_threads as u64))
            .expect("a run has at least one task"),
        gemm_calls_per_task: exec
            .timings
            .iter()
            .map(|t| t.gemm_calls)
            .collect::<Option<Vec<_>>>()
            .and_then(MinMax::of),
        tasks: workload.tasks,
        size: workload.size,
        seed: workload.seed,
        generator: GENERATOR.to_string(),
        generation: workload.generation,
        operation: workload.operation,
        results: results.to_string(),
        seconds_total: total,
        time: time_split(exec, workers, verify_seconds, tasks.files().is_some()),
        gflops: tasks.flops() / total / 1e9,
        cpu_utilisation: exec.cpu_seconds / total,
        minor_faults: Some(exec.minor_faults),
        workers_cpu: worker_usage(exec),
        workload_file: tasks
            .mix
            .filter(|m| m.files.is_none())
            .map(WorkloadFile::of),
        input: tasks.mix.and_then(InputRecord::of),
        results_verified: verification.failed_tasks.is_empty(),
        verification,
        machine: ctx.machine,
        blas_env: ctx.env,
        pinning: Some(exec.placement.record()),
    }
}

/// Where the time of a run went: wall-clock phases and summed task-seconds. A run over
/// `.npy` files (`from_files`) loaded what others generate: its tasks' generate intervals
/// are its load time, and the parent's load (`exec.load_seconds`, in `seconds_total`)
/// comes before the tasks' clock starts.
fn time_split(
    exec: &Execution,
    workers: usize,
    verify_seconds: f64,
    from_files: bool,
) -> TimeSplit {
    let total = exec.seconds_total;
    let parent_load = exec.load_seconds;
    let first_start = exec
        .timings
        .iter()
        .map(|t| t.generate.0)
        .fold(f64::INFINITY, f64::min);
    let last_end = exec.timings.iter().map(|t| t.delivered).fold(0.0, f64::max);
    let mut gen_iv: Vec<_> = exec.timings.iter().map(|t| t.generate).collect();
    let mut mul_iv: Vec<_> = exec.timings.iter().map(|t| t.multiply).collect();
    let gen_sum: f64 = gen_iv.iter().map(|(s, e)| e - s).sum();
    let mul_sum: f64 = mul_iv.iter().map(|(s, e)| e - s).sum();
    let verify_sum: f64 = exec
        .timings
        .iter()
        .filter_map(|t| t.verify.map(|(s, e)| e - s))
        .fold(0.0, |a, b| a + b); // an empty f64 sum is -0.0
    let transfer_sum: f64 = exec
        .timings
        .iter()
        .map(|t| (t.delivered - t.worker_end()).max(0.0))
        .sum();
    let busy = gen_sum + mul_sum + verify_sum;
    let idle = (workers as f64 * total - busy).max(0.0);
    let gen_wall = union_length(&mut gen_iv);
    // Loading is generation's place for a run over files: one or the other is zero.
    let (generate, load, generate_wall, load_wall) = match from_files {
        true if parent_load > 0.0 => (0.0, gen_sum, 0.0, parent_load),
        true => (0.0, gen_sum, 0.0, gen_wall),
        false => (gen_sum, 0.0, gen_wall, 0.0),
    };
    TimeSplit {
        wall: WallPhases {
            startup: exec.startup_seconds,
            store: exec.store_seconds,
            setup: first_start.min(total - parent_load),
            tasks: (last_end - first_start).max(0.0),
            generate: generate_wall,
            load: load_wall,
            multiply: union_length(&mut mul_iv),
            verify: verify_seconds,
        },
        task_seconds: TaskSeconds {
            generate,
            load,
            multiply: mul_sum,
            verify: verify_sum,
            transfer: transfer_sum,
            busy,
            idle,
            idle_share: if total > 0.0 {
                idle / (workers as f64 * total)
            } else {
                0.0
            },
        },
    }
}

/// Each worker's CPU and wall time.
fn worker_usage(exec: &Execution) -> Vec<WorkerUsage> {
    exec.workers
        .iter()
        .map(|w| WorkerUsage {
            worker: w.worker,
            pid: w.pid,
            startup_seconds: w.startup_seconds,
            store_seconds: w.store_seconds,
            tasks: w.tasks,
            cpu_seconds: w.cpu_seconds,
            wall_seconds: w.wall_seconds,
            utilisation: if w.wall_seconds > 0.0 {
                w.cpu_seconds / w.wall_seconds
            } else {
                0.0
            },
        })
        .collect()
}

/// Column header of [`row`].
pub fn header() -> String {
    format!(
        "{:<16} {:<34} {:<20} {:>6} {:>6} {:>9} {:>8} {:>8} {:>5} {:>9}",
        "backend",
        "kernel",
        "strategy",
        "tasks",
        "size",
        "seconds",
        "GFLOP/s",
        "threads",
        "cpu",
        "verified"
    )
}

/// One result row: what ran, how fast, and the proofs (threads read back, CPU use, verified).
pub fn row(r: &RunRecord) -> String {
    let threads = if r.blas_threads_verified.min == r.blas_threads_verified.max {
        r.blas_threads_verified.min.to_string()
    } else {
        format!(
            "{}..{}",
            r.blas_threads_verified.min, r.blas_threads_verified.max
        )
    };
    format!(
        "{:<16} {:<34} {:<20} {:>6} {:>6} {:>9.3} {:>8.1} {:>8} {:>5.2} {:>9}",
        r.backend,
        format!("{} ({})", r.kernel, r.kernel_choice.method),
        r.strategy,
        r.tasks,
        r.size,
        r.seconds_total,
        r.gflops,
        threads,
        r.cpu_utilisation,
        if r.results_verified { "yes" } else { "FAILED" },
    )
}

/// The time split as one line.
/// With `--pin` cores or spread, one line: each worker's CPUs and where its threads ran.
pub fn placement_line(r: &RunRecord) -> Option<String> {
    let p = r.pinning.as_ref()?;
    if p.mode == blaspar_core::topology::PinMode::None {
        return None;
    }
    let workers: Vec<String> = p
        .workers
        .iter()
        .map(|w| {
            format!(
                "worker {} on CPUs {} (threads seen on {})",
                w.worker, w.cpus, w.seen.cpus
            )
        })
        .collect();
    Some(format!("pin {}: {}", p.mode, workers.join("; ")))
}

/// Whether every task of `r` was a product (gemm): its time line says "multiplying";
/// another operation's, or a workload file's with one, "computing".
fn products_only(r: &RunRecord) -> bool {
    match (&r.workload_file, &r.input) {
        (Some(file), _) => file.groups.iter().all(|g| g.op == Operation::Gemm),
        (None, Some(input)) => input.tasks.iter().all(|t| t.op == Operation::Gemm),
        (None, None) => r.operation == Operation::Gemm,
    }
}

pub fn time_line(r: &RunRecord) -> String {
    let (computing, compute) = if products_only(r) {
        ("multiplying", "multiply")
    } else {
        ("computing", "compute")
    };
    let w = &r.time.wall;
    let t = &r.time.task_seconds;
    let in_worker = if t.verify > 0.0 {
        format!(", verify in workers {:.3}", t.verify)
    } else {
        String::new()
    };
    let store = if w.store > 0.0 {
        format!(", result store {:.3} s", w.store)
    } else {
        String::new()
    };
    // A run over .npy files loads where others generate.
    let loaded = r.input.as_ref();
    let (parent_load, making, making_wall, task_making) = match loaded.map(|i| i.loading) {
        Some(Loading::Parent) => (
            format!("load by the parent {:.3} s, then ", w.load),
            "taking operands",
            t.load,
            format!("load (from shared memory) {:.3}", t.load),
        ),
        Some(Loading::Workers) => (
            String::new(),
            "loading",
            w.load,
            format!("load {:.3}", t.load),
        ),
        None => (
            String::new(),
            "generating",
            w.generate,
            format!("generate {:.3}", t.generate),
        ),
    };
    let making_wall = match loaded.map(|i| i.loading) {
        Some(Loading::Parent) => format!("{making} {making_wall:.3} task-s"),
        _ => format!("{making} {making_wall:.3} s"),
    };
    format!(
        "time: start-up {:.3} s{store} (not timed); wall {parent_load}setup {:.3} s, tasks {:.3} s \
         ({making_wall}, {computing} {:.3} s); task-seconds {task_making}, {compute} \
         {:.3}{in_worker}, transfer {:.4}, idle {:.3} ({:.1}% of workers x wall); verify {:.3} s \
         (not timed); minor page faults in the run {}",
        w.startup,
        w.setup,
        w.tasks,
        w.multiply,
        t.multiply,
        t.transfer,
        t.idle,
        100.0 * t.idle_share,
        w.verify,
        r.minor_faults.map_or("?".to_string(), |f| f.to_string())
    )
}

/// A run over `.npy` files: the folder, its files and tasks, and who loaded them.
pub fn input_line(i: &InputRecord) -> String {
    let ops: Vec<String> = i.tasks.iter().map(|t| t.files.len().to_string()).collect();
    let pairs = ops.iter().filter(|n| *n == "2").count();
    let products = match i.tasks.first().map(|t| t.op) {
        Some(Operation::Gemm) => format!(
            " ({pairs} products of two files, {} of a file and its transpose)",
            i.tasks.len() - pairs
        ),
        _ => String::new(),
    };
    format!(
        "input {}: {} files ({:.1} MB), {} {} tasks{products}, {:.3} GFLOP in all, loaded by \
         the {}, largest task first",
        i.folder,
        i.files.len(),
        i.total_bytes as f64 / 1e6,
        i.tasks.len(),
        i.tasks
            .first()
            .map_or("-".to_string(), |t| t.op.to_string()),
        i.total_flops / 1e9,
        match i.loading {
            Loading::Parent => "parent before the run",
            Loading::Workers => "workers",
        }
    )
}

/// Groups a workload file's line names; the rest are counted (the record has them all).
const LINE_GROUPS: usize = 12;

/// A workload file's line: its groups (the first [`LINE_GROUPS`]), tasks, FLOPs and the
/// order they ran in.
pub fn workload_file_line(f: &WorkloadFile) -> String {
    let mut groups: Vec<String> = f
        .groups
        .iter()
        .take(LINE_GROUPS)
        .map(|g| format!("{} x {}", g.count, g.label))
        .collect();
    if f.groups.len() > LINE_GROUPS {
        groups.push(format!("and {} more groups", f.groups.len() - LINE_GROUPS));
    }
    format!(
        "workload file {}: {} ({} tasks, {:.3} GFLOP in all), {}",
        f.path,
        groups.join(", "),
        f.tasks,
        f.total_flops / 1e9,
        f.order
    )
}

/// The `describe` line of a backend.
pub fn describe<B: Backend>(b: &B) -> String {
    let k = b.kernel();
    format!(
        "{:<15} {:<20} kernel {} ({}), library default {}, threads {}",
        b.name(),
        b.version(),
        k.kernel,
        k.method,
        k.library_default.as_deref().unwrap_or("-"),
        match b.thread_scope() {
            blaspar_core::ThreadScope::PerThread => "per calling thread".to_string(),
            blaspar_core::ThreadScope::Process => "process-wide".to_string(),
            blaspar_core::ThreadScope::Fixed { threads } => format!("fixed at {threads}"),
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_line_says_multiplying_for_products_only() {
        let text = include_str!("../../../results/2026-11-23-vm/quick-blis-threads-2.json");
        let mut r: RunRecord = serde_json::from_str(text).unwrap();
        assert!(
            time_line(&r).contains(", multiplying "),
            "{}",
            time_line(&r)
        );
        assert!(time_line(&r).contains("task-seconds generate"));
        r.operation = Operation::Svd;
        let line = time_line(&r);
        assert!(
            line.contains(", computing ") && line.contains(", compute "),
            "{line}"
        );
        assert!(!line.contains("multiply"), "{line}");
        // A workload file is products only when every group is one.
        let mix = blaspar_core::mix::Mix::parse(
            "w.toml",
            "[[tasks]]\nop = \"gemm\"\nsize = 4\ncount = 1\n",
        )
        .unwrap();
        r.operation = Operation::Gemm;
        r.workload_file = Some(blaspar_core::record::WorkloadFile::of(&mix));
        assert!(time_line(&r).contains(", multiplying "));
        let mixed = blaspar_core::mix::Mix::parse(
            "w.toml",
            "[[tasks]]\nop = \"gemm\"\nsize = 4\ncount = 1\n[[tasks]]\nop = \"qr\"\nsize = 4\ncount = 1\n",
        )
        .unwrap();
        r.workload_file = Some(blaspar_core::record::WorkloadFile::of(&mixed));
        assert!(time_line(&r).contains(", computing "));
    }
}

//! The result record: one JSON object per run. Every field is documented; readers check
//! `schema_version` before trusting the rest.

use crate::backend::{KernelChoice, ThreadScope};
use crate::machine::Machine;
use crate::mix::Mix;
use crate::operation::Operation;
use crate::task::Dims;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of this record's layout; bump on any incompatible change.
///
/// - 1: first layout.
/// - 2: products go to a result store (A and B are not kept; verification regenerates
///   them); worker start-up is measured apart (`time.wall.startup`, not in `seconds_total`);
///   `results`, `time.task_seconds.transfer`/`verify`, and per-worker `pid`/`startup_seconds`
///   added. Version-1 records still read (the added fields default to zero or empty).
/// - 3: `generation` added (serial or parallel data generation; serial when absent); the
///   generator draws from one stream per block (see `generator`).
/// - 4: the result store is made ready (every page allocated and mapped) before the timed
///   run: `time.wall.store` and per-worker `store_seconds` say what that took, and
///   `minor_faults` counts the page faults of the timed run. Older records read with zero
///   and `null`. `generation` may be `overlapped`.
/// - 5: `operation` added (gemm when absent); a failed task's `row` may be `null` and it
///   may name its `check` (the operations beyond gemm).
/// - 6: `pinning` added (`run --pin`: the mode, the topology, each worker's CPUs and where
///   its threads ran); `null` in older records, which ran unpinned.
/// - 7: `time.task_seconds.idle_share` (0 when absent) and, for a run of a workload file,
///   `workload_file` (absent otherwise).
/// - 8: a run over a folder of `.npy` files (`run --input DIR`) has `input` (the folder,
///   its files, its tasks, total bytes, who loaded them); `time.wall.load` and
///   `time.task_seconds.load` (0 when absent) hold its load time, and its `generate`
///   fields are 0.
pub const SCHEMA_VERSION: u32 = 8;

/// A smallest and a largest value seen over all tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinMax {
    pub min: u64,
    pub max: u64,
}

impl MinMax {
    /// Min and max of the values, `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = u64>) -> Option<MinMax> {
        values.into_iter().fold(None, |acc, v| match acc {
            None => Some(MinMax { min: v, max: v }),
            Some(m) => Some(MinMax {
                min: m.min.min(v),
                max: m.max.max(v),
            }),
        })
    }
}

/// Wall-clock phases of a run, in seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WallPhases {
    /// Starting the workers (thread pool, or worker processes up to their "ready" with
    /// BLAS initialised and threads set): before the timed run, not in `seconds_total`.
    #[serde(default)]
    pub startup: f64,
    /// Making the result store ready before the timed run, not in `seconds_total`: creating
    /// it and allocating and mapping every page (`MAP_POPULATE`), so that writing products
    /// takes no page fault in the timed run. Zero with `--results fingerprints` (no store).
    /// Each worker process also populates its own mapping, in its start-up (see
    /// `workers_cpu[].store_seconds`).
    #[serde(default)]
    pub store: f64,
    /// From the start of the timed run to the first task's start (setting BLAS threads,
    /// handing out the first tasks).
    pub setup: f64,
    /// From the first task's start to the last task's end.
    pub tasks: f64,
    /// Time during which at least one worker was generating data (union of intervals).
    pub generate: f64,
    /// A run over `.npy` files (`input`): with `--loading parent`, the parent's load of
    /// every file before the workers' run (included in `seconds_total`, which then times
    /// loading and processing as the workers' loading does); with `--loading workers`, the
    /// time during which at least one worker was loading (union of intervals). 0 otherwise.
    #[serde(default)]
    pub load: f64,
    /// Time during which at least one worker was multiplying (union of intervals).
    pub multiply: f64,
    /// Verification of every product, after the timed run (not in `seconds_total`).
    pub verify: f64,
}

/// Summed over tasks, in task-seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSeconds {
    /// Generating A and B.
    pub generate: f64,
    /// A run over `.npy` files: loading each task's operands (reading its files with
    /// `--loading workers`; taking them from the parent's shared memory with `parent`),
    /// in place of `generate`. 0 otherwise.
    #[serde(default)]
    pub load: f64,
    /// Multiplying.
    pub multiply: f64,
    /// Checking the product in the worker (`--results fingerprints` only).
    #[serde(default)]
    pub verify: f64,
    /// From a worker finishing a task to the parent knowing it (worker processes: the
    /// reply on the pipe; the product itself is already in shared memory). Zero in-process.
    #[serde(default)]
    pub transfer: f64,
    /// load + generate + multiply + verify.
    pub busy: f64,
    /// workers x seconds_total - busy: hand-out, waiting, transfer, imbalance.
    pub idle: f64,
    /// idle / (workers x seconds_total): the share of the workers' time in the run spent
    /// on no task (hand-out, transfer, and imbalance: workers left without work while
    /// others finish). 0 in records before schema 6.
    #[serde(default)]
    pub idle_share: f64,
}

/// Where the time went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeSplit {
    pub wall: WallPhases,
    pub task_seconds: TaskSeconds,
}

/// CPU use of one worker (its own thread; BLAS threads it starts are in the process total).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerUsage {
    pub worker: usize,
    /// Process id of a worker process (`null` for threads).
    #[serde(default)]
    pub pid: Option<u32>,
    /// Start-up of this worker: spawn to ready (processes) or pool start (threads).
    #[serde(default)]
    pub startup_seconds: f64,
    /// Populating this worker process's mapping of the result store, part of its
    /// start-up (zero for threads, which share the run's mapping).
    #[serde(default)]
    pub store_seconds: f64,
    /// Tasks this worker ran.
    pub tasks: usize,
    /// CPU seconds of the worker over the timed run: its thread (getrusage RUSAGE_THREAD)
    /// or, for a worker process, the whole process with its BLAS threads (RUSAGE_SELF).
    pub cpu_seconds: f64,
    /// Wall seconds the worker was alive.
    pub wall_seconds: f64,
    /// cpu_seconds / wall_seconds.
    pub utilisation: f64,
}

/// Where a run's workers were placed (`run --pin`) and where their threads ran, as the
/// kernel saw it: every thread's `processor` (the CPU it last ran on, field 39 of
/// `/proc/<pid>/task/<tid>/stat`), sampled through the timed run of a pinned run (an
/// unpinned run samples nothing: its workers' `seen` are empty). CPU sets are kernel CPU
/// lists (`0-3,8`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pinning {
    /// `none` (no affinity set), `cores` (packed) or `spread`.
    pub mode: crate::topology::PinMode,
    /// The topology the plan was made from, in one line (and what sysfs did not say).
    pub topology: String,
    /// Per worker: its CPUs and where its threads were seen.
    pub workers: Vec<WorkerPinning>,
    /// Threads of the run's process that are no worker's (the run's own threads, a
    /// library's pool started at load time), with where they were seen; worker processes'
    /// threads are all their worker's.
    pub other_threads: ThreadsSeen,
    /// How often threads were sampled, and what that cannot see.
    pub method: String,
}

/// One worker's placement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerPinning {
    pub worker: usize,
    /// The CPUs the worker and the threads it starts may run on (empty: none set).
    pub cpus: String,
    /// Its threads (itself, its BLAS and generator threads) and where they ran.
    pub seen: ThreadsSeen,
}

/// Threads, and the CPUs they were seen on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ThreadsSeen {
    /// Distinct threads seen.
    pub threads: usize,
    /// CPUs they were seen on, as a kernel CPU list.
    pub cpus: String,
}

/// A run's workload file (`run --workload FILE`): what its tasks were.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkloadFile {
    /// The file as given on the command line.
    pub path: String,
    /// Its `[[tasks]]` groups, in file order (task ids follow it, group by group).
    pub groups: Vec<GroupRecord>,
    /// Tasks of every group.
    pub tasks: usize,
    /// FLOPs of every task together (what `gflops` divides).
    pub total_flops: f64,
    /// The order the queue handed the tasks out in, in words.
    pub order: String,
}

/// A run's folder of `.npy` files (`run --input DIR`): what its tasks were.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputRecord {
    /// The folder as given on the command line.
    pub folder: String,
    /// Who loaded the files: `workers` (each worker its task's files, when it takes the
    /// task) or `parent` (every file before the workers' run, into shared memory).
    pub loading: crate::folder::Loading,
    /// Every `.npy` file, in name order (task files refer to these names).
    pub files: Vec<InputFile>,
    /// Entries of the folder that are not `.npy` files (ignored).
    pub ignored: Vec<String>,
    /// Every task, by id.
    pub tasks: Vec<InputTask>,
    /// Bytes of every file (headers and data).
    pub total_bytes: u64,
    /// Bytes of every matrix (float64 data alone; what `--loading parent` holds).
    pub data_bytes: u64,
    /// FLOPs of every task together (what `gflops` divides).
    pub total_flops: f64,
}

/// One `.npy` file of an input folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputFile {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    /// `C` or `F` (Fortran): the order its data are stored in.
    pub order: String,
    /// Its length, header included.
    pub bytes: u64,
}

/// One task of an input folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputTask {
    pub task: usize,
    pub op: Operation,
    /// Its files: A, then B for a product of two files (a product of one file is A A^T).
    pub files: Vec<String>,
    /// A is m x k, B is k x n (gemm); n x n otherwise.
    pub dims: Dims,
    pub flops: f64,
}

impl InputRecord {
    /// Its name in history ids: `npy-<folder>-<crc>`, the folder's name and the CRC-32 of
    /// its tasks (operation, files and dimensions of each, in id order): a folder of other
    /// files, or the same files under another operation, gets another name.
    pub fn label(&self) -> String {
        let mut text = String::new();
        for t in &self.tasks {
            text.push_str(&format!(
                "{} {} {};",
                t.op.name(),
                t.files.join(","),
                t.dims
            ));
        }
        let name = std::path::Path::new(&self.folder)
            .file_name()
            .map(|s| s.to_string_lossy());
        crate::mix::id_label("npy", name.as_deref().unwrap_or("input"), &text)
    }

    /// The record of `mix`'s folder (`None` for a workload file).
    pub fn of(mix: &Mix) -> Option<InputRecord> {
        let files = mix.files.as_ref()?;
        Some(InputRecord {
            folder: files.folder.path.display().to_string(),
            loading: files.loading,
            files: files
                .folder
                .files
                .iter()
                .map(|f| InputFile {
                    name: f.name.clone(),
                    rows: f.rows,
                    cols: f.cols,
                    order: if f.fortran_order { "F" } else { "C" }.to_string(),
                    bytes: f.bytes,
                })
                .collect(),
            ignored: files.folder.ignored.clone(),
            tasks: (0..mix.tasks())
                .map(|t| InputTask {
                    task: t,
                    op: files.op,
                    files: files.names(t),
                    dims: files.dims(t),
                    flops: mix.shape(t).flops(),
                })
                .collect(),
            total_bytes: files.file_bytes(),
            data_bytes: files.data_bytes(),
            total_flops: mix.flops(),
        })
    }

    /// The files of task `task`, joined with `and`.
    pub fn files_of(&self, task: usize) -> Option<String> {
        self.tasks.get(task).map(|t| t.files.join(" and "))
    }
}

/// One group of a workload file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub op: Operation,
    /// A is m x k, B is k x n (gemm); n x n operands otherwise (m = k = n).
    pub dims: Dims,
    pub count: usize,
    /// `gemm 300x200x500`, `svd 200`.
    pub label: String,
    /// FLOPs of one task: 2 m k n for gemm, the operation's count otherwise.
    pub flops_per_task: f64,
    /// Its line in the file.
    pub line: usize,
}

impl WorkloadFile {
    /// Its name in bench groups and history ids ([`crate::mix::label`]), as its run had it.
    pub fn label(&self) -> String {
        crate::mix::label(
            &self.path,
            self.groups.iter().map(|g| (g.op, g.dims, g.count)),
        )
    }

    /// The record of `mix`.
    pub fn of(mix: &Mix) -> WorkloadFile {
        WorkloadFile {
            path: mix.path.clone(),
            groups: mix
                .groups
                .iter()
                .map(|g| GroupRecord {
                    op: g.op,
                    dims: g.dims,
                    count: g.count,
                    label: g.shape().label(),
                    flops_per_task: g.shape().flops(),
                    line: g.line,
                })
                .collect(),
            tasks: mix.tasks(),
            total_flops: mix.flops(),
            order: "dynamic queue, largest task first by FLOPs (longest processing time first)"
                .to_string(),
        }
    }
}

/// A task whose product failed verification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedTask {
    pub task: usize,
    /// The row of C where Freivalds' check failed (gemm; `null` for the other operations).
    pub row: Option<usize>,
    /// The check's value: Freivalds' relative error, or `residual / (norm n eps)`; `null`
    /// when there was no result to check (the library failed: infinite).
    #[serde(deserialize_with = "null_as_infinity")]
    pub rel_error: f64,
    /// Which check failed, in words (the operations beyond gemm; absent for gemm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}

/// How the products were checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Method: Freivalds' check `C x = A (B x)` with plain-loop matrix-vector products, or
    /// the operation's own checks (`blaspar_core::operation`).
    pub method: String,
    /// The largest accepted value: Freivalds' relative tolerance per row, `4 (n + 2) eps`,
    /// or the operations' ratio threshold (30).
    pub tolerance: f64,
    /// Worst value over all tasks (and rows, for gemm); `null` when a task had no result
    /// to check (infinite).
    #[serde(deserialize_with = "null_as_infinity")]
    pub worst_rel_error: f64,
    /// Tasks that failed (empty when all passed).
    pub failed_tasks: Vec<FailedTask>,
    /// Per task, the sum of `C x` (`null` for a failed task): products of two runs agree
    /// when their fingerprints agree to about n eps.
    pub fingerprints: Vec<Option<f64>>,
}

impl Verification {
    /// Why the run failed verification, naming the first failed task (`None`: every task
    /// passed); `tasks` is the run's count.
    pub fn failure(&self, tasks: usize) -> Option<String> {
        let first = self.failed_tasks.first()?;
        let what = match (&first.check, first.row) {
            (Some(check), _) => format!("{check} gave {:.3e}", first.rel_error),
            (None, Some(row)) => format!("row {row} has relative error {:.3e}", first.rel_error),
            (None, None) => format!("its check gave {:.3e}", first.rel_error),
        };
        Some(format!(
            "task {} of {tasks} failed verification: {what} > tolerance {:.3e} ({} task(s) \
             failed in all)",
            first.task,
            self.tolerance,
            self.failed_tasks.len()
        ))
    }
}

/// One run of one strategy on one workload on one backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Layout version of this record ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Version of blaspar that wrote it.
    pub tool_version: String,
    /// Git commit the binary was built from (`-dirty` when the tree had changes).
    pub commit: String,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    /// Backend name (`blis`, `matrixmultiply`).
    pub backend: String,
    /// Library version as the library reports it.
    pub backend_version: String,
    /// Kernel (sub-configuration) the library runs, read back after initialisation.
    pub kernel: String,
    /// How the kernel was chosen, and the probe table.
    pub kernel_choice: KernelChoice,
    /// Whether thread settings apply per calling thread or to the process.
    pub thread_scope: ThreadScope,
    /// Strategy text form (`threads-4`, `hybrid-threads-2x2`, ...).
    pub strategy: String,
    /// Workers (tasks in flight at once).
    pub workers: usize,
    /// BLAS threads requested per worker; `null` means the library default.
    pub blas_threads_requested: Option<usize>,
    /// The library's default thread count, read before anything changed it.
    pub blas_threads_library_default: usize,
    /// Thread count read back through the library's API in the multiplying thread, per task.
    pub blas_threads_verified: MinMax,
    /// Library dgemm calls per task, counted in the multiplying thread (`null` when this
    /// binary does not count): proves that the product reached the library.
    pub gemm_calls_per_task: Option<MinMax>,
    /// What each task computed (`gemm`, `solve`, `cholesky`, `qr`, `eigh`, `svd`); records
    /// before schema 5 read as gemm. With a workload file, its first group's (every
    /// group is in `workload_file`).
    #[serde(default)]
    pub operation: crate::operation::Operation,
    /// Number of tasks.
    pub tasks: usize,
    /// Matrix size n (each task's operands are n x n; with a workload file, its largest
    /// dimension).
    pub size: usize,
    /// Workload seed.
    pub seed: u64,
    /// The data generator.
    pub generator: String,
    /// Who generated each task's matrices: `serial` (the worker's thread), `parallel` (as
    /// many threads as the worker's BLAS threads) or `overlapped` (a generator thread per
    /// worker, one task ahead, while the worker multiplies: its generate intervals overlap
    /// the multiply intervals, so `task_seconds.idle` may be zero).
    #[serde(default)]
    pub generation: crate::workload::Generation,
    /// How products come back: `matrices` (every product kept in the result store, which
    /// worker processes write in place through shared memory) or `fingerprints` (each
    /// worker checks its product and returns only the check).
    #[serde(default)]
    pub results: String,
    /// Wall seconds from the start of the timed run (workers started) to the moment the
    /// last task's result was in the parent.
    pub seconds_total: f64,
    /// Where the time went.
    pub time: TimeSplit,
    /// FLOPs of every task (2 n^3 each for gemm; a workload file's `total_flops`) over
    /// seconds_total, in GFLOP/s.
    pub gflops: f64,
    /// CPU seconds of every thread of the run (and of every worker process) over
    /// seconds_total: average CPUs busy (getrusage).
    pub cpu_utilisation: f64,
    /// Minor page faults during the timed run, of this process and every worker process
    /// (getrusage `ru_minflt`): kept products add none (the store is ready before the run);
    /// what remains is the library's and the generator's memory. `null` in records before
    /// schema 4.
    #[serde(default)]
    pub minor_faults: Option<u64>,
    /// Per-worker CPU over wall.
    pub workers_cpu: Vec<WorkerUsage>,
    /// The workload file the run's tasks came from (`run --workload`; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_file: Option<WorkloadFile>,
    /// The folder of `.npy` files the run's tasks came from (`run --input`; absent
    /// otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputRecord>,
    /// True only when every task's product passed verification.
    pub results_verified: bool,
    /// Verification details.
    pub verification: Verification,
    /// The machine.
    pub machine: Machine,
    /// Every OPENBLAS_*, MKL_*, BLIS_*, OMP_*, GOMP_*, KMP_*, MATMUL_* variable set.
    pub blas_env: BTreeMap<String, String>,
    /// `--pin`: where the workers were placed and where their threads ran (`null` before
    /// schema 6: unpinned).
    #[serde(default)]
    pub pinning: Option<Pinning>,
}

/// A check's value as written: JSON has no infinity, so serde_json writes an infinite
/// value (a task whose library call failed has no result to check) as `null`.
fn null_as_infinity<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

/// Length of the union of half-open intervals `[start, end)`.
pub fn union_length(intervals: &mut [(f64, f64)]) -> f64 {
    intervals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for &(s, e) in intervals.iter() {
        current = match current {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    if let Some((cs, ce)) = current {
        total += ce - cs;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_of_overlapping_intervals() {
        assert_eq!(union_length(&mut []), 0.0);
        assert_eq!(union_length(&mut [(0.0, 1.0), (0.5, 2.0), (3.0, 4.0)]), 3.0);
        assert_eq!(union_length(&mut [(3.0, 4.0), (0.0, 1.0)]), 2.0);
    }

    #[test]
    fn a_failed_check_without_a_result_reads_back_as_infinite() {
        let failed = FailedTask {
            task: 3,
            row: None,
            rel_error: f64::INFINITY,
            check: Some("dpotrf: info 1".to_string()),
        };
        let text = serde_json::to_string(&failed).unwrap();
        assert!(text.contains("\"rel_error\":null"), "{text}");
        let back: FailedTask = serde_json::from_str(&text).unwrap();
        assert_eq!(back, failed);
    }

    #[test]
    fn min_max() {
        assert_eq!(MinMax::of([3, 1, 2]), Some(MinMax { min: 1, max: 3 }));
        assert_eq!(MinMax::of([]), None);
    }

    #[test]
    fn version_1_records_still_read() {
        let text = include_str!("../../../results/2026-11-23-vm/quick-blis-threads-2.json");
        let r: RunRecord = serde_json::from_str(text).expect("a schema 1 record parses");
        assert_eq!(r.schema_version, 1);
        assert_eq!(r.strategy, "threads-2");
        assert_eq!(r.time.wall.startup, 0.0);
        assert_eq!(r.results, "");
        assert!(r.results_verified);
        assert_eq!(r.pinning, None);
    }
}

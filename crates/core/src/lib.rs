//! Backend-agnostic core of blaspar: what a run *is*, independent of any BLAS library.
//!
//! - [`Strategy`]: how a run uses the cores (one value, one text form everywhere); its
//!   [`kind`] of parallelism, which answers and plots name and list configurations by.
//! - [`Workload`]: N tasks of n x n matrices from a version-stable generator; [`mix`]: a
//!   workload file's task groups of different operations and shapes.
//! - [`Backend`]: what every BLAS (or pure-Rust) backend crate implements.
//! - [`verify`]: Freivalds' check of every product, with a stated tolerance.
//! - [`operation`]: what a task computes (gemm, solve, cholesky, qr, eigh, svd) and its
//!   FLOP count; [`task`]: a task's inputs, result and the check of every result.
//! - [`machine`]: CPUs this process may use, physical cores, cgroup quota, memory;
//!   [`topology`]: their packages, cores, SMT siblings and caches, and `--pin`'s plan.
//! - [`peak`]: the machine's f64 FMA limit, measured by a microkernel.
//! - [`record`]: the JSON result record; [`history`]: the append-only log of records.
//! - [`registry`]: the engines this version knows; [`args`]: command-line value parsers;
//!   [`kernel_cache`]: where backends cache their kernel probes.
//!
//! Nothing here links a BLAS library: matrix-vector products in the verifier are
//! plain loops, so the check stays independent of the library under test.

pub mod args;
pub mod backend;
pub mod folder;
pub mod history;
pub mod kernel_cache;
pub mod kind;
pub mod machine;
pub mod mix;
pub mod operation;
pub mod peak;
pub mod record;
pub mod registry;
pub mod schedule;
pub mod strategy;
pub mod task;
pub mod topology;
pub mod usage;
pub mod verify;
pub mod workload;

pub use backend::{
    Backend, ChoiceMethod, Gemm, GemmError, KernelChoice, KernelProbe, Layout, ProbeOutcome,
    ThreadScope,
};
pub use strategy::{BlasThreads, Strategy, StrategyError};
pub use workload::{MemoryPlan, Preset, ResultMode, Workload, WorkloadError};

//! The engine: everything an engine binary (`blaspar-engine-<backend>`) links besides its
//! backend. Modules, leaf first:
//!
//! - [`execution`]: what a run produced (timings, thread read-backs, worker CPU time);
//! - [`pin`]: `--pin`'s placement, and where threads ran;
//! - [`store`]: the shared-memory result store and task counter;
//! - [`loaded`]: `--input`'s files as the parent loaded them, in shared memory;
//! - [`batched`], [`procs`]: the batched call, and worker processes (parent and worker
//!   side);
//! - [`execute`]: starts a strategy's workers (calling thread, rayon pool, processes) and
//!   runs the workload on them;
//! - [`report`]: verification of every product, the run record, the printed row;
//! - [`options`]: the `run` command line;
//! - [`serve`]: an engine driven run by run by a harness (the criterion bench), both sides;
//! - [`engine`]: the engine binary's `main`.
//!
//! No plotting, no git, no sweep: those are the lab's (`blaspar-lab`), which talks to
//! engines only as processes.

pub mod batched;
pub mod engine;
pub mod execute;
pub mod execution;
pub mod feed;
pub mod handoff;
pub mod loaded;
pub mod options;
pub mod pin;
pub mod procs;
pub mod report;
pub mod serve;
pub mod store;

pub use engine::{EXIT_UNSUPPORTED, engine_main};
pub use execution::EngineInit;

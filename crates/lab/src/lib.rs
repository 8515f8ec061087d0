//! The lab: everything that measures and reports across engines, linking no BLAS. It talks
//! to engines only as processes (`blaspar-engine-<backend> run ... --json`), reading the
//! record they write and their exit status (unsupported is its own status).
//!
//! Modules, leaf first: [`stats`] (medians, paired comparison), [`engines`] (the arguments
//! of an engine run, measurement order), [`summary`] (rows and their summaries), [`answer`]
//! (three sets, as fast, undecided and slower, with their confidence), [`race`] (which configurations a sweep measures
//! again), [`trend`] (a benchmark's points across commits), then the commands: [`sweep`] (and its
//! [`placement`] comparison, `--pin`),
//! [`compare`], [`history`], [`advise`] (the answer as shell, Rust or Python), [`check`]
//! (the answer against fresh measurements). The kind of parallelism of a strategy is [`blaspar_core::kind`]; the SVG plots
//! are drawn by [`blaspar_plot`], from plain values the sweep and history make here.

pub mod advise;
pub mod answer;
pub mod check;
pub mod compare;
pub mod engines;
pub mod history;
pub mod jsonl;
pub mod operations;
pub mod placement;
pub mod race;
pub mod report;
pub mod stats;
pub mod summary;
pub mod sweep;
pub mod trend;

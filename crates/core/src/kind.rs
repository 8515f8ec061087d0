//! The kind of parallelism a strategy is, without its numbers: what the answer names first
//! (the tutorial's question is "tasks, BLAS threads, or both?"; the library and the counts
//! come after), and the order in which plots and answers list configurations.

use crate::strategy::{Placement, Strategy};
use serde::{Deserialize, Serialize};

/// The kind of parallelism of a strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// One task at a time, the library on one thread.
    Sequential,
    /// One task at a time, the library's own threads (a count, or its default).
    BlasThreads,
    /// Tasks in parallel on a pool of threads, the library on one thread in each.
    TaskThreads,
    /// Tasks in parallel in worker processes, the library on one thread in each.
    TaskProcesses,
    /// A pool of threads, each with several library threads.
    HybridThreads,
    /// Worker processes, each with several library threads.
    HybridProcesses,
    /// Every task in one batched library call.
    Batched,
}

impl Kind {
    /// Every kind, in the order plots and answers list them.
    pub const ALL: [Kind; 7] = [
        Kind::Sequential,
        Kind::BlasThreads,
        Kind::TaskThreads,
        Kind::TaskProcesses,
        Kind::HybridThreads,
        Kind::HybridProcesses,
        Kind::Batched,
    ];

    /// The kind of a strategy.
    pub fn of(s: &Strategy) -> Kind {
        let many = s.blas_threads().requested() != Some(1);
        match (s.placement(), many) {
            (Placement::CallingThread, false) => Kind::Sequential,
            (Placement::CallingThread, true) => Kind::BlasThreads,
            (Placement::Threads, false) => Kind::TaskThreads,
            (Placement::Processes, false) => Kind::TaskProcesses,
            (Placement::Threads, true) => Kind::HybridThreads,
            (Placement::Processes, true) => Kind::HybridProcesses,
            (Placement::Batched, _) => Kind::Batched,
        }
    }

    /// The kind of a strategy's text form; `None` for a strategy this version does not know
    /// (a row written by another version).
    pub fn of_text(strategy: &str) -> Option<Kind> {
        strategy.parse().ok().as_ref().map(Kind::of)
    }

    /// Its short name in plots and JSON (`task-threads`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sequential => "sequential",
            Kind::BlasThreads => "blas-threads",
            Kind::TaskThreads => "task-threads",
            Kind::TaskProcesses => "task-processes",
            Kind::HybridThreads => "hybrid-threads",
            Kind::HybridProcesses => "hybrid-processes",
            Kind::Batched => "batched",
        }
    }

    /// What it is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Sequential => "no parallelism (one task at a time, one library thread)",
            Kind::BlasThreads => "BLAS threads (one task at a time, the library's threads)",
            Kind::TaskThreads => {
                "task-level parallelism with threads (one library thread per task)"
            }
            Kind::TaskProcesses => {
                "task-level parallelism with worker processes (one library thread per task)"
            }
            Kind::HybridThreads => "hybrid: a thread pool, several library threads per task",
            Kind::HybridProcesses => "hybrid: worker processes, several library threads per task",
            Kind::Batched => "one batched library call for every task",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a configuration's label (`threads-2`, `blas-2+pgen`) sorts in plots and lists: by
/// kind, then workers, then BLAS threads (one thread first, then the library default, then
/// more), serial data generation before parallel. Labels of strategies this version does
/// not know sort last, by their text.
pub fn label_order(label: &str) -> (usize, usize, usize, bool, String) {
    let (strategy, pgen) = match label.strip_suffix("+pgen") {
        Some(s) => (s, true),
        None => (label, false),
    };
    match strategy.parse::<Strategy>() {
        Ok(s) => {
            let kind = Kind::ALL
                .iter()
                .position(|k| *k == Kind::of(&s))
                .unwrap_or(0);
            let threads = match s.blas_threads().requested() {
                Some(1) => 0,
                None => 1,
                Some(t) => t,
            };
            (kind, s.workers(), threads, pgen, String::new())
        }
        Err(_) => (usize::MAX, 0, 0, pgen, label.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_every_text_form() {
        let k = |t: &str| Kind::of_text(t).unwrap();
        assert_eq!(k("sequential"), Kind::Sequential);
        assert_eq!(k("blas-default"), Kind::BlasThreads);
        assert_eq!(k("blas-4"), Kind::BlasThreads);
        assert_eq!(k("threads-4"), Kind::TaskThreads);
        assert_eq!(k("procs-2"), Kind::TaskProcesses);
        assert_eq!(k("hybrid-threads-2x2"), Kind::HybridThreads);
        assert_eq!(k("hybrid-procs-2x4"), Kind::HybridProcesses);
        assert_eq!(k("batched-1"), Kind::Batched);
        assert_eq!(Kind::of_text("warp-9"), None);
    }

    #[test]
    fn labels_sort_by_kind_then_counts() {
        let mut v = vec![
            "batched-2",
            "hybrid-procs-2x2",
            "procs-3",
            "threads-4",
            "mystery",
            "threads-2",
            "blas-2+pgen",
            "blas-2",
            "blas-default",
            "sequential",
        ];
        v.sort_by_key(|l| label_order(l));
        assert_eq!(
            v,
            [
                "sequential",
                "blas-default",
                "blas-2",
                "blas-2+pgen",
                "threads-2",
                "threads-4",
                "procs-3",
                "hybrid-procs-2x2",
                "batched-2",
                "mystery"
            ]
        );
    }
}

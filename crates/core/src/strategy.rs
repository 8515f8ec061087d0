//! The strategy value: how a run splits work between tasks (workers) and BLAS threads.
//!
//! One `Display`/`FromStr` pair gives the text form used in CLI flags, bench ids, file
//! names and result records alike: `sequential`, `blas-default`, `blas-4`, `threads-4`,
//! `hybrid-threads-2x4`, `procs-4`, `hybrid-procs-2x4`, `batched-4`.

use crate::workload::Generation;
use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;

/// How many BLAS threads each worker asks the library for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlasThreads {
    /// Leave the library at its own default (whatever it picks from the environment).
    LibraryDefault,
    /// Set exactly this many threads through the library's API.
    Fixed(NonZeroUsize),
}

impl BlasThreads {
    pub fn fixed(n: usize) -> Option<Self> {
        NonZeroUsize::new(n).map(Self::Fixed)
    }
}

/// How a run uses the cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Tasks one after another, BLAS at 1 thread.
    Sequential,
    /// Tasks one after another, BLAS at the library's default thread count.
    BlasDefault,
    /// Tasks one after another, BLAS at T threads.
    Blas { threads: NonZeroUsize },
    /// P rayon threads take tasks dynamically, BLAS at 1 thread in each.
    Threads { workers: NonZeroUsize },
    /// P rayon threads x T BLAS threads each (needs per-thread BLAS thread control).
    HybridThreads {
        workers: NonZeroUsize,
        threads: NonZeroUsize,
    },
    /// P worker processes x 1 BLAS thread (arrives with the process runner).
    Procs { workers: NonZeroUsize },
    /// P worker processes x T BLAS threads (arrives with the process runner).
    HybridProcs {
        workers: NonZeroUsize,
        threads: NonZeroUsize,
    },
    /// Every task's matrices generated first, then all products in one batched dgemm call
    /// (`cblas_dgemm_batch`) with the library at T threads.
    Batched { threads: NonZeroUsize },
}

/// Where a strategy's workers live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The calling thread does every task.
    CallingThread,
    /// A pool of threads in this process.
    Threads,
    /// A pool of worker processes.
    Processes,
}

const ONE: NonZeroUsize = NonZeroUsize::MIN;

impl Strategy {
    /// Number of workers (tasks in flight at once).
    pub fn workers(&self) -> usize {
        match *self {
            Strategy::Sequential
            | Strategy::BlasDefault
            | Strategy::Blas { .. }
            | Strategy::Batched { .. } => 1,
            Strategy::Threads { workers }
            | Strategy::HybridThreads { workers, .. }
            | Strategy::Procs { workers }
            | Strategy::HybridProcs { workers, .. } => workers.get(),
        }
    }

    /// BLAS threads each worker asks for.
    pub fn blas_threads(&self) -> BlasThreads {
        match *self {
            Strategy::BlasDefault => BlasThreads::LibraryDefault,
            Strategy::Sequential | Strategy::Threads { .. } | Strategy::Procs { .. } => {
                BlasThreads::Fixed(ONE)
            }
            Strategy::Blas { threads }
            | Strategy::HybridThreads { threads, .. }
            | Strategy::HybridProcs { threads, .. }
            | Strategy::Batched { threads } => BlasThreads::Fixed(threads),
        }
    }

    pub fn placement(&self) -> Placement {
        match self {
            Strategy::Sequential
            | Strategy::BlasDefault
            | Strategy::Blas { .. }
            | Strategy::Batched { .. } => Placement::CallingThread,
            Strategy::Threads { .. } | Strategy::HybridThreads { .. } => Placement::Threads,
            Strategy::Procs { .. } | Strategy::HybridProcs { .. } => Placement::Processes,
        }
    }

    /// The default set for a machine with `cpus` usable cores: the tutorial's four cases
    /// (sequential, BLAS threads at the default and at `cpus`, a pool of worker processes,
    /// the hybrid), the Rust-only thread pool and the thread hybrid, and one batched call
    /// (the tutorial's closing suggestion; refused with the reason on libraries without one).
    pub fn default_set(cpus: usize) -> Vec<Strategy> {
        let c = NonZeroUsize::new(cpus).unwrap_or(ONE);
        let (hybrid_threads, hybrid_procs) = match Strategy::default_hybrid_threads(cpus) {
            Strategy::HybridThreads { workers, threads } => (
                Strategy::HybridThreads { workers, threads },
                Strategy::HybridProcs { workers, threads },
            ),
            _ => unreachable!("default_hybrid_threads returns a hybrid"),
        };
        vec![
            Strategy::Sequential,
            Strategy::BlasDefault,
            Strategy::Blas { threads: c },
            Strategy::Threads { workers: c },
            Strategy::Procs { workers: c },
            hybrid_threads,
            hybrid_procs,
            Strategy::Batched { threads: c },
        ]
    }

    /// `hybrid-threads` without numbers: half the cores as workers, 2 BLAS threads each
    /// (1 x 2 on a 2-core machine).
    pub fn default_hybrid_threads(cpus: usize) -> Strategy {
        let workers = NonZeroUsize::new((cpus / 2).max(1)).unwrap_or(ONE);
        let threads = NonZeroUsize::new(if cpus >= 2 { 2 } else { 1 }).unwrap_or(ONE);
        Strategy::HybridThreads { workers, threads }
    }

    /// Parses a strategy; the short forms `blas`, `threads`, `procs`, `hybrid-threads`,
    /// `hybrid-procs` and `batched` take their numbers from `cpus` (the default P and T of
    /// this machine).
    pub fn parse_with_defaults(text: &str, cpus: usize) -> Result<Strategy, StrategyError> {
        let c = NonZeroUsize::new(cpus).unwrap_or(ONE);
        match text.trim() {
            "blas" => Ok(Strategy::Blas { threads: c }),
            "threads" => Ok(Strategy::Threads { workers: c }),
            "procs" => Ok(Strategy::Procs { workers: c }),
            "batched" => Ok(Strategy::Batched { threads: c }),
            "hybrid-threads" => Ok(Strategy::default_hybrid_threads(cpus)),
            "hybrid-procs" => match Strategy::default_hybrid_threads(cpus) {
                Strategy::HybridThreads { workers, threads } => {
                    Ok(Strategy::HybridProcs { workers, threads })
                }
                _ => unreachable!("default_hybrid_threads returns a hybrid"),
            },
            other => other.parse(),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Sequential => write!(f, "sequential"),
            Strategy::BlasDefault => write!(f, "blas-default"),
            Strategy::Blas { threads } => write!(f, "blas-{threads}"),
            Strategy::Threads { workers } => write!(f, "threads-{workers}"),
            Strategy::HybridThreads { workers, threads } => {
                write!(f, "hybrid-threads-{workers}x{threads}")
            }
            Strategy::Procs { workers } => write!(f, "procs-{workers}"),
            Strategy::HybridProcs { workers, threads } => {
                write!(f, "hybrid-procs-{workers}x{threads}")
            }
            Strategy::Batched { threads } => write!(f, "batched-{threads}"),
        }
    }
}

/// Why a strategy's text form was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StrategyError {
    #[error(
        "unknown strategy '{0}': expected sequential, blas-default, blas-T, threads-P, \
         hybrid-threads-PxT, procs-P, hybrid-procs-PxT or batched-T (P, T whole numbers >= 1, e.g. hybrid-threads-2x4)"
    )]
    Unknown(String),
    #[error("'{text}': {what} must be a whole number >= 1, got '{value}'")]
    BadCount {
        text: String,
        what: &'static str,
        value: String,
    },
}

fn count(text: &str, what: &'static str, value: &str) -> Result<NonZeroUsize, StrategyError> {
    let bad = || StrategyError::BadCount {
        text: text.to_string(),
        what,
        value: value.to_string(),
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    value.parse::<NonZeroUsize>().map_err(|_| bad())
}

fn pair(text: &str, value: &str) -> Result<(NonZeroUsize, NonZeroUsize), StrategyError> {
    let (p, t) = value
        .split_once('x')
        .ok_or_else(|| StrategyError::Unknown(text.to_string()))?;
    Ok((
        count(text, "the worker count P", p)?,
        count(text, "the BLAS thread count T", t)?,
    ))
}

impl FromStr for Strategy {
    type Err = StrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        // Longest prefixes first: "hybrid-threads-" before "threads-".
        if text == "sequential" {
            Ok(Strategy::Sequential)
        } else if text == "blas-default" {
            Ok(Strategy::BlasDefault)
        } else if let Some(v) = text.strip_prefix("hybrid-threads-") {
            let (workers, threads) = pair(text, v)?;
            Ok(Strategy::HybridThreads { workers, threads })
        } else if let Some(v) = text.strip_prefix("hybrid-procs-") {
            let (workers, threads) = pair(text, v)?;
            Ok(Strategy::HybridProcs { workers, threads })
        } else if let Some(v) = text.strip_prefix("blas-") {
            Ok(Strategy::Blas {
                threads: count(text, "the BLAS thread count T", v)?,
            })
        } else if let Some(v) = text.strip_prefix("threads-") {
            Ok(Strategy::Threads {
                workers: count(text, "the worker count P", v)?,
            })
        } else if let Some(v) = text.strip_prefix("procs-") {
            Ok(Strategy::Procs {
                workers: count(text, "the worker count P", v)?,
            })
        } else if let Some(v) = text.strip_prefix("batched-") {
            Ok(Strategy::Batched {
                threads: count(text, "the BLAS thread count T", v)?,
            })
        } else {
            Err(StrategyError::Unknown(text.to_string()))
        }
    }
}

/// A configuration's name in tables, plots and history ids: the strategy's text form,
/// marked `+pgen` with parallel data generation (a run option, not part of the strategy).
pub fn label(strategy: &str, generation: Generation) -> String {
    match generation {
        Generation::Serial => strategy.to_string(),
        Generation::Parallel => format!("{strategy}+pgen"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap()
    }

    #[test]
    fn every_text_form_round_trips() {
        let all = [
            Strategy::Sequential,
            Strategy::BlasDefault,
            Strategy::Blas { threads: nz(3) },
            Strategy::Threads { workers: nz(16) },
            Strategy::HybridThreads {
                workers: nz(2),
                threads: nz(8),
            },
            Strategy::Procs { workers: nz(4) },
            Strategy::HybridProcs {
                workers: nz(4),
                threads: nz(1),
            },
            Strategy::Batched { threads: nz(2) },
        ];
        for s in all {
            let text = s.to_string();
            assert_eq!(text.parse::<Strategy>(), Ok(s), "{text}");
        }
        assert_eq!(
            Strategy::HybridThreads {
                workers: nz(2),
                threads: nz(8)
            }
            .to_string(),
            "hybrid-threads-2x8"
        );
    }

    #[test]
    fn bad_text_is_rejected_with_the_reason() {
        assert!(matches!(
            "threads-0".parse::<Strategy>(),
            Err(StrategyError::BadCount { .. })
        ));
        assert!(matches!(
            "blas--2".parse::<Strategy>(),
            Err(StrategyError::BadCount { .. })
        ));
        assert!(matches!(
            "blas-x".parse::<Strategy>(),
            Err(StrategyError::BadCount { .. })
        ));
        assert!(matches!(
            "hybrid-threads-2".parse::<Strategy>(),
            Err(StrategyError::Unknown(_))
        ));
        assert!(matches!(
            "hybrid-threads-0x2".parse::<Strategy>(),
            Err(StrategyError::BadCount { .. })
        ));
        assert!(matches!(
            "fastest".parse::<Strategy>(),
            Err(StrategyError::Unknown(_))
        ));
        let msg = "threads-0".parse::<Strategy>().unwrap_err().to_string();
        assert!(
            msg.contains("worker count P must be a whole number >= 1"),
            "{msg}"
        );
    }

    #[test]
    fn short_forms_take_the_machine_defaults() {
        assert_eq!(
            Strategy::parse_with_defaults("threads", 8)
                .unwrap()
                .to_string(),
            "threads-8"
        );
        assert_eq!(
            Strategy::parse_with_defaults("blas", 8)
                .unwrap()
                .to_string(),
            "blas-8"
        );
        assert_eq!(
            Strategy::parse_with_defaults("hybrid-threads", 8)
                .unwrap()
                .to_string(),
            "hybrid-threads-4x2"
        );
        assert_eq!(
            Strategy::parse_with_defaults("hybrid-procs", 2)
                .unwrap()
                .to_string(),
            "hybrid-procs-1x2"
        );
        assert_eq!(
            Strategy::parse_with_defaults("batched", 4)
                .unwrap()
                .to_string(),
            "batched-4"
        );
        assert!(matches!(
            "batched-0".parse::<Strategy>(),
            Err(StrategyError::BadCount { .. })
        ));
        assert_eq!(
            Strategy::parse_with_defaults("hybrid-threads", 1)
                .unwrap()
                .to_string(),
            "hybrid-threads-1x1"
        );
    }

    #[test]
    fn workers_and_threads_follow_the_strategy() {
        let h = Strategy::HybridThreads {
            workers: nz(3),
            threads: nz(2),
        };
        assert_eq!(h.workers(), 3);
        assert_eq!(h.blas_threads(), BlasThreads::Fixed(nz(2)));
        assert_eq!(
            Strategy::BlasDefault.blas_threads(),
            BlasThreads::LibraryDefault
        );
        assert_eq!(
            Strategy::Threads { workers: nz(4) }.blas_threads(),
            BlasThreads::Fixed(nz(1))
        );
        assert_eq!(
            Strategy::Procs { workers: nz(4) }.placement(),
            Placement::Processes
        );
    }

    #[test]
    fn default_set_covers_the_tutorial_and_rust_cases() {
        let names: Vec<String> = Strategy::default_set(8)
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "sequential",
                "blas-default",
                "blas-8",
                "threads-8",
                "procs-8",
                "hybrid-threads-4x2",
                "hybrid-procs-4x2",
                "batched-8"
            ]
        );
    }
}

//! The strategy value: how a run splits work between tasks (workers) and BLAS threads.
//!
//! A strategy is data: where its workers live ([`Placement`]), how many there are, and how
//! many BLAS threads each asks for. One `Display`/`FromStr` pair gives the text form used in
//! CLI flags, bench ids, file names and result records alike: `sequential`, `blas-default`,
//! `blas-4`, `threads-4`, `hybrid-threads-2x4`, `procs-4`, `hybrid-procs-2x4`, `batched-4`.
//! The text form is canonical: a pool with one BLAS thread per worker is `threads-P` (so
//! `hybrid-threads-2x1` reads as `threads-2`), and one worker with one BLAS thread is
//! `sequential` (`blas-1`).
//!
//! Adding a way to run tasks is one [`Placement`] variant (its arms in this file: name,
//! description, whether it has a worker axis) plus one executor arm in the engine; the
//! sweep's grid and neighbours, the plots' P x T plane and the tables read it from here.

use crate::topology::PinMode;
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

    /// The count asked of the library; `None` leaves it at its default.
    pub fn requested(self) -> Option<usize> {
        match self {
            BlasThreads::Fixed(t) => Some(t.get()),
            BlasThreads::LibraryDefault => None,
        }
    }

    /// The thread count, with `library_default` standing for the library's own choice.
    pub fn count_or(self, library_default: usize) -> usize {
        match self {
            BlasThreads::Fixed(t) => t.get(),
            BlasThreads::LibraryDefault => library_default,
        }
    }
}

/// Where a strategy's workers live, and so which executor runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placement {
    /// The calling thread does every task, one after another.
    CallingThread,
    /// A pool of P threads in this process takes tasks dynamically.
    Threads,
    /// A pool of P worker processes takes tasks dynamically.
    Processes,
    /// The calling thread generates every task, then one batched call multiplies them all.
    Batched,
}

impl Placement {
    /// Every placement, in the order tables and plots list them.
    pub const ALL: [Placement; 4] = [
        Placement::CallingThread,
        Placement::Threads,
        Placement::Processes,
        Placement::Batched,
    ];

    /// Whether it runs P workers at once (the P axis of the P x T plane).
    pub fn has_workers(self) -> bool {
        match self {
            Placement::CallingThread | Placement::Batched => false,
            Placement::Threads | Placement::Processes => true,
        }
    }

    /// The word of its text form: `blas-T`, `threads-P` / `hybrid-threads-PxT`, `procs-P` /
    /// `hybrid-procs-PxT`, `batched-T`.
    pub fn word(self) -> &'static str {
        match self {
            Placement::CallingThread => "blas",
            Placement::Threads => "threads",
            Placement::Processes => "procs",
            Placement::Batched => "batched",
        }
    }

    /// The task parallelism of `workers` workers, as a table cell.
    pub fn tasks_cell(self, workers: usize) -> String {
        let plural =
            |one: &str, many: &str| format!("{workers} {}", if workers == 1 { one } else { many });
        match self {
            Placement::CallingThread => "none".to_string(),
            Placement::Threads => plural("thread", "threads"),
            Placement::Processes => plural("process", "processes"),
            Placement::Batched => "one batch".to_string(),
        }
    }

    /// What a program does to run its tasks this way, with `workers` workers, each with
    /// the library set as `library` says (a phrase such as "BLIS_NUM_THREADS=1").
    pub fn how_to(self, workers: usize, library: &str) -> String {
        match self {
            Placement::CallingThread => {
                format!("run the tasks one after another with {library}")
            }
            Placement::Threads => format!(
                "run {workers} tasks at once in a thread pool \
                 (rayon::ThreadPoolBuilder::num_threads({workers})), each with {library}"
            ),
            Placement::Processes => format!(
                "run {workers} worker processes (e.g. multiprocessing.Pool({workers})) that \
                 take tasks as they finish, each with {library}"
            ),
            Placement::Batched => {
                format!("generate every task first, then one cblas_dgemm_batch call with {library}")
            }
        }
    }
}

/// How a run uses the cores: where the workers live, how many, and the BLAS threads of
/// each. Built only through the constructors, which keep it valid (one worker outside a
/// pool; the library default only for one worker in the calling thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Strategy {
    placement: Placement,
    workers: NonZeroUsize,
    blas: BlasThreads,
}

const ONE: NonZeroUsize = NonZeroUsize::MIN;

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(ONE)
}

impl Strategy {
    /// Tasks one after another, BLAS at 1 thread.
    pub const SEQUENTIAL: Strategy = Strategy {
        placement: Placement::CallingThread,
        workers: ONE,
        blas: BlasThreads::Fixed(ONE),
    };
    /// Tasks one after another, BLAS at the library's default thread count.
    pub const BLAS_DEFAULT: Strategy = Strategy {
        placement: Placement::CallingThread,
        workers: ONE,
        blas: BlasThreads::LibraryDefault,
    };

    /// P workers of `placement` with T BLAS threads each. Placements without a worker axis
    /// take P = 1.
    pub fn new(placement: Placement, workers: NonZeroUsize, threads: NonZeroUsize) -> Strategy {
        let workers = if placement.has_workers() {
            workers
        } else {
            ONE
        };
        Strategy {
            placement,
            workers,
            blas: BlasThreads::Fixed(threads),
        }
    }

    /// Tasks one after another, BLAS at T threads.
    pub fn blas(threads: NonZeroUsize) -> Strategy {
        Strategy::new(Placement::CallingThread, ONE, threads)
    }

    /// P rayon threads take tasks dynamically, BLAS at T threads in each.
    pub fn threads(workers: NonZeroUsize, threads: NonZeroUsize) -> Strategy {
        Strategy::new(Placement::Threads, workers, threads)
    }

    /// P worker processes take tasks dynamically, BLAS at T threads in each.
    pub fn procs(workers: NonZeroUsize, threads: NonZeroUsize) -> Strategy {
        Strategy::new(Placement::Processes, workers, threads)
    }

    /// Every task's matrices generated first, then all products in one batched dgemm call
    /// (`cblas_dgemm_batch`) with the library at T threads.
    pub fn batched(threads: NonZeroUsize) -> Strategy {
        Strategy::new(Placement::Batched, ONE, threads)
    }

    /// Number of workers (tasks in flight at once).
    pub fn workers(&self) -> usize {
        self.workers.get()
    }

    /// BLAS threads each worker asks for.
    pub fn blas_threads(&self) -> BlasThreads {
        self.blas
    }

    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// Its point on the P x T plane (workers, BLAS threads per worker), for the sweep's
    /// search and the heatmaps; `None` when the library picks its own thread count.
    pub fn plane_point(&self) -> Option<(usize, usize)> {
        match self.blas {
            BlasThreads::Fixed(t) => Some((self.workers(), t.get())),
            BlasThreads::LibraryDefault => None,
        }
    }

    /// The same placement at another point of the P x T plane (P ignored without a worker
    /// axis); `None` for a zero count.
    pub fn at(&self, workers: usize, threads: usize) -> Option<Strategy> {
        Some(Strategy::new(
            self.placement,
            NonZeroUsize::new(workers)?,
            NonZeroUsize::new(threads)?,
        ))
    }

    /// Configurations near this one on its placement's P x T plane: P and T each halved,
    /// one less, one more and doubled, keeping P x T within twice `cpus` (some
    /// oversubscription is worth measuring).
    pub fn neighbours(&self, cpus: usize) -> Vec<Strategy> {
        let Some((p, t)) = self.plane_point() else {
            return Vec::new();
        };
        let near = |v: usize| [v / 2, v.saturating_sub(1), v + 1, v * 2];
        let limit = 2 * cpus.max(1);
        let points = near(p)
            .into_iter()
            .map(|p2| (p2, t))
            .chain(near(t).into_iter().map(|t2| (p, t2)));
        let mut out = Vec::new();
        for (p2, t2) in points {
            if !self.placement.has_workers() && p2 != 1 {
                continue;
            }
            if p2 * t2 > limit {
                continue;
            }
            if let Some(s) = self.at(p2, t2)
                && s != *self
                && !out.contains(&s)
            {
                out.push(s);
            }
        }
        out
    }

    /// The pruned grid for a machine with `cpus` usable CPUs: sequential, blas-default,
    /// blas-T, every pool placement at P workers x 1 thread and as hybrids P x T (T > 1) up
    /// to P x T = 2 x `cpus` (oversubscribed ones included), and one batch at `cpus`
    /// threads. Counts are the powers of two and the divisors of `cpus` ([`counts`]).
    pub fn grid(cpus: usize) -> Vec<Strategy> {
        let cpus = cpus.max(1);
        let within = counts(cpus, cpus);
        let wide = counts(cpus, 2 * cpus);
        let mut g = vec![Strategy::SEQUENTIAL, Strategy::BLAS_DEFAULT];
        g.extend(
            within
                .iter()
                .filter(|&&t| t > 1)
                .map(|&t| Strategy::blas(nz(t))),
        );
        let pools: Vec<Placement> = Placement::ALL
            .into_iter()
            .filter(|p| p.has_workers())
            .collect();
        for &p in within.iter().filter(|&&p| p > 1) {
            g.extend(pools.iter().map(|&pl| Strategy::new(pl, nz(p), ONE)));
        }
        for &p in wide.iter().filter(|&&p| p > 1) {
            for &t in wide.iter().filter(|&&t| t > 1 && p * t <= 2 * cpus) {
                g.extend(pools.iter().map(|&pl| Strategy::new(pl, nz(p), nz(t))));
            }
        }
        g.push(Strategy::batched(nz(cpus)));
        g
    }

    /// The default set for a machine with `cpus` usable cores: the tutorial's four cases
    /// (sequential, BLAS threads at the default and at `cpus`, a pool of worker processes,
    /// the hybrid), the Rust-only thread pool and the thread hybrid, and one batched call
    /// (the tutorial's closing suggestion; refused with the reason on libraries without one).
    pub fn default_set(cpus: usize) -> Vec<Strategy> {
        let c = nz(cpus);
        let (p, t) = Strategy::default_hybrid(cpus);
        vec![
            Strategy::SEQUENTIAL,
            Strategy::BLAS_DEFAULT,
            Strategy::blas(c),
            Strategy::threads(c, ONE),
            Strategy::procs(c, ONE),
            Strategy::threads(p, t),
            Strategy::procs(p, t),
            Strategy::batched(c),
        ]
    }

    /// P and T of `hybrid-threads` / `hybrid-procs` without numbers: half the cores as
    /// workers, 2 BLAS threads each (1 x 2 on a 2-core machine).
    pub fn default_hybrid(cpus: usize) -> (NonZeroUsize, NonZeroUsize) {
        (nz(cpus / 2), nz(if cpus >= 2 { 2 } else { 1 }))
    }

    /// Parses a strategy; the short forms `blas`, `threads`, `procs`, `hybrid-threads`,
    /// `hybrid-procs` and `batched` take their numbers from `cpus` (the default P and T of
    /// this machine).
    pub fn parse_with_defaults(text: &str, cpus: usize) -> Result<Strategy, StrategyError> {
        let text = text.trim();
        let c = nz(cpus);
        let (hp, ht) = Strategy::default_hybrid(cpus);
        for placement in Placement::ALL {
            let word = placement.word();
            if text == word {
                return Ok(if placement.has_workers() {
                    Strategy::new(placement, c, ONE)
                } else {
                    Strategy::new(placement, ONE, c)
                });
            }
            if placement.has_workers() && text.strip_prefix("hybrid-") == Some(word) {
                return Ok(Strategy::new(placement, hp, ht));
            }
        }
        text.parse()
    }

    /// The strategy's one-sentence recipe for a program, with the library set through
    /// `set_threads(T)` (a phrase naming the library's variable or call).
    pub fn how_to(&self, set_threads: impl Fn(usize) -> String) -> String {
        match self.blas {
            BlasThreads::LibraryDefault => {
                "run the tasks one after another and leave the library's threads alone".to_string()
            }
            BlasThreads::Fixed(t) => self.placement.how_to(self.workers(), &set_threads(t.get())),
        }
    }
}

/// Every text form, for help and error texts: "sequential, blas-default, blas-T, threads-P,
/// hybrid-threads-PxT, ...".
pub fn text_forms() -> String {
    let mut forms = vec!["sequential".to_string(), "blas-default".to_string()];
    for placement in Placement::ALL {
        let word = placement.word();
        if placement.has_workers() {
            forms.push(format!("{word}-P"));
            forms.push(format!("hybrid-{word}-PxT"));
        } else {
            forms.push(format!("{word}-T"));
        }
    }
    forms.join(", ")
}

/// Worker and thread counts worth measuring up to `max`: powers of two, the divisors of
/// `cpus`, and `cpus` itself (pruned: not every number up to the core count).
pub fn counts(cpus: usize, max: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..usize::BITS)
        .map(|b| 1usize << b)
        .take_while(|&p| p <= max)
        .chain((1..=cpus.min(max)).filter(|d| cpus.is_multiple_of(*d)))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = self.placement.word();
        match (self.placement.has_workers(), self.blas) {
            (_, BlasThreads::LibraryDefault) => write!(f, "{word}-default"),
            (false, BlasThreads::Fixed(ONE)) if self.placement == Placement::CallingThread => {
                write!(f, "sequential")
            }
            (false, BlasThreads::Fixed(t)) => write!(f, "{word}-{t}"),
            (true, BlasThreads::Fixed(ONE)) => write!(f, "{word}-{}", self.workers),
            (true, BlasThreads::Fixed(t)) => write!(f, "hybrid-{word}-{}x{t}", self.workers),
        }
    }
}

/// Why a strategy's text form was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StrategyError {
    #[error(
        "unknown strategy '{0}': expected one of {forms} (P, T whole numbers >= 1, e.g. hybrid-threads-2x4)",
        forms = text_forms()
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

const P: &str = "the worker count P";
const T: &str = "the BLAS thread count T";

impl FromStr for Strategy {
    type Err = StrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text == "sequential" {
            return Ok(Strategy::SEQUENTIAL);
        }
        if text == "blas-default" {
            return Ok(Strategy::BLAS_DEFAULT);
        }
        for placement in Placement::ALL {
            let word = placement.word();
            let prefix = |p: &str| text.strip_prefix(p)?.strip_prefix('-');
            if !placement.has_workers() {
                if let Some(v) = prefix(word) {
                    return Ok(Strategy::new(placement, ONE, count(text, T, v)?));
                }
                continue;
            }
            // Longest prefix first: "hybrid-threads-" before "threads-".
            if let Some(v) = text
                .strip_prefix("hybrid-")
                .and_then(|rest| rest.strip_prefix(word)?.strip_prefix('-'))
            {
                let (p, t) = v
                    .split_once('x')
                    .ok_or_else(|| StrategyError::Unknown(text.to_string()))?;
                return Ok(Strategy::new(
                    placement,
                    count(text, P, p)?,
                    count(text, T, t)?,
                ));
            }
            if let Some(v) = prefix(word) {
                return Ok(Strategy::new(placement, count(text, P, v)?, ONE));
            }
        }
        Err(StrategyError::Unknown(text.to_string()))
    }
}

/// A configuration's name in tables, plots and history ids: the strategy's text form,
/// marked `+pgen` with parallel data generation and `+ogen` with overlapped (a run option,
/// not part of the strategy).
pub fn label(strategy: &str, generation: Generation) -> String {
    match generation {
        Generation::Serial => strategy.to_string(),
        Generation::Parallel => format!("{strategy}+pgen"),
        Generation::Overlapped => format!("{strategy}+ogen"),
    }
}

/// [`label`], marked `+pin-cores` or `+pin-spread` when the run placed its workers
/// (`run --pin`); unpinned runs keep the plain label.
pub fn label_placed(strategy: &str, generation: Generation, pin: PinMode) -> String {
    match pin {
        PinMode::None => label(strategy, generation),
        _ => format!("{}+pin-{pin}", label(strategy, generation)),
    }
}

/// Why `generation` makes no sense for `strategy`, if it does not (the run refuses it; the
/// sweep does not measure it).
pub fn generation_refused(strategy: Strategy, generation: Generation) -> Option<String> {
    match (strategy.placement(), generation) {
        (Placement::Batched, Generation::Overlapped) => Some(format!(
            "does not apply to {strategy}: a batched strategy makes every task's data before its \
             one library call, so no multiply runs while data are made (use serial or parallel)"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placed_run_is_labelled_with_its_placement() {
        assert_eq!(
            label_placed("threads-2", Generation::Serial, PinMode::Cores),
            "threads-2+pin-cores"
        );
        assert_eq!(
            label_placed("blas-2", Generation::Parallel, PinMode::Spread),
            "blas-2+pgen+pin-spread"
        );
        assert_eq!(
            label_placed("procs-2", Generation::Serial, PinMode::None),
            "procs-2"
        );
    }

    fn names(v: &[Strategy]) -> Vec<String> {
        v.iter().map(Strategy::to_string).collect()
    }

    fn s(text: &str) -> Strategy {
        text.parse().unwrap()
    }

    #[test]
    fn every_text_form_round_trips() {
        for text in [
            "sequential",
            "blas-default",
            "blas-3",
            "threads-16",
            "hybrid-threads-2x8",
            "procs-4",
            "hybrid-procs-4x2",
            "batched-2",
            "batched-1",
        ] {
            assert_eq!(s(text).to_string(), text);
        }
    }

    #[test]
    fn one_thread_per_worker_reads_as_the_plain_form() {
        assert_eq!(s("hybrid-threads-2x1").to_string(), "threads-2");
        assert_eq!(s("hybrid-procs-3x1").to_string(), "procs-3");
        assert_eq!(s("blas-1"), Strategy::SEQUENTIAL);
        assert_eq!(s("hybrid-threads-2x1"), s("threads-2"));
    }

    #[test]
    fn bad_text_is_rejected_with_the_reason() {
        for bad in [
            "threads-0",
            "blas--2",
            "blas-x",
            "hybrid-threads-0x2",
            "batched-0",
        ] {
            assert!(
                matches!(bad.parse::<Strategy>(), Err(StrategyError::BadCount { .. })),
                "{bad}"
            );
        }
        for unknown in [
            "hybrid-threads-2",
            "fastest",
            "hybrid-batched-2x2",
            "threads",
        ] {
            assert!(
                matches!(unknown.parse::<Strategy>(), Err(StrategyError::Unknown(_))),
                "{unknown}"
            );
        }
        let msg = "threads-0".parse::<Strategy>().unwrap_err().to_string();
        assert!(
            msg.contains("worker count P must be a whole number >= 1"),
            "{msg}"
        );
    }

    #[test]
    fn short_forms_take_the_machine_defaults() {
        let d = |text: &str, cpus| {
            Strategy::parse_with_defaults(text, cpus)
                .unwrap()
                .to_string()
        };
        assert_eq!(d("threads", 8), "threads-8");
        assert_eq!(d("blas", 8), "blas-8");
        assert_eq!(d("hybrid-threads", 8), "hybrid-threads-4x2");
        assert_eq!(d("hybrid-procs", 2), "hybrid-procs-1x2");
        assert_eq!(d("batched", 4), "batched-4");
        assert_eq!(d("hybrid-threads", 1), "threads-1");
        assert_eq!(d("procs-3", 8), "procs-3");
    }

    #[test]
    fn workers_and_threads_follow_the_strategy() {
        let h = s("hybrid-threads-3x2");
        assert_eq!(h.workers(), 3);
        assert_eq!(h.blas_threads(), BlasThreads::Fixed(nz(2)));
        assert_eq!(h.placement(), Placement::Threads);
        assert_eq!(
            Strategy::BLAS_DEFAULT.blas_threads(),
            BlasThreads::LibraryDefault
        );
        assert_eq!(s("threads-4").blas_threads(), BlasThreads::Fixed(nz(1)));
        assert_eq!(s("procs-4").placement(), Placement::Processes);
        assert_eq!(s("batched-4").workers(), 1);
        assert_eq!(BlasThreads::LibraryDefault.count_or(7), 7);
        assert_eq!(BlasThreads::Fixed(nz(3)).count_or(7), 3);
    }

    #[test]
    fn default_set_covers_the_tutorial_and_rust_cases() {
        assert_eq!(
            names(&Strategy::default_set(8)),
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

    #[test]
    fn counts_are_powers_of_two_and_divisors() {
        assert_eq!(counts(2, 2), vec![1, 2]);
        assert_eq!(counts(2, 4), vec![1, 2, 4]);
        assert_eq!(counts(12, 12), vec![1, 2, 3, 4, 6, 8, 12]);
        assert_eq!(counts(16, 32), vec![1, 2, 4, 8, 16, 32]);
        assert_eq!(counts(1, 1), vec![1]);
    }

    #[test]
    fn grid_on_two_cpus() {
        assert_eq!(
            names(&Strategy::grid(2)),
            [
                "sequential",
                "blas-default",
                "blas-2",
                "threads-2",
                "procs-2",
                "hybrid-threads-2x2",
                "hybrid-procs-2x2",
                "batched-2"
            ]
        );
        let g = Strategy::grid(16);
        assert!(
            g.iter()
                .all(|s| s.workers() * s.plane_point().map_or(1, |p| p.1) <= 32)
        );
        assert!(names(&g).contains(&"hybrid-procs-2x16".to_string()));
    }

    #[test]
    fn neighbours_stay_on_the_placement_and_within_twice_the_cpus() {
        let n = |text: &str, cpus| names(&s(text).neighbours(cpus));
        assert_eq!(
            n("threads-2", 2),
            ["threads-1", "threads-3", "threads-4", "hybrid-threads-2x2"]
        );
        assert_eq!(
            n("hybrid-procs-4x2", 8),
            [
                "hybrid-procs-2x2",
                "hybrid-procs-3x2",
                "hybrid-procs-5x2",
                "hybrid-procs-8x2",
                "procs-4",
                "hybrid-procs-4x3",
                "hybrid-procs-4x4"
            ]
        );
        assert_eq!(n("blas-2", 2), ["sequential", "blas-3", "blas-4"]);
        assert_eq!(n("sequential", 1), ["blas-2"]);
        assert_eq!(n("batched-2", 2), ["batched-1", "batched-3", "batched-4"]);
        assert!(n("blas-default", 4).is_empty());
    }
}

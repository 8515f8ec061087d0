//! What the plots of a sweep draw: one [`Measured`] configuration per library, strategy and
//! workload, its median time and rate with their spread. The plots know nothing of runs:
//! the lab turns its summaries into these.

use blaspar_core::registry::ENGINES;

/// One measured configuration (a library, a strategy with its data generation, a workload):
/// what a bar, a heatmap cell or a point of the scaling plot shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The library's name in the registry (`blis`), which gives its colour.
    pub backend: String,
    /// The strategy's text form (`threads-2`): its kind and its cell of the heatmaps.
    pub strategy: String,
    /// The configuration's name in plots: the strategy, marked when the data were
    /// generated in parallel (`blas-2+pgen`).
    pub label: String,
    /// The workload: tasks of size x size matrices.
    pub tasks: usize,
    pub size: usize,
    /// The workload's name in titles when it is not `tasks` of `size` x `size` (a
    /// workload file's or an input folder's); `None`: "16 tasks of 1000x1000".
    pub named: Option<String>,
    /// Median, fastest and slowest wall-clock seconds of its runs.
    pub median_seconds: f64,
    pub min_seconds: f64,
    pub max_seconds: f64,
    /// GFLOP/s at the median time.
    pub median_gflops: f64,
}

/// Libraries of `sums` in registry order (unknown ones last, by name).
pub(crate) fn libraries(sums: &[Measured]) -> Vec<&str> {
    let mut v: Vec<&str> = sums.iter().map(|s| s.backend.as_str()).collect();
    v.sort_unstable_by_key(|b| {
        (
            ENGINES
                .iter()
                .position(|e| e.name == *b)
                .unwrap_or(usize::MAX),
            *b,
        )
    });
    v.dedup();
    v
}

/// GFLOP/s of a configuration at a given time (same work, so GFLOP/s scales with 1 / time).
pub(crate) fn gflops_at(s: &Measured, seconds: f64) -> f64 {
    s.median_gflops * s.median_seconds / seconds
}

/// The workload of configurations, in words (the first one's: a plot holds one workload).
pub(crate) fn workload(sums: &[Measured]) -> String {
    sums.first().map_or(String::new(), |s| match &s.named {
        Some(name) => format!("{} tasks of {name}", s.tasks),
        None => format!("{} tasks of {}x{}", s.tasks, s.size, s.size),
    })
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::Measured;

    /// A configuration of 16 tasks of 1000 x 1000, its runs within 5% of `seconds`.
    pub(crate) fn measured(backend: &str, strategy: &str, seconds: f64, gflops: f64) -> Measured {
        Measured {
            backend: backend.into(),
            strategy: strategy.into(),
            label: strategy.into(),
            tasks: 16,
            size: 1000,
            named: None,
            median_seconds: seconds,
            min_seconds: seconds * 0.95,
            max_seconds: seconds * 1.05,
            median_gflops: gflops,
        }
    }

    /// Two libraries at one workload: cells of both panels, one off the plane
    /// (blas-default), and two ways to one worker with 2 threads (blas-2, hybrid-procs-1x2).
    pub(crate) fn two_libraries() -> Vec<Measured> {
        vec![
            measured("blis", "threads-2", 0.3, 106.9),
            measured("blis", "sequential", 0.6, 54.0),
            measured("blis", "hybrid-procs-2x2", 0.7, 46.5),
            measured("blis", "blas-default", 0.6, 55.0),
            measured("blis", "blas-2", 0.4, 80.0),
            measured("blis", "hybrid-procs-1x2", 0.38, 84.0),
            measured("faer", "threads-2", 0.35, 90.0),
        ]
    }
}

//! The rows a sweep measures (`runs.jsonl`) and their summaries: median, spread, rate and
//! where the time went, per configuration.

use crate::stats::median;
use blaspar_core::operation::Operation;
use blaspar_core::record::RunRecord;
use blaspar_core::strategy::label;
use blaspar_core::workload::Generation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One line of `runs.jsonl`: a measured run, or a configuration the backend refused.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub backend: String,
    pub strategy: String,
    /// The workload (rows of a sweep over `--tasks` / `--sizes` lists differ here).
    #[serde(default)]
    pub tasks: usize,
    #[serde(default)]
    pub size: usize,
    /// Who generated the data (rows written before this field: serial).
    #[serde(default)]
    pub generation: Generation,
    /// What each task computed (rows written before this field: gemm). A sweep folder
    /// holds one operation.
    #[serde(default)]
    pub operation: Operation,
    /// Which measurement of its configuration this is (1, 2, ...).
    pub repeat: usize,
    /// The sweep's round it was measured in (see the race module; rows written before
    /// rounds: their repeat).
    #[serde(default)]
    pub round: usize,
    /// The run's record (`None` when the backend refused the strategy).
    pub record: Option<RunRecord>,
    /// Why the backend refused it.
    pub refused: Option<String>,
}

/// Median and spread of one configuration's measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub backend: String,
    pub strategy: String,
    pub generation: Generation,
    pub tasks: usize,
    pub size: usize,
    pub runs: usize,
    pub median_seconds: f64,
    pub min_seconds: f64,
    pub max_seconds: f64,
    pub median_gflops: f64,
    /// Medians of where the worker time went, as fractions of workers x seconds:
    /// generate, multiply, transfer (to the parent), idle.
    pub split: [f64; 4],
    /// Median worker start-up, seconds (not in the timed run).
    pub startup: f64,
    /// Median multiply-only rate of one worker: FLOPs / multiply task-seconds x workers,
    /// per worker, GFLOP/s (the library's GEMM speed in this configuration).
    pub gemm_gflops_per_worker: f64,
}

impl Summary {
    /// The configuration's name in tables and plots: the strategy, marked when the data
    /// were generated in parallel.
    pub fn label(&self) -> String {
        label(&self.strategy, self.generation)
    }

    /// (max - min) / median: the measured spread.
    pub fn spread(&self) -> f64 {
        (self.max_seconds - self.min_seconds) / self.median_seconds
    }
}

/// Summaries of every measured configuration, fastest first.
pub fn summarise(rows: &[Row]) -> Vec<Summary> {
    type Key = (usize, usize, String, String, Generation);
    let mut by: BTreeMap<Key, Vec<&RunRecord>> = BTreeMap::new();
    for r in rows {
        if let Some(rec) = &r.record {
            by.entry((
                rec.tasks,
                rec.size,
                r.backend.clone(),
                r.strategy.clone(),
                r.generation,
            ))
            .or_default()
            .push(rec);
        }
    }
    let mut out: Vec<Summary> = by
        .into_iter()
        .map(|((tasks, size, backend, strategy, generation), recs)| {
            let mut secs: Vec<f64> = recs.iter().map(|r| r.seconds_total).collect();
            let mut gf: Vec<f64> = recs.iter().map(|r| r.gflops).collect();
            Summary {
                backend,
                strategy,
                generation,
                tasks,
                size,
                runs: recs.len(),
                median_seconds: median(&mut secs),
                min_seconds: secs[0],
                max_seconds: secs[secs.len() - 1],
                median_gflops: median(&mut gf),
                split: [0, 1, 2, 3].map(|i| {
                    let mut v: Vec<f64> = recs
                        .iter()
                        .map(|r| {
                            let t = &r.time.task_seconds;
                            let total = r.workers as f64 * r.seconds_total;
                            [t.generate, t.multiply, t.transfer, t.idle][i] / total
                        })
                        .collect();
                    median(&mut v)
                }),
                startup: median(&mut recs.iter().map(|r| r.time.wall.startup).collect::<Vec<_>>()),
                gemm_gflops_per_worker: median(
                    &mut recs
                        .iter()
                        .map(|r| {
                            2.0 * (r.size as f64).powi(3) * r.tasks as f64
                                / r.time.task_seconds.multiply
                                / 1e9
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        })
        .collect();
    out.sort_by(|a, b| a.median_seconds.total_cmp(&b.median_seconds));
    out
}

/// The workloads (tasks, size) of `sums`, each once, by matrix size, then task count.
pub fn workloads(sums: &[Summary]) -> Vec<(usize, usize)> {
    let mut w: Vec<(usize, usize)> = sums.iter().map(|s| (s.tasks, s.size)).collect();
    w.sort_unstable_by_key(|&(tasks, size)| (size, tasks));
    w.dedup();
    w
}

/// Rows of one configuration for tests: one per sample (seconds), the rest of the record
/// from a committed run (16 tasks of 1000x1000), GFLOP/s to match the seconds.
#[cfg(test)]
pub(crate) fn test_rows(backend: &str, strategy: &str, seconds: &[f64]) -> Vec<Row> {
    let t: RunRecord = serde_json::from_str(include_str!(
        "../../../results/2026-11-23-vm/quick-blis-threads-2.json"
    ))
    .expect("a run record");
    seconds
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let mut rec = t.clone();
            rec.backend = backend.into();
            rec.strategy = strategy.into();
            rec.seconds_total = s;
            rec.gflops = t.gflops * t.seconds_total / s;
            Row {
                backend: backend.into(),
                strategy: strategy.into(),
                tasks: rec.tasks,
                size: rec.size,
                generation: Generation::Serial,
                operation: Operation::Gemm,
                repeat: i + 1,
                round: i + 1,
                record: Some(rec),
                refused: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_spread() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        let s = Summary {
            backend: "b".into(),
            strategy: "s".into(),
            generation: Generation::Serial,
            tasks: 4,
            size: 10,
            runs: 3,
            median_seconds: 2.0,
            min_seconds: 1.9,
            max_seconds: 2.3,
            median_gflops: 1.0,
            split: [0.1, 0.8, 0.0, 0.1],
            startup: 0.0,
            gemm_gflops_per_worker: 1.0,
        };
        assert!((s.spread() - 0.2).abs() < 1e-12);
    }
}

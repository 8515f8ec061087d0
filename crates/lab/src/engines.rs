//! Starting engines from the lab: the arguments of one engine run (sweep and compare
//! measure through `run --json`, the interface every revision has) and the order of
//! measurements.

use anyhow::Context;
use blaspar_core::ResultMode;
use blaspar_core::folder::Loading;
use blaspar_core::operation::Operation;
use blaspar_core::record::RunRecord;
use blaspar_core::registry::EXIT_UNSUPPORTED;
use blaspar_core::workload::Generation;
use rand::seq::SliceRandom;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::Path;
use std::process::Output;

/// Where an engine run's tasks come from.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Source<'a> {
    /// The pinned generator's `tasks` x `size`, of one operation (`--tasks --size --op`).
    #[default]
    Generated,
    /// A workload file (`--workload FILE`): its own operations and shapes; `tasks` and
    /// `size` of the [`Spec`] are its task count and largest dimension, for the rows.
    File(&'a Path),
    /// A folder of `.npy` files (`--input DIR --op OP --loading L`): tasks by the folder's
    /// rule; `tasks` and `size` as for a file.
    Input { dir: &'a Path, loading: Loading },
}

/// One engine run as the lab asks for it (sweep, check and compare).
#[derive(Clone, Copy, Debug)]
pub struct Spec<'a> {
    pub backend: &'a str,
    pub strategy: &'a str,
    pub tasks: usize,
    pub size: usize,
    pub op: Operation,
    pub generation: Generation,
    pub results: ResultMode,
    pub source: Source<'a>,
}

impl Spec<'_> {
    /// The arguments of `run ... --json json`. `--op` and `--generation` are passed only
    /// when they are not the defaults (gemm, serial), and `--results` only for gemm (the
    /// other operations have one mode): binaries older than those options, which compare
    /// may run, do not know them. A workload file's run passes the file instead of the
    /// task count, size, operation and results (its workers check every task).
    pub fn args(&self, json: &Path) -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--backend",
            self.backend,
            "--strategy",
            self.strategy,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        match self.source {
            Source::File(path) => {
                args.extend(["--workload".to_string(), path.display().to_string()]);
            }
            Source::Input { dir, loading } => {
                args.extend([
                    "--input".to_string(),
                    dir.display().to_string(),
                    "--op".to_string(),
                    self.op.name().to_string(),
                    "--loading".to_string(),
                    loading.to_string(),
                ]);
            }
            Source::Generated => {
                args.extend([
                    "--tasks".to_string(),
                    self.tasks.to_string(),
                    "--size".to_string(),
                    self.size.to_string(),
                ]);
                if self.op == Operation::Gemm {
                    args.extend(["--results".to_string(), self.results.to_string()]);
                } else {
                    args.extend(["--op".to_string(), self.op.name().to_string()]);
                }
            }
        }
        if self.generation != Generation::Serial {
            args.extend(["--generation".to_string(), self.generation.to_string()]);
        }
        args.extend(["--json".to_string(), json.display().to_string()]);
        args
    }

    /// Runs it once on the built engine of its backend and reads how it ended.
    pub fn run(&self, json: &Path) -> anyhow::Result<Outcome> {
        let _ = std::fs::remove_file(json);
        let backend = self.backend;
        let output = std::process::Command::new(blaspar_core::registry::engine_path(backend))
            .args(self.args(json))
            .output()
            .with_context(|| format!("cannot start the {backend} engine"))?;
        Outcome::of(&output, json).with_context(|| format!("{backend} {}", self.strategy))
    }
}

/// A deterministic shuffle, so that each repeat measures in another order and a run with the
/// same seed measures in the same one.
pub fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut v = items.to_vec();
    v.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
    v
}

/// Why an engine refused a strategy (it exited with [`EXIT_UNSUPPORTED`]): its last error
/// line, which every revision writes last.
pub fn refusal_reason(stderr: &str) -> String {
    let line = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no reason given)");
    line.trim_start_matches("error: ").to_string()
}

/// How one engine run ended, read from its exit status and its `--json` record.
#[derive(Debug)]
pub enum Outcome {
    /// Verified; the record it wrote.
    Measured(Box<RunRecord>),
    /// The backend cannot run the strategy honestly: exit status
    /// [`EXIT_UNSUPPORTED`]; the reason is the engine's error line.
    Unsupported(String),
    /// Anything else: the status and what the engine said.
    Failed { status: String, stderr: String },
}

impl Outcome {
    /// The outcome of a finished `run ... --json json`.
    pub fn of(output: &Output, json: &Path) -> anyhow::Result<Outcome> {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() {
            let text = std::fs::read_to_string(json)
                .with_context(|| format!("no record written to {}", json.display()))?;
            let record = serde_json::from_str(&text)
                .with_context(|| format!("the record in {} does not parse", json.display()))?;
            return Ok(Outcome::Measured(Box::new(record)));
        }
        if output.status.code() == Some(i32::from(EXIT_UNSUPPORTED)) {
            return Ok(Outcome::Unsupported(refusal_reason(&stderr)));
        }
        Ok(Outcome::Failed {
            status: output.status.to_string(),
            stderr: stderr.trim().to_string(),
        })
    }
}

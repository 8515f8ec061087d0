//! The `run` command line, shared by the front binary (which validates it) and every
//! engine binary (which runs it). clap's matches become typed [`RunOptions`] once,
//! validated against each other before anything runs.

use blaspar_core::args::{
    backend, generation, operation, pin, positive, positive_seconds, preset, result_mode, strategy,
};
use blaspar_core::folder::{Files, Folder, Loading};
use blaspar_core::machine::{Machine, available_memory};
use blaspar_core::mix::{Mix, TaskSet};
use blaspar_core::operation::Operation;
use blaspar_core::strategy::{Placement, generation_refused};
use blaspar_core::topology::PinMode;
use blaspar_core::workload::Generation;
use blaspar_core::{MemoryPlan, Preset, ResultMode, Strategy, Workload};
use clap::{Args, Parser};
use std::path::PathBuf;

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Strategy: P workers (threads or processes) x T BLAS threads each (see the help text).
    #[arg(long, short = 's', value_name = "STRATEGY", value_parser = strategy,
          help = format!(
              "Strategy: {}. A form without numbers (`blas`, `threads`, `hybrid-procs`, ...) \
               takes P and T from the physical cores this process may use. batched-T: all \
               products in one batched dgemm call at T BLAS threads",
              blaspar_core::strategy::text_forms()))]
    pub strategy: Strategy,
    /// What each task computes: gemm (C = A B, dgemm), solve (LU with partial pivoting and
    /// one right-hand side, dgesv), cholesky (dpotrf, of a symmetric positive definite
    /// matrix), qr (dgeqrf), eigh (symmetric eigenvalues and vectors, dsyevd) or svd (all
    /// singular values and vectors, dgesdd). Every result is checked.
    #[arg(long, default_value = "gemm", value_parser = operation)]
    pub op: Operation,
    /// Named workload: seed or quick; --tasks and --size override its numbers.
    #[arg(long, default_value = "quick", value_parser = preset, help = preset_help())]
    pub preset: Preset,
    /// Number of independent tasks (each: generate A and B, multiply).
    #[arg(long, short = 'n', value_name = "N", allow_hyphen_values = true, value_parser = positive)]
    pub tasks: Option<usize>,
    /// Matrix size: each task multiplies two SIZE x SIZE matrices.
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true, value_parser = positive)]
    pub size: Option<usize>,
    /// Workload file (TOML): task groups of different operations and shapes in one run,
    /// instead of --preset/--tasks/--size/--op. Each [[tasks]] table has op, size = n
    /// (n x n operands) or, for gemm, shape = [m, k, n] (A is m x k, B is k x n), and
    /// count. Workers take the tasks from one dynamic queue, largest first by FLOPs; each
    /// worker checks its own results (fingerprints: no result is kept, so the n x n result
    /// store is not used); the record lists the groups and the idle share. Not for
    /// batched-T (refused); its history id names the file (file-<stem>-<crc>). See examples/mixed.toml
    #[arg(long, value_name = "FILE", conflicts_with_all = ["preset", "tasks", "size", "op"])]
    pub workload: Option<PathBuf>,
    /// Folder of .npy files (float64, 2-D, C or Fortran order) whose matrices are the
    /// tasks, instead of --preset/--tasks/--size: files in name order (other files are
    /// ignored); every header is checked before anything runs. solve, cholesky, qr, eigh,
    /// svd: one task per (square) file; cholesky and eigh read its lower triangle, as
    /// LAPACK and NumPy do; solve's b comes from the generator (--seed). gemm: a file A
    /// (m x k) is multiplied by the next unused file when that one has k rows (A B), else
    /// by its own transpose (A A^T). Tasks run largest first by FLOPs and are checked by
    /// their workers (fingerprints); the record lists the folder, files, tasks and loading
    #[arg(long, value_name = "DIR", conflicts_with_all = ["preset", "tasks", "size", "workload"])]
    pub input: Option<PathBuf>,
    /// With --input, who reads the files: workers (each worker reads its task's files when
    /// it takes the task: parallel loading; with --generation overlapped, the next task's
    /// while the current one computes) or parent (every file before the workers start,
    /// into shared memory the workers read: sequential loading, a wall phase of its own,
    /// counted in the run's seconds). Default: workers. The time split calls it load
    #[arg(long, value_parser = loading, requires = "input")]
    pub loading: Option<Loading>,
    /// Seed of the data generator (Xoshiro256++).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Who generates each task's A and B: serial (the worker's own thread, as the tutorial
    /// does), parallel (the worker's thread and one more per extra BLAS thread it runs,
    /// which would otherwise wait while the data are made) or overlapped (a generator thread
    /// per worker makes the next task's data while the worker multiplies; not for batched-T,
    /// which makes every task's data before its one call). The values are the same.
    #[arg(long, default_value = "serial", value_parser = generation)]
    pub generation: Generation,
    /// Backend to run (the registry's names; `blaspar backends` lists what is built).
    #[arg(long, short = 'b', default_value = "blis", value_parser = backend,
          help = format!("Backend to run: {} (`blaspar backends` lists what is built)",
                         blaspar_core::registry::name_list()))]
    pub backend: String,
    /// Kernel: auto (probe, take the fastest correct one; cached: BLIS tries every
    /// compiled-in kernel, OpenBLAS its own core against the cores made for this CPU's
    /// vector extensions), default (the library's own detection) or a name such as skx or
    /// haswell (BLIS), SkylakeX or Haswell (OpenBLAS's OPENBLAS_CORETYPE values).
    #[arg(long, default_value = "auto")]
    pub kernel: String,
    /// Write the result record (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Folder for cached kernel probes (default: $BLASPAR_CACHE_DIR, else ~/.cache/blaspar).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// How products come back: matrices (every product kept; worker processes write theirs
    /// straight into shared memory that this process maps) or fingerprints (each worker
    /// checks its result and returns only the check; needs no memory for results). Default:
    /// matrices for gemm, fingerprints for the other operations (their results are not
    /// kept).
    #[arg(long, value_parser = result_mode)]
    pub results: Option<ResultMode>,
    /// Longest a task may take in a worker process before the worker is killed and the run
    /// fails, in seconds (also bounds a worker's start-up, at least 30 s). Default: 60 s plus
    /// 2 s per GFLOP of one task (a workload file's largest).
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true, value_parser = positive_seconds)]
    pub task_timeout: Option<std::time::Duration>,
    /// Where workers run: none (the kernel places every thread), cores (worker i gets the
    /// next T physical cores, one logical CPU each, SMT siblings only when every core is
    /// taken) or spread (workers spread over packages and cores, each worker's CPUs
    /// together). P x T beyond the CPUs wraps around: workers share CPUs. The record says
    /// each worker's CPUs and where its threads ran.
    #[arg(long, default_value = "none", value_parser = pin)]
    pub pin: PinMode,
    /// Binary to start as worker processes (default: this engine itself).
    #[arg(long, value_name = "FILE")]
    pub worker_exe: Option<PathBuf>,
    /// Testing aid: add 1.0 to one entry of this task's result before verification (a
    /// kept product in the store, or, where workers check their results, the result its
    /// worker checks).
    #[arg(long, hide = true, value_name = "TASK")]
    pub inject_corruption: Option<usize>,
    /// History file the run is appended to (`off`: none; default: $BLASPAR_HISTORY, else
    /// results/history.jsonl of the checkout that built blaspar).
    #[arg(long, value_name = "FILE")]
    pub history: Option<String>,
}

impl RunArgs {
    /// A run over the `.npy` files of `dir`: every header checked, the tasks made by the
    /// folder's rule, then run as a workload file's tasks are.
    fn validate_input(&self, dir: &std::path::Path) -> anyhow::Result<RunOptions> {
        let loading = self.loading.unwrap_or_default();
        let files = Files::plan(Folder::scan(dir)?, self.op, loading)?;
        if self.generation == Generation::Parallel {
            anyhow::bail!(
                "--generation parallel makes each task's random data with several threads; \
                 --input reads each task's operands from its files instead: use serial (the \
                 worker reads them) or overlapped (the next task's files are read while the \
                 current one computes)"
            );
        }
        let parent_bytes = match loading {
            Loading::Parent => files.data_bytes(),
            Loading::Workers => 0,
        };
        self.validate_mix(Mix::from_files(files), parent_bytes)
    }

    /// A run of the workload file at `path`: its tasks, checked by their workers
    /// (fingerprints), within the memory available.
    fn validate_file(&self, path: &std::path::Path) -> anyhow::Result<RunOptions> {
        self.validate_mix(Mix::read(path)?, 0)
    }

    /// A run of `mix`'s tasks, checked by their workers (fingerprints), within the memory
    /// available with `held` bytes more (the files the parent loads).
    fn validate_mix(&self, mix: Mix, held: u64) -> anyhow::Result<RunOptions> {
        let mut workload = mix.workload(self.seed, self.generation);
        let results = match self.results {
            Some(ResultMode::Matrices) => anyhow::bail!(
                "--results matrices keeps n x n products; {} results are checked by each \
                 worker and not kept (--results fingerprints, its default)",
                match mix.files {
                    Some(_) => "an input folder's",
                    None => "a workload file's",
                }
            ),
            _ => ResultMode::Fingerprints,
        };
        if let Some(reason) = generation_refused(self.strategy, self.generation) {
            anyhow::bail!("--generation {} {reason}", self.generation);
        }
        workload.corrupt = corrupted_task(self.inject_corruption, mix.tasks())?;
        let machine = Machine::detect();
        let in_flight = match self.strategy.placement() {
            Placement::Batched => workload.tasks,
            _ => (self.strategy.workers() * self.generation.tasks_held())
                .max(machine.cpus_allowed.len()),
        };
        let (available, source) = available_memory();
        mix.fits(in_flight, held, available, &source)
            .map_err(anyhow::Error::msg)?;
        Ok(self.options(workload, Some(mix), results, None))
    }

    /// The validated options: the arguments as given, with what validation decided.
    fn options(
        &self,
        workload: Workload,
        mix: Option<Mix>,
        results: ResultMode,
        inject_corruption: Option<usize>,
    ) -> RunOptions {
        RunOptions {
            strategy: self.strategy,
            workload,
            mix,
            backend: self.backend.clone(),
            kernel: self.kernel.clone(),
            json: self.json.clone(),
            cache_dir: self.cache_dir.clone(),
            results,
            task_timeout: self.task_timeout,
            worker_exe: self.worker_exe.clone(),
            inject_corruption,
            history: self.history.clone(),
            pin: self.pin,
        }
    }
}

impl RunOptions {
    /// The run's tasks: its workload, or its workload file's tasks.
    pub fn tasks(&self) -> TaskSet<'_> {
        TaskSet {
            workload: &self.workload,
            mix: self.mix.as_ref(),
            loaded: None,
        }
    }
}

/// `--loading`'s values.
fn loading(s: &str) -> Result<Loading, String> {
    s.parse()
}

/// `--preset`'s help, with the quick size of each operation.
fn preset_help() -> String {
    let sizes: Vec<String> = Operation::ALL[1..]
        .iter()
        .map(|op| format!("{} {}", op.name(), op.size_matching_gemm(1000)))
        .collect();
    format!(
        "Named workload: seed (100 tasks of 2000x2000, the tutorial's) or quick (>= 16 tasks \
         of 1000x1000 for gemm, a few seconds; the other operations at the size where a task \
         costs the FLOPs of a 1000x1000 gemm: {}). --tasks and --size override its numbers",
        sizes.join(", ")
    )
}

/// A validated run request.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub strategy: Strategy,
    /// Seed, generation and task count (a workload file's: [`Mix::workload`]).
    pub workload: Workload,
    /// The workload file's tasks (`--workload`).
    pub mix: Option<Mix>,
    pub backend: String,
    pub kernel: String,
    pub json: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub results: ResultMode,
    pub task_timeout: Option<std::time::Duration>,
    pub worker_exe: Option<PathBuf>,
    /// `--pin`: where the workers run.
    pub pin: PinMode,
    pub inject_corruption: Option<usize>,
    /// `--history` as given (resolved by [`blaspar_core::history::resolve`]).
    pub history: Option<String>,
}

impl RunArgs {
    /// Resolves the preset against this machine and checks that the run can fit in memory.
    /// Allocates nothing.
    pub fn validate(&self) -> anyhow::Result<RunOptions> {
        if let Some(path) = &self.workload {
            return self.validate_file(path);
        }
        if let Some(dir) = &self.input {
            return self.validate_input(dir);
        }
        let machine = Machine::detect();
        let mut workload = self.preset.workload(machine.default_parallelism, self.op);
        workload.tasks = self.tasks.unwrap_or(workload.tasks);
        workload.size = self.size.unwrap_or(workload.size);
        workload.seed = self.seed;
        workload.generation = self.generation;
        workload.operation = self.op;
        let results = match (self.op, self.results) {
            (Operation::Gemm, r) => r.unwrap_or(ResultMode::Matrices),
            (op, Some(ResultMode::Matrices)) => anyhow::bail!(
                "--results matrices keeps n x n products; {op}'s results are checked by each \
                 worker and not kept (--results fingerprints, the default for {op})"
            ),
            (_, r) => r.unwrap_or(ResultMode::Fingerprints),
        };
        let (available, source) = available_memory();
        let plan = MemoryPlan {
            keep_products: results == ResultMode::Matrices,
            // Workers in flight, or verification threads afterwards.
            in_flight: match self.strategy.placement() {
                // A batch holds every task's A, B and C at once.
                Placement::Batched => workload.tasks,
                _ => (self.strategy.workers() * self.generation.tasks_held())
                    .max(machine.cpus_allowed.len()),
            },
        };
        if let Some(reason) = generation_refused(self.strategy, self.generation) {
            anyhow::bail!("--generation {} {reason}", self.generation);
        }
        workload.check(plan, available, &source)?;
        let corrupt = corrupted_task(self.inject_corruption, workload.tasks)?;
        // Kept products are corrupted in the store; checked results by their worker.
        let (inject_corruption, corrupt) = match results {
            ResultMode::Matrices => (corrupt, None),
            ResultMode::Fingerprints => (None, corrupt),
        };
        workload.corrupt = corrupt;
        Ok(self.options(workload, None, results, inject_corruption))
    }
}

/// `--inject-corruption`'s task, checked to be one of the run's `tasks`.
fn corrupted_task(task: Option<usize>, tasks: usize) -> anyhow::Result<Option<usize>> {
    match task {
        Some(t) if t >= tasks => anyhow::bail!(
            "--inject-corruption {t} names no task (tasks are 0..{})",
            tasks - 1
        ),
        t => Ok(t),
    }
}

/// Parses the command line; on a usage error prints one line and exits with status 2.
pub fn parse_or_exit<P: Parser>() -> P {
    match P::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            e.exit()
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            e.exit()
        }
        Err(e) => {
            // clap's first paragraph, as one line (missing arguments are listed below the first).
            let text = e.to_string();
            let first: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("{} (see --help)", first.join(" "));
            std::process::exit(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    #[test]
    fn overrides_apply_to_the_preset() {
        let cli = Cli::try_parse_from([
            "run",
            "-s",
            "sequential",
            "--preset",
            "seed",
            "--tasks",
            "3",
        ])
        .unwrap();
        let opts = cli.run.validate().unwrap();
        assert_eq!(opts.workload.tasks, 3);
        assert_eq!(opts.workload.size, 2000);
    }

    fn parsed(args: &[&str]) -> anyhow::Result<RunOptions> {
        let mut line = vec!["run", "--tasks", "4", "--size", "8"];
        line.extend_from_slice(args);
        Cli::try_parse_from(line).unwrap().run.validate()
    }

    #[test]
    fn overlapped_generation_is_recorded_in_the_workload() {
        let opts = parsed(&["-s", "procs-2", "--generation", "overlapped"]).unwrap();
        assert_eq!(opts.workload.generation, Generation::Overlapped);
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    const MIXED: &str = "[[tasks]]\nop = \"gemm\"\nshape = [30, 20, 50]\ncount = 3\n\
                         [[tasks]]\nop = \"svd\"\nsize = 16\ncount = 2\n";

    #[test]
    fn a_workload_file_runs_its_tasks_with_fingerprints() {
        let f = file(MIXED);
        let path = f.path().to_str().unwrap();
        let cli =
            Cli::try_parse_from(["run", "-s", "threads-2", "--workload", path, "--seed", "3"])
                .unwrap();
        let opts = cli.run.validate().unwrap();
        let mix = opts.mix.as_ref().expect("a workload file");
        assert_eq!((opts.workload.tasks, opts.workload.size), (5, 50));
        assert_eq!(opts.workload.seed, 3);
        assert_eq!(opts.results, ResultMode::Fingerprints);
        assert_eq!(mix.groups.len(), 2);
        assert_eq!(opts.tasks().count(), 5);
        let err = Cli::try_parse_from(["run", "-s", "threads-2", "--workload", path])
            .unwrap()
            .run;
        let err = RunArgs {
            results: Some(ResultMode::Matrices),
            ..err
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(err.contains("--results matrices"), "{err}");
    }

    #[test]
    fn a_workload_file_excludes_the_other_workload_options() {
        let f = file(MIXED);
        let path = f.path().to_str().unwrap();
        for other in [
            ["--tasks", "4"],
            ["--size", "8"],
            ["--op", "qr"],
            ["--preset", "seed"],
        ] {
            let mut line = vec!["run", "-s", "sequential", "--workload", path];
            line.extend_from_slice(&other);
            let err = Cli::try_parse_from(line).unwrap_err().to_string();
            assert!(
                err.contains("cannot be used with") && err.contains(other[0]),
                "{other:?}: {err}"
            );
        }
    }

    #[test]
    fn a_bad_workload_file_is_one_line_naming_line_and_key() {
        let f = file("[[tasks]]\nop = \"gemm\"\nsize = 4\ncount = 0\n");
        let path = f.path().to_str().unwrap();
        let err = Cli::try_parse_from(["run", "-s", "sequential", "--workload", path])
            .unwrap()
            .run
            .validate()
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("{path} line 4: key `count`: must be at least 1")
        );
    }

    /// A sparse float64 `.npy` file of `n` x `n` (its data all zero, taking no disk).
    fn sparse_npy(dir: &std::path::Path, name: &str, n: usize) {
        let mut header =
            format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({n}, {n}), }}");
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(bytes.len() as u64 + (n * n * 8) as u64).unwrap();
    }

    fn input(dir: &std::path::Path, extra: &[&str]) -> anyhow::Result<RunOptions> {
        let mut line = vec!["run", "-s", "threads-2", "--input", dir.to_str().unwrap()];
        line.extend_from_slice(extra);
        Cli::try_parse_from(line).unwrap().run.validate()
    }

    #[test]
    fn an_input_folder_runs_its_files_as_tasks_checked_by_their_workers() {
        let dir = tempfile::tempdir().unwrap();
        sparse_npy(dir.path(), "a.npy", 6);
        sparse_npy(dir.path(), "b.npy", 9);
        let opts = input(dir.path(), &["--op", "qr", "--seed", "5"]).unwrap();
        let files = opts.tasks().files().expect("tasks from files").clone();
        assert_eq!((files.tasks.len(), files.loading), (2, Loading::Workers));
        assert_eq!((opts.workload.tasks, opts.workload.size), (2, 9));
        assert_eq!(opts.results, ResultMode::Fingerprints);
        // Largest first: b (9 x 9) before a.
        assert_eq!(opts.tasks().task_at(0), 1);
        let opts = input(
            dir.path(),
            &["--loading", "parent", "--generation", "overlapped"],
        );
        assert_eq!(
            opts.unwrap().tasks().files().unwrap().loading,
            Loading::Parent
        );
        let err = input(dir.path(), &["--generation", "parallel"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--generation parallel"), "{err}");
        let err = input(dir.path(), &["--results", "matrices"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("an input folder's results are checked"),
            "{err}"
        );
    }

    #[test]
    fn files_the_parent_cannot_hold_are_refused_and_workers_may_load_them() {
        // Sparse files (no disk) that hold twice the memory available together, while
        // three of them per task in flight take under a fifth of it.
        let (available, _) = available_memory();
        let in_flight = Machine::detect().cpus_allowed.len().max(2);
        let n = ((available / (16 * in_flight as u64) / 8) as f64).sqrt() as usize;
        let dir = tempfile::tempdir().unwrap();
        for i in 0..32 * in_flight {
            sparse_npy(dir.path(), &format!("m{i:04}.npy"), n);
        }
        let err = input(dir.path(), &["--op", "qr", "--loading", "parent"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("every file's matrix loaded by the parent (")
                && err.contains("or --loading workers"),
            "{err}"
        );
        assert!(input(dir.path(), &["--op", "qr"]).is_ok());
    }

    #[test]
    fn overlapped_generation_is_refused_for_a_batch_with_the_reason() {
        let err = parsed(&["-s", "batched-2", "--generation", "overlapped"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--generation overlapped does not apply to batched-2")
                && err.contains("every task's data before its one library call"),
            "{err}"
        );
        assert!(parsed(&["-s", "batched-2", "--generation", "parallel"]).is_ok());
    }
}

//! The sweep: every strategy of a grid on every backend named, each configuration measured
//! several times in an interleaved order (repeat 1 of everything, then repeat 2, each in
//! its own shuffled order) so that machine drift spreads evenly. Every measurement is one
//! engine run (`blaspar-engine-<backend> run ... --json`), verified like any run; its record
//! is appended to `runs.jsonl` as soon as it is measured, so an interrupted sweep resumes
//! where it stopped (`--out` the same folder).
//!
//! First step of the sweep issue: the grid, the interleaved measurement with resume and
//! progress, medians with spread, the best configuration per backend and overall against
//! the measured f64 peak. Search around the best, scaling lists and plots come next.

use crate::answer::{Recommendation, recommend};
use crate::engines::{Outcome, Source, Spec, shuffled};
use crate::operations::Swept;
use crate::placement::PinSweep;
use crate::race::{Config, LogEntry, Race, measures};
use crate::report::{How, readme, report};
use crate::summary::{Row, summarise};
use anyhow::Context;
use blaspar_core::ResultMode;
use blaspar_core::args::{
    backend, generation, operation, percent, pin, positive, positive_seconds, preset, result_mode,
    strategy,
};
use blaspar_core::folder::{Files, Folder, Loading};
use blaspar_core::machine::Machine;
use blaspar_core::mix::Mix;
use blaspar_core::operation::Operation;
use blaspar_core::peak::Peak;
use blaspar_core::strategy::{generation_refused, label};
use blaspar_core::topology::PinMode;
use blaspar_core::workload::Generation;
use blaspar_core::{Preset, Strategy};
use blaspar_plot::Measured;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args, Clone)]
pub struct SweepArgs {
    /// Backends to sweep, comma-separated (default: every built engine).
    #[arg(long, value_delimiter = ',', value_parser = backend,
          help = format!("Backends to sweep, comma-separated, of {} (default: every built engine)",
                         blaspar_core::registry::name_list()))]
    pub backends: Vec<String>,
    /// Operations to sweep, comma-separated: gemm, solve, cholesky, qr, eigh, svd (see
    /// `run --help`). One sweep each; with several, each in DIR/<op>/ with its own answer,
    /// and DIR/operations.md says whether the best changes with the operation.
    #[arg(long, value_delimiter = ',', default_value = "gemm", value_parser = operation)]
    pub ops: Vec<Operation>,
    /// Named workload (quick or seed); --tasks and --sizes override its numbers. quick's
    /// size depends on the operation (`run --help`).
    #[arg(long, default_value = "quick", value_parser = preset)]
    pub preset: Preset,
    /// Task counts to sweep, comma-separated (scaling with N; default: the preset's).
    #[arg(long, short = 'n', value_name = "N,...", value_delimiter = ',', allow_hyphen_values = true, value_parser = positive)]
    pub tasks: Vec<usize>,
    /// Matrix sizes to sweep, comma-separated (scaling with n; default: the preset's).
    #[arg(long, alias = "size", value_name = "SIZE,...", value_delimiter = ',', allow_hyphen_values = true, value_parser = positive)]
    pub sizes: Vec<usize>,
    /// Measurements of each configuration surely as fast (racing; undecided ones get up to
    /// --max-repeats; with --no-race: of every configuration). Rounds are interleaved: each configuration once per round,
    /// each round in its own shuffled order.
    #[arg(long, default_value_t = 3, value_parser = positive)]
    pub repeats: usize,
    /// Most measurements of a configuration while it is undecided (racing).
    #[arg(long, default_value_t = 6, value_parser = positive)]
    pub max_repeats: usize,
    /// Measure every configuration --repeats times instead of racing (racing: every
    /// configuration once, then repeats only for those the noise cannot yet rule out).
    #[arg(long)]
    pub no_race: bool,
    /// Equivalence margin, in percent: a configuration at most this much slower than the
    /// fastest counts as as fast as it ("as fast" when the noise allows that claim,
    /// "slower" and dropped from the race only when surely beyond the margin). With 0, only
    /// a configuration surely the fastest is "as fast".
    #[arg(long, value_name = "PERCENT", default_value = "2", value_parser = percent)]
    pub margin: f64,
    /// Stop measuring once the sweep has measured this long (seconds): the answer is
    /// given from what was measured, and says so. The first round (every configuration
    /// once) always completes, so that every configuration is in the answer, and the
    /// second always measures the three fastest of each workload again, so that the
    /// answer has a noise to go by; a resumed sweep starts a new budget. Default: 90 s for the quick preset's own workload (no
    /// --tasks or --sizes), none otherwise.
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub budget: Option<std::time::Duration>,
    /// How products come back in each gemm run (see `run --help`; the other operations'
    /// results are always checked by their workers).
    #[arg(long, default_value = "matrices", value_parser = result_mode)]
    pub results: ResultMode,
    /// Folder for runs.jsonl and summary.md; an existing one is resumed
    /// (default: target/blaspar-sweeps/<time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seconds each peak measurement runs.
    #[arg(long, default_value = "0.5", value_parser = positive_seconds)]
    pub peak_seconds: std::time::Duration,
    /// Measure only these strategies, comma-separated (default: the pruned grid of this
    /// machine, then the neighbours of each backend's best).
    #[arg(long, value_delimiter = ',', value_parser = strategy)]
    pub strategies: Vec<Strategy>,
    /// Skip the search around each backend's best configuration.
    #[arg(long)]
    pub no_refine: bool,
    /// Data generation to measure, comma-separated: serial, parallel, overlapped (see `run
    /// --help`). Parallel is measured where workers run more than one BLAS thread (with one
    /// it is the serial run), overlapped everywhere but batched strategies (which make every
    /// task's data before their one call); serial stands in where one does not apply.
    #[arg(long, value_delimiter = ',', default_value = "serial", value_parser = generation)]
    pub generation: Vec<Generation>,
    /// Placements to compare with none, comma-separated: cores, spread (see `run --help`).
    /// After the race, each backend's fastest configuration is run unpinned and with each
    /// placement, pair by pair (--repeats pairs, at least 6), into DIR/pin.jsonl; the summary
    /// says whether pinning pays beyond the margin. none alone (the default) measures nothing
    /// more.
    #[arg(long, value_delimiter = ',', default_value = "none", value_parser = pin)]
    pub pin: Vec<PinMode>,
    /// Sweep a workload file's tasks (as `run --workload FILE` runs them: mixed operations
    /// and shapes, largest first) instead of generated ones: one workload, named in the
    /// tables by its task count and largest dimension; batched strategies refuse it. No
    /// time budget unless --budget gives one.
    #[arg(long, value_name = "FILE.toml", conflicts_with_all = ["tasks", "sizes", "ops", "preset"])]
    pub workload: Option<PathBuf>,
    /// Sweep a folder of .npy files (as `run --input DIR` runs them; one operation of
    /// --ops, gemm by default) instead of generated tasks: one workload, named in the
    /// tables by its task count and largest dimension. The race runs with each worker
    /// loading its own files; see --loading. No time budget unless --budget gives one.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["tasks", "sizes", "preset", "workload"])]
    pub input: Option<PathBuf>,
    /// With --input: loadings to compare with the workers' own, comma-separated: parent
    /// (every file loaded by the parent first, as the tutorial's programs do). After the
    /// race, each backend's fastest configuration is run both ways, pair by pair (as
    /// --pin's pairs, into DIR/pin.jsonl); the summary says whether loading in the parent
    /// first pays. workers alone (the default) measures nothing more.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "workers",
        requires = "input"
    )]
    pub loading: Vec<Loading>,
    /// Measure nothing: answer again from the rows of the sweep in --out (at this
    /// --margin, by this version of blaspar) and write its summary.md, recommendation.json
    /// and plots anew. The race's log (race.json), peak.json and README.md stay as they were
    /// measured; a --pin or --loading section is not redone.
    #[arg(long, requires = "out", conflicts_with_all = ["pin", "loading", "budget"])]
    pub no_measure: bool,
}

/// Runs a sweep of each operation of `--ops`: one alone in DIR; several one after the
/// other, each in DIR/<op>/ (sharing one peak measurement), then DIR/operations.md.
pub fn sweep(args: &SweepArgs) -> anyhow::Result<()> {
    let out = args.out.clone().unwrap_or_else(default_out);
    if let Some(path) = &args.workload {
        let mix = Mix::read(path)?;
        let file = WorkloadFile {
            path,
            mix: &mix,
            input: false,
        };
        return sweep_op(args, mix.groups[0].op, &out, Some(file)).map(drop);
    }
    if let Some(dir) = &args.input {
        let [op] = args.ops[..] else {
            anyhow::bail!(
                "--input sweeps one operation of the folder's files: give one --ops (gemm, \
                 solve, cholesky, qr, eigh or svd)"
            );
        };
        let files = Files::plan(Folder::scan(dir)?, op, Loading::Workers)?;
        let mix = Mix::from_files(files);
        let file = WorkloadFile {
            path: dir,
            mix: &mix,
            input: true,
        };
        return sweep_op(args, op, &out, Some(file)).map(drop);
    }
    let mut ops: Vec<Operation> = Vec::new();
    for &op in &args.ops {
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    if let [op] = ops[..] {
        return sweep_op(args, op, &out, None).map(drop);
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let cpus = Machine::detect().cpus_allowed.len().max(1);
    if !args.no_measure {
        peak_of_folder(&out, Some((cpus, args.peak_seconds)))?;
    }
    let mut swept = Vec::new();
    for (i, &op) in ops.iter().enumerate() {
        let dir = out.join(op.name());
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        if !dir.join("peak.json").exists() && !args.no_measure {
            std::fs::copy(out.join("peak.json"), dir.join("peak.json"))?;
        }
        eprintln!(
            "== {op} ({} of {}, {}) into {}",
            i + 1,
            ops.len(),
            op.routine(),
            dir.display()
        );
        let (rows, rec) = sweep_op(args, op, &dir, None)?;
        swept.push(Swept { op, rows, rec });
    }
    let text = crate::operations::report(&swept);
    print!("{text}");
    std::fs::write(out.join("operations.md"), &text)?;
    eprintln!("operations: {}", out.join("operations.md").display());
    Ok(())
}

/// A workload file or an input folder being swept.
#[derive(Clone, Copy)]
struct WorkloadFile<'a> {
    path: &'a Path,
    /// Its tasks.
    mix: &'a Mix,
    /// A folder of `.npy` files (`--input`), not a workload file.
    input: bool,
}

impl WorkloadFile<'_> {
    /// Its name in the headings.
    fn name(&self) -> String {
        if self.input {
            format!(
                "the folder {} ({})",
                self.path.display(),
                self.mix.operations()[0]
            )
        } else {
            format!("the workload file {}", self.mix.label())
        }
    }
}

/// Sweeps one operation (or a workload file, `op` its first group's) into `out`: measures
/// what is missing from `runs.jsonl` (the grid, then around each backend's best), then
/// writes the summary, the README and the plots from all the rows.
fn sweep_op(
    args: &SweepArgs,
    op: Operation,
    out: &Path,
    file: Option<WorkloadFile<'_>>,
) -> anyhow::Result<(Vec<Row>, Recommendation)> {
    let machine = Machine::detect();
    let cpus = machine.cpus_allowed.len().max(1);
    let (workloads, source) = match file {
        Some(f) => (
            vec![(f.mix.tasks(), f.mix.largest_dim())],
            if f.input {
                Source::Input {
                    dir: f.path,
                    loading: Loading::Workers,
                }
            } else {
                Source::File(f.path)
            },
        ),
        None => (workloads(args, &machine, op), Source::Generated),
    };
    let out = out.to_path_buf();
    let runs_path = out.join("runs.jsonl");
    if args.no_measure {
        return answer_again(args, op, &out, file);
    }
    let backends = built_backends(&args.backends)?;
    let mut rows = open_folder(&out, &runs_path)?;
    same_operation(&rows, op, &out)?;
    let peak = peak_of_folder(&out, Some((cpus, args.peak_seconds)))?;

    let base: Vec<Strategy> = if args.strategies.is_empty() {
        Strategy::grid(cpus)
    } else {
        args.strategies.clone()
    };
    let configs = configurations(&workloads, &backends, &base, &args.generation);
    anyhow::ensure!(
        args.max_repeats >= args.repeats,
        "--max-repeats {} is below --repeats {}",
        args.max_repeats,
        args.repeats
    );
    let mut ctx = Measure {
        out: &out,
        runs_path: &runs_path,
        op,
        source,
        results: args.results,
        deadline: budget(args).map(|b| std::time::Instant::now() + b),
        budget_spent: false,
    };
    eprintln!(
        "sweep: {} workloads x {} backends x {} configurations, {} ({} rows already in {})",
        workloads.len(),
        backends.len(),
        base.len(),
        if args.no_race {
            format!("{} repeats each", args.repeats)
        } else {
            format!(
                "racing: each once, then {}-{} repeats of the contenders",
                args.repeats, args.max_repeats
            )
        },
        rows.len(),
        runs_path.display()
    );
    let before = rows.len();
    let refine = args.strategies.is_empty() && !args.no_refine;
    let race = if args.no_race {
        every_configuration(
            &mut ctx,
            &mut rows,
            &configs,
            args.repeats,
            refine.then_some(cpus),
            args.margin / 100.0,
        )?
    } else {
        racing(&mut ctx, &mut rows, &configs, args, refine.then_some(cpus))?
    };
    eprintln!(
        "measured {} new rows ({} in all)",
        rows.len() - before,
        rows.len()
    );
    let log = race.log(&rows);
    std::fs::write(
        out.join("race.json"),
        serde_json::to_string_pretty(&log)? + "\n",
    )?;

    // Around the race's best configurations, apart from its rows (see crate::placement).
    let pinned = if args.pin.iter().any(|&m| m != PinMode::None)
        || args.loading.iter().any(|&l| l != Loading::Workers)
    {
        PinSweep {
            out: &out,
            modes: &args.pin,
            pairs: crate::placement::pairs(args.repeats),
            op,
            results: args.results,
            source,
            loadings: &args.loading,
        }
        .measure(&rows)?
    } else {
        Vec::new()
    };
    let rec = recommend(&rows, args.margin / 100.0);
    let how = How {
        repeats: args.repeats,
        max_repeats: args.max_repeats,
        raced: !args.no_race,
        budget: budget(args).filter(|_| ctx.budget_spent),
        tasks_from: file.map(|f| f.name()),
    };
    let placed = crate::placement::section(&pinned, args.margin / 100.0);
    std::fs::write(out.join("README.md"), readme(&rows, &peak, &machine, &out))?;
    write_answer(
        &out, &rows, &peak, &how, &log, &rec, file, &placed, &configs,
    )?;
    Ok((rows, rec))
}

/// A folder's rows are all of `op`.
fn same_operation(rows: &[Row], op: Operation, out: &Path) -> anyhow::Result<()> {
    if let Some(other) = rows.iter().find(|r| r.operation != op) {
        anyhow::bail!(
            "{} holds a sweep of {}, not {op}: give another --out (several --ops go to DIR/<op>/)",
            out.display(),
            other.operation.name()
        );
    }
    Ok(())
}

/// `--no-measure`: the answer again from the rows in `out`, at `args.margin`, measuring
/// nothing; the race's log is the one the sweep wrote (its decisions as they were taken).
fn answer_again(
    args: &SweepArgs,
    op: Operation,
    out: &Path,
    file: Option<WorkloadFile<'_>>,
) -> anyhow::Result<(Vec<Row>, Recommendation)> {
    let runs_path = out.join("runs.jsonl");
    let peak_path = out.join("peak.json");
    anyhow::ensure!(
        runs_path.exists() && peak_path.exists(),
        "{} holds no sweep to answer again (it needs runs.jsonl and peak.json): --no-measure \
         measures nothing; run the sweep without it first",
        out.display()
    );
    let rows = open_folder(out, &runs_path)?;
    same_operation(&rows, op, out)?;
    anyhow::ensure!(
        rows.iter().any(|r| r.record.is_some()),
        "{} holds no measurement to answer from",
        runs_path.display()
    );
    let peak = peak_of_folder(out, None)?;
    let race_path = out.join("race.json");
    let log: Vec<LogEntry> = match std::fs::read_to_string(&race_path) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("{} is not a race log", race_path.display()))?,
        Err(_) => Vec::new(),
    };
    let rec = recommend(&rows, args.margin / 100.0);
    let how = How {
        repeats: args.repeats,
        max_repeats: args.max_repeats,
        raced: !log.is_empty(),
        budget: None,
        tasks_from: file.map(|f| f.name()),
    };
    eprintln!(
        "answered again from the {} rows of {} (--no-measure: nothing measured)",
        rows.len(),
        runs_path.display()
    );
    write_answer(out, &rows, &peak, &how, &log, &rec, file, "", &[])?;
    Ok((rows, rec))
}

/// Writes the sweep's answer: summary.md (also to stdout), recommendation.json and the
/// plots, and says the noise and where everything is on stderr. `placed` is the pinning
/// or loading section, `configs` the configurations swept (for the plots' order).
#[allow(clippy::too_many_arguments)]
fn write_answer(
    out: &Path,
    rows: &[Row],
    peak: &Peak,
    how: &How,
    log: &[LogEntry],
    rec: &Recommendation,
    file: Option<WorkloadFile<'_>>,
    placed: &str,
    configs: &[Config],
) -> anyhow::Result<()> {
    let mut text = report(rows, peak, how, log, rec);
    if let Some(f) = file {
        // After the heading: what the file's tasks are.
        let at = text.find("\n\n").map_or(0, |i| i + 2);
        text.insert_str(at, &file_section(f));
    }
    text.push_str(placed);
    print!("{text}");
    std::fs::write(out.join("summary.md"), &text)?;
    let json = serde_json::to_string_pretty(rec)? + "\n";
    std::fs::write(out.join("recommendation.json"), json)?;
    draw_plots(out, rows, configs, peak, how.tasks_from.as_deref())?;
    for a in &rec.workloads {
        if let Some(noise) = a.noise {
            eprintln!(
                "noise of {}x{}: {}",
                a.tasks,
                a.size,
                noise.line(rec.margin)
            );
        }
    }
    eprintln!(
        "rows: {}; summary: {}; answer: {}",
        out.join("runs.jsonl").display(),
        out.join("summary.md").display(),
        out.join("recommendation.json").display()
    );
    Ok(())
}

/// The quick preset's budget: a quick answer is one that comes within about a minute and
/// a half (its first round of every configuration always completes).
pub const QUICK_BUDGET: std::time::Duration = std::time::Duration::from_secs(90);

/// The summary's opening words on a workload file: what its tasks are, and how its rows
/// are named.
fn file_section(f: WorkloadFile<'_>) -> String {
    // Equal shapes together (an input folder has a group per task).
    let mut shapes: Vec<(String, usize)> = Vec::new();
    for g in &f.mix.groups {
        let label = g.shape().label();
        match shapes.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += g.count,
            None => shapes.push((label, g.count)),
        }
    }
    let groups: Vec<String> = shapes.iter().map(|(l, n)| format!("{n} x {l}")).collect();
    let what = if f.input {
        format!(
            "Input folder `{}` (`.npy` files, tasks by `run --input`'s rule; its history id is \
             npy-<folder>-<crc>): the generate share of the split is each worker's loading of \
             its task's files",
            f.path.display()
        )
    } else {
        format!("Workload file `{}` ({})", f.path.display(), f.mix.label())
    };
    format!(
        "{what}: {} ({} tasks, {:.2} GFLOP; every task checked by its worker; the queue hands \
         the largest out first). Its rows are named {} x {} below: the task count and the \
         largest dimension. The split's idle share is the imbalance left after scheduling.\n\n",
        groups.join(", "),
        f.mix.tasks(),
        f.mix.flops() / 1e9,
        f.mix.tasks(),
        f.mix.largest_dim()
    )
}

/// `--budget`, or [`QUICK_BUDGET`] for the quick preset's own workload.
fn budget(args: &SweepArgs) -> Option<std::time::Duration> {
    let quick = args.preset == Preset::Quick
        && args.tasks.is_empty()
        && args.sizes.is_empty()
        && args.workload.is_none()
        && args.input.is_none();
    args.budget.or(quick.then_some(QUICK_BUDGET))
}

/// The workloads to sweep: every (tasks, size) of the lists, the preset's numbers where a
/// list is not given.
fn workloads(args: &SweepArgs, machine: &Machine, op: Operation) -> Vec<(usize, usize)> {
    let preset = args.preset.workload(machine.default_parallelism, op);
    let or_preset = |list: &[usize], one: usize| {
        if list.is_empty() {
            vec![one]
        } else {
            list.to_vec()
        }
    };
    let sizes = or_preset(&args.sizes, preset.size);
    or_preset(&args.tasks, preset.tasks)
        .into_iter()
        .flat_map(|t| sizes.iter().map(move |&n| (t, n)))
        .collect()
}

/// The backends named (each must be built), or every built one.
fn built_backends(named: &[String]) -> anyhow::Result<Vec<String>> {
    let backends: Vec<String> = if named.is_empty() {
        blaspar_core::registry::names()
            .filter(|b| blaspar_core::registry::engine_path(b).exists())
            .map(str::to_string)
            .collect()
    } else {
        named.to_vec()
    };
    for b in &backends {
        let path = blaspar_core::registry::engine_path(b);
        anyhow::ensure!(
            path.exists(),
            "the {b} engine is not built (looked for {}): run scripts/build.sh",
            path.display()
        );
    }
    anyhow::ensure!(
        !backends.is_empty(),
        "no engine is built: run scripts/build.sh"
    );
    Ok(backends)
}

/// `target/blaspar-sweeps/<unix time>`.
fn default_out() -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Path::new("target/blaspar-sweeps").join(stamp.to_string())
}

/// Creates (or resumes) the sweep's folder: logs this command line for the README (a
/// resumed sweep has several) and reads the rows measured so far.
fn open_folder(out: &Path, runs_path: &Path) -> anyhow::Result<Vec<Row>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.join("commands.log"))
        .with_context(|| format!("cannot write to {}", out.display()))?;
    writeln!(log, "{}", std::env::args().collect::<Vec<_>>().join(" "))?;
    read_rows(runs_path)
}

/// The folder's peak: measured once (with `measure`: on that many CPUs for that long), so
/// every row of a resumed sweep compares to one figure; without `measure` it must be there.
fn peak_of_folder(
    out: &Path,
    measure: Option<(usize, std::time::Duration)>,
) -> anyhow::Result<Peak> {
    let peak_path = out.join("peak.json");
    let peak: Peak = match (std::fs::read_to_string(&peak_path), measure) {
        (Ok(text), _) => serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a peak measurement: remove it to measure again",
                peak_path.display()
            )
        })?,
        (Err(_), Some((cpus, seconds))) => {
            let p = blaspar_core::peak::measure(cpus, seconds);
            std::fs::write(&peak_path, serde_json::to_string_pretty(&p)? + "\n")?;
            p
        }
        (Err(e), None) => anyhow::bail!("cannot read {}: {e}", peak_path.display()),
    };
    eprintln!(
        "peak (measured, {}): one core {:.1} GFLOP/s, {} CPUs {:.1} GFLOP/s",
        peak.isa, peak.one_core_gflops, peak.threads, peak.all_cores_gflops
    );
    Ok(peak)
}

/// Every (workload, backend, strategy, generation) to measure.
fn configurations(
    workloads: &[(usize, usize)],
    backends: &[String],
    base: &[Strategy],
    wanted: &[Generation],
) -> Vec<Config> {
    let mut configs = Vec::new();
    for &w in workloads {
        for b in backends {
            for s in base {
                for g in generations(s, wanted) {
                    configs.push((w, b.clone(), *s, g));
                }
            }
        }
    }
    configs
}

/// The plots of every workload measured (and the scaling plot with several), in the grid's
/// order, then anything measured around the best.
/// `named`: the workload's name in titles (a workload file's or a folder's).
fn draw_plots(
    out: &Path,
    rows: &[Row],
    configs: &[Config],
    peak: &Peak,
    named: Option<&str>,
) -> anyhow::Result<()> {
    // The plots know nothing of runs: each summary becomes the plain values they draw.
    let sums: Vec<Measured> = summarise(rows)
        .into_iter()
        .map(|s| Measured {
            label: s.label(),
            backend: s.backend,
            strategy: s.strategy,
            tasks: s.tasks,
            size: s.size,
            named: named.map(str::to_string),
            median_seconds: s.median_seconds,
            min_seconds: s.min_seconds,
            max_seconds: s.max_seconds,
            median_gflops: s.median_gflops,
        })
        .collect();
    let mut order: Vec<String> = Vec::new();
    let labels = configs.iter().map(|(_, _, s, g)| label(&s.to_string(), *g));
    for l in labels.chain(rows.iter().map(|r| label(&r.strategy, r.generation))) {
        if !order.contains(&l) {
            order.push(l);
        }
    }
    let mut measured: Vec<(usize, usize)> = sums.iter().map(|s| (s.tasks, s.size)).collect();
    measured.sort_unstable();
    measured.dedup();
    let many = measured.len() > 1;
    for &(tasks, size) in &measured {
        let here: Vec<Measured> = sums
            .iter()
            .filter(|s| (s.tasks, s.size) == (tasks, size))
            .cloned()
            .collect();
        let suffix = if many {
            format!("-{tasks}x{size}")
        } else {
            String::new()
        };
        let peak = peak.all_cores_gflops;
        let file = out.join(format!("strategies{suffix}.svg"));
        blaspar_plot::bars::strategies(&here, &order, peak, &file)?;
        let mut backends: Vec<&str> = here.iter().map(|s| s.backend.as_str()).collect();
        backends.sort_unstable();
        backends.dedup();
        for b in backends {
            let refused: Vec<String> = rows
                .iter()
                .filter(|r| r.backend == b && (r.tasks, r.size) == (tasks, size))
                .filter(|r| r.refused.is_some())
                .map(|r| r.strategy.clone())
                .collect();
            let file = out.join(format!("heatmap-{b}{suffix}.svg"));
            blaspar_plot::heatmap::heatmap(b, &here, &refused, peak, &file)?;
        }
    }
    if many {
        blaspar_plot::scaling::scaling(&sums, peak.all_cores_gflops, &out.join("scaling.svg"))?;
    }
    eprintln!(
        "plots: {}/strategies*.svg, heatmap-<backend>*.svg (and scaling.svg with several workloads)",
        out.display()
    );
    Ok(())
}

/// The generations of `wanted` that differ for `strategy`: parallel generation only where
/// a worker runs more than one BLAS thread (or the library default), overlapped where the
/// strategy takes it ([`generation_refused`]); serial in their place otherwise.
fn generations(strategy: &Strategy, wanted: &[Generation]) -> Vec<Generation> {
    let many = match strategy.blas_threads().requested() {
        Some(t) => t > 1,
        None => true,
    };
    let differs = |g: Generation| match g {
        Generation::Serial => true,
        Generation::Parallel => many,
        Generation::Overlapped => generation_refused(*strategy, g).is_none(),
    };
    let mut out: Vec<Generation> = wanted
        .iter()
        .map(|&g| if differs(g) { g } else { Generation::Serial })
        .collect();
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        out.push(Generation::Serial);
    }
    out
}

/// Measures every configuration `repeats` times (rounds 1 to `repeats`), then, with
/// `refine`, the neighbours of each backend's best as many times (the rounds after).
fn every_configuration(
    ctx: &mut Measure,
    rows: &mut Vec<Row>,
    configs: &[Config],
    repeats: usize,
    refine: Option<usize>,
    margin: f64,
) -> anyhow::Result<Race> {
    let mut race = Race::without_drops(configs, margin);
    for round in 1..=repeats {
        if !ctx.measure(configs, rows, round, "grid")? {
            return Ok(race);
        }
    }
    if let Some(cpus) = refine {
        let extra = around_best(rows, configs, cpus);
        announce(&extra);
        race.add(&extra);
        for round in repeats + 1..=2 * repeats {
            if !ctx.measure(&extra, rows, round, "around the best")? {
                break;
            }
        }
    }
    race.decide(rows, usize::MAX);
    Ok(race)
}

/// Races the configurations ([`crate::race`]): every one once, then repeats only for the
/// contenders; with `refine`, the neighbours of the contenders not slower after round 2 join the race.
fn racing(
    ctx: &mut Measure,
    rows: &mut Vec<Row>,
    configs: &[Config],
    args: &SweepArgs,
    refine: Option<usize>,
) -> anyhow::Result<Race> {
    let mut race = Race::new(configs, args.margin / 100.0);
    for round in 1.. {
        let plan = race.plan(rows, round, args.repeats, args.max_repeats);
        if plan.is_empty() && round > 2 {
            break;
        }
        let phase = format!("round {round}");
        let floor = if round == 2 {
            race.noise_floor(rows)
        } else {
            Vec::new()
        };
        if !ctx.measure_at_least(&plan, &floor, rows, round, &phase)? {
            break;
        }
        race.decide(rows, round);
        if round == 2
            && let Some(cpus) = refine
        {
            let extra = around(&race.tie_leaders(rows), configs, cpus);
            announce(&extra);
            race.add(&extra);
        }
    }
    Ok(race)
}

fn announce(extra: &[Config]) {
    if !extra.is_empty() {
        let names: Vec<String> = extra.iter().map(crate::race::name).collect();
        eprintln!("around the best: {}", names.join(", "));
    }
}

/// Where and how measurements run.
struct Measure<'a> {
    out: &'a Path,
    runs_path: &'a Path,
    op: Operation,
    source: Source<'a>,
    results: ResultMode,
    /// When the time budget runs out.
    deadline: Option<std::time::Instant>,
    /// Whether a measurement was skipped for the budget.
    budget_spent: bool,
}

impl Measure<'_> {
    /// Measures each configuration of `plan` once as round `round`, in an order shuffled by
    /// the round, skipping what `rows` already holds for the round; appends each row as
    /// measured. `false` when the time budget ran out (what was measured is kept).
    fn measure(
        &mut self,
        plan: &[Config],
        rows: &mut Vec<Row>,
        round: usize,
        phase: &str,
    ) -> anyhow::Result<bool> {
        self.measure_at_least(plan, &[], rows, round, phase)
    }

    /// [`Measure::measure`], with the configurations of `floor` (a part of `plan`) first,
    /// measured even when the time budget is spent.
    fn measure_at_least(
        &mut self,
        plan: &[Config],
        floor: &[Config],
        rows: &mut Vec<Row>,
        round: usize,
        phase: &str,
    ) -> anyhow::Result<bool> {
        let (first, rest): (Vec<Config>, Vec<Config>) =
            plan.iter().cloned().partition(|c| floor.contains(c));
        let todo: Vec<Config> = shuffled(&first, round as u64)
            .into_iter()
            .chain(shuffled(&rest, round as u64))
            .filter(|c| !rows.iter().any(|r| r.round == round && measures(r, c)))
            .filter(|c| !rows.iter().any(|r| r.refused.is_some() && measures(r, c)))
            .collect();
        if todo.is_empty() {
            return Ok(true);
        }
        eprintln!("{phase}: {} measurements to do", todo.len());
        let bar = ProgressBar::new(todo.len() as u64).with_style(
            ProgressStyle::with_template("{msg:48} [{bar:30}] {pos}/{len}, {elapsed} (eta {eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        let json = self.out.join("last-run.json");
        for config in todo {
            if round > 1
                && !floor.contains(&config)
                && self
                    .deadline
                    .is_some_and(|d| std::time::Instant::now() >= d)
            {
                bar.finish_and_clear();
                eprintln!(
                    "{phase}: the time budget is spent; the answer is from what was measured"
                );
                self.budget_spent = true;
                return Ok(false);
            }
            let repeat = 1 + rows.iter().filter(|r| measures(r, &config)).count();
            bar.set_message(format!("{} (run {repeat})", crate::race::name(&config)));
            let row = self.run(&config, repeat, round, &json, &bar)?;
            crate::jsonl::append(self.runs_path, &row)?;
            rows.push(row);
            bar.inc(1);
        }
        bar.finish_and_clear();
        let _ = std::fs::remove_file(&json);
        Ok(true)
    }

    /// One engine run of `config`: its row.
    fn run(
        &self,
        config: &Config,
        repeat: usize,
        round: usize,
        json: &Path,
        bar: &ProgressBar,
    ) -> anyhow::Result<Row> {
        let ((tasks, size), backend, strategy, generation) = config.clone();
        let name = strategy.to_string();
        let outcome = Spec {
            backend: &backend,
            strategy: &name,
            tasks,
            size,
            op: self.op,
            generation,
            results: self.results,
            source: self.source,
        }
        .run(json)?;
        let (record, refused) = match outcome {
            Outcome::Measured(record) => (Some(*record), None),
            Outcome::Unsupported(why) => (None, Some(why)),
            Outcome::Failed { status, stderr } => {
                bar.abandon();
                anyhow::bail!(
                    "{backend} {name} on {tasks}x{size} (run {repeat}) failed ({status}): {stderr} -- measured rows are kept in {}; run the same command with --out {} to resume",
                    self.runs_path.display(),
                    self.out.display()
                );
            }
        };
        Ok(Row {
            backend,
            strategy: name,
            tasks,
            size,
            generation,
            operation: self.op,
            repeat,
            round,
            record,
            refused,
        })
    }
}

/// The neighbours of `set`'s configurations (same backend, workload and generation) that
/// `base` does not hold.
fn around(set: &[Config], base: &[Config], cpus: usize) -> Vec<Config> {
    let mut out = Vec::new();
    for (w, b, s, g) in set {
        for n in s.neighbours(cpus) {
            let c = (*w, b.clone(), n, generations(&n, &[*g])[0]);
            if !base.contains(&c) && !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// Configurations around each backend's best (per workload) that the grid did not measure,
/// with the best's data generation.
fn around_best(rows: &[Row], base: &[Config], cpus: usize) -> Vec<Config> {
    let mut bests: Vec<Config> = Vec::new();
    // summarise sorts fastest first: the first summary per (workload, backend) is its best.
    for s in summarise(rows) {
        let w = (s.tasks, s.size);
        if bests.iter().any(|(x, b, _, _)| *x == w && *b == s.backend) {
            continue;
        }
        if let Ok(strategy) = s.strategy.parse::<Strategy>() {
            bests.push((w, s.backend, strategy, s.generation));
        }
    }
    around(&bests, base, cpus)
}

fn read_rows(path: &Path) -> anyhow::Result<Vec<Row>> {
    let rows: Vec<Row> = crate::jsonl::read(path, "a sweep row")?;
    Ok(rows
        .into_iter()
        .map(|mut row| {
            // Rows written before workload lists carry the workload in the record only.
            if let (0, Some(rec)) = (row.tasks, &row.record) {
                (row.tasks, row.size) = (rec.tasks, rec.size);
            }
            // Rows written before rounds: each repeat was a round.
            if row.round == 0 {
                row.round = row.repeat;
            }
            row
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_generation_only_where_workers_have_blas_threads() {
        let both = [Generation::Serial, Generation::Parallel];
        let g = |s: &str, w: &[Generation]| generations(&s.parse().unwrap(), w);
        assert_eq!(g("blas-2", &both), both);
        assert_eq!(g("blas-default", &both), both);
        assert_eq!(
            g("hybrid-procs-2x2", &[Generation::Parallel]),
            [Generation::Parallel]
        );
        assert_eq!(g("threads-2", &both), [Generation::Serial]);
        assert_eq!(
            g("sequential", &[Generation::Parallel]),
            [Generation::Serial]
        );
        assert_eq!(label("blas-2", Generation::Parallel), "blas-2+pgen");
        assert_eq!(label("blas-2", Generation::Serial), "blas-2");
    }

    #[test]
    fn overlapped_generation_everywhere_but_batches() {
        let on_off = [Generation::Serial, Generation::Overlapped];
        let g = |s: &str| generations(&s.parse().unwrap(), &on_off);
        for s in [
            "sequential",
            "threads-2",
            "procs-2",
            "blas-2",
            "hybrid-procs-2x2",
        ] {
            assert_eq!(g(s), on_off, "{s}");
        }
        assert_eq!(g("batched-2"), [Generation::Serial]);
        assert_eq!(
            generations(&"batched-2".parse().unwrap(), &[Generation::Overlapped]),
            [Generation::Serial]
        );
        assert_eq!(label("procs-2", Generation::Overlapped), "procs-2+ogen");
    }

    #[test]
    fn shuffles_are_permutations_that_differ_by_seed() {
        let items: Vec<usize> = (0..20).collect();
        let a = shuffled(&items, 1);
        let b = shuffled(&items, 2);
        assert_ne!(a, b);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, items);
        assert_eq!(shuffled(&items, 1), a);
    }
}

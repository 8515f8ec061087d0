//! `blaspar compare REV_A REV_B`: is B slower than A on this machine, beyond the noise?
//!
//! 1. Both revisions are resolved with git (`rev-parse --verify REV^{commit}`): compare
//!    measures committed code only, so a dirty working tree is named, not measured.
//! 2. Each revision is checked out, in turn, in compare's own git worktree
//!    (`target/blaspar-compare/worktree`, `git worktree add --detach`, then
//!    `git checkout --detach`) and built with `cargo build --release --locked`, one
//!    invocation per engine package as `scripts/build.sh` does, into one shared target folder
//!    (`target/blaspar-compare/target`: only what differs between the revisions rebuilds).
//!    The binaries (same names in both revisions) are copied to
//!    `target/blaspar-compare/bin/<sha>/` right after each build. A commit never changes, so a
//!    later compare reuses those binaries and builds nothing.
//! 3. For each benchmark (backend x strategy x workload) the two revisions' front ends run
//!    `blaspar run ... --json` alternately: after `--warmup` unmeasured runs of each, round
//!    r measures every benchmark (in a shuffled order) once on A and once on B, A first in
//!    one round and B first in the next (ABBA), so drift and order effects cancel out.
//!    Each measured record goes to `samples.jsonl` and to the history.
//! 4. [`crate::stats::compare_paired`] turns the pairs into B/A with a 95% interval and a
//!    verdict; the table is printed and written to `compare.md` and `compare.json`.
//!
//! Exit status: 0 no benchmark slower; 3 at least one slower beyond the threshold;
//! 2 bad command line or revision; 1 anything else failed (git, a build, a run).

use crate::engines::{run_args, shuffled};
use crate::stats::{self, Comparison, Verdict};
use anyhow::Context;
use blaspar_core::ResultMode;
use blaspar_core::args::{backend, positive, positive_percent, preset, strategy};
use blaspar_core::history;
use blaspar_core::machine::Machine;
use blaspar_core::registry::EXIT_UNSUPPORTED;
use blaspar_core::{Preset, Strategy};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Exit status when a benchmark is slower beyond the threshold.
pub const EXIT_SLOWER: u8 = 3;

pub use crate::stats::DEFAULT_SAMPLES;

/// Confidence level of the intervals.
pub const CONFIDENCE: f64 = 0.95;

#[derive(Debug, Args, Clone)]
pub struct CompareArgs {
    /// The baseline revision (anything `git rev-parse` takes: HEAD~1, a branch, a sha).
    #[arg(value_name = "REV_A")]
    pub rev_a: String,
    /// The revision compared with it.
    #[arg(value_name = "REV_B")]
    pub rev_b: String,
    /// Backends to measure, comma-separated (built in both revisions).
    #[arg(long, value_delimiter = ',', value_parser = backend, default_value = "matrixmultiply")]
    pub backends: Vec<String>,
    /// Strategies to measure, comma-separated (resolved against this machine once, so both
    /// revisions run the same text).
    #[arg(long, value_delimiter = ',', value_parser = strategy, default_value = "sequential,threads")]
    pub strategies: Vec<Strategy>,
    /// Named workload (quick or seed); --tasks and --size override its numbers.
    #[arg(long, default_value = "quick", value_parser = preset)]
    pub preset: Preset,
    /// Number of tasks.
    #[arg(long, short = 'n', value_name = "N", allow_hyphen_values = true, value_parser = positive)]
    pub tasks: Option<usize>,
    /// Matrix size.
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true, value_parser = positive)]
    pub size: Option<usize>,
    /// Measured pairs per benchmark (at least 6 for a 95% interval).
    #[arg(long, default_value_t = DEFAULT_SAMPLES, value_parser = positive)]
    pub samples: usize,
    /// Unmeasured runs of each revision per benchmark first (page cache, kernel probes).
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Smallest change that counts, in percent: slower needs B/A above 1 + PCT/100 and an
    /// interval wholly above 1.
    #[arg(long, value_name = "PCT", default_value = "3", value_parser = positive_percent)]
    pub threshold: f64,
    /// Folder for samples.jsonl, compare.json and compare.md
    /// (default: target/blaspar-compare/runs/<time>-<A>-<B>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Shared cargo target folder for both revisions' builds
    /// (default: target/blaspar-compare/target; never your own target/release).
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// History file each sample is appended to (`off`: none; default: $BLASPAR_HISTORY,
    /// else results/history.jsonl).
    #[arg(long, value_name = "FILE")]
    pub history: Option<String>,
}

/// Errors that are the user's input, not a failure (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("'{rev}' is not a commit of {repo}: {reason}")]
    BadRevision {
        rev: String,
        repo: String,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The exit status of a compare that failed.
pub fn error_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<InputError>().is_some() {
        2
    } else {
        1
    }
}

/// Runs git with `args` in `dir`; its trimmed stdout, or an error with its stderr.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "git is not installed or not on PATH: compare checks out each revision in a git worktree"
                )
            } else {
                anyhow::anyhow!("cannot run git: {e}")
            }
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        anyhow::bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    }
}

/// The engine package (and features) that builds a backend's engine, as in `scripts/lib.sh`.
pub fn engine_build(backend: &str) -> (&'static str, Option<&'static str>) {
    match backend {
        "blis" => ("blaspar-blis", None),
        b if b.starts_with("openblas-") => ("blaspar-openblas", None),
        "mkl-seq" => ("blaspar-mkl", Some("seq")),
        "mkl-iomp" => ("blaspar-mkl", Some("iomp")),
        "faer" => ("blaspar-faer", None),
        _ => ("blaspar-matrixmultiply", None),
    }
}

/// Stands for the package of the front binary `blaspar`, which depends on the revision.
const FRONT: &str = "(front)";

/// The package that builds the front binary in a checkout: `blaspar-cli`, or
/// `blaspar-runner` in revisions before the engine / lab / CLI split.
fn front_package(tree: &Path) -> &'static str {
    if tree.join("crates/cli/Cargo.toml").exists() {
        "blaspar-cli"
    } else {
        "blaspar-runner"
    }
}

/// One revision: as named, its commit, and the folder of its binaries.
#[derive(Clone, Debug, Serialize)]
pub struct Rev {
    pub name: String,
    pub commit: String,
    pub bin: PathBuf,
}

/// Resolves `rev` to a full commit id in `repo`.
fn resolve(repo: &Path, rev: &str) -> anyhow::Result<String> {
    if rev.starts_with('-') {
        return Err(InputError::BadRevision {
            rev: rev.to_string(),
            repo: repo.display().to_string(),
            reason: "revisions do not start with '-'".to_string(),
        }
        .into());
    }
    git(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|e| {
        InputError::BadRevision {
            rev: rev.to_string(),
            repo: repo.display().to_string(),
            reason: format!("{e:#}"),
        }
        .into()
    })
}

/// Builds (or finds already built) the front end and the engines of `backends` at `commit`.
fn ensure_built(
    repo: &Path,
    work: &Path,
    target_dir: &Path,
    commit: &str,
    backends: &[String],
) -> anyhow::Result<PathBuf> {
    let bin = work.join("bin").join(commit);
    let short = &commit[..10.min(commit.len())];
    // (package, features, binaries) still missing from the bin folder.
    let mut builds: Vec<(&str, Option<&str>, Vec<String>)> = Vec::new();
    let mut want = |package: &'static str, features: Option<&'static str>, name: String| {
        if bin.join(&name).exists() {
            return;
        }
        match builds
            .iter_mut()
            .find(|(p, f, _)| *p == package && *f == features)
        {
            Some(b) => b.2.push(name),
            None => builds.push((package, features, vec![name])),
        }
    };
    want(FRONT, None, "blaspar".to_string());
    for b in backends {
        let (p, f) = engine_build(b);
        want(p, f, blaspar_core::registry::engine_binary_name(b));
    }
    if builds.is_empty() {
        eprintln!("{short}: built binaries found in {}", bin.display());
        return Ok(bin);
    }
    // One build at a time per checkout: the worktree and the target folder are shared.
    std::fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    let lock_path = work.join("build.lock");
    let lock_file = std::fs::File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    let _lock = history::LockedFile::exclusive(lock_file)
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;
    // Every revision builds in the same worktree path. Cargo keys path packages by their
    // path relative to the workspace, so two worktrees at different paths would share (and
    // overwrite) the same artifacts anyway, and build scripts that bake in an absolute path
    // (`env!("CARGO_MANIFEST_DIR")`) would read a removed worktree. One path keeps those
    // right, and a checkout rewrites only the files that differ, so only crates that changed
    // between the two revisions rebuild.
    let tree = work.join("worktree");
    let usable = tree.join(".git").exists()
        && git(&tree, &["rev-parse", "--show-toplevel"])
            .is_ok_and(|t| Path::new(&t).canonicalize().ok() == tree.canonicalize().ok());
    if usable {
        eprintln!("{short}: checking out in {}", tree.display());
        git(
            &tree,
            &["checkout", "--quiet", "--detach", "--force", commit],
        )
        .and_then(|_| git(&tree, &["clean", "-fdq"]))
        .with_context(|| format!("cannot check out {short} in {}", tree.display()))?;
    } else {
        if tree.exists() {
            let _ = git(
                repo,
                &["worktree", "remove", "--force", &tree.display().to_string()],
            );
            let _ = std::fs::remove_dir_all(&tree);
        }
        git(repo, &["worktree", "prune"])?;
        eprintln!("{short}: checking out in a new worktree {}", tree.display());
        git(
            repo,
            &[
                "worktree",
                "add",
                "--detach",
                "--force",
                &tree.display().to_string(),
                commit,
            ],
        )
        .with_context(|| format!("cannot check out {short} in a worktree"))?;
    }
    std::fs::create_dir_all(&bin).with_context(|| format!("cannot create {}", bin.display()))?;
    // The worktree has no .deps of its own (ignored by git): point MKL at the checkout's.
    let mklroot = std::env::var_os("MKLROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join(".deps/mkl"));
    for (package, features, names) in &builds {
        let package = if *package == FRONT {
            front_package(&tree)
        } else {
            package
        };
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&tree)
            .args(["build", "--release", "--locked", "-p", package])
            .env("CARGO_TARGET_DIR", target_dir)
            .env("BLASPAR_COMMIT", commit)
            .env("MKLROOT", &mklroot)
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        if let Some(f) = features {
            cmd.args(["--features", f]);
        }
        eprintln!(
            "{short}: cargo build --release --locked -p {package}{}",
            features.map_or(String::new(), |f| format!(" --features {f}"))
        );
        let status = cmd.status().map_err(|e| {
            anyhow::anyhow!("cannot run cargo ({e}): compare builds each revision with cargo")
        })?;
        if !status.success() {
            anyhow::bail!(
                "building {package} at {short} failed ({status}; output above; the worktree is {})",
                tree.display()
            );
        }
        for name in names {
            let from = target_dir.join("release").join(name);
            let tmp = bin.join(format!(".{name}.tmp"));
            std::fs::copy(&from, &tmp)
                .with_context(|| format!("{short}: cannot copy {}", from.display()))?;
            std::fs::rename(&tmp, bin.join(name))
                .with_context(|| format!("{short}: cannot place {name} in {}", bin.display()))?;
        }
    }
    Ok(bin)
}

/// One benchmark: backend, strategy text, workload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bench {
    pub backend: String,
    pub strategy: String,
    pub tasks: usize,
    pub size: usize,
}

impl Bench {
    pub fn id(&self) -> String {
        history::benchmark_id(&self.backend, &self.strategy, self.tasks, self.size)
    }
}

/// What one run gave.
enum Outcome {
    Measured {
        seconds: f64,
        record: serde_json::Value,
    },
    Refused(String),
}

/// Runs `bench` once with `rev`'s binaries.
fn run_once(rev: &Rev, bench: &Bench, json: &Path) -> anyhow::Result<Outcome> {
    let _ = std::fs::remove_file(json);
    let front = rev.bin.join("blaspar");
    let output = Command::new(&front)
        .args(run_args(
            &bench.backend,
            &bench.strategy,
            bench.tasks,
            bench.size,
            blaspar_core::workload::Generation::Serial,
            ResultMode::Matrices,
            json,
        ))
        .env("BLASPAR_ENGINE_DIR", &rev.bin)
        // compare appends the samples itself (older revisions do not write history).
        .env(history::ENV, "off")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot start {}", front.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        // Refusals are told by the exit status (revisions before it existed exit 1 and
        // stop the compare with their message).
        if output.status.code() == Some(i32::from(EXIT_UNSUPPORTED)) {
            let why = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Ok(Outcome::Refused(
                why.trim_start_matches("error: ").to_string(),
            ));
        }
        anyhow::bail!(
            "{} at {} ({}) failed ({}): {}",
            bench.id(),
            rev.name,
            history::short(&rev.commit),
            output.status,
            stderr.trim()
        );
    }
    let text = std::fs::read_to_string(json)
        .with_context(|| format!("{} at {}: no record written", bench.id(), rev.name))?;
    let record: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} at {}: the record does not parse", bench.id(), rev.name))?;
    let seconds = record["seconds_total"]
        .as_f64()
        .filter(|s| s.is_finite() && *s > 0.0)
        .with_context(|| {
            format!(
                "{} at {}: the record has no seconds_total",
                bench.id(),
                rev.name
            )
        })?;
    Ok(Outcome::Measured { seconds, record })
}

/// A sample line of `samples.jsonl`.
#[derive(Serialize)]
struct Sample<'a> {
    benchmark: String,
    round: usize,
    /// 0 when this revision ran first in its pair, 1 when second.
    position: usize,
    /// `A` or `B`.
    rev: &'static str,
    commit: &'a str,
    seconds: f64,
    record: &'a serde_json::Value,
}

/// The result of one benchmark.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    pub benchmark: String,
    /// Seconds of each pair (A, B), in measuring order.
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub comparison: Option<Comparison>,
    /// Why the benchmark was not measured (a revision refused the strategy).
    pub refused: Option<String>,
}

/// `compare.json`.
#[derive(Serialize)]
struct Report<'a> {
    a: &'a Rev,
    b: &'a Rev,
    command: String,
    machine: &'a Machine,
    pairs: usize,
    warmup: usize,
    threshold_pct: f64,
    confidence: f64,
    results: &'a [BenchResult],
    slower: Vec<String>,
    /// Highest 1-minute load average seen before a run (other jobs on the machine).
    max_load_average: f64,
}

/// The 1-minute load average (0 when unknown).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The table printed and written to `compare.md`.
pub fn table(results: &[BenchResult]) -> String {
    let mut s = format!(
        "| benchmark | A median s | B median s | B/A | {:.0}% interval | verdict |\n|---|---:|---:|---:|---|---|\n",
        CONFIDENCE * 100.0
    );
    for r in results {
        match (&r.comparison, &r.refused) {
            (Some(c), _) => s.push_str(&format!(
                "| {} | {:.4} | {:.4} | {:.3} | [{:.3}, {:.3}] | {} |\n",
                r.benchmark, c.median_a, c.median_b, c.ratio, c.ci_low, c.ci_high, c.verdict
            )),
            (None, why) => s.push_str(&format!(
                "| {} | | | | | not measured: {} |\n",
                r.benchmark,
                why.as_deref().unwrap_or("?")
            )),
        }
    }
    s
}

/// Runs the compare; the exit status says whether a benchmark is slower.
pub fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let min = stats::min_pairs(CONFIDENCE);
    if args.samples < min {
        return Err(InputError::Invalid(format!(
            "--samples {} is too few for a {:.0}% interval: at least {min}",
            args.samples,
            CONFIDENCE * 100.0
        ))
        .into());
    }
    let machine = Machine::detect();
    let mut workload = args.preset.workload(machine.default_parallelism);
    workload.tasks = args.tasks.unwrap_or(workload.tasks);
    workload.size = args.size.unwrap_or(workload.size);
    let cwd = std::env::current_dir().context("no current directory")?;
    let repo =
        PathBuf::from(git(&cwd, &["rev-parse", "--show-toplevel"]).map_err(|e| {
            anyhow::anyhow!("compare runs inside a git checkout of blaspar: {e:#}")
        })?);
    let commit_a = resolve(&repo, &args.rev_a)?;
    let commit_b = resolve(&repo, &args.rev_b)?;
    let head = git(&repo, &["rev-parse", "HEAD"])?;
    if (commit_a == head || commit_b == head)
        && !git(&repo, &["status", "--porcelain", "--untracked-files=no"])?.is_empty()
    {
        eprintln!(
            "note: the working tree has uncommitted changes; compare measures committed revisions \
             (HEAD = {}): commit the changes to compare them",
            history::short(&head)
        );
    }
    let work = repo.join("target/blaspar-compare");
    let target_dir = args
        .target_dir
        .clone()
        .unwrap_or_else(|| work.join("target"));
    let mut revs = Vec::new();
    for (name, commit) in [(&args.rev_a, &commit_a), (&args.rev_b, &commit_b)] {
        let bin = ensure_built(&repo, &work, &target_dir, commit, &args.backends)?;
        revs.push(Rev {
            name: name.clone(),
            commit: commit.clone(),
            bin,
        });
    }
    let (a, b) = (&revs[0], &revs[1]);
    let out = args.out.clone().unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        work.join("runs").join(format!(
            "{now}-{}-{}",
            &commit_a[..7.min(commit_a.len())],
            &commit_b[..7.min(commit_b.len())]
        ))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let history_path = history::resolve(args.history.as_deref());

    let mut benches = Vec::new();
    for backend in &args.backends {
        for s in &args.strategies {
            let bench = Bench {
                backend: backend.clone(),
                strategy: s.to_string(),
                tasks: workload.tasks,
                size: workload.size,
            };
            if !benches.contains(&bench) {
                benches.push(bench);
            }
        }
    }
    let mut results: Vec<BenchResult> = benches
        .iter()
        .map(|b| BenchResult {
            benchmark: b.id(),
            a: vec![],
            b: vec![],
            comparison: None,
            refused: None,
        })
        .collect();
    eprintln!(
        "A = {} ({}), B = {} ({}): {} benchmark(s), {} warm-up + {} measured pairs each, in {}",
        a.name,
        history::short(&a.commit),
        b.name,
        history::short(&b.commit),
        benches.len(),
        args.warmup,
        args.samples,
        out.display()
    );
    let samples_path = out.join("samples.jsonl");
    let mut samples_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&samples_path)
        .with_context(|| format!("cannot open {}", samples_path.display()))?;
    let json = out.join("last-run.json");
    let rounds = args.warmup + args.samples;
    let bar = ProgressBar::new((rounds * benches.len() * 2) as u64).with_style(
        ProgressStyle::with_template("{msg:48} [{bar:30}] {pos}/{len} runs, {elapsed} (eta {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    // Reproducible order, different for every pair of commits.
    let seed = u64::from_str_radix(&commit_a[..16.min(commit_a.len())], 16).unwrap_or(1)
        ^ u64::from_str_radix(&commit_b[..16.min(commit_b.len())], 16)
            .unwrap_or(2)
            .rotate_left(17);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let first_b: Vec<bool> = benches.iter().map(|_| rng.next_u64() & 1 == 1).collect();
    let cpus = machine.cpus_allowed.len().max(1);
    let mut busiest: f64 = 0.0;
    for round in 0..rounds {
        let warm = round < args.warmup;
        let order: Vec<usize> =
            shuffled(&(0..benches.len()).collect::<Vec<_>>(), seed ^ round as u64);
        for i in order {
            let bench = &benches[i];
            if results[i].refused.is_some() {
                bar.inc(2);
                continue;
            }
            // Balanced order (A B, B A, A B, ... per benchmark, starting side drawn once):
            // a position effect (the second run of a pair finding warm caches) and linear
            // drift cancel exactly over each two rounds, not just on average.
            let b_first = (round % 2 == 1) != first_b[i];
            let pair: [(&Rev, &'static str); 2] = if b_first {
                [(b, "B"), (a, "A")]
            } else {
                [(a, "A"), (b, "B")]
            };
            for (position, (rev, label)) in pair.into_iter().enumerate() {
                bar.set_message(format!(
                    "{} {} ({}{})",
                    bench.id(),
                    label,
                    if warm { "warm-up " } else { "round " },
                    if warm {
                        round + 1
                    } else {
                        round + 1 - args.warmup
                    }
                ));
                busiest = busiest.max(load_average());
                let outcome = match run_once(rev, bench, &json) {
                    Ok(o) => o,
                    Err(e) => {
                        bar.abandon();
                        return Err(e.context(format!(
                            "samples measured so far are in {}",
                            samples_path.display()
                        )));
                    }
                };
                bar.inc(1);
                match outcome {
                    Outcome::Refused(why) => {
                        results[i].refused = Some(format!("{label} ({}): {why}", rev.name));
                        bar.inc(1 - position as u64);
                        break;
                    }
                    Outcome::Measured { .. } if warm => {}
                    Outcome::Measured { seconds, record } => {
                        if label == "A" {
                            results[i].a.push(seconds);
                        } else {
                            results[i].b.push(seconds);
                        }
                        let mut line = serde_json::to_string(&Sample {
                            benchmark: bench.id(),
                            round: round + 1 - args.warmup,
                            position,
                            rev: label,
                            commit: &rev.commit,
                            seconds,
                            record: &record,
                        })?;
                        line.push('\n');
                        samples_file
                            .write_all(line.as_bytes())
                            .with_context(|| format!("cannot write {}", samples_path.display()))?;
                        if let Some(h) = &history_path {
                            history::append(h, &history::Entry::from_record(record, "compare")?)?;
                        }
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    let _ = std::fs::remove_file(&json);
    let threshold = args.threshold / 100.0;
    for r in results.iter_mut().filter(|r| r.refused.is_none()) {
        r.comparison = Some(
            stats::compare_paired(&r.a, &r.b, threshold, CONFIDENCE)
                .with_context(|| format!("{}: no comparison", r.benchmark))?,
        );
    }
    if results.iter().all(|r| r.comparison.is_none()) {
        anyhow::bail!(
            "nothing was measured: {}",
            results
                .iter()
                .filter_map(|r| r.refused.clone())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let slower: Vec<String> = results
        .iter()
        .filter(|r| {
            r.comparison
                .as_ref()
                .is_some_and(|c| c.verdict == Verdict::Slower)
        })
        .map(|r| r.benchmark.clone())
        .collect();
    // Our own run accounts for about one CPU of load (threads-P for more): beyond that,
    // other jobs shared the machine.
    let busy_note = (busiest > cpus as f64 + 0.5).then(|| {
        format!(
            "note: the machine was busy during the compare (1-minute load average up to {busiest:.1} on {cpus} CPUs): \
             other jobs add noise; the intervals include it, but a verdict near the threshold is less sure, and \
             heavy contention that changes between the two runs of a pair can still mislead"
        )
    });
    if let Some(n) = &busy_note {
        eprintln!("{n}");
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let heading = format!(
        "A = {} ({}), B = {} ({}); {} pairs per benchmark, alternated (A B, then B A); \
         threshold {}%; B/A is the Hodges-Lehmann estimate of the paired ratios, with its {:.0}% interval",
        a.name,
        history::short(&a.commit),
        b.name,
        history::short(&b.commit),
        args.samples,
        args.threshold,
        CONFIDENCE * 100.0
    );
    let table = table(&results);
    println!("{heading}\n\n{table}");
    let summary = if slower.is_empty() {
        "no benchmark is slower beyond the threshold".to_string()
    } else {
        format!("SLOWER beyond {}%: {}", args.threshold, slower.join(", "))
    };
    println!("{summary}");
    let md = format!(
        "# compare {} .. {}\n\n`{command}`\n\n{heading}.\n\n{table}\n{summary}.\n\nMachine: {}, {} CPUs ({} allowed); \
         highest 1-minute load average seen: {busiest:.1}.\n{}\n\
         Verdicts: SLOWER / faster when the interval excludes 1 and the estimate is beyond the threshold; \
         no change when the interval lies within the threshold (or the change is real but smaller); \
         inconclusive when the interval reaches beyond the threshold without excluding 1 (more --samples).\n",
        a.name,
        b.name,
        machine.cpu_model,
        machine.logical_cpus,
        machine.cpus_allowed.len(),
        busy_note
            .as_deref()
            .map_or(String::new(), |n| format!("\n{n}.\n"))
    );
    std::fs::write(out.join("compare.md"), md).context("cannot write compare.md")?;
    let report = Report {
        a,
        b,
        command,
        machine: &machine,
        pairs: args.samples,
        warmup: args.warmup,
        threshold_pct: args.threshold,
        confidence: CONFIDENCE,
        results: &results,
        slower: slower.clone(),
        max_load_average: busiest,
    };
    let mut text = serde_json::to_string_pretty(&report)?;
    text.push('\n');
    std::fs::write(out.join("compare.json"), text).context("cannot write compare.json")?;
    Ok(if slower.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_SLOWER)
    })
}

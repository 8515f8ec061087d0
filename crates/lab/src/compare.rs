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
//! Steps 1 and 2 are here ([`compare`] reads as the list above), step 3 in `measure`,
//! step 4 in `report`.
//!
//! Exit status: 0 no benchmark slower; 3 at least one slower beyond the threshold;
//! 2 bad command line or revision; 1 anything else failed (git, a build, a run).

mod measure;
mod report;

pub use report::table;

use crate::stats::{self, Comparison};
use anyhow::Context;
use blaspar_core::args::{backend, operation, positive, positive_percent, preset, strategy};
use blaspar_core::history;
use blaspar_core::machine::Machine;
use blaspar_core::operation::Operation;
use blaspar_core::registry::{Engine, engine_binary_name};
use blaspar_core::{Preset, Strategy};
use clap::Args;
use serde::Serialize;
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
    /// What each task computes (see `run --help`): gemm, solve, cholesky, qr, eigh or svd.
    /// A revision from before an operation existed fails on it with its own message.
    #[arg(long, default_value = "gemm", value_parser = operation)]
    pub op: Operation,
    /// Named workload (quick or seed); --tasks and --size override its numbers. quick's
    /// size depends on the operation (`run --help`).
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

/// The git checkout compare runs in (the repository around the current directory).
fn repository() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("no current directory")?;
    let top = git(&cwd, &["rev-parse", "--show-toplevel"])
        .map_err(|e| anyhow::anyhow!("compare runs inside a git checkout of blaspar: {e:#}"))?;
    Ok(PathBuf::from(top))
}

/// Resolves `rev` to a full commit id in `repo`.
fn resolve_commit(repo: &Path, rev: &str) -> anyhow::Result<String> {
    let bad = |reason: String| InputError::BadRevision {
        rev: rev.to_string(),
        repo: repo.display().to_string(),
        reason,
    };
    if rev.starts_with('-') {
        return Err(bad("revisions do not start with '-'".to_string()).into());
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
    .map_err(|e| bad(format!("{e:#}")).into())
}

/// Says so when a revision is HEAD and the working tree has changes: compare measures the
/// commit, not the changes.
fn note_uncommitted_changes(repo: &Path, commits: [&str; 2]) -> anyhow::Result<()> {
    let head = git(repo, &["rev-parse", "HEAD"])?;
    if commits.contains(&head.as_str())
        && !git(repo, &["status", "--porcelain", "--untracked-files=no"])?.is_empty()
    {
        eprintln!(
            "note: the working tree has uncommitted changes; compare measures committed revisions \
             (HEAD = {}): commit the changes to compare them",
            history::short(&head)
        );
    }
    Ok(())
}

/// One cargo invocation of a revision's build and the binaries it leaves to copy.
#[derive(Debug, PartialEq)]
struct Build {
    /// The package, or [`FRONT`].
    package: &'static str,
    features: Option<&'static str>,
    binaries: Vec<String>,
}

/// The builds still needed for the front end and the engines of `backends`: binaries already
/// in `bin` (a commit never changes) are not built again.
fn missing_builds(bin: &Path, backends: &[String]) -> anyhow::Result<Vec<Build>> {
    let mut wanted = vec![(FRONT, None, "blaspar".to_string())];
    for b in backends {
        // Backends come from this version's registry (clap checked the names), and are
        // built the way it says; older revisions build their engines the same way.
        let engine = Engine::named(b).with_context(|| format!("unknown backend '{b}'"))?;
        let features = (!engine.features.is_empty()).then_some(engine.features);
        wanted.push((engine.package, features, engine_binary_name(b)));
    }
    let mut builds: Vec<Build> = Vec::new();
    for (package, features, name) in wanted {
        if bin.join(&name).exists() {
            continue;
        }
        match builds
            .iter_mut()
            .find(|b| b.package == package && b.features == features)
        {
            Some(b) => b.binaries.push(name),
            None => builds.push(Build {
                package,
                features,
                binaries: vec![name],
            }),
        }
    }
    Ok(builds)
}

/// Builds (or finds already built) the front end and the engines of `backends` at `commit`,
/// in `work`'s worktree, and copies them to `work/bin/<commit>`.
fn build_revision(
    repo: &Path,
    work: &Path,
    target_dir: &Path,
    name: &str,
    commit: &str,
    backends: &[String],
) -> anyhow::Result<Rev> {
    let bin = work.join("bin").join(commit);
    let rev = Rev {
        name: name.to_string(),
        commit: commit.to_string(),
        bin: bin.clone(),
    };
    let short = &commit[..10.min(commit.len())];
    let builds = missing_builds(&bin, backends)?;
    if builds.is_empty() {
        eprintln!("{short}: built binaries found in {}", bin.display());
        return Ok(rev);
    }
    // One build at a time per checkout: the worktree and the target folder are shared.
    std::fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    let lock_path = work.join("build.lock");
    let lock_file = std::fs::File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    let _lock = history::LockedFile::exclusive(lock_file)
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;
    let tree = work.join("worktree");
    check_out(repo, &tree, commit)?;
    std::fs::create_dir_all(&bin).with_context(|| format!("cannot create {}", bin.display()))?;
    // The worktree has no .deps of its own (ignored by git): point the libraries that
    // scripts/setup.sh installs there at the checkout's.
    let deps = Deps::of(repo);
    for build in &builds {
        cargo_build(&tree, target_dir, commit, &deps, build)?;
        for name in &build.binaries {
            copy_binary(&target_dir.join("release"), &bin, name, short)?;
        }
    }
    Ok(rev)
}

/// Checks `commit` out in compare's worktree `tree`, creating it when it is missing or not
/// a worktree of its own.
///
/// Every revision builds in the same worktree path. Cargo keys path packages by their path
/// relative to the workspace, so two worktrees at different paths would share (and
/// overwrite) the same artifacts anyway, and build scripts that bake in an absolute path
/// (`env!("CARGO_MANIFEST_DIR")`) would read a removed worktree. One path keeps those right,
/// and a checkout rewrites only the files that differ, so only crates that changed between
/// the two revisions rebuild.
fn check_out(repo: &Path, tree: &Path, commit: &str) -> anyhow::Result<()> {
    let short = &commit[..10.min(commit.len())];
    let usable = tree.join(".git").exists()
        && git(tree, &["rev-parse", "--show-toplevel"])
            .is_ok_and(|t| Path::new(&t).canonicalize().ok() == tree.canonicalize().ok());
    if usable {
        eprintln!("{short}: checking out in {}", tree.display());
        return git(
            tree,
            &["checkout", "--quiet", "--detach", "--force", commit],
        )
        .and_then(|_| git(tree, &["clean", "-fdq"]))
        .map(|_| ())
        .with_context(|| format!("cannot check out {short} in {}", tree.display()));
    }
    let tree_arg = tree.display().to_string();
    if tree.exists() {
        let _ = git(repo, &["worktree", "remove", "--force", &tree_arg]);
        let _ = std::fs::remove_dir_all(tree);
    }
    git(repo, &["worktree", "prune"])?;
    eprintln!("{short}: checking out in a new worktree {}", tree.display());
    git(
        repo,
        &["worktree", "add", "--detach", "--force", &tree_arg, commit],
    )
    .with_context(|| format!("cannot check out {short} in a worktree"))?;
    Ok(())
}

/// Where scripts/setup.sh installed the libraries of the checkout `repo` (its .deps), or
/// where the environment says they are.
struct Deps {
    mklroot: PathBuf,
    scipy_openblas: PathBuf,
}

impl Deps {
    fn of(repo: &Path) -> Deps {
        let var = |name: &str, default: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .unwrap_or_else(|| repo.join(default))
        };
        Deps {
            mklroot: var("MKLROOT", ".deps/mkl"),
            scipy_openblas: var("SCIPY_OPENBLAS_PREFIX", ".deps/scipy-openblas"),
        }
    }
}

/// Runs one cargo invocation of `build` in the checkout `tree` of `commit`.
fn cargo_build(
    tree: &Path,
    target_dir: &Path,
    commit: &str,
    deps: &Deps,
    build: &Build,
) -> anyhow::Result<()> {
    let short = &commit[..10.min(commit.len())];
    let package = if build.package == FRONT {
        front_package(tree)
    } else {
        build.package
    };
    let mut cmd = Command::new("cargo");
    cmd.current_dir(tree)
        .args(["build", "--release", "--locked", "-p", package])
        .env("CARGO_TARGET_DIR", target_dir)
        .env("BLASPAR_COMMIT", commit)
        .env("MKLROOT", &deps.mklroot)
        .env("SCIPY_OPENBLAS_PREFIX", &deps.scipy_openblas)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    if let Some(f) = build.features {
        cmd.args(["--features", f]);
    }
    eprintln!(
        "{short}: cargo build --release --locked -p {package}{}",
        build
            .features
            .map_or(String::new(), |f| format!(" --features {f}"))
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
    Ok(())
}

/// Copies a freshly built binary into a revision's bin folder; the rename makes it appear
/// whole or not at all, since its presence alone says it is built.
fn copy_binary(release: &Path, bin: &Path, name: &str, short: &str) -> anyhow::Result<()> {
    let from = release.join(name);
    let tmp = bin.join(format!(".{name}.tmp"));
    std::fs::copy(&from, &tmp)
        .with_context(|| format!("{short}: cannot copy {}", from.display()))?;
    std::fs::rename(&tmp, bin.join(name))
        .with_context(|| format!("{short}: cannot place {name} in {}", bin.display()))?;
    Ok(())
}

/// One benchmark: backend, strategy text, workload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bench {
    pub backend: String,
    pub strategy: String,
    pub op: Operation,
    pub tasks: usize,
    pub size: usize,
}

impl Bench {
    pub fn id(&self) -> String {
        history::benchmark_id(
            &self.backend,
            &self.strategy,
            self.op,
            self.tasks,
            self.size,
        )
    }
}

/// The benchmarks of a compare, each once: backends x strategies on the workload (preset
/// resolved against this machine, --tasks and --size overriding it).
fn benchmarks(args: &CompareArgs, machine: &Machine) -> Vec<Bench> {
    let mut workload = args.preset.workload(machine.default_parallelism, args.op);
    workload.tasks = args.tasks.unwrap_or(workload.tasks);
    workload.size = args.size.unwrap_or(workload.size);
    let mut benches = Vec::new();
    for backend in &args.backends {
        for s in &args.strategies {
            let bench = Bench {
                backend: backend.clone(),
                strategy: s.to_string(),
                op: args.op,
                tasks: workload.tasks,
                size: workload.size,
            };
            if !benches.contains(&bench) {
                benches.push(bench);
            }
        }
    }
    benches
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

impl BenchResult {
    fn empty(bench: &Bench) -> BenchResult {
        BenchResult {
            benchmark: bench.id(),
            a: vec![],
            b: vec![],
            comparison: None,
            refused: None,
        }
    }
}

/// The folder of this compare's files: `--out`, else a new one under `work/runs`.
fn out_dir(args: &CompareArgs, work: &Path, a: &Rev, b: &Rev) -> anyhow::Result<PathBuf> {
    let out = args.out.clone().unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let short = |c: &str| c.get(..7).unwrap_or(c).to_string();
        work.join("runs")
            .join(format!("{now}-{}-{}", short(&a.commit), short(&b.commit)))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    Ok(out)
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
    let repo = repository()?;
    let commit_a = resolve_commit(&repo, &args.rev_a)?;
    let commit_b = resolve_commit(&repo, &args.rev_b)?;
    note_uncommitted_changes(&repo, [&commit_a, &commit_b])?;
    let work = repo.join("target/blaspar-compare");
    let target_dir = args
        .target_dir
        .clone()
        .unwrap_or_else(|| work.join("target"));
    let build = |name: &str, commit: &str| {
        build_revision(&repo, &work, &target_dir, name, commit, &args.backends)
    };
    let a = build(&args.rev_a, &commit_a)?;
    let b = build(&args.rev_b, &commit_b)?;
    let out = out_dir(args, &work, &a, &b)?;
    let benches = benchmarks(args, &machine);
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
    let (mut results, busiest) = measure::measure(args, [&a, &b], &benches, &out)?;
    report::judge(&mut results, args.threshold)?;
    let finished = report::Finished {
        args,
        a: &a,
        b: &b,
        machine: &machine,
        results,
        busiest,
    };
    finished.write_reports(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_already_copied_are_not_built_again_and_one_package_builds_once() {
        let dir = tempfile::tempdir().unwrap();
        let backends = ["openblas-pthread", "openblas-serial"].map(String::from);
        let builds = missing_builds(dir.path(), &backends).unwrap();
        let names: Vec<(&str, usize)> = builds
            .iter()
            .map(|b| (b.package, b.binaries.len()))
            .collect();
        assert_eq!(names, vec![(FRONT, 1), ("blaspar-openblas", 2)]);
        assert_eq!(builds[0].binaries, vec!["blaspar".to_string()]);
        std::fs::write(dir.path().join("blaspar"), "").unwrap();
        let left = missing_builds(dir.path(), &backends).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].package, "blaspar-openblas");
        for name in &left[0].binaries {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(missing_builds(dir.path(), &backends).unwrap(), vec![]);
    }
}

//! The root package: the criterion suite in `benches/`, which links no BLAS library. One
//! binary links one BLAS library, so the suite measures every backend through its engine
//! binary (`blaspar-engine-<backend>`), served run by run ([`blaspar_engine::serve`]).
//! This library says which workload the suite runs and which engines it measures, and
//! brings those engines up to date before it does.
//!
//! Which engines: every engine of the registry whose binary is built next to the bench
//! (`target/release`, where `scripts/build.sh` puts them), and always the embedded
//! default, BLIS ([`EMBEDDED`]: `blis-src` builds it from source, nothing to install).
//! Before measuring, the suite runs `cargo build --release` for exactly those, one
//! invocation per (package, features) as `scripts/build.sh` does: a no-op when they are
//! current (a fraction of a second each), and never a stale engine measured after an
//! edit. `BLASPAR_ENGINE_DIR` names another folder of engines instead, measured as they
//! are (nothing is built).

use blaspar_core::mix::{Mix, TaskSet};
use blaspar_core::operation::Operation;
use blaspar_core::registry::{ENGINES, Engine, engine_binary_name};
use blaspar_core::workload::Generation;
use blaspar_core::{Preset, Workload};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The backend measured even when no engine was built: BLIS, built from the source
/// `blis-src` vendors (nothing to install).
pub const EMBEDDED: &str = "blis";

/// The bench operations from `BLASPAR_BENCH_OP`: one or several, comma-separated
/// (default gemm), each once, in the order given.
pub fn bench_ops(spec: Option<&str>) -> anyhow::Result<Vec<Operation>> {
    let mut ops = Vec::new();
    for name in spec.unwrap_or("gemm").split(',').map(str::trim) {
        let op: Operation = name
            .parse()
            .map_err(|e| anyhow::anyhow!("BLASPAR_BENCH_OP='{}': {e}", spec.unwrap_or("")))?;
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    Ok(ops)
}

/// One criterion group of the suite: the workload every backend and strategy of it runs.
#[derive(Clone, Debug)]
pub struct BenchGroup {
    /// The tasks' count and seed (a workload file's: [`Mix::workload`]).
    pub workload: Workload,
    /// A workload file's tasks, when `BLASPAR_BENCH_WORKLOAD` names one.
    pub mix: Option<Mix>,
    /// The group's name: `quick-16x1000`, `svd-8x500`, `file-mixed-5d0c39e1`.
    pub label: String,
}

impl BenchGroup {
    /// What the served engines run.
    pub fn tasks(&self) -> TaskSet<'_> {
        TaskSet {
            workload: &self.workload,
            mix: self.mix.as_ref(),
            loaded: None,
        }
    }
}

/// The suite's groups from `BLASPAR_BENCH_WORKLOAD` (`workload`) and `BLASPAR_BENCH_OP`
/// (`ops`): one per operation of a preset or `TASKSxSIZE` ([`bench_workload`]), or the
/// one group of a workload file (a path ending in `.toml`, as `run --workload` reads it;
/// its tasks name their operations, so `BLASPAR_BENCH_OP` is refused beside it).
pub fn bench_groups(
    workload: Option<&str>,
    ops: Option<&str>,
    cpus: usize,
) -> anyhow::Result<Vec<BenchGroup>> {
    if let Some(path) = workload.map(str::trim).filter(|w| w.ends_with(".toml")) {
        if let Some(ops) = ops {
            anyhow::bail!(
                "BLASPAR_BENCH_OP='{ops}' beside the workload file {path}: the file names each \
                 group's operation (unset BLASPAR_BENCH_OP)"
            );
        }
        let mix = Mix::read(Path::new(path))?;
        return Ok(vec![BenchGroup {
            workload: mix.workload(0, Generation::Serial),
            label: mix.label(),
            mix: Some(mix),
        }]);
    }
    bench_ops(ops)?
        .into_iter()
        .map(|op| {
            let (workload, label) = bench_workload(workload, cpus, op)?;
            Ok(BenchGroup {
                workload,
                mix: None,
                label,
            })
        })
        .collect()
}

/// The bench workload of `op` from `BLASPAR_BENCH_WORKLOAD`: `quick` (default; its size
/// depends on the operation), `seed`, or `TASKSxSIZE` such as `8x500`. Returns the
/// workload and its group label (`quick-16x1000`, `quick-svd-16x460`, `svd-8x500`).
pub fn bench_workload(
    spec: Option<&str>,
    cpus: usize,
    op: Operation,
) -> anyhow::Result<(Workload, String)> {
    let spec = spec.unwrap_or("quick").trim();
    if let Some(p) = Preset::from_name(spec) {
        let w = p.workload(cpus, op);
        return Ok((w, format!("{}-{}", p.name(), w.label())));
    }
    let parsed = spec
        .split_once('x')
        .and_then(|(t, n)| Some((t.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
    match parsed {
        Some((tasks, size)) if tasks > 0 && size > 0 => {
            let w = Workload::new(tasks, size, op);
            Ok((w, w.label()))
        }
        _ => anyhow::bail!(
            "BLASPAR_BENCH_WORKLOAD='{spec}': expected {} or TASKSxSIZE with both >= 1 (e.g. 8x500)",
            Preset::NAMES
        ),
    }
}

/// Where the suite finds its engines, and whether it builds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineDir {
    /// A cargo profile folder (`target/release`): engines built there are brought up to
    /// date, and the embedded default is built when missing.
    Cargo {
        /// `target/release`.
        profile: PathBuf,
        /// `target`, for `cargo build --target-dir`.
        target: PathBuf,
    },
    /// `$BLASPAR_ENGINE_DIR`: measured as they are.
    Given(PathBuf),
}

impl EngineDir {
    /// `$BLASPAR_ENGINE_DIR` when set, else the profile folder of the running bench
    /// binary (cargo puts benches in `target/release/deps/`).
    pub fn of_this_process() -> anyhow::Result<EngineDir> {
        if let Some(dir) = std::env::var_os("BLASPAR_ENGINE_DIR") {
            return Ok(EngineDir::Given(PathBuf::from(dir)));
        }
        let exe = std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("cannot find the bench binary: {e}"))?;
        EngineDir::beside(&exe)
    }

    /// The profile folder of a cargo-built bench binary `exe`.
    pub fn beside(exe: &Path) -> anyhow::Result<EngineDir> {
        let dir = exe.parent().unwrap_or(Path::new("."));
        let profile = if dir.file_name().is_some_and(|n| n == "deps") {
            dir.parent().unwrap_or(dir)
        } else {
            dir
        };
        let target = profile.parent().ok_or_else(|| {
            anyhow::anyhow!(
                "{} is not in a cargo target folder: set BLASPAR_ENGINE_DIR to a folder of engines",
                exe.display()
            )
        })?;
        Ok(EngineDir::Cargo {
            profile: profile.to_path_buf(),
            target: target.to_path_buf(),
        })
    }

    /// The folder the engine binaries are in.
    pub fn path(&self) -> &Path {
        match self {
            EngineDir::Cargo { profile, .. } => profile,
            EngineDir::Given(dir) => dir,
        }
    }

    /// The binary of `backend`'s engine in this folder.
    pub fn engine(&self, backend: &str) -> PathBuf {
        self.path().join(engine_binary_name(backend))
    }
}

/// One `cargo build` of the engines the suite measures: a package, its features, its
/// engine binaries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Build {
    pub package: &'static str,
    pub features: &'static str,
    pub engines: Vec<&'static str>,
}

impl Build {
    /// The arguments of its `cargo` command.
    pub fn cargo_args(&self, target_dir: &Path) -> Vec<String> {
        let mut args: Vec<String> = ["build", "--release", "--locked", "-p", self.package]
            .map(String::from)
            .to_vec();
        if !self.features.is_empty() {
            args.extend(["--features".to_string(), self.features.to_string()]);
        }
        for e in &self.engines {
            args.extend(["--bin".to_string(), engine_binary_name(e)]);
        }
        args.extend(["--target-dir".to_string(), target_dir.display().to_string()]);
        args
    }
}

/// The builds that bring `wanted` (in registry order) up to date: one per (package,
/// features), because cargo unifies features across one build and two BLAS libraries
/// must never meet in one binary.
pub fn builds(wanted: &[&'static Engine]) -> Vec<Build> {
    let mut builds: Vec<Build> = Vec::new();
    for e in wanted {
        match builds
            .iter_mut()
            .find(|b| (b.package, b.features) == (e.package, e.features))
        {
            Some(b) => b.engines.push(e.name),
            None => builds.push(Build {
                package: e.package,
                features: e.features,
                engines: vec![e.name],
            }),
        }
    }
    builds
}

/// The engines the suite measures, in registry order, with their binaries: those built in
/// `dir` and the embedded default. In a cargo folder they are built first (see the
/// module's documentation); `cargo` is the cargo to run, `workspace` the workspace root.
pub fn engines(
    dir: &EngineDir,
    cargo: &Path,
    workspace: &Path,
) -> anyhow::Result<Vec<(&'static Engine, PathBuf)>> {
    let wanted: Vec<&'static Engine> = ENGINES
        .iter()
        .filter(|e| {
            dir.engine(e.name).is_file()
                || (e.name == EMBEDDED && matches!(dir, EngineDir::Cargo { .. }))
        })
        .collect();
    if let EngineDir::Cargo { target, .. } = dir {
        for build in builds(&wanted) {
            let args = build.cargo_args(target);
            eprintln!(
                "building engines {}: cargo {}",
                build.engines.join(", "),
                args.join(" ")
            );
            let mut command = Command::new(cargo);
            command.args(&args).current_dir(workspace);
            for name in package_variables() {
                command.env_remove(name);
            }
            let status = command
                .status()
                .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", cargo.display()))?;
            if !status.success() {
                anyhow::bail!(
                    "cargo {} failed ({status}): the engines {} cannot be measured (scripts/setup.sh \
                     installs what they need; remove a binary from {} to leave its backend out)",
                    args.join(" "),
                    build.engines.join(", "),
                    dir.path().display()
                );
            }
        }
    }
    let found: Vec<(&'static Engine, PathBuf)> = wanted
        .into_iter()
        .map(|e| (e, dir.engine(e.name)))
        .filter(|(_, exe)| exe.is_file())
        .collect();
    if found.is_empty() {
        anyhow::bail!(
            "no engine binary (blaspar-engine-<backend>) in {}",
            dir.path().display()
        );
    }
    Ok(found)
}

/// The variables `cargo bench` sets for the bench binary that describe the bench's own
/// package (`CARGO_PKG_*`, `CARGO_MANIFEST_*`, ...). A nested cargo must not see them: it
/// compares the values build scripts asked to be watched (`rerun-if-env-changed`: ring's
/// watches `CARGO_PKG_NAME`) with its own environment, so with them set it would rebuild
/// the OpenBLAS and MKL build dependencies, and `scripts/build.sh` would rebuild them back.
fn package_variables() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            name.to_str().is_some_and(|n| {
                n.starts_with("CARGO_PKG_")
                    || n.starts_with("CARGO_MANIFEST_")
                    || matches!(
                        n,
                        "CARGO_CRATE_NAME"
                            | "CARGO_BIN_NAME"
                            | "CARGO_PRIMARY_PACKAGE"
                            | "CARGO_TARGET_TMPDIR"
                            | "OUT_DIR"
                    )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_workload_spec() {
        let gemm = Operation::Gemm;
        assert_eq!(bench_workload(None, 2, gemm).unwrap().1, "quick-16x1000");
        assert_eq!(bench_workload(Some("seed"), 2, gemm).unwrap().0.tasks, 100);
        assert_eq!(bench_workload(Some("8x500"), 2, gemm).unwrap().1, "8x500");
        assert!(bench_workload(Some("0x500"), 2, gemm).is_err());
        assert!(bench_workload(Some("big"), 2, gemm).is_err());
        let (w, label) = bench_workload(None, 2, Operation::Svd).unwrap();
        assert_eq!(
            (w.operation, label.as_str()),
            (Operation::Svd, "quick-svd-16x460")
        );
        let (w, label) = bench_workload(Some("8x500"), 2, Operation::Qr).unwrap();
        assert_eq!((w.operation, label.as_str()), (Operation::Qr, "qr-8x500"));
    }

    #[test]
    fn a_workload_file_is_one_group_named_by_its_label() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mixed.toml");
        std::fs::write(
            &path,
            "[[tasks]]\nop = \"gemm\"\nshape = [30, 20, 50]\ncount = 3\n\
             [[tasks]]\nop = \"svd\"\nsize = 16\ncount = 2\n",
        )
        .unwrap();
        let spec = path.to_str().unwrap();
        let groups = bench_groups(Some(spec), None, 2).unwrap();
        assert_eq!(groups.len(), 1);
        let g = &groups[0];
        assert!(g.label.starts_with("file-mixed-"), "{}", g.label);
        assert_eq!(g.tasks().count(), 5);
        assert_eq!(g.tasks().operations(), [Operation::Gemm, Operation::Svd]);
        let e = bench_groups(Some(spec), Some("svd"), 2)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("BLASPAR_BENCH_OP='svd' beside the workload file"),
            "{e}"
        );
        std::fs::write(&path, "[[tasks]]\nop = \"lu\"\nsize = 4\ncount = 1\n").unwrap();
        let e = bench_groups(Some(spec), None, 2).unwrap_err().to_string();
        assert!(e.contains("line 2: key `op`"), "{e}");
        let missing = dir.path().join("none.toml");
        let e = bench_groups(missing.to_str(), None, 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read the workload file"), "{e}");
        // Without a file: one group per operation, as before.
        let labels: Vec<String> = bench_groups(Some("4x8"), Some("gemm,qr"), 2)
            .unwrap()
            .into_iter()
            .map(|g| g.label)
            .collect();
        assert_eq!(labels, ["4x8", "qr-4x8"]);
    }

    #[test]
    fn bench_ops_spec() {
        assert_eq!(bench_ops(None).unwrap(), [Operation::Gemm]);
        assert_eq!(
            bench_ops(Some("svd, gemm,svd")).unwrap(),
            [Operation::Svd, Operation::Gemm]
        );
        let e = bench_ops(Some("gemm,lu")).unwrap_err().to_string();
        assert!(
            e.contains("BLASPAR_BENCH_OP='gemm,lu'") && e.contains("svd"),
            "{e}"
        );
    }

    #[test]
    fn engines_are_found_in_the_profile_folder_of_the_bench() {
        let dir = EngineDir::beside(Path::new("/w/target/release/deps/strategies-0123")).unwrap();
        assert_eq!(
            dir,
            EngineDir::Cargo {
                profile: PathBuf::from("/w/target/release"),
                target: PathBuf::from("/w/target"),
            }
        );
        assert_eq!(
            dir.engine("mkl-seq"),
            Path::new("/w/target/release/blaspar-engine-mkl-seq")
        );
    }

    #[test]
    fn one_build_per_package_and_features() {
        let named = |n: &str| Engine::named(n).unwrap();
        let wanted = [
            named("blis"),
            named("openblas-pthread"),
            named("openblas-serial"),
            named("mkl-seq"),
            named("mkl-iomp"),
        ];
        let builds = builds(&wanted);
        let summary: Vec<(&str, &str, Vec<&str>)> = builds
            .iter()
            .map(|b| (b.package, b.features, b.engines.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                ("blaspar-blis", "", vec!["blis"]),
                (
                    "blaspar-openblas",
                    "",
                    vec!["openblas-pthread", "openblas-serial"]
                ),
                ("blaspar-mkl", "seq", vec!["mkl-seq"]),
                ("blaspar-mkl", "iomp", vec!["mkl-iomp"]),
            ]
        );
        assert_eq!(
            builds[2].cargo_args(Path::new("/w/target")).join(" "),
            "build --release --locked -p blaspar-mkl --features seq --bin blaspar-engine-mkl-seq \
             --target-dir /w/target"
        );
    }
}

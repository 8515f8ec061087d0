//! Choosing BLIS's sub-configuration (kernel set) at run time.
//!
//! BLIS 1.0 does not know every CPU (it runs 'generic' kernels on Zen 5, about a sixth of
//! the speed of skx there). So by default we never trust its detection silently: every
//! sub-configuration compiled into the library is tried **in a child process** (a wrong
//! one can abort or raise SIGILL), those whose products are correct are timed on one
//! thread at 512^3, and the fastest wins. The choice is cached per CPU model, CPU flags and
//! BLIS version, and is handed to BLIS through `BLIS_ARCH_TYPE` before its initialisation.
//!
//! A kernel that wins at 512^3 may lose on the workload's own matrices (edge blocks weigh
//! more at 200^3), so with a workload the contenders (correct kernels within 20% of the
//! fastest at 512, at most 4) are also timed at the workload's size class ([`size_class`]:
//! the power of two nearest its size, 16 to 1024) and the fastest there wins. That choice
//! is cached per size class in the same file; the record says which size decided
//! (`kernel_choice.decided_at`). Cost: once per CPU and size class, at most 4 more probe
//! children of about 0.4 s each.
//!
//! The child is the current executable started with `BLASPAR_BLIS_PROBE` set; every binary
//! that links this crate calls [`child_hook`] first thing in `main`.

use crate::ffi;
use blaspar_core::backend::{ChoiceMethod, KernelProbe, ProbeOutcome};
use blaspar_core::kernel_cache::{self, key_hash};
use blaspar_core::machine::Machine;
use blaspar_core::verify::Verifier;
use blaspar_core::workload::Workload;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

const PROBE_VAR: &str = "BLASPAR_BLIS_PROBE";
const ARCH_VAR: &str = "BLIS_ARCH_TYPE";
/// A probe child that takes longer than this is killed and its kernel discarded.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// Size of the timed product of the probe of every kernel.
const PROBE_N: usize = 512;
/// Size classes span these sizes ([`size_class`]).
const CLASS_MIN: usize = 16;
const CLASS_MAX: usize = 1024;
/// A size probe times the kernels at least this share of the fastest at `PROBE_N` ...
const CONTENDER_SHARE: f64 = 0.8;
/// ... at most this many.
const CONTENDERS: usize = 4;

/// What the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelRequest {
    /// Probe (or reuse a cached probe) and take the fastest correct kernel.
    Auto,
    /// Leave BLIS's own detection alone.
    LibraryDefault,
    /// This sub-configuration by name (`skx`, `haswell`, ...).
    Named(String),
}

impl std::str::FromStr for KernelRequest {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => KernelRequest::Auto,
            "default" => KernelRequest::LibraryDefault,
            name => KernelRequest::Named(name.to_string()),
        })
    }
}

/// Errors of kernel selection; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "BLIS has no sub-configuration '{name}' compiled in; available: {available} (or 'auto', 'default')"
    )]
    UnknownKernel { name: String, available: String },
    #[error(
        "no BLIS sub-configuration gave correct products on this CPU: {table}; try --kernel default"
    )]
    NoneCorrect { table: String },
    #[error(
        "BLIS ignored BLIS_ARCH_TYPE={want} and runs {running}: was BLIS initialised before the kernel was chosen?"
    )]
    Ignored { want: i32, running: String },
    #[error(transparent)]
    Provenance(#[from] blaspar_cblas::provenance::ProvenanceError),
    #[error("could not run the BLIS probe child {exe}: {detail}")]
    Child { exe: PathBuf, detail: String },
}

/// The outcome of selection, before BLIS is initialised.
#[derive(Clone, Debug)]
pub struct Selection {
    /// Arch id to put in BLIS_ARCH_TYPE, `None` to leave the environment as it is.
    pub arch_id: Option<i32>,
    pub method: ChoiceMethod,
    pub library_default: Option<String>,
    pub probes: Vec<KernelProbe>,
    /// n of the probe product whose timings decided, when a probe (or its cache) decided.
    pub decided_at: Option<usize>,
}

/// The compiled-in sub-configurations and BLIS's own pick, from a child.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Inventory {
    pub library_default: String,
    pub compiled: Vec<(i32, String)>,
}

/// What is cached per CPU and library version.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct CacheEntry {
    cpu_model: String,
    simd: Vec<String>,
    blis_version: String,
    library_default: String,
    chosen: String,
    probes: Vec<KernelProbe>,
    /// The decision at each size class probed so far (other than `PROBE_N`).
    #[serde(default)]
    by_size: BTreeMap<usize, SizeDecision>,
}

/// The contenders timed at one size class, and the fastest.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SizeDecision {
    chosen: String,
    probes: Vec<KernelProbe>,
}

/// The size class of n x n matrices: the power of two nearest `n` (by ratio), within 16 to
/// 1024 (beyond 1024 every kernel runs its full blocks; below 16 a product is too short to
/// time apart from its call). The probe of a class times this size.
pub fn size_class(n: usize) -> usize {
    let n = n.clamp(CLASS_MIN, CLASS_MAX) as f64;
    1 << (n.log2().round() as u32)
}

/// Decides which sub-configuration to run, for matrices of `size` when given. Must be
/// called before BLIS is initialised in this process, and before other threads start (it
/// may set `BLIS_ARCH_TYPE`).
pub fn select(
    request: &KernelRequest,
    cache_dir: &Path,
    size: Option<usize>,
) -> Result<Selection, ProbeError> {
    if std::env::var_os(ARCH_VAR).is_some() && *request == KernelRequest::Auto {
        // The user set BLIS's own variable: respect it, and say so.
        return Ok(Selection {
            arch_id: None,
            method: ChoiceMethod::UserOverride,
            library_default: None,
            probes: vec![],
            decided_at: None,
        });
    }
    match request {
        KernelRequest::LibraryDefault => {
            remove_arch_var();
            Ok(Selection {
                arch_id: None,
                method: ChoiceMethod::LibraryDefault,
                library_default: None,
                probes: vec![],
                decided_at: None,
            })
        }
        KernelRequest::Named(name) => {
            let inv = inventory()?;
            let id = inv
                .compiled
                .iter()
                .find(|(_, n)| n == name)
                .map(|(id, _)| *id)
                .ok_or_else(|| ProbeError::UnknownKernel {
                    name: name.clone(),
                    available: inv
                        .compiled
                        .iter()
                        .map(|(_, n)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            set_arch(id);
            Ok(Selection {
                arch_id: Some(id),
                method: ChoiceMethod::UserOverride,
                library_default: Some(inv.library_default),
                probes: vec![],
                decided_at: None,
            })
        }
        KernelRequest::Auto => auto(cache_dir, size.map(size_class)),
    }
}

fn remove_arch_var() {
    // SAFETY: called during start-up, before any other thread exists (see `select`).
    unsafe { std::env::remove_var(ARCH_VAR) }
}

fn cache_path(cache_dir: &Path, machine: &Machine, version: &str) -> PathBuf {
    let key = format!(
        "{}|{}|{}",
        machine.cpu_model,
        machine.simd.join(","),
        version
    );
    cache_dir.join(format!(
        "blis-{version}-kernel-{:016x}.json",
        key_hash(&key)
    ))
}

/// The kernel for matrices of size class `class` (`None`: no workload, the choice at
/// `PROBE_N`): from the cache, probing what it lacks and adding it.
fn auto(cache_dir: &Path, class: Option<usize>) -> Result<Selection, ProbeError> {
    let machine = Machine::detect();
    // SAFETY: BLIS returns a static NUL-terminated string.
    let version = unsafe { blaspar_cblas::cstr(ffi::bli_info_get_version_str()) };
    let path = cache_path(cache_dir, &machine, &version);
    let arches = ffi::all_arches();
    let id_of = |name: &str| arches.iter().find(|(_, n)| n == name).map(|(id, _)| *id);
    let cached = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<CacheEntry>(&b).ok())
        .filter(|e| {
            e.cpu_model == machine.cpu_model
                && e.blis_version == version
                && id_of(&e.chosen).is_some()
        });
    let mut probed = cached.is_none();
    let mut entry = match cached {
        Some(entry) => entry,
        None => probe_every_kernel(&machine, version)?,
    };
    let class = class.filter(|&c| c != PROBE_N);
    if let Some(c) = class
        && !entry.by_size.contains_key(&c)
    {
        let decision = probe_contenders(&entry.probes, c)?;
        entry.by_size.insert(c, decision);
        probed = true;
    }
    if probed {
        kernel_cache::store(&path, &entry, "the BLIS kernel choice");
    }
    let mut probes = entry.probes.clone();
    let (chosen, decided_at) = match class.and_then(|c| entry.by_size.get(&c).map(|d| (c, d))) {
        Some((c, decision)) => {
            probes.extend(decision.probes.iter().cloned());
            (decision.chosen.clone(), c)
        }
        None => (entry.chosen.clone(), PROBE_N),
    };
    let id = id_of(&chosen).ok_or_else(|| ProbeError::NoneCorrect {
        table: table(&probes),
    })?;
    set_arch(id);
    Ok(Selection {
        arch_id: Some(id),
        method: if probed {
            ChoiceMethod::Probe
        } else {
            ChoiceMethod::Cache
        },
        library_default: Some(entry.library_default),
        probes,
        decided_at: Some(decided_at),
    })
}

/// Every compiled-in kernel, each in a child, timed at `PROBE_N`: the fastest correct one.
fn probe_every_kernel(machine: &Machine, version: String) -> Result<CacheEntry, ProbeError> {
    let inv = inventory()?;
    let probes: Vec<KernelProbe> = inv
        .compiled
        .iter()
        .map(|(id, name)| KernelProbe {
            kernel: name.clone(),
            size: Some(PROBE_N),
            outcome: probe_one(*id, PROBE_N),
        })
        .collect();
    let Some(chosen) = fastest(&probes) else {
        return Err(ProbeError::NoneCorrect {
            table: table(&probes),
        });
    };
    Ok(CacheEntry {
        cpu_model: machine.cpu_model.clone(),
        simd: machine.simd.clone(),
        blis_version: version,
        library_default: inv.library_default,
        chosen,
        probes,
        by_size: BTreeMap::new(),
    })
}

/// The kernels of the `PROBE_N` table that could win at size `class` ([`contenders`]),
/// each timed at `class` in a child: the fastest correct one.
fn probe_contenders(at_probe_n: &[KernelProbe], class: usize) -> Result<SizeDecision, ProbeError> {
    let arches = ffi::all_arches();
    let probes: Vec<KernelProbe> = contenders(at_probe_n)
        .into_iter()
        .filter_map(|name| arches.iter().find(|(_, n)| *n == name))
        .map(|(id, name)| KernelProbe {
            kernel: name.clone(),
            size: Some(class),
            outcome: probe_one(*id, class),
        })
        .collect();
    match fastest(&probes) {
        Some(chosen) => Ok(SizeDecision { chosen, probes }),
        None => Err(ProbeError::NoneCorrect {
            table: table(&probes),
        }),
    }
}

/// The correct kernels within `CONTENDER_SHARE` of the fastest, fastest first, at most
/// `CONTENDERS`: what a probe at another size times (a kernel far behind at 512^3 is not
/// expected to win elsewhere, and each costs a child).
fn contenders(probes: &[KernelProbe]) -> Vec<String> {
    let mut correct: Vec<(f64, &str)> = probes
        .iter()
        .filter_map(|p| match p.outcome {
            ProbeOutcome::Correct { gflops } => Some((gflops, p.kernel.as_str())),
            _ => None,
        })
        .collect();
    correct.sort_by(|a, b| b.0.total_cmp(&a.0));
    let best = correct.first().map_or(0.0, |c| c.0);
    correct
        .into_iter()
        .filter(|(g, _)| *g >= CONTENDER_SHARE * best)
        .take(CONTENDERS)
        .map(|(_, k)| k.to_string())
        .collect()
}

/// The fastest correct kernel of a table.
fn fastest(probes: &[KernelProbe]) -> Option<String> {
    probes
        .iter()
        .filter_map(|p| match p.outcome {
            ProbeOutcome::Correct { gflops } => Some((gflops, &p.kernel)),
            _ => None,
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.clone())
}

/// Sets BLIS_ARCH_TYPE for BLIS's initialisation in this process.
pub fn set_arch(id: i32) {
    // SAFETY: called during start-up, before any other thread exists (see `select`).
    unsafe { std::env::set_var(ARCH_VAR, id.to_string()) }
}

/// The probe table as one line.
pub fn table(probes: &[KernelProbe]) -> String {
    probes
        .iter()
        .map(|p| match &p.outcome {
            ProbeOutcome::Correct { gflops } => format!("{} {gflops:.1} GFLOP/s", p.kernel),
            ProbeOutcome::Wrong { detail } => format!("{} wrong ({detail})", p.kernel),
            ProbeOutcome::Failed { detail } => format!("{} failed ({detail})", p.kernel),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the current executable as a probe child and returns its one line of stdout.
fn run_child(mode: &str, arch: Option<i32>) -> Result<String, String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the current executable: {e}"))?;
    let mut cmd = Command::new(&exe);
    cmd.env(PROBE_VAR, mode)
        .env_remove(ARCH_VAR)
        .env("BLIS_NUM_THREADS", "1");
    if let Some(id) = arch {
        cmd.env(ARCH_VAR, id.to_string());
    }
    let out = run_collecting(&mut cmd, PROBE_TIMEOUT)?;
    if !out.status.success() {
        return Err(failure(out.status, &out.stderr));
    }
    out.stdout
        .lines()
        .rfind(|l| l.starts_with('{'))
        .map(str::to_string)
        .ok_or_else(|| "no result line".to_string())
}

/// What a finished child left behind.
struct ChildOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to its end with its output captured, killing it after `timeout`.
///
/// Both pipes are read on their own threads while the child runs: a child that writes more
/// than a pipe holds (64 KiB) would otherwise block in write(2) until the timeout. The
/// threads end with the scope, before this returns, so the caller is single-threaded again
/// (the probe sets `BLIS_ARCH_TYPE` afterwards); after a kill the pipes close with the child
/// (a probe child starts no processes that could keep them open).
fn run_collecting(cmd: &mut Command, timeout: Duration) -> Result<ChildOutput, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", cmd.get_program().to_string_lossy()))?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    std::thread::scope(|scope| {
        let stdout = scope.spawn(|| read_all(stdout));
        let stderr = scope.spawn(|| read_all(stderr));
        let status = match child.wait_timeout(timeout) {
            Ok(Some(status)) => status,
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {} s", timeout.as_secs()));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("wait failed: {e}"));
            }
        };
        Ok(ChildOutput {
            status,
            stdout: stdout.join().expect("a pipe reader does not panic"),
            stderr: stderr.join().expect("a pipe reader does not panic"),
        })
    })
}

/// Everything a pipe yields until its end, as text (a read error ends it early: the
/// status and whatever came before still describe the child).
fn read_all(pipe: Option<impl Read>) -> String {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// "killed by signal 4: <last line of stderr>", "exit status 1".
fn failure(status: ExitStatus, stderr: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    let how = match status.signal() {
        Some(sig) => format!("killed by signal {sig}"),
        None => format!("exit status {}", status.code().unwrap_or(-1)),
    };
    let last = stderr
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if last.is_empty() {
        how
    } else {
        format!("{how}: {last}")
    }
}

/// Asks a child which sub-configurations are compiled in and which BLIS picks by itself.
pub fn inventory() -> Result<Inventory, ProbeError> {
    let exe = std::env::current_exe().unwrap_or_default();
    let line = run_child("list", None).map_err(|detail| ProbeError::Child {
        exe: exe.clone(),
        detail,
    })?;
    serde_json::from_str(&line).map_err(|e| ProbeError::Child {
        exe,
        detail: format!("bad inventory '{line}': {e}"),
    })
}

/// Kernel `id` tried in a child, timed at `size`.
fn probe_one(id: i32, size: usize) -> ProbeOutcome {
    match run_child(&format!("{id}@{size}"), Some(id)) {
        Ok(line) => {
            serde_json::from_str::<ProbeOutcome>(&line).unwrap_or_else(|e| ProbeOutcome::Failed {
                detail: format!("bad probe output '{line}': {e}"),
            })
        }
        Err(detail) => ProbeOutcome::Failed { detail },
    }
}

/// Call first thing in `main` of every binary that links BLIS: when this process is a probe
/// child, it does the probe, prints one JSON line and exits.
pub fn child_hook() {
    let Some(mode) = std::env::var_os(PROBE_VAR) else {
        return;
    };
    let mode = mode.to_string_lossy().into_owned();
    let line = if mode == "list" {
        // SAFETY: BLIS initialises itself from the environment (BLIS_ARCH_TYPE removed).
        unsafe { ffi::bli_init() };
        let default_id = unsafe { ffi::bli_arch_query_id() };
        let compiled = ffi::all_arches()
            .into_iter()
            // SAFETY: ids come from BLIS's own valid range.
            .filter(|(id, _)| !unsafe { ffi::bli_gks_lookup_id(*id) }.is_null())
            .collect();
        let inv = Inventory {
            library_default: ffi::arch_name(default_id).unwrap_or_default(),
            compiled,
        };
        serde_json::to_string(&inv).expect("serialisable")
    } else {
        serde_json::to_string(&probe_in_child(&mode)).expect("serialisable")
    };
    println!("{line}");
    std::process::exit(0);
}

/// The probe of `mode` = `<arch id>@<size>`, in this (child) process.
fn probe_in_child(mode: &str) -> ProbeOutcome {
    let parsed = mode
        .split_once('@')
        .and_then(|(id, n)| Some((id.parse::<i32>().ok()?, n.parse::<usize>().ok()?)));
    let Some((want, n)) = parsed.filter(|&(_, n)| n > 0) else {
        return ProbeOutcome::Failed {
            detail: format!("bad probe mode '{mode}' (expected <arch id>@<size>)"),
        };
    };
    unsafe { ffi::bli_init() };
    let got = unsafe { ffi::bli_arch_query_id() };
    if got != want {
        return ProbeOutcome::Failed {
            detail: format!("BLIS runs arch {got}, not {want}"),
        };
    }
    unsafe { ffi::bli_thread_set_num_threads(1) };
    // Correctness on shapes that are not multiples of any kernel's blocks, then the timed size.
    for (m, k, n) in [(1, 1, 1), (37, 53, 29), (131, 67, 129), (n, n, n)] {
        if let Err(detail) = check_shape(m, k, n) {
            return ProbeOutcome::Wrong { detail };
        }
    }
    let w = Workload {
        tasks: 1,
        size: n,
        seed: 1,
        generation: Default::default(),
        operation: Default::default(),
        corrupt: None,
    };
    let (a, b) = w.generate(0);
    let mut c = vec![0.0; n * n];
    let (a, b) = (
        a.as_slice().expect("standard layout"),
        b.as_slice().expect("standard layout"),
    );
    let mut best = f64::INFINITY;
    let deadline = Instant::now() + Duration::from_millis(300);
    for rep in 0.. {
        let t = Instant::now();
        ffi::dgemm(n, n, n, a, b, &mut c);
        best = best.min(t.elapsed().as_secs_f64());
        if rep >= 2 && Instant::now() > deadline {
            break;
        }
    }
    ProbeOutcome::Correct {
        gflops: 2.0 * (n as f64).powi(3) / best / 1e9,
    }
}

fn check_shape(m: usize, k: usize, n: usize) -> Result<(), String> {
    use ndarray::Array2;
    let mut rng = Workload {
        tasks: 1,
        size: 1,
        seed: 9,
        generation: Default::default(),
        operation: Default::default(),
        corrupt: None,
    }
    .rng(m * 7 + k * 3 + n, 0, 0);
    let a = Array2::from_shape_simple_fn((m, k), || blaspar_core::workload::unit_f64(&mut rng));
    let b = Array2::from_shape_simple_fn((k, n), || blaspar_core::workload::unit_f64(&mut rng));
    let mut c = Array2::zeros((m, n));
    ffi::dgemm(
        m,
        n,
        k,
        a.as_slice().unwrap(),
        b.as_slice().unwrap(),
        c.as_slice_mut().unwrap(),
    );
    Verifier::new(n)
        .check(&a, &b, &c)
        .map(|_| ())
        .map_err(|e| format!("{m}x{k}x{n}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_are_the_nearest_power_of_two_within_bounds() {
        let classes: Vec<usize> = [1, 16, 23, 100, 181, 182, 200, 362, 363, 512, 1000, 2000]
            .into_iter()
            .map(size_class)
            .collect();
        assert_eq!(
            classes,
            [16, 16, 32, 128, 128, 256, 256, 256, 512, 512, 1024, 1024]
        );
    }

    fn row(kernel: &str, outcome: ProbeOutcome) -> KernelProbe {
        KernelProbe {
            kernel: kernel.to_string(),
            size: Some(PROBE_N),
            outcome,
        }
    }

    #[test]
    fn contenders_are_the_correct_kernels_near_the_fastest() {
        let ok = |gflops| ProbeOutcome::Correct { gflops };
        let probes = [
            row(
                "skx",
                ProbeOutcome::Failed {
                    detail: "killed by signal 4".into(),
                },
            ),
            row("haswell", ok(35.6)),
            row("sandybridge", ok(32.0)),
            row("penryn", ok(12.0)),
            row("zen3", ok(42.2)),
            row("zen2", ok(38.3)),
            row("zen", ok(35.1)),
            row(
                "wrong",
                ProbeOutcome::Wrong {
                    detail: "row 3".into(),
                },
            ),
        ];
        // Within 80% of 42.2 (33.8 and up), fastest first, at most 4.
        assert_eq!(contenders(&probes), ["zen3", "zen2", "haswell", "zen"]);
        assert_eq!(fastest(&probes).as_deref(), Some("zen3"));
        assert_eq!(fastest(&probes[..1]), None);
    }

    #[test]
    fn cache_entries_without_size_decisions_still_read() {
        let old = r#"{"cpu_model": "AMD EPYC 7B13", "simd": ["avx2"], "blis_version": "1.0",
            "library_default": "zen3", "chosen": "zen3",
            "probes": [{"kernel": "zen3", "outcome": "correct", "gflops": 42.1}]}"#;
        let entry: CacheEntry = serde_json::from_str(old).unwrap();
        assert!(entry.by_size.is_empty());
        assert_eq!(entry.probes[0].size, None);
    }

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn a_child_that_writes_more_than_a_pipe_holds_is_read_to_its_end() {
        // 1 MiB on each stream: far beyond a pipe's 64 KiB, so a child whose pipes are only
        // read after it exits blocks in write(2) and never exits.
        let script = "head -c 1048576 /dev/zero | tr '\\0' x; echo; echo '{\"ok\":1}'; \
                      head -c 1048576 /dev/zero | tr '\\0' y >&2; echo 'last words' >&2";
        let out = run_collecting(&mut sh(script), Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("the child was reported as: {e}"));
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), 1048576 + 1 + 9);
        assert_eq!(out.stdout.lines().last(), Some("{\"ok\":1}"));
        assert_eq!(out.stderr.len(), 1048576 + 11);
    }

    #[test]
    fn a_silent_child_is_killed_at_the_timeout() {
        let err = run_collecting(&mut sh("exec sleep 120"), Duration::from_secs(1))
            .err()
            .expect("a timeout");
        assert_eq!(err, "timed out after 1 s");
    }

    #[test]
    fn a_failing_child_is_described_by_its_status_and_last_line() {
        let out = run_collecting(
            &mut sh("echo first >&2; echo 'bad arch' >&2; exit 3"),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(failure(out.status, &out.stderr), "exit status 3: bad arch");
        let out = run_collecting(&mut sh("kill -ILL $$"), Duration::from_secs(60)).unwrap();
        assert_eq!(failure(out.status, &out.stderr), "killed by signal 4");
    }
}

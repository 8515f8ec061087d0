//! OpenBLAS's kernel ("core") choice, for every OpenBLAS build whatever its symbol prefix
//! (Debian's three builds, the scipy-openblas32 wheel).
//!
//! OpenBLAS picks its core by CPU detection when the library loads; `OPENBLAS_CORETYPE`
//! overrides it (even set to the empty string: 0.3.21 then runs Cooperlake kernels, whatever
//! the CPU). A build older than the CPU falls back to an old core (Debian's 0.3.21 runs
//! Prescott's SSE3 kernels on an Emerald Rapids Xeon, 4-6x slower). So `--kernel auto`
//! without the variable probes: child processes (this executable again, with
//! `BLASPAR_OPENBLAS_PROBE`) each time a checked 512^3 product on one thread, one with the
//! library's own core and one with each core made for this CPU's vector extensions; a core
//! more than [`CLEAR_WIN`] faster is taken by re-executing the engine with the variable set
//! (the table is cached per CPU and build). When the user set the variable, one child runs
//! with it and one without it, which also tells the core OpenBLAS picks by itself; a warning
//! says so when the variable forces a slower kernel, and a forced core the CPU cannot
//! execute (the child dies of SIGILL) is an error, before the engine's own first product
//! would kill it. `--kernel default` runs without the variable, `--kernel NAME` with
//! `OPENBLAS_CORETYPE=NAME` (the engine re-executes itself, since the library reads the
//! variable when it loads).

use crate::cstr;
use blaspar_core::backend::{ChoiceMethod, KernelChoice, KernelProbe, ProbeOutcome};
use blaspar_core::kernel_cache::{self, key_hash};
use blaspar_core::machine::Machine;
use blaspar_core::{Gemm, Layout};
use serde::{Deserialize, Serialize};
use std::os::raw::c_char;
use std::path::PathBuf;
use std::time::Instant;

pub const CORETYPE: &str = "OPENBLAS_CORETYPE";
const PROBE_VAR: &str = "BLASPAR_OPENBLAS_PROBE";
/// Set, with `OPENBLAS_CORETYPE`, when `auto`'s probe chose a core other than the library's
/// and re-executed the engine with it: the probe's outcome ([`Probed`], JSON), which the
/// re-executed engine and its worker processes report instead of probing again.
const PROBED_VAR: &str = "BLASPAR_OPENBLAS_PROBED";
/// Exit status of a probe child whose product was wrong.
const WRONG_STATUS: i32 = 3;
/// How much faster than the library's own core a candidate must be in the probe for `auto`
/// to take it: three 512^3 products of one kernel set differ by a few percent from child to
/// child, and a core OpenBLAS picks for this CPU (`Zen` against `Haswell`, which share their
/// dgemm kernel) must not be replaced on such a draw.
const CLEAR_WIN: f64 = 0.10;
const REEXEC_VAR: &str = "BLASPAR_OPENBLAS_REEXEC";
/// Size of the timed product that compares kernels.
const PROBE_N: usize = 512;

/// The two calls of one OpenBLAS build the choice needs, under whatever names it exports
/// (`openblas_get_corename` / `scipy_openblas_get_corename`, ...).
pub struct Library {
    pub get_corename: unsafe extern "C" fn() -> *const c_char,
    pub set_num_threads: unsafe extern "C" fn(std::os::raw::c_int),
}

impl Library {
    /// The core (kernel set) the library runs, as it names it (`Haswell`, `SkylakeX`, ...).
    pub fn corename(&self) -> String {
        // SAFETY: plain getter of a static NUL-terminated string.
        unsafe { cstr((self.get_corename)()) }
    }
}

/// Why the kernel request could not be met; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(
        "OpenBLAS runs core '{running}' although {CORETYPE}={asked}: OpenBLAS does not know that \
         core name, or this build runs another core's kernels for it (the scipy-openblas32 \
         wheel runs Haswell's for Zen); ask for '{running}'"
    )]
    Ignored { asked: String, running: String },
    #[error(
        "{CORETYPE}={forced} makes OpenBLAS run its {running} kernels, which this CPU cannot \
         execute (a probe child died: {detail}); unset {CORETYPE} or run with --kernel default"
    )]
    Unusable {
        forced: String,
        running: String,
        detail: String,
    },
    #[error("cannot re-execute {exe} to change {CORETYPE}: {detail}")]
    Reexec { exe: PathBuf, detail: String },
}

/// One-thread GFLOP/s of a 512^3 product (through `cblas_dgemm`), best of five, after
/// checking entries of the product against plain sums: a kernel set that computes wrong
/// products is not a candidate, however fast.
fn gflops_one_thread(lib: &Library) -> Result<f64, String> {
    let n = PROBE_N;
    let a: Vec<f64> = (0..n * n).map(|i| (i % 17) as f64 / 17.0).collect();
    let b: Vec<f64> = (0..n * n).map(|i| (i % 13) as f64 / 13.0).collect();
    let mut c = vec![0.0; n * n];
    let g = Gemm::packed(Layout::RowMajor, n, n, n);
    let flops = 2.0 * (n as f64).powi(3);
    // SAFETY: plain setter; this process is a probe child and exits after the product.
    unsafe { (lib.set_num_threads)(1) };
    // One product untimed (the first call allocates OpenBLAS's buffers, and the core may
    // still be ramping up its clock), then the best of five.
    crate::dgemm(&g, &a, &b, &mut c).map_err(|e| e.to_string())?;
    let mut best: f64 = 0.0;
    for _ in 0..5 {
        let t = Instant::now();
        crate::dgemm(&g, &a, &b, &mut c).map_err(|e| e.to_string())?;
        best = best.max(flops / t.elapsed().as_secs_f64() / 1e9);
    }
    // Entries spread over the product (rows and columns of every residue the kernels'
    // blocking could treat differently), each against its plain sum.
    for s in 0..61 {
        let (i, j) = ((s * 97 + 3) % n, (s * 131 + 7) % n);
        let want: f64 = (0..n).map(|k| a[i * n + k] * b[k * n + j]).sum();
        let got = c[i * n + j];
        if (got - want).abs() > 1e-12 * n as f64 * want.abs().max(1.0) {
            return Err(format!("C[{i}][{j}] = {got}, plain sum {want}"));
        }
    }
    Ok(best)
}

/// Call first in `main` of every binary that links an OpenBLAS backend: a kernel-probe child
/// (this executable started with `BLASPAR_OPENBLAS_PROBE`) prints its core and speed and
/// exits (status 3, with the reason on stderr, when its product is wrong).
pub fn child_hook(lib: &Library) {
    if std::env::var_os(PROBE_VAR).is_some() {
        match gflops_one_thread(lib) {
            Ok(g) => {
                println!("{}\t{g:.3}", lib.corename());
                std::process::exit(0);
            }
            Err(e) => {
                eprintln!("wrong product with core {}: {e}", lib.corename());
                std::process::exit(WRONG_STATUS);
            }
        }
    }
}

/// How a probe child ended.
enum ChildProbe {
    Ran { core: String, gflops: f64 },
    Wrong { detail: String },
    Killed { detail: String },
    Failed { detail: String },
}

impl ChildProbe {
    /// The probe table's outcome of a child asked to run core `want`.
    fn outcome(self, want: &str) -> ProbeOutcome {
        match self {
            ChildProbe::Ran { core, gflops } if core.eq_ignore_ascii_case(want) => {
                ProbeOutcome::Correct { gflops }
            }
            ChildProbe::Ran { core, .. } => ProbeOutcome::Failed {
                detail: format!("this build runs its {core} kernels for {want}"),
            },
            ChildProbe::Wrong { detail } => ProbeOutcome::Wrong { detail },
            ChildProbe::Killed { detail } => ProbeOutcome::Failed {
                detail: format!("the CPU cannot run them: {detail}"),
            },
            ChildProbe::Failed { detail } => ProbeOutcome::Failed { detail },
        }
    }
}

/// `OPENBLAS_CORETYPE` in a probe child.
#[derive(Clone, Copy)]
enum ChildCore<'a> {
    /// As in this process.
    AsHere,
    /// Removed: the library's own choice.
    Removed,
    /// Set to this core.
    Set(&'a str),
}

/// The core and speed of a child with `OPENBLAS_CORETYPE` as `core` says.
fn probe_child(core: ChildCore) -> ChildProbe {
    use std::os::unix::process::ExitStatusExt;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return ChildProbe::Failed {
                detail: e.to_string(),
            };
        }
    };
    let mut cmd = std::process::Command::new(&exe);
    cmd.env(PROBE_VAR, "1");
    match core {
        ChildCore::AsHere => {}
        ChildCore::Removed => {
            cmd.env_remove(CORETYPE);
        }
        ChildCore::Set(name) => {
            cmd.env(CORETYPE, name);
        }
    }
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => {
            return ChildProbe::Failed {
                detail: format!("cannot start {}: {e}", exe.display()),
            };
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or_default();
    match (out.status.success(), line.split_once('\t')) {
        (true, Some((core, g))) => ChildProbe::Ran {
            core: core.to_string(),
            gflops: g.parse().unwrap_or(0.0),
        },
        _ if out.status.code() == Some(WRONG_STATUS) => ChildProbe::Wrong {
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        },
        _ if out.status.signal().is_some() => ChildProbe::Killed {
            detail: format!("{} ({})", out.status, exe.display()),
        },
        _ => ChildProbe::Failed {
            detail: format!(
                "probe child {} failed ({}): {}",
                exe.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        },
    }
}

/// Re-executes this process with `OPENBLAS_CORETYPE` removed (`None`) or set; never returns
/// on success.
fn reexec_with_coretype(value: Option<&str>) -> CoreError {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return CoreError::Reexec {
                exe: PathBuf::from("(current executable)"),
                detail: e.to_string(),
            };
        }
    };
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(std::env::args_os().skip(1)).env(REEXEC_VAR, "1");
    match value {
        Some(v) => cmd.env(CORETYPE, v),
        None => cmd.env_remove(CORETYPE),
    };
    let err = cmd.exec();
    CoreError::Reexec {
        exe,
        detail: err.to_string(),
    }
}

/// How the running core came to be, for the kernel request; `default` and a core name may
/// re-execute the process with OPENBLAS_CORETYPE changed (returned as the error that
/// carries the re-execution's outcome).
fn kernel_method(kernel: &str, running: &str) -> Result<ChoiceMethod, CoreError> {
    // Set but empty still forces a core (0.3.21 then runs its first match, Cooperlake).
    let env_core = std::env::var(CORETYPE).ok();
    let reexeced = std::env::var_os(REEXEC_VAR).is_some();
    Ok(match kernel {
        "auto" if env_core.is_some() => ChoiceMethod::UserOverride,
        "auto" => ChoiceMethod::LibraryDefault,
        "default" => {
            if env_core.is_some() && !reexeced {
                return Err(reexec_with_coretype(None));
            }
            ChoiceMethod::LibraryDefault
        }
        name => {
            if env_core.as_deref() != Some(name) && !reexeced {
                return Err(reexec_with_coretype(Some(name)));
            }
            if !running.eq_ignore_ascii_case(name) {
                return Err(CoreError::Ignored {
                    asked: name.to_string(),
                    running: running.to_string(),
                });
            }
            ChoiceMethod::UserOverride
        }
    })
}

/// With OPENBLAS_CORETYPE=`forced`: the forced core's rate on one thread against the core
/// OpenBLAS picks without the variable (each from a child process), with a warning when the
/// forced one is slower. Returns the library's own choice and the probe table.
fn coretype_probes(
    forced: &str,
    running: &str,
) -> Result<(Option<String>, Vec<KernelProbe>), CoreError> {
    let label = format!("{running} ({CORETYPE}={forced})");
    let (here, mut probes) = match probe_child(ChildCore::AsHere) {
        ChildProbe::Ran { gflops, .. } => (
            Some(gflops),
            vec![KernelProbe {
                kernel: label,
                size: None,
                outcome: ProbeOutcome::Correct { gflops },
            }],
        ),
        ChildProbe::Killed { detail } => {
            return Err(CoreError::Unusable {
                forced: forced.to_string(),
                running: running.to_string(),
                detail,
            });
        }
        failed @ (ChildProbe::Failed { .. } | ChildProbe::Wrong { .. }) => (
            None,
            vec![KernelProbe {
                kernel: label,
                size: None,
                outcome: failed.outcome(running),
            }],
        ),
    };
    let library_default = match probe_child(ChildCore::Removed) {
        ChildProbe::Ran { core, gflops } => {
            if let Some(here) = here
                && core != running
                && gflops > here
            {
                eprintln!(
                    "warning: {CORETYPE}={forced} forces OpenBLAS's {running} kernels \
                     ({here:.1} GFLOP/s on one thread here); without it OpenBLAS picks \
                     {core} ({gflops:.1} GFLOP/s). Run with --kernel default to drop the \
                     variable, or unset it"
                );
            }
            probes.push(KernelProbe {
                kernel: format!("{core} (library's choice)"),
                size: None,
                outcome: ProbeOutcome::Correct { gflops },
            });
            Some(core)
        }
        ChildProbe::Killed { detail }
        | ChildProbe::Failed { detail }
        | ChildProbe::Wrong { detail } => {
            probes.push(KernelProbe {
                kernel: "library's choice".to_string(),
                size: None,
                outcome: ProbeOutcome::Failed { detail },
            });
            None
        }
    };
    Ok((library_default, probes))
}

/// Where `auto`'s probe is cached, and what identifies the library build in its key.
pub struct ProbeCache {
    /// The cache folder (`--cache-dir`, else [`blaspar_core::kernel_cache::default_cache_dir`]).
    pub dir: PathBuf,
    /// The build: its version and variant (a probe of one build says nothing of another).
    pub library: String,
}

impl ProbeCache {
    fn path(&self, machine: &Machine, library_default: &str) -> PathBuf {
        let key = format!(
            "{}|{}|{}|{library_default}",
            machine.cpu_model,
            machine.simd.join(","),
            self.library
        );
        self.dir
            .join(format!("openblas-core-{:016x}.json", key_hash(&key)))
    }
}

/// OpenBLAS's kernel sets ("cores") made for the vector extensions this CPU reports, widest
/// first: what `auto` probes beside the library's own choice. The names are OpenBLAS's
/// (`OPENBLAS_CORETYPE` values); one this build lacks or runs another core's kernels for is
/// recorded as such, and one the CPU cannot execute dies in its child (SIGILL) and is
/// recorded as failed. Empty on CPUs without AVX2 and FMA (nothing to probe).
fn candidates(simd: &[String]) -> Vec<&'static str> {
    let has = |f: &str| simd.iter().any(|s| s == f);
    let mut cores = Vec::new();
    if has("avx512f") {
        cores.extend(["SapphireRapids", "Cooperlake", "SkylakeX"]);
    }
    if has("avx2") && has("fma") {
        cores.extend(["Haswell", "Zen"]);
    }
    cores
}

/// `auto`'s probe of one CPU and library build: the library's own core and each candidate,
/// each timed in a child process, and the core taken. Cached as JSON, and handed to the
/// re-executed engine and its workers in `BLASPAR_OPENBLAS_PROBED`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Probed {
    cpu_model: String,
    simd: Vec<String>,
    library: String,
    library_default: String,
    chosen: String,
    probes: Vec<KernelProbe>,
    /// Whether the table was made by this engine's probe (`false`: read from the cache).
    #[serde(default)]
    fresh: bool,
}

impl Probed {
    fn choice(&self, running: String) -> KernelChoice {
        KernelChoice {
            kernel: running,
            method: if self.fresh {
                ChoiceMethod::Probe
            } else {
                ChoiceMethod::Cache
            },
            library_default: Some(self.library_default.clone()),
            probes: self.probes.clone(),
            decided_at: Some(PROBE_N),
        }
    }
}

/// The library's own core's row in a probe table.
fn own_label(core: &str) -> String {
    format!("{core} (library's choice)")
}

/// The core `auto` takes from a probe table: the fastest correct candidate when it beats
/// the library's own core by more than [`CLEAR_WIN`] (or the library's own failed), else
/// the library's own.
fn decide(library_default: &str, probes: &[KernelProbe]) -> String {
    let rate = |p: &KernelProbe| match p.outcome {
        ProbeOutcome::Correct { gflops } => Some(gflops),
        _ => None,
    };
    let own_label = own_label(library_default);
    let own = probes.iter().find(|p| p.kernel == own_label).and_then(rate);
    let best = probes
        .iter()
        .filter(|p| p.kernel != own_label)
        .filter_map(|p| rate(p).map(|g| (p, g)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    match (own, best) {
        (Some(own), Some((p, g))) if g > own * (1.0 + CLEAR_WIN) => p.kernel.clone(),
        (None, Some((p, _))) => p.kernel.clone(),
        _ => library_default.to_string(),
    }
}

/// Times the library's own core and every candidate, each in a child process, in two passes
/// over all of them (each core's better rate counts): a core timed first, while the CPU may
/// still be raising its clock, must not lose for that (on the device's Xeon a single pass
/// timed the library's own core at half its rate).
fn probe_cores(running: &str, machine: &Machine, library: &str) -> Probed {
    let mut cores = vec![(own_label(running), running, ChildCore::Removed)];
    for core in candidates(&machine.simd) {
        if !core.eq_ignore_ascii_case(running) {
            cores.push((core.to_string(), core, ChildCore::Set(core)));
        }
    }
    let mut probes: Vec<KernelProbe> = cores
        .iter()
        .map(|(label, want, env)| KernelProbe {
            kernel: label.clone(),
            size: Some(PROBE_N),
            outcome: probe_child(*env).outcome(want),
        })
        .collect();
    for (probe, (_, want, env)) in probes.iter_mut().zip(&cores) {
        if let ProbeOutcome::Correct { gflops } = probe.outcome {
            probe.outcome = match probe_child(*env).outcome(want) {
                ProbeOutcome::Correct { gflops: again } => ProbeOutcome::Correct {
                    gflops: gflops.max(again),
                },
                // Correct once and not again: not a core to take.
                other => other,
            };
        }
    }
    Probed {
        cpu_model: machine.cpu_model.clone(),
        simd: machine.simd.clone(),
        library: library.to_string(),
        library_default: running.to_string(),
        chosen: decide(running, &probes),
        probes,
        fresh: true,
    }
}

/// `auto` without `OPENBLAS_CORETYPE`: the probe (or its cache) of the library's own core
/// against the cores made for this CPU's vector extensions. When another core wins, the
/// engine re-executes itself with `OPENBLAS_CORETYPE` set to it (the library reads the
/// variable when it loads), and the re-executed engine, whose workers inherit both
/// variables, reports the probe. `None`: nothing to probe (no candidates), or the variable
/// was set by the user.
fn auto_probe(running: &str, cache: &ProbeCache) -> Result<Option<KernelChoice>, CoreError> {
    if let Ok(forced) = std::env::var(CORETYPE) {
        // This engine after the probe re-executed it, or one of its workers.
        let Some(probed) = handed_probe().filter(|p| p.chosen == forced) else {
            return Ok(None);
        };
        if !running.eq_ignore_ascii_case(&probed.chosen) {
            return Err(CoreError::Ignored {
                asked: probed.chosen,
                running: running.to_string(),
            });
        }
        return Ok(Some(probed.choice(running.to_string())));
    }
    // A worker process of an engine whose probe kept the library's own core: the parent's
    // decision, not a probe of its own (which might decide otherwise, or find no cache).
    if let Some(kept) = handed_probe().filter(|p| p.chosen == running) {
        return Ok(Some(kept.choice(running.to_string())));
    }
    let machine = Machine::detect();
    if candidates(&machine.simd).is_empty() {
        return Ok(None);
    }
    let path = cache.path(&machine, running);
    let cached = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Probed>(&b).ok())
        .filter(|p| {
            p.cpu_model == machine.cpu_model
                && p.library == cache.library
                && p.library_default == running
        });
    let probed = match cached {
        Some(p) => Probed { fresh: false, ..p },
        None => {
            let p = probe_cores(running, &machine, &cache.library);
            let stored = Probed {
                fresh: false,
                ..p.clone()
            };
            kernel_cache::store(&path, &stored, "the OpenBLAS core choice");
            p
        }
    };
    // Handed on to the worker processes (and, with another core, to the re-executed engine).
    let json = serde_json::to_string(&probed).expect("serialisable");
    // SAFETY: called during start-up, before any other thread exists (see `choose`).
    unsafe { std::env::set_var(PROBED_VAR, json) };
    if probed.chosen.eq_ignore_ascii_case(running) {
        return Ok(Some(probed.choice(running.to_string())));
    }
    Err(reexec_with_coretype(Some(&probed.chosen)))
}

/// The probe an engine handed to this process in `BLASPAR_OPENBLAS_PROBED`, if any.
fn handed_probe() -> Option<Probed> {
    std::env::var(PROBED_VAR)
        .ok()
        .and_then(|j| serde_json::from_str::<Probed>(&j).ok())
}

/// The kernel OpenBLAS runs and how it came to be, for the request `kernel`:
/// - `auto`: without `OPENBLAS_CORETYPE`, the library's own core probed against the cores
///   made for this CPU's vector extensions (cached in `cache`), the fastest taken when it
///   is clearly faster, which re-executes the process with the variable set; with the
///   variable set by the user, that core, probed against the library's own;
/// - `default`: without OPENBLAS_CORETYPE; a core name: with it (both may re-execute).
///
/// Call during start-up, after [`child_hook`], before other threads exist.
pub fn choose(lib: &Library, kernel: &str, cache: &ProbeCache) -> Result<KernelChoice, CoreError> {
    let running = lib.corename();
    // A probe child that is not an engine (a test binary, which has no child_hook) must
    // not start probes of its own.
    let probing = std::env::var_os(PROBE_VAR).is_none();
    if kernel == "auto"
        && probing
        && let Some(choice) = auto_probe(&running, cache)?
    {
        return Ok(choice);
    }
    let method = kernel_method(kernel, &running)?;
    let (library_default, probes) = match std::env::var(CORETYPE).ok() {
        None => (Some(running.clone()), vec![]),
        Some(forced) if probing => coretype_probes(&forced, &running)?,
        Some(_) => (None, vec![]),
    };
    Ok(KernelChoice {
        decided_at: None,
        kernel: running,
        method,
        library_default,
        probes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kernel: &str, gflops: Option<f64>) -> KernelProbe {
        KernelProbe {
            kernel: kernel.to_string(),
            size: Some(PROBE_N),
            outcome: match gflops {
                Some(gflops) => ProbeOutcome::Correct { gflops },
                None => ProbeOutcome::Failed {
                    detail: "signal: 4 (SIGILL)".to_string(),
                },
            },
        }
    }

    #[test]
    fn a_fallback_core_is_replaced_by_a_clearly_faster_one() {
        // Debian's 0.3.21 on an Emerald Rapids Xeon: Prescott, SSE3 kernels.
        let probes = [
            row(&own_label("Prescott"), Some(10.4)),
            row("SapphireRapids", None),
            row("Cooperlake", None),
            row("SkylakeX", Some(61.0)),
            row("Haswell", Some(44.0)),
        ];
        assert_eq!(decide("Prescott", &probes), "SkylakeX");
    }

    #[test]
    fn the_library_keeps_its_core_unless_another_wins_clearly() {
        // Zen and Haswell share their dgemm kernel: a draw a few percent apart decides
        // nothing.
        let probes = [
            row(&own_label("Zen"), Some(40.0)),
            row("Haswell", Some(42.5)),
        ];
        assert_eq!(decide("Zen", &probes), "Zen");
        let probes = [
            row(&own_label("Zen"), Some(40.0)),
            row("Haswell", Some(47.0)),
        ];
        assert_eq!(decide("Zen", &probes), "Haswell");
        // Nothing else ran: the library's own.
        let probes = [row(&own_label("Zen"), Some(40.0)), row("SkylakeX", None)];
        assert_eq!(decide("Zen", &probes), "Zen");
        // The library's own failed its probe: the fastest that ran.
        let probes = [row(&own_label("Zen"), None), row("Haswell", Some(40.0))];
        assert_eq!(decide("Zen", &probes), "Haswell");
        assert_eq!(decide("Zen", &[row(&own_label("Zen"), None)]), "Zen");
    }

    #[test]
    fn candidates_follow_the_vector_extensions() {
        let simd = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(candidates(&simd(&["sse2", "avx"])).is_empty());
        assert_eq!(
            candidates(&simd(&["sse2", "avx", "fma", "avx2"])),
            ["Haswell", "Zen"]
        );
        assert_eq!(
            candidates(&simd(&["avx", "fma", "avx2", "avx512f"])),
            ["SapphireRapids", "Cooperlake", "SkylakeX", "Haswell", "Zen"]
        );
    }

    #[test]
    fn a_probe_handed_to_the_reexecuted_engine_reads_back() {
        let p = Probed {
            cpu_model: "Intel(R) Xeon(R) Processor".into(),
            simd: vec!["avx2".into(), "avx512f".into()],
            library: "0.3.21 pthread".into(),
            library_default: "Prescott".into(),
            chosen: "SkylakeX".into(),
            probes: vec![row("SkylakeX", Some(61.0))],
            fresh: true,
        };
        let back: Probed = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let choice = back.choice("SkylakeX".into());
        assert_eq!(choice.method, ChoiceMethod::Probe);
        assert_eq!(choice.library_default.as_deref(), Some("Prescott"));
        let cached = Probed { fresh: false, ..p }.choice("SkylakeX".into());
        assert_eq!(cached.method, ChoiceMethod::Cache);
    }
}

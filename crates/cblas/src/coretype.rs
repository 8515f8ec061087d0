//! OpenBLAS's kernel ("core") choice, for every OpenBLAS build whatever its symbol prefix
//! (Debian's three builds, the scipy-openblas32 wheel).
//!
//! OpenBLAS picks its core by CPU detection when the library loads; `OPENBLAS_CORETYPE`
//! overrides it (even set to the empty string: 0.3.21 then runs Cooperlake kernels, whatever
//! the CPU). When that variable is set, two child processes (this executable again, with
//! `BLASPAR_OPENBLAS_PROBE`) time a 512^3 product on one thread: one with the variable, one
//! without it, which also tells the core OpenBLAS picks by itself. A warning says so when the
//! variable forces a slower kernel; a forced core the CPU cannot execute (the child dies of
//! SIGILL) is an error, before the engine's own first product would kill it. `--kernel
//! default` runs without the variable, `--kernel NAME` with `OPENBLAS_CORETYPE=NAME` (the
//! engine re-executes itself, since the library reads the variable when it loads).

use crate::cstr;
use blaspar_core::backend::{ChoiceMethod, KernelChoice, KernelProbe, ProbeOutcome};
use blaspar_core::{Gemm, Layout};
use std::os::raw::c_char;
use std::path::PathBuf;
use std::time::Instant;

pub const CORETYPE: &str = "OPENBLAS_CORETYPE";
const PROBE_VAR: &str = "BLASPAR_OPENBLAS_PROBE";
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

/// One-thread GFLOP/s of a 512^3 product (through `cblas_dgemm`), best of three.
fn gflops_one_thread(lib: &Library) -> f64 {
    let n = PROBE_N;
    let a: Vec<f64> = (0..n * n).map(|i| (i % 17) as f64 / 17.0).collect();
    let b: Vec<f64> = (0..n * n).map(|i| (i % 13) as f64 / 13.0).collect();
    let mut c = vec![0.0; n * n];
    let g = Gemm::packed(Layout::RowMajor, n, n, n);
    let flops = 2.0 * (n as f64).powi(3);
    // SAFETY: plain setter; this process is a probe child and exits after the product.
    unsafe { (lib.set_num_threads)(1) };
    (0..3)
        .map(|_| {
            let t = Instant::now();
            match crate::dgemm(&g, &a, &b, &mut c) {
                Ok(()) => flops / t.elapsed().as_secs_f64() / 1e9,
                Err(_) => 0.0,
            }
        })
        .fold(0.0, f64::max)
}

/// Call first in `main` of every binary that links an OpenBLAS backend: a kernel-probe child
/// (this executable started with `BLASPAR_OPENBLAS_PROBE`) prints its core and speed and
/// exits.
pub fn child_hook(lib: &Library) {
    if std::env::var_os(PROBE_VAR).is_some() {
        println!("{}\t{:.3}", lib.corename(), gflops_one_thread(lib));
        std::process::exit(0);
    }
}

/// How a probe child ended.
enum ChildProbe {
    Ran { core: String, gflops: f64 },
    Killed { detail: String },
    Failed { detail: String },
}

/// The core and speed of a child with `OPENBLAS_CORETYPE` as in this process (`keep`) or
/// removed.
fn probe_child(keep: bool) -> ChildProbe {
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
    if !keep {
        cmd.env_remove(CORETYPE);
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
    let (here, mut probes) = match probe_child(true) {
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
        ChildProbe::Failed { detail } => (
            None,
            vec![KernelProbe {
                kernel: label,
                size: None,
                outcome: ProbeOutcome::Failed { detail },
            }],
        ),
    };
    let library_default = match probe_child(false) {
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
        ChildProbe::Killed { detail } | ChildProbe::Failed { detail } => {
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

/// The kernel OpenBLAS runs and how it came to be, for the request `kernel`: `auto` (the
/// library's choice, or OPENBLAS_CORETYPE when set, probed against the library's choice),
/// `default` (without OPENBLAS_CORETYPE) or a core name. The last two may re-execute the
/// process with the variable changed. Call during start-up, after [`child_hook`], before
/// other threads exist.
pub fn choose(lib: &Library, kernel: &str) -> Result<KernelChoice, CoreError> {
    let running = lib.corename();
    let method = kernel_method(kernel, &running)?;
    // A probe child that is not an engine (a test binary, which has no child_hook) must
    // not start probes of its own.
    let probing = std::env::var_os(PROBE_VAR).is_none();
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

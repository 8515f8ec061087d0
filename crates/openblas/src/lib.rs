//! OpenBLAS backend: Debian's libopenblas (0.3.21, DYNAMIC_ARCH) through openblas-src
//! `system`, linked dynamically.
//!
//! **Variants.** Debian ships three builds of the same library in
//! `<libdir>/openblas-{pthread,openmp,serial}`. One crate build makes one engine binary per
//! variant, each with a run path to its folder (build.rs); at start-up the engine checks
//! with `openblas_get_parallel` that the loaded build is the one it is named after, and
//! with the dynamic linker that `cblas_dgemm` comes from OpenBLAS at all.
//!
//! **Threads** (one place: [`OpenBlas::set_threads`] / [`OpenBlas::threads`]):
//! `openblas_set_num_threads` / `openblas_get_num_threads` are process-wide (0.3.21 has no
//! per-thread call; `openblas_set_num_threads_local` arrived in 0.3.27), so P x T hybrids in
//! one process are refused. The openmp build also copies the count into the calling thread's
//! OpenMP setting, and a dgemm from a thread whose OpenMP setting differs resets the global
//! count to it (measured: main sets 1, a new thread calls dgemm, the count is 2 again). The
//! runner sets the count in every worker before its first task and reads it back before every
//! product, which keeps it consistent. The serial build always runs one thread.
//!
//! **Kernel.** OpenBLAS picks its kernel ("core") by CPU detection when the library loads;
//! `OPENBLAS_CORETYPE` overrides it (even set to the empty string: 0.3.21 then runs
//! Cooperlake kernels, whatever the CPU). When that variable is set, a child process without it
//! tells which core OpenBLAS would pick and how fast each is on one thread, and a warning
//! says so when the variable forces a slower kernel. `--kernel default` runs without the
//! variable, `--kernel NAME` with `OPENBLAS_CORETYPE=NAME` (the engine re-executes itself,
//! since the library reads the variable when it loads).

// Links libopenblas (and its cblas symbols, which ndarray's `blas` feature calls).
extern crate openblas_src;

use blaspar_cblas::cstr;
use blaspar_core::backend::{Backend, ChoiceMethod, KernelChoice, KernelProbe, ProbeOutcome};
use blaspar_core::{Gemm, GemmError, Layout, ThreadScope};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use std::os::raw::c_int;
use std::path::PathBuf;
use std::time::Instant;

mod ffi {
    use std::os::raw::{c_char, c_int};
    unsafe extern "C" {
        pub fn openblas_get_config() -> *const c_char;
        pub fn openblas_get_corename() -> *const c_char;
        pub fn openblas_get_parallel() -> c_int;
        pub fn openblas_set_num_threads(n: c_int);
        pub fn openblas_get_num_threads() -> c_int;
    }
}

const CORETYPE: &str = "OPENBLAS_CORETYPE";
const PROBE_VAR: &str = "BLASPAR_OPENBLAS_PROBE";
const REEXEC_VAR: &str = "BLASPAR_OPENBLAS_REEXEC";
/// Size of the timed product that compares kernels.
const PROBE_N: usize = 512;

/// One of Debian's OpenBLAS builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Pthread,
    Openmp,
    Serial,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::Pthread, Variant::Openmp, Variant::Serial];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Pthread => "pthread",
            Variant::Openmp => "openmp",
            Variant::Serial => "serial",
        }
    }

    /// The backend name on the command line: `openblas-pthread`, ...
    pub fn backend_name(self) -> &'static str {
        match self {
            Variant::Pthread => "openblas-pthread",
            Variant::Openmp => "openblas-openmp",
            Variant::Serial => "openblas-serial",
        }
    }

    /// What `openblas_get_parallel` returns for this build.
    fn parallel_code(self) -> c_int {
        match self {
            Variant::Serial => 0,
            Variant::Pthread => 1,
            Variant::Openmp => 2,
        }
    }

    /// The Debian package that ships this build.
    fn package(self) -> &'static str {
        match self {
            Variant::Pthread => "libopenblas0-pthread",
            Variant::Openmp => "libopenblas0-openmp",
            Variant::Serial => "libopenblas0-serial",
        }
    }

    /// The build the loader picked for this process (`openblas_get_parallel`).
    pub fn loaded() -> Option<Variant> {
        // SAFETY: plain getter.
        let code = unsafe { ffi::openblas_get_parallel() };
        Variant::ALL.into_iter().find(|v| v.parallel_code() == code)
    }

    /// The folder Debian installs this build into.
    pub fn dir(self) -> PathBuf {
        PathBuf::from(env!("BLASPAR_OPENBLAS_LIBDIR")).join(format!("openblas-{}", self.name()))
    }
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s || v.backend_name() == s)
            .ok_or_else(|| format!("unknown OpenBLAS variant '{s}': pthread, openmp or serial"))
    }
}

/// Why OpenBLAS could not be set up as asked; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum OpenBlasError {
    #[error(transparent)]
    Provenance(#[from] blaspar_cblas::provenance::ProvenanceError),
    #[error(
        "openblas-{want}: the OpenBLAS loaded from {path} is the {got} build (openblas_get_parallel = {code}); \
         install {package} (scripts/setup.sh) and do not point LD_LIBRARY_PATH at another OpenBLAS"
    )]
    WrongVariant {
        want: &'static str,
        got: String,
        code: i32,
        path: String,
        package: &'static str,
    },
    #[error(
        "OpenBLAS runs core '{running}' although {CORETYPE}={asked}: OpenBLAS does not know that core name"
    )]
    KernelIgnored { asked: String, running: String },
    #[error("cannot re-execute {exe} to change {CORETYPE}: {detail}")]
    Reexec { exe: PathBuf, detail: String },
}

/// OpenBLAS, loaded and checked.
pub struct OpenBlas {
    variant: Variant,
    version: String,
    kernel: KernelChoice,
    default_threads: usize,
    batch: Option<blaspar_cblas::DgemmBatchFn>,
    counter: Option<fn() -> u64>,
}

/// The core (kernel set) OpenBLAS runs, as it names it (`SkylakeX`, `Haswell`, ...).
pub fn corename() -> String {
    // SAFETY: plain getter of a static NUL-terminated string.
    unsafe { cstr(ffi::openblas_get_corename()) }
}

/// One-thread GFLOP/s of a 512^3 product, best of three.
fn gflops_one_thread() -> f64 {
    let n = PROBE_N;
    let a: Vec<f64> = (0..n * n).map(|i| (i % 17) as f64 / 17.0).collect();
    let b: Vec<f64> = (0..n * n).map(|i| (i % 13) as f64 / 13.0).collect();
    let mut c = vec![0.0; n * n];
    let g = Gemm::packed(Layout::RowMajor, n, n, n);
    let flops = 2.0 * (n as f64).powi(3);
    // SAFETY: plain setter (the caller restores the count).
    unsafe { ffi::openblas_set_num_threads(1) };
    (0..3)
        .map(|_| {
            let t = Instant::now();
            let ok = blaspar_cblas::dgemm(&g, &a, &b, &mut c).is_ok();
            if ok {
                flops / t.elapsed().as_secs_f64() / 1e9
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

/// Call first in `main` of every binary that links this crate: a kernel-probe child (this
/// executable started with `BLASPAR_OPENBLAS_PROBE`) prints its core and speed and exits.
pub fn child_hook() {
    if std::env::var_os(PROBE_VAR).is_some() {
        println!("{}\t{:.3}", corename(), gflops_one_thread());
        std::process::exit(0);
    }
}

/// The core OpenBLAS picks by itself (no OPENBLAS_CORETYPE) and its speed, from a child.
fn library_default_probe() -> Result<(String, f64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(&exe)
        .env_remove(CORETYPE)
        .env(PROBE_VAR, "1")
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or_default();
    match (out.status.success(), line.split_once('\t')) {
        (true, Some((core, g))) => Ok((core.to_string(), g.parse().unwrap_or(0.0))),
        _ => Err(format!(
            "probe child {} failed ({}): {}",
            exe.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Re-executes this process with `OPENBLAS_CORETYPE` removed (`None`) or set; never returns
/// on success.
fn reexec_with_coretype(value: Option<&str>) -> OpenBlasError {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return OpenBlasError::Reexec {
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
    OpenBlasError::Reexec {
        exe,
        detail: err.to_string(),
    }
}

/// The OpenBLAS that answers `cblas_dgemm` (its path and configuration string), checked to
/// be `variant`'s build.
fn loaded_build(variant: Variant) -> Result<(std::path::PathBuf, String), OpenBlasError> {
    let path = blaspar_cblas::provenance::expect_shared("libopenblas")?;
    // SAFETY: plain getters; the configuration is a static NUL-terminated string.
    let (code, config) = unsafe {
        (
            ffi::openblas_get_parallel(),
            cstr(ffi::openblas_get_config()),
        )
    };
    if code != variant.parallel_code() {
        let got = Variant::ALL
            .into_iter()
            .find(|v| v.parallel_code() == code)
            .map_or_else(|| format!("unknown ({code})"), |v| v.name().to_string());
        return Err(OpenBlasError::WrongVariant {
            want: variant.name(),
            got,
            code,
            path: path.display().to_string(),
            package: variant.package(),
        });
    }
    Ok((path, config))
}

/// How the running core came to be, for the kernel request; `default` and a core name may
/// re-execute the process with OPENBLAS_CORETYPE changed (returned as the error that
/// carries the re-execution's outcome).
fn kernel_method(kernel: &str, running: &str) -> Result<ChoiceMethod, OpenBlasError> {
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
                return Err(OpenBlasError::KernelIgnored {
                    asked: name.to_string(),
                    running: running.to_string(),
                });
            }
            ChoiceMethod::UserOverride
        }
    })
}

/// With OPENBLAS_CORETYPE=`forced`: the forced core's rate on one thread against the core
/// OpenBLAS picks without the variable (asked of a child process), with a warning when the
/// forced one is slower. Returns the library's own choice and the probe table.
fn coretype_probes(
    forced: &str,
    running: &str,
    default_threads: usize,
) -> (Option<String>, Vec<KernelProbe>) {
    let here = gflops_one_thread();
    // SAFETY: restores the count gflops_one_thread changed.
    unsafe { ffi::openblas_set_num_threads(default_threads as c_int) };
    let mut probes = vec![KernelProbe {
        kernel: format!("{running} ({CORETYPE}={forced})"),
        size: None,
        outcome: ProbeOutcome::Correct { gflops: here },
    }];
    match library_default_probe() {
        Ok((core, gflops)) => {
            if core != running && gflops > here {
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
            (Some(core), probes)
        }
        Err(detail) => {
            probes.push(KernelProbe {
                kernel: "library's choice".to_string(),
                size: None,
                outcome: ProbeOutcome::Failed { detail },
            });
            (None, probes)
        }
    }
}

/// The library's `cblas_dgemm_batch`, when it has one (0.3.28 and later).
fn batch_symbol() -> Option<blaspar_cblas::DgemmBatchFn> {
    // SAFETY: dlsym with a NUL-terminated name; a non-null result is the library's
    // cblas_dgemm_batch, whose C signature DgemmBatchFn spells out (LP64).
    unsafe {
        let p = libc::dlsym(libc::RTLD_DEFAULT, c"cblas_dgemm_batch".as_ptr());
        (!p.is_null())
            .then(|| std::mem::transmute::<*mut libc::c_void, blaspar_cblas::DgemmBatchFn>(p))
    }
}

impl OpenBlas {
    /// Checks that `cblas_dgemm` comes from OpenBLAS's `variant` build and applies the kernel
    /// request: `auto` (the library's choice, or OPENBLAS_CORETYPE when set, with a warning
    /// when that is slower), `default` (without OPENBLAS_CORETYPE) or a core name. The last
    /// two may re-execute the process with the variable changed. Call during start-up, after
    /// [`child_hook`], before other threads exist.
    pub fn init(variant: Variant, kernel: &str) -> Result<OpenBlas, OpenBlasError> {
        let (path, config) = loaded_build(variant)?;
        let running = corename();
        let method = kernel_method(kernel, &running)?;
        // SAFETY: plain getter, read before anything changed the count.
        let default_threads = unsafe { ffi::openblas_get_num_threads() }.max(1) as usize;
        let (library_default, probes) = match std::env::var(CORETYPE).ok() {
            None => (Some(running.clone()), vec![]),
            Some(forced) => coretype_probes(&forced, &running, default_threads),
        };
        let release = config.split_whitespace().nth(1).unwrap_or("?").to_string();
        Ok(OpenBlas {
            variant,
            version: format!("{release} ({} build, {})", variant.name(), path.display()),
            kernel: KernelChoice {
                kernel: running,
                method,
                library_default,
                probes,
                decided_at: None,
            },
            default_threads: if variant == Variant::Serial {
                1
            } else {
                default_threads
            },
            batch: batch_symbol(),
            counter: None,
        })
    }

    /// Lets [`Backend::gemm_calls_in_this_thread`] report the binary's dgemm call counter.
    pub fn with_call_counter(mut self, counter: fn() -> u64) -> Self {
        self.counter = Some(counter);
        self
    }

    pub fn variant(&self) -> Variant {
        self.variant
    }
}

impl Backend for OpenBlas {
    fn name(&self) -> &'static str {
        self.variant.backend_name()
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn kernel(&self) -> &KernelChoice {
        &self.kernel
    }

    fn thread_scope(&self) -> ThreadScope {
        match self.variant {
            Variant::Serial => ThreadScope::Fixed { threads: 1 },
            Variant::Pthread | Variant::Openmp => ThreadScope::Process,
        }
    }

    fn concurrent_calls_unsupported(&self) -> Option<String> {
        // Debian's serial build has no locking around its buffers: two threads calling
        // dgemm at once sometimes get wrong products (seen here: 1 run in 200 of threads-2,
        // 6 x 264^2). Worker processes each have their own copy and are safe.
        (self.variant == Variant::Serial).then(|| {
            "Debian's serial OpenBLAS is not safe to call from several threads at once \
             (wrong products were seen); use worker processes (procs-P)"
                .to_string()
        })
    }

    fn default_threads(&self) -> usize {
        self.default_threads
    }

    fn set_threads(&self, threads: usize) {
        let n = c_int::try_from(threads).unwrap_or(c_int::MAX);
        // SAFETY: plain setter of OpenBLAS's global count (and, in the openmp build, of the
        // calling thread's OpenMP setting).
        unsafe { ffi::openblas_set_num_threads(n) }
    }

    fn threads(&self) -> usize {
        // SAFETY: plain getter.
        unsafe { ffi::openblas_get_num_threads() }.max(1) as usize
    }

    fn multiply(&self, a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        // ndarray hands standard-layout f64 products with any dimension > 7 to cblas_dgemm;
        // the engine binary counts those calls to prove it for every task.
        a.dot(b)
    }

    fn multiply_into(
        &self,
        a: ArrayView2<'_, f64>,
        b: ArrayView2<'_, f64>,
        mut c: ArrayViewMut2<'_, f64>,
    ) {
        // The same ndarray path as `.dot` (cblas_dgemm for standard layouts with a dimension
        // > 7), writing into `c` in place: beta = 0, so c's old contents do not matter.
        ndarray::linalg::general_mat_mul(1.0, &a, &b, 0.0, &mut c);
    }

    fn gemm_calls_in_this_thread(&self) -> Option<u64> {
        self.counter.map(|f| f())
    }

    fn dgemm(&self, g: &Gemm, a: &[f64], b: &[f64], c: &mut [f64]) -> Result<(), GemmError> {
        blaspar_cblas::dgemm(g, a, b, c)
    }

    fn batch_unsupported(&self) -> Option<String> {
        self.batch.is_none().then(|| {
            format!(
                "OpenBLAS {} exports no cblas_dgemm_batch (the loaded library was asked)",
                self.version
            )
        })
    }

    fn multiply_batch(&self, pairs: &[(&Array2<f64>, &Array2<f64>)]) -> Option<Vec<Array2<f64>>> {
        blaspar_cblas::multiply_batch(self.batch?, pairs).ok()
    }
}

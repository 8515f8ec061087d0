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
//! `OPENBLAS_CORETYPE` overrides it. [`blaspar_cblas::coretype`] reports the choice, probes
//! the library's own core against the cores made for this CPU (`auto`; cached), or a forced
//! core against the library's own, in child processes, and applies `--kernel default` /
//! `--kernel NAME` (re-executing the engine with the variable changed).

// Links libopenblas (and its cblas symbols, which ndarray's `blas` feature calls).
extern crate openblas_src;

use blaspar_cblas::coretype::{self, CoreError};
use blaspar_cblas::cstr;
use blaspar_core::ThreadScope;
use blaspar_core::backend::{Backend, KernelChoice};
use ndarray::Array2;
use std::os::raw::c_int;
use std::path::{Path, PathBuf};

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

/// What the kernel choice calls in this build.
const LIBRARY: coretype::Library = coretype::Library {
    get_corename: ffi::openblas_get_corename,
    set_num_threads: ffi::openblas_set_num_threads,
};

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
    #[error(transparent)]
    Kernel(#[from] CoreError),
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
    LIBRARY.corename()
}

/// Call first in `main` of every binary that links this crate: a kernel-probe child prints
/// its core and speed and exits ([`coretype::child_hook`]).
pub fn child_hook() {
    coretype::child_hook(&LIBRARY);
}

/// The OpenBLAS that answers `cblas_dgemm` (its path and configuration string), checked to
/// be `variant`'s build.
fn loaded_build(variant: Variant) -> Result<(std::path::PathBuf, String), OpenBlasError> {
    let path = blaspar_cblas::provenance::expect_shared("libopenblas")?;
    // Its LAPACK (Debian builds OpenBLAS with LAPACK inside), calling its own dgemm_.
    let shared = blaspar_cblas::provenance::Provider::Shared(path.clone());
    blaspar_cblas::provenance::expect_lapack(&shared, &shared)?;
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
    /// request ([`coretype::choose`]): `auto` (the library's core probed against the cores
    /// made for this CPU, cached in `cache_dir`; or OPENBLAS_CORETYPE when set, with a
    /// warning when that is slower), `default` (without OPENBLAS_CORETYPE) or a core name.
    /// All but `auto` with the library's own core kept may re-execute the process with the
    /// variable changed. Call during start-up, after
    /// [`child_hook`], before other threads exist.
    pub fn init(
        variant: Variant,
        kernel: &str,
        cache_dir: &Path,
    ) -> Result<OpenBlas, OpenBlasError> {
        let (path, config) = loaded_build(variant)?;
        let release = config.split_whitespace().nth(1).unwrap_or("?").to_string();
        let cache = coretype::ProbeCache {
            dir: cache_dir.to_path_buf(),
            library: format!("openblas {release} {}", variant.name()),
        };
        let kernel = coretype::choose(&LIBRARY, kernel, &cache)?;
        // SAFETY: plain getter, read before anything changed the count.
        let default_threads = unsafe { ffi::openblas_get_num_threads() }.max(1) as usize;
        Ok(OpenBlas {
            variant,
            version: format!("{release} ({} build, {})", variant.name(), path.display()),
            kernel,
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

    blaspar_cblas::cblas_products!();

    fn gemm_calls_in_this_thread(&self) -> Option<u64> {
        self.counter.map(|f| f())
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

    blaspar_cblas::lapack_operations!();
}

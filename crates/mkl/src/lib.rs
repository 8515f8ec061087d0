//! Intel MKL backend: MKL from the PyPI wheels (scripts/setup.sh puts them in `.deps/mkl`),
//! linked statically through intel-mkl-src with 32-bit integers (LP64, as cblas-sys
//! declares them).
//!
//! **Builds.** Feature `seq` (sequential threading layer, engine `blaspar-engine-mkl-seq`)
//! or `iomp` (Intel OpenMP, engine `blaspar-engine-mkl-iomp`): exactly one per cargo
//! invocation, since both define the same symbols.
//!
//! **Threads** (one place: [`Mkl::set_threads`] / [`Mkl::threads`]): the iomp build sets the
//! count of the **calling thread** with `mkl_set_num_threads_local` and reads it back with
//! `mkl_get_max_threads` (which honours the thread-local setting), so in-process P x T
//! hybrids are honest; a new thread starts at the process-wide count. The sequential build
//! always runs one thread.
//!
//! **Kernel.** MKL dispatches by CPU at run time; `mkl_get_version` names the instruction
//! path it took (`Processor`). On AMD CPUs it takes AVX2 even where AVX-512 exists. When
//! `MKL_ENABLE_INSTRUCTIONS` or `MKL_CBWR` is set, the path is the user's override and a
//! warning says that it may be slower than MKL's own choice.
//!
//! **Provenance.** MKL is static: `cblas_dgemm` must not come from any shared object, and
//! no other BLAS may be loaded ([`blaspar_cblas::provenance`]).

#[cfg(all(feature = "seq", feature = "iomp"))]
compile_error!(
    "blaspar-mkl: choose exactly one of the features `seq` and `iomp` (one cargo invocation each)"
);
#[cfg(not(any(feature = "seq", feature = "iomp")))]
compile_error!(
    "blaspar-mkl: choose a threading layer: `--features seq` or `--features iomp` \
     (scripts/build.sh and scripts/test.sh loop over both)"
);

// Links MKL (and its cblas symbols, which ndarray's `blas` feature calls).
#[cfg(any(feature = "seq", feature = "iomp"))]
extern crate intel_mkl_src;

use blaspar_cblas::cstr;
use blaspar_core::ThreadScope;
use blaspar_core::backend::{Backend, ChoiceMethod, KernelChoice};
use ndarray::Array2;
#[cfg(feature = "iomp")]
use std::os::raw::c_int;

/// The backend name of this build.
#[cfg(feature = "iomp")]
pub const BACKEND_NAME: &str = "mkl-iomp";
/// The backend name of this build.
#[cfg(not(feature = "iomp"))]
pub const BACKEND_NAME: &str = "mkl-seq";

mod ffi {
    use std::os::raw::{c_char, c_int};

    #[repr(C)]
    pub struct MklVersion {
        pub major: c_int,
        pub minor: c_int,
        pub update: c_int,
        pub patch: c_int,
        pub product_status: *const c_char,
        pub build: *const c_char,
        pub processor: *const c_char,
        pub platform: *const c_char,
    }

    unsafe extern "C" {
        pub fn MKL_Get_Version(v: *mut MklVersion);
        pub fn MKL_Get_Max_Threads() -> c_int;
        #[cfg(feature = "iomp")]
        pub fn MKL_Set_Num_Threads_Local(n: c_int) -> c_int;
    }
}

/// Why MKL could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MklError {
    #[error(transparent)]
    Provenance(#[from] blaspar_cblas::provenance::ProvenanceError),
}

/// Variables that make MKL take another instruction path than its own choice.
const OVERRIDES: [&str; 2] = ["MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR"];

/// Intel MKL, checked and introspected.
pub struct Mkl {
    version: String,
    kernel: KernelChoice,
    default_threads: usize,
    counter: Option<fn() -> u64>,
}

impl Mkl {
    /// Checks that `cblas_dgemm` is MKL's (static, no other BLAS loaded) and reads version,
    /// instruction path and default thread count.
    pub fn init() -> Result<Mkl, MklError> {
        blaspar_cblas::provenance::expect_static("Intel MKL")?;
        // MKL's own LAPACK, calling its own dgemm_ (neither exported: both linked in).
        let linked = blaspar_cblas::provenance::Provider::Static;
        blaspar_cblas::provenance::expect_lapack(&linked, &linked)?;
        let mut v = ffi::MklVersion {
            major: 0,
            minor: 0,
            update: 0,
            patch: 0,
            product_status: std::ptr::null(),
            build: std::ptr::null(),
            processor: std::ptr::null(),
            platform: std::ptr::null(),
        };
        // SAFETY: MKL fills the struct with numbers and pointers to static NUL-terminated
        // strings, which it pads with spaces (hence the trims).
        let (build, processor) = unsafe {
            ffi::MKL_Get_Version(&mut v);
            (cstr(v.build), cstr(v.processor))
        };
        let (build, processor) = (build.trim(), processor.trim().to_string());
        let layer = if cfg!(feature = "iomp") {
            "Intel OpenMP"
        } else {
            "sequential"
        };
        let version = format!(
            "{}.{} update {} build {} ({layer}, static LP64)",
            v.major, v.minor, v.update, build
        );
        let kernel = short_path(&processor);
        let forced: Vec<String> = OVERRIDES
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={v}")))
            .collect();
        let method = if forced.is_empty() {
            ChoiceMethod::LibraryDefault
        } else {
            eprintln!(
                "warning: {} set: MKL runs the {kernel} path, which may be slower than its own \
                 choice; unset the variable(s) to let MKL choose",
                forced.join(", ")
            );
            ChoiceMethod::UserOverride
        };
        // SAFETY: plain getter, before anything changed the count.
        let default_threads = unsafe { ffi::MKL_Get_Max_Threads() }.max(1) as usize;
        Ok(Mkl {
            version,
            kernel: KernelChoice {
                kernel,
                method,
                library_default: forced.is_empty().then(|| processor.clone()),
                probes: vec![],
                decided_at: None,
            },
            default_threads,
            counter: None,
        })
    }

    /// Lets [`Backend::gemm_calls_in_this_thread`] report the binary's dgemm call counter.
    pub fn with_call_counter(mut self, counter: fn() -> u64) -> Self {
        self.counter = Some(counter);
        self
    }
}

/// "Intel(R) Advanced Vector Extensions 512 (Intel(R) AVX-512) with ..." -> "AVX-512":
/// the instruction set in a few words, the full text in `library_default`.
fn short_path(processor: &str) -> String {
    let isa = ["AVX-512", "AVX2", "AVX10", "AVX", "SSE4.2", "SSE4_2"]
        .into_iter()
        .find(|isa| processor.contains(isa));
    match isa {
        Some(isa) => isa.to_string(),
        None if processor.is_empty() => "unknown".to_string(),
        None => processor.to_string(),
    }
}

impl Backend for Mkl {
    fn name(&self) -> &'static str {
        BACKEND_NAME
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn kernel(&self) -> &KernelChoice {
        &self.kernel
    }

    fn thread_scope(&self) -> ThreadScope {
        if cfg!(feature = "iomp") {
            ThreadScope::PerThread
        } else {
            ThreadScope::Fixed { threads: 1 }
        }
    }

    fn default_threads(&self) -> usize {
        self.default_threads
    }

    fn set_threads(&self, threads: usize) {
        #[cfg(feature = "iomp")]
        {
            let n = c_int::try_from(threads).unwrap_or(c_int::MAX);
            // SAFETY: sets the calling thread's count; the previous value is not needed.
            unsafe { ffi::MKL_Set_Num_Threads_Local(n) };
        }
        // The sequential build has one thread; more is refused before a run (ThreadScope).
        #[cfg(not(feature = "iomp"))]
        let _ = threads;
    }

    fn threads(&self) -> usize {
        // SAFETY: plain getter; honours the calling thread's local setting.
        unsafe { ffi::MKL_Get_Max_Threads() }.max(1) as usize
    }

    blaspar_cblas::cblas_products!();

    fn gemm_calls_in_this_thread(&self) -> Option<u64> {
        self.counter.map(|f| f())
    }

    fn batch_unsupported(&self) -> Option<String> {
        None
    }

    fn multiply_batch(&self, pairs: &[(&Array2<f64>, &Array2<f64>)]) -> Option<Vec<Array2<f64>>> {
        // Shapes come from ndarray arrays; the only refusal (dimensions beyond i32) would
        // have failed allocation long before.
        blaspar_cblas::multiply_batch(blaspar_cblas::linked_dgemm_batch(), pairs).ok()
    }

    blaspar_cblas::lapack_operations!();
}

#[cfg(test)]
mod tests {
    #[test]
    fn instruction_paths_are_shortened() {
        use super::short_path;
        assert_eq!(
            short_path(
                "Intel(R) Advanced Vector Extensions 512 (Intel(R) AVX-512) with support of Intel(R) Deep Learning Boost (Intel(R) DL Boost)"
            ),
            "AVX-512"
        );
        assert_eq!(
            short_path("Intel(R) Advanced Vector Extensions 2 (Intel(R) AVX2) enabled processors"),
            "AVX2"
        );
        assert_eq!(short_path(""), "unknown");
    }
}

//! Which object answers `cblas_dgemm` (and LAPACK's routines, and the BLAS they call) in
//! this process, checked at start-up.
//!
//! Two BLAS libraries in one binary do not fail to link: the linker silently takes the first
//! definition it reaches. So every CBLAS backend asks the dynamic linker, before its first
//! product, where `cblas_dgemm` comes from, and refuses to run when it is not the library
//! the backend was built for:
//!
//! - a shared library (OpenBLAS, Debian's BLIS): `dlsym(RTLD_DEFAULT, "cblas_dgemm")` and
//!   `dladdr` name the file, which must be the intended one;
//! - a static library (vendored BLIS, static MKL): the symbol is not exported, so the lookup
//!   finds nothing; then no other BLAS shared object may be mapped in the process
//!   (`/proc/self/maps`), since it could be the one answering;
//! - a library whose symbols carry a prefix (scipy-openblas: `scipy_cblas_dgemm`): the
//!   backend crate defines `cblas_dgemm` as a forwarder, so that name must not come from any
//!   shared object, the prefixed one must come from the intended library, and no other BLAS
//!   may be mapped.

use std::ffi::CStr;
use std::path::{Path, PathBuf};

/// Where `cblas_dgemm` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// Exported by this shared object (the path it was loaded from, symlinks resolved).
    Shared(PathBuf),
    /// Not exported by any loaded object: linked statically into the executable.
    Static,
}

/// The library answering `cblas_dgemm` is not the one this backend was built for.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    #[error(
        "{symbol} in this process comes from {found}, not from {expected}: two BLAS or LAPACK \
         libraries were linked into one binary, or LD_LIBRARY_PATH / LD_PRELOAD swapped the \
         library; rebuild with scripts/build.sh and run without them"
    )]
    Wrong {
        symbol: String,
        expected: String,
        found: String,
    },
}

/// Asks the dynamic linker which object exports `cblas_dgemm`.
pub fn cblas_dgemm_provider() -> Provider {
    provider(c"cblas_dgemm")
}

/// Asks the dynamic linker which object exports `symbol` (`Static` when none does, or the
/// executable itself).
pub fn provider(symbol: &CStr) -> Provider {
    // SAFETY: dlsym/dladdr with a NUL-terminated name; dladdr fills a plain struct and the
    // file name it returns points into the loader's own (static for our purposes) data.
    unsafe {
        let sym = libc::dlsym(libc::RTLD_DEFAULT, symbol.as_ptr());
        if sym.is_null() {
            return Provider::Static;
        }
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(sym, &mut info) == 0 || info.dli_fname.is_null() {
            return Provider::Static;
        }
        let path = PathBuf::from(
            CStr::from_ptr(info.dli_fname)
                .to_string_lossy()
                .into_owned(),
        );
        let exe = std::env::current_exe().ok();
        let resolved = path.canonicalize().unwrap_or(path);
        if exe
            .as_deref()
            .and_then(|e| e.canonicalize().ok())
            .as_deref()
            == Some(&*resolved)
        {
            Provider::Static
        } else {
            Provider::Shared(resolved)
        }
    }
}

/// The LAPACK routines the operations call (module `lapack`).
pub const LAPACK_SYMBOLS: [&CStr; 5] = [c"dgesv_", c"dpotrf_", c"dgeqrf_", c"dsyevd_", c"dgesdd_"];

/// Checks that LAPACK's routines ([`LAPACK_SYMBOLS`]) come from `lapack` and the
/// Fortran `dgemm_` they call from `blas`: a LAPACK that calls another BLAS than the one
/// under test would measure the wrong library.
pub fn expect_lapack(lapack: &Provider, blas: &Provider) -> Result<(), ProvenanceError> {
    let name = |p: &Provider| match p {
        Provider::Shared(path) => path.display().to_string(),
        Provider::Static => "the executable (linked statically)".to_string(),
    };
    let checks = LAPACK_SYMBOLS
        .iter()
        .map(|s| (*s, lapack))
        .chain([(c"dgemm_", blas)]);
    for (symbol, want) in checks {
        let got = provider(symbol);
        if got != *want {
            return Err(ProvenanceError::Wrong {
                symbol: symbol.to_string_lossy().into_owned(),
                expected: name(want),
                found: name(&got),
            });
        }
    }
    Ok(())
}

/// File names of BLAS-like shared objects mapped into this process (from /proc/self/maps).
pub fn loaded_blas_objects() -> Vec<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut found: Vec<PathBuf> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(PathBuf::from)
        .filter(|p| is_blas_object(p))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Whether a file name looks like a BLAS library (OpenBLAS, BLIS, MKL, reference BLAS, ATLAS).
pub fn is_blas_object(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    [
        "libopenblas",
        "libscipy_openblas",
        "libblis",
        "libmkl_",
        "libblas.",
        "libcblas",
        "libatlas",
        "libflexiblas",
        "liblapack",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

/// Checks that `cblas_dgemm` comes from a shared object whose resolved file name starts with
/// `file_prefix` (e.g. `libopenblas`); returns its path.
pub fn expect_shared(file_prefix: &str) -> Result<PathBuf, ProvenanceError> {
    match cblas_dgemm_provider() {
        Provider::Shared(p)
            if p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(file_prefix)) =>
        {
            Ok(p)
        }
        Provider::Shared(p) => Err(ProvenanceError::Wrong {
            symbol: "cblas_dgemm".into(),
            expected: format!("{file_prefix}*.so"),
            found: p.display().to_string(),
        }),
        Provider::Static => Err(ProvenanceError::Wrong {
            symbol: "cblas_dgemm".into(),
            expected: format!("{file_prefix}*.so"),
            found: "a library linked statically into the executable".to_string(),
        }),
    }
}

/// Checks that `cblas_dgemm` is this executable's own forwarder (no shared object exports
/// it), that `symbol`, which the forwarder calls, comes from a shared object whose file name
/// starts with `file_prefix`, and that no other BLAS object is mapped; returns that object's
/// path.
pub fn expect_forwarded(symbol: &CStr, file_prefix: &str) -> Result<PathBuf, ProvenanceError> {
    let expected = format!("{file_prefix}*.so (through this executable's forwarder)");
    if let Provider::Shared(p) = cblas_dgemm_provider() {
        return Err(ProvenanceError::Wrong {
            symbol: "cblas_dgemm".into(),
            expected,
            found: p.display().to_string(),
        });
    }
    let path = match provider(symbol) {
        Provider::Shared(p)
            if p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(file_prefix)) =>
        {
            p
        }
        Provider::Shared(p) => {
            return Err(ProvenanceError::Wrong {
                symbol: symbol.to_string_lossy().into_owned(),
                expected,
                found: p.display().to_string(),
            });
        }
        Provider::Static => {
            return Err(ProvenanceError::Wrong {
                symbol: symbol.to_string_lossy().into_owned(),
                expected,
                found: format!(
                    "a library without {} (no loaded shared object exports it)",
                    symbol.to_string_lossy()
                ),
            });
        }
    };
    match loaded_blas_objects()
        .into_iter()
        .find(|o| o.canonicalize().unwrap_or_else(|_| o.clone()) != path)
    {
        Some(other) => Err(ProvenanceError::Wrong {
            symbol: symbol.to_string_lossy().into_owned(),
            expected,
            found: format!("possibly {} (also loaded)", other.display()),
        }),
        None => Ok(path),
    }
}

/// Checks that `cblas_dgemm` is linked statically (`library` names it in messages) and that
/// no BLAS shared object is mapped that could answer instead.
pub fn expect_static(library: &str) -> Result<(), ProvenanceError> {
    let expected = format!("{library}, linked statically into the executable");
    match cblas_dgemm_provider() {
        Provider::Shared(p) => Err(ProvenanceError::Wrong {
            symbol: "cblas_dgemm".into(),
            expected,
            found: p.display().to_string(),
        }),
        Provider::Static => match loaded_blas_objects().first() {
            Some(other) => Err(ProvenanceError::Wrong {
                symbol: "cblas_dgemm".into(),
                expected,
                found: format!("possibly {} (also loaded)", other.display()),
            }),
            None => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blas_object_names_are_recognised() {
        for yes in [
            "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
            "/x/libblis.so.4",
            "/p/lib/libmkl_core.so.2",
            "/v/site-packages/scipy_openblas32/lib/libscipy_openblas.so",
            "/usr/lib/x86_64-linux-gnu/libblas.so.3",
            "/usr/lib/x86_64-linux-gnu/liblapack.so.3",
        ] {
            assert!(is_blas_object(Path::new(yes)), "{yes}");
        }
        for no in [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/libgomp.so.1",
            "[heap]",
        ] {
            assert!(!is_blas_object(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn this_test_binary_links_no_blas() {
        // blaspar-cblas links nothing: the symbol is absent and no BLAS object is mapped.
        assert_eq!(cblas_dgemm_provider(), Provider::Static);
        assert!(loaded_blas_objects().is_empty());
        assert!(expect_static("nothing").is_ok());
        let e = expect_shared("libopenblas").unwrap_err().to_string();
        assert!(e.contains("statically"), "{e}");
        let e = expect_forwarded(c"scipy_cblas_dgemm", "libscipy_openblas")
            .unwrap_err()
            .to_string();
        assert!(e.contains("without scipy_cblas_dgemm"), "{e}");
    }
}

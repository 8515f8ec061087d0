//! Finds the scipy-openblas32 wheel where scripts/setup.sh installs it (a venv under
//! `$SCIPY_OPENBLAS_PREFIX`, by default `.deps/scipy-openblas` through .cargo/config.toml),
//! links `libscipy_openblas.so` with a run path to its folder (so binaries and test
//! executables run without LD_LIBRARY_PATH), and fails with the setup command when it is
//! missing, instead of a wall of undefined symbols at link time. (No `-Wl,--wrap` here: the
//! crate's forwarders count the calls; see src/lib.rs.)
use std::path::{Path, PathBuf};

/// `<prefix>/lib/python3.*/site-packages/scipy_openblas32/lib` holding the library (the
/// package's own `get_lib_dir()`), if there is one.
fn lib_dir(prefix: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(prefix.join("lib"))
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path().join("site-packages/scipy_openblas32/lib"))
        .filter(|d| d.join("libscipy_openblas.so").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SCIPY_OPENBLAS_PREFIX");
    let prefix = std::env::var_os("SCIPY_OPENBLAS_PREFIX").map(PathBuf::from);
    if let Some(p) = &prefix {
        println!("cargo:rerun-if-changed={}", p.join("lib").display());
    }
    let Some(dir) = prefix.as_deref().and_then(lib_dir) else {
        eprintln!(
            "error: scipy-openblas32 was not found (looked for \
             lib/python3*/site-packages/scipy_openblas32/lib/libscipy_openblas.so under \
             SCIPY_OPENBLAS_PREFIX={}): run scripts/setup.sh, which installs the wheel from \
             PyPI into .deps/scipy-openblas",
            prefix.map_or_else(|| "(unset)".to_string(), |p| p.display().to_string())
        );
        std::process::exit(1);
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("libscipy_openblas.so").display()
    );
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib=scipy_openblas");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    println!(
        "cargo:rustc-env=BLASPAR_SCIPY_OPENBLAS_LIBDIR={}",
        dir.display()
    );
}

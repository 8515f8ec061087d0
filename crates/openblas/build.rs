//! Finds Debian's OpenBLAS (pkg-config, as openblas-src `system` does) and fails with the
//! setup command when it is missing, instead of a wall of undefined symbols at link time.
//!
//! Each engine binary gets a run path to its variant's folder
//! (`<libdir>/openblas-{pthread,openmp,serial}`), so the variant is chosen by the loader at
//! run time from one build; the engine then checks which build actually loaded. The binaries
//! also count their dgemm calls (`-Wl,--wrap`; see blaspar_cblas::count_dgemm_calls).
use std::path::PathBuf;
use std::process::Command;

const VARIANTS: [&str; 3] = ["pthread", "openmp", "serial"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let libdir = Command::new("pkg-config")
        .args(["--variable=libdir", "openblas"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let Some(libdir) = libdir else {
        eprintln!(
            "error: OpenBLAS was not found (pkg-config openblas): run scripts/setup.sh, which \
             installs Debian's libopenblas-dev, libopenblas0-openmp and libopenblas0-serial"
        );
        std::process::exit(1);
    };
    // Debian: <multiarch libdir>/openblas-pthread is the -dev package's folder.
    let base = libdir
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| libdir.clone());
    for v in VARIANTS {
        let dir = base.join(format!("openblas-{v}"));
        println!("cargo:rerun-if-changed={}", dir.display());
        println!(
            "cargo:rustc-link-arg-bin=blaspar-engine-openblas-{v}=-Wl,-rpath,{}",
            dir.display()
        );
    }
    println!("cargo:rustc-env=BLASPAR_OPENBLAS_LIBDIR={}", base.display());
    println!("cargo:rustc-link-arg-bins=-Wl,--wrap=cblas_dgemm");
}

//! The engine binary counts its calls into `cblas_dgemm` (see src/bin): the linker sends
//! every call to `__wrap_cblas_dgemm` (and `__wrap_cblas_dgemm_batch`), which counts and
//! forwards to the real BLIS symbol.
//!
//! LAPACK over BLIS is libflame (Debian's libflame-dev, installed by scripts/setup.sh),
//! linked when the C compiler finds `libflame.so`; its BLAS calls (`dgemm_`, ...) resolve to
//! the BLIS linked into the binary (checked at start-up). Without it the operations beyond
//! GEMM are refused with the reason (`cfg(blaspar_libflame)` is off).
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,--wrap=cblas_dgemm");
    println!("cargo:rustc-link-arg-bins=-Wl,--wrap=cblas_dgemm_batch");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(blaspar_libflame)");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let found = Command::new(cc)
        .arg("-print-file-name=libflame.so")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|p| Path::new(p).is_absolute() && Path::new(p).exists());
    if let Some(path) = found {
        let dir = Path::new(&path)
            .parent()
            .expect("an absolute path has a parent");
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=dylib=flame");
        println!("cargo:rustc-cfg=blaspar_libflame");
        println!("cargo:rerun-if-changed={path}");
    }
}

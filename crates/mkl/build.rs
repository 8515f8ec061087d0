//! Checks that MKL is where scripts/setup.sh puts it (`$MKLROOT`, by default `.deps/mkl`
//! through .cargo/config.toml) before intel-mkl-src links it: without MKL that crate's build
//! script succeeds silently and the link ends in a wall of undefined symbols.
//!
//! The iomp build links libiomp5.so from the same prefix: a run path makes the binaries and
//! test executables find it without LD_LIBRARY_PATH. Engine binaries count their dgemm and
//! dgemm_batch calls (`-Wl,--wrap`, see blaspar_cblas::count_dgemm_calls).
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=MKLROOT");
    let seq = std::env::var_os("CARGO_FEATURE_SEQ").is_some();
    let iomp = std::env::var_os("CARGO_FEATURE_IOMP").is_some();
    if !seq && !iomp {
        // lib.rs says what to do (compile_error!).
        return;
    }
    let root = std::env::var_os("MKLROOT").map(PathBuf::from);
    let lib = root.as_ref().map(|r| r.join("lib"));
    println!(
        "cargo:rerun-if-changed={}",
        lib.as_ref().map_or_else(String::new, |l| l
            .join("libmkl_core.a")
            .display()
            .to_string())
    );
    let Some(lib) = lib.filter(|l| l.join("libmkl_core.a").is_file()) else {
        eprintln!(
            "error: Intel MKL was not found (looked for lib/libmkl_core.a under MKLROOT={}): run \
             scripts/setup.sh, which installs the MKL wheels from PyPI into .deps/mkl. If MKL was \
             installed after a failed build, also run `cargo clean -p intel-mkl-src --release`.",
            root.map_or_else(|| "(unset)".to_string(), |r| r.display().to_string())
        );
        std::process::exit(1);
    };
    let lib = lib.canonicalize().unwrap_or(lib);
    if iomp {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
    println!("cargo:rustc-link-arg-bins=-Wl,--wrap=cblas_dgemm");
    println!("cargo:rustc-link-arg-bins=-Wl,--wrap=cblas_dgemm_batch");
}

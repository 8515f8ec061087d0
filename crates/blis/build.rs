//! The engine binary counts its calls into `cblas_dgemm` (see src/bin): the linker sends
//! every call to `__wrap_cblas_dgemm` (and `__wrap_cblas_dgemm_batch`), which counts and
//! forwards to the real BLIS symbol.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,--wrap=cblas_dgemm");
    println!("cargo:rustc-link-arg-bins=-Wl,--wrap=cblas_dgemm_batch");
    println!("cargo:rerun-if-changed=build.rs");
}

//! Engine binary for the pure-Rust matrixmultiply backend.
fn main() -> std::process::ExitCode {
    blaspar_engine::engine_main("matrixmultiply", |_| {
        Ok(blaspar_matrixmultiply::MatrixMultiply::new())
    })
}

//! Engine binary for the pure-Rust matrixmultiply backend.
fn main() -> std::process::ExitCode {
    blaspar_runner::engine::main("matrixmultiply", |_| {
        Ok(blaspar_matrixmultiply::MatrixMultiply::new())
    })
}

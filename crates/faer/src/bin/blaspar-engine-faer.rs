//! Engine binary for the pure-Rust faer backend.
fn main() -> std::process::ExitCode {
    blaspar_engine::engine_main("faer", |_| Ok(blaspar_faer::Faer::new()))
}

//! Engine binary for OpenBLAS's pthread build (run path: build.rs). Counts its dgemm calls.

blaspar_cblas::count_dgemm_calls!();

use blaspar_core::kernel_cache::default_cache_dir;

fn main() -> std::process::ExitCode {
    blaspar_openblas::child_hook();
    blaspar_engine::engine_main("openblas-pthread", |init| {
        Ok(blaspar_openblas::OpenBlas::init(
            blaspar_openblas::Variant::Pthread,
            &init.kernel,
            &init.cache_dir.clone().unwrap_or_else(default_cache_dir),
        )?
        .with_call_counter(dgemm_calls))
    })
}

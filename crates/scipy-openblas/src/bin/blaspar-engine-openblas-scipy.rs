//! Engine binary for scipy-openblas32 (run path: build.rs). The crate's cblas_dgemm and
//! cblas_dgemm_batch forwarders count the calls.

use blaspar_core::kernel_cache::default_cache_dir;

fn main() -> std::process::ExitCode {
    blaspar_scipy_openblas::child_hook();
    blaspar_engine::engine_main("openblas-scipy", |init| {
        let cache = init.cache_dir.clone().unwrap_or_else(default_cache_dir);
        Ok(blaspar_scipy_openblas::ScipyOpenBlas::init(
            &init.kernel,
            &cache,
        )?)
    })
}

//! Engine binary for the BLIS backend: the runner's `run` on BLIS.
//!
//! Linked with `-Wl,--wrap=cblas_dgemm` and `--wrap=cblas_dgemm_batch` (build.rs): every call,
//! including those ndarray's `.dot` makes, lands in the counter that `count_dgemm_calls!`
//! defines, which forwards to BLIS. The count proves that each task's product reached BLIS.

blaspar_cblas::count_dgemm_calls!(batch);

fn main() -> std::process::ExitCode {
    blaspar_blis::child_hook();
    blaspar_engine::engine_main("blis", |init| {
        let request: blaspar_blis::KernelRequest = init
            .kernel
            .parse()
            .unwrap_or(blaspar_blis::KernelRequest::Auto);
        let cache = init
            .cache_dir
            .clone()
            .unwrap_or_else(blaspar_blis::default_cache_dir);
        Ok(blaspar_blis::Blis::init(&request, &cache, init.size)?.with_call_counter(dgemm_calls))
    })
}

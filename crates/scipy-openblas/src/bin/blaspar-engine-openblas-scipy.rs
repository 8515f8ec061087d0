//! Engine binary for scipy-openblas32 (run path: build.rs). Counts its dgemm and
//! dgemm_batch calls.

blaspar_cblas::count_dgemm_calls!(batch);

fn main() -> std::process::ExitCode {
    blaspar_engine::engine_main("openblas-scipy", |init| {
        Ok(blaspar_scipy_openblas::ScipyOpenBlas::init(&init.kernel)?
            .with_call_counter(dgemm_calls))
    })
}

//! Engine binary for MKL's seq build. Counts its dgemm and dgemm_batch calls.

blaspar_cblas::count_dgemm_calls!(batch);

fn main() -> std::process::ExitCode {
    blaspar_engine::engine_main("mkl-seq", |_| {
        Ok(blaspar_mkl::Mkl::init()?.with_call_counter(dgemm_calls))
    })
}

//! The conformance checks every backend runs (blaspar_testkit::conformance), on the
//! scipy-openblas32 library (batched included: it has cblas_dgemm_batch).

use blaspar_scipy_openblas::ScipyOpenBlas;

blaspar_testkit::conformance_tests!(
    ScipyOpenBlas,
    blaspar_scipy_openblas::BACKEND_NAME,
    ScipyOpenBlas::init("default", &std::env::temp_dir()).unwrap_or_else(|e| panic!("{e}"))
);

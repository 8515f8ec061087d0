//! The conformance checks every backend runs (blaspar_testkit::conformance), on the MKL build of
//! this cargo invocation (`--features seq` or `--features iomp`).

use blaspar_mkl::Mkl;

blaspar_testkit::conformance_tests!(
    Mkl,
    blaspar_mkl::BACKEND_NAME,
    Mkl::init().unwrap_or_else(|e| panic!("{e}"))
);

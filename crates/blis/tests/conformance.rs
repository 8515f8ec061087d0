//! The conformance checks every backend runs (blaspar_testkit::conformance), on BLIS with its
//! own kernel choice (no probe children from a test harness).

use blaspar_blis::{Blis, KernelRequest};

blaspar_testkit::conformance_tests!(
    Blis,
    "blis",
    Blis::init(&KernelRequest::LibraryDefault, &std::env::temp_dir(), None)
        .expect("BLIS initialises")
);

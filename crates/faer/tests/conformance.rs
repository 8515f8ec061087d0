//! The conformance checks every backend runs (blaspar_testkit::conformance), on faer.

use blaspar_faer::Faer;

blaspar_testkit::conformance_tests!(Faer, "faer", Faer::new());

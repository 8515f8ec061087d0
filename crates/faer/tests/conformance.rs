//! The conformance checks every backend runs (blaspar_core::conformance), on faer.

use blaspar_faer::Faer;

blaspar_core::conformance_tests!(Faer, "faer", Faer::new());

//! Test support, kept apart from the code under test (as ndarray keeps its BLAS test
//! crates) and used only as a dev-dependency:
//!
//! - [`conformance`]: the checks every backend runs against a plain-loop reference, one
//!   `#[test]` each through [`conformance_tests!`];
//! - [`engine`]: running a real engine binary and checking its records.

pub mod conformance;
pub mod engine;

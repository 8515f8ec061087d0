//! The conformance checks every backend runs (blaspar_testkit::conformance), on matrixmultiply.

use blaspar_matrixmultiply::MatrixMultiply;

blaspar_testkit::conformance_tests!(MatrixMultiply, "matrixmultiply", MatrixMultiply::new());

//! The conformance checks every backend runs (blaspar_core::conformance), on matrixmultiply.

use blaspar_matrixmultiply::MatrixMultiply;

blaspar_core::conformance_tests!(MatrixMultiply, "matrixmultiply", MatrixMultiply::new());

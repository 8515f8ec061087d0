//! The conformance checks every backend runs (blaspar_core::conformance), on the OpenBLAS
//! build the loader picked: scripts/test.sh runs this binary once per variant with
//! `BLASPAR_OPENBLAS_VARIANT` and `LD_LIBRARY_PATH` pointing at that variant's folder.

use blaspar_openblas::{OpenBlas, Variant};

fn variant() -> Variant {
    std::env::var("BLASPAR_OPENBLAS_VARIANT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(Variant::Pthread)
}

blaspar_core::conformance_tests!(
    OpenBlas,
    variant().backend_name(),
    OpenBlas::init(variant(), "auto").unwrap_or_else(|e| panic!("{e}"))
);

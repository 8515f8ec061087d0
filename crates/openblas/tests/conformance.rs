//! The conformance checks every backend runs (blaspar_testkit::conformance), on the OpenBLAS
//! build the loader picked (the system's default without LD_LIBRARY_PATH): scripts/test.sh
//! also runs this binary with `BLASPAR_OPENBLAS_VARIANT` and `LD_LIBRARY_PATH` naming each
//! other build, and initialisation fails unless that build is the one loaded.

use blaspar_openblas::{OpenBlas, Variant};

fn variant() -> Variant {
    std::env::var("BLASPAR_OPENBLAS_VARIANT")
        .ok()
        .map(|v| v.parse().unwrap_or_else(|e: String| panic!("{e}")))
        .or_else(Variant::loaded)
        .expect("an OpenBLAS build reports openblas_get_parallel 0, 1 or 2")
}

blaspar_testkit::conformance_tests!(
    OpenBlas,
    variant().backend_name(),
    OpenBlas::init(variant(), "default", &std::env::temp_dir()).unwrap_or_else(|e| panic!("{e}"))
);

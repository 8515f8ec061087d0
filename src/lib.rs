//! The root package: the criterion suite in `benches/`, on exactly one backend chosen by
//! feature (`blis`, the default, or `matrixmultiply`). One binary links one BLAS library.

#[cfg(all(feature = "blis", feature = "matrixmultiply"))]
compile_error!(
    "choose exactly one backend feature: `--no-default-features --features matrixmultiply` \
     (features blis and matrixmultiply were both enabled)"
);
#[cfg(not(any(feature = "blis", feature = "matrixmultiply")))]
compile_error!("choose exactly one backend feature: blis (default) or matrixmultiply");

use blaspar_core::{Preset, Workload};
use blaspar_engine::EngineInit;

/// The backend of this build.
#[cfg(feature = "blis")]
pub type SelectedBackend = blaspar_blis::Blis;
/// The backend of this build.
#[cfg(all(feature = "matrixmultiply", not(feature = "blis")))]
pub type SelectedBackend = blaspar_matrixmultiply::MatrixMultiply;

/// Call first in `main`: a BLIS kernel-probe child does its work here and exits.
pub fn child_hook() {
    #[cfg(feature = "blis")]
    blaspar_blis::child_hook();
}

/// Initialises the backend of this build (BLIS: probed or cached kernel choice).
pub fn backend() -> anyhow::Result<SelectedBackend> {
    backend_for(&EngineInit {
        kernel: "auto".to_string(),
        cache_dir: None,
    })
}

/// Initialises the backend of this build as `init` asks (a worker process gets the
/// parent's kernel request and probe cache).
pub fn backend_for(init: &EngineInit) -> anyhow::Result<SelectedBackend> {
    #[cfg(feature = "blis")]
    {
        let request: blaspar_blis::KernelRequest = init.kernel.parse()?;
        let cache = init
            .cache_dir
            .clone()
            .unwrap_or_else(blaspar_blis::default_cache_dir);
        Ok(blaspar_blis::Blis::init(&request, &cache)?)
    }
    #[cfg(all(feature = "matrixmultiply", not(feature = "blis")))]
    {
        let _ = init; // one kernel, nothing to choose
        Ok(blaspar_matrixmultiply::MatrixMultiply::new())
    }
}

/// The bench workload from `BLASPAR_BENCH_WORKLOAD`: `quick` (default), `seed`, or
/// `TASKSxSIZE` such as `8x500`. Returns the workload and its group label.
pub fn bench_workload(spec: Option<&str>, cpus: usize) -> anyhow::Result<(Workload, String)> {
    let spec = spec.unwrap_or("quick").trim();
    if let Some(p) = Preset::from_name(spec) {
        let w = p.workload(cpus);
        return Ok((w, format!("{}-{}", p.name(), w.label())));
    }
    let parsed = spec
        .split_once('x')
        .and_then(|(t, n)| Some((t.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
    match parsed {
        Some((tasks, size)) if tasks > 0 && size > 0 => {
            let w = Workload {
                tasks,
                size,
                seed: 0,
                generation: Default::default(),
            };
            Ok((w, w.label()))
        }
        _ => anyhow::bail!(
            "BLASPAR_BENCH_WORKLOAD='{spec}': expected {} or TASKSxSIZE with both >= 1 (e.g. 8x500)",
            Preset::NAMES
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_workload_spec() {
        assert_eq!(bench_workload(None, 2).unwrap().1, "quick-16x1000");
        assert_eq!(bench_workload(Some("seed"), 2).unwrap().0.tasks, 100);
        assert_eq!(bench_workload(Some("8x500"), 2).unwrap().1, "8x500");
        assert!(bench_workload(Some("0x500"), 2).is_err());
        assert!(bench_workload(Some("big"), 2).is_err());
    }
}

//! The OpenBLAS engine binaries, run for real: one per Debian build, each checked to load
//! its own build; thread counts proven; OPENBLAS_CORETYPE handled as documented.

use blaspar_testkit::engine::{assert_strategies_agree, run, text};
use std::path::Path;

const ENGINES: [(&str, &str); 3] = [
    (
        "openblas-pthread",
        env!("CARGO_BIN_EXE_blaspar-engine-openblas-pthread"),
    ),
    (
        "openblas-openmp",
        env!("CARGO_BIN_EXE_blaspar-engine-openblas-openmp"),
    ),
    (
        "openblas-serial",
        env!("CARGO_BIN_EXE_blaspar-engine-openblas-serial"),
    ),
];

fn small(backend: &str, strategy: &str) -> Vec<String> {
    [
        "-b", backend, "-s", strategy, "--tasks", "3", "--size", "64",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn every_supported_strategy_agrees_with_sequential() {
    for (backend, exe) in ENGINES {
        let strategies: &[&str] = if backend == "openblas-serial" {
            // One thread at a time in each process: the serial build is not safe to call
            // from several threads at once (refused below).
            &["blas-default", "blas-1", "procs-2", "hybrid-procs-2x1"]
        } else {
            // Worker processes each have their own process-wide count: P x T works.
            &[
                "blas-default",
                "blas-2",
                "threads-2",
                "hybrid-threads-1x2",
                "procs-2",
                "hybrid-procs-2x2",
                "blas-2+pgen",
            ]
        };
        assert_strategies_agree(Path::new(exe), backend, strategies, &[]);
    }
}

#[test]
fn unsupported_strategies_are_refused_with_the_reason() {
    for (backend, exe) in ENGINES {
        let cases: &[(&str, &str)] = if backend == "openblas-serial" {
            &[
                ("blas-2", "no API"),
                ("batched-1", "cblas_dgemm_batch"),
                ("threads-2", "several threads at once"),
                ("hybrid-threads-2x1", "several threads at once"),
            ]
        } else {
            &[
                ("hybrid-threads-2x2", "whole process"),
                ("batched-2", "cblas_dgemm_batch"),
            ]
        };
        for (s, why) in cases {
            let args = small(backend, s);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (out, rec) = run(Path::new(exe), &args, &[]);
            assert_eq!(
                out.status.code(),
                Some(i32::from(blaspar_core::registry::EXIT_UNSUPPORTED)),
                "{backend} {s}: {}",
                text(&out)
            );
            let msg = String::from_utf8_lossy(&out.stderr);
            assert!(msg.contains("not supported") && msg.contains(why), "{msg}");
            assert!(rec.is_none());
        }
    }
}

#[test]
fn an_engine_refuses_another_build_of_openblas() {
    let (backend, exe) = ENGINES[0];
    let serial = blaspar_openblas::Variant::Serial.dir();
    if !serial.join("libopenblas.so.0").exists() {
        eprintln!("skipped: {} is not installed", serial.display());
        return;
    }
    let args = small(backend, "sequential");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (out, rec) = run(
        Path::new(exe),
        &args,
        &[("LD_LIBRARY_PATH", serial.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("is the serial build") && msg.contains("scripts/setup.sh"),
        "{msg}"
    );
    assert!(rec.is_none());
}

#[test]
fn a_forced_core_is_reported_and_can_be_dropped() {
    let (backend, exe) = ENGINES[0];
    let args = small(backend, "sequential");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let with_default: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--kernel", "default"])
        .collect();
    // The library's own choice (whatever this environment sets).
    let (out, own) = run(Path::new(exe), &with_default, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let own = own.expect("record").kernel;

    let (out, forced) = run(Path::new(exe), &args, &[("OPENBLAS_CORETYPE", "Haswell")]);
    assert!(out.status.success(), "{}", text(&out));
    let forced = forced.expect("record");
    assert_eq!(forced.kernel, "Haswell");
    assert_eq!(
        forced.kernel_choice.library_default.as_deref(),
        Some(own.as_str())
    );
    assert_eq!(
        forced.blas_env.get("OPENBLAS_CORETYPE").map(String::as_str),
        Some("Haswell")
    );
    let warned = String::from_utf8_lossy(&out.stderr).contains("--kernel default");
    let slower = forced.kernel_choice.probes.len() == 2
        && forced.kernel_choice.probes.windows(2).all(|p| {
            matches!(
                (&p[0].outcome, &p[1].outcome),
                (
                    blaspar_core::ProbeOutcome::Correct { gflops: a },
                    blaspar_core::ProbeOutcome::Correct { gflops: b }
                ) if b > a
            )
        });
    assert_eq!(warned, own != "Haswell" && slower, "{}", text(&out));

    let (out, dropped) = run(
        Path::new(exe),
        &with_default,
        &[("OPENBLAS_CORETYPE", "Haswell")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let dropped = dropped.expect("record");
    assert_eq!(dropped.kernel, own);
    assert!(!dropped.blas_env.contains_key("OPENBLAS_CORETYPE"));
}

/// `auto` probes the library's own core against the cores made for this CPU's vector
/// extensions once, caches the table, and reuses it. A cached choice of another core (as
/// when the library falls back to an old core on a CPU it does not know: Prescott on an
/// Emerald Rapids Xeon) re-executes the engine with OPENBLAS_CORETYPE set to it, and its
/// worker processes run that core too. The test makes such a cache entry by hand from the
/// real probe's table, since this CPU's own choice is rarely the one to replace.
#[test]
fn auto_probes_once_and_a_cached_choice_of_another_core_is_applied() {
    let (backend, exe) = ENGINES[0];
    let cache = std::env::temp_dir().join(format!("blaspar-core-probe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let mut args = small(backend, "procs-2");
    args.extend(["--cache-dir".to_string(), cache.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let unset: &[(&str, &str)] = &[];
    let clean = |out: &std::process::Output| assert!(out.status.success(), "{}", text(out));

    let (out, first) = run(Path::new(exe), &args, unset);
    clean(&out);
    let first = first.expect("record");
    let choice = &first.kernel_choice;
    assert_eq!(
        choice.method,
        blaspar_core::ChoiceMethod::Probe,
        "{}",
        text(&out)
    );
    let own = choice
        .library_default
        .clone()
        .expect("the library's own core");
    assert!(
        choice.probes[0].kernel.starts_with(&own) && choice.probes.len() >= 2,
        "the library's own core first, then the candidates: {:?}",
        choice.probes
    );

    let (out, second) = run(Path::new(exe), &args, unset);
    clean(&out);
    let second = second.expect("record");
    assert_eq!(
        second.kernel_choice.method,
        blaspar_core::ChoiceMethod::Cache
    );
    assert_eq!(second.kernel, first.kernel);

    // Another core that ran correctly in the probe, written into the cache as the choice.
    let other = choice
        .probes
        .iter()
        .skip(1)
        .find(|p| matches!(p.outcome, blaspar_core::ProbeOutcome::Correct { .. }))
        .map(|p| p.kernel.clone())
        .expect("a candidate core ran on this CPU (every AVX2 CPU runs Haswell's)");
    let entries: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1, "one cache file per CPU and build");
    let path = entries[0].path();
    let mut entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    entry["chosen"] = serde_json::Value::String(other.clone());
    std::fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();

    let (out, applied) = run(Path::new(exe), &args, unset);
    clean(&out);
    let applied = applied.expect("record");
    assert_eq!(applied.kernel, other, "{}", text(&out));
    assert_eq!(
        applied.kernel_choice.method,
        blaspar_core::ChoiceMethod::Cache
    );
    assert_eq!(
        applied.kernel_choice.library_default.as_deref(),
        Some(own.as_str())
    );
    assert_eq!(
        applied.blas_env.get("OPENBLAS_CORETYPE"),
        Some(&other),
        "the engine re-executed itself with the core"
    );

    // A core the user sets is the user's, probed against the library's own as before.
    let (out, forced) = run(
        Path::new(exe),
        &args,
        &[("OPENBLAS_CORETYPE", own.as_str())],
    );
    clean(&out);
    let forced = forced.expect("record");
    assert_eq!(
        forced.kernel_choice.method,
        blaspar_core::ChoiceMethod::UserOverride
    );
    std::fs::remove_dir_all(&cache).unwrap();
}

//! The served engine (what the criterion bench drives), run for real on the pure-Rust
//! engine: a whole session, a refusal, and faults (a product that fails verification, a
//! second run before the first is verified, an engine killed during a run, a binary that
//! is not an engine, the wrong backend's engine). Each fault must be one clear error,
//! never a hang, and leave no process behind.

use blaspar_core::{Strategy, Workload};
use blaspar_engine::serve::{ServeError, ServeSettings, ServedEngine};
use blaspar_testkit::engine::{alive, children_of};
use std::path::Path;
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_blaspar-engine-matrixmultiply");

fn workload(tasks: usize, size: usize) -> Workload {
    Workload {
        tasks,
        size,
        seed: 3,
        generation: Default::default(),
        operation: Default::default(),
        corrupt: None,
    }
}

fn strategy(s: &str) -> Strategy {
    s.parse().expect("a valid strategy")
}

fn serve(w: &Workload, settings: &ServeSettings) -> ServedEngine {
    ServedEngine::start(Path::new(EXE), "matrixmultiply", w, settings).expect("engine serves")
}

#[test]
fn a_session_runs_verifies_and_reruns_every_kind_of_strategy() {
    let mut engine = serve(&workload(6, 96), &ServeSettings::default());
    assert!(
        engine.describe().starts_with("matrixmultiply"),
        "{}",
        engine.describe()
    );
    for s in ["sequential", "threads-2", "procs-2", "blas-default"] {
        assert_eq!(engine.check(strategy(s)).unwrap(), None, "{s}");
        engine.start_strategy(strategy(s)).unwrap();
        if s == "procs-2" {
            assert_eq!(children_of(engine.pid()).len(), 2, "two worker processes");
        }
        let seconds = engine.run().unwrap();
        assert!(seconds > 0.0);
        let worst = engine.verify().unwrap();
        assert!(worst < 1e-12, "{s}: {worst}");
        // Further runs reuse the workers; the first run's products were verified.
        engine.run().unwrap();
        engine.run().unwrap();
        engine.stop_strategy().unwrap();
        assert!(children_of(engine.pid()).is_empty(), "{s}: workers stopped");
    }
    let pid = engine.pid();
    engine.quit().unwrap();
    assert!(!alive(pid));
}

#[test]
fn a_refusal_is_an_answer_with_the_reason() {
    let mut engine = serve(&workload(2, 32), &ServeSettings::default());
    for s in ["blas-2", "hybrid-threads-2x2", "batched-2"] {
        let reason = engine.check(strategy(s)).unwrap().expect("refused");
        assert!(!reason.is_empty(), "{s}");
    }
    // The engine serves on after refusals.
    assert_eq!(engine.check(strategy("threads-2")).unwrap(), None);
    // Starting a refused strategy anyway is a failure that says why.
    let err = engine.start_strategy(strategy("blas-2")).unwrap_err();
    assert!(
        err.to_string()
            .contains("strategy blas-2 is not supported on matrixmultiply"),
        "{err}"
    );
    engine.quit().unwrap();
}

#[test]
fn a_corrupted_product_fails_verification_with_its_task() {
    let settings = ServeSettings {
        inject_corruption: Some(2),
        ..ServeSettings::default()
    };
    for s in ["sequential", "procs-2"] {
        let mut engine = serve(&workload(4, 64), &settings);
        engine.start_strategy(strategy(s)).unwrap();
        engine.run().unwrap();
        let err = engine.verify().unwrap_err();
        assert!(matches!(err, ServeError::Failed { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("failed verifying the products: task 2 of 4 failed verification"),
            "{s}: {msg}"
        );
        let pid = engine.pid();
        // The failed strategy was stopped: nothing runs until another is started.
        assert!(children_of(pid).is_empty(), "{s}: no worker left");
        assert!(
            engine
                .run()
                .unwrap_err()
                .to_string()
                .contains("no strategy is started")
        );
        engine.quit().unwrap();
    }
}

#[test]
fn a_second_run_before_verification_is_refused() {
    let mut engine = serve(&workload(2, 32), &ServeSettings::default());
    engine.start_strategy(strategy("sequential")).unwrap();
    engine.run().unwrap();
    let msg = engine.run().unwrap_err().to_string();
    assert!(
        msg.contains("the products of sequential's first run were not verified"),
        "{msg}"
    );
    engine.quit().unwrap();
}

#[test]
fn an_engine_killed_during_a_run_is_an_error_not_a_hang() {
    // Long enough that the kill lands during the run.
    let mut engine = serve(&workload(400, 400), &ServeSettings::default());
    engine.start_strategy(strategy("procs-2")).unwrap();
    let pid = engine.pid();
    let workers = children_of(pid);
    assert_eq!(workers.len(), 2);
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    });
    let t0 = Instant::now();
    let err = engine.run().unwrap_err();
    killer.join().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(30), "answered, not hung");
    assert!(
        err.to_string().contains(&format!(
            "the matrixmultiply engine (pid {pid}) was killed by signal 9 (SIGKILL) during a run"
        )),
        "{err}"
    );
    drop(engine);
    // Its workers die with it (PR_SET_PDEATHSIG).
    let deadline = Instant::now() + Duration::from_secs(10);
    while workers.iter().any(|&w| alive(w)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!workers.iter().any(|&w| alive(w)), "no worker left");
}

#[test]
fn a_binary_that_is_not_an_engine_is_named() {
    let err = ServedEngine::start(
        Path::new("/bin/true"),
        "matrixmultiply",
        &workload(2, 32),
        &ServeSettings::default(),
    )
    .err()
    .expect("not an engine");
    let msg = err.to_string();
    assert!(
        msg.contains("exited with status 0 while initialising its backend"),
        "{msg}"
    );
    // A binary that never answers is killed at the start timeout.
    let settings = ServeSettings {
        start_timeout: Duration::from_millis(500),
        ..ServeSettings::default()
    };
    let t0 = Instant::now();
    let cmd_dir = tempfile::tempdir().unwrap();
    let silent = cmd_dir.path().join("silent");
    std::fs::write(&silent, "#!/bin/sh\nexec sleep 30\n").unwrap();
    std::fs::set_permissions(&silent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let err = ServedEngine::start(&silent, "matrixmultiply", &workload(2, 32), &settings)
        .err()
        .expect("silent");
    assert!(matches!(err, ServeError::Hung { .. }), "{err:?}");
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[test]
fn the_wrong_backends_engine_says_so() {
    let err = ServedEngine::start(
        Path::new(EXE),
        "blis",
        &workload(2, 32),
        &ServeSettings::default(),
    )
    .err()
    .expect("wrong backend");
    let msg = err.to_string();
    assert!(
        msg.contains("this engine runs backend matrixmultiply, not blis"),
        "{msg}"
    );
}

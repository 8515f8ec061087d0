//! The sweep through a real engine (the pure-Rust one: cheap): rows written as measured,
//! refusals recorded once, a summary with a recommendation, resume without re-measuring,
//! and a corrupt rows file reported rather than overwritten.

use std::path::Path;
use std::process::{Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_blaspar");

fn front() -> Command {
    blaspar_testkit::engine::front_with_engine(EXE, "matrixmultiply")
}

fn sweep(out: &Path, extra: &[&str]) -> Output {
    front()
        .args(extra)
        .args([
            "--backends",
            "matrixmultiply",
            "--tasks",
            "4",
            "--size",
            "64",
            "--repeats",
            "2",
            "--peak-seconds",
            "0.05",
            "--out",
        ])
        .arg(out)
        .output()
        .expect("engine starts")
}

fn rows(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("runs.jsonl"))
        .expect("rows written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("whole json lines"))
        .collect()
}

#[test]
fn sweep_measures_refuses_summarises_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let first = sweep(&out, &["sweep", "--no-race"]);
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{err}");
    let r = rows(&out);
    let measured = r.iter().filter(|x| !x["record"].is_null()).count();
    let refused: Vec<_> = r.iter().filter(|x| !x["refused"].is_null()).collect();
    // On any machine: sequential, blas-default and at least one P > 1 of threads and procs
    // run (2 repeats each); every configuration with more than one BLAS thread is refused once.
    assert!(
        measured >= 8 && measured % 2 == 0,
        "{measured} measured rows"
    );
    assert!(!refused.is_empty());
    assert!(
        refused
            .iter()
            .all(|x| x["refused"].as_str().unwrap().contains("not supported")),
        "{refused:?}"
    );
    for x in r.iter().filter(|x| !x["record"].is_null()) {
        assert_eq!(x["record"]["results_verified"], true);
    }
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("## Recommendation"), "{summary}");
    assert!(summary.contains("% of peak"), "{summary}");
    assert!(summary.contains("In your own program ("), "{summary}");
    assert!(summary.contains("confidence"), "{summary}");
    // The answer, for programs: the best, the three sets with their confidence, per workload.
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("recommendation.json")).expect("answer written"),
    )
    .expect("json");
    let answer = &rec["workloads"][0];
    assert_eq!((&answer["tasks"], &answer["size"]), (&4.into(), &64.into()));
    let best = &answer["best"];
    assert_eq!(best["backend"], "matrixmultiply");
    let set = |name: &str| answer[name].as_array().expect("a set").clone();
    let (as_fast, undecided, slower) = (set("tie_set"), set("undecided"), set("slower"));
    // Every configuration is in one of the three sets, the best never in "slower".
    assert_eq!(
        (as_fast.len() + undecided.len() + slower.len()) as u64,
        answer["configurations"].as_u64().unwrap(),
        "{answer}"
    );
    assert!(
        as_fast.contains(best) || undecided.contains(best),
        "{answer}"
    );
    for (s, standing) in [
        (&as_fast, "as-fast"),
        (&undecided, "undecided"),
        (&slower, "slower"),
    ] {
        assert!(s.iter().all(|c| c["standing"] == standing), "{answer}");
    }
    let confidence = answer["confidence"].as_f64().expect("a confidence");
    assert!((0.0..=1.0).contains(&confidence), "{confidence}");
    assert!(out.join("peak.json").exists());
    for (svg, expected) in [
        ("strategies.svg", "threads-"),
        ("heatmap-matrixmultiply.svg", "P processes"),
    ] {
        let text = std::fs::read_to_string(out.join(svg)).expect("plot written");
        assert!(text.starts_with("<svg") && text.contains(expected), "{svg}");
    }

    // Resume: nothing left to measure, no row added, the first peak kept.
    let peak = std::fs::read_to_string(out.join("peak.json")).unwrap();
    let again = sweep(&out, &["sweep", "--no-race"]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{err}");
    assert!(err.contains("measured 0 new rows"), "{err}");
    assert_eq!(rows(&out).len(), r.len());
    assert_eq!(
        std::fs::read_to_string(out.join("peak.json")).unwrap(),
        peak
    );

    // A torn last line is reported with its line number, and the file is left alone.
    let path = out.join("runs.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"backend\": \"matrixmu");
    std::fs::write(&path, &text).unwrap();
    let bad = sweep(&out, &["sweep", "--no-race"]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains(&format!("line {} is not a sweep row", r.len() + 1)),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn a_race_drops_what_the_noise_rules_out_and_a_budget_stops_it_after_the_noise_floor() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("race");
    let raced = sweep(&out, &["sweep"]);
    let err = String::from_utf8_lossy(&raced.stderr);
    assert!(raced.status.success(), "{err}");
    let race: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("race.json")).unwrap()).unwrap();
    // Every configuration of the grid is in the race, with its runs and status.
    assert!(race.len() >= 5, "{race:?}");
    for e in &race {
        let runs = e["runs"].as_u64().unwrap();
        match e["status"].as_str().unwrap() {
            "refused" => assert_eq!(runs, 0),
            "dropped" => assert!((1..=6).contains(&runs) && e["slower"].as_f64().unwrap() > 1.0),
            "contender" => assert!((2..=6).contains(&runs), "{e}"),
            other => panic!("status {other}"),
        }
    }
    let r = rows(&out);
    let measured = r.iter().filter(|x| !x["record"].is_null()).count();
    let total: u64 = race.iter().map(|e| e["runs"].as_u64().unwrap()).sum();
    assert_eq!(measured as u64, total);
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("## Racing"), "{summary}");
    // The noise of the workload, and whether it is quiet enough for the margin: in the
    // summary, the file and the sweep's last lines.
    assert!(
        summary.contains("**Noise**: half the runs lie within"),
        "{summary}"
    );
    assert!(err.contains("noise of "), "{err}");
    let noise = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(out.join("recommendation.json")).unwrap(),
    )
    .unwrap()["workloads"][0]["noise"]
        .clone();
    assert!(noise["spread"].as_f64().unwrap() >= 0.0, "{noise}");
    assert!(noise["resolution"].as_f64().unwrap() > 0.0, "{noise}");
    assert!(noise["at_runs"].as_u64().unwrap() >= 2, "{noise}");
    // Resumed, the race replays its decisions from the rows: nothing new to measure.
    let again = sweep(&out, &["sweep"]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{err}");
    assert!(err.contains("measured 0 new rows"), "{err}");
    let replayed: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("race.json")).unwrap()).unwrap();
    assert_eq!(replayed, race);

    // Answered again at another margin, measuring nothing: the rows and the race's log
    // stay as measured, the answer follows the margin.
    let measured_rows = rows(&out).len();
    let answered = sweep(&out, &["sweep", "--no-measure", "--margin", "50"]);
    let err = String::from_utf8_lossy(&answered.stderr);
    assert!(answered.status.success(), "{err}");
    assert!(err.contains("--no-measure: nothing measured"), "{err}");
    assert_eq!(rows(&out).len(), measured_rows);
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("recommendation.json")).unwrap())
            .unwrap();
    assert_eq!(rec["margin"], 0.5);
    let kept: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("race.json")).unwrap()).unwrap();
    assert_eq!(kept, race);
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("surely within 50.0% of it"), "{summary}");
    // A folder without a sweep: one line, and nothing is created.
    let none = dir.path().join("none");
    let refused = sweep(&none, &["sweep", "--no-measure"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(err.contains("holds no sweep to answer again"), "{err}");
    assert!(!none.exists());
    // Sweep the answer back to the default margin for what follows.
    assert!(sweep(&out, &["sweep", "--no-measure"]).status.success());

    // The held-out check: the best against the fastest configuration called slower.
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("recommendation.json")).unwrap())
            .unwrap();
    let answer = &rec["workloads"][0];
    let checked = front()
        .args(["check", "--runs", "6"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&checked.stderr);
    if answer["first_outside"].is_null() {
        // Nothing surely slower: no claim to check, said in one line.
        assert_eq!(checked.status.code(), Some(1), "{err}");
        assert!(err.contains("surely slower"), "{err}");
    } else {
        assert!(checked.status.success(), "{err}");
        let check: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("check.json")).unwrap())
                .unwrap();
        assert_eq!(check["best"], answer["best"]);
        assert_eq!(check["other"], answer["first_outside"]);
        assert_eq!(check["best_seconds"].as_array().unwrap().len(), 6);
        assert_eq!(check["comparison"]["pairs"], 6);
        assert!(["holds", "fails", "unsure"].contains(&check["claim"].as_str().unwrap()));
        let text = String::from_utf8_lossy(&checked.stdout);
        assert!(text.contains("# Held-out check"), "{text}");
    }
    // Too few runs for an interval: one line, no file.
    let few = front()
        .args(["check", "--runs", "2"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&few.stderr);
    assert_eq!(few.status.code(), Some(1), "{err}");
    assert!(
        err.contains("at least 6 are needed") || err.contains("nothing outside it"),
        "{err}"
    );

    // A budget spent at once: round 1 completes (every configuration once), and round 2
    // measures the three fastest again (the answer's noise), nothing more. Ten strategies,
    // so that round 2's plan (the fastest third, four) holds more than those three and the
    // budget always has something to cut: with the grid alone it held exactly three, and
    // whether a later round had anything for the budget to stop depended on the draw.
    let out = dir.path().join("budget");
    let cut = sweep(
        &out,
        &[
            "sweep",
            "--budget",
            "0.001",
            "--strategies",
            "threads-1,threads-2,threads-3,threads-4,threads-5,procs-1,procs-2,procs-3,procs-4,procs-5",
        ],
    );
    let err = String::from_utf8_lossy(&cut.stderr);
    assert!(cut.status.success(), "{err}");
    assert!(err.contains("the time budget is spent"), "{err}");
    let cut_rows = rows(&out);
    assert!(cut_rows.iter().all(|x| x["round"] == 1 || x["round"] == 2));
    let seconds = |x: &serde_json::Value| x["record"]["seconds_total"].as_f64();
    let config = |x: &serde_json::Value| (x["backend"].clone(), x["strategy"].clone());
    let mut first: Vec<(f64, _)> = cut_rows
        .iter()
        .filter(|x| x["round"] == 1)
        .filter_map(|x| seconds(x).map(|s| (s, config(x))))
        .collect();
    first.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut again: Vec<_> = cut_rows
        .iter()
        .filter(|x| x["round"] == 2)
        .map(config)
        .collect();
    let mut fastest: Vec<_> = first.iter().take(3).map(|(_, c)| c.clone()).collect();
    let key = |c: &(serde_json::Value, serde_json::Value)| format!("{} {}", c.0, c.1);
    again.sort_by_key(key);
    fastest.sort_by_key(key);
    assert_eq!(again, fastest, "{cut_rows:?}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("time budget"), "{summary}");

    // --max-repeats below --repeats is refused with one line.
    let bad = sweep(&out, &["sweep", "--max-repeats", "1"]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--max-repeats 1 is below --repeats 2"),
        "{err}"
    );
}

#[test]
fn a_workload_file_is_swept_as_one_workload_named_by_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("products.toml");
    std::fs::write(
        &file,
        "[[tasks]]\nop = \"gemm\"\nshape = [40, 30, 50]\ncount = 3\n\
         [[tasks]]\nop = \"gemm\"\nsize = 24\ncount = 2\n",
    )
    .unwrap();
    let out = dir.path().join("sweep");
    let run = front()
        .args(["sweep", "--backends", "matrixmultiply", "--workload"])
        .arg(&file)
        .args(["--strategies", "sequential,threads-2,procs-2,batched-2"])
        .args([
            "--no-race",
            "--repeats",
            "1",
            "--peak-seconds",
            "0.05",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("engine starts");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    let r = rows(&out);
    let measured: Vec<_> = r.iter().filter(|x| !x["record"].is_null()).collect();
    assert_eq!(measured.len(), 3, "{r:?}");
    for x in &measured {
        // Named by its task count and largest dimension; the record names the file.
        assert_eq!(
            (x["tasks"].as_u64(), x["size"].as_u64()),
            (Some(5), Some(50))
        );
        assert_eq!(x["record"]["workload_file"]["tasks"], 5);
    }
    let batched = r.iter().find(|x| x["strategy"] == "batched-2").unwrap();
    assert!(
        batched["refused"]
            .as_str()
            .unwrap()
            .contains("mixes operations and shapes"),
        "{batched}"
    );
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.starts_with("# Sweep of the workload file file-products-"),
        "{summary}"
    );
    assert!(
        summary.contains("3 x gemm 40x30x50, 2 x gemm 24 (5 tasks"),
        "{summary}"
    );
    assert!(!summary.contains("Single-thread GEMM"), "{summary}");
    // Its options exclude the generated workload's.
    let both = front()
        .args(["sweep", "--workload"])
        .arg(&file)
        .args(["--tasks", "4"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    let bad = front()
        .args(["sweep", "--workload"])
        .arg(dir.path().join("none.toml"))
        .args(["--out"])
        .arg(dir.path().join("never"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("cannot read the workload file"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// A float64 `.npy` file of `rows` x `cols` values that differ entry to entry (written
/// by ndarray-npy, as NumPy's `np.save` would).
fn npy(dir: &Path, name: &str, rows: usize, cols: usize) {
    let a = ndarray::Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((i * cols + j) * 7919 % 1009) as f64 / 1009.0
    });
    ndarray_npy::write_npy(dir.join(name), &a).unwrap();
}

#[test]
fn an_input_folder_is_swept_and_parent_loading_compared_pair_by_pair() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("frames");
    std::fs::create_dir(&input).unwrap();
    npy(&input, "a.npy", 40, 30);
    npy(&input, "b.npy", 30, 50);
    npy(&input, "c.npy", 24, 16);
    let out = dir.path().join("sweep");
    let run = front()
        .args(["sweep", "--backends", "matrixmultiply", "--input"])
        .arg(&input)
        .args(["--loading", "workers,parent", "--strategies", "threads-2"])
        .args([
            "--no-race",
            "--repeats",
            "1",
            "--peak-seconds",
            "0.05",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("engine starts");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    let r = rows(&out);
    assert_eq!(r.len(), 1, "{r:?}");
    // a x b, then c by its own transpose: 2 tasks, largest dimension 50.
    assert_eq!(
        (r[0]["tasks"].as_u64(), r[0]["size"].as_u64()),
        (Some(2), Some(50))
    );
    assert_eq!(r[0]["record"]["input"]["loading"], "workers");
    let pairs: Vec<serde_json::Value> = std::fs::read_to_string(out.join("pin.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // At least 6 pairs (enough for an interval), each run both ways.
    let parent = pairs.iter().filter(|p| p["loading"] == "parent").count();
    assert!(parent >= 6 && pairs.len() == 2 * parent, "{pairs:?}");
    for p in pairs.iter().filter(|p| p["loading"] == "parent") {
        assert_eq!(p["record"]["input"]["loading"], "parent");
    }
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("### Loading (`--loading`)"), "{summary}");
    assert!(summary.contains("threads-2+pload"), "{summary}");
    assert!(summary.contains("Input folder"), "{summary}");
    assert!(!summary.contains("### Placement"), "{summary}");
    // --loading needs --input; a bad folder is one line naming the file.
    let alone = front()
        .args(["sweep", "--loading", "parent"])
        .output()
        .unwrap();
    assert_eq!(alone.status.code(), Some(2));
    std::fs::write(input.join("d.npy"), b"not npy").unwrap();
    let bad = front()
        .args(["sweep", "--input"])
        .arg(&input)
        .args(["--out"])
        .arg(dir.path().join("never"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("d.npy"), "{err}");
}

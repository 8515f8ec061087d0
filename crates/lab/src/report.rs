//! The sweep's written results, generated from its rows (nothing typed by hand):
//! `summary.md` (the tutorial's table per backend and workload, parallel data generation,
//! the recommendation, scaling and crossovers) and the folder's `README.md`.

use crate::answer::{Answer, AvoidWhat, Choice, Recommendation};
use crate::race::{LogEntry, Status};
use crate::summary::{Row, Summary, summarise};
use blaspar_core::Strategy;
use blaspar_core::machine::Machine;
use blaspar_core::operation::Operation;
use blaspar_core::peak::Peak;
use blaspar_core::record::RunRecord;
use blaspar_core::registry::Engine;
use blaspar_core::strategy::label;
use blaspar_core::workload::Generation;
use std::path::Path;

/// How a sweep measured: the numbers behind its header and racing section.
#[derive(Clone, Debug)]
pub struct How {
    /// Measurements of each configuration (racing: of each one still in the race at the end).
    pub repeats: usize,
    /// Most measurements of one configuration while it was undecided.
    pub max_repeats: usize,
    /// Whether configurations were raced ([`crate::race`]) or all measured alike.
    pub raced: bool,
    /// The time budget, when it ran out before the measurements were done.
    pub budget: Option<std::time::Duration>,
    /// What the tasks were when they were not the generator's n x n of one operation: a
    /// workload file (`file-mixed-0dc868f1`), named in the headings.
    pub tasks_from: Option<String>,
}

/// The summary in the tutorial's table form per backend, the best per backend and overall,
/// the recommendation (`rec`, the answer computed from the same rows) and the race.
pub fn report(
    rows: &[Row],
    peak: &Peak,
    how: &How,
    race: &[LogEntry],
    rec: &Recommendation,
) -> String {
    use std::fmt::Write as _;
    let all = summarise(rows);
    let mut t = String::new();
    let measured = if how.raced {
        format!(
            "racing (every configuration once, then {}-{} measurements of those the noise cannot \
             rule out; see \"Racing\" below)",
            how.repeats, how.max_repeats
        )
    } else {
        format!("{} interleaved repeats", how.repeats)
    };
    let what = match &how.tasks_from {
        Some(name) => name.clone(),
        None => format!("{} ({})", rec.operation.name(), rec.operation.routine()),
    };
    let _ = writeln!(
        t,
        "# Sweep of {what}: {measured}\n\nPeak (measured, {}): {:.1} GFLOP/s on one core, {:.1} on {} CPUs. \
         Times are medians; spread is (max - min) / median; GFLOP/s counts data generation, as the \
         tutorial's times do; generate / multiply / transfer / idle are shares of workers x time. \
         Every configuration listed was measured; the others were not (the pruned grid, then the \
         neighbours of the best on the P x T plane).\n",
        peak.isa, peak.one_core_gflops, peak.all_cores_gflops, peak.threads
    );
    if let Some(b) = how.budget {
        let _ = writeln!(
            t,
            "**The time budget ({:.0} s) ran out before the measurements were done**: the answer \
             below is from what was measured by then.\n",
            b.as_secs_f64()
        );
    }
    let workloads = crate::summary::workloads(&all);
    let mut bests: Vec<(usize, usize, Summary)> = Vec::new();
    for &(tasks, size) in &workloads {
        let sums: Vec<Summary> = all
            .iter()
            .filter(|s| (s.tasks, s.size) == (tasks, size))
            .cloned()
            .collect();
        let rows: Vec<Row> = rows
            .iter()
            .filter(|r| (r.tasks, r.size) == (tasks, size))
            .cloned()
            .collect();
        match &how.tasks_from {
            Some(name) => {
                let _ = writeln!(t, "## {tasks} tasks of {name} (largest dimension {size})\n");
            }
            None => {
                let _ = writeln!(t, "## {tasks} tasks of {size}x{size}\n");
            }
        }
        let answer = rec
            .workloads
            .iter()
            .find(|a| (a.tasks, a.size) == (tasks, size));
        workload_report(&mut t, &rows, &sums, peak, answer, rec);
        if let Some(best) = sums.first() {
            bests.push((tasks, size, best.clone()));
        }
    }
    if bests.len() > 1 {
        scaling_section(&mut t, &bests, &all, peak);
    }
    if how.raced {
        racing_section(&mut t, race);
    }
    t
}

/// What the race measured how often, and why each dropped configuration was dropped.
fn racing_section(t: &mut String, race: &[LogEntry]) {
    use std::fmt::Write as _;
    let runs: usize = race.iter().map(|e| e.runs).sum();
    let dropped: Vec<&LogEntry> = race
        .iter()
        .filter(|e| matches!(e.status, Status::Dropped { .. }))
        .collect();
    let _ = writeln!(
        t,
        "## Racing\n\n{runs} measurements of {} configurations. A configuration is dropped (never \
         measured again) once it is surely slower than the fastest configuration still racing \
         by more than the margin (the answer's \"slower\"); the undecided ones are measured \
         until they are decided or have their most runs, the \"as fast\" ones no more than \
         the repeats asked for.\n",
        race.len(),
    );
    let _ = writeln!(t, "| configuration | runs | status |\n|---|---:|---|");
    for e in race {
        let status = match &e.status {
            Status::Contender => "raced to the end".to_string(),
            Status::Refused { .. } => "refused by the backend".to_string(),
            Status::Dropped {
                round,
                slower,
                low,
                high,
                as_fast,
                best,
            } => format!(
                "dropped after round {round}: {slower:.2}x the median of {best}; against the \
                 fastest [{low:.3}, {high:.3}], within the margin in {:.1}% of rounds",
                100.0 * as_fast
            ),
        };
        let _ = writeln!(t, "| {} | {} | {status} |", e.configuration, e.runs);
    }
    let _ = writeln!(
        t,
        "\n{} of {} configurations dropped.\n",
        dropped.len(),
        race.len()
    );
}

/// The best configuration of each workload, in workload order.
type Bests = [(usize, usize, Summary)];

/// The scaling table (the best per workload) and its crossovers.
fn scaling_section(t: &mut String, bests: &Bests, all: &[Summary], peak: &Peak) {
    use std::fmt::Write as _;
    let _ = writeln!(
        t,
        "## Scaling\n\n| workload | best | median s | GFLOP/s | % of peak |\n|---|---|---:|---:|---:|"
    );
    for (tasks, size, b) in bests {
        let _ = writeln!(
            t,
            "| {tasks} x {size}x{size} | {} on {} | {} | {:.1} | {:.0}% |",
            b.label(),
            b.backend,
            seconds(b.median_seconds),
            b.median_gflops,
            100.0 * b.median_gflops / peak.all_cores_gflops
        );
    }
    let crossovers = crossovers(bests, all);
    if crossovers.is_empty() {
        let _ = writeln!(
            t,
            "\nNo crossover: the same kind of strategy wins at every workload measured."
        );
    } else {
        let _ = writeln!(t, "\nCrossovers (workloads ordered by size, then tasks):\n");
        for c in crossovers {
            let _ = writeln!(t, "- {c}");
        }
    }
}

/// Where the winning kind of strategy changes from one workload to the next, and whether
/// the earlier winner is slower there by more than the spread.
fn crossovers(bests: &Bests, all: &[Summary]) -> Vec<String> {
    bests
        .windows(2)
        .filter(|w| kind(&w[0].2.strategy) != kind(&w[1].2.strategy))
        .map(|w| {
            let (before, after) = (&w[0].2, &w[1].2);
            // The earlier winner, measured on the later workload: is the change real?
            let old = all.iter().find(|s| {
                (s.tasks, s.size) == (w[1].0, w[1].1)
                    && s.backend == before.backend
                    && s.strategy == before.strategy
                    && s.generation == before.generation
            });
            let verdict = match old {
                Some(old) => {
                    let margin = old.median_seconds / after.median_seconds - 1.0;
                    let noise = old.spread().max(after.spread());
                    if margin > noise {
                        format!(
                            "{} is {:.1}% slower there, beyond the spread ({:.1}%)",
                            before.label(),
                            100.0 * margin,
                            100.0 * noise
                        )
                    } else {
                        format!(
                            "within noise: {} is {:.1}% slower there, inside the spread ({:.1}%)",
                            before.label(),
                            100.0 * margin,
                            100.0 * noise
                        )
                    }
                }
                None => format!("{} was not measured there", before.label()),
            };
            format!(
                "from {} x {}x{} to {} x {}x{}: {} on {} gives way to {} on {} ({verdict})",
                w[0].0,
                w[0].1,
                w[0].1,
                w[1].0,
                w[1].1,
                w[1].1,
                before.label(),
                before.backend,
                after.label(),
                after.backend
            )
        })
        .collect()
}

/// The kind of a strategy, without its numbers (`threads-4` -> `threads`).
fn kind(strategy: &str) -> &str {
    strategy.trim_end_matches(|c: char| c.is_ascii_digit() || c == 'x' || c == '-')
}

/// One workload's tables (one per backend), the parallel-generation table and the
/// recommendation.
fn workload_report(
    t: &mut String,
    rows: &[Row],
    sums: &[Summary],
    peak: &Peak,
    answer: Option<&Answer>,
    rec: &Recommendation,
) {
    let mut backends: Vec<&str> = sums.iter().map(|s| s.backend.as_str()).collect();
    backends.sort_unstable();
    backends.dedup();
    for b in backends {
        backend_section(t, b, rows, sums, peak);
    }
    generation_section(t, sums);
    if let Some(answer) = answer {
        recommendation(t, answer, peak, rec);
    }
}

/// One backend's table in the tutorial's form, its best, its single-thread GEMM rate and
/// the configurations it refused.
fn backend_section(t: &mut String, b: &str, rows: &[Row], sums: &[Summary], peak: &Peak) {
    use std::fmt::Write as _;
    let _ = writeln!(t, "### {b}\n");
    let _ = writeln!(
        t,
        "| strategy | task parallelism | BLAS threads | runs | median s | spread | GFLOP/s | % of peak | generate | multiply | transfer | idle | start-up s |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for s in sums.iter().filter(|s| s.backend == b) {
        // A row written by another version may name a strategy this one does not know:
        // its figures still stand, only the two descriptive cells stay open.
        let (tasks, mut threads) = match s.strategy.parse::<Strategy>() {
            Ok(strat) => (
                strat.placement().tasks_cell(strat.workers()),
                strat
                    .blas_threads()
                    .requested()
                    .map_or("default".to_string(), |t| t.to_string()),
            ),
            Err(_) => ("?".to_string(), "?".to_string()),
        };
        match s.generation {
            Generation::Serial => {}
            Generation::Parallel => threads.push_str(" (also generating)"),
            Generation::Overlapped => threads.push_str(" (+1 generating ahead)"),
        }
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {:.1}% | {:.1} | {:.0}% | {:.0}% | {:.0}% | {:.1}% | {:.0}% | {:.4} |",
            s.label(),
            tasks,
            threads,
            s.runs,
            seconds(s.median_seconds),
            100.0 * s.spread(),
            s.median_gflops,
            100.0 * s.median_gflops / peak.all_cores_gflops,
            100.0 * s.split[0],
            100.0 * s.split[1],
            100.0 * s.split[2],
            100.0 * s.split[3],
            s.startup
        );
    }
    if let Some(best) = sums.iter().find(|s| s.backend == b) {
        let _ = writeln!(
            t,
            "\nBest on {b}: **{}**, {} s, {:.1} GFLOP/s.",
            best.label(),
            seconds(best.median_seconds),
            best.median_gflops
        );
    }
    // One operation's rate: a workload file's tasks mix operations, whose rates differ.
    let mixed = rows
        .iter()
        .any(|r| r.record.as_ref().is_some_and(|r| r.workload_file.is_some()));
    let op = rows.first().map_or(Operation::Gemm, |r| r.operation);
    if let Some(seq) = sums.iter().find(|s| {
        s.backend == b && s.strategy == "sequential" && s.generation == Generation::Serial
    }) && !mixed
    {
        let what = match op {
            Operation::Gemm => "GEMM (sequential, multiply phase only)".to_string(),
            op => format!("{op} (sequential, compute phase only)"),
        };
        let _ = writeln!(
            t,
            "\nSingle-thread {what}: {:.1} GFLOP/s, {:.0}% of the one-core peak.",
            seq.gemm_gflops_per_worker,
            100.0 * seq.gemm_gflops_per_worker / peak.one_core_gflops
        );
    }
    let refused: Vec<&Row> = rows
        .iter()
        .filter(|r| r.backend == b && r.refused.is_some())
        .collect();
    if !refused.is_empty() {
        let _ = writeln!(t, "\nNot run (the backend cannot run them honestly):\n");
        for r in refused {
            let why = r.refused.as_deref().unwrap_or_default();
            let why = why.split_once(": ").map_or(why, |(_, w)| w);
            let _ = writeln!(t, "- {}: {why}", r.strategy);
        }
    }
    let _ = writeln!(t);
}

/// Serial against parallel or overlapped data generation, where both were measured.
fn generation_section(t: &mut String, sums: &[Summary]) {
    use std::fmt::Write as _;
    let pairs: Vec<(&Summary, &Summary)> = sums
        .iter()
        .filter(|p| p.generation != Generation::Serial)
        .filter_map(|p| {
            let s = sums.iter().find(|s| {
                s.generation == Generation::Serial
                    && s.backend == p.backend
                    && s.strategy == p.strategy
            })?;
            Some((s, p))
        })
        .collect();
    if !pairs.is_empty() {
        let _ = writeln!(
            t,
            "### Parallel or overlapped data generation: does it pay?\n\nEach pair is the same \
             configuration with the data made by the worker's thread alone (serial) and by as many \
             threads as it has BLAS threads (parallel) or by a thread of its own one task ahead \
             while it multiplies (overlapped); the matrices are identical.\n\n\
             | backend | strategy | generation | serial s | other s | generate share (serial) | gain | verdict |\n|---|---|---|---:|---:|---:|---:|---|"
        );
        for (s, p) in pairs {
            let gain = s.median_seconds / p.median_seconds - 1.0;
            let noise = s.spread().max(p.spread());
            let verdict = if gain.abs() <= noise {
                "within noise"
            } else if gain > 0.0 {
                "pays"
            } else {
                "costs"
            };
            let _ = writeln!(
                t,
                "| {} | {} | {} | {} | {} | {:.0}% | {:+.1}% | {verdict} (spread {:.1}%) |",
                s.backend,
                s.strategy,
                p.generation,
                seconds(s.median_seconds),
                seconds(p.median_seconds),
                100.0 * s.split[0],
                100.0 * gain,
                100.0 * noise
            );
        }
        let _ = writeln!(t);
    }
}

/// The answer: the kinds of parallelism first (as fast, undecided, to avoid), then the
/// three sets: "as fast" with its rate, "undecided" with each one's estimate, interval and
/// the runs that would decide it, "slower" as what to avoid; and the recipe for the user's
/// own program on each library of the advised set.
fn recommendation(t: &mut String, a: &Answer, peak: &Peak, rec: &Recommendation) {
    use std::fmt::Write as _;
    let _ = writeln!(t, "### Recommendation\n");
    kinds_sentence(t, a, rec.resamples);
    sets_tables(t, a, peak, rec);
    noise_sentence(t, a, rec.margin);
    avoid_list(t, a);
    recipes(t, a);
}

/// The kinds of parallelism: the answer (a configuration "as fast"), the undecided ones,
/// and how often the bootstrap's fastest configuration is of one of them.
fn kinds_sentence(t: &mut String, a: &Answer, resamples: usize) {
    use std::fmt::Write as _;
    let list = |ks: &[crate::answer::KindAnswer]| -> String {
        ks.iter()
            .map(|k| format!("**{}** on {}", k.description, k.libraries.join(", ")))
            .collect::<Vec<_>>()
            .join("; or ")
    };
    let answer = if a.kinds.is_empty() {
        "no kind is surely the answer yet (nothing is surely as fast as the fastest)".to_string()
    } else {
        format!(
            "{} (a configuration surely as fast as the fastest)",
            list(&a.kinds)
        )
    };
    let open = if a.undecided_kinds.is_empty() {
        String::new()
    } else {
        format!(
            "; undecided: {} (a configuration neither surely as fast nor surely slower)",
            list(&a.undecided_kinds)
        )
    };
    let _ = writeln!(
        t,
        "Kind of parallelism first, then the library: {answer}{open}. {:.0}% of {resamples} \
         bootstrap rounds have their fastest configuration of one of these kinds.\n",
        100.0 * a.kind_confidence,
    );
}

/// The three sets with the confidence of their claims: "as fast" and "undecided" as
/// tables, "slower" counted (listed under Avoid).
fn sets_tables(t: &mut String, a: &Answer, peak: &Peak, rec: &Recommendation) {
    use std::fmt::Write as _;
    let _ = writeln!(
        t,
        "Of {} configurations, **{} as fast** as the fastest (surely within {:.1}% of it), \
         **{} undecided**, **{} slower** (surely more than {:.1}% slower). The confidence of these claims is {:.0}%: \
         the share of bootstrap rounds in which every one of these claims held at once (each \
         claim is made at {:.0}%: compare's rule, an interval wholly on one side of the \
         margin; method in `recommendation.json`){}.\n",
        a.configurations,
        a.tie_set.len(),
        100.0 * rec.margin,
        a.undecided.len(),
        a.slower.len(),
        100.0 * rec.margin,
        100.0 * a.confidence,
        100.0 * rec.level,
        if a.min_runs < 2 {
            "; configurations measured once are judged by the noise of those measured more"
        } else {
            ""
        }
    );
    let header = "| configuration | library | kind | runs | median s | GFLOP/s | % of peak | vs best | against the fastest | fastest in |";
    let row = |t: &mut String, c: &Choice| {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {:.1} | {:.0}% | {:.3} | [{:.3}, {:.3}] | {:.0}% |",
            label(&c.strategy, c.generation),
            c.backend,
            c.kind.map_or("?", blaspar_core::kind::Kind::name),
            c.runs,
            seconds(c.median_seconds),
            c.gflops,
            100.0 * c.gflops / peak.all_cores_gflops,
            c.slower_than_best,
            c.ratio_low,
            c.ratio_high,
            100.0 * c.fastest_in
        );
    };
    if !a.tie_set.is_empty() {
        let _ = writeln!(
            t,
            "As fast as the fastest:\n\n{header}\n|---|---|---|---:|---:|---:|---:|---:|---|---:|"
        );
        for c in &a.tie_set {
            row(t, c);
        }
        let _ = writeln!(t);
    }
    if !a.undecided.is_empty() {
        let _ = writeln!(
            t,
            "Undecided (the interval against the fastest contains {:.3}; more runs, with \
             `sweep --out` on this folder and a larger `--max-repeats` or `--budget`, would \
             narrow it):\n\n{header} more runs to decide |\n|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|",
            1.0 + rec.margin
        );
        for c in &a.undecided {
            let mut line = String::new();
            row(&mut line, c);
            // A point interval: no noise to go by yet (nothing was measured twice).
            let more = match c.more_runs {
                Some(n) => format!("about {n}"),
                None if c.ratio_low == c.ratio_high => "no noise yet".to_string(),
                None => "on the margin".to_string(),
            };
            let _ = writeln!(t, "{} {more} |", line.trim_end());
        }
        let _ = writeln!(t);
    }
}

/// The workload's run-to-run noise, what it lets the sweep tell apart with the most runs
/// it gave a configuration, and whether that is enough for the margin: where it is not, the
/// sets will differ from one sweep to the next, and the sentence says what would help.
fn noise_sentence(t: &mut String, a: &Answer, margin: f64) {
    use std::fmt::Write as _;
    let Some(noise) = a.noise else {
        let _ = writeln!(
            t,
            "**Noise**: no configuration was measured twice, so there is none to go by: \
             nothing is claimed.\n"
        );
        return;
    };
    let (runs, resolution) = (noise.at_runs, noise.resolution);
    let _ = write!(
        t,
        "**Noise**: half the runs lie within {:.1}% of their configuration's mean (pooled \
         over {} runs of {} configurations measured more than once). With {runs} runs \
         each (the most this sweep gave a configuration), two configurations of equal speed \
         get an interval of about ±{:.1}% against each other: closer than that, it cannot tell \
         them apart. ",
        100.0 * noise.spread,
        noise.runs,
        noise.configurations,
        100.0 * resolution,
    );
    let _ = if noise.quiet_for(margin) {
        writeln!(
            t,
            "That is within the {:.1}% margin: quiet enough for these runs to decide a \
             configuration near the fastest.\n",
            100.0 * margin
        )
    } else {
        writeln!(
            t,
            "**Too noisy for the {:.1}% margin**: a claim \"as fast\" would need about {} runs \
             of each configuration, so a repeated sweep will move configurations near the \
             fastest between \"undecided\" and \"slower\"; what stays is the coarse answer \
             (what to avoid, and the configurations far slower than the fastest). A quieter \
             machine (nothing else running; on a VM, a host whose neighbours are idle) or many \
             more runs (`--max-repeats`, `--budget`) narrow the intervals.\n",
            100.0 * margin,
            noise.runs_for(margin),
        )
    };
}

/// What to avoid: the kinds, then the libraries, all of whose configurations are slower
/// (each with how many times slower than the best its fastest configuration is), and the
/// slowest measured.
fn avoid_list(t: &mut String, a: &Answer) {
    use std::fmt::Write as _;
    let _ = writeln!(
        t,
        "Avoid (every configuration of it surely slower; how many times slower than the best \
         its fastest configuration is):\n"
    );
    for (what, name) in [
        (AvoidWhat::Kind, "kinds"),
        (AvoidWhat::Library, "libraries"),
    ] {
        let items: Vec<String> = a
            .avoid
            .iter()
            .filter(|x| x.what == what)
            .map(|x| {
                format!(
                    "{} {:.2}x ({} on {})",
                    x.name,
                    x.factor,
                    label(&x.fastest.strategy, x.fastest.generation),
                    x.fastest.backend
                )
            })
            .collect();
        if !items.is_empty() {
            let _ = writeln!(t, "- {name}: {}", items.join(", "));
        }
    }
    if let Some(first) = a.slower.first() {
        let _ = writeln!(
            t,
            "- the fastest of the {} slower configurations: {} on {}, {:.2}x",
            a.slower.len(),
            label(&first.strategy, first.generation),
            first.backend,
            first.slower_than_best
        );
    }
    let _ = writeln!(
        t,
        "- slowest measured: {} on {}, {:.2}x",
        label(&a.slowest.strategy, a.slowest.generation),
        a.slowest.backend,
        a.slowest.slower_than_best
    );
}

/// How to run it in the user's own program: one recipe per library of the advised set (the
/// configurations not surely slower, the "as fast" ones first), for its fastest
/// configuration there, marked when it is undecided.
fn recipes(t: &mut String, a: &Answer) {
    use std::fmt::Write as _;
    let set = a.advised();
    let _ = writeln!(
        t,
        "\nIn your own program (the configurations not surely slower, the \"as fast\" ones first; \
         each library's fastest of them):\n"
    );
    let mut seen: Vec<&str> = Vec::new();
    for (c, standing) in set {
        if seen.contains(&c.backend.as_str()) {
            continue;
        }
        seen.push(&c.backend);
        // A row of another version may name a strategy this one cannot describe.
        let recipe = match c.strategy.parse::<Strategy>() {
            Ok(strat) => how_to(&c.backend, &strat, c.generation),
            Err(_) => format!("{} (not a strategy this version knows)", c.strategy),
        };
        let undecided = match standing {
            crate::answer::Standing::Undecided => ", undecided against the best",
            _ => "",
        };
        let _ = writeln!(
            t,
            "- {} ({}{undecided}): {recipe}.",
            c.backend,
            label(&c.strategy, c.generation)
        );
    }
    let _ = writeln!(t);
}

/// The folder's README: the exact commands, commits, tool and library versions, CPU, cores
/// and BLAS environment, all read from the rows themselves (nothing is typed by hand).
pub fn readme(rows: &[Row], peak: &Peak, machine: &Machine, out: &Path) -> String {
    use std::collections::BTreeSet;
    use std::fmt::Write as _;
    let recs: Vec<&RunRecord> = rows.iter().filter_map(|r| r.record.as_ref()).collect();
    let set = |f: &dyn Fn(&RunRecord) -> String| -> Vec<String> {
        recs.iter()
            .map(|r| f(r))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let commits = set(&|r| r.commit.clone());
    let tools = set(&|r| r.tool_version.clone());
    let libs = set(&|r| {
        format!(
            "{}: {} (kernel {}, {})",
            r.backend, r.backend_version, r.kernel, r.kernel_choice.method
        )
    });
    let envs = set(&|r| {
        if r.blas_env.is_empty() {
            "(no BLAS variable set)".to_string()
        } else {
            r.blas_env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    });
    let workloads = set(&|r| {
        format!(
            "{} tasks of {} on {}x{}",
            r.tasks,
            r.operation.name(),
            r.size,
            r.size
        )
    });
    let mut t = String::new();
    let _ = writeln!(t, "# blaspar sweep on {}\n", machine.hostname);
    let _ = writeln!(
        t,
        "Generated by `blaspar sweep` from the rows in `runs.jsonl`; the summary and plots are regenerated by running the same command again.\n"
    );
    let commands = std::fs::read_to_string(out.join("commands.log")).unwrap_or_default();
    let _ = writeln!(t, "- Commands (every invocation on this folder, in order):");
    for c in commands.lines().filter(|l| !l.trim().is_empty()) {
        let _ = writeln!(t, "  - `{c}`");
    }
    let _ = writeln!(
        t,
        "- Machine: {} ({} logical CPUs, {} physical cores; {} allowed; cgroup quota {}), SIMD: {}",
        machine.cpu_model,
        machine.logical_cpus,
        machine.physical_cores,
        machine.cpus_allowed.len(),
        machine
            .cgroup_cpu_quota
            .map_or("none".to_string(), |q| format!("{q} CPUs")),
        machine.simd.join(" ")
    );
    let _ = writeln!(
        t,
        "- Measured f64 FMA peak ({}): {:.1} GFLOP/s on one core, {:.1} on {} CPUs",
        peak.isa, peak.one_core_gflops, peak.all_cores_gflops, peak.threads
    );
    let _ = writeln!(t, "- Commit(s) of the binaries: {}", commits.join(", "));
    let _ = writeln!(t, "- blaspar version(s): {}", tools.join(", "));
    let _ = writeln!(t, "- Workloads: {}", workloads.join("; "));
    let _ = writeln!(t, "- BLAS environment: {}", envs.join("; "));
    let _ = writeln!(
        t,
        "- Rows: {} measured, {} refused (see `summary.md`)",
        recs.len(),
        rows.len() - recs.len()
    );
    let _ = writeln!(t, "- Libraries:");
    for l in libs {
        let _ = writeln!(t, "  - {l}");
    }
    let _ = writeln!(
        t,
        "\nFiles: `runs.jsonl` (one row per measurement, with the full run record), `peak.json`, \
         `summary.md` (tables, recommendation, scaling), `recommendation.json` (per workload \
         the three sets, as fast, undecided and slower, with the confidence of their claims, \
         what to avoid; read by `blaspar advise`), \
         `strategies*.svg`, `heatmap-*.svg`, `scaling.svg` (with several workloads)."
    );
    t
}

/// Seconds with about four significant digits.
fn seconds(s: f64) -> String {
    match s {
        s if s >= 100.0 => format!("{s:.1}"),
        s if s >= 10.0 => format!("{s:.2}"),
        s if s >= 1.0 => format!("{s:.3}"),
        s => format!("{s:.4}"),
    }
}

/// How to get a strategy in the user's own program, in words, for one backend.
pub fn how_to(backend: &str, strategy: &Strategy, generation: Generation) -> String {
    let run = how_to_run(backend, strategy);
    match (generation, strategy.blas_threads()) {
        (Generation::Serial, _) => run,
        (Generation::Parallel, blaspar_core::BlasThreads::Fixed(t)) => format!(
            "{run}; and make each task's data with {t} threads (split the matrices into blocks, \
             e.g. with rayon's par_chunks_mut, one random stream per block)"
        ),
        (Generation::Parallel, blaspar_core::BlasThreads::LibraryDefault) => format!(
            "{run}; and make each task's data with as many threads as the library uses (split \
             the matrices into blocks, one random stream per block)"
        ),
        (Generation::Overlapped, _) => format!(
            "{run}; and give each worker a thread that makes the next task's data while it \
             multiplies (one task ahead, e.g. a bounded channel between the two)"
        ),
    }
}

fn how_to_run(backend: &str, strategy: &Strategy) -> String {
    strategy.how_to(|t| match Engine::named(backend) {
        Some(engine) => engine.set_threads_phrase(t),
        None => format!("the library at {t} thread(s)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_to_names_each_library_s_own_controls() {
        let h = |b: &str, s: &str| how_to(b, &s.parse().unwrap(), Generation::Serial);
        assert!(h("blis", "threads-4").contains("BLIS_NUM_THREADS=1"));
        assert!(h("openblas-openmp", "blas-8").contains("OMP_NUM_THREADS=8"));
        assert!(h("openblas-pthread", "hybrid-procs-2x4").contains("OPENBLAS_NUM_THREADS=4"));
        assert!(h("mkl-iomp", "blas-2").contains("MKL_NUM_THREADS=2"));
        assert!(h("mkl-seq", "procs-2").contains("single-threaded"));
        assert!(h("faer", "blas-2").contains("Par::rayon(2)"));
        assert!(h("blis", "batched-2").contains("cblas_dgemm_batch"));
        let p = how_to("blis", &"blas-4".parse().unwrap(), Generation::Parallel);
        assert!(
            p.contains("BLIS_NUM_THREADS=4") && p.contains("data with 4 threads"),
            "{p}"
        );
    }

    #[test]
    fn the_recommendation_names_the_three_sets_what_to_avoid_and_each_library_s_recipe() {
        use crate::summary::test_rows as rows;
        let all = [
            rows("mkl-iomp", "threads-2", &[0.300, 0.309, 0.294]),
            rows("blis", "procs-2", &[0.303, 0.297, 0.310]),
            rows("blis", "sequential", &[0.60, 0.61, 0.59]),
            rows("matrixmultiply", "threads-2", &[0.45, 0.46, 0.44]),
        ]
        .concat();
        let peak = Peak {
            isa: "avx2".into(),
            lanes: 4,
            one_core_gflops: 60.0,
            all_cores_gflops: 120.0,
            threads: 2,
            seconds: 0.5,
        };
        let rec = crate::answer::recommend(&all, crate::answer::MARGIN);
        let how = How {
            repeats: 3,
            max_repeats: 6,
            raced: true,
            budget: Some(std::time::Duration::from_secs(90)),
            tasks_from: None,
        };
        let log = vec![LogEntry {
            configuration: "blis sequential (16x1000)".into(),
            runs: 1,
            status: Status::Dropped {
                round: 2,
                slower: 2.0,
                low: 1.9,
                high: 2.1,
                as_fast: 0.0,
                best: "mkl-iomp threads-2 (16x1000)".into(),
            },
        }];
        let text = report(&all, &peak, &how, &log, &rec);
        assert!(text.contains("The time budget (90 s) ran out"), "{text}");
        assert!(
            text.contains(
                "| blis sequential (16x1000) | 1 | dropped after round 2: 2.00x the median of \
                 mkl-iomp threads-2 (16x1000); against the fastest [1.900, 2.100], within the \
                 margin in 0.0% of rounds |"
            ),
            "{text}"
        );
        let section = text
            .split("### Recommendation")
            .nth(1)
            .expect("a recommendation");
        for expected in [
            "**task-level parallelism with threads (one library thread per task)** on mkl-iomp \
             (a configuration surely as fast as the fastest); undecided: **task-level \
             parallelism with worker processes",
            "**1 as fast** as the fastest (surely within 2.0% of it), **1 undecided**, **2 slower**",
            "| threads-2 | mkl-iomp | task-threads | 3 | 0.3000 |",
            "| procs-2 | blis | task-processes | 3 | 0.3030 |",
            "- kinds: sequential 2.00x (sequential on blis)",
            "- libraries: matrixmultiply 1.50x (threads-2 on matrixmultiply)",
            "- mkl-iomp (threads-2): run 2 tasks at once in a thread pool",
            "MKL_NUM_THREADS=1",
        ] {
            assert!(section.contains(expected), "{expected}\n---\n{section}");
        }
        assert!(
            !section.contains("matrixmultiply (threads-2): run"),
            "{section}"
        );
        // Runs 2-3% apart, three each: too noisy for a 2% margin, and the summary says so.
        assert!(
            section.contains("With 3 runs each")
                && section.contains("**Too noisy for the 2.0% margin**"),
            "{section}"
        );
    }

    #[test]
    fn the_noise_sentence_says_whether_the_runs_can_decide_at_the_margin() {
        use crate::summary::test_rows as rows;
        let sentence = |spread: f64| {
            let all = [
                rows(
                    "blis",
                    "threads-2",
                    &[0.300, 0.300 * (1.0 + spread), 0.300 * (1.0 - spread)],
                ),
                rows(
                    "blis",
                    "procs-2",
                    &[0.310, 0.310 * (1.0 - spread), 0.310 * (1.0 + spread)],
                ),
            ]
            .concat();
            let rec = crate::answer::recommend(&all, crate::answer::MARGIN);
            let mut t = String::new();
            noise_sentence(&mut t, &rec.workloads[0], rec.margin);
            t
        };
        let quiet = sentence(0.001);
        assert!(
            quiet.contains("within 0.1% of their configuration's mean"),
            "{quiet}"
        );
        assert!(quiet.contains("quiet enough"), "{quiet}");
        let noisy = sentence(0.05);
        assert!(
            noisy.contains("**Too noisy for the 2.0% margin**"),
            "{noisy}"
        );
        let none = {
            let rec = crate::answer::recommend(&rows("blis", "threads-2", &[0.3]), 0.02);
            let mut t = String::new();
            noise_sentence(&mut t, &rec.workloads[0], rec.margin);
            t
        };
        assert!(
            none.contains("no configuration was measured twice"),
            "{none}"
        );
    }

    #[test]
    fn strategy_kinds_drop_their_numbers() {
        assert_eq!(kind("threads-4"), "threads");
        assert_eq!(kind("hybrid-procs-2x8"), "hybrid-procs");
        assert_eq!(kind("blas-default"), "blas-default");
        assert_eq!(kind("sequential"), "sequential");
    }
}

//! `DIR/operations.md` of a sweep over several operations (`sweep --ops`): does the best
//! configuration change with the operation?
//!
//! Each operation was swept on its own (`DIR/<op>/`, its own rows, three sets and
//! confidence). Here "tie set" means the configurations not surely slower: the "as fast"
//! and the "undecided" ones ([`open_set`]). The reference is gemm's answer when gemm was swept, else the first
//! operation's. Its answer is its tie set, not its single best (which may be one of many
//! configurations the measurements cannot tell apart): for every other operation, the
//! configurations of the reference's tie set (the same library, strategy and data
//! generation) are looked up among that operation's own measurements:
//! - **the same answer** when one of them is in the operation's tie set: the measurements
//!   cannot tell it from the operation's best beyond the margin;
//! - **the best changes** when none is: the operation's best beats the fastest of them by
//!   the given factor (median over median), beyond the margin and the noise (the tie
//!   test's bootstrap, at 95%), with the operation's confidence that its set beats the
//!   rest;
//! - **not measured** when the operation's sweep measured none of them (refusals, a
//!   budget).
//!
//! The same question is asked of the kind of parallelism (the tutorial's question comes
//! before the library's): do the kinds of the two tie sets meet?

use crate::answer::{Answer, AvoidWhat, Recommendation};
use crate::summary::{Row, summarise};
use blaspar_core::kind::Kind;
use blaspar_core::operation::Operation;
use std::fmt::Write as _;

/// One operation's sweep: its rows and its answer.
pub struct Swept {
    pub op: Operation,
    pub rows: Vec<Row>,
    pub rec: Recommendation,
}

/// What became of the reference's tie set in another operation's sweep.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// `config` (`threads-2 on blis`), of the reference's tie set, is in the operation's
    /// tie set too; its median over the operation's best's.
    Same { config: String, factor: f64 },
    /// None of the reference's tie set is in the operation's: the fastest of them there,
    /// `config`, is slower than the operation's best by `factor`.
    Changes { config: String, factor: f64 },
    /// None of the reference's tie set is among the operation's measurements.
    NotMeasured,
}

/// `strategy on backend`.
fn name(backend: &str, strategy: &str, generation: blaspar_core::workload::Generation) -> String {
    format!(
        "{} on {backend}",
        blaspar_core::strategy::label(strategy, generation)
    )
}

/// The configurations of an answer not surely slower: "as fast", then "undecided".
pub fn open_set(a: &Answer) -> impl Iterator<Item = &crate::answer::Choice> {
    a.tie_set.iter().chain(&a.undecided)
}

/// The verdict for `reference`'s tie set in `other`'s sweep, workload `answer`.
pub fn verdict(reference: &Answer, other: &Swept, answer: &Answer) -> Verdict {
    let key = |b: &str, s: &str, g| (b.to_string(), s.to_string(), g);
    let wanted: Vec<_> = open_set(reference)
        .map(|c| key(&c.backend, &c.strategy, c.generation))
        .collect();
    let sums = summarise(&other.rows);
    // summarise sorts fastest first.
    let there: Vec<_> = sums
        .iter()
        .filter(|s| (s.tasks, s.size) == (answer.tasks, answer.size))
        .filter(|s| wanted.contains(&key(&s.backend, &s.strategy, s.generation)))
        .collect();
    let tied = |b: &str, s: &str, g| {
        open_set(answer).any(|c| key(&c.backend, &c.strategy, c.generation) == key(b, s, g))
    };
    let best = answer.best.median_seconds;
    // With no noise estimate nothing is claimed (every configuration is undecided): then
    // the medians and the margin decide, as single measurements can.
    let noise = noise_known(other, answer);
    let limit = 1.0 + other.rec.margin;
    match there.iter().find(|s| {
        tied(&s.backend, &s.strategy, s.generation) && (noise || s.median_seconds / best <= limit)
    }) {
        Some(s) => Verdict::Same {
            config: name(&s.backend, &s.strategy, s.generation),
            factor: s.median_seconds / best,
        },
        None => match there.first() {
            Some(s) => Verdict::Changes {
                config: name(&s.backend, &s.strategy, s.generation),
                factor: s.median_seconds / best,
            },
            None => Verdict::NotMeasured,
        },
    }
}

/// The answer of `other` to compare with the reference's `reference`: the same workload
/// when it was measured, else (each sweep at its own size, as the quick preset does) the
/// only one of each.
fn counterpart<'a>(reference: &Answer, refs: &[Answer], other: &'a [Answer]) -> Option<&'a Answer> {
    other
        .iter()
        .find(|a| (a.tasks, a.size) == (reference.tasks, reference.size))
        .or_else(|| (refs.len() == 1 && other.len() == 1).then(|| &other[0]))
}

/// The kinds of an answer's tie set, in its order.
fn tied_kinds(a: &Answer) -> Vec<Option<Kind>> {
    a.kinds
        .iter()
        .chain(&a.undecided_kinds)
        .map(|k| k.kind)
        .collect()
}

fn kind_name(k: Option<Kind>) -> &'static str {
    k.map_or("(unknown)", Kind::name)
}

/// How many times slower than the best BLAS threads alone are (the fastest configuration
/// of that kind), or "tied" when that kind is in the tie set, or "-" when not measured.
fn blas_threads_factor(a: &Answer) -> String {
    if tied_kinds(a).contains(&Some(Kind::BlasThreads)) {
        return "tied".to_string();
    }
    a.avoid
        .iter()
        .find(|v| v.what == AvoidWhat::Kind && v.name == Kind::BlasThreads.name())
        .map_or("-".to_string(), |v| format!("{:.2}x slower", v.factor))
}

/// The report: a table of every operation's answer, then per operation whether the
/// reference's best still is the best there.
pub fn report(swept: &[Swept]) -> String {
    let mut t = String::new();
    let Some(reference) = swept
        .iter()
        .find(|s| s.op == Operation::Gemm)
        .or(swept.first())
    else {
        return "# Operations\n\nNothing was swept.\n".to_string();
    };
    let margin = reference.rec.margin;
    let _ = writeln!(
        t,
        "# Does the best configuration change with the operation?\n\n\
         Each operation was swept on its own (its folder holds its rows, summary, plots and \
         `recommendation.json`). The tie set is every configuration not surely slower than \
         the fastest by more than a margin of {:.1}%: the \"as fast\" and the \"undecided\" \
         ones (see each summary for the method). \
         GFLOP/s use each operation's FLOP count (`run --help`), generation included.\n",
        100.0 * margin
    );
    let _ = writeln!(
        t,
        "| operation | routine | workload | best (runs) | kind | GFLOP/s | tie set: kinds (configurations) | confidence | BLAS threads alone |\n\
         |---|---|---|---|---|---:|---|---:|---|"
    );
    for s in swept {
        for a in &s.rec.workloads {
            let kinds: Vec<&str> = tied_kinds(a).into_iter().map(kind_name).collect();
            let _ = writeln!(
                t,
                "| {} | {} | {}x{} | {} on {} ({}) | {} | {:.1} | {} ({}) | {} | {} |",
                s.op.name(),
                s.op.routine(),
                a.tasks,
                a.size,
                blaspar_core::strategy::label(&a.best.strategy, a.best.generation),
                a.best.backend,
                a.best.runs,
                kind_name(a.best.kind),
                a.best.gflops,
                kinds.join(", "),
                open_set(a).count(),
                if !noise_known(s, a) {
                    "- (no noise estimate)".to_string()
                } else {
                    format!("{:.0}%", 100.0 * a.confidence)
                },
                blas_threads_factor(a),
            );
        }
    }
    let _ = writeln!(
        t,
        "\n## Against {}'s answer\n\n\
         For each operation, the configurations of {}'s tie set measured in that operation's \
         own sweep: the same answer when one of them is in the operation's tie set, a \
         different one when the operation's best beats them all beyond the margin and the \
         noise.\n",
        reference.op.name(),
        reference.op.name()
    );
    for s in swept.iter().filter(|s| s.op != reference.op) {
        for a in &s.rec.workloads {
            let Some(r) = counterpart(a, &s.rec.workloads, &reference.rec.workloads) else {
                let _ = writeln!(
                    t,
                    "- **{}** {}x{}: {} measured no workload to compare with.",
                    s.op.name(),
                    a.tasks,
                    a.size,
                    reference.op.name()
                );
                continue;
            };
            let _ = writeln!(t, "{}", sentence(reference.op, r, s, a));
        }
    }
    t
}

/// Whether `a`'s workload has a noise estimate: some configuration of it was measured
/// twice or more (the bootstrap pools their residuals; with none, every configuration
/// was measured once and the tie test compares medians alone).
fn noise_known(s: &Swept, a: &Answer) -> bool {
    summarise(&s.rows)
        .iter()
        .any(|x| (x.tasks, x.size) == (a.tasks, a.size) && x.runs >= 2)
}

/// One operation's line: the configuration verdict, then the kind's.
fn sentence(reference: Operation, r: &Answer, s: &Swept, a: &Answer) -> String {
    let best = name(&a.best.backend, &a.best.strategy, a.best.generation);
    let head = format!("- **{}** ({}x{}):", s.op.name(), a.tasks, a.size);
    let set = format!(
        "{reference}'s tie set ({} configurations)",
        open_set(r).count()
    );
    let config = match verdict(r, s, a) {
        Verdict::Same { config, factor } => format!(
            "the same answer: {config}, of {set}, is in its tie set ({factor:.2}x its best's \
             median, within the margin and the noise); its best is {best}."
        ),
        Verdict::Changes { config, factor } if !noise_known(s, a) => format!(
            "**the best changes, by single measurements**: {best} beats every configuration of \
             {set} measured here, the fastest of them, {config}, by {factor:.2}x; but each \
             configuration was measured once (the budget ran out after the first round), so \
             there is no noise estimate: beyond the margin ({:.1}%), not shown beyond the noise.",
            100.0 * s.rec.margin
        ),
        Verdict::Changes { config, factor } => format!(
            "**the best changes**: {best} beats every configuration of {set} measured here, \
             the fastest of them, {config}, by {factor:.2}x, beyond the margin ({:.1}%) and the \
             noise (outside its tie set; confidence that its set beats the rest {:.0}%).",
            100.0 * s.rec.margin,
            100.0 * a.confidence
        ),
        Verdict::NotMeasured => format!(
            "no configuration of {set} was measured here (refused or cut by the budget); its \
             best is {best}."
        ),
    };
    let names = |kinds: &[Option<Kind>]| {
        kinds
            .iter()
            .map(|k| kind_name(*k))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (ours, theirs) = (tied_kinds(r), tied_kinds(a));
    let shared: Vec<Option<Kind>> = theirs
        .iter()
        .filter(|k| ours.contains(k))
        .copied()
        .collect();
    let kind = if shared.is_empty() {
        format!(
            "**The kind of parallelism changes**: its tied kinds ({}) share none with \
             {reference}'s ({}).",
            names(&theirs),
            names(&ours)
        )
    } else {
        format!(
            "The kind of parallelism stays: its tied kinds ({}) share {} with {reference}'s.",
            names(&theirs),
            names(&shared)
        )
    };
    format!("{head} {config} {kind}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::recommend;
    use crate::summary::test_rows;

    fn swept(op: Operation, configs: &[(&str, &str, &[f64])]) -> Swept {
        let rows: Vec<Row> = configs
            .iter()
            .flat_map(|(b, s, secs)| test_rows(b, s, secs))
            .map(|mut r| {
                r.operation = op;
                r
            })
            .collect();
        let rec = recommend(&rows, 0.02);
        Swept { op, rows, rec }
    }

    #[test]
    fn the_best_changes_only_beyond_the_noise() {
        let gemm = swept(
            Operation::Gemm,
            &[
                ("blis", "threads-2", &[1.00, 1.01, 0.99]),
                ("blis", "blas-2", &[1.50, 1.52, 1.49]),
            ],
        );
        // svd: blas-2 is far faster than threads-2.
        let svd = swept(
            Operation::Svd,
            &[
                ("blis", "threads-2", &[2.00, 2.02, 1.98]),
                ("blis", "blas-2", &[1.00, 1.01, 0.99]),
            ],
        );
        // qr: threads-2 and blas-2 interleave.
        let qr = swept(
            Operation::Qr,
            &[
                ("blis", "threads-2", &[1.00, 1.05, 0.97]),
                ("blis", "blas-2", &[1.01, 0.98, 1.04]),
            ],
        );
        let r = &gemm.rec.workloads[0];
        match verdict(r, &svd, &svd.rec.workloads[0]) {
            Verdict::Changes { config, factor } => {
                assert_eq!(config, "threads-2 on blis");
                assert!((factor - 2.0).abs() < 0.01, "{factor}");
            }
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            verdict(r, &qr, &qr.rec.workloads[0]),
            Verdict::Same { .. }
        ));
        let text = report(&[svd, gemm, qr]);
        assert!(text.contains("## Against gemm's answer"), "{text}");
        assert!(
            text.contains("- **svd** (16x1000): **the best changes**: blas-2 on blis beats"),
            "{text}"
        );
        assert!(
            text.contains("**The kind of parallelism changes**"),
            "{text}"
        );
        assert!(
            text.contains("- **qr** (16x1000): the same answer"),
            "{text}"
        );
        assert!(text.contains("| gemm | dgemm | 16x1000 | threads-2 on blis (3) | task-threads |"));
        assert!(
            text.contains("| blas-2 on blis (3) | blas-threads |"),
            "{text}"
        );
        // One measurement each: no noise estimate, and the report says so.
        let once = swept(
            Operation::Eigh,
            &[("blis", "threads-2", &[2.0]), ("blis", "blas-2", &[1.0])],
        );
        let gemm = swept(
            Operation::Gemm,
            &[("blis", "threads-2", &[1.0, 1.01, 0.99])],
        );
        let text = report(&[gemm, once]);
        assert!(text.contains("by single measurements"), "{text}");
        assert!(text.contains("(no noise estimate)"), "{text}");
    }

    #[test]
    fn a_configuration_the_operation_did_not_measure_is_said_so() {
        let gemm = swept(Operation::Gemm, &[("mkl-seq", "threads-2", &[1.0, 1.0])]);
        let svd = swept(Operation::Svd, &[("blis", "threads-2", &[1.0, 1.1])]);
        let r = &gemm.rec.workloads[0];
        assert_eq!(
            verdict(r, &svd, &svd.rec.workloads[0]),
            Verdict::NotMeasured
        );
        assert!(report(&[gemm, svd]).contains("was measured here"));
        assert!(report(&[]).contains("Nothing was swept"));
    }
}

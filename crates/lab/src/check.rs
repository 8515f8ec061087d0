//! `blaspar check`: the held-out check of a sweep's answer. After the sweep, with fresh
//! measurements the answer was not computed from, the best configuration runs against
//! the fastest configuration the answer calls "slower" (`first_outside`), `--runs` times each, interleaved A B, B A,
//! ... so that both see the same machine. The paired statistics of `compare`
//! ([`crate::stats::compare_paired`]: Hodges-Lehmann ratio with its signed-rank 95%
//! interval) say whether the claim "the best beats the fastest of the slower ones" holds:
//! **holds** when the interval of other / best lies wholly above 1, **fails** when it lies
//! wholly below 1 (the other was faster), **unsure** otherwise.
//!
//! Writes `DIR/check.json` and `DIR/check.md` beside the sweep's answer.

use crate::advise::{SWEEPS, newest, pick, read};
use crate::answer::Choice;
use crate::engines::{Outcome, Source, Spec};
use crate::stats::{Comparison, compare_paired};
use anyhow::Context;
use blaspar_core::ResultMode;
use blaspar_core::args::positive;
use blaspar_core::operation::Operation;
use blaspar_core::strategy::label;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// Sweep folder holding recommendation.json (default: the one written last under
    /// target/blaspar-sweeps).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Measurements of each of the two configurations (interleaved; at least 6 for a 95%
    /// interval).
    #[arg(long, default_value_t = 10, value_parser = positive)]
    pub runs: usize,
    /// The workload to check, TASKSxSIZE (default: the largest measured).
    #[arg(long, value_name = "TASKSxSIZE", value_parser = crate::advise::workload)]
    pub workload: Option<(usize, usize)>,
}

/// What the held-out measurements say of the claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Claim {
    /// The other configuration is slower: its interval lies wholly above 1.
    Holds,
    /// The other configuration is faster: its interval lies wholly below 1.
    Fails,
    /// The interval contains 1.
    Unsure,
}

/// `DIR/check.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Check {
    pub tasks: usize,
    pub size: usize,
    /// The sweep's best configuration (A).
    pub best: Choice,
    /// The fastest "slower" configuration (B).
    pub other: Choice,
    /// Seconds of each measurement, in the order measured per configuration.
    pub best_seconds: Vec<f64>,
    pub other_seconds: Vec<f64>,
    /// other / best, paired.
    pub comparison: Comparison,
    pub claim: Claim,
}

/// The verdict of a comparison of other (B) against best (A).
pub fn claim(c: &Comparison) -> Claim {
    if c.ci_low > 1.0 {
        Claim::Holds
    } else if c.ci_high < 1.0 {
        Claim::Fails
    } else {
        Claim::Unsure
    }
}

/// Runs the check and returns its report (for stdout); writes check.json and check.md.
pub fn check(args: &CheckArgs) -> anyhow::Result<String> {
    let path = match &args.dir {
        Some(dir) => dir.join("recommendation.json"),
        None => newest(Path::new(SWEEPS))?,
    };
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let rec = read(&path)?;
    let answer = pick(&rec, args.workload, &path)?;
    let Some(other) = &answer.first_outside else {
        anyhow::bail!(
            "no configuration measured for {}x{} is surely slower than the fastest: there is no claim of \"slower\" to check the best against",
            answer.tasks,
            answer.size
        );
    };
    let best = &answer.best;
    eprintln!(
        "check: {} against {} on {}x{}, {} runs each, interleaved (from {})",
        name(best),
        name(other),
        answer.tasks,
        answer.size,
        args.runs,
        path.display()
    );
    let file = workload_file(&dir)?;
    let source = file.as_deref().map_or(Source::Generated, Source::File);
    let json = dir.join("last-check-run.json");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let bar = ProgressBar::new(args.runs as u64).with_style(
        ProgressStyle::with_template("check: [{bar:30}] {pos}/{len} pairs, {elapsed} (eta {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    for i in 0..args.runs {
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let (c, into) = if which == 0 {
                (best, &mut a)
            } else {
                (other, &mut b)
            };
            into.push(seconds(
                c,
                rec.operation,
                (answer.tasks, answer.size),
                source,
                &json,
            )?);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let _ = std::fs::remove_file(&json);
    let comparison = compare_paired(&a, &b, 0.0, 0.95)?;
    let result = Check {
        tasks: answer.tasks,
        size: answer.size,
        best: best.clone(),
        other: other.clone(),
        best_seconds: a,
        other_seconds: b,
        claim: claim(&comparison),
        comparison,
    };
    std::fs::write(
        dir.join("check.json"),
        serde_json::to_string_pretty(&result)? + "\n",
    )?;
    let text = report(&result);
    std::fs::write(dir.join("check.md"), &text)?;
    Ok(text)
}

fn name(c: &Choice) -> String {
    format!("{} on {}", label(&c.strategy, c.generation), c.backend)
}

/// The workload file a sweep in `dir` measured, if it measured one (its rows' records name
/// it, as its command line gave it).
fn workload_file(dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let rows: Vec<crate::summary::Row> =
        crate::jsonl::read(&dir.join("runs.jsonl"), "a sweep row")?;
    Ok(rows
        .iter()
        .filter_map(|r| r.record.as_ref()?.workload_file.as_ref())
        .map(|f| PathBuf::from(&f.path))
        .next())
}

/// One verified run's seconds.
fn seconds(
    c: &Choice,
    op: Operation,
    workload: (usize, usize),
    source: Source<'_>,
    json: &Path,
) -> anyhow::Result<f64> {
    let outcome = Spec {
        backend: &c.backend,
        strategy: &c.strategy,
        tasks: workload.0,
        size: workload.1,
        op,
        generation: c.generation,
        results: ResultMode::Matrices,
        source,
    }
    .run(json)?;
    match outcome {
        Outcome::Measured(record) => Ok(record.seconds_total),
        Outcome::Unsupported(why) => anyhow::bail!("{} is refused now: {why}", name(c)),
        Outcome::Failed { status, stderr } => {
            Err(anyhow::anyhow!("{stderr}")).context(format!("{} failed ({status})", name(c)))
        }
    }
}

/// The check in words and a table.
pub fn report(c: &Check) -> String {
    let k = &c.comparison;
    let verdict = match c.claim {
        Claim::Holds => "**the claim holds**: the best is faster, beyond the noise",
        Claim::Fails => "**the claim fails**: the configuration called slower was faster",
        Claim::Unsure => {
            "**unsure**: the interval contains 1, these runs cannot tell the two apart"
        }
    };
    format!(
        "# Held-out check, {tasks} tasks of {size}x{size}\n\n\
         The sweep's best, {best}, against the fastest configuration it calls slower, {other} \
         ({slower:.3}x the best's median in the sweep): {pairs} fresh measurements each, \
         interleaved A B, B A, ...\n\n\
         | configuration | median s | runs |\n|---|---:|---:|\n\
         | {best} (best) | {ma:.4} | {pairs} |\n| {other} | {mb:.4} | {pairs} |\n\n\
         {other} / {best}: {ratio:.3}x (95% interval {lo:.3} to {hi:.3}; Hodges-Lehmann \
         estimate of the paired ratios with its signed-rank interval): {verdict}.\n",
        tasks = c.tasks,
        size = c.size,
        best = name(&c.best),
        other = name(&c.other),
        slower = c.other.slower_than_best,
        pairs = k.pairs,
        ma = k.median_a,
        mb = k.median_b,
        ratio = k.ratio,
        lo = k.ci_low,
        hi = k.ci_high,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_follows_the_interval_of_other_over_best() {
        let best = [1.00, 1.01, 0.99, 1.00, 1.02, 0.98, 1.00, 1.01];
        let slower: Vec<f64> = best.iter().map(|x| x * 1.10).collect();
        let faster: Vec<f64> = best.iter().map(|x| x * 0.90).collect();
        let same = [1.01, 0.99, 1.00, 1.02, 0.98, 1.00, 1.01, 0.995];
        let verdict = |b: &[f64]| claim(&compare_paired(&best, b, 0.0, 0.95).unwrap());
        assert_eq!(verdict(&slower), Claim::Holds);
        assert_eq!(verdict(&faster), Claim::Fails);
        assert_eq!(verdict(&same), Claim::Unsure);
    }
}

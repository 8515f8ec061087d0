//! Racing: which configurations a sweep measures again, and which it stops measuring.
//!
//! A sweep measures in rounds; each configuration at most once per round, each round in a
//! shuffled order. Measurements are spent only where they can change the answer:
//!
//! 1. **Round 1** measures every configuration once.
//! 2. **Round 2** measures the fastest third of each workload's configurations again (at
//!    least three), so that the workload has a noise of its own to go by. Its
//!    [`NOISE_FLOOR`] fastest come first and are measured even when the time budget is
//!    spent (on a 16-core machine round 1 alone can take the whole budget).
//! 3. **After every round from 2 on**, each workload's contenders are judged as the answer
//!    judges them ([`Bootstrap::judge`], the three sets of [`crate::answer`], against the
//!    fastest contender): a contender **slower** for sure (its interval lies wholly beyond
//!    the margin) is **dropped**, and never measured again. The noise is the workload's,
//!    pooled from every configuration measured at least twice (as in the answer).
//! 4. **Rounds 3 on** measure every **undecided** contender below `max_repeats`, and every
//!    **as fast** one below `repeats` (a claim made on one or two runs is confirmed once
//!    or twice; after that the sure ones cost nothing). After round 2 the neighbours on
//!    the P x T plane of the fastest contender of each kind that is not slower join the
//!    race. The race ends when a round has nothing to measure: no contender is left
//!    undecided (or the undecided ones have `max_repeats`); or when the sweep's time
//!    budget is spent.
//!
//! Decisions are a function of the rows: the decision after round `r` reads only the rows
//! of rounds up to `r`, and the bootstrap has a fixed seed, so a resumed sweep replays the
//! same decisions from `runs.jsonl` and measures only what is missing.

use crate::answer::{Bootstrap, Standing};
use crate::stats::median;
use crate::summary::Row;
use blaspar_core::Strategy;
use blaspar_core::kind::Kind;
use blaspar_core::strategy::label;
use blaspar_core::workload::Generation;
use serde::{Deserialize, Serialize};

/// How many of each workload's fastest configurations round 2 measures again whatever the
/// time budget: enough to give the answer a noise (residuals of three pairs), few enough
/// to cost a second or two (they are the fastest runs of the sweep).
pub const NOISE_FLOOR: usize = 3;

/// One configuration: workload (tasks, size), backend, strategy, data generation.
pub type Config = ((usize, usize), String, Strategy, Generation);

/// Where a configuration stands in the race.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum Status {
    /// Still measured.
    Contender,
    /// The backend cannot run it (no measurement).
    Refused { why: String },
    /// Stopped after `round`: surely slower than the fastest contender by more than the
    /// margin; `slower` times the best contender's median then, its interval against the
    /// fastest `[low, high]`, within the margin in `as_fast` of the bootstrap's rounds.
    Dropped {
        round: usize,
        slower: f64,
        low: f64,
        high: f64,
        as_fast: f64,
        best: String,
    },
}

/// One configuration of the race.
#[derive(Clone, Debug)]
pub struct Entry {
    pub config: Config,
    pub status: Status,
}

/// The race over a sweep's configurations.
#[derive(Clone, Debug, Default)]
pub struct Race {
    pub entries: Vec<Entry>,
    /// The contenders not slower of each workload after the last decision (indices into
    /// `entries`), fastest first.
    ties: Vec<((usize, usize), Vec<usize>)>,
    /// Each contender's standing after the last decision (index into `entries`).
    standing: Vec<(usize, Standing)>,
    /// Whether decisions drop configurations (not when every configuration is measured
    /// alike, `sweep --no-race`).
    drops: bool,
    /// The equivalence margin of the judgements (see [`crate::answer`]).
    margin: f64,
}

/// A configuration's name in messages: `blis threads-2 (16x1000)`.
pub fn name(c: &Config) -> String {
    let ((t, n), b, s, g) = c;
    format!("{b} {} ({t}x{n})", label(&s.to_string(), *g))
}

/// Whether `row` measured `c`.
pub fn measures(row: &Row, c: &Config) -> bool {
    let ((t, n), b, s, g) = c;
    (row.tasks, row.size) == (*t, *n)
        && row.backend == *b
        && row.generation == *g
        && row.strategy == s.to_string()
}

/// The seconds measured for `c` in rounds up to `round`.
fn samples(rows: &[Row], c: &Config, round: usize) -> Vec<f64> {
    rows.iter()
        .filter(|r| r.round <= round && measures(r, c))
        .filter_map(|r| r.record.as_ref().map(|rec| rec.seconds_total))
        .collect()
}

impl Race {
    /// A race with the equivalence margin `margin` ([`crate::answer::MARGIN`] by default).
    pub fn new(configs: &[Config], margin: f64) -> Race {
        let mut race = Race {
            drops: true,
            margin,
            ..Race::default()
        };
        race.add(configs);
        race
    }

    /// A race that never drops: every configuration measured alike (`--no-race`).
    pub fn without_drops(configs: &[Config], margin: f64) -> Race {
        let mut race = Race {
            margin,
            ..Race::default()
        };
        race.add(configs);
        race
    }

    /// Adds configurations not in the race yet, as contenders.
    pub fn add(&mut self, configs: &[Config]) {
        for c in configs {
            if !self.entries.iter().any(|e| e.config == *c) {
                self.entries.push(Entry {
                    config: c.clone(),
                    status: Status::Contender,
                });
            }
        }
    }

    fn contenders(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.entries.len()).filter(|&i| self.entries[i].status == Status::Contender)
    }

    fn workloads(&self) -> Vec<(usize, usize)> {
        let mut w: Vec<(usize, usize)> = self.entries.iter().map(|e| e.config.0).collect();
        w.sort_unstable();
        w.dedup();
        w
    }

    /// The configurations to measure in `round` (rounds count from 1), given the rows of
    /// the rounds before it (and maybe some of this round's, from an interrupted sweep).
    pub fn plan(
        &mut self,
        rows: &[Row],
        round: usize,
        repeats: usize,
        max_repeats: usize,
    ) -> Vec<Config> {
        self.note_refusals(rows);
        let runs = |c: &Config| samples(rows, c, round - 1).len();
        let pick: Vec<usize> = match round {
            1 => self
                .contenders()
                .filter(|&i| runs(&self.entries[i].config) == 0)
                .collect(),
            2 => self.fastest_thirds(rows),
            _ => self
                .contenders()
                .filter(|&i| {
                    let n = runs(&self.entries[i].config);
                    match self.standing_of(i) {
                        Standing::Undecided => n < max_repeats,
                        Standing::AsFast => n < repeats,
                        Standing::Slower => false,
                    }
                })
                .collect(),
        };
        pick.into_iter()
            .map(|i| self.entries[i].config.clone())
            .collect()
    }

    /// Marks the configurations a backend refused (they are never measured again).
    fn note_refusals(&mut self, rows: &[Row]) {
        for e in &mut self.entries {
            if let Some(why) = rows
                .iter()
                .find(|r| measures(r, &e.config))
                .and_then(|r| r.refused.clone())
            {
                e.status = Status::Refused { why };
            }
        }
    }

    /// Round 2: the fastest third (at least [`NOISE_FLOOR`]) of each workload's measured
    /// contenders.
    fn fastest_thirds(&self, rows: &[Row]) -> Vec<usize> {
        self.fastest_of_each(rows, |n| n.div_ceil(3).max(NOISE_FLOOR).min(n))
    }

    /// The [`NOISE_FLOOR`] fastest of each workload's contenders after round 1: measured in
    /// round 2 even when the time budget is spent, so that the answer has a noise to go by
    /// (on a 16-core machine round 1 alone can take the whole budget).
    pub fn noise_floor(&self, rows: &[Row]) -> Vec<Config> {
        self.fastest_of_each(rows, |n| NOISE_FLOOR.min(n))
            .into_iter()
            .map(|i| self.entries[i].config.clone())
            .collect()
    }

    /// The `how_many(n)` fastest of each workload's `n` contenders measured in round 1.
    fn fastest_of_each(&self, rows: &[Row], how_many: impl Fn(usize) -> usize) -> Vec<usize> {
        let mut pick = Vec::new();
        for w in self.workloads() {
            let mut timed: Vec<(f64, usize)> = self
                .contenders()
                .filter(|&i| self.entries[i].config.0 == w)
                .filter_map(|i| {
                    let mut s = samples(rows, &self.entries[i].config, 1);
                    (!s.is_empty()).then(|| (median(&mut s), i))
                })
                .collect();
            timed.sort_by(|a, b| a.0.total_cmp(&b.0));
            let n = how_many(timed.len());
            pick.extend(timed[..n].iter().map(|&(_, i)| i));
        }
        pick
    }

    /// A contender's standing after the last decision (undecided before any).
    fn standing_of(&self, i: usize) -> Standing {
        self.standing
            .iter()
            .find(|(e, _)| *e == i)
            .map_or(Standing::Undecided, |(_, s)| *s)
    }

    /// The decision after `round`: judges, per workload, every contender against the
    /// fastest contender as the answer does; drops the slower ones (from round 2 on, when
    /// the race drops). Reads only the rows of rounds up to `round`.
    pub fn decide(&mut self, rows: &[Row], round: usize) {
        self.note_refusals(rows);
        self.standing.clear();
        for w in self.workloads() {
            // Every measured configuration of the workload lends its noise; only
            // contenders are judged.
            let (index, all): (Vec<usize>, Vec<Vec<f64>>) = (0..self.entries.len())
                .filter(|&i| self.entries[i].config.0 == w)
                .map(|i| (i, samples(rows, &self.entries[i].config, round)))
                .filter(|(_, s)| !s.is_empty())
                .unzip();
            let medians: Vec<f64> = all.iter().map(|s| median(&mut s.clone())).collect();
            let mut racing: Vec<usize> = (0..index.len())
                .filter(|&k| self.entries[index[k]].status == Status::Contender)
                .collect();
            racing.sort_by(|&a, &b| medians[a].total_cmp(&medians[b]));
            let Some(&best) = racing.first() else {
                continue;
            };
            let judged = Bootstrap::run(&all).judge(&racing, self.margin);
            let best_name = name(&self.entries[index[best]].config);
            let mut open = Vec::new();
            for &k in &racing {
                let j = judged[k];
                self.standing.push((index[k], j.standing));
                if j.standing != Standing::Slower {
                    open.push(index[k]);
                } else if self.drops && round >= 2 {
                    self.entries[index[k]].status = Status::Dropped {
                        round,
                        slower: medians[k] / medians[best],
                        low: j.ratio_low,
                        high: j.ratio_high,
                        as_fast: j.within,
                        best: best_name.clone(),
                    };
                }
            }
            match self.ties.iter_mut().find(|(x, _)| *x == w) {
                Some((_, old)) => *old = open,
                None => self.ties.push((w, open)),
            }
        }
    }

    /// The contenders left undecided by the last decision (every workload).
    pub fn undecided(&self) -> Vec<Config> {
        self.standing
            .iter()
            .filter(|(_, s)| *s == Standing::Undecided)
            .map(|&(i, _)| self.entries[i].config.clone())
            .collect()
    }

    /// The contenders not slower after the last decision (every workload), fastest first.
    pub fn tie_set(&self) -> Vec<Config> {
        self.ties
            .iter()
            .flat_map(|(_, t)| t.iter().map(|&i| self.entries[i].config.clone()))
            .collect()
    }

    /// The fastest configuration (by median so far) of each kind of parallelism among each
    /// workload's contenders not slower: where the search around the best looks.
    pub fn tie_leaders(&self, rows: &[Row]) -> Vec<Config> {
        let mut leaders: Vec<(f64, Config)> = Vec::new();
        for (_, tie) in &self.ties {
            for &i in tie {
                let c = &self.entries[i].config;
                let mut s = samples(rows, c, usize::MAX);
                if s.is_empty() {
                    continue;
                }
                let m = median(&mut s);
                let kind = Kind::of(&c.2);
                match leaders
                    .iter_mut()
                    .find(|(_, l)| l.0 == c.0 && Kind::of(&l.2) == kind)
                {
                    Some(l) if m < l.0 => *l = (m, c.clone()),
                    Some(_) => {}
                    None => leaders.push((m, c.clone())),
                }
            }
        }
        leaders.into_iter().map(|(_, c)| c).collect()
    }

    /// The race for the record: every configuration, its measurements and its status.
    pub fn log(&self, rows: &[Row]) -> Vec<LogEntry> {
        self.entries
            .iter()
            .map(|e| LogEntry {
                configuration: name(&e.config),
                runs: samples(rows, &e.config, usize::MAX).len(),
                status: e.status.clone(),
            })
            .collect()
    }
}

/// One line of `DIR/race.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogEntry {
    pub configuration: String,
    pub runs: usize,
    #[serde(flatten)]
    pub status: Status,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::test_rows;

    fn config(backend: &str, strategy: &str) -> Config {
        (
            (16, 1000),
            backend.into(),
            strategy.parse().unwrap(),
            Generation::Serial,
        )
    }

    /// Rows of `round` for configurations with their seconds.
    fn round_rows(round: usize, of: &[(&str, &str, f64)]) -> Vec<Row> {
        of.iter()
            .flat_map(|&(b, s, t)| {
                let mut r = test_rows(b, s, &[t]);
                r[0].round = round;
                r[0].repeat = round;
                r
            })
            .collect()
    }

    fn names(cs: &[Config]) -> Vec<String> {
        cs.iter().map(|c| format!("{} {}", c.1, c.2)).collect()
    }

    #[test]
    fn a_race_measures_all_once_then_the_fastest_three_then_only_contenders() {
        let configs = [
            config("blis", "threads-2"),
            config("blis", "procs-2"),
            config("blis", "sequential"),
            config("blis", "blas-2"),
        ];
        let mut race = Race::new(&configs, 0.0);
        let mut rows = Vec::new();
        assert_eq!(race.plan(&rows, 1, 3, 6).len(), 4);
        rows.extend(round_rows(
            1,
            &[
                ("blis", "threads-2", 0.30),
                ("blis", "procs-2", 0.31),
                ("blis", "sequential", 0.60),
                ("blis", "blas-2", 0.45),
            ],
        ));
        race.decide(&rows, 1);
        // Nothing is dropped on one measurement each: there is no noise to go by yet.
        assert!(race.entries.iter().all(|e| e.status == Status::Contender));
        // Round 2: the fastest third, at least the three fastest (the noise floor).
        assert_eq!(
            names(&race.plan(&rows, 2, 3, 6)),
            ["blis threads-2", "blis procs-2", "blis blas-2"]
        );
        assert_eq!(
            names(&race.noise_floor(&rows)),
            ["blis threads-2", "blis procs-2", "blis blas-2"]
        );
        rows.extend(round_rows(
            2,
            &[
                ("blis", "threads-2", 0.305),
                ("blis", "procs-2", 0.302),
                ("blis", "blas-2", 0.452),
            ],
        ));
        race.decide(&rows, 2);
        // 2x and 1.5x slower than the best, in about 1% noise: dropped after round 2.
        for e in &race.entries[2..] {
            assert!(
                matches!(e.status, Status::Dropped { round: 2, .. }),
                "{e:?}"
            );
        }
        assert_eq!(
            names(&race.plan(&rows, 3, 3, 6)),
            ["blis threads-2", "blis procs-2"]
        );
        rows.extend(round_rows(
            3,
            &[("blis", "threads-2", 0.300), ("blis", "procs-2", 0.306)],
        ));
        race.decide(&rows, 3);
        // The best (the lowest median) is the reference; with no margin, the other, this
        // close, stays undecided: it is measured until its most runs.
        assert_eq!(names(&race.tie_set()), ["blis threads-2", "blis procs-2"]);
        assert_eq!(names(&race.undecided()), ["blis procs-2"]);
        assert_eq!(names(&race.plan(&rows, 4, 3, 6)), ["blis procs-2"]);
        assert!(race.plan(&rows, 4, 3, 3).is_empty());
        let log = race.log(&rows);
        assert_eq!(log[0].runs, 3);
        assert_eq!(log[2].runs, 1);
        let json = serde_json::to_string(&log[2]).unwrap();
        assert!(json.contains("\"status\":\"dropped\""), "{json}");
    }

    #[test]
    fn a_changing_tie_set_earns_more_rounds_up_to_the_maximum() {
        let configs = [config("blis", "threads-2"), config("faer", "threads-2")];
        let mut race = Race::new(&configs, 0.0);
        let mut rows = round_rows(
            1,
            &[("blis", "threads-2", 0.30), ("faer", "threads-2", 0.33)],
        );
        race.decide(&rows, 1);
        rows.extend(round_rows(
            2,
            &[("blis", "threads-2", 0.34), ("faer", "threads-2", 0.30)],
        ));
        race.decide(&rows, 2);
        rows.extend(round_rows(
            3,
            &[("blis", "threads-2", 0.29), ("faer", "threads-2", 0.36)],
        ));
        race.decide(&rows, 3);
        assert_eq!(race.tie_set().len(), 2);
        // Three runs each; the set changed in round 3 (one member became two)? Either way,
        // nothing is planned beyond the maximum.
        assert!(race.plan(&rows, 4, 3, 3).is_empty());
    }

    #[test]
    fn a_contender_within_the_margin_is_not_dropped() {
        let configs = [config("blis", "threads-2"), config("blis", "procs-2")];
        let round = |r, a, b| round_rows(r, &[("blis", "threads-2", a), ("blis", "procs-2", b)]);
        let rows = [round(1, 0.300, 0.303), round(2, 0.301, 0.304)].concat();
        // 1% behind in about 0.3% noise: dropped with no margin, kept within 2%.
        let mut strict = Race::new(&configs, 0.0);
        strict.decide(&rows, 2);
        assert!(matches!(strict.entries[1].status, Status::Dropped { .. }));
        let mut lenient = Race::new(&configs, 0.02);
        lenient.decide(&rows, 2);
        assert_eq!(lenient.entries[1].status, Status::Contender);
        assert_eq!(lenient.tie_set().len(), 2);
    }

    #[test]
    fn the_race_stops_early_when_nothing_is_undecided() {
        let configs = [
            config("blis", "threads-2"),
            config("blis", "procs-2"),
            config("blis", "blas-2"),
        ];
        let round = |r, a, b, c| {
            round_rows(
                r,
                &[
                    ("blis", "threads-2", a),
                    ("blis", "procs-2", b),
                    ("blis", "blas-2", c),
                ],
            )
        };
        // 1% and 20% behind in about 0.3% noise, margin 2%: after round 2 the first two
        // are surely as fast and the third surely slower.
        let mut rows = [round(1, 0.300, 0.303, 0.360), round(2, 0.301, 0.304, 0.361)].concat();
        let mut race = Race::new(&configs, 0.02);
        race.decide(&rows, 2);
        assert!(race.undecided().is_empty());
        assert!(matches!(race.entries[2].status, Status::Dropped { .. }));
        // The sure ones are measured up to the repeats asked for, not beyond.
        assert_eq!(
            names(&race.plan(&rows, 3, 3, 6)),
            ["blis threads-2", "blis procs-2"]
        );
        rows.extend(round_rows(
            3,
            &[("blis", "threads-2", 0.300), ("blis", "procs-2", 0.303)],
        ));
        race.decide(&rows, 3);
        assert!(race.plan(&rows, 4, 3, 6).is_empty());
    }

    #[test]
    fn refused_configurations_are_never_planned_again() {
        let configs = [
            config("blis", "threads-2"),
            config("openblas-serial", "threads-2"),
        ];
        let mut race = Race::new(&configs, 0.0);
        let mut rows = round_rows(1, &[("blis", "threads-2", 0.30)]);
        let mut refused = test_rows("openblas-serial", "threads-2", &[1.0]);
        refused[0].record = None;
        refused[0].refused = Some("not safe from several threads".into());
        refused[0].round = 1;
        rows.extend(refused);
        race.decide(&rows, 1);
        assert!(matches!(race.entries[1].status, Status::Refused { .. }));
        assert_eq!(names(&race.plan(&rows, 2, 3, 6)), ["blis threads-2"]);
    }
}

//! A benchmark's trend across commits: one point per commit (median and range of its
//! samples) and the step changes between consecutive commits.

use crate::stats::median;
use serde::Serialize;

/// One commit's point of a trend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    pub commit: String,
    pub runs: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// median / previous commit's median - 1.
    pub change: Option<f64>,
    /// A step: the change exceeds the threshold and the two commits' samples do not overlap.
    pub step: bool,
}

/// The trend of `samples` (commit, seconds) in `order` of commits, with step changes:
/// between consecutive commits, a median change beyond `threshold` (fraction) whose sample
/// ranges do not overlap, i.e. larger than the noise measured on either side. With one
/// sample on a side there is no noise to go by, and only the threshold decides.
pub fn trend(samples: &[(String, f64)], order: &[String], threshold: f64) -> Vec<Point> {
    let mut points: Vec<Point> = Vec::new();
    for commit in order {
        let mut v: Vec<f64> = samples
            .iter()
            .filter(|(c, _)| c == commit)
            .map(|(_, s)| *s)
            .collect();
        if v.is_empty() {
            continue;
        }
        let med = median(&mut v);
        let (min, max) = (v[0], v[v.len() - 1]);
        let (change, step) = match points.last() {
            Some(prev) => {
                let change = med / prev.median - 1.0;
                let apart = min > prev.max || max < prev.min;
                (
                    Some(change),
                    change.abs() > threshold && (apart || prev.runs == 1 || v.len() == 1),
                )
            }
            None => (None, false),
        };
        points.push(Point {
            commit: commit.clone(),
            runs: v.len(),
            median: med,
            min,
            max,
            change,
            step,
        });
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_need_the_threshold_and_separate_samples() {
        let s = |c: &str, v: &[f64]| v.iter().map(|x| (c.to_string(), *x)).collect::<Vec<_>>();
        let samples = [
            s("c1", &[1.00, 1.02, 0.99]),
            s("c2", &[1.01, 1.00, 1.03]),   // noise
            s("c3", &[1.10, 1.12, 1.09]),   // +9%, apart: step
            s("c4", &[1.00, 1.25, 1.11]),   // overlaps c3: no step
            s("c5", &[1.115, 1.12, 1.125]), // +1%: below the threshold
        ]
        .concat();
        let order: Vec<String> = ["c1", "c2", "c3", "c4", "c5", "absent"]
            .map(String::from)
            .to_vec();
        let p = trend(&samples, &order, 0.03);
        assert_eq!(p.len(), 5);
        let steps: Vec<bool> = p.iter().map(|x| x.step).collect();
        assert_eq!(steps, vec![false, false, true, false, false]);
        assert!((p[2].change.unwrap() - (1.10 / 1.01 - 1.0)).abs() < 1e-12);
        assert_eq!(p[0].change, None);
        assert_eq!(p[3].runs, 3);
    }
}

//! SVG plots of a sweep (plotters): every strategy side by side across backends, and a
//! P x T heatmap per backend (task workers x BLAS threads, threads and processes apart).

use crate::summary::Summary;
use crate::trend::Point;
use blaspar_core::Strategy;
use blaspar_core::history::short;
use blaspar_core::strategy::Placement;
use plotters::prelude::*;
use std::path::Path;

fn err(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("cannot draw {}: {e}", path.display())
}

/// Font of category labels on an x axis: turned to fit when there are many (a big
/// machine's grid of strategies, a long history of commits).
fn category_font(many: bool) -> FontDesc<'static> {
    if many {
        ("sans-serif", 11)
            .into_font()
            .transform(FontTransform::Rotate90)
    } else {
        ("sans-serif", 13).into_font()
    }
}

/// GFLOP/s of a summary at a given time (same work, so GFLOP/s scales with 1 / time).
fn gflops_at(s: &Summary, seconds: f64) -> f64 {
    s.median_gflops * s.median_seconds / seconds
}

/// Grouped bars: one group per strategy, one bar per backend (median GFLOP/s, with a
/// min-max whisker), the measured all-core peak as a line.
pub fn strategies(
    sums: &[Summary],
    order: &[String],
    peak: f64,
    path: &Path,
) -> anyhow::Result<()> {
    let mut backends: Vec<&str> = sums.iter().map(|s| s.backend.as_str()).collect();
    backends.sort_unstable();
    backends.dedup();
    let cats: Vec<&String> = order
        .iter()
        .filter(|o| sums.iter().any(|s| &s.label() == *o))
        .collect();
    let top = sums
        .iter()
        .map(|s| gflops_at(s, s.min_seconds))
        .fold(peak, f64::max)
        * 1.1;
    let root = SVGBackend::new(path, (1200, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let n = cats.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "GFLOP/s by strategy and backend (median, whisker: min-max)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(if cats.len() <= 10 { 40 } else { 130 })
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..n, 0f64..top)
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(cats.len().max(1) * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - i as f64 - 0.5).abs() < 0.01 && i < cats.len() {
                cats[i].clone()
            } else {
                String::new()
            }
        })
        .x_label_style(category_font(cats.len() > 10))
        .y_desc("GFLOP/s")
        .draw()
        .map_err(|e| err(path, e))?;
    let width = 0.8 / backends.len().max(1) as f64;
    for (j, b) in backends.iter().enumerate() {
        let color = Palette99::pick(j).to_rgba();
        let mut bars = Vec::new();
        let mut whiskers = Vec::new();
        for (i, cat) in cats.iter().enumerate() {
            if let Some(s) = sums.iter().find(|s| s.backend == *b && &&s.label() == cat) {
                let x0 = i as f64 + 0.1 + j as f64 * width;
                bars.push(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.9, s.median_gflops)],
                    color.filled(),
                ));
                let xm = x0 + width * 0.45;
                whiskers.push(PathElement::new(
                    vec![
                        (xm, gflops_at(s, s.max_seconds)),
                        (xm, gflops_at(s, s.min_seconds)),
                    ],
                    BLACK,
                ));
            }
        }
        chart
            .draw_series(bars)
            .map_err(|e| err(path, e))?
            .label(b.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        chart.draw_series(whiskers).map_err(|e| err(path, e))?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, peak), (n, peak)],
            RED.stroke_width(2),
        )))
        .map_err(|e| err(path, e))?
        .label(format!("measured FMA peak, all cores ({peak:.0})"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))?;
    Ok(())
}

/// Scaling curves: for each strategy, the best GFLOP/s over backends at each workload
/// (workloads ordered by size, then tasks).
pub fn scaling(sums: &[Summary], order: &[String], path: &Path) -> anyhow::Result<()> {
    let mut workloads: Vec<(usize, usize)> = sums.iter().map(|s| (s.tasks, s.size)).collect();
    workloads.sort_unstable_by_key(|&(t, n)| (n, t));
    workloads.dedup();
    let top = sums.iter().map(|s| s.median_gflops).fold(1.0, f64::max) * 1.15;
    let root = SVGBackend::new(path, (1100, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let last = (workloads.len().max(2) - 1) as f64;
    let labels: Vec<String> = workloads
        .iter()
        .map(|(t, n)| format!("{t} x {n}"))
        .collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Scaling: best GFLOP/s over backends per strategy (tasks x size)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.3f64..last + 0.3, 0f64..top)
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(workloads.len().max(2) * 4)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 0.01 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        })
        .y_desc("GFLOP/s")
        .draw()
        .map_err(|e| err(path, e))?;
    for (j, strategy) in order.iter().enumerate() {
        let points: Vec<(f64, f64)> = workloads
            .iter()
            .enumerate()
            .filter_map(|(i, &(t, n))| {
                sums.iter()
                    .filter(|s| &s.label() == strategy && (s.tasks, s.size) == (t, n))
                    .map(|s| s.median_gflops)
                    .max_by(f64::total_cmp)
                    .map(|g| (i as f64, g))
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        let color = Palette99::pick(j).to_rgba();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| err(path, e))?
            .label(strategy.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 12, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.filled())),
            )
            .map_err(|e| err(path, e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))?;
    Ok(())
}

/// A strategy's cell of the heatmaps: (workers P, BLAS threads T, in the processes panel).
/// The threads panel holds the thread pools and the calling thread (P = 1 is the same one
/// process in both); other placements (a batch) and library-default threads have no cell.
pub fn plane_point(s: &Strategy) -> Option<(usize, usize, bool)> {
    let (p, t) = s.plane_point()?;
    match s.placement() {
        Placement::Processes => Some((p, t, true)),
        Placement::Threads | Placement::CallingThread => Some((p, t, false)),
        _ => None,
    }
}

/// A P x T heatmap of one backend: two panels (threads, processes; P = 1 is the same one
/// process in both), each cell the median GFLOP/s (the better of serial and parallel data
/// generation where both were measured), colour relative to the all-core peak.
pub fn heatmap(backend: &str, sums: &[Summary], peak: f64, path: &Path) -> anyhow::Result<()> {
    let mut best: std::collections::BTreeMap<(usize, usize, bool), f64> = Default::default();
    for s in sums.iter().filter(|s| s.backend == backend) {
        let Some(point) = s.strategy.parse().ok().as_ref().and_then(plane_point) else {
            continue;
        };
        let cell = best.entry(point).or_insert(s.median_gflops);
        *cell = cell.max(s.median_gflops);
    }
    let points: Vec<((usize, usize, bool), f64)> = best.into_iter().collect();
    let mut ps: Vec<usize> = points.iter().map(|((p, _, _), _)| *p).collect();
    let mut ts: Vec<usize> = points.iter().map(|((_, t, _), _)| *t).collect();
    ps.sort_unstable();
    ps.dedup();
    ts.sort_unstable();
    ts.dedup();
    let root = SVGBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let (left, right) = root.split_horizontally(500);
    for (area, procs) in [(left, false), (right, true)] {
        let title = format!(
            "{backend}: P {} x T BLAS threads (GFLOP/s)",
            if procs { "processes" } else { "threads" }
        );
        let mut chart = ChartBuilder::on(&area)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..ts.len().max(1) as f64, 0f64..ps.len().max(1) as f64)
            .map_err(|e| err(path, e))?;
        let (tl, pl) = (ts.clone(), ps.clone());
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(ts.len() * 2 + 1)
            .y_labels(ps.len() * 2 + 1)
            .x_label_formatter(&|x| label_at(&tl, *x))
            .y_label_formatter(&|y| label_at(&pl, *y))
            .x_desc("T (BLAS threads per worker)")
            .y_desc("P (workers)")
            .draw()
            .map_err(|e| err(path, e))?;
        for ((p, t, in_procs), gf) in &points {
            if *in_procs != procs && *p != 1 {
                continue;
            }
            let (x, y) = (
                ts.iter().position(|v| v == t).unwrap_or(0) as f64,
                ps.iter().position(|v| v == p).unwrap_or(0) as f64,
            );
            let share = (gf / peak).clamp(0.0, 1.0);
            let shade = (255.0 * (1.0 - share)) as u8;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x + 0.02, y + 0.02), (x + 0.98, y + 0.98)],
                    RGBColor(shade, shade, 255).filled(),
                )))
                .map_err(|e| err(path, e))?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{gf:.1} ({:.0}%)", 100.0 * share),
                    (x + 0.25, y + 0.5),
                    ("sans-serif", 15)
                        .into_font()
                        .color(if share > 0.6 { &WHITE } else { &BLACK }),
                )))
                .map_err(|e| err(path, e))?;
        }
    }
    root.present().map_err(|e| err(path, e))?;
    Ok(())
}

/// The level at the middle of cell `x` (labels sit at i + 0.5).
fn label_at(levels: &[usize], x: f64) -> String {
    let i = x.floor() as usize;
    if (x - i as f64 - 0.5).abs() < 0.01 && i < levels.len() {
        levels[i].to_string()
    } else {
        String::new()
    }
}

/// A benchmark's trend across commits: median seconds per commit with a min-max whisker,
/// step changes in red, the threshold band around the first commit's median shaded.
pub fn trend(
    benchmark: &str,
    machine: &str,
    points: &[Point],
    threshold: f64,
    path: &Path,
) -> anyhow::Result<()> {
    let n = points.len().max(1) as f64;
    let top = points.iter().map(|p| p.max).fold(0.0, f64::max) * 1.15;
    let top = if top > 0.0 { top } else { 1.0 };
    let root = SVGBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{benchmark}: seconds by commit"),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(if points.len() <= 12 { 40 } else { 110 })
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..n - 0.5, 0f64..top)
        .map_err(|e| err(path, e))?;
    let labels: Vec<String> = points.iter().map(|p| short(&p.commit)).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(points.len().max(1))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 0.01 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        })
        .x_label_style(category_font(points.len() > 12))
        .x_desc(format!("commit ({machine})"))
        .y_desc("seconds (median, whisker: min-max)")
        .draw()
        .map_err(|e| err(path, e))?;
    if let Some(first) = points.first() {
        let (lo, hi) = (
            first.median / (1.0 + threshold),
            first.median * (1.0 + threshold),
        );
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(-0.5, lo), (n - 0.5, hi)],
                BLUE.mix(0.08).filled(),
            )))
            .map_err(|e| err(path, e))?
            .label(format!(
                "first commit's median +-{:.1}% (threshold)",
                threshold * 100.0
            ))
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], BLUE.mix(0.2).filled()));
    }
    chart
        .draw_series(
            points
                .iter()
                .enumerate()
                .map(|(i, p)| PathElement::new(vec![(i as f64, p.min), (i as f64, p.max)], BLACK)),
        )
        .map_err(|e| err(path, e))?;
    chart
        .draw_series(LineSeries::new(
            points.iter().enumerate().map(|(i, p)| (i as f64, p.median)),
            BLUE.stroke_width(2),
        ))
        .map_err(|e| err(path, e))?
        .label("median")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(
            points
                .iter()
                .enumerate()
                .filter(|(_, p)| p.step)
                .map(|(i, p)| Circle::new((i as f64, p.median), 6, RED.filled())),
        )
        .map_err(|e| err(path, e))?
        .label("step change")
        .legend(|(x, y)| Circle::new((x + 5, y), 5, RED.filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(backend: &str, strategy: &str, seconds: f64, gflops: f64) -> Summary {
        Summary {
            backend: backend.into(),
            strategy: strategy.into(),
            generation: Default::default(),
            runs: 3,
            median_seconds: seconds,
            min_seconds: seconds * 0.95,
            max_seconds: seconds * 1.05,
            median_gflops: gflops,
            tasks: 16,
            size: 1000,
            split: [0.2, 0.8, 0.0, 0.0],
            startup: 0.0,
            gemm_gflops_per_worker: gflops,
        }
    }

    #[test]
    fn points_on_the_plane() {
        let p = |t: &str| plane_point(&t.parse().unwrap());
        assert_eq!(p("sequential"), Some((1, 1, false)));
        assert_eq!(p("blas-4"), Some((1, 4, false)));
        assert_eq!(p("threads-3"), Some((3, 1, false)));
        assert_eq!(p("hybrid-procs-2x4"), Some((2, 4, true)));
        assert_eq!(p("blas-default"), None);
        assert_eq!(p("batched-2"), None);
    }

    #[test]
    fn svg_files_are_written_with_every_strategy_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let sums = vec![
            summary("blis", "threads-2", 0.3, 106.9),
            summary("blis", "sequential", 0.6, 54.0),
            summary("blis", "hybrid-procs-2x2", 0.7, 46.5),
            summary("faer", "threads-2", 0.35, 90.0),
        ];
        let order: Vec<String> = ["sequential", "threads-2", "hybrid-procs-2x2"]
            .map(String::from)
            .to_vec();
        let bars = dir.path().join("strategies.svg");
        strategies(&sums, &order, 240.0, &bars).unwrap();
        let svg = std::fs::read_to_string(&bars).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        for label in [
            "threads-2",
            "hybrid-procs-2x2",
            "blis",
            "faer",
            "measured FMA peak",
        ] {
            assert!(svg.contains(label), "{label} missing");
        }
        let heat = dir.path().join("heatmap-blis.svg");
        heatmap("blis", &sums, 240.0, &heat).unwrap();
        let svg = std::fs::read_to_string(&heat).unwrap();
        assert!(svg.contains("106.9 (45%)"), "threads-2 cell");
        assert!(svg.contains("46.5 (19%)"), "hybrid-procs cell");
        assert!(svg.contains("P processes"));
        let mut more = sums.clone();
        more.push(Summary {
            size: 500,
            ..summary("blis", "threads-2", 0.05, 80.0)
        });
        let curves = dir.path().join("scaling.svg");
        scaling(&more, &order, &curves).unwrap();
        let svg = std::fs::read_to_string(&curves).unwrap();
        assert!(
            svg.contains("16 x 500") && svg.contains("16 x 1000"),
            "workload labels"
        );
        assert!(svg.contains("threads-2"));
    }
}

//! The trend plot: a benchmark's median seconds across commits, with each commit's range,
//! the step changes, and the threshold band around the first commit.

use crate::canvas::{
    Area, Chart, FONT, LABEL, Swatch, TITLE, err, legend, legend_width, text_width, thinned, write,
};
use crate::colour::library_colour;
use blaspar_core::history::short;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

/// One commit's point of a trend.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The commit (its short form labels the x axis).
    pub commit: String,
    /// Median, fastest and slowest seconds of its samples.
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Whether the change from the previous commit is a step (drawn as a red dot).
    pub step: bool,
}

/// A benchmark's trend across commits: median seconds per commit (in the library's colour)
/// with a min-max whisker, step changes in red, the threshold band around the first
/// commit's median shaded; commit labels horizontal (every k-th when they would touch),
/// the legend on the right outside the plot.
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
    let library = benchmark.split('/').next().unwrap_or_default();
    let colour = library_colour(library);
    let entries = vec![
        ("median".to_string(), Swatch::Line(colour)),
        ("min-max".to_string(), Swatch::Line(BLACK)),
        ("step change".to_string(), Swatch::Dot(RED)),
        (
            format!("first median +-{:.1}%", threshold * 100.0),
            Swatch::Band(BLUE.mix(0.2)),
        ),
    ];
    let legend_w = legend_width(entries.iter().map(|(t, _)| t.clone()));
    let (width, height) = (1100u32, 540u32);
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    let e = |x| err(path, x);
    root.fill(&WHITE).map_err(e)?;
    write(
        &root,
        &format!("{benchmark}: seconds by commit"),
        (width as i32 / 2, 18),
        TITLE,
        (HPos::Center, VPos::Center),
        &BLACK,
    )
    .map_err(e)?;
    let (plot_area, legend_area) = root.split_horizontally(width as i32 - legend_w - 10);
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_top(44)
        .margin_right(16)
        .margin_left(8)
        .x_label_area_size(56)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..n - 0.5, 0f64..top)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_desc(format!("commit (machine: {machine})"))
        .y_desc("seconds (median, whisker: min-max)")
        .axis_desc_style((FONT, LABEL))
        .label_style((FONT, LABEL))
        .draw()
        .map_err(e)?;
    commit_labels(&root, &chart, points, path)?;
    draw_trend(&mut chart, points, threshold, colour, path)?;
    legend(&legend_area, (4, 60), &entries)?;
    root.present().map_err(e)?;
    Ok(())
}

/// A tick per commit below the trend's x axis, and the commits' short ids, thinned to fit.
fn commit_labels(root: &Area, chart: &Chart, points: &[Point], path: &Path) -> anyhow::Result<()> {
    let e = |x| err(path, x);
    let n = points.len().max(1) as f64;
    let labels: Vec<String> = points.iter().map(|p| short(&p.commit)).collect();
    let widest = labels
        .iter()
        .map(|l| text_width(l, LABEL))
        .max()
        .unwrap_or(0);
    let (x0, _) = chart.backend_coord(&(-0.5, 0.0));
    let (x1, _) = chart.backend_coord(&(n - 0.5, 0.0));
    // Every commit gets a tick, so the thinned labels still let one count them.
    for i in 0..labels.len() {
        let (x, y) = chart.backend_coord(&(i as f64, 0.0));
        root.draw(&PathElement::new(vec![(x, y), (x, y + 5)], BLACK))
            .map_err(e)?;
    }
    for i in thinned(labels.len(), widest, x1 - x0) {
        let (x, y) = chart.backend_coord(&(i as f64, 0.0));
        write(
            root,
            &labels[i],
            (x, y + 8),
            LABEL,
            (HPos::Center, VPos::Top),
            &BLACK,
        )
        .map_err(e)?;
    }
    Ok(())
}

/// The trend's data: the band of `threshold` around the first commit's median (a step
/// leaves it), each commit's min-max whisker, the line of medians in `colour`, and a red
/// dot on each step change.
fn draw_trend(
    chart: &mut Chart,
    points: &[Point],
    threshold: f64,
    colour: RGBColor,
    path: &Path,
) -> anyhow::Result<()> {
    let e = |x| err(path, x);
    let n = points.len().max(1) as f64;
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
            .map_err(e)?;
    }
    chart
        .draw_series(
            points
                .iter()
                .enumerate()
                .map(|(i, p)| PathElement::new(vec![(i as f64, p.min), (i as f64, p.max)], BLACK)),
        )
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(
            points.iter().enumerate().map(|(i, p)| (i as f64, p.median)),
            colour.stroke_width(2),
        ))
        .map_err(e)?;
    chart
        .draw_series(
            points
                .iter()
                .enumerate()
                .filter(|(_, p)| p.step)
                .map(|(i, p)| Circle::new((i as f64, p.median), 6, RED.filled())),
        )
        .map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_plot_labels_every_commit_and_marks_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let point = |commit: &str, median: f64, step: bool| Point {
            commit: commit.repeat(40),
            median,
            min: median * 0.98,
            max: median * 1.02,
            step,
        };
        let points = [
            point("a", 1.0, false),
            point("b", 1.01, false),
            point("c", 1.2, true),
        ];
        let svg = dir.path().join("trend.svg");
        trend("blis/threads-2/16x1000", "a machine", &points, 0.03, &svg).unwrap();
        let svg = std::fs::read_to_string(&svg).unwrap();
        for label in [
            "blis/threads-2/16x1000: seconds by commit",
            "commit (machine: a machine)",
            short(&"c".repeat(40)).as_str(),
            "first median +-3.0%",
        ] {
            assert!(svg.contains(label), "{label} missing from the trend");
        }
        assert_eq!(
            svg.matches("<circle").count(),
            2,
            "the step's dot and the legend's"
        );
    }
}

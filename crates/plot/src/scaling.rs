//! The scaling plot: the best rate at each workload, by kind of parallelism and by library,
//! each line labelled at its end.

use crate::canvas::{
    Area, Chart, FONT, LABEL, PANEL, TITLE, err, spread_labels, text_width, thinned, write,
};
use crate::colour::{PEAK, library_colour};
use crate::measured::{Measured, libraries};
use blaspar_core::kind::Kind;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

/// Workload labels (size over task count), thinned to fit, below a chart's x axis at
/// category positions 0, 1, ...
fn workload_labels<X, Y>(
    root: &Area,
    chart: &ChartContext<SVGBackend, Cartesian2d<X, Y>>,
    workloads: &[(usize, usize)],
    at: impl Fn(usize) -> (X::ValueType, Y::ValueType),
) -> anyhow::Result<()>
where
    X: Ranged,
    Y: Ranged,
{
    let e = |x: DrawingAreaErrorKind<std::io::Error>| anyhow::anyhow!("{x}");
    let texts: Vec<(String, String)> = workloads
        .iter()
        .map(|(t, n)| (format!("{n}x{n}"), format!("{t} tasks")))
        .collect();
    let widest = texts
        .iter()
        .map(|(a, b)| text_width(a, LABEL).max(text_width(b, LABEL)))
        .max()
        .unwrap_or(0);
    let (x0, _) = chart.backend_coord(&at(0));
    let (x1, _) = chart.backend_coord(&at(workloads.len().saturating_sub(1)));
    let axis = if workloads.len() > 1 {
        (x1 - x0) * workloads.len() as i32 / (workloads.len() as i32 - 1)
    } else {
        i32::MAX / 4
    };
    for i in thinned(workloads.len(), widest, axis) {
        let (x, y) = chart.backend_coord(&at(i));
        write(
            root,
            &texts[i].0,
            (x, y + 8),
            LABEL,
            (HPos::Center, VPos::Top),
            &BLACK,
        )
        .map_err(e)?;
        write(
            root,
            &texts[i].1,
            (x, y + 23),
            LABEL,
            (HPos::Center, VPos::Top),
            &BLACK,
        )
        .map_err(e)?;
    }
    Ok(())
}

/// One line of the scaling plot: its label, colour, whether dashed, and points
/// (workload index, GFLOP/s).
struct Curve {
    label: String,
    colour: RGBColor,
    dashed: bool,
    marker: usize,
    points: Vec<(f64, f64)>,
}

/// Scaling across workloads (ordered by size, then tasks), in two panels: the best
/// GFLOP/s of each kind of parallelism (over libraries and counts; black lines told apart
/// by dash and marker), and the best of each library (over strategies, in its colour).
/// Each line is labelled at its right end, outside the plot; the peak line is labelled.
pub fn scaling(sums: &[Measured], peak: f64, path: &Path) -> anyhow::Result<()> {
    let mut workloads: Vec<(usize, usize)> = sums.iter().map(|s| (s.tasks, s.size)).collect();
    workloads.sort_unstable_by_key(|&(t, n)| (n, t));
    workloads.dedup();
    let by_kind = kind_curves(sums, &workloads);
    let by_library = library_curves(sums, &workloads);
    let top = sums.iter().map(|s| s.median_gflops).fold(peak, f64::max) * 1.12;
    let (width, height) = (1300u32, 620u32);
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    let e = |x| err(path, x);
    root.fill(&WHITE).map_err(e)?;
    write(
        &root,
        "Scaling: best median GFLOP/s per workload (matrix size, then tasks)",
        (width as i32 / 2, 18),
        TITLE,
        (HPos::Center, VPos::Center),
        &BLACK,
    )
    .map_err(e)?;
    let (left, right) = root.split_horizontally(width as i32 / 2);
    for (area, title, curves) in [
        (left, "by kind of parallelism", &by_kind),
        (right, "by library", &by_library),
    ] {
        let panel = ScalingPanel {
            title,
            curves,
            workloads: &workloads,
            peak,
            top,
        };
        scaling_panel(&root, &area, &panel, path)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

/// The best median GFLOP/s of the configurations `keep` accepts at each workload (by its index
/// in `workloads`), skipping workloads where it accepts none.
fn best_per_workload(
    sums: &[Measured],
    workloads: &[(usize, usize)],
    keep: &dyn Fn(&Measured) -> bool,
) -> Vec<(f64, f64)> {
    workloads
        .iter()
        .enumerate()
        .filter_map(|(i, &(t, n))| {
            sums.iter()
                .filter(|s| (s.tasks, s.size) == (t, n) && keep(s))
                .map(|s| s.median_gflops)
                .max_by(f64::total_cmp)
                .map(|g| (i as f64, g))
        })
        .collect()
}

/// A black line per kind of parallelism that was measured, in kind order.
fn kind_curves(sums: &[Measured], workloads: &[(usize, usize)]) -> Vec<Curve> {
    Kind::ALL
        .iter()
        .enumerate()
        .map(|(i, k)| Curve {
            label: k.name().to_string(),
            colour: RGBColor(0x22, 0x22, 0x22),
            // Seven kinds, four markers: dash and marker together tell each apart.
            dashed: (i + i / 4) % 2 == 1,
            marker: i,
            points: best_per_workload(sums, workloads, &|s| Kind::of_text(&s.strategy) == Some(*k)),
        })
        .filter(|c| !c.points.is_empty())
        .collect()
}

/// A line per library, in its colour, in registry order.
fn library_curves(sums: &[Measured], workloads: &[(usize, usize)]) -> Vec<Curve> {
    libraries(sums)
        .into_iter()
        .map(|b| Curve {
            label: b.to_string(),
            colour: library_colour(b),
            dashed: false,
            marker: 0,
            points: best_per_workload(sums, workloads, &|s| s.backend == b),
        })
        .collect()
}

/// What one panel of the scaling plot shows.
struct ScalingPanel<'a> {
    title: &'a str,
    curves: &'a [Curve],
    workloads: &'a [(usize, usize)],
    peak: f64,
    /// The top of the GFLOP/s axis (shared by both panels, so they compare).
    top: f64,
}

/// One panel of the scaling plot in `area`: axes, workload labels, the peak line and its
/// label, the curves, and each curve's label right of the panel. Text is written on `root`
/// (the whole figure) so that labels may leave the panel's plotting area.
fn scaling_panel(
    root: &Area,
    area: &Area,
    panel: &ScalingPanel,
    path: &Path,
) -> anyhow::Result<()> {
    let e = |x| err(path, x);
    let label_w = panel
        .curves
        .iter()
        .map(|c| text_width(&c.label, LABEL))
        .max()
        .unwrap_or(0)
        + 16;
    let last = (panel.workloads.len().max(2) - 1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, (FONT, PANEL))
        .margin_top(34)
        .margin_left(8)
        .margin_right(label_w)
        .x_label_area_size(56)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.3f64..last + 0.3, 0f64..panel.top)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("GFLOP/s")
        .axis_desc_style((FONT, LABEL))
        .label_style((FONT, LABEL))
        .draw()
        .map_err(e)?;
    workload_labels(root, &chart, panel.workloads, |i| (i as f64, 0.0))?;
    let peak = panel.peak;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(-0.3, peak), (last + 0.3, peak)],
            PEAK.stroke_width(2),
        )))
        .map_err(e)?;
    // Above the peak line no measurement reaches: its label covers nothing there.
    let (lx, ly) = chart.backend_coord(&(-0.3, peak));
    write(
        root,
        &format!("measured FMA peak, all cores: {peak:.0} GFLOP/s"),
        (lx + 6, ly - 4),
        LABEL,
        (HPos::Left, VPos::Bottom),
        &PEAK,
    )
    .map_err(e)?;
    for c in panel.curves {
        draw_curve(&mut chart, c, path)?;
    }
    let (right_edge, _) = chart.backend_coord(&(last + 0.3, 0.0));
    label_curve_ends(root, &chart, panel.curves, right_edge, path)
}

/// A curve's line (dashed or solid) and a marker at each of its points.
fn draw_curve(chart: &mut Chart, c: &Curve, path: &Path) -> anyhow::Result<()> {
    let e = |x| err(path, x);
    let style = c.colour.stroke_width(2);
    if c.dashed {
        chart
            .draw_series(DashedLineSeries::new(c.points.clone(), 8, 5, style))
            .map_err(e)?;
    } else {
        chart
            .draw_series(LineSeries::new(c.points.clone(), style))
            .map_err(e)?;
    }
    for &p in &c.points {
        let filled = c.colour.filled();
        match c.marker % 4 {
            0 => chart.draw_series(std::iter::once(Circle::new(p, 4, filled))),
            1 => chart.draw_series(std::iter::once(TriangleMarker::new(p, 5, filled))),
            2 => chart.draw_series(std::iter::once(Cross::new(p, 4, style))),
            _ => chart.draw_series(std::iter::once(Circle::new(p, 4, style))),
        }
        .map_err(e)?;
    }
    Ok(())
}

/// Each curve's label in its colour right of the panel (`right_edge`, in pixels), at its
/// last point's height or pushed just far enough from its neighbours not to touch them.
fn label_curve_ends(
    root: &Area,
    chart: &Chart,
    curves: &[Curve],
    right_edge: i32,
    path: &Path,
) -> anyhow::Result<()> {
    let e = |x| err(path, x);
    let ends: Vec<(i32, i32)> = curves
        .iter()
        .filter_map(|c| c.points.last().map(|p| chart.backend_coord(p)))
        .collect();
    let ys = spread_labels(&ends.iter().map(|p| p.1).collect::<Vec<_>>(), 15);
    for ((c, y), end) in curves
        .iter()
        .filter(|c| !c.points.is_empty())
        .zip(ys)
        .zip(&ends)
    {
        // A label pushed away from its line's end is tied to it by a thin leader.
        root.draw(&PathElement::new(
            vec![(end.0 + 5, end.1), (right_edge + 4, y)],
            RGBColor(0x99, 0x99, 0x99),
        ))
        .map_err(e)?;
        write(
            root,
            &c.label,
            (right_edge + 6, y),
            LABEL,
            (HPos::Left, VPos::Center),
            &c.colour,
        )
        .map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measured::fixtures::{measured, two_libraries};

    #[test]
    fn the_scaling_plot_labels_every_workload_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut more = two_libraries();
        more.push(Measured {
            size: 500,
            ..measured("blis", "threads-2", 0.05, 80.0)
        });
        let curves = dir.path().join("scaling.svg");
        scaling(&more, 240.0, &curves).unwrap();
        let svg = std::fs::read_to_string(&curves).unwrap();
        for label in [
            "500x500",
            "1000x1000",
            "16 tasks",
            "task-threads",
            "blis",
            "faer",
        ] {
            assert!(svg.contains(label), "{label} missing from scaling");
        }
        assert!(svg.contains("measured FMA peak, all cores: 240 GFLOP/s"));
    }
}

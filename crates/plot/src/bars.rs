//! The strategies plot: every configuration measured at one workload as a group of
//! horizontal bars, one bar per library, against the measured peak.

use crate::canvas::{
    Area, Chart, FONT, LABEL, SMALL, Swatch, TITLE, err, legend, legend_width, text_width, write,
};
use crate::colour::{PEAK, library_colour};
use crate::measured::{Measured, gflops_at, libraries, workload};
use blaspar_core::kind::label_order;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

/// Height of one bar of the strategies plot, and the gap between two configurations' groups,
/// in pixels: the plot grows with the bars instead of squeezing them.
const BAR: i32 = 13;
const GAP: i32 = 12;

/// A configuration of the strategies plot (its label) and its measurements, one bar per library.
type BarGroup<'a> = (&'a String, Vec<&'a Measured>);

/// Horizontal grouped bars: one group per configuration (strategy names on the y axis, in
/// kind order), one bar per library that ran it (median GFLOP/s, whisker min-max, value at
/// its end), the measured all-core peak as a labelled vertical line, the legend on the
/// right outside the bars.
pub fn strategies(
    sums: &[Measured],
    order: &[String],
    peak: f64,
    path: &Path,
) -> anyhow::Result<()> {
    let libs = libraries(sums);
    let groups = bar_groups(sums, order, &libs);
    let bars: i32 = groups.iter().map(|(_, g)| g.len() as i32).sum();
    let plot_h = (bars * BAR + groups.len() as i32 * GAP).max(120);
    let label_w = groups
        .iter()
        .map(|(c, _)| text_width(c, LABEL))
        .max()
        .unwrap_or(0)
        + 18;
    let entries = bar_legend(&libs, peak);
    let legend_w = legend_width(entries.iter().map(|(t, _)| t.clone()));
    let (top_px, bottom_px) = (78, 52);
    let width = 1200;
    let height = (top_px + plot_h + bottom_px) as u32;
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    let e = |x| err(path, x);
    root.fill(&WHITE).map_err(e)?;
    write(
        &root,
        &format!(
            "GFLOP/s by strategy and library, {} (bar: median; whisker: min-max)",
            workload(sums)
        ),
        (width as i32 / 2, 18),
        TITLE,
        (HPos::Center, VPos::Center),
        &BLACK,
    )
    .map_err(e)?;
    let (plot_area, legend_area) = root.split_horizontally(width as i32 - legend_w - 10);
    let top = sums
        .iter()
        .map(|s| gflops_at(s, s.min_seconds))
        .fold(peak, f64::max)
        * 1.08;
    let units = f64::from(plot_h);
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_top(top_px)
        .margin_right(10)
        .margin_left(8)
        .x_label_area_size(bottom_px)
        .y_label_area_size(label_w)
        .build_cartesian_2d(0f64..top, 0f64..units)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("GFLOP/s")
        .axis_desc_style((FONT, LABEL))
        .label_style((FONT, LABEL))
        .draw()
        .map_err(e)?;
    draw_bar_groups(&root, &mut chart, &groups, path)?;
    draw_peak_bar_line(&root, &mut chart, peak, path)?;
    legend(&legend_area, (4, top_px + 8), &entries)?;
    root.present().map_err(e)?;
    Ok(())
}

/// The groups of the strategies plot: the configurations of `order` that were measured, in
/// kind order, each with its measurements in library order (`libs`).
fn bar_groups<'a>(sums: &'a [Measured], order: &'a [String], libs: &[&str]) -> Vec<BarGroup<'a>> {
    let mut cats: Vec<&String> = order
        .iter()
        .filter(|o| sums.iter().any(|s| &s.label == *o))
        .collect();
    cats.sort_by_key(|l| label_order(l));
    cats.iter()
        .map(|c| {
            let mut here: Vec<&Measured> = sums.iter().filter(|s| &s.label == *c).collect();
            here.sort_by_key(|s| libs.iter().position(|b| *b == s.backend));
            (*c, here)
        })
        .collect()
}

/// The strategies plot's legend: a bar per library, then the peak line.
fn bar_legend(libs: &[&str], peak: f64) -> Vec<(String, Swatch)> {
    let mut entries: Vec<(String, Swatch)> = libs
        .iter()
        .map(|b| (b.to_string(), Swatch::Bar(library_colour(b))))
        .collect();
    entries.push((format!("peak ({peak:.0})"), Swatch::Line(PEAK)));
    entries
}

/// Every group of bars from the top of the chart down: a light stripe behind every other
/// group (so the eye can follow a row to its name), the configuration's name left of the
/// axis, and a bar per library.
fn draw_bar_groups(
    root: &Area,
    chart: &mut Chart,
    groups: &[BarGroup],
    path: &Path,
) -> anyhow::Result<()> {
    let e = |x| err(path, x);
    let top = chart.x_range().end;
    let units = chart.y_range().end;
    // y grows upwards; groups are laid out from the top, `px` pixels down.
    let y = |px: i32| units - f64::from(px);
    let mut px = GAP / 2;
    for (g, (cat, here)) in groups.iter().enumerate() {
        let h = here.len() as i32 * BAR;
        if g % 2 == 1 {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y(px - GAP / 2)), (top, y(px + h + GAP / 2))],
                    BLACK.mix(0.05).filled(),
                )))
                .map_err(e)?;
        }
        let (lx, ly) = chart.backend_coord(&(0.0, y(px + h / 2)));
        write(
            root,
            cat,
            (lx - 8, ly),
            LABEL,
            (HPos::Right, VPos::Center),
            &BLACK,
        )
        .map_err(e)?;
        for (i, s) in here.iter().enumerate() {
            let rows = (y(px + i as i32 * BAR + 1), y(px + (i as i32 + 1) * BAR - 1));
            draw_bar(root, chart, s, rows, path)?;
        }
        px += h + GAP;
    }
    Ok(())
}

/// One library's bar between chart heights `y0` and `y1`: the median as a bar in the
/// library's colour, the min-max whisker across it, and the median's value right of both.
fn draw_bar(
    root: &Area,
    chart: &mut Chart,
    s: &Measured,
    (y0, y1): (f64, f64),
    path: &Path,
) -> anyhow::Result<()> {
    let e = |x| err(path, x);
    let ym = (y0 + y1) / 2.0;
    let (lo, hi) = (gflops_at(s, s.max_seconds), gflops_at(s, s.min_seconds));
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, y0), (s.median_gflops, y1)],
            library_colour(&s.backend).filled(),
        )))
        .map_err(e)?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(lo, ym), (hi, ym)],
            BLACK,
        )))
        .map_err(e)?;
    let (vx, vy) = chart.backend_coord(&(hi.max(s.median_gflops), ym));
    write(
        root,
        &format!("{:.1}", s.median_gflops),
        (vx + 4, vy),
        SMALL,
        (HPos::Left, VPos::Center),
        &RGBColor(0x33, 0x33, 0x33),
    )
    .map_err(e)?;
    Ok(())
}

/// The measured peak as a vertical line across the bars, and its label.
fn draw_peak_bar_line(
    root: &Area,
    chart: &mut Chart,
    peak: f64,
    path: &Path,
) -> anyhow::Result<()> {
    let e = |x| err(path, x);
    let units = chart.y_range().end;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(peak, 0.0), (peak, units)],
            PEAK.stroke_width(2),
        )))
        .map_err(e)?;
    // The peak's label sits just above the plotting area at the line, where no bar is: left
    // of the line when it fits there, else right of it.
    let peak_text = format!("measured FMA peak, all cores: {peak:.0} GFLOP/s");
    let (px_peak, py_top) = chart.backend_coord(&(peak, units));
    let (left, _) = chart.backend_coord(&(0.0, units));
    let anchor = if px_peak - text_width(&peak_text, LABEL) > left {
        HPos::Right
    } else {
        HPos::Left
    };
    write(
        root,
        &peak_text,
        (px_peak, py_top - 8),
        LABEL,
        (anchor, VPos::Bottom),
        &PEAK,
    )
    .map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measured::fixtures::two_libraries;

    /// The `<text>` elements of an SVG: (x, y, anchor, content).
    fn texts(svg: &str) -> Vec<(f64, f64, String, String)> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let attr = |name: &str| {
                    let start = t.find(&format!(" {name}=\""))? + name.len() + 3;
                    Some(t[start..].split('"').next()?.to_string())
                };
                let content = t
                    .split_once('>')?
                    .1
                    .split("</text>")
                    .next()?
                    .trim()
                    .to_string();
                Some((
                    attr("x")?.parse().ok()?,
                    attr("y")?.parse().ok()?,
                    attr("text-anchor").unwrap_or_default(),
                    content,
                ))
            })
            .collect()
    }

    #[test]
    fn the_strategies_plot_names_every_configuration_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let sums = two_libraries();
        let order: Vec<String> = [
            "sequential",
            "threads-2",
            "hybrid-procs-2x2",
            "blas-default",
        ]
        .map(String::from)
        .to_vec();
        let bars = dir.path().join("strategies.svg");
        strategies(&sums, &order, 240.0, &bars).unwrap();
        let svg = std::fs::read_to_string(&bars).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        let t = texts(&svg);
        for label in [
            "threads-2",
            "hybrid-procs-2x2",
            "blis",
            "faer",
            "measured FMA peak, all cores: 240 GFLOP/s",
            "106.9",
        ] {
            assert!(t.iter().any(|x| x.3 == label), "{label} missing");
        }
        // Strategy names: right-aligned left of the bars, none turned, in kind order.
        let names: Vec<&(f64, f64, String, String)> =
            t.iter().filter(|x| order.contains(&x.3)).collect();
        assert_eq!(
            names.iter().map(|x| x.3.as_str()).collect::<Vec<_>>(),
            [
                "sequential",
                "blas-default",
                "threads-2",
                "hybrid-procs-2x2"
            ]
        );
        assert!(names.iter().all(|x| x.2 == "end" && x.0 > 100.0));
        assert!(!svg.contains("rotate("), "no turned text");
    }
}

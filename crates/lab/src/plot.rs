//! SVG plots (plotters): every strategy side by side across libraries, a P x T heatmap per
//! library, scaling across workloads, and a benchmark's trend across commits.
//!
//! Made to be read at a glance: every label horizontal and given the room it needs (the
//! figures grow with what they hold instead of squeezing or turning text), legends and
//! direct labels outside the plotting area so they cover no data, the measured peak drawn
//! and labelled, and one colour per library in every plot ([`library_colour`], fixed by the
//! library's place in the registry). Text widths are estimated (an SVG file has no fonts),
//! generously: sans-serif glyphs average under 0.62 em.

use crate::summary::Summary;
use crate::trend::Point;
use blaspar_core::Strategy;
use blaspar_core::history::short;
use blaspar_core::kind::{Kind, label_order};
use blaspar_core::registry::ENGINES;
use blaspar_core::strategy::Placement;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

const FONT: &str = "sans-serif";
/// Font sizes (plotters' units: a size s is s / 1.24 pixels).
const TITLE: u32 = 22;
const PANEL: u32 = 19;
const LABEL: u32 = 16;
const SMALL: u32 = 14;

/// Library colours, by the library's place in the registry (Tableau 10 without its red,
/// which marks the peak): a library keeps its colour in every plot and every sweep.
const LIBRARY_COLOURS: [RGBColor; 9] = [
    RGBColor(0x4e, 0x79, 0xa7), // blue
    RGBColor(0xf2, 0x8e, 0x2b), // orange
    RGBColor(0x76, 0xb7, 0xb2), // teal
    RGBColor(0x59, 0xa1, 0x4f), // green
    RGBColor(0xed, 0xc9, 0x48), // yellow
    RGBColor(0xb0, 0x7a, 0xa1), // purple
    RGBColor(0xff, 0x9d, 0xa7), // pink
    RGBColor(0x9c, 0x75, 0x5f), // brown
    RGBColor(0xba, 0xb0, 0xac), // grey
];

/// A library this version's registry does not name (a row of another version).
const UNKNOWN_LIBRARY: RGBColor = RGBColor(0x55, 0x55, 0x55);

/// The measured peak, in every plot that shows it.
const PEAK: RGBColor = RGBColor(0xc0, 0x00, 0x00);

/// The colour of a library in every plot: its place in `blaspar_core::registry::ENGINES`
/// (registries longer than the palette reuse it from the start).
pub fn library_colour(backend: &str) -> RGBColor {
    match ENGINES.iter().position(|e| e.name == backend) {
        Some(i) => LIBRARY_COLOURS[i % LIBRARY_COLOURS.len()],
        None => UNKNOWN_LIBRARY,
    }
}

/// Libraries of `sums` in registry order (unknown ones last, by name).
fn libraries(sums: &[Summary]) -> Vec<&str> {
    let mut v: Vec<&str> = sums.iter().map(|s| s.backend.as_str()).collect();
    v.sort_unstable_by_key(|b| {
        (
            ENGINES
                .iter()
                .position(|e| e.name == *b)
                .unwrap_or(usize::MAX),
            *b,
        )
    });
    v.dedup();
    v
}

fn err(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("cannot draw {}: {e}", path.display())
}

/// Pixels a text of `size` takes, estimated on the wide side (plotters writes a font of
/// size s as s / 1.24 pixels).
fn text_width(text: &str, size: u32) -> i32 {
    (0.62 * f64::from(size) / 1.24 * text.chars().count() as f64).ceil() as i32
}

/// A text at a pixel position of `area`, anchored as `h`, `v` say.
fn write(
    area: &Area,
    text: &str,
    at: (i32, i32),
    size: u32,
    (h, v): (HPos, VPos),
    colour: &RGBColor,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let style = TextStyle::from((FONT, size).into_font())
        .pos(Pos::new(h, v))
        .color(colour);
    area.draw(&Text::new(text.to_string(), at, style))
}

/// What a legend entry shows beside its text.
enum Swatch {
    Bar(RGBColor),
    Line(RGBColor),
    Band(RGBAColor),
    Dot(RGBColor),
}

/// A legend as a column of entries from `at` (its top left corner), drawn where the caller
/// put it: outside every plotting area.
fn legend(area: &Area, at: (i32, i32), entries: &[(String, Swatch)]) -> anyhow::Result<()> {
    let e = |x: DrawingAreaErrorKind<std::io::Error>| anyhow::anyhow!("{x}");
    for (i, (text, swatch)) in entries.iter().enumerate() {
        let (x, y) = (at.0, at.1 + 20 * i as i32);
        match swatch {
            Swatch::Bar(c) => area.draw(&Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled())),
            Swatch::Line(c) => area.draw(&PathElement::new(
                vec![(x, y), (x + 14, y)],
                c.stroke_width(2),
            )),
            Swatch::Band(c) => {
                area.draw(&Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()))
            }
            Swatch::Dot(c) => area.draw(&Circle::new((x + 7, y), 5, c.filled())),
        }
        .map_err(e)?;
        write(
            area,
            text,
            (x + 20, y),
            LABEL,
            (HPos::Left, VPos::Center),
            &BLACK,
        )
        .map_err(e)?;
    }
    Ok(())
}

/// Legend width for these texts.
fn legend_width(texts: impl Iterator<Item = String>) -> i32 {
    texts.map(|t| text_width(&t, LABEL)).max().unwrap_or(0) + 44
}

/// The indices of `n` category labels of `width` pixels each to print on an axis of
/// `axis` pixels: every one when they fit side by side, else every k-th (first and last
/// kept) so that none overlaps its neighbour.
fn thinned(n: usize, width: i32, axis: i32) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let slot = f64::from(axis.max(1)) / n as f64;
    let step = ((f64::from(width + 8) / slot).ceil() as usize).max(1);
    let mut keep: Vec<usize> = (0..n).step_by(step).collect();
    if keep.last() != Some(&(n - 1)) {
        // The last one replaces its predecessor when the two would touch.
        if n - 1 - keep[keep.len() - 1] < step && keep.len() > 1 {
            keep.pop();
        }
        keep.push(n - 1);
    }
    keep
}

/// Spreads direct labels (their wanted pixel y) at least `gap` apart, keeping their order;
/// returns the y of each in the input order.
fn spread_labels(wanted: &[i32], gap: i32) -> Vec<i32> {
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by_key(|&i| wanted[i]);
    let mut out = wanted.to_vec();
    let mut last = i32::MIN / 2;
    for i in order {
        out[i] = wanted[i].max(last + gap);
        last = out[i];
    }
    out
}

/// GFLOP/s of a summary at a given time (same work, so GFLOP/s scales with 1 / time).
fn gflops_at(s: &Summary, seconds: f64) -> f64 {
    s.median_gflops * s.median_seconds / seconds
}

/// The workload of summaries, in words (the first one's: a plot holds one workload).
fn workload(sums: &[Summary]) -> String {
    sums.first().map_or(String::new(), |s| {
        format!("{} tasks of {}x{}", s.tasks, s.size, s.size)
    })
}

/// A chart of f64 x f64 on an SVG.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Height of one bar of the strategies plot, and the gap between two configurations' groups,
/// in pixels: the plot grows with the bars instead of squeezing them.
const BAR: i32 = 13;
const GAP: i32 = 12;

/// A configuration of the strategies plot (its label) and its summaries, one bar each.
type BarGroup<'a> = (&'a String, Vec<&'a Summary>);

/// Horizontal grouped bars: one group per configuration (strategy names on the y axis, in
/// kind order), one bar per library that ran it (median GFLOP/s, whisker min-max, value at
/// its end), the measured all-core peak as a labelled vertical line, the legend on the
/// right outside the bars.
pub fn strategies(
    sums: &[Summary],
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
/// kind order, each with its summaries in library order (`libs`).
fn bar_groups<'a>(sums: &'a [Summary], order: &'a [String], libs: &[&str]) -> Vec<BarGroup<'a>> {
    let mut cats: Vec<&String> = order
        .iter()
        .filter(|o| sums.iter().any(|s| &s.label() == *o))
        .collect();
    cats.sort_by_key(|l| label_order(l));
    cats.iter()
        .map(|c| {
            let mut here: Vec<&Summary> = sums.iter().filter(|s| &s.label() == *c).collect();
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
    s: &Summary,
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
pub fn scaling(sums: &[Summary], peak: f64, path: &Path) -> anyhow::Result<()> {
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

/// The best median GFLOP/s of the summaries `keep` accepts at each workload (by its index
/// in `workloads`), skipping workloads where it accepts none.
fn best_per_workload(
    sums: &[Summary],
    workloads: &[(usize, usize)],
    keep: &dyn Fn(&Summary) -> bool,
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
fn kind_curves(sums: &[Summary], workloads: &[(usize, usize)]) -> Vec<Curve> {
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
fn library_curves(sums: &[Summary], workloads: &[(usize, usize)]) -> Vec<Curve> {
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

/// `a` mixed towards `b` by `t` (0: a, 1: b).
fn mix(a: RGBColor, b: RGBColor, t: f64) -> RGBColor {
    let m = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * t).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Black or white, whichever reads on `fill`.
fn ink_on(fill: RGBColor) -> RGBColor {
    let lum = 0.2126 * f64::from(fill.0) + 0.7152 * f64::from(fill.1) + 0.0722 * f64::from(fill.2);
    if lum < 140.0 { WHITE } else { BLACK }
}

/// A cell of the heatmaps: (workers P, BLAS threads T, in the processes panel).
type PlanePoint = (usize, usize, bool);

/// A measured point of the plane and its best median GFLOP/s.
type Cell = (PlanePoint, f64);

/// What the two panels of a library's heatmap draw.
struct Plane {
    /// The best median GFLOP/s at each point measured.
    cells: Vec<Cell>,
    /// The points the library refused.
    refused: Vec<PlanePoint>,
    /// The levels of P (rows) and of T (columns), ascending.
    ps: Vec<usize>,
    ts: Vec<usize>,
    /// The library's best rate, which the darkest cell shows.
    top: f64,
    /// The measured all-core peak, which the percentages are of.
    peak: f64,
    /// The library's colour, which the cells are shaded in.
    colour: RGBColor,
}

impl Plane {
    /// The plane of `cells` and `refused`: its levels are those of both.
    fn new(cells: Vec<Cell>, refused: Vec<PlanePoint>, peak: f64, colour: RGBColor) -> Self {
        let top = cells.iter().map(|(_, g)| *g).fold(0.0, f64::max);
        // Refused points widen the plane too: a column of refusals says what the library
        // cannot do.
        let mut ps: Vec<usize> = cells.iter().map(|((p, _, _), _)| *p).collect();
        let mut ts: Vec<usize> = cells.iter().map(|((_, t, _), _)| *t).collect();
        ps.extend(refused.iter().map(|(p, _, _)| *p));
        ts.extend(refused.iter().map(|(_, t, _)| *t));
        ps.sort_unstable();
        ps.dedup();
        ts.sort_unstable();
        ts.dedup();
        Plane {
            cells,
            refused,
            ps,
            ts,
            top,
            peak,
            colour,
        }
    }

    /// Whether a point `at` matches the cell (p, t) of the `procs` panel: P = 1 is one
    /// worker either way, so it belongs to both panels.
    fn in_cell(at: PlanePoint, p: usize, t: usize, procs: bool) -> bool {
        at.0 == p && at.1 == t && (at.2 == procs || p == 1)
    }

    /// The GFLOP/s the cell (p, t) of the `procs` panel shows: the better of the two at P = 1.
    fn rate(&self, p: usize, t: usize, procs: bool) -> Option<f64> {
        self.cells
            .iter()
            .filter(|(at, _)| Self::in_cell(*at, p, t, procs))
            .map(|(_, g)| *g)
            .max_by(f64::total_cmp)
    }

    /// Whether the library refused the cell (p, t) of the `procs` panel.
    fn was_refused(&self, p: usize, t: usize, procs: bool) -> bool {
        self.refused
            .iter()
            .any(|&at| Self::in_cell(at, p, t, procs))
    }
}

/// A P x T heatmap of one library: two panels (threads, processes; P = 1 is the same one
/// process in both), each cell the median GFLOP/s and its share of the all-core peak (the
/// better of serial and parallel data generation where both were measured), shaded in the
/// library's colour by the cell's rate against the library's best (outlined). Cells of the
/// grid that were not measured say so, and why when the library refused them (`refused`:
/// the strategies it refused); configurations off the plane are listed below.
pub fn heatmap(
    backend: &str,
    sums: &[Summary],
    refused: &[String],
    peak: f64,
    path: &Path,
) -> anyhow::Result<()> {
    let refused: Vec<PlanePoint> = refused
        .iter()
        .filter_map(|r| r.parse().ok().as_ref().and_then(plane_point))
        .collect();
    let (cells, off_plane) = plane_cells(backend, sums);
    let plane = Plane::new(cells, refused, peak, library_colour(backend));
    let (width, height) = (1000u32, 600u32);
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    let e = |x| err(path, x);
    root.fill(&WHITE).map_err(e)?;
    let here: Vec<Summary> = sums
        .iter()
        .filter(|s| s.backend == backend)
        .cloned()
        .collect();
    write(
        &root,
        &format!(
            "{backend}, {}: median GFLOP/s (% of the measured peak, {peak:.0})",
            workload(&here)
        ),
        (width as i32 / 2, 16),
        TITLE,
        (HPos::Center, VPos::Center),
        &BLACK,
    )
    .map_err(e)?;
    write(
        &root,
        "darker: closer to this library's best (outlined); cells are the better of serial and parallel data generation",
        (width as i32 / 2, 38),
        SMALL,
        (HPos::Center, VPos::Center),
        &RGBColor(0x44, 0x44, 0x44),
    )
    .map_err(e)?;
    write(
        &root,
        &off_plane_text(&off_plane),
        (width as i32 / 2, height as i32 - 14),
        LABEL,
        (HPos::Center, VPos::Center),
        &BLACK,
    )
    .map_err(e)?;
    let body = root.margin(50, 30, 0, 0);
    let (left, right) = body.split_horizontally(width as i32 / 2);
    for (area, procs) in [(left, false), (right, true)] {
        heatmap_panel(&root, &area, &plane, procs, path)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

/// The summaries of `backend` as cells of the plane (the best median GFLOP/s at each
/// point), and those off it (label, median GFLOP/s) in kind order.
fn plane_cells(backend: &str, sums: &[Summary]) -> (Vec<Cell>, Vec<(String, f64)>) {
    let mut best: std::collections::BTreeMap<PlanePoint, f64> = Default::default();
    let mut off_plane: Vec<(String, f64)> = Vec::new();
    for s in sums.iter().filter(|s| s.backend == backend) {
        match s.strategy.parse().ok().as_ref().and_then(plane_point) {
            Some(point) => {
                let cell = best.entry(point).or_insert(s.median_gflops);
                *cell = cell.max(s.median_gflops);
            }
            None => off_plane.push((s.label(), s.median_gflops)),
        }
    }
    off_plane.sort_by_key(|(l, _)| label_order(l));
    (best.into_iter().collect(), off_plane)
}

/// The line below the heatmaps listing the configurations off the plane with their rates
/// (empty when there are none).
fn off_plane_text(off_plane: &[(String, f64)]) -> String {
    if off_plane.is_empty() {
        String::new()
    } else {
        format!(
            "Not on the plane: {}",
            off_plane
                .iter()
                .map(|(l, g)| format!("{l} {g:.1} GFLOP/s"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// One panel of a heatmap in `area` (the processes one when `procs`): P up, T across, a
/// cell per (P, T) of the plane.
fn heatmap_panel(
    root: &Area,
    area: &Area,
    plane: &Plane,
    procs: bool,
    path: &Path,
) -> anyhow::Result<()> {
    let e = |x| err(path, x);
    let (ps, ts) = (&plane.ps, &plane.ts);
    let title = format!(
        "P {} x T BLAS threads",
        if procs { "processes" } else { "threads" }
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, PANEL))
        .margin(10)
        .x_label_area_size(44)
        .y_label_area_size(54)
        .build_cartesian_2d(0f64..ts.len().max(1) as f64, 0f64..ps.len().max(1) as f64)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(ts.len() * 2 + 1)
        .y_labels(ps.len() * 2 + 1)
        .x_label_formatter(&|x| label_at(ts, *x))
        .y_label_formatter(&|y| label_at(ps, *y))
        .x_desc("T (BLAS threads per worker)")
        .y_desc("P (workers)")
        .axis_desc_style((FONT, LABEL))
        .label_style((FONT, LABEL))
        .draw()
        .map_err(e)?;
    for (y, &p) in ps.iter().enumerate() {
        for (x, &t) in ts.iter().enumerate() {
            let at = (x as f64, y as f64);
            match plane.rate(p, t, procs) {
                Some(gf) => draw_measured_cell(root, &mut chart, plane, at, gf, path)?,
                None => {
                    let refused = plane.was_refused(p, t, procs);
                    draw_empty_cell(root, &mut chart, at, refused, path)?;
                }
            }
        }
    }
    Ok(())
}

/// A cell that was not measured, at chart position `(x, y)`: a grey outline and why.
fn draw_empty_cell(
    root: &Area,
    chart: &mut Chart,
    (x, y): (f64, f64),
    refused: bool,
    path: &Path,
) -> anyhow::Result<()> {
    let e = |x| err(path, x);
    let (cx, cy) = chart.backend_coord(&(x + 0.5, y + 0.5));
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(x + 0.02, y + 0.02), (x + 0.98, y + 0.98)],
            RGBColor(0xcc, 0xcc, 0xcc).stroke_width(1),
        )))
        .map_err(e)?;
    write(
        root,
        if refused {
            "refused by the library"
        } else {
            "not measured"
        },
        (cx, cy),
        SMALL,
        (HPos::Center, VPos::Center),
        &RGBColor(0x88, 0x88, 0x88),
    )
    .map_err(e)?;
    Ok(())
}

/// A measured cell at chart position `(x, y)` of `gf` GFLOP/s: shaded by its share of the
/// library's best, outlined when it is the best, its rate and share of the peak written in
/// whichever of black and white reads on the shade.
fn draw_measured_cell(
    root: &Area,
    chart: &mut Chart,
    plane: &Plane,
    (x, y): (f64, f64),
    gf: f64,
    path: &Path,
) -> anyhow::Result<()> {
    let e = |x| err(path, x);
    let (cx, cy) = chart.backend_coord(&(x + 0.5, y + 0.5));
    let share = if plane.top > 0.0 { gf / plane.top } else { 0.0 };
    let fill = mix(WHITE, plane.colour, 0.12 + 0.88 * share.clamp(0.0, 1.0));
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(x + 0.02, y + 0.02), (x + 0.98, y + 0.98)],
            fill.filled(),
        )))
        .map_err(e)?;
    if gf >= plane.top {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x + 0.03, y + 0.03), (x + 0.97, y + 0.97)],
                BLACK.stroke_width(4),
            )))
            .map_err(e)?;
        // A white inner line keeps the outline visible on the darkest fill.
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x + 0.05, y + 0.05), (x + 0.95, y + 0.95)],
                WHITE.stroke_width(2),
            )))
            .map_err(e)?;
    }
    write(
        root,
        &format!("{gf:.1} ({:.0}%)", 100.0 * gf / plane.peak),
        (cx, cy),
        PANEL,
        (HPos::Center, VPos::Center),
        &ink_on(fill),
    )
    .map_err(e)?;
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
    fn a_library_keeps_its_colour_and_no_two_share_one() {
        let all: Vec<RGBColor> = ENGINES.iter().map(|e| library_colour(e.name)).collect();
        for (i, c) in all.iter().enumerate() {
            assert!(
                !all[..i].contains(c) || ENGINES.len() > LIBRARY_COLOURS.len(),
                "{} shares a colour",
                ENGINES[i].name
            );
            assert_ne!(*c, PEAK);
        }
        assert_eq!(library_colour("blis"), LIBRARY_COLOURS[0]);
        assert_eq!(library_colour("no-such-library"), UNKNOWN_LIBRARY);
    }

    #[test]
    fn labels_are_thinned_only_when_they_would_touch() {
        assert_eq!(thinned(5, 60, 1000), vec![0, 1, 2, 3, 4]);
        let some = thinned(40, 75, 900);
        assert_eq!((some[0], *some.last().unwrap()), (0, 39));
        assert!(some.len() < 40);
        let slot = 900.0 / 40.0;
        for w in some.windows(2) {
            assert!((w[1] - w[0]) as f64 * slot >= 75.0, "{some:?}");
        }
        assert!(thinned(0, 10, 100).is_empty());
    }

    #[test]
    fn direct_labels_are_pushed_apart_in_order() {
        assert_eq!(
            spread_labels(&[100, 105, 300, 101], 15),
            vec![100, 130, 300, 115]
        );
        assert_eq!(spread_labels(&[50, 10], 15), vec![50, 10]);
    }

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

    /// Two libraries at one workload: cells of both panels, one off the plane
    /// (blas-default), and two ways to one worker with 2 threads (blas-2, hybrid-procs-1x2).
    fn measured() -> Vec<Summary> {
        vec![
            summary("blis", "threads-2", 0.3, 106.9),
            summary("blis", "sequential", 0.6, 54.0),
            summary("blis", "hybrid-procs-2x2", 0.7, 46.5),
            summary("blis", "blas-default", 0.6, 55.0),
            summary("blis", "blas-2", 0.4, 80.0),
            summary("blis", "hybrid-procs-1x2", 0.38, 84.0),
            summary("faer", "threads-2", 0.35, 90.0),
        ]
    }

    #[test]
    fn the_strategies_plot_names_every_configuration_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let sums = measured();
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

    #[test]
    fn heatmap_cells_show_their_rate_or_why_they_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        let sums = measured();
        let heat = dir.path().join("heatmap-blis.svg");
        let refused = ["hybrid-threads-2x2".to_string()];
        heatmap("blis", &sums, &refused, 240.0, &heat).unwrap();
        let svg = std::fs::read_to_string(&heat).unwrap();
        assert!(svg.contains("106.9 (45%)"), "threads-2 cell");
        assert!(svg.contains("46.5 (19%)"), "hybrid-procs cell");
        assert!(svg.contains("P processes"));
        assert!(svg.contains("not measured"), "the empty cells say so");
        assert!(svg.contains("refused by the library"), "and why");
        assert!(
            svg.contains("84.0 (35%)") && !svg.contains("80.0 (33%)"),
            "P = 1: the better of blas-2 and hybrid-procs-1x2, in both panels"
        );
        assert!(svg.contains("Not on the plane: blas-default 55.0 GFLOP/s"));
    }

    #[test]
    fn the_scaling_plot_labels_every_workload_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut more = measured();
        more.push(Summary {
            size: 500,
            ..summary("blis", "threads-2", 0.05, 80.0)
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

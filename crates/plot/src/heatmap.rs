//! The heatmaps: one library's rates on the P x T plane (workers x BLAS threads per
//! worker), a panel for thread pools and one for worker processes.

use crate::canvas::{Area, Chart, FONT, LABEL, PANEL, SMALL, TITLE, err, write};
use crate::colour::{ink_on, library_colour, mix};
use crate::measured::{Measured, workload};
use blaspar_core::Strategy;
use blaspar_core::kind::label_order;
use blaspar_core::strategy::Placement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

/// A strategy's cell of the heatmaps: (workers P, BLAS threads T, in the processes panel).
/// The threads panel holds the thread pools and the calling thread (P = 1 is the same one
/// process in both); other placements (a batch) and library-default threads have no cell.
fn plane_point(s: &Strategy) -> Option<(usize, usize, bool)> {
    let (p, t) = s.plane_point()?;
    match s.placement() {
        Placement::Processes => Some((p, t, true)),
        Placement::Threads | Placement::CallingThread => Some((p, t, false)),
        _ => None,
    }
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
    sums: &[Measured],
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
    let here: Vec<Measured> = sums
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

/// The configurations of `backend` as cells of the plane (the best median GFLOP/s at each
/// point), and those off it (label, median GFLOP/s) in kind order.
fn plane_cells(backend: &str, sums: &[Measured]) -> (Vec<Cell>, Vec<(String, f64)>) {
    let mut best: std::collections::BTreeMap<PlanePoint, f64> = Default::default();
    let mut off_plane: Vec<(String, f64)> = Vec::new();
    for s in sums.iter().filter(|s| s.backend == backend) {
        match s.strategy.parse().ok().as_ref().and_then(plane_point) {
            Some(point) => {
                let cell = best.entry(point).or_insert(s.median_gflops);
                *cell = cell.max(s.median_gflops);
            }
            None => off_plane.push((s.label.clone(), s.median_gflops)),
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
    let lines: &[&str] = if refused {
        &["refused by", "the library"]
    } else {
        &["not measured"]
    };
    write_lines(root, lines, (cx, cy), SMALL, &RGBColor(0x88, 0x88, 0x88)).map_err(e)?;
    Ok(())
}

/// `lines` centred on `(cx, cy)`, one under the other: short lines fit the narrow cells of
/// a plane with many thread counts (five columns on 16 CPUs).
fn write_lines(
    root: &Area,
    lines: &[&str],
    (cx, cy): (i32, i32),
    size: u32,
    colour: &RGBColor,
) -> Result<(), plotters::drawing::DrawingAreaErrorKind<std::io::Error>> {
    let step = (size as f64 * 1.2) as i32;
    let top = cy - step * (lines.len() as i32 - 1) / 2;
    for (i, line) in lines.iter().enumerate() {
        write(
            root,
            line,
            (cx, top + step * i as i32),
            size,
            (HPos::Center, VPos::Center),
            colour,
        )?;
    }
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
    let (rate, share) = (
        format!("{gf:.1}"),
        format!("({:.0}%)", 100.0 * gf / plane.peak),
    );
    write_lines(root, &[&rate, &share], (cx, cy), PANEL, &ink_on(fill)).map_err(e)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measured::fixtures::two_libraries;

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
    fn heatmap_cells_show_their_rate_or_why_they_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        let sums = two_libraries();
        let heat = dir.path().join("heatmap-blis.svg");
        let refused = ["hybrid-threads-2x2".to_string()];
        heatmap("blis", &sums, &refused, 240.0, &heat).unwrap();
        let svg = std::fs::read_to_string(&heat).unwrap();
        let cell = |rate: &str, share: &str| {
            svg.contains(&format!(">\n{rate}\n<")) && svg.contains(&format!(">\n({share}%)\n<"))
        };
        assert!(cell("106.9", "45"), "threads-2 cell");
        assert!(cell("46.5", "19"), "hybrid-procs cell");
        assert!(svg.contains("P processes"));
        assert!(svg.contains("not measured"), "the empty cells say so");
        assert!(svg.contains(">\nthe library\n<"), "and why");
        assert!(
            cell("84.0", "35") && !svg.contains(">\n80.0\n<"),
            "P = 1: the better of blas-2 and hybrid-procs-1x2, in both panels"
        );
        assert!(svg.contains("Not on the plane: blas-default 55.0 GFLOP/s"));
    }
}

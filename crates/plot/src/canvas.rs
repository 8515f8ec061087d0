//! What every plot draws with: the SVG area and chart types, fonts, text and its width
//! (estimated: an SVG file has no fonts, so generously; sans-serif glyphs average under
//! 0.62 em), legends, and category or direct labels placed so that none touches another.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

pub(crate) const FONT: &str = "sans-serif";
/// Font sizes (plotters' units: a size s is s / 1.24 pixels).
pub(crate) const TITLE: u32 = 22;
pub(crate) const PANEL: u32 = 19;
pub(crate) const LABEL: u32 = 16;
pub(crate) const SMALL: u32 = 14;

/// A chart of f64 x f64 on an SVG.
pub(crate) type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

pub(crate) fn err(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("cannot draw {}: {e}", path.display())
}

/// Pixels a text of `size` takes, estimated on the wide side (plotters writes a font of
/// size s as s / 1.24 pixels).
pub(crate) fn text_width(text: &str, size: u32) -> i32 {
    (0.62 * f64::from(size) / 1.24 * text.chars().count() as f64).ceil() as i32
}

/// A text at a pixel position of `area`, anchored as `h`, `v` say.
pub(crate) fn write(
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
pub(crate) enum Swatch {
    Bar(RGBColor),
    Line(RGBColor),
    Band(RGBAColor),
    Dot(RGBColor),
}

/// A legend as a column of entries from `at` (its top left corner), drawn where the caller
/// put it: outside every plotting area.
pub(crate) fn legend(
    area: &Area,
    at: (i32, i32),
    entries: &[(String, Swatch)],
) -> anyhow::Result<()> {
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
pub(crate) fn legend_width(texts: impl Iterator<Item = String>) -> i32 {
    texts.map(|t| text_width(&t, LABEL)).max().unwrap_or(0) + 44
}

/// The indices of `n` category labels of `width` pixels each to print on an axis of
/// `axis` pixels: every one when they fit side by side, else every k-th (first and last
/// kept) so that none overlaps its neighbour.
pub(crate) fn thinned(n: usize, width: i32, axis: i32) -> Vec<usize> {
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
pub(crate) fn spread_labels(wanted: &[i32], gap: i32) -> Vec<i32> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

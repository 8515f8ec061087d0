//! One colour per library in every plot, fixed by the library's place in the registry, the
//! peak's red, and the shading of heatmap cells with ink that reads on them.

use blaspar_core::registry::ENGINES;
use plotters::prelude::*;

/// Library colours, by the library's place in the registry (Tableau 10 without its red,
/// which marks the peak): a library keeps its colour in every plot and every sweep.
pub(crate) const LIBRARY_COLOURS: [RGBColor; 9] = [
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
pub(crate) const UNKNOWN_LIBRARY: RGBColor = RGBColor(0x55, 0x55, 0x55);

/// The measured peak, in every plot that shows it.
pub(crate) const PEAK: RGBColor = RGBColor(0xc0, 0x00, 0x00);

/// The colour of a library in every plot: its place in `blaspar_core::registry::ENGINES`
/// (registries longer than the palette reuse it from the start).
pub fn library_colour(backend: &str) -> RGBColor {
    match ENGINES.iter().position(|e| e.name == backend) {
        Some(i) => LIBRARY_COLOURS[i % LIBRARY_COLOURS.len()],
        None => UNKNOWN_LIBRARY,
    }
}

/// `a` mixed towards `b` by `t` (0: a, 1: b).
pub(crate) fn mix(a: RGBColor, b: RGBColor, t: f64) -> RGBColor {
    let m = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * t).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Black or white, whichever reads on `fill`.
pub(crate) fn ink_on(fill: RGBColor) -> RGBColor {
    let lum = 0.2126 * f64::from(fill.0) + 0.7152 * f64::from(fill.1) + 0.0722 * f64::from(fill.2);
    if lum < 140.0 { WHITE } else { BLACK }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

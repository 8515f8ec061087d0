//! SVG plots (plotters): every strategy side by side across libraries ([`bars`]), a P x T
//! heatmap per library ([`heatmap`]), scaling across workloads ([`scaling`]), and a
//! benchmark's trend across commits ([`trend`]). The plots know nothing of runs, records or
//! statistics: they draw plain values ([`Measured`], [`trend::Point`]) that the lab makes
//! from its summaries and trends.
//!
//! Made to be read at a glance: every label horizontal and given the room it needs (the
//! figures grow with what they hold instead of squeezing or turning text), legends and
//! direct labels outside the plotting area so they cover no data, the measured peak drawn
//! and labelled, and one colour per library in every plot ([`colour::library_colour`],
//! fixed by the library's place in the registry). Text widths are estimated (an SVG file
//! has no fonts), generously: sans-serif glyphs average under 0.62 em.
//!
//! Modules, leaf first: `canvas` (areas, fonts, text, legends, label placement),
//! [`colour`], [`measured`] (what the sweep's plots draw), then one module per plot:
//! [`bars`], [`heatmap`], [`scaling`], [`trend`].

pub mod bars;
mod canvas;
pub mod colour;
pub mod heatmap;
pub mod measured;
pub mod scaling;
pub mod trend;

pub use measured::Measured;

//! Parsers of command-line values, shared by the engine's `run` and the lab's commands:
//! each gives one line saying what was expected.

use crate::machine::Machine;
use crate::workload::{Generation, ResultMode};
use crate::{Preset, Strategy};

/// A whole number >= 1.
pub fn positive(s: &str) -> Result<usize, String> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("must be a whole number >= 1, got '{s}'"));
    }
    match t.parse::<usize>() {
        Ok(0) => Err("must be at least 1, got 0".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is too large")),
    }
}

/// A number of seconds > 0.
pub fn positive_seconds(s: &str) -> Result<std::time::Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e9 => Ok(std::time::Duration::from_secs_f64(v)),
        _ => Err(format!("must be a number of seconds > 0, got '{s}'")),
    }
}

/// An operation's text form (`gemm`, `svd`, ...).
pub fn operation(s: &str) -> Result<crate::operation::Operation, String> {
    s.parse()
}

/// A percentage from 0 up to 100 (`2` or `2%`).
pub fn percent(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches('%').parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..100.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "must be a percentage from 0 to below 100 (e.g. 2 or 2%), got '{s}'"
        )),
    }
}

/// A percentage > 0 (`3` or `3%`).
pub fn positive_percent(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches('%').parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1000.0 => Ok(v),
        _ => Err(format!(
            "must be a percentage > 0 (e.g. 3 or 3%), got '{s}'"
        )),
    }
}

/// A strategy; bare names take P and T from this machine.
pub fn strategy(s: &str) -> Result<Strategy, String> {
    Strategy::parse_with_defaults(s, Machine::detect().default_parallelism)
        .map_err(|e| e.to_string())
}

/// A placement (`none`, `cores`, `spread`).
pub fn pin(s: &str) -> Result<crate::topology::PinMode, String> {
    s.parse()
}

pub fn generation(s: &str) -> Result<Generation, String> {
    s.parse()
}

pub fn result_mode(s: &str) -> Result<ResultMode, String> {
    s.parse()
}

pub fn preset(s: &str) -> Result<Preset, String> {
    Preset::from_name(s)
        .ok_or_else(|| format!("unknown preset '{s}': expected one of {}", Preset::NAMES))
}

/// A backend this version knows (the engine registry, [`crate::registry::ENGINES`]).
pub fn backend(s: &str) -> Result<String, String> {
    if crate::registry::Engine::named(s).is_some() {
        Ok(s.to_string())
    } else {
        let known: Vec<&str> = crate::registry::names().collect();
        Err(format!(
            "unknown backend '{s}': expected one of {}",
            known.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_numbers_only() {
        assert_eq!(positive("12"), Ok(12));
        assert!(positive("0").unwrap_err().contains("at least 1"));
        assert!(positive("-3").unwrap_err().contains("whole number"));
        assert!(positive("abc").unwrap_err().contains("whole number"));
        assert!(
            positive("99999999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
    }
}

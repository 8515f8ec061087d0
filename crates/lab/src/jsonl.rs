//! The lab's append-only JSON-lines files (a sweep's `runs.jsonl`, its `pin.jsonl`): one
//! row per line, each appended with one write and synced as soon as it is measured, so an
//! interrupted sweep leaves whole lines and resumes from them.

use anyhow::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::Write;
use std::path::Path;

/// Every row of `path` (none when it does not exist yet); `what` names a row in the error
/// for a line that does not parse (`a sweep row`).
pub fn read<T: DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<Vec<T>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| {
                format!(
                    "{} line {} is not {what} (a partial write?): fix or remove it to resume",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

/// Appends `row` as one line.
pub fn append<T: Serialize>(path: &Path, row: &T) -> anyhow::Result<()> {
    let mut line = serde_json::to_string(row)?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // One write per row: an interrupted sweep leaves whole lines.
    f.write_all(line.as_bytes())?;
    f.sync_data()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_a_torn_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.jsonl");
        assert!(read::<Vec<u32>>(&path, "a row").unwrap().is_empty());
        append(&path, &vec![1u32, 2]).unwrap();
        append(&path, &vec![3u32]).unwrap();
        assert_eq!(
            read::<Vec<u32>>(&path, "a row").unwrap(),
            [vec![1, 2], vec![3]]
        );
        std::fs::write(&path, "[1]\n[2,\n").unwrap();
        let e = format!("{:#}", read::<Vec<u32>>(&path, "a row").unwrap_err());
        assert!(e.contains("line 2 is not a row"), "{e}");
    }
}

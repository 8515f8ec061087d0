//! The history: one line per measured run, appended by every `blaspar run` and every
//! `blaspar compare` sample, keyed by commit and machine fingerprint; `blaspar history`
//! shows a benchmark's trend across commits and flags step changes.
//!
//! File format (`results/history.jsonl` by default): one entry per line,
//! `<json>\t<crc32>\n`, where `<crc32>` is the CRC-32 (IEEE) of the JSON bytes in 8 lowercase
//! hex digits. `cut -f1 results/history.jsonl | jq` reads it.
//!
//! Integrity:
//! - an append takes an exclusive `flock` on the file, writes the whole line with one
//!   `write` on an `O_APPEND` descriptor and `fsync`s before unlocking, so two runs
//!   appending at once never interleave their lines;
//! - a line whose checksum, tab or JSON does not check out (a torn write after a crash, an
//!   edit) is reported with its line number by every reader and left where it is: nothing
//!   ever rewrites or drops lines. An append after a torn last line starts a new line, so
//!   the torn one stays alone;
//! - every entry carries `schema_version` ([`SCHEMA_VERSION`]); a reader uses every version
//!   up to its own and reports newer ones as written by a newer blaspar. The embedded run
//!   record keeps its own `schema_version` and is read through [`RunRecord`], which reads
//!   every earlier record version.
//!
//! The machine fingerprint is a hash of what decides a benchmark's speed and does not drift:
//! CPU model (without its nominal clock), logical and physical cores, CPUs allowed, cgroup
//! quota, SIMD, backend name, version and kernel, and the BLAS environment. Clock speed,
//! hostname and load are not in it, so small clock differences (turbo, a VM's reported MHz)
//! map to the same machine.

use crate::record::RunRecord;
use fnv::FnvHasher;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::hash::Hasher;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Layout version of a history entry; bump on any incompatible change.
///
/// - 1: first layout.
pub const SCHEMA_VERSION: u32 = 1;

/// Environment variable naming the history file (`off` disables writing).
pub const ENV: &str = "BLASPAR_HISTORY";

/// The default file: `results/history.jsonl` of the checkout that built this binary.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results/history.jsonl")
}

/// Where history goes: `--history` when given, else `$BLASPAR_HISTORY`, else
/// [`default_path`]. `off` (or an empty value) means nowhere.
pub fn resolve(flag: Option<&str>) -> Option<PathBuf> {
    let chosen = match flag {
        Some(f) => Some(f.to_string()),
        None => std::env::var(ENV).ok(),
    };
    match chosen.as_deref() {
        Some("off") | Some("") => None,
        Some(p) => Some(PathBuf::from(p)),
        None => Some(default_path()),
    }
}

/// One history line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Layout version of this entry ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Commit the measured binary was built from (`-dirty` when its tree had changes).
    pub commit: String,
    /// Machine fingerprint ([`fingerprint`]): 16 hex digits.
    pub machine: String,
    /// The fingerprint's inputs, readable: CPU, cores, backend, kernel.
    pub machine_label: String,
    /// `backend/strategy/WORKLOAD` ([`benchmark_id`]; the strategy marked `+pgen` with parallel data
    /// generation).
    pub benchmark: String,
    /// Wall seconds of the timed run (`seconds_total` of the record).
    pub seconds: f64,
    /// What measured it: `run` or `compare`.
    pub source: String,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    /// The run record as the measuring binary wrote it (any record schema version).
    pub record: serde_json::Value,
}

/// `backend/strategy/WORKLOAD`: the benchmark a run measured, the workload labelled by
/// [`crate::workload::label`] (`16x1000` for gemm, `svd-16x460` for another operation).
pub fn benchmark_id(
    backend: &str,
    strategy: &str,
    op: crate::operation::Operation,
    tasks: usize,
    size: usize,
) -> String {
    format!(
        "{backend}/{strategy}/{}",
        crate::workload::label(op, tasks, size)
    )
}

/// The benchmark `r` measured, as its history entry names it: [`benchmark_id`] with the
/// strategy labelled with its generation and placement (`threads-2+ogen+pin-cores`) and a
/// workload file's run labelled by the file ([`crate::mix::label`]:
/// `blis/procs-2/file-mixed-5d0c39e1`), an input folder's by the folder
/// ([`crate::record::InputRecord::label`]), `+pload` when the parent loaded its files:
/// `blis/procs-2+pload/npy-photos-1c9e0a3b`.
pub fn run_id(r: &RunRecord) -> String {
    let pin = r
        .pinning
        .as_ref()
        .map_or(crate::topology::PinMode::None, |p| p.mode);
    let mut strategy = crate::strategy::label_placed(&r.strategy, r.generation, pin);
    if let Some(input) = &r.input {
        if input.loading == crate::folder::Loading::Parent {
            strategy.push_str("+pload");
        }
        return format!("{}/{strategy}/{}", r.backend, input.label());
    }
    match &r.workload_file {
        Some(file) => format!("{}/{strategy}/{}", r.backend, file.label()),
        None => benchmark_id(&r.backend, &strategy, r.operation, r.tasks, r.size),
    }
}

/// The CPU model without its nominal clock ("... CPU @ 2.10GHz"), whitespace collapsed.
fn cpu_without_clock(model: &str) -> String {
    let cut = model.split(" @ ").next().unwrap_or(model);
    cut.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Machine fingerprint of a run and a readable label of what went into it.
pub fn fingerprint(r: &RunRecord) -> (String, String) {
    let m = &r.machine;
    let mut text = String::new();
    let mut add = |k: &str, v: &str| {
        text.push_str(k);
        text.push('=');
        text.push_str(v);
        text.push('\n');
    };
    add("cpu", &cpu_without_clock(&m.cpu_model));
    add("logical", &m.logical_cpus.to_string());
    add("physical", &m.physical_cores.to_string());
    add("allowed", &m.cpus_allowed.len().to_string());
    add(
        "quota",
        &m.cgroup_cpu_quota
            .map_or("none".to_string(), |q| format!("{q:.2}")),
    );
    add("simd", &m.simd.join(","));
    add("backend", &r.backend);
    add("version", &r.backend_version);
    add("kernel", &r.kernel);
    for (k, v) in &r.blas_env {
        add(&format!("env.{k}"), v);
    }
    let label = format!(
        "{}, {} CPUs ({} allowed), {} {} ({}){}",
        cpu_without_clock(&m.cpu_model),
        m.logical_cpus,
        m.cpus_allowed.len(),
        r.backend,
        r.backend_version,
        r.kernel,
        if r.blas_env.is_empty() {
            String::new()
        } else {
            format!(
                ", {}",
                r.blas_env
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    );
    (format!("{:016x}", fnv1a64(text.as_bytes())), label)
}

/// FNV-1a, 64 bits, of `bytes`: stable across Rust versions and platforms (std's hasher is
/// not). `write`, not `Hash::hash`: the latter would add a terminator byte and change every
/// fingerprint already on disk.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hasher = FnvHasher::default();
    hasher.write(bytes);
    hasher.finish()
}

/// CRC-32 (IEEE 802.3, the one zlib and `cksum -a crc32b` compute): the checksum of every
/// line on disk, so it must never change.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

impl Entry {
    /// The entry of a run record (`record` as written by the measuring binary).
    pub fn from_record(record: serde_json::Value, source: &str) -> anyhow::Result<Entry> {
        let r: RunRecord = serde_json::from_value(record.clone())
            .map_err(|e| anyhow::anyhow!("not a run record: {e}"))?;
        let (machine, machine_label) = fingerprint(&r);
        Ok(Entry {
            schema_version: SCHEMA_VERSION,
            commit: r.commit.clone(),
            machine,
            machine_label,
            benchmark: run_id(&r),
            seconds: r.seconds_total,
            source: source.to_string(),
            started_unix: r.started_unix,
            record,
        })
    }

    /// The line written to the file, newline included.
    pub fn line(&self) -> String {
        let json = serde_json::to_string(self).expect("an entry serialises");
        format!("{json}\t{:08x}\n", crc32(json.as_bytes()))
    }
}

/// An open file under an exclusive or shared `flock`, released when this is dropped. It owns
/// the file, so the lock cannot outlive the descriptor it is held on (history appends and
/// reads, compare's build lock).
pub struct LockedFile {
    file: File,
}

impl LockedFile {
    /// Waits for the exclusive lock on `file` (one writer, no readers).
    pub fn exclusive(file: File) -> std::io::Result<LockedFile> {
        LockedFile::acquire(file, File::lock)
    }

    /// Waits for a shared lock on `file` (readers together, no writer).
    pub fn shared(file: File) -> std::io::Result<LockedFile> {
        LockedFile::acquire(file, File::lock_shared)
    }

    fn acquire(file: File, lock: fn(&File) -> std::io::Result<()>) -> std::io::Result<LockedFile> {
        // A signal handler (the engine's Ctrl-C flag) may interrupt the wait; only a real
        // failure is an error.
        loop {
            match lock(&file) {
                Ok(()) => return Ok(LockedFile { file }),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl std::ops::Deref for LockedFile {
    type Target = File;
    fn deref(&self) -> &File {
        &self.file
    }
}

impl Drop for LockedFile {
    fn drop(&mut self) {
        // Closing the file would release the lock as well, but not while a duplicate of
        // the descriptor (a child that inherited it) is still open.
        let _ = self.file.unlock();
    }
}

/// Appends one entry: exclusive lock, one write of the whole line (after a newline when the
/// file's last line is torn), fsync.
pub fn append(path: &Path, entry: &Entry) -> anyhow::Result<()> {
    let ctx =
        |e: std::io::Error| anyhow::anyhow!("cannot append to history {}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(ctx)?;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(ctx)?;
    let locked = LockedFile::exclusive(file).map_err(ctx)?;
    let mut file: &File = &locked;
    let len = file.metadata().map_err(ctx)?.len();
    let mut line = entry.line();
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1)).map_err(ctx)?;
        file.read_exact(&mut last).map_err(ctx)?;
        if last[0] != b'\n' {
            line.insert(0, '\n');
        }
    }
    // O_APPEND: the write lands at the end whatever the offset; write_all loops only on a
    // short write, which a regular file does not produce for a line this size.
    file.write_all(line.as_bytes()).map_err(ctx)?;
    file.sync_data().map_err(ctx)?;
    Ok(())
}

/// A line that could not be used, with why.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What a history file holds.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Usable entries with their 1-based line numbers, in file order.
    pub entries: Vec<(usize, Entry)>,
    /// Lines that are torn, edited, or from a newer blaspar: kept in the file, not used.
    pub problems: Vec<Problem>,
}

/// Parses one line (without its newline).
fn parse_line(text: &str) -> Result<Entry, String> {
    let Some((json, sum)) = text.rsplit_once('\t') else {
        return Err("no checksum (torn or edited line)".to_string());
    };
    let expected = u32::from_str_radix(sum.trim(), 16)
        .map_err(|_| format!("checksum '{sum}' is not 8 hex digits (torn or edited line)"))?;
    if sum.trim().len() != 8 || crc32(json.as_bytes()) != expected {
        return Err("checksum mismatch (torn or edited line)".to_string());
    }
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let version = value["schema_version"].as_u64().unwrap_or(0);
    if version > SCHEMA_VERSION as u64 {
        return Err(format!(
            "schema_version {version} was written by a newer blaspar (this one reads up to {SCHEMA_VERSION})"
        ));
    }
    let entry: Entry =
        serde_json::from_value(value).map_err(|e| format!("not a history entry: {e}"))?;
    if !(entry.seconds.is_finite() && entry.seconds > 0.0) {
        return Err(format!(
            "seconds {} is not a positive number of seconds",
            entry.seconds
        ));
    }
    Ok(entry)
}

/// Reads a history file (shared lock). A missing file is an empty history.
pub fn read(path: &Path) -> anyhow::Result<History> {
    let ctx = |e: std::io::Error| anyhow::anyhow!("cannot read history {}: {e}", path.display());
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(History::default()),
        Err(e) => return Err(ctx(e)),
    };
    let mut bytes = Vec::new();
    {
        let locked = LockedFile::shared(file).map_err(ctx)?;
        (&*locked).read_to_end(&mut bytes).map_err(ctx)?;
    }
    let mut h = History::default();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        if raw.is_empty() {
            continue;
        }
        let parsed = std::str::from_utf8(raw)
            .map_err(|_| "not UTF-8 (torn or edited line)".to_string())
            .and_then(parse_line);
        match parsed {
            Ok(e) => h.entries.push((line, e)),
            Err(reason) => h.problems.push(Problem { line, reason }),
        }
    }
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        let last = bytes.split(|&b| b == b'\n').count();
        if let Some(p) = h.problems.iter_mut().find(|p| p.line == last) {
            p.reason
                .push_str("; it is the last line and has no newline: a write was cut short");
        }
    }
    Ok(h)
}

/// Appends a run's record to the history `flag` / `$BLASPAR_HISTORY` / the default names.
/// A run's result does not depend on its history: a failure is a warning on stderr.
pub fn record_run(record: &RunRecord, flag: Option<&str>) {
    let Some(path) = resolve(flag) else { return };
    if flag.is_none()
        && std::env::var_os(ENV).is_none()
        && !path.parent().is_some_and(|d| d.is_dir())
    {
        eprintln!(
            "note: no history written: {} does not exist (set --history FILE or {ENV}=FILE, or {ENV}=off)",
            path.parent().unwrap_or(Path::new(".")).display()
        );
        return;
    }
    let result = serde_json::to_value(record)
        .map_err(anyhow::Error::from)
        .and_then(|v| Entry::from_record(v, "run"))
        .and_then(|e| append(&path, &e));
    if let Err(e) = result {
        eprintln!("warning: {e:#} (the run itself succeeded)");
    }
}

/// A commit's first 10 characters (and `-dirty`). Characters, not bytes: a commit field
/// comes from files any version (or person) may have written.
pub fn short(commit: &str) -> String {
    let first_10 = |c: &str| c.chars().take(10).collect::<String>();
    match commit.strip_suffix("-dirty") {
        Some(base) => format!("{}-dirty", first_10(base)),
        None => first_10(commit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> serde_json::Value {
        serde_json::from_str(include_str!(
            "../../../results/2026-11-23-vm/quick-blis-threads-2.json"
        ))
        .unwrap()
    }

    fn entry(commit: &str, seconds: f64) -> Entry {
        let mut e = Entry::from_record(record(), "run").unwrap();
        e.commit = commit.to_string();
        e.seconds = seconds;
        e
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn fingerprints_keep_the_values_already_on_disk() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        // The committed history's machine key, written by the hand-written hash before.
        let line = include_str!("../../../results/history.jsonl")
            .lines()
            .next()
            .unwrap();
        let e = parse_line(line).unwrap();
        assert_eq!(e.machine, "f75325ab84807f6a");
        let r: RunRecord = serde_json::from_value(e.record).unwrap();
        assert_eq!(fingerprint(&r).0, e.machine);
    }

    #[test]
    fn a_schema_1_run_record_is_read_through_the_history() {
        // The committed record is of run-record schema 1 (the first layout).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let e = Entry::from_record(record(), "run").unwrap();
        assert_eq!(e.record["schema_version"], 1);
        assert_eq!(e.benchmark, "blis/threads-2/16x1000");
        let mut svd = record();
        svd["operation"] = "svd".into();
        svd["size"] = 460.into();
        let s = Entry::from_record(svd, "run").unwrap();
        assert_eq!(s.benchmark, "blis/threads-2/svd-16x460");
        append(&path, &e).unwrap();
        let h = read(&path).unwrap();
        assert!(h.problems.is_empty(), "{:?}", h.problems);
        assert_eq!(h.entries.len(), 1);
        let (line, got) = &h.entries[0];
        assert_eq!(*line, 1);
        // (serde_json reads floats to within the last digit, so compare fields.)
        assert_eq!(
            (&got.commit, &got.machine, &got.benchmark, got.seconds),
            (&e.commit, &e.machine, &e.benchmark, e.seconds)
        );
        assert_eq!(got.record["schema_version"], 1);
        assert_eq!(got.record["strategy"], "threads-2");
    }

    #[test]
    fn pinned_and_workload_file_runs_have_ids_of_their_own() {
        let plain: RunRecord = serde_json::from_value(record()).unwrap();
        assert_eq!(run_id(&plain), "blis/threads-2/16x1000");
        let mut pinned = plain.clone();
        pinned.generation = crate::workload::Generation::Overlapped;
        pinned.pinning = Some(crate::record::Pinning {
            mode: crate::topology::PinMode::Cores,
            topology: String::new(),
            workers: Vec::new(),
            other_threads: Default::default(),
            method: String::new(),
        });
        assert_eq!(run_id(&pinned), "blis/threads-2+ogen+pin-cores/16x1000");
        let mix = crate::mix::Mix::parse(
            "examples/mixed.toml",
            "[[tasks]]\nop = \"svd\"\nsize = 40\ncount = 2\n",
        )
        .unwrap();
        let mut file = plain.clone();
        file.workload_file = Some(crate::record::WorkloadFile::of(&mix));
        let id = run_id(&file);
        assert_eq!(id, format!("blis/threads-2/{}", mix.label()));
        assert!(id.starts_with("blis/threads-2/file-mixed-"), "{id}");
        let mut json = record();
        json["workload_file"] = serde_json::to_value(&file.workload_file).unwrap();
        assert_eq!(Entry::from_record(json, "run").unwrap().benchmark, id);
    }

    #[test]
    fn fingerprint_ignores_clock_and_host_but_not_cores_or_kernel() {
        let r: RunRecord = serde_json::from_value(record()).unwrap();
        let (fp, label) = fingerprint(&r);
        assert_eq!(fp.len(), 16);
        assert!(label.contains(&r.kernel), "{label}");
        let mut other = r.clone();
        other.machine.hostname = "elsewhere".to_string();
        other.machine.cpu_model = format!("{}  @ 9.99GHz", cpu_without_clock(&r.machine.cpu_model));
        other.started_unix += 1000;
        assert_eq!(fingerprint(&other).0, fp);
        let mut cores = r.clone();
        cores.machine.logical_cpus += 2;
        assert_ne!(fingerprint(&cores).0, fp);
        let mut kernel = r.clone();
        kernel.kernel = "generic".to_string();
        assert_ne!(fingerprint(&kernel).0, fp);
        let mut env = r.clone();
        env.blas_env.insert("BLIS_NUM_THREADS".into(), "4".into());
        assert_ne!(fingerprint(&env).0, fp);
        assert_eq!(
            cpu_without_clock("Intel(R) Xeon(R)  CPU @ 2.10GHz"),
            "Intel(R) Xeon(R) CPU"
        );
    }

    #[test]
    fn a_torn_last_line_is_reported_kept_and_the_next_append_starts_a_new_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        append(&path, &entry("a", 1.0)).unwrap();
        append(&path, &entry("b", 2.0)).unwrap();
        // Cut the second line short, as a crash in the middle of a write would.
        let full = std::fs::read(&path).unwrap();
        let cut = full.len() - 40;
        std::fs::write(&path, &full[..cut]).unwrap();
        let h = read(&path).unwrap();
        assert_eq!(h.entries.len(), 1);
        assert_eq!(h.problems.len(), 1);
        assert_eq!(h.problems[0].line, 2);
        assert!(
            h.problems[0].reason.contains("cut short"),
            "{}",
            h.problems[0]
        );
        // Reading changed nothing.
        assert_eq!(std::fs::read(&path).unwrap(), &full[..cut]);
        // The next append is whole and on its own line; the torn line stays reported.
        append(&path, &entry("c", 3.0)).unwrap();
        let h = read(&path).unwrap();
        let commits: Vec<(usize, &str)> = h
            .entries
            .iter()
            .map(|(l, e)| (*l, e.commit.as_str()))
            .collect();
        assert_eq!(commits, vec![(1, "a"), (3, "c")]);
        assert_eq!(h.problems.len(), 1);
        assert_eq!(h.problems[0].line, 2);
        assert!(std::fs::read(&path).unwrap().starts_with(&full[..cut]));
    }

    #[test]
    fn edited_and_newer_lines_are_reported_by_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        append(&path, &entry("a", 1.0)).unwrap();
        let edited = entry("b", 2.0)
            .line()
            .replace("\"seconds\":2.0", "\"seconds\":1.0");
        let mut newer = entry("c", 3.0);
        newer.schema_version = SCHEMA_VERSION + 1;
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&edited);
        text.push_str("not a history line\n");
        text.push_str(&newer.line());
        std::fs::write(&path, &text).unwrap();
        append(&path, &entry("d", 4.0)).unwrap();
        let h = read(&path).unwrap();
        let lines: Vec<usize> = h.entries.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 5]);
        let problems: Vec<(usize, bool)> = h
            .problems
            .iter()
            .map(|p| (p.line, p.reason.contains("newer blaspar")))
            .collect();
        assert_eq!(problems, vec![(2, false), (3, false), (4, true)]);
        assert!(h.problems[0].reason.contains("checksum mismatch"));
    }

    /// A line as another version (or an edit) may have written it, with a valid checksum.
    fn foreign_line(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v = serde_json::to_value(entry("f", 1.5)).unwrap();
        edit(&mut v);
        let json = v.to_string();
        format!("{json}\t{:08x}\n", crc32(json.as_bytes()))
    }

    #[test]
    fn lines_of_other_versions_are_read_or_reported_by_line_number_never_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let lines = [
            // 1: a field this version does not know: read.
            foreign_line(|v| v["cpu_governor"] = "performance".into()),
            // 2: a strategy this version cannot parse, in the id and the record: read as
            // text, the record kept as written.
            foreign_line(|v| {
                v["benchmark"] = "blis/gpu-offload-4/16x1000".into();
                v["record"]["strategy"] = "gpu-offload-4".into();
            }),
            // 3-7: refused with why.
            foreign_line(|v| {
                v.as_object_mut().unwrap().remove("machine");
            }),
            foreign_line(|v| {
                v.as_object_mut().unwrap().remove("schema_version");
            }),
            foreign_line(|v| v["seconds"] = "fast".into()),
            foreign_line(|v| v["seconds"] = (-1.0).into()),
            foreign_line(|v| v["schema_version"] = "one".into()),
            // 8: a commit that is not hex, cut inside a character by a byte slice.
            foreign_line(|v| v["commit"] = "aéééééééééé-dirty".into()),
        ];
        std::fs::write(&path, lines.concat()).unwrap();
        let h = read(&path).unwrap();
        let read_lines: Vec<usize> = h.entries.iter().map(|(l, _)| *l).collect();
        assert_eq!(read_lines, vec![1, 2, 8]);
        assert_eq!(h.entries[1].1.benchmark, "blis/gpu-offload-4/16x1000");
        assert_eq!(h.entries[1].1.record["strategy"], "gpu-offload-4");
        assert_eq!(short(&h.entries[2].1.commit), "aééééééééé-dirty");
        let problems: Vec<String> = h.problems.iter().map(|p| p.to_string()).collect();
        let expected = [
            "line 3: not a history entry: missing field `machine`",
            "line 4: not a history entry: missing field `schema_version`",
            "line 5: not a history entry: invalid type: string \"fast\"",
            "line 6: seconds -1 is not a positive number of seconds",
            "line 7: not a history entry: invalid type: string \"one\"",
        ];
        assert_eq!(problems.len(), expected.len(), "{problems:?}");
        for (got, want) in problems.iter().zip(expected) {
            assert!(got.starts_with(want), "{got}");
        }
    }

    #[test]
    fn concurrent_writers_never_interleave_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let (writers, each) = (8, 60);
        std::thread::scope(|s| {
            for w in 0..writers {
                let path = &path;
                s.spawn(move || {
                    for i in 0..each {
                        append(path, &entry(&format!("w{w}-{i}"), 1.0 + i as f64)).unwrap();
                    }
                });
            }
        });
        let h = read(&path).unwrap();
        assert!(h.problems.is_empty(), "{:?}", h.problems);
        assert_eq!(h.entries.len(), writers * each);
        for w in 0..writers {
            // Each writer's own lines are in its order.
            let mine: Vec<String> = h
                .entries
                .iter()
                .filter(|(_, e)| e.commit.starts_with(&format!("w{w}-")))
                .map(|(_, e)| e.commit.clone())
                .collect();
            let expected: Vec<String> = (0..each).map(|i| format!("w{w}-{i}")).collect();
            assert_eq!(mine, expected);
        }
    }

    #[test]
    fn a_locked_file_excludes_others_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let open = || {
            File::options()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap()
        };
        let blocked = |f: &File| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock));
        let other = open();
        let writer = LockedFile::exclusive(open()).unwrap();
        assert!(blocked(&other));
        assert!(matches!(
            other.try_lock_shared(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(writer);
        assert!(!blocked(&other));
        other.unlock().unwrap();
        let reader = LockedFile::shared(open()).unwrap();
        let second_reader = LockedFile::shared(open()).unwrap();
        assert!(blocked(&other));
        drop((reader, second_reader));
        assert!(!blocked(&other));
    }

    #[test]
    fn off_and_flags_resolve() {
        assert_eq!(resolve(Some("off")), None);
        assert_eq!(resolve(Some("x.jsonl")), Some(PathBuf::from("x.jsonl")));
    }
}

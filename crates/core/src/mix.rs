//! Workload files: one run of task groups that differ in operation and shape
//! (`blaspar run --workload FILE.toml`).
//!
//! ```toml
//! [[tasks]]
//! op = "gemm"
//! shape = [300, 200, 500]   # A is 300 x 200, B is 200 x 500
//! count = 5
//! [[tasks]]
//! op = "svd"
//! size = 200                # square operand
//! count = 3
//! ```
//!
//! Each `[[tasks]]` table is a group: `op` (one of [`Operation::NAMES`]), either `size = n`
//! (n x n operands, any operation) or `shape = [m, k, n]` (gemm only: A is m x k, B is
//! k x n), and `count` (at least 1). Nothing else is accepted; a bad file is one line
//! naming the file, the line and the key ([`MixError`]).
//!
//! **Task ids** are stable: the file's order, group by group (the first group's tasks are
//! 0..count, the next group's follow). A task's operands come from the workload's pinned
//! generator by its id ([`Operation::input_shaped`]), and its result is checked by its
//! worker with its operation's own check, so ids, data and checks do not depend on the
//! order in which tasks run.
//!
//! **Order of execution**: the workers take tasks dynamically from one queue, which hands
//! them out largest first by FLOPs (ties in id order): longest processing time first
//! (Graham, 1969). A dynamic queue balances whatever the order, except at the end, where
//! one worker may still run a long task while the others have nothing left; taking the
//! long tasks first leaves only short ones for the end, which bounds that tail by the
//! shortest tasks instead of the longest (LPT's makespan is within 4/3 of the optimum on
//! identical workers). File order would let a large task picked up last idle every other
//! worker for its whole duration. The record's `time.task_seconds.idle_share` says how
//! much imbalance remained.

use crate::folder::{Files, LoadError, Loaded};
use crate::operation::Operation;
use crate::task::{Dims, Input};
use crate::workload::{Bytes, Generation, Workload};
use serde::{Deserialize, Serialize};
use std::path::Path;
use toml::Spanned;

/// What a run keeps per task whatever its size, an upper bound: its timings, its worker's
/// check and its fingerprint, and their part of the record.
pub const PER_TASK_BYTES: u64 = 512;

/// One `[[tasks]]` group of a workload file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub op: Operation,
    pub dims: Dims,
    pub count: usize,
    /// The line of its `[[tasks]]` table in the file (its `op` key's line).
    pub line: usize,
}

impl Group {
    /// One task of this group.
    pub fn shape(&self) -> TaskShape {
        TaskShape {
            op: self.op,
            dims: self.dims,
        }
    }
}

/// What one task computes, and on what dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskShape {
    pub op: Operation,
    pub dims: Dims,
}

impl TaskShape {
    /// Floating-point operations of the task: 2 m k n for a product (rectangular included),
    /// [`Operation::flops`] of n for the square operations.
    pub fn flops(&self) -> f64 {
        match self.op {
            Operation::Gemm => 2.0 * self.dims.m as f64 * self.dims.k as f64 * self.dims.n as f64,
            op => op.flops(self.dims.n),
        }
    }

    /// Bytes the task holds while it runs: A, B and C of a product; for the other
    /// operations three n x n matrices, as a uniform workload counts them
    /// ([`Workload::memory_bytes`]). `None` on overflow.
    pub fn working_bytes(&self) -> Option<u64> {
        let Dims { m, k, n } = self.dims;
        let (m, k, n) = (m as u64, k as u64, n as u64);
        let elements = match self.op {
            Operation::Gemm => m
                .checked_mul(k)?
                .checked_add(k.checked_mul(n)?)?
                .checked_add(m.checked_mul(n)?)?,
            _ => n.checked_mul(n)?.checked_mul(3)?,
        };
        elements.checked_mul(8)
    }

    /// `gemm 300x200x500`, `svd 200`.
    pub fn label(&self) -> String {
        format!("{} {}", self.op.name(), self.dims)
    }
}

/// A parsed workload file: its groups, every task by id, and the order of execution.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix {
    /// The file as given on the command line.
    pub path: String,
    pub groups: Vec<Group>,
    /// The first task id of each group (ids follow the file, group by group).
    starts: Vec<usize>,
    /// The groups in the queue's order: largest task first by FLOPs, ties in file order
    /// (a group's tasks are equal, so the queue hands each group's ids out together).
    queue_groups: Vec<usize>,
    /// The first queue position of each group of `queue_groups`.
    queue_starts: Vec<usize>,
    tasks: usize,
    /// The folder of `.npy` files the tasks come from (`run --input`), one group per task;
    /// `None` for a workload file, whose operands come from the generator.
    pub files: Option<Files>,
}

/// A workload file that cannot be used: one line naming the file, line and key.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MixError {
    #[error("{file} line {line}: key `{key}`: {what}")]
    Bad {
        file: String,
        line: usize,
        key: String,
        what: String,
    },
    #[error("cannot read the workload file {file}: {why}")]
    Read { file: String, why: String },
}

/// The file as written (spans kept for the messages).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tasks: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    op: Spanned<String>,
    #[serde(default)]
    shape: Option<Spanned<Vec<usize>>>,
    #[serde(default)]
    size: Option<Spanned<usize>>,
    count: Spanned<usize>,
}

impl Mix {
    /// Reads and checks the workload file at `path`.
    pub fn read(path: &Path) -> Result<Mix, MixError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| MixError::Read {
            file: file.clone(),
            why: e.to_string(),
        })?;
        Mix::parse(&file, &text)
    }

    /// Parses and checks a workload file's `text`; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Mix, MixError> {
        let bad = |span: std::ops::Range<usize>, key: &str, what: String| MixError::Bad {
            file: file.to_string(),
            line: line_of(text, span.start),
            key: key.to_string(),
            what,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let what = e.message().lines().map(str::trim).collect::<Vec<_>>();
            let key = key_of(e.message(), text, span.start);
            bad(span, &key, what.join("; "))
        })?;
        if raw.tasks.is_empty() {
            return Err(bad(
                0..0,
                "tasks",
                "no task groups: add [[tasks]] tables with op, size (or shape for gemm) and count"
                    .to_string(),
            ));
        }
        let mut groups = Vec::with_capacity(raw.tasks.len());
        let mut total: usize = 0;
        for g in raw.tasks {
            let op: Operation =
                g.op.get_ref()
                    .parse()
                    .map_err(|e: String| bad(g.op.span(), "op", e))?;
            let dims = match (&g.size, &g.shape) {
                (Some(_), Some(shape)) => {
                    return Err(bad(
                        shape.span(),
                        "shape",
                        "give either size (square operands) or shape, not both".to_string(),
                    ));
                }
                (None, None) => {
                    return Err(bad(
                        g.op.span(),
                        "size",
                        format!(
                            "this {op} group needs size = n (n x n operands){}",
                            if op == Operation::Gemm {
                                " or shape = [m, k, n] (A is m x k, B is k x n)"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
                (Some(size), None) => {
                    if *size.get_ref() == 0 {
                        return Err(bad(size.span(), "size", "must be at least 1".to_string()));
                    }
                    Dims::square(*size.get_ref())
                }
                (None, Some(shape)) => {
                    if op != Operation::Gemm {
                        return Err(bad(
                            shape.span(),
                            "shape",
                            format!(
                                "shape = [m, k, n] is for gemm only; {op} takes square operands: \
                                 size = n"
                            ),
                        ));
                    }
                    let &[m, k, n] = shape.get_ref().as_slice() else {
                        return Err(bad(
                            shape.span(),
                            "shape",
                            format!(
                                "expected [m, k, n] (A is m x k, B is k x n), got {} number(s)",
                                shape.get_ref().len()
                            ),
                        ));
                    };
                    if m == 0 || k == 0 || n == 0 {
                        return Err(bad(
                            shape.span(),
                            "shape",
                            "every dimension must be at least 1".to_string(),
                        ));
                    }
                    Dims { m, k, n }
                }
            };
            let count = *g.count.get_ref();
            if count == 0 {
                return Err(bad(
                    g.count.span(),
                    "count",
                    "must be at least 1".to_string(),
                ));
            }
            total = total.checked_add(count).ok_or_else(|| {
                bad(
                    g.count.span(),
                    "count",
                    "the tasks of all groups are too many to count".to_string(),
                )
            })?;
            groups.push(Group {
                op,
                dims,
                count,
                line: line_of(text, g.op.span().start),
            });
        }
        Ok(Mix::from_groups(file.to_string(), groups))
    }

    /// The mix of already checked `groups` (a worker process rebuilds its parent's). Nothing
    /// is stored per task: a file may hold many more tasks than fit in memory at once.
    pub fn from_groups(path: String, groups: Vec<Group>) -> Mix {
        let cumulative = |order: &mut dyn Iterator<Item = usize>| -> Vec<usize> {
            order
                .scan(0usize, |next, g| {
                    let start = *next;
                    *next = next.saturating_add(groups[g].count);
                    Some(start)
                })
                .collect()
        };
        let starts = cumulative(&mut (0..groups.len()));
        let mut queue_groups: Vec<usize> = (0..groups.len()).collect();
        // Stable: equal FLOPs keep the file's order.
        queue_groups.sort_by(|&a, &b| {
            groups[b]
                .shape()
                .flops()
                .total_cmp(&groups[a].shape().flops())
        });
        let queue_starts = cumulative(&mut queue_groups.iter().copied());
        let tasks = groups.iter().fold(0usize, |n, g| n.saturating_add(g.count));
        Mix {
            path,
            groups,
            starts,
            queue_groups,
            queue_starts,
            tasks,
            files: None,
        }
    }

    /// The tasks of a folder of `.npy` files ([`crate::folder`]): one group per task (its
    /// dimensions from the headers, `line` its first file's place in the folder), the same
    /// queue, largest first.
    pub fn from_files(files: Files) -> Mix {
        let groups = (0..files.tasks.len())
            .map(|t| Group {
                op: files.op,
                dims: files.dims(t),
                count: 1,
                line: files.tasks[t].a + 1,
            })
            .collect();
        Mix {
            files: Some(files.clone()),
            ..Mix::from_groups(files.folder.path.display().to_string(), groups)
        }
    }

    /// Number of tasks, all groups together.
    pub fn tasks(&self) -> usize {
        self.tasks
    }

    /// Task `task`'s operation and dimensions.
    pub fn shape(&self, task: usize) -> TaskShape {
        assert!(task < self.tasks, "task {task} of {}", self.tasks);
        let group = self.starts.partition_point(|&s| s <= task) - 1;
        self.groups[group].shape()
    }

    /// The task the queue hands out at `position` (largest first by FLOPs, ties by id).
    pub fn task_at(&self, position: usize) -> usize {
        assert!(
            position < self.tasks,
            "position {position} of {}",
            self.tasks
        );
        let k = self.queue_starts.partition_point(|&s| s <= position) - 1;
        self.starts[self.queue_groups[k]] + (position - self.queue_starts[k])
    }

    /// Task ids in the order the queue hands them out.
    pub fn order(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.tasks).map(|p| self.task_at(p))
    }

    /// FLOPs of every task together.
    pub fn flops(&self) -> f64 {
        self.groups
            .iter()
            .map(|g| g.shape().flops() * g.count as f64)
            .sum()
    }

    /// The largest dimension of any task.
    pub fn largest_dim(&self) -> usize {
        self.groups
            .iter()
            .map(|g| g.dims.largest())
            .max()
            .unwrap_or(1)
    }

    /// The operations of the file, each once, in file order.
    pub fn operations(&self) -> Vec<Operation> {
        let mut ops = Vec::new();
        for g in &self.groups {
            if !ops.contains(&g.op) {
                ops.push(g.op);
            }
        }
        ops
    }

    /// Bytes a run holds at its peak with `in_flight` tasks running at once: the
    /// `in_flight` largest tasks' operands and results (no result is kept after its task),
    /// [`PER_TASK_BYTES`] of records per task, and the verifier's vectors. `None` on
    /// overflow.
    pub fn memory_bytes(&self, in_flight: usize) -> Option<u64> {
        let mut per_group: Vec<(u64, usize)> = self
            .groups
            .iter()
            .map(|g| Some((g.shape().working_bytes()?, g.count)))
            .collect::<Option<_>>()?;
        per_group.sort_by_key(|g| std::cmp::Reverse(g.0));
        let mut left = in_flight.max(1);
        let mut total: u64 = 0;
        for (bytes, count) in per_group {
            let take = count.min(left);
            total = total.checked_add(bytes.checked_mul(take as u64)?)?;
            left -= take;
            if left == 0 {
                break;
            }
        }
        total
            .checked_add((self.largest_dim() as u64).checked_mul(8 * 8)?)?
            .checked_add((self.tasks as u64).checked_mul(PER_TASK_BYTES)?)
    }

    /// The workload's name in bench groups and history ids ([`label`]).
    pub fn label(&self) -> String {
        label(
            &self.path,
            self.groups.iter().map(|g| (g.op, g.dims, g.count)),
        )
    }

    /// Refuses a run with `in_flight` tasks at once, and `held` bytes more (an input
    /// folder's matrices, loaded by the parent), that would need more than nine tenths of
    /// the `available` memory (`source` says where that figure comes from), in one line
    /// naming the file or folder and what to change.
    pub fn fits(
        &self,
        in_flight: usize,
        held: u64,
        available: u64,
        source: &str,
    ) -> Result<(), String> {
        let what = match &self.files {
            Some(_) => format!("the folder {} (--input)", self.path),
            None => format!("the workload file {}", self.path),
        };
        let need = self
            .memory_bytes(in_flight)
            .and_then(|n| n.checked_add(held))
            .ok_or_else(|| format!("{what} is too large to count in bytes: smaller tasks"))?;
        if need > available / 10 * 9 {
            let parent = if held > 0 {
                format!(
                    ", and every file's matrix loaded by the parent ({})",
                    Bytes(held)
                )
            } else {
                String::new()
            };
            return Err(format!(
                "{what} needs {} (the operands and results of its {in_flight} largest tasks at \
                 once, and a record of each of its {} tasks{parent}) but only {} is available \
                 ({source}): fewer or smaller tasks, or fewer workers{}",
                Bytes(need),
                self.tasks(),
                Bytes(available),
                if held > 0 {
                    ", or --loading workers"
                } else {
                    ""
                }
            ));
        }
        Ok(())
    }

    /// The run's [`Workload`]: every task of the file, `size` the largest dimension (for
    /// the kernel probe's size class and the record), `operation` the first group's.
    pub fn workload(&self, seed: u64, generation: Generation) -> Workload {
        Workload {
            tasks: self.tasks(),
            size: self.largest_dim(),
            seed,
            generation,
            operation: self.groups[0].op,
            corrupt: None,
        }
    }
}

/// A workload file's name in bench groups and history ids: `file-<stem>-<crc>`, the file's
/// stem and the CRC-32 of its groups (operation, dimensions and count of each, in order):
/// `file-mixed-5d0c39e1`. Two files of the same tasks share it wherever they lie; an edited
/// file gets another, so a history never compares runs of different tasks under one name.
pub fn label(path: &str, groups: impl Iterator<Item = (Operation, Dims, usize)>) -> String {
    let mut text = String::new();
    for (op, dims, count) in groups {
        text.push_str(&format!("{} {} {count};", op.name(), dims));
    }
    let stem = Path::new(path).file_stem().map(|s| s.to_string_lossy());
    id_label("file", stem.as_deref().unwrap_or("workload"), &text)
}

/// `<kind>-<name>-<crc>`: a name that history ids and bench groups can carry (characters
/// other than ASCII letters, digits, `-` and `_` become `_`) and the CRC-32 of `content`,
/// what the runs under it computed.
pub fn id_label(kind: &str, name: &str, content: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{kind}-{name}-{:08x}", crc32fast::hash(content.as_bytes()))
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The key a TOML error is about: the one its message names (unknown, missing or
/// duplicate field), else the key on the error's line (`key = value`, or a `[table]`).
fn key_of(message: &str, text: &str, offset: usize) -> String {
    let names_field = ["unknown field", "missing field", "duplicate"]
        .iter()
        .any(|p| message.starts_with(p));
    if names_field && let Some(name) = message.split('`').nth(1) {
        return name.to_string();
    }
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("").trim();
    if let Some((key, _)) = line.split_once('=') {
        return key.trim().trim_matches('"').to_string();
    }
    let header = line.trim_matches(|c| c == '[' || c == ']').trim();
    if header.is_empty() {
        "tasks".to_string()
    } else {
        header.to_string()
    }
}

/// The tasks of a run: every task of `workload` alike (its operation on n x n operands),
/// or a workload file's. The engine takes this wherever it used a [`Workload`], which
/// converts into the uniform kind.
#[derive(Clone, Copy, Debug)]
pub struct TaskSet<'a> {
    /// Seed, generation and task count (a file's: [`Mix::workload`]).
    pub workload: &'a Workload,
    pub mix: Option<&'a Mix>,
    /// With `--input DIR --loading parent`: every file's matrix, loaded by the parent
    /// before the run ([`Files::read_all`]), which the workers take their operands from.
    pub loaded: Option<Loaded<'a>>,
}

impl<'a> From<&'a Workload> for TaskSet<'a> {
    fn from(workload: &'a Workload) -> Self {
        TaskSet {
            workload,
            mix: None,
            loaded: None,
        }
    }
}

impl TaskSet<'_> {
    /// Number of tasks.
    pub fn count(&self) -> usize {
        self.mix.map_or(self.workload.tasks, Mix::tasks)
    }

    /// Task `task`'s operation and dimensions.
    pub fn shape(&self, task: usize) -> TaskShape {
        match self.mix {
            Some(mix) => mix.shape(task),
            None => TaskShape {
                op: self.workload.operation,
                dims: Dims::square(self.workload.size),
            },
        }
    }

    /// The task the queue hands out at `position` (a file's: largest first).
    pub fn task_at(&self, position: usize) -> usize {
        self.mix.map_or(position, |mix| mix.task_at(position))
    }

    /// Task `task`'s operands from the pinned generator, made by `threads` threads.
    pub fn input(&self, task: usize, threads: usize) -> Input {
        let s = self.shape(task);
        s.op.input_shaped(self.workload, task, s.dims, threads)
    }

    /// The folder of `.npy` files the tasks come from (`--input`), if they do.
    pub fn files(&self) -> Option<&Files> {
        self.mix.and_then(|m| m.files.as_ref())
    }

    /// Task `task`'s operands: from its files (`--input`: read from the folder, or taken
    /// from what the parent loaded), else from the pinned generator ([`TaskSet::input`]).
    /// A file that cannot be read any more is an error naming it and the task.
    pub fn load(&self, task: usize, threads: usize) -> Result<Input, LoadError> {
        match self.files() {
            Some(files) => files.input(self.workload, task, self.loaded.map(|l| l.values)),
            None => Ok(self.input(task, threads)),
        }
    }

    /// FLOPs of every task together.
    pub fn flops(&self) -> f64 {
        self.mix.map_or(self.workload.flops(), Mix::flops)
    }

    /// The FLOPs of the largest task.
    pub fn largest_task_flops(&self) -> f64 {
        match self.mix {
            Some(mix) => mix.shape(mix.task_at(0)).flops(),
            None => self.workload.operation.flops(self.workload.size),
        }
    }

    /// The operations the tasks compute, each once.
    pub fn operations(&self) -> Vec<Operation> {
        self.mix
            .map_or_else(|| vec![self.workload.operation], Mix::operations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[tasks]]
op = "gemm"
shape = [300, 200, 500]   # A is 300 x 200, B is 200 x 500
count = 5
[[tasks]]
op = "svd"
size = 200                # square operand
count = 3
"#;

    fn error(text: &str) -> String {
        Mix::parse("w.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn the_issue_example_parses_into_groups_and_tasks() {
        let mix = Mix::parse("w.toml", EXAMPLE).unwrap();
        assert_eq!(mix.groups.len(), 2);
        assert_eq!(
            mix.groups[0],
            Group {
                op: Operation::Gemm,
                dims: Dims {
                    m: 300,
                    k: 200,
                    n: 500
                },
                count: 5,
                line: 3,
            }
        );
        assert_eq!(mix.groups[1].dims, Dims::square(200));
        assert_eq!(mix.groups[1].line, 7);
        assert_eq!(mix.tasks(), 8);
        // Ids follow the file: 0..5 gemm, 5..8 svd.
        assert_eq!(mix.shape(4).op, Operation::Gemm);
        assert_eq!(mix.shape(5).op, Operation::Svd);
        assert_eq!(mix.shape(0).label(), "gemm 300x200x500");
        assert_eq!(mix.shape(7).label(), "svd 200");
        let gemm = 2.0 * 300.0 * 200.0 * 500.0;
        let svd = 21.0 * 200f64.powi(3);
        assert_eq!(mix.shape(0).flops(), gemm);
        assert_eq!(mix.shape(5).flops(), svd);
        assert_eq!(mix.flops(), 5.0 * gemm + 3.0 * svd);
        assert_eq!(mix.largest_dim(), 500);
        assert_eq!(mix.operations(), vec![Operation::Gemm, Operation::Svd]);
        let w = mix.workload(4, Generation::Parallel);
        assert_eq!((w.tasks, w.size, w.seed), (8, 500, 4));
    }

    #[test]
    fn the_label_names_the_file_and_changes_with_its_tasks() {
        let mix = Mix::parse("examples/my mix.toml", EXAMPLE).unwrap();
        let label = mix.label();
        assert!(label.starts_with("file-my_mix-"), "{label}");
        assert_eq!(label.len(), "file-my_mix-".len() + 8, "{label}");
        // The same tasks elsewhere: the same name; one count changed: another.
        assert_eq!(
            Mix::parse("/tmp/my mix.toml", EXAMPLE).unwrap().label(),
            label
        );
        let edited = EXAMPLE.replace("count = 3", "count = 4");
        assert_ne!(
            Mix::parse("examples/my mix.toml", &edited).unwrap().label(),
            label
        );
    }

    #[test]
    fn the_queue_hands_out_the_largest_tasks_first_ids_unchanged() {
        // svd 200 (168 MFLOP) > gemm 300x200x500 (60 MFLOP) > cholesky 100 (0.34 MFLOP).
        let mix = Mix::parse(
            "w.toml",
            &format!("{EXAMPLE}[[tasks]]\nop = \"cholesky\"\nsize = 100\ncount = 2\n"),
        )
        .unwrap();
        let order: Vec<usize> = mix.order().collect();
        assert_eq!(order, [5, 6, 7, 0, 1, 2, 3, 4, 8, 9]);
        let flops: Vec<f64> = order.iter().map(|&t| mix.shape(t).flops()).collect();
        assert!(flops.windows(2).all(|p| p[0] >= p[1]), "{flops:?}");
        let w = mix.workload(0, Generation::Serial);
        let set = TaskSet {
            workload: &w,
            mix: Some(&mix),
            loaded: None,
        };
        assert_eq!(set.task_at(0), 5);
        assert_eq!(set.count(), 10);
        assert_eq!(set.largest_task_flops(), 21.0 * 200f64.powi(3));
        // A task's data depend on its id alone, not on its place in the queue.
        let Input::Pair(a, b) = set.input(2, 1) else {
            panic!("gemm takes a pair")
        };
        assert_eq!(a, w.matrix_shaped(2, 0, (300, 200), 1));
        assert_eq!(b.dim(), (200, 500));
        assert_eq!(set.input(8, 2), set.input(8, 1));
    }

    #[test]
    fn a_uniform_workload_is_a_task_set_in_id_order() {
        let w = Workload {
            tasks: 3,
            size: 10,
            seed: 1,
            generation: Generation::Serial,
            operation: Operation::Qr,
            corrupt: None,
        };
        let set = TaskSet::from(&w);
        assert_eq!((set.count(), set.task_at(2)), (3, 2));
        assert_eq!(set.shape(1).dims, Dims::square(10));
        assert_eq!(set.input(1, 1), Operation::Qr.input(&w, 1, 1));
        assert_eq!(set.flops(), w.flops());
        assert_eq!(set.operations(), vec![Operation::Qr]);
    }

    #[test]
    fn memory_counts_the_largest_tasks_in_flight() {
        let mix = Mix::parse("w.toml", EXAMPLE).unwrap();
        let gemm = 8 * (300 * 200 + 200 * 500 + 300 * 500);
        let svd = 8 * 3 * 200 * 200;
        assert!(gemm > svd);
        let vectors = 500 * 64 + 8 * PER_TASK_BYTES;
        assert_eq!(mix.memory_bytes(1), Some(gemm + vectors));
        assert_eq!(mix.memory_bytes(6), Some(5 * gemm + svd + vectors));
        assert_eq!(mix.memory_bytes(100), Some(5 * gemm + 3 * svd + vectors));
    }

    #[test]
    fn bad_files_name_the_line_and_the_key() {
        let cases: [(&str, &str); 12] = [
            (
                "[[tasks]]\nop = \"lu\"\nsize = 4\ncount = 1\n",
                "w.toml line 2: key `op`: unknown operation 'lu'",
            ),
            (
                "[[tasks]]\nop = \"svd\"\nshape = [3, 4, 5]\ncount = 1\n",
                "w.toml line 3: key `shape`: shape = [m, k, n] is for gemm only",
            ),
            (
                "[[tasks]]\nop = \"gemm\"\nsize = 4\nshape = [3, 4, 5]\ncount = 1\n",
                "w.toml line 4: key `shape`: give either size",
            ),
            (
                "[[tasks]]\nop = \"gemm\"\ncount = 1\n",
                "w.toml line 2: key `size`: this gemm group needs size = n",
            ),
            (
                "[[tasks]]\nop = \"gemm\"\nsize = 4\ncount = 0\n",
                "w.toml line 4: key `count`: must be at least 1",
            ),
            (
                "[[tasks]]\nop = \"gemm\"\nshape = [3, 0, 5]\ncount = 2\n",
                "w.toml line 3: key `shape`: every dimension must be at least 1",
            ),
            (
                "[[tasks]]\nop = \"gemm\"\nshape = [3, 5]\ncount = 2\n",
                "w.toml line 3: key `shape`: expected [m, k, n]",
            ),
            (
                "[[tasks]]\nop = \"qr\"\nsize = 0\ncount = 2\n",
                "w.toml line 3: key `size`: must be at least 1",
            ),
            (
                "[[tasks]]\nop = \"qr\"\nsize = 4\ncount = 2\nthreads = 3\n",
                "w.toml line 5: key `threads`: unknown field `threads`",
            ),
            (
                "[[tasks]]\nop = \"qr\"\nsize = 4\ncount = \"two\"\n",
                "w.toml line 4: key `count`: invalid type",
            ),
            (
                "[[tasks]]\nop = \"qr\"\nsize = -4\ncount = 2\n",
                "w.toml line 3: key `size`:",
            ),
            ("# nothing\n", "w.toml line 1: key `tasks`: no task groups"),
        ];
        for (text, want) in cases {
            let got = error(text);
            assert!(got.starts_with(want), "{text:?}\n got: {got}\nwant: {want}");
            assert_eq!(got.lines().count(), 1, "{got}");
        }
        let got = error("[[tasks]]\nop = \"qr\"\nsize = 4\n");
        assert!(
            got.contains("key `count`") && got.contains("missing field"),
            "{got}"
        );
        let got = error("[[tasks]]\nop = \"qr\"\nsize = 4\ncount = 1\n[other]\nx = 1\n");
        assert!(got.contains("line 5") && got.contains("`other`"), "{got}");
        let got = error("[[tasks]]\nop = \"qr\nsize = 4\n");
        assert!(got.starts_with("w.toml line 2: key `op`:"), "{got}");
        let got = Mix::read(Path::new("/nonexistent/w.toml"))
            .unwrap_err()
            .to_string();
        assert!(got.starts_with("cannot read the workload file /nonexistent/w.toml"));
    }

    #[test]
    fn a_file_of_very_many_tasks_stores_nothing_per_task() {
        let text = "[[tasks]]\nop = \"gemm\"\nsize = 2\ncount = 4000000000000\n\
                    [[tasks]]\nop = \"qr\"\nsize = 3\ncount = 5\n";
        let mix = Mix::parse("w.toml", text).unwrap();
        assert_eq!(mix.tasks(), 4_000_000_000_005);
        // The QR tasks (68 FLOPs each) go before the products of 2 x 2 (16).
        assert_eq!(mix.task_at(0), 4_000_000_000_000);
        assert_eq!(mix.task_at(5), 0);
        assert_eq!(mix.task_at(4_000_000_000_004), 3_999_999_999_999);
        assert_eq!(mix.shape(4_000_000_000_001).op, Operation::Qr);
        // Its records alone are far beyond any machine: the run is refused by its estimate.
        assert!(mix.memory_bytes(2).unwrap() >= 4_000_000_000_000 * PER_TASK_BYTES);
    }

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../../../examples/mixed.toml");
        let mix = Mix::parse("examples/mixed.toml", text).unwrap();
        assert_eq!(mix.tasks(), 16);
        assert_eq!(
            mix.operations(),
            vec![Operation::Gemm, Operation::Svd, Operation::Cholesky]
        );
        // The SVDs (168 MFLOP) go first, then the products (60), then Cholesky (21).
        assert_eq!(mix.order().take(4).collect::<Vec<_>>(), [5, 6, 7, 0]);
    }

    #[test]
    fn a_worker_rebuilds_its_parents_mix_from_the_groups() {
        let mix = Mix::parse("w.toml", EXAMPLE).unwrap();
        let text = serde_json::to_string(&mix.groups).unwrap();
        let groups: Vec<Group> = serde_json::from_str(&text).unwrap();
        assert_eq!(Mix::from_groups("w.toml".to_string(), groups), mix);
    }
}

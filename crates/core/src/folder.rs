//! Matrices from a folder of `.npy` files (`blaspar run --input DIR`).
//!
//! **The folder** is listed once at start: every `*.npy` file, sorted by file name (other
//! entries are ignored, and the run says so in one line). Every file's header is checked
//! without reading its data ([`header`]): the `.npy` magic and a version of 1, 2 or 3, the
//! dtype little-endian float64 (`<f8`), two dimensions, C or Fortran order, and the file's
//! length equal to its header plus rows x cols x 8 bytes. An empty folder, one without
//! `.npy` files, or a file that fails is one line naming it ([`FolderError`]), before
//! anything runs.
//!
//! **Tasks from files** ([`Files::plan`]), ids in this order:
//!
//! - square operations (solve, cholesky, qr, eigh, svd): every file is one task; a
//!   non-square file is refused, named, with its shape. solve's right-hand side b comes
//!   from the workload's pinned generator (as in generated runs: the first row of task t's
//!   second matrix). cholesky and eigh read the lower triangle only, as LAPACK and NumPy do:
//!   the task's matrix is the symmetric matrix of that triangle, mirrored at load
//!   ([`symmetric_from_lower`]), so the worker's check verifies what LAPACK was given;
//! - gemm: the files in name order; file A (m x k) is multiplied by the next unused file
//!   when that one has k rows (A B, both used), otherwise by its own transpose (A A^T, m x k
//!   times k x m). Every task's dimensions are known from the headers.
//!
//! The tasks then run as a workload file's (`Mix::from_files`): one group per task, one
//! dynamic queue that hands them out largest first by FLOPs, each result checked by its
//! worker. **Loading** ([`Loading`]) is done by the workers (each reads its task's files when
//! it takes the task, in place of generating: the task-seconds the record calls `load`) or
//! by the parent before the workers start (every file into one shared-memory buffer the
//! workers read their operands from: a wall phase of its own).

use crate::operation::Operation;
use crate::task::{Dims, Input};
use crate::workload::{Workload, unit_f64};
use ndarray::{Array1, Array2, ArrayView2};
use ndarray_npy::ReadNpyExt;
use ndarray_npy::npy::header::{Header, ReadHeaderError};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The `.npy` magic string.
const MAGIC: &[u8] = b"\x93NUMPY";

/// Who reads the files (`--loading`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Loading {
    /// Each worker reads its task's files when it takes the task (parallel loading).
    #[default]
    Workers,
    /// The parent reads every file before the workers start, into shared memory
    /// (sequential loading, then processing, as the tutorial's programs do).
    Parent,
}

impl Loading {
    pub const NAMES: [&'static str; 2] = ["parent", "workers"];
}

impl std::fmt::Display for Loading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Loading::Workers => "workers",
            Loading::Parent => "parent",
        })
    }
}

impl std::str::FromStr for Loading {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "workers" => Ok(Loading::Workers),
            "parent" => Ok(Loading::Parent),
            _ => Err(format!(
                "unknown loading '{s}': expected {}",
                Loading::NAMES.join(" or ")
            )),
        }
    }
}

/// One checked `.npy` file: its name in the folder and what its header says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NpyFile {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    /// Stored in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The file's length: header and data.
    pub bytes: u64,
}

impl NpyFile {
    /// `3x4`.
    pub fn shape(&self) -> String {
        format!("{}x{}", self.rows, self.cols)
    }

    /// Elements of the matrix.
    pub fn elements(&self) -> usize {
        self.rows * self.cols
    }
}

/// A folder or file that cannot be used: one line naming it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FolderError {
    /// A file: `DIR/x.npy: dtype <f4, expected float64 (<f8)`.
    #[error("{file}: {what}")]
    File { file: String, what: String },
    /// The folder itself.
    #[error("--input {folder}: {what}")]
    Folder { folder: String, what: String },
}

/// Every file's matrix as the parent loaded it (`--loading parent`, [`Files::read_all`]):
/// the values, and the shared-memory file that holds them, which worker processes map.
#[derive(Clone, Copy, Debug)]
pub struct Loaded<'a> {
    pub values: &'a [f64],
    /// Descriptor of the shared-memory file the values are mapped from.
    pub fd: std::os::fd::RawFd,
}

/// A file that could not be read when its task needed it (deleted or changed since the
/// check at start).
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
#[error("task {task}: cannot load {file}: {why}")]
pub struct LoadError {
    pub task: usize,
    pub file: String,
    pub why: String,
}

/// Checks the header of the `.npy` file at `path` without reading its data: the matrix's
/// shape and order, or what is wrong (without the file's name). The header is parsed by
/// ndarray-npy's own reader, so a file that passes is one [`Files::read`] can read.
pub fn header(path: &Path) -> Result<NpyFile, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let bytes = file
        .metadata()
        .map_err(|e| format!("cannot read its length: {e}"))?
        .len();
    let mut magic = [0u8; 6];
    if read_up_to(&mut file, &mut magic).map_err(|e| format!("cannot read: {e}"))? < 6
        || magic != MAGIC
    {
        return Err("not a .npy file (no \\x93NUMPY magic at its start)".to_string());
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| format!("cannot read: {e}"))?;
    let h = Header::from_reader(&mut file).map_err(|e| match e {
        ReadHeaderError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "truncated: the .npy header ends early".to_string()
        }
        ReadHeaderError::Io(e) => format!("cannot read: {e}"),
        ReadHeaderError::Parse(e) => format!("bad .npy header: {e}"),
    })?;
    let header_bytes = file
        .stream_position()
        .map_err(|e| format!("cannot read: {e}"))?;
    let descr = h.type_descriptor.to_string();
    let descr = descr.trim_matches('\'');
    if descr != "<f8" {
        return Err(format!("dtype {descr}, expected float64 (<f8)"));
    }
    let shape = |dims: &[usize]| {
        let inner: Vec<String> = dims.iter().map(usize::to_string).collect();
        match dims {
            [one] => format!("({one},)"),
            _ => format!("({})", inner.join(", ")),
        }
    };
    let (rows, cols) = match *h.shape.as_slice() {
        [rows, cols] if rows > 0 && cols > 0 => (rows, cols),
        [_, _] => return Err(format!("empty matrix (shape {})", shape(&h.shape))),
        _ => {
            return Err(format!(
                "{}-D array (shape {}), expected a 2-D matrix",
                h.shape.len(),
                shape(&h.shape)
            ));
        }
    };
    let data = (rows as u64)
        .checked_mul(cols as u64)
        .and_then(|e| e.checked_mul(8))
        .ok_or_else(|| format!("shape ({rows}, {cols}) is too large to count in bytes"))?;
    let expected = header_bytes + data;
    if bytes < expected {
        return Err(format!(
            "truncated: {bytes} bytes, expected {expected} (header {header_bytes} + {rows} x \
             {cols} x 8)"
        ));
    }
    if bytes > expected {
        return Err(format!(
            "{} bytes beyond its {rows} x {cols} float64 data (expected {expected} bytes in all)",
            bytes - expected
        ));
    }
    Ok(NpyFile {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        rows,
        cols,
        fortran_order: h.layout.is_fortran(),
        bytes,
    })
}

/// Reads until `buf` is full or the file ends; the bytes read.
fn read_up_to(file: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A checked folder: its `.npy` files in name order, and what else it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folder {
    /// The folder as given on the command line.
    pub path: PathBuf,
    pub files: Vec<NpyFile>,
    /// Entries that are not `.npy` files (ignored), by name.
    pub ignored: Vec<String>,
}

impl Folder {
    /// Lists `dir` and checks every `.npy` file's header.
    pub fn scan(dir: &Path) -> Result<Folder, FolderError> {
        let folder = dir.display().to_string();
        let bad = |what: String| FolderError::Folder {
            folder: folder.clone(),
            what,
        };
        let entries = std::fs::read_dir(dir).map_err(|e| bad(format!("cannot list it: {e}")))?;
        let mut npy = Vec::new();
        let mut ignored = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| bad(format!("cannot list it: {e}")))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_file = entry.path().is_file();
            if is_file && name.ends_with(".npy") {
                npy.push(name);
            } else {
                ignored.push(name);
            }
        }
        npy.sort();
        ignored.sort();
        if npy.is_empty() {
            return Err(bad(if ignored.is_empty() {
                "the folder is empty: put .npy files of float64 matrices in it".to_string()
            } else {
                format!("no .npy files ({} other entries ignored)", ignored.len())
            }));
        }
        let files = npy
            .iter()
            .map(|name| {
                let path = dir.join(name);
                header(&path).map_err(|what| FolderError::File {
                    file: path.display().to_string(),
                    what,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Folder {
            path: dir.to_path_buf(),
            files,
            ignored,
        })
    }

    /// The path of file `index`.
    pub fn file_path(&self, index: usize) -> PathBuf {
        self.path.join(&self.files[index].name)
    }

    /// The one line that says what was ignored, if anything was.
    pub fn ignored_line(&self) -> Option<String> {
        let what = match self.ignored.len() {
            0 => return None,
            1 => "1 entry that is not a .npy file".to_string(),
            n => format!("{n} entries that are not .npy files"),
        };
        Some(format!(
            "--input {}: ignored {what}: {}",
            self.path.display(),
            self.ignored.join(", ")
        ))
    }
}

/// One task's files: A, and B for a product (`None`: A's transpose for gemm; the other
/// operations take A alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTask {
    pub a: usize,
    pub b: Option<usize>,
}

/// The tasks of a folder: what each computes, on which files, and who loads them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Files {
    pub folder: Folder,
    pub op: Operation,
    pub tasks: Vec<FileTask>,
    pub loading: Loading,
    /// Where each file's matrix starts in the parent's buffer ([`Files::offsets`]).
    offsets: Vec<usize>,
}

impl Files {
    /// The tasks of `folder` for `op` (see the module's rule): one per square file, or the
    /// products of gemm's pairing.
    pub fn plan(folder: Folder, op: Operation, loading: Loading) -> Result<Files, FolderError> {
        let tasks = match op {
            Operation::Gemm => gemm_pairs(&folder.files),
            _ => {
                if let Some(f) = folder.files.iter().find(|f| f.rows != f.cols) {
                    return Err(FolderError::File {
                        file: folder.path.join(&f.name).display().to_string(),
                        what: format!(
                            "{op} takes square matrices; this one is {} x {}",
                            f.rows, f.cols
                        ),
                    });
                }
                (0..folder.files.len())
                    .map(|a| FileTask { a, b: None })
                    .collect()
            }
        };
        let offsets = offsets(&folder.files);
        Ok(Files {
            folder,
            op,
            tasks,
            loading,
            offsets,
        })
    }

    /// Task `task`'s dimensions: A m x k and B k x n (A^T: n = m); n x n for the others.
    pub fn dims(&self, task: usize) -> Dims {
        let t = self.tasks[task];
        let a = &self.folder.files[t.a];
        match (self.op, t.b) {
            (Operation::Gemm, Some(b)) => Dims {
                m: a.rows,
                k: a.cols,
                n: self.folder.files[b].cols,
            },
            (Operation::Gemm, None) => Dims {
                m: a.rows,
                k: a.cols,
                n: a.rows,
            },
            _ => Dims::square(a.rows),
        }
    }

    /// The names of task `task`'s files (A, then B).
    pub fn names(&self, task: usize) -> Vec<String> {
        let t = self.tasks[task];
        std::iter::once(t.a)
            .chain(t.b)
            .map(|f| self.folder.files[f].name.clone())
            .collect()
    }

    /// Bytes of every file's matrix (data only, float64).
    pub fn data_bytes(&self) -> u64 {
        self.folder
            .files
            .iter()
            .map(|f| f.elements() as u64 * 8)
            .sum()
    }

    /// Bytes of every file, headers included.
    pub fn file_bytes(&self) -> u64 {
        self.folder.files.iter().map(|f| f.bytes).sum()
    }

    /// Where each file's matrix starts in the parent's buffer (C order, file after file),
    /// in elements; the last entry is the buffer's length.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// Reads file `index` (its data, in either order), checking that it still has the
    /// shape its header had at start.
    pub fn read(&self, index: usize) -> Result<Array2<f64>, String> {
        let path = self.folder.file_path(index);
        let f = &self.folder.files[index];
        let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
        let m =
            Array2::<f64>::read_npy(std::io::BufReader::new(file)).map_err(|e| e.to_string())?;
        if m.dim() != (f.rows, f.cols) {
            return Err(format!(
                "it is now {} x {}, was {} at start",
                m.nrows(),
                m.ncols(),
                f.shape()
            ));
        }
        Ok(m)
    }

    /// Reads every file into `buffer` (C order, at [`Files::offsets`]): the parent's load.
    pub fn read_all(&self, buffer: &mut [f64]) -> Result<(), LoadError> {
        let offsets = &self.offsets;
        for i in 0..self.folder.files.len() {
            let m = self.read(i).map_err(|why| LoadError {
                task: self.task_of(i),
                file: self.folder.file_path(i).display().to_string(),
                why,
            })?;
            let dst = &mut buffer[offsets[i]..offsets[i + 1]];
            for (d, s) in dst.iter_mut().zip(m.as_standard_layout().iter()) {
                *d = *s;
            }
        }
        Ok(())
    }

    /// The task that uses file `index`.
    fn task_of(&self, index: usize) -> usize {
        self.tasks
            .iter()
            .position(|t| t.a == index || t.b == Some(index))
            .expect("every file belongs to a task")
    }

    /// File `index`'s matrix in the parent's `buffer` ([`Files::read_all`]).
    pub fn view<'b>(&self, buffer: &'b [f64], index: usize) -> ArrayView2<'b, f64> {
        let offsets = &self.offsets;
        let f = &self.folder.files[index];
        ArrayView2::from_shape(
            (f.rows, f.cols),
            &buffer[offsets[index]..offsets[index + 1]],
        )
        .expect("the buffer holds every file")
    }

    /// Task `task`'s operands: its files, from `buffer` (parent loading) or read from the
    /// folder (worker loading), made into the operation's input (see the module's rule);
    /// `w`'s generator gives solve's b.
    pub fn input(
        &self,
        w: &Workload,
        task: usize,
        buffer: Option<&[f64]>,
    ) -> Result<Input, LoadError> {
        let load = |index: usize| -> Result<Array2<f64>, LoadError> {
            match buffer {
                Some(all) => Ok(self.view(all, index).to_owned()),
                None => self.read(index).map_err(|why| LoadError {
                    task,
                    file: self.folder.file_path(index).display().to_string(),
                    why,
                }),
            }
        };
        let t = self.tasks[task];
        let a = load(t.a)?;
        Ok(match self.op {
            Operation::Gemm => {
                let b = match t.b {
                    Some(b) => load(b)?,
                    None => a.t().as_standard_layout().into_owned(),
                };
                Input::Pair(a, b)
            }
            Operation::Solve => {
                let mut rng = w.rng(task, 1, 0);
                let b = Array1::from_shape_fn(a.nrows(), |_| unit_f64(&mut rng));
                Input::System(a, b)
            }
            Operation::Cholesky | Operation::Eigh => Input::Single(symmetric_from_lower(a.view())),
            Operation::Qr | Operation::Svd => Input::Single(a),
        })
    }
}

/// Where each file's matrix starts, file after file, in elements, and the total.
fn offsets(files: &[NpyFile]) -> Vec<usize> {
    std::iter::once(0)
        .chain(files.iter().scan(0usize, |next, f| {
            *next += f.elements();
            Some(*next)
        }))
        .collect()
}

/// gemm's pairing: file A (m x k) with the next unused file when that one has k rows,
/// else with A's transpose.
fn gemm_pairs(files: &[NpyFile]) -> Vec<FileTask> {
    let mut tasks = Vec::new();
    let mut i = 0;
    while i < files.len() {
        match files.get(i + 1) {
            Some(next) if next.rows == files[i].cols => {
                tasks.push(FileTask {
                    a: i,
                    b: Some(i + 1),
                });
                i += 2;
            }
            _ => {
                tasks.push(FileTask { a: i, b: None });
                i += 1;
            }
        }
    }
    tasks
}

/// The symmetric matrix of `a`'s lower triangle (what dpotrf and dsyevd with `uplo = 'L'`
/// read, and NumPy's `cholesky` and `eigh` by default): the upper triangle is ignored.
pub fn symmetric_from_lower(a: ArrayView2<'_, f64>) -> Array2<f64> {
    Array2::from_shape_fn(a.dim(), |(i, j)| if i >= j { a[[i, j]] } else { a[[j, i]] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ShapeBuilder;
    use ndarray_npy::WriteNpyExt;

    fn write(dir: &Path, name: &str, m: &Array2<f64>) {
        let f = std::fs::File::create(dir.join(name)).unwrap();
        m.write_npy(f).unwrap();
    }

    fn matrix(rows: usize, cols: usize, base: f64) -> Array2<f64> {
        Array2::from_shape_fn((rows, cols), |(i, j)| base + (i * cols + j) as f64)
    }

    /// A .npy file of `header` (the dictionary) and `data` bytes, version 1.0.
    fn raw(dir: &Path, name: &str, header: &str, data: usize) -> PathBuf {
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut bytes = MAGIC.to_vec();
        bytes.extend([1, 0]);
        bytes.extend((h.len() as u16).to_le_bytes());
        bytes.extend(h.as_bytes());
        bytes.extend(std::iter::repeat_n(0u8, data));
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn headers_of_c_and_fortran_order_files_check_without_reading_data() {
        let dir = tempfile::tempdir().unwrap();
        let m = matrix(3, 4, 0.5);
        write(dir.path(), "c.npy", &m);
        let f = Array2::from_shape_vec((3, 4).f(), m.t().iter().copied().collect()).unwrap();
        assert_eq!(f, m);
        write(dir.path(), "f.npy", &f);
        let c = header(&dir.path().join("c.npy")).unwrap();
        assert_eq!((c.rows, c.cols, c.fortran_order), (3, 4, false));
        let h = header(&dir.path().join("f.npy")).unwrap();
        assert_eq!((h.rows, h.cols, h.fortran_order), (3, 4, true));
        assert_eq!(
            h.bytes,
            std::fs::metadata(dir.path().join("f.npy")).unwrap().len()
        );
        // Both read as the same matrix.
        let folder = Folder::scan(dir.path()).unwrap();
        let files = Files::plan(folder, Operation::Gemm, Loading::Workers).unwrap();
        assert_eq!(files.read(0).unwrap(), m);
        assert_eq!(files.read(1).unwrap(), m);
    }

    #[test]
    fn every_bad_kind_of_file_is_named_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("text.npy"), "a,b\n1,2\n").unwrap();
        std::fs::write(d.join("tiny.npy"), b"\x93NU").unwrap();
        let cases = [
            (
                raw(
                    d,
                    "f4.npy",
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                    16,
                ),
                "dtype <f4, expected float64 (<f8)",
            ),
            (
                raw(
                    d,
                    "be.npy",
                    "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }",
                    32,
                ),
                "dtype >f8, expected float64 (<f8)",
            ),
            (
                raw(
                    d,
                    "i8.npy",
                    "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }",
                    32,
                ),
                "dtype <i8, expected float64 (<f8)",
            ),
            (
                raw(
                    d,
                    "3d.npy",
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }",
                    64,
                ),
                "3-D array (shape (2, 2, 2)), expected a 2-D matrix",
            ),
            (
                raw(
                    d,
                    "1d.npy",
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
                    32,
                ),
                "1-D array (shape (4,)), expected a 2-D matrix",
            ),
            (
                raw(
                    d,
                    "short.npy",
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
                    47,
                ),
                "truncated: 175 bytes, expected 176 (header 128 + 2 x 3 x 8)",
            ),
            (
                raw(
                    d,
                    "long.npy",
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
                    50,
                ),
                "2 bytes beyond its 2 x 3 float64 data",
            ),
            (
                raw(
                    d,
                    "empty.npy",
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }",
                    0,
                ),
                "empty matrix (shape (0, 3))",
            ),
            (
                raw(
                    d,
                    "key.npy",
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), 'x': 1, }",
                    32,
                ),
                "bad .npy header: unknown key: 'x'",
            ),
            (d.join("text.npy"), "not a .npy file"),
            (d.join("tiny.npy"), "not a .npy file"),
        ];
        for (path, want) in cases {
            let got = header(&path).unwrap_err();
            assert!(got.starts_with(want), "{}: {got}", path.display());
        }
        // A good raw file passes, Fortran order included.
        let ok = raw(
            d,
            "ok.npy",
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
            48,
        );
        assert_eq!(header(&ok).unwrap().shape(), "2x3");
        // In a folder, the first bad file in name order is named, with the folder.
        let err = Folder::scan(d).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: 1-D array (shape (4,)), expected a 2-D matrix",
                d.join("1d.npy").display()
            )
        );
        assert_eq!(err.lines().count(), 1);
    }

    #[test]
    fn a_folder_lists_npy_files_by_name_and_says_what_it_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let err = Folder::scan(d).unwrap_err().to_string();
        assert!(err.contains("the folder is empty"), "{err}");
        std::fs::write(d.join("notes.txt"), "x").unwrap();
        let err = Folder::scan(d).unwrap_err().to_string();
        assert!(
            err.contains("no .npy files (1 other entries ignored)"),
            "{err}"
        );
        write(d, "b.npy", &matrix(2, 2, 0.0));
        write(d, "a.npy", &matrix(2, 2, 1.0));
        std::fs::create_dir(d.join("sub.npy")).unwrap();
        let folder = Folder::scan(d).unwrap();
        let names: Vec<&str> = folder.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.npy", "b.npy"]);
        assert_eq!(folder.ignored, ["notes.txt", "sub.npy"]);
        let line = folder.ignored_line().unwrap();
        assert!(
            line.ends_with("ignored 2 entries that are not .npy files: notes.txt, sub.npy"),
            "{line}"
        );
        let err = Folder::scan(&d.join("missing")).unwrap_err().to_string();
        assert!(
            err.starts_with("--input ") && err.contains("cannot list it"),
            "{err}"
        );
    }

    fn file(name: &str, rows: usize, cols: usize) -> NpyFile {
        NpyFile {
            name: name.to_string(),
            rows,
            cols,
            fortran_order: false,
            bytes: 128 + (rows * cols * 8) as u64,
        }
    }

    #[test]
    fn gemm_pairs_a_matrix_with_the_next_one_of_matching_rows_else_its_transpose() {
        // a 3x4 * b 4x5 (pair); c 2x6: d 2x2 has 2 rows, not 6 -> c c^T; d 2x2 * e 2x7 (pair);
        // f 5x5 alone at the end -> f f^T.
        let files = [
            file("a", 3, 4),
            file("b", 4, 5),
            file("c", 2, 6),
            file("d", 2, 2),
            file("e", 2, 7),
            file("f", 5, 5),
        ];
        let tasks = gemm_pairs(&files);
        assert_eq!(
            tasks,
            [
                FileTask { a: 0, b: Some(1) },
                FileTask { a: 2, b: None },
                FileTask { a: 3, b: Some(4) },
                FileTask { a: 5, b: None },
            ]
        );
        let plan = Files {
            folder: Folder {
                path: PathBuf::from("d"),
                files: files.to_vec(),
                ignored: vec![],
            },
            op: Operation::Gemm,
            tasks,
            loading: Loading::Workers,
            offsets: offsets(&files),
        };
        let dims: Vec<String> = (0..4).map(|t| plan.dims(t).to_string()).collect();
        assert_eq!(dims, ["3x4x5", "2x6x2", "2x2x7", "5"]);
        assert_eq!(plan.names(0), ["a", "b"]);
        assert_eq!(plan.names(1), ["c"]);
        assert_eq!(plan.offsets(), [0, 12, 32, 44, 48, 62, 87]);
    }

    #[test]
    fn square_operations_take_one_file_each_and_refuse_a_non_square_one() {
        let folder = |files: Vec<NpyFile>| Folder {
            path: PathBuf::from("dir"),
            files,
            ignored: vec![],
        };
        let plan = Files::plan(
            folder(vec![file("a.npy", 3, 3), file("b.npy", 5, 5)]),
            Operation::Svd,
            Loading::Parent,
        )
        .unwrap();
        assert_eq!(
            plan.tasks,
            [FileTask { a: 0, b: None }, FileTask { a: 1, b: None }]
        );
        assert_eq!(plan.dims(1), Dims::square(5));
        let err = Files::plan(
            folder(vec![file("a.npy", 3, 3), file("b.npy", 5, 4)]),
            Operation::Cholesky,
            Loading::Workers,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "dir/b.npy: cholesky takes square matrices; this one is 5 x 4"
        );
    }

    #[test]
    fn the_lower_triangle_is_mirrored_for_cholesky_and_eigh() {
        let a = ndarray::array![[1.0, 9.0, 9.0], [2.0, 3.0, 9.0], [4.0, 5.0, 6.0]];
        let s = symmetric_from_lower(a.view());
        assert_eq!(
            s,
            ndarray::array![[1.0, 2.0, 4.0], [2.0, 3.0, 5.0], [4.0, 5.0, 6.0]]
        );
        assert_eq!(s, s.t());
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.npy", &a);
        let w = Workload {
            tasks: 1,
            size: 3,
            seed: 2,
            generation: Default::default(),
            operation: Operation::Eigh,
            corrupt: None,
        };
        for (op, want) in [
            (Operation::Eigh, Input::Single(s.clone())),
            (Operation::Cholesky, Input::Single(s.clone())),
            (Operation::Qr, Input::Single(a.clone())),
        ] {
            let files =
                Files::plan(Folder::scan(dir.path()).unwrap(), op, Loading::Workers).unwrap();
            assert_eq!(files.input(&w, 0, None).unwrap(), want, "{op}");
        }
        // solve's b is the generator's, as in a generated run of the same seed.
        let files = Files::plan(
            Folder::scan(dir.path()).unwrap(),
            Operation::Solve,
            Loading::Workers,
        )
        .unwrap();
        let Input::System(got_a, b) = files.input(&w, 0, None).unwrap() else {
            panic!("solve takes a system")
        };
        let Input::System(_, want_b) = Operation::Solve.input(&w, 0, 1) else {
            panic!("solve takes a system")
        };
        assert_eq!((got_a, b), (a, want_b));
    }

    #[test]
    fn parent_loading_gives_the_same_operands_as_worker_loading() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "1.npy", &matrix(3, 2, 0.0));
        write(dir.path(), "2.npy", &matrix(2, 4, 10.0));
        write(dir.path(), "3.npy", &matrix(3, 3, 20.0));
        let files = Files::plan(
            Folder::scan(dir.path()).unwrap(),
            Operation::Gemm,
            Loading::Parent,
        )
        .unwrap();
        let w = Workload {
            tasks: 2,
            size: 4,
            seed: 0,
            generation: Default::default(),
            operation: Operation::Gemm,
            corrupt: None,
        };
        let mut buffer = vec![0.0; *files.offsets().last().unwrap()];
        files.read_all(&mut buffer).unwrap();
        for task in 0..2 {
            assert_eq!(
                files.input(&w, task, Some(&buffer)).unwrap(),
                files.input(&w, task, None).unwrap()
            );
        }
        let Input::Pair(a, b) = files.input(&w, 1, None).unwrap() else {
            panic!("gemm takes a pair")
        };
        assert_eq!(b, a.t());
        // A file gone since the check: named with its task.
        std::fs::remove_file(dir.path().join("3.npy")).unwrap();
        let err = files.input(&w, 1, None).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "task 1: cannot load {}",
                dir.path().join("3.npy").display()
            )),
            "{err}"
        );
        let err = files.read_all(&mut buffer).unwrap_err();
        assert_eq!(err.task, 1);
    }
}

//! `--input DIR --loading parent`: the parent reads every `.npy` file before the workers
//! start, into one shared-memory file (`memfd_create`, like the result store) that thread
//! workers read in this process and worker processes map read-only: sequential loading,
//! then processing, as the tutorial's programs do. Each file's matrix is stored in C order,
//! file after file ([`Files::offsets`]); a worker copies its task's operands out of it.

use blaspar_core::folder::{Files, LoadError, Loaded};
use memmap2::{Mmap, MmapOptions};
use nix::sys::memfd::{MFdFlags, memfd_create};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::time::Instant;

/// Every file's matrix, in shared memory.
pub struct SharedFiles {
    file: File,
    map: Mmap,
    /// Seconds the parent's load took (creating the file, reading every `.npy` into it).
    seconds: f64,
}

/// Why the parent could not load the files.
#[derive(Debug, thiserror::Error)]
pub enum LoadedError {
    #[error("cannot create the shared memory for the loaded files ({bytes} bytes): {source}")]
    Create { bytes: u64, source: std::io::Error },
    #[error("cannot map the loaded files (descriptor {fd}): {source}")]
    Map { fd: RawFd, source: std::io::Error },
    #[error("the loaded files (descriptor {fd}) hold {actual} bytes, expected {expected}")]
    Size {
        fd: RawFd,
        actual: u64,
        expected: u64,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
}

impl SharedFiles {
    /// Reads every file of `files` into a new shared-memory file: the parent's load phase.
    pub fn load(files: &Files) -> Result<SharedFiles, LoadedError> {
        let started = Instant::now();
        let elements = *files.offsets().last().expect("offsets start at 0");
        let bytes = elements as u64 * 8;
        let create = |source| LoadedError::Create { bytes, source };
        let file = File::from(
            memfd_create(c"blaspar-input", MFdFlags::MFD_CLOEXEC).map_err(|e| create(e.into()))?,
        );
        file.set_len(bytes).map_err(create)?;
        let fd = file.as_raw_fd();
        // SAFETY: a memfd of this run only; nothing else writes it while it is mapped here.
        let mut map = unsafe { MmapOptions::new().len(bytes as usize).map_mut(&file) }
            .map_err(|source| LoadedError::Map { fd, source })?;
        files.read_all(bytemuck::cast_slice_mut(&mut map))?;
        let map = map
            .make_read_only()
            .map_err(|source| LoadedError::Map { fd, source })?;
        Ok(SharedFiles {
            file,
            map,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// A worker process's mapping of its parent's loaded files (`elements` values).
    ///
    /// # Safety
    /// `fd` must be an open descriptor of a file made by [`SharedFiles::load`], owned by
    /// nothing else in this process.
    pub unsafe fn from_inherited_fd(
        fd: RawFd,
        elements: usize,
    ) -> Result<SharedFiles, LoadedError> {
        let started = Instant::now();
        // SAFETY: the caller hands over ownership of an open descriptor.
        let file = unsafe { File::from_raw_fd(fd) };
        let actual = file
            .metadata()
            .map_err(|source| LoadedError::Map { fd, source })?
            .len();
        let expected = elements as u64 * 8;
        if actual != expected {
            return Err(LoadedError::Size {
                fd,
                actual,
                expected,
            });
        }
        // SAFETY: the parent wrote the file before starting the workers and never again.
        let map = unsafe { MmapOptions::new().populate().map(&file) }
            .map_err(|source| LoadedError::Map { fd, source })?;
        Ok(SharedFiles {
            file,
            map,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The parent's load time (a worker's: mapping it).
    pub fn seconds(&self) -> f64 {
        self.seconds
    }

    /// What the task set carries: the values and the descriptor worker processes inherit.
    pub fn loaded(&self) -> Loaded<'_> {
        Loaded {
            values: bytemuck::cast_slice(&self.map),
            fd: self.file.as_raw_fd(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blaspar_core::folder::{Folder, Loading};
    use blaspar_core::operation::Operation;
    use ndarray::Array2;
    use ndarray_npy::WriteNpyExt;
    use std::os::fd::{BorrowedFd, IntoRawFd};

    #[test]
    fn a_worker_maps_what_the_parent_loaded() {
        let dir = tempfile::tempdir().unwrap();
        for (name, rows, cols) in [("a.npy", 2, 3), ("b.npy", 3, 4)] {
            let m = Array2::from_shape_fn((rows, cols), |(i, j)| (10 * i + j) as f64 + 0.25);
            m.write_npy(File::create(dir.path().join(name)).unwrap())
                .unwrap();
        }
        let files = Files::plan(
            Folder::scan(dir.path()).unwrap(),
            Operation::Gemm,
            Loading::Parent,
        )
        .unwrap();
        let shared = SharedFiles::load(&files).unwrap();
        assert_eq!(shared.loaded().values.len(), 18);
        assert_eq!(files.view(shared.loaded().values, 1)[[2, 3]], 23.25);
        // SAFETY: the store is alive for this call.
        let fd = unsafe { BorrowedFd::borrow_raw(shared.loaded().fd) };
        let fd = nix::unistd::dup(fd).unwrap().into_raw_fd();
        let worker = unsafe { SharedFiles::from_inherited_fd(fd, 18) }.unwrap();
        assert_eq!(worker.loaded().values, shared.loaded().values);
        let fd = nix::unistd::dup(unsafe { BorrowedFd::borrow_raw(shared.loaded().fd) })
            .unwrap()
            .into_raw_fd();
        let err = unsafe { SharedFiles::from_inherited_fd(fd, 17) }
            .err()
            .unwrap();
        assert!(err.to_string().contains("expected 136"), "{err}");
        // The files and tasks reach a worker whole, twice from one descriptor's copies.
        let handed = crate::handoff::Handoff::new(c"blaspar-input-files", "files", &files).unwrap();
        for _ in 0..2 {
            let fd = nix::unistd::dup(unsafe { BorrowedFd::borrow_raw(handed.fd()) })
                .unwrap()
                .into_raw_fd();
            assert_eq!(
                unsafe { crate::handoff::Handoff::read_inherited::<Files>(fd) }.unwrap(),
                files
            );
        }
    }
}

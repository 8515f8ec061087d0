//! The result store: every task's product, in one shared-memory file (`memfd_create`)
//! mapped by the parent and, for process strategies, by every worker process.
//!
//! A worker writes its product straight into its task's slot, so a product crosses no pipe
//! and is never copied: the parent reads it where the worker wrote it. Thread strategies
//! use the same store, so threads and processes keep their results in the same kind of
//! memory and compare fairly. The file has no name: it disappears with the last process
//! that maps it or holds its descriptor, even when the run is killed.

use memmap2::MmapMut;
use ndarray::{ArrayView2, ArrayViewMut2};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

/// Every task's n x n product, row-major, task after task.
pub struct ResultStore {
    file: File,
    map: MmapMut,
    tasks: usize,
    size: usize,
}

/// Why the store could not be created or mapped.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the shared result store ({bytes} bytes): {source}")]
    Create { bytes: u64, source: std::io::Error },
    #[error("cannot map the shared result store (descriptor {fd}): {source}")]
    Map { fd: RawFd, source: std::io::Error },
    #[error("the shared result store (descriptor {fd}) holds {actual} bytes, expected {expected}")]
    Size {
        fd: RawFd,
        actual: u64,
        expected: u64,
    },
}

fn bytes_for(tasks: usize, size: usize) -> u64 {
    (tasks as u64) * (size as u64) * (size as u64) * 8
}

impl ResultStore {
    /// A zero-filled store for `tasks` products of `size` x `size`. Pages are only backed
    /// by memory when first written.
    pub fn new(tasks: usize, size: usize) -> Result<ResultStore, StoreError> {
        let bytes = bytes_for(tasks, size);
        let create = |source| StoreError::Create { bytes, source };
        // SAFETY: memfd_create takes a NUL-terminated name and flags; it returns a new fd.
        let fd = unsafe { libc::memfd_create(c"blaspar-results".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(create(std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        file.set_len(bytes).map_err(create)?;
        Self::map(file, tasks, size)
    }

    /// Maps the store a parent created, from a descriptor this process inherited.
    ///
    /// # Safety
    /// `fd` must be an open descriptor of a store created by [`ResultStore::new`] with the
    /// same `tasks` and `size`, owned by nothing else in this process.
    pub unsafe fn from_inherited_fd(
        fd: RawFd,
        tasks: usize,
        size: usize,
    ) -> Result<ResultStore, StoreError> {
        // SAFETY: the caller hands over ownership of an open descriptor.
        let file = unsafe { File::from_raw_fd(fd) };
        let actual = file
            .metadata()
            .map_err(|source| StoreError::Map { fd, source })?
            .len();
        let expected = bytes_for(tasks, size);
        if actual != expected {
            return Err(StoreError::Size {
                fd,
                actual,
                expected,
            });
        }
        Self::map(file, tasks, size)
    }

    fn map(file: File, tasks: usize, size: usize) -> Result<ResultStore, StoreError> {
        let fd = file.as_raw_fd();
        let map = if bytes_for(tasks, size) == 0 {
            memmap2::MmapOptions::new().len(0).map_anon()
        } else {
            // SAFETY: the file is a memfd of the right length, only ever written through
            // disjoint task slots (each task is handed out exactly once).
            unsafe { MmapMut::map_mut(&file) }
        }
        .map_err(|source| StoreError::Map { fd, source })?;
        Ok(ResultStore {
            file,
            map,
            tasks,
            size,
        })
    }

    /// The descriptor a worker process inherits (see [`crate::procs`]).
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    pub fn tasks(&self) -> usize {
        self.tasks
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Task `task`'s product.
    pub fn product(&self, task: usize) -> ArrayView2<'_, f64> {
        let n = self.size;
        let floats: &[f64] = bytemuck_f64(&self.map);
        ArrayView2::from_shape((n, n), &floats[task * n * n..(task + 1) * n * n])
            .expect("a slot holds n x n values")
    }

    /// Every task's slot, writable, each by whoever takes it.
    pub fn slots(&mut self) -> Vec<ArrayViewMut2<'_, f64>> {
        let n = self.size;
        let floats = bytemuck_f64_mut(&mut self.map);
        if n == 0 {
            return Vec::new();
        }
        floats
            .chunks_exact_mut(n * n)
            .map(|s| ArrayViewMut2::from_shape((n, n), s).expect("a slot holds n x n values"))
            .collect()
    }
}

/// The task queue of worker processes: one counter in a shared page that every worker
/// takes its next task from (`fetch_add`), as thread workers do with
/// [`blaspar_core::schedule::TaskQueue`]. Workers never wait for the parent to hand out work.
pub struct SharedQueue {
    file: File,
    map: MmapMut,
    tasks: usize,
}

impl SharedQueue {
    /// A queue of `tasks` tasks, all still to be taken.
    pub fn new(tasks: usize) -> Result<SharedQueue, StoreError> {
        let create = |source| StoreError::Create { bytes: 64, source };
        // SAFETY: as in ResultStore::new.
        let fd = unsafe { libc::memfd_create(c"blaspar-queue".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(create(std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        file.set_len(64).map_err(create)?;
        Self::map(file, tasks)
    }

    /// Maps the queue a parent created, from an inherited descriptor.
    ///
    /// # Safety
    /// `fd` must be an open descriptor of a queue created by [`SharedQueue::new`], owned by
    /// nothing else in this process.
    pub unsafe fn from_inherited_fd(fd: RawFd, tasks: usize) -> Result<SharedQueue, StoreError> {
        // SAFETY: the caller hands over ownership of an open descriptor.
        let file = unsafe { File::from_raw_fd(fd) };
        let actual = file
            .metadata()
            .map_err(|source| StoreError::Map { fd, source })?
            .len();
        if actual != 64 {
            return Err(StoreError::Size {
                fd,
                actual,
                expected: 64,
            });
        }
        Self::map(file, tasks)
    }

    fn map(file: File, tasks: usize) -> Result<SharedQueue, StoreError> {
        let fd = file.as_raw_fd();
        // SAFETY: a 64-byte memfd, only accessed through the atomic below.
        let map =
            unsafe { MmapMut::map_mut(&file) }.map_err(|source| StoreError::Map { fd, source })?;
        Ok(SharedQueue { file, map, tasks })
    }

    fn counter(&self) -> &std::sync::atomic::AtomicU64 {
        // SAFETY: the mapping is page-aligned and 64 bytes long; AtomicU64 has the layout of
        // u64, and every process touches this word only atomically.
        unsafe { &*self.map.as_ptr().cast::<std::sync::atomic::AtomicU64>() }
    }

    /// The descriptor a worker process inherits.
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Makes every task available again (before a run; no worker is taking tasks).
    pub fn reset(&self) {
        self.counter().store(0, std::sync::atomic::Ordering::SeqCst);
    }

    /// The next task, or `None` when all were taken.
    pub fn next(&self) -> Option<usize> {
        let i = self
            .counter()
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (i < self.tasks as u64).then_some(i as usize)
    }
}

fn bytemuck_f64(bytes: &[u8]) -> &[f64] {
    assert_eq!(
        bytes.as_ptr().align_offset(8),
        0,
        "mappings are page-aligned"
    );
    // SAFETY: page-aligned, length a multiple of 8 (n*n*8 per task), every bit pattern is
    // a valid f64.
    unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast(), bytes.len() / 8) }
}

fn bytemuck_f64_mut(bytes: &mut [u8]) -> &mut [f64] {
    assert_eq!(
        bytes.as_ptr().align_offset(8),
        0,
        "mappings are page-aligned"
    );
    // SAFETY: as above, and the borrow is exclusive.
    unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast(), bytes.len() / 8) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_disjoint_and_read_back() {
        let mut store = ResultStore::new(3, 4).unwrap();
        for (t, mut slot) in store.slots().into_iter().enumerate() {
            slot.fill(t as f64 + 0.5);
        }
        assert_eq!(store.product(0)[[3, 3]], 0.5);
        assert_eq!(store.product(2)[[0, 0]], 2.5);
        assert_eq!(store.product(1).sum(), 16.0 * 1.5);
    }

    #[test]
    fn a_second_mapping_sees_the_writes() {
        let mut store = ResultStore::new(2, 3).unwrap();
        // SAFETY: dup gives a new descriptor of the same memfd, owned by `other`.
        let dup = unsafe { libc::dup(store.fd()) };
        assert!(dup >= 0);
        let mut other = unsafe { ResultStore::from_inherited_fd(dup, 2, 3) }.unwrap();
        other.slots()[1][[2, 1]] = 42.0;
        assert_eq!(store.product(1)[[2, 1]], 42.0);
        store.slots()[0][[0, 0]] = -1.0;
        assert_eq!(other.product(0)[[0, 0]], -1.0);
    }

    #[test]
    fn a_shared_queue_hands_out_each_task_once_across_mappings() {
        let q = SharedQueue::new(5).unwrap();
        let dup = unsafe { libc::dup(q.fd()) };
        let other = unsafe { SharedQueue::from_inherited_fd(dup, 5) }.unwrap();
        let mut seen: Vec<usize> = (0..12)
            .filter_map(|i| if i % 2 == 0 { q.next() } else { other.next() })
            .collect();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        assert_eq!(other.next(), None);
        q.reset();
        assert_eq!(other.next(), Some(0));
    }

    #[test]
    fn a_store_of_the_wrong_size_is_refused() {
        let store = ResultStore::new(2, 3).unwrap();
        let dup = unsafe { libc::dup(store.fd()) };
        let err = unsafe { ResultStore::from_inherited_fd(dup, 2, 4) }
            .err()
            .unwrap();
        assert!(err.to_string().contains("expected 256"), "{err}");
    }
}
